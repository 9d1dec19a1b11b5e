/* abp interpolate: walks between the inferred latents of training examples, or for d = 2
 * draws the paper's 9 x 9 panel of g(z) over [-2, 2]^2. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "abp/train.h"
#include "cli.h"
#include "options.h"

/* Spherical interpolation (Shoemake): along the great circle between a and b. */
static void slerp(const float *a, const float *b, float t, float *out, int64_t d) {
    double ab = 0, aa = 0, bb = 0;
    for (int64_t k = 0; k < d; k++) ab += (double)a[k] * b[k], aa += (double)a[k] * a[k], bb += (double)b[k] * b[k];
    double cosw = ab / sqrt(aa * bb + 1e-30);
    if (cosw > 0.9995 || cosw < -0.9995) { /* nearly parallel: linear is exact enough */
        for (int64_t k = 0; k < d; k++) out[k] = (1 - t) * a[k] + t * b[k];
        return;
    }
    double w = acos(cosw), s = sin(w);
    float ca = (float)(sin((1 - t) * w) / s), cb = (float)(sin(t * w) / s);
    for (int64_t k = 0; k < d; k++) out[k] = ca * a[k] + cb * b[k];
}

int cmd_interpolate(int argc, char **argv, abp_dist *d, abp_err *err) {
    char ckpt[1024] = "", out[1024] = "";
    int pairs = 8, steps = 10, spherical = 0, linear = 0, grid = 0, help = 0;
    cli_option opts[] = {
        {"ckpt", OPT_STRING, ckpt, sizeof ckpt, 0, 0, NULL, "a checkpoint written by abp train", 1, 0},
        {"out", OPT_STRING, out, sizeof out, 0, 0, NULL, "the PNG to write", 1, 0},
        {"pairs", OPT_INT, &pairs, 0, 1, 1000, NULL, "rows: example 2k to example 2k+1", 0, 0},
        {"steps", OPT_INT, &steps, 0, 2, 1000, NULL, "images per row, both ends included", 0, 0},
        {"spherical", OPT_FLAG, &spherical, 0, 0, 0, NULL, "along great circles (slerp)", 0, 0},
        {"linear", OPT_FLAG, &linear, 0, 0, 0, NULL, "along straight lines (the default)", 0, 0},
        {"grid", OPT_FLAG, &grid, 0, 0, 0, NULL, "for d = 2: the 9 x 9 panel of g(z) over [-2, 2]^2", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (cli_parse("interpolate", argc, argv, 2, opts, nopts, NULL, 0, NULL, &help, err)) return EXIT_USAGE;
    if (help) {
        if (d->rank == 0)
            cli_usage("interpolate", "--ckpt FILE --out PNG [--spherical | --grid]",
                      "Each row goes from the inferred latent of training example 2k to that of\n"
                      "example 2k+1 (as stored in the checkpoint) and draws g(z) along the way.", opts, nopts);
        return EXIT_OK;
    }
    if (spherical && linear) {
        abp_fail(err, "abp interpolate: --spherical and --linear exclude each other");
        return EXIT_USAGE;
    }
    if (d->rank != 0) return EXIT_OK;
    abp_net net;
    abp_train_cfg cfg;
    abp_ckpt_meta meta;
    abp_ckpt *ck = NULL;
    float *ends = NULL, *zrows = NULL, *zb = NULL, *images = NULL;
    int status = EXIT_FAILED;
    int batch = grid ? 81 : steps;
    if (abp_model_load(MPI_COMM_SELF, ckpt, batch, &net, &cfg, &meta, err)) return EXIT_FAILED;
    free(meta.config);
    int64_t dz = abp_shape_numel(net.in_shape), dy = abp_shape_numel(net.out_shape);
    int rows = grid ? 9 : pairs, cols = grid ? 9 : steps;
    zrows = abp_alloc(sizeof(float) * (size_t)(batch * dz), err);
    zb = zrows ? abp_alloc(sizeof(float) * (size_t)(batch * dz), err) : NULL;
    images = zb ? abp_alloc(sizeof(float) * (size_t)(rows * cols * dy), err) : NULL;
    if (!images) goto done;
    if (grid) {
        if (dz != 2) {
            abp_fail(err, "--grid needs a model with d = 2; %s has d = %lld", ckpt, (long long)dz);
            goto done;
        }
        for (int r = 0; r < 9; r++)
            for (int c = 0; c < 9; c++) {
                zrows[(r * 9 + c) * 2] = -2.0f + 0.5f * (float)c;
                zrows[(r * 9 + c) * 2 + 1] = 2.0f - 0.5f * (float)r;
            }
        if (abp_net_generate(&net, zrows, 81, images, zb, err)) goto done;
    } else {
        abp_ckpt_meta m2;
        int64_t n_total, ldims[4];
        int lnd;
        if (abp_ckpt_open(MPI_COMM_SELF, ckpt, &ck, &m2, err) ||
            abp_ckpt_latent_shape(ck, &n_total, &lnd, ldims, err))
            goto done;
        if (n_total < 2 * pairs) {
            abp_fail(err, "%s holds %lld examples, too few for %d pairs", ckpt, (long long)n_total, pairs);
            goto done;
        }
        ends = abp_alloc(sizeof(float) * (size_t)(2 * pairs * dz), err);
        if (!ends || abp_ckpt_read_latents(ck, 0, 2 * pairs, ends, err)) goto done;
        for (int p = 0; p < pairs; p++) {
            for (int s = 0; s < steps; s++) {
                float t = (float)s / (float)(steps - 1);
                const float *a = ends + (2 * p) * dz, *b = ends + (2 * p + 1) * dz;
                if (spherical) slerp(a, b, t, zrows + s * dz, dz);
                else
                    for (int64_t k = 0; k < dz; k++) zrows[s * dz + k] = (1 - t) * a[k] + t * b[k];
            }
            if (abp_net_generate(&net, zrows, steps, images + (int64_t)p * steps * dy, zb, err)) goto done;
        }
    }
    if (abp_png_write_grid(out, images, rows * cols, net.out_shape.c, net.out_shape.h, net.out_shape.w, cols, err))
        goto done;
    printf("interpolate: wrote %s (%d x %d, %s)\n", out, rows, cols,
           grid ? "grid over [-2,2]^2" : spherical ? "spherical" : "linear");
    status = EXIT_OK;
done:
    abp_ckpt_close(ck);
    abp_free(ends);
    abp_free(zrows);
    abp_free(zb);
    abp_free(images);
    abp_net_free(&net);
    return status;
}
