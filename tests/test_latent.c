/* Paths through the latent space: the spherical path's ends are the latents bit for bit,
 * its length stays between the ends' (where Shoemake's formula on the raw vectors would
 * overshoot), it is Real NVP's cos/sin circle for orthogonal latents of equal length, its
 * direction turns at a constant rate; the corner panel and the d = 2 grid put exactly the
 * right latents at their corners. */
#include <math.h>
#include <string.h>

#include "abp/infer.h"
#include "abp/rng.h"
#include "check.h"

static double dot(const float *a, const float *b, int64_t d) {
    double s = 0;
    for (int64_t k = 0; k < d; k++) s += (double)a[k] * b[k];
    return s;
}
static double norm(const float *a, int64_t d) { return sqrt(dot(a, a, d)); }
static double angle(const float *a, const float *b, int64_t d) {
    double c = dot(a, b, d) / (norm(a, d) * norm(b, d));
    return acos(c > 1 ? 1 : c < -1 ? -1 : c);
}

int main(void) {
    enum { D = 30, STEPS = 11 };
    float a[D], b[D], z[STEPS][D];
    abp_rng_normal(7, ABP_RNG_PRIOR, 0, 0, 0, a, D);
    abp_rng_normal(7, ABP_RNG_PRIOR, 1, 0, 0, b, D);
    for (int k = 0; k < D; k++) b[k] *= 1.5f; /* unequal lengths */

    /* Ends: exactly the latents. */
    abp_latent_slerp(a, b, 0.0f, z[0], D);
    abp_latent_slerp(a, b, 1.0f, z[1], D);
    CHECK(memcmp(z[0], a, sizeof a) == 0 && memcmp(z[1], b, sizeof b) == 0, "ends are not the latents");

    /* Along the way: the length goes linearly from |a| to |b|, the direction turns by equal
     * angles, and stays in the plane of a and b. */
    double na = norm(a, D), nb = norm(b, D), w = angle(a, b, D);
    for (int s = 0; s < STEPS; s++) {
        float t = (float)s / (STEPS - 1);
        abp_latent_slerp(a, b, t, z[s], D);
        double want = (1 - t) * na + t * nb;
        CHECK(fabs(norm(z[s], D) - want) < 1e-5 * want, "t=%g: length %g, want %g", t, norm(z[s], D), want);
        CHECK(fabs(angle(a, z[s], D) - t * w) < 1e-4, "t=%g: turned %g of %g", t, angle(a, z[s], D), w);
        CHECK(fabs(angle(a, z[s], D) + angle(z[s], b, D) - w) < 1e-4, "t=%g: left the great circle", t);
    }

    /* Obtuse angle, lengths 1 and 2: every point's length within [1, 2]. Shoemake's formula
     * on the raw vectors gives the middle a length of sqrt(7) = 2.65 here. */
    float p[2] = {1, 0}, q[2] = {2 * -0.9f, 2 * sqrtf(1 - 0.81f)}, m[2];
    for (int s = 0; s <= 20; s++) {
        abp_latent_slerp(p, q, (float)s / 20, m, 2);
        double n = norm(m, 2);
        CHECK(n >= 1 - 1e-6 && n <= 2 + 1e-6, "obtuse: length %g at step %d", n, s);
    }

    /* Orthogonal, equal lengths: Real NVP's z = cos(t pi/2) a + sin(t pi/2) b. */
    float e1[3] = {2, 0, 0}, e2[3] = {0, 0, 2}, o[3];
    abp_latent_slerp(e1, e2, 1.0f / 3, o, 3);
    CHECK(fabsf(o[0] - 2 * cosf(0.523598776f)) < 1e-6f && o[1] == 0 && fabsf(o[2] - 2 * sinf(0.523598776f)) < 1e-6f,
          "orthogonal: (%g, %g, %g)", o[0], o[1], o[2]);

    /* No circle: same direction, opposite directions, a zero latent -> the straight line. */
    float u[2] = {1, 1}, v[2] = {3, 3}, n2[2] = {-1, -1}, zero[2] = {0, 0}, r[2];
    abp_latent_slerp(u, v, 0.5f, r, 2);
    CHECK(fabsf(r[0] - 2) < 1e-6f && fabsf(r[1] - 2) < 1e-6f, "parallel: (%g, %g)", r[0], r[1]);
    abp_latent_slerp(u, n2, 0.25f, r, 2);
    CHECK(fabsf(r[0] - 0.5f) < 1e-6f && isfinite(r[1]), "opposite: (%g, %g)", r[0], r[1]);
    abp_latent_slerp(zero, v, 0.5f, r, 2);
    CHECK(fabsf(r[0] - 1.5f) < 1e-6f, "zero: (%g, %g)", r[0], r[1]);

    /* Corner panel: its corners are the 4 latents exactly; its edges are the paths between
     * them; the linear panel's centre is their mean. */
    float c[4][D], panel[5 * 7][D], edge[2 * D], path[D];
    for (int k = 0; k < 4; k++) abp_rng_normal(9, ABP_RNG_PRIOR, (uint32_t)k, 0, 0, c[k], D);
    abp_latent_corners(c[0], c[1], c[2], c[3], 5, 7, 1, panel[0], edge, D);
    CHECK(memcmp(panel[0], c[0], sizeof c[0]) == 0 && memcmp(panel[6], c[1], sizeof c[1]) == 0 &&
              memcmp(panel[28], c[2], sizeof c[2]) == 0 && memcmp(panel[34], c[3], sizeof c[3]) == 0,
          "corners are not the latents");
    abp_latent_slerp(c[0], c[1], 0.5f, path, D);
    CHECK(memcmp(panel[3], path, sizeof path) == 0, "top edge is not the path from top left to top right");
    abp_latent_slerp(c[1], c[3], 0.25f, path, D);
    CHECK(memcmp(panel[13], path, sizeof path) == 0, "right edge is not the path from top right to bottom right");
    abp_latent_corners(c[0], c[1], c[2], c[3], 3, 3, 0, panel[0], edge, D);
    double worst = 0;
    for (int k = 0; k < D; k++)
        worst = fmax(worst, fabs(panel[4][k] - (c[0][k] + c[1][k] + c[2][k] + c[3][k]) / 4));
    CHECK(worst < 1e-6, "linear centre off the mean by %g", worst);

    /* The paper's grid: 9 x 9 over [-2, 2]^2, z1 left to right, z2 top to bottom, step 0.5. */
    float g[81][2];
    abp_latent_grid(9, 2.0f, g[0]);
    CHECK(g[0][0] == -2 && g[0][1] == 2, "top left (%g, %g)", g[0][0], g[0][1]);
    CHECK(g[8][0] == 2 && g[8][1] == 2, "top right (%g, %g)", g[8][0], g[8][1]);
    CHECK(g[72][0] == -2 && g[72][1] == -2, "bottom left (%g, %g)", g[72][0], g[72][1]);
    CHECK(g[80][0] == 2 && g[80][1] == -2, "bottom right (%g, %g)", g[80][0], g[80][1]);
    CHECK(g[40][0] == 0 && g[40][1] == 0, "centre (%g, %g)", g[40][0], g[40][1]);
    CHECK(g[1][0] == -1.5f && g[9][1] == 1.5f, "steps (%g, %g)", g[1][0], g[9][1]);
    return check_summary("test_latent");
}
