/* Datasets: what a data path holds (abp_data_probe) and a range of its examples as
 * planar floats in [-1, 1] (abp_data_load).
 *
 * A data path is one of three things:
 *   - an IDX image file (MNIST's format, see idx.h), read a range of rows at a time;
 *   - a folder of image files, taken in strcmp order of their names;
 *   - a single image file, which is a data set of one.
 *
 * Every example then goes through the same conversion: to the requested channels, a centre
 * crop to the requested aspect ratio, a resize to the requested size (skipped when the size
 * already matches, so MNIST at 28x28 is bit-exact), and v -> v / 127.5 - 1. */
#include "abp/io.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <stb/stb_image.h>
#include <stb/stb_image_resize.h>

#include "idx.h"

/* A folder holds images with these extensions (compared without case); other files in it,
 * such as a README or a labels file, are skipped rather than refused. */
static const char *const image_extensions[] = {"png", "jpg", "jpeg", "bmp", "pgm",
                                               "ppm", "pnm", "gif", "tga"};

enum { IDX_CHUNK_IMAGES = 256 }; /* IDX images read per fread, to bound the staging buffer */

/* ---------------------------------------------------------------- small helpers */

static int has_image_extension(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    for (size_t i = 0; i < sizeof image_extensions / sizeof image_extensions[0]; i++)
        if (strcasecmp(dot + 1, image_extensions[i]) == 0) return 1;
    return 0;
}

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

/* stb keeps its last failure reason in a static; it is NULL before the first failure. */
static const char *stb_reason(void) {
    const char *why = stbi_failure_reason();
    return why ? why : "unknown reason";
}

/* Images without alpha and with it count the same: grey+alpha is grey, RGBA is RGB. */
static int colour_channels(int stb_channels) { return stb_channels >= 3 ? 3 : 1; }

/* ---------------------------------------------------------------- image files */

/* The image files of a data path, with what each example will be called. */
typedef struct image_files {
    char **paths;  /* to open, and to name in error messages */
    char **names;  /* for abp_images.names: relative to the folder */
    int64_t n;
} image_files;

static void free_image_files(image_files *files) {
    for (int64_t i = 0; i < files->n; i++) {
        free(files->paths[i]);
        free(files->names[i]);
    }
    free(files->paths);
    free(files->names);
    memset(files, 0, sizeof *files);
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects the regular image files directly inside folder, sorted by name. */
static int list_folder(const char *folder, image_files *files, abp_err *err) {
    memset(files, 0, sizeof *files);
    DIR *dir = opendir(folder);
    if (!dir) return abp_fail(err, "%s: cannot open folder (%s)", folder, strerror(errno));

    const char *sep = folder[0] && folder[strlen(folder) - 1] == '/' ? "" : "/";
    int64_t capacity = 0;
    struct dirent *entry;
    errno = 0;
    while ((entry = readdir(dir)) != NULL) {
        const char *name = entry->d_name;
        if (name[0] == '.' || !has_image_extension(name)) continue;
        char *path = format_string("%s%s%s", folder, sep, name);
        char *copy = strdup(name);
        if (!path || !copy) {
            free(path);
            free(copy);
            goto out_of_memory;
        }
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) { /* subfolders, dangling links */
            free(path);
            free(copy);
            continue;
        }
        if (files->n == capacity) {
            int64_t grown = capacity ? 2 * capacity : 64;
            char **paths = realloc(files->paths, (size_t)grown * sizeof *paths);
            if (paths) files->paths = paths;
            char **names = realloc(files->names, (size_t)grown * sizeof *names);
            if (names) files->names = names;
            if (!paths || !names) {
                free(path);
                free(copy);
                goto out_of_memory;
            }
            capacity = grown;
        }
        files->paths[files->n] = path;
        files->names[files->n] = copy;
        files->n++;
        errno = 0;
    }
    if (errno != 0) {
        int e = errno;
        closedir(dir);
        free_image_files(files);
        return abp_fail(err, "%s: cannot read folder (%s)", folder, strerror(e));
    }
    closedir(dir);
    if (files->n == 0) {
        free_image_files(files);
        return abp_fail(err, "%s: no images in folder (looked for .png .jpg .jpeg .bmp .pgm "
                             ".ppm .pnm .gif .tga)", folder);
    }

    /* paths and names sort alike: every path is the folder prefix plus its name. */
    qsort(files->paths, (size_t)files->n, sizeof *files->paths, compare_names);
    qsort(files->names, (size_t)files->n, sizeof *files->names, compare_names);
    return 0;

out_of_memory:
    closedir(dir);
    free_image_files(files);
    return abp_fail(err, "%s: out of memory listing the folder", folder);
}

