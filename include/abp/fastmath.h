/* abp — tanh and the logistic sigmoid in forms the compiler vectorises.
 *
 * libm's tanhf and expf are calls the vectoriser cannot see through: a 64x64x3 tanh over a
 * batch of 64 cost 10.9 ms a pass, more than batch norm, lrelu and a linear layer together.
 * These are straight-line polynomials and one division, so a loop over them becomes SIMD
 * code (src/nn/pointwise.c is compiled with -fno-trapping-math so that GCC may turn the
 * clamps into selects; no result changes, only the floating-point exception flags).
 *
 *   abp_tanhf: the [13/6] rational minimax approximation of tanh on [-7.9053, 7.9053] used by
 *     Eigen and XLA (Eigen's generic_fast_tanh_float), clamped outside, where it is +-1 in
 *     float. Maximum error against tanh in double, on a grid of step 1e-5 over [-20, 20]:
 *     4.0e-7 absolute and relative (libm's tanhf: 1.0e-7). Odd, and exactly +-1 beyond +-7.9.
 *   abp_expf: Cephes' expf (S. Moshier): exp(x) = 2^n exp(r), |r| <= ln2 / 2, exp(r) by a
 *     degree-7 polynomial, 2^n put into the exponent bits. Relative error about 1.2e-7;
 *     the argument is clamped to [-87, 88] so that 2^n stays a normal float.
 *   abp_sigmoidf = 1 / (1 + abp_expf(-x)): error at most 1.5e-7 relative, 9e-8 absolute,
 *     for x >= -87 (below, the true value is under 2e-38 and the result is 6e-39).
 * tests/test_fastmath.c checks these bounds against libm in double on that grid. */
#ifndef ABP_FASTMATH_H
#define ABP_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float abp_tanhf(float x) {
    const float clamp = 7.90531110763549805f;
    x = x > clamp ? clamp : x;
    x = x < -clamp ? -clamp : x;
    float x2 = x * x;
    float p = -2.76076847742355e-16f; /* odd numerator, x^13 down to x */
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 + -8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * x;
    float q = 1.19825839466702e-06f; /* even denominator, x^6 down to 1 */
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    return p / q;
}

static inline float abp_expf(float x) {
    x = x > 88.0f ? 88.0f : x;
    x = x < -87.0f ? -87.0f : x;
    /* NaN passes both clamps; n must still be an integer (a NaN converted to int32_t is
     * undefined), so n is taken from 0 and the NaN travels on through r into the result. */
    float xn = x == x ? x : 0.0f;
    float n = floorf(xn * 1.44269504088896341f + 0.5f); /* round(x / ln 2) */
    /* r = x - n ln2 in two pieces (Cody-Waite), exact for the n that occur */
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * r * r + r + 1.0f;
    int32_t bits = ((int32_t)n + 127) * (1 << 23); /* 2^n, n in [-125, 127] */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

static inline float abp_sigmoidf(float x) { return 1.0f / (1.0f + abp_expf(-x)); }

#endif
