/* MPI plumbing: shards, sums over ranks, agreement on errors, threads per rank. */
#define _GNU_SOURCE /* cpu_set_t, sched_getaffinity */
#include "abp/dist.h"

#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/tensor.h"

int abp_dist_init(abp_dist *d, MPI_Comm comm, abp_err *err) {
    memset(d, 0, sizeof *d);
    d->comm = comm;
    MPI_Comm_rank(comm, &d->rank);
    MPI_Comm_size(comm, &d->size);
    MPI_Comm node;
    if (MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, d->rank, MPI_INFO_NULL, &node) != MPI_SUCCESS)
        return abp_fail(err, "MPI_Comm_split_type failed");
    MPI_Comm_rank(node, &d->local_rank);
    MPI_Comm_size(node, &d->local_size);
    /* The node's cores: the union of its ranks' affinity masks (a bitwise OR over them). */
    cpu_set_t mine, all;
    CPU_ZERO(&mine);
    if (sched_getaffinity(0, sizeof mine, &mine) != 0) CPU_ZERO(&mine);
    int rc = MPI_Allreduce(&mine, &all, (int)sizeof mine, MPI_BYTE, MPI_BOR, node);
    MPI_Comm_free(&node);
    if (rc != MPI_SUCCESS) return abp_fail(err, "MPI_Allreduce of affinity masks failed");
    d->node_cores = CPU_COUNT(&all);
    if (d->node_cores < 1) d->node_cores = abp_cores_available();
    return 0;
}

void abp_dist_free(abp_dist *d) { memset(d, 0, sizeof *d); }

void abp_shard_range(int64_t n, int p, int r, int64_t *lo, int64_t *hi) {
    *lo = n * r / p;
    *hi = n * (r + 1) / p;
}

void abp_shard_range_batched(int64_t n, int batch, int p, int r, int64_t *lo, int64_t *hi) {
    int64_t batches = (n + batch - 1) / batch, b_lo, b_hi;
    abp_shard_range(batches, p, r, &b_lo, &b_hi);
    *lo = b_lo * batch < n ? b_lo * batch : n;
    *hi = b_hi * batch < n ? b_hi * batch : n;
}

int abp_batch_share(int64_t B, int p, int r) { return (int)(B / p + (r < B % p ? 1 : 0)); }

int abp_dist_sum_doubles(double *buf, int n, void *ctx) {
    abp_dist *d = ctx;
    if (d->size == 1) return 0;
    double t0 = MPI_Wtime();
    int rc = MPI_Allreduce(MPI_IN_PLACE, buf, n, MPI_DOUBLE, MPI_SUM, d->comm);
    d->comm_seconds += MPI_Wtime() - t0;
    return rc == MPI_SUCCESS ? 0 : -1;
}

double abp_dist_max_double(abp_dist *d, double v) {
    if (d->size == 1) return v;
    double t0 = MPI_Wtime(), out = v;
    MPI_Allreduce(&v, &out, 1, MPI_DOUBLE, MPI_MAX, d->comm);
    d->comm_seconds += MPI_Wtime() - t0;
    return out;
}

int abp_dist_sum_floats(abp_dist *d, float *buf, int64_t n, abp_err *err) {
    if (d->size == 1) return 0;
    double t0 = MPI_Wtime();
    for (int64_t off = 0; off < n; off += INT_MAX) {
        int count = (int)(n - off < INT_MAX ? n - off : INT_MAX);
        if (MPI_Allreduce(MPI_IN_PLACE, buf + off, count, MPI_FLOAT, MPI_SUM, d->comm) != MPI_SUCCESS)
            return abp_fail(err, "MPI_Allreduce of %lld floats failed", (long long)n);
    }
    d->comm_seconds += MPI_Wtime() - t0;
    return 0;
}

