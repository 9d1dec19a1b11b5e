/* abp — a bottom-up encoder q_phi(z | x) = N(mu_phi(x), diag sigma_phi(x)^2) beside the
 * generator (the HiABP paper, Sun, Liu and Zhou 2021, eqs. 4-5; docs/encoder.md).
 *
 * The encoder is a network like any other (a chain of conv, bn, lrelu, linear layers) whose
 * input is the signal and whose output is 2d numbers per example: mu (the first d) and
 * log sigma^2 (the last d). IABP starts each iteration's Langevin chains at
 * z_0 = mu + sigma * e and teaches the encoder to predict where they end (eq. 5). These are
 * its options (one member of abp_train_cfg) and the per-example arithmetic every encoder
 * objective shares. With hierarchical latents (HiABP) d is every level's code together, in
 * the generator's order, and the encoder's heads give the lower levels (abp/nn.h). */
#ifndef ABP_ENCODER_H
#define ABP_ENCODER_H

#include <stdint.h>

#include "abp/error.h"

/* Where each iteration's Langevin chains start (the rows of the paper's Table 1). */
typedef enum abp_chain_init {
    ABP_INIT_ENCODER,    /* z_0 = mu + sigma e from the encoder: IABP */
    ABP_INIT_PERSISTENT, /* the example's latent from the last time it was seen: ABP */
    ABP_INIT_PRIOR,      /* z_0 ~ N(0, I), fresh every iteration: non-persistent ABP */
} abp_chain_init;

/* Which of the options were given on the command line (abp_encoder_cfg.given): on --resume
 * the others are taken from the checkpoint's /config, and these are checked against it. */
enum { ABP_ENCODER_GIVEN_SPEC = 1, ABP_ENCODER_GIVEN_INIT = 2, ABP_ENCODER_GIVEN_LR = 4 };

typedef struct abp_encoder_cfg {
    char spec[4096];     /* "auto" (the built-in mirror of the model), a built-in name, or a spec;
                          * a checkpoint's /config records the built encoder's canonical spec */
    char init[16];       /* "encoder", "persistent" or "prior" */
    float lr;            /* the encoder's learning rate (its optimizer is the generator's kind) */
    int given;           /* ABP_ENCODER_GIVEN_* bits; not stored in /config */
} abp_encoder_cfg;

void abp_encoder_defaults(abp_encoder_cfg *cfg);
/* The init named by cfg->init, or -1 with err naming the option. */
ABP_MUST_CHECK int abp_encoder_init_kind(const abp_encoder_cfg *cfg, abp_chain_init *kind, abp_err *err);
/* The "--name=value\n" lines of /config; malloc'd. */
char *abp_encoder_cfg_format(const abp_encoder_cfg *cfg);
/* One /config key: 1 if it was the encoder's (and read), 0 if not. */
int abp_encoder_cfg_parse_key(abp_encoder_cfg *cfg, const char *key, const char *value);

/* The encoder's spec for a generator with latent d built from model (a built-in name, or a
 * spec, also a built-in's canonical spec as /config records it): "auto" is model's built-in
 * encoder ("NAME-encoder"), its last linear layer resized to 2d (with heads, to twice d less
 * the heads' sizes: the top level); a built-in name is looked up; anything else is a spec.
 * *out is malloc'd. */
ABP_MUST_CHECK int abp_encoder_spec(const char *encoder, const char *model, int d, char **out, abp_err *err);

/* An encoder with heads (HiABP, eq. 7) must give the generator's levels: as many, each of
 * the same size. Otherwise one line listing both, bottom level first. */
struct abp_net;
ABP_MUST_CHECK int abp_encoder_check_levels(const struct abp_net *g, const struct abp_net *enc, abp_err *err);

/* ---- the per-example arithmetic, on CNS columns: value j of example i at [j * n + i] ---- */

/* z_0 = mu + exp(logvar / 2) * e for n examples of latent d; enc is the encoder's output
 * ([2d][n]: mu rows then logvar rows), e the noise ([d][n]). */
void abp_encoder_sample(const float *enc, const float *e, float *z, int n, int d);

/* The backward of abp_encoder_sample: denc = dL/d(mu, logvar) from dz = dL/dz_0 (sets, not
 * adds). The VAE's reparameterisation trick. */
void abp_encoder_sample_backward(const float *enc, const float *e, const float *dz, float *denc, int n, int d);

/* Eq. (5) with z held fixed: L = sum_i sum_j (z - mu)^2 / (2 sigma^2) + log(sigma^2) / 2,
 * times scale; denc (same layout as enc) gets dL/d(mu, logvar). Returns the unscaled sum. */
double abp_encoder_fit(const float *enc, const float *z, float *denc, int n, int d, float scale);

/* The ELBO's KL(q || N(0, I)) = sum 0.5 (mu^2 + sigma^2 - 1 - log sigma^2), times scale:
 * denc += its gradient (adds: the reparameterised reconstruction term is added separately).
 * Returns the unscaled sum. */
double abp_encoder_kl(const float *enc, float *denc, int n, int d, float scale);

#endif
