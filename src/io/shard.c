/* A rank's shard in the data's own type (see abp/shard.h): loading it, gathering a batch
 * as floats, freeing it. The streamed variant's reads are in shard_stream.c. */
#include "abp/shard.h"

#include <stdlib.h>
#include <string.h>

#include "pixels.h"
#include "shard_stream.h"
#include "source.h"

enum { LOAD_CHUNK_EXAMPLES = 256 }; /* examples read per step, so the bytes in flight stay small */

/* ---------------------------------------------------------------- names, packed */

/* The names of a shard grow into one buffer: a malloc'd string per example costs its
 * length plus 8 to 24 bytes of allocator overhead plus a pointer, which for short names
 * like "train-images-idx3-ubyte#123456" is as much again as the name. Offsets are kept
 * while the buffer may still move, and become pointers at the end. */
typedef struct name_pack {
    char *text;
    size_t used, cap;
    size_t *offset; /* [n] */
} name_pack;

static int pack_add(name_pack *p, int64_t i, const char *name, abp_err *err) {
    size_t len = strlen(name) + 1;
    if (p->used + len > p->cap) {
        size_t cap = p->cap ? p->cap : 4096;
        while (cap < p->used + len) cap *= 2;
        char *grown = realloc(p->text, cap);
        if (!grown) return abp_fail(err, "out of memory for example names");
        p->text = grown, p->cap = cap;
    }
    memcpy(p->text + p->used, name, len);
    p->offset[i] = p->used;
    p->used += len;
    return 0;
}

/* Turns the offsets into s->names and hands the buffer (trimmed) to s. */
static int pack_finish(name_pack *p, abp_shard *s, abp_err *err) {
    s->names = malloc(sizeof *s->names * (size_t)(s->n > 0 ? s->n : 1));
    if (!s->names) return abp_fail(err, "out of memory for %lld example names", (long long)s->n);
    char *trimmed = p->used ? realloc(p->text, p->used) : NULL;
    if (trimmed) p->text = trimmed;
    s->name_text = p->text;
    p->text = NULL;
    for (int64_t i = 0; i < s->n; i++) s->names[i] = s->name_text + p->offset[i];
    return 0;
}

/* ---------------------------------------------------------------- loading */

/* Examples [lo, lo + n) of an open source: their names, and (values not NULL) their bytes
 * in planar order, a chunk at a time. */
static int read_shard(abp_source *src, abp_shard *s, uint8_t *values, abp_err *err) {
    int64_t dy = (int64_t)s->c * s->h * s->w;
    name_pack pack = {0};
    pack.offset = malloc(sizeof *pack.offset * (size_t)(s->n > 0 ? s->n : 1));
    uint8_t *chunk = values ? malloc((size_t)(LOAD_CHUNK_EXAMPLES * dy)) : NULL;
    char **names = calloc(LOAD_CHUNK_EXAMPLES, sizeof *names);
    int rc = !pack.offset || !names || (values && !chunk) ? abp_fail(err, "out of memory for the read buffer") : 0;
    for (int64_t first = 0; rc == 0 && first < s->n; first += LOAD_CHUNK_EXAMPLES) {
        int64_t count = s->n - first < LOAD_CHUNK_EXAMPLES ? s->n - first : LOAD_CHUNK_EXAMPLES;
        rc = abp_source_read(src, s->lo + first, count, s->c, s->h, s->w, chunk, names, err);
        for (int64_t k = 0; k < count; k++) {
            if (rc == 0) rc = pack_add(&pack, first + k, names[k], err);
            free(names[k]);
            names[k] = NULL;
        }
        for (int64_t k = 0; rc == 0 && values && k < count; k++)
            abp_pixels_planar_bytes(chunk + k * dy, s->c, s->h, s->w, values + (first + k) * dy);
    }
    if (rc == 0) rc = pack_finish(&pack, s, err);
    free(names);
    free(chunk);
    free(pack.text);
    free(pack.offset);
    return rc;
}

