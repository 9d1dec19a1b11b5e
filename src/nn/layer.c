/* One entry point per direction for every layer kind. Layers that are not GEMMs are timed
 * here (when a profile is attached); the GEMM layers time their own parts. */
#include "layers.h"
#include "onednn.h"

int64_t abp_layer_scratch(const abp_layer *l, int n) {
    switch (l->kind) {
    case ABP_LINEAR: return abp_linear_scratch(l, n);
    case ABP_CONV:
    case ABP_DECONV: return abp_conv_scratch(l, n);
    case ABP_HEAD: return abp_head_scratch(l, n);
    default: return 0;
    }
}

int abp_layer_forward(abp_layer *l, const float *x, float *y, int n, abp_net *net, abp_err *err) {
    abp_profile *prof = net->profile;
    double t0 = abp_profile_start(prof);
    int rc = 0;
    switch (l->kind) {
    case ABP_LINEAR: abp_linear_forward(l, x, y, n, net->scratch, prof); return 0;
    case ABP_CONV:
    case ABP_DECONV:
        abp_conv_any_forward(l, x, y, n, net->scratch, net->onednn, (int)(l - net->layers), prof);
        return 0;
    case ABP_BATCHNORM:
        rc = abp_batchnorm_forward(l, x, y, n, net, err);
        abp_profile_add(prof, ABP_PART_BATCHNORM, t0);
        return rc;
    case ABP_HEAD: abp_head_forward(l, x, y, net->side, net->joined, n, net->scratch, prof); return 0;
    case ABP_RESHAPE: abp_reshape_forward(l, x, y, n); break;
    case ABP_LATENT: /* the code is rows [off, off + N) of the network's latent, act[0] */
        abp_latent_forward(l, x, net->act[0] + (int64_t)l->code_offset * n, y, n);
        break;
    default: abp_pointwise_forward(l, x, y, abp_shape_numel(l->in) * n); break;
    }
    abp_profile_add(prof, ABP_PART_POINTWISE, t0);
    return 0;
}

int abp_layer_backward(abp_layer *l, const float *x, const float *y, const float *dy, float *dx,
                       int n, int want_param_grads, abp_net *net, abp_err *err) {
    abp_profile *prof = net->profile;
    double t0 = abp_profile_start(prof);
    int rc = 0;
    switch (l->kind) {
    case ABP_LINEAR:
        abp_linear_backward(l, x, dy, dx, n, want_param_grads, net->scratch, prof);
        return 0;
    case ABP_CONV:
    case ABP_DECONV:
        if (abp_conv_any_backward(l, x, dy, dx, n, want_param_grads, net->scratch, net->onednn,
                                  (int)(l - net->layers), prof))
            return abp_fail(err, "layer %s: oneDNN failed in the backward pass", l->name);
        return 0;
    case ABP_BATCHNORM:
        rc = abp_batchnorm_backward(l, x, dy, dx, n, want_param_grads, net, err);
        abp_profile_add(prof, ABP_PART_BATCHNORM, t0);
        return rc;
    case ABP_HEAD:
        abp_head_backward(l, x, dy, dx, net->bw_dout, net->side, n, want_param_grads, net->scratch, prof);
        return 0;
    case ABP_RESHAPE:
        if (dx) abp_reshape_backward(l, dy, dx, n);
        break;
    case ABP_LATENT: /* dL/dz^l goes to the same rows of the network's dz, if wanted */
        abp_latent_backward(l, dy, dx, net->bw_dz ? net->bw_dz + (int64_t)l->code_offset * n : NULL, n);
        break;
    default:
        if (dx) abp_pointwise_backward(l, x, y, dy, dx, abp_shape_numel(l->in) * n);
        break;
    }
    abp_profile_add(prof, ABP_PART_POINTWISE, t0);
    return 0;
}
