/* Every layer's backward pass, and whole networks, against central finite differences:
 * input gradients and parameter gradients, batch norm in training and evaluation mode. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "abp/infer.h"
#include "abp/nn.h"
#include "abp/rng.h"
#include "check.h"

/* L = sum_k r_k * g(z)_k, accumulated in double. */
static double loss(abp_net *net, const float *z, const float *r, int n) {
    abp_err err;
    if (abp_net_forward(net, z, n, &err)) {
        fprintf(stderr, "forward failed: %s\n", err.msg);
        exit(2);
    }
    const float *y = abp_net_output(net);
    double s = 0.0;
    for (int64_t k = 0; k < abp_shape_numel(net->out_shape) * n; k++) s += (double)r[k] * y[k];
    return s;
}

/* Signs of every (leaky) ReLU input of the last forward pass. A finite difference whose
 * two evaluations see different signs straddles a kink, where the derivative does not
 * exist: such probes are skipped rather than compared. Read from the layer's output, whose
 * sign is its input's (slope >= 0), since a fused batch norm + lrelu keeps no input. */
static int64_t kink_pattern(const abp_net *net, int n, unsigned char *out) {
    int64_t count = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const abp_layer *l = &net->layers[i];
        if (l->kind != ABP_RELU && l->kind != ABP_LRELU) continue;
        for (int64_t k = 0; k < abp_shape_numel(l->in) * n; k++) {
            if (out) out[count] = net->act[i + 1][k] > 0.0f;
            count++;
        }
    }
    return count;
}

/* Central difference of the loss along one coordinate; returns 0 if it crossed a kink. */
static int central_difference(abp_net *net, float *x, const float *z, const float *r, int n,
                              float h, unsigned char *pat_a, unsigned char *pat_b, int64_t npat,
                              double *out) {
    float saved = *x;
    *x = saved + h;
    double up = loss(net, z, r, n);
    kink_pattern(net, n, pat_a);
    *x = saved - h;
    double down = loss(net, z, r, n);
    kink_pattern(net, n, pat_b);
    *x = saved;
    *out = (up - down) / (2.0 * h);
    return memcmp(pat_a, pat_b, (size_t)npat) == 0;
}

static int close_enough(double analytic, double numeric, double scale) {
    return fabs(analytic - numeric) <= 2e-3 * scale + 3e-2 * fmax(fabs(analytic), fabs(numeric));
}

/* Checks dL/dz and dL/dW of a network built from spec on a batch of n examples, at up to
 * `probes` coordinates each. Parameters are drawn larger than the training init so that
 * every layer's gradient is well away from zero. */
