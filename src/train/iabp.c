/* IABP (the HiABP paper's Algorithm 1 with one latent layer; docs/encoder.md): a generator g
 * and a bottom-up encoder q_phi(z | x) = N(mu, diag sigma^2), both in the model's arena.
 * Each iteration, for the batch:
 *   1. z_0 from --init: mu + sigma e (encoder), the example's last z (persistent) or N(0, I);
 *   2. T Langevin steps on U(z) = |y - g(z)|^2 / (2 s^2) + |z|^2 / 2 (as ABP);
 *   3. the generator's gradient of |y - g(z_T)|^2 / (2 s^2 B) (eq. 4);
 *   4. the encoder's gradient of eq. (5), sum |z_T - mu|^2 / (2 sigma^2) + log(sigma^2) / 2,
 *      over B, with z_T held fixed.
 * Both gradients go into the arena, so the loop's one allreduce sums both; each network has
 * its own optimizer (--lr and --encoder-lr). The encoder is trained under every --init, so
 * a persistent or prior run can still be read with the encoder afterwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/rng.h"
#include "objective.h"

typedef struct iabp {
    const abp_train_cfg *cfg;
    abp_chain_init init;
    abp_encoder_pair p;   /* g, the encoder, and the batch's buffers */
    abp_infer_ws ws;
    abp_langevin lv;
} iabp;

static void destroy(void *self) {
    iabp *o = self;
    if (!o) return;
    abp_infer_ws_free(&o->ws);
    abp_encoder_pair_free(&o->p);
    free(o);
}

/* The generator and the encoder with the batch's buffers, shared with the VAE (vae.c). */
int abp_encoder_pair_create(const abp_objective_env *env, abp_model *model, abp_encoder_pair *p, abp_err *err) {
    const abp_train_cfg *cfg = env->cfg;
    memset(p, 0, sizeof *p);
    const char *spec = abp_model_spec(cfg->model);
    abp_opt_cfg gopt = {.kind = cfg->optimizer, .lr = cfg->lr, .beta1 = cfg->beta1, .momentum = cfg->momentum};
    if (abp_model_add(model, ABP_GENERATOR, spec ? spec : cfg->model, cfg->latent_dim, env->b_local, &gopt, &p->g, err))
        return -1;
    abp_shape zs = p->g->in_shape, ys = p->g->out_shape;
    if (zs.h != 1 || zs.w != 1)
        return abp_fail(err, "--objective %s needs a vector latent ('z D'); the model's is %dx%dx%d", cfg->objective,
                        zs.h, zs.w, zs.c);
    if (cfg->sense > 0 || strcmp(cfg->mask, "none") != 0)
        return abp_fail(err, "--objective %s: the encoder reads whole examples, so it takes no --mask or --sense",
                        cfg->objective);
    char *espec;
    if (abp_encoder_spec(cfg->encoder.spec, cfg->model, zs.c, &espec, err)) return -1;
    abp_opt_cfg eopt = gopt;
    eopt.lr = cfg->encoder.lr;
    int rc = abp_model_add(model, "encoder", espec, 0, env->b_local, &eopt, &p->enc, err);
    free(espec);
    if (rc) return abp_fail_wrap(err, "--encoder");
    abp_shape in = p->enc->in_shape;
    if (in.c != ys.c || in.h != ys.h || in.w != ys.w)
        return abp_fail(err, "--encoder: it reads %dx%dx%d, but the model makes %dx%dx%d", in.h, in.w, in.c, ys.h, ys.w,
                        ys.c);
    if (abp_shape_numel(p->enc->out_shape) != 2 * (int64_t)zs.c)
        return abp_fail(err, "--encoder: its last layer gives %lld numbers, but a latent of %d needs %d (mu, log sigma^2)",
                        (long long)abp_shape_numel(p->enc->out_shape), zs.c, 2 * zs.c);
    if (p->enc->nheads && abp_encoder_check_levels(p->g, p->enc, err)) return abp_fail_wrap(err, "--encoder");
    abp_net_init_params(p->g, cfg->seed);
    abp_net_init_params(p->enc, cfg->seed + 1); /* another seed: the encoder's own draws */
    p->g->sum = p->enc->sum = env->sum;
    p->g->sum_ctx = p->enc->sum_ctx = env->sum_ctx;
    p->zs = zs;
    p->ys = ys;
    p->d = zs.c;
    size_t b = (size_t)env->b_local, d = (size_t)p->d, dy = (size_t)abp_shape_numel(ys);
    if (!(p->zb = abp_alloc(sizeof(float) * b * d, err)) || !(p->dout = abp_alloc(sizeof(float) * b * dy, err)) ||
        !(p->noise = abp_alloc(sizeof(float) * b * d, err)) || !(p->rows = abp_alloc(sizeof(float) * b * d, err)) ||
        !(p->denc = abp_alloc(sizeof(float) * b * 2 * d, err)))
        return -1;
    p->inv_var_batch = 1.0f / (cfg->sigma * cfg->sigma * (float)env->B);
    p->inv_batch = 1.0f / (float)env->B;
    return 0;
}

