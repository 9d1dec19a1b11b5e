/* Cooperative learning of a descriptor and a generator (CoopNets: Xie, Lu, Gao, Zhu and Wu,
 * AAAI 2018; docs/descriptor.md, "Cooperative learning"), on the objective interface.
 *
 * Two networks in the model's one arena: the generator g (/model, so that every command that
 * reads a generator reads this one) and the descriptor f (/descriptor), each with its own
 * optimizer (--lr, --descriptor-lr). Each iteration makes one proposal per example of the
 * batch, keyed by the example's global id, so the proposals are the same on any number of
 * ranks in full-batch mode:
 *   1. z ~ N(0, I) from the counter RNG (seed, ABP_RNG_PROPOSAL, id, iteration);
 *   2. the generator proposes Y0 = g(z);
 *   3. the descriptor revises them: L Langevin steps on p(I; w) from Y0 (abp_langevin_images,
 *      --descriptor-steps), giving Y;
 *   4. K Langevin steps on z towards Y, on ABP's energy |Y - g(z)|^2 / (2 sigma^2) + |z|^2 / 2
 *      (--coop-latent-steps K; CoopNets' default K = 0 leaves z as drawn);
 *   5. the descriptor learns from the batch's observed images against Y: maximum likelihood
 *      as --objective descriptor, the B revised proposals as the synthesized set;
 *   6. the generator learns to reproduce Y from z: dL/dW of |Y - g(z)|^2 / (2 sigma^2 B),
 *      ABP's learning loss with the revised images as its data.
 * Y is data to both networks: f's gradient does not depend on g's parameters nor g's on f's,
 * so one allreduce of both and one step of each is CoopNets' two updates in sequence.
 *
 * Per-example state: /latents, row i the z of the last proposal made in example i's place
 * (after step 4). It is no inference of example i; it gives abp interpolate and the fitted
 * priors of abp sample latents that the generator was trained at. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/rng.h"
#include "objective.h"

typedef struct coop {
    const abp_train_cfg *cfg;
    abp_net *g, *f;        /* in the model's arena */
    abp_infer_ws gws;      /* the generator's Langevin on z */
    abp_image_ws fws;      /* the descriptor's Langevin on images and its gradients */
    abp_langevin zlv;
    abp_image_langevin ilv;
    abp_shape zs, ys;
    int max_batch;
    float *rows;           /* the proposals' z as drawn, a row each */
    float *zb;             /* their z, CNS */
    float *y0, *syn;       /* the proposals g(z) and their revisions Y, CNS */
    float *dout;           /* dL/dg, CNS */
    float inv_var_batch;   /* 1 / (sigma^2 B): the generator's learning gradient's scale */
} coop;

static void destroy(void *self) {
    coop *o = self;
    if (!o) return;
    abp_infer_ws_free(&o->gws);
    abp_image_ws_free(&o->fws);
    abp_free(o->rows);
    abp_free(o->zb);
    abp_free(o->y0);
    abp_free(o->syn);
    abp_free(o->dout);
    free(o);
}

static int create(const abp_objective_env *env, abp_model *model, abp_objective_layout *layout, void **self,
                  abp_err *err) {
    const abp_train_cfg *cfg = env->cfg;
    const abp_descriptor_cfg *dc = &cfg->descriptor;
    coop *o = calloc(1, sizeof *o);
    *self = o;
    if (!o) return abp_fail(err, "out of memory");
    o->cfg = cfg;
    if (abp_coop_check(&cfg->coop, err) || abp_descriptor_check(dc, err)) return -1;
    if (dc->cd)
        return abp_fail(err, "--cd is for --objective descriptor: coop's descriptor revises the generator's proposals, "
                             "not the observed images");
    if (strcmp(cfg->mask, "none") != 0 || cfg->sense > 0)
        return abp_fail(err, "--objective coop learns from whole images: --mask and --sense do not apply");
    o->max_batch = env->b_local;
    /* the generator first: the model's first network, /model in the checkpoint */
    const char *spec = abp_model_spec(cfg->model);
    abp_opt_cfg gopt = {.kind = cfg->optimizer, .lr = cfg->lr, .beta1 = cfg->beta1, .momentum = cfg->momentum};
    if (abp_model_add(model, ABP_GENERATOR, spec ? spec : cfg->model, cfg->latent_dim, o->max_batch, &gopt, &o->g,
                      err))
        return -1;
    abp_net_init_params(o->g, cfg->seed);
    o->g->sum = env->sum;
    o->g->sum_ctx = env->sum_ctx;
    /* another seed for the descriptor's draws (seed + 1 is the encoder's) */
    if (abp_descriptor_net_create(env, model, o->max_batch, cfg->seed + 2, &o->f, err)) return -1;
    o->zs = o->g->in_shape;
    o->ys = o->g->out_shape;
    abp_shape in = o->f->in_shape;
    if (in.c != o->ys.c || in.h != o->ys.h || in.w != o->ys.w)
        return abp_fail(err, "--descriptor: it reads %dx%dx%d images, but the model makes %dx%dx%d", in.h, in.w, in.c,
                        o->ys.h, o->ys.w, o->ys.c);
    if (abp_infer_ws_init(&o->gws, o->g, err) || abp_image_ws_init(&o->fws, o->f, err)) return -1;
    size_t b = (size_t)o->max_batch, dz = (size_t)abp_shape_numel(o->zs), dy = (size_t)abp_shape_numel(o->ys);
    if (!(o->rows = abp_alloc(sizeof(float) * b * dz, err)) || !(o->zb = abp_alloc(sizeof(float) * b * dz, err)) ||
        !(o->y0 = abp_alloc(sizeof(float) * b * dy, err)) || !(o->syn = abp_alloc(sizeof(float) * b * dy, err)) ||
        !(o->dout = abp_alloc(sizeof(float) * b * dy, err)))
        return -1;
    o->zlv = (abp_langevin){.steps = cfg->coop.latent_steps, .step_size = cfg->step_size, .sigma = cfg->sigma,
                            .noise = !cfg->inference_gd, .seed = cfg->seed};
    o->ilv = (abp_image_langevin){.steps = dc->steps, .step_size = dc->step_size, .ref_sigma = dc->ref_sigma,
                                  .noise = 1, .seed = cfg->seed};
    o->inv_var_batch = 1.0f / (cfg->sigma * cfg->sigma * (float)env->B);
    *layout = (abp_objective_layout){.signal = o->ys, .nexample = 1, .nslots = 4};
    snprintf(layout->example[0].name, sizeof layout->example[0].name, "latents");
    layout->example[0].shape = o->zs;
    return 0;
}