static void gradcheck(const char *what, const char *spec, int n, int training, int probes) {
    abp_net net;
    abp_err err;
    if (abp_net_build(spec, 0, n, &net, &err)) {
        CHECK(0, "%s: build failed: %s", what, err.msg);
        return;
    }
    net.training = training;
    int64_t nz = abp_shape_numel(net.in_shape) * n, ny = abp_shape_numel(net.out_shape) * n;
    float *z = malloc(sizeof(float) * (size_t)nz), *dz = malloc(sizeof(float) * (size_t)nz);
    float *r = malloc(sizeof(float) * (size_t)ny);
    abp_rng_normal(1, 99, 1, 0, 0, z, nz);
    abp_rng_normal(1, 99, 2, 0, 0, r, ny);
    abp_rng_normal(1, 99, 3, 0, 0, net.params, net.nparams);
    for (int i = 0; i < net.nlayers; i++) {
        abp_layer *l = &net.layers[i];
        if (l->nweight == 0) continue;
        int64_t fan_in = l->kind == ABP_BATCHNORM ? 1 : l->nweight / (l->kind == ABP_CONV ? l->out.c : l->kind == ABP_DECONV ? l->in.c : abp_shape_numel(l->out));
        if (l->kind == ABP_DECONV) fan_in = (int64_t)l->in.c * l->kh * l->kw / (l->sh * l->sw);
        if (l->kind == ABP_HEAD) fan_in = abp_shape_numel(l->in);
        float scale = l->kind == ABP_BATCHNORM ? 0.3f : 1.0f / sqrtf((float)(fan_in > 0 ? fan_in : 1));
        for (int64_t k = 0; k < l->nweight + l->nbias; k++) l->weight[k] *= scale;
        if (l->kind == ABP_BATCHNORM)
            for (int c = 0; c < l->out.c; c++) {
                l->weight[c] += 1.0f;
                l->running_mean[c] = 0.1f * (float)c;
                l->running_var[c] = 0.5f + 0.1f * (float)c;
            }
    }
    abp_net_zero_grads(&net);
    loss(&net, z, r, n);
    if (abp_net_backward(&net, r, n, dz, 1, &err)) {
        CHECK(0, "%s: backward failed: %s", what, err.msg);
        goto done;
    }
    double zscale = 0.0, wscale = 0.0;
    for (int64_t k = 0; k < nz; k++) zscale = fmax(zscale, fabs(dz[k]));
    for (int64_t k = 0; k < net.nparams; k++) wscale = fmax(wscale, fabs(net.grads[k]));
    CHECK(zscale > 0.0 || nz == 0, "%s: all input gradients are zero", what);
    CHECK(wscale > 0.0 || net.nparams == 0, "%s: all parameter gradients are zero", what);
    const float h = 1e-3f; /* small enough to cross few kinks, large enough for float */
    int64_t npat = kink_pattern(&net, n, NULL);
    unsigned char *pat_a = malloc((size_t)npat + 1), *pat_b = malloc((size_t)npat + 1);
    int bad_z = 0, bad_w = 0, skipped = 0, compared = 0;
    for (int p = 0; p < probes && p < nz; p++) {
        int64_t k = nz <= probes ? p : (int64_t)((uint64_t)p * 2654435761u % (uint64_t)nz);
        double numeric;
        if (!central_difference(&net, &z[k], z, r, n, h, pat_a, pat_b, npat, &numeric)) {
            skipped++;
            continue;
        }
        compared++;
        if (!close_enough(dz[k], numeric, zscale) && bad_z++ < 3)
            fprintf(stderr, "%s: dL/dz[%lld] analytic %.6g numeric %.6g\n", what, (long long)k, dz[k], numeric);
    }
    for (int p = 0; p < probes && p < net.nparams; p++) {
        int64_t k = net.nparams <= probes ? p : (int64_t)((uint64_t)p * 2654435761u % (uint64_t)net.nparams);
        double numeric;
        if (!central_difference(&net, &net.params[k], z, r, n, h, pat_a, pat_b, npat, &numeric)) {
            skipped++;
            continue;
        }
        compared++;
        if (!close_enough(net.grads[k], numeric, wscale) && bad_w++ < 3)
            fprintf(stderr, "%s: dL/dW[%lld] analytic %.6g numeric %.6g\n", what, (long long)k, net.grads[k], numeric);
    }
    free(pat_a), free(pat_b);
    /* Most probes must be real comparisons, or the check would prove nothing. */
    CHECK(compared >= skipped && compared >= (probes < 10 ? probes : 10), "%s: %d probes compared, %d skipped at kinks", what, compared, skipped);
    CHECK(bad_z == 0, "%s: %d input-gradient mismatches", what, bad_z);
    CHECK(bad_w == 0, "%s: %d parameter-gradient mismatches", what, bad_w);
done:
    free(z), free(dz), free(r);
    abp_net_free(&net);
}

