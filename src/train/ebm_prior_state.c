/* What --prior ebm adds to the ABP objective (abp.c; abp/ebm_prior.h, Pang et al. 2020): a
 * second network, "prior", the f_a of p_a(z) = exp(f_a(z)) N(0, I) / Z, with its buffers.
 *   - create builds f_a beside the generator and hooks it into the posterior Langevin, whose
 *     steps then add -df/dz to dU/dz;
 *   - learn, after the posterior steps, runs one short-run prior chain per example of the
 *     batch from N(0, I) (--prior-steps steps on log p_a) and adds f_a's maximum-likelihood
 *     gradient to the arena as a loss gradient,
 *         dL/da = (1/B) sum_prior df/da - (1/B) sum_posterior df/da,
 *     B the global batch (both sets have B chains), so the one allreduce sums it as g's;
 *   - draw samples the learned prior for the end-of-run pictures.
 * It is train-level, not src/infer: it builds its network into the model (abp_model_add). */
#include <stdint.h>
#include <stdlib.h>

#include "abp/ebm_prior.h"
#include "objective.h"

#define PRIOR "prior" /* the EBM prior's network name: /prior and /optimizer/prior */

struct abp_ebm_prior_state {
    abp_net *f;           /* f_a, in the model's arena */
    abp_shape zs;         /* the generator's latent, what f_a reads */
    uint64_t seed;        /* --seed: the prior chains' key */
    abp_ebm_ws ws;
    abp_ebm_hook hook;    /* what the posterior Langevin's prior_grad gets */
    abp_ebm_langevin lv;  /* the prior chains' short run */
    float *zp;            /* the batch's prior chains, CNS */
    float *zpair;         /* posterior and prior chains interleaved (abp_ebm_prior_learn), 2 b */
};

void abp_ebm_prior_state_destroy(abp_ebm_prior_state *st) {
    if (!st) return;
    abp_ebm_ws_free(&st->ws);
    abp_free(st->zp);
    abp_free(st->zpair);
    free(st);
}

/* The buffers and the network of an abp_ebm_prior_state; on failure the caller frees it. */
static int build(abp_ebm_prior_state *st, const abp_objective_env *env, abp_model *model, abp_err *err) {
    const abp_train_cfg *cfg = env->cfg;
    char *spec = NULL;
    if (abp_ebm_prior_spec(cfg->prior.spec, st->zs, &spec, err)) return -1;
    abp_opt_cfg opt = {.kind = cfg->optimizer, .lr = cfg->prior.lr, .beta1 = cfg->beta1, .momentum = cfg->momentum};
    /* room for the learning pass's 2 b chains (posterior and prior, interleaved) */
    int rc = abp_model_add(model, PRIOR, spec, 0, 2 * env->b_local, &opt, &st->f, err);
    free(spec);
    if (rc) return abp_fail_wrap(err, "--prior-net");
    if (abp_ebm_prior_check(st->f, st->zs, err)) return -1;
    abp_net_init_params(st->f, cfg->seed + 1); /* another seed: the prior's own draws */
    st->f->sum = env->sum; /* unused (no batch norm), set as every network's */
    st->f->sum_ctx = env->sum_ctx;
    if (abp_ebm_ws_init(&st->ws, st->f, err)) return -1;
    st->zp = abp_alloc(sizeof(float) * (size_t)(env->b_local * abp_shape_numel(st->zs)), err);
    st->zpair = st->zp ? abp_alloc(sizeof(float) * (size_t)(2 * env->b_local * abp_shape_numel(st->zs)), err) : NULL;
    if (!st->zpair) return -1;
    st->hook = (abp_ebm_hook){.f = st->f, .ws = &st->ws};
    st->lv = (abp_ebm_langevin){.steps = cfg->prior.steps, .step_size = cfg->prior.step_size, .seed = cfg->seed};
    return 0;
}

int abp_ebm_prior_state_create(const abp_objective_env *env, abp_model *model, abp_shape zs,
                               abp_langevin *posterior, abp_ebm_prior_state **out, abp_err *err) {
    *out = NULL;
    abp_ebm_prior_state *st = calloc(1, sizeof *st);
    if (!st) return abp_fail(err, "out of memory");
    st->zs = zs;
    st->seed = env->cfg->seed;
    if (build(st, env, model, err)) {
        abp_ebm_prior_state_destroy(st);
        return -1;
    }
    /* the posterior's energy gets -f_a(z): its gradient through the hook */
    posterior->prior_grad = abp_ebm_prior_hook;
    posterior->prior_ctx = &st->hook;
    *out = st;
    return 0;
}

/* The batch's prior chains (a fresh short run from N(0, I) per example, keyed by its global
 * id and the iteration: the same on any number of ranks) and f_a's learning gradient from
 * both sets. */
int abp_ebm_prior_state_learn(abp_ebm_prior_state *st, const float *post, const abp_batch *b, float sums[2],
                              abp_err *err) {
    int64_t d = abp_shape_numel(st->zs);
    for (int i = 0; i < b->b; i++)
        abp_ebm_prior_start(st->seed, b->ids[i], (uint32_t)b->iteration, st->ws.noise + i * d, d);
    abp_rows_to_cns(st->ws.noise, st->zp, b->b, st->zs);
    st->lv.iteration = (uint32_t)b->iteration;
    if (abp_ebm_prior_langevin(st->f, st->zp, b->b, b->ids, &st->lv, &st->ws, err)) return -1;
    /* maximum likelihood as a loss: -(1/B) sum_post df/da + (1/B) sum_prior df/da, pair by
     * pair, so that what is zero in exact arithmetic (f's top bias, which Z absorbs) is zero */
    double sum_post = 0.0, sum_prior = 0.0;
    if (abp_ebm_prior_learn(st->f, post, st->zp, b->b, 1.0f / (float)b->B, &sum_post, &sum_prior, st->zpair, &st->ws,
                            err))
        return -1;
    sums[0] = (float)sum_post;
    sums[1] = (float)sum_prior;
    return 0;
}

/* Through the learned prior, as abp sample draws (its noise never drawn in training). */
int abp_ebm_prior_state_draw(abp_ebm_prior_state *st, int n, float *rows, abp_err *err) {
    abp_ebm_langevin lv = st->lv;
    lv.iteration = UINT32_MAX;
    return abp_ebm_prior_draw(st->f, &lv, 0, n, rows, st->zpair, &st->ws, err);
}
