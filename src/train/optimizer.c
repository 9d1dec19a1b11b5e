/* Adam (Kingma and Ba) and SGD with momentum, each one loop over the parameter buffer. */
#include "abp/train.h"

#include <math.h>

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
    opt->step++;
    if (opt->kind == ABP_OPT_SGD) {
        for (int64_t k = 0; k < opt->n; k++) {
            opt->m[k] = opt->momentum * opt->m[k] - opt->lr * grads[k];
            params[k] += opt->m[k];
        }
        return;
    }
    float b1 = opt->beta1, b2 = opt->beta2;
    /* Bias corrections folded into the step size, as in the Adam paper's Algorithm 1 note. */
    double c1 = 1.0 - pow(b1, (double)opt->step), c2 = 1.0 - pow(b2, (double)opt->step);
    float alpha = (float)(opt->lr * sqrt(c2) / c1);
    float eps = (float)(opt->eps * sqrt(c2));
    for (int64_t k = 0; k < opt->n; k++) {
        float g = grads[k];
        opt->m[k] = b1 * opt->m[k] + (1.0f - b1) * g;
        opt->v[k] = b2 * opt->v[k] + (1.0f - b2) * g * g;
        params[k] -= alpha * opt->m[k] / (sqrtf(opt->v[k]) + eps);
    }
}
