/* Private to src/nn: the convolutions and deconvolutions that oneDNN runs (onednn.c). */
#ifndef ABP_NN_ONEDNN_H
#define ABP_NN_ONEDNN_H

#include "abp/nn.h"

/* 1 when abp was built with oneDNN. */
int abp_onednn_available(void);
/* A context for a network of nlayers layers (its plans are made on first use), or NULL:
 * built without oneDNN, or no memory (the GEMM path then runs every layer). */
abp_onednn *abp_onednn_create(int nlayers);
void abp_onednn_free(abp_onednn *d);
/* Layer index of the network in oneDNN, when it runs there: 1 done, 0 not run (the caller
 * runs the GEMM path). backward returns -1 when oneDNN failed half-way (a gradient may have
 * been added already). */
int abp_onednn_forward(abp_onednn *d, int index, const abp_layer *l, const float *x, float *y,
                       int n, abp_profile *prof);
int abp_onednn_backward(abp_onednn *d, int index, const abp_layer *l, const float *x,
                        const float *dy, float *dx, int n, int want_param_grads,
                        abp_profile *prof);
/* 1 when the layer runs in oneDNN (as far as is known before its first call). */
int abp_onednn_runs(const abp_onednn *d, int index, const abp_layer *l);

/* The implementation oneDNN chose for the forward pass of the layer's last plan, or NULL. */
const char *abp_onednn_kernel(const abp_onednn *d, int index);
/* The bytes the plans made so far hold (blocked copies of operands, scratchpads). */
int64_t abp_onednn_bytes(const abp_onednn *d);

#endif
