/* The contract between the training loop (train.c) and what it trains (DESIGN §8).
 *
 * The loop owns everything that is the same for every objective: the shard of examples and
 * the batch order, the batch's observation (y, y through a mask, or S y), the persistent
 * state rows (per example and per chain) and their checkpoint datasets, the parameter arena's
 * one allreduce, the optimizer steps, metrics.csv, progress, signals and checkpoints. It knows
 * nothing of layers and nothing of what the state means. An objective owns its networks (it
 * builds them into the model), says which state it keeps, and in each iteration infers or
 * samples and accumulates gradients into the arena. Objectives know nothing of MPI: batch
 * norm's global sum comes in as env->sum (as abp_net's). docs/objectives.md is the manual. */
#ifndef ABP_TRAIN_OBJECTIVE_H
#define ABP_TRAIN_OBJECTIVE_H

#include "abp/infer.h"
#include "abp/model.h"

#define ABP_OBJ_MAX_STATES 4 /* per-example states, and again per-chain states */
/* Of the arena's ABP_NET_GRAD_EXTRA spare floats the objective owns the first ABP_OBJ_SLOTS;
 * the loop keeps the rest (its stop vote and the observed-value count). */
#define ABP_OBJ_SLOTS 6
#define ABP_OBJ_MAX_METRICS 5

/* What an objective is told when it is made. */
typedef struct abp_objective_env {
    const abp_train_cfg *cfg;
    int b_local;      /* this rank's examples per iteration: the max_batch of its networks */
    int64_t B;        /* the global batch */
    int64_t n_total;  /* examples in all */
    abp_sum_fn sum;   /* global-batch sum for batch norm: put it in every network's sum */
    void *sum_ctx;
} abp_objective_env;

/* One kind of persistent state: a row of numel(shape) floats per example (or per chain). */
typedef struct abp_state_decl {
    char name[32];    /* per example: the first is /latents, the others /state/NAME; per chain: /chains/NAME */
    abp_shape shape;  /* of one row */
    int64_t rows;     /* per chain only: M, the number of chains (sharded by global chain id) */
} abp_state_decl;

/* What the objective keeps, filled in by create. */
typedef struct abp_objective_layout {
    abp_shape signal;   /* the observation's shape: the data are loaded in it */
    int nexample, nchain;
    abp_state_decl example[ABP_OBJ_MAX_STATES], chain[ABP_OBJ_MAX_STATES];
    int nslots;         /* loss sums summed over all ranks, <= ABP_OBJ_SLOTS */
} abp_objective_layout;

/* One iteration's batch on this rank. */
typedef struct abp_batch {
    int64_t iteration;
    int b;                        /* this rank's examples */
    int64_t B;                    /* the global batch */
    const int64_t *ids;           /* their global ids: the RNG key of anything per example */
    const abp_observation *obs;   /* their observations, CNS of layout.signal */
    float *state[ABP_OBJ_MAX_STATES];  /* [b][row] per-example state; the loop writes it back */
    float *chain[ABP_OBJ_MAX_STATES];  /* [chain_hi - chain_lo][row] this rank's chains, in place */
    int64_t chain_lo, chain_hi;
    float *slots;                 /* nslots floats, zero on entry: this rank's loss sums */
} abp_batch;

/* After the allreduce: the global sums. */
typedef struct abp_sums {
    const float *slots;  /* the objective's slots, summed over ranks */
    double observed;     /* observed values in the global batch */
    int64_t B;
} abp_sums;

/* One CSV column (and progress field) of metrics.csv. */
typedef struct abp_metric {
    const char *column;   /* CSV header name */
    const char *progress; /* printf format of the progress line, e.g. "loss %.4g" */
    double value;
} abp_metric;

