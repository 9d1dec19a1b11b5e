/* abp — tensors: the activation layout, a few BLAS wrappers, and the BLAS kernel choice.
 *
 * Activation layout (every layer, forward and backward): a batch of n examples of shape
 * c x h x w is stored channel-major as [c][n][h*w] ("CNS"). One matrix multiplication then
 * covers the whole batch (the columns of a layer's GEMM run over n and the pixels together),
 * and batch norm's per-channel statistics are one contiguous run of n*h*w floats.
 * A vector (h = w = 1) is [c][n]: the transpose of the usual row-per-example matrix. */
#ifndef ABP_TENSOR_H
#define ABP_TENSOR_H

#include <stdint.h>

#include "abp/error.h"

/* Shape of one example. */
typedef struct abp_shape {
    int c, h, w;
} abp_shape;

static inline int64_t abp_shape_numel(abp_shape s) { return (int64_t)s.c * s.h * s.w; }
static inline int64_t abp_shape_pixels(abp_shape s) { return (int64_t)s.h * s.w; }

/* Row-per-example [n][c*h*w] (how examples are stored and checkpointed) <-> CNS. */
void abp_rows_to_cns(const float *rows, float *cns, int n, abp_shape s);
void abp_cns_to_rows(const float *cns, float *rows, int n, abp_shape s);
/* Gathers rows idx[0..n) of a row-per-example matrix straight into CNS. */
void abp_gather_rows_to_cns(const float *rows, const int64_t *idx, float *cns, int n, abp_shape s);

/* C = alpha * op(A) op(B) + beta * C, row-major, single precision (cblas_sgemm). */
void abp_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
               int lda, const float *b, int ldb, float beta, float *c, int ldc);

/* ---- BLAS kernel and threads ---- */

/* OpenBLAS 0.3.21 does not recognise some recent processors and falls back to a weaker
 * kernel (generic Prescott on some Intel parts, AVX2 Haswell on AMD Zen 4/5). Call first
 * thing in main(): if the kernel is weaker than the CPU allows, sets OPENBLAS_CORETYPE and
 * re-executes the program once so that OpenBLAS's start-up code picks the right kernel.
 * An OPENBLAS_CORETYPE already in the environment is the user's choice and is kept.
 * Returns only if no re-exec was needed. */
void abp_blas_fix_kernel(int argc, char **argv);

/* The kernel OpenBLAS uses ("SkylakeX", "Haswell", "Prescott", ...). */
const char *abp_blas_kernel(void);
/* The best kernel this CPU supports ("SkylakeX", "Haswell") or NULL. */
const char *abp_blas_best_kernel(void);
/* 1 if the kernel in use is weaker than abp_blas_best_kernel() (e.g. OPENBLAS_CORETYPE
 * forced it), so that the programs can say so. */
int abp_blas_kernel_is_weaker(void);

/* Sets BLAS threads for this process; returns the number set. */
int abp_blas_set_threads(int threads);
int abp_blas_threads(void);

/* Cores this process may run on (its CPU affinity mask). */
int abp_cores_available(void);

/* Wall-clock seconds from a monotonic clock. */
double abp_now(void);
/* The peak resident memory of this process so far, in bytes (getrusage's ru_maxrss). */
double abp_peak_rss_bytes(void);



/* ---- principal component analysis (the linear baseline of the ABP paper's Table 3) ---- */

typedef struct abp_pca {
    int D, d;      /* data dimension, components kept */
    float *mean;   /* [D] */
    float *basis;  /* [d][D], orthonormal rows, largest variance first */
    float *variance; /* [d] eigenvalues of the covariance */
} abp_pca;

/* Fits PCA to n rows of D values: eigen-decomposition of the D x D covariance (LAPACK
 * ssyevd), keeping the d leading components. */
ABP_MUST_CHECK int abp_pca_fit(const float *x, int64_t n, int D, int d, abp_pca *pca, abp_err *err);
/* out = mean + B^T B (x - mean) for n rows. */
ABP_MUST_CHECK int abp_pca_reconstruct(const abp_pca *pca, const float *x, float *out, int64_t n,
                                       abp_err *err);
void abp_pca_free(abp_pca *pca);
#endif
