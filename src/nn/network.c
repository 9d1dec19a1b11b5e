/* A network: layers from a spec, one parameter buffer, one gradient buffer, activations
 * kept for the backward pass, and the forward/backward sweeps over the chain. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "abp/rng.h"
#include "layers.h"
#include "onednn.h"
#include "spec.h"

static const struct {
    const char *name, *spec;
} builtin_models[] = {
    /* Digits: d = 30; 7x7x128 -> 14x14x64 -> 28x28x1. */
    {"mnist28", "z 30 | linear 7x7x128 | bn | lrelu 0.2 | deconv 64 k5 s2 | bn | lrelu 0.2 | "
                "deconv 1 k5 s2 | tanh"},
    /* The object-pattern network of the ABP paper (DCGAN generator): d = 100, 64x64x3. */
    {"faces64", "z 100 | linear 4x4x512 | bn | lrelu 0.2 | deconv 256 k5 s2 | bn | lrelu 0.2 | "
                "deconv 128 k5 s2 | bn | lrelu 0.2 | deconv 64 k5 s2 | bn | lrelu 0.2 | "
                "deconv 3 k5 s2 | tanh"},
    /* Textures (the ABP paper §5.1, smaller): fully convolutional, a 7x7 latent image
     * (d = 7^2, as the paper) -> 112x112 grey; a 14x14 latent then makes 224x224. No batch
     * norm: trained on one image it learned no better (docs/results/textures.md), and
     * without it a larger latent runs exactly the function that was trained. */
    {"texture", "z 7x7x1 | deconv 128 k5 s2 | lrelu 0.2 | deconv 64 k5 s2 | lrelu 0.2 | "
                "deconv 32 k5 s2 | lrelu 0.2 | deconv 1 k5 s2 | tanh"},
    /* Sounds (§5.2, smaller): a 1x16 latent sequence of 8 channels -> 16,000 samples (2 s at
     * 8 kHz) through three 1x25 deconvolutions up-sampling 10; 1x32 makes 4 s. */
    {"sound", "z 1x16x8 | deconv1d 128 k25 s10 | lrelu 0.2 | deconv1d 64 k25 s10 | lrelu 0.2 | "
              "deconv1d 1 k25 s10 | tanh"},
    /* Small grey faces (the 25x25 LFW crops of datasets/lfw): d = 20; 7x7x64 -> 13x13x32 ->
     * 25x25x1 (no output padding: each deconv gives 2 * in - 1). */
    {"faces25", "z 20 | linear 7x7x64 | bn | lrelu 0.2 | deconv 32 k5 s2 op0 | bn | lrelu 0.2 | "
                "deconv 1 k5 s2 op0 | tanh"},
    /* Descriptors (generative ConvNets, Xie et al. 2016; --descriptor NAME): the input is the
     * image, f(I) the sum of the last layer's outputs. Not in abp_model_names: they are not
     * generators. The texture net of the paper (100 filters 15x15 sub-sampling 3, 64 of 5x5,
     * 30 of 3x3), for the bundled 128x128 grey textures; fully convolutional, so f sums
     * responses over every position and the same net scores (and samples) any size. */
    {"descriptor-texture", "z 128x128x1 | conv 100 k15 s3 | relu | conv 64 k5 s1 | relu | conv 30 k3 s1"},
    /* The object net of the paper (100 of 7x7 s2, 64 of 5x5 s2, 20 of 3x3, one fully
     * connected filter), for 64x64 colour images. */
    {"descriptor-object", "z 64x64x3 | conv 100 k7 s2 | relu | conv 64 k5 s2 | relu | conv 20 k3 s1 | relu | "
                          "linear 1"},
    /* Digits, after CoopNets' MNIST descriptor: three 4x4 stride-2 convolutions of 64, 128,
     * 256 channels with leaky ReLU (28 -> 14 -> 7 -> 3), a linear layer to 100 scores. */
    {"descriptor-mnist28", "z 28x28x1 | conv 64 k4 s2 p1 | lrelu 0.2 | conv 128 k4 s2 p1 | lrelu 0.2 | "
                           "conv 256 k4 s2 p1 | lrelu 0.2 | linear 100"},
    /* Hierarchical digits (HiABP, L = 3 as the paper's MNIST model; docs/encoder.md): the
     * top code z^3 (16) through mnist28's first block; z^2 (8) joins the 7x7 features, z^1 (6)
     * the 14x14 ones before a stride-1 deconvolution, so that each code passes a non-linearity
     * before the image. d = 16 + 8 + 6 = 30, mnist28's: Table 1 compares the structure of the
     * latent, not its size. */
    {"hiabp-mnist28", "z 16 | linear 7x7x128 | bn | lrelu 0.2 | latent 8 | deconv 64 k5 s2 | bn | lrelu 0.2 | "
                      "latent 6 | deconv 32 k3 s1 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh"},
    /* Encoders (q(z | x) of IABP, abp/encoder.h): bottom-up mirrors of the generators, as the
     * HiABP paper's VLAE-like encoder, ending in 2d numbers (mu, log sigma^2). */
    {"mnist28-encoder", "z 28x28x1 | conv 64 k5 s2 | bn | lrelu 0.2 | conv 128 k5 s2 | bn | lrelu 0.2 | "
                        "linear 60"},
    /* HiABP's encoder (eq. 7): a head per level at the depth that mirrors where the code
     * enters the generator, z^1 from the 14x14 features, z^2 from the 7x7 ones, z^3 from one
     * more layer on top (h^3 = g^3(h^2)). */
    {"hiabp-mnist28-encoder", "z 28x28x1 | conv 64 k5 s2 | bn | lrelu 0.2 | head 6 | conv 128 k5 s2 | bn | "
                              "lrelu 0.2 | head 8 | linear 256 | lrelu 0.2 | linear 32"},
    {"faces64-encoder", "z 64x64x3 | conv 64 k5 s2 | bn | lrelu 0.2 | conv 128 k5 s2 | bn | lrelu 0.2 | "
                        "conv 256 k5 s2 | bn | lrelu 0.2 | conv 512 k5 s2 | bn | lrelu 0.2 | linear 200"},
    /* The feature network of abp score for 28x28 digits (--objective classify): two strided
     * convolutions and a 128-wide layer whose activations are the features, then 10 logits.
     * No batch norm: the features of one image must not depend on the others in its batch. */
    {"classify28", "z 28x28x1 | conv 32 k5 s2 | lrelu 0.2 | conv 64 k5 s2 | lrelu 0.2 | linear 128 | "
                   "lrelu 0.2 | linear 10"},
    /* The latent energy-based prior f_a(z) of abp train --prior ebm (Pang et al. 2020): the
     * paper's MLP of two 200-wide hidden layers with leaky ReLU and one output. Its z is
     * replaced by the generator's latent (abp_ebm_prior_build). No batch norm: the energy of
     * one chain must not depend on the other chains. */
    {"ebm-prior", "z 30 | linear 200 | lrelu 0.2 | linear 200 | lrelu 0.2 | linear 1"},
};
#define NUM_BUILTIN (int)(sizeof builtin_models / sizeof builtin_models[0])

