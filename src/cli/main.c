/* abp: learn generator networks by alternating back-propagation. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/tensor.h"
#include "cli.h"

static const struct {
    const char *name;
    cli_command_fn run;
    const char *what;
} commands[] = {
    {"train", cmd_train, "learn a generator from data (data-parallel under mpirun)"},
    {"sample", cmd_sample, "synthesize images from the prior with a trained model"},
    {"reconstruct", cmd_reconstruct, "infer latents for new data and report the reconstruction error"},
    {"complete", cmd_complete, "recover the occluded pixels of images through a trained model"},
    {"recover", cmd_recover, "recover images from their random projections S y (compressed sensing)"},
    {"interpolate", cmd_interpolate, "walk the latent space between training examples"},
    {"info", cmd_info, "say what a checkpoint or data set holds"},
    {"bench", cmd_bench, "time one ABP iteration against this machine's sgemm rate"},
    {"pca", cmd_pca, "the PCA baseline: test reconstruction error with d components"},
    {"prepare", cmd_prepare, "pack IDX files and image folders into one HDF5 data set (parallel under mpirun)"},
    {"score", cmd_score, "sample quality against real images: Frechet distance, KID, precision, recall, memorisation"},
    {"dynamic", cmd_dynamic, "fit a vector auto-regression to the latents of video frames and synthesize a dynamic texture"},
};
#define NUM_COMMANDS (int)(sizeof commands / sizeof commands[0])

static void usage(void) {
    printf("usage: abp COMMAND [options]   (abp COMMAND --help for each)\n\ncommands:\n");
    for (int i = 0; i < NUM_COMMANDS; i++) printf("  %-12s %s\n", commands[i].name, commands[i].what);
    printf("\nexit status: 0 success, 1 failure, 2 usage error, 3 stopped after a checkpoint (requeue),\n"
           "4 training diverged (NaN or infinity; no checkpoint written for it)\n"
           "environment: ABP_MAX_PIXELS=N, the largest image decoded (default 2^26 pixels)\n");
    printf("\nabp %s; BLAS kernel %s\n", ABP_VERSION, abp_blas_kernel());
}

/* abp man [CMD | --dir DIR] (not listed in --help: the build runs it to make the manual
 * pages it installs): the roff page of one command, the overview abp(1), or all of them as
 * DIR/abp.1 and DIR/abp-CMD.1. Needs no MPI. */
static int write_page(const char *path, int index, abp_err *err) {
    FILE *out = path ? fopen(path, "w") : stdout;
    if (!out) return abp_fail(err, "man: cannot create %s", path);
    int rc = 0;
    if (index < 0) {
        const char *names[NUM_COMMANDS], *whats[NUM_COMMANDS];
        for (int i = 0; i < NUM_COMMANDS; i++) names[i] = commands[i].name, whats[i] = commands[i].what;
        cli_man_overview(names, whats, NUM_COMMANDS, out);
    } else {
        rc = cli_man_page(commands[index].name, commands[index].what, commands[index].run, out, err);
    }
    if (path && fclose(out) != 0 && rc == 0) rc = abp_fail(err, "man: cannot write %s", path);
    return rc;
}

static int man(int argc, char **argv) {
    abp_err err = {{0}};
    int rc = 0;
    if (argc == 2) {
        rc = write_page(NULL, -1, &err);
    } else if (argc == 4 && !strcmp(argv[2], "--dir")) {
        char path[4096];
        snprintf(path, sizeof path, "%s/abp.1", argv[3]);
        rc = write_page(path, -1, &err);
        for (int i = 0; i < NUM_COMMANDS && rc == 0; i++) {
            snprintf(path, sizeof path, "%s/abp-%s.1", argv[3], commands[i].name);
            rc = write_page(path, i, &err);
        }
    } else if (argc == 3) {
        int index = -1;
        for (int i = 0; i < NUM_COMMANDS; i++)
            if (!strcmp(argv[2], commands[i].name)) index = i;
        if (index < 0) {
            fprintf(stderr, "abp man: unknown command '%s' (see abp --help)\n", argv[2]);
            return EXIT_USAGE;
        }
        rc = write_page(NULL, index, &err);
    } else {
        fprintf(stderr, "usage: abp man [COMMAND | --dir DIR]\n");
        return EXIT_USAGE;
    }
    if (rc) fprintf(stderr, "abp %s\n", err.msg);
    return rc ? EXIT_FAILED : EXIT_OK;
}

int main(int argc, char **argv) {
    abp_blas_fix_kernel(argc, argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage();
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("abp %s\n", ABP_VERSION);
        return EXIT_OK;
    }
    if (!strcmp(argv[1], "man")) return man(argc, argv);
    int index = -1;
    for (int i = 0; i < NUM_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) index = i;
    if (index < 0) {
        fprintf(stderr, "abp: unknown command '%s' (see abp --help)\n", argv[1]);
        return EXIT_USAGE;
    }
    /* FUNNELED: abp train --stream reads data on an I/O thread, which never calls MPI; only
     * this thread does. (Every MPI library gives at least that; the level is not checked.) */
    int provided;
    MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
    abp_dist d;
    abp_err err = {{0}};
    int status;
    if (abp_dist_init(&d, MPI_COMM_WORLD, &err)) {
        status = EXIT_FAILED;
    } else {
        status = commands[index].run(argc, argv, &d, &err);
    }
    fflush(stdout); /* the progress lines come before the error, not after it */
    if ((status == EXIT_FAILED || status == EXIT_USAGE || status == EXIT_DIVERGED) && err.msg[0] && d.rank == 0)
        fprintf(stderr, "abp: %s\n", err.msg);
    MPI_Finalize();
    return status;
}
