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
 * An OPENBLAS_CORETYPE already in the environment is the user's choice and is kept. Sets
 * libgomp's and OpenBLAS's waits in the same restart (abp_threads_fix_wait_env).
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
/* How the BLAS was built to run threads: "pthreads" (Debian's libopenblas0-pthread),
 * "OpenMP", "sequential". */
const char *abp_blas_threading(void);

/* Threads per rank for the BLAS and for abp's own loops (OpenMP) alike; returns the BLAS's
 * count. abp's loops split only element-wise work or whole channels/examples, never a sum,
 * so their results do not depend on the thread count (only the BLAS's may). */
int abp_threads_set(int threads);
/* Sets GOMP_SPINCOUNT=10000 unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set, and with the
 * pthreads build of OpenBLAS OPENBLAS_THREAD_TIMEOUT=4 unless it is set; 1 if it set either
 * (the process must then start again for them to be read: abp_blas_fix_kernel does). */
int abp_threads_fix_wait_env(void);
/* The threads abp's own parallel loops use. */
int abp_loop_threads(void);

/* Loops over fewer elements than this run on one thread: starting a parallel region costs a
 * few microseconds, as much as a few thousand element operations. */
#define ABP_PARALLEL_MIN 32768

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
 * dsyevd, in double), keeping the d leading components. */
ABP_MUST_CHECK int abp_pca_fit(const float *x, int64_t n, int D, int d, abp_pca *pca, abp_err *err);
/* The same in steps, for data split over ranks (abp pca): sum[D] += the n rows; then, with
 * mean = the sum over all examples / n_total, scatter[D][D] (upper triangle) += the sum of
 * (x - mean)(x - mean)^T over the rows; then the fit from the totals of both. */
void abp_pca_add_sum(const float *x, int64_t n, int D, double *sum);
ABP_MUST_CHECK int abp_pca_add_scatter(const float *x, int64_t n, int D, const double *mean,
                                       double *scatter, abp_err *err);
ABP_MUST_CHECK int abp_pca_from_moments(const double *mean, const double *scatter, int64_t n_total,
                                        int D, int d, abp_pca *pca, abp_err *err);
/* out = mean + B^T B (x - mean) for n rows. */
ABP_MUST_CHECK int abp_pca_reconstruct(const abp_pca *pca, const float *x, float *out, int64_t n,
                                       abp_err *err);
void abp_pca_free(abp_pca *pca);

/* ---- vector auto-regression of latent sequences (dynamic textures, Doretto et al. 2003) ----
 *
 *     z_{t+1} - m = A (z_t - m) + e_t,   e_t ~ N(0, Q),
 *
 * with m the mean latent of the sequence. Matrices are d x d, row-major, in double. */

typedef struct abp_var {
    int d;
    double *mean;             /* [d] m */
    double *A;                /* [d][d] transition */
    double *Q;                /* [d][d] covariance of the innovations */
    double *noise;            /* [d][d] a square root S of Q (S S^T = Q) */
    double spectral_radius;   /* max |eigenvalue of A|: the process is stable only below 1 */
    double residual_variance; /* trace(Q) / d: the variance a step cannot predict */
    int rank;                 /* rank of the regressors (< d: the latents are linearly dependent) */
} abp_var;

/* What an ABP_RNG_VAR draw is for (its `b`). */
enum { ABP_VAR_INNOVATION = 0, ABP_VAR_START = 1 };

/* A process with the given m (NULL: zero), A and Q; works out S and the spectral radius. */
ABP_MUST_CHECK int abp_var_init(abp_var *var, int d, const double *mean, const double *A,
                                const double *Q, abp_err *err);

/* Fits m, A (least squares, LAPACK dgelsd) and Q (residual covariance, divided by the
 * residual degrees of freedom) to the sequence z_0 .. z_{T-1}, T rows of d floats in time
 * order. Needs T >= d + 2; fewer frames, or a non-finite latent, is an error. */
ABP_MUST_CHECK int abp_var_fit(const float *z, int64_t T, int d, abp_var *var, abp_err *err);

/* out[0] = z0, out[t] = m + A (out[t-1] - m) + S e_t for t = 1 .. n-1, with e_t ~ N(0, I)
 * from the counter RNG (seed, ABP_RNG_VAR, t, ABP_VAR_INNOVATION): n rows of d floats. */
ABP_MUST_CHECK int abp_var_simulate(const abp_var *var, const float *z0, int64_t n, uint64_t seed,
                                    float *out, abp_err *err);

void abp_var_free(abp_var *var);

#endif
