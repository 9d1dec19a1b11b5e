/* Full-covariance Gaussian mixtures fitted by EM (Dempster, Laird and Rubin 1977), the ex-post
 * prior of Ghosh et al. (2020) for the latents of a deterministic generator.
 *
 *   start   k-means++ centres (Arthur and Vassilvitskii 2007) from the counter RNG, then 20
 *           Lloyd iterations; weights, means and covariances from that hard assignment.
 *   E step  log N(x; mu_j, S_j) = log_norm_j - |L_j^{-1} (x - mu_j)|^2 / 2 with S_j = L_j L_j^T
 *           (one triangular solve per component for all rows, BLAS dtrsm); responsibilities
 *           r_ij = exp(log p_ij - log sum_j p_ij) by log-sum-exp, since the densities of
 *           30-dimensional latents underflow a double long before they are negligible.
 *   M step  N_j = sum_i r_ij, w_j = N_j / n, mu_j = sum_i r_ij x_i / N_j,
 *           S_j = sum_i r_ij (x_i - mu_j)(x_i - mu_j)^T / N_j + reg I (BLAS dsyrk), then
 *           Cholesky (LAPACK dpotrf).
 *
 * Written here rather than taken from a library because Debian has no C library for
 * full-covariance mixtures, and EM is fifty lines on top of BLAS and LAPACK. */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "abp/prior.h"
#include "abp/rng.h"

enum { LLOYD_ITERATIONS = 20, KMEANS_RESTARTS = 4 };

/* What an ABP_RNG_PRIOR_FIT draw is for (its `a`). */
enum { FIT_SUBSAMPLE = 0, FIT_KMEANS = 1 };

void abp_gmm_defaults(abp_gmm_cfg *cfg, int k, uint64_t seed) {
    cfg->k = k;
    cfg->max_iter = 300;
    cfg->tol = 1e-6;
    cfg->reg = 1e-4;
    cfg->max_n = 20000;
    cfg->seed = seed;
}

void abp_gmm_free(abp_gmm *gmm) {
    abp_free(gmm->weight);
    abp_free(gmm->mean);
    abp_free(gmm->cov);
    abp_free(gmm->chol);
    abp_free(gmm->log_norm);
    memset(gmm, 0, sizeof *gmm);
}

static int gmm_alloc(abp_gmm *gmm, int k, int d, abp_err *err) {
    memset(gmm, 0, sizeof *gmm);
    size_t kdd = (size_t)k * d * d;
    gmm->k = k, gmm->d = d;
    gmm->weight = abp_alloc(sizeof(double) * (size_t)k, err);
    gmm->mean = gmm->weight ? abp_alloc(sizeof(double) * (size_t)k * d, err) : NULL;
    gmm->cov = gmm->mean ? abp_alloc(sizeof(double) * kdd, err) : NULL;
    gmm->chol = gmm->cov ? abp_alloc(sizeof(double) * kdd, err) : NULL;
    gmm->log_norm = gmm->chol ? abp_alloc(sizeof(double) * (size_t)k, err) : NULL;
    if (!gmm->log_norm) {
        abp_gmm_free(gmm);
        return -1;
    }
    return 0;
}

/* chol_j and log_norm_j from cov_j and weight_j. */
static int factor_component(abp_gmm *gmm, int j, abp_err *err) {
    int d = gmm->d;
    double *l = gmm->chol + (size_t)j * d * d;
    memcpy(l, gmm->cov + (size_t)j * d * d, sizeof(double) * (size_t)d * d);
    lapack_int info = LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', d, l, d);
    if (info != 0)
        return abp_fail(err, "Gaussian mixture: covariance %d is not positive definite (LAPACK dpotrf "
                        "info %d)", j, (int)info);
    double log_det_half = 0.0;
    for (int a = 0; a < d; a++) {
        for (int b = a + 1; b < d; b++) l[(size_t)a * d + b] = 0.0; /* dpotrf leaves the upper part */
        log_det_half += log(l[(size_t)a * d + a]);
    }
    gmm->log_norm[j] = log(gmm->weight[j]) - 0.5 * d * log(2.0 * M_PI) - log_det_half;
    return 0;
}

