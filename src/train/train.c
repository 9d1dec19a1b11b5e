/* The training loop on one rank (DESIGN §3, §8): shard, batch, observation, the objective's
 * iteration, one allreduce, the optimizer steps, state written back, report, checkpoint. What
 * is trained is the objective's business (objective.h; ABP is abp.c): this file knows
 * nothing of layers. */
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
#include "abp/shard.h"
#include "abp/train.h"
#include "objective.h"

/* The one piece of process state outside MPI: a signal handler can only talk to the loop
 * through a flag of this type. */
static volatile sig_atomic_t stop_requested = 0;
static void on_stop_signal(int sig) { (void)sig; stop_requested = 1; }

/* The loop's own spare floats of the allreduce, after the objective's slots. */
#define SLOT_STOP ABP_OBJ_SLOTS        /* any rank voted to stop */
#define SLOT_OBSERVED (ABP_OBJ_SLOTS + 1) /* observed values in the batch */
#define SLOT_NONFINITE (ABP_OBJ_SLOTS + 2) /* NaN or infinite values in the batch's state */

struct abp_trainer {
    const abp_train_cfg *cfg; /* = &own */
    abp_train_cfg own;        /* the caller's settings, with those a resumed checkpoint fixes */
    char resume_path[1200];   /* --resume: the checkpoint (of a folder: the one picked) */
    char *resumed_encoder;    /* --resume with --encoder: the spec the checkpoint's encoder has */
    abp_dist *d;
    const abp_objective_ops *ops;
    void *obj;                /* the objective's own state */
    abp_objective_layout layout;
    abp_model model;          /* the objective's networks, one arena */
    abp_shard data;           /* this rank's examples, in their stored type */
    int64_t n_total, lo, hi;  /* the shard [lo, hi) of n_total */
    int64_t n_local;
    int64_t B;                /* global batch */
    int b_local;              /* this rank's share */
    abp_shape ys;             /* the observation's shape */
    float *state[ABP_OBJ_MAX_STATES];   /* [n_local][row]: per-example state, persistent */
    float *state_b[ABP_OBJ_MAX_STATES]; /* [b_local][row]: the batch's rows of it */
    int64_t n_chains, chain_lo, chain_hi; /* per-chain state: rows [chain_lo, chain_hi) of n_chains */
    float *chain[ABP_OBJ_MAX_STATES];   /* [chain_hi - chain_lo][row] */
    int64_t *perm, perm_cycle;
    int64_t *batch_idx, *batch_ids; /* local row, global id */
    int64_t *next_idx;        /* --stream: the next batch's rows, being read meanwhile */
    float *yb;                /* batch in CNS */
    int64_t start_iter;
    char *config;
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
    if (t->ops && t->obj) t->ops->destroy(t->obj);
    abp_model_free(&t->model);
    abp_shard_free(&t->data);
    for (int k = 0; k < ABP_OBJ_MAX_STATES; k++) {
        abp_free(t->state[k]);
        abp_free(t->state_b[k]);
        abp_free(t->chain[k]);
    }
    free(t->perm);
    free(t->batch_idx);
    free(t->batch_ids);
    free(t->next_idx);
    abp_free(t->yb);
    abp_free(t->masks);
    abp_free(t->mrows);
    abp_free(t->mb);
    abp_sensing_free(&t->sense);
    abp_free(t->proj);
    abp_free(t->pb);
    free(t->config);
    free(t->resumed_encoder);
}

/* Rows [lo, hi) of an in-memory data set (abp bench's synthetic images), as a shard. */
static int copy_rows(const abp_images *all, int64_t lo, int64_t hi, abp_shape ys, abp_shard *out,
                     abp_err *err) {
    if (all->c != ys.c || all->h != ys.h || all->w != ys.w)
        return abp_fail(err, "data of %dx%dx%d for a model that makes %dx%dx%d", all->h, all->w,
                        all->c, ys.h, ys.w, ys.c);
    return abp_shard_copy(all, lo, hi, out, err);
}

/* --sense: S y of every example of the shard, a chunk of rows at a time, so that the floats
 * of the whole shard are never held at once. A shard of up to PROJECT_ROWS examples is
 * projected in one GEMM, as it was when the shard was floats. */
enum { PROJECT_ROWS = 4096 };
static int project_shard(trainer *t, abp_err *err) {
    int64_t dy = abp_shape_numel(t->ys), K = t->sense.K;
    int64_t rows = t->n_local < PROJECT_ROWS ? t->n_local : PROJECT_ROWS;
    float *buf = abp_alloc(sizeof(float) * (size_t)((rows > 0 ? rows : 1) * dy), err);
    if (!buf) return -1;
    int rc = 0;
    for (int64_t first = 0; rc == 0 && first < t->n_local; first += rows) {
        int64_t count = t->n_local - first < rows ? t->n_local - first : rows;
        rc = abp_shard_rows(&t->data, first, count, buf, err);
        if (rc == 0) abp_sensing_project_rows(&t->sense, buf, count, t->proj + first * K);
    }
    abp_free(buf);
    return rc;
}

