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

/* Which kernel family a core name of OpenBLAS belongs to: 2 AVX-512, 1 AVX2, 0 older. */
static int kernel_level(const char *core) {
    static const char *avx512[] = {"SkylakeX", "Cooperlake", "SapphireRapids"};
    static const char *avx2[] = {"Haswell", "Zen"};
    for (size_t i = 0; i < sizeof avx512 / sizeof avx512[0]; i++)
        if (strcmp(core, avx512[i]) == 0) return 2;
    for (size_t i = 0; i < sizeof avx2 / sizeof avx2[0]; i++)
        if (strcmp(core, avx2[i]) == 0) return 1;
    return 0;
}

/* OpenBLAS 0.3.21 does not know the newest processors and picks an older kernel for them:
 * Prescott (generic SSE3) on some Intel parts, Haswell (AVX2) on AMD Zen 4/5, which have
 * AVX-512. We pick the best kernel the CPU supports when OpenBLAS picked a weaker one
 * (measured on an EPYC of family 26: sgemm 2.2x faster with SkylakeX than with Haswell). */
/* The best kernel family this CPU supports: 2 AVX-512, 1 AVX2, 0 neither. */
static int cpu_level(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return 2;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
}

const char *abp_blas_best_kernel(void) {
    static const char *names[] = {NULL, "Haswell", "SkylakeX"};
    return names[cpu_level()];
}

int abp_blas_kernel_is_weaker(void) { return kernel_level(abp_blas_kernel()) < cpu_level(); }

/* Sets OPENBLAS_CORETYPE when the kernel is weaker than the CPU allows; 1 if it did. */
static int fix_kernel_env(void) {
    if (getenv("OPENBLAS_CORETYPE") != NULL) return 0; /* the user (or our re-exec) chose */
    if (!abp_blas_kernel_is_weaker()) return 0;
    setenv("OPENBLAS_CORETYPE", abp_blas_best_kernel(), 1);
    return 1;
}

void abp_blas_fix_kernel(int argc, char **argv) {
    (void)argc;
    /* OpenBLAS reads OPENBLAS_CORETYPE, and libgomp its wait policy, in their constructors,
     * before main: the only way to change them is to start again with the variables set. */
    int kernel = fix_kernel_env(), wait = abp_threads_fix_wait_env();
    if (!kernel && !wait) return;
    /* The binary's own path, not /proc/self/exe: exec names the process after the file it
     * ran, and a process called "exe" is not one that ps, pgrep or a scheduler finds as abp. */
    char self[4096];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0) return;
    self[len] = '\0';
    execv(self, argv);
    /* If exec fails we simply go on with the slower kernel; abp bench reports which. */
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
