/* The ABP loop on one rank (DESIGN §3): shard, batch, infer, learn, allreduce, update,
 * write back, report, checkpoint. */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abp/infer.h"
#include "abp/rng.h"
#include "abp/train.h"

/* The one piece of process state outside MPI: a signal handler can only talk to the loop
 * through a flag of this type. */
static volatile sig_atomic_t stop_requested = 0;
static void on_stop_signal(int sig) { (void)sig; stop_requested = 1; }

struct abp_trainer {
    const abp_train_cfg *cfg;
    abp_dist *d;
    abp_net net;
    abp_optimizer opt;
    abp_infer_ws ws;
    abp_images data;          /* this rank's examples, rows */
    int64_t n_total, lo, hi;  /* the shard [lo, hi) of n_total */
    int64_t n_local;
    int64_t B;                /* global batch */
    int b_local;              /* this rank's share */
    abp_shape zs, ys;
    float *latents;           /* [n_local][d] persistent */
    int64_t *perm, perm_cycle;
    int64_t *batch_idx, *batch_ids; /* local row, global id */
    float *zb, *yb, *dout;    /* batch in CNS */
    int64_t start_iter;
    char *config;
    abp_langevin lv;
    float inv_var_batch;      /* 1 / (sigma^2 B): the learning gradient's scale */
    abp_mask_spec mask;       /* the observation mask of every example (kind NONE: none) */
    unsigned char *masks;     /* [n_local][dy]: each example's mask (1 observed), made once */
    float *mrows, *mb;        /* the batch's masks, rows and CNS */
    double observed;          /* observed values in the last global batch */
    abp_sensing sense;        /* --sense K: the sensing matrix (S NULL: no sensing) */
    float *proj;              /* [n_local][K]: S y of this rank's examples, all the model sees */
    float *pb;                /* [b_local][K]: the batch's projections */
    int wav_rate;             /* the data is a WAV file of this sample rate (0: not a sound) */
};
typedef struct abp_trainer trainer;

static void trainer_free(trainer *t) {
    abp_net_free(&t->net);
    abp_optimizer_free(&t->opt);
    abp_infer_ws_free(&t->ws);
    abp_images_free(&t->data);
    abp_free(t->latents);
    free(t->perm);
    free(t->batch_idx);
    free(t->batch_ids);
    abp_free(t->zb);
    abp_free(t->yb);
    abp_free(t->dout);
    abp_free(t->masks);
    abp_free(t->mrows);
    abp_free(t->mb);
    abp_sensing_free(&t->sense);
    abp_free(t->proj);
    abp_free(t->pb);
    free(t->config);
}

/* Rows [lo, hi) of an in-memory data set (abp bench's synthetic images), as a loaded shard. */
static int copy_rows(const abp_images *all, int64_t lo, int64_t hi, abp_shape ys, abp_images *out,
                     abp_err *err) {
    if (all->c != ys.c || all->h != ys.h || all->w != ys.w)
        return abp_fail(err, "data of %dx%dx%d for a model that makes %dx%dx%d", all->h, all->w,
                        all->c, ys.h, ys.w, ys.c);
    int64_t dy = abp_shape_numel(ys);
    memset(out, 0, sizeof *out);
    out->n = hi - lo, out->c = ys.c, out->h = ys.h, out->w = ys.w;
    out->data = abp_alloc(sizeof(float) * (size_t)(out->n * dy), err);
    out->names = calloc((size_t)out->n, sizeof *out->names);
    if (!out->data || !out->names) return abp_fail(err, "out of memory for %lld examples", (long long)out->n);
    memcpy(out->data, all->data + lo * dy, sizeof(float) * (size_t)(out->n * dy));
    for (int64_t i = 0; i < out->n; i++) {
        const char *name = all->names ? all->names[lo + i] : "synthetic";
        out->names[i] = strdup(name);
        if (!out->names[i]) return abp_fail(err, "out of memory");
    }
    return 0;
}

