/* abp score: how close samples are to real images, offline. Both sets go through a feature
 * map (abp/score.h); the statistics compare the feature sets. Prints name=value lines, and
 * '#' lines for what it leaves out and why. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/classify.h"
#include "abp/score.h"
#include "abp/train.h"
#include "cli.h"
#include "options.h"

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A data set at its own size (the first image's, for a folder). */
static int load_native(const char *what, const char *path, int64_t limit, abp_images *im, abp_err *err) {
    abp_data_info info;
    if (abp_data_probe(path, &info, err)) return abp_fail_wrap(err, "abp score: %s", what);
    if (cli_load_first(path, limit, info.c, info.h, info.w, im, err)) return abp_fail_wrap(err, "abp score: %s", what);
    return 0;
}

/* Samples drawn from a generator checkpoint with the chosen prior. */
static int draw_samples(const char *ckpt, cli_prior *prior, int n, abp_images *im, abp_err *err) {
    memset(im, 0, sizeof *im);
    abp_net net;
    abp_train_cfg cfg;
    abp_ckpt_meta meta;
    int batch = n < 64 ? n : 64;
    if (abp_model_load(MPI_COMM_SELF, ckpt, batch, &net, &cfg, &meta, err)) return -1;
    free(meta.config);
    int64_t dz = abp_shape_numel(net.in_shape), dy = abp_shape_numel(net.out_shape);
    float *z = abp_alloc(sizeof(float) * (size_t)(n * dz), err);
    float *zb = z ? abp_alloc(sizeof(float) * (size_t)(batch * dz), err) : NULL;
    im->data = zb ? abp_alloc(sizeof(float) * (size_t)(n * dy), err) : NULL;
    int rc = -1;
    if (!im->data) goto done;
    if (cli_prior_fit(prior, ckpt, dz, err) || cli_prior_recalibrate(prior, ckpt, 0, 0, &net, err)) {
        abp_fail_wrap(err, "abp score: --samples");
        goto done;
    }
    if (cli_prior_draw(prior, 0, n, dz, z, err) || abp_net_generate(&net, z, n, im->data, zb, err)) goto done;
    im->n = n, im->c = net.out_shape.c, im->h = net.out_shape.h, im->w = net.out_shape.w;
    rc = 0;
done:
    abp_free(z);
    abp_free(zb);
    abp_net_free(&net);
    if (rc) abp_images_free(im);
    return rc;
}

/* --samples: a generator checkpoint (drawn from here), a sample file of abp sample, or any
 * data set (a folder of PNGs, an HDF5 image set). */
static int load_samples(const char *path, cli_prior *prior, int n, abp_images *im, abp_err *err) {
    if (ends_with(path, ".h5")) {
        char format[64];
        if (abp_h5_format(path, format, sizeof format, err)) return abp_fail_wrap(err, "abp score: --samples");
        if (!strcmp(format, "abp-checkpoint")) return draw_samples(path, prior, n, im, err);
        if (strcmp(format, "abp-images") != 0) {
            if (abp_samples_read(path, im, err)) return abp_fail_wrap(err, "abp score: --samples");
            return 0;
        }
    }
    return load_native("--samples", path, 0, im, err);
}

/* --features: the stand-ins by name; a checkpoint must be a feature network. */
static int make_features(const char *spec, const abp_images *ref, abp_features *f, abp_err *err) {
    if (!strcmp(spec, "pixels")) return abp_features_pixels(ref->c, ref->h, ref->w, f, err);
    if (!strncmp(spec, "pca:", 4)) {
        int k;
        char tail;
        if (sscanf(spec + 4, "%d%c", &k, &tail) != 1 || k < 1)
            return abp_fail(err, "abp score: --features '%s': K of pca:K must be a positive whole number", spec);
        if (abp_features_pca(ref->data, ref->n, ref->c, ref->h, ref->w, k, f, err))
            return abp_fail_wrap(err, "abp score: --features");
        return 0;
    }
    char format[64] = "";
    abp_err probe = {{0}};
    if (abp_h5_format(spec, format, sizeof format, &probe) == 0 && !strcmp(format, "abp-checkpoint"))
        return abp_features_classifier(spec, f, err) ? abp_fail_wrap(err, "abp score: --features") : 0;
    return abp_fail(err, "abp score: --features '%s' is not pixels, pca:K or a feature-network checkpoint", spec);
}