static int single_file(const char *path, image_files *files, abp_err *err) {
    memset(files, 0, sizeof *files);
    files->paths = malloc(sizeof *files->paths);
    files->names = malloc(sizeof *files->names);
    char *p = strdup(path), *name = strdup(base_name(path));
    if (!files->paths || !files->names || !p || !name) {
        free(files->paths);
        free(files->names);
        free(p);
        free(name);
        memset(files, 0, sizeof *files);
        return abp_fail(err, "%s: out of memory", path);
    }
    files->paths[0] = p;
    files->names[0] = name;
    files->n = 1;
    return 0;
}

/* Size and channels of an image file without decoding its pixels. */
static int image_info(const char *path, int *w, int *h, int *channels, abp_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return abp_fail(err, "%s: cannot open (%s)", path, strerror(errno));
    int ok = stbi_info_from_file(f, w, h, channels);
    fclose(f);
    if (!ok) return abp_fail(err, "%s: not an image (%s)", path, stb_reason());
    return 0;
}

/* Decodes an image file into interleaved 8-bit pixels (free with stbi_image_free). */
static int image_decode(const char *path, uint8_t **pixels, int *w, int *h, int *channels,
                        abp_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return abp_fail(err, "%s: cannot open (%s)", path, strerror(errno));
    *pixels = stbi_load_from_file(f, w, h, channels, 0);
    fclose(f);
    if (!*pixels) return abp_fail(err, "%s: not an image (%s)", path, stb_reason());
    return 0;
}

/* ---------------------------------------------------------------- conversion */

/* Interleaved pixels from `from` to `to` channels (to is 1 or 3; alpha is dropped). */
static void convert_channels(const uint8_t *src, size_t pixels, int from, uint8_t *dst, int to) {
    for (size_t i = 0; i < pixels; i++, src += from, dst += to) {
        if (to == 3 && from >= 3) { /* RGB(A) -> RGB */
            dst[0] = src[0], dst[1] = src[1], dst[2] = src[2];
        } else if (to == 3) { /* grey(+alpha) -> RGB: replicate */
            dst[0] = dst[1] = dst[2] = src[0];
        } else if (from >= 3) { /* RGB(A) -> grey: ITU-R BT.601 luma */
            float y = 0.299f * src[0] + 0.587f * src[1] + 0.114f * src[2];
            dst[0] = (uint8_t)(y + 0.5f);
        } else { /* grey+alpha -> grey */
            dst[0] = src[0];
        }
    }
}

/* The largest window of aspect ratio w:h centred in an sw x sh image, so that the resize
 * after it never stretches the picture. */
static void centre_crop(int sw, int sh, int w, int h, int *x0, int *y0, int *cw, int *ch) {
    if ((int64_t)sw * h > (int64_t)sh * w) { /* source is wider: trim the sides */
        *ch = sh;
        *cw = (int)(((int64_t)sh * w + h / 2) / h);
    } else { /* source is taller (or the same shape): trim top and bottom */
        *cw = sw;
        *ch = (int)(((int64_t)sw * h + w / 2) / w);
    }
    if (*cw < 1) *cw = 1;
    if (*ch < 1) *ch = 1;
    if (*cw > sw) *cw = sw;
    if (*ch > sh) *ch = sh;
    *x0 = (sw - *cw) / 2;
    *y0 = (sh - *ch) / 2;
}

/* One decoded image (interleaved, sc channels, sw x sh) to one example: c planes of h x w
 * floats in [-1, 1] at dst. path is only for error messages. */
