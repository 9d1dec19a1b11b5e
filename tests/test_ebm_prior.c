/* The latent energy-based prior (src/infer/ebm_prior.c, --prior ebm in src/train/abp.c):
 * - df/dz and df/da of a small MLP prior (and of the built-in ebm-prior on an image latent)
 *   against central finite differences of sum_i f(z_i);
 * - the posterior hook: one gradient-descent step of abp_infer_latents with the prior moves
 *   z by -(s^2/2) dU/dz for U = |y - g(z)|^2 / (2 sigma^2) + |z|^2 / 2 - f(z), dU/dz from
 *   finite differences of U;
 * - short-run Langevin on p(z) = exp(<w, z>) N(0, I) = N(w, I): the chains' mean goes to w;
 * - maximum likelihood with a known answer: f(z) = <w, z> + b fitted to latents of mean mu
 *   by posterior-vs-prior gradients gives w = mu;
 * - the ABP objective with --prior ebm (one iteration through the vtable): the prior's
 *   learning gradient against finite differences of (1/B) sum_prior f - (1/B) sum_post f,
 *   its slots, and a zero gradient for the top bias;
 * - bad --prior-net specs and --prior values are refused with a line naming the option. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/train/objective.h"
#include "abp/ebm_prior.h"
#include "abp/rng.h"
#include "check.h"

static void die(const abp_err *err) {
    fprintf(stderr, "%s\n", err->msg);
    exit(1);
}

static double f_sum(abp_net *f, const float *z, int n) {
    abp_err err = {0};
    double s = 0;
    if (abp_ebm_prior_score(f, z, n, NULL, &s, &err)) die(&err);
    return s;
}

/* Moves each hidden unit's bias until none of the n examples' pre-activations lies within
 * margin of lrelu's kink, layer by layer: central differences are then differences of one
 * smooth piece (with 200 units some pre-activation always sits near 0 otherwise). */
static void away_from_kinks(abp_net *f, const float *z, int n, float margin) {
    for (int i = 1; i < f->nlayers; i++) {
        if (f->layers[i].kind != ABP_LRELU || f->layers[i - 1].kind != ABP_LINEAR) continue;
        abp_layer *lin = &f->layers[i - 1];
        int64_t F = abp_shape_numel(lin->out);
        for (int round = 0; round < 20; round++) {
            f_sum(f, z, n);
            const float *pre = f->act[i]; /* [F][n]: the linear layer's output */
            int moved = 0;
            for (int64_t j = 0; j < F; j++)
                for (int e = 0; e < n; e++)
                    if (fabsf(pre[j * n + e]) < margin) {
                        lin->bias[j] += 3 * margin;
                        moved = 1;
                        break;
                    }
            if (!moved) break;
        }
    }
}

/* Worst relative error of dz and of every stride-th parameter gradient, against central
 * differences of sum f. Parameters and latents O(1), far above float rounding. */
static void check_fd(abp_net *f, float *z, int n, int64_t stride, float h, const char *what) {
    abp_err err = {0};
    int64_t nz = abp_shape_numel(f->in_shape) * n;
    float *dz = malloc(sizeof(float) * (size_t)nz);
    abp_ebm_ws ws;
    if (abp_ebm_ws_init(&ws, f, &err)) die(&err);
    away_from_kinks(f, z, n, 5 * h);
    abp_net_zero_grads(f);
    double sum;
    CHECK(abp_ebm_prior_grad(f, z, n, 1.0f, dz, 1, &sum, &ws, &err) == 0, "%s", err.msg);
    CHECK(fabs(sum - f_sum(f, z, n)) < 1e-9 * (1 + fabs(sum)), "%s: the sum is f's", what);
    double worst_z = 0, worst_a = 0;
    for (int64_t k = 0; k < nz; k++) {
        float keep = z[k];
        z[k] = keep + h;
        double up = f_sum(f, z, n);
        z[k] = keep - h;
        double down = f_sum(f, z, n);
        z[k] = keep;
        double fd = (up - down) / (2 * h), e = fabs(fd - dz[k]) / (fabs(fd) + fabs(dz[k]) + 1e-2);
        if (e > worst_z) worst_z = e;
    }
    for (int64_t k = 0; k < f->nparams; k += stride) {
        float keep = f->params[k];
        f->params[k] = keep + h;
        double up = f_sum(f, z, n);
        f->params[k] = keep - h;
        double down = f_sum(f, z, n);
        f->params[k] = keep;
        double fd = (up - down) / (2 * h), e = fabs(fd - f->grads[k]) / (fabs(fd) + fabs(f->grads[k]) + 1e-2);
        if (e > worst_a) worst_a = e;
    }
    CHECK(worst_z < 2e-2, "%s: df/dz worst relative error %g", what, worst_z);
    CHECK(worst_a < 2e-2, "%s: df/da worst relative error %g", what, worst_a);
    abp_ebm_ws_free(&ws);
    free(dz);
}

