/* Vector auto-regression of latent sequences (the dynamic-texture model of Doretto et al.
 * 2003, on the latents that the generator infers for the frames of a video):
 *
 *     z_{t+1} - m = A (z_t - m) + e_t,      e_t ~ N(0, Q).
 *
 * A is the least-squares solution of [z_0 .. z_{T-2}]^T A^T = [z_1 .. z_{T-1}]^T (centred,
 * LAPACK dgelsd: it also gives the minimum-norm answer when the latents are linearly
 * dependent), Q the covariance of the residuals. Everything is in double precision: the
 * normal equations of a long sequence lose digits fast in float. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "abp/rng.h"
#include "abp/tensor.h"

void abp_var_free(abp_var *var) {
    abp_free(var->mean);
    abp_free(var->A);
    abp_free(var->Q);
    abp_free(var->noise);
    memset(var, 0, sizeof *var);
}

/* The largest |eigenvalue| of the d x d matrix a (LAPACK dgeev, eigenvalues only). */
static int spectral_radius(const double *a, int d, double *radius, abp_err *err) {
    double *copy = abp_alloc(sizeof(double) * (size_t)d * (size_t)(d + 2), err);
    if (!copy) return -1;
    double *re = copy + (size_t)d * d, *im = re + d;
    memcpy(copy, a, sizeof(double) * (size_t)d * d);
    lapack_int info = LAPACKE_dgeev(LAPACK_ROW_MAJOR, 'N', 'N', d, copy, d, re, im, NULL, 1, NULL, 1);
    if (info != 0) {
        abp_free(copy);
        return abp_fail(err, "VAR: the eigenvalues of A did not converge (LAPACK dgeev info %d)", (int)info);
    }
    *radius = 0;
    for (int k = 0; k < d; k++) *radius = fmax(*radius, hypot(re[k], im[k]));
    abp_free(copy);
    return 0;
}

/* noise = V diag(sqrt(max(lambda, 0))), from Q = V diag(lambda) V^T (LAPACK dsyevd), so that
 * noise * N(0, I) ~ N(0, Q). An eigen-decomposition rather than Cholesky because Q is only
 * semi-definite when there are fewer than 2d + 1 frames, and Cholesky then fails. */
static int noise_factor(const double *q, int d, double *noise, abp_err *err) {
    double *lambda = abp_alloc(sizeof(double) * (size_t)d, err);
    if (!lambda) return -1;
    memcpy(noise, q, sizeof(double) * (size_t)d * d);
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', d, noise, d, lambda);
    if (info != 0) {
        abp_free(lambda);
        return abp_fail(err, "VAR: the eigen-decomposition of Q failed (LAPACK dsyevd info %d)", (int)info);
    }
    for (int j = 0; j < d; j++) {
        double root = sqrt(fmax(lambda[j], 0.0));
        for (int i = 0; i < d; i++) noise[(size_t)i * d + j] *= root; /* column j of V */
    }
    abp_free(lambda);
    return 0;
}

int abp_var_init(abp_var *var, int d, const double *mean, const double *A, const double *Q,
                 abp_err *err) {
    memset(var, 0, sizeof *var);
    if (d < 1) return abp_fail(err, "VAR: dimension %d must be at least 1", d);
    size_t dd = (size_t)d * d;
    var->d = d;
    var->rank = d;
    var->mean = abp_calloc(sizeof(double) * (size_t)d, err);
    var->A = var->mean ? abp_alloc(sizeof(double) * dd, err) : NULL;
    var->Q = var->A ? abp_alloc(sizeof(double) * dd, err) : NULL;
    var->noise = var->Q ? abp_alloc(sizeof(double) * dd, err) : NULL;
    if (!var->noise) goto fail;
    if (mean) memcpy(var->mean, mean, sizeof(double) * (size_t)d);
    memcpy(var->A, A, sizeof(double) * dd);
    memcpy(var->Q, Q, sizeof(double) * dd);
    double trace = 0;
    for (int k = 0; k < d; k++) trace += Q[(size_t)k * d + k];
    var->residual_variance = trace / d;
    if (noise_factor(var->Q, d, var->noise, err) || spectral_radius(var->A, d, &var->spectral_radius, err))
        goto fail;
    return 0;
fail:
    abp_var_free(var);
    return -1;
}