/* A sound (a WAV file, one example) stays floats: it has no bytes to keep. */
static int load_floats(const char *path, abp_shard *s, abp_err *err) {
    abp_images im;
    if (abp_data_load(path, s->lo, s->lo + s->n, s->c, s->h, s->w, &im, err)) return -1;
    s->type = ABP_SHARD_F32;
    s->values = im.data;
    im.data = NULL;
    name_pack pack = {0};
    pack.offset = malloc(sizeof *pack.offset * (size_t)(s->n > 0 ? s->n : 1));
    int rc = pack.offset ? 0 : abp_fail(err, "out of memory");
    for (int64_t i = 0; rc == 0 && i < s->n; i++) rc = pack_add(&pack, i, im.names[i], err);
    if (rc == 0) rc = pack_finish(&pack, s, err);
    free(pack.text);
    free(pack.offset);
    abp_images_free(&im);
    return rc;
}

int abp_shard_load(const char *path, int64_t lo, int64_t hi, int c, int h, int w, int stream,
                   int max_batch, abp_shard *out, abp_err *err) {
    memset(out, 0, sizeof *out);
    if (c != 1 && c != 3) return abp_fail(err, "%s: cannot load as %d channels (must be 1 or 3)", path, c);
    if (h < 1 || w < 1) return abp_fail(err, "%s: cannot load at size %dx%d (must be at least 1x1)", path, h, w);
    abp_source *src;
    abp_data_info info;
    if (abp_source_open(path, &src, &info, err)) return -1;
    int rc = 0;
    if (lo < 0 || hi < lo || hi > info.n)
        rc = abp_fail(err, "%s: examples [%lld, %lld) are out of range (it holds %lld)", path, (long long)lo,
                      (long long)hi, (long long)info.n);
    out->lo = lo, out->n = hi - lo, out->c = c, out->h = h, out->w = w;
    out->type = ABP_SHARD_U8;
    int is_sound = strcmp(info.kind, "wav") == 0;
    if (rc == 0 && stream && strcmp(info.kind, "hdf5") != 0)
        rc = abp_fail(err, "--stream reads batches from an HDF5 data set, but %s is %s %s; pack it with abp prepare first",
                      path, strcmp(info.kind, "idx") == 0 || strcmp(info.kind, "image") == 0 ? "an" : "a", info.kind);
    if (rc == 0 && is_sound) {
        rc = load_floats(path, out, err);
    } else if (rc == 0) {
        size_t bytes;
        if (__builtin_mul_overflow((size_t)out->n, (size_t)c * h * w, &bytes))
            rc = abp_fail(err, "%s: %lld examples of %dx%dx%d are too many to hold", path, (long long)out->n, c, h, w);
        if (rc == 0 && !stream && !(out->values = abp_alloc(bytes ? bytes : 1, err)))
            rc = abp_fail(err, "%s: out of memory for %lld examples of %dx%dx%d (%.0f MB; --stream reads batches from the file instead)",
                          path, (long long)out->n, c, h, w, (double)bytes / 1048576.0);
        if (rc == 0) rc = read_shard(src, out, out->values, err);
        if (rc == 0 && stream) rc = abp_shard_stream_open(path, lo, c, h, w, max_batch, &out->stream, err);
    }
    abp_source_close(src);
    if (rc) abp_shard_free(out);
    return rc;
}

int abp_shard_copy(const abp_images *all, int64_t lo, int64_t hi, abp_shard *out, abp_err *err) {
    memset(out, 0, sizeof *out);
    int64_t dy = (int64_t)all->c * all->h * all->w;
    out->lo = lo, out->n = hi - lo, out->c = all->c, out->h = all->h, out->w = all->w;
    out->type = ABP_SHARD_F32;
    out->values = abp_alloc(sizeof(float) * (size_t)(out->n * dy > 0 ? out->n * dy : 1), err);
    name_pack pack = {0};
    pack.offset = malloc(sizeof *pack.offset * (size_t)(out->n > 0 ? out->n : 1));
    int rc = out->values && pack.offset ? 0 : abp_fail(err, "out of memory for %lld examples", (long long)out->n);
    if (rc == 0) memcpy(out->values, all->data + lo * dy, sizeof(float) * (size_t)(out->n * dy));
    for (int64_t i = 0; rc == 0 && i < out->n; i++)
        rc = pack_add(&pack, i, all->names ? all->names[lo + i] : "synthetic", err);
    if (rc == 0) rc = pack_finish(&pack, out, err);
    free(pack.text);
    free(pack.offset);
    if (rc) abp_shard_free(out);
    return rc;
}

