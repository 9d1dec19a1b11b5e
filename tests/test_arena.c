/* The parameter arena and the model of several networks (DESIGN §8): two networks in one
 * arena keep their values, each forward/backward touches only its own slice, the gradient
 * buffer has the spare floats for the one allreduce, two optimizers with two learning rates
 * move their own slices, and a two-network model goes through a checkpoint and back. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "abp/model.h"
#include "abp/rng.h"
#include "check.h"

#define SPEC_G "z 3 | linear 2x2x2 | bn | lrelu 0.2 | deconv 1 k3 s2 | tanh"
#define SPEC_E "z 4 | linear 6 | tanh"
#define N 3

static int64_t count_nonzero(const float *x, int64_t n) {
    int64_t c = 0;
    for (int64_t k = 0; k < n; k++) c += x[k] != 0.0f;
    return c;
}

static int build(abp_model *m, float lr_g, float lr_e, abp_err *err) {
    memset(m, 0, sizeof *m);
    abp_opt_cfg sg = {.kind = ABP_OPT_SGD, .lr = lr_g}, se = {.kind = ABP_OPT_SGD, .lr = lr_e};
    abp_net *g, *e;
    if (abp_model_add(m, ABP_GENERATOR, SPEC_G, 0, N, &sg, &g, err) ||
        abp_model_add(m, "encoder", SPEC_E, 0, N, &se, &e, err))
        return -1;
    abp_net_init_params(g, 7);
    abp_net_init_params(e, 8);
    return abp_model_seal(m, err);
}

/* One forward and backward of a net on random input and output gradient. */
static void run(abp_net *net, uint64_t seed) {
    abp_err err;
    int64_t dz = abp_shape_numel(net->in_shape) * N, dy = abp_shape_numel(net->out_shape) * N;
    float *z = malloc(sizeof(float) * (size_t)dz), *r = malloc(sizeof(float) * (size_t)dy);
    abp_rng_normal(seed, 0, 0, 0, 0, z, dz);
    abp_rng_normal(seed, 1, 0, 0, 0, r, dy);
    CHECK(abp_net_forward(net, z, N, &err) == 0, "%s", err.msg);
    CHECK(abp_net_backward(net, r, N, NULL, 1, &err) == 0, "%s", err.msg);
    free(z);
    free(r);
}

