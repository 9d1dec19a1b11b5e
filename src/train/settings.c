/* Training settings: the papers' defaults, and the /config text a checkpoint stores. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/train.h"
#include "objective.h"

void abp_train_defaults(abp_train_cfg *cfg) {
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->objective, sizeof cfg->objective, "abp");
    snprintf(cfg->model, sizeof cfg->model, "mnist28");
    cfg->sigma = 0.3f;          /* Han et al. 2017, §4 */
    cfg->langevin_steps = 10;   /* "l = 10 or 30" */
    cfg->step_size = 0.1f;      /* "s is set at .1 or .3" */
    cfg->iters = 600;           /* "T = 600 learning iterations" */
    cfg->batch = 64;
    cfg->optimizer = ABP_OPT_ADAM;
    cfg->lr = 2e-4f;            /* DCGAN's Adam settings, which the generator shares */
    cfg->beta1 = 0.5f;
    cfg->momentum = 0.5f;       /* the paper's SGD momentum */
    cfg->seed = 1;
    cfg->checkpoint_every = 0;
    cfg->keep_checkpoints = 3;
    snprintf(cfg->mask, sizeof cfg->mask, "none");
    abp_descriptor_defaults(&cfg->descriptor);
    abp_coop_defaults(&cfg->coop);
    abp_encoder_defaults(&cfg->encoder);
    abp_classify_defaults(&cfg->classify);
    abp_latent_prior_defaults(&cfg->prior);
}

/* The shortest decimal that reads back as the same float: "0.3", not "0.300000012". */
static const char *float_text(float v, char *buf, size_t n) {
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, n, "%.*g", digits, (double)v);
        if (strtof(buf, NULL) == v) break;
    }
    return buf;
}

char *abp_train_cfg_format(const abp_train_cfg *cfg, const char *spec) {
    size_t cap = strlen(spec) + strlen(cfg->data) + strlen(cfg->mask) + strlen(cfg->objective) + 1536;
    char *s = malloc(cap), f[5][32];
    if (!s) return NULL;
    snprintf(s, cap,
             "--model=%s\n--data=%s\n--sigma=%s\n--langevin-steps=%d\n--langevin-step-size=%s\n"
             "--inference=%s\n--iters=%lld\n--batch=%lld\n--full-batch=%d\n--limit=%lld\n"
             "--optimizer=%s\n--lr=%s\n--beta1=%s\n--momentum=%s\n--seed=%llu\n"
             "--checkpoint-every=%lld\n--mask=%s\n--sense=%d\n--objective=%s\n",
             spec, cfg->data, float_text(cfg->sigma, f[0], 32), cfg->langevin_steps,
             float_text(cfg->step_size, f[1], 32),
             cfg->inference_gd ? "gd" : "langevin", (long long)cfg->iters, (long long)cfg->batch,
             cfg->full_batch, (long long)cfg->limit, abp_opt_kind_name(cfg->optimizer),
             float_text(cfg->lr, f[2], 32), float_text(cfg->beta1, f[3], 32),
             float_text(cfg->momentum, f[4], 32),
             (unsigned long long)cfg->seed, (long long)cfg->checkpoint_every, cfg->mask, cfg->sense, cfg->objective);
    /* Then the options of the objective trained, which it writes itself (its vtable's
     * format): a checkpoint's /config says what it was trained with, not every objective's
     * defaults. An unknown objective (a /config of a newer abp) adds nothing. */
    const abp_objective_ops *ops = abp_objective_find(cfg->objective);
    if (!ops || !ops->format) return s;
    char *own = ops->format(cfg), *both = own ? realloc(s, strlen(s) + strlen(own) + 1) : NULL;
    if (!both) {
        free(own);
        free(s);
        return NULL;
    }
    strcat(both, own);
    free(own);
    return both;
}

int abp_train_cfg_parse(const char *text, abp_train_cfg *cfg, abp_err *err) {
    abp_train_defaults(cfg);
    const char *line = text;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[4096 + 64];
        if (len >= sizeof buf) return abp_fail(err, "checkpoint config: line too long");
        memcpy(buf, line, len);
        buf[len] = 0;
        char *eq = strchr(buf, '=');
        if (strncmp(buf, "--", 2) == 0 && eq) {
            *eq = 0;
            const char *k = buf + 2, *v = eq + 1;
            if (!strcmp(k, "model")) snprintf(cfg->model, sizeof cfg->model, "%s", v);
            else if (!strcmp(k, "data")) snprintf(cfg->data, sizeof cfg->data, "%s", v);
            else if (!strcmp(k, "sigma")) cfg->sigma = strtof(v, NULL);
            else if (!strcmp(k, "langevin-steps")) cfg->langevin_steps = atoi(v);
            else if (!strcmp(k, "langevin-step-size")) cfg->step_size = strtof(v, NULL);
            else if (!strcmp(k, "inference")) cfg->inference_gd = !strcmp(v, "gd");
            else if (!strcmp(k, "iters")) cfg->iters = atoll(v);
            else if (!strcmp(k, "batch")) cfg->batch = atoll(v);
            else if (!strcmp(k, "full-batch")) cfg->full_batch = atoi(v);
            else if (!strcmp(k, "limit")) cfg->limit = atoll(v);
            else if (!strcmp(k, "optimizer")) {
                if (abp_opt_kind_parse(v, &cfg->optimizer))
                    return abp_fail(err, "checkpoint config: --optimizer=%s: unknown (written by a newer abp?)", v);
            }
            else if (!strcmp(k, "lr")) cfg->lr = strtof(v, NULL);
            else if (!strcmp(k, "beta1")) cfg->beta1 = strtof(v, NULL);
            else if (!strcmp(k, "momentum")) cfg->momentum = strtof(v, NULL);
            else if (!strcmp(k, "seed")) cfg->seed = strtoull(v, NULL, 10);
            else if (!strcmp(k, "checkpoint-every")) cfg->checkpoint_every = atoll(v);
            else if (!strcmp(k, "mask")) snprintf(cfg->mask, sizeof cfg->mask, "%s", v);
            else if (!strcmp(k, "sense")) cfg->sense = atoi(v);
            else if (abp_classify_parse(&cfg->classify, k, v)) { /* the classifier's own keys */ }
            else if (!strcmp(k, "objective")) snprintf(cfg->objective, sizeof cfg->objective, "%s", v);
            else if (abp_descriptor_parse(&cfg->descriptor, k, v)) {}
            else if (abp_latent_prior_parse(&cfg->prior, k, v)) { /* --prior ebm's (abp/ebm_prior.h) */ }
            else if (abp_coop_parse(&cfg->coop, k, v)) { /* coop's own (abp/coop.h) */ }
            else if (abp_encoder_cfg_parse_key(&cfg->encoder, k, v)) { /* the encoder's (abp/encoder.h) */ }
            /* Unknown keys come from newer versions; they do not change the model. */
        }
        line += len + (end ? 1 : 0);
    }
    return 0;
}