/* ---------------------------------------------------------------- reading rows */

/* Row r of the values (or of a streamed batch) as floats, channel-planar: the float of a
 * byte is abp_pixel_value's, the one abp_data_load gives. */
static void row_to_floats(const void *values, abp_shard_type type, int64_t r, int64_t dy, float *dst) {
    if (type == ABP_SHARD_F32) {
        memcpy(dst, (const float *)values + r * dy, sizeof(float) * (size_t)dy);
        return;
    }
    const uint8_t *src = (const uint8_t *)values + r * dy;
    for (int64_t e = 0; e < dy; e++) dst[e] = abp_pixel_value(src[e]);
}

int abp_shard_gather_cns(abp_shard *s, const int64_t *idx, int n, abp_shape shape, float *cns, abp_err *err) {
    int64_t pix = abp_shape_pixels(shape), dy = abp_shape_numel(shape);
    const void *values = s->values;
    const uint8_t *batch = NULL;
    if (s->stream) {
        /* The time not hidden behind the previous iteration: the I/O part of the split. */
        double t0 = abp_now();
        int rc = abp_shard_stream_take(s->stream, idx, n, &batch, err);
        s->wait_seconds += abp_now() - t0;
        if (rc) return -1;
        values = batch;
    }
    /* The layout of abp_gather_rows_to_cns: channel-major, then example, then pixel. */
    for (int c = 0; c < shape.c; c++)
        for (int i = 0; i < n; i++) {
            int64_t r = batch ? i : idx[i];
            float *dst = cns + ((int64_t)c * n + i) * pix;
            if (s->type == ABP_SHARD_F32) {
                memcpy(dst, (const float *)values + r * dy + c * pix, sizeof(float) * (size_t)pix);
            } else {
                const uint8_t *src = (const uint8_t *)values + r * dy + c * pix;
                for (int64_t p = 0; p < pix; p++) dst[p] = abp_pixel_value(src[p]);
            }
        }
    return 0;
}

int abp_shard_rows(abp_shard *s, int64_t first, int64_t count, float *rows, abp_err *err) {
    int64_t dy = (int64_t)s->c * s->h * s->w;
    if (first < 0 || count < 0 || first + count > s->n)
        return abp_fail(err, "shard rows [%lld, %lld) are out of range (it holds %lld)", (long long)first,
                        (long long)(first + count), (long long)s->n);
    if (!s->stream) {
        for (int64_t k = 0; k < count; k++) row_to_floats(s->values, s->type, first + k, dy, rows + k * dy);
        return 0;
    }
    int64_t *idx = calloc((size_t)(count > 0 ? count : 1), sizeof *idx);
    if (!idx) return abp_fail(err, "out of memory");
    for (int64_t k = 0; k < count; k++) idx[k] = first + k;
    const uint8_t *batch;
    int rc = abp_shard_stream_take(s->stream, idx, count, &batch, err);
    for (int64_t k = 0; rc == 0 && k < count; k++) row_to_floats(batch, s->type, k, dy, rows + k * dy);
    free(idx);
    return rc;
}

int abp_shard_prefetch(abp_shard *s, const int64_t *idx, int n, abp_err *err) {
    return s->stream ? abp_shard_stream_start(s->stream, idx, n, err) : 0;
}

void abp_shard_quiesce(abp_shard *s) {
    if (s->stream) abp_shard_stream_wait(s->stream);
}

int64_t abp_shard_value_bytes(const abp_shard *s) {
    if (!s->values) return 0;
    return s->n * s->c * s->h * s->w * (s->type == ABP_SHARD_U8 ? 1 : (int64_t)sizeof(float));
}

void abp_shard_free(abp_shard *s) {
    if (!s) return;
    abp_shard_stream_close(s->stream);
    abp_free(s->values);
    free(s->names);
    free(s->name_text);
    memset(s, 0, sizeof *s);
}
