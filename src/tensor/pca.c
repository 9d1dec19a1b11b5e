/* PCA by eigen-decomposition of the covariance matrix (LAPACK), for the baseline. The
 * moments are sums over examples, accumulated in double, so that data-parallel callers add
 * their shards' and sum them over ranks before the eigen-decomposition. */
#include <cblas.h>
#include <lapacke.h>
#include <string.h>

#include "abp/tensor.h"

void abp_pca_add_sum(const float *x, int64_t n, int D, double *sum) {
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < D; k++) sum[k] += x[i * D + k];
}

int abp_pca_add_scatter(const float *x, int64_t n, int D, const double *mean, double *scatter,
                        abp_err *err) {
    /* In double, a block of rows at a time: the centred block is converted once and DSYRK
     * adds its outer products, so a long shard never needs an n x D double copy. */
    enum { BLOCK = 256 };
    double *block = abp_alloc(sizeof(double) * BLOCK * (size_t)D, err);
    if (!block) return -1;
    for (int64_t first = 0; first < n; first += BLOCK) {
        int rows = (int)(n - first < BLOCK ? n - first : BLOCK);
        for (int i = 0; i < rows; i++)
            for (int k = 0; k < D; k++) block[(int64_t)i * D + k] = (double)x[(first + i) * D + k] - mean[k];
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, D, rows, 1.0, block, D, 1.0, scatter, D);
    }
    abp_free(block);
    return 0;
}

int abp_pca_from_moments(const double *mean, const double *scatter, int64_t n, int D, int d,
                         abp_pca *pca, abp_err *err) {
    memset(pca, 0, sizeof *pca);
    if (n < 2) return abp_fail(err, "PCA needs at least 2 examples, got %lld", (long long)n);
    if (d < 1 || d > D) return abp_fail(err, "PCA: %d components asked of %d-dimensional data", d, D);
    pca->D = D, pca->d = d;
    pca->mean = abp_alloc(sizeof(float) * (size_t)D, err);
    pca->basis = abp_alloc(sizeof(float) * (size_t)d * (size_t)D, err);
    pca->variance = abp_alloc(sizeof(float) * (size_t)d, err);
    double *cov = abp_alloc(sizeof(double) * (size_t)D * (size_t)D, err);
    double *eig = abp_alloc(sizeof(double) * (size_t)D, err);
    int rc = -1;
    if (!pca->mean || !pca->basis || !pca->variance || !cov || !eig) goto done;
    for (int k = 0; k < D; k++) pca->mean[k] = (float)mean[k];
    /* cov = scatter / (n - 1), upper triangle */
    for (int64_t k = 0; k < (int64_t)D * D; k++) cov[k] = scatter[k] / (double)(n - 1);
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', D, cov, D, eig);
    if (info != 0) {
        abp_fail(err, "PCA: LAPACK dsyevd failed (info %d)", (int)info);
        goto done;
    }
    /* Eigenvalues come in ascending order; eigenvector j is column j of cov. */
    for (int j = 0; j < d; j++) {
        int col = D - 1 - j;
        pca->variance[j] = (float)eig[col];
        for (int k = 0; k < D; k++) pca->basis[(int64_t)j * D + k] = (float)cov[(int64_t)k * D + col];
    }
    rc = 0;
done:
    abp_free(cov);
    abp_free(eig);
    if (rc) abp_pca_free(pca);
    return rc;
}

int abp_pca_fit(const float *x, int64_t n, int D, int d, abp_pca *pca, abp_err *err) {
    memset(pca, 0, sizeof *pca);
    if (n < 2) return abp_fail(err, "PCA needs at least 2 examples, got %lld", (long long)n);
    if (d < 1 || d > D) return abp_fail(err, "PCA: %d components asked of %d-dimensional data", d, D);
    double *mean = abp_calloc(sizeof(double) * (size_t)D, err);
    double *scatter = mean ? abp_calloc(sizeof(double) * (size_t)D * (size_t)D, err) : NULL;
    int rc = -1;
    if (scatter) {
        abp_pca_add_sum(x, n, D, mean);
        for (int k = 0; k < D; k++) mean[k] /= (double)n;
        rc = abp_pca_add_scatter(x, n, D, mean, scatter, err);
        if (rc == 0) rc = abp_pca_from_moments(mean, scatter, n, D, d, pca, err);
    }
    abp_free(mean);
    abp_free(scatter);
    return rc;
}

int abp_pca_reconstruct(const abp_pca *pca, const float *x, float *out, int64_t n, abp_err *err) {
    int D = pca->D, d = pca->d;
    float *centred = abp_alloc(sizeof(float) * (size_t)n * (size_t)D, err);
    float *coef = centred ? abp_alloc(sizeof(float) * (size_t)n * (size_t)d, err) : NULL;
    if (!coef) {
        abp_free(centred);
        return -1;
    }
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < D; k++) centred[i * D + k] = x[i * D + k] - pca->mean[k];
    abp_sgemm(0, 1, (int)n, d, D, 1.0f, centred, D, pca->basis, D, 0.0f, coef, d);
    for (int64_t i = 0; i < n; i++) memcpy(out + i * D, pca->mean, sizeof(float) * (size_t)D);
    abp_sgemm(0, 0, (int)n, D, d, 1.0f, coef, d, pca->basis, D, 1.0f, out, D);
    abp_free(centred);
    abp_free(coef);
    return 0;
}

void abp_pca_free(abp_pca *pca) {
    abp_free(pca->mean);
    abp_free(pca->basis);
    abp_free(pca->variance);
    memset(pca, 0, sizeof *pca);
}
