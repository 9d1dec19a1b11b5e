/* The latent energy-based prior (abp/ebm_prior.h): building f_a, its score and gradients,
 * the hook that adds its gradient to the posterior Langevin, and short-run Langevin on the
 * prior itself. f_a is an ordinary network run on the latent: its input is z, its one output
 * f(z), and the back-propagated quantity df/d(output) = scale for every chain. */
#include "abp/ebm_prior.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/rng.h"

int abp_ebm_prior_spec(const char *spec, abp_shape zs, char **out, abp_err *err) {
    /* A built-in prior is written for any latent: its first token becomes the generator's. */
    const char *builtin = abp_model_spec(spec), *rest = builtin ? strchr(builtin, '|') : NULL;
    size_t cap = strlen(rest ? rest : spec) + 64;
    *out = malloc(cap);
    if (!*out) return abp_fail(err, "--prior-net: out of memory");
    if (!rest) snprintf(*out, cap, "%s", spec);
    else if (zs.h == 1 && zs.w == 1) snprintf(*out, cap, "z %d %s", zs.c, rest);
    else snprintf(*out, cap, "z %dx%dx%d %s", zs.h, zs.w, zs.c, rest);
    return 0;
}

int abp_ebm_prior_check(const abp_net *net, abp_shape zs, abp_err *err) {
    abp_shape in = net->in_shape;
    if (in.c != zs.c || in.h != zs.h || in.w != zs.w)
        return abp_fail(err, "--prior-net: it reads %dx%dx%d latents, but the generator's are %dx%dx%d", in.h, in.w,
                        in.c, zs.h, zs.w, zs.c);
    if (abp_shape_numel(net->out_shape) != 1)
        return abp_fail(err, "--prior-net: it makes %lld numbers per latent; f(z) is one (end the spec with linear 1)",
                        (long long)abp_shape_numel(net->out_shape));
    for (int i = 0; i < net->nlayers; i++)
        if (net->layers[i].kind == ABP_BATCHNORM)
            return abp_fail(err, "--prior-net: layer %d is batch norm, which makes one chain's energy depend on the "
                                 "others; use linear and activation layers", i);
    return 0;
}

int abp_ebm_prior_build(const char *spec, abp_shape zs, int max_batch, abp_net *net, abp_err *err) {
    memset(net, 0, sizeof *net);
    char *made = NULL;
    if (abp_ebm_prior_spec(spec, zs, &made, err)) return -1;
    int rc = abp_net_build(made, 0, max_batch, net, err);
    free(made);
    if (rc) return abp_fail_wrap(err, "--prior-net");
    if (abp_ebm_prior_check(net, zs, err)) {
        abp_net_free(net);
        return -1;
    }
    return 0;
}

int abp_ebm_ws_init(abp_ebm_ws *ws, const abp_net *f, abp_err *err) {
    size_t nz = (size_t)(abp_shape_numel(f->in_shape) * f->max_batch);
    ws->dz = abp_alloc(sizeof(float) * nz, err);
    ws->dout = ws->dz ? abp_alloc(sizeof(float) * (size_t)f->max_batch, err) : NULL;
    ws->noise = ws->dout ? abp_alloc(sizeof(float) * nz, err) : NULL; /* a row per chain */
    ws->ids = ws->noise ? malloc(sizeof(int64_t) * (size_t)f->max_batch) : NULL;
    if (!ws->ids) {
        abp_ebm_ws_free(ws);
        return abp_fail(err, "out of memory for the prior's buffers");
    }
    return 0;
}

void abp_ebm_ws_free(abp_ebm_ws *ws) {
    abp_free(ws->dz);
    abp_free(ws->dout);
    abp_free(ws->noise);
    free(ws->ids);
    ws->dz = ws->dout = ws->noise = NULL;
    ws->ids = NULL;
}

int abp_ebm_prior_score(abp_net *f, const float *z, int n, double *each, double *sum, abp_err *err) {
    if (abp_net_forward(f, z, n, err)) return -1;
    const float *out = abp_net_output(f); /* one value per chain: [1][n] */
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        if (each) each[i] = out[i];
        total += out[i];
    }
    *sum = total;
    return 0;
}

int abp_ebm_prior_grad(abp_net *f, const float *z, int n, float scale, float *dz, int want_param_grads, double *sum,
                       abp_ebm_ws *ws, abp_err *err) {
    if (abp_ebm_prior_score(f, z, n, NULL, sum, err)) return -1;
    for (int i = 0; i < n; i++) ws->dout[i] = scale; /* d(scale sum f)/df_i */
    return abp_net_backward(f, ws->dout, n, dz, want_param_grads, err);
}

