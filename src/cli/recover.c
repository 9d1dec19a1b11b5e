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

#include "abp/train.h"
#include "cli.h"
#include "options.h"

/* What recover measures of one example: sum |g(z) - y| / 2 and sum |S^+ S y - y| / 2 over its
 * values (relative to the pixel range, 2 on the [-1, 1] scale, as the paper's Table 2), and
 * its |S y - S g(z)|^2. */
typedef struct measure_ctx {
    const float *y, *linear;
    int64_t dy;
} measure_ctx;

static void measure_recovery(void *ctx, int64_t local, const float *g, double obs_sse, double *out) {
    const measure_ctx *c = ctx;
    const float *y = c->y + local * c->dy, *lin = c->linear + local * c->dy;
    out[0] = out[1] = 0.0;
    for (int64_t e = 0; e < c->dy; e++) {
        out[0] += fabs((double)g[e] - y[e]) / 2.0;
        out[1] += fabs((double)lin[e] - y[e]) / 2.0;
    }
    out[2] = obs_sse;
}

/* The latents training inferred for examples [lo, hi) of the checkpoint's first n, into
 * zrows (a row of dz each); the examples must be the same (by name) as those of the data
 * (im: the shard). */
static int read_training_latents(const char *path, const abp_images *im, int64_t n, int64_t lo, int64_t hi,
                                 int64_t dz, float *zrows, abp_err *err) {
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
    if (hi == lo) {
        rc = 0;
        goto done;
    }
    if (abp_ckpt_read_latents(ck, lo, hi, zrows, err) || abp_ckpt_read_names(ck, lo, hi, &names, err)) goto done;
    for (int64_t i = 0; i < hi - lo; i++)
        if (strcmp(names[i], im->names[i]) != 0) {
            abp_fail(err, "%s: example %lld is '%s' in the checkpoint but '%s' in the data; --init checkpoint needs the training data",
                     path, (long long)(lo + i), names[i], im->names[i]);
            goto done;
        }
    rc = 0;
done:
    if (names) {
        for (int64_t i = 0; i < hi - lo; i++) free(names[i]);
        free(names);
    }
    abp_ckpt_close(ck);
    return rc;
}

