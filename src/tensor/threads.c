/* Threads per rank: one count for the BLAS's threads and for abp's own loops (OpenMP).
 *
 * The two pools never run inside each other: abp opens no parallel region around a BLAS
 * call and calls no BLAS inside one, so at any moment either the BLAS's threads or abp's are
 * working, never both, and ranks x threads stays within the cores abp was given. */
#include "abp/tensor.h"

#include <omp.h>

/* Declared by newer OpenBLAS headers only. */
int openblas_get_parallel(void);

int abp_threads_set(int threads) {
    if (threads < 1) threads = 1;
    int blas = abp_blas_set_threads(threads);
    omp_set_num_threads(threads);
    return blas;
}

int abp_loop_threads(void) { return omp_get_max_threads(); }

const char *abp_blas_threading(void) {
    switch (openblas_get_parallel()) {
    case 0: return "sequential";
    case 1: return "pthreads";
    case 2: return "OpenMP";
    default: return "unknown";
    }
}
