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

/* The sum of the `head N` sizes of a spec: the levels below the top its encoder gives. */
static int heads_total(const char *spec) {
    int total = 0;
    for (const char *p = spec; p; p = strchr(p, '|')) {
        p += *p == '|';
        while (*p == ' ') p++;
        if (!strncmp(p, "head ", 5)) total += atoi(p + 5);
    }
    return total;
}

int abp_encoder_spec(const char *encoder, const char *model, int d, char **out, abp_err *err) {
    *out = NULL;
    const char *spec = abp_model_spec(encoder);
    if (!strcmp(encoder, "auto")) {
        /* model may be a checkpoint's canonical spec of a built-in (its /config) */
        const char *builtin = abp_model_name_of(model);
        char name[64];
        snprintf(name, sizeof name, "%s-encoder", builtin ? builtin : "");
        spec = builtin && strlen(builtin) < 40 ? abp_model_spec(name) : NULL;
        if (!spec)
            return abp_fail(err, "--encoder auto: the model '%.40s' has no built-in encoder; give --encoder SPEC", model);
        /* The built-in ends in "linear 2d" for the model's own d; --latent-dim changes d.
         * With heads (a hierarchical model) the last layer gives the top level: d less the
         * heads' codes. */
        int top = d - heads_total(spec);
        if (top < 1)
            return abp_fail(err, "--encoder auto: a latent of %d leaves no top level beside the %d numbers of %s's heads",
                            d, heads_total(spec), name);
        const char *last = strrchr(spec, '|');
        size_t keep = last ? (size_t)(last - spec) : 0;
        size_t cap = keep + 32;
        *out = malloc(cap);
        if (!*out) return abp_fail(err, "out of memory");
        snprintf(*out, cap, "%.*s| linear %d", (int)keep, spec, 2 * top);
        return 0;
    }
    *out = strdup(spec ? spec : encoder);
    return *out ? 0 : abp_fail(err, "out of memory");
}

/* "6, 8, 16": the sizes of a network's levels, bottom first. */
static void level_list(const abp_net *net, char *buf, size_t cap) {
    buf[0] = 0;
    for (int l = 1; l <= abp_net_levels(net); l++) {
        int off, size;
        size_t len = strlen(buf);
        if (abp_net_level_range(net, l, &off, &size) == 0 && len < cap)
            snprintf(buf + len, cap - len, "%s%d", l > 1 ? ", " : "", size);
    }
}

int abp_encoder_check_levels(const abp_net *g, const abp_net *enc, abp_err *err) {
    int same = abp_net_levels(g) == abp_net_levels(enc);
    for (int l = 1; same && l <= abp_net_levels(g); l++) {
        int go, gs, eo, es;
        same = !abp_net_level_range(g, l, &go, &gs) && !abp_net_level_range(enc, l, &eo, &es) && go == eo && gs == es;
    }
    if (same) return 0;
    char mine[256], theirs[256];
    level_list(enc, mine, sizeof mine);
    level_list(g, theirs, sizeof theirs);
    return abp_fail(err, "its heads and last layer give levels of %s (bottom to top), but the model's latent has "
                    "levels of %s", mine, theirs);
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
