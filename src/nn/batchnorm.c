/* Batch normalisation over the global batch.
 *
 * Training: per channel, mean and variance of all n*h*w values of the global batch. The
 * sums are taken in double on this rank and added over ranks through net->sum (an
 * allreduce in training; the identity for one process), so the result does not depend on
 * how the batch is split. Evaluation: the running statistics.
 *
 * Every loop runs in parallel over channels: one thread sums a channel, in order, so the
 * sums (and everything after them) are the same on any number of threads. */
#include <math.h>
#include <string.h>

#include "layers.h"

static int global_sum(abp_net *net, double *buf, int n, abp_err *err) {
    if (!net->sum) return 0;
    if (net->sum(buf, n, net->sum_ctx) != 0) return abp_fail(err, "batchnorm: global sum failed");
    return 0;
}

int abp_batchnorm_forward(abp_layer *l, const float *x, float *y, int n, abp_net *net,
                          abp_err *err) {
    int C = l->out.c;
    int64_t per = (int64_t)n * abp_shape_pixels(l->out);
    if (net->training) {
        double *s = net->stats; /* [sum x | sum x^2 | count] */
#pragma omp parallel for schedule(static) if (C * per >= ABP_PARALLEL_MIN)
        for (int c = 0; c < C; c++) {
            const float *p = x + c * per;
            double s1 = 0.0, s2 = 0.0;
            for (int64_t k = 0; k < per; k++) {
                s1 += p[k];
                s2 += (double)p[k] * p[k];
            }
            s[c] = s1;
            s[C + c] = s2;
        }
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
        const float *p = x + c * per;
        float *q = y + c * per;
        for (int64_t k = 0; k < per; k++) q[k] = p[k] * scale + shift;
    }
    return 0;
}

int abp_batchnorm_backward(abp_layer *l, const float *x, const float *dy, float *dx, int n,
                           int want_param_grads, abp_net *net, abp_err *err) {
    int C = l->out.c;
    int64_t per = (int64_t)n * abp_shape_pixels(l->out);
    if (!net->training) {
        /* Running statistics are constants: the layer is an affine map per channel. */
#pragma omp parallel for schedule(static) if (C * per >= ABP_PARALLEL_MIN)
        for (int c = 0; c < C; c++) {
            float invstd = 1.0f / sqrtf(l->running_var[c] + l->eps);
            const float *p = x + c * per, *g = dy + c * per;
            if (want_param_grads) {
                double sg = 0.0, sgx = 0.0;
                for (int64_t k = 0; k < per; k++) {
                    sg += g[k];
                    sgx += (double)g[k] * (p[k] - l->running_mean[c]) * invstd;
                }
                l->dbias[c] += (float)sg;
                l->dweight[c] += (float)sgx;
            }
            if (dx) {
                float scale = l->weight[c] * invstd;
                float *q = dx + c * per;
                for (int64_t k = 0; k < per; k++) q[k] = g[k] * scale;
            }
        }
        return 0;
    }
    double *s = net->stats; /* [sum dy | sum dy * xhat | count] */
#pragma omp parallel for schedule(static) if (C * per >= ABP_PARALLEL_MIN)
    for (int c = 0; c < C; c++) {
        const float *p = x + c * per, *g = dy + c * per;
        float mean = l->batch_mean[c], invstd = l->batch_invstd[c];
        double sg = 0.0, sgx = 0.0;
        for (int64_t k = 0; k < per; k++) {
            sg += g[k];
            sgx += (double)g[k] * (p[k] - mean) * invstd;
        }
        s[c] = sg;
        s[C + c] = sgx;
        /* The local sums are this rank's share of dbeta and dgamma; the gradient allreduce
         * adds the shares, so they must not be the global sums. */
        if (want_param_grads) {
            l->dbias[c] += (float)sg;
            l->dweight[c] += (float)sgx;
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
        const float *p = x + c * per, *g = dy + c * per;
        float *q = dx + c * per;
        for (int64_t k = 0; k < per; k++) {
            float xhat = (p[k] - mean) * invstd;
            q[k] = scale * (g[k] - mean_g - xhat * mean_gx);
        }
    }
    return 0;
}