/* /config records the encoder's canonical spec (not "auto", which names a different network
 * for another model), so that inference and resume rebuild exactly the network trained. On
 * --resume with --encoder, the one built must be the checkpoint's. */
static int record_encoder(trainer *t, abp_err *err) {
    abp_model_net *enc = abp_model_find(&t->model, "encoder");
    if (!enc) return 0;
    if (t->resumed_encoder && strcmp(enc->net.spec, t->resumed_encoder) != 0)
        return abp_fail(err, "--encoder: %s was trained with the encoder '%.600s'; resume it without --encoder, or with that spec",
                        t->resume_path, t->resumed_encoder);
    if (strlen(enc->net.spec) >= sizeof t->own.encoder.spec)
        return abp_fail(err, "--encoder: its spec is too long to record in /config (%zu characters; at most %zu)",
                        strlen(enc->net.spec), sizeof t->own.encoder.spec - 1);
    snprintf(t->own.encoder.spec, sizeof t->own.encoder.spec, "%s", enc->net.spec);
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

    t->ops = abp_objective_find(cfg->objective);
    if (!t->ops) return abp_fail(err, "--objective %s: unknown; expected one of: %s", cfg->objective, abp_objective_names());
    if (abp_latent_prior_check(&cfg->prior, cfg->objective, err)) return -1;
    abp_objective_env env = {.cfg = cfg, .b_local = t->b_local, .B = t->B, .n_total = t->n_total,
                             .sum = abp_dist_sum_doubles, .sum_ctx = t->d};
    if (t->ops->create(&env, &t->model, &t->layout, &t->obj, err)) return -1;
    if (abp_model_seal(&t->model, err)) return -1;
    if (record_encoder(t, err)) return -1;
    abp_objective_layout *lay = &t->layout;
    if (lay->nslots < 0 || lay->nslots > ABP_OBJ_SLOTS || lay->nexample > ABP_OBJ_MAX_STATES ||
        lay->nchain > ABP_OBJ_MAX_STATES)
        return abp_fail(err, "objective %s: its layout asks for more slots or states than there are", t->ops->name);
    t->ys = lay->signal;
    if (t->ys.c != 1 && t->ys.c != 3)
        return abp_fail(err, "the model makes %d-channel signals; image data needs 1 or 3", t->ys.c);
    if (given) {
        if (copy_rows(given, t->lo, t->hi, t->ys, &t->data, err)) return -1;
    } else if (abp_shard_load(cfg->data, t->lo, t->hi, t->ys.c, t->ys.h, t->ys.w, cfg->stream, t->b_local,
                              &t->data, err)) {
        return -1;
    }
    int64_t dy = abp_shape_numel(t->ys);
    t->yb = abp_alloc(sizeof(float) * (size_t)(t->b_local * dy), err);
    t->perm = malloc(sizeof(int64_t) * (size_t)t->n_local);
    t->batch_idx = malloc(sizeof(int64_t) * (size_t)t->b_local);
    t->batch_ids = malloc(sizeof(int64_t) * (size_t)t->b_local);
    t->next_idx = malloc(sizeof(int64_t) * (size_t)t->b_local);
    if (!t->yb || !t->perm || !t->batch_idx || !t->batch_ids || !t->next_idx)
        return abp_fail(err, "out of memory for %lld examples", (long long)t->n_local);
    /* Per-example state, initialised by global example id: the same on any number of ranks. */
    for (int k = 0; k < lay->nexample; k++) {
        int64_t row = abp_shape_numel(lay->example[k].shape);
        t->state[k] = abp_alloc(sizeof(float) * (size_t)(t->n_local * row), err);
        t->state_b[k] = t->state[k] ? abp_alloc(sizeof(float) * (size_t)(t->b_local * row), err) : NULL;
        if (!t->state_b[k]) return abp_fail_wrap(err, "state %s", lay->example[k].name);
        for (int64_t i = 0; i < t->n_local; i++) t->ops->init_state(t->obj, 0, k, t->lo + i, t->state[k] + i * row);
    }
    /* Per-chain state: M rows sharded over the ranks by global chain id, like examples. */
    if (lay->nchain > 0) {
        t->n_chains = lay->chain[0].rows;
        if (t->n_chains < t->d->size)
            return abp_fail(err, "%lld chains cannot be shared by %d ranks", (long long)t->n_chains, t->d->size);
        abp_shard_range(t->n_chains, t->d->size, t->d->rank, &t->chain_lo, &t->chain_hi);
    }
    for (int k = 0; k < lay->nchain; k++) {
        if (lay->chain[k].rows != t->n_chains)
            return abp_fail(err, "objective %s: every chain state needs the same number of chains", t->ops->name);
        int64_t row = abp_shape_numel(lay->chain[k].shape);
        t->chain[k] = abp_alloc(sizeof(float) * (size_t)((t->chain_hi - t->chain_lo) * row + 1), err);
        if (!t->chain[k]) return abp_fail_wrap(err, "chains %s", lay->chain[k].name);
        for (int64_t i = t->chain_lo; i < t->chain_hi; i++)
            t->ops->init_state(t->obj, 1, k, i, t->chain[k] + (i - t->chain_lo) * row);
    }
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
        if (project_shard(t, err)) return -1;
    }
    /* Each example's mask, generated from (seed, example id) or stored with the data: made
     * once for the shard, like the projections, and only gathered in the iteration. */
    if (abp_shard_masks(given ? NULL : cfg->data, &t->mask, cfg->seed, t->lo, t->hi, t->ys, &t->masks, err)) return -1;
    if (t->masks && cfg->sense > 0)
        return abp_fail(err, "--sense %d: %s holds its own masks; choose one observation", cfg->sense, cfg->data);
    if (t->masks) {
        t->mrows = abp_alloc(sizeof(float) * (size_t)(t->b_local * dy), err);
        t->mb = t->mrows ? abp_alloc(sizeof(float) * (size_t)(t->b_local * dy), err) : NULL;
        if (!t->mb) return -1;
    }
    /* A sound is written back as WAV at its rate (write_pictures). */
    int64_t frames;
    if (t->ys.c != 1 || t->ys.h != 1 || abp_wav_info(cfg->data, &frames, &t->wav_rate, NULL) != 0)
        t->wav_rate = 0;
    t->perm_cycle = -1;
    /* /config records the generator's canonical spec as --model (the other networks'
     * specs are the objective's to record in its own options). */
    abp_model_net *g = abp_model_find(&t->model, ABP_GENERATOR);
    t->config = abp_train_cfg_format(cfg, g ? g->net.spec : cfg->model);
    if (!t->config) return abp_fail(err, "out of memory");
    return 0;
}