void abp_encoder_pair_free(abp_encoder_pair *p) {
    abp_free(p->zb);
    abp_free(p->dout);
    abp_free(p->noise);
    abp_free(p->rows);
    abp_free(p->denc);
    p->zb = p->dout = p->noise = p->rows = p->denc = NULL;
}

char *abp_encoder_pair_format(const abp_train_cfg *cfg) { return abp_encoder_cfg_format(&cfg->encoder); }

void abp_encoder_pair_layout(const abp_encoder_pair *p, int nslots, abp_objective_layout *layout) {
    *layout = (abp_objective_layout){.signal = p->ys, .nexample = 1, .nslots = nslots};
    snprintf(layout->example[0].name, sizeof layout->example[0].name, "latents");
    layout->example[0].shape = p->zs;
}

void abp_encoder_pair_init_state(const abp_encoder_pair *p, uint64_t seed, int64_t id, float *row) {
    abp_rng_normal(seed, ABP_RNG_LATENT_INIT, (uint32_t)id, 0, 0, row, p->d);
}

void abp_encoder_pair_draw(abp_encoder_pair *p, uint64_t seed, uint32_t purpose, const abp_batch *b, float *out) {
    for (int i = 0; i < b->b; i++)
        abp_rng_normal(seed, purpose, (uint32_t)b->ids[i], (uint32_t)b->iteration, 0, p->rows + (int64_t)i * p->d, p->d);
    abp_rows_to_cns(p->rows, out, b->b, p->zs);
}

static int create(const abp_objective_env *env, abp_model *model, abp_objective_layout *layout, void **self,
                  abp_err *err) {
    const abp_train_cfg *cfg = env->cfg;
    iabp *o = calloc(1, sizeof *o);
    *self = o;
    if (!o) return abp_fail(err, "out of memory");
    o->cfg = cfg;
    if (abp_encoder_init_kind(&cfg->encoder, &o->init, err)) return -1;
    if (abp_encoder_pair_create(env, model, &o->p, err)) return -1;
    if (abp_infer_ws_init(&o->ws, o->p.g, err)) return -1;
    o->lv = (abp_langevin){.steps = cfg->langevin_steps, .step_size = cfg->step_size, .sigma = cfg->sigma,
                           .noise = !cfg->inference_gd, .seed = cfg->seed};
    abp_encoder_pair_layout(&o->p, 3, layout);
    return 0;
}

static void init_state(void *self, int chain, int which, int64_t id, float *row) {
    iabp *o = self;
    (void)chain, (void)which;
    abp_encoder_pair_init_state(&o->p, o->cfg->seed, id, row);
}

static int iterate(void *self, abp_batch *b, abp_err *err) {
    iabp *o = self;
    abp_encoder_pair *p = &o->p;
    abp_net *g = p->g, *e = p->enc;
    int n = b->b, d = p->d;
    /* 0. the encoder's one forward pass of the iteration (batch statistics; it updates the
     *    running ones, as the generator's learning pass does) */
    e->training = 1;
    e->update_running = 1;
    if (abp_net_forward(e, b->obs->y, n, err)) return -1;
    e->update_running = 0;
    const float *enc = abp_net_output(e);
    /* 1. where the chains start */
    if (o->init == ABP_INIT_ENCODER) {
        abp_encoder_pair_draw(p, o->cfg->seed, ABP_RNG_ENCODER, b, p->noise);
        abp_encoder_sample(enc, p->noise, p->zb, n, d);
    } else if (o->init == ABP_INIT_PERSISTENT) {
        abp_rows_to_cns(b->state[0], p->zb, n, p->zs);
    } else {
        abp_encoder_pair_draw(p, o->cfg->seed, ABP_RNG_CHAIN_START, b, p->zb);
    }
    /* 2. T Langevin steps: batch statistics, running statistics left alone */
    g->training = 1;
    g->update_running = 0;
    o->lv.iteration = (uint32_t)b->iteration;
    if (abp_infer_latents(g, p->zb, b->obs, n, b->ids, &o->lv, &o->ws, err)) return -1;
    /* the encoder alone ([E]): |y - g(mu)|^2, a metric only */
    if (abp_net_forward(g, enc, n, err)) return -1;
    b->slots[2] = (float)abp_observe_residual(b->obs, abp_net_output(g), p->dout, n, p->ys, 1.0f);
    /* 3. the generator learns from z_T (eq. 4) */
    g->update_running = 1;
    if (abp_net_forward(g, p->zb, n, err)) return -1;
    g->update_running = 0;
    b->slots[0] = (float)abp_observe_residual(b->obs, abp_net_output(g), p->dout, n, p->ys, p->inv_var_batch);
    if (abp_net_backward(g, p->dout, n, NULL, 1, err)) return -1;
    /* 4. the encoder learns to predict z_T (eq. 5), z_T held fixed */
    b->slots[1] = (float)abp_encoder_fit(enc, p->zb, p->denc, n, d, p->inv_batch);
    if (abp_net_backward(e, p->denc, n, NULL, 1, err)) return -1;
    abp_cns_to_rows(p->zb, b->state[0], n, p->zs);
    return 0;
}

