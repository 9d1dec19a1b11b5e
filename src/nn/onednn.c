/* Convolutions and deconvolutions through oneDNN's direct kernels, where abp is built with
 * oneDNN (Debian's libdnnl-dev) and a layer is wide enough to gain from them.
 *
 * Why a library here: the GEMM path (conv.c) writes a column matrix k*k = 25 times the size
 * of the image it stands for and reads it back in col2im (or writes it in im2col), and that
 * traffic is a quarter of an iteration. oneDNN's jit kernels work on a channel-blocked
 * layout (nChw16c on AVX-512, nChw8c on AVX2) with no columns at all: 280-330 GFLOP/s on
 * mnist28's and faces64's wide layers on 2 Zen 5 cores, against 190-310 for GEMM + col2im
 * (docs/performance-threads.md, "oneDNN"). With abp's own [c][n][h][w] layout it would fall
 * back to its reference kernels, so a plan reorders each operand into the layout the kernel
 * chose and back: one pass over an activation, not 25.
 *
 * A plan is made per layer and batch size on first use (JIT-compiling the kernels) and kept:
 * training calls a layer with one or two batch sizes. Every buffer, the kernels' scratchpads
 * included, is allocated then, so that an iteration allocates nothing. A layer whose plan
 * cannot be made (an unsupported geometry, no memory) stays on the GEMM path.
 *
 * In abp bench's breakdown the kernels count as gemm, the reorders as reorder. */
#include "onednn.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/profile.h"

#ifdef ABP_HAVE_ONEDNN
#include <oneapi/dnnl/dnnl.h>

#include <cblas.h>

#include "abp/tensor.h"
#include "layers.h"

/* Narrow layers gain nothing: mnist28's last deconvolution (64 -> 1 channel) ran its
 * forward pass at 19 GFLOP/s in oneDNN against 96 on the GEMM path, faces64's (64 -> 3) at
 * 52 (the output's one channel is padded to a block of 16). */
#define MIN_CHANNELS 16
/* Nor do layers whose small image (a deconvolution's input, a convolution's output) has few
 * pixels: faces64's first deconvolution (512x4x4 -> 256x8x8) ran at 127-148 GFLOP/s in oneDNN
 * on one thread and batch 32 against 166-173 on the GEMM path (2 threads, batch 64: 259-314
 * against 292-347), where the next, 8x8 -> 16x16, gains (174-188 against 157-171). The rule
 * is a shape's, never a timing's, so that a net runs the same kernels on every rank and run. */
#define MIN_PIXELS 32
#define PLANS_PER_LAYER 4

/* One operand of a kernel: abp's layout (user) and the kernel's (inner), and the reorder
 * between them, or none when the two are the same layout (then inner is user's pointer). */
typedef struct operand {
    dnnl_memory_t user, inner;
    dnnl_primitive_t reorder;
    void *buffer; /* inner's floats, when it has its own */
    size_t bytes;
    /* An activation in nChw16c or nChw8c with whole blocks of channels: abp's own loops
     * (blocked_copy) copy it, and reorder is NULL. block: 16, 8, or 0 when not;
     * c, n, hw: its shape. */
    int block, c, n, hw;
} operand;

typedef struct plan {
    int n; /* the batch it was made for; 0 = empty slot */
    unsigned long last_use;
    dnnl_primitive_t fwd, bwd_data, bwd_weights;
    operand x_fwd, y_fwd;             /* forward: x -> y */
    operand w_fwd, w_bwd;             /* the weights, as each kernel reads them */
    operand dy_data, dx_data;         /* backward data: dy -> dx */
    operand x_wts, dy_wts, dw_wts;    /* backward weights: x, dy -> dw (into dw_sum) */
    dnnl_memory_t scratch_fwd, scratch_data, scratch_wts;
    void *scratchpad;
    float *dw_sum; /* the weight gradient in abp's layout, before it is added to dweight */
    size_t bytes;  /* what the plan's buffers hold, for abp bench's memory line */
} plan;