static void test_layers(void) {
    gradcheck("linear vector", "z 7 | linear 5", 3, 1, 60);
    gradcheck("linear to image", "z 6 | linear 3x3x4", 3, 1, 60);
    gradcheck("linear from image", "z 6 | linear 2x3x2 | linear 4", 3, 1, 60);
    /* pixels in at the latent itself (dz is that layer's own dx), pixels on both sides, and
     * more output features than one block of the bias gradient (75 = 64 + 11) */
    gradcheck("linear from image, first layer", "z 2x3x2 | linear 4", 3, 1, 60);
    gradcheck("linear image to image", "z 3x3x2 | linear 2x2x3", 3, 1, 60);
    gradcheck("linear to image, 75 features", "z 4 | linear 5x5x3", 3, 1, 80);
    gradcheck("deconv k5 s2", "z 2x2x3 | deconv 4 k5 s2", 2, 1, 80);
    gradcheck("deconv k3 s1 p0", "z 3x3x2 | deconv 3 k3 s1 p0", 2, 1, 80);
    gradcheck("deconv k4 s2 p1 op0", "z 3x2x2 | deconv 2 k4 s2 p1 op0", 2, 1, 80);
    gradcheck("deconv1d k5 s3", "z 1x4x3 | deconv1d 2 k5 s3", 2, 1, 80);
    gradcheck("conv k3 s1", "z 5x5x2 | conv 3 k3 s1", 2, 1, 80);
    gradcheck("conv k5 s2", "z 8x7x2 | conv 3 k5 s2", 2, 1, 80);
    /* 16 channels and more in and out: these run in oneDNN where abp is built with it */
    gradcheck("deconv k5 s2, wide", "z 6x6x16 | deconv 16 k5 s2", 2, 1, 80);
    gradcheck("conv k5 s2, wide", "z 12x12x16 | conv 16 k5 s2", 2, 1, 80);
    gradcheck("batchnorm training", "z 3x3x4 | bn", 3, 1, 80);
    gradcheck("batchnorm evaluation", "z 3x3x4 | bn", 3, 0, 80);
    gradcheck("batchnorm on vectors", "z 5 | bn", 4, 1, 40);
    /* the pair the network runs as one pass */
    gradcheck("batchnorm + lrelu (fused), training", "z 3x3x4 | bn | lrelu 0.2", 3, 1, 80);
    gradcheck("batchnorm + lrelu (fused), evaluation", "z 3x3x4 | bn | lrelu 0.2", 3, 0, 80);
    gradcheck("batchnorm + lrelu (fused), first layer", "z 5 | bn | lrelu 0.1 | linear 3", 4, 1, 40);
    gradcheck("relu", "z 3x3x2 | relu", 2, 1, 36);
    gradcheck("lrelu", "z 3x3x2 | lrelu 0.2", 2, 1, 36);
    gradcheck("tanh", "z 3x3x2 | tanh", 2, 1, 36);
    gradcheck("sigmoid", "z 3x3x2 | sigmoid", 2, 1, 36);
    gradcheck("reshape", "z 12 | reshape 2x3x2 | conv 2 k3 s1", 2, 1, 48);
    /* HiABP's layers: dz covers the top code and every latent layer's code (its rows of z) */
    gradcheck("latent on features", "z 3 | linear 2x2x3 | latent 2 | conv 2 k3 s1", 3, 1, 80);
    gradcheck("latent on a vector", "z 4 | latent 3 | linear 5", 3, 1, 60);
    gradcheck("latent first, then another", "z 2 | latent 2 | linear 2x2x2 | latent 3 | conv 2 k3 s1 | tanh", 2, 1, 80);
    /* a head's mu and log sigma^2 and the chain after it both depend on its input */
    gradcheck("head", "z 3x3x2 | head 2 | conv 2 k3 s1 | lrelu 0.2 | linear 4", 2, 1, 80);
    gradcheck("head before batch norm", "z 2x2x3 | head 3 | bn | linear 6", 3, 1, 80);
    gradcheck("two heads", "z 4x4x1 | conv 2 k3 s2 | head 1 | head 2 | linear 2", 2, 1, 80);
}

