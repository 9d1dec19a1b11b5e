/* Data paths (see source.h): which kind a path is, reading a range of its examples as
 * fitted bytes, and on top of that the public abp_data_probe and abp_data_load. */
#include "source.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "h5data.h"
#include "idx.h"
#include "images.h"
#include "pixels.h"

enum { LOAD_CHUNK_EXAMPLES = 256 }; /* examples fitted per step of abp_data_load */

typedef enum source_kind { SOURCE_IDX, SOURCE_HDF5, SOURCE_FOLDER, SOURCE_IMAGE, SOURCE_WAV } source_kind;

struct abp_source {
    source_kind kind;
    char *path;              /* for messages */
    abp_data_info info;      /* what abp_source_open found */
    abp_idx idx;             /* SOURCE_IDX */
    abp_h5data *h5;          /* SOURCE_HDF5 */
    abp_image_files files;   /* SOURCE_FOLDER, SOURCE_IMAGE */
};

/* ---------------------------------------------------------------- small helpers */

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* A malloc'd printf, or NULL when out of memory. */
static char *format_string(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *format_string(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0) return NULL;
    char *s = malloc((size_t)len + 1);
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)len + 1, fmt, ap);
    va_end(ap);
    return s;
}

/* Resolves hi = -1 and checks 0 <= lo <= hi <= n. */
static int check_range(const char *path, int64_t n, int64_t lo, int64_t *hi, abp_err *err) {
    if (*hi == -1) *hi = n;
    if (lo < 0 || lo > *hi || *hi > n)
        return abp_fail(err, "%s: examples [%lld, %lld) are out of range (it holds %lld)", path,
                        (long long)lo, (long long)*hi, (long long)n);
    return 0;
}

/* ---------------------------------------------------------------- what a path holds */

static const char *kind_name(source_kind kind) {
    static const char *const names[] = {"idx", "hdf5", "folder", "image", "wav"};
    return names[kind];
}

/* Tells a folder from a file, and an HDF5, WAV or IDX file from an image by its first bytes
 * (an image extension wins over the IDX magic, since a TGA header can start like an IDX one). */
static int detect_kind(const char *path, source_kind *kind, abp_err *err) {
    struct stat st;
    if (stat(path, &st) != 0) return abp_fail(err, "%s: cannot open (%s)", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        *kind = SOURCE_FOLDER;
        return 0;
    }
    if (!S_ISREG(st.st_mode)) return abp_fail(err, "%s: not a regular file or a folder", path);

    FILE *f = fopen(path, "rb");
    if (!f) return abp_fail(err, "%s: cannot open (%s)", path, strerror(errno));
    unsigned char head[12] = {0};
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);

    if (got >= 2 && head[0] == 0x1f && head[1] == 0x8b)
        return abp_fail(err, "%s: gzip-compressed; unpack it first (gunzip)", path);
    if (got >= 8 && abp_h5data_has_magic(head))
        *kind = SOURCE_HDF5;
    else if (abp_wav_has_magic(head, got))
        *kind = SOURCE_WAV;
    else if (got >= 4 && !abp_has_image_extension(path) && abp_idx_has_magic(head))
        *kind = SOURCE_IDX;
    else
        *kind = SOURCE_IMAGE;
    return 0;
}

static int open_idx(abp_source *s, abp_err *err) {
    if (abp_idx_open(s->path, &s->idx, err) != 0) return -1;
    s->info.n = s->idx.n;
    s->info.c = 1;
    s->info.h = s->idx.h;
    s->info.w = s->idx.w;
    return 0;
}

static int open_files(abp_source *s, abp_err *err) {
    if (abp_image_files_list(s->path, s->kind == SOURCE_FOLDER, &s->files, err) != 0) return -1;
    int w, h, channels;
    if (abp_image_info(s->files.paths[0], &w, &h, &channels, err) != 0) return -1;
    s->info.n = s->files.n;
    s->info.c = abp_pixels_colour_channels(channels);
    s->info.h = h;
    s->info.w = w;
    return 0;
}

