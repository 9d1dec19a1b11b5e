/* Compressed sensing (Han et al. 2017, Experiment 6): each example y is seen only through
 * K projections S y onto white-noise images, and the energy's residual is S y - S g(z).
 *
 * Layouts: S is K x D, a row per white-noise image. Activations are CNS ([c][n][pixels], see
 * include/abp/tensor.h), so channel ch of a batch is an n x pixels matrix and the columns of
 * S that meet it are the K x pixels block at column ch*pixels: the projections of a batch are
 * the sum over channels of one GEMM each, and so is the gradient, with no layout change. */
#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

#include "abp/infer.h"
#include "abp/rng.h"

int abp_sensing_init(abp_sensing *s, uint64_t seed, int K, abp_shape ys, int max_batch, abp_err *err) {
    memset(s, 0, sizeof *s);
    if (K < 1) return abp_fail(err, "--sense %d: needs at least one projection", K);
    s->K = K;
    s->c = ys.c;
    s->pixels = abp_shape_pixels(ys);
    s->D = abp_shape_numel(ys);
    s->max_batch = max_batch;
    s->S = abp_alloc(sizeof(float) * (size_t)K * (size_t)s->D, err);
    s->work = s->S ? abp_alloc(sizeof(float) * (size_t)K * (size_t)max_batch, err) : NULL;
    if (!s->work) {
        abp_sensing_free(s);
        return abp_fail(err, "--sense %d: out of memory for the %d x %lld sensing matrix", K, K,
                        (long long)abp_shape_numel(ys));
    }
    /* Pixels of the white-noise images are N(0, 0.5^2), as in the paper. */
    for (int k = 0; k < K; k++) {
        float *row = s->S + (int64_t)k * s->D;
        abp_rng_normal(seed, ABP_RNG_SENSE, (uint32_t)k, 0, 0, row, s->D);
        for (int64_t e = 0; e < s->D; e++) row[e] *= 0.5f;
    }
    return 0;
}

void abp_sensing_free(abp_sensing *s) {
    abp_free(s->S);
    abp_free(s->work);
    s->S = s->work = NULL;
}

void abp_sensing_project_rows(const abp_sensing *s, const float *rows, int64_t n, float *proj) {
    /* proj (n x K) = rows (n x D) S^T */
    abp_sgemm(0, 1, (int)n, s->K, (int)s->D, 1.0f, rows, (int)s->D, s->S, (int)s->D, 0.0f, proj, s->K);
}

/* L = |P - S g|^2 / 2 per example with P = obs y (n x K): work = P - S g, then
 * dL/dg = -S^T (P - S g), scaled, into dout; both products one GEMM per channel. */
static double sensing_residual(abp_sensing *s, const float *proj, const float *g, float *dout, int n,
                               float scale) {
    int K = s->K, pix = (int)s->pixels, D = (int)s->D;
    for (int ch = 0; ch < s->c; ch++) /* work (n x K) = sum_ch G_ch S_ch^T */
        abp_sgemm(0, 1, n, K, pix, 1.0f, g + (int64_t)ch * n * pix, pix, s->S + (int64_t)ch * pix, D,
                  ch ? 1.0f : 0.0f, s->work, K);
    double sse = 0.0;
    for (int64_t k = 0; k < (int64_t)n * K; k++) {
        float r = proj[k] - s->work[k];
        s->work[k] = r;
        sse += (double)r * r;
    }
    for (int ch = 0; ch < s->c; ch++) /* dout_ch (n x pix) = -scale R S_ch */
        abp_sgemm(0, 0, n, pix, K, -scale, s->work, K, s->S + (int64_t)ch * pix, D, 0.0f,
                  dout + (int64_t)ch * n * pix, pix);
    return sse;
}

double abp_observe_residual(const abp_observation *obs, const float *g, float *dout, int n,
                            abp_shape shape, float scale) {
    if (obs->sense) return sensing_residual(obs->sense, obs->y, g, dout, n, scale);
    return abp_residual(g, obs->y, obs->mask, dout, abp_shape_numel(shape) * n, scale);
}

int abp_sensing_min_norm(const abp_sensing *s, const float *proj, int64_t n, float *rows, abp_err *err) {
    int64_t K = s->K, D = s->D, m = K > D ? K : D;
    float *a = abp_alloc(sizeof(float) * (size_t)(K * D), err);
    /* Zeroed: only the first K rows are filled, and LAPACKE checks all of B for NaNs (info
     * -7), which uninitialised memory can hold. */
    float *b = a ? abp_calloc(sizeof(float) * (size_t)(m * n), err) : NULL;
    float *sv = b ? abp_alloc(sizeof(float) * (size_t)(K < D ? K : D), err) : NULL;
    int rc = -1;
    if (!sv) goto done;
    memcpy(a, s->S, sizeof(float) * (size_t)(K * D)); /* sgelsd overwrites S */
    /* B (max(K, D) x n): the projections as columns; on return its first D rows hold the
     * solutions as columns. */
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < K; k++) b[k * n + i] = proj[i * K + k];
    lapack_int rank = 0;
    lapack_int info = LAPACKE_sgelsd(LAPACK_ROW_MAJOR, (lapack_int)K, (lapack_int)D, (lapack_int)n, a,
                                     (lapack_int)D, b, (lapack_int)n, sv, -1.0f, &rank);
    if (info != 0) {
        abp_fail(err, "the minimum-norm solution failed (LAPACK sgelsd info %d)", (int)info);
        goto done;
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t e = 0; e < D; e++) rows[i * D + e] = b[e * n + i];
    rc = 0;
done:
    abp_free(a);
    abp_free(b);
    abp_free(sv);
    return rc;
}