struct abp_onednn {
    dnnl_engine_t engine;
    dnnl_stream_t stream;
    int nlayers;
    plan *plans;         /* [nlayers][PLANS_PER_LAYER] */
    unsigned char *gave_up; /* per layer: its plan could not be made; the GEMM path runs it */
    unsigned long clock;
};

static int ok(dnnl_status_t s) { return s == dnnl_success; }

int abp_onednn_available(void) { return 1; }

abp_onednn *abp_onednn_create(int nlayers) {
    abp_onednn *d = calloc(1, sizeof *d);
    if (!d) return NULL;
    d->nlayers = nlayers;
    d->plans = calloc((size_t)nlayers * PLANS_PER_LAYER, sizeof *d->plans);
    d->gave_up = calloc((size_t)nlayers, 1);
    if (!d->plans || !d->gave_up || !ok(dnnl_engine_create(&d->engine, dnnl_cpu, 0)) ||
        !ok(dnnl_stream_create(&d->stream, d->engine, dnnl_stream_default_flags))) {
        abp_onednn_free(d);
        return NULL;
    }
    return d;
}

static void operand_free(operand *o) {
    if (o->reorder) dnnl_primitive_destroy(o->reorder);
    if (o->user) dnnl_memory_destroy(o->user);
    if (o->inner) dnnl_memory_destroy(o->inner);
    free(o->buffer);
    memset(o, 0, sizeof *o);
}

static void plan_free(plan *p) {
    dnnl_primitive_t prims[3] = {p->fwd, p->bwd_data, p->bwd_weights};
    for (int i = 0; i < 3; i++)
        if (prims[i]) dnnl_primitive_destroy(prims[i]);
    operand *ops[] = {&p->x_fwd, &p->y_fwd, &p->w_fwd, &p->w_bwd, &p->dy_data,
                      &p->dx_data, &p->x_wts, &p->dy_wts, &p->dw_wts};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) operand_free(ops[i]);
    dnnl_memory_t scratch[3] = {p->scratch_fwd, p->scratch_data, p->scratch_wts};
    for (int i = 0; i < 3; i++)
        if (scratch[i]) dnnl_memory_destroy(scratch[i]);
    free(p->scratchpad);
    free(p->dw_sum);
    memset(p, 0, sizeof *p);
}

void abp_onednn_free(abp_onednn *d) {
    if (!d) return;
    if (d->plans)
        for (int i = 0; i < d->nlayers * PLANS_PER_LAYER; i++) plan_free(&d->plans[i]);
    if (d->stream) dnnl_stream_destroy(d->stream);
    if (d->engine) dnnl_engine_destroy(d->engine);
    free(d->plans);
    free(d->gave_up);
    free(d);
}

static int wide_enough(const abp_layer *l) {
    if (l->kind != ABP_CONV && l->kind != ABP_DECONV) return 0;
    abp_shape small = l->kind == ABP_DECONV ? l->in : l->out;
    return l->in.c >= MIN_CHANNELS && l->out.c >= MIN_CHANNELS && small.h * small.w >= MIN_PIXELS;
}

/* abp's activations are [c][n][h][w]: channel stride n*h*w, example stride h*w. */
static int activation_md(dnnl_memory_desc_t *md, abp_shape s, int n) {
    dnnl_dims_t dims = {n, s.c, s.h, s.w};
    dnnl_dims_t strides = {(dnnl_dim_t)s.h * s.w, (dnnl_dim_t)n * s.h * s.w, s.w, 1};
    return ok(dnnl_memory_desc_init_by_strides(md, 4, dims, dnnl_f32, strides));
}

static int any_md(dnnl_memory_desc_t *md, int n, int c, int h, int w) {
    dnnl_dims_t dims = {n, c, h, w};
    return ok(dnnl_memory_desc_init_by_tag(md, 4, dims, dnnl_f32, dnnl_format_tag_any));
}

