/* abp's own loops give the same floats on any number of threads: a few ABP iterations of a
 * model whose every layer, residual, Langevin update and optimizer step is big enough to be
 * split (above ABP_PARALLEL_MIN), on 1, 2 and 3 OpenMP threads, end in bitwise the same
 * parameters, batch-norm statistics and loss.
 *
 * That needs the BLAS held on one thread while abp's loops vary. OpenBLAS's pthreads build
 * keeps OPENBLAS_NUM_THREADS=1 (ctest sets it); its OpenMP build, abp's default, follows
 * OpenMP's count, so ctest runs this check with the pthreads build put first on
 * LD_LIBRARY_PATH. OpenBLAS 0.3.21's sgemm itself is not bitwise the same on 1 and 2 threads
 * (8,107 of these 81,897 parameters differ after 3 iterations, either build), so where the
 * BLAS's threads vary too the results are only close.
 *
 *   test_threads              the bitwise check (needs a BLAS that stays on one thread)
 *   test_threads --openmp     the OpenMP build: it is the one that runs (not the system
 *                             default of the same name), and 2 or 3 threads for both stay
 *                             close to 1 */
#include <math.h>
#include <mpi.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "abp/rng.h"
#include "abp/train.h"
#include "check.h"

static const char *spec = "z 100 | linear 7x7x16 | bn | lrelu 0.2 | deconv 8 k5 s2 | bn | relu | "
                          "deconv 1 k5 s2 | tanh";
enum { BATCH = 48, EXAMPLES = 96, ITERS = 3 };

/* Trains ITERS iterations on `threads` threads; *params gets a malloc'd copy of the
 * parameters followed by the batch-norm buffers, *sse the last loss. Returns the count. */
static int64_t train(int threads, int blas_too, uint64_t seed, abp_dist *d, float **params, double *sse) {
    if (blas_too) {
        CHECK(abp_threads_set(threads) == threads, "the BLAS did not take %d threads", threads);
    } else {
        omp_set_num_threads(threads);
    }
    CHECK(abp_loop_threads() == threads, "asked for %d threads, got %d", threads, abp_loop_threads());
    abp_train_cfg cfg;
    abp_train_defaults(&cfg);
    snprintf(cfg.model, sizeof cfg.model, "%s", spec);
    cfg.batch = BATCH;
    cfg.langevin_steps = 2;
    cfg.seed = seed;
    cfg.quiet = 1;
    abp_err err = {{0}};
    abp_images data = {.n = EXAMPLES, .c = 1, .h = 28, .w = 28};
    data.data = malloc(sizeof(float) * EXAMPLES * 784);
    abp_rng_normal(3, ABP_RNG_TEST_INIT, 0, 0, 0, data.data, EXAMPLES * 784);
    for (int e = 0; e < EXAMPLES * 784; e++) data.data[e] = tanhf(data.data[e]);
    abp_trainer *t = NULL;
    int64_t n = -1;
    *params = NULL;
    if (abp_trainer_create(&cfg, d, &data, &t, &err)) {
        CHECK(0, "abp_trainer_create: %s", err.msg);
        goto done;
    }
    int stop;
    for (int it = 0; it < ITERS; it++)
        if (abp_trainer_iterate(t, it, 0, sse, &stop, &err)) {
            CHECK(0, "iteration %d: %s", it, err.msg);
            goto done;
        }
    abp_net *net = abp_trainer_net(t);
    n = net->nparams + net->nbuffers;
    *params = malloc(sizeof(float) * (size_t)n);
    memcpy(*params, net->params, sizeof(float) * (size_t)net->nparams);
    memcpy(*params + net->nparams, net->buffers, sizeof(float) * (size_t)net->nbuffers);
done:
    abp_trainer_free(t);
    free(data.data);
    return n;
}

static int64_t differing(const float *a, const float *b, int64_t n) {
    int64_t k = 0;
    for (int64_t e = 0; e < n; e++) k += memcmp(&a[e], &b[e], sizeof(float)) != 0;
    return k;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    abp_dist d;
    abp_err err = {{0}};
    CHECK(abp_dist_init(&d, MPI_COMM_WORLD, &err) == 0, "%s", err.msg);
    /* Every loop of this model is big enough to be split (else the test proves nothing). */
    CHECK(BATCH * 784 >= ABP_PARALLEL_MIN && BATCH * 100 >= ABP_PARALLEL_MIN / 8,
          "the model's loops are too small to be threaded");
    const int openmp = argc > 1 && !strcmp(argv[1], "--openmp");
    if (openmp) {
        CHECK(!strcmp(abp_blas_threading(), "OpenMP"), "abp was linked against OpenBLAS's OpenMP build but "
              "runs the %s one (the run path does not reach it)", abp_blas_threading());
    } else {
        CHECK(strcmp(abp_blas_threading(), "OpenMP") != 0, "the BLAS is OpenBLAS's OpenMP build, which follows "
              "OpenMP's thread count: this check needs one that stays on OPENBLAS_NUM_THREADS=1");
    }
    float *one = NULL, *p = NULL;
    double sse1 = 0, sse = 0;
    int64_t n = train(1, openmp, 1, &d, &one, &sse1);
    for (int threads = 2; threads <= 3 && one; threads++) {
        int64_t m = train(threads, openmp, 1, &d, &p, &sse);
        CHECK(m == n && p, "%d threads: no parameters", threads);
        if (m == n && p && !openmp) {
            int64_t k = differing(one, p, n);
            CHECK(k == 0, "abp's loops on %d threads: %lld of %lld parameters differ from 1 thread", threads,
                  (long long)k, (long long)n);
            CHECK(memcmp(&sse, &sse1, sizeof sse) == 0, "abp's loops on %d threads: loss %.17g, 1 thread %.17g",
                  threads, sse, sse1);
        } else if (m == n && p) { /* the GEMMs' rounding, through 3 Adam steps of lr 1e-3 */
            double worst = 0;
            for (int64_t e = 0; e < n; e++) worst = fmax(worst, fabs((double)one[e] - (double)p[e]));
            CHECK(worst < 1e-2, "abp and the BLAS on %d threads: a parameter moved %.3g from 1 thread", threads, worst);
            CHECK(fabs(sse - sse1) <= 1e-3 * fabs(sse1), "abp and the BLAS on %d threads: loss %.9g, 1 thread %.9g",
                  threads, sse, sse1);
        }
        free(p);
    }
    abp_threads_set(1);
    /* The comparison can fail: another seed trains other parameters. */
    if (one) {
        int64_t m = train(2, openmp, 2, &d, &p, &sse);
        CHECK(m == n && p && differing(one, p, n) > n / 2, "another seed gave the same parameters");
        free(p);
    }
    free(one);
    int rc = check_summary("test_threads");
    MPI_Finalize();
    return rc;
}
