/* abp reconstruct and abp complete: infer z for data the model has not seen, starting from
 * N(0, I) as the paper does for test images, or (--init encoder) from the mean of the
 * checkpoint's encoder q(z | y), as IABP does. reconstruct reports the reconstruction error;
 * complete observes each image through an occlusion mask, fills the occluded pixels with
 * g(z), and reports the recovery error on them (the paper's §4.2). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/train.h"
#include "cli.h"
#include "options.h"

/* What complete measures of one example: the sum of |recovered - original| / 2 over its
 * occluded values (2 is the pixel range on the [-1, 1] scale), the same for a baseline that
 * fills them with the mean of the example's observed values, and their count; what
 * reconstruct measures: the squared error over all values. */
typedef struct measure_ctx {
    const float *y;
    const unsigned char *mask;
    int64_t dy;
} measure_ctx;

static void measure_completion(void *ctx, int64_t local, const float *g, double obs_sse, double *out) {
    const measure_ctx *c = ctx;
    const float *y = c->y + local * c->dy;
    const unsigned char *m = c->mask + local * c->dy;
    double observed_sum = 0.0, observed = 0.0;
    (void)obs_sse;
    for (int64_t e = 0; e < c->dy; e++)
        if (m[e]) observed_sum += y[e], observed += 1.0;
    double fill = observed > 0 ? observed_sum / observed : 0.0;
    out[0] = out[1] = out[2] = 0.0;
    for (int64_t e = 0; e < c->dy; e++)
        if (!m[e]) {
            out[0] += fabs((double)g[e] - y[e]) / 2.0;
            out[1] += fabs(fill - y[e]) / 2.0;
            out[2] += 1.0;
        }
}

static void measure_reconstruction(void *ctx, int64_t local, const float *g, double obs_sse, double *out) {
    (void)ctx, (void)local, (void)g;
    out[0] = obs_sse; /* no mask: the squared error over every value */
}

