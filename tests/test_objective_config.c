/* /config and the objectives (docs/objectives.md, "format"): abp_train_cfg_format writes the
 * shared options, then only the option groups of the objective trained, which that objective
 * writes itself (its vtable's format). With every group set to something worth writing, each
 * objective's /config must hold its own groups, in their order, and no other's; the text
 * must read back into the same text; an unknown objective adds nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/train/objective.h"
#include "check.h"

/* The first line of each option group: which groups a /config holds. */
static const char *const group_keys[] = {"\n--prior=", "\n--encoder=", "\n--descriptor=", "\n--coop-latent-steps=",
                                         "\n--labels="};
#define NGROUPS (int)(sizeof group_keys / sizeof group_keys[0])

/* Every group set, so that a group left out is an objective's choice, not an empty one's. */
static void settings(abp_train_cfg *cfg, const char *objective) {
    abp_train_defaults(cfg);
    snprintf(cfg->objective, sizeof cfg->objective, "%s", objective);
    snprintf(cfg->prior.kind, sizeof cfg->prior.kind, "ebm");
    snprintf(cfg->encoder.spec, sizeof cfg->encoder.spec, "z 28x28x1 | linear 8");
    snprintf(cfg->descriptor.spec, sizeof cfg->descriptor.spec, "z 28x28x1 | linear 1");
    cfg->coop.latent_steps = 3;
    snprintf(cfg->classify.labels, sizeof cfg->classify.labels, "labels.idx");
}

/* objective, and the groups it writes (a 1 per group_keys entry) */
static void check_groups(const char *objective, const int *want) {
    abp_train_cfg cfg, back;
    abp_err err;
    settings(&cfg, objective);
    char *text = abp_train_cfg_format(&cfg, "z 2 | linear 1 | tanh");
    CHECK(text != NULL, "%s: out of memory", objective);
    if (!text) return;
    char tail[64];
    snprintf(tail, sizeof tail, "\n--objective=%s\n", objective);
    const char *own = strstr(text, tail);
    CHECK(own != NULL, "%s: /config names it: %s", objective, text);
    for (int k = 0; k < NGROUPS; k++) {
        const char *at = strstr(text, group_keys[k]);
        CHECK(!at == !want[k], "%s: %s %s", objective, want[k] ? "lacks" : "has", group_keys[k] + 1);
        CHECK(!at || (own && at > own), "%s: %s after the shared options", objective, group_keys[k] + 1);
    }
    /* read back: the same text (the keys of every group are read, whatever the objective) */
    CHECK(abp_train_cfg_parse(text, &back, &err) == 0, "%s: %s", objective, err.msg);
    char *again = abp_train_cfg_format(&back, "z 2 | linear 1 | tanh");
    CHECK(again && !strcmp(again, text), "%s: /config reads back into itself:\n%s\n---\n%s", objective, text,
          again ? again : "(none)");
    free(again);
    free(text);
}

static void test_each_objective(void) {
    /*                        prior encoder descriptor coop labels */
    check_groups("abp", (const int[]){1, 0, 0, 0, 0});
    check_groups("iabp", (const int[]){0, 1, 0, 0, 0});
    check_groups("vae", (const int[]){0, 1, 0, 0, 0});
    check_groups("descriptor", (const int[]){0, 0, 1, 0, 0});
    check_groups("coop", (const int[]){0, 0, 1, 1, 0});
    check_groups("classify", (const int[]){0, 0, 0, 0, 1});
    /* an objective of a newer abp's /config: the shared options only */
    check_groups("wobble", (const int[]){0, 0, 0, 0, 0});
}

/* The cases within a group: --prior normal writes nothing; coop's own line follows the
 * descriptor's group; every registered objective says what it writes. */
static void test_details(void) {
    abp_train_cfg cfg;
    settings(&cfg, "abp");
    snprintf(cfg.prior.kind, sizeof cfg.prior.kind, "normal");
    char *text = abp_train_cfg_format(&cfg, "z 2 | linear 1 | tanh");
    const char *end = "\n--objective=abp\n";
    size_t len = text ? strlen(text) : 0, n = strlen(end);
    CHECK(text && len > n && !strcmp(text + len - n, end), "--prior normal adds nothing: %s", text ? text : "(none)");
    free(text);
    settings(&cfg, "coop");
    text = abp_train_cfg_format(&cfg, "z 2 | linear 1 | tanh");
    const char *cd = text ? strstr(text, "\n--cd=0\n") : NULL;
    CHECK(cd && !strcmp(cd, "\n--cd=0\n--coop-latent-steps=3\n"), "coop: the descriptor's group, then its own: %s",
          text ? text : "(none)");
    free(text);
    const char *names = abp_objective_names();
    for (const char *p = names; *p;) {
        size_t n = strcspn(p, ",");
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)n, p);
        const abp_objective_ops *ops = abp_objective_find(name);
        CHECK(ops && ops->format, "objective %s has a format", name);
        p += n;
        p += strspn(p, ", ");
    }
}

int main(void) {
    test_each_objective();
    test_details();
    return check_summary("test_objective_config");
}
