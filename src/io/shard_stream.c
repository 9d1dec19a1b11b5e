/* Streamed shards (see shard_stream.h): a batch's rows read from the HDF5 data set by one
 * sorted selection, fitted to the model's shape, and laid out in the batch's order.
 *
 * Why a thread per read rather than a long-lived I/O thread: a read is started once per
 * iteration and joined at the next, so creating the thread (tens of microseconds) costs
 * nothing next to an iteration, and pthread_join is then the only synchronisation needed
 * (it orders the thread's writes before the joiner's reads); there is no queue, no
 * condition variable and no shutdown protocol to get wrong. */
#include "shard_stream.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "h5data.h"
#include "pixels.h"

struct abp_shard_stream {
    abp_h5data *h5;
    int64_t lo;              /* the shard's first global row */
    int sc, sh, sw;          /* stored shape of a row */
    int c, h, w;             /* fitted shape */
    /* The request being (or last) read, and its result. */
    int64_t *idx;            /* [cap] local rows as asked for */
    int64_t n;
    int64_t *sorted;         /* [cap] distinct global rows, increasing */
    int64_t nsorted;
    uint8_t *stored;         /* [cap] stored rows, in sorted order */
    uint8_t *fitted;         /* one row fitted (interleaved) */
    uint8_t *rows;           /* [cap] planar fitted rows, in request order */
    int64_t cap;             /* rows the buffers hold */
    int have;                /* rows/idx hold a finished, successful read */
    pthread_t thread;
    int running;             /* a thread was started and not yet joined */
    int rc;                  /* the thread's result */
    abp_err err;             /* the thread's message */
};

static int cmp_int64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Grows the buffers to hold n rows (only while no thread runs). */
static int reserve(abp_shard_stream *st, int64_t n, abp_err *err) {
    if (n <= st->cap) return 0;
    size_t stored = (size_t)st->sc * st->sh * st->sw, fitted = (size_t)st->c * st->h * st->w;
    int64_t *idx = realloc(st->idx, sizeof *idx * (size_t)n);
    if (idx) st->idx = idx;
    int64_t *sorted = realloc(st->sorted, sizeof *sorted * (size_t)n);
    if (sorted) st->sorted = sorted;
    uint8_t *sb = realloc(st->stored, stored * (size_t)n);
    if (sb) st->stored = sb;
    uint8_t *rows = realloc(st->rows, fitted * (size_t)n);
    if (rows) st->rows = rows;
    if (!idx || !sorted || !sb || !rows) return abp_fail(err, "out of memory for a batch of %lld rows", (long long)n);
    st->cap = n;
    return 0;
}

/* The read itself, on whichever thread: sorted distinct rows, one selection, then each
 * requested row fitted and made planar in its place. */
static int read_request(abp_shard_stream *st, abp_err *err) {
    for (int64_t i = 0; i < st->n; i++) st->sorted[i] = st->lo + st->idx[i];
    qsort(st->sorted, (size_t)st->n, sizeof *st->sorted, cmp_int64);
    int64_t m = 0;
    for (int64_t i = 0; i < st->n; i++)
        if (m == 0 || st->sorted[i] != st->sorted[m - 1]) st->sorted[m++] = st->sorted[i];
    st->nsorted = m;
    if (abp_h5data_read_at(st->h5, st->sorted, m, st->stored, err)) return -1;
    size_t stored = (size_t)st->sc * st->sh * st->sw, fitted = (size_t)st->c * st->h * st->w;
    for (int64_t i = 0; i < st->n; i++) {
        int64_t row = st->lo + st->idx[i];
        const int64_t *at = bsearch(&row, st->sorted, (size_t)m, sizeof row, cmp_int64);
        const uint8_t *src = st->stored + (size_t)(at - st->sorted) * stored;
        if (abp_pixels_fit(src, st->sw, st->sh, st->sc, st->c, st->h, st->w, st->fitted, "--stream data", err))
            return -1;
        abp_pixels_planar_bytes(st->fitted, st->c, st->h, st->w, st->rows + (size_t)i * fitted);
    }
    return 0;
}

static void *io_thread(void *arg) {
    abp_shard_stream *st = arg;
    st->rc = read_request(st, &st->err);
    return NULL;
}

int abp_shard_stream_open(const char *path, int64_t lo, int c, int h, int w, int max_rows,
                          abp_shard_stream **out, abp_err *err) {
    *out = NULL;
    abp_shard_stream *st = calloc(1, sizeof *st);
    if (!st) return abp_fail(err, "%s: out of memory", path);
    abp_data_info info;
    int rc = abp_h5data_open(path, &st->h5, &info, err);
    st->lo = lo, st->sc = info.c, st->sh = info.h, st->sw = info.w, st->c = c, st->h = h, st->w = w;
    if (rc == 0) rc = abp_h5data_cache_rows(st->h5, max_rows > 0 ? max_rows : 1, err);
    if (rc == 0) rc = reserve(st, max_rows > 0 ? max_rows : 1, err);
    if (rc == 0 && !(st->fitted = malloc((size_t)c * h * w))) rc = abp_fail(err, "%s: out of memory", path);
    if (rc) {
        abp_shard_stream_close(st);
        return -1;
    }
    *out = st;
    return 0;
}

void abp_shard_stream_wait(abp_shard_stream *st) {
    if (!st || !st->running) return;
    pthread_join(st->thread, NULL);
    st->running = 0;
    st->have = st->rc == 0;
}

int abp_shard_stream_start(abp_shard_stream *st, const int64_t *idx, int n, abp_err *err) {
    abp_shard_stream_wait(st);
    st->have = 0;
    if (reserve(st, n, err)) return -1;
    memcpy(st->idx, idx, sizeof *idx * (size_t)n);
    st->n = n;
    st->rc = 0;
    if (pthread_create(&st->thread, NULL, io_thread, st) != 0) {
        /* No thread to be had: read now instead; the result is the same, only not hidden. */
        st->rc = read_request(st, &st->err);
        st->have = st->rc == 0;
        if (st->rc) *err = st->err;
        return st->rc;
    }
    st->running = 1;
    return 0;
}

int abp_shard_stream_take(abp_shard_stream *st, const int64_t *idx, int64_t n, const uint8_t **rows,
                          abp_err *err) {
    abp_shard_stream_wait(st);
    int same = st->n == n && (n == 0 || !memcmp(st->idx, idx, sizeof *idx * (size_t)n));
    if (st->rc != 0 && same) {
        *err = st->err; /* the prefetch of these very rows failed: that is this read's error */
        st->rc = 0;
        return -1;
    }
    if (!(st->have && same)) {
        st->have = 0, st->rc = 0;
        if (reserve(st, n, err)) return -1;
        memcpy(st->idx, idx, sizeof *idx * (size_t)n);
        st->n = n;
        if (read_request(st, err)) return -1;
        st->have = 1;
    }
    *rows = st->rows;
    return 0;
}

void abp_shard_stream_close(abp_shard_stream *st) {
    if (!st) return;
    abp_shard_stream_wait(st);
    abp_h5data_close(st->h5);
    free(st->idx);
    free(st->sorted);
    free(st->stored);
    free(st->fitted);
    free(st->rows);
    free(st);
}
