/* The classify objective's gradient (abp/classify.h): the softmax cross-entropy against
 * central differences in the logits, and the whole loss through a small classifier of the
 * shape of classify28 (conv, lrelu, conv, lrelu, linear, lrelu, linear) in its input image
 * and in its parameters; the loss stays finite for logits far beyond exp's range, and the
 * hit count is the argmax's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "abp/classify.h"
#include "abp/nn.h"
#include "abp/rng.h"
#include "check.h"

enum { N = 3, K = 5, SIDE = 8 };

static int close_enough(double a, double b) { return fabs(a - b) <= 2e-2 * fmax(1e-2, fmax(fabs(a), fabs(b))); }

static const uint8_t labels[N] = {4, 0, 2};

/* In the logits: dL/dlogit_k = (p_k - [k = label]) * scale, per example. */
static void test_in_logits(void) {
    float logits[K * N], g[K * N];
    abp_rng_normal(7, 1, 0, 0, 0, logits, K * N);
    for (int k = 0; k < K * N; k++) logits[k] *= 2.0f;
    const float scale = 1.0f / N;
    abp_classify_loss(logits, labels, N, K, g, scale, NULL);
    int bad = 0;
    for (int k = 0; k < K * N; k++) {
        float keep = logits[k], h = 1e-2f;
        logits[k] = keep + h;
        double up = abp_classify_loss(logits, labels, N, K, NULL, 0.0f, NULL);
        logits[k] = keep - h;
        double down = abp_classify_loss(logits, labels, N, K, NULL, 0.0f, NULL);
        logits[k] = keep;
        double numeric = scale * (up - down) / (2.0 * h);
        if (!close_enough(g[k], numeric)) {
            if (bad < 3) fprintf(stderr, "logit %d: analytic %g numeric %g\n", k, (double)g[k], numeric);
            bad++;
        }
    }
    CHECK(bad == 0, "%d of %d logit partials differ from central differences", bad, K * N);
    /* each example's gradient sums to zero (softmax is shift-invariant) */
    for (int i = 0; i < N; i++) {
        double sum = 0.0;
        for (int k = 0; k < K; k++) sum += g[k * N + i];
        CHECK(fabs(sum) < 1e-6, "example %d: the gradient sums to %g, not 0", i, sum);
    }
    /* logits of 1000 (exp overflows float and double): log-sum-exp keeps the loss finite,
     * and a confident right answer costs almost nothing, a confident wrong one its margin */
    float big[K * N];
    for (int k = 0; k < K * N; k++) big[k] = 0.0f;
    for (int i = 0; i < N; i++) big[labels[i] * N + i] = 1000.0f;
    int hits = -1;
    double right = abp_classify_loss(big, labels, N, K, g, scale, &hits);
    CHECK(isfinite(right) && right < 1e-6, "confident right answers: loss %g", right);
    CHECK(hits == N, "argmax hits %d of %d", hits, N);
    for (int i = 0; i < N; i++) big[labels[i] * N + i] = 0.0f, big[((labels[i] + 1) % K) * N + i] = 1000.0f;
    double wrong = abp_classify_loss(big, labels, N, K, g, scale, &hits);
    CHECK(fabs(wrong - 1000.0 * N) < 1e-3, "confident wrong answers: loss %g, expected %g", wrong, 1000.0 * N);
    CHECK(hits == 0, "argmax hits %d of 0", hits);
    int finite = 1;
    for (int k = 0; k < K * N; k++) finite &= isfinite(g[k]);
    CHECK(finite, "the gradient at logits of 1000 is not finite");
}

/* The loss (times 1/N, as the objective scales it) through the classifier. */
static double net_loss(abp_net *net, const float *x, float *dlogits) {
    abp_err err;
    if (abp_net_forward(net, x, N, &err)) return NAN;
    return abp_classify_loss(abp_net_output(net), labels, N, K, dlogits, 1.0f / N, NULL) / N;
}

/* Signs of every lrelu input of the last forward pass, read from its output (as test_nn):
 * a central difference whose two evaluations see different signs straddles a kink and is
 * skipped. */
static int64_t kink_pattern(const abp_net *net, unsigned char *out) {
    int64_t count = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const abp_layer *l = &net->layers[i];
        if (l->kind != ABP_LRELU) continue;
        for (int64_t k = 0; k < abp_shape_numel(l->in) * N; k++) {
            if (out) out[count] = net->act[i + 1][k] > 0.0f;
            count++;
        }
    }
    return count;
}

