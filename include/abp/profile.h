/* abp — where an iteration's time goes: seconds per part, for abp bench.
 *
 * A network (abp_net.profile), the Langevin loop (through its network) and the optimizer
 * (abp_optimizer.profile) add the wall time of each part they run to an abp_profile when one
 * is attached. In training none is: the cost is one test of a NULL pointer per part. */
#ifndef ABP_PROFILE_H
#define ABP_PROFILE_H

#include "abp/tensor.h"

typedef enum abp_part {
    ABP_PART_GEMM,      /* every sgemm of the linear, conv and deconv layers, and the
                         * oneDNN kernels that run the wide conv and deconv layers */
    ABP_PART_IM2COL,    /* im2col, and the linear layer's [c][n][s] <-> [n][c][s] permutations */
    ABP_PART_COL2IM,    /* col2im (with the memset of its output) */
    ABP_PART_REORDER,   /* oneDNN's layers: abp's layout into the kernel's and back */
    ABP_PART_BATCHNORM, /* batch norm's statistics and normalisation, forward and backward,
                         * with the leaky ReLU after it when the two run fused (network.c) */
    ABP_PART_POINTWISE, /* activations (but a fused lrelu), biases, reshape */
    ABP_PART_LANGEVIN,  /* the residual, the Langevin update of z and its Philox noise */
    ABP_PART_OPTIMIZER, /* Adam or SGD over the parameters */
    ABP_PART_COUNT
} abp_part;

typedef struct abp_profile {
    double seconds[ABP_PART_COUNT];
} abp_profile;

/* The part's name as abp bench prints it ("gemm", "im2col", ...). */
const char *abp_part_name(abp_part part);

/* t0 for abp_profile_add, or 0 without reading the clock when no profile is attached. */
static inline double abp_profile_start(const abp_profile *p) { return p ? abp_now() : 0.0; }
static inline void abp_profile_add(abp_profile *p, abp_part part, double t0) {
    if (p) p->seconds[part] += abp_now() - t0;
}

#endif