/* A sound is one example of 1 x 1 x T. */
static int open_wav(abp_source *s, abp_err *err) {
    int64_t frames;
    int rate;
    if (abp_wav_info(s->path, &frames, &rate, err) != 0) return -1;
    if (frames > 1 << 30) return abp_fail(err, "%s: %lld samples are too many", s->path, (long long)frames);
    s->info.n = 1;
    s->info.c = 1;
    s->info.h = 1;
    s->info.w = (int)frames;
    return 0;
}

int abp_source_open(const char *path, abp_source **out, abp_data_info *info, abp_err *err) {
    *out = NULL;
    memset(info, 0, sizeof *info);
    abp_source *s = calloc(1, sizeof *s);
    char *copy = strdup(path);
    if (!s || !copy) {
        free(s);
        free(copy);
        return abp_fail(err, "%s: out of memory", path);
    }
    s->path = copy;
    int rc = detect_kind(path, &s->kind, err);
    if (rc == 0) {
        switch (s->kind) {
        case SOURCE_IDX: rc = open_idx(s, err); break;
        case SOURCE_HDF5: rc = abp_h5data_open(path, &s->h5, &s->info, err); break;
        case SOURCE_FOLDER:
        case SOURCE_IMAGE: rc = open_files(s, err); break;
        case SOURCE_WAV: rc = open_wav(s, err); break;
        }
    }
    if (rc != 0) {
        abp_source_close(s);
        return -1;
    }
    snprintf(s->info.kind, sizeof s->info.kind, "%s", kind_name(s->kind));
    *info = s->info;
    *out = s;
    return 0;
}

void abp_source_close(abp_source *s) {
    if (!s) return;
    if (s->idx.file) abp_idx_close(&s->idx);
    abp_h5data_close(s->h5);
    abp_image_files_free(&s->files);
    free(s->path);
    free(s);
}

/* ---------------------------------------------------------------- reading */

/* IDX and HDF5 sources: read the stored rows in one go, then fit them one by one. */
static int read_rows(abp_source *s, int64_t lo, int64_t count, int c, int h, int w, uint8_t *pixels,
                     abp_err *err) {
    const abp_data_info *in = &s->info;
    size_t in_bytes = (size_t)in->h * in->w * in->c, out_bytes = (size_t)h * w * c;
    uint8_t *stored = malloc(count > 0 ? (size_t)count * in_bytes : 1);
    if (!stored) return abp_fail(err, "%s: out of memory for the read buffer", s->path);
    int rc = s->kind == SOURCE_IDX ? abp_idx_read(&s->idx, lo, count, stored, err)
                                   : abp_h5data_read(s->h5, lo, count, stored, NULL, err);
    for (int64_t k = 0; rc == 0 && k < count; k++)
        rc = abp_pixels_fit(stored + (size_t)k * in_bytes, in->w, in->h, in->c, c, h, w,
                            pixels + (size_t)k * out_bytes, s->path, err);
    free(stored);
    return rc;
}

/* Image files: decode and fit one at a time, touching only the requested files. */
static int read_files(abp_source *s, int64_t lo, int64_t count, int c, int h, int w, uint8_t *pixels,
                      abp_err *err) {
    size_t out_bytes = (size_t)h * w * c;
    for (int64_t k = 0; k < count; k++) {
        const char *path = s->files.paths[lo + k];
        uint8_t *decoded;
        int sw, sh, sc;
        if (abp_image_decode(path, &decoded, &sw, &sh, &sc, err) != 0) return -1;
        int rc = abp_pixels_fit(decoded, sw, sh, sc, c, h, w, pixels + (size_t)k * out_bytes, path, err);
        abp_image_release(decoded);
        if (rc != 0) return -1;
    }
    return 0;
}

