/* Observation masks: parsing, the covered fraction and region size the paper's experiments
 * name (P.5 ... M30), scaling to other image sizes, and determinism. */
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
    return check_summary("test_mask");
}
