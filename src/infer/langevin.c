/* Langevin dynamics and gradient descent on the latents (see include/abp/infer.h).
 *
 * The update and the noise run over abp's threads, split by example: each example's noise
 * is its own Philox counter range, so any split draws the same numbers. */
#include "abp/infer.h"

#include "abp/rng.h"

int abp_infer_ws_init(abp_infer_ws *ws, const abp_net *net, abp_err *err) {
    size_t nz = (size_t)(abp_shape_numel(net->in_shape) * net->max_batch);
    size_t ny = (size_t)(abp_shape_numel(net->out_shape) * net->max_batch);
    ws->dz = abp_alloc(sizeof(float) * nz, err);
    ws->dout = ws->dz ? abp_alloc(sizeof(float) * ny, err) : NULL;
    ws->noise = ws->dout ? abp_alloc(sizeof(float) * nz, err) : NULL; /* a row per example */
    if (!ws->noise) {
        abp_infer_ws_free(ws);
        return -1;
    }
    return 0;
}

void abp_infer_ws_free(abp_infer_ws *ws) {
    abp_free(ws->dz);
    abp_free(ws->dout);
    abp_free(ws->noise);
    ws->dz = ws->dout = ws->noise = NULL;
}

/* One block of the residual: its squared sum, in order. */
static double residual_block(const float *restrict g, const float *restrict y,
                             const float *restrict mask, float *restrict dout, int64_t lo,
                             int64_t hi, float scale) {
    double sse = 0.0;
    if (mask) {
        for (int64_t k = lo; k < hi; k++) {
            /* a select, not a product: an occluded value may be anything, even NaN */
            float r = mask[k] != 0.0f ? mask[k] * (y[k] - g[k]) : 0.0f;
            sse += (double)r * r;
            dout[k] = -scale * mask[k] * r;
        }
    } else {
        for (int64_t k = lo; k < hi; k++) {
            float r = y[k] - g[k];
            sse += (double)r * r;
            dout[k] = -scale * r;
        }
    }
    return sse;
}

/* The sum of squares is added up in blocks of a fixed size, each in order, and the blocks'
 * sums in order: threads take whole blocks, so the total does not depend on how many. */
enum { RESIDUAL_BLOCK = 4096, RESIDUAL_GROUP = 64 };

double abp_residual(const float *g, const float *y, const float *mask, float *dout, int64_t count,
                    float scale) {
    double sse = 0.0;
    const int64_t span = (int64_t)RESIDUAL_BLOCK * RESIDUAL_GROUP;
    for (int64_t g0 = 0; g0 < count; g0 += span) {
        double part[RESIDUAL_GROUP];
        int64_t left = count - g0 < span ? count - g0 : span;
        int nb = (int)((left + RESIDUAL_BLOCK - 1) / RESIDUAL_BLOCK);
#pragma omp parallel for schedule(static) if (left >= ABP_PARALLEL_MIN)
        for (int b = 0; b < nb; b++) {
            int64_t lo = g0 + (int64_t)b * RESIDUAL_BLOCK;
            int64_t hi = lo + RESIDUAL_BLOCK < count ? lo + RESIDUAL_BLOCK : count;
            part[b] = residual_block(g, y, mask, dout, lo, hi, scale);
        }
        for (int b = 0; b < nb; b++) sse += part[b];
    }
    return sse;
}

int abp_infer_latents(abp_net *net, float *z, const abp_observation *obs, int n,
                      const int64_t *ids, const abp_langevin *cfg, abp_infer_ws *ws, abp_err *err) {
    abp_shape zs = net->in_shape;
    int64_t nz = abp_shape_numel(zs) * n;
    int64_t pix = abp_shape_pixels(zs), d = abp_shape_numel(zs);
    float half_s2 = 0.5f * cfg->step_size * cfg->step_size;
    float inv_var = 1.0f / (cfg->sigma * cfg->sigma);
    abp_profile *prof = net->profile;
    for (int step = 0; step < cfg->steps; step++) {
        if (abp_net_forward(net, z, n, err)) return -1;
        double t0 = abp_profile_start(prof);
        abp_observe_residual(obs, abp_net_output(net), ws->dout, n, net->out_shape, inv_var);
        abp_profile_add(prof, ABP_PART_LANGEVIN, t0);
        if (abp_net_backward(net, ws->dout, n, ws->dz, 0, err)) return -1;
        /* a learned prior adds its part of dU/dz (the N(0, I) part is the "+ z" below) */
        if (cfg->prior_grad && cfg->prior_grad(cfg->prior_ctx, z, n, ws->dz, err)) return -1;
        t0 = abp_profile_start(prof);
        if (!cfg->noise) {
#pragma omp parallel for simd schedule(static) if (nz >= ABP_PARALLEL_MIN)
            for (int64_t k = 0; k < nz; k++) z[k] -= half_s2 * (ws->dz[k] + z[k]);
        } else {
            /* Noise is a pure function of (seed, example id, iteration, step, element). */
            float *restrict dz = ws->dz;
#pragma omp parallel for schedule(static) if (nz >= ABP_PARALLEL_MIN / 8)
            for (int i = 0; i < n; i++) {
                float *e_i = ws->noise + (int64_t)i * d;
                abp_rng_normal(cfg->seed, ABP_RNG_LANGEVIN, (uint32_t)ids[i], cfg->iteration,
                               (uint32_t)step, e_i, d);
                for (int64_t e = 0; e < d; e++) {
                    int64_t k = ((e / pix) * n + i) * pix + e % pix;
                    z[k] -= half_s2 * (dz[k] + z[k]);
                    z[k] += cfg->step_size * e_i[e];
                }
            }
        }
        abp_profile_add(prof, ABP_PART_LANGEVIN, t0);
    }
    return 0;
}