static int run(const char *cmd, int argc, char **argv, abp_dist *d, abp_err *err) {
    int completing = !strcmp(cmd, "complete");
    char ckpt[1024] = "", data[1024] = "", out[1024] = "", mask_text[32] = "";
    int steps = 300, batch = 100, help = 0, inference = 0, threads = 0, init = 0;
    float step_size = 0.05f, sigma = 0.0f;
    int64_t limit = 0, seed = 1;
    cli_option opts[] = {
        {"ckpt", OPT_STRING, ckpt, sizeof ckpt, 0, 0, NULL, "a checkpoint written by abp train", 1, 0},
        {"data", OPT_STRING, data, sizeof data, 0, 0, NULL, "the data to reconstruct (IDX, folder, image)", 1, 0},
        {"out", OPT_STRING, out, sizeof out, 0, 0, NULL, completing ? "output folder (completions.png)" : "output folder (reconstructions.png)", 1, 0},
        {"langevin-steps", OPT_INT, &steps, 0, 0, 1e6, NULL, "inference steps (the paper: 300; with --init encoder the checkpoint's training T)", 0, 0},
        {"langevin-step-size", OPT_FLOAT, &step_size, 0, 0, 100, NULL, "step size s (the paper: 0.05; with --init encoder the checkpoint's training step size)", 0, 0},
        {"init", OPT_CHOICE, &init, 0, 0, 0, "prior|encoder", "where each chain starts: z ~ N(0, I), or the mean of the checkpoint's encoder q(z | y) (--objective iabp or vae; --langevin-steps 0: the encoder alone)", 0, 0},
        {"inference", OPT_CHOICE, &inference, 0, 0, 0, "langevin|gd", "Langevin dynamics, or gradient descent", 0, 0},
        {"sigma", OPT_FLOAT, &sigma, 0, 0, 1e6, NULL, "observation noise (0: the model's)", 0, 0},
        {"limit", OPT_INT64, &limit, 0, 0, 1e12, NULL, "only the first N examples (0: all)", 0, 0},
        {"batch", OPT_INT, &batch, 0, 1, 100000, NULL, "examples inferred at once", 0, 0},
        {"seed", OPT_INT64, &seed, 0, 0, 9.2e18, NULL, "seed of the initial latents, the noise and the masks", 0, 0},
        {"threads", OPT_INT, &threads, 0, 0, 1024, NULL, "threads per rank, for the BLAS and abp's loops (0: cores / ranks on the node)", 0, 0},
        {"mask", OPT_STRING, mask_text, sizeof mask_text, 0, 0, NULL,
         "the occlusion: pepper:FRACTION or region:SIDE (at 64x64); default: the data's stored masks, else the checkpoint's training mask, from its seed", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]) - (completing ? 0 : 1); /* --mask: complete only */
    if (cli_parse(cmd, argc, argv, 2, opts, nopts, NULL, 0, NULL, &help, err)) return EXIT_USAGE;
    if (help) {
        if (d->rank == 0 && completing)
            cli_usage("complete", "--ckpt FILE --data PATH [--mask pepper:F|region:S] --out DIR [options]",
                      "Occludes each example with the mask, infers z from the observed pixels only\n"
                      "(Langevin from N(0, I), or with --init encoder from the encoder's mean of the\n"
                      "occluded image, its occluded pixels filled with the mean of the observed ones;\n"
                      "batch norm with running statistics), fills the occluded\n"
                      "pixels with g(z), writes occluded / recovered / original as completions.png and\n"
                      "reports recovery_error=<mean |recovered - original| on the occluded pixels,\n"
                      "relative to the pixel range>, next to baseline_error= (each occluded pixel\n"
                      "filled with the mean of the image's observed pixels). Without --mask, each example\n"
                      "gets the very mask it was trained with (the checkpoint's --mask and --seed):\n"
                      "the paper's task of recovering the occluded training images. A data set made\n"
                      "with abp prepare --masks brings its own masks: they are used (and --mask refused).",
                      opts, nopts);
        else if (d->rank == 0)
            cli_usage("reconstruct", "--ckpt FILE --data PATH --out DIR [options]",
                      "For each example, starts z from N(0, I) (or with --init encoder from mu(y), the\n"
                      "mean of the checkpoint's encoder: IABP [E+L]; with --langevin-steps 0 the encoder\n"
                      "alone, [E]) and runs Langevin dynamics (batch norm with running statistics, so\n"
                      "examples do not interact), then reports\n"
                      "mse=<mean squared error per pixel on the [0, 1] pixel scale>.", opts, nopts);
        return EXIT_OK;
    }
    abp_mask_spec mask = {0};
    if (completing && mask_text[0] && abp_mask_parse(mask_text, &mask, err)) return EXIT_USAGE;
    if (completing && mask_text[0] && mask.kind == ABP_MASK_NONE) {
        abp_fail(err, "--mask none: abp complete needs an occlusion (pepper:F or region:S)");
        return EXIT_USAGE;
    }
    cli_set_threads(d, threads);
    abp_net net, enc = {0};
    abp_train_cfg cfg;
    cli_shard shard = {0};
    abp_infer_result res = {0};
    unsigned char *masks = NULL, *shown_masks = NULL;
    float *shown_y = NULL;
    int status = EXIT_FAILED;
    if (cli_load_model(d, ckpt, batch, 0, 0, &net, &cfg, err)) return EXIT_FAILED;
    if (init == 1) {
        /* The encoder was taught where T training steps of this size end: the same dynamics
         * at test time, unless asked otherwise (the paper's [E+L]). */
        if (!cli_seen(opts, nopts, "langevin-steps")) steps = cfg.langevin_steps;
        if (!cli_seen(opts, nopts, "langevin-step-size")) step_size = cfg.step_size;
        if (cli_load_encoder(d, ckpt, &cfg, &net, batch, &enc, err)) {
            abp_net_free(&net);
            return EXIT_FAILED;
        }
    }
    const char *from = init == 1 ? "from the encoder's mean" : "from N(0, I)";
    abp_shape ys = net.out_shape;
    int64_t dy = abp_shape_numel(ys);
    if (cli_load_shard(d, data, limit, batch, ys.c, ys.h, ys.w, &shard, err)) goto done;
    uint64_t mask_seed = (uint64_t)seed;
    if (completing && !mask_text[0] && shard.has_masks) { /* the data's own masks */
        snprintf(mask_text, sizeof mask_text, "stored");
    } else if (completing && !mask_text[0]) { /* the training masks: the checkpoint's mask and seed */
        if (abp_mask_parse(cfg.mask, &mask, err)) goto done;
        if (mask.kind == ABP_MASK_NONE) {
            abp_fail(err, "%s was trained without --mask: give abp complete a --mask (or data with stored masks)", ckpt);
            status = EXIT_USAGE;
            goto done;
        }
        snprintf(mask_text, sizeof mask_text, "%s", cfg.mask);
        mask_seed = cfg.seed;
    }
    int64_t n = shard.n;
    int shown = n < 64 ? (int)n : 64;
    if (completing &&
        abp_dist_agree(d, abp_shard_masks(data, &mask, mask_seed, shard.lo, shard.hi, ys, &masks, err), err))
        goto done;
    if (cli_make_out_dir(d, out, err)) goto done; /* after every check of the inputs */
    measure_ctx mc = {.y = shard.im.data, .mask = masks, .dy = dy};
    abp_infer_job job = {
        .n = n, .lo = shard.lo, .hi = shard.hi, .batch = batch, .y = shard.im.data, .mask = masks,
        .start = {.kind = init == 1 ? ABP_START_ENCODER : ABP_START_PRIOR, .seed = (uint64_t)seed, .encoder = &enc},
        .lv = {.steps = steps, .step_size = step_size, .sigma = sigma > 0 ? sigma : cfg.sigma,
               .noise = inference == 0, .seed = (uint64_t)seed, .iteration = 0xFFFFFFFFu},
        .measure = completing ? measure_completion : measure_reconstruction, .measure_ctx = &mc,
        .nmeasures = completing ? 3 : 1, .keep = shown, .what = cmd};
    double t0 = abp_now();
    if (abp_infer_data(d, &net, &job, &res, err)) goto done;
    double seconds = abp_now() - t0;
    /* The drawn examples' originals (and masks) come to rank 0 as their g(z) did. */
    int ok = 1;
    if (d->rank == 0) {
        shown_y = abp_alloc(sizeof(float) * (size_t)((shown > 0 ? shown : 1) * dy), err);
        shown_masks = completing ? abp_alloc((size_t)((shown > 0 ? shown : 1) * dy), err) : NULL;
        ok = shown_y && (!completing || shown_masks);
    }
    if (abp_dist_agree(d, ok ? 0 : -1, err) ||
        abp_dist_gather_rows(d, shard.im.data, shard.lo, shard.hi, shown, sizeof(float) * (size_t)dy, shown_y, err) ||
        (completing && abp_dist_gather_rows(d, masks, shard.lo, shard.hi, shown, (size_t)dy, shown_masks, err)))
        goto done;
    char path[1200];
    int wrote = 0;
    if (completing) {
        snprintf(path, sizeof path, "%s/completions.png", out);
        if (d->rank == 0) {
            /* Rows of occluded (occluded pixels mid-grey, so that they show on the black
             * background of digits as on faces), recovered (observed pixels kept, the
             * occluded ones from g(z)) and original images. */
            float *occluded = abp_alloc(sizeof(float) * (size_t)((shown > 0 ? shown : 1) * dy), err);
            if (occluded) {
                for (int64_t k = 0; k < shown * dy; k++) {
                    int m = shown_masks[k];
                    occluded[k] = m ? shown_y[k] : 0.0f;
                    res.kept[k] = m ? shown_y[k] : res.kept[k];
                }
                const float *sets[3] = {occluded, res.kept, shown_y};
                wrote = abp_png_write_compare(path, sets, 3, shown, ys.c, ys.h, ys.w, 8, err);
                abp_free(occluded);
            } else {
                wrote = -1;
            }
        }
        if (abp_dist_agree(d, wrote, err)) goto done;
        if (d->rank == 0)
            printf("complete: %lld examples on %d rank%s, mask %s%s, %d %s steps of size %g %s, %.1f s, recovery_error=%.6f "
                   "baseline_error=%.6f (mean |recovered - original| on the occluded pixels / pixel range; "
                   "baseline: the mean of the observed pixels), wrote %s\n",
                   (long long)n, d->size, d->size > 1 ? "s" : "", mask_text, shard.has_masks ? " in the data" : "", steps, inference ? "gradient-descent" : "Langevin", (double)step_size,
                   from, seconds, res.sums[0] / res.sums[2], res.sums[1] / res.sums[2], path);
        status = EXIT_OK;
        goto done;
    }
    snprintf(path, sizeof path, "%s/reconstructions.png", out);
    if (d->rank == 0) {
        const float *sets[2] = {shown_y, res.kept};
        wrote = abp_png_write_compare(path, sets, 2, shown, ys.c, ys.h, ys.w, 8, err);
    }
    if (abp_dist_agree(d, wrote, err)) goto done;
    /* [-1, 1] values: a difference of 2 is the full pixel range, so divide by 4 for [0, 1]. */
    double mse = res.sums[0] / ((double)n * (double)dy) / 4.0;
    if (d->rank == 0)
        printf("reconstruct: %lld examples on %d rank%s, %d %s steps of size %g %s, %.1f s, mse=%.6f (per pixel, [0,1] scale), wrote %s\n",
               (long long)n, d->size, d->size > 1 ? "s" : "", steps, inference ? "gradient-descent" : "Langevin", (double)step_size, from, seconds, mse, path);
    status = EXIT_OK;
done:
    abp_infer_result_free(&res);
    abp_free(masks);
    abp_free(shown_masks);
    abp_free(shown_y);
    abp_images_free(&shard.im);
    abp_net_free(&net);
    abp_net_free(&enc);
    return status;
}

int cmd_reconstruct(int argc, char **argv, abp_dist *d, abp_err *err) { return run("reconstruct", argc, argv, d, err); }
int cmd_complete(int argc, char **argv, abp_dist *d, abp_err *err) { return run("complete", argc, argv, d, err); }