/* /config: the descriptor's options (abp/descriptor.h), then coop's own (abp/coop.h). */
static char *format(const abp_train_cfg *cfg) {
    size_t cap = strlen(cfg->descriptor.spec) + 512;
    char *s = calloc(cap, 1);
    if (!s) return NULL;
    abp_descriptor_format(&cfg->descriptor, s, cap);
    abp_coop_format(&cfg->coop, s, cap);
    return s;
}

/* Before the first proposal in its place, an example's row is a draw from N(0, I), as ABP's. */
static void init_state(void *self, int chain, int which, int64_t id, float *row) {
    coop *o = self;
    (void)chain, (void)which;
    abp_rng_normal(o->cfg->seed, ABP_RNG_LATENT_INIT, (uint32_t)id, 0, 0, row, abp_shape_numel(o->zs));
}

static int iterate(void *self, abp_batch *b, abp_err *err) {
    coop *o = self;
    abp_net *g = o->g, *f = o->f;
    int n = b->b;
    int64_t dz = abp_shape_numel(o->zs), ny = abp_shape_numel(o->ys) * n;
    /* 1. the proposals' latents, keyed by the examples' global ids */
    for (int i = 0; i < n; i++)
        abp_rng_normal(o->cfg->seed, ABP_RNG_PROPOSAL, (uint32_t)b->ids[i], (uint32_t)b->iteration, 0,
                       o->rows + (int64_t)i * dz, dz);
    abp_rows_to_cns(o->rows, o->zb, n, o->zs);
    /* 2. the proposals: batch statistics, running statistics left alone (as ABP's inference) */
    g->training = 1;
    g->update_running = 0;
    if (abp_net_forward(g, o->zb, n, err)) return -1;
    memcpy(o->y0, abp_net_output(g), sizeof(float) * (size_t)ny);
    memcpy(o->syn, o->y0, sizeof(float) * (size_t)ny);
    /* 3. the descriptor revises them: each proposal's own chain, keyed by its example's id */
    f->training = 1;
    f->update_running = 0;
    o->ilv.iteration = (uint32_t)b->iteration;
    if (abp_langevin_images(f, o->syn, n, b->ids, &o->ilv, &o->fws, err)) return -1;
    double moved = 0.0;
    for (int64_t k = 0; k < ny; k++) moved += (double)(o->syn[k] - o->y0[k]) * (o->syn[k] - o->y0[k]);
    /* 4. z towards its revised image (none by default) */
    abp_observation revised = {.y = o->syn};
    if (o->zlv.steps > 0) {
        o->zlv.iteration = (uint32_t)b->iteration;
        if (abp_infer_latents(g, o->zb, &revised, n, b->ids, &o->zlv, &o->gws, err)) return -1;
    }
    /* 5. the descriptor learns: -(1/B) sum_obs df/dw + (1/B) sum_revised df/dw */
    double sum_obs, sum_syn;
    if (abp_descriptor_learn(f, b->obs->y, n, -1.0f / (float)b->B, o->syn, n, 1.0f / (float)b->B, &sum_obs, &sum_syn,
                             &o->fws, err))
        return -1;
    /* 6. the generator learns to reproduce the revised images; this pass updates the running
     *    statistics, at the latents it learns from */
    g->update_running = 1;
    if (abp_net_forward(g, o->zb, n, err)) return -1;
    g->update_running = 0;
    b->slots[0] = (float)abp_observe_residual(&revised, abp_net_output(g), o->dout, n, o->ys, o->inv_var_batch);
    if (abp_net_backward(g, o->dout, n, NULL, 1, err)) return -1;
    b->slots[1] = (float)sum_obs;
    b->slots[2] = (float)sum_syn;
    b->slots[3] = (float)moved;
    abp_cns_to_rows(o->zb, b->state[0], n, o->zs);
    return 0;
}

