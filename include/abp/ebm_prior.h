/* abp — a latent-space energy-based prior learned with the generator (Pang, Han, Nijkamp,
 * Zhu and Wu, NeurIPS 2020, "Learning latent space energy-based prior model"; docs/sampling.md).
 *
 *     p_a(z) = exp(f_a(z)) N(z; 0, I) / Z(a),      f_a a small MLP with one output,
 *
 * in place of ABP's N(0, I). Three things change in an ABP iteration:
 *   - the posterior Langevin of each example runs on
 *         U(z) = |y - g(z)|^2 / (2 sigma^2) + |z|^2 / 2 - f_a(z)
 *     (abp_infer_latents with the prior's gradient hook, abp_ebm_prior_hook);
 *   - prior samples: short-run Langevin on log p_a from z_0 ~ N(0, I), one chain per example
 *     of the batch, fresh every iteration (abp_ebm_prior_langevin):
 *         z <- z + (s^2 / 2) (df/dz - z) + s e;
 *   - f_a learns by maximum likelihood: a <- a + eta (mean_posterior df/da - mean_prior df/da).
 * The generator learns exactly as in ABP. f_a must not contain batch norm: a chain's energy
 * must not depend on the other chains of its batch (nor on how many ranks share the batch). */
#ifndef ABP_EBM_PRIOR_H
#define ABP_EBM_PRIOR_H

#include <stddef.h>
#include <stdint.h>

#include "abp/error.h"
#include "abp/nn.h"

/* ---------------------------------------------------------------- options (abp train --prior) */

typedef struct abp_latent_prior_cfg {
    char kind[16];   /* --prior: "normal" (N(0, I), ABP) or "ebm" */
    char spec[4096]; /* --prior-net: "ebm-prior" (the paper's 200-200 MLP) or a spec */
    int steps;       /* --prior-steps: short-run Langevin steps of the prior samples (60) */
    float step_size; /* --prior-step-size: their s (0.4) */
    float lr;        /* --prior-lr: f_a's learning rate (2e-5); kind and beta1 are the generator's */
} abp_latent_prior_cfg;

void abp_latent_prior_defaults(abp_latent_prior_cfg *c);
/* 1 for --prior ebm. */
int abp_latent_prior_is_ebm(const abp_latent_prior_cfg *c);
/* Appends its /config lines to buf (cap bytes, NUL-terminated): nothing for --prior normal,
 * so that ABP's /config stays as it was. */
void abp_latent_prior_format(const abp_latent_prior_cfg *c, char *buf, size_t cap);
/* One /config key: 1 if it was the prior's (and read), 0 if not. */
int abp_latent_prior_parse(abp_latent_prior_cfg *c, const char *key, const char *value);
/* --prior normal|ebm and the numbers' ranges; objective is --objective (only abp learns an
 * EBM prior). One line naming the option. */
ABP_MUST_CHECK int abp_latent_prior_check(const abp_latent_prior_cfg *c, const char *objective, abp_err *err);

/* The spec of f_a for latents of shape zs (the generator's input), malloc'd into *out: a
 * built-in name ("ebm-prior") with its z replaced by zs, e.g. "z 30 | linear 200 | lrelu 0.2 |
 * linear 200 | lrelu 0.2 | linear 1"; anything else is a spec, as given. */
ABP_MUST_CHECK int abp_ebm_prior_spec(const char *spec, abp_shape zs, char **out, abp_err *err);
/* A built f_a must read zs, make one number, and hold no batch norm. Errors name --prior-net. */
ABP_MUST_CHECK int abp_ebm_prior_check(const abp_net *net, abp_shape zs, abp_err *err);
/* Both, and the network for batches up to max_batch (abp sample's loader, the tests). */
ABP_MUST_CHECK int abp_ebm_prior_build(const char *spec, abp_shape zs, int max_batch, abp_net *net, abp_err *err);

/* ---------------------------------------------------------------- energy, gradients, Langevin */

/* Buffers for n <= f->max_batch chains: df/dz, d(output), one noise row and one id per chain. */
typedef struct abp_ebm_ws {
    float *dz, *dout, *noise;
    int64_t *ids;
} abp_ebm_ws;