/* Everything that can fail on one rank alone, before the first collective of the loop. */
static int setup_local(trainer *t, const abp_images *given, abp_err *err) {
    const abp_train_cfg *cfg = t->cfg;
    abp_data_info info = {.n = given ? given->n : 0};
    if (!given && abp_data_probe(cfg->data, &info, err)) return -1;
    t->n_total = cfg->limit > 0 && cfg->limit < info.n ? cfg->limit : info.n;
    if (t->n_total < t->d->size)
        return abp_fail(err, "%s: %lld examples cannot be shared by %d ranks", cfg->data,
                        (long long)t->n_total, t->d->size);
    abp_shard_range(t->n_total, t->d->size, t->d->rank, &t->lo, &t->hi);
    t->n_local = t->hi - t->lo;
    t->B = cfg->full_batch ? t->n_total : cfg->batch;
    if (t->B > t->n_total)
        return abp_fail(err, "--batch %lld is larger than the %lld examples", (long long)t->B,
                        (long long)t->n_total);
    if (t->B < t->d->size)
        return abp_fail(err, "--batch %lld is smaller than the %d ranks", (long long)t->B, t->d->size);
    t->b_local = cfg->full_batch ? (int)t->n_local : abp_batch_share(t->B, t->d->size, t->d->rank);

    const char *spec = abp_model_spec(cfg->model);
    if (abp_net_build(spec ? spec : cfg->model, cfg->latent_dim, t->b_local, &t->net, err)) return -1;
    t->zs = t->net.in_shape;
    t->ys = t->net.out_shape;
    if (t->ys.c != 1 && t->ys.c != 3)
        return abp_fail(err, "the model makes %d-channel signals; image data needs 1 or 3", t->ys.c);
    if (given) {
        if (copy_rows(given, t->lo, t->hi, t->ys, &t->data, err)) return -1;
    } else if (abp_data_load(cfg->data, t->lo, t->hi, t->ys.c, t->ys.h, t->ys.w, &t->data, err)) {
        return -1;
    }
    abp_net_init_params(&t->net, cfg->seed);
    t->net.sum = abp_dist_sum_doubles;
    t->net.sum_ctx = t->d;
    if (abp_optimizer_init(&t->opt, cfg->optimizer, t->net.nparams, cfg->lr, cfg->beta1,
                           cfg->momentum, err))
        return -1;
    if (abp_infer_ws_init(&t->ws, &t->net, err)) return -1;
    int64_t dz = abp_shape_numel(t->zs), dy = abp_shape_numel(t->ys);
    t->latents = abp_alloc(sizeof(float) * (size_t)(t->n_local * dz), err);
    t->zb = abp_alloc(sizeof(float) * (size_t)(t->b_local * dz), err);
    t->yb = abp_alloc(sizeof(float) * (size_t)(t->b_local * dy), err);
    t->dout = abp_alloc(sizeof(float) * (size_t)(t->b_local * dy), err);
    t->perm = malloc(sizeof(int64_t) * (size_t)t->n_local);
    t->batch_idx = malloc(sizeof(int64_t) * (size_t)t->b_local);
    t->batch_ids = malloc(sizeof(int64_t) * (size_t)t->b_local);
    if (!t->latents || !t->zb || !t->yb || !t->dout || !t->perm || !t->batch_idx || !t->batch_ids)
        return abp_fail(err, "out of memory for %lld examples", (long long)t->n_local);
    /* z_i ~ N(0, I) from the counter RNG: the same for example i on any number of ranks. */
    for (int64_t i = 0; i < t->n_local; i++)
        abp_rng_normal(cfg->seed, ABP_RNG_LATENT_INIT, (uint32_t)(t->lo + i), 0, 0,
                       t->latents + i * dz, dz);
    if (abp_mask_parse(cfg->mask, &t->mask, err)) return -1;
    if (cfg->sense < 0) return abp_fail(err, "--sense %d: expected K >= 1 projections, or 0 for none", cfg->sense);
    if (cfg->sense > 0 && t->mask.kind != ABP_MASK_NONE)
        return abp_fail(err, "--sense %d cannot be combined with --mask %s: choose one observation", cfg->sense, cfg->mask);
    if (cfg->sense > 0) {
        /* The same S on every rank (a function of the seed); the projections of the shard
         * are made once: from here on training sees y only through them. */
        int64_t K = cfg->sense;
        if (abp_sensing_init(&t->sense, cfg->seed, cfg->sense, t->ys, t->b_local, err)) return -1;
        t->proj = abp_alloc(sizeof(float) * (size_t)(t->n_local * K), err);
        t->pb = abp_alloc(sizeof(float) * (size_t)(t->b_local * K), err);
        if (!t->proj || !t->pb) return -1;
        abp_sensing_project_rows(&t->sense, t->data.data, t->n_local, t->proj);
    }
    if (t->mask.kind != ABP_MASK_NONE) {
        /* Each example's mask is a pure function of (seed, example id): made once for the
         * shard, like the projections, and only gathered in the iteration. */
        t->masks = abp_alloc((size_t)(t->n_local * dy), err);
        t->mrows = t->masks ? abp_alloc(sizeof(float) * (size_t)(t->b_local * dy), err) : NULL;
        t->mb = t->mrows ? abp_alloc(sizeof(float) * (size_t)(t->b_local * dy), err) : NULL;
        if (!t->mb) return -1;
        for (int64_t i = 0; i < t->n_local; i++) {
            abp_mask_make(&t->mask, cfg->seed, t->lo + i, t->ys.c, t->ys.h, t->ys.w, t->mrows);
            for (int64_t e = 0; e < dy; e++) t->masks[i * dy + e] = t->mrows[e] != 0.0f;
        }
    }
    /* A sound is written back as WAV at its rate (write_pictures). */
    int64_t frames;
    if (t->ys.c != 1 || t->ys.h != 1 || abp_wav_info(cfg->data, &frames, &t->wav_rate, NULL) != 0)
        t->wav_rate = 0;
    t->perm_cycle = -1;
    t->config = abp_train_cfg_format(cfg, t->net.spec);
    if (!t->config) return abp_fail(err, "out of memory");
    t->lv = (abp_langevin){.steps = cfg->langevin_steps, .step_size = cfg->step_size,
                           .sigma = cfg->sigma, .noise = !cfg->inference_gd, .seed = cfg->seed};
    t->inv_var_batch = 1.0f / (cfg->sigma * cfg->sigma * (float)t->B);
    return 0;
}

