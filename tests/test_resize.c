/* Resizing the latent of a fully convolutional model (abp_spec_resize_latent): the output
 * grows with it, the parameters are the same arrays, and where the larger latent holds
 * the smaller one (top-left corner), the output agrees with the smaller model's as far as
 * the zero padding of the smaller one does not reach. Models with a linear layer or a
 * reshape, and empty shapes, are refused with a message that says why. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/nn.h"
#include "abp/rng.h"
#include "check.h"

/* 3x3 latent -> 6x6 -> 12x12. Output row o depends on latent rows up to
 * floor((floor((o + 2) / 2) + 2) / 2), so rows 0..5 see only latent rows 0..2. */
static const char *const small = "z 3x3x2 | deconv 4 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh";
enum { AGREE = 6 };

static void test_texture_net(void) {
    abp_err err = {{0}};
    char *big_spec = NULL;
    CHECK(abp_spec_resize_latent(small, 6, 7, &big_spec, &err) == 0, "%s", err.msg);
    if (!big_spec) return;
    abp_net a, b;
    CHECK(abp_net_build(small, 0, 1, &a, &err) == 0, "%s", err.msg);
    CHECK(abp_net_build(big_spec, 0, 1, &b, &err) == 0, "%s: %s", big_spec, err.msg);
    CHECK(b.in_shape.h == 6 && b.in_shape.w == 7 && b.in_shape.c == 2, "latent %dx%dx%d",
          b.in_shape.h, b.in_shape.w, b.in_shape.c);
    CHECK(b.out_shape.h == 24 && b.out_shape.w == 28 && b.out_shape.c == 1, "output %dx%dx%d",
          b.out_shape.h, b.out_shape.w, b.out_shape.c);
    CHECK(a.nparams == b.nparams && a.nbuffers == b.nbuffers, "parameters %lld vs %lld",
          (long long)a.nparams, (long long)b.nparams);
    /* Trained-looking parameters and batch-norm statistics, the same in both. */
    abp_net_init_params(&a, 7);
    for (int64_t k = 0; k < a.nbuffers; k++) a.buffers[k] = 0.5f + 0.01f * (float)(k % 7);
    memcpy(b.params, a.params, sizeof(float) * (size_t)a.nparams);
    memcpy(b.buffers, a.buffers, sizeof(float) * (size_t)a.nbuffers);
    a.training = b.training = 0;

    float za[3 * 3 * 2], zb[6 * 7 * 2];
    abp_rng_normal(3, ABP_RNG_PRIOR, 0, 0, 0, zb, 6 * 7 * 2);
    for (int c = 0; c < 2; c++) /* CNS with n = 1: channel-major planes */
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 3; x++) za[(c * 3 + y) * 3 + x] = zb[(c * 6 + y) * 7 + x];
    CHECK(abp_net_forward(&a, za, 1, &err) == 0, "%s", err.msg);
    CHECK(abp_net_forward(&b, zb, 1, &err) == 0, "%s", err.msg);
    const float *ya = abp_net_output(&a), *yb = abp_net_output(&b);
    double worst = 0.0, differs = 0.0;
    for (int y = 0; y < 12; y++)
        for (int x = 0; x < 12; x++) {
            double d = fabs((double)ya[y * 12 + x] - (double)yb[y * 28 + x]);
            if (y < AGREE && x < AGREE) worst = fmax(worst, d);
            else differs = fmax(differs, d);
        }
    CHECK(worst < 1e-5, "the corner should agree: largest difference %g", worst);
    CHECK(differs > 1e-3, "beyond the corner the larger latent should matter (%g)", differs);

    /* Deterministic: the same latent gives the same output, bit for bit. */
    float first[24 * 28];
    memcpy(first, yb, sizeof first);
    CHECK(abp_net_forward(&b, zb, 1, &err) == 0, "%s", err.msg);
    CHECK(memcmp(first, abp_net_output(&b), sizeof first) == 0, "forward is not deterministic");
    abp_net_free(&a);
    abp_net_free(&b);
    free(big_spec);
}

static void test_sound_net(void) {
    abp_err err = {{0}};
    char *spec = NULL;
    CHECK(abp_spec_resize_latent(abp_model_spec("sound"), 1, 32, &spec, &err) == 0, "%s", err.msg);
    abp_net net;
    if (spec && abp_net_build(spec, 0, 1, &net, &err) == 0) {
        CHECK(net.out_shape.c == 1 && net.out_shape.h == 1 && net.out_shape.w == 32000,
              "sound at 1x32: %dx%dx%d", net.out_shape.h, net.out_shape.w, net.out_shape.c);
        abp_net_free(&net);
    } else {
        CHECK(0, "sound at 1x32: %s", err.msg);
    }
    free(spec);
    spec = NULL;
    CHECK(abp_spec_resize_latent(abp_model_spec("texture"), 14, 14, &spec, &err) == 0, "%s", err.msg);
    if (spec && abp_net_build(spec, 0, 1, &net, &err) == 0) {
        CHECK(net.out_shape.h == 224 && net.out_shape.w == 224, "texture at 14x14: %dx%d",
              net.out_shape.h, net.out_shape.w);
        abp_net_free(&net);
    }
    free(spec);
}

static void expect_refusal(const char *spec, int h, int w, const char *needle) {
    abp_err err = {{0}};
    char *out = NULL;
    CHECK(abp_spec_resize_latent(spec, h, w, &out, &err) == -1 && out == NULL, "%s was resized", spec);
    CHECK(strstr(err.msg, needle) != NULL, "message '%s' should say '%s'", err.msg, needle);
}

static void test_refusals(void) {
    expect_refusal(abp_model_spec("mnist28"), 14, 14, "not fully convolutional (layer 1 is 'linear')");
    expect_refusal("z 2x2x4 | deconv 2 k3 s2 | reshape 1x32", 4, 4, "layer 2 is 'reshape'");
    expect_refusal(small, 0, 5, "at least 1x1");
    expect_refusal("z 3x3x2 | bogus 4", 6, 6, "unknown layer kind");
}

int main(void) {
    test_texture_net();
    test_sound_net();
    test_refusals();
    return check_summary("test_resize");
}
