/* abp — learning: optimizers, the training loop over this rank's shard (what it trains is an
 * objective: src/train/objective.h, docs/objectives.md), and the model half of checkpoints
 * (which arrays a network and an optimizer are made of). */
#ifndef ABP_TRAIN_H
#define ABP_TRAIN_H

#include <stdint.h>

#include "abp/dist.h"
#include "abp/error.h"
#include "abp/io.h"
#include "abp/nn.h"
#include "abp/classify.h"

/* ---------------------------------------------------------------- optimizers */

typedef enum abp_opt_kind { ABP_OPT_ADAM, ABP_OPT_SGD } abp_opt_kind;

typedef struct abp_optimizer {
    abp_opt_kind kind;
    float lr, beta1, beta2, eps; /* Adam */
    float momentum;              /* SGD */
    int64_t step, n;
    float *m, *v; /* first and second moments (Adam); velocity in m (SGD) */
} abp_optimizer;

ABP_MUST_CHECK int abp_optimizer_init(abp_optimizer *opt, abp_opt_kind kind, int64_t n, float lr,
                                      float beta1, float momentum, abp_err *err);
void abp_optimizer_free(abp_optimizer *opt);
/* One step: params -= update(grads). Identical on every rank given identical grads. */
void abp_optimizer_step(abp_optimizer *opt, float *params, const float *grads);

/* ---------------------------------------------------------------- settings */

typedef struct abp_train_cfg {
    char objective[32];   /* what is trained: "abp" (src/train/objective.h) */
    char data[1024], out[1024], resume[1024];
    char model[4096];     /* a built-in name or a spec */
    int latent_dim;       /* 0: the model's own */
    float sigma;          /* 0.3 */
    int langevin_steps;   /* L */
    float step_size;      /* s */
    int inference_gd;     /* gradient descent instead of Langevin */
    int64_t iters;        /* learning iterations in all, counted from the start of training */
    int64_t batch;        /* global batch */
    int full_batch;       /* every example every iteration */
    int64_t limit;        /* use only the first N examples (0: all) */
    abp_opt_kind optimizer;
    float lr, beta1, momentum;
    uint64_t seed;
    int64_t checkpoint_every;
    int keep_checkpoints; /* numbered checkpoint-ITER.h5 files kept (3) */
    char mask[32];        /* observation mask of every example: "none", "pepper:F", "region:S" */
    int sense;            /* K > 0: every example observed only through K random projections */
    int threads;          /* BLAS threads per rank; 0: automatic */
    int quiet;
    abp_classify_cfg classify; /* --objective classify's options (abp/classify.h) */
} abp_train_cfg;

void abp_train_defaults(abp_train_cfg *cfg);
/* Whether --objective name exists, and the list of those that do ("abp"). */
int abp_train_has_objective(const char *name);
const char *abp_train_objectives(void);

/* One option per line, "--name=value": what the checkpoint stores as /config. malloc'd. */
char *abp_train_cfg_format(const abp_train_cfg *cfg, const char *canonical_spec);
/* Reads back what abp_train_cfg_format wrote. */
ABP_MUST_CHECK int abp_train_cfg_parse(const char *text, abp_train_cfg *cfg, abp_err *err);

/* ---------------------------------------------------------------- the loop */

/* Trains as DESIGN §3 and §8 say, on every rank of d. Rank 0 prints progress and writes
 * OUT/metrics.csv and the objective's pictures (ABP: OUT/samples.png,
 * OUT/reconstructions.png); all ranks write
 * OUT/checkpoint.h5 together. Returns 0, or ABP_STOPPED (after a checkpoint) when a
 * SIGTERM or SIGUSR1 asked it to stop, or -1 with err set (the same on every rank). */
#define ABP_STOPPED 3
ABP_MUST_CHECK int abp_train(const abp_train_cfg *cfg, abp_dist *d, abp_err *err);

/* The loop's state, for callers that drive iterations themselves (abp bench). Collective:
 * builds the network, loads this rank's shard of cfg->data — or, if data is not NULL, takes
 * its rows from data, which holds all n examples in memory on every rank — and resumes from
 * cfg->resume if set. */
typedef struct abp_trainer abp_trainer;
ABP_MUST_CHECK int abp_trainer_create(const abp_train_cfg *cfg, abp_dist *d, const abp_images *data,
                                      abp_trainer **t, abp_err *err);
/* One iteration (collective) of the objective cfg->objective (ABP: choose the batch, L
 * Langevin steps, the learning pass, one allreduce, one optimizer step per network, state
 * written back). stop_flag is this rank's vote to stop; *loss_sum gets the global sum of the
 * objective's first loss slot (ABP: the batch's squared error) and *stop whether any rank
 * voted. */
ABP_MUST_CHECK int abp_trainer_iterate(abp_trainer *t, int64_t iteration, int stop_flag,
                                       double *loss_sum, int *stop, abp_err *err);
/* The number of observed values in the global batch of the last iteration (all of them
 * without a mask; K per example with --sense K). */
double abp_trainer_observed(const abp_trainer *t);
abp_net *abp_trainer_net(abp_trainer *t); /* the model's first network (ABP: the generator) */
int abp_trainer_batch_share(const abp_trainer *t); /* this rank's share of the global batch */
void abp_trainer_free(abp_trainer *t);

/* ---------------------------------------------------------------- models in checkpoints */

/* The named arrays of a network (and optionally its optimizer) for abp_ckpt_write /
 * abp_ckpt_read_array: model/<layer>/{weight,bias,running_mean,running_var},
 * optimizer/<layer>/{weight,bias}.{m,v}. *arrays is malloc'd. */
ABP_MUST_CHECK int abp_model_arrays(abp_net *net, const abp_optimizer *opt, abp_ckpt_array **arrays,
                                    int *narrays, abp_err *err);

/* The same under any groups: params_group/<layer>/..., opt_group/<layer>/... (a model's
 * other networks, abp/model.h). */
ABP_MUST_CHECK int abp_net_ckpt_arrays(abp_net *net, const abp_optimizer *opt, const char *params_group,
                                       const char *opt_group, abp_ckpt_array **arrays, int *narrays,
                                       abp_err *err);

/* Opens a checkpoint and builds its network (for batches up to max_batch) with the trained
 * parameters, in evaluation mode. cfg gets the settings it was trained with. */
ABP_MUST_CHECK int abp_model_load(MPI_Comm comm, const char *path, int max_batch, abp_net *net,
                                  abp_train_cfg *cfg, abp_ckpt_meta *meta, abp_err *err);
/* The same with the latent resized to latent_h x latent_w (abp_spec_resize_latent): a
 * fully convolutional model then makes larger (or smaller) signals with the same
 * parameters. latent_h = 0 keeps the stored size. */
ABP_MUST_CHECK int abp_model_load_resized(MPI_Comm comm, const char *path, int max_batch,
                                          int latent_h, int latent_w, abp_net *net,
                                          abp_train_cfg *cfg, abp_ckpt_meta *meta, abp_err *err);

#endif
