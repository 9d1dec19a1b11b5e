/* PCA, the baseline of the test-reconstruction table: at full rank (d = D, or d = n - 1 when
 * there are fewer examples than dimensions) it reconstructs its own training data to float
 * precision; each component dropped costs exactly its eigenvalue; the basis is orthonormal;
 * and impossible requests fail with a message. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "abp/tensor.h"
#include "check.h"

/* Deterministic data with a different spread along every axis (so the eigenvalues are
 * distinct and every component matters), mixed by a rotation-like coupling of neighbours
 * so that the principal axes are not the coordinate axes, plus an offset (the mean). */
static void make_data(float *x, int64_t n, int D, unsigned seed) {
    unsigned s = seed;
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < D; k++) {
            s = s * 1664525u + 1013904223u;               /* Numerical Recipes' LCG */
            double u = (double)(s >> 8) / (double)(1u << 24) - 0.5;
            x[i * D + k] = (float)(u * 4.0 / (1.0 + k));
        }
        for (int k = D - 1; k > 0; k--) x[i * D + k] += 0.5f * x[i * D + k - 1];
        for (int k = 0; k < D; k++) x[i * D + k] += 0.25f * (float)k;
    }
}

/* Mean squared error per value of the PCA reconstruction of x; *max_abs the largest error. */
static double recon_mse(const abp_pca *pca, const float *x, int64_t n, double *max_abs) {
    abp_err err = {{0}};
    int D = pca->D;
    float *out = malloc(sizeof(float) * (size_t)(n * D));
    double sse = 0.0;
    *max_abs = 0.0;
    CHECK(out && abp_pca_reconstruct(pca, x, out, n, &err) == 0, "reconstruct: %s", err.msg);
    for (int64_t k = 0; out && k < n * D; k++) {
        double r = (double)x[k] - out[k];
        sse += r * r;
        if (fabs(r) > *max_abs) *max_abs = fabs(r);
    }
    free(out);
    return sse / ((double)n * D);
}

int main(void) {
    abp_err err = {{0}};
    enum { N = 60, D = 12 };
    float *x = malloc(sizeof(float) * N * D);
    make_data(x, N, D, 7);

    /* Full rank: every example back to float precision (values are up to about 3). */
    abp_pca full;
    CHECK(abp_pca_fit(x, N, D, D, &full, &err) == 0, "fit d = D: %s", err.msg);
    double max_abs, mse = recon_mse(&full, x, N, &max_abs);
    CHECK(max_abs < 1e-5, "d = D reconstructs its training data with error %g", max_abs);

    /* The basis is orthonormal and the variances come largest first. */
    double worst = 0.0;
    for (int a = 0; a < D; a++)
        for (int b = 0; b < D; b++) {
            double dot = 0.0;
            for (int k = 0; k < D; k++) dot += (double)full.basis[a * D + k] * full.basis[b * D + k];
            worst = fmax(worst, fabs(dot - (a == b)));
        }
    CHECK(worst < 1e-5, "basis rows are not orthonormal: off by %g", worst);
    for (int j = 0; j + 1 < D; j++)
        CHECK(full.variance[j] > full.variance[j + 1], "variance %d = %g is not above variance %d = %g", j,
              (double)full.variance[j], j + 1, (double)full.variance[j + 1]);

    /* Fewer components: a larger error, by exactly the variance left out. The covariance
     * divides by n - 1, the error by n, hence the factor (n - 1) / n. */
    double previous = mse;
    for (int d = D - 1; d >= 1; d--) {
        abp_pca pca;
        CHECK(abp_pca_fit(x, N, D, d, &pca, &err) == 0, "fit d = %d: %s", d, err.msg);
        double e = recon_mse(&pca, x, N, &max_abs), dropped = 0.0;
        for (int j = d; j < D; j++) dropped += full.variance[j];
        double want = dropped * (N - 1) / N / D;
        CHECK(e > previous, "d = %d: error %g is not above the error %g of d = %d", d, e, previous, d + 1);
        CHECK(fabs(e - want) < 1e-4 * want + 1e-7, "d = %d: error %g, the dropped variance says %g", d, e, want);
        previous = e;
        abp_pca_free(&pca);
    }
    abp_pca_free(&full);

    /* Fewer examples than dimensions: 5 examples span 4 directions around their mean, so
     * d = n - 1 is already full rank, and d = n - 2 is not. */
    abp_pca few;
    CHECK(abp_pca_fit(x, 5, D, 4, &few, &err) == 0, "fit n = 5, d = 4: %s", err.msg);
    recon_mse(&few, x, 5, &max_abs);
    CHECK(max_abs < 1e-5, "d = n - 1 reconstructs its 5 training examples with error %g", max_abs);
    abp_pca_free(&few);
    CHECK(abp_pca_fit(x, 5, D, 3, &few, &err) == 0, "fit n = 5, d = 3: %s", err.msg);
    recon_mse(&few, x, 5, &max_abs);
    CHECK(max_abs > 1e-2, "d = n - 2 should not reconstruct 5 examples exactly (error %g)", max_abs);
    abp_pca_free(&few);

    /* Requests that cannot be met. */
    abp_pca bad;
    CHECK(abp_pca_fit(x, N, D, D + 1, &bad, &err) != 0 && strstr(err.msg, "13 components"), "d > D: %s", err.msg);
    CHECK(abp_pca_fit(x, N, D, 0, &bad, &err) != 0, "d = 0 accepted");
    CHECK(abp_pca_fit(x, 1, D, 1, &bad, &err) != 0 && strstr(err.msg, "at least 2"), "n = 1: %s", err.msg);
    free(x);
    return check_summary("pca");
}
