/* Observation masks: parsing, the covered fraction and region size the paper's experiments
 * name (P.5 ... M30), scaling to other image sizes, and determinism; and that a mask really
 * removes the occluded pixels from the residual and from Langevin inference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "abp/infer.h"
#include "check.h"

static int64_t zeros(const float *m, int64_t n) {
    int64_t z = 0;
    for (int64_t k = 0; k < n; k++) z += m[k] == 0.0f;
    return z;
}

int main(void) {
    abp_err err = {{0}};
    abp_mask_spec m;
    CHECK(abp_mask_parse("pepper:0.5", &m, &err) == 0 && m.kind == ABP_MASK_PEPPER && m.amount == 0.5, "pepper");
    CHECK(abp_mask_parse("region:20", &m, &err) == 0 && m.kind == ABP_MASK_REGION && m.amount == 20, "region");
    CHECK(abp_mask_parse("none", &m, &err) == 0 && m.kind == ABP_MASK_NONE, "none");
    CHECK(abp_mask_parse("pepper:1.5", &m, &err) != 0 && strstr(err.msg, "pepper:1.5"), "%s", err.msg);
    CHECK(abp_mask_parse("region:x", &m, &err) != 0 && strstr(err.msg, "region:x"), "%s", err.msg);
    CHECK(abp_mask_parse("blur:3", &m, &err) != 0 && strstr(err.msg, "blur:3"), "%s", err.msg);

    float *a = malloc(sizeof(float) * 3 * 64 * 64), *b = malloc(sizeof(float) * 3 * 64 * 64);
    /* P.5, P.7, P.9 at 64x64: 3x3 blocks until the fraction is covered, by less than a block more. */
    const double fractions[3] = {0.5, 0.7, 0.9};
    for (int k = 0; k < 3; k++) {
        abp_mask_spec p = {ABP_MASK_PEPPER, fractions[k]};
        abp_mask_make(&p, 1, 7, 1, 64, 64, a);
        int64_t z = zeros(a, 64 * 64), want = (int64_t)(fractions[k] * 4096 + 0.999);
        CHECK(z >= want && z < want + 9, "P%.1f covered %lld of 4096", fractions[k], (long long)z);
    }
    /* At 28x28 the blocks are 1x1 (3 * 28 / 64 rounds to 1): exactly the fraction. */
    abp_mask_spec p5 = {ABP_MASK_PEPPER, 0.5};
    abp_mask_make(&p5, 1, 7, 1, 28, 28, a);
    CHECK(zeros(a, 784) == 392, "P.5 at 28x28 covered %lld", (long long)zeros(a, 784));
    /* M20 and M30: one square of 20x20 / 30x30 at 64x64, 9x9 (20 * 28 / 64) at 28x28. */
    abp_mask_spec m20 = {ABP_MASK_REGION, 20}, m30 = {ABP_MASK_REGION, 30};
    abp_mask_make(&m20, 1, 3, 1, 64, 64, a);
    CHECK(zeros(a, 4096) == 400, "M20 occluded %lld", (long long)zeros(a, 4096));
    abp_mask_make(&m30, 1, 3, 1, 64, 64, a);
    CHECK(zeros(a, 4096) == 900, "M30 occluded %lld", (long long)zeros(a, 4096));
    abp_mask_make(&m20, 1, 3, 1, 28, 28, a);
    CHECK(zeros(a, 784) == 81, "M20 at 28x28 occluded %lld", (long long)zeros(a, 784));
    /* A pure function of (seed, example); every channel shares it. */
    abp_mask_make(&p5, 2, 11, 3, 64, 64, a);
    abp_mask_make(&p5, 2, 11, 3, 64, 64, b);
    CHECK(memcmp(a, b, sizeof(float) * 3 * 4096) == 0, "the same mask twice");
    CHECK(memcmp(a, a + 4096, sizeof(float) * 4096) == 0 && memcmp(a, a + 2 * 4096, sizeof(float) * 4096) == 0,
          "channels share the mask");
    abp_mask_make(&p5, 2, 12, 3, 64, 64, b);
    CHECK(memcmp(a, b, sizeof(float) * 4096) != 0, "another example, another mask");
    abp_mask_make(&m20, 2, 11, 1, 64, 64, a);
    abp_mask_make(&m20, 2, 12, 1, 64, 64, b);
    CHECK(memcmp(a, b, sizeof(float) * 4096) != 0, "regions move between examples");
    free(a);
    free(b);

    /* The residual over observed pixels: occluded values of y change nothing, observed do. */
    enum { N = 2, C = 1, H = 8, W = 8, D = N * C * H * W };
    float g[D], y[D], y2[D], mask[D], d1[D], d2[D];
    abp_mask_spec p7 = {ABP_MASK_PEPPER, 0.7};
    for (int i = 0; i < N; i++) abp_mask_make(&p7, 5, i, C, H, W, mask + i * H * W);
    for (int k = 0; k < D; k++) g[k] = 0.1f * (float)(k % 7), y[k] = y2[k] = -0.05f * (float)(k % 5);
    int64_t occluded = zeros(mask, D), first_occluded = -1, first_observed = -1;
    for (int k = D - 1; k >= 0; k--) {
        y2[k] = mask[k] == 0.0f ? (k % 2 ? y2[k] + 10.0f : NAN) : y2[k]; /* occluded: anything */
        if (mask[k] == 0.0f) first_occluded = k;
        else first_observed = k;
    }
    CHECK(occluded > 0 && occluded < D, "the 8x8 masks occlude some but not all (%lld)", (long long)occluded);
    double sse1 = abp_residual(g, y, mask, d1, D, 1.0f), sse2 = abp_residual(g, y2, mask, d2, D, 1.0f);
    int same = 1;
    for (int k = 0; k < D; k++) same &= d1[k] == d2[k];
    CHECK(sse1 == sse2 && same, "occluded pixels do not enter the residual");
    CHECK(d1[first_occluded] == 0.0f, "no gradient at an occluded pixel");
    double full = abp_residual(g, y, NULL, d2, D, 1.0f);
    CHECK(full > sse1, "without the mask the occluded pixels count (%g > %g)", full, sse1);
    y2[first_observed] += 1.0f;
    CHECK(abp_residual(g, y2, mask, d2, D, 1.0f) != sse1, "an observed pixel does count");

    /* Langevin inference through a tiny net: the same latents whatever the occluded pixels hold. */
    abp_net net;
    abp_infer_ws ws;
    CHECK(abp_net_build("z 3 | linear 8x8x1 | tanh", 0, N, &net, &err) == 0, "%s", err.msg);
    abp_net_init_params(&net, 3);
    CHECK(abp_infer_ws_init(&ws, &net, &err) == 0, "%s", err.msg);
    for (int k = 0; k < D; k++) y2[k] = mask[k] == 0.0f ? y[k] + 10.0f : y[k];
    float z1[3 * N] = {0.1f, -0.2f, 0.3f, 0.0f, 0.5f, -0.4f}, z2[3 * N], z3[3 * N];
    memcpy(z2, z1, sizeof z1);
    memcpy(z3, z1, sizeof z1);
    int64_t ids[N] = {0, 1};
    abp_langevin lc = {.steps = 5, .step_size = 0.1f, .sigma = 0.3f, .noise = 1, .seed = 4, .iteration = 1};
    abp_observation o1 = {.y = y, .mask = mask}, o2 = {.y = y2, .mask = mask}, o3 = {.y = y2};
    CHECK(abp_infer_latents(&net, z1, &o1, N, ids, &lc, &ws, &err) == 0, "%s", err.msg);
    CHECK(abp_infer_latents(&net, z2, &o2, N, ids, &lc, &ws, &err) == 0, "%s", err.msg);
    CHECK(abp_infer_latents(&net, z3, &o3, N, ids, &lc, &ws, &err) == 0, "%s", err.msg);
    CHECK(memcmp(z1, z2, sizeof z1) == 0, "inference ignores occluded pixels");
    CHECK(memcmp(z1, z3, sizeof z1) != 0, "and without the mask it sees them");
    abp_infer_ws_free(&ws);
    abp_net_free(&net);
    return check_summary("test_mask");
}