static int convert_example(const uint8_t *src, int sw, int sh, int sc, int c, int h, int w,
                           float *dst, const char *path, abp_err *err) {
    uint8_t *recoloured = NULL, *resized = NULL;
    const uint8_t *at = src;

    if (sc != c) {
        recoloured = malloc((size_t)sw * sh * c);
        if (!recoloured) return abp_fail(err, "%s: out of memory converting channels", path);
        convert_channels(src, (size_t)sw * sh, sc, recoloured, c);
        at = recoloured;
    }
    size_t stride = (size_t)sw * c; /* bytes from one row to the next */

    int x0, y0, cw, ch;
    centre_crop(sw, sh, w, h, &x0, &y0, &cw, &ch);
    at += (size_t)y0 * stride + (size_t)x0 * c;

    if (cw != w || ch != h) {
        resized = malloc((size_t)w * h * c);
        if (!resized) {
            free(recoloured);
            return abp_fail(err, "%s: out of memory resizing", path);
        }
        if (!stbir_resize_uint8(at, cw, ch, (int)stride, resized, w, h, 0, c)) {
            free(recoloured);
            free(resized);
            return abp_fail(err, "%s: cannot resize %dx%d to %dx%d", path, cw, ch, w, h);
        }
        at = resized;
        stride = (size_t)w * c;
    }

    /* Interleaved bytes to planar floats: 0 -> -1, 255 -> 1. */
    size_t plane = (size_t)h * w;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int k = 0; k < c; k++)
                dst[(size_t)k * plane + (size_t)y * w + x] =
                    (float)at[(size_t)y * stride + (size_t)x * c + k] / 127.5f - 1.0f;

    free(recoloured);
    free(resized);
    return 0;
}

/* ---------------------------------------------------------------- what a path holds */

typedef enum source_kind { SOURCE_IDX, SOURCE_FOLDER, SOURCE_IMAGE } source_kind;

static const char *kind_name(source_kind kind) {
    return kind == SOURCE_IDX ? "idx" : kind == SOURCE_FOLDER ? "folder" : "image";
}

/* Tells a folder from a file, and an IDX file from an image by its first bytes (an image
 * extension wins, since a TGA header can start like an IDX one). */
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
    unsigned char head[4] = {0};
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);

    if (got >= 2 && head[0] == 0x1f && head[1] == 0x8b)
        return abp_fail(err, "%s: gzip-compressed; unpack it first (gunzip)", path);
    *kind = got == 4 && !has_image_extension(path) && abp_idx_has_magic(head) ? SOURCE_IDX
                                                                              : SOURCE_IMAGE;
    return 0;
}

static int probe_idx(const char *path, abp_data_info *info, abp_err *err) {
    abp_idx idx;
    if (abp_idx_open(path, &idx, err) != 0) return -1;
    info->n = idx.n;
    info->c = 1;
    info->h = idx.h;
    info->w = idx.w;
    abp_idx_close(&idx);
    return 0;
}

static int probe_files(const char *path, source_kind kind, abp_data_info *info, abp_err *err) {
    image_files files;
    int listed = kind == SOURCE_FOLDER ? list_folder(path, &files, err)
                                       : single_file(path, &files, err);
    if (listed != 0) return -1;
    int w, h, channels;
    int rc = image_info(files.paths[0], &w, &h, &channels, err);
    if (rc == 0) {
        info->n = files.n;
        info->c = colour_channels(channels);
        info->h = h;
        info->w = w;
    }
    free_image_files(&files);
    return rc;
}

int abp_data_probe(const char *path, abp_data_info *info, abp_err *err) {
    memset(info, 0, sizeof *info);
    source_kind kind;
    if (detect_kind(path, &kind, err) != 0) return -1;
    int rc = kind == SOURCE_IDX ? probe_idx(path, info, err) : probe_files(path, kind, info, err);
    if (rc != 0) {
        memset(info, 0, sizeof *info);
        return -1;
    }
    snprintf(info->kind, sizeof info->kind, "%s", kind_name(kind));
    return 0;
}

