/* Adam and Adamax (Kingma and Ba 2015, Algorithms 1 and 2) and SGD with momentum, each one
 * loop over the parameter buffer, element-wise, so split over abp's threads with the same
 * result on any number of them. */
#include "abp/train.h"

#include <math.h>
#include <string.h>

const char *abp_opt_kind_name(abp_opt_kind kind) {
    return kind == ABP_OPT_SGD ? "sgd" : kind == ABP_OPT_ADAMAX ? "adamax" : "adam";
}

int abp_opt_kind_parse(const char *name, abp_opt_kind *kind) {
    if (!strcmp(name, "adam")) *kind = ABP_OPT_ADAM;
    else if (!strcmp(name, "sgd")) *kind = ABP_OPT_SGD;
    else if (!strcmp(name, "adamax")) *kind = ABP_OPT_ADAMAX;
    else return -1;
    return 0;
}

/* Adamax: Adam's second moment replaced by u = max(beta2 u, |g|), the exponentially weighted
 * infinity norm, which needs no bias correction; the step is lr / (1 - beta1^t) m / u. As
 * PyTorch's Adamax, eps is added to |g| inside the max, so that u > 0 even for a parameter
 * whose gradient has always been zero (its m is zero too, and so is its step). */
static void adamax_step(abp_optimizer *opt, float *restrict params, const float *restrict grads) {
    float *restrict m = opt->m, *restrict u = opt->v;
    const int64_t n = opt->n;
    const float b1 = opt->beta1, b2 = opt->beta2, eps = opt->eps;
    const float alpha = (float)(opt->lr / (1.0 - pow(b1, (double)opt->step)));
#pragma omp parallel for simd schedule(static) if (n >= ABP_PARALLEL_MIN)
    for (int64_t k = 0; k < n; k++) {
        float g = grads[k];
        m[k] = b1 * m[k] + (1.0f - b1) * g;
        u[k] = fmaxf(b2 * u[k], fabsf(g) + eps);
        params[k] -= alpha * m[k] / u[k];
    }
}

int abp_optimizer_init(abp_optimizer *opt, abp_opt_kind kind, int64_t n, float lr, float beta1,
                       float momentum, abp_err *err) {
    *opt = (abp_optimizer){.kind = kind, .lr = lr, .beta1 = beta1, .beta2 = 0.999f,
                           .eps = 1e-8f, .momentum = momentum, .n = n};
    opt->m = abp_calloc(sizeof(float) * (size_t)(n + 1), err);
    opt->v = opt->m ? abp_calloc(sizeof(float) * (size_t)(n + 1), err) : NULL;
    if (!opt->v) {
        abp_optimizer_free(opt);
        return -1;
    }
    return 0;
}

void abp_optimizer_free(abp_optimizer *opt) {
    abp_free(opt->m);
    abp_free(opt->v);
    opt->m = opt->v = NULL;
}

void abp_optimizer_step(abp_optimizer *opt, float *params, const float *grads) {
    double t0 = abp_profile_start(opt->profile);
    float *restrict m = opt->m, *restrict v = opt->v;
    const int64_t n = opt->n;
    opt->step++;
    if (opt->kind == ABP_OPT_SGD) {
        const float momentum = opt->momentum, lr = opt->lr;
#pragma omp parallel for simd schedule(static) if (n >= ABP_PARALLEL_MIN)
        for (int64_t k = 0; k < n; k++) {
            m[k] = momentum * m[k] - lr * grads[k];
            params[k] += m[k];
        }
        abp_profile_add(opt->profile, ABP_PART_OPTIMIZER, t0);
        return;
    }
    if (opt->kind == ABP_OPT_ADAMAX) {
        adamax_step(opt, params, grads);
        abp_profile_add(opt->profile, ABP_PART_OPTIMIZER, t0);
        return;
    }
    float b1 = opt->beta1, b2 = opt->beta2;
    /* Bias corrections folded into the step size, as in the Adam paper's Algorithm 1 note. */
    double c1 = 1.0 - pow(b1, (double)opt->step), c2 = 1.0 - pow(b2, (double)opt->step);
    float alpha = (float)(opt->lr * sqrt(c2) / c1);
    float eps = (float)(opt->eps * sqrt(c2));
#pragma omp parallel for simd schedule(static) if (n >= ABP_PARALLEL_MIN)
    for (int64_t k = 0; k < n; k++) {
        float g = grads[k];
        m[k] = b1 * m[k] + (1.0f - b1) * g;
        v[k] = b2 * v[k] + (1.0f - b2) * g * g;
        params[k] -= alpha * m[k] / (sqrtf(v[k]) + eps);
    }
    abp_profile_add(opt->profile, ABP_PART_OPTIMIZER, t0);
}
