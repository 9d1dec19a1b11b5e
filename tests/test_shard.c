/* Shards in the data's own type (abp/shard.h): a batch gathered from a shard of bytes, in
 * memory or streamed from the HDF5 data set (with and without a prefetch), is bitwise the
 * batch gathered from the floats abp_data_load gives, for an IDX file and the data set it
 * was packed into, at the stored size and fitted to another (grey to RGB, resized). Also:
 * the names, the bytes held, single rows, and the errors. Inputs are made in a fresh
 * temporary folder; one process. */
#include "abp/shard.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abp/io.h"
#include "abp/tensor.h"
#include "check.h"

enum { N = 60, H = 12, W = 10, LO = 7, HI = 53, BATCH = 13 };

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* An IDX file of N images of H x W whose bytes cover 0..255. */
static int write_idx(const char *path) {
    size_t full = 16 + (size_t)N * H * W;
    unsigned char *buf = malloc(full);
    if (!buf) return -1;
    put_be32(buf, 0x00000803), put_be32(buf + 4, N), put_be32(buf + 8, H), put_be32(buf + 12, W);
    for (int i = 0; i < N * H * W; i++) buf[16 + i] = (unsigned char)((i * 37 + i / 7) % 256);
    FILE *f = fopen(path, "wb");
    size_t put = f ? fwrite(buf, 1, full, f) : 0;
    int rc = f && fclose(f) == 0 && put == full ? 0 : -1;
    free(buf);
    return rc;
}

/* Local rows of a batch: scattered, unsorted, with a repeat (a batch that spans the end of
 * one permutation cycle and the start of the next can hold an example twice). */
static void batch_rows(int64_t n_local, int salt, int64_t *idx) {
    for (int i = 0; i < BATCH; i++) idx[i] = (int64_t)((i * 17 + salt * 5 + 3) % n_local);
    idx[BATCH - 1] = idx[2];
}

/* Every way of holding the shard gives the floats of abp_data_load, batch by batch. */
static void check_source(const char *path, int c, int h, int w, int streamable) {
    abp_err err = {{0}};
    abp_images im;
    if (abp_data_load(path, LO, HI, c, h, w, &im, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    abp_shape shape = {.c = c, .h = h, .w = w};
    int64_t dy = (int64_t)c * h * w;
    float *want = malloc(sizeof(float) * (size_t)(BATCH * dy)), *got = malloc(sizeof(float) * (size_t)(BATCH * dy));
    for (int stream = 0; stream <= streamable; stream++) {
        abp_shard s;
        if (abp_shard_load(path, LO, HI, c, h, w, stream, BATCH, &s, &err)) {
            CHECK(0, "%s (stream %d): %s", path, stream, err.msg);
            continue;
        }
        CHECK(s.n == HI - LO && s.lo == LO && s.type == ABP_SHARD_U8, "%s: shard of %lld from %lld", path,
              (long long)s.n, (long long)s.lo);
        /* A quarter of the floats' memory in memory, nothing when streamed. */
        CHECK(abp_shard_value_bytes(&s) == (stream ? 0 : s.n * dy), "%s (stream %d): %lld bytes held", path, stream,
              (long long)abp_shard_value_bytes(&s));
        int names_same = 1;
        for (int64_t i = 0; i < s.n; i++) names_same &= strcmp(s.names[i], im.names[i]) == 0;
        CHECK(names_same, "%s (stream %d): names differ from abp_data_load's", path, stream);
        int64_t idx[BATCH], other[BATCH];
        for (int round = 0; round < 4; round++) {
            batch_rows(s.n, round, idx);
            /* round 1: prefetched, then taken; round 2: a prefetch of other rows, then these
             * (read on the spot); round 3: quiesced between prefetch and gather. */
            if (round == 1 || round == 3) CHECK(abp_shard_prefetch(&s, idx, BATCH, &err) == 0, "%s", err.msg);
            if (round == 2) {
                batch_rows(s.n, 9, other);
                CHECK(abp_shard_prefetch(&s, other, BATCH, &err) == 0, "%s", err.msg);
            }
            if (round == 3) abp_shard_quiesce(&s);
            abp_gather_rows_to_cns(im.data, idx, want, BATCH, shape);
            CHECK(abp_shard_gather_cns(&s, idx, BATCH, shape, got, &err) == 0, "%s", err.msg);
            CHECK(!memcmp(want, got, sizeof(float) * (size_t)(BATCH * dy)),
                  "%s %dx%dx%d (stream %d, round %d): the batch is not bitwise abp_data_load's", path, h, w, c,
                  stream, round);
        }
        CHECK(abp_shard_rows(&s, 3, 5, got, &err) == 0, "%s", err.msg);
        CHECK(!memcmp(im.data + 3 * dy, got, sizeof(float) * (size_t)(5 * dy)), "%s (stream %d): rows 3..8 differ",
              path, stream);
        CHECK(abp_shard_rows(&s, s.n - 2, 5, got, &err) == -1 && strstr(err.msg, "out of range"),
              "rows past the end: '%s'", err.msg);
        abp_shard_free(&s);
        abp_shard_free(&s); /* freeing twice is harmless */
    }
    free(want);
    free(got);
    abp_images_free(&im);
}

static void check_errors(const char *idx_path, const char *tmp) {
    abp_err err = {{0}};
    abp_shard s;
    CHECK(abp_shard_load(idx_path, 0, N, 1, H, W, 1, BATCH, &s, &err) == -1 && strstr(err.msg, "--stream") &&
              strstr(err.msg, idx_path) && strstr(err.msg, "abp prepare"),
          "--stream on an IDX file: '%s'", err.msg);
    CHECK(abp_shard_load(idx_path, 0, N + 1, 1, H, W, 0, BATCH, &s, &err) == -1 && strstr(err.msg, "out of range"),
          "past the end: '%s'", err.msg);
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none.h5", tmp);
    CHECK(abp_shard_load(missing, 0, 1, 1, H, W, 1, BATCH, &s, &err) == -1 && strstr(err.msg, missing),
          "a missing file: '%s'", err.msg);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv); /* abp_data_prepare writes through MPI-IO, here on one rank */
    char tmp[] = "/tmp/abp-test-shard-XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    char idx[600], h5[600];
    snprintf(idx, sizeof idx, "%s/digits-idx3-ubyte", tmp);
    snprintf(h5, sizeof h5, "%s/digits.h5", tmp);
    CHECK(write_idx(idx) == 0, "cannot write %s", idx);
    abp_err err = {{0}};
    abp_data_info written;
    const char *one[] = {idx};
    abp_prepare_cfg cfg = {.sources = one, .nsources = 1, .block = 16};
    CHECK(abp_data_prepare(MPI_COMM_WORLD, h5, &cfg, &written, &err) == 0, "%s", err.msg);

    check_source(idx, 1, H, W, 0);
    check_source(h5, 1, H, W, 1);
    check_source(h5, 3, 8, 9, 1); /* grey to RGB, cropped and resized, also when streamed */
    check_errors(idx, tmp);

    unlink(idx);
    unlink(h5);
    rmdir(tmp);
    int status = check_summary("test_shard");
    MPI_Finalize();
    return status;
}
