/* Batch normalisation over the global batch, alone or fused with the leaky ReLU after it.
 *
 * Training: per channel, mean and variance of all n*h*w values of the global batch. The
 * sums are taken in double on this rank and added over ranks through net->sum (an
 * allreduce in training; the identity for one process), so the result does not depend on
 * how the batch is split. Evaluation: the running statistics.
 *
 * Every loop runs in parallel over channels: one thread sums a channel, in a fixed order
 * (below), so the sums (and everything after them) are the same on any number of threads.
 *
 * In the generators a batch norm is always followed by a leaky ReLU. The fused pair
 * (abp_bn_lrelu_forward/backward, which network.c runs for such a pair) makes one pass
 * where the layers make two, and keeps nothing in between: forward it writes only the
 * lrelu's y = lrelu(t), t = bn(x) never leaving the normalising pass (network.c allocates
 * no activation for it); backward it forms the lrelu's input gradient
 * dt = dy * (t > 0 ? 1 : slope) where batch norm reads dy, with t recomputed from x, so
 * that neither t nor dt is written or read back. The recomputed t is bitwise the forward's:
 * per channel t = x * scale + shift, scale and shift formed by the one channel_affine from
 * the same statistics (the batch's, saved by the forward pass, or the running ones), and
 * the multiply and the add are two roundings each time, never one fused multiply-add
 * (-ffp-contract=off, set for this file in CMakeLists.txt: the AVX-512 and AVX2 clones of
 * the loops, ABP_CLONES, have FMA to contract to). So the mask, and every float, are the two layers' (tests/test_nn.c compares them
 * bitwise). */
#include <math.h>
#include <string.h>

#include "layers.h"

static int global_sum(abp_net *net, double *buf, int n, abp_err *err) {
    if (!net->sum) return 0;
    if (net->sum(buf, n, net->sum_ctx) != 0) return abp_fail(err, "batchnorm: global sum failed");
    return 0;
}

/* Channel sums in LANES running sums, value k in lane k % LANES, and the lanes added in
 * order at the end: a fixed order (so the same double on any number of threads), and one
 * the compiler vectorises, where a single running sum in double is a chain of dependent
 * adds (one add's latency, 4 cycles, per value: most of what batch norm cost). */
enum { LANES = 8 };

static double lanes_total(const double *a) {
    double s = 0.0;
    for (int j = 0; j < LANES; j++) s += a[j];
    return s;
}

/* sum x and sum x^2 over one channel. */
ABP_CLONES static void sums_forward(const float *restrict p, int64_t per, double *s1, double *s2) {
    double a[LANES] = {0}, b[LANES] = {0};
    int64_t k = 0;
    for (; k + LANES <= per; k += LANES)
        for (int j = 0; j < LANES; j++) {
            double v = p[k + j];
            a[j] += v;
            b[j] += v * v;
        }
    for (int j = 0; k < per; k++, j++) {
        double v = p[k];
        a[j] += v;
        b[j] += v * v;
    }
    *s1 = lanes_total(a);
    *s2 = lanes_total(b);
}

/* Batch norm per channel is the affine map t = x * scale + shift, with the statistics of
 * the pass: the batch's in training, the running ones in evaluation. One function forms
 * scale and shift for the forward and the backward pass, so that backward's t is the very
 * float forward made (see the top of the file). */
typedef struct affine {
    float scale, shift;
} affine;

static inline float channel_mean(const abp_layer *l, int c, int training) {
    return training ? l->batch_mean[c] : l->running_mean[c];
}

static inline float channel_invstd(const abp_layer *l, int c, int training) {
    return training ? l->batch_invstd[c] : 1.0f / sqrtf(l->running_var[c] + l->eps);
}

static inline affine channel_affine(const abp_layer *l, int c, int training) {
    float scale = l->weight[c] * channel_invstd(l, c, training);
    return (affine){scale, l->bias[c] - channel_mean(l, c, training) * scale};
}

static inline float bn_value(float x, affine a) { return x * a.scale + a.shift; }

/* The fused lrelu's derivative at value x of the batch norm's input: 1 where t > 0, else
 * the slope (t recomputed from x, not read back). */
static inline float lrelu_slope_at(float x, affine a, float slope) {
    return bn_value(x, a) > 0.0f ? 1.0f : slope;
}