static void test_finite_differences(void) {
    abp_err err = {0};
    abp_net f;
    /* a vector latent, every parameter */
    if (abp_ebm_prior_build("z 3 | linear 5 | lrelu 0.2 | linear 4 | lrelu 0.2 | linear 1", (abp_shape){3, 1, 1}, 3, &f,
                            &err))
        die(&err);
    abp_rng_normal(5, ABP_RNG_TEST_INIT, 1, 0, 0, f.params, f.nparams);
    for (int64_t k = 0; k < f.nparams; k++) f.params[k] *= 0.6f;
    float z[9];
    abp_rng_normal(5, ABP_RNG_TEST_INIT, 2, 0, 0, z, 9);
    check_fd(&f, z, 3, 1, 1e-2f, "mlp on z 3");
    abp_net_free(&f);
    /* the built-in on an image latent (its z replaced, CNS with pixels); every 37th parameter */
    if (abp_ebm_prior_build("ebm-prior", (abp_shape){2, 2, 2}, 2, &f, &err)) die(&err);
    CHECK(f.in_shape.c == 2 && f.in_shape.h == 2 && f.in_shape.w == 2, "ebm-prior reads the latent given");
    CHECK(f.nparams == 8 * 200 + 200 + 200 * 200 + 200 + 200 + 1, "ebm-prior is 200-200 (%lld parameters)",
          (long long)f.nparams);
    abp_rng_normal(5, ABP_RNG_TEST_INIT, 3, 0, 0, f.params, f.nparams);
    for (int64_t k = 0; k < f.nparams; k++) f.params[k] *= 0.15f;
    float zi[16];
    abp_rng_normal(5, ABP_RNG_TEST_INIT, 4, 0, 0, zi, 16);
    check_fd(&f, zi, 2, 37, 1e-3f, "ebm-prior on z 2x2x2");
    abp_net_free(&f);
}

/* U(z) = sum_i |y_i - g(z_i)|^2 / (2 sigma^2) + |z_i|^2 / 2 - f(z_i). */
static double energy(abp_net *g, abp_net *f, const float *z, const float *y, int n, float sigma) {
    abp_err err = {0};
    if (abp_net_forward(g, z, n, &err)) die(&err);
    const float *out = abp_net_output(g);
    int64_t ny = abp_shape_numel(g->out_shape) * n, nz = abp_shape_numel(g->in_shape) * n;
    double u = 0;
    for (int64_t k = 0; k < ny; k++) u += (double)(y[k] - out[k]) * (y[k] - out[k]) / (2.0 * sigma * sigma);
    for (int64_t k = 0; k < nz; k++) u += 0.5 * (double)z[k] * z[k];
    return u - f_sum(f, z, n);
}

