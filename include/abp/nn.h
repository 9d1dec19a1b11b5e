/* abp — layers and networks.
 *
 * A network is a chain of layers built from a text spec (DESIGN §1), e.g.
 *   z 30 | linear 7x7x128 | bn | lrelu 0.2 | deconv 64 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh
 * Activations use the CNS layout of abp/tensor.h. All parameters live in one contiguous
 * buffer and their gradients in another of the same size; layers hold views into both, so
 * the gradient allreduce is one call, the optimizer one loop, and a checkpoint a list of views.
 *
 * Hierarchical latents (HiABP, docs/encoder.md): a generator may hold `latent N` layers,
 * each adding its own code z^l to the features coming down; its latent (in_shape) is then
 * one vector per example, the top code followed by every latent layer's code in chain order.
 * An encoder may hold `head N` layers, each giving mu^l and log sigma^l^2 of one level from
 * the features at its depth; its output is then the mu of every level followed by the
 * log sigma^2 of every level, in the generator's order. Either way the network stays a chain.
 *
 * Each layer is a forward/backward pair. Backward takes two switches: want the input
 * gradient (Langevin inference needs it; the first layer during learning does not) and want
 * parameter gradients (learning needs them; inference never computes them). Parameter
 * gradients accumulate (+=), so callers zero them first with abp_net_zero_grads. */
#ifndef ABP_NN_H
#define ABP_NN_H

#include <stddef.h>
#include <stdint.h>

#include "abp/error.h"
#include "abp/profile.h"
#include "abp/tensor.h"

typedef enum abp_layer_kind {
    ABP_LINEAR,
    ABP_DECONV, /* transposed convolution, 2-D (1-D is h = 1 with a 1 x k kernel) */
    ABP_CONV,
    ABP_BATCHNORM,
    ABP_RELU,
    ABP_LRELU,
    ABP_TANH,
    ABP_SIGMOID,
    ABP_RESHAPE,
    ABP_LATENT, /* concatenates this level's code z^l, tiled, as N more channels (latent.c) */
    ABP_HEAD,   /* passes its input on; a linear map of it gives mu^l, log sigma^2 (head.c) */
} abp_layer_kind;

/* Sums n doubles over the global batch (every rank) in place. Batch norm uses it for its
 * statistics; train hands in an MPI_Allreduce, and a single process passes NULL (identity). */
typedef int (*abp_sum_fn)(double *buf, int n, void *ctx);

typedef struct abp_layer {
    abp_layer_kind kind;
    char name[32];    /* "03_deconv": index and kind, the checkpoint group name */
    abp_shape in, out;
    int kh, kw, sh, sw, ph, pw; /* conv / deconv geometry */
    float slope;                /* lrelu */
    float eps, momentum;        /* batchnorm */
    /* parameters (views into net->params) and their gradients (views into net->grads):
     *   linear:    weight [out_features][in_features], bias [out_features]
     *   deconv:    weight [in_c][out_c][kh][kw] (as PyTorch), bias [out_c]
     *   conv:      weight [out_c][in_c][kh][kw], bias [out_c]
     *   batchnorm: weight = gamma [c], bias = beta [c] */
    float *weight, *bias, *dweight, *dbias;
    int64_t nweight, nbias;
    float *running_mean, *running_var; /* batchnorm, views into net->buffers */
    float *batch_mean, *batch_invstd;  /* batchnorm, saved by the training forward pass */
    /* latent: its code is rows [code_offset, code_offset + code_size) of the network's latent;
     * head: its mu rows of the network's output, and logvar_offset its log sigma^2 rows */
    int code_offset, code_size, logvar_offset;
} abp_layer;

/* The gradient buffer has this many spare floats after the parameters' gradients, so that
 * training can add its loss sums (and a stop flag) to the one gradient allreduce. */
#define ABP_NET_GRAD_EXTRA 9

/* The convolutions that oneDNN runs, where abp is built with it (src/nn/onednn.c). */
typedef struct abp_onednn abp_onednn;