static void *alloc_md(const dnnl_memory_desc_t *md) {
    size_t bytes = dnnl_memory_desc_get_size(md);
    return aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
}

/* into 1: the kernel reads this operand (reorder user -> inner); 0: it writes it. */
static int operand_init(operand *o, abp_onednn *d, const dnnl_memory_desc_t *user_md,
                        const dnnl_memory_desc_t *inner_md, int into, size_t *scratch_bytes,
                        dnnl_primitive_attr_t attr) {
    if (!ok(dnnl_memory_create(&o->user, user_md, d->engine, DNNL_MEMORY_NONE))) return 0;
    if (dnnl_memory_desc_equal(user_md, inner_md)) return 1; /* the kernel works on abp's floats */
    o->buffer = alloc_md(inner_md);
    o->bytes = dnnl_memory_desc_get_size(inner_md);
    if (!o->buffer || !ok(dnnl_memory_create(&o->inner, inner_md, d->engine, o->buffer))) return 0;
    dnnl_primitive_desc_t pd;
    const dnnl_memory_desc_t *from = into ? user_md : inner_md, *to = into ? inner_md : user_md;
    if (!ok(dnnl_reorder_primitive_desc_create(&pd, from, d->engine, to, d->engine, attr))) return 0;
    const dnnl_memory_desc_t *s = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t bytes = s ? dnnl_memory_desc_get_size(s) : 0;
    if (bytes > *scratch_bytes) *scratch_bytes = bytes;
    int made = ok(dnnl_primitive_create(&o->reorder, pd));
    dnnl_primitive_desc_destroy(pd);
    /* A reorder needing scratch would need a scratchpad memory of its own: none of the
     * reorders seen does; such a plan is refused rather than let it allocate per call. */
    return made && bytes == 0;
}

/* abp's [c][n][hw] to and from the kernels' channel-blocked layouts, [n][c/B][hw][B] with
 * B = 16 (nChw16c, AVX-512) or 8 (nChw8c, AVX2), c a multiple of B. By hand because
 * oneDNN's reorders for these pairs (jit:uni) were 1.2-3x slower than these loops: into
 * nChw16c, 32x64x32x32 took 1.03-1.07 ms against 0.33-0.38 ms on one warm Zen 5 core; out of
 * it 2.43-2.97 against 1.50-1.66, out of nChw8c 2.34-2.86 against 1.95-2.13 (one Zen 3 core,
 * cold; docs/performance-threads.md, "Zen 3"). Into: each step gathers one float from B channel rows and
 * writes B contiguous floats. Back: a tile of 16 pixels x B channels is read from L1 and
 * written as B runs of 16 floats, one cache line each (writing one float to each of B rows
 * per pixel instead was the slow version). */
static inline __attribute__((always_inline)) void blocked_copy_b(const float *restrict src, float *restrict dst,
                                                                 int c, int n, int hw, const int B, int into) {
    int blocks = c / B;
    size_t channel = (size_t)n * hw;
#pragma omp parallel for collapse(2) schedule(static) if ((int64_t)c * n * hw >= ABP_PARALLEL_MIN)
    for (int i = 0; i < n; i++)
        for (int b = 0; b < blocks; b++) {
            /* example i's block b of B channels: where it is in each layout */
            size_t blocked = ((size_t)i * blocks + b) * hw * B, rows = (size_t)b * B * channel + (size_t)i * hw;
            if (into) {
                const float *from = src + rows;
                float *to = dst + blocked;
                for (int k = 0; k < hw; k++)
                    for (int j = 0; j < B; j++) to[(size_t)k * B + j] = from[j * channel + k];
                continue;
            }
            const float *from = src + blocked;
            float *to = dst + rows;
            int k = 0;
            for (; k + 16 <= hw; k += 16)
                for (int j = 0; j < B; j++)
                    for (int r = 0; r < 16; r++) to[j * channel + k + r] = from[(size_t)(k + r) * B + j];
            for (; k < hw; k++)
                for (int j = 0; j < B; j++) to[j * channel + k] = from[(size_t)k * B + j];
        }
}