/* The dims of one state row in a checkpoint: [d] for a vector, [h][w][c] for an image (as
 * /latents always had). */
static int row_dims(abp_shape s, int64_t dims[3]) {
    if (s.h == 1 && s.w == 1) {
        dims[0] = s.c;
        return 1;
    }
    dims[0] = s.h, dims[1] = s.w, dims[2] = s.c;
    return 3;
}

/* The sharded datasets besides /latents: per-example states 1.. as /state/NAME, per-chain
 * states as /chains/NAME. rows has room for 2 * ABP_OBJ_MAX_STATES. */
static int sharded_rows(trainer *t, abp_ckpt_rows *rows) {
    int n = 0;
    for (int k = 1; k < t->layout.nexample; k++, n++) {
        rows[n] = (abp_ckpt_rows){.data = t->state[k], .n_total = t->n_total, .lo = t->lo, .hi = t->hi};
        snprintf(rows[n].path, sizeof rows[n].path, "state/%s", t->layout.example[k].name);
        rows[n].row_ndim = row_dims(t->layout.example[k].shape, rows[n].row_dims);
    }
    for (int k = 0; k < t->layout.nchain; k++, n++) {
        rows[n] = (abp_ckpt_rows){.data = t->chain[k], .n_total = t->n_chains, .lo = t->chain_lo, .hi = t->chain_hi};
        snprintf(rows[n].path, sizeof rows[n].path, "chains/%s", t->layout.chain[k].name);
        rows[n].row_ndim = row_dims(t->layout.chain[k].shape, rows[n].row_dims);
    }
    return n;
}

/* Collective, before anything is built: which checkpoint --resume means (of a folder, the
 * newest that verifies: abp_ckpt_pick), and the settings that come from it rather than from
 * the command line. Those of the encoder (--encoder, --init, --encoder-lr) are the
 * checkpoint's; any given on the command line must agree with it (--encoder is compared
 * once the encoder is built, as canonical specs: record_encoder). */