static void test_views_and_slices(void) {
    abp_err err;
    abp_model m;
    abp_net alone_g, alone_e;
    CHECK(abp_net_build(SPEC_G, 0, N, &alone_g, &err) == 0, "%s", err.msg);
    CHECK(abp_net_build(SPEC_E, 0, N, &alone_e, &err) == 0, "%s", err.msg);
    abp_net_init_params(&alone_g, 7);
    abp_net_init_params(&alone_e, 8);
    if (build(&m, 0.1f, 0.01f, &err)) {
        CHECK(0, "build: %s", err.msg);
        return;
    }
    abp_net *g = &m.nets[0].net, *e = &m.nets[1].net;
    abp_arena *a = &m.arena;
    CHECK(a->nparams == alone_g.nparams + alone_e.nparams, "arena %lld", (long long)a->nparams);
    CHECK(g->params == a->params && e->params == a->params + g->nparams, "params slices");
    CHECK(g->grads == a->grads && e->grads == a->grads + g->nparams, "grads slices");
    CHECK(abp_arena_extra(a) == a->grads + a->nparams, "the spare floats follow the last gradient");
    /* the values moved with the views */
    CHECK(!memcmp(g->params, alone_g.params, sizeof(float) * (size_t)g->nparams), "generator values kept");
    CHECK(!memcmp(e->params, alone_e.params, sizeof(float) * (size_t)e->nparams), "encoder values kept");
    for (int i = 0; i < g->nlayers; i++) {
        const abp_layer *l = &g->layers[i];
        if (l->nweight)
            CHECK(l->weight >= g->params && l->weight + l->nweight <= g->params + g->nparams &&
                      l->dweight - g->grads == l->weight - g->params,
                  "layer %s views inside the generator's slice", l->name);
    }
    /* each network's backward touches only its slice, and equals a network alone */
    abp_arena_zero_grads(a);
    run(g, 11);
    run(&alone_g, 11);
    CHECK(count_nonzero(g->grads, g->nparams) > 0, "generator gradients written");
    CHECK(count_nonzero(e->grads, e->nparams) == 0, "encoder slice untouched by the generator");
    CHECK(count_nonzero(abp_arena_extra(a), ABP_NET_GRAD_EXTRA) == 0, "spare floats untouched");
    CHECK(!memcmp(g->grads, alone_g.grads, sizeof(float) * (size_t)g->nparams), "same gradients as alone");
    float *saved = malloc(sizeof(float) * (size_t)g->nparams);
    memcpy(saved, g->grads, sizeof(float) * (size_t)g->nparams);
    run(e, 12);
    CHECK(count_nonzero(e->grads, e->nparams) > 0, "encoder gradients written");
    CHECK(!memcmp(saved, g->grads, sizeof(float) * (size_t)g->nparams), "generator slice untouched by the encoder");
    CHECK(count_nonzero(abp_arena_extra(a), ABP_NET_GRAD_EXTRA) == 0, "spare floats untouched");
    abp_arena_extra(a)[0] = 5.0f;
    abp_arena_zero_grads(a);
    CHECK(count_nonzero(a->grads, a->nparams + ABP_NET_GRAD_EXTRA) == 0, "zero_grads clears all, spare floats too");
    /* two optimizers, two learning rates, each over its slice: SGD without momentum moves
     * every parameter by -lr * grad */
    float *before = malloc(sizeof(float) * (size_t)a->nparams);
    memcpy(before, a->params, sizeof(float) * (size_t)a->nparams);
    for (int64_t k = 0; k < a->nparams; k++) a->grads[k] = 1.0f;
    abp_model_step(&m);
    int64_t wrong = 0;
    for (int64_t k = 0; k < a->nparams; k++) {
        float lr = k < g->nparams ? 0.1f : 0.01f;
        wrong += a->params[k] != before[k] + (0.0f * before[k] - lr * 1.0f);
    }
    CHECK(wrong == 0, "%lld parameters moved by the wrong learning rate", (long long)wrong);
    CHECK(m.nets[0].opt.step == 1 && m.nets[1].opt.step == 1, "a step count per optimizer");
    free(before);
    free(saved);
    abp_net_free(&alone_g);
    abp_net_free(&alone_e);
    abp_model_free(&m);
}

static void test_errors(void) {
    abp_err err;
    abp_model m;
    memset(&m, 0, sizeof m);
    abp_opt_cfg o = {.kind = ABP_OPT_ADAM, .lr = 1e-3f, .beta1 = 0.5f};
    CHECK(abp_model_add(&m, "encoder", SPEC_E, 0, N, &o, NULL, &err) == 0, "%s", err.msg);
    CHECK(abp_model_add(&m, "encoder", SPEC_E, 0, N, &o, NULL, &err) != 0 && strstr(err.msg, "twice"),
          "a name twice: %s", err.msg);
    CHECK(abp_model_add(&m, "a/b", SPEC_E, 0, N, &o, NULL, &err) != 0, "a name with '/'");
    CHECK(abp_model_seal(&m, &err) == 0, "%s", err.msg);
    CHECK(abp_model_add(&m, "prior", SPEC_E, 0, N, &o, NULL, &err) != 0, "add after seal: %s", err.msg);
    abp_model_free(&m);
}

/* A two-network model through a checkpoint: the generator at today's paths, the encoder
 * at /encoder and /optimizer/encoder with its own step; a one-network checkpoint read into
 * a two-network model names the missing network. */