int abp_dist_agree(abp_dist *d, int rc, abp_err *err) {
    int mine = rc != 0 ? d->rank : INT_MAX, first;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, d->comm);
    if (first == INT_MAX) return 0;
    char msg[sizeof err->msg];
    memcpy(msg, err->msg, sizeof msg);
    MPI_Bcast(msg, (int)sizeof msg, MPI_CHAR, first, d->comm);
    memcpy(err->msg, msg, sizeof msg);
    return -1;
}

int abp_dist_threads_per_rank(const abp_dist *d, int requested, char *why, size_t why_size) {
    int own = abp_cores_available();
    if (requested > 0) {
        /* More threads than the rank's affinity mask has cores take turns on those cores: Open
         * MPI binds each of up to 2 ranks to one core, so `mpirun -np 1 abp ... --threads 2`
         * ran both threads on one core, 1.7x slower than two ranks (mnist28, 2 cores). */
        if (requested > own)
            snprintf(why, why_size, "%d threads per rank (--threads), but this rank may run on %d core%s only "
                     "(its CPU affinity): they share %s; launch with mpirun --bind-to none or "
                     "--map-by slot:PE=%d", requested, own, own > 1 ? "s" : "", own > 1 ? "them" : "it", requested);
        else
            snprintf(why, why_size, "%d thread%s per rank (--threads)", requested, requested > 1 ? "s" : "");
        return requested;
    }
    int threads = d->node_cores / d->local_size;
    if (threads > own) threads = own;
    if (threads < 1) threads = 1;
    snprintf(why, why_size, "%d thread%s per rank: %d core%s on this node for %d rank%s, %d usable by this rank",
             threads, threads > 1 ? "s" : "", d->node_cores, d->node_cores > 1 ? "s" : "", d->local_size,
             d->local_size > 1 ? "s" : "", own);
    return threads;
}

int abp_dist_gather_rows(abp_dist *d, const void *mine, int64_t lo, int64_t hi, int64_t want,
                         size_t row_bytes, void *out, abp_err *err) {
    if (d->size == 1) {
        if (want > 0) memcpy(out, mine, row_bytes * (size_t)want);
        return 0;
    }
    /* One derived type per row keeps every count a row count, far below INT_MAX. */
    int64_t send = want < lo ? 0 : (want < hi ? want : hi) - lo;
    int counts_ok = want <= INT_MAX && row_bytes <= INT_MAX, rc = -1;
    int *counts = NULL, *displs = NULL;
    MPI_Datatype row;
    if (abp_dist_agree(d, counts_ok ? 0 : abp_fail(err, "gathering %lld rows of %zu bytes: too many", (long long)want, row_bytes), err))
        return -1;
    if (MPI_Type_contiguous((int)row_bytes, MPI_BYTE, &row) != MPI_SUCCESS || MPI_Type_commit(&row) != MPI_SUCCESS)
        return abp_fail(err, "MPI_Type_contiguous of %zu bytes failed", row_bytes);
    if (d->rank == 0) {
        counts = malloc(sizeof(int) * (size_t)d->size);
        displs = malloc(sizeof(int) * (size_t)d->size);
    }
    int alloc_ok = d->rank != 0 || (counts && displs);
    if (abp_dist_agree(d, alloc_ok ? 0 : abp_fail(err, "out of memory"), err)) goto done;
    int mine_count = (int)send;
    double t0 = MPI_Wtime();
    if (MPI_Gather(&mine_count, 1, MPI_INT, counts, 1, MPI_INT, 0, d->comm) != MPI_SUCCESS) {
        abp_fail(err, "MPI_Gather of row counts failed");
        goto done;
    }
    if (d->rank == 0)
        for (int r = 0, at = 0; r < d->size; r++) displs[r] = at, at += counts[r];
    if (MPI_Gatherv(mine, mine_count, row, out, counts, displs, row, 0, d->comm) != MPI_SUCCESS) {
        abp_fail(err, "MPI_Gatherv of %lld rows failed", (long long)want);
        goto done;
    }
    d->comm_seconds += MPI_Wtime() - t0;
    rc = 0;
done:
    free(counts);
    free(displs);
    MPI_Type_free(&row);
    return rc;
}

