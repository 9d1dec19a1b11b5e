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

#include "abp/train.h"

int64_t abp_count_nonfinite(const float *x, int64_t n) {
    int64_t bad = 0;
    for (int64_t k = 0; k < n; k++) bad += !isfinite(x[k]);
    return bad;
}

/* The layer and array (weight or bias) that hold element k of net->params, or of
 * net->grads when grads is set (both have the same layout). */
static void locate(const abp_net *net, int grads, int64_t k, const char **layer, const char **array) {
    const float *base = grads ? net->grads : net->params;
    *layer = "?", *array = "?";
    for (int i = 0; i < net->nlayers; i++) {
        const abp_layer *l = &net->layers[i];
        const float *w = grads ? l->dweight : l->weight, *b = grads ? l->dbias : l->bias;
        if (w && k >= w - base && k < w - base + l->nweight) *layer = l->name, *array = "weight";
        if (b && k >= b - base && k < b - base + l->nbias) *layer = l->name, *array = "bias";
    }
}

/* How many elements of the parameters (or gradients) are not finite, and where the first
 * one is. */
static int64_t count_and_locate(const abp_net *net, int grads, const char **layer, const char **array) {
    const float *buf = grads ? net->grads : net->params;
    int64_t count = abp_count_nonfinite(buf, net->nparams);
    if (count == 0) return 0;
    int64_t k = 0;
    while (isfinite(buf[k])) k++;
    locate(net, grads, k, layer, array);
    return count;
}

int abp_check_learning(const abp_net *net, const abp_train_cfg *cfg, int64_t iteration, double sse,
                       double bad_latents, abp_err *err) {
    long long it = (long long)iteration + 1;
    if (bad_latents != 0 || !isfinite(bad_latents)) {
        abp_fail(err, "iteration %lld: %.0f latent values became NaN or infinite in Langevin "
                             "inference; no checkpoint was written for it (the last good one, if any, is %s/checkpoint.h5). "
                             "Hint: a smaller --langevin-step-size (now %g) or fewer --langevin-steps",
                 it, bad_latents, cfg->out, cfg->step_size);
        return ABP_DIVERGED;
    }
    const char *layer, *array;
    int64_t count = count_and_locate(net, 1, &layer, &array);
    if (count > 0) {
        abp_fail(err, "iteration %lld: the gradient of %s/%s is NaN or infinite (%lld values in "
                             "all layers); no checkpoint was written for it (the last good one, if any, is %s/checkpoint.h5). "
                             "Hint: a smaller --lr (now %g) or --langevin-step-size (now %g)",
                 it, layer, array, (long long)count, cfg->out, cfg->lr, cfg->step_size);
        return ABP_DIVERGED;
    }
    if (!isfinite(sse)) {
        abp_fail(err, "iteration %lld: the loss is NaN or infinite; no checkpoint was written for it "
                 "(the last good one, if any, is %s/checkpoint.h5). Hint: a smaller --lr (now %g) or "
                             "--langevin-step-size (now %g)", it, cfg->out, cfg->lr, cfg->step_size);
        return ABP_DIVERGED;
    }
    return 0;
}

int abp_check_params(const abp_net *net, const abp_train_cfg *cfg, int64_t iteration, abp_err *err) {
    const char *layer, *array;
    int64_t count = count_and_locate(net, 0, &layer, &array);
    if (count == 0) return 0;
    abp_fail(err, "iteration %lld: the optimizer step made %s/%s NaN or infinite (%lld values in "
                         "all layers); no checkpoint was written for it (the last good one, if any, is %s/checkpoint.h5). "
                         "Hint: a smaller --lr (now %g)", (long long)iteration + 1, layer, array,
             (long long)count, cfg->out, cfg->lr);
    return ABP_DIVERGED;
}
