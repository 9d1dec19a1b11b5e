/* abp — a model: named networks in one parameter arena, each with its own optimizer
 * (DESIGN §8).
 *
 * ABP has one network, "generator"; the objectives that follow add "encoder", "descriptor",
 * "prior" or "classifier". All of them live in one abp_arena, so one allreduce sums every
 * gradient, and each has its own optimizer (kind, learning rate, moments, step count) that
 * runs over its own slice of the arena. In a checkpoint the generator keeps the paths it
 * always had (/model/<layer>/..., /optimizer/<layer>/..., the step in /optimizer's "step"
 * attribute), so older checkpoints load; every other network NAME goes to /NAME/<layer>/...
 * and /optimizer/NAME/<layer>/..., its step in the "step" attribute of /optimizer/NAME. */
#ifndef ABP_MODEL_H
#define ABP_MODEL_H

#include "abp/io.h"
#include "abp/nn.h"
#include "abp/train.h"

#define ABP_MODEL_MAX_NETS 6
#define ABP_GENERATOR "generator"

/* How one network learns. */
typedef struct abp_opt_cfg {
    abp_opt_kind kind;
    float lr, beta1, momentum;
} abp_opt_cfg;

typedef struct abp_model_net {
    char name[32];       /* "generator", "encoder", ...: also its checkpoint group */
    abp_net net;         /* views into the model's arena once sealed */
    abp_optimizer opt;   /* over net.params / net.grads: the net's slice */
} abp_model_net;

typedef struct abp_model {
    int nnets;
    abp_model_net nets[ABP_MODEL_MAX_NETS];
    abp_arena arena;     /* valid after abp_model_seal */
    int sealed;
} abp_model;

/* Builds a network from spec (abp_net_build) for batches up to max_batch, with its
 * optimizer, and adds it under name; *net (may be NULL) gets it; the pointer stays valid
 * for the model's life. Only before abp_model_seal. A name used twice is an error. */
ABP_MUST_CHECK int abp_model_add(abp_model *m, const char *name, const char *spec, int latent_dim,
                                 int max_batch, const abp_opt_cfg *opt, abp_net **net, abp_err *err);
/* Moves every network's parameters into one arena (in the order added). */
ABP_MUST_CHECK int abp_model_seal(abp_model *m, abp_err *err);
void abp_model_free(abp_model *m);
/* The network called name, or NULL. */
abp_model_net *abp_model_find(abp_model *m, const char *name);
/* One optimizer step of every network over its slice, after the gradients were summed. */
void abp_model_step(abp_model *m);

/* The checkpoint groups of a network: "model" and "optimizer" for the generator (today's
 * paths), NAME and "optimizer/NAME" for the others. */
void abp_model_groups(const char *name, char *params_group, char *opt_group, size_t cap);

/* Every network's arrays (and, if with_opt, optimizer moments) for abp_ckpt_write or for
 * reading back; *steps gets one entry per network but the generator (whose step is
 * meta.optimizer_step). Both malloc'd. */
ABP_MUST_CHECK int abp_model_ckpt_arrays(abp_model *m, int with_opt, abp_ckpt_array **arrays,
                                         int *narrays, abp_ckpt_step **steps, int *nsteps,
                                         abp_err *err);
/* Reads every network's parameters (and, if with_opt, optimizer moments and steps) from an
 * open checkpoint. A missing network is one error naming the file and the network. */
ABP_MUST_CHECK int abp_model_read(abp_model *m, abp_ckpt *ck, const abp_ckpt_meta *meta,
                                  int with_opt, abp_err *err);

#endif