int abp_gmm_init(abp_gmm *gmm, int k, int d, const double *weight, const double *mean,
                 const double *cov, abp_err *err) {
    if (k < 1 || d < 1) return abp_fail(err, "Gaussian mixture: %d components of dimension %d", k, d);
    if (gmm_alloc(gmm, k, d, err)) return -1;
    memcpy(gmm->weight, weight, sizeof(double) * (size_t)k);
    memcpy(gmm->mean, mean, sizeof(double) * (size_t)k * d);
    memcpy(gmm->cov, cov, sizeof(double) * (size_t)k * d * d);
    for (int j = 0; j < k; j++)
        if (factor_component(gmm, j, err)) {
            abp_gmm_free(gmm);
            return -1;
        }
    return 0;
}

/* logp[i][j] = log w_j + log N(x_i; mu_j, S_j) for n rows x (double, [n][d]); y is room for
 * n * d doubles. */
static void component_log_probs(const abp_gmm *gmm, const double *x, int64_t n, double *logp, double *y) {
    int k = gmm->k, d = gmm->d;
    for (int j = 0; j < k; j++) {
        const double *mu = gmm->mean + (size_t)j * d;
        for (int64_t i = 0; i < n; i++)
            for (int a = 0; a < d; a++) y[i * d + a] = x[i * d + a] - mu[a];
        /* Y := Y L^{-T}: row i becomes (L^{-1} (x_i - mu))^T. */
        cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans, CblasNonUnit, (int)n, d, 1.0,
                    gmm->chol + (size_t)j * d * d, d, y, d);
        for (int64_t i = 0; i < n; i++) {
            double q = 0.0;
            for (int a = 0; a < d; a++) q += y[i * d + a] * y[i * d + a];
            logp[i * k + j] = gmm->log_norm[j] - 0.5 * q;
        }
    }
}

/* Turns row i of logp into responsibilities in place; returns log sum_j exp(logp_ij). */
static double normalise_row(double *row, int k) {
    double top = row[0];
    for (int j = 1; j < k; j++) top = fmax(top, row[j]);
    double s = 0.0;
    for (int j = 0; j < k; j++) s += exp(row[j] - top);
    double lse = top + log(s);
    for (int j = 0; j < k; j++) row[j] = exp(row[j] - lse);
    return lse;
}

int abp_gmm_log_density(const abp_gmm *gmm, const float *x, int64_t n, double *out, abp_err *err) {
    int k = gmm->k, d = gmm->d;
    double *xd = abp_alloc(sizeof(double) * (size_t)(n * d), err);
    double *y = xd ? abp_alloc(sizeof(double) * (size_t)(n * d), err) : NULL;
    double *logp = y ? abp_alloc(sizeof(double) * (size_t)(n * k), err) : NULL;
    if (!logp) {
        abp_free(xd);
        abp_free(y);
        return -1;
    }
    for (int64_t e = 0; e < n * d; e++) xd[e] = x[e];
    component_log_probs(gmm, xd, n, logp, y);
    for (int64_t i = 0; i < n; i++) out[i] = normalise_row(logp + i * k, k);
    abp_free(xd);
    abp_free(y);
    abp_free(logp);
    return 0;
}

static double sq_dist(const double *a, const double *b, int d) {
    double s = 0.0;
    for (int t = 0; t < d; t++) s += (a[t] - b[t]) * (a[t] - b[t]);
    return s;
}

/* k-means++ seeding then Lloyd's iterations: centres [k][d] and each row's cluster; returns
 * the sum of squared distances to the centres. restart is part of the RNG key. */
