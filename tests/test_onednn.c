/* The convolutions and deconvolutions that oneDNN runs against the same layers on the GEMM
 * path (im2col/col2im + sgemm, whose gradients test_nn checks against finite differences):
 * the output, the input gradient and every parameter gradient, for layers and whole
 * networks, with batches that are made once and batches of another size; the switch that
 * turns oneDNN off; and that the wide layers really run in oneDNN (else this test would
 * compare the GEMM path with itself). Exit 77 (skipped) when abp was built without oneDNN. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/nn.h"
#include "abp/rng.h"
#include "check.h"

static double max_abs(const float *a, int64_t n) {
    double m = 0.0;
    for (int64_t k = 0; k < n; k++) m = fmax(m, fabs(a[k]));
    return m;
}

/* Largest |a - b| relative to the larger of the two arrays' largest magnitude. */
static double rel_diff(const float *a, const float *b, int64_t n) {
    double m = 0.0, scale = fmax(max_abs(a, n), max_abs(b, n));
    for (int64_t k = 0; k < n; k++) m = fmax(m, fabs((double)a[k] - b[k]));
    return scale > 0.0 ? m / scale : m;
}

/* Builds spec twice, one in oneDNN and one on the GEMM path, with the same parameters, and
 * compares a training forward and backward pass on batches of each size in sizes[]. want[]
 * lists the layers that must run in oneDNN (-1 ends it). */
static void compare(const char *what, const char *spec, const int *sizes, int nsizes, const int *want) {
    abp_net a, b;
    abp_err err;
    int max_n = 0;
    for (int s = 0; s < nsizes; s++) max_n = sizes[s] > max_n ? sizes[s] : max_n;
    if (abp_net_build(spec, 0, max_n, &a, &err) || abp_net_build(spec, 0, max_n, &b, &err)) {
        CHECK(0, "%s: build failed: %s", what, err.msg);
        return;
    }
    CHECK(abp_net_use_onednn(&a, 1) == 1, "%s: oneDNN did not start", what);
    CHECK(abp_net_use_onednn(&b, 0) == 0, "%s: oneDNN could not be turned off", what);
    abp_rng_normal(1, 7, 3, 0, 0, a.params, a.nparams);
    for (int64_t k = 0; k < a.nparams; k++) a.params[k] *= 0.1f;
    memcpy(b.params, a.params, sizeof(float) * (size_t)a.nparams);
    int64_t nz = abp_shape_numel(a.in_shape) * max_n, ny = abp_shape_numel(a.out_shape) * max_n;
    float *z = malloc(sizeof(float) * (size_t)nz), *r = malloc(sizeof(float) * (size_t)ny);
    float *dz_a = malloc(sizeof(float) * (size_t)nz), *dz_b = malloc(sizeof(float) * (size_t)nz);
    abp_rng_normal(1, 7, 1, 0, 0, z, nz);
    abp_rng_normal(1, 7, 2, 0, 0, r, ny);
    for (int s = 0; s < nsizes; s++) {
        int n = sizes[s];
        abp_net_zero_grads(&a);
        abp_net_zero_grads(&b);
        if (abp_net_forward(&a, z, n, &err) || abp_net_forward(&b, z, n, &err) ||
            abp_net_backward(&a, r, n, dz_a, 1, &err) || abp_net_backward(&b, r, n, dz_b, 1, &err)) {
            CHECK(0, "%s: a pass failed: %s", what, err.msg);
            break;
        }
        for (int i = 0; want[i] >= 0; i++)
            CHECK(abp_net_layer_in_onednn(&a, want[i]) && !abp_net_layer_in_onednn(&b, want[i]),
                  "%s: layer %d runs in oneDNN in the one net only", what, want[i]);
        int64_t out = abp_shape_numel(a.out_shape) * n, in = abp_shape_numel(a.in_shape) * n;
        double dy = rel_diff(abp_net_output(&a), abp_net_output(&b), out);
        double dx = rel_diff(dz_a, dz_b, in);
        CHECK(dy < 1e-5, "%s, batch %d: outputs differ by %.3g (relative)", what, n, dy);
        CHECK(dx < 1e-5, "%s, batch %d: input gradients differ by %.3g", what, n, dx);
        CHECK(max_abs(dz_a, in) > 0.0, "%s, batch %d: the input gradient is zero", what, n);
        for (int i = 0; i < a.nlayers; i++) {
            const abp_layer *la = &a.layers[i], *lb = &b.layers[i];
            if (!la->nweight) continue;
            double dw = rel_diff(la->dweight, lb->dweight, la->nweight);
            CHECK(dw < 1e-5 && max_abs(la->dweight, la->nweight) > 0.0,
                  "%s, batch %d: layer %s's weight gradients differ by %.3g", what, n, la->name, dw);
            if (la->nbias)
                CHECK(rel_diff(la->dbias, lb->dbias, la->nbias) < 1e-5,
                      "%s, batch %d: layer %s's bias gradients differ", what, n, la->name);
        }
    }
    free(z), free(r), free(dz_a), free(dz_b);
    abp_net_free(&a);
    abp_net_free(&b);
}

