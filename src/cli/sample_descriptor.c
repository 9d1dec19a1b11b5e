/* abp sample on a descriptor checkpoint (--objective descriptor): Langevin dynamics on images
 * under the trained p(I) = exp(f(I)) q(I) / Z, from the reference q = N(0, s^2 I) or from the
 * stored chains (--from-chains), written as one PNG grid. A fully convolutional descriptor (the
 * texture net) samples any size (--size HxW): f sums its responses over every position. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/infer.h"
#include "abp/rng.h"
#include "abp/train.h"
#include "cli.h"

/* Opens path; *is_descriptor = 0 (and nothing else done) if it was not trained as a descriptor.
 * Otherwise builds its descriptor for max_batch images of size_h x size_w (0: as trained). */
static int load_descriptor(const char *path, int max_batch, int size_h, int size_w, abp_net *net,
                           abp_train_cfg *cfg, int *is_descriptor, abp_err *err) {
    abp_ckpt *ck = NULL;
    abp_ckpt_meta meta;
    if (abp_ckpt_open(MPI_COMM_SELF, path, &ck, &meta, err)) return -1;
    int rc = -1, narrays = 0;
    abp_ckpt_array *arrays = NULL;
    char *resized = NULL;
    memset(net, 0, sizeof *net);
    if (abp_train_cfg_parse(meta.config ? meta.config : "", cfg, err)) goto done;
    *is_descriptor = strcmp(cfg->objective, "descriptor") == 0 && abp_ckpt_has(ck, "descriptor");
    if (!*is_descriptor) {
        rc = 0;
        goto done;
    }
    const char *spec = abp_model_spec(cfg->descriptor.spec);
    if (!spec) spec = cfg->descriptor.spec;
    if (size_h > 0 && abp_spec_resize_latent(spec, size_h, size_w, &resized, err)) {
        abp_fail_wrap(err, "%s: --size", path);
        goto done;
    }
    if (abp_net_build(resized ? resized : spec, 0, max_batch, net, err)) {
        abp_fail_wrap(err, "%s: the descriptor it stores", path);
        goto done;
    }
    if (abp_net_ckpt_arrays(net, NULL, "descriptor", "optimizer/descriptor", &arrays, &narrays, err)) goto done;
    for (int k = 0; k < narrays; k++)
        if (abp_ckpt_read_array(ck, arrays[k].path, arrays[k].data, arrays[k].ndim, arrays[k].dims, err)) goto done;
    net->training = 0;
    rc = 0;
done:
    free(arrays);
    free(resized);
    abp_ckpt_close(ck); /* frees meta.config */
    if (rc) abp_net_free(net);
    return rc;
}

int cli_sample_descriptor(const cli_descriptor_sample *s, int *handled, abp_err *err) {
    abp_net net;
    abp_train_cfg cfg;
    int is_desc = 0;
    *handled = 0;
    int n = s->n;
    if (load_descriptor(s->ckpt, 1, s->size_h, s->size_w, &net, &cfg, &is_desc, err)) return EXIT_FAILED;
    if (!is_desc) return EXIT_OK;
    *handled = 1;
    abp_net_free(&net);
    if (s->rank != 0) return EXIT_OK;
    abp_shape is;
    int64_t M = cfg.descriptor.cd ? 0 : cfg.descriptor.chains;
    if (s->from_chains) {
        if (M == 0) {
            abp_fail(err, "abp sample: %s was trained with --cd and keeps no chains: drop --from-chains", s->ckpt);
            return EXIT_USAGE;
        }
        if (s->size_h > 0) {
            abp_fail(err, "abp sample: --from-chains continues the stored chains at their size: drop --size");
            return EXIT_USAGE;
        }
        n = (int)M;
    }
    if (load_descriptor(s->ckpt, n, s->size_h, s->size_w, &net, &cfg, &is_desc, err)) return EXIT_FAILED;
    is = net.in_shape;
    int64_t d = abp_shape_numel(is);
    int status = EXIT_FAILED;
    float *rows = abp_alloc(sizeof(float) * (size_t)(n * d), err), *cns = rows ? abp_alloc(sizeof(float) * (size_t)(n * d), err) : NULL;
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)n);
    abp_image_ws ws = {0};
    if (!cns || !ids || abp_image_ws_init(&ws, &net, err)) goto done;
    if (s->from_chains) {
        abp_ckpt *ck = NULL;
        abp_ckpt_meta meta;
        int64_t dims[3] = {is.h, is.w, is.c};
        if (abp_ckpt_open(MPI_COMM_SELF, s->ckpt, &ck, &meta, err)) goto done;
        int rc = abp_ckpt_read_rows(ck, "chains/descriptor", M, 3, dims, 0, M, rows, err);
        abp_ckpt_close(ck);
        if (rc) goto done;
    } else {
        for (int i = 0; i < n; i++) {
            abp_rng_normal((uint64_t)s->seed, ABP_RNG_CHAIN_INIT, (uint32_t)i, 0, 0, rows + i * d, d);
            for (int64_t e = 0; e < d; e++) rows[i * d + e] *= cfg.descriptor.ref_sigma;
        }
    }
    for (int i = 0; i < n; i++) ids[i] = i;
    abp_rows_to_cns(rows, cns, n, is);
    /* iteration = UINT32_MAX: noise never drawn by training (whose iterations count from 0) */
    abp_image_langevin lv = {.steps = s->steps, .step_size = cfg.descriptor.step_size,
                             .ref_sigma = cfg.descriptor.ref_sigma, .noise = 1, .seed = (uint64_t)s->seed,
                             .iteration = UINT32_MAX};
    if (abp_langevin_images(&net, cns, n, ids, &lv, &ws, err)) goto done;
    abp_cns_to_rows(cns, rows, n, is);
    if (abp_png_write_grid(s->out, rows, n, is.c, is.h, is.w, s->cols, err)) goto done;
    printf("sample: wrote %d descriptor samples of %dx%dx%d (%d Langevin steps from %s) to %s\n", n, is.h, is.w, is.c,
           s->steps, s->from_chains ? "the stored chains" : "the reference", s->out);
    status = EXIT_OK;
done:
    abp_image_ws_free(&ws);
    abp_free(rows);
    abp_free(cns);
    free(ids);
    abp_net_free(&net);
    return status;
}
