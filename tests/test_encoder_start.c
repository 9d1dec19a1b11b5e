/* Inference over a data set started by the encoder (abp_infer_data with ABP_START_ENCODER,
 * src/train/infer_data.c), on small random networks:
 *   - with 0 Langevin steps the result is exactly g(mu) and z is exactly mu ([E]), computed
 *     here directly with the same batches;
 *   - with a mask, the encoder never sees the occluded values: changing them changes nothing;
 *   - Langevin steps from the encoder's start move z, and an example's result does not
 *     depend on the others of its batch nor on the batch size beyond rounding (ids key it);
 *   - an encoder that does not fit, one in training mode, or too small a batch is an error. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "abp/rng.h"
#include "abp/train.h"
#include "check.h"

enum { N = 10, D = 4 };

static const char *gen_spec = "z 4 | linear 7x7x4 | bn | lrelu 0.2 | deconv 1 k5 s4 p1 op1 | tanh";
static const char *enc_spec = "z 28x28x1 | conv 4 k5 s4 | bn | lrelu 0.2 | linear 8";

/* A network with parameters large enough that its outputs differ from example to example. */
static int build(const char *spec, int batch, uint64_t seed, abp_net *net, abp_err *err) {
    if (abp_net_build(spec, 0, batch, net, err)) return -1;
    abp_net_init_params(net, seed);
    abp_rng_normal(seed, 1, 7, 0, 0, net->params, net->nparams);
    for (int64_t k = 0; k < net->nparams; k++) net->params[k] *= 0.2f;
    net->training = 0;
    return 0;
}

typedef struct setup {
    abp_net g, enc;
    float y[N * 784];
    unsigned char mask[N * 784];
} setup;

static int make(setup *s, int batch, abp_err *err) {
    if (build(gen_spec, batch, 3, &s->g, err) || build(enc_spec, batch, 5, &s->enc, err)) return -1;
    abp_rng_normal(9, 1, 0, 0, 0, s->y, N * 784);
    for (int k = 0; k < N * 784; k++) {
        s->y[k] = tanhf(s->y[k]);
        s->mask[k] = (k * 7919) % 5 != 0; /* a fifth occluded */
    }
    return 0;
}

static abp_infer_job job_for(setup *s, int batch, int steps, const unsigned char *mask, const float *y) {
    return (abp_infer_job){.n = N, .lo = 0, .hi = N, .batch = batch, .y = y, .mask = mask,
                           .start = {.kind = ABP_START_ENCODER, .encoder = &s->enc},
                           .lv = {.steps = steps, .step_size = 0.1f, .sigma = 0.3f, .noise = 1, .seed = 11,
                                  .iteration = 0xFFFFFFFFu},
                           .keep = N};
}

/* [E]: z = mu(y) and g(z) = g(mu), bit for bit, batch by batch as abp_infer_data goes. */
static void test_encoder_alone(abp_dist *d) {
    abp_err err;
    setup *s = calloc(1, sizeof *s);
    const int batch = 4;
    CHECK(s && make(s, batch, &err) == 0, "%s", err.msg);
    abp_infer_job job = job_for(s, batch, 0, NULL, s->y);
    abp_infer_result res;
    CHECK(abp_infer_data(d, &s->g, &job, &res, &err) == 0, "%s", err.msg);
    float cns[4 * 784], mu[4 * D], g[4 * 784]; /* batch = 4 */
    int z_off = 0, g_off = 0;
    for (int first = 0; first < N; first += batch) {
        int b = N - first < batch ? N - first : batch;
        abp_rows_to_cns(s->y + first * 784, cns, b, s->enc.in_shape);
        CHECK(abp_net_forward(&s->enc, cns, b, &err) == 0, "%s", err.msg);
        abp_cns_to_rows(abp_net_output(&s->enc), mu, b, s->g.in_shape); /* the first d rows: mu */
        z_off += memcmp(mu, res.z + first * D, sizeof(float) * (size_t)(b * D)) != 0;
        abp_rows_to_cns(mu, cns, b, s->g.in_shape);
        CHECK(abp_net_forward(&s->g, cns, b, &err) == 0, "%s", err.msg);
        abp_cns_to_rows(abp_net_output(&s->g), g, b, s->g.out_shape);
        g_off += memcmp(g, res.kept + first * 784, sizeof(float) * (size_t)(b * 784)) != 0;
    }
    CHECK(z_off == 0, "with 0 steps z differs from mu in %d batches", z_off);
    CHECK(g_off == 0, "with 0 steps g(z) differs from g(mu) in %d batches", g_off);
    double spread = 0;
    for (int k = 0; k < D; k++) spread += fabs(res.z[k] - res.z[D + k]);
    CHECK(spread > 1e-4, "the encoder gives the same mu to different examples (%g)", spread);
    abp_infer_result_free(&res);
    abp_net_free(&s->g);
    abp_net_free(&s->enc);
    free(s);
}

