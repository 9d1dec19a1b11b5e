/* abp — learning: optimizers, the training loop over this rank's shard (what it trains is an
 * objective: src/train/objective.h, docs/objectives.md), and the model half of checkpoints
 * (which arrays a network and an optimizer are made of). */
#ifndef ABP_TRAIN_H
#define ABP_TRAIN_H

#include <stdint.h>

#include "abp/coop.h"
#include "abp/descriptor.h"
#include "abp/dist.h"
#include "abp/ebm_prior.h"
#include "abp/encoder.h"
#include "abp/error.h"
#include "abp/infer.h"
#include "abp/io.h"
#include "abp/nn.h"
#include "abp/classify.h"

/* ---------------------------------------------------------------- optimizers */

/* Adamax (Kingma and Ba 2015, Algorithm 2) is the HiABP paper's optimizer; new kinds go at
 * the end (the value is not stored: checkpoints name the kind, abp_opt_kind_name). */
typedef enum abp_opt_kind { ABP_OPT_ADAM, ABP_OPT_SGD, ABP_OPT_ADAMAX } abp_opt_kind;

typedef struct abp_optimizer {
    abp_opt_kind kind;
    float lr, beta1, beta2, eps; /* Adam, Adamax */
    float momentum;              /* SGD */
    int64_t step, n;
    /* Adam: first and second moments; Adamax: the first moment and u, the exponentially
     * weighted infinity norm of the gradients, in v; SGD: the velocity in m. */
    float *m, *v;
    abp_profile *profile; /* abp bench's per-part timer; NULL (no timing) otherwise */
} abp_optimizer;

ABP_MUST_CHECK int abp_optimizer_init(abp_optimizer *opt, abp_opt_kind kind, int64_t n, float lr,
                                      float beta1, float momentum, abp_err *err);
void abp_optimizer_free(abp_optimizer *opt);
/* One step: params -= update(grads). Identical on every rank given identical grads. */
void abp_optimizer_step(abp_optimizer *opt, float *params, const float *grads);
/* "adam", "sgd", "adamax": the --optimizer name, also the checkpoint's record of the kind. */
const char *abp_opt_kind_name(abp_opt_kind kind);
/* The kind called name; -1 if none. */
int abp_opt_kind_parse(const char *name, abp_opt_kind *kind);
/* Whether the kind keeps a second array of moments (v): its checkpoint has .v arrays. */
static inline int abp_opt_kind_has_v(abp_opt_kind kind) { return kind != ABP_OPT_SGD; }

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
    int stream;           /* read each batch's rows from the HDF5 data set instead of holding
                           * the shard (the results are the same; not stored in /config) */
    int quiet;
    abp_descriptor_cfg descriptor; /* --objective descriptor and coop (abp/descriptor.h) */
    abp_coop_cfg coop;     /* --objective coop's own options (abp/coop.h) */
    abp_encoder_cfg encoder; /* --encoder, --init, --encoder-lr (abp/encoder.h) */
    abp_classify_cfg classify; /* --objective classify's options (abp/classify.h) */
    abp_latent_prior_cfg prior; /* --prior normal|ebm and the EBM prior's options (abp/ebm_prior.h) */
} abp_train_cfg;

void abp_train_defaults(abp_train_cfg *cfg);
/* Whether --objective name exists, and the list of those that do ("abp"). */
int abp_train_has_objective(const char *name);
const char *abp_train_objectives(void);

/* One option per line, "--name=value": what the checkpoint stores as /config. malloc'd.
 * The options every objective shares, then the option groups of cfg->objective (written by
 * that objective: the format of its vtable, src/train/objective.h). */
char *abp_train_cfg_format(const abp_train_cfg *cfg, const char *canonical_spec);
/* Reads back what abp_train_cfg_format wrote. */
ABP_MUST_CHECK int abp_train_cfg_parse(const char *text, abp_train_cfg *cfg, abp_err *err);

/* ---------------------------------------------------------------- the loop */

/* Trains as DESIGN §3 and §8 say, on every rank of d. Rank 0 prints progress and writes
 * OUT/metrics.csv and the objective's pictures (ABP: OUT/samples.png,
 * OUT/reconstructions.png); all ranks write
 * OUT/checkpoint.h5 together. Returns 0, or ABP_STOPPED (after a checkpoint) when a
 * SIGTERM or SIGUSR1 asked it to stop, ABP_DIVERGED (no checkpoint written) when a number
 * became NaN or infinite, or -1 with err set (the same on every rank). */
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
 * voted. Returns 0, -1 on failure, or ABP_DIVERGED (on every rank) when a number became
 * non-finite. */