int abp_ebm_prior_learn(abp_net *f, const float *post, const float *prior, int n, float scale, double *sum_post,
                        double *sum_prior, float *pair, abp_ebm_ws *ws, abp_err *err) {
    abp_shape zs = f->in_shape;
    int64_t pix = abp_shape_pixels(zs);
    if (2 * n > f->max_batch)
        return abp_fail(err, "the prior's learning pass needs room for %d chains, it has %d", 2 * n, f->max_batch);
    /* CNS [c][n][pix] -> [c][2n][pix], chain 2i the posterior's i, 2i + 1 the prior's */
    for (int c = 0; c < zs.c; c++)
        for (int i = 0; i < n; i++) {
            memcpy(pair + ((int64_t)c * 2 * n + 2 * i) * pix, post + ((int64_t)c * n + i) * pix, sizeof(float) * (size_t)pix);
            memcpy(pair + ((int64_t)c * 2 * n + 2 * i + 1) * pix, prior + ((int64_t)c * n + i) * pix,
                   sizeof(float) * (size_t)pix);
        }
    if (abp_net_forward(f, pair, 2 * n, err)) return -1;
    const float *out = abp_net_output(f);
    double sp = 0.0, sq = 0.0;
    for (int i = 0; i < n; i++) {
        sp += out[2 * i];
        sq += out[2 * i + 1];
        ws->dout[2 * i] = -scale;
        ws->dout[2 * i + 1] = scale;
    }
    *sum_post = sp;
    *sum_prior = sq;
    return abp_net_backward(f, ws->dout, 2 * n, NULL, 1, err);
}

int abp_ebm_prior_hook(void *ctx, const float *z, int n, float *dU, abp_err *err) {
    abp_ebm_hook *h = ctx;
    double sum;
    if (abp_ebm_prior_grad(h->f, z, n, 1.0f, h->ws->dz, 0, &sum, h->ws, err)) return -1;
    int64_t nz = abp_shape_numel(h->f->in_shape) * n;
    const float *restrict df = h->ws->dz;
#pragma omp parallel for simd schedule(static) if (nz >= ABP_PARALLEL_MIN)
    for (int64_t k = 0; k < nz; k++) dU[k] -= df[k]; /* -log p_a = |z|^2/2 - f(z) + const */
    return 0;
}

void abp_ebm_prior_start(uint64_t seed, int64_t id, uint32_t iteration, float *row, int64_t d) {
    abp_rng_normal(seed, ABP_RNG_EBM_PRIOR, (uint32_t)id, iteration, 0, row, d);
}

int abp_ebm_prior_langevin(abp_net *f, float *z, int n, const int64_t *ids, const abp_ebm_langevin *lv,
                           abp_ebm_ws *ws, abp_err *err) {
    abp_shape zs = f->in_shape;
    int64_t pix = abp_shape_pixels(zs), d = abp_shape_numel(zs);
    float half_s2 = 0.5f * lv->step_size * lv->step_size;
    for (int step = 0; step < lv->steps; step++) {
        double sum;
        if (abp_ebm_prior_grad(f, z, n, 1.0f, ws->dz, 0, &sum, ws, err)) return -1;
        /* Each chain's noise is its own counter range: any split over threads draws the same. */
        const float *restrict df = ws->dz;
#pragma omp parallel for schedule(static) if (d * n >= ABP_PARALLEL_MIN / 8)
        for (int i = 0; i < n; i++) {
            float *e_i = ws->noise + (int64_t)i * d;
            abp_rng_normal(lv->seed, ABP_RNG_EBM_PRIOR, (uint32_t)ids[i], lv->iteration, (uint32_t)step + 1, e_i, d);
            for (int64_t e = 0; e < d; e++) {
                int64_t k = ((e / pix) * n + i) * pix + e % pix;
                z[k] += half_s2 * (df[k] - z[k]) + lv->step_size * e_i[e];
            }
        }
    }
    return 0;
}

int abp_ebm_prior_draw(abp_net *f, const abp_ebm_langevin *lv, int64_t first, int64_t count, float *out, float *cns,
                       abp_ebm_ws *ws, abp_err *err) {
    int64_t d = abp_shape_numel(f->in_shape);
    for (int64_t done = 0; done < count; done += f->max_batch) {
        int b = (int)(count - done < f->max_batch ? count - done : f->max_batch);
        float *rows = out + done * d;
        for (int i = 0; i < b; i++) {
            ws->ids[i] = first + done + i;
            abp_rng_normal(lv->seed, ABP_RNG_PRIOR, (uint32_t)ws->ids[i], 0, 0, rows + i * d, d);
        }
        abp_rows_to_cns(rows, cns, b, f->in_shape);
        if (abp_ebm_prior_langevin(f, cns, b, ws->ids, lv, ws, err)) return -1;
        abp_cns_to_rows(cns, rows, b, f->in_shape);
    }
    return 0;
}
