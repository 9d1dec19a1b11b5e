/* The reading half of a streamed shard (abp_shard with stream set, see abp/shard.h):
 * a batch's rows read from an HDF5 data set, now or on an I/O thread. Private to src/io.
 *
 * Thread safety: Debian's parallel HDF5 is not built thread-safe, so HDF5 must never be
 * entered by two threads at once. A read started by abp_shard_stream_start runs on its own
 * thread (created for the read, joined by the next call here), and between the two the
 * caller promises not to call HDF5 itself (abp_shard_quiesce is the way to wait). The I/O
 * thread makes no MPI calls, so the main thread stays the only one that does
 * (MPI_THREAD_FUNNELED). */
#ifndef ABP_IO_SHARD_STREAM_H
#define ABP_IO_SHARD_STREAM_H

#include <stdint.h>

#include "abp/error.h"
#include "abp/shard.h"

/* Opens the data set at path for reading rows of the shard that starts at global row lo,
 * fitted to c x h x w, in batches of up to max_rows rows. */
ABP_MUST_CHECK int abp_shard_stream_open(const char *path, int64_t lo, int c, int h, int w,
                                         int max_rows, abp_shard_stream **out, abp_err *err);

/* Starts reading shard rows idx[0..n) (local, repeats allowed; n <= max_rows) on the I/O
 * thread. */
ABP_MUST_CHECK int abp_shard_stream_start(abp_shard_stream *st, const int64_t *idx, int n,
                                          abp_err *err);

/* The rows idx[0..n) as planar bytes, one row per request in request order, in *rows
 * (valid until the next call): those of the running or finished read if it asked for the
 * same rows, else read now on this thread. n may exceed max_rows (the buffers grow). */
ABP_MUST_CHECK int abp_shard_stream_take(abp_shard_stream *st, const int64_t *idx, int64_t n,
                                         const uint8_t **rows, abp_err *err);

/* Waits for a running read to end (its rows are kept for a take of the same rows). */
void abp_shard_stream_wait(abp_shard_stream *st);

void abp_shard_stream_close(abp_shard_stream *st);

#endif
