/* The optimizers' steps against values worked out by hand (src/train/optimizer.c): Adamax
 * (Kingma and Ba 2015, Algorithm 2, with eps inside the max as PyTorch's), whose state is
 * checkpointed like Adam's, and the names --optimizer and the checkpoint use. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "abp/train.h"
#include "check.h"

/* Two Adamax steps of three parameters, lr 0.1, beta1 0.9, beta2 0.999, eps 1e-8, from
 * p = (1, 1, 1), m = u = 0:
 *   step 1, g = (0.5, -2, 0):  m = 0.1 g = (0.05, -0.2, 0)
 *                              u = max(0, |g| + eps) = (0.50000001, 2.00000001, 1e-8)
 *                              alpha = 0.1 / (1 - 0.9) = 1
 *                              p -= m / u: (0.9, 1.1, 1)       (the third: 0 / 1e-8 = 0)
 *   step 2, g = (0.25, 1, 3):  m = 0.9 m + 0.1 g = (0.07, -0.08, 0.3)
 *                              u = max(0.999 u, |g| + eps) = (0.4995, 1.998, 3)   (to 1e-8)
 *                              alpha = 0.1 / (1 - 0.81) = 0.526315789...
 *                              p -= alpha m / u:
 *                                0.9 - 0.5263158 * 0.07 / 0.4995 = 0.8262420
 *                                1.1 + 0.5263158 * 0.08 / 1.998  = 1.1210737
 *                                1.0 - 0.5263158 * 0.3 / 3       = 0.9473684 */
static void test_adamax_by_hand(void) {
    abp_err err;
    abp_optimizer opt;
    CHECK(abp_optimizer_init(&opt, ABP_OPT_ADAMAX, 3, 0.1f, 0.9f, 0.0f, &err) == 0, "%s", err.msg);
    float p[3] = {1, 1, 1};
    const float g1[3] = {0.5f, -2.0f, 0.0f}, g2[3] = {0.25f, 1.0f, 3.0f};
    abp_optimizer_step(&opt, p, g1);
    const float after1[3] = {0.9f, 1.1f, 1.0f}, m1[3] = {0.05f, -0.2f, 0.0f}, u1[3] = {0.50000001f, 2.00000001f, 1e-8f};
    for (int k = 0; k < 3; k++) {
        CHECK(fabsf(p[k] - after1[k]) < 1e-6f, "step 1: p[%d] = %.9g, by hand %.9g", k, (double)p[k], (double)after1[k]);
        CHECK(fabsf(opt.m[k] - m1[k]) < 1e-7f, "step 1: m[%d] = %.9g, by hand %.9g", k, (double)opt.m[k], (double)m1[k]);
        CHECK(fabsf(opt.v[k] - u1[k]) < 1e-7f * fmaxf(1.0f, u1[k]), "step 1: u[%d] = %.9g, by hand %.9g", k,
              (double)opt.v[k], (double)u1[k]);
    }
    abp_optimizer_step(&opt, p, g2);
    const float after2[3] = {0.8262420f, 1.1210737f, 0.9473684f}, m2[3] = {0.07f, -0.08f, 0.3f},
                u2[3] = {0.4995f, 1.998f, 3.0f};
    for (int k = 0; k < 3; k++) {
        CHECK(fabsf(p[k] - after2[k]) < 2e-6f, "step 2: p[%d] = %.9g, by hand %.9g", k, (double)p[k], (double)after2[k]);
        CHECK(fabsf(opt.m[k] - m2[k]) < 1e-6f, "step 2: m[%d] = %.9g, by hand %.9g", k, (double)opt.m[k], (double)m2[k]);
        CHECK(fabsf(opt.v[k] - u2[k]) < 1e-6f, "step 2: u[%d] = %.9g, by hand %.9g", k, (double)opt.v[k], (double)u2[k]);
    }
    CHECK(opt.step == 2, "step count %lld", (long long)opt.step);
    /* A step is the same whatever came before it: a second optimizer with the state copied
     * takes the same third step (what an exact resume relies on). */
    abp_optimizer again;
    CHECK(abp_optimizer_init(&again, ABP_OPT_ADAMAX, 3, 0.1f, 0.9f, 0.0f, &err) == 0, "%s", err.msg);
    memcpy(again.m, opt.m, sizeof(float) * 3);
    memcpy(again.v, opt.v, sizeof(float) * 3);
    again.step = opt.step;
    float q[3];
    memcpy(q, p, sizeof q);
    abp_optimizer_step(&opt, p, g1);
    abp_optimizer_step(&again, q, g1);
    CHECK(memcmp(p, q, sizeof p) == 0, "a restored Adamax state takes another step");
    abp_optimizer_free(&opt);
    abp_optimizer_free(&again);
}

