/* The abp program: one function per subcommand, each in its own file. Each returns the
 * process exit status: 0 success, 1 failure (err says why), 2 a usage error,
 * 3 stopped by a signal after writing a checkpoint (a batch script can requeue). */
#ifndef ABP_CLI_H
#define ABP_CLI_H

#include <stdio.h>

#include "abp/dist.h"
#include "abp/error.h"
#include "abp/io.h"

enum { EXIT_OK = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_STOPPED = 3 };

/* A subcommand: abp CMD [options]. */
typedef int (*cli_command_fn)(int argc, char **argv, abp_dist *d, abp_err *err);

int cmd_train(int argc, char **argv, abp_dist *d, abp_err *err);
int cmd_sample(int argc, char **argv, abp_dist *d, abp_err *err);
/* abp sample's descriptor half (sample_descriptor.c): *handled = 0 if ckpt is no descriptor. */
typedef struct cli_descriptor_sample {
    const char *ckpt, *out;
    int n, cols, steps, from_chains, size_h, size_w;
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

/* Loads the first `limit` examples of a data set (all of them if limit is 0 or more than it
 * holds), converted to c x h x w. */
ABP_MUST_CHECK int cli_load_first(const char *path, int64_t limit, int c, int h, int w, abp_images *im,
                                  abp_err *err);

/* Manual pages (man.c): the page of one command, made from what `abp CMD --help` prints
 * (run without MPI: the help is printed before a command touches it), and the overview
 * page abp(1) listing the n commands. */
ABP_MUST_CHECK int cli_man_page(const char *cmd, const char *what, cli_command_fn run, FILE *out,
                                abp_err *err);
void cli_man_overview(const char *const *names, const char *const *whats, int n, FILE *out);

#endif