int cmd_recover(int argc, char **argv, abp_dist *d, abp_err *err) {
    char ckpt[1024] = "", data[1024] = "", out[1024] = "";
    int steps = 300, batch = 100, help = 0, inference = 0, K = 0, init = 0, threads = 0;
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
        {"threads", OPT_INT, &threads, 0, 0, 1024, NULL, "threads per rank, for the BLAS and abp's loops (0: cores / ranks on the node)", 0, 0},
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
    cli_set_threads(d, threads);
    abp_net net;
    abp_train_cfg cfg;
    cli_shard shard = {0};
    abp_infer_result res = {0};
    abp_sensing sense = {0};
    float *proj = NULL, *linear = NULL, *zstart = NULL, *shown_y = NULL, *shown_linear = NULL;
    int status = EXIT_FAILED;
    if (cli_load_model(d, ckpt, batch, 0, 0, &net, &cfg, err)) return EXIT_FAILED;
    if (K == 0) K = cfg.sense;
    if (K == 0) {
        abp_fail(err, "%s was trained without --sense; give the number of projections with --sense K", ckpt);
        goto done;
    }
    abp_shape ys = net.out_shape;
    if (cli_load_shard(d, data, limit, batch, ys.c, ys.h, ys.w, &shard, err) || cli_make_out_dir(d, out, err)) goto done;
    int64_t n = shard.n, n_local = shard.hi - shard.lo, rows = n_local > 0 ? n_local : 1;
    int shown = n < 64 ? (int)n : 64;
    int64_t dz = abp_shape_numel(net.in_shape), dy = abp_shape_numel(ys);
    int rc = abp_sensing_init(&sense, cfg.seed, K, ys, batch, err);
    if (rc == 0) {
        proj = abp_alloc(sizeof(float) * (size_t)(rows * K), err);
        linear = proj ? abp_alloc(sizeof(float) * (size_t)(rows * dy), err) : NULL;
        zstart = linear && init == 1 ? abp_alloc(sizeof(float) * (size_t)(rows * dz), err) : NULL;
        rc = linear && (init == 0 || zstart) ? 0 : -1;
    }
    if (rc == 0) {
        /* From here on the images are used only to measure the error: inference sees proj. */
        abp_sensing_project_rows(&sense, shard.im.data, n_local, proj);
        if (n_local > 0) rc = abp_sensing_min_norm(&sense, proj, n_local, linear, err);
    }
    if (rc == 0 && init == 1) rc = read_training_latents(ckpt, &shard.im, n, shard.lo, shard.hi, dz, zstart, err);
    if (abp_dist_agree(d, rc, err)) goto done;
    measure_ctx mc = {.y = shard.im.data, .linear = linear, .dy = dy};
    abp_infer_job job = {
        .n = n, .lo = shard.lo, .hi = shard.hi, .batch = batch, .y = proj, .sense = &sense,
        .start = {.kind = init == 1 ? ABP_START_GIVEN : ABP_START_PRIOR, .seed = (uint64_t)seed, .z = zstart},
        .lv = {.steps = steps, .step_size = step_size, .sigma = sigma > 0 ? sigma : cfg.sigma,
               .noise = inference == 0, .seed = (uint64_t)seed, .iteration = 0xFFFFFFFFu},
        .measure = measure_recovery, .measure_ctx = &mc, .nmeasures = 3, .keep = shown, .what = "recover"};
    double t0 = abp_now();
    if (abp_infer_data(d, &net, &job, &res, err)) goto done;
    double seconds = abp_now() - t0;
    int ok = 1;
    if (d->rank == 0) {
        shown_y = abp_alloc(sizeof(float) * (size_t)((shown > 0 ? shown : 1) * dy), err);
        shown_linear = shown_y ? abp_alloc(sizeof(float) * (size_t)((shown > 0 ? shown : 1) * dy), err) : NULL;
        ok = shown_linear != NULL;
    }
    if (abp_dist_agree(d, ok ? 0 : -1, err) ||
        abp_dist_gather_rows(d, shard.im.data, shard.lo, shard.hi, shown, sizeof(float) * (size_t)dy, shown_y, err) ||
        abp_dist_gather_rows(d, linear, shard.lo, shard.hi, shown, sizeof(float) * (size_t)dy, shown_linear, err))
        goto done;
    char path[1200];
    snprintf(path, sizeof path, "%s/recoveries.png", out);
    const float *sets[3] = {shown_y, shown_linear, res.kept};
    if (abp_dist_agree(d, d->rank == 0 ? abp_png_write_compare(path, sets, 3, shown, ys.c, ys.h, ys.w, 8, err) : 0, err))
        goto done;
    if (d->rank == 0)
        printf("recover: %lld examples on %d rank%s, %d projections, z from %s, %d %s steps of size %g, %.1f s, recovery_error=%.6f "
               "baseline_error=%.6f proj_mse=%.6g (mean |recovered - original| over all pixels / pixel range; "
               "baseline: the minimum-norm image S^+ S y; proj_mse: mean (S y - S g(z))^2 / 4 per projection), wrote %s\n",
               (long long)n, d->size, d->size > 1 ? "s" : "", K, init ? "the checkpoint" : "N(0, I)", steps, inference ? "gradient-descent" : "Langevin",
               (double)step_size, seconds, res.sums[0] / ((double)n * dy), res.sums[1] / ((double)n * dy),
               res.sums[2] / ((double)n * K) / 4.0, path);
    status = EXIT_OK;
done:
    abp_infer_result_free(&res);
    abp_free(proj);
    abp_free(linear);
    abp_free(zstart);
    abp_free(shown_y);
    abp_free(shown_linear);
    abp_sensing_free(&sense);
    abp_images_free(&shard.im);
    abp_net_free(&net);
    return status;
}
