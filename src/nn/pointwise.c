/* Element-wise non-linearities, and reshape (a pure re-indexing). Backward passes use the
 * saved input (relu, lrelu) or output (tanh, sigmoid), whichever is cheaper.
 *
 * The loops are written so that the compiler vectorises them: restrict pointers, the slope
 * in a local (otherwise a store to y might change l->slope, and every element reloads it),
 * and selects instead of branches (the sign of an activation is a coin flip, and a
 * mispredicted branch per element made lrelu cost 5 ns an element). */
#include <math.h>

#include "layers.h"

void abp_pointwise_forward(const abp_layer *l, const float *restrict x, float *restrict y,
                           int64_t count) {
    const float slope = l->slope;
    switch (l->kind) {
    /* Written so that a NaN input gives a NaN output: `x > 0 ? x : 0` would turn it into 0,
     * and a network with NaN weights would then print a finite loss (issue 13). Both forms
     * still vectorise as a compare and a blend. */
    case ABP_RELU:
        for (int64_t k = 0; k < count; k++) y[k] = x[k] <= 0.0f ? 0.0f : x[k];
        break;
    case ABP_LRELU:
        for (int64_t k = 0; k < count; k++) y[k] = x[k] < 0.0f ? slope * x[k] : x[k];
        break;
    case ABP_TANH:
        for (int64_t k = 0; k < count; k++) y[k] = tanhf(x[k]);
        break;
    case ABP_SIGMOID:
        for (int64_t k = 0; k < count; k++) y[k] = 1.0f / (1.0f + expf(-x[k]));
        break;
    default:
        break;
    }
}

void abp_pointwise_backward(const abp_layer *l, const float *restrict x, const float *restrict y,
                            const float *restrict dy, float *restrict dx, int64_t count) {
    const float slope = l->slope;
    switch (l->kind) {
    case ABP_RELU:
        for (int64_t k = 0; k < count; k++) dx[k] = x[k] > 0.0f ? dy[k] : 0.0f;
        break;
    case ABP_LRELU:
        for (int64_t k = 0; k < count; k++) dx[k] = (x[k] > 0.0f ? 1.0f : slope) * dy[k];
        break;
    case ABP_TANH:
        for (int64_t k = 0; k < count; k++) dx[k] = dy[k] * (1.0f - y[k] * y[k]);
        break;
    case ABP_SIGMOID:
        for (int64_t k = 0; k < count; k++) dx[k] = dy[k] * y[k] * (1.0f - y[k]);
        break;
    default:
        break;
    }
}

/* Per example the planar c*h*w order is kept: element k of example i sits at
 * [k / s][i][k % s] with s = h*w of the respective shape. */
void abp_reshape_forward(const abp_layer *l, const float *x, float *y, int n) {
    int64_t si = abp_shape_pixels(l->in), so = abp_shape_pixels(l->out);
    for (int c = 0; c < l->out.c; c++)
        for (int i = 0; i < n; i++)
            for (int64_t p = 0; p < so; p++) {
                int64_t k = (int64_t)c * so + p;
                y[((int64_t)c * n + i) * so + p] = x[((k / si) * n + i) * si + k % si];
            }
}

void abp_reshape_backward(const abp_layer *l, const float *dy, float *dx, int n) {
    int64_t si = abp_shape_pixels(l->in), so = abp_shape_pixels(l->out);
    for (int c = 0; c < l->out.c; c++)
        for (int i = 0; i < n; i++)
            for (int64_t p = 0; p < so; p++) {
                int64_t k = (int64_t)c * so + p;
                dx[((k / si) * n + i) * si + k % si] = dy[((int64_t)c * n + i) * so + p];
            }
}
