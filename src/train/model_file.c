/* The model half of a checkpoint: which named arrays a network and its optimizer are. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/train.h"

static void add(abp_ckpt_array *a, int *n, const char *layer, const char *name, float *data,
                int ndim, const int64_t *dims) {
    abp_ckpt_array *x = &a[(*n)++];
    memset(x, 0, sizeof *x);
    snprintf(x->path, sizeof x->path, "%s/%s", layer, name);
    x->data = data;
    x->ndim = ndim;
    for (int k = 0; k < ndim; k++) x->dims[k] = dims[k];
}

/* The weight's natural shape: [out][in] (linear), [2N][in] (head), [in_c][out_c][kh][kw]
 * (deconv, as PyTorch), [out_c][in_c][kh][kw] (conv), [c] (batch norm). */
static int weight_dims(const abp_layer *l, int64_t dims[4]) {
    switch (l->kind) {
    case ABP_LINEAR:
        dims[0] = abp_shape_numel(l->out), dims[1] = abp_shape_numel(l->in);
        return 2;
    case ABP_HEAD: /* a linear map to mu and log sigma^2: [2N][in_features] */
        dims[0] = 2 * (int64_t)l->code_size, dims[1] = abp_shape_numel(l->in);
        return 2;
    case ABP_DECONV:
        dims[0] = l->in.c, dims[1] = l->out.c, dims[2] = l->kh, dims[3] = l->kw;
        return 4;
    case ABP_CONV:
        dims[0] = l->out.c, dims[1] = l->in.c, dims[2] = l->kh, dims[3] = l->kw;
        return 4;
    default:
        dims[0] = l->nweight;
        return 1;
    }
}

int abp_model_arrays(abp_net *net, const abp_optimizer *opt, abp_ckpt_array **arrays,
                     int *narrays, abp_err *err) {
    return abp_net_ckpt_arrays(net, opt, "model", "optimizer", arrays, narrays, err);
}

int abp_net_ckpt_arrays(abp_net *net, const abp_optimizer *opt, const char *params_group,
                        const char *opt_group, abp_ckpt_array **arrays, int *narrays, abp_err *err) {
    abp_ckpt_array *a = calloc((size_t)net->nlayers * 12 + 1, sizeof *a);
    if (!a) return abp_fail(err, "out of memory");
    int n = 0;
    for (int i = 0; i < net->nlayers; i++) {
        abp_layer *l = &net->layers[i];
        if (!l->nweight) continue;
        char group[96];
        int64_t wd[4], bd[1] = {l->kind == ABP_BATCHNORM ? l->out.c : l->nbias};
        int wn = weight_dims(l, wd);
        snprintf(group, sizeof group, "%s/%s", params_group, l->name);
        add(a, &n, group, "weight", l->weight, wn, wd);
        if (l->nbias) add(a, &n, group, "bias", l->bias, 1, bd);
        if (l->kind == ABP_BATCHNORM) {
            add(a, &n, group, "running_mean", l->running_mean, 1, bd);
            add(a, &n, group, "running_var", l->running_var, 1, bd);
        }
        if (opt) {
            int64_t w_off = l->weight - net->params, b_off = l->nbias ? l->bias - net->params : 0;
            snprintf(group, sizeof group, "%s/%s", opt_group, l->name);
            add(a, &n, group, "weight.m", opt->m + w_off, wn, wd);
            if (l->nbias) add(a, &n, group, "bias.m", opt->m + b_off, 1, bd);
            if (abp_opt_kind_has_v(opt->kind)) { /* Adam's v, Adamax's u */
                add(a, &n, group, "weight.v", opt->v + w_off, wn, wd);
                if (l->nbias) add(a, &n, group, "bias.v", opt->v + b_off, 1, bd);
            }
        }
    }
    *arrays = a;
    *narrays = n;
    return 0;
}

/* A checkpoint of an objective without a generator (DESIGN §8) has an empty /model: say
 * so, rather than fail on the first missing layer. */
static int has_generator(abp_ckpt *ck, const char *path, abp_err *err) {
    abp_ckpt_array *all = NULL;
    int n = 0, found = 0;
    if (abp_ckpt_list(ck, &all, &n, err)) return 0;
    for (int k = 0; k < n && !found; k++) found = !strncmp(all[k].path, "model/", 6);
    free(all);
    if (!found)
        abp_fail(err, "%s: holds no generator (nothing under /model), which this command needs; abp info %s lists what it holds",
                 path, path);
    return found;
}

