/* The classify objective (issue 11 §4): one network, the classifier c(y), a ConvNet from the
 * existing layers whose last linear layer gives one logit per class; the loss is the softmax
 * cross-entropy of the example's label, averaged over the global batch:
 *   L = -(1/B) sum_i log softmax(c(y_i))[label_i],   dL/dlogit_k = (p_k - [k = label_i]) / B.
 * It keeps no persistent state. The labels (an IDX labels file, or /labels of an HDF5 file
 * such as abp prepare --labels writes) are read whole on every rank (one byte an example)
 * and looked up by global example id, so a rank needs no knowledge of its shard.
 * What it learns is the feature map of abp score (penultimate activations). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/classify.h"
#include "abp/io.h"
#include "objective.h"

#define ABP_CLASSIFIER "classifier"

void abp_classify_defaults(abp_classify_cfg *c) {
    memset(c, 0, sizeof *c);
    snprintf(c->model, sizeof c->model, "classify28");
}

void abp_classify_format(const abp_classify_cfg *c, char *out, size_t cap) {
    if (!c->labels[0]) return;
    size_t used = strlen(out);
    snprintf(out + used, cap - used, "--labels=%s\n--test-data=%s\n--test-labels=%s\n--classifier=%s\n", c->labels,
             c->test_data, c->test_labels, c->model);
}

int abp_classify_parse(abp_classify_cfg *c, const char *k, const char *v) {
    if (!strcmp(k, "labels")) snprintf(c->labels, sizeof c->labels, "%s", v);
    else if (!strcmp(k, "test-data")) snprintf(c->test_data, sizeof c->test_data, "%s", v);
    else if (!strcmp(k, "test-labels")) snprintf(c->test_labels, sizeof c->test_labels, "%s", v);
    else if (!strcmp(k, "classifier")) snprintf(c->model, sizeof c->model, "%s", v);
    else return 0;
    return 1;
}

/* Softmax cross-entropy (abp/classify.h); tests/test_classify.c checks its gradient. */
double abp_classify_loss(const float *logits, const uint8_t *labels, int n, int K, float *dlogits, float scale,
                         int *correct) {
    double total = 0.0;
    int hits = 0;
    for (int i = 0; i < n; i++) {
        float top = logits[i];
        int best = 0;
        for (int k = 1; k < K; k++)
            if (logits[k * n + i] > top) top = logits[k * n + i], best = k;
        double z = 0.0; /* log-sum-exp shifted by the maximum, so exp cannot overflow */
        for (int k = 0; k < K; k++) z += exp((double)(logits[k * n + i] - top));
        double logz = log(z) + (double)top;
        total += logz - (double)logits[labels[i] * n + i];
        hits += best == labels[i];
        if (dlogits)
            for (int k = 0; k < K; k++) {
                double p = exp((double)logits[k * n + i] - logz);
                dlogits[k * n + i] = (float)((p - (k == labels[i])) * scale);
            }
    }
    if (correct) *correct = hits;
    return total;
}

typedef struct classify {
    const abp_train_cfg *cfg;
    abp_net *c;           /* the classifier, in the model's arena */
    int K;                /* classes: the output's size */
    uint8_t *labels;      /* of every example, by global id */
    int64_t nlabels;
    uint8_t *lb;          /* the batch's labels */
    float *dout;          /* dL/dlogits, CNS */
    float inv_batch;      /* 1 / B */
} classify;

static void destroy(void *self) {
    classify *o = self;
    if (!o) return;
    free(o->labels);
    abp_free(o->lb);
    abp_free(o->dout);
    free(o);
}

/* The labels of n examples (an IDX labels file or HDF5 /labels), every label below K. */
static int read_labels(const char *path, const char *option, int64_t n, int K, uint8_t **labels, int64_t *count,
                       abp_err *err) {
    if (!path[0])
        return abp_fail(err, "--objective classify needs %s FILE (IDX labels or HDF5 /labels, one per example)", option);
    if (abp_labels_read(path, labels, count, err)) return abp_fail_wrap(err, "%s", option);
    if (*count < n)
        return abp_fail(err, "%s %s: %lld labels for %lld examples", option, path, (long long)*count, (long long)n);
    for (int64_t i = 0; i < *count; i++)
        if ((*labels)[i] >= K)
            return abp_fail(err, "%s %s: label %d of example %lld, but the classifier has %d classes", option, path,
                            (*labels)[i], (long long)i, K);
    return 0;
}

