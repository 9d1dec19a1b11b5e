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
    char size[64] = "";
    int n = 64, cols = 0, help = 0, rate_opt = 0, wav_float = 0, steps = 100, from_chains = 0;
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
        {"langevin-steps", OPT_INT, &steps, 0, 0, 10000000, NULL, "a descriptor checkpoint: Langevin steps on the images", 0, 0},
        {"from-chains", OPT_FLAG, &from_chains, 0, 0, 0, NULL, "a descriptor checkpoint: start from its stored chains, not from the reference", 0, 0},
        {"size", OPT_STRING, size, sizeof size, 0, 0, NULL, "a descriptor checkpoint: HxW images (fully convolutional descriptors; default: as trained)", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (cli_parse("sample", argc, argv, 2, opts, nopts, NULL, 0, NULL, &help, err)) return EXIT_USAGE;
    if (help) {
        if (d->rank == 0)
            cli_usage("sample", "--ckpt FILE --out PNG|WAV [--n N] [--latent-shape HxW]",
                      "Draws z ~ N(0, I) and writes g(z) as one PNG grid, or as a WAV file when OUT\n"
                      "ends in .wav (a model of 1 x 1 x T signals). Batch norm uses its running\n"
                      "statistics. --latent-shape 14x14 makes a texture model trained on 7x7 latents\n"
                      "synthesize an image twice as large; 1x32 a sound model's clip twice as long.",
                      opts, nopts);
        return EXIT_OK;
    }
    int lat_h = 0, lat_w = 0, wav = ends_with(out, ".wav") || ends_with(out, ".WAV");
    if (latent_shape[0] && parse_latent_shape(latent_shape, &lat_h, &lat_w, err)) return EXIT_USAGE;
    if (wav && !opts[2].seen) n = 1;
    if (d->rank != 0) return EXIT_OK;
    /* A descriptor checkpoint samples by Langevin dynamics on images. */
    cli_descriptor_sample ds = {.ckpt = ckpt, .out = out, .n = n, .cols = cols, .steps = steps,
                                .from_chains = from_chains, .seed = seed};
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
    abp_ckpt_meta meta;
    abp_net probe; /* the output size decides the batch: large textures go a few at a time */
    if (abp_model_load_resized(MPI_COMM_SELF, ckpt, 1, lat_h, lat_w, &probe, &cfg, &meta, err)) return EXIT_FAILED;
    free(meta.config);
    int64_t dy_probe = abp_shape_numel(probe.out_shape), per_batch = (1 << 24) / (64 * dy_probe);
    abp_net_free(&probe);
    int batch = n < 64 ? n : 64;
    if (batch > per_batch) batch = per_batch < 1 ? 1 : (int)per_batch;
    if (abp_model_load_resized(MPI_COMM_SELF, ckpt, batch, lat_h, lat_w, &net, &cfg, &meta, err)) return EXIT_FAILED;
    free(meta.config);
    int64_t dz = abp_shape_numel(net.in_shape), dy = abp_shape_numel(net.out_shape);
    float *rows = NULL, *zb = NULL, *images = NULL;
    int status = EXIT_FAILED, rate = 0;
    if (wav) {
        if (net.out_shape.c != 1 || net.out_shape.h != 1) {
            abp_fail(err, "abp sample: %s: the model makes %dx%dx%d images, not sounds (1 x 1 x T); "
                     "write a .png", out, net.out_shape.h, net.out_shape.w, net.out_shape.c);
            goto done;
        }
        if (output_rate(rate_opt, &cfg, &rate, err)) goto done;
    }
    rows = abp_alloc(sizeof(float) * (size_t)(n * dz), err);
    zb = rows ? abp_alloc(sizeof(float) * (size_t)(batch * dz), err) : NULL;
    images = zb ? abp_alloc(sizeof(float) * (size_t)(n * dy), err) : NULL;
    if (!images) goto done;
    for (int i = 0; i < n; i++)
        abp_rng_normal((uint64_t)seed, ABP_RNG_PRIOR, (uint32_t)i, 0, 0, rows + i * dz, dz);
    if (abp_net_generate(&net, rows, n, images, zb, err)) goto done;
    if (wav) {
        if (abp_wav_write(out, images, n * dy, rate, wav_float ? ABP_WAV_FLOAT32 : ABP_WAV_PCM16, err)) goto done;
        printf("sample: wrote %d sample%s of %lld values at %d Hz to %s\n", n, n == 1 ? "" : "s",
               (long long)dy, rate, out);
    } else {
        if (abp_png_write_grid(out, images, n, net.out_shape.c, net.out_shape.h, net.out_shape.w, cols, err)) goto done;
        printf("sample: wrote %d samples of %dx%dx%d to %s\n", n, net.out_shape.h, net.out_shape.w,
               net.out_shape.c, out);
    }
    status = EXIT_OK;
done:
    abp_free(rows);
    abp_free(zb);
    abp_free(images);
    abp_net_free(&net);
    return status;
}
