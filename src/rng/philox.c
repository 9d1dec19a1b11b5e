/* Philox-4x32-10 and the distributions abp draws from it (see include/abp/rng.h). */
#include "abp/rng.h"

#include <math.h>

#define PHILOX_M0 0xD2511F53u
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u /* golden ratio */
#define PHILOX_W1 0xBB67AE85u /* sqrt(3) - 1 */

static inline void philox_round(uint32_t ctr[4], const uint32_t key[2]) {
    uint64_t p0 = (uint64_t)PHILOX_M0 * ctr[0];
    uint64_t p1 = (uint64_t)PHILOX_M1 * ctr[2];
    uint32_t hi0 = (uint32_t)(p0 >> 32), lo0 = (uint32_t)p0;
    uint32_t hi1 = (uint32_t)(p1 >> 32), lo1 = (uint32_t)p1;
    uint32_t c0 = hi1 ^ ctr[1] ^ key[0];
    uint32_t c2 = hi0 ^ ctr[3] ^ key[1];
    ctr[0] = c0;
    ctr[1] = lo1;
    ctr[2] = c2;
    ctr[3] = lo0;
}

void abp_philox4x32(const uint32_t ctr_in[4], const uint32_t key_in[2], uint32_t out[4]) {
    uint32_t ctr[4] = {ctr_in[0], ctr_in[1], ctr_in[2], ctr_in[3]};
    uint32_t key[2] = {key_in[0], key_in[1]};
    for (int round = 0; round < 10; round++) {
        philox_round(ctr, key);
        key[0] += PHILOX_W0;
        key[1] += PHILOX_W1;
    }
    for (int i = 0; i < 4; i++) out[i] = ctr[i];
}

static void make_key(uint64_t seed, uint32_t purpose, uint32_t key[2]) {
    key[0] = (uint32_t)seed;
    key[1] = (uint32_t)(seed >> 32) ^ (purpose * PHILOX_W0);
}

/* (0, 1]: never zero, so log() in Box-Muller is finite. */
static inline double open_unit(uint32_t x) { return ((double)x + 1.0) / 4294967296.0; }

void abp_rng_normal(uint64_t seed, uint32_t purpose, uint32_t a, uint32_t b, uint32_t c,
                    float *out, int64_t n) {
    uint32_t key[2];
    make_key(seed, purpose, key);
    const double two_pi = 6.283185307179586;
    for (int64_t block = 0; 4 * block < n; block++) {
        uint32_t ctr[4] = {(uint32_t)block, a, b, c}, r[4];
        abp_philox4x32(ctr, key, r);
        double v[4];
        for (int k = 0; k < 4; k += 2) {
            double radius = sqrt(-2.0 * log(open_unit(r[k])));
            double angle = two_pi * open_unit(r[k + 1]);
            v[k] = radius * cos(angle);
            v[k + 1] = radius * sin(angle);
        }
        for (int k = 0; k < 4 && 4 * block + k < n; k++) out[4 * block + k] = (float)v[k];
    }
}

void abp_rng_uniform(uint64_t seed, uint32_t purpose, uint32_t a, uint32_t b, uint32_t c,
                     double *out, int64_t n) {
    uint32_t key[2];
    make_key(seed, purpose, key);
    for (int64_t block = 0; 4 * block < n; block++) {
        uint32_t ctr[4] = {(uint32_t)block, a, b, c}, r[4];
        abp_philox4x32(ctr, key, r);
        for (int k = 0; k < 4 && 4 * block + k < n; k++)
            out[4 * block + k] = (double)r[k] / 4294967296.0;
    }
}

void abp_rng_permutation(uint64_t seed, uint32_t purpose, uint32_t a, uint32_t b, int64_t *perm,
                         int64_t n) {
    uint32_t key[2];
    make_key(seed, purpose, key);
    for (int64_t i = 0; i < n; i++) perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        /* One Philox block per swap keeps it a pure function of (a, b, i). */
        uint32_t ctr[4] = {(uint32_t)i, a, b, (uint32_t)(i >> 32)}, r[4];
        abp_philox4x32(ctr, key, r);
        uint64_t x = ((uint64_t)r[0] << 32) | r[1];
        int64_t j = (int64_t)(x % (uint64_t)(i + 1));
        int64_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
}
