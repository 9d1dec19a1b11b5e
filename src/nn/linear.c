/* Fully connected layer: y = W x + b over the whole batch in one GEMM.
 *
 * In the CNS layout ([c][n][s], s = h*w) a vector batch is [features][n], so W [F][K] times
 * x [K][n] needs no copies. When a side has pixels (s > 1) the per-example vector is the
 * planar c*s order, and that side is handled in the example-major form [n][c*s] = [n][c][s]:
 * [c][n][s] <-> [n][c][s] only moves whole s-float blocks (one memcpy each), where the
 * feature-major form [c*s][n] would need an element-wise transpose of stride n. The GEMMs
 * take whichever form each operand has through their transpose flags (OpenBLAS packs its
 * operands anyway: a transposed operand cost 1-5% in the GEMM alone at these shapes, far
 * less than the transposes it saves):
 *
 *   forward, output [F][n]:   Y  = W X                   (X as [K][n] or X' [n][K] transposed)
 *   forward, output [n][F]:   Y' = X^T W^T               (the layer's output with pixels)
 *   weight gradient:          dW += dY X^T               (dY as [F][n] or dY' [n][F] transposed)
 *   input gradient, [K][n]:   dX  = W^T dY
 *   input gradient, [n][K]:   dX' = dY^T W
 *
 * Scratch: [n][F] for the output side when it has pixels (Y' forward, dY' backward), [n][K]
 * for the input side when it has pixels (X' forward and for the weight gradient, then reused
 * for dX', which is computed after the weight gradient). Plain vectors on both sides use none. */
#include "abp/nn.h"

#include <string.h>

/* One side of the layer as a GEMM sees it: rows features (c*s), columns examples. */
typedef struct {
    const float *p;
    int nk; /* 1: stored [n][features] (example-major), 0: [features][n] */
    int ld; /* its row stride */
} operand;

/* [c][n][s] -> [n][c][s]: block (ch, i) of s floats goes to row i, column ch*s. */
static void cns_to_rows(const float *x, float *r, int c, int n, int64_t s) {
    int64_t blocks = (int64_t)c * n;
#pragma omp parallel for schedule(static) if (blocks * s >= ABP_PARALLEL_MIN)
    for (int64_t b = 0; b < blocks; b++) {
        int64_t ch = b / n, i = b % n;
        memcpy(r + (i * c + ch) * s, x + b * s, sizeof(float) * (size_t)s);
    }
}

/* [n][c][s] -> [c][n][s], adding bias[ch*s + p] to each value when there is a bias (the
 * output of the forward pass: one pass over the data writes both). */
static void rows_to_cns(const float *r, const float *bias, float *x, int c, int n, int64_t s) {
    int64_t blocks = (int64_t)c * n;
#pragma omp parallel for schedule(static) if (blocks * s >= ABP_PARALLEL_MIN)
    for (int64_t b = 0; b < blocks; b++) {
        int64_t ch = b / n, i = b % n;
        const float *src = r + (i * c + ch) * s;
        float *dst = x + b * s;
        if (!bias) {
            memcpy(dst, src, sizeof(float) * (size_t)s);
            continue;
        }
        const float *bb = bias + ch * s;
        for (int64_t p = 0; p < s; p++) dst[p] = src[p] + bb[p];
    }
}

/* The input side x as an operand: itself when it is a vector, else its rows in buf. */
static operand input_operand(const abp_layer *l, const float *x, int n, float *buf) {
    int64_t sin = abp_shape_pixels(l->in);
    int K = (int)abp_shape_numel(l->in);
    if (sin == 1) return (operand){x, 0, n};
    cns_to_rows(x, buf, l->in.c, n, sin);
    return (operand){buf, 1, K};
}

int64_t abp_linear_scratch(const abp_layer *l, int n) {
    int64_t f = abp_shape_pixels(l->out) > 1 ? abp_shape_numel(l->out) : 0;
    int64_t k = abp_shape_pixels(l->in) > 1 ? abp_shape_numel(l->in) : 0;
    return (f + k) * (int64_t)n;
}