static void test_checkpoint(void) {
    abp_err err;
    abp_model m, back;
    char path[] = "/tmp/abp_test_arena_XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) close(fd);
    if (build(&m, 0.1f, 0.01f, &err) || build(&back, 0.1f, 0.01f, &err)) {
        CHECK(0, "build: %s", err.msg);
        return;
    }
    for (int64_t k = 0; k < m.arena.nparams; k++) m.arena.grads[k] = (float)(k % 7) - 3.0f;
    abp_model_step(&m);
    m.nets[1].opt.step = 41; /* not the generator's: each optimizer has its own count */
    abp_ckpt_array *arrays;
    abp_ckpt_step *steps;
    int narrays, nsteps;
    CHECK(abp_model_ckpt_arrays(&m, 1, &arrays, &narrays, &steps, &nsteps, &err) == 0, "%s", err.msg);
    int saw_model = 0, saw_enc = 0, saw_opt_enc = 0;
    for (int k = 0; k < narrays; k++) {
        saw_model += !strncmp(arrays[k].path, "model/", 6);
        saw_enc += !strncmp(arrays[k].path, "encoder/", 8);
        saw_opt_enc += !strncmp(arrays[k].path, "optimizer/encoder/", 18);
    }
    CHECK(saw_model > 0 && saw_enc > 0 && saw_opt_enc > 0, "paths: model %d encoder %d optimizer/encoder %d",
          saw_model, saw_enc, saw_opt_enc);
    CHECK(nsteps == 1 && !strcmp(steps[0].group, "optimizer/encoder") && steps[0].step == 41, "steps");
    float lat[2] = {0.5f, -0.5f};
    int64_t ld[1] = {1};
    char name0[] = "a", name1[] = "b";
    char *names[2] = {name0, name1};
    abp_ckpt_meta meta = {.iteration = 1, .optimizer_step = m.nets[0].opt.step, .config = "--model=x\n",
                          .steps = steps, .nsteps = nsteps};
    snprintf(meta.optimizer, sizeof meta.optimizer, "sgd");
    CHECK(abp_ckpt_write(MPI_COMM_SELF, path, &meta, arrays, narrays, lat, 2, 0, 2, 1, ld, names, &err) == 0,
          "%s", err.msg);
    abp_ckpt *ck;
    abp_ckpt_meta got;
    CHECK(abp_ckpt_open(MPI_COMM_SELF, path, &ck, &got, &err) == 0, "%s", err.msg);
    CHECK(abp_model_read(&back, ck, &got, 1, &err) == 0, "%s", err.msg);
    CHECK(!memcmp(back.arena.params, m.arena.params, sizeof(float) * (size_t)m.arena.nparams), "parameters back");
    CHECK(!memcmp(back.nets[1].opt.m, m.nets[1].opt.m, sizeof(float) * (size_t)m.nets[1].opt.n), "encoder moments back");
    CHECK(back.nets[0].opt.step == 1 && back.nets[1].opt.step == 41, "steps back: %lld %lld",
          (long long)back.nets[0].opt.step, (long long)back.nets[1].opt.step);
    abp_ckpt_close(ck);
    free(arrays);
    free(steps);
    /* a checkpoint with only the generator */
    abp_model one;
    memset(&one, 0, sizeof one);
    abp_opt_cfg sg = {.kind = ABP_OPT_SGD, .lr = 0.1f};
    CHECK(abp_model_add(&one, ABP_GENERATOR, SPEC_G, 0, N, &sg, NULL, &err) == 0 && abp_model_seal(&one, &err) == 0,
          "%s", err.msg);
    CHECK(abp_model_ckpt_arrays(&one, 1, &arrays, &narrays, &steps, &nsteps, &err) == 0, "%s", err.msg);
    meta.steps = steps, meta.nsteps = nsteps;
    CHECK(abp_ckpt_write(MPI_COMM_SELF, path, &meta, arrays, narrays, lat, 2, 0, 2, 1, ld, names, &err) == 0,
          "%s", err.msg);
    CHECK(abp_ckpt_open(MPI_COMM_SELF, path, &ck, &got, &err) == 0, "%s", err.msg);
    CHECK(abp_model_read(&back, ck, &got, 1, &err) != 0 && strstr(err.msg, "no network encoder"),
          "missing network: %s", err.msg);
    abp_ckpt_close(ck);
    free(arrays);
    free(steps);
    abp_model_free(&one);
    abp_model_free(&m);
    abp_model_free(&back);
    unlink(path);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    test_views_and_slices();
    test_errors();
    test_checkpoint();
    int rc = check_summary("test_arena");
    MPI_Finalize();
    return rc;
}
