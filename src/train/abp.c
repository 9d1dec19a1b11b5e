/* The ABP objective (DESIGN §3, the ABP paper's Algorithm 1) on the objective interface:
 * one network, the generator g; one persistent state, each example's latent z_i (/latents).
 * Each iteration: L Langevin steps on the batch's z (inferential back-propagation), then
 * one learning pass, dL/dW of |A y - A g(z)|^2 / (2 sigma^2 B), into the arena.
 *
 * With --prior ebm (abp/ebm_prior.h, Pang et al. 2020) a second network, "prior", is the
 * f_a of p_a(z) = exp(f_a(z)) N(0, I) / Z, learned beside g: its state and its three steps
 * (create, learn, draw) are ebm_prior_state.c's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/ebm_prior.h"
#include "abp/rng.h"
#include "objective.h"

typedef struct abp_objective {
    const abp_train_cfg *cfg;
    abp_net *g;           /* the generator, in the model's arena */
    abp_infer_ws ws;
    abp_langevin lv;
    abp_shape zs, ys;
    float *zb, *dout;     /* the batch's latents and dL/dg, CNS */
    float inv_var_batch;  /* 1 / (sigma^2 B): the learning gradient's scale */
    abp_ebm_prior_state *ebm; /* --prior ebm's network and buffers; NULL with --prior normal */
} abp_objective;

static void destroy(void *self) {
    abp_objective *o = self;
    if (!o) return;
    abp_infer_ws_free(&o->ws);
    abp_ebm_prior_state_destroy(o->ebm);
    abp_free(o->zb);
    abp_free(o->dout);
    free(o);
}

static int create(const abp_objective_env *env, abp_model *model, abp_objective_layout *layout, void **self,
                  abp_err *err) {
    const abp_train_cfg *cfg = env->cfg;
    abp_objective *o = calloc(1, sizeof *o);
    *self = o;
    if (!o) return abp_fail(err, "out of memory");
    o->cfg = cfg;
    const char *spec = abp_model_spec(cfg->model);
    abp_opt_cfg opt = {.kind = cfg->optimizer, .lr = cfg->lr, .beta1 = cfg->beta1, .momentum = cfg->momentum};
    if (abp_model_add(model, ABP_GENERATOR, spec ? spec : cfg->model, cfg->latent_dim, env->b_local, &opt, &o->g, err))
        return -1;
    abp_net_init_params(o->g, cfg->seed);
    o->g->sum = env->sum;
    o->g->sum_ctx = env->sum_ctx;
    o->zs = o->g->in_shape;
    o->ys = o->g->out_shape;
    if (abp_infer_ws_init(&o->ws, o->g, err)) return -1;
    int64_t dz = abp_shape_numel(o->zs), dy = abp_shape_numel(o->ys);
    o->zb = abp_alloc(sizeof(float) * (size_t)(env->b_local * dz), err);
    o->dout = o->zb ? abp_alloc(sizeof(float) * (size_t)(env->b_local * dy), err) : NULL;
    if (!o->dout) return -1;
    o->lv = (abp_langevin){.steps = cfg->langevin_steps, .step_size = cfg->step_size, .sigma = cfg->sigma,
                           .noise = !cfg->inference_gd, .seed = cfg->seed};
    o->inv_var_batch = 1.0f / (cfg->sigma * cfg->sigma * (float)env->B);
    if (abp_latent_prior_is_ebm(&cfg->prior) && abp_ebm_prior_state_create(env, model, o->zs, &o->lv, &o->ebm, err))
        return -1;
    /* slots: the squared error; with the EBM prior sum f(posterior) and sum f(prior) */
    *layout = (abp_objective_layout){.signal = o->ys, .nexample = 1, .nslots = o->ebm ? 3 : 1};
    snprintf(layout->example[0].name, sizeof layout->example[0].name, "latents");
    layout->example[0].shape = o->zs;
    return 0;
}

/* /config: --prior ebm's options (abp/ebm_prior.h); nothing for --prior normal, so a plain
 * ABP checkpoint's /config is what it was before the prior existed. */
static char *format(const abp_train_cfg *cfg) {
    size_t cap = strlen(cfg->prior.spec) + 256;
    char *s = calloc(cap, 1);
    if (s) abp_latent_prior_format(&cfg->prior, s, cap);
    return s;
}

/* z_i ~ N(0, I) from the counter RNG: the same for example i on any number of ranks. */
static void init_state(void *self, int chain, int which, int64_t id, float *row) {
    abp_objective *o = self;
    (void)chain, (void)which;
    abp_rng_normal(o->cfg->seed, ABP_RNG_LATENT_INIT, (uint32_t)id, 0, 0, row, abp_shape_numel(o->zs));
}