ABP_MUST_CHECK int abp_trainer_iterate(abp_trainer *t, int64_t iteration, int stop_flag,
                                       double *loss_sum, int *stop, abp_err *err);
/* The number of observed values in the global batch of the last iteration (all of them
 * without a mask; K per example with --sense K). */
double abp_trainer_observed(const abp_trainer *t);
abp_net *abp_trainer_net(abp_trainer *t); /* the model's first network (ABP: the generator) */
abp_optimizer *abp_trainer_optimizer(abp_trainer *t); /* that network's optimizer (abp bench attaches its profile) */
int abp_trainer_batch_share(const abp_trainer *t); /* this rank's share of the global batch */
void abp_trainer_free(abp_trainer *t);

/* ---------------------------------------------------------------- inference over a data set */

/* The one batch loop of abp reconstruct, complete and recover (src/train/infer_data.c),
 * data-parallel: each rank infers the latents of its shard of the examples, in batches, on
 * the energy of the observation (DESIGN §1), with batch norm on running statistics (eval
 * mode), so an example's result depends neither on the other examples of its batch nor on
 * the number of ranks. Per-example measures are gathered to rank 0 and summed there in
 * example order: the printed figures are the same on any number of ranks. */

/* Where each example's chain starts. */
typedef enum abp_start_kind {
    ABP_START_PRIOR, /* z ~ N(0, I) from the counter RNG, keyed by (seed, ABP_RNG_TEST_INIT,
                      * global example id): the paper's start for unseen data */
    ABP_START_GIVEN, /* the caller's latents of the shard: persistent chains, e.g. those that
                      * training inferred for these very examples (abp recover --init checkpoint) */
    ABP_START_ENCODER /* z = mu(y), the mean of the encoder's q(z | y) for the example (IABP
                       * [E+L]; with 0 steps the encoder alone, [E]). The mean, not a draw
                       * mu + sigma e: the most probable start, and [E] is then g(mu), the
                       * paper's reconstruction by the encoder. Occluded values (a mask) are
                       * filled with the mean of the example's observed ones before the
                       * encoder reads it, so that it never sees what is to be recovered. */
} abp_start_kind;

typedef struct abp_start {
    abp_start_kind kind;
    uint64_t seed;    /* PRIOR */
    const float *z;   /* GIVEN: [hi - lo][dz] rows */
    abp_net *encoder; /* ENCODER: in eval mode, for batches of the job's batch, reading the
                       * network's signal and giving 2 dz numbers (abp_encoder_load) */
} abp_start;

/* What the caller measures of one example's result: out[0..nmeasures) for the shard's row
 * `local`, given its g(z) (a row of dy values, planar) and its |A y - A g(z)|^2. Each
 * measure is summed over all examples; the caller divides. */
typedef void (*abp_measure_fn)(void *ctx, int64_t local, const float *g, double obs_sse,
                               double *out);

enum { ABP_MEASURES_MAX = 4 };

typedef struct abp_infer_job {
    int64_t n, lo, hi;         /* this rank's examples [lo, hi) of n: abp_shard_range_batched
                                * with `batch`, so that batches do not depend on the ranks */
    int batch;                 /* examples inferred at once, <= the network's max_batch */
    const int64_t *ids;        /* [hi - lo]: each example's id, the key of its random draws;
                                * NULL: its index lo + local in the data set */
    /* the observation of the shard, a row per example: */
    const float *y;            /* pixels (dy values), or with sense the K projections S y */
    const unsigned char *mask; /* [hi - lo][dy]: 1 observed, 0 missing; NULL: every value */
    abp_sensing *sense;        /* NULL: y are pixels */
    abp_start start;
    abp_langevin lv;
    abp_measure_fn measure;    /* may be NULL (nmeasures 0) */
    void *measure_ctx;
    int nmeasures;             /* <= ABP_MEASURES_MAX */
    int64_t keep;              /* rank 0 receives g(z) of examples [0, keep): the drawn ones */
    const char *what;          /* the progress lines' name ("complete"); NULL: none */
} abp_infer_job;