static double kmeans(const double *x, int64_t n, int d, int k, uint64_t seed, uint32_t restart,
                     double *centre, int *label, double *dist2) {
    double u;
    abp_rng_uniform(seed, ABP_RNG_PRIOR_FIT, FIT_KMEANS, 0, restart, &u, 1);
    int64_t pick = (int64_t)(u * (double)n);
    memcpy(centre, x + pick * d, sizeof(double) * (size_t)d);
    for (int64_t i = 0; i < n; i++) dist2[i] = sq_dist(x + i * d, centre, d);
    for (int j = 1; j < k; j++) {
        /* The next centre is row i with probability dist2[i] / sum dist2. */
        double total = 0.0;
        for (int64_t i = 0; i < n; i++) total += dist2[i];
        abp_rng_uniform(seed, ABP_RNG_PRIOR_FIT, FIT_KMEANS, (uint32_t)j, restart, &u, 1);
        if (total > 0.0) {
            double target = u * total, run = 0.0;
            pick = n - 1;
            for (int64_t i = 0; i < n; i++) {
                run += dist2[i];
                if (run > target) {
                    pick = i;
                    break;
                }
            }
        } else {
            pick = (int64_t)(u * (double)n); /* every row is a centre already */
        }
        memcpy(centre + (size_t)j * d, x + pick * d, sizeof(double) * (size_t)d);
        for (int64_t i = 0; i < n; i++) dist2[i] = fmin(dist2[i], sq_dist(x + i * d, centre + (size_t)j * d, d));
    }
    double inertia = 0.0;
    for (int it = 0; it <= LLOYD_ITERATIONS; it++) {
        int changed = 0;
        inertia = 0.0;
        for (int64_t i = 0; i < n; i++) {
            int best = 0;
            double bd = sq_dist(x + i * d, centre, d);
            for (int j = 1; j < k; j++) {
                double dj = sq_dist(x + i * d, centre + (size_t)j * d, d);
                if (dj < bd) bd = dj, best = j;
            }
            if (it == 0 || label[i] != best) changed = 1;
            label[i] = best;
            inertia += bd;
        }
        if (!changed || it == LLOYD_ITERATIONS) break;
        for (int j = 0; j < k; j++) {
            double *c = centre + (size_t)j * d;
            int64_t m = 0;
            for (int64_t i = 0; i < n; i++)
                if (label[i] == j) m++;
            if (m == 0) continue; /* an empty cluster keeps its centre */
            for (int t = 0; t < d; t++) c[t] = 0.0;
            for (int64_t i = 0; i < n; i++)
                if (label[i] == j)
                    for (int t = 0; t < d; t++) c[t] += x[i * d + t];
            for (int t = 0; t < d; t++) c[t] /= (double)m;
        }
    }
    return inertia;
}

/* The best of KMEANS_RESTARTS k-means runs (least squared distance): one unlucky k-means++
 * draw can put two centres in one cluster, and EM seldom pulls them apart. best_centre and
 * best_label get the winner, count each cluster's size; centre, label and dist2 are room. */
static void kmeans_best(const double *x, int64_t n, int d, int k, uint64_t seed, double *best_centre,
                        int *best_label, int64_t *count, double *centre, int *label, double *dist2) {
    double best = INFINITY;
    for (uint32_t r = 0; r < KMEANS_RESTARTS; r++) {
        double inertia = kmeans(x, n, d, k, seed, r, centre, label, dist2);
        if (inertia < best) {
            best = inertia;
            memcpy(best_centre, centre, sizeof(double) * (size_t)k * d);
            memcpy(best_label, label, sizeof(int) * (size_t)n);
        }
    }
    memset(count, 0, sizeof(int64_t) * (size_t)k);
    for (int64_t i = 0; i < n; i++) count[best_label[i]]++;
}

/* Weighted mean and covariance (+ reg I) of the rows of x, row i with weight r[i * stride]
 * (NULL: all 1), total weight total; w is room for n * d doubles. */
