/* The model spec: a '|'-separated list of layers (DESIGN §1). Parsing fills abp_layer
 * hyper-parameters and shapes; network.c allocates. Grammar, one token per layer:
 *   z D | z HxW | z HxWxC          the latent (first token; --latent-dim may override D)
 *   linear F | linear HxWxC         fully connected, output shape (HxWxC: c channels of h x w)
 *   deconv C k5 s2 [p2] [op1]       transposed convolution; kernel/stride/pad may be AxB;
 *                                   defaults p = (k-1)/2, op = s-1 (output = s * input)
 *   deconv1d C k25 s10 [p12] [op9]  the same along the width only (kernel 1 x k)
 *   conv C k5 s2 [p2]               convolution; default p = (k-1)/2
 *   bn | batchnorm                  lrelu [SLOPE=0.2] | relu | tanh | sigmoid
 *   reshape HxWxC
 *   latent N                        a generator's hierarchical code: N more channels, this
 *                                   level's own N-vector tiled (HiABP eq. 6; needs 'z D')
 *   head N                          an encoder's mu and log sigma^2 of one level, 2N numbers
 *                                   from the features here; the chain goes on (eq. 7) */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spec.h"

static const char *kind_names[] = {
    [ABP_LINEAR] = "linear", [ABP_DECONV] = "deconv", [ABP_CONV] = "conv",
    [ABP_BATCHNORM] = "bn", [ABP_RELU] = "relu", [ABP_LRELU] = "lrelu",
    [ABP_TANH] = "tanh", [ABP_SIGMOID] = "sigmoid", [ABP_RESHAPE] = "reshape",
    [ABP_LATENT] = "latent", [ABP_HEAD] = "head",
};

const char *abp_layer_kind_name(abp_layer_kind k) { return kind_names[k]; }

/* "12" -> {12}, "3x4" -> {3, 4}, "4x4x512" -> {4, 4, 512}. Returns the count or -1. */
static int parse_dims(const char *s, int dims[3], int min) {
    int count = 0;
    while (*s) {
        if (count == 3 || !isdigit((unsigned char)*s)) return -1;
        char *end;
        long v = strtol(s, &end, 10);
        if (v < min || v > 1 << 24) return -1;
        dims[count++] = (int)v;
        s = end;
        if (*s == 'x') {
            s++;
            if (!*s) return -1;
        } else if (*s) {
            return -1;
        }
    }
    return count;
}

/* A shape HxWxC, HxW (C = 1) or F (a vector: C = F, H = W = 1). */
static int parse_shape(const char *s, abp_shape *out) {
    int d[3], k = parse_dims(s, d, 1);
    if (k == 1) *out = (abp_shape){d[0], 1, 1};
    else if (k == 2) *out = (abp_shape){1, d[0], d[1]};
    else if (k == 3) *out = (abp_shape){d[2], d[0], d[1]};
    else return -1;
    return 0;
}

/* An option word like "k5", "k1x25", "s2", "p2", "op1": both components. */
static int parse_pair(const char *s, int *a, int *b, int min) {
    int d[3], k = parse_dims(s, d, min);
    if (k == 1) *a = *b = d[0];
    else if (k == 2) *a = d[0], *b = d[1];
    else return -1;
    return 0;
}

static int bad(abp_err *err, int index, const char *token, const char *why) {
    return abp_fail(err, "model spec, layer %d '%s': %s", index, token, why);
}

/* Splits one token into words; returns the count (at most max). */
static int split_words(char *token, char **words, int max) {
    int n = 0;
    for (char *w = strtok(token, " \t\n"); w && n < max; w = strtok(NULL, " \t\n")) words[n++] = w;
    return n;
}