typedef struct abp_net {
    int nlayers;
    abp_layer *layers;
    abp_shape in_shape, out_shape; /* latent shape, signal shape */
    float *params, *grads;         /* nparams each */
    int64_t nparams;
    float *buffers; /* batchnorm running statistics (not trained) */
    int64_t nbuffers;
    int max_batch;
    float **act;    /* act[i] = input of layer i (act[0] is a copy of z), act[nlayers] = output;
                     * NULL for the middle of a fused batch norm + lrelu pair (not kept) */
    float *grad_a, *grad_b; /* ping-pong buffers for activation gradients */
    float *scratch;         /* im2col columns and layout permutations */
    double *stats;          /* room for batchnorm sums: 2 * max channels + 1 */
    int64_t scratch_floats;
    /* mode */
    int training;        /* batchnorm uses batch statistics (1) or running statistics (0) */
    int update_running;  /* training forward passes also update the running statistics */
    int unfused;         /* run a batch norm and the leaky ReLU after it as two layers, not as
                          * one pass (the same floats; tests compare the two): set it with
                          * abp_net_set_unfused, which allocates the activations in between */
    abp_sum_fn sum;      /* global-batch sum for batchnorm; NULL = this process only */
    void *sum_ctx;
    char *spec;          /* the normalised spec it was built from */
    abp_profile *profile; /* abp bench's per-part timer; NULL (no timing) otherwise */
    abp_onednn *onednn;   /* wide convolutions and deconvolutions in oneDNN; NULL: all on GEMM */
    int in_arena;        /* params and grads are a slice of an abp_arena, which owns them */
    /* hierarchical latents: levels L (1 + latent layers, or 1 + heads); an encoder with heads
     * assembles its output in joined ([2d][n]: mu of all levels, then log sigma^2), its last
     * layer's gradient in dlast, a head's 2N numbers in side */
    int nlevels, nlatent, nheads;
    float *joined, *dlast, *side;
    /* set by abp_net_backward for its sweep only (NULL otherwise): where the latent layers
     * write their codes' gradients (its dz), and where the heads read theirs (its dout) */
    float *bw_dz;
    const float *bw_dout;
} abp_net;

/* Parses a spec and builds the network for batches of up to max_batch examples.
 * latent_dim > 0 overrides the spec's `z` size (a vector latent). Errors name the token. */
ABP_MUST_CHECK int abp_net_build(const char *spec, int latent_dim, int max_batch, abp_net *net,
                                 abp_err *err);
void abp_net_free(abp_net *net);
/* Rebuilds the network for batches of up to max_batch, keeping its parameters, running
 * statistics and mode (a caller that learns the batch it wants only from the output size).
 * On failure the network is left as it was. */
ABP_MUST_CHECK int abp_net_set_max_batch(abp_net *net, int max_batch, abp_err *err);
/* Runs each batch norm + lrelu pair as two layers (unfused 1), allocating the batch norm's
 * output act[i + 1] that the lrelu reads, or as one pass (0, as built), freeing it again. */
ABP_MUST_CHECK int abp_net_set_unfused(abp_net *net, int unfused, abp_err *err);
/* Runs the wide convolutions and deconvolutions in oneDNN (on 1) or all of them as
 * im2col/col2im + GEMM (0). Returns 1 when oneDNN is on after the call: 0 when abp was built
 * without it or it could not start. A network is built with it on unless the environment
 * sets ABP_ONEDNN=0 (ABP_ONEDNN=1 or auto: on; anything else is refused by abp_net_build). */
int abp_net_use_onednn(abp_net *net, int on);
/* 1 when layer i runs in oneDNN. */
int abp_net_layer_in_onednn(const abp_net *net, int i);
/* The oneDNN kernel that ran layer i's forward pass last ("jit:avx512_core", ...), or NULL:
 * the layer is on the GEMM path or has not run yet. */
const char *abp_net_layer_kernel(const abp_net *net, int i);
/* The bytes oneDNN's plans for this network hold (0 without oneDNN). */
int64_t abp_net_onednn_bytes(const abp_net *net);
/* "oneDNN 2.6.3" into buf, or "none" when abp was built without it. */
void abp_onednn_version(char *buf, size_t size);
/* The instruction set oneDNN's kernels use on this CPU ("avx512_core", "avx2", ...), or
 * "none" without oneDNN. */
const char *abp_onednn_isa(void);

/* The same network for a latent image of h x w (the channels stay): *out gets a malloc'd
 * spec. Only for fully convolutional models (conv, deconv, batch norm, activations), whose
 * parameters do not depend on the input size; a linear layer or a reshape is an error. */
ABP_MUST_CHECK int abp_spec_resize_latent(const char *spec, int h, int w, char **out, abp_err *err);

/* A built-in model's spec ("mnist28", "faces64", ...) or NULL. */
const char *abp_model_spec(const char *name);
/* The built-in model that spec is (a name, or a spec whose layers are a built-in's in
 * canonical form, whatever its top latent size: what a checkpoint's /config records), or NULL. */
const char *abp_model_name_of(const char *spec);
/* The names of the built-in models, NULL-terminated. */
const char *const *abp_model_names(void);

/* Initial parameters: weights N(0, 0.02^2) (DCGAN), biases 0, batchnorm gamma 1, beta 0;
 * running mean 0, running var 1. Drawn from the counter RNG with this seed. */
void abp_net_init_params(abp_net *net, uint64_t seed);

/* g(z) for a batch of n <= max_batch: z in CNS layout of in_shape; the result is
 * abp_net_output: the last layer's output, or the joined output of an encoder with heads. */
ABP_MUST_CHECK int abp_net_forward(abp_net *net, const float *z, int n, abp_err *err);
static inline float *abp_net_output(abp_net *net) { return net->joined ? net->joined : net->act[net->nlayers]; }

