/* abp sample: signals from the prior, g(z) with z from N(0, I) or from a prior fitted to the
 * training latents (--prior, prior_draw.c): a PNG grid of images, one PNG per sample (OUT a
 * folder), an HDF5 file of the samples and their latents (OUT.h5), or a WAV file of sounds. --latent-shape runs a fully convolutional model on a larger latent
 * image (textures, sounds: the paper's 14x14 instead of 7x7), which makes a larger signal
 * with the same parameters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "abp/rng.h"
#include "abp/train.h"
#include "cli.h"
#include "options.h"

/* "14x14" or "1x32" -> h, w. */
static int parse_latent_shape(const char *s, int *h, int *w, abp_err *err) {
    char tail;
    if (sscanf(s, "%dx%d%c", h, w, &tail) != 2 || *h < 1 || *w < 1 || *h > 4096 || *w > 1 << 20)
        return abp_fail(err, "abp sample: --latent-shape: '%s' is not HxW (e.g. 14x14 or 1x32)", s);
    return 0;
}

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* The sample rate for a WAV output: --rate, or the training clip's (named in the
 * checkpoint's settings), read from its header. */
static int output_rate(int rate_opt, const abp_train_cfg *cfg, int *rate, abp_err *err) {
    if (rate_opt > 0) {
        *rate = rate_opt;
        return 0;
    }
    int64_t frames;
    if (abp_wav_info(cfg->data, &frames, rate, err))
        return abp_fail_wrap(err, "abp sample: no sample rate for the WAV output (pass --rate HZ); "
                                  "the training clip");
    return 0;
}

/* OUT names a folder: it ends in '/' or is one. */
static int is_folder(const char *s) {
    struct stat st;
    size_t n = strlen(s);
    return (n > 0 && s[n - 1] == '/') || (stat(s, &st) == 0 && S_ISDIR(st.st_mode));
}

/* One PNG per sample, DIR/sample-000000.png ..., each exactly h x w. */
static int write_folder(const char *dir, const float *images, int n, abp_shape s, abp_err *err) {
    if (abp_mkdir_p(dir, err)) return abp_fail_wrap(err, "abp sample: --out");
    size_t len = strlen(dir) + 32;
    char *path = malloc(len);
    if (!path) return abp_fail(err, "abp sample: out of memory");
    int64_t per = abp_shape_numel(s);
    const char *sep = dir[strlen(dir) - 1] == '/' ? "" : "/";
    for (int i = 0; i < n; i++) {
        snprintf(path, len, "%s%ssample-%06d.png", dir, sep, i);
        if (abp_png_write_image(path, images + i * per, s.c, s.h, s.w, err)) {
            free(path);
            return -1;
        }
    }
    free(path);
    return 0;
}

/* The columns of the grid: --cols, or as square as abp_png_write_grid makes it. */
static int grid_cols(int cols, int n) {
    if (cols > 0) return cols < n ? cols : n;
    int c = 1;
    while ((int64_t)c * c < n) c++;
    return c < n ? c : n;
}

/* --vary-layer: which rows of z level `level` is, or one line on a model without it. */
static int vary_range(const abp_net *net, int level, const char *ckpt, int *off, int *size, abp_err *err) {
    int L = abp_net_levels(net);
    if (L == 1)
        return abp_fail(err, "abp sample: --vary-layer %d: %s holds a model with one latent level (no 'latent' layers "
                        "in its spec); --vary-layer needs a hierarchical model such as hiabp-mnist28", level, ckpt);
    if (abp_net_level_range(net, level, off, size))
        return abp_fail(err, "abp sample: --vary-layer %d: the model's levels are 1 (bottom) to %d (top)", level, L);
    return 0;
}

/* Latents of samples first .. first + n - 1 of a --vary-layer grid with `cols` columns:
 * sample i is row i / cols, column i % cols; every level but `level` comes from the prior's
 * draw for the row, level `level` from N(0, I) for the column (the same down a column, so
 * a column shows one code of that level in every row's context). */
static int vary_draw(cli_prior *prior, int level, int off, int size, int cols, int64_t first, int64_t n,
                     int64_t dz, float *z, abp_err *err) {
    for (int64_t k = 0; k < n; k++) {
        int64_t i = first + k;
        float *row = z + k * dz;
        if (cli_prior_draw(prior, i / cols, 1, dz, row, err)) return -1;
        abp_rng_normal(prior->seed, ABP_RNG_PRIOR, (uint32_t)(i % cols), 1, (uint32_t)level, row + off, size);
    }
    return 0;
}