/* What the end-of-run pictures may look at (rank 0). */
typedef struct abp_picture_env {
    const char *out;                 /* the output directory */
    const abp_images *data;          /* this rank's examples, rows */
    const float *state[ABP_OBJ_MAX_STATES]; /* the per-example state of those examples */
    const float *chain[ABP_OBJ_MAX_STATES]; /* rank 0's chains [chain_lo, chain_hi), rows */
    int64_t chain_lo, chain_hi;
    int wav_rate;                    /* > 0: the data is a sound of this rate */
} abp_picture_env;

typedef struct abp_objective_ops {
    const char *name; /* --objective NAME */
    /* The /config lines of the option groups it reads (its members of abp_train_cfg, e.g.
     * "--descriptor=...\n--chains=...\n"), for abp_train_cfg_format to append after the
     * options every objective shares: a malloc'd string, "" for none; NULL out of memory.
     * A checkpoint's /config then says what it was trained with, not every objective's
     * defaults. May be NULL: the objective reads no option group. */
    char *(*format)(const abp_train_cfg *cfg);
    /* Builds the networks into model (abp_model_add; the loop seals the arena after), sets
     * their initial parameters from env->cfg->seed and their sum to env->sum, allocates
     * its own work buffers (sized by env->b_local), fills layout. *self gets its state. */
    int (*create)(const abp_objective_env *env, abp_model *model, abp_objective_layout *layout,
                  void **self, abp_err *err);
    /* The initial row of state `which` (per example, or per chain if chain) for global id. */
    void (*init_state)(void *self, int chain, int which, int64_t id, float *row);
    /* One iteration: the arena's gradients and batch->slots are zero on entry; accumulate
     * dL/dW of every network into them (+=), loss sums into slots, update state rows in
     * place. No allocation, no optimizer step, no MPI, no I/O. */
    int (*iterate)(void *self, abp_batch *batch, abp_err *err);
    /* The CSV columns, from the global sums: returns how many (<= ABP_OBJ_MAX_METRICS).
     * Called once with sums NULL for the header (values unused). */
    int (*metrics)(void *self, const abp_sums *sums, abp_metric *out);
    /* Rank 0, at the end: what it draws into env->out; *written gets a one-line summary. */
    int (*pictures)(void *self, const abp_picture_env *env, char *written, size_t cap, abp_err *err);
    void (*destroy)(void *self); /* frees what create allocated, not the model */
} abp_objective_ops;

/* The objectives there are, by --objective name; NULL if none. */
const abp_objective_ops *abp_objective_find(const char *name);
/* Their names, comma-separated, for messages. */
const char *abp_objective_names(void);

extern const abp_objective_ops abp_objective_abp;
extern const abp_objective_ops abp_objective_descriptor;
extern const abp_objective_ops abp_objective_iabp; /* iabp.c */
extern const abp_objective_ops abp_objective_vae;  /* vae.c */

/* What the encoder objectives (IABP, VAE) share (iabp.c): the generator and the encoder, and
 * the batch's buffers. */
typedef struct abp_encoder_pair {
    abp_net *g, *enc;     /* in the model's arena */
    abp_shape zs, ys;     /* the latent's shape ([d]) and the signal's */
    int d;                /* the encoder gives 2d numbers per example: mu, then log sigma^2 */
    float *zb, *dout;     /* the batch's latents and dL/dg, CNS */
    float *noise, *rows;  /* per-example normal draws, CNS, and their rows as drawn */
    float *denc;          /* dL/d(mu, log sigma^2), CNS [2d][b] */
    float inv_var_batch;  /* 1 / (sigma^2 B): the generator's gradient scale */
    float inv_batch;      /* 1 / B: the encoder's */
} abp_encoder_pair;

/* Builds both networks into model, checks them against each other, initialises them, sets
 * their sum, allocates the buffers for env->b_local examples. */
ABP_MUST_CHECK int abp_encoder_pair_create(const abp_objective_env *env, abp_model *model, abp_encoder_pair *p,
                                           abp_err *err);
