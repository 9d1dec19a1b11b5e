/* The descriptor objective (the generative ConvNet, Xie, Lu, Zhu and Wu, ICML 2016): one
 * network f, scoring images; p(I; w) = exp(f(I; w)) q(I) / Z(w), q = N(0, s^2 I).
 *
 * Each iteration: the M synthesized images (persistent chains, sharded by global chain id,
 * /chains/descriptor) take L Langevin steps on p (abp_langevin_images); then one learning
 * pass. Maximum likelihood's gradient ascent is w <- w + eta (mean_obs df/dw - mean_syn df/dw);
 * as a loss to minimise, its gradient is
 *     dL/dw = (1/M) sum_syn df/dw - (1/B) sum_obs df/dw,
 * B and M the global counts, so the allreduce's sum is the gradient on any rank count.
 * With --cd (contrastive divergence) there are no chains: the batch's own observed images are
 * revised by the L steps and serve as the synthesized set (M = B). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/rng.h"
#include "objective.h"

#define DESCRIPTOR "descriptor"

typedef struct abp_descriptor {
    const abp_train_cfg *cfg;
    const abp_descriptor_cfg *dc;
    abp_net *f;            /* the descriptor, in the model's arena */
    abp_image_ws ws;
    abp_image_langevin lv;
    abp_shape is;          /* the image shape: f's input */
    int64_t M;             /* chains (0 with --cd) */
    float *syn;            /* the synthesized images of this rank, CNS */
    int64_t *ids;          /* their global chain ids */
    int max_batch;
} abp_descriptor;

int abp_descriptor_net_create(const abp_objective_env *env, abp_model *model, int max_batch, uint64_t seed,
                              abp_net **f, abp_err *err) {
    const abp_train_cfg *cfg = env->cfg;
    const abp_descriptor_cfg *dc = &cfg->descriptor;
    const char *spec = abp_model_spec(dc->spec);
    abp_opt_cfg opt = {.kind = cfg->optimizer, .lr = dc->lr, .beta1 = dc->beta1, .momentum = cfg->momentum};
    if (abp_model_add(model, DESCRIPTOR, spec ? spec : dc->spec, 0, max_batch, &opt, f, err))
        return abp_fail_wrap(err, "--descriptor");
    abp_net_init_params(*f, seed);
    (*f)->sum = env->sum;
    (*f)->sum_ctx = env->sum_ctx;
    return 0;
}

int abp_descriptor_learn(abp_net *f, const float *obs, int nobs, float scale_obs, const float *syn, int nsyn,
                         float scale_syn, double *sum_obs, double *sum_syn, abp_image_ws *ws, abp_err *err) {
    *sum_obs = *sum_syn = 0.0;
    if (nobs > 0 && abp_descriptor_grad(f, obs, nobs, scale_obs, NULL, 1, sum_obs, ws, err)) return -1;
    if (nsyn > 0 && abp_descriptor_grad(f, syn, nsyn, scale_syn, NULL, 1, sum_syn, ws, err)) return -1;
    /* The last layer's bias adds a constant to f, which Z absorbs: its ML gradient is exactly
     * zero (mean of 1 minus mean of 1). Left to rounding it would be noise of order 1e-9 that
     * Adam turns into steps of the full learning rate, different for every rank count. */
    abp_layer *top = &f->layers[f->nlayers - 1];
    if (top->dbias)
        for (int64_t k = 0; k < top->nbias; k++) top->dbias[k] = 0.0f;
    return 0;
}

static void destroy(void *self) {
    abp_descriptor *o = self;
    if (!o) return;
    abp_image_ws_free(&o->ws);
    abp_free(o->syn);
    free(o->ids);
    free(o);
}

static int create(const abp_objective_env *env, abp_model *model, abp_objective_layout *layout, void **self,
                  abp_err *err) {
    const abp_train_cfg *cfg = env->cfg;
    abp_descriptor *o = calloc(1, sizeof *o);
    *self = o;
    if (!o) return abp_fail(err, "out of memory");
    o->cfg = cfg;
    o->dc = &cfg->descriptor;
    if (abp_descriptor_check(o->dc, err)) return -1;
    if (strcmp(cfg->mask, "none") != 0 || cfg->sense > 0)
        return abp_fail(err, "--objective descriptor learns from whole images: --mask and --sense do not apply");
    o->M = o->dc->cd ? 0 : o->dc->chains;
    /* A rank holds at most ceil(M / ranks) <= M chains; one network serves both sets. */
    o->max_batch = env->b_local > o->M ? env->b_local : (int)o->M;
    if (abp_descriptor_net_create(env, model, o->max_batch, cfg->seed, &o->f, err)) return -1;
    o->is = o->f->in_shape;
    if (abp_image_ws_init(&o->ws, o->f, err)) return -1;
    o->syn = abp_alloc(sizeof(float) * (size_t)(o->max_batch * abp_shape_numel(o->is)), err);
    o->ids = malloc(sizeof(int64_t) * (size_t)o->max_batch);
    if (!o->syn || !o->ids) return abp_fail(err, "out of memory");
    o->lv = (abp_image_langevin){.steps = o->dc->steps, .step_size = o->dc->step_size,
                                 .ref_sigma = o->dc->ref_sigma, .noise = 1, .seed = cfg->seed};
    *layout = (abp_objective_layout){.signal = o->is, .nslots = 2};
    if (o->M > 0) {
        layout->nchain = 1;
        snprintf(layout->chain[0].name, sizeof layout->chain[0].name, DESCRIPTOR);
        layout->chain[0].shape = o->is;
        layout->chain[0].rows = o->M;
    }
    return 0;
}

