/* PCA by eigen-decomposition of the covariance matrix (LAPACK), for the baseline. */
#include <cblas.h>
#include <lapacke.h>
#include <string.h>

#include "abp/tensor.h"

int abp_pca_fit(const float *x, int64_t n, int D, int d, abp_pca *pca, abp_err *err) {
    memset(pca, 0, sizeof *pca);
    if (n < 2) return abp_fail(err, "PCA needs at least 2 examples, got %lld", (long long)n);
    if (d < 1 || d > D) return abp_fail(err, "PCA: %d components asked of %d-dimensional data", d, D);
    pca->D = D, pca->d = d;
    pca->mean = abp_calloc(sizeof(float) * (size_t)D, err);
    pca->basis = abp_alloc(sizeof(float) * (size_t)d * (size_t)D, err);
    pca->variance = abp_alloc(sizeof(float) * (size_t)d, err);
    float *centred = abp_alloc(sizeof(float) * (size_t)n * (size_t)D, err);
    float *cov = abp_alloc(sizeof(float) * (size_t)D * (size_t)D, err);
    float *eig = abp_alloc(sizeof(float) * (size_t)D, err);
    int rc = -1;
    if (!pca->mean || !pca->basis || !pca->variance || !centred || !cov || !eig) goto done;
    double *sum = (double *)cov; /* borrow: D doubles fit in D*D floats for D >= 2 */
    memset(sum, 0, sizeof(double) * (size_t)D);
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < D; k++) sum[k] += x[i * D + k];
    for (int k = 0; k < D; k++) pca->mean[k] = (float)(sum[k] / (double)n);
    for (int64_t i = 0; i < n; i++)
        for (int k = 0; k < D; k++) centred[i * D + k] = x[i * D + k] - pca->mean[k];
    /* cov = X^T X / (n - 1), upper triangle */
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, D, (int)n, 1.0f / (float)(n - 1), centred, D,
                0.0f, cov, D);
    lapack_int info = LAPACKE_ssyevd(LAPACK_ROW_MAJOR, 'V', 'U', D, cov, D, eig);
    if (info != 0) {
        abp_fail(err, "PCA: LAPACK ssyevd failed (info %d)", (int)info);
        goto done;
    }
    /* Eigenvalues come in ascending order; eigenvector j is column j of cov. */
    for (int j = 0; j < d; j++) {
        int col = D - 1 - j;
        pca->variance[j] = eig[col];
        for (int k = 0; k < D; k++) pca->basis[(int64_t)j * D + k] = cov[(int64_t)k * D + col];
    }
    rc = 0;
done:
    abp_free(centred);
    abp_free(cov);
    abp_free(eig);
    if (rc) abp_pca_free(pca);
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
