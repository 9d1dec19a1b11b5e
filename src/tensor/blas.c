/* The BLAS: one sgemm wrapper, the kernel fix for OpenBLAS 0.3.21, threads. */
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#include "abp/tensor.h"

#include <cblas.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* Declared by OpenBLAS's cblas.h in newer versions; declared here so older headers work. */
char *openblas_get_corename(void);
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

void abp_sgemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *a,
               int lda, const float *b, int ldb, float beta, float *c, int ldc) {
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

const char *abp_blas_kernel(void) { return openblas_get_corename(); }

void abp_blas_fix_kernel(int argc, char **argv) {
    (void)argc;
    if (getenv("OPENBLAS_CORETYPE") != NULL) return; /* the user (or our re-exec) chose */
    const char *core = openblas_get_corename();
    if (strcmp(core, "Prescott") != 0 && strcmp(core, "Core2") != 0 &&
        strcmp(core, "Nehalem") != 0 && strcmp(core, "Sandybridge") != 0)
        return;
    const char *want = NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want || strcmp(core, want) == 0) return;
    /* OpenBLAS reads OPENBLAS_CORETYPE in its constructor, before main: the only way to
     * change the kernel is to start again with the variable set. */
    setenv("OPENBLAS_CORETYPE", want, 1);
    execv("/proc/self/exe", argv);
    /* If exec fails we simply go on with the slow kernel; abp bench reports which. */
}

int abp_blas_set_threads(int threads) {
    if (threads < 1) threads = 1;
    openblas_set_num_threads(threads);
    return openblas_get_num_threads();
}

int abp_blas_threads(void) { return openblas_get_num_threads(); }

int abp_cores_available(void) {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

double abp_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double abp_peak_rss_bytes(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return 1024.0 * (double)ru.ru_maxrss; /* Linux reports kilobytes */
}