static void weighted_moments(const double *x, int64_t n, int d, const double *r, int stride, double total,
                             double reg, double *mean, double *cov, double *w) {
    for (int a = 0; a < d; a++) mean[a] = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double ri = r ? r[i * stride] : 1.0;
        for (int a = 0; a < d; a++) mean[a] += ri * x[i * d + a];
    }
    for (int a = 0; a < d; a++) mean[a] /= total;
    for (int64_t i = 0; i < n; i++) {
        double s = sqrt(r ? r[i * stride] : 1.0);
        for (int a = 0; a < d; a++) w[i * d + a] = s * (x[i * d + a] - mean[a]);
    }
    cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, d, (int)n, 1.0 / total, w, d, 0.0, cov, d);
    for (int a = 0; a < d; a++) {
        for (int b = a + 1; b < d; b++) cov[(size_t)a * d + b] = cov[(size_t)b * d + a];
        cov[(size_t)a * d + a] += reg;
    }
}

int abp_gmm_fit(const float *x, int64_t n, int d, const abp_gmm_cfg *cfg, abp_gmm *gmm, abp_err *err) {
    memset(gmm, 0, sizeof *gmm);
    int k = cfg->k;
    if (k < 1) return abp_fail(err, "Gaussian mixture: %d components; it needs at least 1", k);
    if (n < 2) return abp_fail(err, "Gaussian mixture: %lld latents; a fit needs at least 2", (long long)n);
    if (n < k)
        return abp_fail(err, "Gaussian mixture: %d components need at least %d latents, there are %lld",
                        k, k, (long long)n);
    for (int64_t e = 0; e < n * d; e++)
        if (!isfinite(x[e]))
            return abp_fail(err, "Gaussian mixture: latent %lld holds a non-finite value", (long long)(e / d));
    int64_t m = (cfg->max_n > 0 && n > cfg->max_n) ? cfg->max_n : n;
    if (m < k) m = k;
    if (gmm_alloc(gmm, k, d, err)) return -1;
    gmm->n_used = m;
    double *xd = abp_alloc(sizeof(double) * (size_t)(m * d), err);
    double *y = xd ? abp_alloc(sizeof(double) * (size_t)(m * d), err) : NULL;
    double *resp = y ? abp_alloc(sizeof(double) * (size_t)(m * k), err) : NULL;
    double *dist2 = resp ? abp_alloc(sizeof(double) * (size_t)m, err) : NULL;
    int *label = dist2 ? abp_alloc(sizeof(int) * (size_t)(2 * m), err) : NULL;
    double *centre = label ? abp_alloc(sizeof(double) * (size_t)k * d, err) : NULL;
    int64_t *count = centre ? abp_alloc(sizeof(int64_t) * (size_t)k, err) : NULL;
    double *scratch_mean = count ? abp_alloc(sizeof(double) * (size_t)d, err) : NULL;
    int64_t *perm = (scratch_mean && m < n) ? abp_alloc(sizeof(int64_t) * (size_t)n, err) : NULL;
    int rc = -1;
    if (!scratch_mean || (m < n && !perm)) goto done;
    /* The examples the fit uses: all of them, or the first m of a random permutation. */
    if (perm) abp_rng_permutation(cfg->seed, ABP_RNG_PRIOR_FIT, FIT_SUBSAMPLE, 0, perm, n);
    for (int64_t i = 0; i < m; i++) {
        int64_t src = perm ? perm[i] : i;
        for (int a = 0; a < d; a++) xd[i * d + a] = x[src * d + a];
    }
    /* reg is relative to the data's mean variance, so that it means the same at any scale. */
    double *gcov = gmm->cov; /* component 0's room holds the global covariance for a moment */
    weighted_moments(xd, m, d, NULL, 0, (double)m, 0.0, scratch_mean, gcov, y);
    double mean_var = 0.0;
    for (int a = 0; a < d; a++) mean_var += gcov[(size_t)a * d + a];
    mean_var /= d;
    double reg = cfg->reg * (mean_var > 0.0 ? mean_var : 1.0);

    /* Start: hard k-means clusters. A cluster of fewer than 2 rows has no covariance of its
     * own and takes the global one. */
    kmeans_best(xd, m, d, k, cfg->seed, gmm->mean, label, count, centre, label + m, dist2);
    for (int j = 0; j < k; j++) {
        gmm->weight[j] = (double)(count[j] > 0 ? count[j] : 1) / (double)m;
        double *cj = gmm->cov + (size_t)j * d * d;
        for (int64_t i = 0; i < m; i++) resp[i] = label[i] == j ? 1.0 : 0.0;
        if (count[j] >= 2) /* the cluster's mean (its centre) and covariance */
            weighted_moments(xd, m, d, resp, 1, (double)count[j], reg, gmm->mean + (size_t)j * d, cj, y);
        else /* the centre, with the covariance of all the data */
            weighted_moments(xd, m, d, NULL, 0, (double)m, reg, scratch_mean, cj, y);
    }
    double wsum = 0.0;
    for (int j = 0; j < k; j++) wsum += gmm->weight[j];
    for (int j = 0; j < k; j++) gmm->weight[j] /= wsum;
    for (int j = 0; j < k; j++)
        if (factor_component(gmm, j, err)) goto done;

    double previous = -INFINITY;
    for (int it = 1; it <= cfg->max_iter; it++) {
        /* E step */
        component_log_probs(gmm, xd, m, resp, y);
        double ll = 0.0;
        for (int64_t i = 0; i < m; i++) ll += normalise_row(resp + i * k, k);
        ll /= (double)m;
        gmm->log_likelihood = ll;
        gmm->iterations = it;
        if (ll - previous < cfg->tol) {
            gmm->converged = 1;
            break;
        }
        previous = ll;
        /* M step. A component that lost (almost) all its responsibility keeps its mean and
         * covariance with a floor on its weight, rather than dividing by zero. */
        for (int j = 0; j < k; j++) {
            double nj = 0.0;
            for (int64_t i = 0; i < m; i++) nj += resp[i * k + j];
            double floor_n = 1e-10 * (double)m;
            gmm->weight[j] = fmax(nj, floor_n) / (double)m;
            if (nj > floor_n)
                weighted_moments(xd, m, d, resp + j, k, nj, reg, gmm->mean + (size_t)j * d,
                                 gmm->cov + (size_t)j * d * d, y);
        }
        wsum = 0.0;
        for (int j = 0; j < k; j++) wsum += gmm->weight[j];
        for (int j = 0; j < k; j++) gmm->weight[j] /= wsum;
        for (int j = 0; j < k; j++)
            if (factor_component(gmm, j, err)) goto done;
    }
    rc = 0;
done:
    abp_free(xd);
    abp_free(y);
    abp_free(resp);
    abp_free(dist2);
    abp_free(label);
    abp_free(centre);
    abp_free(count);
    abp_free(scratch_mean);
    abp_free(perm);
    if (rc) abp_gmm_free(gmm);
    return rc;
}

void abp_gmm_sample(const abp_gmm *gmm, uint64_t seed, int64_t first, int64_t n, float *out, int *component) {
    int k = gmm->k, d = gmm->d;
    for (int64_t s = 0; s < n; s++) {
        uint32_t id = (uint32_t)(first + s);
        double u;
        abp_rng_uniform(seed, ABP_RNG_PRIOR, id, 1, 0, &u, 1);
        int j = k - 1;
        double run = 0.0;
        for (int t = 0; t < k; t++) {
            run += gmm->weight[t];
            if (u < run) {
                j = t;
                break;
            }
        }
        /* z = mu + L e, in place: row a of L e needs e_0 .. e_a, so going from the last
         * row up never reads an entry already overwritten. */
        float *z = out + s * d;
        abp_rng_normal(seed, ABP_RNG_PRIOR, id, 0, 0, z, d);
        const double *l = gmm->chol + (size_t)j * d * d, *mu = gmm->mean + (size_t)j * d;
        for (int a = d - 1; a >= 0; a--) {
            double v = mu[a];
            for (int b = 0; b <= a; b++) v += l[(size_t)a * d + b] * z[b];
            z[a] = (float)v;
        }
        if (component) component[s] = j;
    }
}