const char *abp_model_spec(const char *name) {
    for (int i = 0; i < NUM_BUILTIN; i++)
        if (strcmp(name, builtin_models[i].name) == 0) return builtin_models[i].spec;
    return NULL;
}

const char *const *abp_model_names(void) {
    /* The generators only: encoders, descriptors and classifiers are found by abp_model_spec
     * too, but they are not models one samples from. */
    static const char *const names[] = {"mnist28", "faces64", "faces25", "texture", "sound", "hiabp-mnist28", NULL};
    return names;
}

/* The layers of a spec in canonical form, without the top latent ("| linear ..."); malloc'd. */
static char *canonical_layers(const char *spec) {
    abp_layer *layers;
    int n;
    abp_shape latent;
    abp_err quiet;
    if (abp_spec_parse(spec, 0, &layers, &n, &latent, &quiet)) return NULL;
    char *full = abp_spec_format(layers, n, latent);
    free(layers);
    char *rest = full ? strchr(full, '|') : NULL;
    char *out = rest ? strdup(rest) : NULL;
    free(full);
    return out;
}

const char *abp_model_name_of(const char *spec) {
    if (abp_model_spec(spec)) {
        for (int i = 0; i < NUM_BUILTIN; i++)
            if (strcmp(spec, builtin_models[i].name) == 0) return builtin_models[i].name;
    }
    char *mine = canonical_layers(spec);
    const char *found = NULL;
    for (int i = 0; mine && i < NUM_BUILTIN && !found; i++) {
        char *theirs = canonical_layers(builtin_models[i].spec);
        if (theirs && strcmp(mine, theirs) == 0) found = builtin_models[i].name;
        free(theirs);
    }
    free(mine);
    return found;
}

