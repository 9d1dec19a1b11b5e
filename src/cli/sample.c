/* abp sample: images from the prior, g(z) with z ~ N(0, I). */
#include <stdio.h>
#include <stdlib.h>

#include "abp/rng.h"
#include "abp/train.h"
#include "cli.h"
#include "options.h"

int cmd_sample(int argc, char **argv, abp_dist *d, abp_err *err) {
    char ckpt[1024] = "", out[1024] = "";
    int n = 64, cols = 0, help = 0;
    int64_t seed = 1;
    cli_option opts[] = {
        {"ckpt", OPT_STRING, ckpt, sizeof ckpt, 0, 0, NULL, "a checkpoint written by abp train", 1, 0},
        {"out", OPT_STRING, out, sizeof out, 0, 0, NULL, "the PNG grid to write", 1, 0},
        {"n", OPT_INT, &n, 0, 1, 100000, NULL, "how many samples", 0, 0},
        {"cols", OPT_INT, &cols, 0, 0, 10000, NULL, "columns of the grid (0: square)", 0, 0},
        {"seed", OPT_INT64, &seed, 0, 0, 9.2e18, NULL, "seed of the latent draws", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (cli_parse("sample", argc, argv, 2, opts, nopts, NULL, 0, NULL, &help, err)) return EXIT_USAGE;
    if (help) {
        if (d->rank == 0)
            cli_usage("sample", "--ckpt FILE --out PNG [--n N]",
                      "Draws z ~ N(0, I) and writes g(z) as one PNG grid (batch norm uses its\n"
                      "running statistics).", opts, nopts);
        return EXIT_OK;
    }
    if (d->rank != 0) return EXIT_OK;
    abp_net net;
    abp_train_cfg cfg;
    abp_ckpt_meta meta;
    int batch = n < 64 ? n : 64;
    if (abp_model_load(MPI_COMM_SELF, ckpt, batch, &net, &cfg, &meta, err)) return EXIT_FAILED;
    free(meta.config);
    int64_t dz = abp_shape_numel(net.in_shape), dy = abp_shape_numel(net.out_shape);
    float *rows = abp_alloc(sizeof(float) * (size_t)(n * dz), err);
    float *zb = abp_alloc(sizeof(float) * (size_t)(batch * dz), err);
    float *images = abp_alloc(sizeof(float) * (size_t)(n * dy), err);
    int status = EXIT_FAILED;
    if (!rows || !zb || !images) goto done;
    for (int i = 0; i < n; i++)
        abp_rng_normal((uint64_t)seed, ABP_RNG_PRIOR, (uint32_t)i, 0, 0, rows + i * dz, dz);
    if (abp_net_generate(&net, rows, n, images, zb, err)) goto done;
    if (abp_png_write_grid(out, images, n, net.out_shape.c, net.out_shape.h, net.out_shape.w, cols, err)) goto done;
    printf("sample: wrote %d samples to %s\n", n, out);
    status = EXIT_OK;
done:
    abp_free(rows);
    abp_free(zb);
    abp_free(images);
    abp_net_free(&net);
    return status;
}
