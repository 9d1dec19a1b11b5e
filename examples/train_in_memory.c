/* Example 1: learn a small generator from images held in memory, then sample from it.
 *
 * The images are 8 x 8 grey bumps at 32 places; the program trains with the ABP loop of
 * abp train (abp_trainer_create / abp_trainer_iterate), prints the reconstruction error of
 * the first and the last iteration, and then draws samples g(z), z ~ N(0, I), with batch
 * norm's running statistics. Runs as one process or under mpirun (each rank then takes
 * its shard of the examples; every rank holds all of them here, as abp bench does).
 *
 *   train_in_memory [ITERATIONS]
 *
 * Build against an installed abp: see examples/CMakeLists.txt, or
 *   cc train_in_memory.c $(pkg-config --cflags --libs abp) -o train_in_memory */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/dist.h"
#include "abp/error.h"
#include "abp/io.h"
#include "abp/nn.h"
#include "abp/rng.h"
#include "abp/train.h"

enum { N = 32, SIDE = 8, SAMPLES = 4 };

/* Example i: a Gaussian bump centred at one of 32 places, values in [-1, 1]. */
static void make_images(float *x) {
    for (int i = 0; i < N; i++) {
        double cy = 1.5 + (i % 4) * 1.6, cx = 1.5 + (i / 4) * 0.7;
        for (int r = 0; r < SIDE; r++)
            for (int c = 0; c < SIDE; c++) {
                double d2 = (r - cy) * (r - cy) + (c - cx) * (c - cx);
                x[(i * SIDE + r) * SIDE + c] = (float)(2.0 * exp(-d2 / 3.0) - 1.0);
            }
    }
}

static int run(abp_dist *d, int iterations, abp_err *err) {
    static float pixels[N * SIDE * SIDE];
    make_images(pixels);
    abp_images data = {.n = N, .c = 1, .h = SIDE, .w = SIDE, .data = pixels, .names = NULL};

    abp_train_cfg cfg;
    abp_train_defaults(&cfg);
    snprintf(cfg.model, sizeof cfg.model, "z 4 | linear 4x4x16 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh");
    cfg.batch = 16;
    cfg.lr = 3e-3f;
    cfg.quiet = 1;

    abp_trainer *t = NULL;
    if (abp_trainer_create(&cfg, d, &data, &t, err)) return -1;
    double first = 0, last = 0;
    for (int it = 0; it < iterations; it++) {
        double sse;
        int stop;
        if (abp_trainer_iterate(t, it, 0, &sse, &stop, err)) {
            abp_trainer_free(t);
            return -1;
        }
        /* the mean squared error per pixel on the [0, 1] scale, as abp train prints it */
        double mse = sse / abp_trainer_observed(t) / 4.0;
        if (it == 0) first = mse;
        last = mse;
    }
    if (d->rank == 0) printf("trained %d iterations: mse first %.5f last %.5f\n", iterations, first, last);

    /* Samples from the prior, with the running statistics of batch norm. */
    abp_net *net = abp_trainer_net(t);
    net->training = 0;
    float z[SAMPLES * 4], out[SAMPLES * SIDE * SIDE];
    float *zbuf = abp_alloc(sizeof(float) * 4 * (size_t)net->max_batch, err); /* one chunk's latents */
    for (int i = 0; i < SAMPLES; i++) abp_rng_normal(1, ABP_RNG_PRIOR, (uint32_t)i, 0, 0, z + 4 * i, 4);
    int rc = zbuf ? abp_net_generate(net, z, SAMPLES, out, zbuf, err) : -1;
    abp_free(zbuf);
    if (rc == 0 && d->rank == 0) {
        float lo = out[0], hi = out[0];
        for (int k = 0; k < SAMPLES * SIDE * SIDE; k++) lo = fminf(lo, out[k]), hi = fmaxf(hi, out[k]);
        printf("sampled %d images of %dx%d: values in [%.3f, %.3f]\n", SAMPLES, SIDE, SIDE, lo, hi);
    }
    abp_trainer_free(t);
    return rc;
}

int main(int argc, char **argv) {
    int iterations = argc > 1 ? atoi(argv[1]) : 100;
    if (iterations < 1) {
        fprintf(stderr, "train_in_memory: ITERATIONS must be a positive whole number\n");
        return 2;
    }
    MPI_Init(&argc, &argv);
    abp_dist d = {0};
    abp_err err = {{0}};
    int rc = abp_dist_init(&d, MPI_COMM_WORLD, &err);
    if (rc == 0) rc = run(&d, iterations, &err);
    if (rc && d.rank == 0) fprintf(stderr, "train_in_memory: %s\n", err.msg);
    abp_dist_free(&d);
    MPI_Finalize();
    return rc ? 1 : 0;
}
