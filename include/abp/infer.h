/* abp — inferential back-propagation: Langevin dynamics (or gradient descent) on latents.
 *
 * Energy of example i (DESIGN §1):  U(z) = |A y - A g(z)|^2 / (2 sigma^2) + |z|^2 / 2
 * (- f(z) with a learned prior exp(f(z)) N(0, I): abp_langevin.prior_grad), A the observation operator: the identity, a mask m (A y = m . y), or a sensing matrix S.
 * One step, per example, on its own energy:
 *     z <- z - (s^2 / 2) dU/dz + s * e,   e ~ N(0, I)   (no noise term for gradient descent)
 * with dU/dz = -J^T A^T (A y - A g(z)) / sigma^2 + z. The gradient is never divided by the
 * batch size: each chain moves on its own energy. */
#ifndef ABP_INFER_H
#define ABP_INFER_H

#include <stdint.h>

#include "abp/error.h"
#include "abp/nn.h"

/* A learned prior's part of the energy: adds d(-log p(z) - |z|^2/2)/dz, at the batch z (CNS,
 * n examples), to dU (CNS). The N(0, I) part |z|^2/2 stays in the step itself; a prior
 * exp(f(z)) N(0, I) adds -df/dz (abp_ebm_prior_hook, abp/ebm_prior.h). */
typedef int (*abp_prior_grad_fn)(void *ctx, const float *z, int n, float *dU, abp_err *err);

typedef struct abp_langevin {
    int steps;        /* L */
    float step_size;  /* s */
    float sigma;      /* observation noise standard deviation */
    int noise;        /* 1: Langevin; 0: gradient descent */
    uint64_t seed;
    uint32_t iteration; /* the learning iteration (part of the noise's counter) */
    abp_prior_grad_fn prior_grad; /* NULL: the prior is N(0, I) */
    void *prior_ctx;
} abp_langevin;

/* Buffers for inference on batches up to net->max_batch, allocated once. */
typedef struct abp_infer_ws {
    float *dz, *dout, *noise;
} abp_infer_ws;

ABP_MUST_CHECK int abp_infer_ws_init(abp_infer_ws *ws, const abp_net *net, abp_err *err);
void abp_infer_ws_free(abp_infer_ws *ws);

/* dout = -m.(y - g) * scale, returns sum m.(y - g)^2 (in double). All in CNS layout;
 * mask may be NULL (every value observed). */
double abp_residual(const float *g, const float *y, const float *mask, float *dout, int64_t count,
                    float scale);


/* ---- observation operators: what the model is given of a batch (DESIGN §1's A) ---- */

typedef struct abp_sensing abp_sensing;

/* One of: y itself (mask and sense NULL); the values of y where mask is 1 (y and mask CNS,
 * as the network's output); or K random projections S y (sense set; y is then the batch's
 * projections, n x K, a row per example). The energy is |A y - A g(z)|^2 / (2 sigma^2). */
typedef struct abp_observation {
    const float *y;
    const float *mask;
    abp_sensing *sense; /* not const: holds the projection buffer of the batch */
} abp_observation;

/* dout = dL/dg * scale for L = |A y - A g|^2 / 2 over a batch of n examples of shape s (g and
 * dout CNS); returns |A y - A g|^2 (in double). With sensing, n <= the sensing's max_batch. */
double abp_observe_residual(const abp_observation *obs, const float *g, float *dout, int n,
                            abp_shape s, float scale);

/* Runs cfg->steps steps on the batch z (CNS, n examples whose global ids are ids[]), in
 * place, on the energy of the observation obs: the one inference code path, for training,
 * reconstruction, completion and recovery. */
ABP_MUST_CHECK int abp_infer_latents(abp_net *net, float *z, const abp_observation *obs, int n,
                                     const int64_t *ids, const abp_langevin *cfg, abp_infer_ws *ws,
                                     abp_err *err);

/* ---- compressed sensing (the ABP paper's Experiment 6; src/infer/sense.c) ---- */

/* K white-noise images as the rows of S (K x D, D = c*h*w, values N(0, 0.5^2)): row k is a
 * pure function of (seed, k), so every rank holds the same S, and the S of K rows is the
 * first K rows of the S of more. Example y is observed only through S y. */
struct abp_sensing {
    int K;
    int c;
    int64_t pixels, D; /* h*w and c*h*w */
    int max_batch;
    float *S;          /* K x D, row-major; column ch*pixels + p is channel ch, pixel p */
    float *work;       /* K x max_batch: the projections of one batch */
};

ABP_MUST_CHECK int abp_sensing_init(abp_sensing *s, uint64_t seed, int K, abp_shape ys,
                                    int max_batch, abp_err *err);
void abp_sensing_free(abp_sensing *s);
/* proj (n x K) = the projections S y of n examples stored a row per example (n x D). */
void abp_sensing_project_rows(const abp_sensing *s, const float *rows, int64_t n, float *proj);
/* The linear baseline: the minimum-norm least-squares image S^+ (S y) of each of n examples
 * from its projections (n x K) into rows (n x D), by LAPACK's SVD solver (sgelsd). */
