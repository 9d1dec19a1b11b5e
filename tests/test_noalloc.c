/* The ABP iteration allocates nothing: every buffer it needs is made when the trainer is
 * created. This test is linked with -Wl,--wrap for the allocation functions (see
 * CMakeLists.txt), so each call from abp's own code — libabpcore is a static library — goes
 * through a counter here; it runs iterations and asserts that the counter did not move. */
#include <math.h>
#include <mpi.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "abp/rng.h"
#include "abp/train.h"
#include "check.h"

static long allocations = 0;
static int oneDNN_layers = 0; /* layers seen running in oneDNN, over all the runs */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
int __real_posix_memalign(void **p, size_t align, size_t n);
void *__wrap_malloc(size_t n) { allocations++; return __real_malloc(n); }
void *__wrap_calloc(size_t n, size_t size) { allocations++; return __real_calloc(n, size); }
void *__wrap_realloc(void *p, size_t n) { allocations++; return __real_realloc(p, n); }
int __wrap_posix_memalign(void **p, size_t align, size_t n) {
    allocations++;
    return __real_posix_memalign(p, align, n);
}

/* Iterations of a model with every layer kind of the built-in models, on examples in memory
 * (observed through `sense` random projections if sense > 0); returns the allocations made by
 * the measured iterations. */
static long allocations_in_iterations(const char *spec, int full_batch, int sense, int batch,
                                      abp_dist *d) {
    abp_train_cfg cfg;
    abp_train_defaults(&cfg);
    snprintf(cfg.model, sizeof cfg.model, "%s", spec);
    cfg.batch = batch;
    cfg.full_batch = full_batch;
    cfg.sense = sense;
    cfg.langevin_steps = 3;
    cfg.quiet = 1;
    abp_err err = {{0}};
    const int examples = 3 * batch; /* iterations 0..5 pass the end of the shard */
    abp_images data = {.n = examples, .c = 1, .h = 28, .w = 28};
    data.data = malloc(sizeof(float) * (size_t)examples * 28 * 28);
    abp_rng_normal(3, ABP_RNG_TEST_INIT, 0, 0, 0, data.data, (int64_t)examples * 28 * 28);
    for (int e = 0; e < examples * 28 * 28; e++) data.data[e] = tanhf(data.data[e]);
    abp_trainer *t = NULL;
    long counted = -1;
    if (abp_trainer_create(&cfg, d, &data, &t, &err)) {
        fprintf(stderr, "abp_trainer_create: %s\n", err.msg);
        goto done;
    }
    double sse;
    int stop;
    /* Iterations 0..5 pass the end of the shard of 3 batches: a new permutation. */
    for (int it = 0; it < 2; it++)
        if (abp_trainer_iterate(t, it, 0, &sse, &stop, &err)) goto done;
    long before = allocations;
    for (int it = 2; it < 7; it++)
        if (abp_trainer_iterate(t, it, 0, &sse, &stop, &err)) goto done;
    counted = allocations - before;
    /* A layer that runs in oneDNN makes its plan (kernels, blocked copies, scratchpads) at
     * its first call, in iteration 0, and none after. */
    abp_net *net = abp_trainer_net(t);
    for (int i = 0; i < net->nlayers; i++)
        if (abp_net_layer_in_onednn(net, i)) {
            CHECK(abp_net_layer_kernel(net, i) != NULL, "layer %d is in oneDNN but has no kernel", i);
            oneDNN_layers++;
        }
done:
    abp_trainer_free(t);
    free(data.data);
    return counted;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    abp_dist d;
    abp_err err = {{0}};
    CHECK(abp_dist_init(&d, MPI_COMM_WORLD, &err) == 0, "%s", err.msg);
    /* The counter sees abp's allocations at all (otherwise the checks below prove nothing). */
    long before = allocations;
    void *p = abp_alloc(16, &err);
    CHECK(allocations == before + 1, "the wrapped allocator did not count abp_alloc");
    abp_free(p);

    const char *mnist = "z 4 | linear 7x7x8 | bn | lrelu 0.2 | deconv 4 k5 s2 | bn | relu | deconv 1 k5 s2 | tanh";
    long n = allocations_in_iterations(mnist, 0, 0, 8, &d);
    CHECK(n == 0, "5 minibatch iterations made %ld allocations", n);
    n = allocations_in_iterations(mnist, 1, 0, 8, &d);
    CHECK(n == 0, "5 full-batch iterations made %ld allocations", n);
    n = allocations_in_iterations(mnist, 0, 50, 8, &d);
    CHECK(n == 0, "5 iterations with --sense 50 made %ld allocations", n);
    n = allocations_in_iterations("z 3x3x2 | conv 4 k3 s1 | bn | lrelu 0.2 | reshape 1x1x36 | linear 7x7x4 | deconv 1 k5 s4 p1 op1 | sigmoid", 0, 0, 8, &d);
    CHECK(n == 0, "conv/reshape/sigmoid iterations made %ld allocations", n);
    /* On two threads, with a batch big enough that every loop is split: OpenMP's own
     * allocations (its thread pool, at the first parallel region) are the runtime's, in
     * libgomp, which the wrapping does not see; abp's code must still make none. */
    omp_set_num_threads(2);
    n = allocations_in_iterations("z 100 | linear 7x7x16 | bn | lrelu 0.2 | deconv 8 k5 s2 | bn | "
                                  "lrelu 0.2 | deconv 1 k5 s2 | tanh", 0, 0, 48, &d);
    CHECK(n == 0, "5 iterations on 2 threads made %ld allocations", n);
    /* Layers wide enough for oneDNN, where abp is built with it (its own allocations in
     * libdnnl are not seen here; with a user scratchpad its kernels make none). */
    n = allocations_in_iterations("z 100 | linear 7x7x32 | bn | lrelu 0.2 | deconv 16 k5 s2 | bn | "
                                  "lrelu 0.2 | deconv 1 k5 s2 | tanh", 0, 0, 16, &d);
    CHECK(n == 0, "5 iterations with a layer in oneDNN made %ld allocations", n);
    char version[64];
    abp_onednn_version(version, sizeof version);
    const char *off = getenv("ABP_ONEDNN");
    CHECK(strcmp(version, "none") == 0 || (off && !strcmp(off, "0")) || oneDNN_layers > 0,
          "built with %s, but no layer ran in it", version);
    int rc = check_summary("test_noalloc");
    MPI_Finalize();
    return rc;
}