/* /config: the descriptor's options (abp/descriptor.h). */
static char *format(const abp_train_cfg *cfg) {
    size_t cap = strlen(cfg->descriptor.spec) + 512;
    char *s = calloc(cap, 1);
    if (s) abp_descriptor_format(&cfg->descriptor, s, cap);
    return s;
}

/* A chain starts as a draw from the reference q = N(0, s^2 I), which is p itself while f is
 * constant: keyed by the global chain id, the same on any number of ranks. */
static void init_state(void *self, int chain, int which, int64_t id, float *row) {
    abp_descriptor *o = self;
    (void)chain, (void)which;
    int64_t d = abp_shape_numel(o->is);
    abp_rng_normal(o->cfg->seed, ABP_RNG_CHAIN_INIT, (uint32_t)id, 0, 0, row, d);
    for (int64_t e = 0; e < d; e++) row[e] *= o->dc->ref_sigma;
}

static int iterate(void *self, abp_batch *b, abp_err *err) {
    abp_descriptor *o = self;
    abp_net *f = o->f;
    int64_t d = abp_shape_numel(o->is);
    int m;
    double count_syn;
    /* 1. the synthesized images: this rank's chains, or (CD) the batch's observed images */
    if (o->M > 0) {
        m = (int)(b->chain_hi - b->chain_lo);
        abp_rows_to_cns(b->chain[0], o->syn, m, o->is);
        for (int i = 0; i < m; i++) o->ids[i] = b->chain_lo + i;
        count_syn = (double)o->M;
    } else {
        m = b->b;
        memcpy(o->syn, b->obs->y, sizeof(float) * (size_t)(m * d));
        for (int i = 0; i < m; i++) o->ids[i] = b->ids[i];
        count_syn = (double)b->B;
    }
    f->training = 1;
    f->update_running = 0;
    o->lv.iteration = (uint32_t)b->iteration;
    if (abp_langevin_images(f, o->syn, m, o->ids, &o->lv, &o->ws, err)) return -1;
    /* 2. the learning gradient: -(1/B) sum_obs df/dw + (1/M) sum_syn df/dw */
    double sum_obs, sum_syn;
    if (abp_descriptor_learn(f, b->obs->y, b->b, -1.0f / (float)b->B, o->syn, m, (float)(1.0 / count_syn), &sum_obs,
                             &sum_syn, &o->ws, err))
        return -1;
    b->slots[0] = (float)sum_obs;
    b->slots[1] = (float)sum_syn;
    /* 3. the chains keep their revised images */
    if (o->M > 0) abp_cns_to_rows(o->syn, b->chain[0], m, o->is);
    return 0;
}

static int metrics(void *self, const abp_sums *s, abp_metric *out) {
    abp_descriptor *o = self;
    double count_syn = o->M > 0 ? (double)o->M : (s ? (double)s->B : 1.0);
    double obs = s ? s->slots[0] / (double)s->B : 0.0, syn = s ? s->slots[1] / count_syn : 0.0;
    out[0] = (abp_metric){"score_obs", "f(obs) %.4g", obs};
    out[1] = (abp_metric){"score_syn", "f(syn) %.4g", syn};
    /* the ML loss's value up to log Z: mean f(syn) - mean f(obs); 0 at the fixed point */
    out[2] = (abp_metric){"score_gap", "gap %.4g", obs - syn};
    return 3;
}

/* Rank 0's synthesized images (synthesized.png); with --cd the first examples next to their
 * revisions (reconstructions.png), the paper's Experiment 3. */
static int pictures(void *self, const abp_picture_env *env, char *written, size_t cap, abp_err *err) {
    abp_descriptor *o = self;
    char path[1200];
    abp_shape is = o->is;
    int64_t d = abp_shape_numel(is);
    if (o->M > 0) {
        int m = (int)(env->chain_hi - env->chain_lo);
        snprintf(path, sizeof path, "%s/synthesized.png", env->out);
        if (abp_png_write_grid(path, env->chain[0], m, is.c, is.h, is.w, 8, err)) return -1;
        snprintf(written, cap, "%s", path);
        return 0;
    }
    int n = env->data->n < o->max_batch ? (int)env->data->n : o->max_batch;
    if (n > 32) n = 32;
    float *rows = abp_alloc(sizeof(float) * (size_t)(n * d), err);
    if (!rows) return -1;
    abp_rows_to_cns(env->data->data, o->syn, n, is);
    for (int i = 0; i < n; i++) o->ids[i] = i;
    abp_image_langevin lv = o->lv;
    lv.iteration = (uint32_t)o->cfg->iters;
    int rc = abp_langevin_images(o->f, o->syn, n, o->ids, &lv, &o->ws, err);
    if (rc == 0) {
        abp_cns_to_rows(o->syn, rows, n, is);
        snprintf(path, sizeof path, "%s/reconstructions.png", env->out);
        const float *sets[2] = {env->data->data, rows};
        rc = abp_png_write_compare(path, sets, 2, n, is.c, is.h, is.w, 8, err);
        if (rc == 0) snprintf(written, cap, "%s", path);
    }
    abp_free(rows);
    return rc;
}

const abp_objective_ops abp_objective_descriptor = {
    .name = "descriptor",
    .format = format,
    .create = create,
    .init_state = init_state,
    .iterate = iterate,
    .metrics = metrics,
    .pictures = pictures,
    .destroy = destroy,
};
