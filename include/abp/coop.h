/* abp — the options of cooperative learning (--objective coop: CoopNets, Xie, Lu, Gao, Zhu
 * and Wu, AAAI 2018; docs/descriptor.md, "Cooperative learning").
 *
 * Coop trains a generator (--model, its options as for ABP) and a descriptor (--descriptor,
 * its options in abp_descriptor_cfg) together. What belongs to the cooperation alone lives
 * here and reaches abp_train_cfg as its one member `coop`. */
#ifndef ABP_COOP_H
#define ABP_COOP_H

#include <stddef.h>

#include "abp/error.h"

typedef struct abp_coop_cfg {
    /* --coop-latent-steps K: Langevin steps on each proposal's z towards its revised image
     * before the generator learns (ABP's inferential step, with --langevin-step-size and
     * --sigma). jianwen-xie/CoopNets' gen_sample_steps, whose default is 0: the generator
     * learns from the very z that made the proposal. */
    int latent_steps;
} abp_coop_cfg;

void abp_coop_defaults(abp_coop_cfg *c);
/* Appends its /config lines ("--coop-latent-steps=...\n") to buf (of cap bytes, NUL-terminated). */
void abp_coop_format(const abp_coop_cfg *c, char *buf, size_t cap);
/* Reads one /config key; returns 1 if it was coop's, 0 if not. */
int abp_coop_parse(abp_coop_cfg *c, const char *key, const char *value);
/* Rejects what the option table's ranges do not (one line naming the option). */
ABP_MUST_CHECK int abp_coop_check(const abp_coop_cfg *c, abp_err *err);

#endif
