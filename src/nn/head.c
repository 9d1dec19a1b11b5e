/* A head (`head N`): the HiABP encoder's mu^l(h^l), log sigma^l(h^l)^2 at depth l
 * (Sun, Liu and Zhou 2021, eq. 7: h^l = g^l(h^{l-1}), z_0^l ~ N(mu^l(h^l), sigma^l(h^l)^2)).
 *
 * The encoder stays one bottom-up chain: a head passes its input on unchanged (the chain's
 * next layer sees h^l) and, beside it, a linear map of h^l gives 2N numbers per example, mu
 * then log sigma^2 of this level's code, as the paper's "mu_l and sigma_l are linear layers
 * to the dimensionality of z^l". They go into the network's joined output (abp_net: the mu
 * of every level, then the log sigma^2 of every level, in the order of the generator's
 * concatenated z), at rows [mu_off, mu_off + N) and [logvar_off, logvar_off + N).
 *
 * Backward: dL/dh^l = dL/d(next layer's input) + W^T dL/d(mu, log sigma^2); the parameter
 * gradients are the linear layer's. The weights are [2N][c*h*w] with a bias [2N], stored
 * as a linear layer's (checkpoints name them NN_head/weight and NN_head/bias). */
#include <string.h>

#include "layers.h"

/* The linear map from the head's input to its 2N numbers, as a linear layer that shares
 * the head's parameters. */
static abp_layer as_linear(const abp_layer *l) {
    abp_layer lin = *l;
    lin.kind = ABP_LINEAR;
    lin.out = (abp_shape){2 * l->code_size, 1, 1};
    return lin;
}

int64_t abp_head_scratch(const abp_layer *l, int n) {
    abp_layer lin = as_linear(l);
    return abp_linear_scratch(&lin, n);
}

void abp_head_forward(const abp_layer *l, const float *x, float *y, float *side, float *joined, int n,
                      float *scratch, abp_profile *prof) {
    int64_t N = l->code_size;
    memcpy(y, x, sizeof(float) * (size_t)(abp_shape_numel(l->in) * n));
    abp_layer lin = as_linear(l);
    abp_linear_forward(&lin, x, side, n, scratch, prof); /* side: [2N][n], mu rows then log sigma^2 */
    memcpy(joined + l->code_offset * (int64_t)n, side, sizeof(float) * (size_t)(N * n));
    memcpy(joined + l->logvar_offset * (int64_t)n, side + N * n, sizeof(float) * (size_t)(N * n));
}

void abp_head_backward(const abp_layer *l, const float *x, const float *dy, float *dx, const float *dout,
                       float *side, int n, int want_param_grads, float *scratch, abp_profile *prof) {
    int64_t N = l->code_size, count = abp_shape_numel(l->in) * n;
    if (dout) {
        memcpy(side, dout + l->code_offset * (int64_t)n, sizeof(float) * (size_t)(N * n));
        memcpy(side + N * n, dout + l->logvar_offset * (int64_t)n, sizeof(float) * (size_t)(N * n));
    } else {
        memset(side, 0, sizeof(float) * (size_t)(2 * N * n)); /* a single layer timed alone (abp bench) */
    }
    abp_layer lin = as_linear(l);
    abp_linear_backward(&lin, x, side, dx, n, want_param_grads, scratch, prof); /* dx = W^T side */
    if (!dx) return;
#pragma omp parallel for simd schedule(static) if (count >= ABP_PARALLEL_MIN)
    for (int64_t k = 0; k < count; k++) dx[k] += dy[k];
}
