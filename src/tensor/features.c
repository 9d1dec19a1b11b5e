/* The stand-in feature maps of abp score: the pixels, or principal components of the
 * reference images. They measure how far two image distributions are apart in pixel space,
 * which is honest but not what a classifier's features measure: their Fréchet distance is
 * not a "classifier FID" and is not comparable with published numbers. */
#include <stdio.h>
#include <string.h>

#include "abp/score.h"
#include "abp/tensor.h"

static int pixels_map(abp_features *f, const float *images, int64_t n, float *out, abp_err *err) {
    (void)err;
    memcpy(out, images, sizeof(float) * (size_t)(n * f->dim));
    return 0;
}

static void no_release(abp_features *f) { (void)f; }

int abp_features_pixels(int c, int h, int w, abp_features *f, abp_err *err) {
    (void)err;
    memset(f, 0, sizeof *f);
    snprintf(f->name, sizeof f->name, "pixels");
    f->c = c, f->h = h, f->w = w;
    f->dim = c * h * w;
    f->map = pixels_map;
    f->release = no_release;
    return 0;
}

/* Coefficients B (x - mean) of the k leading components. */
static int pca_map(abp_features *f, const float *images, int64_t n, float *out, abp_err *err) {
    const abp_pca *pca = f->state;
    int D = pca->D, k = pca->d;
    float *centred = abp_alloc(sizeof(float) * (size_t)(n * D), err);
    if (!centred) return -1;
    for (int64_t i = 0; i < n; i++)
        for (int t = 0; t < D; t++) centred[i * D + t] = images[i * D + t] - pca->mean[t];
    abp_sgemm(0, 1, (int)n, k, D, 1.0f, centred, D, pca->basis, D, 0.0f, out, k);
    abp_free(centred);
    return 0;
}

static void pca_release(abp_features *f) {
    abp_pca_free(f->state);
    abp_free(f->state);
}

int abp_features_pca(const float *ref, int64_t n, int c, int h, int w, int k, abp_features *f, abp_err *err) {
    memset(f, 0, sizeof *f);
    int D = c * h * w;
    if (k < 1 || k > D || k >= n)
        return abp_fail(err, "pca:%d features: K must be between 1 and min(pixels %d, reference images %lld - 1)", k,
                        D, (long long)n);
    abp_pca *pca = abp_alloc(sizeof *pca, err);
    if (!pca) return -1;
    if (abp_pca_fit(ref, n, D, k, pca, err)) {
        abp_free(pca);
        return abp_fail_wrap(err, "pca:%d features", k);
    }
    snprintf(f->name, sizeof f->name, "pca:%d", k);
    f->c = c, f->h = h, f->w = w;
    f->dim = k;
    f->map = pca_map;
    f->release = pca_release;
    f->state = pca;
    return 0;
}

int abp_features_apply(abp_features *f, const char *what, const float *images, int64_t n, int c, int h, int w,
                       float *out, abp_err *err) {
    if (c != f->c || h != f->h || w != f->w)
        return abp_fail(err, "%s: %dx%dx%d images, but the %s features take %dx%dx%d images", what, h, w, c,
                        f->name, f->h, f->w, f->c);
    return f->map(f, images, n, out, err);
}

void abp_features_free(abp_features *f) {
    if (f->release) f->release(f);
    memset(f, 0, sizeof *f);
}