/* ---------------------------------------------------------------- loading */

/* Resolves hi = -1 and checks 0 <= lo <= hi <= n. */
static int check_range(const char *path, int64_t n, int64_t lo, int64_t *hi, abp_err *err) {
    if (*hi == -1) *hi = n;
    if (lo < 0 || lo > *hi || *hi > n)
        return abp_fail(err, "%s: examples [%lld, %lld) are out of range (it holds %lld)", path,
                        (long long)lo, (long long)*hi, (long long)n);
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

static int load_idx(const char *path, int64_t lo, int64_t hi, int c, int h, int w,
                    abp_images *out, abp_err *err) {
    abp_idx idx;
    if (abp_idx_open(path, &idx, err) != 0) return -1;
    int rc = check_range(path, idx.n, lo, &hi, err);
    if (rc == 0) rc = alloc_images(path, hi - lo, c, h, w, out, err);

    size_t image_bytes = (size_t)idx.h * idx.w, example_floats = (size_t)c * h * w;
    uint8_t *chunk = rc == 0 ? malloc(IDX_CHUNK_IMAGES * image_bytes) : NULL;
    if (rc == 0 && !chunk) rc = abp_fail(err, "%s: out of memory for the read buffer", path);

    for (int64_t first = lo; rc == 0 && first < hi; first += IDX_CHUNK_IMAGES) {
        int64_t count = hi - first < IDX_CHUNK_IMAGES ? hi - first : IDX_CHUNK_IMAGES;
        rc = abp_idx_read(&idx, first, count, chunk, err);
        for (int64_t k = 0; rc == 0 && k < count; k++) {
            int64_t i = first + k; /* global index, so names mean the same on every rank */
            rc = convert_example(chunk + (size_t)k * image_bytes, idx.w, idx.h, 1, c, h, w,
                                 out->data + (size_t)(i - lo) * example_floats, path, err);
            if (rc == 0 && !(out->names[i - lo] = format_string("%s#%lld", base_name(path),
                                                                 (long long)i)))
                rc = abp_fail(err, "%s: out of memory", path);
        }
    }
    free(chunk);
    abp_idx_close(&idx);
    return rc;
}

static int load_files(const char *path, source_kind kind, int64_t lo, int64_t hi, int c, int h,
                      int w, abp_images *out, abp_err *err) {
    image_files files;
    int listed = kind == SOURCE_FOLDER ? list_folder(path, &files, err)
                                       : single_file(path, &files, err);
    if (listed != 0) return -1;
    int rc = check_range(path, files.n, lo, &hi, err);
    if (rc == 0) rc = alloc_images(path, hi - lo, c, h, w, out, err);

    size_t example_floats = (size_t)c * h * w;
    for (int64_t i = lo; rc == 0 && i < hi; i++) {
        uint8_t *pixels;
        int sw, sh, sc;
        rc = image_decode(files.paths[i], &pixels, &sw, &sh, &sc, err);
        if (rc != 0) break;
        rc = convert_example(pixels, sw, sh, sc, c, h, w,
                             out->data + (size_t)(i - lo) * example_floats, files.paths[i], err);
        stbi_image_free(pixels);
        out->names[i - lo] = files.names[i]; /* hand the name over */
        files.names[i] = NULL;
    }
    free_image_files(&files);
    return rc;
}

int abp_data_load(const char *path, int64_t lo, int64_t hi, int c, int h, int w,
                  abp_images *out, abp_err *err) {
    memset(out, 0, sizeof *out);
    if (c != 1 && c != 3)
        return abp_fail(err, "%s: cannot load as %d channels (must be 1 or 3)", path, c);
    if (h < 1 || w < 1)
        return abp_fail(err, "%s: cannot load at size %dx%d (must be at least 1x1)", path, h, w);

    source_kind kind;
    if (detect_kind(path, &kind, err) != 0) return -1;
    int rc = kind == SOURCE_IDX ? load_idx(path, lo, hi, c, h, w, out, err)
                                : load_files(path, kind, lo, hi, c, h, w, out, err);
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
