/* Observation masks of the ABP paper's occlusion experiments, drawn from the counter RNG so
 * that example i's mask is the same on any rank, in any run with the same seed:
 *   pepper:F   square blocks (3x3 at 64x64, in proportion on other sizes) at random places
 *              until at least the fraction F of the pixels is covered (P.5, P.7, P.9);
 *   region:S   one square of side S pixels at 64x64 (in proportion), at a random place
 *              (M20, M30).
 * A mask value is 1 where the pixel is observed and 0 where it is occluded; every channel of
 * a pixel shares it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/infer.h"
#include "abp/rng.h"

int abp_mask_parse(const char *text, abp_mask_spec *m, abp_err *err) {
    memset(m, 0, sizeof *m);
    if (!text || !text[0] || !strcmp(text, "none")) return 0;
    char *end = NULL;
    if (!strncmp(text, "pepper:", 7)) {
        m->kind = ABP_MASK_PEPPER;
        m->amount = strtod(text + 7, &end);
        if (end != text + 7 && *end == 0 && m->amount > 0 && m->amount < 1) return 0;
        return abp_fail(err, "--mask %s: pepper needs a fraction between 0 and 1, e.g. pepper:0.5", text);
    }
    if (!strncmp(text, "region:", 7)) {
        m->kind = ABP_MASK_REGION;
        m->amount = strtod(text + 7, &end);
        if (end != text + 7 && *end == 0 && m->amount >= 1 && m->amount < 64) return 0;
        return abp_fail(err, "--mask %s: region needs a side from 1 to 63 pixels (at 64x64), e.g. region:20", text);
    }
    return abp_fail(err, "--mask %s: expected none, pepper:FRACTION or region:SIDE", text);
}

/* A length given at 64 pixels, on an image of `size` pixels: at least 1. */
static int scaled(double at64, int size) {
    int v = (int)lround(at64 * size / 64.0);
    return v < 1 ? 1 : v > size ? size : v;
}

/* Occludes the square [y0, y0+side) x [x0, x0+side) (clipped); returns the pixels newly
 * occluded. */
static int64_t occlude(float *plane, int h, int w, int y0, int x0, int side) {
    int64_t added = 0;
    for (int y = y0; y < y0 + side && y < h; y++)
        for (int x = x0; x < x0 + side && x < w; x++) {
            added += plane[(int64_t)y * w + x] != 0.0f;
            plane[(int64_t)y * w + x] = 0.0f;
        }
    return added;
}

void abp_mask_make(const abp_mask_spec *m, uint64_t seed, int64_t example, int c, int h, int w,
                   float *mask) {
    int64_t pixels = (int64_t)h * w;
    for (int64_t k = 0; k < pixels; k++) mask[k] = 1.0f;
    if (m->kind == ABP_MASK_PEPPER) {
        int side = scaled(3.0, h < w ? h : w);
        int64_t want = (int64_t)ceil(m->amount * (double)pixels), covered = 0;
        double u[2];
        /* Draw k of this example places the k-th block: a pure function of (seed, example, k). */
        for (uint32_t k = 0; covered < want; k++) {
            abp_rng_uniform(seed, ABP_RNG_MASK, (uint32_t)example, k, 0, u, 2);
            covered += occlude(mask, h, w, (int)(u[0] * (h - side + 1)), (int)(u[1] * (w - side + 1)), side);
        }
    } else if (m->kind == ABP_MASK_REGION) {
        int side = scaled(m->amount, h < w ? h : w);
        double u[2];
        abp_rng_uniform(seed, ABP_RNG_MASK, (uint32_t)example, 0, 1, u, 2);
        occlude(mask, h, w, (int)(u[0] * (h - side + 1)), (int)(u[1] * (w - side + 1)), side);
    }
    for (int ch = 1; ch < c; ch++) memcpy(mask + ch * pixels, mask, sizeof(float) * (size_t)pixels);
}