static void test_networks(void) {
    /* The built-in models' structure at small width. */
    gradcheck("mnist28 small", "z 5 | linear 7x7x4 | bn | lrelu 0.2 | deconv 3 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh", 3, 1, 120);
    gradcheck("mnist28 small, evaluation", "z 5 | linear 7x7x4 | bn | lrelu 0.2 | deconv 3 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh", 3, 0, 80);
    gradcheck("faces64 small", "z 6 | linear 4x4x8 | bn | lrelu 0.2 | deconv 6 k5 s2 | bn | lrelu 0.2 | deconv 4 k5 s2 | bn | lrelu 0.2 | deconv 3 k5 s2 | bn | lrelu 0.2 | deconv 3 k5 s2 | tanh", 2, 1, 200);
    gradcheck("mnist28 narrower, wide enough for oneDNN", "z 4 | linear 6x6x16 | bn | lrelu 0.2 | deconv 16 k5 s2 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh", 2, 1, 120);
    gradcheck("texture net (latent image)", "z 3x3x2 | deconv 4 k5 s2 | bn | relu | deconv 2 k5 s2 | tanh", 2, 1, 80);
    gradcheck("sound net (1-D)", "z 1x3x2 | deconv1d 3 k7 s4 | bn | relu | deconv1d 1 k7 s4 | tanh", 2, 1, 80);
    gradcheck("encoder (conv, linear)", "z 8x8x1 | conv 3 k3 s2 | lrelu 0.2 | linear 4 | sigmoid", 2, 1, 80);
    /* hiabp-mnist28's structure at small width: dz of all three codes, and its encoder */
    gradcheck("hiabp-mnist28 small", "z 3 | linear 7x7x4 | bn | lrelu 0.2 | latent 2 | deconv 3 k5 s2 | bn | lrelu 0.2 | "
              "latent 2 | deconv 2 k3 s1 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh", 3, 1, 160);
    gradcheck("hiabp-mnist28 small, evaluation", "z 3 | linear 7x7x4 | bn | lrelu 0.2 | latent 2 | deconv 3 k5 s2 | bn | "
              "lrelu 0.2 | latent 2 | deconv 2 k3 s1 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh", 3, 0, 100);
    gradcheck("hiabp-mnist28-encoder small", "z 12x12x1 | conv 3 k5 s2 | bn | lrelu 0.2 | head 2 | conv 4 k5 s2 | bn | "
              "lrelu 0.2 | head 2 | linear 8 | lrelu 0.2 | linear 6", 3, 1, 160);
}

static void expect_shape(const char *spec, int c, int h, int w) {
    abp_net net;
    abp_err err;
    if (abp_net_build(spec, 0, 2, &net, &err)) {
        CHECK(0, "%s: %s", spec, err.msg);
        return;
    }
    CHECK(net.out_shape.c == c && net.out_shape.h == h && net.out_shape.w == w,
          "%s: output %dx%dx%d, expected %dx%dx%d", spec, net.out_shape.h, net.out_shape.w,
          net.out_shape.c, h, w, c);
    /* The canonical spec builds the same network. */
    abp_net again;
    if (abp_net_build(net.spec, 0, 2, &again, &err) == 0) {
        CHECK(again.nparams == net.nparams && again.out_shape.h == h && again.out_shape.w == w,
              "canonical spec '%s' differs", net.spec);
        abp_net_free(&again);
    } else {
        CHECK(0, "canonical spec '%s' does not parse: %s", net.spec, err.msg);
    }
    abp_net_free(&net);
}

static void expect_error(const char *spec, const char *needle) {
    abp_net net;
    abp_err err = {{0}};
    int rc = abp_net_build(spec, 0, 2, &net, &err);
    CHECK(rc != 0, "spec '%s' should be rejected", spec);
    if (rc == 0) abp_net_free(&net);
    else CHECK(strstr(err.msg, needle) != NULL, "spec '%s': message '%s' lacks '%s'", spec, err.msg, needle);
}