static int resume_settings(trainer *t, abp_err *err) {
    const char *path = t->cfg->resume;
    struct stat st;
    int is_dir = t->d->rank == 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
    MPI_Bcast(&is_dir, 1, MPI_INT, 0, t->d->comm);
    if (is_dir) {
        if (abp_ckpt_pick(t->d->comm, path, t->resume_path, sizeof t->resume_path, err)) return -1;
        if (t->d->rank == 0 && !t->cfg->quiet) printf("abp train: resuming from %s\n", t->resume_path);
    } else {
        snprintf(t->resume_path, sizeof t->resume_path, "%s", path);
    }
    path = t->resume_path;
    abp_ckpt *ck = NULL;
    abp_ckpt_meta meta;
    if (abp_ckpt_open(t->d->comm, path, &ck, &meta, err)) return -1;
    abp_train_cfg was;
    int rc = abp_train_cfg_parse(meta.config ? meta.config : "", &was, err);
    /* Only a checkpoint of this objective with an encoder: another objective is resume()'s
     * error, and an encoder-less one has no encoder settings. */
    int has_encoder = rc == 0 && meta.config && strstr(meta.config, "\n--encoder=") &&
                      strcmp(was.objective, t->own.objective) == 0;
    abp_encoder_cfg *now = &t->own.encoder;
    if (has_encoder && (now->given & ABP_ENCODER_GIVEN_INIT) && strcmp(now->init, was.encoder.init) != 0)
        rc = abp_fail(err, "--init %s: %s was trained with --init %s; resume it with the same --init (or without)",
                      now->init, path, was.encoder.init);
    else if (has_encoder && (now->given & ABP_ENCODER_GIVEN_LR) && now->lr != was.encoder.lr)
        rc = abp_fail(err, "--encoder-lr %g: %s was trained with --encoder-lr %g; resume it with the same (or without)",
                      (double)now->lr, path, (double)was.encoder.lr);
    if (has_encoder && rc == 0) {
        /* A spec (not "auto" or a name, as checkpoints before the spec was recorded have) is
         * what the encoder built from --encoder must be. */
        if ((now->given & ABP_ENCODER_GIVEN_SPEC) && strchr(was.encoder.spec, '|') &&
            !(t->resumed_encoder = strdup(was.encoder.spec)))
            rc = abp_fail(err, "out of memory");
        if (!(now->given & ABP_ENCODER_GIVEN_SPEC)) snprintf(now->spec, sizeof now->spec, "%s", was.encoder.spec);
        snprintf(now->init, sizeof now->init, "%s", was.encoder.init);
        now->lr = was.encoder.lr;
    }
    abp_ckpt_close(ck);
    return rc;
}

/* Collective: every network's parameters, optimizer moments and steps, and this rank's
 * rows of every persistent state, from a checkpoint (written on any number of ranks). */