/* Collective: parameters, optimizer moments and this rank's latents from a checkpoint. */
static int resume(trainer *t, abp_err *err) {
    abp_ckpt *ck = NULL;
    abp_ckpt_meta meta;
    abp_ckpt_array *arrays = NULL;
    char **names = NULL;
    int narrays = 0, rc = -1;
    const char *path = t->cfg->resume;
    if (abp_ckpt_open(t->d->comm, path, &ck, &meta, err)) return -1;
    int64_t n_ck, dims[4];
    int ndim;
    if (abp_ckpt_latent_shape(ck, &n_ck, &ndim, dims, err)) goto done;
    if (n_ck != t->n_total) {
        abp_fail(err, "%s holds latents of %lld examples, but the data has %lld", path,
                 (long long)n_ck, (long long)t->n_total);
        goto done;
    }
    if (meta.optimizer[0] && strcmp(meta.optimizer, t->cfg->optimizer == ABP_OPT_SGD ? "sgd" : "adam")) {
        abp_fail(err, "%s was trained with --optimizer %s", path, meta.optimizer);
        goto done;
    }
    {
        /* The observations are part of the model's data: a resumed run must see the same. */
        abp_train_cfg was;
        if (abp_train_cfg_parse(meta.config ? meta.config : "", &was, err)) goto done;
        if (was.sense != t->cfg->sense) {
            abp_fail(err, "%s was trained with --sense %d; resume it with the same --sense", path, was.sense);
            goto done;
        }
    }
    if (abp_model_arrays(&t->net, &t->opt, &arrays, &narrays, err)) goto done;
    for (int k = 0; k < narrays; k++)
        if (abp_ckpt_read_array(ck, arrays[k].path, arrays[k].data, arrays[k].ndim, arrays[k].dims, err))
            goto done;
    {
        int64_t prod = 1;
        for (int k = 0; k < ndim; k++) prod *= dims[k];
        if (prod != abp_shape_numel(t->zs)) {
            abp_fail(err, "%s: latents have %lld values per example, the model %lld", path,
                     (long long)prod, (long long)abp_shape_numel(t->zs));
            goto done;
        }
    }
    if (abp_ckpt_read_latents(ck, t->lo, t->hi, t->latents, err)) goto done;
    if (abp_ckpt_read_names(ck, t->lo, t->hi, &names, err)) goto done;
    for (int64_t i = 0; i < t->n_local; i++)
        if (strcmp(names[i], t->data.names[i]) != 0) {
            abp_fail(err, "%s: example %lld is '%s' in the checkpoint but '%s' in %s", path,
                     (long long)(t->lo + i), names[i], t->data.names[i], t->cfg->data);
            goto done;
        }
    t->start_iter = meta.iteration;
    t->opt.step = meta.optimizer_step;
    rc = 0;
done:
    if (names) {
        for (int64_t i = 0; i < t->n_local; i++) free(names[i]);
        free(names);
    }
    free(arrays);
    abp_ckpt_close(ck);
    return rc;
}