static void test_specs(void) {
    expect_shape(abp_model_spec("mnist28"), 1, 28, 28);
    expect_shape(abp_model_spec("faces64"), 3, 64, 64);
    expect_shape(abp_model_spec("faces25"), 1, 25, 25);
    expect_shape("z 7x7x8 | deconv 4 k5 s2 | deconv 3 k5 s2", 3, 28, 28);
    expect_shape("z 1x6x4 | deconv1d 2 k25 s10 | deconv1d 1 k25 s10", 1, 1, 600);
    expect_shape("z 28x28x1 | conv 8 k5 s2 | conv 4 k5 s2", 4, 7, 7);
    abp_net net;
    abp_err err;
    CHECK(abp_net_build(abp_model_spec("mnist28"), 0, 4, &net, &err) == 0, "mnist28: %s", err.msg);
    /* no bias on the layers before batch norm */
    CHECK(net.nparams == (30 * 6272) + 256 + (128 * 64 * 25) + 128 + (64 * 25 + 1),
          "mnist28 has %lld parameters", (long long)net.nparams);
    abp_net_free(&net);
    CHECK(abp_net_build("linear 10 | tanh", 12, 4, &net, &err) == 0, "--latent-dim: %s", err.msg);
    if (net.layers) {
        CHECK(net.in_shape.c == 12, "latent_dim override gave %d", net.in_shape.c);
        abp_net_free(&net);
    }
    expect_error("z 30 | linaer 10", "unknown layer kind");
    expect_error("z 30 | linear", "linear");
    expect_error("z 30 | | tanh", "empty layer");
    expect_error("linear 10", "no latent size");
    expect_error("z 30 | deconv 3 s2", "kernel");
    expect_error("z 2x2x1 | conv 3 k9 s1 p0", "kernel larger");
    expect_error("z 30 | lrelu 2", "SLOPE");
    expect_error("z 30 | reshape 7x7x2", "reshape");
    expect_error("z 4 | tanh | z 3", "latent must come first");
    /* hierarchical latents */
    expect_shape(abp_model_spec("hiabp-mnist28"), 1, 28, 28);
    expect_shape(abp_model_spec("hiabp-mnist28-encoder"), 60, 1, 1);
    expect_error("z 30 | latent", "expected 'latent N'");
    expect_error("z 30 | latent 0", "expected 'latent N'");
    expect_error("z 30 | head 2x2", "expected 'head N'");
    expect_error("z 2x2x3 | latent 2 | conv 1 k3 s1", "latent layers belong in a generator whose top latent is a vector");
    expect_error("z 4 | linear 2x2x1 | latent 2 | head 2 | linear 4", "not both");
    expect_error("z 3x3x1 | head 2 | linear 5", "even size");
    expect_error("z 3x3x1 | head 2 | conv 2 k3 s1", "even size");
    expect_error("z 3x3x1 | linear 4 | head 2", "even size");
    char *resized = NULL;
    CHECK(abp_spec_resize_latent("z 4 | latent 2 | conv 3 k1 s1", 2, 2, &resized, &err) != 0 && strstr(err.msg, "'latent'"),
          "a latent layer's model resized: %s", resized ? resized : err.msg);
    free(resized);
}