/* into 1: abp's layout into the blocked one; 0: back. */
ABP_CLONES static void blocked_copy(const float *src, float *dst, int c, int n, int hw, int block, int into) {
    if (block == 16) blocked_copy_b(src, dst, c, n, hw, 16, into);
    else blocked_copy_b(src, dst, c, n, hw, 8, into);
}

/* When inner is user's activation (c, n, h, w) in nChw16c or nChw8c with no padded
 * channels, the operand is copied by blocked_copy, and its reorder is dropped. */
static void operand_use_blocked(operand *o, abp_shape s, int n) {
    if (!o->reorder) return;
    const dnnl_memory_desc_t *inner_md = NULL;
    if (!ok(dnnl_memory_get_memory_desc(o->inner, &inner_md))) return;
    dnnl_dims_t dims = {n, s.c, s.h, s.w};
    const int blocks[2] = {16, 8};
    const dnnl_format_tag_t tags[2] = {dnnl_aBcd16b, dnnl_aBcd8b};
    for (int i = 0; i < 2; i++) {
        dnnl_memory_desc_t blocked;
        if (s.c % blocks[i] || !ok(dnnl_memory_desc_init_by_tag(&blocked, 4, dims, dnnl_f32, tags[i])) ||
            !dnnl_memory_desc_equal(inner_md, &blocked))
            continue;
        o->block = blocks[i];
        o->c = s.c;
        o->n = n;
        o->hw = s.h * s.w;
        dnnl_primitive_destroy(o->reorder);
        o->reorder = NULL;
        return;
    }
}

static int plan_make(plan *p, abp_onednn *d, const abp_layer *l, int n) {
    int deconv = l->kind == ABP_DECONV;
    /* oneDNN's padding on the right: the one that makes its shapes the ones abp has. */
    int small_h = deconv ? l->in.h : l->out.h, small_w = deconv ? l->in.w : l->out.w;
    int big_h = deconv ? l->out.h : l->in.h, big_w = deconv ? l->out.w : l->in.w;
    int pr_h = (small_h - 1) * l->sh + l->kh - big_h - l->ph;
    int pr_w = (small_w - 1) * l->sw + l->kw - big_w - l->pw;
    if (pr_h < 0 || pr_w < 0) return 0;
    dnnl_dims_t strides = {l->sh, l->sw}, pad_l = {l->ph, l->pw}, pad_r = {pr_h, pr_w};
    dnnl_memory_desc_t x_user, y_user, w_user, x_any, y_any, w_any;
    dnnl_dims_t wdims = {l->out.c, l->in.c, l->kh, l->kw};
    if (!activation_md(&x_user, l->in, n) || !activation_md(&y_user, l->out, n) ||
        !ok(dnnl_memory_desc_init_by_tag(&w_user, 4, wdims, dnnl_f32, deconv ? dnnl_iohw : dnnl_oihw)) ||
        !any_md(&x_any, n, l->in.c, l->in.h, l->in.w) || !any_md(&y_any, n, l->out.c, l->out.h, l->out.w) ||
        !any_md(&w_any, l->out.c, l->in.c, l->kh, l->kw))
        return 0;

    dnnl_primitive_attr_t attr;
    if (!ok(dnnl_primitive_attr_create(&attr))) return 0;
    int made = 0;
    dnnl_primitive_desc_t fpd = NULL, bpd = NULL, wpd = NULL;
    dnnl_convolution_desc_t fd, bd, wd; /* (a deconvolution's descriptor is the same type) */
    if (!ok(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user))) goto done;
    dnnl_status_t s1, s2, s3;
    if (deconv) {
        s1 = dnnl_deconvolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_deconvolution_direct,
                                                  &x_any, &w_any, NULL, &y_any, strides, pad_l, pad_r);
        s2 = dnnl_deconvolution_backward_data_desc_init(&bd, dnnl_deconvolution_direct, &x_any, &w_any,
                                                        &y_any, strides, pad_l, pad_r);
        s3 = dnnl_deconvolution_backward_weights_desc_init(&wd, dnnl_deconvolution_direct, &x_any, &w_any,
                                                           NULL, &y_any, strides, pad_l, pad_r);
    } else {
        s1 = dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct,
                                                &x_any, &w_any, NULL, &y_any, strides, pad_l, pad_r);
        s2 = dnnl_convolution_backward_data_desc_init(&bd, dnnl_convolution_direct, &x_any, &w_any,
                                                      &y_any, strides, pad_l, pad_r);
        s3 = dnnl_convolution_backward_weights_desc_init(&wd, dnnl_convolution_direct, &x_any, &w_any,
                                                         NULL, &y_any, strides, pad_l, pad_r);
    }
    if (!ok(s1) || !ok(s2) || !ok(s3) || !ok(dnnl_primitive_desc_create(&fpd, &fd, attr, d->engine, NULL)) ||
        !ok(dnnl_primitive_desc_create(&bpd, &bd, attr, d->engine, fpd)) ||
        !ok(dnnl_primitive_desc_create(&wpd, &wd, attr, d->engine, fpd)))
        goto done;

    size_t scratch = 0;
    dnnl_primitive_desc_t pds[3] = {fpd, bpd, wpd};
    for (int i = 0; i < 3; i++) {
        const dnnl_memory_desc_t *s = dnnl_primitive_desc_query_md(pds[i], dnnl_query_scratchpad_md, 0);
        size_t bytes = s ? dnnl_memory_desc_get_size(s) : 0;
        if (bytes > scratch) scratch = bytes;
    }
    size_t reorder_scratch = 0;
