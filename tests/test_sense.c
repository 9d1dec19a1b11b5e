/* Compressed sensing: the sensing matrix's statistics and determinism, the batched residual
 * against a direct sum, its gradient through a small network against finite differences of
 * |S y - S g(z)|^2 / 2, the minimum-norm baseline, and inference that explains S y. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "abp/infer.h"
#include "abp/rng.h"
#include "check.h"

static void test_matrix(void) {
    abp_err err = {{0}};
    abp_shape s = {1, 28, 28};
    abp_sensing a, b, c, small;
    CHECK(abp_sensing_init(&a, 5, 200, s, 4, &err) == 0, "%s", err.msg);
    CHECK(abp_sensing_init(&b, 5, 200, s, 9, &err) == 0, "%s", err.msg);
    CHECK(abp_sensing_init(&c, 6, 200, s, 4, &err) == 0, "%s", err.msg);
    CHECK(abp_sensing_init(&small, 5, 50, s, 4, &err) == 0, "%s", err.msg);
    int64_t count = 200 * 784;
    double sum = 0.0, sum2 = 0.0;
    for (int64_t k = 0; k < count; k++) sum += a.S[k], sum2 += (double)a.S[k] * a.S[k];
    double mean = sum / (double)count, sd = sqrt(sum2 / (double)count - mean * mean);
    /* 156,800 draws: the standard error of the mean is 0.0013, of the sd about 0.001. */
    CHECK(fabs(mean) < 0.006, "mean of S %g, want 0", mean);
    CHECK(fabs(sd - 0.5) < 0.005, "sd of S %g, want 0.5", sd);
    CHECK(memcmp(a.S, b.S, sizeof(float) * (size_t)count) == 0, "the same seed gives the same S");
    CHECK(memcmp(a.S, c.S, sizeof(float) * (size_t)count) != 0, "another seed, another S");
    CHECK(memcmp(a.S, small.S, sizeof(float) * 50 * 784) == 0, "S of 50 rows is the first 50 rows of S of 200");
    abp_sensing bad;
    CHECK(abp_sensing_init(&bad, 5, 0, s, 4, &err) != 0 && strstr(err.msg, "--sense 0"), "K = 0: %s", err.msg);
    abp_sensing_free(&a);
    abp_sensing_free(&b);
    abp_sensing_free(&c);
    abp_sensing_free(&small);
}

/* The batched residual (CNS, 3 channels, one GEMM per channel) against a direct sum. */
static void test_residual(void) {
    abp_err err = {{0}};
    abp_shape s = {3, 4, 5};
    int n = 6, K = 7, D = 60, pix = 20;
    abp_sensing sense;
    CHECK(abp_sensing_init(&sense, 2, K, s, n, &err) == 0, "%s", err.msg);
    float rows[6 * 60], g[6 * 60], proj[6 * 7], dout[6 * 60];
    abp_rng_normal(1, 99, 1, 0, 0, rows, n * D);
    abp_rng_normal(1, 99, 2, 0, 0, g, n * D); /* CNS */
    abp_sensing_project_rows(&sense, rows, n, proj);
    float scale = 0.7f;
    abp_observation obs = {.y = proj, .sense = &sense};
    double sse = abp_observe_residual(&obs, g, dout, n, s, scale);
    double want_sse = 0.0, worst_p = 0.0, worst_d = 0.0;
    double r[6][7];
    for (int i = 0; i < n; i++)
        for (int k = 0; k < K; k++) {
            double py = 0.0, pg = 0.0;
            for (int e = 0; e < D; e++) {
                int ch = e / pix, p = e % pix;
                py += (double)sense.S[k * D + e] * rows[i * D + e];
                pg += (double)sense.S[k * D + e] * g[(ch * n + i) * pix + p];
            }
            worst_p = fmax(worst_p, fabs(py - proj[i * K + k]));
            r[i][k] = py - pg;
            want_sse += r[i][k] * r[i][k];
        }
    for (int i = 0; i < n; i++)
        for (int e = 0; e < D; e++) {
            double want = 0.0;
            for (int k = 0; k < K; k++) want -= scale * r[i][k] * sense.S[k * D + e];
            worst_d = fmax(worst_d, fabs(want - dout[((e / pix) * n + i) * pix + e % pix]));
        }
    CHECK(worst_p < 1e-4, "projections differ from the direct sum by %g", worst_p);
    CHECK(fabs(sse - want_sse) < 1e-4 * want_sse, "sse %g, direct %g", sse, want_sse);
    CHECK(worst_d < 1e-4, "dL/dg differs from -scale S^T r by %g", worst_d);
    abp_sensing_free(&sense);
}