static int parse_conv_options(char **words, int nwords, abp_layer *l, int one_d, int *have_p,
                              int *op_h, int *op_w, int *have_op, const char *tok, int index,
                              abp_err *err) {
    int have_k = 0;
    for (int i = 2; i < nwords; i++) {
        const char *w = words[i];
        int a, b;
        if (strncmp(w, "op", 2) == 0) {
            if (parse_pair(w + 2, &a, &b, 0))
                return bad(err, index, tok, "output padding must look like op1 or op0x9");
            *op_h = one_d ? 0 : a, *op_w = one_d ? a : b, *have_op = 1;
        } else if (w[0] == 'k' && !parse_pair(w + 1, &a, &b, 1)) {
            l->kh = one_d ? 1 : a, l->kw = one_d ? a : b, have_k = 1;
        } else if (w[0] == 's' && !parse_pair(w + 1, &a, &b, 1)) {
            l->sh = one_d ? 1 : a, l->sw = one_d ? a : b;
        } else if (w[0] == 'p' && !parse_pair(w + 1, &a, &b, 0)) {
            l->ph = one_d ? 0 : a, l->pw = one_d ? a : b, *have_p = 1;
        } else {
            return bad(err, index, tok, "expected options like k5 s2 p2 op1");
        }
    }
    if (!have_k) return bad(err, index, tok, "missing kernel size (e.g. k5)");
    return 0;
}

