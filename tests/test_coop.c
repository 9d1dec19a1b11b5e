/* Cooperative learning (src/train/coop.c), one iteration through the objective's vtable
 * against its parts rebuilt from the public functions:
 * - the proposals' z are the counter RNG's (ABP_RNG_PROPOSAL, example id, iteration), the
 *   revised images Y are L descriptor Langevin steps from g(z), the stored latents are K ABP
 *   Langevin steps from z towards Y;
 * - the generator's gradient is that of |Y - g(z_K; W)|^2 / (2 sigma^2 B), by central finite
 *   differences (the revised images are the generator's data);
 * - the descriptor's gradient is that of mean f(Y) - mean f(obs), by central differences;
 * - the loss sums (slots) are what they say;
 * - with no revision and no latent steps, Y = g(z) and the generator has nothing to learn:
 *   its gradient and loss are exactly zero. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../src/train/objective.h"
#include "abp/rng.h"
#include "check.h"

enum { N = 3 };
static const int64_t ids[N] = {5, 7, 9};
#define GEN "z 3 | linear 2x2x4 | lrelu 0.2 | deconv 2 k4 s2 p1 | tanh"
#define DESC "z 5x5x2 | conv 3 k3 s1 | lrelu 0.2 | linear 2"

static void die(const abp_err *err) {
    fprintf(stderr, "%s\n", err->msg);
    exit(1);
}

typedef struct rig {
    abp_train_cfg cfg;
    abp_model model;
    abp_objective_layout lay;
    void *self;
    abp_net *g, *f;
    float *obs, *latents; /* the batch's observed images (CNS) and its state rows */
} rig;

static void rig_make(rig *r, int desc_steps, int latent_steps) {
    abp_err err = {0};
    memset(r, 0, sizeof *r);
    abp_train_defaults(&r->cfg);
    snprintf(r->cfg.objective, sizeof r->cfg.objective, "coop");
    snprintf(r->cfg.model, sizeof r->cfg.model, GEN);
    snprintf(r->cfg.descriptor.spec, sizeof r->cfg.descriptor.spec, DESC);
    r->cfg.descriptor.steps = desc_steps;
    r->cfg.descriptor.step_size = 0.1f;
    r->cfg.descriptor.ref_sigma = 1.0f;
    r->cfg.coop.latent_steps = latent_steps;
    r->cfg.seed = 4;
    abp_objective_env env = {.cfg = &r->cfg, .b_local = N, .B = N, .n_total = 12};
    if (abp_objective_coop.create(&env, &r->model, &r->lay, &r->self, &err) || abp_model_seal(&r->model, &err))
        die(&err);
    CHECK(r->model.nnets == 2 && !strcmp(r->model.nets[0].name, ABP_GENERATOR) &&
              !strcmp(r->model.nets[1].name, "descriptor"),
          "the generator first, then the descriptor");
    r->g = &r->model.nets[0].net;
    r->f = &r->model.nets[1].net;
    /* parameters O(1), so that finite differences stand far above float rounding */
    abp_rng_normal(8, ABP_RNG_TEST_INIT, 1, 0, 0, r->model.arena.params, r->model.arena.nparams);
    for (int64_t k = 0; k < r->model.arena.nparams; k++) r->model.arena.params[k] *= 0.3f;
    int64_t dy = abp_shape_numel(r->lay.signal), dz = abp_shape_numel(r->lay.example[0].shape);
    float rows[N * 64];
    abp_rng_normal(8, ABP_RNG_TEST_INIT, 2, 0, 0, rows, N * dy);
    r->obs = malloc(sizeof(float) * (size_t)(N * dy));
    r->latents = malloc(sizeof(float) * (size_t)(N * dz));
    abp_rows_to_cns(rows, r->obs, N, r->lay.signal);
    for (int i = 0; i < N; i++) abp_objective_coop.init_state(r->self, 0, 0, ids[i], r->latents + i * dz);
}