static int features_of(abp_features *f, const char *what, const abp_images *im, float **out, abp_err *err) {
    *out = abp_alloc(sizeof(float) * (size_t)(im->n * f->dim), err);
    if (!*out) return -1;
    if (abp_features_apply(f, what, im->data, im->n, im->c, im->h, im->w, *out, err)) {
        abp_free(*out);
        *out = NULL;
        return abp_fail_wrap(err, "abp score");
    }
    return 0;
}

/* The classifier's mean top-class probability over the samples, and class coverage: the
 * fraction of classes that are the top class of at least one sample. */
static int print_confidence(abp_features *f, const abp_images *im, abp_err *err) {
    float *p = abp_alloc(sizeof(float) * (size_t)(im->n * f->classes), err);
    int *seen = calloc((size_t)f->classes, sizeof *seen);
    if (!p || !seen || f->probs(f, im->data, im->n, p, err)) {
        abp_free(p);
        free(seen);
        return seen ? -1 : abp_fail(err, "abp score: out of memory");
    }
    double confidence = 0.0;
    int covered = 0;
    for (int64_t i = 0; i < im->n; i++) {
        int best = 0;
        for (int k = 1; k < f->classes; k++) best = p[i * f->classes + k] > p[i * f->classes + best] ? k : best;
        confidence += p[i * f->classes + best] / (double)im->n;
        covered += !seen[best]++;
    }
    printf("confidence=%.4f\ncoverage=%.4f\n", confidence, (double)covered / f->classes);
    abp_free(p);
    free(seen);
    return 0;
}

/* Mean distance from each image of `im` to its nearest image of train (pixel space). */
static int mean_nearest(const abp_images *im, const abp_images *train, double *mean, abp_err *err) {
    int d = im->c * im->h * im->w;
    double *dist = abp_alloc(sizeof(double) * (size_t)im->n, err);
    if (!dist || abp_nearest_distances(im->data, im->n, train->data, train->n, d, dist, err)) {
        abp_free(dist);
        return -1;
    }
    *mean = 0.0;
    for (int64_t i = 0; i < im->n; i++) *mean += dist[i] / (double)im->n;
    abp_free(dist);
    return 0;
}