int abp_spec_parse(const char *spec, int latent_dim, abp_layer **layers_out, int *nlayers_out,
                   abp_shape *latent_out, abp_err *err) {
    char *copy = strdup(spec), *save = NULL;
    int cap = 16, n = 0, index = 0;
    abp_layer *layers = calloc((size_t)cap, sizeof *layers);
    abp_shape cur = {0, 0, 0};
    int have_latent = 0, latent_layers = 0, heads = 0;
    if (!copy || !layers) goto oom;
    for (char *tok = strtok_r(copy, "|", &save); tok; tok = strtok_r(NULL, "|", &save), index++) {
        char shown[128];
        {
            char *t = tok;
            while (isspace((unsigned char)*t)) t++;
            snprintf(shown, sizeof shown, "%s", t);
            for (size_t k = strlen(shown); k > 0 && isspace((unsigned char)shown[k - 1]); k--)
                shown[k - 1] = 0;
        }
        char *words[12];
        int nw = split_words(tok, words, 12);
        if (nw == 0) {
            bad(err, index, shown, "empty layer (two '|' in a row?)");
            goto fail;
        }
        if (strcmp(words[0], "z") == 0) {
            if (index != 0 || nw != 2 || parse_shape(words[1], &cur)) {
                bad(err, index, shown, "the latent must come first, as 'z D' or 'z HxWxC'");
                goto fail;
            }
            have_latent = 1;
            continue;
        }
        if (!have_latent) {
            if (latent_dim <= 0) {
                bad(err, index, shown, "no latent size: start the spec with 'z D' or pass --latent-dim");
                goto fail;
            }
            cur = (abp_shape){latent_dim, 1, 1};
            have_latent = 1;
        }
        if (n == 0 && latent_dim > 0) cur = (abp_shape){latent_dim, 1, 1};
        if (n == cap) {
            abp_layer *grown = realloc(layers, sizeof *layers * (size_t)(cap *= 2));
            if (!grown) goto oom;
            layers = grown;
            memset(layers + n, 0, sizeof *layers * (size_t)(cap - n));
        }
        abp_layer *l = &layers[n];
        memset(l, 0, sizeof *l);
        l->in = cur;
        const char *k = words[0];
        if (strcmp(k, "linear") == 0) {
            l->kind = ABP_LINEAR;
            if (nw != 2 || parse_shape(words[1], &l->out)) {
                bad(err, index, shown, "expected 'linear F' or 'linear HxWxC'");
                goto fail;
            }
        } else if (strcmp(k, "deconv") == 0 || strcmp(k, "deconv1d") == 0 || strcmp(k, "conv") == 0) {
            int one_d = strcmp(k, "deconv1d") == 0, have_p = 0, have_op = 0, op_h = 0, op_w = 0;
            l->kind = strcmp(k, "conv") == 0 ? ABP_CONV : ABP_DECONV;
            int cd[3];
            if (nw < 3 || parse_dims(words[1], cd, 1) != 1) {
                bad(err, index, shown, "expected the number of output channels, then k5 s2 ...");
                goto fail;
            }
            l->sh = l->sw = 1;
            if (parse_conv_options(words, nw, l, one_d, &have_p, &op_h, &op_w, &have_op, shown,
                                   index, err))
                goto fail;
            if (!have_p) l->ph = (l->kh - 1) / 2, l->pw = (l->kw - 1) / 2;
            if (l->kind == ABP_DECONV) {
                if (!have_op) op_h = l->sh - 1, op_w = l->sw - 1;
                l->out = (abp_shape){cd[0], (cur.h - 1) * l->sh - 2 * l->ph + l->kh + op_h,
                                     (cur.w - 1) * l->sw - 2 * l->pw + l->kw + op_w};
                if (op_h >= l->sh || op_w >= l->sw) {
                    bad(err, index, shown, "output padding must be smaller than the stride");
                    goto fail;
                }
            } else {
                l->out = (abp_shape){cd[0], (cur.h + 2 * l->ph - l->kh) / l->sh + 1,
                                     (cur.w + 2 * l->pw - l->kw) / l->sw + 1};
                if (cur.h + 2 * l->ph < l->kh || cur.w + 2 * l->pw < l->kw) {
                    bad(err, index, shown, "kernel larger than its padded input");
                    goto fail;
                }
            }
            if (l->out.h <= 0 || l->out.w <= 0) {
                bad(err, index, shown, "output would be empty");
                goto fail;
            }
        } else if (strcmp(k, "bn") == 0 || strcmp(k, "batchnorm") == 0) {
            l->kind = ABP_BATCHNORM;
            l->out = cur;
            l->eps = 1e-5f;
            l->momentum = 0.1f;
            if (nw != 1) { bad(err, index, shown, "bn takes no arguments"); goto fail; }
        } else if (strcmp(k, "lrelu") == 0) {
            l->kind = ABP_LRELU;
            l->out = cur;
            l->slope = 0.2f;
            char *end = NULL;
            if (nw == 2) l->slope = strtof(words[1], &end);
            if (nw > 2 || (nw == 2 && (*end || l->slope < 0.0f || l->slope >= 1.0f))) {
                bad(err, index, shown, "expected 'lrelu SLOPE' with 0 <= SLOPE < 1");
                goto fail;
            }
        } else if (strcmp(k, "relu") == 0 || strcmp(k, "tanh") == 0 || strcmp(k, "sigmoid") == 0) {
            l->kind = k[0] == 'r' ? ABP_RELU : k[0] == 't' ? ABP_TANH : ABP_SIGMOID;
            l->out = cur;
            if (nw != 1) { bad(err, index, shown, "takes no arguments"); goto fail; }
        } else if (strcmp(k, "reshape") == 0) {
            l->kind = ABP_RESHAPE;
            if (nw != 2 || parse_shape(words[1], &l->out) ||
                abp_shape_numel(l->out) != abp_shape_numel(cur)) {
                bad(err, index, shown, "expected 'reshape HxWxC' with as many values as its input");
                goto fail;
            }
        } else if (strcmp(k, "latent") == 0 || strcmp(k, "head") == 0) {
            int is_latent = k[0] == 'l', size[3];
            l->kind = is_latent ? ABP_LATENT : ABP_HEAD;
            if (nw != 2 || parse_dims(words[1], size, 1) != 1) {
                bad(err, index, shown, is_latent ? "expected 'latent N', the size of this level's code"
                                                 : "expected 'head N', the size of this level's code");
                goto fail;
            }
            if (is_latent ? heads : latent_layers) {
                bad(err, index, shown, "a spec has latent layers (a generator) or heads (an encoder), not both");
                goto fail;
            }
            abp_shape top = n == 0 ? cur : layers[0].in;
            if (is_latent && (top.h != 1 || top.w != 1)) {
                bad(err, index, shown, "latent layers belong in a generator whose top latent is a vector ('z D'), "
                                       "not in a network that starts from an image");
                goto fail;
            }
            l->code_size = size[0];
            l->out = is_latent ? (abp_shape){cur.c + size[0], cur.h, cur.w} : cur;
            latent_layers += is_latent;
            heads += !is_latent;
        } else {
            bad(err, index, shown, "unknown layer kind (linear, deconv, deconv1d, conv, bn, relu, lrelu, tanh, sigmoid, "
                                   "reshape, latent, head)");
            goto fail;
        }
        snprintf(l->name, sizeof l->name, "%02d_%s", n, kind_names[l->kind]);
        cur = l->out;
        n++;
    }
    if (n == 0) {
        abp_fail(err, "model spec '%s': no layers", spec);
        goto fail;
    }
    /* An encoder with heads ends in the top level's mu and log sigma^2 (abp/nn.h). */
    abp_shape last = layers[n - 1].out;
    if (heads && (layers[n - 1].kind == ABP_HEAD || last.h != 1 || last.w != 1 || last.c % 2)) {
        abp_fail(err, "model spec, layer %d '%s': heads belong in an encoder, whose last layer gives mu and log "
                 "sigma^2 of the top level: a vector of an even size (e.g. 'linear 32')", index - 1,
                 kind_names[layers[n - 1].kind]);
        goto fail;
    }
    *latent_out = layers[0].in;
    *layers_out = layers;
    *nlayers_out = n;
    free(copy);
    return 0;
oom:
    abp_fail(err, "out of memory parsing the model spec");
fail:
    free(copy);
    free(layers);
    return -1;
}