int abp_model_load(MPI_Comm comm, const char *path, int max_batch, abp_net *net,
                   abp_train_cfg *cfg, abp_ckpt_meta *meta, abp_err *err) {
    return abp_model_load_resized(comm, path, max_batch, 0, 0, net, cfg, meta, err);
}

int abp_model_load_resized(MPI_Comm comm, const char *path, int max_batch, int latent_h,
                           int latent_w, abp_net *net, abp_train_cfg *cfg, abp_ckpt_meta *meta,
                           abp_err *err) {
    abp_ckpt *ck = NULL;
    if (abp_ckpt_open(comm, path, &ck, meta, err)) return -1;
    int rc = -1;
    abp_ckpt_array *arrays = NULL;
    char *resized = NULL;
    int narrays = 0;
    memset(net, 0, sizeof *net);
    if (abp_train_cfg_parse(meta->config ? meta->config : "", cfg, err)) goto done;
    if (!has_generator(ck, path, err)) goto done;
    if (latent_h > 0) {
        if (abp_spec_resize_latent(cfg->model, latent_h, latent_w, &resized, err)) {
            abp_fail_wrap(err, "%s", path);
            goto done;
        }
    }
    if (abp_net_build(resized ? resized : cfg->model, 0, max_batch, net, err)) {
        abp_fail_wrap(err, "%s: the model it stores", path);
        goto done;
    }
    if (abp_model_arrays(net, NULL, &arrays, &narrays, err)) goto done;
    for (int k = 0; k < narrays; k++)
        if (abp_ckpt_read_array(ck, arrays[k].path, arrays[k].data, arrays[k].ndim, arrays[k].dims, err))
            goto done;
    net->training = 0;
    rc = 0;
done:
    free(arrays);
    free(resized);
    meta->config = meta->config ? strdup(meta->config) : NULL;
    abp_ckpt_close(ck);
    if (rc) {
        abp_net_free(net);
        free(meta->config);
        meta->config = NULL;
    }
    return rc;
}

int abp_encoder_load(MPI_Comm comm, const char *path, const abp_train_cfg *cfg, const abp_net *g, int max_batch,
                     abp_net *enc, abp_err *err) {
    abp_ckpt *ck = NULL;
    abp_ckpt_meta meta;
    memset(enc, 0, sizeof *enc);
    if (abp_ckpt_open(comm, path, &ck, &meta, err)) return -1;
    int rc = -1, narrays = 0;
    abp_ckpt_array *arrays = NULL;
    char *spec = NULL;
    if (!abp_ckpt_has(ck, "encoder")) {
        abp_fail(err, "--init encoder: %s holds no encoder (no /encoder group; it was trained with --objective %s); "
                      "train with --objective iabp or vae for one", path, cfg->objective);
        goto done;
    }
    /* /config records the encoder's canonical spec; a checkpoint from before that records
     * what --encoder said ("auto" or a name), which resolves against a built-in model only. */
    if (abp_encoder_spec(cfg->encoder.spec, cfg->model, (int)abp_shape_numel(g->in_shape), &spec, err)) {
        abp_fail(err, "%s: its /config names the encoder '%.64s' but not its layers (written before abp recorded "
                      "them); it cannot be rebuilt", path, cfg->encoder.spec);
        goto done;
    }
    if (abp_net_build(spec, 0, max_batch, enc, err)) {
        abp_fail_wrap(err, "%s: the encoder it stores", path);
        goto done;
    }
    abp_shape in = enc->in_shape, ys = g->out_shape;
    if (in.c != ys.c || in.h != ys.h || in.w != ys.w || abp_shape_numel(enc->out_shape) != 2 * abp_shape_numel(g->in_shape)) {
        abp_fail(err, "%s: its encoder (%dx%dx%d to %lld numbers) does not fit its generator (%lld to %dx%dx%d)", path,
                 in.h, in.w, in.c, (long long)abp_shape_numel(enc->out_shape), (long long)abp_shape_numel(g->in_shape),
                 ys.h, ys.w, ys.c);
        goto done;
    }
    if (abp_net_ckpt_arrays(enc, NULL, "encoder", "optimizer/encoder", &arrays, &narrays, err)) goto done;
    for (int k = 0; k < narrays; k++)
        if (abp_ckpt_read_array(ck, arrays[k].path, arrays[k].data, arrays[k].ndim, arrays[k].dims, err)) {
            abp_fail_wrap(err, "%s", path);
            goto done;
        }
    enc->training = 0;
    rc = 0;
done:
    free(arrays);
    free(spec);
    abp_ckpt_close(ck);
    if (rc) abp_net_free(enc);
    return rc;
}