/* L = |P - S g(z)|^2 / 2 of a batch through a two-channel network. */
static double sensing_loss(abp_net *net, const float *z, abp_observation *obs, int n, float *dout) {
    abp_err err;
    if (abp_net_forward(net, z, n, &err)) exit(2);
    return 0.5 * abp_observe_residual(obs, abp_net_output(net), dout, n, net->out_shape, 1.0f);
}

static void test_gradient(void) {
    abp_err err = {{0}};
    abp_net net;
    int n = 3, K = 10;
    CHECK(abp_net_build("z 3 | linear 3x3x2 | tanh", 0, n, &net, &err) == 0, "%s", err.msg);
    abp_rng_normal(1, 99, 3, 0, 0, net.params, net.nparams);
    int64_t nz = abp_shape_numel(net.in_shape) * n, ny = abp_shape_numel(net.out_shape) * n;
    float *z = malloc(sizeof(float) * (size_t)nz), *dz = malloc(sizeof(float) * (size_t)nz);
    float *y = malloc(sizeof(float) * (size_t)ny), *dout = malloc(sizeof(float) * (size_t)ny);
    float proj[3 * 10];
    abp_rng_normal(1, 99, 4, 0, 0, z, nz);
    abp_rng_normal(1, 99, 5, 0, 0, y, ny);
    abp_sensing sense;
    CHECK(abp_sensing_init(&sense, 7, K, net.out_shape, n, &err) == 0, "%s", err.msg);
    abp_sensing_project_rows(&sense, y, n, proj);
    abp_observation obs = {.y = proj, .sense = &sense};
    abp_net_zero_grads(&net);
    sensing_loss(&net, z, &obs, n, dout);
    CHECK(abp_net_backward(&net, dout, n, dz, 1, &err) == 0, "%s", err.msg);
    float *gw = malloc(sizeof(float) * (size_t)net.nparams);
    memcpy(gw, net.grads, sizeof(float) * (size_t)net.nparams);
    const float h = 1e-2f;
    int bad = 0, compared = 0;
    double biggest = 0.0;
    for (int64_t k = 0; k < nz; k++) {
        float saved = z[k];
        z[k] = saved + h;
        double up = sensing_loss(&net, z, &obs, n, dout);
        z[k] = saved - h;
        double down = sensing_loss(&net, z, &obs, n, dout);
        z[k] = saved;
        double numeric = (up - down) / (2.0 * h);
        biggest = fmax(biggest, fabs(numeric));
        compared++;
        if (fabs(numeric - dz[k]) > 1e-2 * fmax(1.0, fabs(numeric)) && bad++ < 3)
            fprintf(stderr, "dL/dz[%lld] analytic %g numeric %g\n", (long long)k, dz[k], numeric);
    }
    for (int64_t k = 0; k < net.nparams; k += 3) {
        float saved = net.params[k];
        net.params[k] = saved + h;
        double up = sensing_loss(&net, z, &obs, n, dout);
        net.params[k] = saved - h;
        double down = sensing_loss(&net, z, &obs, n, dout);
        net.params[k] = saved;
        double numeric = (up - down) / (2.0 * h);
        compared++;
        if (fabs(numeric - gw[k]) > 1e-2 * fmax(1.0, fabs(numeric)) && bad++ < 3)
            fprintf(stderr, "dL/dW[%lld] analytic %g numeric %g\n", (long long)k, gw[k], numeric);
    }
    CHECK(biggest > 0.1, "the gradients are all near zero (%g): the check would prove nothing", biggest);
    CHECK(bad == 0, "%d of %d gradients differ from finite differences", bad, compared);
    abp_sensing_free(&sense);
    abp_net_free(&net);
    free(z), free(dz), free(y), free(dout), free(gw);
}

