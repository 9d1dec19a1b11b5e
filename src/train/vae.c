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
    abp_encoder_pair p;   /* g, the encoder, and the batch's buffers */
    float *dz;            /* dL/dz through g, CNS */
} vae;

static void destroy(void *self) {
    vae *o = self;
    if (!o) return;
    abp_encoder_pair_free(&o->p);
    abp_free(o->dz);
    free(o);
}

static int create(const abp_objective_env *env, abp_model *model, abp_objective_layout *layout, void **self,
                  abp_err *err) {
    vae *o = calloc(1, sizeof *o);
    *self = o;
    if (!o) return abp_fail(err, "out of memory");
    o->cfg = env->cfg;
    if (abp_encoder_pair_create(env, model, &o->p, err)) return -1;
    if (!(o->dz = abp_alloc(sizeof(float) * (size_t)env->b_local * (size_t)o->p.d, err))) return -1;
    abp_encoder_pair_layout(&o->p, 2, layout);
    return 0;
}

static void init_state(void *self, int chain, int which, int64_t id, float *row) {
    vae *o = self;
    (void)chain, (void)which;
    abp_encoder_pair_init_state(&o->p, o->cfg->seed, id, row);
}

static int iterate(void *self, abp_batch *b, abp_err *err) {
    vae *o = self;
    abp_encoder_pair *p = &o->p;
    abp_net *g = p->g, *e = p->enc;
    int n = b->b, d = p->d;
    e->training = g->training = 1;
    e->update_running = g->update_running = 1;
    if (abp_net_forward(e, b->obs->y, n, err)) return -1;
    const float *enc = abp_net_output(e);
    abp_encoder_pair_draw(p, o->cfg->seed, ABP_RNG_ENCODER, b, p->noise);
    abp_encoder_sample(enc, p->noise, p->zb, n, d);
    if (abp_net_forward(g, p->zb, n, err)) return -1;
    e->update_running = g->update_running = 0;
    b->slots[0] = (float)abp_observe_residual(b->obs, abp_net_output(g), p->dout, n, p->ys, p->inv_var_batch);
    if (abp_net_backward(g, p->dout, n, o->dz, 1, err)) return -1;
    abp_encoder_sample_backward(enc, p->noise, o->dz, p->denc, n, d);
    b->slots[1] = (float)abp_encoder_kl(enc, p->denc, n, d, p->inv_batch);
    if (abp_net_backward(e, p->denc, n, NULL, 1, err)) return -1;
    abp_cns_to_rows(enc, b->state[0], n, p->zs); /* mu: the first d rows of the output */
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
    return abp_encoder_pictures(o->p.g, o->p.enc, o->cfg->seed, env, written, cap, err);
}

const abp_objective_ops abp_objective_vae = {
    .name = "vae",
    .format = abp_encoder_pair_format,
    .create = create,
    .init_state = init_state,
    .iterate = iterate,
    .metrics = metrics,
    .pictures = pictures,
    .destroy = destroy,
};
