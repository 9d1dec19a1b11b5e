/* abp reconstruct and abp complete: infer z for data the model has not seen, starting from
 * N(0, I) as the paper does for test images. reconstruct reports the reconstruction error;
 * complete observes each image through an occlusion mask, fills the occluded pixels with
 * g(z), and reports the recovery error on them (the paper's §4.2). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "abp/infer.h"
#include "abp/rng.h"
#include "abp/train.h"
#include "cli.h"
#include "options.h"

/* Mean |recovered - original| over the occluded values, and the same for a baseline that
 * fills them with the mean of the image's observed values; both relative to the pixel range
 * (2 on the [-1, 1] scale). Adds to the sums and counts. */
static void recovery_sums(const float *y, const float *g, const float *m, int64_t dy, double *err_sum,
                          double *base_sum, double *count) {
    double observed_sum = 0.0, observed = 0.0;
    for (int64_t e = 0; e < dy; e++)
        if (m[e] != 0.0f) observed_sum += y[e], observed += 1.0;
    double fill = observed > 0 ? observed_sum / observed : 0.0;
    for (int64_t e = 0; e < dy; e++)
        if (m[e] == 0.0f) {
            *err_sum += fabs((double)g[e] - y[e]) / 2.0;
            *base_sum += fabs(fill - y[e]) / 2.0;
            *count += 1.0;
        }
}