/* The gradient reaching batch norm's output: dy itself, or (fused) through the lrelu. */
static inline float grad_in(const float *restrict p, const float *restrict g, int fused, affine a, float slope,
                            int64_t k) {
    return fused ? lrelu_slope_at(p[k], a, slope) * g[k] : g[k];
}

/* sum g and sum g * (x - mean) * invstd over one channel, g = grad_in. */
ABP_CLONES static void sums_backward(const float *restrict p, const float *restrict g, int fused, affine a, float slope,
                          int64_t per, float mean, float invstd, double *sg, double *sgx) {
    double s1[LANES] = {0}, s2[LANES] = {0};
    int64_t k = 0;
    if (fused) {
        for (; k + LANES <= per; k += LANES)
            for (int j = 0; j < LANES; j++) {
                float gk = lrelu_slope_at(p[k + j], a, slope) * g[k + j];
                s1[j] += gk;
                s2[j] += (double)gk * (p[k + j] - mean) * invstd;
            }
    } else {
        for (; k + LANES <= per; k += LANES)
            for (int j = 0; j < LANES; j++) {
                s1[j] += g[k + j];
                s2[j] += (double)g[k + j] * (p[k + j] - mean) * invstd;
            }
    }
    for (int j = 0; k < per; k++, j++) {
        float gk = grad_in(p, g, fused, a, slope, k);
        s1[j] += gk;
        s2[j] += (double)gk * (p[k] - mean) * invstd;
    }
    *sg = lanes_total(s1);
    *sgx = lanes_total(s2);
}

/* The training statistics of the global batch: batch_mean, batch_invstd and (if asked)
 * the running statistics. */
static int batch_statistics(abp_layer *l, const float *x, int64_t per, abp_net *net, abp_err *err) {
    int C = l->out.c;
    double *s = net->stats; /* [sum x | sum x^2 | count] */
#pragma omp parallel for schedule(static) if (C * per >= ABP_PARALLEL_MIN)
    for (int c = 0; c < C; c++) sums_forward(x + c * per, per, &s[c], &s[C + c]);
    s[2 * C] = (double)per;
    if (global_sum(net, s, 2 * C + 1, err)) return -1;
    double count = s[2 * C];
    for (int c = 0; c < C; c++) {
        double mean = s[c] / count;
        double var = s[C + c] / count - mean * mean;
        if (var < 0.0) var = 0.0;
        l->batch_mean[c] = (float)mean;
        l->batch_invstd[c] = (float)(1.0 / sqrt(var + l->eps));
        if (net->update_running) {
            double unbiased = count > 1.0 ? var * count / (count - 1.0) : var;
            l->running_mean[c] = (float)((1.0 - l->momentum) * l->running_mean[c] + l->momentum * mean);
            l->running_var[c] = (float)((1.0 - l->momentum) * l->running_var[c] + l->momentum * unbiased);
        }
    }
    return 0;
}

/* One channel of the forward pass: q = bn(p), or (fused) q = lrelu(bn(p)). */
ABP_CLONES static void normalize_channel(const float *restrict p, float *restrict q, int64_t per, affine a, int fused,
                                         float slope) {
    if (fused) {
        for (int64_t k = 0; k < per; k++) {
            float v = bn_value(p[k], a);
            q[k] = v < 0.0f ? slope * v : v; /* as the lrelu layer: NaN passes on */
        }
    } else {
        for (int64_t k = 0; k < per; k++) q[k] = bn_value(p[k], a);
    }
}

/* One channel of the backward pass in training: q = dx from the batch's statistics and the
 * global means of g and g * xhat. */
ABP_CLONES static void grad_channel(const float *restrict p, const float *restrict g, float *restrict q, int64_t per,
                                    float mean, float invstd, float mean_g, float mean_gx, affine a, int fused,
                                    float slope) {
    if (fused) {
        for (int64_t k = 0; k < per; k++) {
            float xhat = (p[k] - mean) * invstd;
            float gk = lrelu_slope_at(p[k], a, slope) * g[k];
            q[k] = a.scale * (gk - mean_g - xhat * mean_gx);
        }
    } else {
        for (int64_t k = 0; k < per; k++) {
            float xhat = (p[k] - mean) * invstd;
            q[k] = a.scale * (g[k] - mean_g - xhat * mean_gx);
        }
    }
}

