/* abp_tanhf and abp_sigmoidf (abp/fastmath.h) against libm in double on a dense grid, at
 * the bounds the header states; and the tanh and sigmoid layers, whose loops the compiler
 * vectorises and abp splits over threads, give exactly the scalar function's floats. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "abp/fastmath.h"
#include "abp/nn.h"
#include "check.h"

/* Grid of step 1e-5 over [-20, 20]: 4 million points, every float region tanh bends in. */
static void test_bounds(void) {
    double tanh_abs = 0, tanh_rel = 0, sig_abs = 0, sig_rel = 0;
    int odd = 1;
    for (long i = -2000000; i <= 2000000; i++) {
        float x = (float)i * 1e-5f;
        double t = tanh((double)x), s = 1.0 / (1.0 + exp(-(double)x));
        double et = fabs((double)abp_tanhf(x) - t), es = fabs((double)abp_sigmoidf(x) - s);
        if (et > tanh_abs) tanh_abs = et;
        if (t != 0 && et / fabs(t) > tanh_rel) tanh_rel = et / fabs(t);
        if (es > sig_abs) sig_abs = es;
        if (es / s > sig_rel) sig_rel = es / s;
        if (abp_tanhf(-x) != -abp_tanhf(x)) odd = 0;
    }
    printf("tanh: max error %.3g absolute, %.3g relative; sigmoid: %.3g absolute, %.3g relative\n",
           tanh_abs, tanh_rel, sig_abs, sig_rel);
    CHECK(tanh_abs <= 4.0e-7, "tanh absolute error %.3g above the stated 4.0e-7", tanh_abs);
    CHECK(tanh_rel <= 4.0e-7, "tanh relative error %.3g above the stated 4.0e-7", tanh_rel);
    CHECK(sig_abs <= 9.0e-8, "sigmoid absolute error %.3g above the stated 9e-8", sig_abs);
    CHECK(sig_rel <= 1.5e-7, "sigmoid relative error %.3g above the stated 1.5e-7", sig_rel);
    CHECK(odd, "abp_tanhf is not odd");
    /* The far tails, down to where sigmoid's true value is a denormal. */
    for (float x = 20.0f; x <= 87.0f; x += 0.01f) {
        double s = 1.0 / (1.0 + exp((double)x));
        CHECK(fabs(abp_sigmoidf(-x) - s) / s <= 1.5e-7, "sigmoid(%g) = %g, libm %g", -x, abp_sigmoidf(-x), s);
        CHECK(abp_tanhf(x) == 1.0f && abp_tanhf(-x) == -1.0f, "tanh(%g) = %.9g", x, abp_tanhf(x));
        if (check_failed) break;
    }
    CHECK(abp_tanhf(INFINITY) == 1.0f && abp_tanhf(-INFINITY) == -1.0f, "tanh(+-inf)");
    CHECK(abp_sigmoidf(INFINITY) == 1.0f && abp_sigmoidf(-INFINITY) < 1e-38f, "sigmoid(+-inf)");
    CHECK(abp_tanhf(0.0f) == 0.0f && abp_sigmoidf(0.0f) == 0.5f, "tanh(0), sigmoid(0)");
}

/* A layer over 16 x 64 x 64 values (above ABP_PARALLEL_MIN, so threaded and vectorised)
 * gives each value the scalar function's float, on 1 and on 3 threads. */
static void test_layer(const char *spec, float (*scalar)(float)) {
    abp_net net;
    abp_err err = {{0}};
    const int n = 16;
    CHECK(abp_net_build(spec, 0, n, &net, &err) == 0, "%s", err.msg);
    if (check_failed) return;
    int64_t count = abp_shape_numel(net.in_shape) * n;
    CHECK(count >= ABP_PARALLEL_MIN, "the layer would not be threaded");
    float *z = malloc(sizeof(float) * (size_t)count);
    for (int64_t k = 0; k < count; k++) z[k] = (float)(k % 4001 - 2000) * 5e-3f; /* [-10, 10] */
    for (int threads = 1; threads <= 3; threads += 2) {
        omp_set_num_threads(threads);
        CHECK(abp_net_forward(&net, z, n, &err) == 0, "%s", err.msg);
        const float *y = abp_net_output(&net);
        int64_t bad = 0;
        for (int64_t k = 0; k < count; k++) bad += y[k] != scalar(z[k]);
        CHECK(bad == 0, "%s on %d threads: %lld of %lld values differ from the scalar function", spec,
              threads, (long long)bad, (long long)count);
    }
    free(z);
    abp_net_free(&net);
}

int main(void) {
    test_bounds();
    test_layer("z 64x64x1 | tanh", abp_tanhf);
    test_layer("z 64x64x1 | sigmoid", abp_sigmoidf);
    return check_summary("test_fastmath");
}
