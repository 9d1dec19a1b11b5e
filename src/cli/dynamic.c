/* abp dynamic: a dynamic texture from a generator learned on the frames of a video (Han et
 * al. 2017, after Doretto et al. 2003). The latents the generator inferred for the frames,
 * taken in frame order, are treated as a time series: a vector auto-regression
 * z_{t+1} - m = A (z_t - m) + e_t is fitted to them, a new sequence is drawn from it starting
 * at z_0 ~ N(0, I), and after a burn-in its frames g(z_t) are written as PNGs and as one
 * looping GIF. */
#define _GNU_SOURCE /* strverscmp: names in natural order, frame-9 before frame-10 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lapacke.h>

#include "abp/rng.h"
#include "abp/tensor.h"
#include "abp/train.h"
#include "cli.h"
#include "options.h"

/* The frame order: the examples' names in natural order (the row order when the frames came
 * from a folder of numbered files, which abp train reads sorted by name). */
typedef struct named_row {
    const char *name;
    int64_t row;
} named_row;

static int compare_named_rows(const void *a, const void *b) {
    const named_row *x = a, *y = b;
    int c = strverscmp(x->name, y->name);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

/* Refuses to overwrite the outputs of an earlier run. */
static int check_fresh(const char *dir, abp_err *err) {
    const char *outputs[] = {"dynamic.gif", "baseline.gif", "frame-0000.png", "strip.png"};
    char path[2048];
    for (int k = 0; k < 4; k++) {
        snprintf(path, sizeof path, "%s/%s", dir, outputs[k]);
        if (access(path, F_OK) == 0)
            return abp_fail(err, "%s already exists; choose another --out (earlier outputs are never replaced)", path);
    }
    return 0;
}

/* The linear dynamic texture of Doretto et al. (2003), the paper's baseline: the frames
 * (T rows of D values, in time order) reduced to their d leading principal components by a
 * thin SVD of the centred frames (LAPACK sgesdd: T x D, cheap for T << D, where the D x D
 * covariance would not be), the same VAR fitted to the component scores and simulated from
 * the first frame's scores, and frames mean + x_t^T V^T for t in [burn_in, burn_in + n). */
static int pca_texture(const float *frames, int64_t T, int D, int d, int burn_in, int n, uint64_t seed,
                       float *out, abp_err *err) {
    abp_var var = {0};
    int r = T < D ? (int)T : D; /* singular values */
    int64_t total = (int64_t)burn_in + n;
    float *mean = abp_calloc(sizeof(float) * (size_t)D, err);
    float *centred = mean ? abp_alloc(sizeof(float) * (size_t)(T * D), err) : NULL;
    float *u = centred ? abp_alloc(sizeof(float) * (size_t)(T * r), err) : NULL;
    float *vt = u ? abp_alloc(sizeof(float) * (size_t)r * (size_t)D, err) : NULL;
    float *sv = vt ? abp_alloc(sizeof(float) * (size_t)r, err) : NULL;
    float *scores = sv ? abp_alloc(sizeof(float) * (size_t)(T * d), err) : NULL;
    float *seq = scores ? abp_alloc(sizeof(float) * (size_t)(total * d), err) : NULL;
    int rc = -1;
    if (!seq) goto done;
    if (d > r) {
        abp_fail(err, "PCA baseline: %d components asked of %lld frames of %d values", d, (long long)T, D);
        goto done;
    }
    for (int64_t t = 0; t < T; t++)
        for (int k = 0; k < D; k++) mean[k] += frames[t * D + k] / (float)T;
    for (int64_t t = 0; t < T; t++)
        for (int k = 0; k < D; k++) centred[t * D + k] = frames[t * D + k] - mean[k];
    lapack_int info = LAPACKE_sgesdd(LAPACK_ROW_MAJOR, 'S', (lapack_int)T, D, centred, D, sv, u, r, vt, D);
    if (info != 0) {
        abp_fail(err, "PCA baseline: LAPACK sgesdd failed (info %d)", (int)info);
        goto done;
    }
    for (int64_t t = 0; t < T; t++) /* x_t = the first d columns of U S */
        for (int k = 0; k < d; k++) scores[t * d + k] = u[t * r + k] * sv[k];
    if (abp_var_fit(scores, T, d, &var, err)) goto done;
    double score_var = 0; /* as latent_variance: the scores' variance, mean over components */
    for (int k = 0; k < d; k++) score_var += (double)sv[k] * sv[k] / (double)(T - 1) / d;
    printf("dynamic: baseline PCA + VAR (Doretto et al.), d = %d: residual_variance=%.6g score_variance=%.6g "
           "spectral_radius=%.4f\n", d, var.residual_variance, score_var, var.spectral_radius);
    if (var.spectral_radius >= 1.0)
        fprintf(stderr, "abp dynamic: warning: the baseline's spectral radius is %.4f >= 1: unstable\n",
                var.spectral_radius);
    /* From the first frame's scores, as Doretto et al. do: N(0, I) would be far off the
     * scores' own scale (the sum of squares over all pixels). */
    if (abp_var_simulate(&var, scores, total, seed, seq, err)) goto done;
    for (int t = 0; t < n; t++) memcpy(out + (int64_t)t * D, mean, sizeof(float) * (size_t)D);
    abp_sgemm(0, 0, n, D, d, 1.0f, seq + (int64_t)burn_in * d, d, vt, D, 1.0f, out, D);
    rc = 0;
done:
    abp_var_free(&var);
    abp_free(mean);
    abp_free(centred);
    abp_free(u);
    abp_free(vt);
    abp_free(sv);
    abp_free(scores);
    abp_free(seq);
    return rc;
}

/* How far a sequence of n frames of D values moves per step: the mean squared change from
 * one frame to the next, per value. */
static double step_mse(const float *y, int64_t n, int64_t D) {
    double sum = 0;
    for (int64_t t = 0; t + 1 < n; t++)
        for (int64_t k = 0; k < D; k++) {
            double e = (double)y[(t + 1) * D + k] - y[t * D + k];
            sum += e * e;
        }
    return n > 1 ? sum / (double)((n - 1) * D) : 0;
}

/* How close n frames stay to the training frames: for each, the mean squared difference per
 * value to the nearest of the T training frames, averaged over the n. */
static double nearest_mse(const float *y, int64_t n, const float *train, int64_t T, int64_t D) {
    double total = 0;
    for (int64_t t = 0; t < n; t++) {
        double best = -1;
        for (int64_t j = 0; j < T; j++) {
            double sum = 0;
            for (int64_t k = 0; k < D; k++) {
                double e = (double)y[t * D + k] - train[j * D + k];
                sum += e * e;
            }
            if (best < 0 || sum < best) best = sum;
        }
        total += best / (double)D;
    }
    return total / (double)n;
}

int cmd_dynamic(int argc, char **argv, abp_dist *d, abp_err *err) {
    char ckpt[1024] = "", out[1024] = "", data[1024] = "";
    int frames = 60, burn_in = 15, delay = 10, strip = 8, help = 0;
    int64_t seed = 1;
    cli_option opts[] = {
        {"ckpt", OPT_STRING, ckpt, sizeof ckpt, 0, 0, NULL, "a checkpoint trained on the frames of a video", 1, 0},
        {"out", OPT_STRING, out, sizeof out, 0, 0, NULL, "the folder for the frames, dynamic.gif and strip.png", 1, 0},
        {"frames", OPT_INT, &frames, 0, 1, 100000, NULL, "frames to synthesize after the burn-in", 0, 0},
        {"burn-in", OPT_INT, &burn_in, 0, 0, 100000, NULL, "frames drawn and discarded first (the paper: 15)", 0, 0},
        {"seed", OPT_INT64, &seed, 0, 0, 9.2e18, NULL, "seed of z_0 and of the innovations", 0, 0},
        {"delay", OPT_INT, &delay, 0, 1, 65535, NULL, "hundredths of a second per GIF frame", 0, 0},
        {"strip", OPT_INT, &strip, 0, 1, 1000, NULL, "frames in strip.png", 0, 0},
        {"data", OPT_STRING, data, sizeof data, 0, 0, NULL, "the training frames: shown in strip.png, and the PCA baseline", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (cli_parse("dynamic", argc, argv, 2, opts, nopts, NULL, 0, NULL, &help, err)) return EXIT_USAGE;
    if (help) {
        if (d->rank == 0)
            cli_usage("dynamic", "--ckpt FILE --out DIR [--frames N] [--burn-in 15] [--seed S]",
                      "Fits a vector auto-regression z_{t+1} - m = A (z_t - m) + e_t, e_t ~ N(0, Q), to the\n"
                      "checkpoint's latents in frame order (its example names in natural order), draws\n"
                      "z_0 ~ N(0, I) and burn-in + N steps, and writes the last N as g(z_t):\n"
                      "DIR/frame-0000.png ..., the looping DIR/dynamic.gif, and DIR/strip.png (rows: the\n"
                      "training frames if --data, their reconstructions g(z_t), the synthesized frames,\n"
                      "and with --data the linear baseline: PCA of the frames + the same VAR, Doretto et al.).\n"
                      "Prints the fit: residual variance, latent variance, spectral radius of A; with\n"
                      "--data also DIR/baseline.gif and how much the frames move and how close they stay to\n"
                      "the training frames, for both.",
                      opts, nopts);
        return EXIT_OK;
    }
    if (d->rank != 0) return EXIT_OK;
    if (check_fresh(out, err)) return EXIT_FAILED;

    abp_net net;
    abp_train_cfg cfg;
    abp_ckpt_meta meta, meta2;
    abp_ckpt *ck = NULL;
    abp_var var = {0};
    abp_images originals = {0};
    char **names = NULL;
    named_row *order = NULL;
    int64_t n_total = 0, ldims[4];
    float *raw = NULL, *latents = NULL, *seq = NULL, *zb = NULL, *images = NULL, *strips = NULL, *ordered = NULL, *baseline = NULL;
    int lnd, status = EXIT_FAILED, batch = 64, reordered = 0;
    char path[2048];
    if (abp_model_load(MPI_COMM_SELF, ckpt, batch, &net, &cfg, &meta, err)) return EXIT_FAILED;
    free(meta.config);
    int64_t dz = abp_shape_numel(net.in_shape), dy = abp_shape_numel(net.out_shape);
    abp_shape os = net.out_shape;
    int64_t total = (int64_t)burn_in + frames;
    if (abp_ckpt_open(MPI_COMM_SELF, ckpt, &ck, &meta2, err) || abp_ckpt_latent_shape(ck, &n_total, &lnd, ldims, err))
        goto done;
    if (n_total < dz + 2) {
        abp_fail(err, "%s holds %lld frames; fitting the dynamics of d = %lld latents needs at least d + 2 = %lld",
                 ckpt, (long long)n_total, (long long)dz, (long long)dz + 2);
        goto done;
    }
    int ns = strip < frames ? strip : frames; /* frames in strip.png */
    if (ns > n_total) ns = (int)n_total;
    raw = abp_alloc(sizeof(float) * (size_t)(n_total * dz), err);
    latents = raw ? abp_alloc(sizeof(float) * (size_t)(n_total * dz), err) : NULL;
    order = latents ? abp_alloc(sizeof(named_row) * (size_t)n_total, err) : NULL;
    seq = order ? abp_alloc(sizeof(float) * (size_t)(total * dz), err) : NULL;
    zb = seq ? abp_alloc(sizeof(float) * (size_t)(batch * dz), err) : NULL;
    images = zb ? abp_alloc(sizeof(float) * (size_t)(frames * dy), err) : NULL;
    strips = images ? abp_alloc(sizeof(float) * (size_t)(ns * dy), err) : NULL;
    if (!strips || abp_ckpt_read_latents(ck, 0, n_total, raw, err) || abp_ckpt_read_names(ck, 0, n_total, &names, err))
        goto done;

    /* The latents in frame order; the fit; a new sequence from z_0 ~ N(0, I). */
    for (int64_t i = 0; i < n_total; i++) order[i] = (named_row){names[i], i};
    qsort(order, (size_t)n_total, sizeof *order, compare_named_rows);
    for (int64_t t = 0; t < n_total; t++) {
        reordered |= order[t].row != t;
        memcpy(latents + t * dz, raw + order[t].row * dz, sizeof(float) * (size_t)dz);
    }
    if (abp_var_fit(latents, n_total, (int)dz, &var, err)) {
        abp_fail_wrap(err, "%s", ckpt);
        goto done;
    }
    /* The latents' own variance (mean over coordinates), to read the residual variance against. */
    double latent_var = 0;
    for (int64_t t = 0; t < n_total; t++)
        for (int64_t k = 0; k < dz; k++) {
            double v = latents[t * dz + k] - var.mean[k];
            latent_var += v * v;
        }
    latent_var /= (double)(n_total - 1) * (double)dz;
    printf("dynamic: %lld frames of %s%s, d = %lld: residual_variance=%.6g latent_variance=%.6g "
           "spectral_radius=%.4f rank=%d\n",
           (long long)n_total, ckpt, reordered ? " (rows reordered by name)" : "", (long long)dz,
           var.residual_variance, latent_var, var.spectral_radius, var.rank);
    if (var.spectral_radius >= 1.0)
        fprintf(stderr, "abp dynamic: warning: the spectral radius of A is %.4f >= 1: the fitted dynamics are "
                "unstable, the synthesized frames may drift away from the video's\n", var.spectral_radius);
    if (var.rank < dz)
        fprintf(stderr, "abp dynamic: warning: the latents span only %d of %lld dimensions\n", var.rank,
                (long long)dz);
    abp_rng_normal((uint64_t)seed, ABP_RNG_VAR, 0, ABP_VAR_START, 0, zb, dz);
    if (abp_var_simulate(&var, zb, total, (uint64_t)seed, seq, err)) goto done;
    if (abp_net_generate(&net, seq + (int64_t)burn_in * dz, frames, images, zb, err)) goto done;

    /* strip.png: the training frames (with --data), their reconstructions, the new frames,
     * and (with --data) the linear baseline's frames. */
    const float *sets[4];
    int nsets = 0;
    if (data[0]) {
        abp_data_info info;
        if (abp_data_probe(data, &info, err)) goto done;
        if (info.n < n_total) { /* more is fine: training may have used --limit */
            abp_fail(err, "%s holds %lld examples but %s was trained on %lld", data, (long long)info.n,
                     ckpt, (long long)n_total);
            goto done;
        }
        if (abp_data_load(data, 0, n_total, os.c, os.h, os.w, &originals, err)) goto done;
        ordered = abp_alloc(sizeof(float) * (size_t)(n_total * dy), err);
        baseline = ordered ? abp_alloc(sizeof(float) * (size_t)(frames * dy), err) : NULL;
        if (!baseline) goto done;
        for (int64_t t = 0; t < n_total; t++) {
            int64_t row = order[t].row;
            if (strcmp(originals.names[row], names[row]) != 0) {
                abp_fail(err, "%s: example %lld is %s, but in %s it is %s", data, (long long)row,
                         originals.names[row], ckpt, names[row]);
                goto done;
            }
            memcpy(ordered + t * dy, originals.data + row * dy, sizeof(float) * (size_t)dy);
        }
        if (dy > INT32_MAX || pca_texture(ordered, n_total, (int)dy, (int)dz, burn_in, frames, (uint64_t)seed, baseline, err))
            goto done;
        printf("dynamic: per-pixel mean squared change per frame (step) and to the nearest training frame "
               "(nearest), values in [-1, 1]:\n"
               "  training frames    step=%.5f\n  abp                step=%.5f nearest=%.5f\n"
               "  baseline PCA + VAR step=%.5f nearest=%.5f\n",
               step_mse(ordered, n_total, dy), step_mse(images, frames, dy),
               nearest_mse(images, frames, ordered, n_total, dy), step_mse(baseline, frames, dy),
               nearest_mse(baseline, frames, ordered, n_total, dy));
        sets[nsets++] = ordered;
    }
    if (abp_net_generate(&net, latents, ns, strips, zb, err)) goto done;
    sets[nsets++] = strips;
    sets[nsets++] = images;
    if (data[0]) sets[nsets++] = baseline;

    /* The outputs: numbered frames, the animation, the strip. */
    if (abp_mkdir_p(out, err)) goto done;
    for (int t = 0; t < frames; t++) {
        snprintf(path, sizeof path, "%s/frame-%04d.png", out, t);
        if (abp_png_write_grid(path, images + (int64_t)t * dy, 1, os.c, os.h, os.w, 1, err)) goto done;
    }
    snprintf(path, sizeof path, "%s/dynamic.gif", out);
    if (abp_gif_write(path, images, frames, os.c, os.h, os.w, delay, err)) goto done;
    snprintf(path, sizeof path, "%s/baseline.gif", out);
    if (data[0] && abp_gif_write(path, baseline, frames, os.c, os.h, os.w, delay, err)) goto done;
    snprintf(path, sizeof path, "%s/strip.png", out);
    if (abp_png_write_compare(path, sets, nsets, ns, os.c, os.h, os.w, ns, err)) goto done;
    printf("dynamic: wrote %d frames after a burn-in of %d: %s/frame-0000.png ..., %s/dynamic.gif, %s\n",
           frames, burn_in, out, out, path);
    status = EXIT_OK;
done:
    if (names) {
        for (int64_t i = 0; i < n_total; i++) free(names[i]);
        free(names);
    }
    abp_ckpt_close(ck);
    abp_var_free(&var);
    abp_images_free(&originals);
    abp_free(raw);
    abp_free(latents);
    abp_free(order);
    abp_free(ordered);
    abp_free(baseline);
    abp_free(seq);
    abp_free(zb);
    abp_free(images);
    abp_free(strips);
    abp_net_free(&net);
    return status;
}
