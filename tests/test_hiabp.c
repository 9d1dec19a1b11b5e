/* Hierarchical latents (HiABP; abp/nn.h, docs/encoder.md): what the latent and head layers
 * compute and where their numbers go, the levels a network reports, eq. (5) in the
 * parameters of an encoder with heads against central differences, and the checks that keep
 * latent layers in the generator, heads in the encoder and the two networks' levels alike.
 * (The layers' and networks' gradients against finite differences are in test_nn.) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "abp/encoder.h"
#include "abp/model.h"
#include "abp/rng.h"
#include "check.h"

/* A latent layer appends its code, tiled over the positions, after the features; the code
 * is its rows of z, after the top code. */
static void test_latent_values(void) {
    abp_net net;
    abp_err err;
    /* top code 2 -> linear to 1x2x1 (one channel, two positions) -> + 3 code channels */
    int rc = abp_net_build("z 2 | linear 1x2x1 | latent 3", 0, 2, &net, &err);
    CHECK(rc == 0, "build: %s", err.msg);
    if (rc) return;
    CHECK(net.in_shape.c == 5 && net.in_shape.h == 1 && net.in_shape.w == 1, "latent %dx%dx%d, expected 5",
          net.in_shape.h, net.in_shape.w, net.in_shape.c);
    CHECK(net.out_shape.c == 4 && net.out_shape.h == 1 && net.out_shape.w == 2, "output %dx%dx%d", net.out_shape.h,
          net.out_shape.w, net.out_shape.c);
    abp_net_init_params(&net, 3);
    /* two examples, rows [top0 top1 | c0 c1 c2] */
    float rows[10] = {0.5f, -1.0f, 10.0f, 20.0f, 30.0f, 2.0f, 1.0f, -10.0f, -20.0f, -30.0f}, z[10];
    abp_rows_to_cns(rows, z, 2, net.in_shape);
    CHECK(abp_net_forward(&net, z, 2, &err) == 0, "forward: %s", err.msg);
    const float *y = abp_net_output(&net); /* CNS [4][2][2] */
    int wrong = 0;
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 3; k++)
            for (int p = 0; p < 2; p++) wrong += y[((1 + k) * 2 + i) * 2 + p] != rows[i * 5 + 2 + k];
    CHECK(wrong == 0, "%d code values are not where the latent layer should put them", wrong);
    /* channel 0 is the linear layer's output, which the codes do not touch */
    float ch0[4];
    memcpy(ch0, y, sizeof ch0);
    rows[2] = 99.0f;
    abp_rows_to_cns(rows, z, 2, net.in_shape);
    CHECK(abp_net_forward(&net, z, 2, &err) == 0, "forward: %s", err.msg);
    CHECK(memcmp(ch0, abp_net_output(&net), sizeof ch0) == 0, "a code changed the features it joins");
    /* backward: dz of a code is the sum of its plane's gradient over the positions */
    float dout[16], dz[10];
    for (int k = 0; k < 16; k++) dout[k] = (float)(k + 1);
    CHECK(abp_net_backward(&net, dout, 2, dz, 0, &err) == 0, "backward: %s", err.msg);
    int bad = 0;
    for (int i = 0; i < 2; i++)
        for (int k = 0; k < 3; k++) {
            float want = dout[((1 + k) * 2 + i) * 2] + dout[((1 + k) * 2 + i) * 2 + 1];
            bad += dz[(2 + k) * 2 + i] != want;
        }
    CHECK(bad == 0, "%d code gradients are not the sums of their planes", bad);
    CHECK(net.bw_dz == NULL && net.bw_dout == NULL, "backward left its pointers set");
    abp_net_free(&net);
}

/* A head passes its input on; its mu and log sigma^2 go to the joined output after the top
 * level's, at the rows of its level. */