int abp_dist_broadcast(abp_dist *d, void *buf, size_t bytes, abp_err *err) {
    if (d->size == 1) return 0;
    double t0 = MPI_Wtime();
    for (size_t off = 0; off < bytes; off += INT_MAX) {
        int count = (int)(bytes - off < INT_MAX ? bytes - off : INT_MAX);
        if (MPI_Bcast((char *)buf + off, count, MPI_BYTE, 0, d->comm) != MPI_SUCCESS)
            return abp_fail(err, "MPI_Bcast of %zu bytes failed", bytes);
    }
    d->comm_seconds += MPI_Wtime() - t0;
    return 0;
}

/* Appends printf output to line (of size bytes, used so far: *at), never past its end. */
static void append(char *line, size_t size, size_t *at, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void append(char *line, size_t size, size_t *at, const char *fmt, ...) {
    if (*at >= size) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line + *at, size - *at, fmt, ap);
    va_end(ap);
    *at = n < 0 ? size : *at + (size_t)n;
}

int abp_dist_layout(abp_dist *d, int threads, char *line, size_t size, abp_err *err) {
    enum { NAME = MPI_MAX_PROCESSOR_NAME, SHOWN = 8 };
    char mine[NAME] = {0};
    int len = 0;
    if (MPI_Get_processor_name(mine, &len) != MPI_SUCCESS) snprintf(mine, sizeof mine, "?");
    int root = d->rank == 0;
    char *names = root ? malloc((size_t)d->size * NAME) : NULL;
    int *counts = root ? calloc((size_t)d->size, sizeof *counts) : NULL;
    int *all_threads = root ? malloc(sizeof *all_threads * (size_t)d->size) : NULL;
    int ok = !root || (names && counts && all_threads);
    /* Every rank takes part in the gathers even if rank 0 has no room, then all agree. */
    char dummy[NAME];
    int dummy_threads;
    MPI_Gather(mine, NAME, MPI_CHAR, ok && root ? names : dummy, NAME, MPI_CHAR, 0, d->comm);
    MPI_Gather(&threads, 1, MPI_INT, ok && root ? all_threads : &dummy_threads, 1, MPI_INT, 0, d->comm);
    if (size > 0) line[0] = '\0';
    if (root && ok) {
        /* Hosts in the order of their first rank; counts[h] ranks on host h (a rank's name
         * is compared with the first rank of each host seen so far). */
        int hosts = 0, tmin = threads, tmax = threads;
        int *first = malloc(sizeof *first * (size_t)d->size);
        ok = first != NULL;
        for (int r = 0; ok && r < d->size; r++) {
            int h = 0;
            while (h < hosts && strncmp(names + (size_t)first[h] * NAME, names + (size_t)r * NAME, NAME)) h++;
            if (h == hosts) first[hosts++] = r;
            counts[h]++;
            if (all_threads[r] < tmin) tmin = all_threads[r];
            if (all_threads[r] > tmax) tmax = all_threads[r];
        }
        size_t at = 0;
        if (ok) {
            append(line, size, &at, "%d rank%s on %d host%s (", d->size, d->size > 1 ? "s" : "", hosts,
                   hosts > 1 ? "s" : "");
            for (int h = 0; h < hosts && h < SHOWN; h++)
                append(line, size, &at, "%s%.*s: %d", h ? ", " : "", NAME, names + (size_t)first[h] * NAME, counts[h]);
            if (hosts > SHOWN) append(line, size, &at, ", and %d more", hosts - SHOWN);
            if (tmin == tmax) append(line, size, &at, "), %d BLAS thread%s per rank", tmin, tmin > 1 ? "s" : "");
            else append(line, size, &at, "), %d to %d BLAS threads per rank", tmin, tmax);
        }
        free(first);
    }
    free(names);
    free(counts);
    free(all_threads);
    int rc = ok ? 0 : abp_fail(err, "out of memory gathering the host names of %d ranks", d->size);
    return abp_dist_agree(d, rc, err);
}
