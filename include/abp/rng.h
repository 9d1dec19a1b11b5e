/* abp — counter-based random numbers (Philox-4x32-10, Salmon et al., SC 2011).
 *
 * Every draw is a pure function of (seed, purpose, a, b, c, element): nothing is a stream
 * that a rank advances, so the Langevin noise of example 12345 at iteration 7, step 3 is the
 * same on 1 rank or 64. Written by hand because it is 30 lines and no Debian library
 * offers Philox in C. */
#ifndef ABP_RNG_H
#define ABP_RNG_H

#include <stdint.h>

/* What a draw is for; part of the key, so different uses never share numbers. */
enum abp_rng_purpose {
    ABP_RNG_PARAM_INIT = 1, /* a = parameter block index */
    ABP_RNG_LATENT_INIT = 2, /* a = example id */
    ABP_RNG_LANGEVIN = 3,    /* a = example id, b = iteration, c = step */
    ABP_RNG_PERMUTE = 4,     /* a = shard start, b = epoch */
    ABP_RNG_PRIOR = 5,       /* sampling from the prior: a = sample index; abp sample --vary-layer's
                              * codes of the varied level: a = column, b = 1, c = level */
    ABP_RNG_MASK = 6,        /* observation masks: a = example id */
    ABP_RNG_TEST_INIT = 7,   /* latents of unseen data in reconstruct/complete: a = example */
    ABP_RNG_VAR = 8,         /* latent dynamics (abp_var_simulate): a = time step, b = what */
    ABP_RNG_SENSE = 9,       /* compressed-sensing matrix: a = row (projection) index */
    ABP_RNG_PRIOR_FIT = 10,  /* fitting a prior to latents (abp_gmm_fit): a = what, b = which */
    ABP_RNG_DESCRIPTOR = 11, /* the descriptor's Langevin on images: a = chain (or example) id, b = iteration, c = step */
    ABP_RNG_CHAIN_INIT = 12, /* the descriptor's initial chains and sampling noise: a = chain id */
    ABP_RNG_ENCODER = 13,    /* e of z_0 = mu + sigma e (IABP, VAE): a = example id, b = iteration */
    ABP_RNG_CHAIN_START = 14, /* --init prior: a fresh z_0 ~ N(0, I): a = example id, b = iteration */
    ABP_RNG_EBM_PRIOR = 15,  /* --prior ebm's prior chains: a = chain id (the example's, or the sample's),
                              * b = iteration, c = 0 the start z_0 ~ N(0, I), c = step + 1 the Langevin noise */
    ABP_RNG_PROPOSAL = 16,   /* coop: the generator's proposal z ~ N(0, I) in an example's place: a = example id, b = iteration */
};

/* One Philox-4x32-10 block: 4 random 32-bit words from a 128-bit counter and 64-bit key. */
void abp_philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);

/* out[e] ~ N(0, 1), e = 0..n-1 (Box-Muller on Philox output). */
void abp_rng_normal(uint64_t seed, uint32_t purpose, uint32_t a, uint32_t b, uint32_t c,
                    float *out, int64_t n);

/* out[e] ~ U[0, 1). */
void abp_rng_uniform(uint64_t seed, uint32_t purpose, uint32_t a, uint32_t b, uint32_t c,
                     double *out, int64_t n);

/* A random permutation of 0..n-1 (Fisher-Yates on counter-based uniforms). */
void abp_rng_permutation(uint64_t seed, uint32_t purpose, uint32_t a, uint32_t b, int64_t *perm,
                         int64_t n);

#endif