static void test_posterior_hook(void) {
    enum { N = 2, D = 3, P = 4 };
    abp_err err = {0};
    abp_net g, f;
    if (abp_net_build("z 3 | linear 2x2x1 | tanh", 0, N, &g, &err)) die(&err);
    if (abp_ebm_prior_build("z 3 | linear 6 | lrelu 0.2 | linear 1", (abp_shape){D, 1, 1}, N, &f, &err)) die(&err);
    abp_rng_normal(7, ABP_RNG_TEST_INIT, 1, 0, 0, g.params, g.nparams);
    abp_rng_normal(7, ABP_RNG_TEST_INIT, 2, 0, 0, f.params, f.nparams);
    for (int64_t k = 0; k < g.nparams; k++) g.params[k] *= 0.5f;
    float z0[N * D], z1[N * D], z2[N * D], y[N * P];
    abp_rng_normal(7, ABP_RNG_TEST_INIT, 3, 0, 0, z0, N * D);
    abp_rng_normal(7, ABP_RNG_TEST_INIT, 4, 0, 0, y, N * P);
    int64_t ids[N] = {0, 1};
    abp_infer_ws ws;
    abp_ebm_ws ews;
    if (abp_infer_ws_init(&ws, &g, &err) || abp_ebm_ws_init(&ews, &f, &err)) die(&err);
    abp_ebm_hook hook = {.f = &f, .ws = &ews};
    const float s = 0.1f, sigma = 0.5f;
    abp_langevin lv = {.steps = 1, .step_size = s, .sigma = sigma, .noise = 0, .seed = 1,
                       .prior_grad = abp_ebm_prior_hook, .prior_ctx = &hook};
    abp_observation obs = {.y = y};
    memcpy(z1, z0, sizeof z0);
    CHECK(abp_infer_latents(&g, z1, &obs, N, ids, &lv, &ws, &err) == 0, "%s", err.msg);
    lv.prior_grad = NULL;
    memcpy(z2, z0, sizeof z0);
    CHECK(abp_infer_latents(&g, z2, &obs, N, ids, &lv, &ws, &err) == 0, "%s", err.msg);
    double worst = 0, moved = 0;
    const float h = 1e-2f;
    float zz[N * D];
    for (int k = 0; k < N * D; k++) {
        memcpy(zz, z0, sizeof zz);
        zz[k] = z0[k] + h;
        double up = energy(&g, &f, zz, y, N, sigma);
        zz[k] = z0[k] - h;
        double down = energy(&g, &f, zz, y, N, sigma);
        double fd = (up - down) / (2 * h), step = (z0[k] - z1[k]) / (0.5 * s * s);
        double e = fabs(fd - step) / (fabs(fd) + fabs(step) + 1e-2);
        if (e > worst) worst = e;
        moved += fabs(z1[k] - z2[k]);
    }
    CHECK(worst < 2e-2, "one step with the prior is -(s^2/2) dU/dz: worst relative error %g", worst);
    CHECK(moved > 1e-4, "the prior changes the step (%g)", moved);
    abp_infer_ws_free(&ws);
    abp_ebm_ws_free(&ews);
    abp_net_free(&g);
    abp_net_free(&f);
}

/* f(z) = <w, z> + b makes p = N(w, I); a linear 1 prior, set by hand. */
static void set_linear(abp_net *f, const float *w, int d, float b) {
    memcpy(f->layers[0].weight, w, sizeof(float) * (size_t)d);
    f->layers[0].bias[0] = b;
}

static void test_prior_langevin(void) {
    enum { M = 2000, D = 2 };
    abp_err err = {0};
    abp_net f;
    if (abp_ebm_prior_build("z 2 | linear 1", (abp_shape){D, 1, 1}, M, &f, &err)) die(&err);
    const float w[D] = {1.0f, -0.5f};
    set_linear(&f, w, D, 0.3f);
    abp_ebm_ws ws;
    if (abp_ebm_ws_init(&ws, &f, &err)) die(&err);
    float *rows = malloc(sizeof(float) * M * D), *cns = malloc(sizeof(float) * M * D);
    abp_ebm_langevin lv = {.steps = 60, .step_size = 0.4f, .seed = 3, .iteration = 9};
    CHECK(abp_ebm_prior_draw(&f, &lv, 0, M, rows, cns, &ws, &err) == 0, "%s", err.msg);
    /* the stationary law of the discretised chain: N(w, I / (1 - s^2 / 4)) */
    for (int e = 0; e < D; e++) {
        double mean = 0, var = 0;
        for (int i = 0; i < M; i++) mean += rows[i * D + e] / M;
        for (int i = 0; i < M; i++) var += (rows[i * D + e] - mean) * (rows[i * D + e] - mean) / (M - 1);
        CHECK(fabs(mean - w[e]) < 0.08, "prior samples' mean[%d] = %g, want %g", e, mean, w[e]);
        CHECK(fabs(var - 1.0 / 0.96) < 0.12, "prior samples' variance[%d] = %g, want %g", e, var, 1.0 / 0.96);
    }
    /* sample i depends on i alone, not on the chunk it was drawn in */
    float one[D];
    CHECK(abp_ebm_prior_draw(&f, &lv, 777, 1, one, cns, &ws, &err) == 0, "%s", err.msg);
    CHECK(fabs(one[0] - rows[777 * D]) < 1e-5 && fabs(one[1] - rows[777 * D + 1]) < 1e-5,
          "sample 777 alone (%g %g) is sample 777 of the batch (%g %g)", one[0], one[1], rows[777 * D], rows[777 * D + 1]);
    abp_ebm_ws_free(&ws);
    abp_net_free(&f);
    free(rows);
    free(cns);
}