/* Adamax is not Adam: the same gradients move the parameters differently after step 1
 * (Adam's step 1 is lr sign(g), as Adamax's is; from step 2 they part). */
static void test_adamax_is_not_adam(void) {
    abp_err err;
    abp_optimizer a, x;
    CHECK(abp_optimizer_init(&a, ABP_OPT_ADAM, 3, 0.1f, 0.9f, 0.0f, &err) == 0, "%s", err.msg);
    CHECK(abp_optimizer_init(&x, ABP_OPT_ADAMAX, 3, 0.1f, 0.9f, 0.0f, &err) == 0, "%s", err.msg);
    float pa[3] = {1, 1, 1}, px[3] = {1, 1, 1};
    const float g1[3] = {0.5f, -2.0f, 0.1f}, g2[3] = {0.25f, 1.0f, 3.0f};
    abp_optimizer_step(&a, pa, g1), abp_optimizer_step(&x, px, g1);
    abp_optimizer_step(&a, pa, g2), abp_optimizer_step(&x, px, g2);
    CHECK(fabsf(pa[2] - px[2]) > 1e-3f, "Adam and Adamax agree after two steps: %g %g", (double)pa[2], (double)px[2]);
    abp_optimizer_free(&a);
    abp_optimizer_free(&x);
}

static void test_names(void) {
    const abp_opt_kind kinds[3] = {ABP_OPT_ADAM, ABP_OPT_SGD, ABP_OPT_ADAMAX};
    for (int k = 0; k < 3; k++) {
        abp_opt_kind back = (abp_opt_kind)-1;
        CHECK(abp_opt_kind_parse(abp_opt_kind_name(kinds[k]), &back) == 0 && back == kinds[k], "%s does not read back",
              abp_opt_kind_name(kinds[k]));
    }
    abp_opt_kind none;
    CHECK(abp_opt_kind_parse("adagrad", &none) != 0, "adagrad is not an optimizer of abp");
    CHECK(!strcmp(abp_opt_kind_name(ABP_OPT_ADAMAX), "adamax"), "%s", abp_opt_kind_name(ABP_OPT_ADAMAX));
    /* /config keeps the kind */
    abp_train_cfg cfg, back;
    abp_err err;
    abp_train_defaults(&cfg);
    cfg.optimizer = ABP_OPT_ADAMAX;
    char *text = abp_train_cfg_format(&cfg, "z 2 | linear 1 | tanh");
    CHECK(text && strstr(text, "--optimizer=adamax\n"), "/config: %s", text ? text : "(none)");
    CHECK(text && abp_train_cfg_parse(text, &back, &err) == 0 && back.optimizer == ABP_OPT_ADAMAX, "read back");
    free(text);
    CHECK(abp_train_cfg_parse("--optimizer=adagrad\n", &back, &err) != 0 && strstr(err.msg, "--optimizer=adagrad"),
          "an unknown optimizer in /config: %s", err.msg);
}

/* Adamax's u is checkpointed where Adam's v is (.v arrays); SGD has none. */
static void test_checkpoint_arrays(void) {
    abp_err err;
    abp_net net;
    CHECK(abp_net_build("z 3 | linear 2 | tanh", 0, 1, &net, &err) == 0, "%s", err.msg);
    for (int kind = 0; kind < 3; kind++) {
        abp_optimizer opt;
        CHECK(abp_optimizer_init(&opt, (abp_opt_kind)kind, net.nparams, 0.1f, 0.9f, 0.5f, &err) == 0, "%s", err.msg);
        abp_ckpt_array *a = NULL;
        int n = 0, v = 0;
        CHECK(abp_model_arrays(&net, &opt, &a, &n, &err) == 0, "%s", err.msg);
        for (int k = 0; k < n; k++) v += strstr(a[k].path, ".v") != NULL;
        CHECK(v == ((abp_opt_kind)kind == ABP_OPT_SGD ? 0 : 2), "%s: %d .v arrays", abp_opt_kind_name((abp_opt_kind)kind), v);
        free(a);
        abp_optimizer_free(&opt);
    }
    abp_net_free(&net);
}

int main(void) {
    test_adamax_by_hand();
    test_adamax_is_not_adam();
    test_names();
    test_checkpoint_arrays();
    return check_summary("optimizer");
}
