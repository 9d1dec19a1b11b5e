/* Vector auto-regression: a fit to a long simulated sequence recovers the known A, Q and m
 * within a tolerance that shrinks as 1/sqrt(T) (and a different A fails it); degenerate
 * input gives a clear error; simulation is deterministic and follows A exactly without noise. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "abp/tensor.h"
#include "check.h"

enum { D = 4 };

/* A stable, non-normal transition with spectral radius exactly 0.9: a rotation by 0.3 rad
 * scaled by 0.9, then eigenvalues 0.5 and -0.3, coupled by the upper-right block. */
static void known_a(double *a) {
    double c = 0.9 * cos(0.3), s = 0.9 * sin(0.3);
    const double m[D * D] = {c, -s, 0.2, 0.0,  s, c, 0.0, -0.1,  0, 0, 0.5, 0.3,  0, 0, 0, -0.3};
    memcpy(a, m, sizeof m);
}
static const double known_q[D * D] = {1.0, 0.3, 0, 0,  0.3, 0.5, 0, 0,  0, 0, 0.8, 0.1,  0, 0, 0.1, 0.2};
static const double known_mean[D] = {1.0, -2.0, 0.5, 3.0};

static double max_abs_diff(const double *a, const double *b, int n) {
    double m = 0;
    for (int k = 0; k < n; k++) m = fmax(m, fabs(a[k] - b[k]));
    return m;
}

/* Simulates T steps of the process (m, a, known_q) from z_0 = m and fits a VAR to them. */
static int simulate_and_fit(const double *a, int64_t T, uint64_t seed, abp_var *fit, abp_err *err) {
    abp_var truth;
    float *z = malloc(sizeof(float) * (size_t)T * D);
    float z0[D];
    for (int k = 0; k < D; k++) z0[k] = (float)known_mean[k];
    int rc = -1;
    if (z && abp_var_init(&truth, D, known_mean, a, known_q, err) == 0) {
        rc = abp_var_simulate(&truth, z0, T, seed, z, err) || abp_var_fit(z, T, D, fit, err) ? -1 : 0;
        abp_var_free(&truth);
    }
    free(z);
    return rc;
}

