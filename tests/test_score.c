/* Sample-quality statistics on synthetic features: the Fréchet distance of a set with itself
 * is 0, grows as the square of a shift and matches a closed form for a scaled set; KID is
 * unbiased on two draws of one distribution (mean near 0 over repeats) and clearly positive
 * for different ones; precision and recall are 1 for identical sets, 0 for disjoint ones,
 * and tell mode collapse (high precision, low recall) apart; nearest distances are exact;
 * the feature maps check image sizes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "abp/rng.h"
#include "abp/score.h"
#include "check.h"

/* n rows of d: N(shift, scale^2 I) with anisotropic, correlated structure, from draw `id`. */
static void draw(float *x, int64_t n, int d, uint32_t id, double shift, double scale) {
    for (int64_t i = 0; i < n; i++) {
        abp_rng_normal(5, ABP_RNG_TEST_INIT, id, (uint32_t)i, 0, x + i * d, d);
        for (int a = d - 1; a > 0; a--) x[i * d + a] += 0.5f * x[i * d + a - 1];
        for (int a = 0; a < d; a++) x[i * d + a] = (float)(shift + scale * (1.0 + 0.1 * a) * x[i * d + a]);
    }
}

int main(void) {
    abp_err err = {{0}};
    enum { N = 400, D = 16 };
    float *a = malloc(sizeof(float) * N * D), *b = malloc(sizeof(float) * N * D);
    draw(a, N, D, 1, 0.3, 1.0);

    /* Fréchet distance: 0 with itself; d * delta^2 for a shift by delta in every coordinate
     * (same covariance); |m|^2 + tr S for the set against twice itself (S_b = 4 S_a). */
    double fd = -1.0;
    CHECK(abp_frechet_distance(a, N, a, N, D, &fd, &err) == 0, "%s", err.msg);
    CHECK(fabs(fd) < 1e-9, "FD of a set with itself is %g", fd);
    double last = 0.0;
    for (int s = 1; s <= 3; s++) {
        double delta = 0.25 * s;
        for (int64_t e = 0; e < N * D; e++) b[e] = a[e] + (float)delta;
        CHECK(abp_frechet_distance(a, N, b, N, D, &fd, &err) == 0, "%s", err.msg);
        double want = D * delta * delta;
        CHECK(fabs(fd - want) < 1e-4 * want, "FD for a shift of %g is %.8g, want %.8g", delta, fd, want);
        CHECK(fd > last, "FD grows with the shift (%g after %g)", fd, last);
        last = fd;
    }
    double mean2 = 0.0, trace = 0.0, m[D] = {0};
    for (int64_t i = 0; i < N; i++)
        for (int k = 0; k < D; k++) m[k] += a[i * D + k] / (double)N;
    for (int k = 0; k < D; k++) {
        mean2 += m[k] * m[k];
        double v = 0.0;
        for (int64_t i = 0; i < N; i++) v += pow(a[i * D + k] - m[k], 2);
        trace += v / (N - 1);
    }
    for (int64_t e = 0; e < N * D; e++) b[e] = 2.0f * a[e];
    CHECK(abp_frechet_distance(a, N, b, N, D, &fd, &err) == 0, "%s", err.msg);
    CHECK(fabs(fd - (mean2 + trace)) < 1e-6 * (mean2 + trace), "FD(x, 2x) = %.10g, closed form %.10g", fd,
          mean2 + trace);

    /* KID: over 40 pairs of independent draws of one distribution the mean is within 3
     * standard errors of 0, while the biased estimate (diagonal included) would be off by
     * about (E k(x, x) + E k(y, y)) / M, which the test checks is far outside. A shifted
     * distribution is far above. */
    enum { R = 40, M = 60 };
    double sum = 0.0, sum2 = 0.0, diag = 0.0;
    float *p = malloc(sizeof(float) * M * D), *q = malloc(sizeof(float) * M * D);
    for (int r = 0; r < R; r++) {
        draw(p, M, D, 100 + 2 * r, 0.0, 1.0);
        draw(q, M, D, 101 + 2 * r, 0.0, 1.0);
        double kid;
        CHECK(abp_kid(p, M, q, M, D, &kid, &err) == 0, "%s", err.msg);
        for (int i = 0; i < 2 * M; i++) {
            const float *x = i < M ? p + i * D : q + (i - M) * D;
            double dot = 0.0;
            for (int k = 0; k < D; k++) dot += (double)x[k] * x[k];
            diag += pow(dot / D + 1.0, 3) / (2.0 * M * R);
        }
        sum += kid;
        sum2 += kid * kid;
    }
    double mean = sum / R, se = sqrt((sum2 / R - mean * mean) / (R - 1));
    CHECK(fabs(mean) < 3.0 * se, "KID of one distribution: mean %g over %d repeats, standard error %g", mean, R, se);
    CHECK(2.0 * diag / M > 6.0 * se, "the biased estimate's offset %g would be outside 6 standard errors %g",
          2.0 * diag / M, se);
    draw(q, M, D, 999, 1.0, 1.0);
    double kid_shift;
    CHECK(abp_kid(p, M, q, M, D, &kid_shift, &err) == 0, "%s", err.msg);
    CHECK(kid_shift > 10.0 * se, "KID of a shifted distribution %g is far above the noise %g", kid_shift, se);
    free(p);
    free(q);

    /* Precision and recall. */
    double prec, rec;
    CHECK(abp_precision_recall(a, N, a, N, D, 3, &prec, &rec, &err) == 0, "%s", err.msg);
    CHECK(prec == 1.0 && rec == 1.0, "identical sets: precision %g, recall %g", prec, rec);
    for (int64_t e = 0; e < N * D; e++) b[e] = a[e] + 100.0f;
    CHECK(abp_precision_recall(a, N, b, N, D, 3, &prec, &rec, &err) == 0, "%s", err.msg);
    CHECK(prec == 0.0 && rec == 0.0, "disjoint sets: precision %g, recall %g", prec, rec);
    /* Mode collapse: the fakes are 20 real points, each repeated with a tiny jitter. */
    for (int64_t i = 0; i < N; i++)
        for (int k = 0; k < D; k++) b[i * D + k] = a[(i % 20) * D + k] + 1e-3f * (float)((i / 20) % 7);
    CHECK(abp_precision_recall(a, N, b, N, D, 3, &prec, &rec, &err) == 0, "%s", err.msg);
    CHECK(prec > 0.99 && rec < 0.2, "collapsed fakes: precision %g (high), recall %g (low)", prec, rec);
    CHECK(abp_precision_recall(a, 3, a, N, D, 3, &prec, &rec, &err) != 0 && strstr(err.msg, "more than 3"),
          "too few images for k = 3 is refused (%s)", err.msg);

    /* Nearest distances: 0 to itself; a known offset. */
    double *nd = malloc(sizeof(double) * N);
    CHECK(abp_nearest_distances(a, N, a, N, D, nd, &err) == 0, "%s", err.msg);
    double worst = 0.0;
    for (int i = 0; i < N; i++) worst = fmax(worst, nd[i]);
    CHECK(worst < 1e-3, "every row is at distance ~0 from itself (worst %g)", worst);
    float one[D], origin[D];
    for (int k = 0; k < D; k++) origin[k] = 0.0f, one[k] = (k == 3) ? 5.0f : 0.0f;
    CHECK(abp_nearest_distances(one, 1, origin, 1, D, nd, &err) == 0 && fabs(nd[0] - 5.0) < 1e-12,
          "distance 5 (%g)", nd[0]);
    free(nd);

    /* Feature maps: pixels are the identity; pca:K gives K values; sizes are checked. */
    enum { C = 1, H = 4, W = 4 };
    abp_features px, pc;
    float f[N * 16];
    CHECK(abp_features_pixels(C, H, W, &px, &err) == 0 && px.dim == 16, "pixels");
    CHECK(abp_features_apply(&px, "a", a, N, C, H, W, f, &err) == 0 && !memcmp(f, a, sizeof(float) * N * 16),
          "pixel features are the pixels");
    CHECK(abp_features_apply(&px, "samples.h5", a, N, C, 2, 8, f, &err) != 0 &&
              strstr(err.msg, "samples.h5: 2x8x1 images, but the pixels features take 4x4x1"),
          "another image size is refused (%s)", err.msg);
    CHECK(abp_features_pca(a, N, C, H, W, 5, &pc, &err) == 0 && pc.dim == 5, "pca:5: %s", err.msg);
    CHECK(abp_features_apply(&pc, "a", a, N, C, H, W, f, &err) == 0, "%s", err.msg);
    double mean0 = 0.0;
    for (int i = 0; i < N; i++) mean0 += f[i * 5] / N;
    CHECK(fabs(mean0) < 1e-4, "PCA features of the reference set are centred (%g)", mean0);
    abp_features_free(&pc);
    abp_features bad;
    CHECK(abp_features_pca(a, N, C, H, W, 17, &bad, &err) != 0 && strstr(err.msg, "pca:17"),
          "more components than pixels is refused (%s)", err.msg);
    abp_features_free(&px);

    free(a);
    free(b);
    return check_summary("score");
}
