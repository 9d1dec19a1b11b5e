/* abp — the distributed part: who owns which examples, sums over ranks, threads per rank.
 * The only part besides io that talks to MPI. */
#ifndef ABP_DIST_H
#define ABP_DIST_H

#include <stdint.h>
#include <mpi.h>

#include "abp/error.h"

typedef struct abp_dist {
    MPI_Comm comm;
    int rank, size;
    int local_rank, local_size; /* among the ranks on this node */
    int node_cores;             /* cores in the union of this node's ranks' affinity masks */
    double comm_seconds;        /* wall time spent in this rank's sums over ranks, for the
                                 * compute / allreduce split of metrics.csv and scaling runs */
} abp_dist;

ABP_MUST_CHECK int abp_dist_init(abp_dist *d, MPI_Comm comm, abp_err *err);
void abp_dist_free(abp_dist *d);

/* Rank r of p owns examples [r*n/p, (r+1)*n/p): contiguous, sizes differ by at most one. */
void abp_shard_range(int64_t n, int p, int r, int64_t *lo, int64_t *hi);

/* The same for work done in batches of `batch` (inference, sampling): the ceil(n / batch)
 * batches [k*batch, (k+1)*batch) are shared as abp_shard_range shares examples, so each
 * batch holds the same examples on any number of ranks and per-example results do not even
 * depend on how a BLAS treats a batch's edge. Some ranks may get none. */
void abp_shard_range_batched(int64_t n, int batch, int p, int r, int64_t *lo, int64_t *hi);

/* Rank r's share of a global batch of B: B/p, plus one on the first B%p ranks. */
int abp_batch_share(int64_t B, int p, int r);

/* Sums buf over all ranks in place (MPI_Allreduce, MPI_SUM). An abp_sum_fn for batch norm:
 * ctx is the abp_dist. */
int abp_dist_sum_doubles(double *buf, int n, void *ctx);

/* Sums a float buffer over all ranks in place; splits calls above INT_MAX elements. */
ABP_MUST_CHECK int abp_dist_sum_floats(abp_dist *d, float *buf, int64_t n, abp_err *err);

/* Collects the first `want` rows of a row-sharded array on rank 0: rank r holds rows
 * [lo, hi) in `mine`, rows of row_bytes bytes; rank 0 receives rows [0, want) in order into
 * out (room for want rows; ignored elsewhere). The shards must be contiguous in rank order
 * (abp_shard_range, abp_shard_range_batched). Collective; the same result on every rank. */
ABP_MUST_CHECK int abp_dist_gather_rows(abp_dist *d, const void *mine, int64_t lo, int64_t hi,
                                        int64_t want, size_t row_bytes, void *out, abp_err *err);

/* Rank 0's `bytes` bytes of buf to every rank (MPI_Bcast); splits above INT_MAX. */
ABP_MUST_CHECK int abp_dist_broadcast(abp_dist *d, void *buf, size_t bytes, abp_err *err);

/* The largest of v over all ranks (MPI_Allreduce, MPI_MAX). */
double abp_dist_max_double(abp_dist *d, double v);

/* Makes every rank agree on a collective outcome: returns 0 if rc == 0 on every rank;
 * otherwise -1 on every rank, with err holding the message of the lowest failing rank. */
ABP_MUST_CHECK int abp_dist_agree(abp_dist *d, int rc, abp_err *err);

/* BLAS threads for this rank: `requested` if > 0, else the cores of this node that its ranks
 * may use (the union of their affinity masks) divided by the number of those ranks, and no
 * more than this rank's own mask allows; at least 1. So ranks x threads never exceeds the
 * cores the launcher gave the node, whether or not it bound each rank to its own cores.
 * Writes a one-line explanation into why. */
int abp_dist_threads_per_rank(const abp_dist *d, int requested, char *why, size_t why_size);

#endif