static int iterate(void *self, abp_batch *b, abp_err *err) {
    abp_objective *o = self;
    abp_net *g = o->g;
    abp_rows_to_cns(b->state[0], o->zb, b->b, o->zs);
    /* 1. inferential back-propagation: batch statistics, running statistics left alone */
    g->training = 1;
    g->update_running = 0;
    o->lv.iteration = (uint32_t)b->iteration;
    if (abp_infer_latents(g, o->zb, b->obs, b->b, b->ids, &o->lv, &o->ws, err)) return -1;
    /* 2. learning back-propagation at the inferred z; this pass updates the running statistics */
    g->update_running = 1;
    if (abp_net_forward(g, o->zb, b->b, err)) return -1;
    g->update_running = 0;
    b->slots[0] = (float)abp_observe_residual(b->obs, abp_net_output(g), o->dout, b->b, o->ys, o->inv_var_batch);
    if (abp_net_backward(g, o->dout, b->b, NULL, 1, err)) return -1;
    /* 2b. the EBM prior learns from the inferred latents against its own short-run samples */
    if (o->ebm && b->b > 0 && abp_ebm_prior_state_learn(o->ebm, o->zb, b, b->slots + 1, err)) return -1;
    /* 3. the inferred latents go back to their examples */
    abp_cns_to_rows(o->zb, b->state[0], b->b, o->zs);
    return 0;
}

static int metrics(void *self, const abp_sums *s, abp_metric *out) {
    abp_objective *o = self;
    double sse = s ? s->slots[0] : 0.0, sigma = o->cfg->sigma;
    /* With --sense the error is on the projections, and its name says so. */
    int sense = o->cfg->sense > 0;
    out[0] = (abp_metric){"loss", "loss %.4g", s ? sse / (2.0 * sigma * sigma) / (double)s->B : 0.0};
    /* per observed value (pixel, or projection), on the [0,1] pixel scale */
    out[1] = (abp_metric){sense ? "proj_mse" : "recon_mse", sense ? "proj_mse %.5f" : "mse %.5f",
                          s ? sse / s->observed / 4.0 : 0.0};
    if (!o->ebm) return 2;
    /* --prior ebm: mean f over the posterior latents and over the prior's samples; f_a has
     * learned what it can when they agree (the maximum-likelihood fixed point) */
    out[2] = (abp_metric){"f_posterior", "f(post) %.4g", s ? s->slots[1] / (double)s->B : 0.0};
    out[3] = (abp_metric){"f_prior", "f(prior) %.4g", s ? s->slots[2] / (double)s->B : 0.0};
    return 4;
}

/* Samples from the prior and reconstructions of the first examples, as PNG (of a sound:
 * samples.wav and reconstruction.wav). */
static int pictures(void *self, const abp_picture_env *env, char *written, size_t cap, abp_err *err) {
    abp_objective *o = self;
    abp_net *net = o->g;
    const float *latents = env->state[0];
    int64_t dz = abp_shape_numel(o->zs), dy = abp_shape_numel(o->ys);
    int total = 64, pairs = env->data->n < 32 ? (int)env->data->n : 32;
    float *images = abp_alloc(sizeof(float) * (size_t)(total * dy), err);
    float *rows = abp_alloc(sizeof(float) * (size_t)(total * dz), err);
    int rc = -1;
    if (!images || !rows) goto done;
    net->training = 0;
    if (o->ebm) {
        if (abp_ebm_prior_state_draw(o->ebm, total, rows, err)) goto done; /* through the learned prior */
    } else {
        for (int i = 0; i < total; i++) abp_rng_normal(o->cfg->seed, ABP_RNG_PRIOR, (uint32_t)i, 0, 0, rows + i * dz, dz);
    }
    if (abp_net_generate(net, rows, total, images, o->zb, err)) goto done;
    char path[1200];
    if (env->wav_rate > 0) {
        /* A sound: one sample and the first example's reconstruction, as WAV at its rate. */
        snprintf(path, sizeof path, "%s/samples.wav", env->out);
        if (abp_wav_write(path, images, dy, env->wav_rate, ABP_WAV_PCM16, err)) goto done;
        if (abp_net_generate(net, latents, 1, images, o->zb, err)) goto done;
        snprintf(path, sizeof path, "%s/reconstruction.wav", env->out);
        if (abp_wav_write(path, images, dy, env->wav_rate, ABP_WAV_PCM16, err)) goto done;
        snprintf(written, cap, "%s/samples.wav, %s/reconstruction.wav", env->out, env->out);
        rc = 0;
        goto done;
    }
    snprintf(path, sizeof path, "%s/samples.png", env->out);
    if (abp_png_write_grid(path, images, total, o->ys.c, o->ys.h, o->ys.w, 8, err)) goto done;
    /* Reconstructions: rows of originals, each followed by a row of their g(z_i). */
    if (abp_net_generate(net, latents, pairs, images, o->zb, err)) goto done;
    snprintf(path, sizeof path, "%s/reconstructions.png", env->out);
    const float *sets[2] = {env->data->data, images};
    if (abp_png_write_compare(path, sets, 2, pairs, o->ys.c, o->ys.h, o->ys.w, 8, err)) goto done;
    snprintf(written, cap, "%s/samples.png, %s/reconstructions.png", env->out, env->out);
    rc = 0;
done:
    net->training = 1;
    abp_free(images);
    abp_free(rows);
    return rc;
}

const abp_objective_ops abp_objective_abp = {
    .name = "abp",
    .format = format,
    .create = create,
    .init_state = init_state,
    .iterate = iterate,
    .metrics = metrics,
    .pictures = pictures,
    .destroy = destroy,
};
