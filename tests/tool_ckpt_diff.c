/* ckpt_diff A.h5 B.h5 TOL: compares every model array and the latents of two checkpoints;
 * prints the largest difference relative to the array's largest magnitude and exits 1 if
 * any exceeds TOL. Used by the rank-count and resume tests. */
#include <math.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/io.h"

static int read_all(abp_ckpt *ck, const abp_ckpt_array *a, float **out, abp_err *err) {
    int64_t count = 1;
    for (int k = 0; k < a->ndim; k++) count *= a->dims[k];
    *out = malloc(sizeof(float) * (size_t)(count + 1));
    if (abp_ckpt_read_array(ck, a->path, *out, a->ndim, a->dims, err)) return -1;
    return 0;
}

static double rel_diff(const float *x, const float *y, int64_t n) {
    double worst = 0.0, scale = 1e-12;
    for (int64_t k = 0; k < n; k++) {
        worst = fmax(worst, fabs((double)x[k] - y[k]));
        scale = fmax(scale, fabs((double)x[k]));
    }
    return worst / scale;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    if (argc != 4) {
        fprintf(stderr, "usage: ckpt_diff A.h5 B.h5 TOL\n");
        return 2;
    }
    double tol = atof(argv[3]), worst = 0.0;
    abp_err err;
    abp_ckpt *a, *b;
    abp_ckpt_meta ma, mb;
    if (abp_ckpt_open(MPI_COMM_SELF, argv[1], &a, &ma, &err) || abp_ckpt_open(MPI_COMM_SELF, argv[2], &b, &mb, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    abp_ckpt_array *arrays;
    int narrays, status = 0;
    if (abp_ckpt_list(a, &arrays, &narrays, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    for (int k = 0; k < narrays; k++) {
        float *x, *y;
        if (read_all(a, &arrays[k], &x, &err) || read_all(b, &arrays[k], &y, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 2;
        }
        int64_t n = 1;
        for (int j = 0; j < arrays[k].ndim; j++) n *= arrays[k].dims[j];
        double r = rel_diff(x, y, n);
        if (r > worst) worst = r;
        if (r > tol) {
            printf("%s differs: relative %.3g\n", arrays[k].path, r);
            status = 1;
        }
        free(x), free(y);
    }
    int64_t na, nb, da[4], db[4];
    int nda, ndb;
    if (abp_ckpt_latent_shape(a, &na, &nda, da, &err) || abp_ckpt_latent_shape(b, &nb, &ndb, db, &err) || na != nb) {
        fprintf(stderr, "latent shapes differ\n");
        return 1;
    }
    int64_t per = 1;
    for (int j = 0; j < nda; j++) per *= da[j];
    float *la = malloc(sizeof(float) * (size_t)(na * per)), *lb = malloc(sizeof(float) * (size_t)(na * per));
    if (abp_ckpt_read_latents(a, 0, na, la, &err) || abp_ckpt_read_latents(b, 0, nb, lb, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 2;
    }
    double r = rel_diff(la, lb, na * per);
    if (r > worst) worst = r;
    if (r > tol) {
        printf("latents differ: relative %.3g\n", r);
        status = 1;
    }
    printf("ckpt_diff: %d arrays and %lld latents, largest relative difference %.3g (tolerance %.3g)\n",
           narrays, (long long)na, worst, tol);
    free(la), free(lb), free(arrays);
    abp_ckpt_close(a);
    abp_ckpt_close(b);
    MPI_Finalize();
    return status;
}