static void param_counts(const abp_layer *l, int64_t *nweight, int64_t *nbias, int64_t *nbuf) {
    *nweight = *nbias = *nbuf = 0;
    switch (l->kind) {
    case ABP_LINEAR:
        *nweight = abp_shape_numel(l->in) * abp_shape_numel(l->out);
        *nbias = abp_shape_numel(l->out);
        break;
    case ABP_CONV:
    case ABP_DECONV:
        *nweight = (int64_t)l->in.c * l->out.c * l->kh * l->kw;
        *nbias = l->out.c;
        break;
    case ABP_BATCHNORM:
        *nweight = *nbias = l->out.c;
        *nbuf = 2 * (int64_t)l->out.c;
        break;
    case ABP_HEAD: /* a linear map to 2N: mu and log sigma^2 */
        *nweight = abp_shape_numel(l->in) * 2 * l->code_size;
        *nbias = 2 * (int64_t)l->code_size;
        break;
    default:
        break;
    }
}

/* The levels of a hierarchical latent (abp/nn.h). A generator's latent layers take their
 * codes after the top code, in chain order, and its latent becomes that one vector. An
 * encoder's heads put theirs in the same order, the generator's: its chain runs bottom-up,
 * so the last head (the highest level below the top) comes first after the top. */
static int assign_levels(abp_net *net, abp_err *err) {
    int64_t off = abp_shape_numel(net->layers[0].in);
    for (int i = 0; i < net->nlayers; i++) {
        abp_layer *l = &net->layers[i];
        if (l->kind != ABP_LATENT) continue;
        l->code_offset = (int)off;
        off += l->code_size;
        net->nlatent++;
        if (off > 1 << 24) return abp_fail(err, "model spec: the latent codes add up to more than %d numbers", 1 << 24);
    }
    if (net->nlatent) net->in_shape = (abp_shape){(int)off, 1, 1};
    int64_t top = abp_shape_numel(net->out_shape) / 2, d = top;
    for (int i = 0; i < net->nlayers; i++) {
        if (net->layers[i].kind != ABP_HEAD) continue;
        d += net->layers[i].code_size;
        net->nheads++;
        if (d > 1 << 24) return abp_fail(err, "model spec: the heads add up to more than %d numbers", 1 << 24);
    }
    off = top;
    for (int i = net->nlayers - 1; i >= 0 && net->nheads; i--) {
        abp_layer *l = &net->layers[i];
        if (l->kind != ABP_HEAD) continue;
        l->code_offset = (int)off;
        l->logvar_offset = (int)(d + off);
        off += l->code_size;
    }
    if (net->nheads) net->out_shape = (abp_shape){(int)(2 * d), 1, 1};
    net->nlevels = 1 + net->nlatent + net->nheads;
    return 0;
}

int abp_net_level_range(const abp_net *net, int level, int *offset, int *size) {
    if (level < 1 || level > net->nlevels) return -1;
    if (level == net->nlevels) { /* the top: the generator's input z, the encoder's last layer */
        *offset = 0;
        *size = (int)(net->nheads ? abp_shape_numel(net->layers[net->nlayers - 1].out) / 2
                                  : abp_shape_numel(net->layers[0].in));
        return 0;
    }
    /* the k-th latent layer down the generator is level L - k; the k-th head up the encoder level k */
    int want = net->nheads ? level : net->nlevels - level, k = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const abp_layer *l = &net->layers[i];
        if ((l->kind == ABP_LATENT || l->kind == ABP_HEAD) && ++k == want) {
            *offset = l->code_offset;
            *size = l->code_size;
            return 0;
        }
    }
    return -1;
}

