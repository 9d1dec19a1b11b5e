/* The abp program: one function per subcommand, each in its own file. Each returns the
 * process exit status: 0 success, 1 failure (err says why), 2 a usage error,
 * 3 stopped by a signal after writing a checkpoint (a batch script can requeue), 4 training
 * diverged: a number became NaN or infinite, and no checkpoint was written for it (requeueing
 * would only diverge again). */
#ifndef ABP_CLI_H
#define ABP_CLI_H

#include <stdio.h>

#include "abp/dist.h"
#include "abp/error.h"
#include "abp/io.h"
#include "abp/train.h"

#include "abp/ebm_prior.h"
#include "abp/nn.h"
#include "abp/prior.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_STOPPED = 3, EXIT_DIVERGED = 4 };

/* A subcommand: abp CMD [options]. */
typedef int (*cli_command_fn)(int argc, char **argv, abp_dist *d, abp_err *err);

int cmd_train(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_sample(int argc, char **argv, abp_dist *d, abp_err *err);
/* abp sample's descriptor half (sample_descriptor.c): *handled = 0 if ckpt is no descriptor. */
typedef struct cli_descriptor_sample {
    const char *ckpt, *out;
    int n, cols, steps, from_chains, size_h, size_w;
    int rank; /* only rank 0 samples; the others return handled */
    int64_t seed;
} cli_descriptor_sample;
int cli_sample_descriptor(const cli_descriptor_sample *s, int *handled, abp_err *err);
int cmd_reconstruct(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_interpolate(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_info(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_pca(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_complete(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_recover(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_bench(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_prepare(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_dynamic(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_score(int argc, char **argv, abp_dist *d, abp_err *err);

/* Loads the first `limit` examples of a data set (all of them if limit is 0 or more than it
 * holds), converted to c x h x w. */
ABP_MUST_CHECK int cli_load_first(const char *path, int64_t limit, int c, int h, int w, abp_images *im,
                                  abp_err *err);

/* This rank's shard of the first `limit` examples of a data set (all if 0), in batches of
 * `batch` (abp_shard_range_batched), converted to c x h x w. Collective: the same result on
 * every rank. im is empty (n 0) on a rank without examples. */
typedef struct cli_shard {
    int64_t n, lo, hi; /* examples [lo, hi) of n */
    int has_masks;     /* the data set stores its own masks (abp prepare --masks) */
    abp_images im;
} cli_shard;
ABP_MUST_CHECK int cli_load_shard(abp_dist *d, const char *path, int64_t limit, int batch, int c,
                                  int h, int w, cli_shard *s, abp_err *err);

/* Every rank loads the checkpoint's network (for batches of `batch`; latent_h > 0 resizes
 * the latent, as abp_model_load_resized) in eval mode, and its settings. Collective. */
ABP_MUST_CHECK int cli_load_model(abp_dist *d, const char *ckpt, int batch, int latent_h, int latent_w,
                                  abp_net *net, abp_train_cfg *cfg, abp_err *err);

/* Every rank loads the checkpoint's encoder (abp_encoder_load; cfg and g from cli_load_model)
 * for batches of `batch`, in eval mode. Collective. */
ABP_MUST_CHECK int cli_load_encoder(abp_dist *d, const char *ckpt, const abp_train_cfg *cfg, const abp_net *g,
                                    int batch, abp_net *enc, abp_err *err);

/* Rank 0 creates --out (mkdir -p); collective. */
ABP_MUST_CHECK int cli_make_out_dir(abp_dist *d, const char *out, abp_err *err);

/* Sets this rank's threads, the BLAS's and abp's loops': requested if > 0, else the node's
 * cores / its ranks. */
int cli_set_threads(abp_dist *d, int requested);

/* The prior a command draws latents from (prior_draw.c): --prior and --batchnorm.
 * --prior auto (the default, docs/sampling.md) is ebm when the checkpoint learned an
 * energy-based prior (abp train --prior ebm), else gmm:CLI_AUTO_K when it holds at least
 * CLI_AUTO_MIN_LATENTS latents of the size sampled, else normal. */
enum { CLI_AUTO_K = 10, CLI_AUTO_MIN_LATENTS = 100 };
typedef struct cli_prior {
    abp_prior_choice choice;
    int automatic;    /* --prior auto: choice is decided by cli_prior_fit */
    int recalibrate;  /* recompute batch norm's statistics on the prior's draws */
    uint64_t seed;    /* of the fit and of the draws */
    int verbose;      /* print what was fitted */
    abp_gmm gmm;      /* the fit (gaussian: one component) */
    int fitted;
    /* ebm: the checkpoint's f_a and its short run (the steps and step size it was trained with) */
    abp_net ebm;
    abp_ebm_ws ebm_ws;
    abp_ebm_langevin ebm_lv;
    float *ebm_cns;
    int ebm_loaded;
} cli_prior;

/* --prior: "auto" or what abp_prior_parse takes. */
ABP_MUST_CHECK int cli_prior_parse(cli_prior *p, const char *text, const char *what, abp_err *err);
/* Fits the chosen prior to the /latents of ckpt (nothing for normal; ebm loads the
 * checkpoint's /prior). dz is the latent size of the model sampled: another size
 * (--latent-shape) works only with normal. */
ABP_MUST_CHECK int cli_prior_fit(cli_prior *p, const char *ckpt, int64_t dz, abp_err *err);
/* Latents of samples first .. first + n - 1 (n rows of dz); sample i's does not depend on n. */
ABP_MUST_CHECK int cli_prior_draw(cli_prior *p, int64_t first, int64_t n, int64_t dz, float *z, abp_err *err);
/* With p->recalibrate: sets net's batch-norm statistics to those of up to 1000 draws from the
 * prior (abp_net_recalibrate_bn on a second copy of the model built for that batch). */
ABP_MUST_CHECK int cli_prior_recalibrate(cli_prior *p, const char *ckpt, int lat_h, int lat_w, abp_net *net,
                                         abp_err *err);
void cli_prior_free(cli_prior *p);

/* Manual pages (man.c): the page of one command, made from what `abp CMD --help` prints
 * (run without MPI: the help is printed before a command touches it), and the overview
 * page abp(1) listing the n commands. */
ABP_MUST_CHECK int cli_man_page(const char *cmd, const char *what, cli_command_fn run, FILE *out,
                                abp_err *err);
void cli_man_overview(const char *const *names, const char *const *whats, int n, FILE *out);

#endif
