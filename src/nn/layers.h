/* Private to src/nn: each layer kind's forward/backward, dispatched by layer.c. */
#ifndef ABP_NN_LAYERS_H
#define ABP_NN_LAYERS_H

#include "abp/nn.h"

/* A hot element-wise loop built once per instruction set, the loader picking the widest the
 * CPU runs (GCC's target_clones, through glibc's ifunc): the portable build is x86-64's
 * baseline (SSE2), where batch norm's loops, at L2-resident sizes, are bound by the width
 * of the arithmetic (mnist28: 0.032-0.043 against 0.023-0.026 s of an iteration built for
 * AVX-512). The floats are the same in every clone: each loop's order of operations is
 * fixed in the source and nothing is contracted into a fused multiply-add
 * (-ffp-contract=off). Not where the loop is a copy of short rows (col2im's 7- to 14-float
 * window adds were slower with 16-wide vectors). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define ABP_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define ABP_CLONES
#endif

int64_t abp_linear_scratch(const abp_layer *l, int n);
void abp_linear_forward(const abp_layer *l, const float *x, float *y, int n, float *scratch,
                        abp_profile *prof);
void abp_linear_backward(const abp_layer *l, const float *x, const float *dy, float *dx, int n,
                         int want_param_grads, float *scratch, abp_profile *prof);

int64_t abp_conv_scratch(const abp_layer *l, int n);
/* prof (NULL: none) gets the time of the GEMMs, the im2col/col2im and the bias. */
void abp_conv_forward(const abp_layer *l, const float *x, float *y, int n, float *cols,
                      abp_profile *prof);
void abp_conv_backward(const abp_layer *l, const float *x, const float *dy, float *dx, int n,
                       int want_param_grads, float *cols, abp_profile *prof);
void abp_deconv_forward(const abp_layer *l, const float *x, float *y, int n, float *cols,
                        abp_profile *prof);
void abp_deconv_backward(const abp_layer *l, const float *x, const float *dy, float *dx, int n,
                         int want_param_grads, float *cols, abp_profile *prof);

/* A convolution or deconvolution, in oneDNN where it runs the layer (index of the network;
 * onednn NULL: never), else on the GEMM path above. backward returns -1 when oneDNN failed
 * half-way through. */
void abp_conv_any_forward(const abp_layer *l, const float *x, float *y, int n, float *cols,
                          abp_onednn *onednn, int index, abp_profile *prof);
int abp_conv_any_backward(const abp_layer *l, const float *x, const float *dy, float *dx, int n,
                          int want_param_grads, float *cols, abp_onednn *onednn, int index,
                          abp_profile *prof);

int abp_batchnorm_forward(abp_layer *l, const float *x, float *y, int n, abp_net *net,
                          abp_err *err);
int abp_batchnorm_backward(abp_layer *l, const float *x, const float *dy, float *dx, int n,
                           int want_param_grads, abp_net *net, abp_err *err);

/* A batch norm and the leaky ReLU after it in one pass (batchnorm.c): y = lrelu(bn(x))
 * forward, the batch norm's output not kept; backward (after the forward pass of the same
 * x) dy is the gradient of y, and dx that of x. */
int abp_bn_lrelu_forward(abp_layer *bn, const abp_layer *lrelu, const float *x, float *y, int n, abp_net *net,
                         abp_err *err);
int abp_bn_lrelu_backward(abp_layer *bn, const abp_layer *lrelu, const float *x, const float *dy, float *dx,
                          int n, int want_param_grads, abp_net *net, abp_err *err);

void abp_pointwise_forward(const abp_layer *l, const float *x, float *y, int64_t count);
void abp_pointwise_backward(const abp_layer *l, const float *x, const float *y, const float *dy,
                            float *dx, int64_t count);

void abp_reshape_forward(const abp_layer *l, const float *x, float *y, int n);
void abp_reshape_backward(const abp_layer *l, const float *dy, float *dx, int n);

/* latent.c: the input's channels, then the code (CNS [N][n]) tiled over the positions. */
void abp_latent_forward(const abp_layer *l, const float *x, const float *code, float *y, int n);
void abp_latent_backward(const abp_layer *l, const float *dy, float *dx, float *dcode, int n);

/* head.c: y = x, and the 2N numbers of a linear map of x into the joined output (side is
 * [2N][n] of room). Backward reads their gradient from dout (the network's output gradient;
 * NULL: zero) and adds W^T of it to dx = dy. */
int64_t abp_head_scratch(const abp_layer *l, int n);
void abp_head_forward(const abp_layer *l, const float *x, float *y, float *side, float *joined, int n,
                      float *scratch, abp_profile *prof);
void abp_head_backward(const abp_layer *l, const float *x, const float *dy, float *dx, const float *dout,
                       float *side, int n, int want_param_grads, float *scratch, abp_profile *prof);

#endif