/* Rank 0, after OUT/checkpoint-ITER.h5 is complete: makes OUT/checkpoint.h5 name the same
 * file (a hard link made under a temporary name and renamed over the old one, so that
 * checkpoint.h5 is at every moment some complete checkpoint), then deletes the numbered
 * files older than the newest `keep`. Numbered files from later iterations (left by a run
 * that was resumed from an earlier checkpoint) are never deleted: nothing is lost. */
static int publish_checkpoint(const char *out, int64_t iteration, int keep, abp_err *err) {
    char numbered[1200], newest[1200], tmp[1300];
    snprintf(numbered, sizeof numbered, "%s/checkpoint-%08lld.h5", out, (long long)iteration);
    snprintf(newest, sizeof newest, "%s/checkpoint.h5", out);
    snprintf(tmp, sizeof tmp, "%s/checkpoint.h5.link", out);
    unlink(tmp);
    if (link(numbered, tmp) != 0) {
        /* Some file systems have no hard links; a relative symbolic link does the same job. */
        char target[64];
        snprintf(target, sizeof target, "checkpoint-%08lld.h5", (long long)iteration);
        if (symlink(target, tmp) != 0)
            return abp_fail(err, "%s: cannot link to %s (%s)", tmp, numbered, strerror(errno));
    }
    if (rename(tmp, newest) != 0)
        return abp_fail(err, "%s: cannot replace (%s)", newest, strerror(errno));
    DIR *dir = opendir(out);
    if (!dir) return abp_fail(err, "%s: cannot list (%s)", out, strerror(errno));
    int64_t *older = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        long long it;
        char tail[8];
        if (sscanf(e->d_name, "checkpoint-%lld.h%7s", &it, tail) == 2 && !strcmp(tail, "5") &&
            it < iteration) {
            if (n == cap) {
                cap = cap ? 2 * cap : 16;
                int64_t *grown = realloc(older, cap * sizeof *older);
                if (!grown) break;
                older = grown;
            }
            older[n++] = it;
        }
    }
    closedir(dir);
    /* Keep the newest keep - 1 older ones (the one just written is the keep-th). */
    for (size_t i = 0; i < n; i++) {
        size_t newer = 0;
        for (size_t j = 0; j < n; j++) newer += older[j] > older[i];
        if (newer >= (size_t)(keep > 0 ? keep - 1 : 0)) {
            snprintf(numbered, sizeof numbered, "%s/checkpoint-%08lld.h5", out, (long long)older[i]);
            unlink(numbered);
        }
    }
    free(older);
    return 0;
}

static int write_checkpoint(trainer *t, int64_t iters_done, abp_err *err) {
    abp_ckpt_array *arrays = NULL;
    int narrays = 0;
    if (abp_model_arrays(&t->net, &t->opt, &arrays, &narrays, err)) return -1;
    abp_ckpt_meta meta = {.iteration = iters_done, .epoch = iters_done * t->B / t->n_total,
                          .seed = t->cfg->seed, .world_size = t->d->size,
                          .optimizer_step = t->opt.step, .config = t->config};
    snprintf(meta.optimizer, sizeof meta.optimizer, "%s", t->cfg->optimizer == ABP_OPT_SGD ? "sgd" : "adam");
    char path[1200];
    snprintf(path, sizeof path, "%s/checkpoint-%08lld.h5", t->cfg->out, (long long)iters_done);
    int64_t ldims[3] = {t->zs.c, t->zs.h, t->zs.w};
    int lnd = (t->zs.h == 1 && t->zs.w == 1) ? 1 : 3;
    if (lnd == 3) ldims[0] = t->zs.h, ldims[1] = t->zs.w, ldims[2] = t->zs.c;
    int rc = abp_ckpt_write(t->d->comm, path, &meta, arrays, narrays, t->latents, t->n_total,
                            t->lo, t->hi, lnd, ldims, t->data.names, err);
    free(arrays);
    if (rc) return rc;
    int published = t->d->rank == 0 ? publish_checkpoint(t->cfg->out, iters_done, t->cfg->keep_checkpoints, err) : 0;
    return abp_dist_agree(t->d, published, err);
}