/* ML: latents z ~ N(mu, 0.5^2 I) as the posterior set, prior chains of p = N(w, I); the
 * gradient mean_post df/da - mean_prior df/da vanishes at w = mu. */
static void test_ml_closed_form(void) {
    enum { N = 256, D = 2 };
    abp_err err = {0};
    abp_net f;
    if (abp_ebm_prior_build("z 2 | linear 1", (abp_shape){D, 1, 1}, N, &f, &err)) die(&err);
    const float zero[D] = {0, 0}, mu[D] = {0.7f, -0.4f};
    set_linear(&f, zero, D, 0);
    abp_ebm_ws ws;
    if (abp_ebm_ws_init(&ws, &f, &err)) die(&err);
    float post_rows[N * D], post[N * D], prior[N * D], rows[N * D];
    double mean[D] = {0};
    abp_rng_normal(4, ABP_RNG_TEST_INIT, 8, 0, 0, post_rows, N * D);
    for (int i = 0; i < N; i++)
        for (int e = 0; e < D; e++) post_rows[i * D + e] = mu[e] + 0.5f * post_rows[i * D + e], mean[e] += post_rows[i * D + e] / N;
    abp_rows_to_cns(post_rows, post, N, f.in_shape);
    int64_t ids[N];
    for (int i = 0; i < N; i++) ids[i] = i;
    double avg[D] = {0};
    const int iters = 200, tail = 100;
    for (int it = 0; it < iters; it++) {
        abp_ebm_langevin lv = {.steps = 60, .step_size = 0.4f, .seed = 2, .iteration = (uint32_t)it};
        for (int i = 0; i < N; i++) abp_ebm_prior_start(2, i, (uint32_t)it, rows + i * D, D);
        abp_rows_to_cns(rows, prior, N, f.in_shape);
        if (abp_ebm_prior_langevin(&f, prior, N, ids, &lv, &ws, &err)) die(&err);
        abp_net_zero_grads(&f);
        double s1, s2;
        if (abp_ebm_prior_grad(&f, post, N, -1.0f / N, NULL, 1, &s1, &ws, &err) ||
            abp_ebm_prior_grad(&f, prior, N, 1.0f / N, NULL, 1, &s2, &ws, &err))
            die(&err);
        for (int e = 0; e < D; e++) f.layers[0].weight[e] -= 0.5f * f.layers[0].dweight[e]; /* SGD on the loss */
        if (it >= iters - tail)
            for (int e = 0; e < D; e++) avg[e] += f.layers[0].weight[e] / tail;
    }
    for (int e = 0; e < D; e++)
        CHECK(fabs(avg[e] - mean[e]) < 0.06, "w[%d] = %g, the ML estimate (the latents' mean) %g", e, avg[e], mean[e]);
    abp_ebm_ws_free(&ws);
    abp_net_free(&f);
}