static int run(const char *cmd, int argc, char **argv, abp_dist *d, abp_err *err) {
    int completing = !strcmp(cmd, "complete");
    char ckpt[1024] = "", data[1024] = "", out[1024] = "", mask_text[32] = "";
    int steps = 300, batch = 100, help = 0, inference = 0;
    float step_size = 0.05f, sigma = 0.0f;
    int64_t limit = 0, seed = 1;
    cli_option opts[] = {
        {"ckpt", OPT_STRING, ckpt, sizeof ckpt, 0, 0, NULL, "a checkpoint written by abp train", 1, 0},
        {"data", OPT_STRING, data, sizeof data, 0, 0, NULL, "the data to reconstruct (IDX, folder, image)", 1, 0},
        {"out", OPT_STRING, out, sizeof out, 0, 0, NULL, completing ? "output folder (completions.png)" : "output folder (reconstructions.png)", 1, 0},
        {"langevin-steps", OPT_INT, &steps, 0, 0, 1e6, NULL, "inference steps (the paper: 300)", 0, 0},
        {"langevin-step-size", OPT_FLOAT, &step_size, 0, 0, 100, NULL, "step size s (the paper: 0.05)", 0, 0},
        {"inference", OPT_CHOICE, &inference, 0, 0, 0, "langevin|gd", "Langevin dynamics, or gradient descent", 0, 0},
        {"sigma", OPT_FLOAT, &sigma, 0, 0, 1e6, NULL, "observation noise (0: the model's)", 0, 0},
        {"limit", OPT_INT64, &limit, 0, 0, 1e12, NULL, "only the first N examples (0: all)", 0, 0},
        {"batch", OPT_INT, &batch, 0, 1, 100000, NULL, "examples inferred at once", 0, 0},
        {"seed", OPT_INT64, &seed, 0, 0, 9.2e18, NULL, "seed of the initial latents, the noise and the masks", 0, 0},
        {"mask", OPT_STRING, mask_text, sizeof mask_text, 0, 0, NULL,
         "the occlusion: pepper:FRACTION or region:SIDE (at 64x64); default: the checkpoint's training mask, from its seed", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]) - (completing ? 0 : 1); /* --mask: complete only */
    if (cli_parse(cmd, argc, argv, 2, opts, nopts, NULL, 0, NULL, &help, err)) return EXIT_USAGE;
    if (help) {
        if (d->rank == 0 && completing)
            cli_usage("complete", "--ckpt FILE --data PATH [--mask pepper:F|region:S] --out DIR [options]",
                      "Occludes each example with the mask, infers z from the observed pixels only\n"
                      "(Langevin from N(0, I), batch norm with running statistics), fills the occluded\n"
                      "pixels with g(z), writes occluded / recovered / original as completions.png and\n"
                      "reports recovery_error=<mean |recovered - original| on the occluded pixels,\n"
                      "relative to the pixel range>, next to baseline_error= (each occluded pixel\n"
                      "filled with the mean of the image's observed pixels). Without --mask, each example\n"
                      "gets the very mask it was trained with (the checkpoint's --mask and --seed):\n"
                      "the paper's task of recovering the occluded training images.", opts, nopts);
        else if (d->rank == 0)
            cli_usage("reconstruct", "--ckpt FILE --data PATH --out DIR [options]",
                      "For each example, starts z from N(0, I) and runs Langevin dynamics (batch norm\n"
                      "with running statistics, so examples do not interact), then reports\n"
                      "mse=<mean squared error per pixel on the [0, 1] pixel scale>.", opts, nopts);
        return EXIT_OK;
    }
    abp_mask_spec mask = {0};
    if (completing && mask_text[0] && abp_mask_parse(mask_text, &mask, err)) return EXIT_USAGE;
    if (completing && mask_text[0] && mask.kind == ABP_MASK_NONE) {
        abp_fail(err, "--mask none: abp complete needs an occlusion (pepper:F or region:S)");
        return EXIT_USAGE;
    }
    if (d->rank != 0) return EXIT_OK;
    abp_net net;
    abp_train_cfg cfg;
    abp_ckpt_meta meta;
    abp_images im = {0};
    abp_infer_ws ws = {0};
    float *zrows = NULL, *zb = NULL, *yb = NULL, *recon = NULL, *masks = NULL, *mb = NULL;
    int status = EXIT_FAILED;
    if (abp_model_load(MPI_COMM_SELF, ckpt, batch, &net, &cfg, &meta, err)) return EXIT_FAILED;
    free(meta.config);
    uint64_t mask_seed = (uint64_t)seed;
    if (completing && !mask_text[0]) { /* the training masks: the checkpoint's mask and seed */
        if (abp_mask_parse(cfg.mask, &mask, err)) goto done;
        if (mask.kind == ABP_MASK_NONE) {
            abp_fail(err, "%s was trained without --mask: give abp complete a --mask", ckpt);
            status = EXIT_USAGE;
            goto done;
        }
        snprintf(mask_text, sizeof mask_text, "%s", cfg.mask);
        mask_seed = cfg.seed;
    }
    abp_shape ys = net.out_shape, zs = net.in_shape;
    if (cli_load_first(data, limit, ys.c, ys.h, ys.w, &im, err) || abp_mkdir_p(out, err)) goto done;
    int64_t n = im.n;
    int64_t dz = abp_shape_numel(zs), dy = abp_shape_numel(ys);
    zrows = abp_alloc(sizeof(float) * (size_t)(n * dz), err);
    zb = zrows ? abp_alloc(sizeof(float) * (size_t)(batch * dz), err) : NULL;
    yb = zb ? abp_alloc(sizeof(float) * (size_t)(batch * dy), err) : NULL;
    recon = yb ? abp_alloc(sizeof(float) * (size_t)(n * dy), err) : NULL;
    if (completing) {
        masks = recon ? abp_alloc(sizeof(float) * (size_t)(n * dy), err) : NULL;
        mb = masks ? abp_alloc(sizeof(float) * (size_t)(batch * dy), err) : NULL;
        if (!mb) goto done;
    }
    if (!recon || abp_infer_ws_init(&ws, &net, err)) goto done;
    abp_langevin lv = {.steps = steps, .step_size = step_size, .sigma = sigma > 0 ? sigma : cfg.sigma,
                       .noise = inference == 0, .seed = (uint64_t)seed, .iteration = 0xFFFFFFFFu};
    double sse = 0.0, t0 = abp_now(), err_sum = 0.0, base_sum = 0.0, occluded = 0.0;
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
        if (completing) {
            for (int i = 0; i < b; i++)
                abp_mask_make(&mask, mask_seed, start + i, ys.c, ys.h, ys.w, masks + (start + i) * dy);
            abp_rows_to_cns(masks + start * dy, mb, b, ys);
        }
        abp_observation obs = {.y = yb, .mask = mb};
        if (abp_infer_latents(&net, zb, &obs, b, ids, &lv, &ws, err) ||
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
        for (int i = 0; completing && i < b; i++)
            recovery_sums(im.data + (start + i) * dy, recon + (start + i) * dy, masks + (start + i) * dy, dy,
                          &err_sum, &base_sum, &occluded);
        fprintf(stderr, "\r%s: %lld/%lld examples", cmd, (long long)(start + b), (long long)n);
    }
    fprintf(stderr, "\n");
    free(ids);
    char path[1200];
    int shown = n < 64 ? (int)n : 64;
    if (completing) {
        /* Rows of occluded (occluded pixels mid-grey, so that they show on the black
         * background of digits as on faces), recovered (observed pixels kept, the
         * occluded ones from g(z)) and original images; the first two overwrite the masks and
         * g(z), which are not needed any more. */
        for (int64_t k = 0; k < n * dy; k++) {
            float m = masks[k];
            recon[k] = m != 0.0f ? im.data[k] : recon[k];
            masks[k] = m != 0.0f ? im.data[k] : 0.0f;
        }
        snprintf(path, sizeof path, "%s/completions.png", out);
        const float *sets[3] = {masks, recon, im.data};
        if (abp_png_write_compare(path, sets, 3, shown, ys.c, ys.h, ys.w, 8, err)) goto done;
        printf("complete: %lld examples, mask %s, %d %s steps of size %g, %.1f s, recovery_error=%.6f "
               "baseline_error=%.6f (mean |recovered - original| on the occluded pixels / pixel range; "
               "baseline: the mean of the observed pixels), wrote %s\n",
               (long long)n, mask_text, steps, inference ? "gradient-descent" : "Langevin", (double)step_size,
               abp_now() - t0, err_sum / occluded, base_sum / occluded, path);
        status = EXIT_OK;
        goto done;
    }
    snprintf(path, sizeof path, "%s/reconstructions.png", out);
    const float *sets[2] = {im.data, recon};
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
    abp_free(masks);
    abp_free(mb);
    abp_infer_ws_free(&ws);
    abp_images_free(&im);
    abp_net_free(&net);
    return status;
}

int cmd_reconstruct(int argc, char **argv, abp_dist *d, abp_err *err) { return run("reconstruct", argc, argv, d, err); }
int cmd_complete(int argc, char **argv, abp_dist *d, abp_err *err) { return run("complete", argc, argv, d, err); }