typedef struct abp_infer_result {
    double sums[ABP_MEASURES_MAX]; /* on every rank: each measure summed in example order */
    float *kept;                   /* rank 0: keep rows of g(z) */
    float *z;                      /* this rank's inferred latents, [hi - lo][dz] rows */
} abp_infer_result;

/* Collective over d. The network must be in eval mode (as abp_model_load leaves it), for
 * batches of job->batch. Returns the same result on every rank. */
ABP_MUST_CHECK int abp_infer_data(abp_dist *d, abp_net *net, const abp_infer_job *job,
                                  abp_infer_result *res, abp_err *err);
void abp_infer_result_free(abp_infer_result *res);

/* The masks of examples [lo, hi) of the data set `data`, a byte per value of ys (planar; 1
 * observed, 0 missing) into *masks (abp_free; NULL when every value is observed): those
 * --mask generates (spec, seed), or the data set's stored /masks. */
ABP_MUST_CHECK int abp_shard_masks(const char *data, const abp_mask_spec *spec, uint64_t seed,
                                   int64_t lo, int64_t hi, abp_shape ys, unsigned char **masks,
                                   abp_err *err);

/* Draws OUT/metrics.png with gnuplot: metrics.csv's third column (named first: the loss)
 * on the left axis and its fourth (second: recon_mse, proj_mse, ...) on the right, against
 * the iteration. Returns 0 drawn, 1 gnuplot is not installed, -1 it failed; msg gets one
 * line saying which (and how to get gnuplot). Never touches anything but
 * OUT/metrics.png(.tmp). */
int abp_plot_metrics(const char *out, const char *first, const char *second, char *msg, size_t msg_size);

/* ---------------------------------------------------------------- progress lines */

/* s seconds as "42s", "3m07s" or "2h05m" ("?" if not finite). */
void abp_format_duration(double s, char *buf, size_t n);

/* "reconstruct: 300/1000 examples on rank 0  52.3 examples/s  ETA 13s" on stderr, every tenth
 * of the total, every 30 s, and at the end, once 2 s have passed (quick work prints nothing);
 * nothing when not active (ranks other than 0). */
typedef struct abp_progress {
    const char *what, *unit, *scope; /* "reconstruct", "examples", " on rank 0 (of 3000)" */
    int64_t total, next_done;
    double t0, last;
    int active;
} abp_progress;

void abp_progress_start(abp_progress *p, int active, const char *what, const char *unit,
                        int64_t total, const char *scope);
void abp_progress_update(abp_progress *p, int64_t done);

/* ---------------------------------------------------------------- numerical faults */

/* abp_train's result when a loss, gradient, latent or parameter became NaN or infinite:
 * the run stopped within that iteration and wrote no checkpoint (src/train/finite.c). */
#define ABP_DIVERGED 4

/* The NaN and infinite values among n floats. */
int64_t abp_count_nonfinite(const float *x, int64_t n);

/* After the gradient allreduce (every rank sees the same sums): 0 when the global loss sum,
 * the summed count of non-finite batch state values (latents) and every gradient of every
 * network are finite; else ABP_DIVERGED with err naming the iteration, the part (latents,
 * the loss, or the first network/layer/array whose gradient is not finite) and a hint. */
struct abp_model;
ABP_MUST_CHECK int abp_check_learning(const struct abp_model *m, const abp_train_cfg *cfg, int64_t iteration,
                                      double loss, double bad_state, abp_err *err);
/* After the optimizer steps: the same for every network's parameters. */
ABP_MUST_CHECK int abp_check_params(const struct abp_model *m, const abp_train_cfg *cfg, int64_t iteration,
                                    abp_err *err);

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

/* The encoder of a checkpoint of --objective iabp or vae (the /encoder group), for batches up
 * to max_batch, with its trained parameters, in evaluation mode; cfg is the checkpoint's
 * settings (from abp_model_load) and g its generator, which the encoder is checked against
 * (it reads g's signal and gives 2d numbers). A checkpoint without an encoder is one error
 * naming the file and the objective it was trained with. */
ABP_MUST_CHECK int abp_encoder_load(MPI_Comm comm, const char *path, const abp_train_cfg *cfg, const abp_net *g,
                                    int max_batch, abp_net *enc, abp_err *err);

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