ABP_MUST_CHECK int abp_ebm_ws_init(abp_ebm_ws *ws, const abp_net *f, abp_err *err);
void abp_ebm_ws_free(abp_ebm_ws *ws);

/* f(z_i) of n latents z (CNS of f->in_shape): each[i] (if not NULL), and *sum their sum in
 * double, in chain order. */
ABP_MUST_CHECK int abp_ebm_prior_score(abp_net *f, const float *z, int n, double *each, double *sum, abp_err *err);

/* The gradients of scale * sum_i f(z_i): dz (CNS; if not NULL) gets them in z (set, not
 * added); with want_param_grads they are added into f->grads. *sum gets sum_i f(z_i). */
ABP_MUST_CHECK int abp_ebm_prior_grad(abp_net *f, const float *z, int n, float scale, float *dz,
                                      int want_param_grads, double *sum, abp_ebm_ws *ws, abp_err *err);

/* f_a's maximum-likelihood gradient as a loss, added into f->grads (f->max_batch >= 2n):
 *     d/da [ scale sum_i f(prior_i) - scale sum_i f(post_i) ]
 * for n posterior latents post and n prior samples prior (CNS each), in one pass over the
 * interleaved batch (post_0, prior_0, post_1, prior_1, ...) built in pair (room for 2n
 * latents). Interleaved, the two terms of a gradient that is zero in exact arithmetic — the
 * bias of a unit on the same side of lrelu's kink for both chains of every pair, f's top
 * bias always — cancel pair by pair in floats too, so the sum is exactly 0 on any split of
 * the pairs over ranks (Adam would turn rounding noise there into full-size steps that
 * differ with the rank count). *sum_post and *sum_prior get sum f over each set. */
ABP_MUST_CHECK int abp_ebm_prior_learn(abp_net *f, const float *post, const float *prior, int n, float scale,
                                       double *sum_post, double *sum_prior, float *pair, abp_ebm_ws *ws,
                                       abp_err *err);

/* What abp_langevin's prior hook gets (abp/infer.h): the prior network and its buffers. */
typedef struct abp_ebm_hook {
    abp_net *f;
    abp_ebm_ws *ws;
} abp_ebm_hook;

/* The hook of abp_infer_latents: dU/dz += -df/dz at z (CNS, n examples), which turns the
 * energy of N(0, I) into that of p_a. ctx is an abp_ebm_hook. */
ABP_MUST_CHECK int abp_ebm_prior_hook(void *ctx, const float *z, int n, float *dU, abp_err *err);

/* Short-run Langevin on log p_a(z) = f(z) - |z|^2 / 2 + const, in place on n chains z (CNS):
 *     z <- z + (s^2 / 2) (df/dz - z) + s e,   e from (seed, ABP_RNG_EBM_PRIOR, ids[i], iteration, step + 1)
 * (step 0 of the counter, c = 0, is the chain's start: abp_ebm_prior_start). */
typedef struct abp_ebm_langevin {
    int steps;
    float step_size;
    uint64_t seed;
    uint32_t iteration;
} abp_ebm_langevin;

/* z_0 ~ N(0, I) of chain id at iteration: (seed, ABP_RNG_EBM_PRIOR, id, iteration, 0), a row of d. */
void abp_ebm_prior_start(uint64_t seed, int64_t id, uint32_t iteration, float *row, int64_t d);

ABP_MUST_CHECK int abp_ebm_prior_langevin(abp_net *f, float *z, int n, const int64_t *ids,
                                          const abp_ebm_langevin *lv, abp_ebm_ws *ws, abp_err *err);

/* Samples first .. first + count - 1 of the trained prior, as rows of d (out): sample i starts
 * at the normal prior's draw (seed, ABP_RNG_PRIOR, i, 0) — the z that --prior normal would
 * use — and takes lv->steps steps (noise keyed by i, lv->iteration), in chunks of
 * f->max_batch; cns has room for f->max_batch latents. Sample i does not depend on count. */
ABP_MUST_CHECK int abp_ebm_prior_draw(abp_net *f, const abp_ebm_langevin *lv, int64_t first, int64_t count,
                                      float *out, float *cns, abp_ebm_ws *ws, abp_err *err);

#endif
