/* The encoder's options and the per-example arithmetic of q_phi(z | x) (abp/encoder.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/encoder.h"
#include "abp/nn.h"

void abp_encoder_defaults(abp_encoder_cfg *cfg) {
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->spec, sizeof cfg->spec, "auto");
    snprintf(cfg->init, sizeof cfg->init, "encoder");
    cfg->lr = 3e-4f; /* the HiABP paper's eta_phi (= eta_theta), §Experiments */
}

int abp_encoder_init_kind(const abp_encoder_cfg *cfg, abp_chain_init *kind, abp_err *err) {
    if (!strcmp(cfg->init, "encoder")) *kind = ABP_INIT_ENCODER;
    else if (!strcmp(cfg->init, "persistent")) *kind = ABP_INIT_PERSISTENT;
    else if (!strcmp(cfg->init, "prior")) *kind = ABP_INIT_PRIOR;
    else return abp_fail(err, "--init %s: unknown; expected encoder, persistent or prior", cfg->init);
    return 0;
}

/* The shortest decimal that reads back as the same float (as settings.c). */
static const char *float_text(float v, char *buf, size_t n) {
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, n, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return buf;
}

char *abp_encoder_cfg_format(const abp_encoder_cfg *cfg) {
    size_t cap = strlen(cfg->spec) + 128;
    char *s = malloc(cap), f[32];
    if (s) snprintf(s, cap, "--encoder=%s\n--init=%s\n--encoder-lr=%s\n", cfg->spec, cfg->init, float_text(cfg->lr, f, sizeof f));
    return s;
}

int abp_encoder_cfg_parse_key(abp_encoder_cfg *cfg, const char *key, const char *value) {
    if (!strcmp(key, "encoder")) snprintf(cfg->spec, sizeof cfg->spec, "%s", value);
    else if (!strcmp(key, "init")) snprintf(cfg->init, sizeof cfg->init, "%s", value);
    else if (!strcmp(key, "encoder-lr")) cfg->lr = strtof(value, NULL);
    else return 0;
    return 1;
}

int abp_encoder_spec(const char *encoder, const char *model, int d, char **out, abp_err *err) {
    *out = NULL;
    const char *spec = abp_model_spec(encoder);
    if (!strcmp(encoder, "auto")) {
        char name[64];
        snprintf(name, sizeof name, "%s-encoder", model);
        spec = strlen(model) < 40 ? abp_model_spec(name) : NULL;
        if (!spec)
            return abp_fail(err, "--encoder auto: the model '%.40s' has no built-in encoder; give --encoder SPEC", model);
        /* The built-in ends in "linear 2d" for the model's own d; --latent-dim changes d. */
        const char *last = strrchr(spec, '|');
        size_t keep = last ? (size_t)(last - spec) : 0;
        size_t cap = keep + 32;
        *out = malloc(cap);
        if (!*out) return abp_fail(err, "out of memory");
        snprintf(*out, cap, "%.*s| linear %d", (int)keep, spec, 2 * d);
        return 0;
    }
    *out = strdup(spec ? spec : encoder);
    return *out ? 0 : abp_fail(err, "out of memory");
}

void abp_encoder_sample(const float *enc, const float *e, float *z, int n, int d) {
    const float *mu = enc, *logvar = enc + (int64_t)d * n;
    for (int64_t k = 0; k < (int64_t)d * n; k++) z[k] = mu[k] + expf(0.5f * logvar[k]) * e[k];
}

void abp_encoder_sample_backward(const float *enc, const float *e, const float *dz, float *denc, int n, int d) {
    const float *logvar = enc + (int64_t)d * n;
    float *dmu = denc, *dlogvar = denc + (int64_t)d * n;
    for (int64_t k = 0; k < (int64_t)d * n; k++) {
        dmu[k] = dz[k];
        dlogvar[k] = dz[k] * e[k] * 0.5f * expf(0.5f * logvar[k]); /* d sigma / d logvar = sigma / 2 */
    }
}

double abp_encoder_fit(const float *enc, const float *z, float *denc, int n, int d, float scale) {
    const float *mu = enc, *logvar = enc + (int64_t)d * n;
    float *dmu = denc, *dlogvar = denc + (int64_t)d * n;
    double sum = 0.0;
    for (int64_t k = 0; k < (int64_t)d * n; k++) {
        float r = z[k] - mu[k], inv_var = expf(-logvar[k]);
        float half_r2 = 0.5f * r * r * inv_var; /* (z - mu)^2 / (2 sigma^2) */
        sum += (double)half_r2 + 0.5 * (double)logvar[k];
        dmu[k] = -r * inv_var * scale;
        dlogvar[k] = (0.5f - half_r2) * scale;
    }
    return sum;
}

double abp_encoder_kl(const float *enc, float *denc, int n, int d, float scale) {
    const float *mu = enc, *logvar = enc + (int64_t)d * n;
    float *dmu = denc, *dlogvar = denc + (int64_t)d * n;
    double sum = 0.0;
    for (int64_t k = 0; k < (int64_t)d * n; k++) {
        float var = expf(logvar[k]);
        sum += 0.5 * ((double)mu[k] * mu[k] + var - 1.0 - logvar[k]);
        dmu[k] += mu[k] * scale;
        dlogvar[k] += 0.5f * (var - 1.0f) * scale;
    }
    return sum;
}