int abp_net_find_layer(const abp_net *net, abp_layer_kind kind) {
    for (int i = 0; i < net->nlayers; i++)
        if (net->layers[i].kind == kind) return i;
    return -1;
}

/* Layers i and i + 1 are a batch norm and a leaky ReLU: one pass (batchnorm.c), whose
 * middle activation act[i + 1] is neither written nor read, so not allocated, unless
 * abp_net_set_unfused asks for the two layers. */
static int fusable_pair(const abp_net *net, int i) {
    return i + 1 < net->nlayers && net->layers[i].kind == ABP_BATCHNORM && net->layers[i + 1].kind == ABP_LRELU;
}

static int fused_pair(const abp_net *net, int i) { return !net->unfused && fusable_pair(net, i); }

int abp_net_build(const char *spec, int latent_dim, int max_batch, abp_net *net, abp_err *err) {
    memset(net, 0, sizeof *net);
    if (max_batch < 1) return abp_fail(err, "batch size must be at least 1");
    if (abp_spec_parse(spec, latent_dim, &net->layers, &net->nlayers, &net->in_shape, err))
        return -1;
    net->max_batch = max_batch;
    net->out_shape = net->layers[net->nlayers - 1].out;
    net->training = 1;
    if (assign_levels(net, err)) {
        abp_net_free(net);
        return -1;
    }

    int64_t max_act = abp_shape_numel(net->in_shape), max_scratch = 1, max_c = 1, max_side = 0;
    for (int i = 0; i < net->nlayers; i++) {
        abp_layer *l = &net->layers[i];
        int64_t w, b, buf;
        param_counts(l, &w, &b, &buf);
        /* A bias right before batch norm is cancelled by its mean: it would get a gradient
         * of pure rounding noise (which Adam amplifies), so such layers have none. */
        if (l->kind != ABP_BATCHNORM && l->kind != ABP_HEAD && i + 1 < net->nlayers &&
            net->layers[i + 1].kind == ABP_BATCHNORM)
            b = 0; /* (a head's bias feeds its own output, not the batch norm after it) */
        l->nweight = w, l->nbias = b;
        net->nparams += w + b;
        net->nbuffers += buf;
        if (abp_shape_numel(l->out) > max_act) max_act = abp_shape_numel(l->out);
        int64_t s = abp_layer_scratch(l, max_batch);
        if (s > max_scratch) max_scratch = s;
        if (l->out.c > max_c) max_c = l->out.c;
        if (l->kind == ABP_HEAD && 2 * l->code_size > max_side) max_side = 2 * l->code_size;
    }
    net->spec = abp_spec_format(net->layers, net->nlayers, net->layers[0].in);
    net->params = abp_calloc(sizeof(float) * (size_t)(net->nparams + 1), err);
    net->grads = net->params ? abp_calloc(sizeof(float) * (size_t)(net->nparams + ABP_NET_GRAD_EXTRA), err) : NULL;
    net->buffers = net->grads ? abp_calloc(sizeof(float) * (size_t)(net->nbuffers + 1), err) : NULL;
    net->act = calloc((size_t)net->nlayers + 1, sizeof(float *));
    if (!net->spec || !net->buffers || !net->act) goto oom;
    float *p = net->params, *g = net->grads, *buf = net->buffers;
    for (int i = 0; i < net->nlayers; i++) {
        abp_layer *l = &net->layers[i];
        if (l->nweight) {
            l->weight = p, l->dweight = g;
            p += l->nweight, g += l->nweight;
            l->bias = l->nbias ? p : NULL, l->dbias = l->nbias ? g : NULL;
            p += l->nbias, g += l->nbias;
        }
        if (l->kind == ABP_BATCHNORM) {
            l->running_mean = buf;
            l->running_var = buf + l->out.c;
            buf += 2 * l->out.c;
            l->batch_mean = abp_calloc(sizeof(float) * 2 * (size_t)l->out.c, err);
            if (!l->batch_mean) goto fail;
            l->batch_invstd = l->batch_mean + l->out.c;
        }
    }
    net->act[0] = abp_alloc(sizeof(float) * (size_t)(abp_shape_numel(net->in_shape) * max_batch), err);
    if (!net->act[0]) goto fail;
    for (int i = 0; i < net->nlayers; i++) {
        if (fusable_pair(net, i)) continue; /* built fused: act[i + 1] stays NULL */
        size_t floats = (size_t)(abp_shape_numel(net->layers[i].out) * max_batch);
        net->act[i + 1] = abp_alloc(sizeof(float) * floats, err);
        if (!net->act[i + 1]) goto fail;
    }
    net->grad_a = abp_alloc(sizeof(float) * (size_t)(max_act * max_batch), err);
    net->grad_b = net->grad_a ? abp_alloc(sizeof(float) * (size_t)(max_act * max_batch), err) : NULL;
    net->scratch = net->grad_b ? abp_alloc(sizeof(float) * (size_t)max_scratch, err) : NULL;
    net->scratch_floats = max_scratch;
    net->stats = net->scratch ? abp_alloc(sizeof(double) * (size_t)(2 * max_c + 1), err) : NULL;
    if (!net->stats) goto fail;
    if (net->nheads) {
        int64_t top2 = abp_shape_numel(net->layers[net->nlayers - 1].out);
        net->joined = abp_alloc(sizeof(float) * (size_t)(abp_shape_numel(net->out_shape) * max_batch), err);
        net->dlast = net->joined ? abp_alloc(sizeof(float) * (size_t)(top2 * max_batch), err) : NULL;
        net->side = net->dlast ? abp_alloc(sizeof(float) * (size_t)(max_side * max_batch), err) : NULL;
        if (!net->side) goto fail;
    }
    /* ABP_ONEDNN: unset, 1 or auto, oneDNN for the layers it takes; 0, none. */
    const char *onednn = getenv("ABP_ONEDNN");
    int use_onednn = !onednn || !*onednn || !strcmp(onednn, "auto") || !strcmp(onednn, "1");
    if (!use_onednn && strcmp(onednn, "0")) {
        abp_fail(err, "the environment's ABP_ONEDNN is '%s': it takes 0, 1 or auto", onednn);
        goto fail;
    }
    abp_net_use_onednn(net, use_onednn);
    abp_net_init_params(net, 0);
    return 0;
oom:
    abp_fail(err, "out of memory building the network");
fail:
    abp_net_free(net);
    return -1;
}