static int read_names(abp_source *s, int64_t lo, int64_t count, char **names, abp_err *err) {
    if (s->kind == SOURCE_HDF5) return abp_h5data_read(s->h5, lo, count, NULL, names, err);
    if (s->kind == SOURCE_WAV) {
        if (count > 0 && !(names[0] = strdup(base_name(s->path))))
            return abp_fail(err, "%s: out of memory", s->path);
        return 0;
    }
    for (int64_t k = 0; k < count; k++) {
        int64_t i = lo + k; /* the global index, so that names mean the same on every rank */
        names[k] = s->kind == SOURCE_IDX ? format_string("%s#%lld", base_name(s->path), (long long)i)
                                         : strdup(s->files.names[i]);
        if (!names[k]) return abp_fail(err, "%s: out of memory", s->path);
    }
    return 0;
}

int abp_source_read(abp_source *s, int64_t lo, int64_t count, int c, int h, int w, uint8_t *pixels,
                    char **names, abp_err *err) {
    int64_t hi = lo + count;
    if (count < 0 || check_range(s->path, s->info.n, lo, &hi, err) != 0) return -1;
    if (pixels && s->kind == SOURCE_WAV)
        return abp_fail(err, "%s: a sound, not images (abp prepare packs images)", s->path);
    if (pixels) {
        int rc = s->kind == SOURCE_IDX || s->kind == SOURCE_HDF5 ? read_rows(s, lo, count, c, h, w, pixels, err)
                                                                 : read_files(s, lo, count, c, h, w, pixels, err);
        if (rc != 0) return -1;
    }
    return names ? read_names(s, lo, count, names, err) : 0;
}

/* ---------------------------------------------------------------- the public calls */

int abp_data_probe(const char *path, abp_data_info *info, abp_err *err) {
    abp_source *s;
    if (abp_source_open(path, &s, info, err) != 0) return -1;
    abp_source_close(s);
    return 0;
}

/* Allocates out for count examples of c x h x w, checking the byte count for overflow. */
static int alloc_images(const char *path, int64_t count, int c, int h, int w, abp_images *out,
                        abp_err *err) {
    size_t floats, bytes;
    if (__builtin_mul_overflow((size_t)count, (size_t)c * h * w, &floats) ||
        __builtin_mul_overflow(floats, sizeof(float), &bytes))
        return abp_fail(err, "%s: %lld examples of %dx%dx%d are too many to hold", path,
                        (long long)count, c, h, w);
    out->data = abp_alloc(bytes, err);
    out->names = calloc(count > 0 ? (size_t)count : 1, sizeof *out->names);
    if (!out->data || !out->names) {
        abp_images_free(out);
        return abp_fail(err, "%s: out of memory for %lld examples of %dx%dx%d", path,
                        (long long)count, c, h, w);
    }
    out->n = count;
    out->c = c;
    out->h = h;
    out->w = w;
    return 0;
}

/* Examples [lo, hi) a chunk at a time, so that the bytes in flight stay small. */
static int load_range(abp_source *s, int64_t lo, int64_t hi, abp_images *out, abp_err *err) {
    int c = out->c, h = out->h, w = out->w;
    size_t example_bytes = (size_t)c * h * w;
    uint8_t *chunk = malloc(LOAD_CHUNK_EXAMPLES * example_bytes);
    if (!chunk) return abp_fail(err, "%s: out of memory for the read buffer", s->path);
    int rc = 0;
    for (int64_t first = lo; rc == 0 && first < hi; first += LOAD_CHUNK_EXAMPLES) {
        int64_t count = hi - first < LOAD_CHUNK_EXAMPLES ? hi - first : LOAD_CHUNK_EXAMPLES;
        rc = abp_source_read(s, first, count, c, h, w, chunk, out->names + (first - lo), err);
        for (int64_t k = 0; rc == 0 && k < count; k++)
            abp_pixels_to_planar(chunk + (size_t)k * example_bytes, c, h, w,
                                 out->data + (size_t)(first - lo + k) * example_bytes);
    }
    free(chunk);
    return rc;
}

