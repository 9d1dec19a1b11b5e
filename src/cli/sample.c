/* abp sample: signals from the prior, g(z) with z ~ N(0, I): a PNG grid of images, or a
 * WAV file of sounds. --latent-shape runs a fully convolutional model on a larger latent
 * image (textures, sounds: the paper's 14x14 instead of 7x7), which makes a larger signal
 * with the same parameters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int cmd_sample(int argc, char **argv, abp_dist *d, abp_err *err) {
    char ckpt[1024] = "", out[1024] = "", latent_shape[64] = "";
    int n = 64, cols = 0, help = 0, rate_opt = 0, wav_float = 0, threads = 0;
    int64_t seed = 1;
    cli_option opts[] = {
        {"ckpt", OPT_STRING, ckpt, sizeof ckpt, 0, 0, NULL, "a checkpoint written by abp train", 1, 0},
        {"out", OPT_STRING, out, sizeof out, 0, 0, NULL, "the PNG grid, or (ending .wav) the WAV file to write", 1, 0},
        {"n", OPT_INT, &n, 0, 1, 100000, NULL, "how many samples (for .wav: 1; several play one after another)", 0, 0},
        {"cols", OPT_INT, &cols, 0, 0, 10000, NULL, "columns of the grid (0: square)", 0, 0},
        {"seed", OPT_INT64, &seed, 0, 0, 9.2e18, NULL, "seed of the latent draws", 0, 0},
        {"latent-shape", OPT_STRING, latent_shape, sizeof latent_shape, 0, 0, NULL,
         "HxW: a latent image of this size (fully convolutional models; default: as trained)", 0, 0},
        {"rate", OPT_INT, &rate_opt, 0, 0, 1000000, NULL, "WAV sample rate in Hz (0: the training clip's)", 0, 0},
        {"wav-format", OPT_CHOICE, &wav_float, 0, 0, 0, "pcm16|float", "WAV samples: 16-bit PCM or 32-bit float", 0, 0},
        {"threads", OPT_INT, &threads, 0, 0, 1024, NULL, "BLAS threads per rank (0: cores / ranks on the node)", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (cli_parse("sample", argc, argv, 2, opts, nopts, NULL, 0, NULL, &help, err)) return EXIT_USAGE;
    if (help) {
        if (d->rank == 0)
            cli_usage("sample", "--ckpt FILE --out PNG|WAV [--n N] [--latent-shape HxW]",
                      "Draws z ~ N(0, I) and writes g(z) as one PNG grid, or as a WAV file when OUT\n"
                      "ends in .wav (a model of 1 x 1 x T signals). Batch norm uses its running\n"
                      "statistics. --latent-shape 14x14 makes a texture model trained on 7x7 latents\n"
                      "synthesize an image twice as large; 1x32 a sound model's clip twice as long.\n"
                      "Under mpirun each rank makes its share of the samples (sample i's z is drawn\n"
                      "from the seed and i alone, so the output does not depend on the ranks).",
                      opts, nopts);
        return EXIT_OK;
    }
    int lat_h = 0, lat_w = 0, wav = ends_with(out, ".wav") || ends_with(out, ".WAV");
    if (latent_shape[0] && parse_latent_shape(latent_shape, &lat_h, &lat_w, err)) return EXIT_USAGE;
    if (wav && !opts[2].seen) n = 1;
    cli_set_threads(d, threads);
    abp_net net;
    abp_train_cfg cfg;
    /* Loaded once for one example; the output size then decides the batch (large textures
     * go a few at a time) and the network is rebuilt for it with the same parameters. */
    if (cli_load_model(d, ckpt, 1, lat_h, lat_w, &net, &cfg, err)) return EXIT_FAILED;
    int64_t dz = abp_shape_numel(net.in_shape), dy = abp_shape_numel(net.out_shape), per_batch = (1 << 24) / (64 * dy);
    int batch = n < 64 ? n : 64;
    if (batch > per_batch) batch = per_batch < 1 ? 1 : (int)per_batch;
    float *rows = NULL, *zb = NULL, *images = NULL, *all = NULL;
    int status = EXIT_FAILED, rate = 0;
    if (abp_dist_agree(d, abp_net_set_max_batch(&net, batch, err), err)) goto done;
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
    int rc = images && (d->rank != 0 || all) ? 0 : -1;
    char scope[96] = "";
    if (d->size > 1) snprintf(scope, sizeof scope, " on rank 0 (of %d on %d ranks)", n, d->size);
    abp_progress progress;
    abp_progress_start(&progress, d->rank == 0, "sample", "samples", hi - lo, scope);
    for (int64_t first = 0; rc == 0 && first < hi - lo; first += batch) {
        int64_t b = hi - lo - first < batch ? hi - lo - first : batch;
        for (int64_t i = first; i < first + b; i++)
            abp_rng_normal((uint64_t)seed, ABP_RNG_PRIOR, (uint32_t)(lo + i), 0, 0, rows + i * dz, dz);
        rc = abp_net_generate(&net, rows + first * dz, b, images + first * dy, zb, err);
        abp_progress_update(&progress, first + b);
    }
    if (abp_dist_agree(d, rc, err) ||
        abp_dist_gather_rows(d, images, lo, hi, n, sizeof(float) * (size_t)dy, all, err))
        goto done;
    if (d->rank == 0 && wav) {
        rc = abp_wav_write(out, all, n * dy, rate, wav_float ? ABP_WAV_FLOAT32 : ABP_WAV_PCM16, err);
        if (rc == 0)
            printf("sample: wrote %d sample%s of %lld values at %d Hz to %s\n", n, n == 1 ? "" : "s",
                   (long long)dy, rate, out);
    } else if (d->rank == 0) {
        rc = abp_png_write_grid(out, all, n, net.out_shape.c, net.out_shape.h, net.out_shape.w, cols, err);
        if (rc == 0)
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
    abp_net_free(&net);
    return status;
}
