/* The encoder objectives' arithmetic (abp/encoder.h): eq. (5) and the ELBO's KL against
 * central differences in (mu, log sigma^2), the whole encoder loss in phi through a small
 * encoder network (conv, batch norm, lrelu, linear), the reparameterised sample, and the
 * --encoder spec resolution. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "abp/encoder.h"
#include "abp/nn.h"
#include "abp/rng.h"
#include "check.h"

enum { N = 3, D = 4 };

static int close_enough(double a, double b) { return fabs(a - b) <= 2e-2 * fmax(1e-2, fmax(fabs(a), fabs(b))); }

/* eq. (5) and KL: every partial derivative against a central difference. */
static void test_elementwise(void) {
    float enc[2 * D * N], z[D * N], g[2 * D * N], scratch[2 * D * N];
    abp_rng_normal(3, 1, 0, 0, 0, enc, 2 * D * N);
    abp_rng_normal(3, 1, 1, 0, 0, z, D * N);
    for (int k = D * N; k < 2 * D * N; k++) enc[k] *= 0.5f; /* log sigma^2 in [-1.5, 1.5] or so */
    for (int kind = 0; kind < 2; kind++) {
        float scale = 0.25f;
        memset(g, 0, sizeof g);
        if (kind == 0) abp_encoder_fit(enc, z, g, N, D, scale);
        else abp_encoder_kl(enc, g, N, D, scale);
        int bad = 0;
        for (int k = 0; k < 2 * D * N; k++) {
            float keep = enc[k], h = 1e-2f;
            enc[k] = keep + h;
            memset(scratch, 0, sizeof scratch);
            double up = kind == 0 ? abp_encoder_fit(enc, z, scratch, N, D, scale) : abp_encoder_kl(enc, scratch, N, D, scale);
            enc[k] = keep - h;
            double down = kind == 0 ? abp_encoder_fit(enc, z, scratch, N, D, scale) : abp_encoder_kl(enc, scratch, N, D, scale);
            enc[k] = keep;
            double numeric = scale * (up - down) / (2.0 * h);
            if (!close_enough(g[k], numeric)) bad++;
        }
        CHECK(bad == 0, "%s: %d of %d partials differ from central differences", kind ? "KL" : "eq. (5)", bad, 2 * D * N);
    }
    /* KL is zero exactly at the prior, and so is its gradient */
    float prior[2 * D * N] = {0}, zero[2 * D * N] = {0};
    CHECK(abp_encoder_kl(prior, zero, N, D, 1.0f) == 0.0, "KL(N(0,I) || N(0,I)) != 0");
    int nonzero = 0;
    for (int k = 0; k < 2 * D * N; k++) nonzero += zero[k] != 0.0f;
    CHECK(nonzero == 0, "the KL's gradient at the prior is not zero");
    /* the reparameterised sample */
    float e[D * N], s[D * N];
    abp_rng_normal(4, 1, 0, 0, 0, e, D * N);
    abp_encoder_sample(enc, e, s, N, D);
    int off = 0;
    for (int k = 0; k < D * N; k++) off += fabsf(s[k] - (enc[k] + expf(0.5f * enc[D * N + k]) * e[k])) > 1e-5f;
    CHECK(off == 0, "z_0 != mu + exp(logvar / 2) e in %d places", off);
    /* its backward: d(v . z_0)/d(mu, logvar) against central differences */
    float v[D * N], denc[2 * D * N], s2[D * N];
    abp_rng_normal(4, 1, 1, 0, 0, v, D * N);
    abp_encoder_sample_backward(enc, e, v, denc, N, D);
    int wrong = 0;
    for (int k = 0; k < 2 * D * N; k++) {
        float keep = enc[k], h = 1e-2f;
        double up = 0, down = 0;
        enc[k] = keep + h;
        abp_encoder_sample(enc, e, s2, N, D);
        for (int j = 0; j < D * N; j++) up += (double)v[j] * s2[j];
        enc[k] = keep - h;
        abp_encoder_sample(enc, e, s2, N, D);
        for (int j = 0; j < D * N; j++) down += (double)v[j] * s2[j];
        enc[k] = keep;
        if (!close_enough(denc[k], (up - down) / (2.0 * h))) wrong++;
    }
    CHECK(wrong == 0, "the reparameterisation's backward: %d partials differ", wrong);
}

/* The loss of eq. (5) through an encoder network, in its parameters phi. */
static double net_loss(abp_net *net, const float *x, const float *z, float *denc) {
    abp_err err;
    if (abp_net_forward(net, x, N, &err)) return NAN;
    return abp_encoder_fit(abp_net_output(net), z, denc, N, D, 1.0f);
}

static void test_in_phi(void) {
    abp_net net;
    abp_err err;
    int rc = abp_net_build("z 6x6x1 | conv 3 k3 s2 | bn | lrelu 0.2 | linear 8", 0, N, &net, &err);
    CHECK(rc == 0, "build: %s", err.msg);
    if (rc) return;
    abp_net_init_params(&net, 5);
    for (int64_t k = 0; k < net.nparams; k++) net.params[k] *= 10.0f; /* gradients of a useful size */
    net.training = 1;
    float x[36 * N], z[D * N], denc[2 * D * N];
    abp_rng_normal(6, 1, 0, 0, 0, x, 36 * N);
    abp_rng_normal(6, 1, 1, 0, 0, z, D * N);
    abp_net_zero_grads(&net);
    net_loss(&net, x, z, denc);
    rc = abp_net_backward(&net, denc, N, NULL, 1, &err);
    CHECK(rc == 0, "backward: %s", err.msg);
    int bad = 0, probed = 0;
    for (int64_t k = 0; k < net.nparams; k += 7, probed++) {
        float keep = net.params[k], h = 1e-2f * fmaxf(1.0f, fabsf(keep));
        net.params[k] = keep + h;
        double up = net_loss(&net, x, z, denc);
        net.params[k] = keep - h;
        double down = net_loss(&net, x, z, denc);
        net.params[k] = keep;
        double numeric = (up - down) / (2.0 * h);
        if (!close_enough(net.grads[k], numeric) && fabs(net.grads[k] - numeric) > 1e-3) {
            if (bad < 3) fprintf(stderr, "param %lld: analytic %g numeric %g\n", (long long)k, (double)net.grads[k], numeric);
            bad++;
        }
    }
    CHECK(bad == 0, "eq. (5) in phi: %d of %d parameters differ from central differences", bad, probed);
    abp_net_free(&net);
}

static void test_specs(void) {
    char *s = NULL;
    abp_err err;
    CHECK(abp_encoder_spec("auto", "mnist28", 10, &s, &err) == 0 && s && strstr(s, "| linear 20") && !strstr(s, "linear 60"),
          "auto for mnist28 with d = 10: %s", s ? s : err.msg);
    free(s);
    CHECK(abp_encoder_spec("auto", "z 3 | linear 4", 3, &s, &err) != 0 && strstr(err.msg, "no built-in encoder"),
          "auto for a spec should fail with a clear line");
    CHECK(abp_encoder_spec("faces64-encoder", "faces64", 100, &s, &err) == 0 && s && strstr(s, "64x64x3"), "built-in name");
    free(s);
    abp_encoder_cfg c;
    abp_encoder_defaults(&c);
    abp_chain_init kind;
    snprintf(c.init, sizeof c.init, "sideways");
    CHECK(abp_encoder_init_kind(&c, &kind, &err) != 0 && strstr(err.msg, "--init sideways"), "bad --init accepted");
}

int main(void) {
    test_elementwise();
    test_in_phi();
    test_specs();
    return check_summary("encoder");
}
