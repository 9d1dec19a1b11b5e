/* Priors fitted to latents: EM recovers a known mixture (weights, means and covariances
 * within sampling tolerance), the same seed gives the same fit bit for bit, one component is
 * the sample mean and covariance, the log density is the closed form, sampling follows the
 * weights and moments, a subsample still recovers the mixture, and impossible requests fail
 * with a message. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "abp/prior.h"
#include "abp/rng.h"
#include "check.h"

enum { K = 3, D = 4, PER = 3000, N = K * PER };

/* The true mixture: well separated means, a different correlated covariance A_j A_j^T each,
 * unequal weights. */
static const double true_weight[K] = {0.5, 0.3, 0.2};
static const double true_mean[K][D] = {{0, 0, 0, 0}, {6, -4, 2, 0}, {-5, 5, 5, -3}};

static void true_factor(int j, double a[D][D]) {
    memset(a, 0, sizeof(double) * D * D);
    for (int r = 0; r < D; r++)
        for (int c = 0; c <= r; c++) a[r][c] = (r == c) ? 0.3 + 0.15 * (r + j) : 0.15 * (j + 1) * (c + 1) / D;
}

static void true_cov(int j, double cov[D][D]) {
    double a[D][D];
    true_factor(j, a);
    for (int r = 0; r < D; r++)
        for (int c = 0; c < D; c++) {
            cov[r][c] = 0.0;
            for (int t = 0; t < D; t++) cov[r][c] += a[r][t] * a[c][t];
        }
}

/* Draws counts proportional to the weights, written independently of abp_gmm_sample. */
static void make_data(float *x, int *label) {
    int64_t i = 0;
    for (int j = 0; j < K; j++) {
        int64_t count = (int64_t)llround(true_weight[j] * N);
        double a[D][D];
        true_factor(j, a);
        for (int64_t s = 0; s < count && i < N; s++, i++) {
            float e[D];
            abp_rng_normal(99, ABP_RNG_TEST_INIT, (uint32_t)i, 0, 0, e, D);
            for (int r = 0; r < D; r++) {
                double v = true_mean[j][r];
                for (int c = 0; c < D; c++) v += a[r][c] * e[c];
                x[i * D + r] = (float)v;
            }
            label[i] = j;
        }
    }
}

/* The fitted component nearest to true component j. */
static int match(const abp_gmm *g, int j) {
    int best = 0;
    double bd = INFINITY;
    for (int t = 0; t < g->k; t++) {
        double s = 0.0;
        for (int r = 0; r < D; r++) s += pow(g->mean[t * D + r] - true_mean[j][r], 2);
        if (s < bd) bd = s, best = t;
    }
    return best;
}

/* Largest errors of weight, mean and covariance entries against the truth; whether the
 * matching is one to one. */
static int compare(const abp_gmm *g, double *ew, double *em, double *ec) {
    int used[K] = {0}, one_to_one = 1;
    *ew = *em = *ec = 0.0;
    for (int j = 0; j < K; j++) {
        int t = match(g, j);
        if (used[t]++) one_to_one = 0;
        *ew = fmax(*ew, fabs(g->weight[t] - true_weight[j]));
        double cov[D][D];
        true_cov(j, cov);
        for (int r = 0; r < D; r++) {
            *em = fmax(*em, fabs(g->mean[t * D + r] - true_mean[j][r]));
            for (int c = 0; c < D; c++) *ec = fmax(*ec, fabs(g->cov[(t * D + r) * D + c] - cov[r][c]));
        }
    }
    return one_to_one;
}