/* One ABP iteration with --prior ebm through the vtable (no MPI: sum NULL). */
static void test_objective_gradient(void) {
    enum { N = 3, D = 3, P = 4 };
    abp_err err = {0};
    abp_train_cfg cfg;
    abp_train_defaults(&cfg);
    snprintf(cfg.model, sizeof cfg.model, "z 3 | linear 2x2x1 | tanh");
    snprintf(cfg.prior.kind, sizeof cfg.prior.kind, "ebm");
    snprintf(cfg.prior.spec, sizeof cfg.prior.spec, "z 3 | linear 5 | lrelu 0.2 | linear 1");
    cfg.langevin_steps = 3;
    cfg.prior.steps = 4;
    cfg.seed = 5;
    abp_model model;
    memset(&model, 0, sizeof model);
    abp_objective_layout lay;
    void *self = NULL;
    abp_objective_env env = {.cfg = &cfg, .b_local = N, .B = N, .n_total = N};
    if (abp_objective_abp.create(&env, &model, &lay, &self, &err) || abp_model_seal(&model, &err)) die(&err);
    CHECK(model.nnets == 2 && !strcmp(model.nets[1].name, "prior"), "the model has the network prior");
    CHECK(lay.nslots == 3, "three slots: the error, sum f(posterior), sum f(prior)");
    abp_net *f = &abp_model_find(&model, "prior")->net;
    abp_rng_normal(6, ABP_RNG_TEST_INIT, 1, 0, 0, f->params, f->nparams);
    for (int64_t k = 0; k < f->nparams; k++) f->params[k] *= 0.5f;
    float state[N * D], y[N * P], yrows[N * P], slots[8] = {0};
    for (int i = 0; i < N; i++) abp_objective_abp.init_state(self, 0, 0, i, state + i * D);
    abp_rng_normal(6, ABP_RNG_TEST_INIT, 2, 0, 0, yrows, N * P);
    for (int k = 0; k < N * P; k++) yrows[k] = 0.8f * tanhf(yrows[k]);
    abp_rows_to_cns(yrows, y, N, (abp_shape){1, 2, 2});
    abp_observation obs = {.y = y};
    int64_t ids[N] = {0, 1, 2};
    const int64_t it = 4;
    abp_batch b = {.iteration = it, .b = N, .B = N, .ids = ids, .obs = &obs, .slots = slots};
    b.state[0] = state;
    abp_arena_zero_grads(&model.arena);
    CHECK(abp_objective_abp.iterate(self, &b, &err) == 0, "%s", err.msg);
    /* the sets the gradient came from: the posterior latents written back, and the prior
     * chains recomputed from their keys with the same f */
    float post[N * D], prior[N * D], rows[N * D];
    abp_rows_to_cns(state, post, N, f->in_shape);
    for (int i = 0; i < N; i++) abp_ebm_prior_start(cfg.seed, i, (uint32_t)it, rows + i * D, D);
    abp_rows_to_cns(rows, prior, N, f->in_shape);
    abp_ebm_ws ws;
    if (abp_ebm_ws_init(&ws, f, &err)) die(&err);
    abp_ebm_langevin lv = {.steps = cfg.prior.steps, .step_size = cfg.prior.step_size, .seed = cfg.seed,
                           .iteration = (uint32_t)it};
    float *keep = malloc(sizeof(float) * (size_t)f->nparams);
    memcpy(keep, f->grads, sizeof(float) * (size_t)f->nparams);
    if (abp_ebm_prior_langevin(f, prior, N, ids, &lv, &ws, &err)) die(&err);
    CHECK(fabs(slots[1] - f_sum(f, post, N)) < 1e-4 * (1 + fabs(slots[1])), "slot 1 is sum f(posterior)");
    CHECK(fabs(slots[2] - f_sum(f, prior, N)) < 1e-4 * (1 + fabs(slots[2])), "slot 2 is sum f(prior)");
    /* small: the posterior and prior chains put some pre-activations near lrelu's kink */
    const float h = 1e-3f;
    double worst = 0;
    int64_t top_bias = f->layers[f->nlayers - 1].bias - f->params;
    /* The difference quotient's own float noise: L is computed in float, so it moves by a few
     * ulps of its terms between two evaluations, which over 2h is noise on fd. A gradient that
     * is exactly 0 (a hidden unit on one side of the kink for every example of both sets) gets
     * fd = that noise: 2.2e-5 on an AMD Zen 5 with OpenBLAS's Cooperlake kernel, which failed
     * the relative check alone. The noise is subtracted before the relative error. */
    double noise = 4 * FLT_EPSILON * (fabs(f_sum(f, prior, N)) + fabs(f_sum(f, post, N))) / N / h;
    for (int64_t k = 0; k < f->nparams; k++) {
        float p0 = f->params[k];
        double L[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            f->params[k] = p0 + (sgn ? -h : h);
            L[sgn] = f_sum(f, prior, N) / N - f_sum(f, post, N) / N;
        }
        f->params[k] = p0;
        double fd = (L[0] - L[1]) / (2 * h), g = keep[k];
        double e = fmax(0, fabs(fd - g) - noise) / (fabs(fd) + fabs(g) + 1e-3);
        if (k != top_bias && e > worst) worst = e;
    }
    CHECK(worst < 2e-2, "the prior's learning gradient: worst relative error %g (beyond fd's noise %g)", worst, noise);
    CHECK(keep[top_bias] == 0.0f, "the top bias has no gradient (%g)", keep[top_bias]);
    free(keep);
    abp_ebm_ws_free(&ws);
    abp_objective_abp.destroy(self);
    abp_model_free(&model);
}

