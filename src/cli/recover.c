/* abp recover: compressed sensing's recovery (Han et al. 2017, Experiment 6). Each example y
 * is observed only through its K projections S y onto the white-noise images of training
 * (the same S: drawn from the checkpoint's seed); z is inferred from S y alone, from N(0, I),
 * and g(z) is the recovered image (task T3 of the paper). With --init checkpoint, z starts
 * from the latents training inferred for these very examples (task T1: the training images
 * recovered during learning; --langevin-steps 0 takes them as they are). Reports the recovery error over all pixels next to the
 * linear answer, the minimum-norm image S^+ S y. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/infer.h"
#include "abp/rng.h"
#include "abp/train.h"
#include "cli.h"
#include "options.h"

/* Mean |a - b| / 2 over count values: the per-pixel difference relative to the pixel range
 * (2 on the [-1, 1] scale), as the paper's Table 2 measures it. */
static double range_error(const float *a, const float *b, int64_t count) {
    double sum = 0.0;
    for (int64_t k = 0; k < count; k++) sum += fabs((double)a[k] - b[k]) / 2.0;
    return count > 0 ? sum / (double)count : 0.0;
}

/* The latents training inferred for examples 0..n-1 of the checkpoint, into zrows (n x dz);
 * the examples must be the same (by name) as those of the data. */
static int read_training_latents(const char *path, const abp_images *im, int64_t n, int64_t dz, float *zrows,
                                 abp_err *err) {
    abp_ckpt *ck = NULL;
    abp_ckpt_meta meta;
    char **names = NULL;
    int64_t n_ck, dims[4], per = 1;
    int ndim, rc = -1;
    if (abp_ckpt_open(MPI_COMM_SELF, path, &ck, &meta, err)) return -1;
    if (abp_ckpt_latent_shape(ck, &n_ck, &ndim, dims, err)) goto done;
    for (int k = 0; k < ndim; k++) per *= dims[k];
    if (n_ck < n || per != dz) {
        abp_fail(err, "%s holds latents of %lld examples of %lld values; --init checkpoint needs %lld of %lld",
                 path, (long long)n_ck, (long long)per, (long long)n, (long long)dz);
        goto done;
    }
    if (abp_ckpt_read_latents(ck, 0, n, zrows, err) || abp_ckpt_read_names(ck, 0, n, &names, err)) goto done;
    for (int64_t i = 0; i < n; i++)
        if (strcmp(names[i], im->names[i]) != 0) {
            abp_fail(err, "%s: example %lld is '%s' in the checkpoint but '%s' in the data; --init checkpoint needs the training data",
                     path, (long long)i, names[i], im->names[i]);
            goto done;
        }
    rc = 0;
done:
    if (names) {
        for (int64_t i = 0; i < n; i++) free(names[i]);
        free(names);
    }
    abp_ckpt_close(ck);
    return rc;
}