/* Gradients accumulate over calls on oneDNN's path as on the GEMM path (abp sums a batch's
 * chunks into one gradient): two backward passes give twice one. */
static void accumulates(void) {
    abp_net net;
    abp_err err;
    const char *spec = "z 6x6x16 | deconv 16 k5 s2";
    if (abp_net_build(spec, 0, 2, &net, &err)) {
        CHECK(0, "build failed: %s", err.msg);
        return;
    }
    abp_rng_normal(1, 8, 3, 0, 0, net.params, net.nparams);
    int64_t nz = 2 * abp_shape_numel(net.in_shape), ny = 2 * abp_shape_numel(net.out_shape);
    float *z = malloc(sizeof(float) * (size_t)nz), *r = malloc(sizeof(float) * (size_t)ny);
    float *dz = malloc(sizeof(float) * (size_t)nz), *once = malloc(sizeof(float) * (size_t)net.nparams);
    abp_rng_normal(1, 8, 1, 0, 0, z, nz);
    abp_rng_normal(1, 8, 2, 0, 0, r, ny);
    abp_net_zero_grads(&net);
    int rc = abp_net_forward(&net, z, 2, &err) || abp_net_backward(&net, r, 2, dz, 1, &err);
    memcpy(once, net.grads, sizeof(float) * (size_t)net.nparams);
    rc = rc || abp_net_forward(&net, z, 2, &err) || abp_net_backward(&net, r, 2, dz, 1, &err);
    CHECK(rc == 0, "passes failed: %s", err.msg);
    CHECK(abp_net_layer_in_onednn(&net, 0), "the deconvolution does not run in oneDNN");
    double worst = 0.0;
    for (int64_t k = 0; k < net.nparams; k++) worst = fmax(worst, fabs(net.grads[k] - 2.0 * once[k]));
    CHECK(worst <= 1e-5 * max_abs(once, net.nparams), "two backward passes are not twice one (%.3g off)", worst);
    free(once);
    free(z);
    free(r);
    free(dz);
    abp_net_free(&net);
}

/* The environment's ABP_ONEDNN: 0 builds every network on the GEMM path; 1, auto or unset
 * puts the layers oneDNN takes in it; anything else is refused by name. */
static int built_with(const char *value, abp_err *err) {
    abp_net net;
    if (value) setenv("ABP_ONEDNN", value, 1);
    else unsetenv("ABP_ONEDNN");
    int rc = abp_net_build("z 6x6x16 | deconv 16 k5 s2", 0, 2, &net, err);
    unsetenv("ABP_ONEDNN");
    if (rc) return -1;
    int on = net.onednn != NULL && abp_net_layer_in_onednn(&net, 0);
    abp_net_free(&net);
    return on;
}