static void rig_iterate(rig *r, int64_t it, float slots[8]) {
    abp_err err = {0};
    abp_observation obs = {.y = r->obs};
    abp_arena_zero_grads(&r->model.arena);
    memset(slots, 0, sizeof(float) * 8);
    abp_batch b = {.iteration = it, .b = N, .B = N, .ids = ids, .obs = &obs, .slots = slots};
    b.state[0] = r->latents;
    if (abp_objective_coop.iterate(r->self, &b, &err)) die(&err);
}

static void rig_free(rig *r) {
    abp_objective_coop.destroy(r->self);
    abp_model_free(&r->model);
    free(r->obs);
    free(r->latents);
}

static double sq_dist(const float *a, const float *b, int64_t n) {
    double s = 0;
    for (int64_t k = 0; k < n; k++) s += (double)(a[k] - b[k]) * (a[k] - b[k]);
    return s;
}

/* |Y - g(z)|^2 at the generator's current parameters (CNS throughout). */
static double gen_sse(abp_net *g, const float *z, const float *y) {
    abp_err err = {0};
    if (abp_net_forward(g, z, N, &err)) die(&err);
    return sq_dist(abp_net_output(g), y, abp_shape_numel(g->out_shape) * N);
}

static double score_sum(abp_net *f, const float *img) {
    abp_err err = {0};
    double s;
    if (abp_descriptor_score(f, img, N, NULL, &s, &err)) die(&err);
    return s;
}

