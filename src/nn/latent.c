/* A latent layer (`latent N`): the HiABP generator's "channel-wise noise adding" (Sun, Liu
 * and Zhou 2021, eq. 6), z~^l = f^l(z~^{l+1}, z^l).
 *
 * The features coming down, c x h x w per example, leave with N more channels: channel c + k
 * is the k-th number of this layer's own code z^l, the same at every one of the h x w
 * positions. The code is an N-vector per example, as eq. (6) concatenates vectors and the
 * paper's mu^l and sigma^l are linear layers "to the dimensionality of z^l"; tiling it over
 * the positions is how a vector joins a feature map, and the next (de)convolution learns
 * what it does to each of its output channels. Codes cost N numbers per example whatever
 * the resolution of the layer, so a hierarchy of L codes is a latent of modest size.
 *
 * The code is not an input of the chain: it is rows [off, off + N) of the network's one
 * latent vector per example (abp_net: the top code first, then each latent layer's code in
 * chain order), so Langevin still moves one vector, and the backward pass writes dL/dz^l
 * into the same rows of dz.
 *
 * Layout (abp/tensor.h, CNS): the input x is [c][n][s], s = h * w; the output [c + N][n][s]
 * is x followed by N planes; the code is [N][n] (a vector batch). Concatenating channels in
 * CNS is one contiguous copy. */
#include <string.h>

#include "layers.h"

void abp_latent_forward(const abp_layer *l, const float *x, const float *code, float *y, int n) {
    int64_t s = abp_shape_pixels(l->in), kept = abp_shape_numel(l->in) * n;
    int N = l->code_size;
    memcpy(y, x, sizeof(float) * (size_t)kept);
    float *planes = y + kept;
#pragma omp parallel for schedule(static) if ((int64_t)N * n * s >= ABP_PARALLEL_MIN)
    for (int k = 0; k < N; k++)
        for (int i = 0; i < n; i++) {
            float v = code[(int64_t)k * n + i], *dst = planes + ((int64_t)k * n + i) * s;
            for (int64_t p = 0; p < s; p++) dst[p] = v;
        }
}

/* dx is the gradient of the first c channels; dcode[k][i] the sum of channel c + k of
 * example i over its positions (one thread per code value, in order: the same float on any
 * number of threads). Either may be NULL (not wanted). */
void abp_latent_backward(const abp_layer *l, const float *dy, float *dx, float *dcode, int n) {
    int64_t s = abp_shape_pixels(l->in), kept = abp_shape_numel(l->in) * n;
    int N = l->code_size;
    if (dx) memcpy(dx, dy, sizeof(float) * (size_t)kept);
    if (!dcode) return;
    const float *planes = dy + kept;
#pragma omp parallel for schedule(static) if ((int64_t)N * n * s >= ABP_PARALLEL_MIN)
    for (int k = 0; k < N; k++)
        for (int i = 0; i < n; i++) {
            const float *src = planes + ((int64_t)k * n + i) * s;
            float sum = 0.0f;
            for (int64_t p = 0; p < s; p++) sum += src[p];
            dcode[(int64_t)k * n + i] = sum;
        }
}