void abp_encoder_pair_free(abp_encoder_pair *p); /* the buffers; the networks are the model's */
/* Their format: the encoder's options (--encoder, --init, --encoder-lr; abp/encoder.h). */
char *abp_encoder_pair_format(const abp_train_cfg *cfg);
/* One per-example state, /latents of shape [d]; nslots loss slots. */
void abp_encoder_pair_layout(const abp_encoder_pair *p, int nslots, abp_objective_layout *layout);
/* Example id's first latent: N(0, I) keyed by (seed, ABP_RNG_LATENT_INIT, id). */
void abp_encoder_pair_init_state(const abp_encoder_pair *p, uint64_t seed, int64_t id, float *row);
/* d normal draws per example of the batch keyed by (seed, purpose, global id, iteration),
 * as CNS into out (through p->rows). */
void abp_encoder_pair_draw(abp_encoder_pair *p, uint64_t seed, uint32_t purpose, const abp_batch *b, float *out);
/* samples.png and reconstructions.png (rows: data, g(mu), g(z) of the per-example state). */
ABP_MUST_CHECK int abp_encoder_pictures(abp_net *g, abp_net *enc, uint64_t seed, const abp_picture_env *env,
                                        char *written, size_t cap, abp_err *err);
/* What --prior ebm adds to the ABP objective (ebm_prior_state.c): the prior network f_a
 * ("prior", abp/ebm_prior.h) and its buffers. abp.c holds one (NULL with --prior normal). */
typedef struct abp_ebm_prior_state abp_ebm_prior_state;
/* Builds f_a into model after the generator (latents of shape zs; --prior-net, --prior-lr,
 * parameters from --seed + 1), allocates its buffers for env->b_local examples, and hooks it
 * into the posterior Langevin (posterior->prior_grad, prior_ctx). On failure *out is NULL. */
ABP_MUST_CHECK int abp_ebm_prior_state_create(const abp_objective_env *env, abp_model *model, abp_shape zs,
                                              abp_langevin *posterior, abp_ebm_prior_state **out, abp_err *err);
/* After the posterior steps: the batch's short-run prior chains, and f_a's maximum-likelihood
 * gradient from them against post (the inferred latents, CNS of b->b) added into the arena;
 * sums[0], sums[1] get sum f over the posterior latents and over the prior chains. */
ABP_MUST_CHECK int abp_ebm_prior_state_learn(abp_ebm_prior_state *st, const float *post, const abp_batch *b,
                                             float sums[2], abp_err *err);
/* n samples of the learned prior as rows (abp sample's draws 0 .. n - 1), for the pictures. */
ABP_MUST_CHECK int abp_ebm_prior_state_draw(abp_ebm_prior_state *st, int n, float *rows, abp_err *err);
void abp_ebm_prior_state_destroy(abp_ebm_prior_state *st); /* NULL is fine; the network is the model's */

extern const abp_objective_ops abp_objective_classify; /* classify.c */
extern const abp_objective_ops abp_objective_coop;     /* coop.c */

/* The descriptor of --descriptor (abp_descriptor_cfg) built into model as "descriptor" for
 * batches up to max_batch, with its own optimizer (--descriptor-lr, --descriptor-beta1),
 * parameters drawn from seed, its sum set (descriptor.c; shared by coop.c). */
ABP_MUST_CHECK int abp_descriptor_net_create(const abp_objective_env *env, abp_model *model, int max_batch,
                                             uint64_t seed, abp_net **f, abp_err *err);
/* The descriptor's maximum-likelihood learning gradient, added into f's gradients:
 * scale_obs * sum_obs df/dw + scale_syn * sum_syn df/dw (scale_obs = -1/B and scale_syn = 1/M
 * for the loss mean_syn f - mean_obs f), the last layer's bias gradient set to its exact 0.
 * *sum_obs, *sum_syn get the sums of f over the two sets (either count may be 0). */
ABP_MUST_CHECK int abp_descriptor_learn(abp_net *f, const float *obs, int nobs, float scale_obs, const float *syn,
                                        int nsyn, float scale_syn, double *sum_obs, double *sum_syn,
                                        abp_image_ws *ws, abp_err *err);

#endif