int abp_net_set_max_batch(abp_net *net, int max_batch, abp_err *err) {
    abp_net bigger;
    if (abp_net_build(net->spec, 0, max_batch, &bigger, err)) return -1;
    /* The same spec gives the same layout of parameters and buffers. */
    memcpy(bigger.params, net->params, sizeof(float) * (size_t)net->nparams);
    if (net->nbuffers) memcpy(bigger.buffers, net->buffers, sizeof(float) * (size_t)net->nbuffers);
    if (abp_net_set_unfused(&bigger, net->unfused, err)) {
        abp_net_free(&bigger);
        return -1;
    }
    abp_net_use_onednn(&bigger, net->onednn != NULL);
    bigger.training = net->training;
    bigger.update_running = net->update_running;
    bigger.sum = net->sum;
    bigger.sum_ctx = net->sum_ctx;
    abp_net_free(net);
    *net = bigger;
    return 0;
}

int abp_net_set_unfused(abp_net *net, int unfused, abp_err *err) {
    for (int i = 0; i < net->nlayers; i++) {
        if (!fusable_pair(net, i)) continue;
        if (!unfused) {
            abp_free(net->act[i + 1]);
            net->act[i + 1] = NULL;
        } else if (!net->act[i + 1]) {
            size_t floats = (size_t)(abp_shape_numel(net->layers[i].out) * net->max_batch);
            net->act[i + 1] = abp_alloc(sizeof(float) * floats, err);
            if (!net->act[i + 1]) return abp_fail_wrap(err, "layer %s's output, for the unfused pair", net->layers[i].name);
        }
    }
    net->unfused = unfused != 0;
    return 0;
}