int main(void) {
    abp_err err = {{0}};
    double a[D * D], wrong[D * D];
    known_a(a);
    memcpy(wrong, a, sizeof a);
    wrong[0 * D + 2] += 0.25; /* one coupling off by 0.25 */

    abp_var v;
    CHECK(abp_var_init(&v, D, known_mean, a, known_q, &err) == 0, "%s", err.msg);
    CHECK(fabs(v.spectral_radius - 0.9) < 1e-9, "spectral radius %.12f, want 0.9", v.spectral_radius);
    CHECK(fabs(v.residual_variance - 2.5 / D) < 1e-12, "residual variance %g", v.residual_variance);
    /* S S^T = Q */
    double ssT = 0, qerr = 0;
    for (int i = 0; i < D; i++)
        for (int j = 0; j < D; j++) {
            ssT = 0;
            for (int k = 0; k < D; k++) ssT += v.noise[i * D + k] * v.noise[j * D + k];
            qerr = fmax(qerr, fabs(ssT - known_q[i * D + j]));
        }
    CHECK(qerr < 1e-12, "S S^T differs from Q by %g", qerr);
    abp_var_free(&v);

    /* Recovery at two lengths; the standard error of an entry of A is at most
     * sqrt(max Q_ii / min eig Q / T) = 2.3 / sqrt(T) here, so 10 / sqrt(T) is over 4 of them. */
    const int64_t lengths[2] = {4000, 40000};
    double a_err[2] = {0, 0};
    for (int r = 0; r < 2; r++) {
        int64_t T = lengths[r];
        double tol = 10.0 / sqrt((double)T);
        abp_var fit;
        if (simulate_and_fit(a, T, 7, &fit, &err) != 0) {
            CHECK(0, "fit at T = %lld: %s", (long long)T, err.msg);
            continue;
        }
        a_err[r] = max_abs_diff(fit.A, a, D * D);
        printf("T = %lld: A off by %.4f (tolerance %.4f)\n", (long long)T, a_err[r], tol);
        CHECK(a_err[r] < tol, "T = %lld: A off by %g (tolerance %g)", (long long)T, a_err[r], tol);
        CHECK(max_abs_diff(fit.A, wrong, D * D) > tol, "T = %lld: a wrong A passes too", (long long)T);
        double q_err = max_abs_diff(fit.Q, known_q, D * D);
        CHECK(q_err < 6.0 / sqrt((double)T), "T = %lld: Q off by %g", (long long)T, q_err);
        double m_err = max_abs_diff(fit.mean, known_mean, D);
        CHECK(m_err < 20.0 / sqrt((double)T), "T = %lld: mean off by %g", (long long)T, m_err);
        CHECK(fabs(fit.spectral_radius - 0.9) < tol, "T = %lld: spectral radius %g", (long long)T,
              fit.spectral_radius);
        CHECK(fit.rank == D, "rank %d", fit.rank);
        abp_var_free(&fit);
    }
    CHECK(a_err[1] < a_err[0], "more frames, a better fit: %g at T = 4000, %g at T = 40000", a_err[0], a_err[1]);

    /* Data from the wrong A do not pass for the right one. */
    abp_var fit;
    if (simulate_and_fit(wrong, 40000, 7, &fit, &err) == 0) {
        CHECK(max_abs_diff(fit.A, a, D * D) > 10.0 / sqrt(40000.0), "the fit cannot tell A from a wrong A");
        CHECK(max_abs_diff(fit.A, wrong, D * D) < 10.0 / sqrt(40000.0), "the wrong A is not recovered");
        abp_var_free(&fit);
    } else {
        CHECK(0, "%s", err.msg);
    }

    /* Degenerate input: T <= d + 1 frames; non-finite latents. */
    float z[(D + 2) * D];
    for (int k = 0; k < (D + 2) * D; k++) z[k] = (float)sin(1.7 * k + 0.3 * k * k);
    err.msg[0] = 0;
    CHECK(abp_var_fit(z, D + 1, D, &fit, &err) != 0 && strstr(err.msg, "at least d + 2 = 6 frames, got 5"),
          "T = d + 1: '%s'", err.msg);
    CHECK(abp_var_fit(z, 1, D, &fit, &err) != 0, "T = 1");
    CHECK(abp_var_fit(z, D + 2, D, &fit, &err) == 0, "T = d + 2 is enough: %s", err.msg);
    if (fit.A) abp_var_free(&fit);
    z[5] = NAN;
    CHECK(abp_var_fit(z, D + 2, D, &fit, &err) != 0 && strstr(err.msg, "not a finite"), "NaN: '%s'", err.msg);

    /* Linearly dependent latents (one coordinate constant): a minimum-norm fit of rank d - 1. */
    float dep[50 * D];
    for (int t = 0; t < 50; t++)
        for (int k = 0; k < D; k++) dep[t * D + k] = k == 2 ? 1.5f : (float)sin(0.9 * t + 2.1 * k + 0.01 * t * t);
    CHECK(abp_var_fit(dep, 50, D, &fit, &err) == 0, "dependent latents: %s", err.msg);
    CHECK(fit.rank == D - 1, "rank %d, want %d", fit.rank, D - 1);
    if (fit.A) abp_var_free(&fit);

    /* Simulation: deterministic in the seed; without noise it is m + A^t (z_0 - m). */
    const double zero_q[D * D] = {0};
    CHECK(abp_var_init(&v, D, known_mean, a, known_q, &err) == 0, "%s", err.msg);
    float s1[20 * D], s2[20 * D], s3[20 * D], z0[D] = {3, 1, -1, 0};
    CHECK(abp_var_simulate(&v, z0, 20, 5, s1, &err) == 0 && abp_var_simulate(&v, z0, 20, 5, s2, &err) == 0 &&
              abp_var_simulate(&v, z0, 20, 6, s3, &err) == 0, "%s", err.msg);
    CHECK(memcmp(s1, s2, sizeof s1) == 0, "the same seed, the same sequence");
    CHECK(memcmp(s1, z0, sizeof z0) == 0 && memcmp(s1 + D, s3 + D, sizeof(float) * D) != 0,
          "row 0 is z0; another seed, other innovations");
    abp_var_free(&v);
    CHECK(abp_var_init(&v, D, known_mean, a, zero_q, &err) == 0, "%s", err.msg);
    CHECK(abp_var_simulate(&v, z0, 20, 5, s1, &err) == 0, "%s", err.msg);
    double x[D], y[D], worst = 0;
    for (int k = 0; k < D; k++) x[k] = z0[k] - known_mean[k];
    for (int t = 1; t < 20; t++) {
        for (int i = 0; i < D; i++) {
            y[i] = 0;
            for (int j = 0; j < D; j++) y[i] += a[i * D + j] * x[j];
        }
        memcpy(x, y, sizeof x);
        for (int k = 0; k < D; k++) worst = fmax(worst, fabs(s1[t * D + k] - (known_mean[k] + x[k])));
    }
    CHECK(worst < 1e-5, "noise-free simulation off by %g", worst);
    CHECK(abp_var_simulate(&v, z0, 0, 5, s1, &err) != 0, "zero steps");
    abp_var_free(&v);
    return check_summary("test_var");
}