int cmd_sample(int argc, char **argv, abp_dist *d, abp_err *err) {
    char ckpt[1024] = "", out[1024] = "", latent_shape[64] = "";
    char prior_text[32] = "auto", size[64] = "";
    int n = 64, cols = 0, help = 0, vary = 0, rate_opt = 0, wav_float = 0, threads = 0, bn_running = 0, steps = 100, from_chains = 0;
    int quiet = 0;
    int64_t seed = 1;
    cli_option opts[] = {
        {"ckpt", OPT_STRING, ckpt, sizeof ckpt, 0, 0, NULL, "a checkpoint written by abp train", 1, 0},
        {"out", OPT_STRING, out, sizeof out, 0, 0, NULL,
         "the PNG grid; DIR/: one PNG per sample; FILE.h5: samples and latents; FILE.wav: sound", 1, 0},
        {"n", OPT_INT, &n, 0, 1, 100000, NULL, "how many samples (for .wav: 1; several play one after another)", 0, 0},
        {"cols", OPT_INT, &cols, 0, 0, 10000, NULL, "columns of the grid (0: square)", 0, 0},
        {"seed", OPT_INT64, &seed, 0, 0, 9.2e18, NULL, "seed of the latent draws", 0, 0},
        {"vary-layer", OPT_INT, &vary, 0, 0, 64, NULL,
         "a hierarchical model: level L (1 bottom) changes along each row, drawn from N(0, I); the others "
         "stay as the row's draw from the prior (0: off)", 0, 0},
        {"latent-shape", OPT_STRING, latent_shape, sizeof latent_shape, 0, 0, NULL,
         "HxW: a latent image of this size (fully convolutional models; default: as trained)", 0, 0},
        {"rate", OPT_INT, &rate_opt, 0, 0, 1000000, NULL, "WAV sample rate in Hz (0: the training clip's)", 0, 0},
        {"wav-format", OPT_CHOICE, &wav_float, 0, 0, 0, "pcm16|float", "WAV samples: 16-bit PCM or 32-bit float", 0, 0},
        {"prior", OPT_STRING, prior_text, sizeof prior_text, 0, 0, NULL,
         "auto: ebm when the checkpoint learned its prior (train --prior ebm), else gmm:10 when it has 100 latents "
         "or more, else normal; normal: N(0, I); gaussian or gmm:K: fitted to the checkpoint's latents; ebm: "
         "the learned prior, by short-run Langevin from N(0, I)", 0, 0},
        {"batchnorm", OPT_CHOICE, &bn_running, 0, 0, 0, "prior|running",
         "batch-norm statistics: recomputed on 1000 draws of the prior, or the running ones of training", 0, 0},
        {"langevin-steps", OPT_INT, &steps, 0, 0, 10000000, NULL, "a descriptor checkpoint: Langevin steps on the images", 0, 0},
        {"from-chains", OPT_FLAG, &from_chains, 0, 0, 0, NULL, "a descriptor checkpoint: start from its stored chains, not from the reference", 0, 0},
        {"size", OPT_STRING, size, sizeof size, 0, 0, NULL, "a descriptor checkpoint: HxW images (fully convolutional descriptors; default: as trained)", 0, 0},
        {"threads", OPT_INT, &threads, 0, 0, 1024, NULL, "threads per rank, for the BLAS and abp's loops (0: cores / ranks on the node)", 0, 0},
        {"quiet", OPT_FLAG, &quiet, 0, 0, 0, NULL, "a generator checkpoint: print nothing but errors", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (cli_parse("sample", argc, argv, 2, opts, nopts, NULL, 0, NULL, &help, err)) return EXIT_USAGE;
    if (help) {
        if (d->rank == 0)
            cli_usage("sample", "--ckpt FILE --out PNG|DIR/|FILE.h5|WAV [--n N] [--prior P] [--latent-shape HxW]",
                      "Draws z from the prior and writes g(z) as one PNG grid; as one PNG per sample\n"
                      "when OUT is a folder (ends in / or exists); as HDF5 when OUT ends in .h5\n"
                      "(/samples float32 [n, h, w, c] on [-1, 1], /z the latents); as a WAV file when\n"
                      "OUT ends in .wav (a model of 1 x 1 x T signals). --prior gaussian or gmm:K fits\n"
                      "a full-covariance Gaussian or K-component mixture to the checkpoint's latents\n"
                      "first; --prior ebm (what auto picks for such a checkpoint) draws z by short-run\n"
                      "Langevin on the prior learned by abp train --prior ebm (docs/sampling.md). --latent-shape 14x14 makes a texture model trained on\n"
                      "7x7 latents synthesize an image twice as large; 1x32 a sound model's clip twice\n"
                      "as long. Under mpirun each rank makes its share of the samples (sample i's z is\n"
                      "drawn from the seed and i alone, so the output does not depend on the ranks).\n"
                      "--vary-layer L (a hierarchical model, e.g. hiabp-mnist28) makes a grid in which\n"
                      "only level L's code changes along a row and each column has one such code\n"
                      "(the HiABP paper's Figure 7; docs/encoder.md).",
                      opts, nopts);
        return EXIT_OK;
    }
    int lat_h = 0, lat_w = 0, wav = ends_with(out, ".wav") || ends_with(out, ".WAV");
    if (latent_shape[0] && parse_latent_shape(latent_shape, &lat_h, &lat_w, err)) return EXIT_USAGE;
    int h5 = ends_with(out, ".h5"), folder = !wav && !h5 && is_folder(out);
    if (wav && !opts[2].seen) n = 1;
    int talk = d->rank == 0 && !quiet; /* rank 0 says what it did */
    cli_prior prior = {.recalibrate = !bn_running, .seed = (uint64_t)seed, .verbose = talk};
    if (cli_prior_parse(&prior, prior_text, "abp sample: --prior", err)) return EXIT_USAGE;
    cli_set_threads(d, threads);
    /* A descriptor checkpoint samples by Langevin dynamics on images (rank 0 alone). */
    cli_descriptor_sample ds = {.ckpt = ckpt, .out = out, .n = n, .cols = cols, .steps = steps,
                                .from_chains = from_chains, .seed = seed, .rank = d->rank};
    if (size[0] && parse_latent_shape(size, &ds.size_h, &ds.size_w, err)) return EXIT_USAGE;
    int handled = 0, st = cli_sample_descriptor(&ds, &handled, err);
    if (handled || st != EXIT_OK) return st;
    if (from_chains || size[0]) {
        abp_fail(err, "abp sample: --from-chains and --size are for descriptor checkpoints; %s holds a generator "
                 "(use --latent-shape)", ckpt);
        return EXIT_USAGE;
    }
    abp_net net;
    abp_train_cfg cfg;
    /* Loaded once for one example; the output size then decides the batch (large textures
     * go a few at a time) and the network is rebuilt for it with the same parameters. */
    if (cli_load_model(d, ckpt, 1, lat_h, lat_w, &net, &cfg, err)) return EXIT_FAILED;
    int vary_off = 0, vary_size = 0, grid = grid_cols(cols, n);
    if (vary && abp_dist_agree(d, vary_range(&net, vary, ckpt, &vary_off, &vary_size, err), err)) {
        abp_net_free(&net);
        return EXIT_USAGE;
    }
    int64_t dz = abp_shape_numel(net.in_shape), dy = abp_shape_numel(net.out_shape), per_batch = (1 << 24) / (64 * dy);
    int batch = n < 64 ? n : 64;
    if (batch > per_batch) batch = per_batch < 1 ? 1 : (int)per_batch;
    float *rows = NULL, *zb = NULL, *images = NULL, *all = NULL, *all_z = NULL;
    int status = EXIT_FAILED, rate = 0;
    if (abp_dist_agree(d, abp_net_set_max_batch(&net, batch, err), err)) goto done;
    /* Every rank fits the same prior (deterministic for the seed) and recomputes the same
     * batch-norm statistics, so that sample i is the same whichever rank makes it. */
    if (abp_dist_agree(d, cli_prior_fit(&prior, ckpt, dz, err) ||
                              cli_prior_recalibrate(&prior, ckpt, lat_h, lat_w, &net, err)
                          ? abp_fail_wrap(err, "abp sample") : 0, err))
        goto done;
    if (wav) {
        if (net.out_shape.c != 1 || net.out_shape.h != 1) {
            abp_fail(err, "abp sample: %s: the model makes %dx%dx%d images, not sounds (1 x 1 x T); "
                     "write a .png", out, net.out_shape.h, net.out_shape.w, net.out_shape.c);
            goto done;
        }
        if (abp_dist_agree(d, d->rank == 0 ? output_rate(rate_opt, &cfg, &rate, err) : 0, err)) goto done;
    }
    /* This rank's samples: whole batches, as abp_shard_range_batched shares them. */
    int64_t lo, hi;
    abp_shard_range_batched(n, batch, d->size, d->rank, &lo, &hi);
    int64_t mine = hi - lo > 0 ? hi - lo : 1;
    rows = abp_alloc(sizeof(float) * (size_t)(mine * dz), err);
    zb = rows ? abp_alloc(sizeof(float) * (size_t)(batch * dz), err) : NULL;
    images = zb ? abp_alloc(sizeof(float) * (size_t)(mine * dy), err) : NULL;
    if (d->rank == 0) all = images ? abp_alloc(sizeof(float) * (size_t)n * (size_t)dy, err) : NULL;
    if (d->rank == 0 && h5) all_z = all ? abp_alloc(sizeof(float) * (size_t)n * (size_t)dz, err) : NULL;
    int rc = images && (d->rank != 0 || (all && (!h5 || all_z))) ? 0 : -1;
    char scope[96] = "";
    if (d->size > 1) snprintf(scope, sizeof scope, " on rank 0 (of %d on %d ranks)", n, d->size);
    abp_progress progress;
    abp_progress_start(&progress, talk, "sample", "samples", hi - lo, scope);
    for (int64_t first = 0; rc == 0 && first < hi - lo; first += batch) {
        int64_t b = hi - lo - first < batch ? hi - lo - first : batch;
        rc = vary ? vary_draw(&prior, vary, vary_off, vary_size, grid, lo + first, b, dz, rows + first * dz, err)
                  : cli_prior_draw(&prior, lo + first, b, dz, rows + first * dz, err);
        if (rc == 0) rc = abp_net_generate(&net, rows + first * dz, b, images + first * dy, zb, err);
        abp_progress_update(&progress, first + b);
    }
    if (abp_dist_agree(d, rc, err) ||
        abp_dist_gather_rows(d, images, lo, hi, n, sizeof(float) * (size_t)dy, all, err) ||
        (h5 && abp_dist_gather_rows(d, rows, lo, hi, n, sizeof(float) * (size_t)dz, all_z, err)))
        goto done;
    if (d->rank == 0 && wav) {
        rc = abp_wav_write(out, all, n * dy, rate, wav_float ? ABP_WAV_FLOAT32 : ABP_WAV_PCM16, err);
        if (rc == 0 && talk)
            printf("sample: wrote %d sample%s of %lld values at %d Hz to %s\n", n, n == 1 ? "" : "s",
                   (long long)dy, rate, out);
    } else if (d->rank == 0 && h5) {
        char used[32];
        abp_prior_format(&prior.choice, used, sizeof used);
        abp_samples_info info = {used, (uint64_t)seed, bn_running ? "running" : "prior", ckpt};
        rc = abp_samples_write(out, &info, all, n, net.out_shape.c, net.out_shape.h, net.out_shape.w, all_z, dz, err);
        if (rc == 0 && talk)
            printf("sample: wrote %d samples of %dx%dx%d and their latents to %s\n", n, net.out_shape.h,
                   net.out_shape.w, net.out_shape.c, out);
    } else if (d->rank == 0 && folder) {
        rc = write_folder(out, all, n, net.out_shape, err);
        if (rc == 0 && talk)
            printf("sample: wrote %d samples of %dx%dx%d to %s, one PNG each\n", n, net.out_shape.h, net.out_shape.w,
                   net.out_shape.c, out);
    } else if (d->rank == 0) {
        rc = abp_png_write_grid(out, all, n, net.out_shape.c, net.out_shape.h, net.out_shape.w, grid, err);
        if (rc == 0 && talk)
            printf("sample: wrote %d samples of %dx%dx%d to %s (made on %d rank%s)\n", n, net.out_shape.h, net.out_shape.w,
                   net.out_shape.c, out, d->size, d->size > 1 ? "s" : "");
    }
    if (abp_dist_agree(d, rc, err)) goto done;
    status = EXIT_OK;
done:
    abp_free(rows);
    abp_free(zb);
    abp_free(images);
    abp_free(all);
    abp_free(all_z);
    cli_prior_free(&prior);
    abp_net_free(&net);
    return status;
}
