/* Threads per rank: one count for the BLAS's threads and for abp's own loops (OpenMP).
 *
 * The two pools never run inside each other: abp opens no parallel region around a BLAS
 * call and calls no BLAS inside one, so at any moment either the BLAS's threads or abp's are
 * working, never both, and ranks x threads stays within the cores abp was given. */
#include "abp/tensor.h"

#include <omp.h>
#include <stdlib.h>

/* Declared by newer OpenBLAS headers only. */
int openblas_get_parallel(void);

int abp_threads_set(int threads) {
    if (threads < 1) threads = 1;
    int blas = abp_blas_set_threads(threads);
    omp_set_num_threads(threads);
    return blas;
}

/* libgomp's threads spin for a while after a parallel region before they sleep (300,000
 * rounds by default, milliseconds). Between abp's regions come BLAS calls, whose own
 * pthreads then find a core taken by a spinning thread that has nothing to do: on 2 cores
 * with other programs running, mnist28's iteration took 5.1 and 10.3 s with the default
 * against 2.2 and 1.9 s with 10,000 rounds (docs/performance-threads.md). A short spin
 * still catches the next region of a layer, microseconds later. With OpenBLAS's OpenMP
 * build the GEMMs run on the same libgomp team, so this one setting covers both.
 *
 * The pthreads build of OpenBLAS has its own spin after every call: 2^28 cycles by default
 * (about 0.1 s), during which its threads hold the cores abp's next loop wants. The
 * shortest, 2^4 (OPENBLAS_THREAD_TIMEOUT=4), gave 1 rank x 2 threads of faces64 3.4 s an
 * iteration against 5.1 s (docs/performance-threads.md, "One thread pool"). */
int abp_threads_fix_wait_env(void) {
    int changed = 0;
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) { /* else the user chose */
        setenv("GOMP_SPINCOUNT", "10000", 1);
        changed = 1;
    }
    if (openblas_get_parallel() == 1 && !getenv("OPENBLAS_THREAD_TIMEOUT")) {
        setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1);
        changed = 1;
    }
    return changed;
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