static void append(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#include <stdarg.h>
static void append(char *buf, size_t cap, const char *fmt, ...) {
    size_t len = strlen(buf);
    if (len >= cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + len, cap - len, fmt, ap);
    va_end(ap);
}

static void append_shape(char *buf, size_t cap, abp_shape s) {
    if (s.h == 1 && s.w == 1) append(buf, cap, "%d", s.c);
    else append(buf, cap, "%dx%dx%d", s.h, s.w, s.c);
}

char *abp_spec_format(const abp_layer *layers, int n, abp_shape latent) {
    size_t cap = 64 + 64 * (size_t)n;
    char *buf = calloc(cap, 1);
    if (!buf) return NULL;
    append(buf, cap, "z ");
    append_shape(buf, cap, latent);
    for (int i = 0; i < n; i++) {
        const abp_layer *l = &layers[i];
        append(buf, cap, " | %s", kind_names[l->kind]);
        switch (l->kind) {
        case ABP_LINEAR:
        case ABP_RESHAPE:
            append(buf, cap, " ");
            append_shape(buf, cap, l->out);
            break;
        case ABP_CONV:
        case ABP_DECONV: {
            append(buf, cap, " %d k%dx%d s%dx%d p%dx%d", l->out.c, l->kh, l->kw, l->sh, l->sw, l->ph, l->pw);
            if (l->kind == ABP_DECONV) {
                int op_h = l->out.h - ((l->in.h - 1) * l->sh - 2 * l->ph + l->kh);
                int op_w = l->out.w - ((l->in.w - 1) * l->sw - 2 * l->pw + l->kw);
                append(buf, cap, " op%dx%d", op_h, op_w);
            }
            break;
        }
        case ABP_LRELU: append(buf, cap, " %g", (double)l->slope); break;
        case ABP_LATENT:
        case ABP_HEAD: append(buf, cap, " %d", l->code_size); break;
        default: break;
        }
    }
    return buf;
}

/* Only layers that act on every position alike (convolutions and pointwise layers) can be
 * applied to a larger input: a linear layer or a reshape fixes the input size. */
int abp_spec_resize_latent(const char *spec, int h, int w, char **out, abp_err *err) {
    *out = NULL;
    if (h < 1 || w < 1) return abp_fail(err, "latent shape %dx%d must be at least 1x1", h, w);
    abp_layer *layers;
    int n;
    abp_shape latent;
    if (abp_spec_parse(spec, 0, &layers, &n, &latent, err)) return -1;
    for (int i = 0; i < n; i++)
        if (layers[i].kind == ABP_LINEAR || layers[i].kind == ABP_RESHAPE || layers[i].kind == ABP_LATENT ||
            layers[i].kind == ABP_HEAD) {
            abp_fail(err, "the model is not fully convolutional (layer %d is '%s'), so its latent "
                     "cannot be resized", i + 1, kind_names[layers[i].kind]);
            free(layers);
            return -1;
        }
    char *canonical = abp_spec_format(layers, n, latent);
    free(layers);
    if (!canonical) return abp_fail(err, "out of memory");
    const char *rest = strchr(canonical, '|'); /* the layers after "z ..." */
    size_t size = strlen(canonical) + 64;
    *out = malloc(size);
    if (*out) snprintf(*out, size, "z %dx%dx%d %s", h, w, latent.c, rest);
    free(canonical);
    return *out ? 0 : abp_fail(err, "out of memory");
}