static int metrics(void *self, const abp_sums *s, abp_metric *out) {
    coop *o = self;
    double sigma = o->cfg->sigma, B = s ? (double)s->B : 1.0;
    double obs = s ? s->slots[1] / B : 0.0, syn = s ? s->slots[2] / B : 0.0;
    /* the generator's loss: how far g(z) is from the revised images */
    out[0] = (abp_metric){"loss", "loss %.4g", s ? s->slots[0] / (2.0 * sigma * sigma) / B : 0.0};
    out[1] = (abp_metric){"score_obs", "f(obs) %.4g", obs};
    out[2] = (abp_metric){"score_syn", "f(syn) %.4g", syn};
    out[3] = (abp_metric){"score_gap", "gap %.4g", obs - syn};
    /* how much the descriptor moved the proposals, per pixel on the [0,1] scale */
    out[4] = (abp_metric){"revision_mse", "revision %.5f", s && s->observed > 0 ? s->slots[3] / s->observed / 4.0 : 0.0};
    return 5;
}

/* samples.png: g(z) of z ~ N(0, I) (ABP_RNG_PRIOR, as abp.c's); revisions.png: the first of
 * them, each above its revision by the descriptor's L steps (CoopNets' synthesized images). */
static int pictures(void *self, const abp_picture_env *env, char *written, size_t cap, abp_err *err) {
    coop *o = self;
    abp_net *g = o->g, *f = o->f;
    abp_shape ys = o->ys;
    int64_t dz = abp_shape_numel(o->zs), dy = abp_shape_numel(ys);
    int total = 64, shown = 32;
    float *images = abp_alloc(sizeof(float) * (size_t)(total * dy), err);
    float *revised = abp_alloc(sizeof(float) * (size_t)(shown * dy), err);
    float *z = abp_alloc(sizeof(float) * (size_t)(total * dz), err);
    int64_t *ids = malloc(sizeof(int64_t) * (size_t)o->max_batch);
    int rc = -1;
    /* Rank 0 alone: the descriptor's batch norm (if any) takes this chunk's statistics, with
     * no global sum that the other ranks would have to join. */
    abp_sum_fn sum = f->sum;
    f->sum = NULL;
    if (!images || !revised || !z || !ids) {
        if (!ids) abp_fail(err, "out of memory");
        goto done;
    }
    g->training = 0;
    for (int i = 0; i < total; i++) abp_rng_normal(o->cfg->seed, ABP_RNG_PRIOR, (uint32_t)i, 0, 0, z + i * dz, dz);
    if (abp_net_generate(g, z, total, images, o->zb, err)) goto done;
    char path[1200];
    snprintf(path, sizeof path, "%s/samples.png", env->out);
    if (abp_png_write_grid(path, images, total, ys.c, ys.h, ys.w, 8, err)) goto done;
    abp_image_langevin lv = o->ilv;
    lv.iteration = (uint32_t)o->cfg->iters;
    for (int first = 0; first < shown; first += o->max_batch) {
        int m = shown - first < o->max_batch ? shown - first : o->max_batch;
        for (int i = 0; i < m; i++) ids[i] = first + i;
        abp_rows_to_cns(images + (int64_t)first * dy, o->syn, m, ys);
        if (abp_langevin_images(f, o->syn, m, ids, &lv, &o->fws, err)) goto done;
        abp_cns_to_rows(o->syn, revised + (int64_t)first * dy, m, ys);
    }
    snprintf(path, sizeof path, "%s/revisions.png", env->out);
    const float *sets[2] = {images, revised};
    if (abp_png_write_compare(path, sets, 2, shown, ys.c, ys.h, ys.w, 8, err)) goto done;
    snprintf(written, cap, "%s/samples.png, %s/revisions.png (rows: g(z), its revision by the descriptor)", env->out,
             env->out);
    rc = 0;
done:
    f->sum = sum;
    g->training = 1;
    abp_free(images);
    abp_free(revised);
    abp_free(z);
    free(ids);
    return rc;
}

const abp_objective_ops abp_objective_coop = {
    .name = "coop",
    .format = format,
    .create = create,
    .init_state = init_state,
    .iterate = iterate,
    .metrics = metrics,
    .pictures = pictures,
    .destroy = destroy,
};