/* Picks this iteration's batch: full batch, or the next b_local of this rank's shard in a
 * permutation that is a pure function of (seed, shard, cycle), so a resumed run picks the
 * same examples as an uninterrupted one. */
static void choose_batch(trainer *t, int64_t iter) {
    if (t->cfg->full_batch) {
        for (int i = 0; i < t->b_local; i++) t->batch_idx[i] = i;
    } else {
        for (int i = 0; i < t->b_local; i++) {
            int64_t pos = iter * t->b_local + i, cycle = pos / t->n_local;
            if (cycle != t->perm_cycle) {
                abp_rng_permutation(t->cfg->seed, ABP_RNG_PERMUTE, (uint32_t)t->lo,
                                    (uint32_t)cycle, t->perm, t->n_local);
                t->perm_cycle = cycle;
            }
            t->batch_idx[i] = t->perm[pos % t->n_local];
        }
    }
    for (int i = 0; i < t->b_local; i++) t->batch_ids[i] = t->lo + t->batch_idx[i];
}

static void format_duration(double s, char *buf, size_t n) {
    if (s < 0 || !isfinite(s)) snprintf(buf, n, "?");
    else if (s < 60) snprintf(buf, n, "%.0fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

/* A fresh run refuses an --out that already holds results: nothing earlier is overwritten. */
static int check_fresh_out(const abp_train_cfg *cfg, abp_err *err) {
    const char *names[] = {"checkpoint.h5", "metrics.csv"};
    for (int k = 0; k < 2; k++) {
        char path[1200];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", cfg->out, names[k]);
        if (stat(path, &st) == 0)
            return abp_fail(err, "--out %s already holds %s; continue it with --resume %s/checkpoint.h5, or choose another --out",
                            cfg->out, names[k], cfg->out);
    }
    return 0;
}

/* Rank 0's metrics.csv. On resume, rows past the checkpoint's iteration (written before a
 * crash) are dropped, so that the file lists every iteration once, and *seconds_before gets
 * the elapsed time of the last row kept, so the seconds column goes on counting. */
static FILE *open_metrics(const abp_train_cfg *cfg, int64_t start_iter, double *seconds_before,
                          abp_err *err) {
    /* With --sense the error column is on the projections, and its name says so. */
    const char *mse_name = cfg->sense > 0 ? "proj_mse" : "recon_mse";
    char path[1200], tmp[1300];
    snprintf(path, sizeof path, "%s/metrics.csv", cfg->out);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    *seconds_before = 0;
    FILE *old = cfg->resume[0] ? fopen(path, "r") : NULL;
    FILE *f = fopen(old ? tmp : path, "w");
    if (!f) {
        if (old) fclose(old);
        abp_fail(err, "%s: cannot write (%s)", old ? tmp : path, strerror(errno));
        return NULL;
    }
    fprintf(f, "iteration,epoch,loss,%s,seconds,compute_s,allreduce_s,io_s,peak_rss_mb\n", mse_name);
    if (old) {
        char line[512];
        while (fgets(line, sizeof line, old))
            if (line[0] >= '0' && line[0] <= '9' && atoll(line) <= start_iter) {
                fputs(line, f);
                long long it, epoch;
                double loss, mse, sec;
                if (sscanf(line, "%lld,%lld,%lf,%lf,%lf", &it, &epoch, &loss, &mse, &sec) == 5)
                    *seconds_before = sec;
            }
        fclose(old);
        if (fflush(f) != 0 || rename(tmp, path) != 0) {
            abp_fail(err, "%s: cannot replace (%s)", path, strerror(errno));
            fclose(f);
            return NULL;
        }
    }
    return f;
}

/* Rank 0: samples from the prior and reconstructions of its first examples, as PNG (of a
 * sound: samples.wav and reconstruction.wav). */
static int write_pictures(trainer *t, abp_err *err) {
    abp_net *net = &t->net;
    int64_t dz = abp_shape_numel(t->zs), dy = abp_shape_numel(t->ys);
    int total = 64, pairs = t->n_local < 32 ? (int)t->n_local : 32;
    float *images = abp_alloc(sizeof(float) * (size_t)(total * dy), err);
    float *rows = abp_alloc(sizeof(float) * (size_t)(total * dz), err);
    int rc = -1;
    if (!images || !rows) goto done;
    net->training = 0;
    for (int i = 0; i < total; i++)
        abp_rng_normal(t->cfg->seed, ABP_RNG_PRIOR, (uint32_t)i, 0, 0, rows + i * dz, dz);
    if (abp_net_generate(net, rows, total, images, t->zb, err)) goto done;
    char path[1200];
    int rate = t->wav_rate;
    if (rate > 0) {
        /* A sound: one sample and the first example's reconstruction, as WAV at its rate. */
        snprintf(path, sizeof path, "%s/samples.wav", t->cfg->out);
        if (abp_wav_write(path, images, dy, rate, ABP_WAV_PCM16, err)) goto done;
        if (abp_net_generate(net, t->latents, 1, images, t->zb, err)) goto done;
        snprintf(path, sizeof path, "%s/reconstruction.wav", t->cfg->out);
        if (abp_wav_write(path, images, dy, rate, ABP_WAV_PCM16, err)) goto done;
        rc = 0;
        goto done;
    }
    snprintf(path, sizeof path, "%s/samples.png", t->cfg->out);
    if (abp_png_write_grid(path, images, total, t->ys.c, t->ys.h, t->ys.w, 8, err)) goto done;
    /* Reconstructions: rows of originals, each followed by a row of their g(z_i). */
    if (abp_net_generate(net, t->latents, pairs, images, t->zb, err)) goto done;
    snprintf(path, sizeof path, "%s/reconstructions.png", t->cfg->out);
    const float *sets[2] = {t->data.data, images};
    if (abp_png_write_compare(path, sets, 2, pairs, t->ys.c, t->ys.h, t->ys.w, 8, err)) goto done;
    rc = 0;
done:
    net->training = 1;
    abp_free(images);
    abp_free(rows);
    return rc;
}

int abp_trainer_iterate(abp_trainer *t, int64_t it, int stop_flag, double *sse_all, int *stop,
                        abp_err *err) {
    abp_net *net = &t->net;
    int64_t dz = abp_shape_numel(t->zs), dy = abp_shape_numel(t->ys);
    choose_batch(t, it);
    abp_gather_rows_to_cns(t->latents, t->batch_idx, t->zb, t->b_local, t->zs);
    /* What the model sees of the batch: y, y through a mask, or the projections S y. */
    abp_observation obs = {.y = t->yb, .mask = t->mb};
    double observed = (double)(t->b_local * dy);
    if (t->pb) {
        int64_t K = t->sense.K;
        for (int i = 0; i < t->b_local; i++)
            memcpy(t->pb + i * K, t->proj + t->batch_idx[i] * K, sizeof(float) * (size_t)K);
        obs = (abp_observation){.y = t->pb, .sense = &t->sense};
        observed = (double)(t->b_local * K);
    } else {
        abp_gather_rows_to_cns(t->data.data, t->batch_idx, t->yb, t->b_local, t->ys);
    }
    /* Occluded data: the batch's masks, made at setup. */
    if (t->mb) {
        int64_t count = 0;
        for (int i = 0; i < t->b_local; i++) {
            const unsigned char *src = t->masks + t->batch_idx[i] * dy;
            float *m = t->mrows + i * dy;
            for (int64_t e = 0; e < dy; e++) m[e] = src[e], count += src[e];
        }
        observed = (double)count;
        abp_rows_to_cns(t->mrows, t->mb, t->b_local, t->ys);
    }
    /* 1. inferential back-propagation */
    net->training = 1;
    net->update_running = 0;
    t->lv.iteration = (uint32_t)it;
    if (abp_infer_latents(net, t->zb, &obs, t->b_local, t->batch_ids, &t->lv, &t->ws, err))
        return -1;
    /* 2. learning back-propagation: one fused allreduce of gradients, loss and stop flag */
    net->update_running = 1;
    if (abp_net_forward(net, t->zb, t->b_local, err)) return -1;
    net->update_running = 0;
    double sse = abp_observe_residual(&obs, abp_net_output(net), t->dout, t->b_local, t->ys, t->inv_var_batch);
    abp_net_zero_grads(net);
    if (abp_net_backward(net, t->dout, t->b_local, NULL, 1, err)) return -1;
    net->grads[net->nparams] = (float)sse;
    net->grads[net->nparams + 1] = stop_flag ? 1.0f : 0.0f;
    net->grads[net->nparams + 2] = (float)observed; /* exact: counts below 2^24 per rank */
    if (abp_dist_sum_floats(t->d, net->grads, net->nparams + 3, err)) return -1;
    abp_optimizer_step(&t->opt, net->params, net->grads);
    /* 3. the inferred latents go back to their examples */
    int64_t pix = abp_shape_pixels(t->zs);
    for (int i = 0; i < t->b_local; i++) {
        float *zrow = t->latents + t->batch_idx[i] * dz;
        for (int64_t e = 0; e < dz; e++) zrow[e] = t->zb[((e / pix) * t->b_local + i) * pix + e % pix];
    }
    *sse_all = net->grads[net->nparams];
    *stop = net->grads[net->nparams + 1] > 0.0f;
    t->observed = net->grads[net->nparams + 2];
    return 0;
}

int abp_trainer_create(const abp_train_cfg *cfg, abp_dist *d, const abp_images *data,
                       abp_trainer **out, abp_err *err) {
    trainer *t = calloc(1, sizeof *t);
    *out = NULL;
    if (abp_dist_agree(d, t ? 0 : abp_fail(err, "out of memory"), err)) return -1;
    t->cfg = cfg;
    t->d = d;
    if (abp_dist_agree(d, setup_local(t, data, err), err) ||
        (cfg->resume[0] && abp_dist_agree(d, resume(t, err), err))) {
        abp_trainer_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

abp_net *abp_trainer_net(abp_trainer *t) { return &t->net; }

abp_optimizer *abp_trainer_optimizer(abp_trainer *t) { return &t->opt; }
double abp_trainer_observed(const abp_trainer *t) { return t->observed; }
int abp_trainer_batch_share(const abp_trainer *t) { return t->b_local; }

void abp_trainer_free(abp_trainer *t) {
    if (!t) return;
    trainer_free(t);
    free(t);
}

int abp_train(const abp_train_cfg *cfg, abp_dist *d, abp_err *err) {
    trainer *t = NULL;
    FILE *metrics = NULL;
    int rc = -1;
    if (abp_dist_agree(d, d->rank == 0 ? abp_mkdir_p(cfg->out, err) : 0, err)) goto done;
    if (!cfg->resume[0] && abp_dist_agree(d, d->rank == 0 ? check_fresh_out(cfg, err) : 0, err)) goto done;
    if (abp_trainer_create(cfg, d, NULL, &t, err)) goto done;
    double seconds_before = 0;
    if (d->rank == 0) metrics = open_metrics(cfg, t->start_iter, &seconds_before, err);
    if (abp_dist_agree(d, d->rank == 0 && !metrics ? -1 : 0, err)) goto done;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);

    abp_net *net = &t->net;
    double t0 = abp_now(), last_print = t0;
    int64_t every = cfg->iters / 20 > 0 ? cfg->iters / 20 : 1;
    if (d->rank == 0 && !cfg->quiet)
        printf("abp train: %lld examples on %d rank%s, batch %lld, %lld parameters, latent %dx%dx%d, iterations %lld..%lld\n",
               (long long)t->n_total, d->size, d->size > 1 ? "s" : "", (long long)t->B,
               (long long)net->nparams, t->zs.h, t->zs.w, t->zs.c, (long long)t->start_iter, (long long)cfg->iters);
    if (d->rank == 0 && !cfg->quiet && cfg->sense > 0)
        printf("abp train: each example is observed only through %d random projections S y (S: %d white-noise images, N(0, 0.5^2) pixels, from --seed); loss and proj_mse are on the projections\n",
               cfg->sense, cfg->sense);
    int stopped = 0;
    for (int64_t it = t->start_iter; it < cfg->iters; it++) {
        double it_start = abp_now(), comm_start = d->comm_seconds;
        double sse_all;
        int stop_now;
        if (abp_trainer_iterate(t, it, stop_requested, &sse_all, &stop_now, err)) goto done;
        double learn_end = abp_now();
        /* 4. a checkpoint when one is due or a signal asked for it */
        int want_ckpt = stop_now || (cfg->checkpoint_every > 0 && (it + 1) % cfg->checkpoint_every == 0 &&
                                     it + 1 < cfg->iters);
        double io_seconds = 0;
        if (want_ckpt) {
            if (write_checkpoint(t, it + 1, err)) goto done;
            io_seconds = abp_now() - learn_end;
            if (d->rank == 0 && !cfg->quiet)
                printf("checkpoint: %s/checkpoint.h5 (iteration %lld, %.2f s)\n", cfg->out, (long long)(it + 1),
                       io_seconds);
        }
        /* 5. report: rank 0's split of this iteration's time, the largest rank's memory */
        double rss_mb = abp_dist_max_double(d, abp_peak_rss_bytes()) / (1024.0 * 1024.0);
        double now = abp_now();
        double comm = d->comm_seconds - comm_start;
        double compute = now - it_start - comm - io_seconds;
        double loss = sse_all / (2.0 * cfg->sigma * cfg->sigma) / (double)t->B;
        /* per observed value (pixel, or projection with --sense), on the [0,1] pixel scale */
        double mse01 = sse_all / abp_trainer_observed(t) / 4.0;
        int64_t epoch = (it + 1) * t->B / t->n_total;
        if (d->rank == 0) {
            fprintf(metrics, "%lld,%lld,%.6g,%.6g,%.3f,%.6f,%.6f,%.6f,%.1f\n", (long long)(it + 1),
                    (long long)epoch, loss, mse01, seconds_before + now - t0, compute, comm, io_seconds,
                    rss_mb);
            /* The row of a checkpointed iteration reaches the disk at once: a run resumed from
             * this checkpoint starts with the next row. */
            if (want_ckpt) fflush(metrics);
            if (!cfg->quiet && ((it + 1) % every == 0 || it + 1 == cfg->iters || now - last_print > 30)) {
                double rate = (double)(it + 1 - t->start_iter) / (now - t0);
                char eta[32];
                format_duration((double)(cfg->iters - it - 1) / rate, eta, sizeof eta);
                printf("iter %lld/%lld  epoch %lld  loss %.4g  %s %.5f  %.2f it/s  ETA %s  rss %.0f MB\n",
                       (long long)(it + 1), (long long)cfg->iters, (long long)epoch, loss,
                       cfg->sense > 0 ? "proj_mse" : "mse", mse01, rate, eta,
                       rss_mb);
                fflush(stdout);
                last_print = now;
            }
        }
        if (stop_now) {
            stopped = 1;
            break;
        }
    }
    if (!stopped) {
        if (metrics) fflush(metrics);
        if (write_checkpoint(t, cfg->iters > t->start_iter ? cfg->iters : t->start_iter, err)) goto done;
        int pic = d->rank == 0 ? write_pictures(t, err) : 0;
        if (abp_dist_agree(d, pic, err)) goto done;
        int sound = t->wav_rate > 0;
        if (d->rank == 0 && !cfg->quiet)
            printf("wrote %s/checkpoint.h5, %s/samples.%s, %s/reconstruction%s, %s/metrics.csv\n",
                   cfg->out, cfg->out, sound ? "wav" : "png", cfg->out, sound ? ".wav" : "s.png", cfg->out);
    } else if (d->rank == 0) {
        printf("stopped by signal after a checkpoint; run the same command with --resume %s/checkpoint.h5 to go on\n", cfg->out);
    }
    rc = stopped ? ABP_STOPPED : 0;
done:
    if (metrics) fclose(metrics);
    abp_trainer_free(t);
    return rc;
}