int abp_net_use_onednn(abp_net *net, int on) {
    if (!on) {
        abp_onednn_free(net->onednn);
        net->onednn = NULL;
    } else if (!net->onednn) {
        net->onednn = abp_onednn_create(net->nlayers);
    }
    return net->onednn != NULL;
}

int abp_net_layer_in_onednn(const abp_net *net, int i) {
    return i >= 0 && i < net->nlayers && abp_onednn_runs(net->onednn, i, &net->layers[i]);
}

const char *abp_net_layer_kernel(const abp_net *net, int i) {
    return i >= 0 && i < net->nlayers ? abp_onednn_kernel(net->onednn, i) : NULL;
}

int64_t abp_net_onednn_bytes(const abp_net *net) { return abp_onednn_bytes(net->onednn); }

void abp_net_free(abp_net *net) {
    abp_onednn_free(net->onednn);
    if (net->layers)
        for (int i = 0; i < net->nlayers; i++) abp_free(net->layers[i].batch_mean);
    if (net->act)
        for (int i = 0; i <= net->nlayers; i++) abp_free(net->act[i]);
    free(net->act);
    if (!net->in_arena) {
        abp_free(net->params);
        abp_free(net->grads);
    }
    abp_free(net->buffers);
    abp_free(net->grad_a);
    abp_free(net->grad_b);
    abp_free(net->scratch);
    abp_free(net->stats);
    abp_free(net->joined);
    abp_free(net->dlast);
    abp_free(net->side);
    free(net->layers);
    free(net->spec);
    memset(net, 0, sizeof *net);
}

void abp_net_init_params(abp_net *net, uint64_t seed) {
    for (int i = 0; i < net->nlayers; i++) {
        abp_layer *l = &net->layers[i];
        if (l->kind == ABP_BATCHNORM) {
            for (int c = 0; c < l->out.c; c++) {
                l->weight[c] = 1.0f, l->bias[c] = 0.0f;
                l->running_mean[c] = 0.0f, l->running_var[c] = 1.0f;
            }
        } else if (l->nweight) {
            abp_rng_normal(seed, ABP_RNG_PARAM_INIT, (uint32_t)i, 0, 0, l->weight, l->nweight);
            for (int64_t k = 0; k < l->nweight; k++) l->weight[k] *= 0.02f;
            if (l->nbias) memset(l->bias, 0, sizeof(float) * (size_t)l->nbias);
        }
    }
}

void abp_net_zero_grads(abp_net *net) {
    memset(net->grads, 0, sizeof(float) * (size_t)net->nparams);
}

static int check_batch(const abp_net *net, int n, abp_err *err) {
    if (n < 1 || n > net->max_batch)
        return abp_fail(err, "batch of %d examples, but the network was built for 1 to %d", n,
                        net->max_batch);
    return 0;
}

int abp_net_forward(abp_net *net, const float *z, int n, abp_err *err) {
    if (check_batch(net, n, err)) return -1;
    memcpy(net->act[0], z, sizeof(float) * (size_t)(abp_shape_numel(net->in_shape) * n));
    for (int i = 0; i < net->nlayers; i++) {
        if (fused_pair(net, i)) { /* layers i and i + 1 in one pass */
            double t0 = abp_profile_start(net->profile);
            int rc = abp_bn_lrelu_forward(&net->layers[i], &net->layers[i + 1], net->act[i], net->act[i + 2], n,
                                          net, err);
            abp_profile_add(net->profile, ABP_PART_BATCHNORM, t0);
            if (rc) return abp_fail_wrap(err, "layer %s", net->layers[i].name);
            i++;
            continue;
        }
        if (!net->act[i + 1]) /* net->unfused set by hand, not by abp_net_set_unfused */
            return abp_fail(err, "layer %s: no output buffer (a fused pair's middle): set unfused with "
                            "abp_net_set_unfused", net->layers[i].name);
        if (abp_layer_forward(&net->layers[i], net->act[i], net->act[i + 1], n, net, err))
            return abp_fail_wrap(err, "layer %s", net->layers[i].name);
    }
    if (net->nheads) { /* the top level's mu and log sigma^2 join the heads' */
        int64_t top = abp_shape_numel(net->layers[net->nlayers - 1].out) / 2 * n;
        int64_t d = abp_shape_numel(net->out_shape) / 2 * n;
        const float *last = net->act[net->nlayers];
        memcpy(net->joined, last, sizeof(float) * (size_t)top);
        memcpy(net->joined + d, last + top, sizeof(float) * (size_t)top);
    }
    return 0;
}

