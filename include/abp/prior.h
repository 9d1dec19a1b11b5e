/* abp — priors over the latent space, fitted after training (no retraining).
 *
 * ABP learns persistent latents z_i that do not follow the N(0, I) the model assumes: their
 * spread, correlations and means differ, so z ~ N(0, I) lands where no training latent is
 * (the "prior hole"). Ghosh et al. (2020, "From variational to deterministic autoencoders")
 * fix this ex post by fitting a density to the latents; abp offers
 *
 *   normal      N(0, I), the prior the model was trained with;
 *   gaussian    one full-covariance Gaussian fitted to the latents (mean and covariance);
 *   gmm:K       a K-component full-covariance Gaussian mixture fitted by EM.
 *
 * A fit is a pure function of the latents, the settings and the seed: k-means++ and the
 * subsample draw from the counter RNG (purpose ABP_RNG_PRIOR_FIT), so the same call gives the
 * same mixture on any machine with the same BLAS summation order. Everything is in double. */
#ifndef ABP_PRIOR_H
#define ABP_PRIOR_H

#include <stdint.h>

#include "abp/error.h"

/* ABP_PRIOR_EBM is not fitted: it is the energy-based prior a checkpoint learned with
 * abp train --prior ebm (abp/ebm_prior.h), sampled by short-run Langevin. */
typedef enum abp_prior_kind { ABP_PRIOR_NORMAL, ABP_PRIOR_GAUSSIAN, ABP_PRIOR_GMM, ABP_PRIOR_EBM } abp_prior_kind;

typedef struct abp_prior_choice {
    abp_prior_kind kind;
    int k; /* components: 1 for gaussian, K for gmm:K, 0 for normal and ebm */
} abp_prior_choice;

/* "normal", "gaussian", "gmm:K" (K >= 1) or "ebm". what names the option in messages
 * ("--prior"). */
ABP_MUST_CHECK int abp_prior_parse(const char *text, const char *what, abp_prior_choice *choice,
                                   abp_err *err);
/* The text abp_prior_parse reads back ("gmm:10"), into buf. */
void abp_prior_format(const abp_prior_choice *choice, char *buf, int size);

/* ---------------------------------------------------------------- Gaussian mixtures */

typedef struct abp_gmm {
    int k, d;
    double *weight;   /* [k], sums to 1 */
    double *mean;     /* [k][d] */
    double *cov;      /* [k][d][d], regularised (see abp_gmm_cfg.reg) */
    double *chol;     /* [k][d][d] lower-triangular L with L L^T = cov (LAPACK dpotrf) */
    double *log_norm; /* [k] log weight - d/2 log(2 pi) - sum log L_jj */
    double log_likelihood; /* mean log density of the examples the fit used, at the end */
    int iterations;        /* EM iterations run */
    int converged;         /* the mean log-likelihood changed less than tol */
    int64_t n_used;        /* examples the fit used (the subsample, when n > max_n) */
} abp_gmm;

typedef struct abp_gmm_cfg {
    int k;            /* components */
    int max_iter;     /* EM iterations at most (300) */
    double tol;       /* stop when the mean log-likelihood gains less than this (1e-6) */
    double reg;       /* added to each covariance's diagonal, as a fraction of the mean
                       * variance of the data (1e-4): keeps Cholesky defined when a component
                       * collapses onto few points, without depending on the latents' scale */
    int64_t max_n;    /* fit to a random subsample of this many examples when n is larger
                       * (20000): EM costs O(n k d^2) per iteration */
    uint64_t seed;    /* of k-means++ and the subsample */
} abp_gmm_cfg;

void abp_gmm_defaults(abp_gmm_cfg *cfg, int k, uint64_t seed);

/* Fits a mixture to n rows of d floats: k-means++ start (then 20 Lloyd iterations), EM with
 * responsibilities by log-sum-exp in double. k = 1 is the maximum-likelihood Gaussian (the
 * sample mean and the covariance divided by n). Fewer examples than components, fewer than
 * 2, or a non-finite value is an error. */
ABP_MUST_CHECK int abp_gmm_fit(const float *x, int64_t n, int d, const abp_gmm_cfg *cfg, abp_gmm *gmm,
                               abp_err *err);

/* Builds a mixture from given weights, means and covariances (tests; n_used = 0). */
ABP_MUST_CHECK int abp_gmm_init(abp_gmm *gmm, int k, int d, const double *weight, const double *mean,
                                const double *cov, abp_err *err);

/* log p(x) of n rows of d floats into out[n]. */
ABP_MUST_CHECK int abp_gmm_log_density(const abp_gmm *gmm, const float *x, int64_t n, double *out,
                                       abp_err *err);

/* Draws samples first .. first + n - 1 (out: n rows of d floats). Sample i takes its
 * component from the uniform (seed, ABP_RNG_PRIOR, i, 1) and its noise e from the normal
 * (seed, ABP_RNG_PRIOR, i, 0), the very draw that the normal prior uses as z: the priors of
 * one seed differ only by where they put the same e. component (may be NULL) gets each
 * sample's component. */
void abp_gmm_sample(const abp_gmm *gmm, uint64_t seed, int64_t first, int64_t n, float *out,
                    int *component);

void abp_gmm_free(abp_gmm *gmm);

#endif
