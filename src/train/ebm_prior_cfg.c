/* The latent prior's options (abp train --prior): defaults, /config text, checks
 * (abp/ebm_prior.h). */
#include "abp/ebm_prior.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void abp_latent_prior_defaults(abp_latent_prior_cfg *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->kind, sizeof c->kind, "normal");
    snprintf(c->spec, sizeof c->spec, "ebm-prior");
    c->steps = 60;        /* the paper: prior samples by 60 steps ... */
    c->step_size = 0.4f;  /* ... of 0.4 (posterior: 20 of 0.1) */
    c->lr = 2e-5f;        /* the paper's Adam for the EBM (the generator's: 1e-4), beta1 0.5 */
}

int abp_latent_prior_is_ebm(const abp_latent_prior_cfg *c) { return strcmp(c->kind, "ebm") == 0; }

/* The shortest decimal that reads back as the same float. */
static const char *float_text(float v, char *buf, size_t n) {
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, n, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return buf;
}

void abp_latent_prior_format(const abp_latent_prior_cfg *c, char *buf, size_t cap) {
    size_t len = strlen(buf);
    if (len >= cap || !abp_latent_prior_is_ebm(c)) return;
    char f[2][32];
    snprintf(buf + len, cap - len, "--prior=%s\n--prior-net=%s\n--prior-steps=%d\n--prior-step-size=%s\n--prior-lr=%s\n",
             c->kind, c->spec, c->steps, float_text(c->step_size, f[0], 32), float_text(c->lr, f[1], 32));
}

int abp_latent_prior_parse(abp_latent_prior_cfg *c, const char *k, const char *v) {
    if (!strcmp(k, "prior")) snprintf(c->kind, sizeof c->kind, "%s", v);
    else if (!strcmp(k, "prior-net")) snprintf(c->spec, sizeof c->spec, "%s", v);
    else if (!strcmp(k, "prior-steps")) c->steps = atoi(v);
    else if (!strcmp(k, "prior-step-size")) c->step_size = strtof(v, NULL);
    else if (!strcmp(k, "prior-lr")) c->lr = strtof(v, NULL);
    else return 0;
    return 1;
}

int abp_latent_prior_check(const abp_latent_prior_cfg *c, const char *objective, abp_err *err) {
    if (strcmp(c->kind, "normal") != 0 && strcmp(c->kind, "ebm") != 0)
        return abp_fail(err, "--prior %s: train learns with --prior normal (N(0, I)) or ebm (a latent energy-based prior); "
                             "priors fitted after training (gaussian, gmm:K) are abp sample's --prior", c->kind);
    if (abp_latent_prior_is_ebm(c) && strcmp(objective, "abp") != 0)
        return abp_fail(err, "--prior ebm: --objective %s does not support a learned prior (only abp does)", objective);
    if (!c->spec[0]) return abp_fail(err, "--prior-net: empty; give ebm-prior or a spec");
    if (c->steps < 0) return abp_fail(err, "--prior-steps %d: expected 0 or more", c->steps);
    return 0;
}