/* A WAV file as its one example: the first w samples, for a model of 1 x 1 x w signals. */
static int load_sound(abp_source *s, int64_t lo, int64_t hi, abp_images *out, abp_err *err) {
    if (hi == lo) return 0;
    if (out->c != 1 || out->h != 1)
        return abp_fail(err, "%s: a sound (1 x %d samples) for a model that makes %dx%dx%d images",
                        s->path, s->info.w, out->h, out->w, out->c);
    if (out->w > s->info.w)
        return abp_fail(err, "%s: %d samples, but the model makes signals of %d", s->path,
                        s->info.w, out->w);
    float *samples;
    int64_t frames;
    int rate;
    if (abp_wav_read(s->path, &samples, &frames, &rate, err) != 0) return -1;
    memcpy(out->data, samples, sizeof(float) * (size_t)out->w);
    abp_free(samples);
    return read_names(s, 0, 1, out->names, err);
}

int abp_data_load(const char *path, int64_t lo, int64_t hi, int c, int h, int w,
                  abp_images *out, abp_err *err) {
    memset(out, 0, sizeof *out);
    if (c != 1 && c != 3)
        return abp_fail(err, "%s: cannot load as %d channels (must be 1 or 3)", path, c);
    if (h < 1 || w < 1)
        return abp_fail(err, "%s: cannot load at size %dx%d (must be at least 1x1)", path, h, w);

    abp_source *s;
    abp_data_info info;
    if (abp_source_open(path, &s, &info, err) != 0) return -1;
    int rc = check_range(path, info.n, lo, &hi, err);
    if (rc == 0) rc = alloc_images(path, hi - lo, c, h, w, out, err);
    if (rc == 0) rc = s->kind == SOURCE_WAV ? load_sound(s, lo, hi, out, err) : load_range(s, lo, hi, out, err);
    abp_source_close(s);
    if (rc != 0) abp_images_free(out);
    return rc;
}

void abp_images_free(abp_images *im) {
    if (!im) return;
    if (im->names)
        for (int64_t i = 0; i < im->n; i++) free(im->names[i]);
    free(im->names);
    abp_free(im->data);
    memset(im, 0, sizeof *im);
}

int abp_data_load_masks(const char *path, int64_t lo, int64_t hi, int c, int h, int w, uint8_t *masks,
                        abp_err *err) {
    abp_source *s;
    abp_data_info info;
    if (abp_source_open(path, &s, &info, err) != 0) return -1;
    int rc = check_range(path, info.n, lo, &hi, err);
    if (rc == 0 && !info.has_masks) rc = abp_fail(err, "%s: holds no /masks (make them with abp prepare --masks)", path);
    if (rc == 0 && (info.h != h || info.w != w))
        rc = abp_fail(err, "%s: its masks are %dx%d but the model makes %dx%d images; prepare the data at that --size",
                      path, info.h, info.w, h, w);
    size_t pixels = (size_t)h * w, stored_row = pixels * (size_t)info.c;
    uint8_t *stored = rc == 0 ? malloc(hi > lo ? (size_t)(hi - lo) * stored_row : 1) : NULL;
    if (rc == 0 && !stored) rc = abp_fail(err, "%s: out of memory for the masks of %lld examples", path, (long long)(hi - lo));
    if (rc == 0) rc = abp_h5data_read_masks(s->h5, lo, hi - lo, stored, err);
    /* interleaved h x w x stored c -> planar c x h x w */
    for (int64_t i = 0; rc == 0 && i < hi - lo; i++) {
        const uint8_t *in = stored + (size_t)i * stored_row;
        uint8_t *out = masks + (size_t)i * pixels * (size_t)c;
        for (size_t p = 0; p < pixels; p++) {
            int all = 1;
            for (int k = 0; k < info.c; k++) all &= in[p * (size_t)info.c + (size_t)k] != 0;
            for (int ch = 0; ch < c; ch++)
                out[(size_t)ch * pixels + p] = info.c == c ? in[p * (size_t)info.c + (size_t)ch] != 0 : (uint8_t)all;
        }
    }
    free(stored);
    abp_source_close(s);
    return rc;
}
