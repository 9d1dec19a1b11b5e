/* abp — the descriptor's options (the generative ConvNet, Xie, Lu, Zhu and Wu, ICML 2016),
 * shared by --objective descriptor and --objective coop (docs/descriptor.md).
 *
 * Defaults are those of jianwen-xie/CoopNets on [-1, 1] pixels: Langevin step delta = 0.002,
 * reference s = 0.016, 15 steps, Adam with learning rate 0.007 and beta1 0.5, and the
 * paper's 16 chains. They belong to the descriptor alone, so they live here and reach
 * abp_train_cfg as its one member `descriptor`. */
#ifndef ABP_DESCRIPTOR_H
#define ABP_DESCRIPTOR_H

#include <stddef.h>
#include <stdint.h>

#include "abp/error.h"

typedef struct abp_descriptor_cfg {
    char spec[4096];  /* --descriptor: a built-in name (descriptor-mnist28, ...) or a spec */
    int64_t chains;   /* --chains M: persistent synthesized images */
    int steps;        /* --descriptor-steps L: Langevin steps per iteration */
    float step_size;  /* --descriptor-step-size delta */
    float ref_sigma;  /* --reference-sigma s: q = N(0, s^2 I) */
    float lr, beta1;  /* --descriptor-lr, --descriptor-beta1 (its own optimizer; kind: --optimizer) */
    int cd;           /* --cd: contrastive divergence, chains start at the batch's observed images */
} abp_descriptor_cfg;

void abp_descriptor_defaults(abp_descriptor_cfg *c);
/* Appends its /config lines ("--descriptor=...\n" ...) to buf (of cap bytes, NUL-terminated). */
void abp_descriptor_format(const abp_descriptor_cfg *c, char *buf, size_t cap);
/* Reads one /config key; returns 1 if it was the descriptor's, 0 if not. */
int abp_descriptor_parse(abp_descriptor_cfg *c, const char *key, const char *value);
/* Rejects nonsense that the option table's ranges do not (one line naming the option). */
ABP_MUST_CHECK int abp_descriptor_check(const abp_descriptor_cfg *c, abp_err *err);

#endif