int cmd_recover(int argc, char **argv, abp_dist *d, abp_err *err) {
    char ckpt[1024] = "", data[1024] = "", out[1024] = "";
    int steps = 300, batch = 100, help = 0, inference = 0, K = 0, init = 0;
    float step_size = 0.05f, sigma = 0.0f;
    int64_t limit = 0, seed = 1;
    cli_option opts[] = {
        {"ckpt", OPT_STRING, ckpt, sizeof ckpt, 0, 0, NULL, "a checkpoint written by abp train (usually with --sense K)", 1, 0},
        {"data", OPT_STRING, data, sizeof data, 0, 0, NULL, "the images to observe through S and recover (IDX, folder, image)", 1, 0},
        {"out", OPT_STRING, out, sizeof out, 0, 0, NULL, "output folder (recoveries.png)", 1, 0},
        {"sense", OPT_INT, &K, 0, 1, 1000000, NULL, "K projections per image (default: the checkpoint's --sense)", 0, 0},
        {"init", OPT_CHOICE, &init, 0, 0, 0, "prior|checkpoint", "start z from N(0, I), or from the latents training inferred for these examples", 0, 0},
        {"langevin-steps", OPT_INT, &steps, 0, 0, 1e6, NULL, "inference steps (the paper: 300)", 0, 0},
        {"langevin-step-size", OPT_FLOAT, &step_size, 0, 0, 100, NULL, "step size s (the paper: 0.05)", 0, 0},
        {"inference", OPT_CHOICE, &inference, 0, 0, 0, "langevin|gd", "Langevin dynamics, or gradient descent", 0, 0},
        {"sigma", OPT_FLOAT, &sigma, 0, 0, 1e6, NULL, "observation noise (0: the model's)", 0, 0},
        {"limit", OPT_INT64, &limit, 0, 0, 1e12, NULL, "only the first N examples (0: all)", 0, 0},
        {"batch", OPT_INT, &batch, 0, 1, 100000, NULL, "examples inferred at once", 0, 0},
        {"seed", OPT_INT64, &seed, 0, 0, 9.2e18, NULL, "seed of the initial latents and the noise (S comes from the checkpoint's seed)", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (cli_parse("recover", argc, argv, 2, opts, nopts, NULL, 0, NULL, &help, err)) return EXIT_USAGE;
    if (help) {
        if (d->rank == 0)
            cli_usage("recover", "--ckpt FILE --data PATH --out DIR [--sense K] [options]",
                      "Observes each image only through its K projections S y onto the white-noise\n"
                      "images the model was trained with (S from the checkpoint's seed), infers z\n"
                      "from S y alone (Langevin from N(0, I) or, with --init checkpoint, from the\n"
                      "latents training inferred; batch norm with running statistics),\n"
                      "writes original / minimum-norm S^+ S y / recovered g(z) as recoveries.png and\n"
                      "reports recovery_error=<mean |g(z) - y| over all pixels, relative to the pixel\n"
                      "range> next to baseline_error= (the same for the minimum-norm image, what\n"
                      "linear recovery gives).", opts, nopts);
        return EXIT_OK;
    }
    if (d->rank != 0) return EXIT_OK;
    abp_net net;
    abp_train_cfg cfg;
    abp_ckpt_meta meta;
    abp_images im = {0};
    abp_infer_ws ws = {0};
    abp_sensing sense = {0};
    float *proj = NULL, *linear = NULL, *recon = NULL, *zrows = NULL, *zb = NULL;
    int64_t *ids = NULL;
    int status = EXIT_FAILED;
    if (abp_model_load(MPI_COMM_SELF, ckpt, batch, &net, &cfg, &meta, err)) return EXIT_FAILED;
    free(meta.config);
    if (K == 0) K = cfg.sense;
    if (K == 0) {
        abp_fail(err, "%s was trained without --sense; give the number of projections with --sense K", ckpt);
        goto done;
    }
    abp_shape ys = net.out_shape, zs = net.in_shape;
    if (cli_load_first(data, limit, ys.c, ys.h, ys.w, &im, err) || abp_mkdir_p(out, err)) goto done;
    int64_t n = im.n;
    if (abp_sensing_init(&sense, cfg.seed, K, ys, batch, err)) goto done;
    int64_t dz = abp_shape_numel(zs), dy = abp_shape_numel(ys);
    proj = abp_alloc(sizeof(float) * (size_t)(n * K), err);
    linear = proj ? abp_alloc(sizeof(float) * (size_t)(n * dy), err) : NULL;
    recon = linear ? abp_alloc(sizeof(float) * (size_t)(n * dy), err) : NULL;
    zrows = recon ? abp_alloc(sizeof(float) * (size_t)(n * dz), err) : NULL;
    zb = zrows ? abp_alloc(sizeof(float) * (size_t)(batch * dz), err) : NULL;
    ids = zb ? malloc(sizeof(int64_t) * (size_t)batch) : NULL;
    if (!ids || abp_infer_ws_init(&ws, &net, err)) goto done;
    double t0 = abp_now();
    /* From here on the images are used only to measure the error: inference sees proj. */
    abp_sensing_project_rows(&sense, im.data, n, proj);
    if (init == 1 && read_training_latents(ckpt, &im, n, dz, zrows, err)) goto done;
    if (abp_sensing_min_norm(&sense, proj, n, linear, err)) goto done;
    abp_langevin lv = {.steps = steps, .step_size = step_size, .sigma = sigma > 0 ? sigma : cfg.sigma,
                       .noise = inference == 0, .seed = (uint64_t)seed, .iteration = 0xFFFFFFFFu};
    double proj_sse = 0.0;
    for (int64_t start = 0; start < n; start += batch) {
        int b = (int)(n - start < batch ? n - start : batch);
        for (int i = 0; i < b; i++) {
            ids[i] = start + i;
            if (init == 0) abp_rng_normal((uint64_t)seed, ABP_RNG_TEST_INIT, (uint32_t)(start + i), 0, 0, zrows + (start + i) * dz, dz);
        }
        abp_rows_to_cns(zrows + start * dz, zb, b, zs);
        abp_observation obs = {.y = proj + start * K, .sense = &sense};
        if (abp_infer_latents(&net, zb, &obs, b, ids, &lv, &ws, err) || abp_net_forward(&net, zb, b, err))
            goto done;
        proj_sse += abp_observe_residual(&obs, abp_net_output(&net), ws.dout, b, ys, 1.0f);
        abp_cns_to_rows(abp_net_output(&net), recon + start * dy, b, ys);
        fprintf(stderr, "\rrecover: %lld/%lld examples", (long long)(start + b), (long long)n);
    }
    fprintf(stderr, "\n");
    char path[1200];
    snprintf(path, sizeof path, "%s/recoveries.png", out);
    const float *sets[3] = {im.data, linear, recon};
    if (abp_png_write_compare(path, sets, 3, n < 64 ? (int)n : 64, ys.c, ys.h, ys.w, 8, err)) goto done;
    printf("recover: %lld examples, %d projections, z from %s, %d %s steps of size %g, %.1f s, recovery_error=%.6f "
           "baseline_error=%.6f proj_mse=%.6g (mean |recovered - original| over all pixels / pixel range; "
           "baseline: the minimum-norm image S^+ S y; proj_mse: mean (S y - S g(z))^2 / 4 per projection), wrote %s\n",
           (long long)n, K, init ? "the checkpoint" : "N(0, I)", steps, inference ? "gradient-descent" : "Langevin", (double)step_size, abp_now() - t0,
           range_error(recon, im.data, n * dy), range_error(linear, im.data, n * dy),
           proj_sse / ((double)n * K) / 4.0, path);
    status = EXIT_OK;
done:
    free(ids);
    abp_free(proj);
    abp_free(linear);
    abp_free(recon);
    abp_free(zrows);
    abp_free(zb);
    abp_sensing_free(&sense);
    abp_infer_ws_free(&ws);
    abp_images_free(&im);
    abp_net_free(&net);
    return status;
}