typedef struct probe {
    abp_net *net;
    const float *x;
    unsigned char *up, *down;
    int64_t npat;
    int compared, skipped, bad;
} probe;

/* Compares one analytic partial (of coordinate *v) with a central difference of the loss. */
static void compare(probe *p, float *v, double analytic, double scale, const char *what, int64_t k) {
    const float h = 1e-3f, keep = *v;
    *v = keep + h;
    double up = net_loss(p->net, p->x, NULL);
    kink_pattern(p->net, p->up);
    *v = keep - h;
    double down = net_loss(p->net, p->x, NULL);
    kink_pattern(p->net, p->down);
    *v = keep;
    if (memcmp(p->up, p->down, (size_t)p->npat) != 0) {
        p->skipped++;
        return;
    }
    p->compared++;
    double numeric = (up - down) / (2.0 * h);
    if (fabs(analytic - numeric) > 2e-3 * scale + 3e-2 * fmax(fabs(analytic), fabs(numeric))) {
        if (p->bad < 3) fprintf(stderr, "%s %lld: analytic %g numeric %g\n", what, (long long)k, analytic, numeric);
        p->bad++;
    }
}

/* In the input image and in the parameters, through a small classify28. */
static void test_through_net(void) {
    abp_net net;
    abp_err err;
    int rc = abp_net_build("z 8x8x1 | conv 4 k3 s2 p1 | lrelu 0.2 | conv 6 k3 s2 p1 | lrelu 0.2 | linear 8 | "
                           "lrelu 0.2 | linear 5", 0, N, &net, &err);
    CHECK(rc == 0, "build: %s", err.msg);
    if (rc) return;
    CHECK(net.out_shape.c == K && net.out_shape.h == 1 && net.out_shape.w == 1, "the classifier's output is not K logits");
    abp_net_init_params(&net, 9);
    for (int64_t k = 0; k < net.nparams; k++) net.params[k] *= 20.0f; /* logits and gradients of a useful size */
    net.training = 1;
    enum { D = SIDE * SIDE };
    float x[D * N], dlogits[K * N], dx[D * N];
    abp_rng_normal(8, 1, 0, 0, 0, x, D * N);
    abp_net_zero_grads(&net);
    net_loss(&net, x, dlogits);
    rc = abp_net_backward(&net, dlogits, N, dx, 1, &err);
    CHECK(rc == 0, "backward: %s", err.msg);
    float *analytic = rc ? NULL : malloc(sizeof(float) * (size_t)net.nparams);
    int64_t npat = kink_pattern(&net, NULL);
    probe p = {.net = &net, .x = x, .up = malloc((size_t)npat + 1), .down = malloc((size_t)npat + 1), .npat = npat};
    if (!analytic || !p.up || !p.down) goto done;
    memcpy(analytic, net.grads, sizeof(float) * (size_t)net.nparams);
    double xscale = 0.0, wscale = 0.0;
    for (int k = 0; k < D * N; k++) xscale = fmax(xscale, fabs(dx[k]));
    for (int64_t k = 0; k < net.nparams; k++) wscale = fmax(wscale, fabs(analytic[k]));
    CHECK(xscale > 1e-3 && wscale > 1e-3, "gradients all but zero (input %g, parameters %g): the test would prove nothing",
          xscale, wscale);

    for (int k = 0; k < D * N; k++) compare(&p, &x[k], dx[k], xscale, "input", k);
    int bad_x = p.bad;
    CHECK(bad_x == 0, "in the input image: %d partials differ from central differences", bad_x);
    p.bad = 0;
    for (int64_t k = 0; k < net.nparams; k += 2) compare(&p, &net.params[k], analytic[k], wscale, "param", k);
    CHECK(p.bad == 0, "in the parameters: %d partials differ from central differences", p.bad);
    /* most probes must be real comparisons, or the check would prove nothing */
    CHECK(p.compared > 4 * p.skipped && p.compared > 100, "%d probes compared, %d skipped at kinks", p.compared, p.skipped);
done:
    free(p.up);
    free(p.down);
    free(analytic);
    abp_net_free(&net);
}

int main(void) {
    test_in_logits();
    test_through_net();
    return check_summary("classify");
}