static void test_head_values(void) {
    abp_net net;
    abp_err err;
    /* 2 inputs -> head 1 (mu, logvar of level 1) -> linear 4 (mu, logvar of the top, size 2) */
    int rc = abp_net_build("z 1x1x2 | head 1 | linear 4", 0, 1, &net, &err);
    CHECK(rc == 0, "build: %s", err.msg);
    if (rc) return;
    CHECK(net.out_shape.c == 6 && net.nheads == 1 && net.nlevels == 2, "output %d, heads %d, levels %d", net.out_shape.c,
          net.nheads, net.nlevels);
    abp_layer *head = &net.layers[0], *top = &net.layers[1];
    CHECK(head->nweight == 4 && head->nbias == 2, "head parameters %lld + %lld", (long long)head->nweight,
          (long long)head->nbias);
    /* head: mu = x0 + 2 x1 + 1, logvar = -x1 - 3; top: identity-like rows */
    float hw[4] = {1, 2, 0, -1}, hb[2] = {1, -3}, tw[8] = {1, 0, 0, 1, 2, 0, 0, 2}, tb[4] = {0, 0, 0, 0};
    memcpy(head->weight, hw, sizeof hw), memcpy(head->bias, hb, sizeof hb);
    memcpy(top->weight, tw, sizeof tw), memcpy(top->bias, tb, sizeof tb);
    float x[2] = {3.0f, 5.0f};
    CHECK(abp_net_forward(&net, x, 1, &err) == 0, "forward: %s", err.msg);
    const float *y = abp_net_output(&net);
    /* [mu_top0 mu_top1 mu_1 | lv_top0 lv_top1 lv_1] = [3 5 14 | 6 10 -8] */
    float want[6] = {3, 5, 14, 6, 10, -8};
    int wrong = 0;
    for (int k = 0; k < 6; k++) wrong += fabsf(y[k] - want[k]) > 1e-5f;
    CHECK(wrong == 0, "joined output [%g %g %g | %g %g %g], expected [3 5 14 | 6 10 -8]", y[0], y[1], y[2], y[3], y[4],
          y[5]);
    int off, size;
    CHECK(abp_net_level_range(&net, 1, &off, &size) == 0 && off == 2 && size == 1, "level 1 at %d size %d", off, size);
    CHECK(abp_net_level_range(&net, 2, &off, &size) == 0 && off == 0 && size == 2, "level 2 at %d size %d", off, size);
    CHECK(abp_net_level_range(&net, 3, &off, &size) != 0, "a level 3 that is not there");
    abp_net_free(&net);
}