static void environment_switch(void) {
    abp_err err;
    CHECK(built_with("0", &err) == 0, "ABP_ONEDNN=0 left oneDNN on");
    CHECK(built_with("1", &err) == 1, "ABP_ONEDNN=1 did not put the layer in oneDNN");
    CHECK(built_with(NULL, &err) == 1, "with ABP_ONEDNN unset the layer is not in oneDNN");
    CHECK(built_with("auto", &err) == 1, "ABP_ONEDNN=auto did not put the layer in oneDNN");
    CHECK(built_with("yes", &err) == -1 && strstr(err.msg, "ABP_ONEDNN is 'yes'"),
          "ABP_ONEDNN=yes was not refused by name: %s", err.msg);
    CHECK(strcmp(abp_onednn_isa(), "none") != 0, "built with oneDNN, but its instruction set is none");
}

/* Which layers oneDNN takes is a rule of their shapes: 16 channels in and out, and a small image
 * (a deconvolution's input, a convolution's output) of 32 pixels or more. */
static void which_layers(void) {
    const struct {
        const char *spec;
        int in_onednn[3];
    } cases[] = {
        {"z 4x4x16 | deconv 16 k5 s2 | deconv 16 k5 s2 | deconv 8 k5 s2", {0, 1, 0}},
        {"z 16x16x16 | conv 16 k5 s2 | conv 16 k5 s2 | conv 16 k5 s2", {1, 0, 0}},
        {"z 1x31x16 | deconv1d 16 k25 s10 | deconv1d 16 k25 s10 | deconv1d 15 k25 s10", {0, 1, 0}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        abp_net net;
        abp_err err;
        if (abp_net_build(cases[c].spec, 0, 1, &net, &err)) {
            CHECK(0, "%s: build failed: %s", cases[c].spec, err.msg);
            continue;
        }
        CHECK(abp_net_use_onednn(&net, 1) == 1, "%s: oneDNN did not start", cases[c].spec);
        for (int i = 0; i < 3; i++)
            CHECK(abp_net_layer_in_onednn(&net, i) == cases[c].in_onednn[i],
                  "%s: layer %d %s oneDNN", cases[c].spec, i, cases[c].in_onednn[i] ? "is not in" : "is in");
        abp_net_free(&net);
    }
}

/* Runs a training pass of spec on `threads` OpenMP threads (oneDNN's kernels run on abp's
 * OpenMP runtime) and returns a malloc'd copy of the output, the input gradient and the
 * parameter gradients, in that order; *count gets their number. */
static float *pass_on_threads(const char *spec, int n, int threads, int64_t *count) {
    abp_net net;
    abp_err err;
    omp_set_num_threads(threads);
    if (abp_net_build(spec, 0, n, &net, &err)) {
        CHECK(0, "build failed: %s", err.msg);
        return NULL;
    }
    abp_rng_normal(1, 9, 3, 0, 0, net.params, net.nparams);
    for (int64_t k = 0; k < net.nparams; k++) net.params[k] *= 0.1f;
    int64_t nz = abp_shape_numel(net.in_shape) * n, ny = abp_shape_numel(net.out_shape) * n;
    *count = ny + nz + net.nparams;
    float *all = malloc(sizeof(float) * (size_t)*count), *z = malloc(sizeof(float) * (size_t)nz);
    float *r = malloc(sizeof(float) * (size_t)ny);
    abp_rng_normal(1, 9, 1, 0, 0, z, nz);
    abp_rng_normal(1, 9, 2, 0, 0, r, ny);
    abp_net_zero_grads(&net);
    if (abp_net_forward(&net, z, n, &err) || abp_net_backward(&net, r, n, all + ny, 1, &err))
        CHECK(0, "a pass failed: %s", err.msg);
    CHECK(abp_net_layer_in_onednn(&net, 0), "the first layer does not run in oneDNN");
    memcpy(all, abp_net_output(&net), sizeof(float) * (size_t)ny);
    memcpy(all + ny + nz, net.grads, sizeof(float) * (size_t)net.nparams);
    free(z), free(r);
    abp_net_free(&net);
    return all;
}

/* oneDNN's forward and input-gradient kernels split their work so that each output is
 * summed by one thread: bitwise the same floats on any thread count. Its weight-gradient
 * kernel splits the sum over the batch among the threads (on 3 threads 23,499 of these
 * 25,632 gradients differ in the last bits, on 2 none do), as OpenBLAS's sgemm does on
 * the GEMM path: those are only close. */
static void thread_counts(const char *what, const char *spec, int n, int threads) {
    int64_t n1 = 0, nt = 0;
    float *one = pass_on_threads(spec, n, 1, &n1), *many = pass_on_threads(spec, n, threads, &nt);
    abp_net probe;
    abp_err err;
    if (one && many && n1 == nt && !abp_net_build(spec, 0, n, &probe, &err)) {
        int64_t nparams = probe.nparams, activations = n1 - nparams, differ = 0;
        abp_net_free(&probe);
        for (int64_t k = 0; k < activations; k++) differ += memcmp(&one[k], &many[k], sizeof(float)) != 0;
        CHECK(differ == 0, "%s: %lld outputs or input gradients differ between 1 and %d threads", what,
              (long long)differ, threads);
        double dw = rel_diff(one + activations, many + activations, nparams);
        CHECK(dw < 1e-5, "%s: weight gradients on 1 and %d threads differ by %.3g", what, threads, dw);
    } else {
        CHECK(0, "%s: the passes on 1 and %d threads failed", what, threads);
    }
    free(one), free(many);
}

int main(void) {
    abp_net probe;
    abp_err err;
    if (abp_net_build("z 2 | linear 2", 0, 1, &probe, &err)) {
        fprintf(stderr, "test_onednn: %s\n", err.msg);
        return 1;
    }
    int available = abp_net_use_onednn(&probe, 1);
    abp_net_free(&probe);
    if (!available) {
        printf("test_onednn: abp is built without oneDNN (apt-get install libdnnl-dev): skipped\n");
        return 77;
    }
    const int one[] = {3}, two[] = {4, 3, 4}, deconv[] = {0, -1}, conv[] = {0, -1};
    compare("deconv k5 s2", "z 6x6x16 | deconv 16 k5 s2", one, 1, deconv);
    compare("deconv k5 s2, two batch sizes", "z 6x7x24 | deconv 32 k5 s2", two, 3, deconv);
    compare("deconv k3 s1 p0", "z 6x6x16 | deconv 16 k3 s1 p0", one, 1, deconv);
    compare("deconv k4 s2 p1 op0", "z 6x6x16 | deconv 16 k4 s2 p1 op0", one, 1, deconv);
    compare("deconv1d k25 s10", "z 1x40x16 | deconv1d 16 k25 s10", one, 1, deconv);
    compare("conv k5 s2", "z 13x12x16 | conv 24 k5 s2", two, 3, conv);
    compare("conv k3 s1", "z 7x7x16 | conv 16 k3 s1", one, 1, conv);
    const int mnist_like[] = {3, 6, -1};
    compare("a generator with a narrow last layer",
            "z 5 | linear 6x6x32 | bn | lrelu 0.2 | deconv 16 k5 s2 | bn | lrelu 0.2 | deconv 16 k5 s2 | bn | "
            "lrelu 0.2 | deconv 1 k5 s2 | tanh", two, 3, mnist_like);
    const int encoder_like[] = {3, -1};
    compare("an encoder", "z 32x32x1 | conv 16 k5 s2 | bn | lrelu 0.2 | conv 32 k5 s2 | bn | lrelu 0.2 | linear 4",
            one, 1, encoder_like);
    which_layers();
    accumulates();
    environment_switch();
    for (int threads = 2; threads <= 3; threads++) {
        thread_counts("deconv on threads", "z 8x8x32 | deconv 32 k5 s2", 8, threads);
        thread_counts("conv on threads", "z 16x16x32 | conv 32 k5 s2", 8, threads);
    }
    return check_summary("onednn");
}
