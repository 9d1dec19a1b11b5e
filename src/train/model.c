/* A model: named networks in one arena, an optimizer each, and their checkpoint arrays. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/model.h"

/* Latent layers build the generator's hierarchical latent and heads the encoder's levels
 * (abp/nn.h); in any other network they would mean nothing. The layer is named as the spec
 * parser names layers (the latent `z` is layer 0). */
static int check_role(const char *name, const abp_net *net, abp_err *err) {
    int head = abp_net_find_layer(net, ABP_HEAD), latent = abp_net_find_layer(net, ABP_LATENT);
    if (head >= 0 && strcmp(name, "encoder") != 0)
        return abp_fail(err, "network %s, layer %d 'head %d': a head belongs in the encoder (--encoder), not in the %s",
                        name, head + 1, net->layers[head].code_size, name);
    if (latent >= 0 && strcmp(name, ABP_GENERATOR) != 0)
        return abp_fail(err, "network %s, layer %d 'latent %d': a latent layer belongs in the generator (--model), "
                        "not in the %s", name, latent + 1, net->layers[latent].code_size, name);
    return 0;
}

int abp_model_add(abp_model *m, const char *name, const char *spec, int latent_dim, int max_batch,
                  const abp_opt_cfg *opt, abp_net **out, abp_err *err) {
    if (m->sealed) return abp_fail(err, "network %s: the model's arena is already made", name);
    if (m->nnets == ABP_MODEL_MAX_NETS) return abp_fail(err, "network %s: a model has at most %d networks", name, ABP_MODEL_MAX_NETS);
    if (strlen(name) == 0 || strlen(name) >= sizeof m->nets[0].name || strchr(name, '/'))
        return abp_fail(err, "network name \"%s\": expected 1 to %zu characters, no '/'", name, sizeof m->nets[0].name - 1);
    if (abp_model_find(m, name)) return abp_fail(err, "network %s is in the model twice", name);
    abp_model_net *mn = &m->nets[m->nnets];
    memset(mn, 0, sizeof *mn);
    snprintf(mn->name, sizeof mn->name, "%s", name);
    if (abp_net_build(spec, latent_dim, max_batch, &mn->net, err)) return abp_fail_wrap(err, "network %s", name);
    if (check_role(name, &mn->net, err)) {
        abp_net_free(&mn->net);
        return -1;
    }
    if (abp_optimizer_init(&mn->opt, opt->kind, mn->net.nparams, opt->lr, opt->beta1, opt->momentum, err)) {
        abp_net_free(&mn->net);
        return abp_fail_wrap(err, "network %s", name);
    }
    m->nnets++;
    if (out) *out = &mn->net;
    return 0;
}

int abp_model_seal(abp_model *m, abp_err *err) {
    abp_net *nets[ABP_MODEL_MAX_NETS];
    for (int k = 0; k < m->nnets; k++) nets[k] = &m->nets[k].net;
    if (abp_arena_adopt(&m->arena, nets, m->nnets, err)) return -1;
    m->sealed = 1;
    return 0;
}

void abp_model_free(abp_model *m) {
    for (int k = 0; k < m->nnets; k++) {
        abp_net_free(&m->nets[k].net);
        abp_optimizer_free(&m->nets[k].opt);
    }
    abp_arena_free(&m->arena);
    memset(m, 0, sizeof *m);
}

abp_model_net *abp_model_find(abp_model *m, const char *name) {
    for (int k = 0; k < m->nnets; k++)
        if (strcmp(m->nets[k].name, name) == 0) return &m->nets[k];
    return NULL;
}

void abp_model_step(abp_model *m) {
    for (int k = 0; k < m->nnets; k++) abp_optimizer_step(&m->nets[k].opt, m->nets[k].net.params, m->nets[k].net.grads);
}

void abp_model_groups(const char *name, char *params_group, char *opt_group, size_t cap) {
    if (strcmp(name, ABP_GENERATOR) == 0) {
        snprintf(params_group, cap, "model");
        snprintf(opt_group, cap, "optimizer");
    } else {
        snprintf(params_group, cap, "%s", name);
        snprintf(opt_group, cap, "optimizer/%s", name);
    }
}

int abp_model_ckpt_arrays(abp_model *m, int with_opt, abp_ckpt_array **arrays, int *narrays,
                          abp_ckpt_step **steps, int *nsteps, abp_err *err) {
    int64_t cap = 0;
    for (int k = 0; k < m->nnets; k++) cap += (int64_t)m->nets[k].net.nlayers * 12;
    abp_ckpt_array *all = calloc((size_t)cap + 1, sizeof *all);
    abp_ckpt_step *st = calloc((size_t)m->nnets + 1, sizeof *st);
    if (!all || !st) {
        free(all);
        free(st);
        return abp_fail(err, "out of memory");
    }
    int n = 0, ns = 0;
    for (int k = 0; k < m->nnets; k++) {
        abp_model_net *mn = &m->nets[k];
        char pg[64], og[96];
        abp_model_groups(mn->name, pg, og, sizeof pg);
        abp_ckpt_array *one = NULL;
        int none = 0;
        if (abp_net_ckpt_arrays(&mn->net, with_opt ? &mn->opt : NULL, pg, og, &one, &none, err)) {
            free(all);
            free(st);
            return -1;
        }
        memcpy(all + n, one, sizeof *one * (size_t)none);
        n += none;
        free(one);
        if (with_opt && strcmp(mn->name, ABP_GENERATOR) != 0) {
            snprintf(st[ns].group, sizeof st[ns].group, "%s", og);
            st[ns++].step = mn->opt.step;
        }
    }
    *arrays = all, *narrays = n;
    if (steps) *steps = st, *nsteps = ns;
    else free(st);
    return 0;
}

int abp_model_read(abp_model *m, abp_ckpt *ck, const abp_ckpt_meta *meta, int with_opt, abp_err *err) {
    for (int k = 0; k < m->nnets; k++) {
        char pg[64], og[96];
        abp_model_groups(m->nets[k].name, pg, og, sizeof pg);
        if (!abp_ckpt_has(ck, pg))
            return abp_fail(err, "the checkpoint has no network %s (no group /%s)", m->nets[k].name, pg);
    }
    abp_ckpt_array *arrays = NULL;
    int narrays = 0, rc = 0;
    if (abp_model_ckpt_arrays(m, with_opt, &arrays, &narrays, NULL, NULL, err)) return -1;
    for (int k = 0; k < narrays && rc == 0; k++)
        rc = abp_ckpt_read_array(ck, arrays[k].path, arrays[k].data, arrays[k].ndim, arrays[k].dims, err);
    free(arrays);
    for (int k = 0; k < m->nnets && rc == 0 && with_opt; k++) {
        abp_model_net *mn = &m->nets[k];
        char pg[64], og[96];
        abp_model_groups(mn->name, pg, og, sizeof pg);
        if (strcmp(mn->name, ABP_GENERATOR) == 0) mn->opt.step = meta->optimizer_step;
        else rc = abp_ckpt_read_step(ck, og, &mn->opt.step, err);
    }
    return rc;
}