int abp_var_fit(const float *z, int64_t T, int d, abp_var *var, abp_err *err) {
    memset(var, 0, sizeof *var);
    if (d < 1) return abp_fail(err, "VAR: latent dimension %d must be at least 1", d);
    /* T - 1 pairs (z_t, z_{t+1}) for d unknowns per row of A, and at least one degree of
     * freedom left over for the residual covariance. */
    if (T < (int64_t)d + 2)
        return abp_fail(err, "VAR: fitting d = %d latents needs at least d + 2 = %d frames, got %lld",
                        d, d + 2, (long long)T);
    if (T - 1 > INT32_MAX) return abp_fail(err, "VAR: %lld frames are too many", (long long)T);
    int n = (int)(T - 1);
    size_t nd = (size_t)n * d, dd = (size_t)d * d;
    double *mean = abp_calloc(sizeof(double) * (size_t)d, err);
    double *x = mean ? abp_alloc(sizeof(double) * nd, err) : NULL;     /* regressors, overwritten */
    double *y = x ? abp_alloc(sizeof(double) * nd, err) : NULL;        /* targets, then A^T */
    double *resid = y ? abp_alloc(sizeof(double) * nd, err) : NULL;
    double *a = resid ? abp_alloc(sizeof(double) * dd, err) : NULL;
    double *q = a ? abp_alloc(sizeof(double) * dd, err) : NULL;
    double *sv = q ? abp_alloc(sizeof(double) * (size_t)d, err) : NULL;
    int rc = -1;
    if (!sv) goto done;

    for (int64_t t = 0; t < T; t++)
        for (int k = 0; k < d; k++) {
            float v = z[t * d + k];
            if (!isfinite(v)) {
                abp_fail(err, "VAR: latent %d of frame %lld is not a finite number", k, (long long)t);
                goto done;
            }
            mean[k] += v;
        }
    for (int k = 0; k < d; k++) mean[k] /= (double)T;
    for (int t = 0; t < n; t++)
        for (int k = 0; k < d; k++) {
            x[(size_t)t * d + k] = z[(int64_t)t * d + k] - mean[k];
            y[(size_t)t * d + k] = z[(int64_t)(t + 1) * d + k] - mean[k];
        }
    memcpy(resid, y, sizeof(double) * nd);

    /* x A^T = y; the first d rows of y become A^T. rcond: singular values below 1e-12 of
     * the largest count as zero (the latents are then linearly dependent). */
    lapack_int rank = 0;
    lapack_int info = LAPACKE_dgelsd(LAPACK_ROW_MAJOR, n, d, d, x, d, y, d, sv, 1e-12, &rank);
    if (info != 0) {
        abp_fail(err, "VAR: the least-squares fit did not converge (LAPACK dgelsd info %d)", (int)info);
        goto done;
    }
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) a[(size_t)i * d + j] = y[(size_t)j * d + i];

    /* resid = y - x A^T with the centred regressors rebuilt (dgelsd overwrote x). */
    for (int t = 0; t < n; t++)
        for (int k = 0; k < d; k++) x[(size_t)t * d + k] = z[(int64_t)t * d + k] - mean[k];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, d, d, -1.0, x, d, a, d, 1.0, resid, d);
    /* Q = resid^T resid / (n - rank): unbiased, each row of A spent `rank` degrees of freedom. */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, n, 1.0 / (double)(n - rank), resid, d, 0.0, q, d);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < i; j++) q[(size_t)i * d + j] = q[(size_t)j * d + i];

    if (abp_var_init(var, d, mean, a, q, err)) goto done;
    var->rank = (int)rank;
    rc = 0;
done:
    abp_free(mean);
    abp_free(x);
    abp_free(y);
    abp_free(resid);
    abp_free(a);
    abp_free(q);
    abp_free(sv);
    return rc;
}

int abp_var_simulate(const abp_var *var, const float *z0, int64_t n, uint64_t seed, float *out,
                     abp_err *err) {
    int d = var->d;
    if (n < 1) return abp_fail(err, "VAR: cannot simulate %lld steps", (long long)n);
    double *prev = abp_alloc(sizeof(double) * (size_t)d * 3, err);
    if (!prev) return -1;
    double *draw = prev + d, *next = draw + d;
    memcpy(out, z0, sizeof(float) * (size_t)d);
    for (int64_t t = 1; t < n; t++) {
        float *row = out + t * d;
        for (int k = 0; k < d; k++) prev[k] = out[(t - 1) * d + k] - var->mean[k];
        abp_rng_normal(seed, ABP_RNG_VAR, (uint32_t)t, ABP_VAR_INNOVATION, 0, row, d);
        for (int k = 0; k < d; k++) draw[k] = row[k];
        /* next = A prev + noise draw */
        cblas_dgemv(CblasRowMajor, CblasNoTrans, d, d, 1.0, var->A, d, prev, 1, 0.0, next, 1);
        cblas_dgemv(CblasRowMajor, CblasNoTrans, d, d, 1.0, var->noise, d, draw, 1, 1.0, next, 1);
        for (int k = 0; k < d; k++) row[k] = (float)(var->mean[k] + next[k]);
    }
    abp_free(prev);
    return 0;
}