static int metrics(void *self, const abp_sums *s, abp_metric *out) {
    iabp *o = self;
    double sigma = o->cfg->sigma;
    out[0] = (abp_metric){"loss", "loss %.4g", s ? s->slots[0] / (2.0 * sigma * sigma) / (double)s->B : 0.0};
    out[1] = (abp_metric){"recon_mse", "mse %.5f", s ? s->slots[0] / s->observed / 4.0 : 0.0};
    out[2] = (abp_metric){"encoder_loss", "enc %.4g", s ? s->slots[1] / (double)s->B : 0.0};
    out[3] = (abp_metric){"encoder_mse", "enc_mse %.5f", s ? s->slots[2] / s->observed / 4.0 : 0.0};
    return 4;
}

/* Samples from the prior; originals, g(mu) ([E]) and g(z_T) of the first examples. */
int abp_encoder_pictures(abp_net *g, abp_net *enc, uint64_t seed, const abp_picture_env *env, char *written,
                         size_t cap, abp_err *err) {
    abp_shape zs = g->in_shape, ys = g->out_shape;
    int64_t dz = abp_shape_numel(zs), dy = abp_shape_numel(ys);
    int total = 64, pairs = env->data->n < enc->max_batch ? (int)env->data->n : enc->max_batch;
    if (pairs > 32) pairs = 32;
    float *images = abp_alloc(sizeof(float) * (size_t)(total * dy), err);
    float *rows = abp_alloc(sizeof(float) * (size_t)(total * dz), err);
    float *zbuf = abp_alloc(sizeof(float) * (size_t)(g->max_batch * dz), err);
    float *x = abp_alloc(sizeof(float) * (size_t)(pairs * dy), err);
    float *mine = abp_alloc(sizeof(float) * (size_t)(pairs * dy), err);
    int rc = -1;
    if (!images || !rows || !zbuf || !x || !mine) goto done;
    g->training = enc->training = 0;
    for (int i = 0; i < total; i++) abp_rng_normal(seed, ABP_RNG_PRIOR, (uint32_t)i, 0, 0, rows + i * dz, dz);
    if (abp_net_generate(g, rows, total, images, zbuf, err)) goto done;
    char path[1200];
    snprintf(path, sizeof path, "%s/samples.png", env->out);
    if (abp_png_write_grid(path, images, total, ys.c, ys.h, ys.w, 8, err)) goto done;
    abp_rows_to_cns(env->data->data, x, pairs, ys);
    if (abp_net_forward(enc, x, pairs, err)) goto done;
    abp_cns_to_rows(abp_net_output(enc), rows, pairs, (abp_shape){2 * (int)dz, 1, 1});
    for (int i = 0; i < pairs; i++) memmove(rows + i * dz, rows + i * 2 * dz, sizeof(float) * (size_t)dz);
    if (abp_net_generate(g, rows, pairs, mine, zbuf, err)) goto done;
    if (abp_net_generate(g, env->state[0], pairs, images, zbuf, err)) goto done;
    snprintf(path, sizeof path, "%s/reconstructions.png", env->out);
    const float *sets[3] = {env->data->data, mine, images};
    if (abp_png_write_compare(path, sets, 3, pairs, ys.c, ys.h, ys.w, 8, err)) goto done;
    snprintf(written, cap, "%s/samples.png, %s/reconstructions.png (rows: data, g(mu), g(z))", env->out, env->out);
    rc = 0;
done:
    g->training = enc->training = 1;
    abp_free(images);
    abp_free(rows);
    abp_free(zbuf);
    abp_free(x);
    abp_free(mine);
    return rc;
}

static int pictures(void *self, const abp_picture_env *env, char *written, size_t cap, abp_err *err) {
    iabp *o = self;
    return abp_encoder_pictures(o->p.g, o->p.enc, o->cfg->seed, env, written, cap, err);
}

const abp_objective_ops abp_objective_iabp = {
    .name = "iabp",
    .format = abp_encoder_pair_format,
    .create = create,
    .init_state = init_state,
    .iterate = iterate,
    .metrics = metrics,
    .pictures = pictures,
    .destroy = destroy,
};