/* The levels of a hierarchical latent, numbered as the HiABP paper: 1 is the bottom (the
 * latent layer nearest the signal; the head nearest the input of an encoder), L the top (the
 * generator's input `z D`; the encoder's last layer). A network without latent layers or
 * heads has one level, the whole latent. */
static inline int abp_net_levels(const abp_net *net) { return net->nlevels; }
/* Level `level`'s rows in the concatenated latent (a generator) or in the mu half of the
 * output (an encoder with heads; its log sigma^2 rows are d later): *offset and *size.
 * -1 if there is no such level. */
int abp_net_level_range(const abp_net *net, int level, int *offset, int *size);
/* The first layer of `kind` in net (or -1), for messages that name it. */
int abp_net_find_layer(const abp_net *net, abp_layer_kind kind);

/* Back-propagates dL/dg(z) (CNS, n examples, as the last forward) to dz (if dz != NULL;
 * every code of a hierarchical latent) and, if want_param_grads, accumulates dL/dW into
 * net->grads. */
ABP_MUST_CHECK int abp_net_backward(abp_net *net, const float *dout, int n, float *dz,
                                    int want_param_grads, abp_err *err);

void abp_net_zero_grads(abp_net *net);

/* g(z) for n examples of any count, latents and results row-per-example, in chunks of
 * max_batch; zbuf has room for max_batch latents. */
ABP_MUST_CHECK int abp_net_generate(abp_net *net, const float *z_rows, int64_t n, float *out_rows,
                                    float *zbuf, abp_err *err);

/* Sets the running mean and variance of every batch-norm layer to the statistics of one
 * training-mode forward pass over n latents (rows; 2 <= n <= max_batch), this process only:
 * batch norm at sampling time then normalises what the prior the latents came from
 * actually gives (see src/nn/recalibrate.c). */
ABP_MUST_CHECK int abp_net_recalibrate_bn(abp_net *net, const float *z_rows, int n, abp_err *err);

/* ---- one parameter arena for several networks (DESIGN §8) ---- */

/* The parameters of several networks in one contiguous buffer and their gradients in
 * another, with ABP_NET_GRAD_EXTRA spare floats after the last gradient: one allreduce
 * then sums every network's gradients and the loss sums together. Each network keeps views:
 * net->params and net->grads point at its slice (nets[0] first), its layers' weight, bias,
 * dweight and dbias into that slice, so abp_net_forward/backward and abp_net_zero_grads work
 * unchanged and touch only that network's slice. In an arena a network's grads have no
 * spare floats of their own: net->grads[net->nparams] is the next network's first gradient;
 * the spare floats are arena->grads[arena->nparams ...]. */
typedef struct abp_arena {
    float *params, *grads; /* nparams and nparams + ABP_NET_GRAD_EXTRA floats */
    int64_t nparams;
} abp_arena;

/* Moves the parameters of n built networks into one new arena, in order, values kept; the
 * networks' own buffers are freed and their views repointed. abp_net_free then leaves the
 * arena's memory alone; free the arena after its networks with abp_arena_free. On failure
 * the networks are unchanged. */
ABP_MUST_CHECK int abp_arena_adopt(abp_arena *arena, abp_net *const *nets, int n, abp_err *err);
void abp_arena_free(abp_arena *arena);
/* Zeroes every gradient and the spare floats: what a training iteration starts from. */
void abp_arena_zero_grads(abp_arena *arena);
/* The spare floats after the gradients. */
static inline float *abp_arena_extra(abp_arena *arena) { return arena->grads + arena->nparams; }

/* ---- single layers, for the network and for the tests ---- */

/* Floats of scratch a layer needs for a batch of n. */
int64_t abp_layer_scratch(const abp_layer *l, int n);
ABP_MUST_CHECK int abp_layer_forward(abp_layer *l, const float *x, float *y, int n, abp_net *net,
                                     abp_err *err);
ABP_MUST_CHECK int abp_layer_backward(abp_layer *l, const float *x, const float *y,
                                      const float *dy, float *dx, int n, int want_param_grads,
                                      abp_net *net, abp_err *err);

/* im2col / col2im in the CNS layout: the image is c x ih x iw per example, the grid of
 * kernel positions oh x ow; cols is [c*kh*kw][n*oh*ow]. col2im overwrites img with the sum
 * of the columns' contributions. Both run on abp's threads (abp_loop_threads). */
void abp_im2col(const float *img, float *cols, int c, int n, int ih, int iw, int oh, int ow,
                int kh, int kw, int sh, int sw, int ph, int pw);
void abp_col2im(const float *cols, float *img, int c, int n, int ih, int iw, int oh, int ow,
                int kh, int kw, int sh, int sw, int ph, int pw);

/* Forward multiply-add count of one example through the linear and (de)convolution
 * layers, times 2: the FLOP count that benchmarks use. */
double abp_net_forward_flops(const abp_net *net);
/* The same for one layer (0 for batch norm, activations and reshapes). The input-gradient
 * and the weight-gradient passes of a layer each cost as much again. */
double abp_layer_forward_flops(const abp_layer *l);

#endif
