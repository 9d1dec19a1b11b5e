/* Paths through the latent space (abp interpolate): straight lines, great circles, the
 * 4-corner panel of the ABP paper's face figure, and the d = 2 grid of its Figure 5.
 *
 * Why spherical: under the prior z ~ N(0, I_d) almost all mass lies near the sphere
 * |z| = sqrt(d). The straight line between two latents cuts inside that shell (its middle
 * is shorter than either end), where g has seen no training latent; the great circle stays
 * on it. The ABP paper interpolates this way, citing Dinh et al. 2016 (Real NVP), whose
 * z = cos(phi) z_a + sin(phi) z_b is the great circle when z_a and z_b are orthogonal and
 * of equal length. abp_latent_slerp is that circle for any two latents: the direction
 * turns along the great circle of the unit sphere (Shoemake), and the length goes
 * linearly from |a| to |b|, so no point is longer or shorter than both ends. (Shoemake's
 * formula on the raw vectors agrees when |a| = |b| but, for unequal lengths at an obtuse
 * angle, overshoots both: with |a| = 1, |b| = 2 and cos = -0.9 its middle has length 2.6.) */
#include <math.h>
#include <string.h>

#include "abp/infer.h"

void abp_latent_lerp(const float *a, const float *b, float t, float *out, int64_t d) {
    for (int64_t k = 0; k < d; k++) out[k] = (1 - t) * a[k] + t * b[k];
}

void abp_latent_slerp(const float *a, const float *b, float t, float *out, int64_t d) {
    /* The ends are the latents themselves, bit for bit (so g of them is the examples'
     * reconstructions), not the same up to rounding. */
    if (t == 0.0f || t == 1.0f) {
        memmove(out, t == 0.0f ? a : b, sizeof(float) * (size_t)d);
        return;
    }
    double aa = 0, bb = 0, ab = 0;
    for (int64_t k = 0; k < d; k++) {
        aa += (double)a[k] * a[k];
        bb += (double)b[k] * b[k];
        ab += (double)a[k] * b[k];
    }
    double na = sqrt(aa), nb = sqrt(bb);
    double cosw = na > 0 && nb > 0 ? ab / (na * nb) : 1.0;
    if (cosw > 1) cosw = 1;
    if (cosw < -1) cosw = -1;
    double w = acos(cosw), s = sin(w);
    /* No great circle to follow: a zero latent, or (within float precision) the same
     * direction, or exactly opposite ones (every great circle through both would do). The
     * straight line is then the honest answer. */
    if (na == 0 || nb == 0 || s < 1e-6) {
        abp_latent_lerp(a, b, t, out, d);
        return;
    }
    double ca = sin((1 - (double)t) * w) / (s * na), cb = sin((double)t * w) / (s * nb);
    double uu = 0;
    for (int64_t k = 0; k < d; k++) {
        double u = ca * a[k] + cb * b[k]; /* the unit direction, up to rounding */
        uu += u * u;
    }
    double length = (1 - (double)t) * na + (double)t * nb;
    double scale = length / sqrt(uu);
    for (int64_t k = 0; k < d; k++) out[k] = (float)((ca * a[k] + cb * b[k]) * scale);
}

void abp_latent_corners(const float *a, const float *b, const float *c, const float *e, int rows,
                        int cols, int spherical, float *z, float *edge, int64_t d) {
    float *left = edge, *right = edge + d;
    for (int r = 0; r < rows; r++) {
        float s = rows > 1 ? (float)r / (float)(rows - 1) : 0.0f;
        if (spherical) {
            abp_latent_slerp(a, c, s, left, d);
            abp_latent_slerp(b, e, s, right, d);
        } else {
            abp_latent_lerp(a, c, s, left, d);
            abp_latent_lerp(b, e, s, right, d);
        }
        for (int col = 0; col < cols; col++) {
            float t = cols > 1 ? (float)col / (float)(cols - 1) : 0.0f;
            float *out = z + ((int64_t)r * cols + col) * d;
            if (spherical) abp_latent_slerp(left, right, t, out, d);
            else abp_latent_lerp(left, right, t, out, d);
        }
    }
}

void abp_latent_grid(int side, float range, float *z) {
    for (int r = 0; r < side; r++)
        for (int c = 0; c < side; c++) {
            /* Written as -range + 2 range k / (side - 1) so that both ends are exactly +-range. */
            float x = side > 1 ? -range + 2.0f * range * (float)c / (float)(side - 1) : 0.0f;
            float y = side > 1 ? range - 2.0f * range * (float)r / (float)(side - 1) : 0.0f;
            z[(r * side + c) * 2] = x;
            z[(r * side + c) * 2 + 1] = y;
        }
}