/* x -> y = bn(x), or (fused) y = lrelu(bn(x)). */
static int forward(abp_layer *l, const float *x, float *y, int fused, float slope, int n, abp_net *net,
                   abp_err *err) {
    int C = l->out.c;
    int64_t per = (int64_t)n * abp_shape_pixels(l->out);
    if (net->training && batch_statistics(l, x, per, net, err)) return -1;
#pragma omp parallel for schedule(static) if (C * per >= ABP_PARALLEL_MIN)
    for (int c = 0; c < C; c++) normalize_channel(x + c * per, y + c * per, per, channel_affine(l, c, net->training), fused, slope);
    return 0;
}

/* dy (of bn(x), or fused of lrelu(bn(x))) -> dx and the parameter gradients. */
static int backward(abp_layer *l, const float *x, int fused, float slope, const float *dy, float *dx, int n,
                    int want_param_grads, abp_net *net, abp_err *err) {
    int C = l->out.c;
    int64_t per = (int64_t)n * abp_shape_pixels(l->out);
    if (!net->training) {
        /* Running statistics are constants: the layer is an affine map per channel. */
#pragma omp parallel for schedule(static) if (C * per >= ABP_PARALLEL_MIN)
        for (int c = 0; c < C; c++) {
            affine a = channel_affine(l, c, 0);
            const float *p = x + c * per, *g = dy + c * per;
            if (want_param_grads) {
                double sg, sgx;
                sums_backward(p, g, fused, a, slope, per, l->running_mean[c], channel_invstd(l, c, 0), &sg, &sgx);
                l->dbias[c] += (float)sg;
                l->dweight[c] += (float)sgx;
            }
            if (dx) {
                float *restrict q = dx + c * per;
                for (int64_t k = 0; k < per; k++) q[k] = grad_in(p, g, fused, a, slope, k) * a.scale;
            }
        }
        return 0;
    }
    double *s = net->stats; /* [sum dy | sum dy * xhat | count] */
#pragma omp parallel for schedule(static) if (C * per >= ABP_PARALLEL_MIN)
    for (int c = 0; c < C; c++) {
        const float *p = x + c * per, *g = dy + c * per;
        sums_backward(p, g, fused, channel_affine(l, c, 1), slope, per, l->batch_mean[c], l->batch_invstd[c],
                      &s[c], &s[C + c]);
        /* The local sums are this rank's share of dbeta and dgamma; the gradient allreduce
         * adds the shares, so they must not be the global sums. */
        if (want_param_grads) {
            l->dbias[c] += (float)s[c];
            l->dweight[c] += (float)s[C + c];
        }
    }
    if (!dx) return 0;
    s[2 * C] = (double)per;
    if (global_sum(net, s, 2 * C + 1, err)) return -1;
    double count = s[2 * C];
#pragma omp parallel for schedule(static) if (C * per >= ABP_PARALLEL_MIN)
    for (int c = 0; c < C; c++) {
        float mean_g = (float)(s[c] / count), mean_gx = (float)(s[C + c] / count);
        grad_channel(x + c * per, dy + c * per, dx + c * per, per, l->batch_mean[c], l->batch_invstd[c], mean_g,
                     mean_gx, channel_affine(l, c, 1), fused, slope);
    }
    return 0;
}

int abp_batchnorm_forward(abp_layer *l, const float *x, float *y, int n, abp_net *net, abp_err *err) {
    return forward(l, x, y, 0, 0.0f, n, net, err);
}

int abp_batchnorm_backward(abp_layer *l, const float *x, const float *dy, float *dx, int n,
                           int want_param_grads, abp_net *net, abp_err *err) {
    return backward(l, x, 0, 0.0f, dy, dx, n, want_param_grads, net, err);
}

int abp_bn_lrelu_forward(abp_layer *bn, const abp_layer *lrelu, const float *x, float *y, int n, abp_net *net,
                         abp_err *err) {
    return forward(bn, x, y, 1, lrelu->slope, n, net, err);
}

int abp_bn_lrelu_backward(abp_layer *bn, const abp_layer *lrelu, const float *x, const float *dy, float *dx,
                          int n, int want_param_grads, abp_net *net, abp_err *err) {
    return backward(bn, x, 1, lrelu->slope, dy, dx, n, want_param_grads, net, err);
}