/* The minimum-norm image reproduces the projections, and with K >= D it is y itself. */
static void test_min_norm(void) {
    abp_err err = {{0}};
    abp_shape s = {1, 4, 4};
    float y[3 * 16], x[3 * 16], proj[3 * 40], back[3 * 40];
    abp_rng_normal(1, 99, 6, 0, 0, y, 3 * 16);
    for (int K = 8; K <= 40; K += 32) {
        abp_sensing sense;
        CHECK(abp_sensing_init(&sense, 3, K, s, 3, &err) == 0, "%s", err.msg);
        abp_sensing_project_rows(&sense, y, 3, proj);
        CHECK(abp_sensing_min_norm(&sense, proj, 3, x, &err) == 0, "%s", err.msg);
        abp_sensing_project_rows(&sense, x, 3, back);
        double worst = 0.0, diff = 0.0, norm_x = 0.0, norm_y = 0.0;
        for (int k = 0; k < 3 * K; k++) worst = fmax(worst, fabs(back[k] - proj[k]));
        for (int e = 0; e < 3 * 16; e++)
            diff = fmax(diff, fabs(x[e] - y[e])), norm_x += x[e] * x[e], norm_y += y[e] * y[e];
        CHECK(worst < 1e-3, "K=%d: S x differs from S y by %g", K, worst);
        if (K >= 16) CHECK(diff < 1e-3, "K=%d >= D: the solution differs from y by %g", K, diff);
        else CHECK(norm_x < norm_y && diff > 0.1, "K=%d < D: |x|^2 %g should be below |y|^2 %g", K, norm_x, norm_y);
        abp_sensing_free(&sense);
    }
}

/* Gradient descent on z from S y alone brings g(z) to the data when y = g(z*). */
static void test_inference(void) {
    abp_err err = {{0}};
    abp_net net;
    int n = 4, K = 12;
    CHECK(abp_net_build("z 2 | linear 4x4x1 | tanh", 0, n, &net, &err) == 0, "%s", err.msg);
    abp_rng_normal(1, 99, 7, 0, 0, net.params, net.nparams);
    float zstar[8], z[8], y[64], proj[48];
    int64_t ids[4] = {0, 1, 2, 3};
    abp_rng_normal(1, 99, 8, 0, 0, zstar, 8);
    CHECK(abp_net_forward(&net, zstar, n, &err) == 0, "%s", err.msg);
    memcpy(y, abp_net_output(&net), sizeof y); /* one channel: CNS is a row per example */
    abp_sensing sense;
    abp_infer_ws ws;
    CHECK(abp_sensing_init(&sense, 4, K, net.out_shape, n, &err) == 0, "%s", err.msg);
    CHECK(abp_infer_ws_init(&ws, &net, &err) == 0, "%s", err.msg);
    abp_sensing_project_rows(&sense, y, n, proj);
    abp_observation obs = {.y = proj, .sense = &sense};
    memset(z, 0, sizeof z);
    float dout[64];
    CHECK(abp_net_forward(&net, z, n, &err) == 0, "%s", err.msg);
    double before = abp_observe_residual(&obs, abp_net_output(&net), dout, n, net.out_shape, 1.0f);
    abp_langevin lv = {.steps = 300, .step_size = 0.05f, .sigma = 0.3f, .noise = 0, .seed = 1};
    CHECK(abp_infer_latents(&net, z, &obs, n, ids, &lv, &ws, &err) == 0, "%s", err.msg);
    CHECK(abp_net_forward(&net, z, n, &err) == 0, "%s", err.msg);
    double after = abp_observe_residual(&obs, abp_net_output(&net), dout, n, net.out_shape, 1.0f);
    CHECK(after < 0.2 * before, "inference from S y: |S y - S g(z)|^2 %g -> %g", before, after);
    abp_infer_ws_free(&ws);
    abp_sensing_free(&sense);
    abp_net_free(&net);
}

int main(void) {
    test_matrix();
    test_residual();
    test_gradient();
    test_min_norm();
    test_inference();
    return check_summary("test_sense");
}