/* With a mask, the occluded values reach neither the encoder nor the energy. */
static void test_mask_hidden(abp_dist *d) {
    abp_err err;
    setup *s = calloc(1, sizeof *s);
    float *other = malloc(sizeof(float) * N * 784);
    CHECK(s && other && make(s, 5, &err) == 0, "%s", err.msg);
    memcpy(other, s->y, sizeof(float) * N * 784);
    for (int k = 0; k < N * 784; k++)
        if (!s->mask[k]) other[k] = -other[k] + 0.5f;
    abp_infer_job a = job_for(s, 5, 3, s->mask, s->y), b = job_for(s, 5, 3, s->mask, other);
    abp_infer_result ra, rb, rc;
    CHECK(abp_infer_data(d, &s->g, &a, &ra, &err) == 0, "%s", err.msg);
    CHECK(abp_infer_data(d, &s->g, &b, &rb, &err) == 0, "%s", err.msg);
    CHECK(memcmp(ra.z, rb.z, sizeof(float) * N * D) == 0, "the occluded values changed the inferred z");
    /* without the mask the encoder sees them, and z changes */
    abp_infer_job c = job_for(s, 5, 3, NULL, other);
    CHECK(abp_infer_data(d, &s->g, &c, &rc, &err) == 0, "%s", err.msg);
    CHECK(memcmp(ra.z, rc.z, sizeof(float) * N * D) != 0, "the mask made no difference (the test cannot fail)");
    abp_infer_result_free(&ra);
    abp_infer_result_free(&rb);
    abp_infer_result_free(&rc);
    abp_net_free(&s->g);
    abp_net_free(&s->enc);
    free(s);
    free(other);
}

/* Langevin from the encoder's start: it moves z, lowers the error on average, and an
 * example's z depends on its id, not on its batch (up to the BLAS's rounding). */
static void test_langevin_from_encoder(abp_dist *d) {
    abp_err err;
    setup *s = calloc(1, sizeof *s);
    CHECK(s && make(s, 5, &err) == 0, "%s", err.msg);
    abp_infer_job e = job_for(s, 5, 0, NULL, s->y), l = job_for(s, 5, 20, NULL, s->y), l2 = job_for(s, 2, 20, NULL, s->y);
    l.lv.noise = l2.lv.noise = 0; /* gradient descent with small steps: the error must go down */
    l.lv.step_size = l2.lv.step_size = 0.02f;
    abp_infer_result re, rl, rl2;
    CHECK(abp_infer_data(d, &s->g, &e, &re, &err) == 0, "%s", err.msg);
    CHECK(abp_infer_data(d, &s->g, &l, &rl, &err) == 0, "%s", err.msg);
    CHECK(abp_infer_data(d, &s->g, &l2, &rl2, &err) == 0, "%s", err.msg);
    double se = 0, sl = 0, moved = 0, batchdiff = 0;
    for (int k = 0; k < N * 784; k++) {
        se += (re.kept[k] - s->y[k]) * (re.kept[k] - s->y[k]);
        sl += (rl.kept[k] - s->y[k]) * (rl.kept[k] - s->y[k]);
    }
    for (int k = 0; k < N * D; k++) {
        moved += fabs(rl.z[k] - re.z[k]);
        batchdiff = fmax(batchdiff, fabs(rl.z[k] - rl2.z[k]));
    }
    CHECK(moved > 1e-3, "20 steps did not move z (%g)", moved);
    CHECK(sl < se, "20 descent steps from the encoder's start raised the error: %g -> %g", se, sl);
    CHECK(batchdiff < 1e-4, "an example's z depends on its batch: %g", batchdiff);
    abp_infer_result_free(&re);
    abp_infer_result_free(&rl);
    abp_infer_result_free(&rl2);
    abp_net_free(&s->g);
    abp_net_free(&s->enc);
    free(s);
}

static void test_bad_encoder(abp_dist *d) {
    abp_err err;
    setup *s = calloc(1, sizeof *s);
    CHECK(s && make(s, 4, &err) == 0, "%s", err.msg);
    abp_infer_result r;
    abp_infer_job j = job_for(s, 4, 0, NULL, s->y);
    s->enc.training = 1;
    CHECK(abp_infer_data(d, &s->g, &j, &r, &err) != 0 && strstr(err.msg, "eval mode"), "training mode: %s", err.msg);
    s->enc.training = 0;
    j.start.encoder = NULL;
    CHECK(abp_infer_data(d, &s->g, &j, &r, &err) != 0 && strstr(err.msg, "without an encoder"), "none: %s", err.msg);
    abp_net small, wrong;
    CHECK(build(enc_spec, 2, 5, &small, &err) == 0, "%s", err.msg);
    j.start.encoder = &small;
    CHECK(abp_infer_data(d, &s->g, &j, &r, &err) != 0 && strstr(err.msg, "encoder built for 2"), "batch: %s", err.msg);
    CHECK(build("z 28x28x1 | linear 6", 4, 5, &wrong, &err) == 0, "%s", err.msg);
    j.start.encoder = &wrong;
    CHECK(abp_infer_data(d, &s->g, &j, &r, &err) != 0 && strstr(err.msg, "does not fit"), "size: %s", err.msg);
    abp_net_free(&small);
    abp_net_free(&wrong);
    abp_net_free(&s->g);
    abp_net_free(&s->enc);
    free(s);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    abp_dist d;
    abp_err err;
    CHECK(abp_dist_init(&d, MPI_COMM_WORLD, &err) == 0, "%s", err.msg);
    test_encoder_alone(&d);
    test_mask_hidden(&d);
    test_langevin_from_encoder(&d);
    test_bad_encoder(&d);
    abp_dist_free(&d);
    int rc = check_summary("encoder_start");
    MPI_Finalize();
    return rc;
}