/* The built-ins: hiabp-mnist28's three levels and its encoder's, in the same places. */
static void test_builtin_levels(void) {
    abp_net g, e;
    abp_err err;
    int rc = abp_net_build(abp_model_spec("hiabp-mnist28"), 0, 2, &g, &err);
    CHECK(rc == 0, "hiabp-mnist28: %s", err.msg);
    if (rc) return;
    rc = abp_net_build(abp_model_spec("hiabp-mnist28-encoder"), 0, 2, &e, &err);
    CHECK(rc == 0, "hiabp-mnist28-encoder: %s", err.msg);
    if (rc) {
        abp_net_free(&g);
        return;
    }
    CHECK(abp_net_levels(&g) == 3 && abp_net_levels(&e) == 3, "levels %d and %d", abp_net_levels(&g), abp_net_levels(&e));
    CHECK(g.in_shape.c == 30 && e.out_shape.c == 60, "d = %d, encoder output %d", g.in_shape.c, e.out_shape.c);
    const int offs[4] = {0, 24, 16, 0}, sizes[4] = {0, 6, 8, 16};
    for (int l = 1; l <= 3; l++) {
        int go, gs, eo, es;
        CHECK(abp_net_level_range(&g, l, &go, &gs) == 0 && go == offs[l] && gs == sizes[l], "generator level %d: %d, %d",
              l, go, gs);
        CHECK(abp_net_level_range(&e, l, &eo, &es) == 0 && eo == offs[l] && es == sizes[l], "encoder level %d: %d, %d",
              l, eo, es);
    }
    CHECK(abp_encoder_check_levels(&g, &e, &err) == 0, "the built-ins disagree: %s", err.msg);
    /* --encoder auto sizes the top level */
    char *spec = NULL;
    CHECK(abp_encoder_spec("auto", "hiabp-mnist28", 30, &spec, &err) == 0 && spec && strstr(spec, "head 6") &&
              strstr(spec, "| linear 32"),
          "auto: %s", spec ? spec : err.msg);
    free(spec);
    /* ... also for the canonical spec a checkpoint records, whatever the top code's size */
    CHECK(abp_model_name_of(g.spec) && !strcmp(abp_model_name_of(g.spec), "hiabp-mnist28"), "the canonical spec of %s",
          g.spec);
    spec = NULL;
    const char *bigger = "z 20 | linear 7x7x128 | bn | lrelu 0.2 | latent 8 | deconv 64 k5 s2 | bn | lrelu 0.2 | "
                         "latent 6 | deconv 32 k3 s1 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh";
    CHECK(abp_encoder_spec("auto", bigger, 34, &spec, &err) == 0 && spec && strstr(spec, "| linear 40"), "auto: %s",
          spec ? spec : err.msg);
    free(spec);
    spec = NULL;
    CHECK(abp_encoder_spec("auto", "hiabp-mnist28", 14, &spec, &err) != 0 && strstr(err.msg, "no top level"),
          "auto with a latent smaller than the heads: %s", spec ? spec : err.msg);
    free(spec);
    CHECK(abp_model_name_of("z 3 | linear 4") == NULL, "a spec of no built-in named one");
    /* the canonical spec keeps the levels */
    abp_net again;
    rc = abp_net_build(g.spec, 0, 2, &again, &err);
    CHECK(rc == 0 && again.in_shape.c == 30 && abp_net_levels(&again) == 3, "canonical '%s': %s", g.spec, rc ? err.msg : "");
    if (rc == 0) abp_net_free(&again);
    abp_net_free(&g);
    abp_net_free(&e);
}

/* Eq. (5) through an encoder with heads, in its parameters phi: the heads' gradients and
 * those reaching the layers below them. */
enum { NB = 3 };
static double eq5(abp_net *net, const float *x, const float *z, float *denc, int d) {
    abp_err err;
    if (abp_net_forward(net, x, NB, &err)) return NAN;
    return abp_encoder_fit(abp_net_output(net), z, denc, NB, d, 1.0f);
}

static int close_enough(double a, double b) { return fabs(a - b) <= 2e-2 * fmax(1e-2, fmax(fabs(a), fabs(b))); }

