/* Fully connected layer: y = W x + b over the whole batch in one GEMM.
 *
 * In the CNS layout a vector batch is [features][n], so W [F][K] times x [K][n] needs no
 * transposes. When the input or output has pixels (h*w > 1) the per-example vector is the
 * planar c*h*w order, and one cheap permutation into scratch turns [c][n][s] into [c*s][n]. */
#include "abp/nn.h"

#include <string.h>

/* [c][n][s] -> [c*s][n] */
static void cns_to_features(const float *x, float *f, int c, int n, int64_t s) {
#pragma omp parallel for schedule(static) if (c * n * s >= ABP_PARALLEL_MIN)
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < n; i++) {
            const float *src = x + ((int64_t)ch * n + i) * s;
            for (int64_t p = 0; p < s; p++) f[((int64_t)ch * s + p) * n + i] = src[p];
        }
}

/* [c*s][n] -> [c][n][s] */
static void features_to_cns(const float *f, float *x, int c, int n, int64_t s) {
#pragma omp parallel for schedule(static) if (c * n * s >= ABP_PARALLEL_MIN)
    for (int ch = 0; ch < c; ch++)
        for (int i = 0; i < n; i++) {
            float *dst = x + ((int64_t)ch * n + i) * s;
            for (int64_t p = 0; p < s; p++) dst[p] = f[((int64_t)ch * s + p) * n + i];
        }
}

int64_t abp_linear_scratch(const abp_layer *l, int n) {
    return (2 * abp_shape_numel(l->in) + abp_shape_numel(l->out)) * (int64_t)n;
}

void abp_linear_forward(const abp_layer *l, const float *x, float *y, int n, float *scratch,
                        abp_profile *prof) {
    int K = (int)abp_shape_numel(l->in), F = (int)abp_shape_numel(l->out);
    int64_t sin = abp_shape_pixels(l->in), sout = abp_shape_pixels(l->out);
    const float *xk = x;
    float *yk = sout == 1 ? y : scratch;
    double t0 = abp_profile_start(prof);
    if (sin > 1) {
        float *buf = scratch + (int64_t)F * n;
        cns_to_features(x, buf, l->in.c, n, sin);
        xk = buf;
    }
    abp_profile_add(prof, ABP_PART_IM2COL, t0);
    t0 = abp_profile_start(prof);
#pragma omp parallel for schedule(static) if ((int64_t)F * n >= ABP_PARALLEL_MIN)
    for (int f = 0; f < F; f++)
        for (int i = 0; i < n; i++) yk[(int64_t)f * n + i] = l->bias ? l->bias[f] : 0.0f;
    abp_profile_add(prof, ABP_PART_POINTWISE, t0);
    t0 = abp_profile_start(prof);
    abp_sgemm(0, 0, F, n, K, 1.0f, l->weight, K, xk, n, 1.0f, yk, n);
    abp_profile_add(prof, ABP_PART_GEMM, t0);
    t0 = abp_profile_start(prof);
    if (sout > 1) features_to_cns(yk, y, l->out.c, n, sout);
    abp_profile_add(prof, ABP_PART_IM2COL, t0);
}

void abp_linear_backward(const abp_layer *l, const float *x, const float *dy, float *dx, int n,
                         int want_param_grads, float *scratch, abp_profile *prof) {
    int K = (int)abp_shape_numel(l->in), F = (int)abp_shape_numel(l->out);
    int64_t sin = abp_shape_pixels(l->in), sout = abp_shape_pixels(l->out);
    const float *dyk = dy;
    double t0 = abp_profile_start(prof);
    if (sout > 1) {
        cns_to_features(dy, scratch, l->out.c, n, sout);
        dyk = scratch;
    }
    abp_profile_add(prof, ABP_PART_IM2COL, t0);
    float *xk_buf = scratch + (int64_t)F * n;
    float *dxk_buf = xk_buf + (int64_t)K * n;
    if (want_param_grads) {
        const float *xk = x;
        t0 = abp_profile_start(prof);
        if (sin > 1) {
            cns_to_features(x, xk_buf, l->in.c, n, sin);
            xk = xk_buf;
        }
        abp_profile_add(prof, ABP_PART_IM2COL, t0);
        t0 = abp_profile_start(prof);
        abp_sgemm(0, 1, F, K, n, 1.0f, dyk, n, xk, n, 1.0f, l->dweight, K);
        abp_profile_add(prof, ABP_PART_GEMM, t0);
        /* One thread sums each feature, in order: the same float on any number of threads. */
        t0 = abp_profile_start(prof);
        if (l->dbias) {
#pragma omp parallel for schedule(static) if ((int64_t)F * n >= ABP_PARALLEL_MIN)
            for (int f = 0; f < F; f++) {
                float s = 0.0f;
                for (int i = 0; i < n; i++) s += dyk[(int64_t)f * n + i];
                l->dbias[f] += s;
            }
        }
        abp_profile_add(prof, ABP_PART_POINTWISE, t0);
    }
    if (dx) {
        float *dxk = sin > 1 ? dxk_buf : dx;
        t0 = abp_profile_start(prof);
        abp_sgemm(1, 0, K, n, F, 1.0f, l->weight, K, dyk, n, 0.0f, dxk, n);
        abp_profile_add(prof, ABP_PART_GEMM, t0);
        t0 = abp_profile_start(prof);
        if (sin > 1) features_to_cns(dxk, dx, l->in.c, n, sin);
        abp_profile_add(prof, ABP_PART_IM2COL, t0);
    }
}