/* Batch norm in training mode normalises each channel over the whole batch. */
static void test_batchnorm_statistics(void) {
    abp_net net;
    abp_err err;
    if (abp_net_build("z 2x2x3 | bn", 0, 5, &net, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    float z[60];
    abp_rng_normal(3, 99, 0, 0, 0, z, 60);
    for (int k = 0; k < 60; k++) z[k] = 3.0f * z[k] + 7.0f;
    net.update_running = 1;
    CHECK(abp_net_forward(&net, z, 5, &err) == 0, "%s", err.msg);
    const float *y = abp_net_output(&net);
    for (int c = 0; c < 3; c++) {
        double m = 0, v = 0;
        for (int k = 0; k < 20; k++) m += y[c * 20 + k];
        m /= 20;
        for (int k = 0; k < 20; k++) v += (y[c * 20 + k] - m) * (y[c * 20 + k] - m);
        v /= 20;
        CHECK(fabs(m) < 1e-5 && fabs(v - 1.0) < 1e-3, "channel %d: mean %g var %g", c, m, v);
        CHECK(net.layers[0].running_mean[c] > 0.3f && net.layers[0].running_mean[c] < 1.1f,
              "running mean %g did not move by momentum 0.1 toward ~7", net.layers[0].running_mean[c]);
    }
    abp_net_free(&net);
}

/* The fused batch norm + lrelu pass gives the floats of the two layers run one after the
 * other: every activation the fused network keeps (all but the two pairs' middles, which
 * it does not allocate), the input gradient, every parameter gradient and the running
 * statistics, bitwise, in training and in evaluation mode. A batch of 37 leaves a tail
 * after the 8 lanes of the channel sums. */
static void test_fused_equals_layers(void) {
    const char *spec = "z 5 | linear 4x4x6 | bn | lrelu 0.2 | deconv 3 k5 s2 | bn | lrelu 0.05 | "
                       "deconv 2 k5 s2 | bn | relu | deconv 1 k3 s1 | tanh";
    enum { N = 37 };
    abp_net net[2];
    abp_err err;
    for (int v = 0; v < 2; v++)
        if (abp_net_build(spec, 0, N, &net[v], &err)) {
            CHECK(0, "fused test: %s", err.msg);
            if (v) abp_net_free(&net[0]);
            return;
        }
    if (abp_net_set_unfused(&net[1], 1, &err)) {
        CHECK(0, "fused test: %s", err.msg);
        abp_net_free(&net[0]);
        abp_net_free(&net[1]);
        return;
    }
    int middles = 0; /* the bn | lrelu pairs' (not bn | relu's) */
    for (int i = 0; i <= net[0].nlayers; i++) middles += !net[0].act[i];
    CHECK(middles == 2, "the fused network leaves %d activations unallocated, not its 2 bn | lrelu middles", middles);
    for (int i = 0; i <= net[1].nlayers; i++) CHECK(net[1].act[i], "the unfused network lacks activation %d", i);
    int64_t nz = abp_shape_numel(net[0].in_shape) * N, ny = abp_shape_numel(net[0].out_shape) * N;
    float *z = malloc(sizeof(float) * (size_t)nz), *r = malloc(sizeof(float) * (size_t)ny);
    float *dz[2] = {malloc(sizeof(float) * (size_t)nz), malloc(sizeof(float) * (size_t)nz)};
    abp_rng_normal(5, 99, 1, 0, 0, z, nz);
    abp_rng_normal(5, 99, 2, 0, 0, r, ny);
    for (int training = 1; training >= 0; training--) {
        for (int v = 0; v < 2; v++) {
            abp_net_init_params(&net[v], 7);
            /* gamma and beta away from 1 and 0, so that a slip in either shows. Evaluation
             * uses the statistics of the training pass just run: running statistics far from
             * the batch's would put all of the relu's input below 0 (the activations of
             * small initial weights are small), and no gradient would reach z. */
            for (int i = 0; i < net[v].nlayers; i++) {
                abp_layer *l = &net[v].layers[i];
                if (l->kind != ABP_BATCHNORM) continue;
                for (int c = 0; c < l->out.c; c++) {
                    l->weight[c] = 0.7f + 0.1f * (float)c;
                    l->bias[c] = 0.05f * (float)c - 0.1f;
                    float invstd = l->batch_invstd[c];
                    l->running_mean[c] = training ? 0.01f * (float)c : l->batch_mean[c];
                    l->running_var[c] = training ? 0.5f + 0.1f * (float)c : fmaxf(1.0f / (invstd * invstd) - l->eps, 0.0f);
                }
            }
            net[v].training = training;
            net[v].update_running = training;
            abp_net_zero_grads(&net[v]);
            CHECK(abp_net_forward(&net[v], z, N, &err) == 0, "fused test forward: %s", err.msg);
            CHECK(abp_net_backward(&net[v], r, N, dz[v], 1, &err) == 0, "fused test backward: %s", err.msg);
        }
        for (int i = 0; i <= net[0].nlayers; i++) {
            if (!net[0].act[i]) continue; /* a middle, not kept */
            size_t bytes = sizeof(float) * (size_t)(abp_shape_numel(i ? net[0].layers[i - 1].out : net[0].in_shape) * N);
            CHECK(memcmp(net[0].act[i], net[1].act[i], bytes) == 0, "training %d: activation %d differs, fused against layers",
                  training, i);
        }
        CHECK(memcmp(dz[0], dz[1], sizeof(float) * (size_t)nz) == 0, "training %d: dL/dz differs, fused against layers", training);
        CHECK(memcmp(net[0].grads, net[1].grads, sizeof(float) * (size_t)net[0].nparams) == 0,
              "training %d: parameter gradients differ, fused against layers", training);
        CHECK(memcmp(net[0].buffers, net[1].buffers, sizeof(float) * (size_t)net[0].nbuffers) == 0,
              "training %d: running statistics differ, fused against layers", training);
        double gsum = 0, zsum = 0;
        for (int64_t k = 0; k < net[0].nparams; k++) gsum += fabs(net[0].grads[k]);
        for (int64_t k = 0; k < nz; k++) zsum += fabs(dz[0][k]);
        CHECK(gsum > 0, "training %d: no parameter gradient at all", training);
        CHECK(zsum > 0, "training %d: no gradient reaches z (through every fused pair)", training);
    }
    free(z), free(r), free(dz[0]), free(dz[1]);
    abp_net_free(&net[0]);
    abp_net_free(&net[1]);
}

/* The middle of a bn | lrelu pair exists only while the network runs unfused: made by
 * abp_net_set_unfused, kept by abp_net_set_max_batch, freed again by turning fusion back
 * on; a flag set by hand, with no buffer, is refused rather than written through NULL. */
static void test_unfused_buffers(void) {
    abp_net net;
    abp_err err = {{0}};
    if (abp_net_build("z 2 | linear 2x2x3 | bn | lrelu 0.2 | conv 1 k3 s1 p1", 0, 2, &net, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    float z[4] = {0.5f, -1.0f, 2.0f, 0.25f};
    CHECK(!net.act[2] && net.act[3], "built fused, the pair's middle is not allocated");
    net.unfused = 1;
    CHECK(abp_net_forward(&net, z, 2, &err) != 0 && strstr(err.msg, "abp_net_set_unfused"),
          "unfused set by hand: %s", err.msg);
    net.unfused = 0;
    CHECK(abp_net_set_unfused(&net, 1, &err) == 0 && net.unfused && net.act[2], "set unfused: %s", err.msg);
    CHECK(abp_net_set_max_batch(&net, 5, &err) == 0 && net.unfused && net.act[2], "a bigger batch: %s", err.msg);
    CHECK(abp_net_forward(&net, z, 2, &err) == 0, "unfused forward: %s", err.msg);
    CHECK(abp_net_set_unfused(&net, 0, &err) == 0 && !net.unfused && !net.act[2], "fused again: %s", err.msg);
    CHECK(abp_net_forward(&net, z, 2, &err) == 0, "fused forward: %s", err.msg);
    abp_net_free(&net);
}

/* A NaN in gives a NaN out of every activation: a select such as x > 0 ? x : 0 would turn
 * it into 0 and hide a diverged network behind a finite loss (issue 13). */
static void test_nan_propagates(void) {
    const char *specs[] = {"z 1x1x4 | relu", "z 1x1x4 | lrelu 0.2", "z 1x1x4 | tanh", "z 1x1x4 | sigmoid",
                           "z 1x1x4 | bn", "z 1x1x4 | bn | lrelu 0.2"};
    for (int s = 0; s < 6; s++) {
        abp_net net;
        abp_err err = {{0}};
        if (abp_net_build(specs[s], 0, 2, &net, &err)) {
            CHECK(0, "%s: %s", specs[s], err.msg);
            continue;
        }
        abp_net_init_params(&net, 1);
        net.training = 1;
        /* CNS layout: channel 1 of example 0 is NaN, channel 2 of example 1 is -infinity. */
        float z[8] = {1.0f, -2.0f, NAN, 0.5f, -0.25f, -INFINITY, 3.0f, -1.0f};
        CHECK(abp_net_forward(&net, z, 2, &err) == 0, "%s: %s", specs[s], err.msg);
        const float *y = abp_net_output(&net);
        CHECK(isnan(y[2]), "%s: NaN in, %g out", specs[s], y[2]);
        /* relu, tanh and sigmoid of -infinity are 0, -1 and 0, as they should be. */
        CHECK(!isfinite(y[5]) || s == 0 || s == 2 || s == 3, "%s: -infinity in, %g out", specs[s], y[5]);
        CHECK(isfinite(y[0]) && isfinite(y[6]), "%s: finite in, %g and %g out", specs[s], y[0], y[6]);
        abp_net_free(&net);
    }
    /* ... and the loss of a NaN output is NaN, also at an observed pixel under a mask. */
    float g[3] = {0.5f, NAN, 0.25f}, y[3] = {0.0f, 0.0f, 0.0f}, mask[3] = {1.0f, 1.0f, 0.0f}, dout[3];
    CHECK(isnan(abp_residual(g, y, NULL, dout, 3, 1.0f)), "NaN output, finite loss");
    CHECK(isnan(abp_residual(g, y, mask, dout, 3, 1.0f)), "NaN at an observed pixel, finite masked loss");
}

int main(void) {
    test_nan_propagates();
    test_specs();
    test_batchnorm_statistics();
    test_fused_equals_layers();
    test_unfused_buffers();
    test_layers();
    test_networks();
    return check_summary("test_nn");
}