static int create(const abp_objective_env *env, abp_model *model, abp_objective_layout *layout, void **self,
                  abp_err *err) {
    const abp_train_cfg *cfg = env->cfg;
    classify *o = calloc(1, sizeof *o);
    *self = o;
    if (!o) return abp_fail(err, "out of memory");
    o->cfg = cfg;
    const char *spec = abp_model_spec(cfg->classify.model);
    abp_opt_cfg opt = {.kind = cfg->optimizer, .lr = cfg->lr, .beta1 = cfg->beta1, .momentum = cfg->momentum};
    if (abp_model_add(model, ABP_CLASSIFIER, spec ? spec : cfg->classify.model, 0, env->b_local, &opt, &o->c, err))
        return abp_fail_wrap(err, "--classifier");
    abp_shape out = o->c->out_shape;
    if (out.h != 1 || out.w != 1 || out.c < 2 || out.c > 256)
        return abp_fail(err, "--classifier: its output must be a vector of 2 to 256 logits (end in linear K), not %dx%dx%d",
                        out.h, out.w, out.c);
    if (o->c->nlayers < 2 || o->c->layers[o->c->nlayers - 1].kind != ABP_LINEAR)
        return abp_fail(err, "--classifier: its last layer must be linear K (the penultimate activations are the features)");
    o->K = out.c;
    abp_net_init_params(o->c, cfg->seed);
    o->c->sum = env->sum;
    o->c->sum_ctx = env->sum_ctx;
    if (read_labels(cfg->classify.labels, "--labels", env->n_total, o->K, &o->labels, &o->nlabels, err)) return -1;
    o->lb = abp_alloc((size_t)env->b_local, err);
    o->dout = o->lb ? abp_alloc(sizeof(float) * (size_t)(env->b_local * o->K), err) : NULL;
    if (!o->dout) return -1;
    o->inv_batch = 1.0f / (float)env->B;
    *layout = (abp_objective_layout){.signal = o->c->in_shape, .nexample = 0, .nslots = 2};
    return 0;
}

/* /config: the classifier's options (abp/classify.h). */
static char *format(const abp_train_cfg *cfg) {
    size_t cap = sizeof cfg->classify + 256;
    char *s = calloc(cap, 1);
    if (s) abp_classify_format(&cfg->classify, s, cap);
    return s;
}

static void init_state(void *self, int chain, int which, int64_t id, float *row) {
    (void)self, (void)chain, (void)which, (void)id, (void)row; /* no state */
}

static int iterate(void *self, abp_batch *b, abp_err *err) {
    classify *o = self;
    abp_net *c = o->c;
    if (b->obs->mask || b->obs->sense)
        return abp_fail(err, "--objective classify sees whole images: --mask and --sense do not apply");
    for (int i = 0; i < b->b; i++) o->lb[i] = o->labels[b->ids[i]];
    c->training = 1;
    c->update_running = 1;
    if (abp_net_forward(c, b->obs->y, b->b, err)) return -1;
    c->update_running = 0;
    int correct = 0;
    b->slots[0] = (float)abp_classify_loss(abp_net_output(c), o->lb, b->b, o->K, o->dout, o->inv_batch, &correct);
    b->slots[1] = (float)correct;
    return abp_net_backward(c, o->dout, b->b, NULL, 1, err);
}

static int metrics(void *self, const abp_sums *s, abp_metric *out) {
    (void)self;
    out[0] = (abp_metric){"loss", "loss %.4g", s ? s->slots[0] / (double)s->B : 0.0};
    out[1] = (abp_metric){"accuracy", "acc %.4f", s ? s->slots[1] / (double)s->B : 0.0};
    return 2;
}

/* Accuracy on --test-data with --test-labels (rank 0, evaluation mode). */
static int pictures(void *self, const abp_picture_env *env, char *written, size_t cap, abp_err *err) {
    classify *o = self;
    const abp_classify_cfg *cc = &o->cfg->classify;
    snprintf(written, cap, "no pictures (a classifier)");
    if (!cc->test_data[0]) return 0;
    abp_images test = {0};
    uint8_t *labels = NULL;
    int64_t nlabels = 0;
    abp_shape s = o->c->in_shape;
    int rc = -1;
    int64_t dy = abp_shape_numel(s), hits = 0;
    float *cns = NULL;
    if (abp_data_load(cc->test_data, 0, -1, s.c, s.h, s.w, &test, err)) goto done;
    if (read_labels(cc->test_labels, "--test-labels", test.n, o->K, &labels, &nlabels, err)) goto done;
    cns = abp_alloc(sizeof(float) * (size_t)(o->c->max_batch * dy), err);
    if (!cns) goto done;
    o->c->training = 0;
    for (int64_t at = 0; at < test.n; at += o->c->max_batch) {
        int n = (int)(test.n - at < o->c->max_batch ? test.n - at : o->c->max_batch), correct;
        abp_rows_to_cns(test.data + at * dy, cns, n, s);
        if (abp_net_forward(o->c, cns, n, err)) goto done;
        abp_classify_loss(abp_net_output(o->c), labels + at, n, o->K, NULL, 0.0f, &correct);
        hits += correct;
    }
    snprintf(written, cap, "test_accuracy=%.4f on %lld examples of %s", (double)hits / (double)test.n,
             (long long)test.n, cc->test_data);
    rc = 0;
done:
    o->c->training = 1;
    if (rc) abp_fail_wrap(err, "--test-data %s", cc->test_data);
    abp_free(cns);
    free(labels);
    abp_images_free(&test);
    (void)env;
    return rc;
}

