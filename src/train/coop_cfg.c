/* Cooperative learning's options: defaults, /config text, checks (abp/coop.h). */
#include "abp/coop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void abp_coop_defaults(abp_coop_cfg *c) {
    memset(c, 0, sizeof *c);
    c->latent_steps = 0; /* CoopNets' gen_sample_steps */
}

void abp_coop_format(const abp_coop_cfg *c, char *buf, size_t cap) {
    size_t len = strlen(buf);
    if (len >= cap) return;
    snprintf(buf + len, cap - len, "--coop-latent-steps=%d\n", c->latent_steps);
}

int abp_coop_parse(abp_coop_cfg *c, const char *k, const char *v) {
    if (!strcmp(k, "coop-latent-steps")) c->latent_steps = atoi(v);
    else return 0;
    return 1;
}

int abp_coop_check(const abp_coop_cfg *c, abp_err *err) {
    if (c->latent_steps < 0)
        return abp_fail(err, "--coop-latent-steps %d: expected 0 or more Langevin steps", c->latent_steps);
    return 0;
}
