/* abp reconstruct: infer z for data the model has not seen, starting from N(0, I) as the
 * paper does for test images, and report the reconstruction error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "abp/infer.h"
#include "abp/rng.h"
#include "abp/train.h"
#include "cli.h"
#include "options.h"

int cmd_reconstruct(int argc, char **argv, abp_dist *d, abp_err *err) {
    char ckpt[1024] = "", data[1024] = "", out[1024] = "";
    int steps = 300, batch = 100, help = 0, inference = 0;
    float step_size = 0.05f, sigma = 0.0f;
    int64_t limit = 0, seed = 1;
    cli_option opts[] = {
        {"ckpt", OPT_STRING, ckpt, sizeof ckpt, 0, 0, NULL, "a checkpoint written by abp train", 1, 0},
        {"data", OPT_STRING, data, sizeof data, 0, 0, NULL, "the data to reconstruct (IDX, folder, image)", 1, 0},
        {"out", OPT_STRING, out, sizeof out, 0, 0, NULL, "output folder (reconstructions.png)", 1, 0},
        {"langevin-steps", OPT_INT, &steps, 0, 0, 1e6, NULL, "inference steps (the paper: 300)", 0, 0},
        {"langevin-step-size", OPT_FLOAT, &step_size, 0, 0, 100, NULL, "step size s (the paper: 0.05)", 0, 0},
        {"inference", OPT_CHOICE, &inference, 0, 0, 0, "langevin|gd", "Langevin dynamics, or gradient descent", 0, 0},
        {"sigma", OPT_FLOAT, &sigma, 0, 0, 1e6, NULL, "observation noise (0: the model's)", 0, 0},
        {"limit", OPT_INT64, &limit, 0, 0, 1e12, NULL, "only the first N examples (0: all)", 0, 0},
        {"batch", OPT_INT, &batch, 0, 1, 100000, NULL, "examples inferred at once", 0, 0},
        {"seed", OPT_INT64, &seed, 0, 0, 9.2e18, NULL, "seed of the initial latents and the noise", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (cli_parse("reconstruct", argc, argv, 2, opts, nopts, NULL, 0, NULL, &help, err)) return EXIT_USAGE;
    if (help) {
        if (d->rank == 0)
            cli_usage("reconstruct", "--ckpt FILE --data PATH --out DIR [options]",
                      "For each example, starts z from N(0, I) and runs Langevin dynamics (batch norm\n"
                      "with running statistics, so examples do not interact), then reports\n"
                      "mse=<mean squared error per pixel on the [0, 1] pixel scale>.", opts, nopts);
        return EXIT_OK;
    }
    if (d->rank != 0) return EXIT_OK;
    abp_net net;
    abp_train_cfg cfg;
    abp_ckpt_meta meta;
    abp_images im = {0};
    abp_infer_ws ws = {0};
    float *zrows = NULL, *zb = NULL, *yb = NULL, *recon = NULL;
    int status = EXIT_FAILED;
    if (abp_model_load(MPI_COMM_SELF, ckpt, batch, &net, &cfg, &meta, err)) return EXIT_FAILED;
    free(meta.config);
    abp_data_info info;
    abp_shape ys = net.out_shape, zs = net.in_shape;
    if (abp_data_probe(data, &info, err)) goto done;
    int64_t n = limit > 0 && limit < info.n ? limit : info.n;
    if (abp_data_load(data, 0, n, ys.c, ys.h, ys.w, &im, err)) goto done;
    if (abp_mkdir_p(out, err)) goto done;
    int64_t dz = abp_shape_numel(zs), dy = abp_shape_numel(ys);
    zrows = abp_alloc(sizeof(float) * (size_t)(n * dz), err);
    zb = zrows ? abp_alloc(sizeof(float) * (size_t)(batch * dz), err) : NULL;
    yb = zb ? abp_alloc(sizeof(float) * (size_t)(batch * dy), err) : NULL;
    recon = yb ? abp_alloc(sizeof(float) * (size_t)(n * dy), err) : NULL;
    if (!recon || abp_infer_ws_init(&ws, &net, err)) goto done;
    abp_langevin lv = {.steps = steps, .step_size = step_size, .sigma = sigma > 0 ? sigma : cfg.sigma,
                       .noise = inference == 0, .seed = (uint64_t)seed, .iteration = 0xFFFFFFFFu};
    double sse = 0.0, t0 = abp_now();
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)batch);
    if (!ids) goto done;
    for (int64_t start = 0; start < n; start += batch) {
        int b = (int)(n - start < batch ? n - start : batch);
        for (int i = 0; i < b; i++) {
            ids[i] = start + i;
            abp_rng_normal((uint64_t)seed, ABP_RNG_TEST_INIT, (uint32_t)(start + i), 0, 0, zrows + (start + i) * dz, dz);
        }
        abp_rows_to_cns(zrows + start * dz, zb, b, zs);
        abp_rows_to_cns(im.data + start * dy, yb, b, ys);
        if (abp_infer_latents(&net, zb, yb, NULL, b, ids, &lv, &ws, err) ||
            abp_net_forward(&net, zb, b, err)) {
            free(ids);
            goto done;
        }
        abp_cns_to_rows(abp_net_output(&net), recon + start * dy, b, ys);
        abp_cns_to_rows(zb, zrows + start * dz, b, zs);
        for (int64_t k = 0; k < b * dy; k++) {
            double r = (double)im.data[start * dy + k] - recon[start * dy + k];
            sse += r * r;
        }
        fprintf(stderr, "\rreconstruct: %lld/%lld examples", (long long)(start + b), (long long)n);
    }
    fprintf(stderr, "\n");
    free(ids);
    char path[1200];
    snprintf(path, sizeof path, "%s/reconstructions.png", out);
    const float *sets[2] = {im.data, recon};
    int shown = n < 64 ? (int)n : 64;
    if (abp_png_write_compare(path, sets, 2, shown, ys.c, ys.h, ys.w, 8, err)) goto done;
    /* [-1, 1] values: a difference of 2 is the full pixel range, so divide by 4 for [0, 1]. */
    double mse = sse / ((double)n * (double)dy) / 4.0;
    printf("reconstruct: %lld examples, %d %s steps of size %g, %.1f s, mse=%.6f (per pixel, [0,1] scale), wrote %s\n",
           (long long)n, steps, inference ? "gradient-descent" : "Langevin", (double)step_size,
           abp_now() - t0, mse, path);
    status = EXIT_OK;
done:
    abp_free(zrows);
    abp_free(zb);
    abp_free(yb);
    abp_free(recon);
    abp_infer_ws_free(&ws);
    abp_images_free(&im);
    abp_net_free(&net);
    return status;
}
