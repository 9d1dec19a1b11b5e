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

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_STOPPED = 3, EXIT_DIVERGED = 4 };

/* A subcommand: abp CMD [options]. */
typedef int (*cli_command_fn)(int argc, char **argv, abp_dist *d, abp_err *err);

int cmd_train(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_sample(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_reconstruct(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_interpolate(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_info(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_pca(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_complete(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_recover(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_bench(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_prepare(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_dynamic(int argc, char **argv, abp_dist *d, abp_err *err);

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

/* Rank 0 creates --out (mkdir -p); collective. */
ABP_MUST_CHECK int cli_make_out_dir(abp_dist *d, const char *out, abp_err *err);

/* Sets this rank's BLAS threads: requested if > 0, else the node's cores / its ranks. */
int cli_set_threads(abp_dist *d, int requested);
/* Manual pages (man.c): the page of one command, made from what `abp CMD --help` prints
 * (run without MPI: the help is printed before a command touches it), and the overview
 * page abp(1) listing the n commands. */
ABP_MUST_CHECK int cli_man_page(const char *cmd, const char *what, cli_command_fn run, FILE *out,
                                abp_err *err);
void cli_man_overview(const char *const *names, const char *const *whats, int n, FILE *out);

#endif