#define MD(pd, what) dnnl_primitive_desc_query_md(pd, what, 0)
    if (!operand_init(&p->x_fwd, d, &x_user, MD(fpd, dnnl_query_src_md), 1, &reorder_scratch, attr) ||
        !operand_init(&p->w_fwd, d, &w_user, MD(fpd, dnnl_query_weights_md), 1, &reorder_scratch, attr) ||
        !operand_init(&p->y_fwd, d, &y_user, MD(fpd, dnnl_query_dst_md), 0, &reorder_scratch, attr) ||
        !operand_init(&p->w_bwd, d, &w_user, MD(bpd, dnnl_query_weights_md), 1, &reorder_scratch, attr) ||
        !operand_init(&p->dy_data, d, &y_user, MD(bpd, dnnl_query_diff_dst_md), 1, &reorder_scratch, attr) ||
        !operand_init(&p->dx_data, d, &x_user, MD(bpd, dnnl_query_diff_src_md), 0, &reorder_scratch, attr) ||
        !operand_init(&p->x_wts, d, &x_user, MD(wpd, dnnl_query_src_md), 1, &reorder_scratch, attr) ||
        !operand_init(&p->dy_wts, d, &y_user, MD(wpd, dnnl_query_diff_dst_md), 1, &reorder_scratch, attr) ||
        !operand_init(&p->dw_wts, d, &w_user, MD(wpd, dnnl_query_diff_weights_md), 0, &reorder_scratch, attr))
        goto done;
    p->scratchpad = aligned_alloc(64, (scratch + 63) / 64 * 64 + 64);
    p->dw_sum = malloc(sizeof(float) * (size_t)l->nweight);
    if (!p->scratchpad || !p->dw_sum ||
        !ok(dnnl_memory_create(&p->scratch_fwd, MD(fpd, dnnl_query_scratchpad_md), d->engine, p->scratchpad)) ||
        !ok(dnnl_memory_create(&p->scratch_data, MD(bpd, dnnl_query_scratchpad_md), d->engine, p->scratchpad)) ||
        !ok(dnnl_memory_create(&p->scratch_wts, MD(wpd, dnnl_query_scratchpad_md), d->engine, p->scratchpad)))
        goto done;
