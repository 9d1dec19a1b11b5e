/* Numerical faults in training: a non-finite loss, gradient, latent or parameter stops the
 * run within the iteration, with a message that says where it broke and what to change.
 *
 * Why this is cheap and collective: the loop already sums the gradients over all ranks,
 * and a NaN or infinity on any rank makes the sum non-finite on every rank, so every rank
 * finds the same fault in its own copy without another message. Latents are sharded, so
 * each rank adds the count of its batch's non-finite latents to that same allreduce (a
 * spare float of the gradient buffer); the parameters after the step are identical on
 * every rank. One pass over the gradients and one over the parameters per iteration,
 * against the several passes over every activation that the iteration makes. */
#include <math.h>
#include <stdio.h>

#include "abp/model.h"
#include "abp/train.h"

int64_t abp_count_nonfinite(const float *x, int64_t n) {
    int64_t bad = 0;
    for (int64_t k = 0; k < n; k++) bad += !isfinite(x[k]);
    return bad;
}

/* The network, layer and array (weight or bias) that hold element k of the arena's
 * parameters, or of its gradients when grads is set (both have the same layout). */
static void locate(const abp_model *m, int grads, int64_t k, char *where, size_t cap) {
    const float *base = grads ? m->arena.grads : m->arena.params;
    snprintf(where, cap, "?");
    for (int n = 0; n < m->nnets; n++)
        for (int i = 0; i < m->nets[n].net.nlayers; i++) {
            const abp_layer *l = &m->nets[n].net.layers[i];
            const float *w = grads ? l->dweight : l->weight, *b = grads ? l->dbias : l->bias;
            if (w && k >= w - base && k < w - base + l->nweight)
                snprintf(where, cap, "%s/%s/weight", m->nets[n].name, l->name);
            if (b && k >= b - base && k < b - base + l->nbias)
                snprintf(where, cap, "%s/%s/bias", m->nets[n].name, l->name);
        }
}

/* How many of the arena's parameters (or gradients) are not finite, and where the first is. */
static int64_t count_and_locate(const abp_model *m, int grads, char *where, size_t cap) {
    const float *buf = grads ? m->arena.grads : m->arena.params;
    int64_t count = abp_count_nonfinite(buf, m->arena.nparams);
    if (count == 0) return 0;
    int64_t k = 0;
    while (isfinite(buf[k])) k++;
    locate(m, grads, k, where, cap);
    return count;
}

int abp_check_learning(const abp_model *m, const abp_train_cfg *cfg, int64_t iteration, double loss,
                       double bad_state, abp_err *err) {
    long long it = (long long)iteration + 1;
    if (bad_state != 0 || !isfinite(bad_state)) {
        abp_fail(err, "iteration %lld: %.0f latent (or per-example state) values became NaN or infinite in "
                      "inference; no checkpoint was written for it (the last good one, if any, is "
                      "%s/checkpoint.h5). Hint: a smaller --langevin-step-size (now %g) or fewer --langevin-steps",
                 it, bad_state, cfg->out, cfg->step_size);
        return ABP_DIVERGED;
    }
    char where[160];
    int64_t count = count_and_locate(m, 1, where, sizeof where);
    if (count > 0) {
        abp_fail(err, "iteration %lld: the gradient of %s is NaN or infinite (%lld values in all networks); "
                      "no checkpoint was written for it (the last good one, if any, is %s/checkpoint.h5). "
                      "Hint: a smaller --lr (now %g) or --langevin-step-size (now %g)",
                 it, where, (long long)count, cfg->out, cfg->lr, cfg->step_size);
        return ABP_DIVERGED;
    }
    if (!isfinite(loss)) {
        abp_fail(err, "iteration %lld: the loss is NaN or infinite; no checkpoint was written for it "
                      "(the last good one, if any, is %s/checkpoint.h5). Hint: a smaller --lr (now %g) or "
                      "--langevin-step-size (now %g)", it, cfg->out, cfg->lr, cfg->step_size);
        return ABP_DIVERGED;
    }
    return 0;
}

int abp_check_params(const abp_model *m, const abp_train_cfg *cfg, int64_t iteration, abp_err *err) {
    char where[160];
    int64_t count = count_and_locate(m, 0, where, sizeof where);
    if (count == 0) return 0;
    abp_fail(err, "iteration %lld: the optimizer step made %s NaN or infinite (%lld values in all "
                  "networks); no checkpoint was written for it (the last good one, if any, is %s/checkpoint.h5). "
                  "Hint: a smaller --lr (now %g)", (long long)iteration + 1, where, (long long)count, cfg->out, cfg->lr);
    return ABP_DIVERGED;
}