void abp_linear_forward(const abp_layer *l, const float *x, float *y, int n, float *scratch,
                        abp_profile *prof) {
    int K = (int)abp_shape_numel(l->in), F = (int)abp_shape_numel(l->out);
    int64_t sout = abp_shape_pixels(l->out);
    float *rows = scratch;                                    /* Y' [n][F], when sout > 1 */
    float *xbuf = scratch + (sout > 1 ? (int64_t)F * n : 0); /* X' [n][K], when sin > 1 */
    double t0 = abp_profile_start(prof);
    operand in = input_operand(l, x, n, xbuf);
    abp_profile_add(prof, ABP_PART_IM2COL, t0);
    if (sout > 1) {
        t0 = abp_profile_start(prof);
        abp_sgemm(!in.nk, 1, n, F, K, 1.0f, in.p, in.ld, l->weight, K, 0.0f, rows, F);
        abp_profile_add(prof, ABP_PART_GEMM, t0);
        t0 = abp_profile_start(prof);
        rows_to_cns(rows, l->bias, y, l->out.c, n, sout);
        abp_profile_add(prof, ABP_PART_IM2COL, t0);
        return;
    }
    t0 = abp_profile_start(prof);
#pragma omp parallel for schedule(static) if ((int64_t)F * n >= ABP_PARALLEL_MIN)
    for (int f = 0; f < F; f++)
        for (int i = 0; i < n; i++) y[(int64_t)f * n + i] = l->bias ? l->bias[f] : 0.0f;
    abp_profile_add(prof, ABP_PART_POINTWISE, t0);
    t0 = abp_profile_start(prof);
    abp_sgemm(0, in.nk, F, n, K, 1.0f, l->weight, K, in.p, in.ld, 1.0f, y, n);
    abp_profile_add(prof, ABP_PART_GEMM, t0);
}

/* Features per block of the bias gradient: a row segment of 64 floats is one cache line
 * pair, and the block's sums fit in registers or L1. */
enum { DBIAS_BLOCK = 64 };

/* dbias[f] += sum over examples of dY[f]. One thread sums each feature, in order from
 * example 0 (into a zero, then added once): the same float on any number of threads. */
static void bias_grad(const operand *d, float *dbias, int F, int n) {
    if (!d->nk) {
#pragma omp parallel for schedule(static) if ((int64_t)F * n >= ABP_PARALLEL_MIN)
        for (int f = 0; f < F; f++) {
            float s = 0.0f;
            for (int i = 0; i < n; i++) s += d->p[(int64_t)f * d->ld + i];
            dbias[f] += s;
        }
        return;
    }
    /* [n][F]: a block of features is summed row by row, so the reads are contiguous. */
    int blocks = (F + DBIAS_BLOCK - 1) / DBIAS_BLOCK;
#pragma omp parallel for schedule(static) if ((int64_t)F * n >= ABP_PARALLEL_MIN)
    for (int b = 0; b < blocks; b++) {
        int f0 = b * DBIAS_BLOCK, nf = F - f0 < DBIAS_BLOCK ? F - f0 : DBIAS_BLOCK;
        float s[DBIAS_BLOCK] = {0};
        for (int i = 0; i < n; i++) {
            const float *row = d->p + (int64_t)i * d->ld + f0;
            for (int j = 0; j < nf; j++) s[j] += row[j];
        }
        for (int j = 0; j < nf; j++) dbias[f0 + j] += s[j];
    }
}

void abp_linear_backward(const abp_layer *l, const float *x, const float *dy, float *dx, int n,
                         int want_param_grads, float *scratch, abp_profile *prof) {
    int K = (int)abp_shape_numel(l->in), F = (int)abp_shape_numel(l->out);
    int64_t sin = abp_shape_pixels(l->in), sout = abp_shape_pixels(l->out);
    float *drows = scratch;                                   /* dY' [n][F], when sout > 1 */
    float *xbuf = scratch + (sout > 1 ? (int64_t)F * n : 0); /* X', then dX' [n][K], sin > 1 */
    operand d = {dy, 0, n};
    double t0 = abp_profile_start(prof);
    if (sout > 1) {
        cns_to_rows(dy, drows, l->out.c, n, sout);
        d = (operand){drows, 1, F};
    }
    abp_profile_add(prof, ABP_PART_IM2COL, t0);
    if (want_param_grads) {
        t0 = abp_profile_start(prof);
        operand in = input_operand(l, x, n, xbuf);
        abp_profile_add(prof, ABP_PART_IM2COL, t0);
        t0 = abp_profile_start(prof);
        abp_sgemm(d.nk, !in.nk, F, K, n, 1.0f, d.p, d.ld, in.p, in.ld, 1.0f, l->dweight, K);
        abp_profile_add(prof, ABP_PART_GEMM, t0);
        t0 = abp_profile_start(prof);
        if (l->dbias) bias_grad(&d, l->dbias, F, n);
        abp_profile_add(prof, ABP_PART_POINTWISE, t0);
    }
    if (!dx) return;
    t0 = abp_profile_start(prof);
    if (sin == 1)
        abp_sgemm(1, d.nk, K, n, F, 1.0f, l->weight, K, d.p, d.ld, 0.0f, dx, n);
    else /* X' is no longer needed: the weight gradient above has used it */
        abp_sgemm(!d.nk, 0, n, K, F, 1.0f, d.p, d.ld, l->weight, K, 0.0f, xbuf, K);
    abp_profile_add(prof, ABP_PART_GEMM, t0);
    t0 = abp_profile_start(prof);
    if (sin > 1) rows_to_cns(xbuf, NULL, dx, l->in.c, n, sin);
    abp_profile_add(prof, ABP_PART_IM2COL, t0);
}
