/* Example 2: load a checkpoint written by abp train and reconstruct one image.
 *
 * Infers the image's latent z by the ABP paper's protocol for unseen data (300 Langevin
 * steps of size 0.05 from z ~ N(0, I), batch norm with running statistics), then prints
 * the mean squared error per pixel (on the [0, 1] scale) of g(z) at the start and at the
 * end, and writes original | reconstruction side by side as a PNG if OUT is given.
 *
 *   reconstruct_one CHECKPOINT DATA [INDEX [OUT.png]]
 *
 * DATA is anything abp train takes (an IDX file, an image or a folder, an HDF5 data set). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

#include "abp/error.h"
#include "abp/infer.h"
#include "abp/io.h"
#include "abp/nn.h"
#include "abp/rng.h"
#include "abp/train.h"

/* Mean squared error per value on the [0, 1] scale of two signals in [-1, 1]. */
static double mse01(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t k = 0; k < n; k++) s += (double)(a[k] - b[k]) * (a[k] - b[k]);
    return s / (double)n / 4.0;
}

static int run(const char *ckpt, const char *path, int64_t index, const char *png, abp_err *err) {
    abp_net net;
    abp_train_cfg cfg;
    abp_ckpt_meta meta;
    if (abp_model_load(MPI_COMM_SELF, ckpt, 1, &net, &cfg, &meta, err)) return -1;
    free(meta.config);
    abp_shape ys = net.out_shape;
    int64_t D = abp_shape_numel(ys), d = abp_shape_numel(net.in_shape);
    abp_images im = {0};
    abp_infer_ws ws = {0};
    float *z = NULL, *both = NULL;
    int rc = -1;
    if (abp_data_load(path, index, index + 1, ys.c, ys.h, ys.w, &im, err)) goto done;
    if (im.n != 1) {
        abp_fail(err, "%s: there is no example %lld", path, (long long)index);
        goto done;
    }
    z = abp_alloc(sizeof(float) * (size_t)d, err);
    if (!z || abp_infer_ws_init(&ws, &net, err)) goto done;

    /* One example: its row is also its CNS batch of one, so no layout change is needed. */
    abp_rng_normal(cfg.seed, ABP_RNG_TEST_INIT, (uint32_t)index, 0, 0, z, d);
    if (abp_net_forward(&net, z, 1, err)) goto done;
    double before = mse01(abp_net_output(&net), im.data, D);
    abp_observation obs = {.y = im.data, .mask = NULL, .sense = NULL};
    abp_langevin lv = {.steps = 300, .step_size = 0.05f, .sigma = cfg.sigma, .noise = 1, .seed = cfg.seed};
    if (abp_infer_latents(&net, z, &obs, 1, &index, &lv, &ws, err)) goto done;
    if (abp_net_forward(&net, z, 1, err)) goto done;
    double after = mse01(abp_net_output(&net), im.data, D);
    printf("%s example %lld (%s): mse from N(0, I) %.5f, after 300 Langevin steps %.5f\n", path,
           (long long)index, im.names ? im.names[0] : "?", before, after);
    if (png) {
        /* a 1 x 2 grid: the original, then g(z) */
        both = abp_alloc(sizeof(float) * 2 * (size_t)D, err);
        if (!both) goto done;
        for (int64_t k = 0; k < D; k++) both[k] = im.data[k], both[D + k] = abp_net_output(&net)[k];
        if (abp_png_write_grid(png, both, 2, ys.c, ys.h, ys.w, 2, err)) goto done;
        printf("wrote %s\n", png);
    }
    rc = 0;
done:
    abp_free(both);
    abp_free(z);
    abp_infer_ws_free(&ws);
    abp_images_free(&im);
    abp_net_free(&net);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 5) {
        fprintf(stderr, "usage: reconstruct_one CHECKPOINT DATA [INDEX [OUT.png]]\n");
        return 2;
    }
    char *end = NULL;
    long long index = argc > 3 ? strtoll(argv[3], &end, 10) : 0;
    if (argc > 3 && (*end || index < 0)) {
        fprintf(stderr, "reconstruct_one: INDEX '%s' is not an example number\n", argv[3]);
        return 2;
    }
    MPI_Init(&argc, &argv);
    abp_err err = {{0}};
    int rc = run(argv[1], argv[2], (int64_t)index, argc > 4 ? argv[4] : NULL, &err);
    if (rc) fprintf(stderr, "reconstruct_one: %s\n", err.msg);
    MPI_Finalize();
    return rc ? 1 : 0;
}