static int resume(trainer *t, abp_err *err) {
    abp_ckpt *ck = NULL;
    abp_ckpt_meta meta;
    char **names = NULL;
    int rc = -1;
    const char *path = t->resume_path;
    if (abp_ckpt_open(t->d->comm, path, &ck, &meta, err)) return -1;
    int64_t n_ck, dims[4];
    int ndim;
    if (abp_ckpt_latent_shape(ck, &n_ck, &ndim, dims, err)) goto done;
    if (n_ck != t->n_total) {
        abp_fail(err, "%s holds latents of %lld examples, but the data has %lld", path,
                 (long long)n_ck, (long long)t->n_total);
        goto done;
    }
    if (meta.optimizer[0] && strcmp(meta.optimizer, abp_opt_kind_name(t->cfg->optimizer))) {
        abp_fail(err, "%s was trained with --optimizer %s", path, meta.optimizer);
        goto done;
    }
    {
        /* The observations are part of the model's data: a resumed run must see the same;
         * and what was trained must be what is resumed. */
        abp_train_cfg was;
        if (abp_train_cfg_parse(meta.config ? meta.config : "", &was, err)) goto done;
        if (was.sense != t->cfg->sense) {
            abp_fail(err, "%s was trained with --sense %d; resume it with the same --sense", path, was.sense);
            goto done;
        }
        if (strcmp(was.objective, t->cfg->objective) != 0) {
            abp_fail(err, "%s was trained with --objective %s; resume it with the same --objective", path, was.objective);
            goto done;
        }
        if (strcmp(was.prior.kind, t->cfg->prior.kind) != 0) {
            abp_fail(err, "%s was trained with --prior %s; resume it with the same --prior", path, was.prior.kind);
            goto done;
        }
    }
    if (abp_model_read(&t->model, ck, &meta, 1, err)) {
        abp_fail_wrap(err, "%s", path);
        goto done;
    }
    if (t->layout.nexample > 0) {
        int64_t prod = 1;
        for (int k = 0; k < ndim; k++) prod *= dims[k];
        if (prod != abp_shape_numel(t->layout.example[0].shape)) {
            abp_fail(err, "%s: latents have %lld values per example, the model %lld", path,
                     (long long)prod, (long long)abp_shape_numel(t->layout.example[0].shape));
            goto done;
        }
        if (abp_ckpt_read_latents(ck, t->lo, t->hi, t->state[0], err)) goto done;
    }
    {
        abp_ckpt_rows rows[2 * ABP_OBJ_MAX_STATES];
        int nrows = sharded_rows(t, rows);
        for (int k = 0; k < nrows; k++)
            if (abp_ckpt_read_rows(ck, rows[k].path, rows[k].n_total, rows[k].row_ndim, rows[k].row_dims, rows[k].lo,
                                   rows[k].hi, (float *)rows[k].data, err))
                goto done;
    }
    if (abp_ckpt_read_names(ck, t->lo, t->hi, &names, err)) goto done;
    for (int64_t i = 0; i < t->n_local; i++)
        if (strcmp(names[i], t->data.names[i]) != 0) {
            abp_fail(err, "%s: example %lld is '%s' in the checkpoint but '%s' in %s", path,
                     (long long)(t->lo + i), names[i], t->data.names[i], t->cfg->data);
            goto done;
        }
    t->start_iter = meta.iteration;
    rc = 0;
done:
    if (names) {
        for (int64_t i = 0; i < t->n_local; i++) free(names[i]);
        free(names);
    }
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
    if (abp_fsync_parent(newest, err)) return -1; /* the rename survives a power loss */
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
    abp_shard_quiesce(&t->data); /* the I/O thread is out of HDF5 before this thread enters it */
    abp_ckpt_array *arrays = NULL;
    abp_ckpt_step *steps = NULL;
    int narrays = 0, nsteps = 0;
    if (abp_model_ckpt_arrays(&t->model, 1, &arrays, &narrays, &steps, &nsteps, err)) return -1;
    abp_model_net *g = abp_model_find(&t->model, ABP_GENERATOR);
    abp_ckpt_rows rows[2 * ABP_OBJ_MAX_STATES];
    abp_ckpt_meta meta = {.iteration = iters_done, .epoch = iters_done * t->B / t->n_total,
                          .seed = t->cfg->seed, .world_size = t->d->size,
                          .optimizer_step = g ? g->opt.step : 0, .config = t->config,
                          .steps = steps, .nsteps = nsteps, .rows = rows, .nrows = sharded_rows(t, rows)};
    snprintf(meta.optimizer, sizeof meta.optimizer, "%s", abp_opt_kind_name(t->cfg->optimizer));
    char path[1200];
    snprintf(path, sizeof path, "%s/checkpoint-%08lld.h5", t->cfg->out, (long long)iters_done);
    /* /latents is the first per-example state; an objective without one writes a column of zeros */
    int64_t ldims[3] = {1, 1, 1};
    int lnd = t->layout.nexample > 0 ? row_dims(t->layout.example[0].shape, ldims) : 1;
    const float *latents = t->state[0];
    float *zeros = NULL;
    if (!latents && !(latents = zeros = abp_calloc(sizeof(float) * (size_t)(t->n_local + 1), err))) {
        free(arrays);
        free(steps);
        return -1;
    }
    int rc = abp_ckpt_write(t->d->comm, path, &meta, arrays, narrays, latents, t->n_total,
                            t->lo, t->hi, lnd, ldims, t->data.names, err);
    free(arrays);
    free(steps);
    abp_free(zeros);
    if (rc) return rc;
    int published = t->d->rank == 0 ? publish_checkpoint(t->cfg->out, iters_done, t->cfg->keep_checkpoints, err) : 0;
    return abp_dist_agree(t->d, published, err);
}

/* Picks this iteration's batch: full batch, or the next b_local of this rank's shard in a
 * permutation that is a pure function of (seed, shard, cycle), so a resumed run picks the
 * same examples as an uninterrupted one. */