#undef MD
    if (!ok(dnnl_primitive_create(&p->fwd, fpd)) || !ok(dnnl_primitive_create(&p->bwd_data, bpd)) ||
        !ok(dnnl_primitive_create(&p->bwd_weights, wpd)))
        goto done;
    operand_use_blocked(&p->x_fwd, l->in, n);
    operand_use_blocked(&p->x_wts, l->in, n);
    operand_use_blocked(&p->y_fwd, l->out, n);
    operand_use_blocked(&p->dy_data, l->out, n);
    operand_use_blocked(&p->dx_data, l->in, n);
    operand_use_blocked(&p->dy_wts, l->out, n);
    p->n = n;
    p->bytes = scratch + sizeof(float) * (size_t)l->nweight;
    operand *ops[] = {&p->x_fwd, &p->y_fwd, &p->w_fwd, &p->w_bwd, &p->dy_data,
                      &p->dx_data, &p->x_wts, &p->dy_wts, &p->dw_wts};
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) p->bytes += ops[i]->bytes;
    made = 1;
done:
    for (int i = 0; i < 3; i++)
        if ((i == 0 ? fpd : i == 1 ? bpd : wpd)) dnnl_primitive_desc_destroy(i == 0 ? fpd : i == 1 ? bpd : wpd);
    dnnl_primitive_attr_destroy(attr);
    if (!made) plan_free(p);
    return made;
}

/* The layer's plan for batch n: kept, made now, or NULL (the GEMM path runs the layer). */
static plan *plan_for(abp_onednn *d, int index, const abp_layer *l, int n) {
    if (!d || index < 0 || index >= d->nlayers || d->gave_up[index] || !wide_enough(l)) return NULL;
    plan *slots = &d->plans[(size_t)index * PLANS_PER_LAYER], *oldest = &slots[0];
    for (int i = 0; i < PLANS_PER_LAYER; i++) {
        if (slots[i].n == n) {
            slots[i].last_use = ++d->clock;
            return &slots[i];
        }
        if (slots[i].last_use < oldest->last_use) oldest = &slots[i];
    }
    plan_free(oldest);
    if (!plan_make(oldest, d, l, n)) {
        d->gave_up[index] = 1;
        return NULL;
    }
    oldest->last_use = ++d->clock;
    return oldest;
}

/* The memory the kernel reads for an input operand, after reordering abp's floats into it. */
static dnnl_memory_t operand_in(abp_onednn *d, operand *o, const float *floats, int *failed) {
    if (!ok(dnnl_memory_set_data_handle(o->user, (void *)floats))) *failed = 1;
    if (o->block) {
        blocked_copy(floats, o->buffer, o->c, o->n, o->hw, o->block, 1);
        return o->inner;
    }
    if (!o->reorder) return o->user;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, o->user}, {DNNL_ARG_TO, o->inner}};
    if (!ok(dnnl_primitive_execute(o->reorder, d->stream, 2, args))) *failed = 1;
    return o->inner;
}

/* The memory the kernel writes for an output operand (abp's floats, or its own buffer). */
static dnnl_memory_t operand_out(operand *o, float *floats, int *failed) {
    if (!ok(dnnl_memory_set_data_handle(o->user, floats))) *failed = 1;
    return o->reorder || o->block ? o->inner : o->user;
}

/* After the kernel: an output operand's floats copied back into abp's layout. */
static void operand_finish(abp_onednn *d, operand *o, float *floats, int *failed) {
    if (o->block) {
        blocked_copy(o->buffer, floats, o->c, o->n, o->hw, o->block, 0);
        return;
    }
    if (!o->reorder) return;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, o->inner}, {DNNL_ARG_TO, o->user}};
    if (!ok(dnnl_primitive_execute(o->reorder, d->stream, 2, args))) *failed = 1;
}

