/* The descriptor (src/infer/descriptor.c, src/train/descriptor.c):
 * - df/dI and df/dw of a small conv/lrelu/linear descriptor against central finite
 *   differences of f(I) = sum of the last layer's outputs;
 * - the objective's learning gradient (one iteration through the vtable) against finite
 *   differences of L(w) = mean_syn f - mean_obs f at the images it used;
 * - maximum likelihood with a known answer: f(I) = <w, I> + b with reference N(0, s^2 I)
 *   makes p = N(s^2 w, s^2 I), so ML gives w = mean(data) / s^2; training must get there. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/train/objective.h"
#include "abp/rng.h"
#include "check.h"

static double score_sum(abp_net *net, const float *img, int n) {
    abp_err err = {0};
    double s = 0;
    if (abp_descriptor_score(net, img, n, NULL, &s, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    return s;
}

/* Parameters and images O(1), so that the differences are far above float rounding. */
static void test_finite_differences(void) {
    abp_err err = {0};
    abp_net net;
    const int n = 2;
    if (abp_net_build("z 6x6x2 | conv 3 k3 s2 | lrelu 0.2 | conv 2 k3 s1 | lrelu 0.2 | linear 3", 0, n, &net, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    abp_rng_normal(5, ABP_RNG_TEST_INIT, 1, 0, 0, net.params, net.nparams);
    for (int64_t k = 0; k < net.nparams; k++) net.params[k] *= 0.4f;
    int64_t ni = abp_shape_numel(net.in_shape) * n;
    float *img = malloc(sizeof(float) * (size_t)ni), *dI = malloc(sizeof(float) * (size_t)ni);
    abp_rng_normal(5, ABP_RNG_TEST_INIT, 2, 0, 0, img, ni);
    abp_image_ws ws;
    CHECK(abp_image_ws_init(&ws, &net, &err) == 0, "%s", err.msg);
    abp_net_zero_grads(&net);
    double sum;
    CHECK(abp_descriptor_grad(&net, img, n, 1.0f, dI, 1, &sum, &ws, &err) == 0, "%s", err.msg);
    const float h = 1e-2f;
    double worst_i = 0, worst_w = 0;
    for (int64_t k = 0; k < ni; k++) {
        float keep = img[k];
        img[k] = keep + h;
        double up = score_sum(&net, img, n);
        img[k] = keep - h;
        double down = score_sum(&net, img, n);
        img[k] = keep;
        double fd = (up - down) / (2 * h), e = fabs(fd - dI[k]) / (fabs(fd) + fabs(dI[k]) + 1e-2);
        if (e > worst_i) worst_i = e;
    }
    for (int64_t k = 0; k < net.nparams; k++) {
        float keep = net.params[k];
        net.params[k] = keep + h;
        double up = score_sum(&net, img, n);
        net.params[k] = keep - h;
        double down = score_sum(&net, img, n);
        net.params[k] = keep;
        double fd = (up - down) / (2 * h), e = fabs(fd - net.grads[k]) / (fabs(fd) + fabs(net.grads[k]) + 1e-2);
        if (e > worst_w) worst_w = e;
    }
    CHECK(worst_i < 2e-2, "df/dI worst relative error %g", worst_i);
    CHECK(worst_w < 2e-2, "df/dw worst relative error %g", worst_w);
    /* the score is what the gradient is of: f summed per image over every output */
    double per[2];
    CHECK(abp_descriptor_score(&net, img, n, per, &sum, &err) == 0, "%s", err.msg);
    CHECK(fabs(per[0] + per[1] - sum) < 1e-9 * (1 + fabs(sum)), "scores %g + %g != %g", per[0], per[1], sum);
    abp_image_ws_free(&ws);
    abp_net_free(&net);
    free(img);
    free(dI);
}

/* A descriptor objective on the vtable, alone (no MPI: sum NULL). */
typedef struct rig {
    abp_train_cfg cfg;
    abp_model model;
    abp_objective_layout lay;
    void *self;
    float *chains, *obs;
    int n;
} rig;

static void rig_make(rig *r, const char *spec, int n, int64_t M, const float *rows) {
    abp_err err = {0};
    memset(&r->model, 0, sizeof r->model);
    snprintf(r->cfg.objective, sizeof r->cfg.objective, "descriptor");
    snprintf(r->cfg.descriptor.spec, sizeof r->cfg.descriptor.spec, "%s", spec);
    r->cfg.descriptor.chains = M;
    abp_objective_env env = {.cfg = &r->cfg, .b_local = n, .B = n, .n_total = n};
    if (abp_objective_descriptor.create(&env, &r->model, &r->lay, &r->self, &err) ||
        abp_model_seal(&r->model, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
    int64_t d = abp_shape_numel(r->lay.signal);
    r->n = n;
    r->chains = malloc(sizeof(float) * (size_t)(M * d));
    r->obs = malloc(sizeof(float) * (size_t)(n * d));
    for (int64_t i = 0; i < M; i++) abp_objective_descriptor.init_state(r->self, 1, 0, i, r->chains + i * d);
    abp_rows_to_cns(rows, r->obs, n, r->lay.signal);
}

static void rig_iterate(rig *r, int64_t it, float slots[8]) {
    abp_err err = {0};
    abp_observation obs = {.y = r->obs};
    int64_t ids[64];
    for (int i = 0; i < r->n; i++) ids[i] = i;
    abp_arena_zero_grads(&r->model.arena);
    memset(slots, 0, sizeof(float) * 8);
    abp_batch b = {.iteration = it, .b = r->n, .B = r->n, .ids = ids, .obs = &obs, .chain_lo = 0,
                   .chain_hi = r->lay.chain[0].rows, .slots = slots};
    b.chain[0] = r->chains;
    if (abp_objective_descriptor.iterate(r->self, &b, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        exit(1);
    }
}

static void rig_free(rig *r) {
    abp_objective_descriptor.destroy(r->self);
    abp_model_free(&r->model);
    free(r->chains);
    free(r->obs);
}

/* L(w) = mean_syn f - mean_obs f at the chain images the iteration used (they are written
 * back after the learning pass), differentiated numerically. */
static void test_learning_gradient(void) {
    enum { N = 3, M = 4, D = 2 * 5 * 5 };
    float rows[N * D];
    abp_rng_normal(9, ABP_RNG_TEST_INIT, 3, 0, 0, rows, N * D);
    rig r;
    abp_train_defaults(&r.cfg);
    r.cfg.descriptor.step_size = 0.1f;
    r.cfg.descriptor.ref_sigma = 1.0f;
    r.cfg.descriptor.steps = 3;
    rig_make(&r, "z 5x5x2 | conv 4 k3 s2 | lrelu 0.2 | linear 2", N, M, rows);
    abp_net *f = &r.model.nets[0].net;
    abp_rng_normal(9, ABP_RNG_TEST_INIT, 4, 0, 0, f->params, f->nparams);
    for (int64_t k = 0; k < f->nparams; k++) f->params[k] *= 0.3f;
    float slots[8], before[D];
    memcpy(before, r.chains, sizeof before);
    rig_iterate(&r, 0, slots);
    CHECK(memcmp(before, r.chains, sizeof before) != 0, "the chains did not move");
    float *syn = malloc(sizeof(float) * M * D);
    abp_rows_to_cns(r.chains, syn, M, f->in_shape);
    double worst = 0;
    int kinks = 0;
    /* small: after the Langevin steps some pre-activations sit near lrelu's kink */
    const float h = 1e-3f;
    for (int64_t k = 0; k < f->nparams; k++) {
        float keep = f->params[k];
        double L[2];
        for (int s = 0; s < 2; s++) {
            f->params[k] = keep + (s ? -h : h);
            L[s] = score_sum(f, syn, M) / M - score_sum(f, r.obs, N) / N;
        }
        f->params[k] = keep;
        double fd = (L[0] - L[1]) / (2 * h), g = f->grads[k];
        double e = fabs(fd - g) / (fabs(fd) + fabs(g) + 1e-3);
        /* A kink of lrelu inside [w - h, w + h] (which parameters have one depends on the RNG's
         * draws) spoils the central difference; the gradient is then the one-sided difference
         * on w's side. Counted, so that the test cannot pass on one-sided differences alone. */
        if (e >= 2e-2) {
            double c = score_sum(f, syn, M) / M - score_sum(f, r.obs, N) / N;
            double up = (L[0] - c) / h, down = (c - L[1]) / h;
            double eu = fabs(up - g) / (fabs(up) + fabs(g) + 1e-3), ed = fabs(down - g) / (fabs(down) + fabs(g) + 1e-3);
            double one = eu < ed ? eu : ed;
            if (one < e) kinks++, e = one;
        }
        if (e > worst) worst = e;
    }
    CHECK(worst < 2e-2, "learning gradient worst relative error %g", worst);
    CHECK(kinks <= 2, "%d of %lld parameters have a kink within h: the test lost its resolution", kinks,
          (long long)f->nparams);
    CHECK(fabs(slots[0] - score_sum(f, r.obs, N)) < 1e-3 * (1 + fabs(slots[0])), "slot 0 is sum f(obs)");
    CHECK(fabs(slots[1] - score_sum(f, syn, M)) < 1e-3 * (1 + fabs(slots[1])), "slot 1 is sum f(syn)");
    free(syn);
    rig_free(&r);
}

/* f(I) = <w, I> + b, q = N(0, s^2 I): p = N(s^2 w, s^2 I), and the ML estimate is w = mean / s^2. */
static void test_ml_closed_form(void) {
    enum { N = 64, D = 4, M = 256 };
    const float s = 0.5f, mu[D] = {0.5f, -0.25f, 0.1f, 0.3f};
    float rows[N * D];
    double mean[D] = {0};
    abp_rng_normal(3, ABP_RNG_TEST_INIT, 5, 0, 0, rows, N * D);
    for (int i = 0; i < N; i++)
        for (int e = 0; e < D; e++) rows[i * D + e] = mu[e] + 0.3f * rows[i * D + e], mean[e] += rows[i * D + e] / N;
    rig r;
    abp_train_defaults(&r.cfg);
    r.cfg.optimizer = ABP_OPT_SGD;
    r.cfg.momentum = 0;
    r.cfg.descriptor.lr = 1.0f;
    r.cfg.descriptor.ref_sigma = s;
    r.cfg.descriptor.step_size = 0.25f; /* each step pulls 1 - delta^2 / (2 s^2) = 0.875 of the way */
    r.cfg.descriptor.steps = 20;
    r.cfg.seed = 11;
    rig_make(&r, "z 1x4x1 | linear 1", N, M, rows);
    abp_net *f = &r.model.nets[0].net;
    abp_model_net *mn = &r.model.nets[0];
    double avg[D] = {0};
    const int iters = 300, tail = 150;
    float slots[8];
    for (int it = 0; it < iters; it++) {
        rig_iterate(&r, it, slots);
        abp_optimizer_step(&mn->opt, f->params, f->grads);
        if (it >= iters - tail)
            for (int e = 0; e < D; e++) avg[e] += f->layers[0].weight[e] / tail;
    }
    for (int e = 0; e < D; e++) {
        double want = mean[e] / (s * s);
        CHECK(fabs(avg[e] - want) < 0.1, "w[%d] = %g, ML estimate mean / s^2 = %g", e, avg[e], want);
    }
    rig_free(&r);
}

int main(void) {
    test_finite_differences();
    test_learning_gradient();
    test_ml_closed_form();
    return check_summary("test_descriptor");
}
