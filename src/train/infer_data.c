/* Data-parallel inference over a data set: the batch loop that abp reconstruct, complete
 * and recover share (start z, infer on the observation's energy, g(z), measure), run by
 * every rank on its own shard, then the gathering: per-example measures to rank 0, summed
 * there in example order (a reduction whose order does not depend on the ranks), and the
 * few g(z) rows that are drawn. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/rng.h"
#include "abp/train.h"

/* The batch's starting latents, rows of dz, for the examples ids[0..b) (PRIOR's key). */
static void start_latents(const abp_start *s, int64_t first, int b, const int64_t *ids, int64_t dz, float *z) {
    for (int i = 0; i < b; i++) {
        float *row = z + (int64_t)i * dz;
        if (s->kind == ABP_START_GIVEN)
            memcpy(row, s->z + (first + i) * dz, sizeof(float) * (size_t)dz);
        else
            abp_rng_normal(s->seed, ABP_RNG_TEST_INIT, (uint32_t)ids[i], 0, 0, row, dz);
    }
}

/* ENCODER: z = mu(y) of the batch's examples [first, first + b), rows of dz. The encoder reads
 * each example as observed: occluded values filled with the mean of its observed ones.
 * rows and cns are scratch of b * dy floats. */
static int encoder_start(const abp_infer_job *job, int64_t first, int b, abp_shape zs, abp_shape ys, float *rows,
                         float *cns, float *z, abp_err *err) {
    int64_t dy = abp_shape_numel(ys);
    const float *y = job->y + first * dy;
    memcpy(rows, y, sizeof(float) * (size_t)(b * dy));
    for (int i = 0; job->mask && i < b; i++) {
        const unsigned char *m = job->mask + (first + i) * dy;
        float *r = rows + (int64_t)i * dy;
        double sum = 0.0, seen = 0.0;
        for (int64_t e = 0; e < dy; e++)
            if (m[e]) sum += r[e], seen += 1.0;
        float fill = seen > 0 ? (float)(sum / seen) : 0.0f;
        for (int64_t e = 0; e < dy; e++)
            if (!m[e]) r[e] = fill;
    }
    abp_rows_to_cns(rows, cns, b, ys);
    if (abp_net_forward(job->start.encoder, cns, b, err)) return -1;
    /* The output is CNS [2d][b]: its first d rows are mu, which is all that is read. */
    abp_cns_to_rows(abp_net_output(job->start.encoder), z, b, zs);
    return 0;
}

/* An encoder start's network against the job and the generator. */
static int check_encoder(const abp_infer_job *job, const abp_net *net, abp_err *err) {
    const abp_net *e = job->start.encoder;
    if (!e) return abp_fail(err, "an encoder start without an encoder");
    abp_shape in = e->in_shape, ys = net->out_shape;
    if (job->sense) return abp_fail(err, "--init encoder: the encoder reads images, not the projections of --sense");
    if (e->training) return abp_fail(err, "inference over a data set needs the encoder in eval mode");
    if (net->in_shape.h != 1 || net->in_shape.w != 1)
        return abp_fail(err, "--init encoder needs a vector latent; the model's is %dx%dx%d", net->in_shape.h,
                        net->in_shape.w, net->in_shape.c);
    if (job->batch > e->max_batch)
        return abp_fail(err, "inference batch %d for an encoder built for %d", job->batch, e->max_batch);
    if (in.c != ys.c || in.h != ys.h || in.w != ys.w || abp_shape_numel(e->out_shape) != 2 * abp_shape_numel(net->in_shape))
        return abp_fail(err, "the encoder (%dx%dx%d to %lld numbers) does not fit the generator (%lld to %dx%dx%d)", in.h,
                        in.w, in.c, (long long)abp_shape_numel(e->out_shape), (long long)abp_shape_numel(net->in_shape),
                        ys.h, ys.w, ys.c);
    return 0;
}

/* |A y - A g|^2 of each of the batch's b examples, from rows (so that it is a function of
 * the example alone): over the observed pixels, or over the K projections. */