/* A failure after the plan was made is not expected (its memory is all there): the layer
 * goes back to the GEMM path, which recomputes this call, and says so once. */
static int give_up(abp_onednn *d, int index, const abp_layer *l) {
    fprintf(stderr, "abp: oneDNN failed on layer %s; it runs on the GEMM path from now on\n", l->name);
    d->gave_up[index] = 1;
    return 0;
}

/* One kernel call: its two inputs copied into the kernel's layouts, the kernel, its output
 * copied back into abp's (the copies timed as reorder, the kernel as gemm). */
static void pass(abp_onednn *d, dnnl_primitive_t kernel, int arg0, operand *in0, const float *floats0,
                 int arg1, operand *in1, const float *floats1, int arg_out, operand *out, float *floats_out,
                 dnnl_memory_t scratch, abp_profile *prof, int *failed) {
    double t0 = abp_profile_start(prof);
    dnnl_memory_t m0 = operand_in(d, in0, floats0, failed);
    dnnl_memory_t m1 = operand_in(d, in1, floats1, failed);
    dnnl_memory_t m_out = operand_out(out, floats_out, failed);
    dnnl_exec_arg_t args[4] = {{arg0, m0}, {arg1, m1}, {arg_out, m_out}, {DNNL_ARG_SCRATCHPAD, scratch}};
    if (!ok(dnnl_stream_wait(d->stream))) *failed = 1;
    abp_profile_add(prof, ABP_PART_REORDER, t0);
    t0 = abp_profile_start(prof);
    if (!ok(dnnl_primitive_execute(kernel, d->stream, 4, args))) *failed = 1;
    if (!ok(dnnl_stream_wait(d->stream))) *failed = 1;
    abp_profile_add(prof, ABP_PART_GEMM, t0);
    t0 = abp_profile_start(prof);
    operand_finish(d, out, floats_out, failed);
    if (!ok(dnnl_stream_wait(d->stream))) *failed = 1;
    abp_profile_add(prof, ABP_PART_REORDER, t0);
}

int abp_onednn_forward(abp_onednn *d, int index, const abp_layer *l, const float *x, float *y,
                       int n, abp_profile *prof) {
    plan *p = plan_for(d, index, l, n);
    if (!p) return 0;
    int failed = 0;
    pass(d, p->fwd, DNNL_ARG_SRC, &p->x_fwd, x, DNNL_ARG_WEIGHTS, &p->w_fwd, l->weight, DNNL_ARG_DST,
         &p->y_fwd, y, p->scratch_fwd, prof, &failed);
    return failed ? give_up(d, index, l) : 1;
}

int abp_onednn_backward(abp_onednn *d, int index, const abp_layer *l, const float *x,
                        const float *dy, float *dx, int n, int want_param_grads,
                        abp_profile *prof) {
    plan *p = plan_for(d, index, l, n);
    if (!p) return 0;
    int failed = 0;
    if (want_param_grads) {
        pass(d, p->bwd_weights, DNNL_ARG_SRC, &p->x_wts, x, DNNL_ARG_DIFF_DST, &p->dy_wts, dy,
             DNNL_ARG_DIFF_WEIGHTS, &p->dw_wts, p->dw_sum, p->scratch_wts, prof, &failed);
        if (failed) return give_up(d, index, l);
        double t0 = abp_profile_start(prof);
        /* oneDNN overwrites its gradient; abp's accumulate (over the chunks of a batch) */
        cblas_saxpy((int)l->nweight, 1.0f, p->dw_sum, 1, l->dweight, 1);
        abp_profile_add(prof, ABP_PART_POINTWISE, t0);
    }
    if (dx)
        pass(d, p->bwd_data, DNNL_ARG_DIFF_DST, &p->dy_data, dy, DNNL_ARG_WEIGHTS, &p->w_bwd, l->weight,
             DNNL_ARG_DIFF_SRC, &p->dx_data, dx, p->scratch_data, prof, &failed);
    /* A failed backward pass may have added half a gradient already: it cannot be redone
     * on the GEMM path without adding it twice, so it is an error of the caller's. */
    if (failed) give_up(d, index, l);
    return failed ? -1 : 1;
}

