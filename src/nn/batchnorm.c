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
 * where the layers make two: forward it writes the batch norm's output t and the lrelu's
 * y = lrelu(t) from x in the normalising pass, so the lrelu's re-read of t is saved;
 * backward it forms the lrelu's input gradient dt = dy * (t > 0 ? 1 : slope) where batch
 * norm reads it, so dt is never written or read back. The floats are the same as the two
 * layers' (tests/test_nn.c compares them bitwise). */
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
static void sums_forward(const float *restrict p, int64_t per, double *s1, double *s2) {
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

/* The gradient reaching batch norm's output: dy itself, or through the fused lrelu. */
static inline float grad_in(const float *restrict g, const float *restrict t, float slope, int64_t k) {
    return t ? (t[k] > 0.0f ? 1.0f : slope) * g[k] : g[k];
}

/* sum g and sum g * (x - mean) * invstd over one channel, g = grad_in. */
static void sums_backward(const float *restrict p, const float *restrict g, const float *restrict t,
                          float slope, int64_t per, float mean, float invstd, double *sg, double *sgx) {
    double a[LANES] = {0}, b[LANES] = {0};
    int64_t k = 0;
    if (t) {
        for (; k + LANES <= per; k += LANES)
            for (int j = 0; j < LANES; j++) {
                float gk = (t[k + j] > 0.0f ? 1.0f : slope) * g[k + j];
                a[j] += gk;
                b[j] += (double)gk * (p[k + j] - mean) * invstd;
            }
    } else {
        for (; k + LANES <= per; k += LANES)
            for (int j = 0; j < LANES; j++) {
                a[j] += g[k + j];
                b[j] += (double)g[k + j] * (p[k + j] - mean) * invstd;
            }
    }
    for (int j = 0; k < per; k++, j++) {
        float gk = grad_in(g, t, slope, k);
        a[j] += gk;
        b[j] += (double)gk * (p[k] - mean) * invstd;
    }
    *sg = lanes_total(a);
    *sgx = lanes_total(b);
}

/* x -> t = bn(x) and, with y, y = lrelu(t). */
static int forward(abp_layer *l, const float *x, float *t, float *y, float slope, int n, abp_net *net,
                   abp_err *err) {
    int C = l->out.c;
    int64_t per = (int64_t)n * abp_shape_pixels(l->out);
    if (net->training) {
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
    }
#pragma omp parallel for schedule(static) if (C * per >= ABP_PARALLEL_MIN)
    for (int c = 0; c < C; c++) {
        float mean = net->training ? l->batch_mean[c] : l->running_mean[c];
        float invstd = net->training ? l->batch_invstd[c] : 1.0f / sqrtf(l->running_var[c] + l->eps);
        float scale = l->weight[c] * invstd, shift = l->bias[c] - mean * scale;
        const float *restrict p = x + c * per;
        float *restrict q = t + c * per;
        if (y) {
            float *restrict r = y + c * per;
            for (int64_t k = 0; k < per; k++) {
                float v = p[k] * scale + shift;
                q[k] = v;
                r[k] = v < 0.0f ? slope * v : v; /* as the lrelu layer: NaN passes on */
            }
        } else {
            for (int64_t k = 0; k < per; k++) q[k] = p[k] * scale + shift;
        }
    }
    return 0;
}

/* dy (of t, or with t given of y = lrelu(t)) -> dx and the parameter gradients. */
static int backward(abp_layer *l, const float *x, const float *t, float slope, const float *dy, float *dx,
                    int n, int want_param_grads, abp_net *net, abp_err *err) {
    int C = l->out.c;
    int64_t per = (int64_t)n * abp_shape_pixels(l->out);
    if (!net->training) {
        /* Running statistics are constants: the layer is an affine map per channel. */
#pragma omp parallel for schedule(static) if (C * per >= ABP_PARALLEL_MIN)
        for (int c = 0; c < C; c++) {
            float invstd = 1.0f / sqrtf(l->running_var[c] + l->eps);
            const float *p = x + c * per, *g = dy + c * per, *tc = t ? t + c * per : NULL;
            if (want_param_grads) {
                double sg, sgx;
                sums_backward(p, g, tc, slope, per, l->running_mean[c], invstd, &sg, &sgx);
                l->dbias[c] += (float)sg;
                l->dweight[c] += (float)sgx;
            }
            if (dx) {
                float scale = l->weight[c] * invstd;
                float *restrict q = dx + c * per;
                for (int64_t k = 0; k < per; k++) q[k] = grad_in(g, tc, slope, k) * scale;
            }
        }
        return 0;
    }
    double *s = net->stats; /* [sum dy | sum dy * xhat | count] */
#pragma omp parallel for schedule(static) if (C * per >= ABP_PARALLEL_MIN)
    for (int c = 0; c < C; c++) {
        const float *p = x + c * per, *g = dy + c * per, *tc = t ? t + c * per : NULL;
        sums_backward(p, g, tc, slope, per, l->batch_mean[c], l->batch_invstd[c], &s[c], &s[C + c]);
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
        float mean = l->batch_mean[c], invstd = l->batch_invstd[c];
        float mean_g = (float)(s[c] / count), mean_gx = (float)(s[C + c] / count);
        float scale = l->weight[c] * invstd;
        const float *restrict p = x + c * per, *restrict g = dy + c * per;
        float *restrict q = dx + c * per;
        if (t) {
            const float *restrict tc = t + c * per;
            for (int64_t k = 0; k < per; k++) {
                float xhat = (p[k] - mean) * invstd;
                float gk = (tc[k] > 0.0f ? 1.0f : slope) * g[k];
                q[k] = scale * (gk - mean_g - xhat * mean_gx);
            }
        } else {
            for (int64_t k = 0; k < per; k++) {
                float xhat = (p[k] - mean) * invstd;
                q[k] = scale * (g[k] - mean_g - xhat * mean_gx);
            }
        }
    }
    return 0;
}

int abp_batchnorm_forward(abp_layer *l, const float *x, float *y, int n, abp_net *net, abp_err *err) {
    return forward(l, x, y, NULL, 0.0f, n, net, err);
}

int abp_batchnorm_backward(abp_layer *l, const float *x, const float *dy, float *dx, int n,
                           int want_param_grads, abp_net *net, abp_err *err) {
    return backward(l, x, NULL, 0.0f, dy, dx, n, want_param_grads, net, err);
}

int abp_bn_lrelu_forward(abp_layer *bn, const abp_layer *lrelu, const float *x, float *t, float *y, int n,
                         abp_net *net, abp_err *err) {
    return forward(bn, x, t, y, lrelu->slope, n, net, err);
}

int abp_bn_lrelu_backward(abp_layer *bn, const abp_layer *lrelu, const float *x, const float *t,
                          const float *dy, float *dx, int n, int want_param_grads, abp_net *net,
                          abp_err *err) {
    return backward(bn, x, t, lrelu->slope, dy, dx, n, want_param_grads, net, err);
}