static void observation_sse(const abp_infer_job *job, int64_t first, int b, const float *g,
                            int64_t dy, float *proj_g, double *sse) {
    if (job->sense) {
        int64_t K = job->sense->K;
        abp_sensing_project_rows(job->sense, g, b, proj_g);
        for (int i = 0; i < b; i++) {
            const float *y = job->y + (first + i) * K;
            double s = 0.0;
            for (int64_t k = 0; k < K; k++) {
                double r = (double)y[k] - proj_g[(int64_t)i * K + k];
                s += r * r;
            }
            sse[i] = s;
        }
        return;
    }
    for (int i = 0; i < b; i++) {
        const float *y = job->y + (first + i) * dy, *gi = g + (int64_t)i * dy;
        const unsigned char *m = job->mask ? job->mask + (first + i) * dy : NULL;
        double s = 0.0;
        for (int64_t e = 0; e < dy; e++) {
            double r = (double)y[e] - gi[e];
            s += m && !m[e] ? 0.0 : r * r;
        }
        sse[i] = s;
    }
}

typedef struct buffers {
    float *zrows, *zb, *yb, *mrows, *mb, *grows, *proj_g, *kept_mine;
    double *measures, *all_measures, *sse;
    int64_t *ids;
    abp_infer_ws ws;
} buffers;

static void buffers_free(buffers *w) {
    abp_free(w->zrows);
    abp_free(w->zb);
    abp_free(w->yb);
    abp_free(w->mrows);
    abp_free(w->mb);
    abp_free(w->grows);
    abp_free(w->proj_g);
    abp_free(w->kept_mine);
    free(w->measures);
    free(w->all_measures);
    free(w->sse);
    free(w->ids);
    abp_infer_ws_free(&w->ws);
}

/* This rank's part: everything that involves no other rank. */
static int infer_shard(abp_dist *d, abp_net *net, const abp_infer_job *job, abp_infer_result *res,
                       buffers *w, abp_err *err) {
    abp_shape zs = net->in_shape, ys = net->out_shape;
    int64_t dz = abp_shape_numel(zs), dy = abp_shape_numel(ys), n_local = job->hi - job->lo;
    int B = job->batch, nm = job->nmeasures;
    if (B < 1 || B > net->max_batch)
        return abp_fail(err, "inference batch %d for a network built for %d", B, net->max_batch);
    if (nm < 0 || nm > ABP_MEASURES_MAX) return abp_fail(err, "%d measures asked (at most %d)", nm, ABP_MEASURES_MAX);
    if (net->training) return abp_fail(err, "inference over a data set needs batch norm in eval mode");
    if (job->start.kind == ABP_START_ENCODER && check_encoder(job, net, err)) return -1;
    int64_t kept_here = job->keep > job->lo ? (job->keep < job->hi ? job->keep : job->hi) - job->lo : 0;
    size_t rows = (size_t)(n_local > 0 ? n_local : 1);
    res->z = abp_alloc(sizeof(float) * rows * (size_t)dz, err);
    w->zb = abp_alloc(sizeof(float) * (size_t)(B * dz), err);
    w->yb = abp_alloc(sizeof(float) * (size_t)(B * dy), err);
    w->grows = abp_alloc(sizeof(float) * (size_t)(B * dy), err);
    w->kept_mine = abp_alloc(sizeof(float) * (size_t)((kept_here > 0 ? kept_here : 1) * dy), err);
    w->measures = calloc(rows * (size_t)(nm > 0 ? nm : 1), sizeof(double));
    w->sse = malloc(sizeof(double) * (size_t)B);
    w->ids = malloc(sizeof(int64_t) * (size_t)B);
    if (!res->z || !w->zb || !w->yb || !w->grows || !w->kept_mine || !w->measures || !w->sse || !w->ids)
        return abp_fail(err, "out of memory for inference on %lld examples", (long long)n_local);
    if (job->mask) {
        w->mrows = abp_alloc(sizeof(float) * (size_t)(B * dy), err);
        w->mb = w->mrows ? abp_alloc(sizeof(float) * (size_t)(B * dy), err) : NULL;
        if (!w->mb) return -1;
    }
    if (job->sense && !(w->proj_g = abp_alloc(sizeof(float) * (size_t)(B * job->sense->K), err))) return -1;
    if (job->sense && job->sense->max_batch < B)
        return abp_fail(err, "sensing built for batches of %d, inference batch %d", job->sense->max_batch, B);
    if (abp_infer_ws_init(&w->ws, net, err)) return -1;

    char scope[96] = "";
    if (d->size > 1) snprintf(scope, sizeof scope, " on rank 0 (of %lld on %d ranks)", (long long)job->n, d->size);
    abp_progress progress;
    abp_progress_start(&progress, d->rank == 0 && job->what, job->what, "examples", n_local, scope);
    for (int64_t first = 0; first < n_local; first += B) {
        int b = (int)(n_local - first < B ? n_local - first : B);
        for (int i = 0; i < b; i++) w->ids[i] = job->ids ? job->ids[first + i] : job->lo + first + i;
        float *z = res->z + first * dz;
        if (job->start.kind == ABP_START_ENCODER) {
            /* grows and yb are free until the observation and g(z) are put in them below */
            if (encoder_start(job, first, b, zs, ys, w->grows, w->yb, z, err)) return -1;
        } else {
            start_latents(&job->start, first, b, w->ids, dz, z);
        }
        abp_rows_to_cns(z, w->zb, b, zs);
        abp_observation obs = {.y = w->yb};
        if (job->sense) {
            obs = (abp_observation){.y = job->y + first * job->sense->K, .sense = job->sense};
        } else {
            abp_rows_to_cns(job->y + first * dy, w->yb, b, ys);
        }
        if (job->mask) {
            const unsigned char *m = job->mask + first * dy;
            for (int64_t k = 0; k < b * dy; k++) w->mrows[k] = m[k];
            abp_rows_to_cns(w->mrows, w->mb, b, ys);
            obs.mask = w->mb;
        }
        if (abp_infer_latents(net, w->zb, &obs, b, w->ids, &job->lv, &w->ws, err) ||
            abp_net_forward(net, w->zb, b, err))
            return -1;
        abp_cns_to_rows(w->zb, z, b, zs);
        abp_cns_to_rows(abp_net_output(net), w->grows, b, ys);
        observation_sse(job, first, b, w->grows, dy, w->proj_g, w->sse);
        for (int i = 0; i < b; i++) {
            int64_t local = first + i;
            const float *g = w->grows + (int64_t)i * dy;
            if (job->measure) job->measure(job->measure_ctx, local, g, w->sse[i], w->measures + local * nm);
            if (local < kept_here) memcpy(w->kept_mine + local * dy, g, sizeof(float) * (size_t)dy);
        }
        abp_progress_update(&progress, first + b);
    }
    (void)res;
    return 0;
}