int abp_net_backward(abp_net *net, const float *dout, int n, float *dz, int want_param_grads,
                     abp_err *err) {
    if (check_batch(net, n, err)) return -1;
    const float *dy = dout;
    if (net->nheads) { /* the last layer's share of dout: the top level's mu and log sigma^2 */
        int64_t top = abp_shape_numel(net->layers[net->nlayers - 1].out) / 2 * n;
        int64_t d = abp_shape_numel(net->out_shape) / 2 * n;
        memcpy(net->dlast, dout, sizeof(float) * (size_t)top);
        memcpy(net->dlast + top, dout + d, sizeof(float) * (size_t)top);
        dy = net->dlast;
    }
    net->bw_dz = dz;
    net->bw_dout = dout;
    float *bufs[2] = {net->grad_a, net->grad_b};
    int next = 0, rc = 0;
    for (int i = net->nlayers - 1; i >= 0 && rc == 0; i--) {
        int first = i > 0 && fused_pair(net, i - 1) ? i - 1 : i; /* a fused pair: both at once */
        float *dx = first > 0 ? bufs[next] : dz; /* the first layer's input gradient only on request */
        abp_layer *l = &net->layers[first];
        if (first < i) {
            double t0 = abp_profile_start(net->profile);
            rc = abp_bn_lrelu_backward(l, &net->layers[i], net->act[first], dy, dx, n, want_param_grads, net, err);
            abp_profile_add(net->profile, ABP_PART_BATCHNORM, t0);
            i = first;
        } else {
            rc = abp_layer_backward(l, net->act[i], net->act[i + 1], dy, dx, n, want_param_grads, net, err);
        }
        if (rc) rc = abp_fail_wrap(err, "layer %s", l->name);
        dy = dx;
        next ^= 1;
    }
    net->bw_dz = NULL;
    net->bw_dout = NULL;
    return rc;
}

int abp_net_generate(abp_net *net, const float *z_rows, int64_t n, float *out_rows, float *zbuf,
                     abp_err *err) {
    int64_t dz = abp_shape_numel(net->in_shape), dy = abp_shape_numel(net->out_shape);
    for (int64_t start = 0; start < n; start += net->max_batch) {
        int b = (int)(n - start < net->max_batch ? n - start : net->max_batch);
        abp_rows_to_cns(z_rows + start * dz, zbuf, b, net->in_shape);
        if (abp_net_forward(net, zbuf, b, err)) return -1;
        abp_cns_to_rows(abp_net_output(net), out_rows + start * dy, b, net->out_shape);
    }
    return 0;
}

double abp_layer_forward_flops(const abp_layer *l) {
    switch (l->kind) {
    case ABP_LINEAR: return 2.0 * (double)abp_shape_numel(l->in) * (double)abp_shape_numel(l->out);
    case ABP_CONV: return 2.0 * (double)l->in.c * l->kh * l->kw * (double)abp_shape_numel(l->out);
    case ABP_DECONV: return 2.0 * (double)l->out.c * l->kh * l->kw * (double)abp_shape_numel(l->in);
    default: return 0.0;
    }
}

double abp_net_forward_flops(const abp_net *net) {
    double flops = 0.0;
    for (int i = 0; i < net->nlayers; i++) flops += abp_layer_forward_flops(&net->layers[i]);
    return flops;
}
