/* Langevin dynamics and gradient descent on the latents (see include/abp/infer.h). */
#include "abp/infer.h"

#include "abp/rng.h"

int abp_infer_ws_init(abp_infer_ws *ws, const abp_net *net, abp_err *err) {
    size_t nz = (size_t)(abp_shape_numel(net->in_shape) * net->max_batch);
    size_t ny = (size_t)(abp_shape_numel(net->out_shape) * net->max_batch);
    ws->dz = abp_alloc(sizeof(float) * nz, err);
    ws->dout = ws->dz ? abp_alloc(sizeof(float) * ny, err) : NULL;
    ws->noise = ws->dout ? abp_alloc(sizeof(float) * (size_t)abp_shape_numel(net->in_shape), err) : NULL;
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

double abp_residual(const float *g, const float *y, const float *mask, float *dout, int64_t count,
                    float scale) {
    double sse = 0.0;
    if (mask) {
        for (int64_t k = 0; k < count; k++) {
            /* a select, not a product: an occluded value may be anything, even NaN */
            float r = mask[k] != 0.0f ? mask[k] * (y[k] - g[k]) : 0.0f;
            sse += (double)r * r;
            dout[k] = -scale * mask[k] * r;
        }
    } else {
        for (int64_t k = 0; k < count; k++) {
            float r = y[k] - g[k];
            sse += (double)r * r;
            dout[k] = -scale * r;
        }
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
    for (int step = 0; step < cfg->steps; step++) {
        if (abp_net_forward(net, z, n, err)) return -1;
        abp_observe_residual(obs, abp_net_output(net), ws->dout, n, net->out_shape, inv_var);
        if (abp_net_backward(net, ws->dout, n, ws->dz, 0, err)) return -1;
        for (int64_t k = 0; k < nz; k++) z[k] -= half_s2 * (ws->dz[k] + z[k]);
        if (!cfg->noise) continue;
        /* Noise is a pure function of (seed, example id, iteration, step, element). */
        for (int i = 0; i < n; i++) {
            abp_rng_normal(cfg->seed, ABP_RNG_LANGEVIN, (uint32_t)ids[i], cfg->iteration,
                           (uint32_t)step, ws->noise, d);
            for (int64_t e = 0; e < d; e++)
                z[((e / pix) * n + i) * pix + e % pix] += cfg->step_size * ws->noise[e];
        }
    }
    return 0;
}