static void test_iteration_against_parts(void) {
    abp_err err = {0};
    rig r;
    rig_make(&r, 3, 2);
    abp_net *g = r.g, *f = r.f;
    const int64_t it = 2;
    int64_t dz = abp_shape_numel(g->in_shape), dy = abp_shape_numel(g->out_shape);
    float slots[8];
    rig_iterate(&r, it, slots);
    float *grads = malloc(sizeof(float) * (size_t)r.model.arena.nparams);
    memcpy(grads, r.model.arena.grads, sizeof(float) * (size_t)r.model.arena.nparams);
    const float *gg = grads, *fg = grads + (f->params - r.model.arena.params);

    /* the parts, rebuilt */
    float zrows[N * 3], z[N * 3], y0[N * 64], y[N * 64], zk_rows[N * 3];
    for (int i = 0; i < N; i++)
        abp_rng_normal(r.cfg.seed, ABP_RNG_PROPOSAL, (uint32_t)ids[i], (uint32_t)it, 0, zrows + i * dz, dz);
    abp_rows_to_cns(zrows, z, N, g->in_shape);
    g->training = 1;
    if (abp_net_forward(g, z, N, &err)) die(&err);
    memcpy(y0, abp_net_output(g), sizeof(float) * (size_t)(N * dy));
    memcpy(y, y0, sizeof y0);
    abp_image_ws iws;
    abp_infer_ws zws;
    if (abp_image_ws_init(&iws, f, &err) || abp_infer_ws_init(&zws, g, &err)) die(&err);
    abp_image_langevin ilv = {.steps = 3, .step_size = 0.1f, .ref_sigma = 1.0f, .noise = 1, .seed = r.cfg.seed,
                              .iteration = (uint32_t)it};
    if (abp_langevin_images(f, y, N, ids, &ilv, &iws, &err)) die(&err);
    abp_observation yo = {.y = y};
    abp_langevin zlv = {.steps = 2, .step_size = r.cfg.step_size, .sigma = r.cfg.sigma, .noise = 1,
                        .seed = r.cfg.seed, .iteration = (uint32_t)it};
    if (abp_infer_latents(g, z, &yo, N, ids, &zlv, &zws, &err)) die(&err);
    abp_cns_to_rows(z, zk_rows, N, g->in_shape);
    CHECK(sq_dist(y, y0, N * dy) > 1e-6, "the descriptor did not revise the proposals");
    CHECK(sq_dist(zk_rows, zrows, N * dz) > 1e-6, "the latent steps did not move z");
    CHECK(sq_dist(zk_rows, r.latents, N * dz) < 1e-10, "the stored latents are z after the latent steps");

    /* the generator's gradient: of |Y - g(z_K)|^2 / (2 sigma^2 B) */
    const double scale = 1.0 / (2.0 * r.cfg.sigma * r.cfg.sigma * N);
    const float h = 1e-3f;
    double worst = 0;
    for (int64_t k = 0; k < g->nparams; k++) {
        float keep = g->params[k];
        g->params[k] = keep + h;
        double up = gen_sse(g, z, y) * scale;
        g->params[k] = keep - h;
        double down = gen_sse(g, z, y) * scale;
        g->params[k] = keep;
        double fd = (up - down) / (2 * h), e = fabs(fd - gg[k]) / (fabs(fd) + fabs(gg[k]) + 1e-3);
        if (e > worst) worst = e;
    }
    CHECK(worst < 2e-2, "generator gradient worst relative error %g", worst);
    /* the descriptor's gradient: of mean f(Y) - mean f(obs) */
    worst = 0;
    for (int64_t k = 0; k < f->nparams; k++) {
        float keep = f->params[k];
        double L[2];
        for (int s = 0; s < 2; s++) {
            f->params[k] = keep + (s ? -h : h);
            L[s] = score_sum(f, y) / N - score_sum(f, r.obs) / N;
        }
        f->params[k] = keep;
        double fd = (L[0] - L[1]) / (2 * h), e = fabs(fd - fg[k]) / (fabs(fd) + fabs(fg[k]) + 1e-3);
        if (e > worst) worst = e;
    }
    CHECK(worst < 2e-2, "descriptor gradient worst relative error %g", worst);
    /* the slots */
    double sse = gen_sse(g, z, y), so = score_sum(f, r.obs), ss = score_sum(f, y), moved = sq_dist(y, y0, N * dy);
    CHECK(fabs(slots[0] - sse) < 1e-4 * (1 + sse), "slot 0 %g is |Y - g(z)|^2 %g", slots[0], sse);
    CHECK(fabs(slots[1] - so) < 1e-4 * (1 + fabs(so)), "slot 1 %g is sum f(obs) %g", slots[1], so);
    CHECK(fabs(slots[2] - ss) < 1e-4 * (1 + fabs(ss)), "slot 2 %g is sum f(Y) %g", slots[2], ss);
    CHECK(fabs(slots[3] - moved) < 1e-4 * (1 + moved), "slot 3 %g is |Y - g(z_0)|^2 %g", slots[3], moved);
    /* another iteration proposes other images */
    float again[8];
    rig_iterate(&r, it + 1, again);
    CHECK(again[2] != slots[2], "iteration %lld proposed the same images as %lld", (long long)(it + 1), (long long)it);
    abp_image_ws_free(&iws);
    abp_infer_ws_free(&zws);
    free(grads);
    rig_free(&r);
}

static void test_nothing_to_learn(void) {
    rig r;
    rig_make(&r, 0, 0);
    float slots[8];
    rig_iterate(&r, 0, slots);
    double worst = 0, fsum = 0;
    for (int64_t k = 0; k < r.g->nparams; k++) worst = fmax(worst, fabs(r.g->grads[k]));
    for (int64_t k = 0; k < r.f->nparams; k++) fsum += fabs(r.f->grads[k]);
    CHECK(worst == 0.0 && slots[0] == 0.0f && slots[3] == 0.0f, "Y = g(z): gradient %g, loss %g", worst, slots[0]);
    CHECK(fsum > 0, "the descriptor still learns g(z) against the data");
    rig_free(&r);
}

int main(void) {
    test_iteration_against_parts();
    test_nothing_to_learn();
    return check_summary("test_coop");
}
