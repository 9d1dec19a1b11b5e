/* The VAE baseline (Kingma and Welling 2014; the first row of the HiABP paper's Table 1;
 * docs/encoder.md): the same generator and encoder as IABP, trained on the negative ELBO
 *   |y - g(z)|^2 / (2 s^2) + KL(N(mu, sigma^2) || N(0, I)),   z = mu + sigma e,
 * summed over the batch and divided by B, with no Langevin: the gradient reaches the encoder
 * through z by the reparameterisation (abp_encoder_sample_backward) and through the KL.
 * The per-example state keeps each example's mu, the latent its reconstruction uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/rng.h"
#include "objective.h"

typedef struct vae {
    const abp_train_cfg *cfg;
    abp_net *g, *enc;
    abp_shape zs, ys;
    int d;
    float *zb, *dz, *dout, *noise, *rows, *denc;
    float inv_var_batch, inv_batch;
} vae;

static void destroy(void *self) {
    vae *o = self;
    if (!o) return;
    abp_free(o->zb);
    abp_free(o->dz);
    abp_free(o->dout);
    abp_free(o->noise);
    abp_free(o->rows);
    abp_free(o->denc);
    free(o);
}

static int create(const abp_objective_env *env, abp_model *model, abp_objective_layout *layout, void **self,
                  abp_err *err) {
    const abp_train_cfg *cfg = env->cfg;
    vae *o = calloc(1, sizeof *o);
    *self = o;
    if (!o) return abp_fail(err, "out of memory");
    o->cfg = cfg;
    if (abp_encoder_pair_create(env, model, &o->g, &o->enc, err)) return -1;
    o->zs = o->g->in_shape;
    o->ys = o->g->out_shape;
    o->d = o->zs.c;
    size_t b = (size_t)env->b_local, d = (size_t)o->d, dy = (size_t)abp_shape_numel(o->ys);
    if (!(o->zb = abp_alloc(sizeof(float) * b * d, err)) || !(o->dz = abp_alloc(sizeof(float) * b * d, err)) ||
        !(o->dout = abp_alloc(sizeof(float) * b * dy, err)) || !(o->noise = abp_alloc(sizeof(float) * b * d, err)) ||
        !(o->rows = abp_alloc(sizeof(float) * b * d, err)) || !(o->denc = abp_alloc(sizeof(float) * b * 2 * d, err)))
        return -1;
    o->inv_var_batch = 1.0f / (cfg->sigma * cfg->sigma * (float)env->B);
    o->inv_batch = 1.0f / (float)env->B;
    *layout = (abp_objective_layout){.signal = o->ys, .nexample = 1, .nslots = 2};
    snprintf(layout->example[0].name, sizeof layout->example[0].name, "latents");
    layout->example[0].shape = o->zs;
    return 0;
}

static void init_state(void *self, int chain, int which, int64_t id, float *row) {
    vae *o = self;
    (void)chain, (void)which;
    abp_rng_normal(o->cfg->seed, ABP_RNG_LATENT_INIT, (uint32_t)id, 0, 0, row, o->d);
}

static int iterate(void *self, abp_batch *b, abp_err *err) {
    vae *o = self;
    abp_net *g = o->g, *e = o->enc;
    int n = b->b, d = o->d;
    e->training = g->training = 1;
    e->update_running = g->update_running = 1;
    if (abp_net_forward(e, b->obs->y, n, err)) return -1;
    const float *enc = abp_net_output(e);
    for (int i = 0; i < n; i++)
        abp_rng_normal(o->cfg->seed, ABP_RNG_ENCODER, (uint32_t)b->ids[i], (uint32_t)b->iteration, 0,
                       o->rows + (int64_t)i * d, d);
    abp_rows_to_cns(o->rows, o->noise, n, o->zs);
    abp_encoder_sample(enc, o->noise, o->zb, n, d);
    if (abp_net_forward(g, o->zb, n, err)) return -1;
    e->update_running = g->update_running = 0;
    b->slots[0] = (float)abp_observe_residual(b->obs, abp_net_output(g), o->dout, n, o->ys, o->inv_var_batch);
    if (abp_net_backward(g, o->dout, n, o->dz, 1, err)) return -1;
    abp_encoder_sample_backward(enc, o->noise, o->dz, o->denc, n, d);
    b->slots[1] = (float)abp_encoder_kl(enc, o->denc, n, d, o->inv_batch);
    if (abp_net_backward(e, o->denc, n, NULL, 1, err)) return -1;
    abp_cns_to_rows(enc, b->state[0], n, o->zs); /* mu: the first d rows of the output */
    return 0;
}

static int metrics(void *self, const abp_sums *s, abp_metric *out) {
    vae *o = self;
    double sigma = o->cfg->sigma;
    double rec = s ? s->slots[0] / (2.0 * sigma * sigma) / (double)s->B : 0.0, kl = s ? s->slots[1] / (double)s->B : 0.0;
    out[0] = (abp_metric){"loss", "loss %.4g", rec + kl}; /* the negative ELBO per example, up to a constant */
    out[1] = (abp_metric){"recon_mse", "mse %.5f", s ? s->slots[0] / s->observed / 4.0 : 0.0};
    out[2] = (abp_metric){"kl", "kl %.4g", kl};
    return 3;
}

static int pictures(void *self, const abp_picture_env *env, char *written, size_t cap, abp_err *err) {
    vae *o = self;
    return abp_encoder_pictures(o->g, o->enc, o->cfg->seed, env, written, cap, err);
}

const abp_objective_ops abp_objective_vae = {
    .name = "vae",
    .create = create,
    .init_state = init_state,
    .iterate = iterate,
    .metrics = metrics,
    .pictures = pictures,
    .destroy = destroy,
};
