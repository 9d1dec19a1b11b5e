/* The descriptor's options: defaults, /config text, checks (abp/descriptor.h). */
#include "abp/descriptor.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void abp_descriptor_defaults(abp_descriptor_cfg *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->spec, sizeof c->spec, "descriptor-mnist28");
    c->chains = 16;          /* the paper's M */
    c->steps = 15;           /* CoopNets' 15 steps */
    c->step_size = 0.002f;   /* CoopNets' delta on [-1, 1] pixels */
    c->ref_sigma = 0.016f;   /* CoopNets' reference standard deviation */
    c->lr = 0.007f;          /* CoopNets' Adam for the descriptor */
    c->beta1 = 0.5f;
}

/* The shortest decimal that reads back as the same float. */
static const char *float_text(float v, char *buf, size_t n) {
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, n, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return buf;
}

void abp_descriptor_format(const abp_descriptor_cfg *c, char *buf, size_t cap) {
    size_t len = strlen(buf);
    if (len >= cap) return;
    char f[4][32];
    snprintf(buf + len, cap - len,
             "--descriptor=%s\n--chains=%lld\n--descriptor-steps=%d\n--descriptor-step-size=%s\n"
             "--reference-sigma=%s\n--descriptor-lr=%s\n--descriptor-beta1=%s\n--cd=%d\n",
             c->spec, (long long)c->chains, c->steps, float_text(c->step_size, f[0], 32),
             float_text(c->ref_sigma, f[1], 32), float_text(c->lr, f[2], 32), float_text(c->beta1, f[3], 32),
             c->cd);
}

int abp_descriptor_parse(abp_descriptor_cfg *c, const char *k, const char *v) {
    if (!strcmp(k, "descriptor")) snprintf(c->spec, sizeof c->spec, "%s", v);
    else if (!strcmp(k, "chains")) c->chains = atoll(v);
    else if (!strcmp(k, "descriptor-steps")) c->steps = atoi(v);
    else if (!strcmp(k, "descriptor-step-size")) c->step_size = strtof(v, NULL);
    else if (!strcmp(k, "reference-sigma")) c->ref_sigma = strtof(v, NULL);
    else if (!strcmp(k, "descriptor-lr")) c->lr = strtof(v, NULL);
    else if (!strcmp(k, "descriptor-beta1")) c->beta1 = strtof(v, NULL);
    else if (!strcmp(k, "cd")) c->cd = atoi(v);
    else return 0;
    return 1;
}

int abp_descriptor_check(const abp_descriptor_cfg *c, abp_err *err) {
    if (!c->spec[0]) return abp_fail(err, "--descriptor: empty; give a built-in name or a spec");
    if (c->chains < 1) return abp_fail(err, "--chains %lld: needs at least 1 chain", (long long)c->chains);
    if (!(c->ref_sigma > 0)) return abp_fail(err, "--reference-sigma must be positive");
    return 0;
}