const abp_objective_ops abp_objective_classify = {
    .name = "classify",
    .format = format,
    .create = create,
    .init_state = init_state,
    .iterate = iterate,
    .metrics = metrics,
    .pictures = pictures,
    .destroy = destroy,
};

/* ---------------------------------------------------------------- abp score's feature map */

typedef struct classifier_map {
    abp_net net;
    float *cns, *rows; /* one chunk of images (CNS) and of outputs (rows) */
} classifier_map;

/* Runs the classifier on n images in chunks; writes layer `at`'s activations as rows. */
static int classifier_run(abp_features *f, const float *images, int64_t n, int at, int width, float *out,
                          abp_err *err) {
    classifier_map *m = f->state;
    abp_shape s = m->net.in_shape, o = {width, 1, 1};
    int64_t dy = abp_shape_numel(s);
    for (int64_t lo = 0; lo < n; lo += m->net.max_batch) {
        int b = (int)(n - lo < m->net.max_batch ? n - lo : m->net.max_batch);
        abp_rows_to_cns(images + lo * dy, m->cns, b, s);
        if (abp_net_forward(&m->net, m->cns, b, err)) return -1;
        abp_cns_to_rows(m->net.act[at], out + lo * width, b, o);
    }
    return 0;
}

static int classifier_features(abp_features *f, const float *images, int64_t n, float *out, abp_err *err) {
    classifier_map *m = f->state;
    return classifier_run(f, images, n, m->net.nlayers - 1, f->dim, out, err);
}

static int classifier_probs(abp_features *f, const float *images, int64_t n, float *out, abp_err *err) {
    classifier_map *m = f->state;
    if (classifier_run(f, images, n, m->net.nlayers, f->classes, out, err)) return -1;
    for (int64_t i = 0; i < n; i++) { /* softmax of each row, shifted by its maximum */
        float *p = out + i * f->classes, top = p[0];
        double z = 0.0;
        for (int k = 1; k < f->classes; k++) top = p[k] > top ? p[k] : top;
        for (int k = 0; k < f->classes; k++) z += exp((double)(p[k] - top));
        for (int k = 0; k < f->classes; k++) p[k] = (float)(exp((double)(p[k] - top)) / z);
    }
    return 0;
}

static void classifier_release(abp_features *f) {
    classifier_map *m = f->state;
    if (!m) return;
    abp_net_free(&m->net);
    abp_free(m->cns);
    free(m);
}

int abp_features_classifier(const char *path, abp_features *f, abp_err *err) {
    memset(f, 0, sizeof *f);
    abp_ckpt *ck = NULL;
    abp_ckpt_meta meta = {0};
    if (abp_ckpt_open(MPI_COMM_SELF, path, &ck, &meta, err)) return -1;
    classifier_map *m = calloc(1, sizeof *m);
    abp_ckpt_array *arrays = NULL, *all = NULL;
    int narrays = 0, nall = 0, found = 0, rc = -1;
    abp_train_cfg cfg;
    if (!m) {
        abp_fail(err, "%s: out of memory", path);
        goto done;
    }
    if (abp_train_cfg_parse(meta.config ? meta.config : "", &cfg, err) || abp_ckpt_list(ck, &all, &nall, err)) goto done;
    for (int k = 0; k < nall && !found; k++) found = !strncmp(all[k].path, ABP_CLASSIFIER "/", strlen(ABP_CLASSIFIER) + 1);
    if (!found) {
        abp_fail(err, "%s: a generator checkpoint (it maps latents to images), not a feature network (no "
                 "/classifier group): train one with abp train --objective classify --labels FILE", path);
        goto done;
    }
    const char *spec = abp_model_spec(cfg.classify.model);
    if (abp_net_build(spec ? spec : cfg.classify.model, 0, 64, &m->net, err)) {
        abp_fail_wrap(err, "%s: the classifier it stores", path);
        goto done;
    }
    if (abp_net_ckpt_arrays(&m->net, NULL, ABP_CLASSIFIER, "optimizer/" ABP_CLASSIFIER, &arrays, &narrays, err))
        goto done;
    for (int k = 0; k < narrays; k++)
        if (abp_ckpt_read_array(ck, arrays[k].path, arrays[k].data, arrays[k].ndim, arrays[k].dims, err)) goto done;
    m->net.training = 0;
    m->cns = abp_alloc(sizeof(float) * (size_t)(64 * abp_shape_numel(m->net.in_shape)), err);
    if (!m->cns) goto done;
    abp_shape pen = m->net.layers[m->net.nlayers - 1].in;
    snprintf(f->name, sizeof f->name, "classifier");
    f->c = m->net.in_shape.c, f->h = m->net.in_shape.h, f->w = m->net.in_shape.w;
    f->dim = (int)abp_shape_numel(pen);
    f->classes = m->net.out_shape.c;
    f->map = classifier_features;
    f->probs = classifier_probs;
    f->release = classifier_release;
    f->state = m;
    m = NULL;
    rc = 0;
done:
    if (m) {
        abp_net_free(&m->net);
        free(m);
    }
    free(arrays);
    free(all);
    abp_ckpt_close(ck);
    return rc;
}