static void test_bad_input(void) {
    abp_err err = {0};
    abp_net f;
    abp_shape zs = {3, 1, 1};
    CHECK(abp_ebm_prior_build("z 4 | linear 1", zs, 2, &f, &err) != 0 && strstr(err.msg, "--prior-net: it reads"),
          "a prior of another latent is refused (%s)", err.msg);
    CHECK(abp_ebm_prior_build("z 3 | linear 2", zs, 2, &f, &err) != 0 && strstr(err.msg, "linear 1"),
          "a prior of two numbers is refused (%s)", err.msg);
    CHECK(abp_ebm_prior_build("z 3 | linear 4 | bn | linear 1", zs, 2, &f, &err) != 0 && strstr(err.msg, "batch norm"),
          "batch norm is refused (%s)", err.msg);
    CHECK(abp_ebm_prior_build("z 3 | wobble", zs, 2, &f, &err) != 0 && strstr(err.msg, "--prior-net"),
          "a bad spec names --prior-net (%s)", err.msg);
    abp_latent_prior_cfg c;
    abp_latent_prior_defaults(&c);
    snprintf(c.kind, sizeof c.kind, "gmm:3");
    CHECK(abp_latent_prior_check(&c, "abp", &err) != 0 && strstr(err.msg, "normal") && strstr(err.msg, "ebm"),
          "train's --prior gmm:3 is refused naming normal and ebm (%s)", err.msg);
    snprintf(c.kind, sizeof c.kind, "ebm");
    CHECK(abp_latent_prior_check(&c, "iabp", &err) != 0 && strstr(err.msg, "--objective iabp"),
          "--prior ebm with iabp is refused (%s)", err.msg);
    CHECK(abp_latent_prior_check(&c, "abp", &err) == 0, "--prior ebm with abp is fine");
    /* /config: nothing for normal, every option for ebm, read back */
    abp_train_cfg a, back;
    abp_train_defaults(&a);
    char *text = abp_train_cfg_format(&a, "z 3 | linear 4");
    CHECK(text && !strstr(text, "--prior"), "--prior normal writes nothing to /config");
    free(text);
    snprintf(a.prior.kind, sizeof a.prior.kind, "ebm");
    a.prior.steps = 17, a.prior.step_size = 0.3f, a.prior.lr = 1e-4f;
    text = abp_train_cfg_format(&a, "z 3 | linear 4");
    CHECK(abp_train_cfg_parse(text, &back, &err) == 0, "%s", err.msg);
    CHECK(!strcmp(back.prior.kind, "ebm") && back.prior.steps == 17 && back.prior.step_size == 0.3f &&
              back.prior.lr == 1e-4f && !strcmp(back.prior.spec, "ebm-prior"),
          "the prior's options read back from /config");
    free(text);
}

int main(void) {
    test_finite_differences();
    test_posterior_hook();
    test_prior_langevin();
    test_ml_closed_form();
    test_objective_gradient();
    test_bad_input();
    return check_summary("test_ebm_prior");
}
