/* abp pca: the linear baseline. Fits PCA with d components to training data and reports
 * the reconstruction error of test data on the same scale as abp reconstruct. Under mpirun
 * each rank sums the moments of its shard of the training data and reconstructs its shard
 * of the test data; rank 0 eigendecomposes. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "abp/io.h"
#include "abp/tensor.h"
#include "abp/train.h"
#include "cli.h"
#include "options.h"

int cmd_pca(int argc, char **argv, abp_dist *d, abp_err *err) {
    char train[1024] = "", test[1024] = "";
    int dim = 30, c = 0, h = 0, w = 0, help = 0;
    int64_t limit = 0, test_limit = 0;
    cli_option opts[] = {
        {"train", OPT_STRING, train, sizeof train, 0, 0, NULL, "data to fit the components to", 1, 0},
        {"test", OPT_STRING, test, sizeof test, 0, 0, NULL, "data to reconstruct (default: --train)", 0, 0},
        {"dim", OPT_INT, &dim, 0, 1, 1 << 20, NULL, "d, the number of components", 0, 0},
        {"limit", OPT_INT64, &limit, 0, 0, 1e12, NULL, "only the first N training examples (0: all)", 0, 0},
        {"test-limit", OPT_INT64, &test_limit, 0, 0, 1e12, NULL, "only the first N test examples (0: all)", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (cli_parse("pca", argc, argv, 2, opts, nopts, NULL, 0, NULL, &help, err)) return EXIT_USAGE;
    if (help) {
        if (d->rank == 0)
            cli_usage("pca", "--train PATH [--test PATH] --dim D",
                      "Prints mse=<mean squared error per pixel on the [0, 1] scale> of the test data\n"
                      "projected on the D leading principal components of the training data.", opts, nopts);
        return EXIT_OK;
    }
    if (!test[0]) snprintf(test, sizeof test, "%s", train);
    abp_data_info info;
    cli_shard a = {0}, b = {0};
    abp_pca pca = {0};
    float *recon = NULL;
    double *mean = NULL, *scatter = NULL, *sse_mine = NULL, *sse_all = NULL;
    int status = EXIT_FAILED;
    if (abp_dist_agree(d, abp_data_probe(train, &info, err), err)) return EXIT_FAILED;
    c = info.c, h = info.h, w = info.w;
    int64_t D = (int64_t)c * h * w;
    if (cli_load_shard(d, train, limit, 1, c, h, w, &a, err) || cli_load_shard(d, test, test_limit, 1, c, h, w, &b, err))
        goto done;
    if (D * D > INT_MAX) {
        abp_fail(err, "%s: PCA of %lld-value examples needs a %lld x %lld covariance; at most 46340 values", train,
                 (long long)D, (long long)D, (long long)D);
        goto done;
    }
    /* the messages a fit would give, before any rank does the work */
    if (a.n < 2) {
        abp_fail(err, "PCA needs at least 2 examples, got %lld", (long long)a.n);
        goto done;
    }
    if (dim > D) {
        abp_fail(err, "PCA: %d components asked of %lld-dimensional data", dim, (long long)D);
        goto done;
    }
    /* The moments: each rank sums its shard's, the sums go over the ranks, and rank 0
     * eigendecomposes the covariance and broadcasts the components. */
    mean = abp_calloc(sizeof(double) * (size_t)D, err);
    scatter = mean ? abp_calloc(sizeof(double) * (size_t)(D * D), err) : NULL;
    if (abp_dist_agree(d, scatter ? 0 : -1, err)) goto done;
    abp_pca_add_sum(a.im.data, a.im.n, (int)D, mean);
    if (abp_dist_sum_doubles(mean, (int)D, d)) goto mpi_failed;
    for (int64_t k = 0; k < D; k++) mean[k] /= (double)a.n;
    abp_progress progress;
    abp_progress_start(&progress, d->rank == 0, "pca", "examples", a.im.n, d->size > 1 ? " of rank 0's share" : "");
    int rc = 0;
    for (int64_t first = 0; rc == 0 && first < a.im.n; first += 1024) {
        int64_t rows = a.im.n - first < 1024 ? a.im.n - first : 1024;
        rc = abp_pca_add_scatter(a.im.data + first * D, rows, (int)D, mean, scatter, err);
        abp_progress_update(&progress, first + rows);
    }
    if (abp_dist_agree(d, rc, err)) goto done;
    if (abp_dist_sum_doubles(scatter, (int)(D * D), d)) goto mpi_failed;
    rc = d->rank == 0 ? abp_pca_from_moments(mean, scatter, a.n, (int)D, dim, &pca, err) : 0;
    if (rc == 0 && d->rank != 0) {
        pca.D = (int)D, pca.d = dim;
        pca.mean = abp_alloc(sizeof(float) * (size_t)D, err);
        pca.basis = abp_alloc(sizeof(float) * (size_t)(dim * D), err);
        pca.variance = abp_alloc(sizeof(float) * (size_t)dim, err);
        rc = pca.mean && pca.basis && pca.variance ? 0 : -1;
    }
    if (abp_dist_agree(d, rc, err) || abp_dist_broadcast(d, pca.mean, sizeof(float) * (size_t)D, err) ||
        abp_dist_broadcast(d, pca.basis, sizeof(float) * (size_t)(dim * D), err))
        goto done;
    /* The test error: per example on its rank, summed on rank 0 in example order. */
    int64_t mine = b.im.n > 0 ? b.im.n : 1;
    recon = abp_alloc(sizeof(float) * (size_t)(mine * D), err);
    sse_mine = recon ? calloc((size_t)mine, sizeof(double)) : NULL;
    if (d->rank == 0) sse_all = sse_mine ? calloc((size_t)b.n, sizeof(double)) : NULL;
    rc = sse_mine && (d->rank != 0 || sse_all) ? 0 : abp_fail(err, "out of memory for %lld test examples", (long long)b.n);
    if (rc == 0 && b.im.n > 0) rc = abp_pca_reconstruct(&pca, b.im.data, recon, b.im.n, err);
    for (int64_t i = 0; rc == 0 && i < b.im.n; i++)
        for (int64_t k = 0; k < D; k++) {
            double r = (double)b.im.data[i * D + k] - recon[i * D + k];
            sse_mine[i] += r * r;
        }
    if (abp_dist_agree(d, rc, err) || abp_dist_gather_rows(d, sse_mine, b.lo, b.hi, b.n, sizeof(double), sse_all, err))
        goto done;
    if (d->rank == 0) {
        double sse = 0.0;
        for (int64_t i = 0; i < b.n; i++) sse += sse_all[i];
        printf("pca: d=%d, fit to %lld examples, %lld reconstructed on %d rank%s, mse=%.6f (per pixel, [0,1] scale)\n",
               dim, (long long)a.n, (long long)b.n, d->size, d->size > 1 ? "s" : "", sse / ((double)b.n * D) / 4.0);
    }
    status = EXIT_OK;
    goto done;
mpi_failed:
    abp_fail(err, "MPI_Allreduce of the PCA moments failed");
done:
    abp_free(recon);
    abp_free(mean);
    abp_free(scatter);
    free(sse_mine);
    free(sse_all);
    abp_pca_free(&pca);
    abp_images_free(&a.im);
    abp_images_free(&b.im);
    return status;
}