static void choose_batch(trainer *t, int64_t iter, int64_t *batch_idx) {
    if (t->cfg->full_batch) {
        for (int i = 0; i < t->b_local; i++) batch_idx[i] = i;
    } else {
        for (int i = 0; i < t->b_local; i++) {
            int64_t pos = iter * t->b_local + i, cycle = pos / t->n_local;
            if (cycle != t->perm_cycle) {
                abp_rng_permutation(t->cfg->seed, ABP_RNG_PERMUTE, (uint32_t)t->lo,
                                    (uint32_t)cycle, t->perm, t->n_local);
                t->perm_cycle = cycle;
            }
            batch_idx[i] = t->perm[pos % t->n_local];
        }
    }
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
static FILE *open_metrics(const abp_train_cfg *cfg, const abp_metric *cols, int ncols, int64_t start_iter,
                          double *seconds_before, abp_err *err) {
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
    fprintf(f, "iteration,epoch,");
    for (int k = 0; k < ncols; k++) fprintf(f, "%s,", cols[k].column);
    fprintf(f, "seconds,compute_s,allreduce_s,io_s,peak_rss_mb,read_s\n");
    if (old) {
        char line[512];
        while (fgets(line, sizeof line, old))
            if (line[0] >= '0' && line[0] <= '9' && atoll(line) <= start_iter) {
                fputs(line, f);
                /* seconds is the column after iteration, epoch and the objective's */
                const char *p = line;
                for (int comma = 0; comma < 2 + ncols && p; comma++) {
                    p = strchr(p, ',');
                    if (p) p++;
                }
                if (p) *seconds_before = atof(p);
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

/* The NaN and infinite values of this rank's batch state rows and chains. */
static int64_t count_bad_state(const trainer *t) {
    int64_t bad = 0;
    for (int k = 0; k < t->layout.nexample; k++)
        bad += abp_count_nonfinite(t->state_b[k], t->b_local * abp_shape_numel(t->layout.example[k].shape));
    for (int k = 0; k < t->layout.nchain; k++)
        bad += abp_count_nonfinite(t->chain[k], (t->chain_hi - t->chain_lo) * abp_shape_numel(t->layout.chain[k].shape));
    return bad;
}

int abp_trainer_iterate(abp_trainer *t, int64_t it, int stop_flag, double *loss_sum, int *stop,
                        abp_err *err) {
    int64_t dy = abp_shape_numel(t->ys);
    choose_batch(t, it, t->batch_idx);
    for (int i = 0; i < t->b_local; i++) t->batch_ids[i] = t->lo + t->batch_idx[i];
    for (int k = 0; k < t->layout.nexample; k++) {
        int64_t row = abp_shape_numel(t->layout.example[k].shape);
        for (int i = 0; i < t->b_local; i++)
            memcpy(t->state_b[k] + i * row, t->state[k] + t->batch_idx[i] * row, sizeof(float) * (size_t)row);
    }
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
        if (abp_shard_gather_cns(&t->data, t->batch_idx, t->b_local, t->ys, t->yb, err)) return -1;
        /* --stream: the next batch's rows are read while this one is computed. */
        if (t->data.stream && it + 1 < t->cfg->iters) {
            choose_batch(t, it + 1, t->next_idx);
            if (abp_shard_prefetch(&t->data, t->next_idx, t->b_local, err)) return -1;
        }
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
    /* The objective's iteration, into zeroed gradients and slots */
    abp_arena *arena = &t->model.arena;
    abp_arena_zero_grads(arena);
    float *extra = abp_arena_extra(arena);
    abp_batch batch = {.iteration = it, .b = t->b_local, .B = t->B, .ids = t->batch_ids, .obs = &obs,
                       .chain_lo = t->chain_lo, .chain_hi = t->chain_hi, .slots = extra};
    for (int k = 0; k < ABP_OBJ_MAX_STATES; k++) batch.state[k] = t->state_b[k], batch.chain[k] = t->chain[k];
    if (t->ops->iterate(t->obj, &batch, err)) return -1;
    /* One fused allreduce: every network's gradients, the objective's sums, the stop vote
     * and the observed count; then every network's optimizer step. */
    extra[SLOT_STOP] = stop_flag ? 1.0f : 0.0f;
    extra[SLOT_OBSERVED] = (float)observed; /* exact: counts below 2^24 per rank */
    extra[SLOT_NONFINITE] = (float)count_bad_state(t);
    if (abp_dist_sum_floats(t->d, arena->grads, arena->nparams + ABP_NET_GRAD_EXTRA, err)) return -1;
    /* A NaN stops the run here, before it reaches the parameters or the state (finite.c). */
    int fault = abp_check_learning(&t->model, t->cfg, it, extra[0], extra[SLOT_NONFINITE], err);
    if (fault) return fault;
    abp_model_step(&t->model);
    if ((fault = abp_check_params(&t->model, t->cfg, it, err))) return fault;
    /* The batch's state rows go back to their examples */
    for (int k = 0; k < t->layout.nexample; k++) {
        int64_t row = abp_shape_numel(t->layout.example[k].shape);
        for (int i = 0; i < t->b_local; i++)
            memcpy(t->state[k] + t->batch_idx[i] * row, t->state_b[k] + i * row, sizeof(float) * (size_t)row);
    }
    *loss_sum = extra[0];
    *stop = extra[SLOT_STOP] > 0.0f;
    t->observed = extra[SLOT_OBSERVED];
    return 0;
}

int abp_trainer_create(const abp_train_cfg *cfg, abp_dist *d, const abp_images *data,
                       abp_trainer **out, abp_err *err) {
    trainer *t = calloc(1, sizeof *t);
    *out = NULL;
    if (abp_dist_agree(d, t ? 0 : abp_fail(err, "out of memory"), err)) return -1;
    t->own = *cfg;
    t->cfg = &t->own;
    t->d = d;
    if ((cfg->resume[0] && abp_dist_agree(d, resume_settings(t, err), err)) ||
        abp_dist_agree(d, setup_local(t, data, err), err) ||
        (cfg->resume[0] && abp_dist_agree(d, resume(t, err), err))) {
        abp_trainer_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

abp_net *abp_trainer_net(abp_trainer *t) { return t->model.nnets > 0 ? &t->model.nets[0].net : NULL; }

abp_optimizer *abp_trainer_optimizer(abp_trainer *t) { return t->model.nnets > 0 ? &t->model.nets[0].opt : NULL; }
double abp_trainer_observed(const abp_trainer *t) { return t->observed; }
int abp_trainer_batch_share(const abp_trainer *t) { return t->b_local; }

void abp_trainer_free(abp_trainer *t) {
    if (!t) return;
    trainer_free(t);
    free(t);
}

/* Rank 0, at the end: the objective's pictures of what it learned. */
static int write_pictures(trainer *t, char *written, size_t cap, abp_err *err) {
    /* The objective draws the first examples next to what it made of them: those rows as
     * floats (the shard holds bytes, or nothing with --stream). */
    enum { SHOWN = 32 };
    abp_images first = {.n = t->n_local < SHOWN ? t->n_local : SHOWN, .c = t->data.c, .h = t->data.h, .w = t->data.w};
    first.data = abp_alloc(sizeof(float) * (size_t)(first.n * first.c * first.h * first.w + 1), err);
    if (!first.data || abp_shard_rows(&t->data, 0, first.n, first.data, err)) {
        abp_free(first.data);
        return -1;
    }
    abp_picture_env env = {.out = t->cfg->out, .data = &first, .wav_rate = t->wav_rate};
    for (int k = 0; k < ABP_OBJ_MAX_STATES; k++) env.state[k] = t->state[k], env.chain[k] = t->chain[k];
    env.chain_lo = t->chain_lo, env.chain_hi = t->chain_hi;
    int rc = t->ops->pictures(t->obj, &env, written, cap, err);
    abp_free(first.data);
    return rc;
}

int abp_train(const abp_train_cfg *cfg, abp_dist *d, abp_err *err) {
    trainer *t = NULL;
    FILE *metrics = NULL;
    int rc = -1;
    if (abp_dist_agree(d, d->rank == 0 ? abp_mkdir_p(cfg->out, err) : 0, err)) goto done;
    if (!cfg->resume[0] && abp_dist_agree(d, d->rank == 0 ? check_fresh_out(cfg, err) : 0, err)) goto done;
    if (abp_trainer_create(cfg, d, NULL, &t, err)) goto done;
    abp_metric cols[ABP_OBJ_MAX_METRICS];
    int ncols = t->ops->metrics(t->obj, NULL, cols);
    double seconds_before = 0;
    if (d->rank == 0) metrics = open_metrics(cfg, cols, ncols, t->start_iter, &seconds_before, err);
    if (abp_dist_agree(d, d->rank == 0 && !metrics ? -1 : 0, err)) goto done;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);

    double t0 = abp_now(), last_print = t0;
    int64_t every = cfg->iters / 20 > 0 ? cfg->iters / 20 : 1;
    if (d->rank == 0 && !cfg->quiet) {
        printf("abp train: %lld examples on %d rank%s, batch %lld, %lld parameters", (long long)t->n_total, d->size,
               d->size > 1 ? "s" : "", (long long)t->B, (long long)t->model.arena.nparams);
        if (t->layout.nexample > 0)
            printf(", latent %dx%dx%d", t->layout.example[0].shape.h, t->layout.example[0].shape.w,
                   t->layout.example[0].shape.c);
        printf(", iterations %lld..%lld\n", (long long)t->start_iter, (long long)cfg->iters);
    }
    if (d->rank == 0 && !cfg->quiet) {
        /* How the shard is held, since it decides the memory a rank needs. */
        const abp_shard *sd = &t->data;
        if (sd->stream)
            printf("abp train: data streamed from %s, each batch read while the one before is computed (--stream)\n", cfg->data);
        else
            printf("abp train: data held as %s, %.1f MB on rank 0 (%lld examples)\n",
                   sd->type == ABP_SHARD_U8 ? "bytes" : "floats", (double)abp_shard_value_bytes(sd) / 1048576.0,
                   (long long)sd->n);
    }
    if (d->rank == 0 && !cfg->quiet && cfg->sense > 0)
        printf("abp train: each example is observed only through %d random projections S y (S: %d white-noise images, N(0, 0.5^2) pixels, from --seed); loss and proj_mse are on the projections\n",
               cfg->sense, cfg->sense);
    int stopped = 0;
    for (int64_t it = t->start_iter; it < cfg->iters; it++) {
        double it_start = abp_now(), comm_start = d->comm_seconds, wait_start = t->data.wait_seconds;
        double loss_sum;
        int stop_now, status = abp_trainer_iterate(t, it, stop_requested, &loss_sum, &stop_now, err);
        if (status) {
            rc = status == ABP_DIVERGED ? ABP_DIVERGED : -1;
            goto done;
        }
        double learn_end = abp_now();
        /* a checkpoint when one is due or a signal asked for it */
        int want_ckpt = stop_now || (cfg->checkpoint_every > 0 && (it + 1) % cfg->checkpoint_every == 0 &&
                                     it + 1 < cfg->iters);
        /* --stream: the time this iteration waited for its batch's rows (what the read on
         * the I/O thread did not hide); 0 with the shard in memory. */
        double read_seconds = t->data.wait_seconds - wait_start;
        double io_seconds = 0;
        if (want_ckpt) {
            if (write_checkpoint(t, it + 1, err)) goto done;
            io_seconds = abp_now() - learn_end;
            if (d->rank == 0 && !cfg->quiet)
                printf("checkpoint: %s/checkpoint.h5 (iteration %lld, %.2f s)\n", cfg->out, (long long)(it + 1),
                       io_seconds);
        }
        /* report: rank 0's split of this iteration's time, the largest rank's memory */
        double rss_mb = abp_dist_max_double(d, abp_peak_rss_bytes()) / (1024.0 * 1024.0);
        double now = abp_now();
        double comm = d->comm_seconds - comm_start;
        double compute = now - it_start - comm - io_seconds - read_seconds;
        abp_sums sums = {.slots = abp_arena_extra(&t->model.arena), .observed = t->observed, .B = t->B};
        ncols = t->ops->metrics(t->obj, &sums, cols);
        int64_t epoch = (it + 1) * t->B / t->n_total;
        if (d->rank == 0) {
            fprintf(metrics, "%lld,%lld,", (long long)(it + 1), (long long)epoch);
            for (int k = 0; k < ncols; k++) fprintf(metrics, "%.6g,", cols[k].value);
            fprintf(metrics, "%.3f,%.6f,%.6f,%.6f,%.1f,%.6f\n", seconds_before + now - t0, compute, comm, io_seconds,
                    rss_mb, read_seconds);
            /* The row of a checkpointed iteration reaches the disk at once: a run resumed from
             * this checkpoint starts with the next row. */
            if (want_ckpt) fflush(metrics);
            if (!cfg->quiet && ((it + 1) % every == 0 || it + 1 == cfg->iters || now - last_print > 30)) {
                double rate = (double)(it + 1 - t->start_iter) / (now - t0);
                char eta[32];
                abp_format_duration((double)(cfg->iters - it - 1) / rate, eta, sizeof eta);
                printf("iter %lld/%lld  epoch %lld", (long long)(it + 1), (long long)cfg->iters, (long long)epoch);
                for (int k = 0; k < ncols; k++) {
                    printf("  ");
                    printf(cols[k].progress, cols[k].value);
                }
                printf("  %.2f it/s  ETA %s  rss %.0f MB\n", rate, eta, rss_mb);
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
        char written[2600] = "";
        int pic = d->rank == 0 ? write_pictures(t, written, sizeof written, err) : 0;
        if (abp_dist_agree(d, pic, err)) goto done;
        if (d->rank == 0 && !cfg->quiet)
            printf("wrote %s/checkpoint.h5, %s, %s/metrics.csv\n", cfg->out, written, cfg->out);
        if (d->rank == 0) { /* a picture of metrics.csv; it never fails training */
            char note[1400];
            fclose(metrics);
            metrics = NULL;
            abp_plot_metrics(cfg->out, cols[0].column, ncols > 1 ? cols[1].column : cols[0].column, note, sizeof note);
            if (!cfg->quiet) printf("%s\n", note);
        }
    } else if (d->rank == 0) {
        printf("stopped by signal after a checkpoint; run the same command with --resume %s/checkpoint.h5 to go on\n", cfg->out);
    }
    rc = stopped ? ABP_STOPPED : 0;
done:
    if (metrics) fclose(metrics);
    abp_trainer_free(t);
    return rc;
}