int main(void) {
    abp_err err = {{0}};
    float *x = malloc(sizeof(float) * N * D);
    int *label = malloc(sizeof(int) * N);
    make_data(x, label);

    /* EM recovers the mixture. The smallest component has 1800 points and standard
     * deviations up to 1.2: sampling error of its means ~ 0.03, of its covariance entries
     * ~ 0.05; the tolerances are about twice that. */
    abp_gmm_cfg cfg;
    abp_gmm_defaults(&cfg, K, 7);
    abp_gmm g1, g2;
    CHECK(abp_gmm_fit(x, N, D, &cfg, &g1, &err) == 0, "fit: %s", err.msg);
    double ew, em, ec;
    CHECK(compare(&g1, &ew, &em, &ec), "each true component has its own fitted one");
    CHECK(ew < 0.01, "weights within 0.01 (worst %g)", ew);
    CHECK(em < 0.1, "means within 0.1 (worst %g)", em);
    CHECK(ec < 0.1, "covariances within 0.1 (worst %g)", ec);
    CHECK(g1.converged && g1.iterations < cfg.max_iter, "EM converged (%d iterations)", g1.iterations);
    CHECK(g1.n_used == N, "all %d examples used (%lld)", N, (long long)g1.n_used);

    /* Deterministic for a seed: the same fit, bit for bit. */
    CHECK(abp_gmm_fit(x, N, D, &cfg, &g2, &err) == 0, "refit: %s", err.msg);
    CHECK(!memcmp(g1.mean, g2.mean, sizeof(double) * K * D) &&
              !memcmp(g1.cov, g2.cov, sizeof(double) * K * D * D) &&
              !memcmp(g1.weight, g2.weight, sizeof(double) * K) && g1.log_likelihood == g2.log_likelihood,
          "the same seed gives the same mixture");
    abp_gmm_free(&g2);

    /* The fit explains the data better than one Gaussian does. */
    abp_gmm_cfg one;
    abp_gmm_defaults(&one, 1, 7);
    abp_gmm gauss;
    CHECK(abp_gmm_fit(x, N, D, &one, &gauss, &err) == 0, "gaussian: %s", err.msg);
    CHECK(g1.log_likelihood > gauss.log_likelihood + 1.0, "mixture %g > gaussian %g", g1.log_likelihood,
          gauss.log_likelihood);
    /* One component: the sample mean and the covariance divided by n, plus reg * mean variance. */
    double mean[D] = {0}, cov[D][D] = {{0}};
    for (int64_t i = 0; i < N; i++)
        for (int r = 0; r < D; r++) mean[r] += x[i * D + r] / (double)N;
    for (int64_t i = 0; i < N; i++)
        for (int r = 0; r < D; r++)
            for (int c = 0; c < D; c++) cov[r][c] += (x[i * D + r] - mean[r]) * (x[i * D + c] - mean[c]) / N;
    double mean_var = 0.0, worst = 0.0;
    for (int r = 0; r < D; r++) mean_var += cov[r][r] / D;
    for (int r = 0; r < D; r++) {
        worst = fmax(worst, fabs(gauss.mean[r] - mean[r]));
        for (int c = 0; c < D; c++)
            worst = fmax(worst, fabs(gauss.cov[r * D + c] - cov[r][c] - (r == c ? one.reg * mean_var : 0.0)));
    }
    CHECK(worst < 1e-9, "one component is the sample mean and covariance (worst %g)", worst);
    CHECK(fabs(gauss.weight[0] - 1.0) < 1e-15, "its weight is 1 (%g)", gauss.weight[0]);
    abp_gmm_free(&gauss);

    /* The log density of N(m, diag(4)) in closed form. */
    double w1 = 1.0, m1[2] = {1.0, -2.0}, c1[4] = {4, 0, 0, 4};
    abp_gmm std;
    CHECK(abp_gmm_init(&std, 1, 2, &w1, m1, c1, &err) == 0, "init: %s", err.msg);
    float pt[2] = {2.0f, 0.0f};
    double lp = 0.0;
    CHECK(abp_gmm_log_density(&std, pt, 1, &lp, &err) == 0, "density: %s", err.msg);
    double want = -log(2 * M_PI) - log(4.0) - (1.0 + 4.0) / 8.0;
    CHECK(fabs(lp - want) < 1e-12, "log density %.15g, closed form %.15g", lp, want);
    abp_gmm_free(&std);

    /* Sampling follows the weights and each component's mean. */
    enum { S = 20000 };
    float *z = malloc(sizeof(float) * S * D);
    int *comp = malloc(sizeof(int) * S);
    abp_gmm_sample(&g1, 3, 0, S, z, comp);
    for (int t = 0; t < K; t++) {
        int64_t count = 0;
        double m[D] = {0};
        for (int64_t s = 0; s < S; s++)
            if (comp[s] == t) {
                count++;
                for (int r = 0; r < D; r++) m[r] += z[s * D + r];
            }
        CHECK(fabs((double)count / S - g1.weight[t]) < 0.015, "component %d drawn %g of the time, weight %g", t,
              (double)count / S, g1.weight[t]);
        double dm = 0.0;
        for (int r = 0; r < D; r++) dm = fmax(dm, fabs(m[r] / (double)count - g1.mean[t * D + r]));
        CHECK(dm < 0.1, "component %d's draws have its mean (worst %g)", t, dm);
    }
    /* Sample i does not depend on which others are drawn with it. */
    float z5[D];
    abp_gmm_sample(&g1, 3, 5, 1, z5, NULL);
    CHECK(!memcmp(z5, z + 5 * D, sizeof z5), "sample 5 alone equals sample 5 of a batch");
    free(z);
    free(comp);
    abp_gmm_free(&g1);

    /* A subsample of 1500 still recovers the mixture, looser. */
    abp_gmm_cfg sub;
    abp_gmm_defaults(&sub, K, 11);
    sub.max_n = 1500;
    abp_gmm gs;
    CHECK(abp_gmm_fit(x, N, D, &sub, &gs, &err) == 0, "subsample fit: %s", err.msg);
    CHECK(gs.n_used == 1500, "the fit used 1500 examples (%lld)", (long long)gs.n_used);
    CHECK(compare(&gs, &ew, &em, &ec) && ew < 0.04 && em < 0.2 && ec < 0.25,
          "the subsample's fit is near the truth (weights %g, means %g, covariances %g)", ew, em, ec);
    abp_gmm_free(&gs);

    /* Impossible requests: one clear message each. */
    abp_gmm bad;
    abp_gmm_cfg many;
    abp_gmm_defaults(&many, 12, 1);
    CHECK(abp_gmm_fit(x, 10, D, &many, &bad, &err) != 0 && strstr(err.msg, "12 components need at least 12"),
          "more components than latents is refused (%s)", err.msg);
    abp_gmm_defaults(&many, 0, 1);
    CHECK(abp_gmm_fit(x, 10, D, &many, &bad, &err) != 0 && strstr(err.msg, "at least 1"),
          "zero components is refused (%s)", err.msg);
    float nan_row[2 * D];
    memcpy(nan_row, x, sizeof nan_row);
    nan_row[D + 1] = NAN;
    abp_gmm_defaults(&many, 1, 1);
    CHECK(abp_gmm_fit(nan_row, 2, D, &many, &bad, &err) != 0 && strstr(err.msg, "latent 1"),
          "a non-finite latent is named (%s)", err.msg);

    abp_prior_choice pc;
    char text[32];
    CHECK(abp_prior_parse("gmm:10", "--prior", &pc, &err) == 0 && pc.kind == ABP_PRIOR_GMM && pc.k == 10,
          "gmm:10 parses");
    abp_prior_format(&pc, text, sizeof text);
    CHECK(!strcmp(text, "gmm:10"), "and formats back (%s)", text);
    CHECK(abp_prior_parse("gaussian", "--prior", &pc, &err) == 0 && pc.kind == ABP_PRIOR_GAUSSIAN && pc.k == 1,
          "gaussian parses");
    CHECK(abp_prior_parse("normal", "--prior", &pc, &err) == 0 && pc.kind == ABP_PRIOR_NORMAL, "normal parses");
    CHECK(abp_prior_parse("gmm:0", "--prior", &pc, &err) != 0 && strstr(err.msg, "--prior: 'gmm:0'"),
          "gmm:0 is refused (%s)", err.msg);
    CHECK(abp_prior_parse("gmm:3x", "--prior", &pc, &err) != 0 && strstr(err.msg, "whole number"),
          "gmm:3x is refused (%s)", err.msg);
    CHECK(abp_prior_parse("ebm", "--prior", &pc, &err) == 0 && pc.kind == ABP_PRIOR_EBM, "ebm parses");
    abp_prior_format(&pc, text, sizeof text);
    CHECK(!strcmp(text, "ebm"), "and formats back (%s)", text);
    CHECK(abp_prior_parse("flow", "--prior", &pc, &err) != 0 && strstr(err.msg, "not a prior"),
          "an unknown prior is refused (%s)", err.msg);

    free(x);
    free(label);
    return check_summary("prior");
}
