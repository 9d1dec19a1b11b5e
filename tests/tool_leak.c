/* The proof that LeakSanitizer, with tests/lsan.supp, still catches a leak of abp's own
 * memory (tests/sanitizer_leaks.sh runs it in the sanitizer build):
 *
 *   tool_leak          MPI_Init, HDF5 opened, a network built and freed, a resized spec
 *                      made and freed, MPI_Finalize: nothing of abp's is left, so the only
 *                      allocations still held at exit are Open MPI's and HDF5's, which the
 *                      suppressions cover: exit 0
 *   tool_leak --leak   the same, but the spec abp_spec_resize_latent allocated is dropped
 *                      without free: one leak, in an allocation made by libabp, which must
 *                      be reported and fail the run */
#include <hdf5.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/nn.h"

/* Returns the resized spec (the caller owns it), or NULL with err set. In its own function,
 * not inlined, so that no copy of the pointer stays in main's frame for LeakSanitizer to
 * find when the caller drops it. */
__attribute__((noinline)) static char *resized_spec(abp_err *err) {
    char *out = NULL;
    if (abp_spec_resize_latent("z 4x3x3 | deconv 2 k4 s2 p1 | tanh", 6, 7, &out, err)) return NULL;
    return out;
}

/* Builds, uses and frees a small network and a resized spec; with leak, drops the spec. */
__attribute__((noinline)) static int use_abp(int leak, abp_err *err) {
    abp_net net;
    if (abp_net_build("z 4 | linear 2x2x3 | bn | lrelu 0.2 | deconv 1 k4 s2 p1 | tanh", 0, 2, &net, err))
        return -1;
    abp_net_free(&net);
    char *spec = resized_spec(err);
    if (!spec) return -1;
    if (leak) {
        printf("tool_leak: dropping the %zu-byte spec abp_spec_resize_latent allocated\n", strlen(spec) + 1);
        spec = NULL; /* the leak */
    }
    free(spec);
    return 0;
}

int main(int argc, char **argv) {
    int leak = argc > 1 && strcmp(argv[1], "--leak") == 0;
    if (argc > 1 && !leak) {
        fprintf(stderr, "usage: tool_leak [--leak]\n");
        return 2;
    }
    MPI_Init(&argc, &argv);
    if (H5open() < 0) {
        fprintf(stderr, "tool_leak: H5open failed\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    abp_err err = {{0}};
    int rc = use_abp(leak, &err);
    if (rc) fprintf(stderr, "tool_leak: %s\n", err.msg);
    MPI_Finalize();
    return rc ? 1 : 0;
}
