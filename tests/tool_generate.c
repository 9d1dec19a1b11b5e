/* abp's own g(z), for tests that check another implementation against it
 * (tests/python_torch.sh: python/abp_torch.py must give the same signals).
 *
 *   generate --models                  one line per built-in model: NAME C H W (its output)
 *   generate CKPT Z.f32 N OUT.f32      g(z) of the checkpoint's network, in evaluation mode
 *                                      (batch norm with running statistics), for N latents
 *                                      read from Z.f32 (raw float32, a row per latent in
 *                                      the planar c x h x w order of /latents), written to
 *                                      OUT.f32 as N planar c x h x w rows */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/io.h"
#include "abp/nn.h"
#include "abp/train.h"

static int list_models(abp_err *err) {
    for (const char *const *name = abp_model_names(); *name; name++) {
        abp_net net;
        if (abp_net_build(abp_model_spec(*name), 0, 1, &net, err)) return -1;
        printf("%s %d %d %d\n", *name, net.out_shape.c, net.out_shape.h, net.out_shape.w);
        abp_net_free(&net);
    }
    return 0;
}

static int generate(const char *ckpt, const char *zpath, long n, const char *outpath, abp_err *err) {
    abp_net net;
    abp_train_cfg cfg;
    abp_ckpt_meta meta;
    if (abp_model_load(MPI_COMM_SELF, ckpt, (int)n, &net, &cfg, &meta, err)) return -1;
    free(meta.config);
    int64_t d = abp_shape_numel(net.in_shape), D = abp_shape_numel(net.out_shape);
    float *z = malloc(sizeof(float) * (size_t)(n * d)), *zbuf = malloc(sizeof(float) * (size_t)(n * d));
    float *out = malloc(sizeof(float) * (size_t)(n * D));
    int rc = -1;
    FILE *f = NULL;
    if (!z || !zbuf || !out) {
        abp_fail(err, "out of memory");
        goto done;
    }
    f = fopen(zpath, "rb");
    if (!f || fread(z, sizeof(float), (size_t)(n * d), f) != (size_t)(n * d)) {
        abp_fail(err, "%s: cannot read %ld latents of %lld floats", zpath, n, (long long)d);
        goto done;
    }
    fclose(f);
    f = NULL;
    if (abp_net_generate(&net, z, n, out, zbuf, err)) goto done;
    f = fopen(outpath, "wb");
    if (!f || fwrite(out, sizeof(float), (size_t)(n * D), f) != (size_t)(n * D) || fclose(f) != 0) {
        f = NULL;
        abp_fail(err, "%s: cannot write", outpath);
        goto done;
    }
    f = NULL;
    rc = 0;
done:
    if (f) fclose(f);
    free(z);
    free(zbuf);
    free(out);
    abp_net_free(&net);
    return rc;
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    abp_err err = {{0}};
    int rc;
    if (argc == 2 && !strcmp(argv[1], "--models")) {
        rc = list_models(&err);
    } else if (argc == 5 && atol(argv[3]) > 0) {
        rc = generate(argv[1], argv[2], atol(argv[3]), argv[4], &err);
    } else {
        fprintf(stderr, "usage: generate --models | generate CKPT Z.f32 N OUT.f32\n");
        MPI_Finalize();
        return 2;
    }
    if (rc) fprintf(stderr, "generate: %s\n", err.msg);
    MPI_Finalize();
    return rc ? 1 : 0;
}