int abp_infer_data(abp_dist *d, abp_net *net, const abp_infer_job *job, abp_infer_result *res,
                   abp_err *err) {
    memset(res, 0, sizeof *res);
    buffers w = {0};
    int64_t dy = abp_shape_numel(net->out_shape), nm = job->nmeasures;
    int rc = -1;
    if (abp_dist_agree(d, infer_shard(d, net, job, res, &w, err), err)) goto done;
    /* Gathering: rank 0 gets every example's measures and the first `keep` g(z). */
    int alloc_ok = 1;
    if (d->rank == 0) {
        w.all_measures = malloc(sizeof(double) * (size_t)(job->n > 0 ? job->n : 1) * (size_t)(nm > 0 ? nm : 1));
        res->kept = abp_alloc(sizeof(float) * (size_t)((job->keep > 0 ? job->keep : 1) * dy), err);
        alloc_ok = w.all_measures && res->kept;
    }
    if (abp_dist_agree(d, alloc_ok ? 0 : abp_fail(err, "out of memory gathering %lld examples", (long long)job->n), err))
        goto done;
    if (nm > 0 && abp_dist_gather_rows(d, w.measures, job->lo, job->hi, job->n, sizeof(double) * (size_t)nm,
                                       w.all_measures, err))
        goto done;
    if (job->keep > 0 && abp_dist_gather_rows(d, w.kept_mine, job->lo, job->hi, job->keep,
                                              sizeof(float) * (size_t)dy, res->kept, err))
        goto done;
    if (d->rank == 0)
        for (int64_t i = 0; i < job->n; i++)
            for (int k = 0; k < nm; k++) res->sums[k] += w.all_measures[i * nm + k];
    /* Every rank gets rank 0's sums: adding zeros from the others changes no bit. */
    if (abp_dist_sum_doubles(res->sums, ABP_MEASURES_MAX, d)) {
        abp_fail(err, "MPI_Allreduce of the measures failed");
        goto done;
    }
    rc = 0;
done:
    buffers_free(&w);
    if (rc) abp_infer_result_free(res);
    return rc;
}

void abp_infer_result_free(abp_infer_result *res) {
    abp_free(res->kept);
    abp_free(res->z);
    memset(res, 0, sizeof *res);
}
