/* One entry point per direction for every layer kind. */
#include "layers.h"

int64_t abp_layer_scratch(const abp_layer *l, int n) {
    switch (l->kind) {
    case ABP_LINEAR: return abp_linear_scratch(l, n);
    case ABP_CONV:
    case ABP_DECONV: return abp_conv_scratch(l, n);
    default: return 0;
    }
}

int abp_layer_forward(abp_layer *l, const float *x, float *y, int n, abp_net *net, abp_err *err) {
    switch (l->kind) {
    case ABP_LINEAR: abp_linear_forward(l, x, y, n, net->scratch); return 0;
    case ABP_CONV: abp_conv_forward(l, x, y, n, net->scratch); return 0;
    case ABP_DECONV: abp_deconv_forward(l, x, y, n, net->scratch); return 0;
    case ABP_BATCHNORM: return abp_batchnorm_forward(l, x, y, n, net, err);
    case ABP_RESHAPE: abp_reshape_forward(l, x, y, n); return 0;
    default: abp_pointwise_forward(l, x, y, abp_shape_numel(l->in) * n); return 0;
    }
}

int abp_layer_backward(abp_layer *l, const float *x, const float *y, const float *dy, float *dx,
                       int n, int want_param_grads, abp_net *net, abp_err *err) {
    switch (l->kind) {
    case ABP_LINEAR:
        abp_linear_backward(l, x, dy, dx, n, want_param_grads, net->scratch);
        return 0;
    case ABP_CONV:
        abp_conv_backward(l, x, dy, dx, n, want_param_grads, net->scratch);
        return 0;
    case ABP_DECONV:
        abp_deconv_backward(l, x, dy, dx, n, want_param_grads, net->scratch);
        return 0;
    case ABP_BATCHNORM: return abp_batchnorm_backward(l, x, dy, dx, n, want_param_grads, net, err);
    case ABP_RESHAPE:
        if (dx) abp_reshape_backward(l, dy, dx, n);
        return 0;
    default:
        if (dx) abp_pointwise_backward(l, x, y, dy, dx, abp_shape_numel(l->in) * n);
        return 0;
    }
}
