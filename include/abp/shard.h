/* abp — a rank's shard of the training data, kept in the data's own type.
 *
 * Training touches its examples only a batch at a time, so a rank need not hold them as
 * the floats the network eats: images are kept as the bytes they are stored in (uint8,
 * 1 byte a value instead of 4) and a batch's rows are converted when they are gathered,
 * with the very formula abp_data_load uses (0 -> -1, 255 -> 1, v / 127.5 - 1), so the
 * floats, and everything trained on them, are bitwise those of a float shard. Sounds (a
 * WAV file is one example) and data handed over in memory stay floats.
 *
 * With stream set, not even the bytes are held: each batch's rows are read from the HDF5
 * data set when they are needed (a sorted hyperslab selection), and the next batch's read
 * can run on an I/O thread while the current batch is being computed (abp_shard_prefetch).
 * The rows, and so the results, are the same as in memory.
 *
 * Values are planar per example (channel, row, column), c x h x w of them, as abp_images
 * holds them. Example names are kept packed in one buffer. */
#ifndef ABP_SHARD_H
#define ABP_SHARD_H

#include <stdint.h>

#include "abp/error.h"
#include "abp/io.h"
#include "abp/tensor.h"

typedef enum abp_shard_type {
    ABP_SHARD_U8,  /* bytes, converted as abp_data_load does */
    ABP_SHARD_F32  /* floats, as they are */
} abp_shard_type;

typedef struct abp_shard_stream abp_shard_stream; /* the file and I/O thread of a streamed shard */

typedef struct abp_shard {
    int64_t lo, n;        /* the examples [lo, lo + n) of the data */
    int c, h, w;          /* every example's shape */
    abp_shard_type type;
    void *values;         /* n * c * h * w values of `type`, planar per example; NULL streamed */
    char **names;         /* n names (pointers into one buffer), as abp_images names them */
    char *name_text;      /* that buffer */
    abp_shard_stream *stream; /* not NULL: rows are read from the file per batch */
    double wait_seconds;  /* streamed: wall time gathers spent waiting for rows, in all */
} abp_shard;

/* Loads examples [lo, hi) of path as abp_data_load would (converted to c channels and
 * h x w), but keeps image bytes rather than floats. With stream set, only the names are
 * read now and the pixels when a batch asks for them; path must then be an HDF5 data set
 * (abp prepare makes one), and batches may hold up to max_batch rows. A local call. */
ABP_MUST_CHECK int abp_shard_load(const char *path, int64_t lo, int64_t hi, int c, int h, int w,
                                  int stream, int max_batch, abp_shard *out, abp_err *err);

/* Rows [lo, hi) of images already in memory (abp bench's synthetic data), as floats. */
ABP_MUST_CHECK int abp_shard_copy(const abp_images *all, int64_t lo, int64_t hi, abp_shard *out,
                                  abp_err *err);

/* The batch of shard rows idx[0..n) (local indices, repeats allowed) as floats in the
 * activation layout (CNS, as abp_gather_rows_to_cns writes it). A streamed shard uses the
 * prefetched rows when the prefetch asked for exactly these, else reads them now. */
ABP_MUST_CHECK int abp_shard_gather_cns(abp_shard *s, const int64_t *idx, int n, abp_shape shape,
                                        float *cns, abp_err *err);

/* Shard rows [first, first + count) as floats, one row per example (for pictures and
 * projections; a streamed shard reads them now). */
ABP_MUST_CHECK int abp_shard_rows(abp_shard *s, int64_t first, int64_t count, float *rows,
                                  abp_err *err);

/* A streamed shard: starts reading rows idx[0..n) on the I/O thread, to be taken by the
 * next abp_shard_gather_cns with the same rows. No-op for a shard in memory. While the
 * read runs, the I/O thread is the only one in this process that calls HDF5 (the Debian
 * build is not thread-safe): call abp_shard_quiesce before any other HDF5 call. */
ABP_MUST_CHECK int abp_shard_prefetch(abp_shard *s, const int64_t *idx, int n, abp_err *err);

/* Waits for a running prefetch (keeping its rows for the next gather). */
void abp_shard_quiesce(abp_shard *s);

/* Bytes this shard holds in memory for its values (0 when streamed), for reports. */
int64_t abp_shard_value_bytes(const abp_shard *s);

void abp_shard_free(abp_shard *s);

#endif