int abp_onednn_runs(const abp_onednn *d, int index, const abp_layer *l) {
    return d && index >= 0 && index < d->nlayers && !d->gave_up[index] && wide_enough(l);
}

const char *abp_onednn_kernel(const abp_onednn *d, int index) {
    if (!d || index < 0 || index >= d->nlayers || d->gave_up[index]) return NULL;
    const plan *slots = &d->plans[(size_t)index * PLANS_PER_LAYER], *last = NULL;
    for (int i = 0; i < PLANS_PER_LAYER; i++)
        if (slots[i].n && (!last || slots[i].last_use > last->last_use)) last = &slots[i];
    const_dnnl_primitive_desc_t pd = NULL;
    const char *name = NULL;
    if (!last || !ok(dnnl_primitive_get_primitive_desc(last->fwd, &pd)) ||
        !ok(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &name)))
        return NULL;
    return name;
}

int64_t abp_onednn_bytes(const abp_onednn *d) {
    int64_t bytes = 0;
    if (d)
        for (int i = 0; i < d->nlayers * PLANS_PER_LAYER; i++) bytes += (int64_t)d->plans[i].bytes;
    return bytes;
}

void abp_onednn_version(char *buf, size_t size) {
    const dnnl_version_t *v = dnnl_version();
    snprintf(buf, size, "oneDNN %d.%d.%d", v->major, v->minor, v->patch);
}

/* oneDNN's ISA values are nested bit sets: each includes the bits of those it extends. */
static int isa_has(dnnl_cpu_isa_t isa, dnnl_cpu_isa_t part) { return (isa & part) == part; }

const char *abp_onednn_isa(void) {
    dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if (isa_has(isa, dnnl_cpu_isa_avx512_core)) return "avx512_core";
    if (isa_has(isa, dnnl_cpu_isa_avx2)) return "avx2";
    if (isa_has(isa, dnnl_cpu_isa_avx)) return "avx";
    if (isa_has(isa, dnnl_cpu_isa_sse41)) return "sse41";
    return "generic";
}

#else /* built without oneDNN: every layer runs on the GEMM path */

int abp_onednn_available(void) { return 0; }
abp_onednn *abp_onednn_create(int nlayers) {
    (void)nlayers;
    return NULL;
}
void abp_onednn_free(abp_onednn *d) { (void)d; }
int abp_onednn_forward(abp_onednn *d, int index, const abp_layer *l, const float *x, float *y,
                       int n, abp_profile *prof) {
    (void)d, (void)index, (void)l, (void)x, (void)y, (void)n, (void)prof;
    return 0;
}
int abp_onednn_backward(abp_onednn *d, int index, const abp_layer *l, const float *x,
                        const float *dy, float *dx, int n, int want_param_grads,
                        abp_profile *prof) {
    (void)d, (void)index, (void)l, (void)x, (void)dy, (void)dx, (void)n, (void)want_param_grads, (void)prof;
    return 0;
}
int abp_onednn_runs(const abp_onednn *d, int index, const abp_layer *l) {
    (void)d, (void)index, (void)l;
    return 0;
}
const char *abp_onednn_kernel(const abp_onednn *d, int index) {
    (void)d, (void)index;
    return NULL;
}
int64_t abp_onednn_bytes(const abp_onednn *d) {
    (void)d;
    return 0;
}
void abp_onednn_version(char *buf, size_t size) { snprintf(buf, size, "none"); }
const char *abp_onednn_isa(void) { return "none"; }

#endif