static void test_eq5_in_phi(void) {
    abp_net net;
    abp_err err;
    int rc = abp_net_build("z 6x6x1 | conv 3 k3 s2 | bn | lrelu 0.2 | head 2 | conv 2 k3 s2 | head 1 | linear 4", 0, NB,
                           &net, &err);
    CHECK(rc == 0, "build: %s", err.msg);
    if (rc) return;
    int d = net.out_shape.c / 2;
    CHECK(d == 5, "d = %d, expected 2 + 2 + 1", d);
    abp_net_init_params(&net, 5);
    for (int64_t k = 0; k < net.nparams; k++) net.params[k] *= 10.0f; /* gradients of a useful size */
    float x[36 * NB], z[5 * NB], denc[10 * NB];
    abp_rng_normal(6, 1, 0, 0, 0, x, 36 * NB);
    abp_rng_normal(6, 1, 1, 0, 0, z, 5 * NB);
    abp_net_zero_grads(&net);
    eq5(&net, x, z, denc, d);
    rc = abp_net_backward(&net, denc, NB, NULL, 1, &err);
    CHECK(rc == 0, "backward: %s", err.msg);
    int bad = 0, probed = 0;
    for (int64_t k = 0; k < net.nparams; k += 3, probed++) {
        float keep = net.params[k], h = 2e-3f * fmaxf(1.0f, fabsf(keep));
        net.params[k] = keep + h;
        double up = eq5(&net, x, z, denc, d);
        net.params[k] = keep - h;
        double down = eq5(&net, x, z, denc, d);
        net.params[k] = keep;
        double numeric = (up - down) / (2.0 * h);
        if (!close_enough(net.grads[k], numeric) && fabs(net.grads[k] - numeric) > 1e-3) {
            if (bad < 3) fprintf(stderr, "param %lld: analytic %g numeric %g\n", (long long)k, (double)net.grads[k], numeric);
            bad++;
        }
    }
    CHECK(bad == 0, "eq. (5) in phi with heads: %d of %d parameters differ from central differences", bad, probed);
    /* the first conv's weights get gradient from both heads and the top: none is zero */
    int64_t zero = 0;
    for (int64_t k = 0; k < net.layers[0].nweight; k++) zero += net.layers[0].dweight[k] == 0.0f;
    CHECK(zero == 0, "%lld of the first layer's weight gradients are zero", (long long)zero);
    abp_net_free(&net);
}

/* Latent layers only in the generator, heads only in the encoder, and the two networks'
 * levels alike: one line each. */
static void test_roles(void) {
    abp_model m;
    abp_err err;
    abp_opt_cfg opt = {.kind = ABP_OPT_ADAM, .lr = 1e-3f, .beta1 = 0.5f};
    memset(&m, 0, sizeof m);
    CHECK(abp_model_add(&m, ABP_GENERATOR, "z 3x3x1 | head 2 | linear 4", 0, 2, &opt, NULL, &err) != 0 &&
              strstr(err.msg, "'head 2': a head belongs in the encoder") && !strchr(err.msg, '\n'),
          "a head in the generator: %s", err.msg);
    CHECK(abp_model_add(&m, "encoder", "z 4 | latent 2 | linear 6", 0, 2, &opt, NULL, &err) != 0 &&
              strstr(err.msg, "'latent 2': a latent layer belongs in the generator"),
          "a latent layer in the encoder: %s", err.msg);
    CHECK(abp_model_add(&m, "descriptor", "z 4 | latent 2 | linear 1", 0, 2, &opt, NULL, &err) != 0 &&
              strstr(err.msg, "not in the descriptor"),
          "a latent layer in a descriptor: %s", err.msg);
    CHECK(m.nnets == 0, "a rejected network stayed in the model");
    abp_net g, e;
    if (abp_net_build("z 4 | linear 2x2x2 | latent 3 | latent 2 | conv 1 k3 s1", 0, 2, &g, &err) == 0) {
        /* levels (bottom first) 2, 3, 4; this encoder's are 3, 2, 4 */
        if (abp_net_build("z 4x4x1 | head 3 | conv 2 k3 s2 | head 2 | linear 8", 0, 2, &e, &err) == 0) {
            CHECK(abp_encoder_check_levels(&g, &e, &err) != 0 && strstr(err.msg, "levels of 3, 2, 4") &&
                      strstr(err.msg, "levels of 2, 3, 4"),
                  "swapped levels: %s", err.msg);
            abp_net_free(&e);
        }
        if (abp_net_build("z 4x4x1 | head 2 | conv 2 k3 s2 | head 3 | linear 8", 0, 2, &e, &err) == 0) {
            CHECK(abp_encoder_check_levels(&g, &e, &err) == 0, "matching levels rejected: %s", err.msg);
            abp_net_free(&e);
        }
        abp_net_free(&g);
    } else {
        CHECK(0, "build: %s", err.msg);
    }
}

int main(void) {
    test_latent_values();
    test_head_values();
    test_builtin_levels();
    test_eq5_in_phi();
    test_roles();
    return check_summary("hiabp");
}
