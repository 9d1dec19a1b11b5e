/* Per-chain state in a checkpoint (DESIGN §8): M rows sharded over the ranks by global chain
 * id, written by hyperslab as /chains/NAME, read back on any other number of ranks.
 *   test_chains                  a singleton: write, read back under 1, 2 and 3 shardings
 *   test_chains write FILE       (under mpirun -np P) every rank writes its shard
 *   test_chains read FILE        (under mpirun -np Q) every rank reads and checks its shard
 * Row i holds i * 10 + column, so a row read from the wrong place cannot pass. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abp/io.h"
#include "check.h"

#define M 7        /* chains */
#define ROW 6      /* a 1x2x3 image per chain */
#define EXAMPLES 5

static const int64_t row_dims[3] = {1, 2, 3};

static void fill(float *rows, int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i++)
        for (int c = 0; c < ROW; c++) rows[(i - lo) * ROW + c] = (float)(i * 10 + c);
}

/* Contiguous shards, larger ones first, as abp_shard_range. */
static void shard(int64_t n, int size, int rank, int64_t *lo, int64_t *hi) {
    int64_t base = n / size, extra = n % size;
    *lo = rank * base + (rank < extra ? rank : extra);
    *hi = *lo + base + (rank < extra);
}

static int write_file(MPI_Comm comm, const char *path, abp_err *err) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    int64_t lo, hi, elo, ehi;
    shard(M, size, rank, &lo, &hi);
    shard(EXAMPLES, size, rank, &elo, &ehi);
    float chains[M * ROW], latents[EXAMPLES];
    fill(chains, lo, hi);
    char names_buf[EXAMPLES][24];
    char *names[EXAMPLES];
    for (int64_t i = elo; i < ehi; i++) {
        latents[i - elo] = (float)i;
        snprintf(names_buf[i - elo], sizeof names_buf[0], "ex%lld", (long long)i);
        names[i - elo] = names_buf[i - elo];
    }
    abp_ckpt_rows rows = {.path = "chains/descriptor", .data = chains, .n_total = M, .lo = lo, .hi = hi, .row_ndim = 3};
    memcpy(rows.row_dims, row_dims, sizeof row_dims);
    abp_ckpt_meta meta = {.iteration = 3, .config = "", .rows = &rows, .nrows = 1};
    snprintf(meta.optimizer, sizeof meta.optimizer, "adam");
    int64_t ld[1] = {1};
    return abp_ckpt_write(comm, path, &meta, NULL, 0, latents, EXAMPLES, elo, ehi, 1, ld, names, err);
}

/* Reads the shard [lo, hi) and checks every value. */
static void read_shard(abp_ckpt *ck, int64_t lo, int64_t hi) {
    abp_err err;
    float got[M * ROW + 1];
    float want[M * ROW + 1];
    fill(want, lo, hi);
    CHECK(abp_ckpt_read_rows(ck, "chains/descriptor", M, 3, row_dims, lo, hi, got, &err) == 0, "%s", err.msg);
    CHECK(!memcmp(got, want, sizeof(float) * (size_t)((hi - lo) * ROW)), "rows [%lld, %lld)", (long long)lo,
          (long long)hi);
}

static void read_file(MPI_Comm comm, const char *path) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    abp_err err;
    abp_ckpt *ck;
    abp_ckpt_meta meta;
    if (abp_ckpt_open(comm, path, &ck, &meta, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    int64_t lo, hi;
    shard(M, size, rank, &lo, &hi);
    read_shard(ck, lo, hi);
    abp_ckpt_close(ck);
}

/* The singleton: one writer, then the shards of 1, 2 and 3 ranks read in turn, and the
 * errors a wrong chain count or row shape gives. */
static void self_test(void) {
    abp_err err;
    char path[] = "/tmp/abp_test_chains_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    CHECK(write_file(MPI_COMM_SELF, path, &err) == 0, "%s", err.msg);
    abp_ckpt *ck;
    abp_ckpt_meta meta;
    if (abp_ckpt_open(MPI_COMM_SELF, path, &ck, &meta, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    for (int size = 1; size <= 3; size++)
        for (int rank = 0; rank < size; rank++) {
            int64_t lo, hi;
            shard(M, size, rank, &lo, &hi);
            read_shard(ck, lo, hi);
        }
    float buf[(M + 1) * ROW];
    CHECK(abp_ckpt_read_rows(ck, "chains/descriptor", M + 1, 3, row_dims, 0, 1, buf, &err) != 0 &&
              strstr(err.msg, "shape"),
          "a different chain count is an error naming the shape: %s", err.msg);
    int64_t flat[1] = {ROW};
    CHECK(abp_ckpt_read_rows(ck, "chains/descriptor", M, 1, flat, 0, 1, buf, &err) != 0, "a different row shape");
    CHECK(abp_ckpt_read_rows(ck, "chains/other", M, 3, row_dims, 0, 1, buf, &err) != 0 && strstr(err.msg, "chains/other"),
          "a missing chain state names it: %s", err.msg);
    CHECK(abp_ckpt_read_rows(ck, "chains/descriptor", M, 3, row_dims, 5, 9, buf, &err) != 0, "rows past the end");
    abp_ckpt_array *arrays;
    int narrays;
    CHECK(abp_ckpt_list(ck, &arrays, &narrays, &err) == 0, "%s", err.msg);
    int listed = 0;
    for (int k = 0; k < narrays; k++) listed += !strcmp(arrays[k].path, "chains/descriptor") && arrays[k].dims[0] == M;
    CHECK(listed == 1, "abp_ckpt_list shows /chains/descriptor");
    free(arrays);
    abp_ckpt_close(ck);
    unlink(path);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    abp_err err;
    if (argc == 3 && !strcmp(argv[1], "write")) {
        CHECK(write_file(MPI_COMM_WORLD, argv[2], &err) == 0, "%s", err.msg);
    } else if (argc == 3 && !strcmp(argv[1], "read")) {
        read_file(MPI_COMM_WORLD, argv[2]);
    } else {
        self_test();
    }
    int rc = rank == 0 ? check_summary("test_chains") : check_failed > 0;
    MPI_Finalize();
    return rc;
}