ABP_MUST_CHECK int abp_sensing_min_norm(const abp_sensing *s, const float *proj, int64_t n,
                                        float *rows, abp_err *err);

/* ---- observation masks (the occlusion experiments; src/infer/mask.c) ---- */

typedef enum { ABP_MASK_NONE, ABP_MASK_PEPPER, ABP_MASK_REGION } abp_mask_kind;
typedef struct abp_mask_spec {
    abp_mask_kind kind;
    double amount; /* pepper: fraction of pixels covered; region: side in pixels at 64x64 */
} abp_mask_spec;

/* "none", "pepper:0.5" or "region:20". */
ABP_MUST_CHECK int abp_mask_parse(const char *text, abp_mask_spec *m, abp_err *err);
/* Example `example`'s mask (c x h x w, planar; 1 observed, 0 occluded), a pure function of
 * (seed, example). */
void abp_mask_make(const abp_mask_spec *m, uint64_t seed, int64_t example, int c, int h, int w,
                   float *mask);

/* ---- paths through the latent space (abp interpolate; src/infer/interpolate.c) ---- */

/* out = (1 - t) a + t b, for latents of d floats. */
void abp_latent_lerp(const float *a, const float *b, float t, float *out, int64_t d);
/* The spherical path from a (t = 0) to b (t = 1): the direction turns along the great
 * circle at a constant rate, the length goes linearly from |a| to |b|. Exactly a at t = 0
 * and b at t = 1; the straight line when there is no circle (a zero latent, parallel or
 * opposite directions). out may not overlap a or b except at t = 0 or 1. */
void abp_latent_slerp(const float *a, const float *b, float t, float *out, int64_t d);
/* A rows x cols panel with a, b at the top corners (left, right) and c, e at the bottom
 * ones (the ABP paper's face figure): rows*cols latents into z, row by row. Each row goes
 * from the left edge (a to c) to the right edge (b to e), spherically or linearly; edge is
 * scratch for 2 d floats. */
void abp_latent_corners(const float *a, const float *b, const float *c, const float *e, int rows,
                        int cols, int spherical, float *z, float *edge, int64_t d);
/* The side x side grid of d = 2 latents over [-range, range]^2 (the paper's Figure 5: side 9,
 * range 2): z1 from -range (left) to range (right), z2 from range (top) to -range (bottom),
 * row by row into z (2 floats each). */
void abp_latent_grid(int side, float range, float *z);

/* ---- the descriptor's Langevin dynamics on images (src/infer/descriptor.c) ----
 *
 * The descriptor (the generative ConvNet, Xie et al. 2016) is p(I; w) = exp(f(I; w)) q(I) / Z,
 * f(I) the sum of the network's last-layer outputs for image I and q = N(0, s^2 I) the
 * reference. One step on each synthesized image, on its own density:
 *     I <- I + (delta^2 / 2) (df/dI - I / s^2) + delta e,   e ~ N(0, I)
 * (no noise term when noise is 0). e is a pure function of (seed, ABP_RNG_DESCRIPTOR, the
 * chain's global id, iteration, step), so a chain moves the same on any number of ranks. */
typedef struct abp_image_langevin {
    int steps;          /* L */
    float step_size;    /* delta */
    float ref_sigma;    /* s, the reference's standard deviation */
    int noise;          /* 1: Langevin; 0: gradient ascent on log p */
    uint64_t seed;
    uint32_t iteration;
} abp_image_langevin;

/* Buffers for batches up to net->max_batch: df/dI, d(scale f)/d(output), one noise image. */
typedef struct abp_image_ws {
    float *dI, *dout, *noise;
} abp_image_ws;

ABP_MUST_CHECK int abp_image_ws_init(abp_image_ws *ws, const abp_net *net, abp_err *err);
void abp_image_ws_free(abp_image_ws *ws);

/* f(I) of n images (CNS of net->in_shape) after a forward pass: score[i] (if not NULL) per
 * image; returns their sum (in double). */
ABP_MUST_CHECK int abp_descriptor_score(abp_net *net, const float *img, int n, double *score, double *sum,
                                        abp_err *err);
/* The gradients of scale * sum_i f(I_i): into dI (CNS; if not NULL) and, if
 * want_param_grads, added into net->grads. *sum gets sum_i f(I_i). */
ABP_MUST_CHECK int abp_descriptor_grad(abp_net *net, const float *img, int n, float scale, float *dI,
                                       int want_param_grads, double *sum, abp_image_ws *ws, abp_err *err);
/* cfg->steps Langevin steps on n images img (CNS) whose global chain ids are ids[], in place. */
ABP_MUST_CHECK int abp_langevin_images(abp_net *net, float *img, int n, const int64_t *ids,
                                       const abp_image_langevin *cfg, abp_image_ws *ws, abp_err *err);

#endif
