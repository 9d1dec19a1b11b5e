/* abp pca: the linear baseline. Fits PCA with d components to training data and reports
 * the reconstruction error of test data on the same scale as abp reconstruct. */
#include <stdio.h>

#include "abp/io.h"
#include "abp/tensor.h"
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
    if (d->rank != 0) return EXIT_OK;
    if (!test[0]) snprintf(test, sizeof test, "%s", train);
    abp_data_info info;
    abp_images a = {0}, b = {0};
    abp_pca pca = {0};
    float *recon = NULL;
    int status = EXIT_FAILED;
    if (abp_data_probe(train, &info, err)) return EXIT_FAILED;
    c = info.c, h = info.h, w = info.w;
    if (cli_load_first(train, limit, c, h, w, &a, err) || cli_load_first(test, test_limit, c, h, w, &b, err))
        goto done;
    int D = c * h * w;
    if (abp_pca_fit(a.data, a.n, D, dim, &pca, err)) goto done;
    recon = abp_alloc(sizeof(float) * (size_t)(b.n * D), err);
    if (!recon || abp_pca_reconstruct(&pca, b.data, recon, b.n, err)) goto done;
    double sse = 0.0;
    for (int64_t k = 0; k < b.n * D; k++) sse += ((double)b.data[k] - recon[k]) * ((double)b.data[k] - recon[k]);
    printf("pca: d=%d, fit to %lld examples, %lld reconstructed, mse=%.6f (per pixel, [0,1] scale)\n",
           dim, (long long)a.n, (long long)b.n, sse / ((double)b.n * D) / 4.0);
    status = EXIT_OK;
done:
    abp_free(recon);
    abp_pca_free(&pca);
    abp_images_free(&a);
    abp_images_free(&b);
    return status;
}