int cmd_score(int argc, char **argv, abp_dist *d, abp_err *err) {
    char features[1024] = "", ref_path[1024] = "", samples_path[1024] = "", train_path[1024] = "";
    char prior_text[32] = "auto";
    int n = 1000, k = 3, help = 0, bn_running = 0;
    int64_t seed = 1, ref_limit = 0;
    cli_option opts[] = {
        {"features", OPT_STRING, features, sizeof features, 0, 0, NULL,
         "pixels, pca:K (of the reference images) or a feature-network checkpoint", 1, 0},
        {"ref", OPT_STRING, ref_path, sizeof ref_path, 0, 0, NULL, "the real images (e.g. held-out test digits)", 1, 0},
        {"samples", OPT_STRING, samples_path, sizeof samples_path, 0, 0, NULL,
         "a folder of PNGs, a FILE.h5 of abp sample, or a generator checkpoint to draw from", 1, 0},
        {"ref-limit", OPT_INT64, &ref_limit, 0, 0, 1e12, NULL, "use only the first N reference images (0: all)", 0, 0},
        {"train", OPT_STRING, train_path, sizeof train_path, 0, 0, NULL,
         "the training images, for the memorisation distance (omitted without)", 0, 0},
        {"n", OPT_INT, &n, 0, 2, 100000, NULL, "samples to draw when --samples is a checkpoint", 0, 0},
        {"prior", OPT_STRING, prior_text, sizeof prior_text, 0, 0, NULL, "the prior to draw from (as abp sample)", 0, 0},
        {"batchnorm", OPT_CHOICE, &bn_running, 0, 0, 0, "prior|running", "batch-norm statistics (as abp sample)", 0, 0},
        {"seed", OPT_INT64, &seed, 0, 0, 9.2e18, NULL, "seed of the draws", 0, 0},
        {"k", OPT_INT, &k, 0, 1, 100, NULL, "neighbours for precision and recall", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (cli_parse("score", argc, argv, 2, opts, nopts, NULL, 0, NULL, &help, err)) return EXIT_USAGE;
    if (help) {
        if (d->rank == 0)
            cli_usage("score", "--features pixels|pca:K|CKPT --ref DATA --samples DIR|FILE.h5|CKPT [--train DATA]",
                      "Compares samples with real images through a feature map and prints name=value:\n"
                      "fd (Frechet distance of the features), kid (unbiased, cubic polynomial kernel),\n"
                      "precision and recall (k-NN balls), nn_train (mean pixel distance of a sample to\n"
                      "its nearest training image, with --train; ref_nn_train is the same for the\n"
                      "reference images, the level real unseen data sits at). pixels and pca:K are\n"
                      "stand-ins for a classifier's features: their fd is not a classifier FID.",
                      opts, nopts);
        return EXIT_OK;
    }
    cli_prior prior = {.recalibrate = !bn_running, .seed = (uint64_t)seed, .verbose = 0};
    if (cli_prior_parse(&prior, prior_text, "abp score: --prior", err)) return EXIT_USAGE;
    if (d->rank != 0) return EXIT_OK;

    abp_images ref = {0}, samples = {0}, train = {0};
    abp_features f = {0};
    float *fr = NULL, *fs = NULL;
    int status = EXIT_FAILED;
    if (load_native("--ref", ref_path, ref_limit, &ref, err)) goto done;
    if (make_features(features, &ref, &f, err)) {
        status = strncmp(err->msg, "abp score: --features '", 23) ? EXIT_FAILED : EXIT_USAGE;
        goto done;
    }
    if (load_samples(samples_path, &prior, n, &samples, err)) goto done;
    if (features_of(&f, ref_path, &ref, &fr, err) || features_of(&f, samples_path, &samples, &fs, err)) goto done;
    double fd, kid, precision, recall;
    if (abp_frechet_distance(fr, ref.n, fs, samples.n, f.dim, &fd, err) ||
        abp_kid(fr, ref.n, fs, samples.n, f.dim, &kid, err) ||
        abp_precision_recall(fr, ref.n, fs, samples.n, f.dim, k, &precision, &recall, err)) {
        abp_fail_wrap(err, "abp score");
        goto done;
    }
    printf("features=%s\nref_n=%lld\nsamples_n=%lld\n", f.name, (long long)ref.n, (long long)samples.n);
    printf("fd=%.6g\nkid=%.6g\nprecision=%.4f\nrecall=%.4f\n", fd, kid, precision, recall);
    if (f.classes == 0)
        printf("# confidence and coverage: omitted, the %s features are not a classifier\n", f.name);
    else if (print_confidence(&f, &samples, err))
        goto done;
    if (train_path[0]) {
        double nn_samples, nn_ref;
        if (load_native("--train", train_path, 0, &train, err)) goto done;
        if (train.c != samples.c || train.h != samples.h || train.w != samples.w) {
            abp_fail(err, "abp score: --train %s: %dx%dx%d images, the samples are %dx%dx%d", train_path, train.h,
                     train.w, train.c, samples.h, samples.w, samples.c);
            goto done;
        }
        if (mean_nearest(&samples, &train, &nn_samples, err) || mean_nearest(&ref, &train, &nn_ref, err)) goto done;
        printf("nn_train=%.6g\nref_nn_train=%.6g\n", nn_samples, nn_ref);
    } else {
        printf("# memorisation (nn_train): omitted, no --train\n");
    }
    status = EXIT_OK;
done:
    abp_free(fr);
    abp_free(fs);
    abp_features_free(&f);
    abp_images_free(&ref);
    abp_images_free(&samples);
    abp_images_free(&train);
    cli_prior_free(&prior);
    return status;
}
