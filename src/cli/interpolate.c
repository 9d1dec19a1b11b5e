/* abp interpolate: g(z) along paths through the latent space of a trained model.
 *
 *   pairs (default)  one row per pair of training examples, from the inferred latent of the
 *                    first to that of the second, linearly or along the great circle;
 *   --corners        the ABP paper's face figure: a square panel whose corners are the
 *                    latents of four training examples, the inside interpolated between them;
 *   --grid           for d = 2, the paper's Figure 5: the 9 x 9 panel over [-2, 2]^2.
 *
 * The ends are the latents training inferred for the examples (stored in the checkpoint),
 * or with --init encoder those inferred afresh from the examples' images: the encoder's mean
 * then --langevin-steps T Langevin steps, as abp reconstruct --init encoder does.
 *
 * --latents FILE.csv writes the latent of every tile, so what is drawn can be checked. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/infer.h"
#include "abp/train.h"
#include "cli.h"
#include "options.h"

enum { MAX_EXAMPLES = 2000 };

/* "3,17,42" into ids; each a whole number. */
static int parse_examples(const char *text, int64_t *ids, int *n, abp_err *err) {
    *n = 0;
    const char *p = text;
    while (*p) {
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || (*end && *end != ','))
            return abp_fail(err, "abp interpolate: --examples: '%s' is not a list of example numbers like 0,5,17", text);
        if (*n == MAX_EXAMPLES) return abp_fail(err, "abp interpolate: --examples: more than %d numbers", MAX_EXAMPLES);
        ids[(*n)++] = v;
        p = *end ? end + 1 : end;
    }
    return 0;
}

/* --init encoder: the ends' latents from their images in data (rows of dz into ends, their
 * names into names), inferred as abp reconstruct --init encoder infers them, keyed by the
 * examples' ids. On this process alone. */
static int encoder_ends(const char *ckpt, const char *data, const abp_train_cfg *cfg, abp_net *net, const int64_t *ids,
                        int nids, const abp_langevin *lv, float *ends, char **names, abp_err *err) {
    abp_shape ys = net->out_shape;
    int64_t dy = abp_shape_numel(ys), dz = abp_shape_numel(net->in_shape);
    int batch = nids < net->max_batch ? nids : net->max_batch;
    abp_data_info info;
    if (abp_data_probe(data, &info, err)) return -1;
    for (int k = 0; k < nids; k++)
        if (ids[k] >= info.n)
            return abp_fail(err, "abp interpolate: %s holds %lld examples (0 to %lld), not example %lld", data,
                            (long long)info.n, (long long)info.n - 1, (long long)ids[k]);
    float *y = abp_alloc(sizeof(float) * (size_t)(nids * dy), err);
    if (!y) return -1;
    abp_net enc = {0};
    abp_dist self;
    abp_infer_result res = {0};
    int rc = -1;
    for (int k = 0; k < nids; k++) {
        abp_images one = {0};
        if (abp_data_load(data, ids[k], ids[k] + 1, ys.c, ys.h, ys.w, &one, err)) goto done;
        memcpy(y + k * dy, one.data, sizeof(float) * (size_t)dy);
        names[k] = strdup(one.names ? one.names[0] : "");
        abp_images_free(&one);
        if (!names[k]) {
            abp_fail(err, "out of memory");
            goto done;
        }
    }
    if (abp_encoder_load(MPI_COMM_SELF, ckpt, cfg, net, batch, &enc, err) || abp_dist_init(&self, MPI_COMM_SELF, err))
        goto done;
    abp_infer_job job = {.n = nids, .lo = 0, .hi = nids, .batch = batch, .ids = ids, .y = y,
                         .start = {.kind = ABP_START_ENCODER, .encoder = &enc}, .lv = *lv};
    rc = abp_infer_data(&self, net, &job, &res, err);
    if (rc == 0) memcpy(ends, res.z, sizeof(float) * (size_t)(nids * dz));
    abp_dist_free(&self);
done:
    abp_infer_result_free(&res);
    abp_net_free(&enc);
    abp_free(y);
    return rc;
}

/* One CSV line per tile: row, col, the latent's length, its values. Written to PATH.tmp;
 * the caller renames it once everything else is written. */
static int write_latents_csv(const char *tmp, const float *z, int rows, int cols, int64_t dz,
                             abp_err *err) {
    FILE *f = fopen(tmp, "w");
    if (!f) return abp_fail(err, "%s: cannot write (%s)", tmp, strerror(errno));
    fprintf(f, "row,col,norm");
    for (int64_t k = 0; k < dz; k++) fprintf(f, ",z%lld", (long long)(k + 1));
    fputc('\n', f);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            const float *v = z + ((int64_t)r * cols + c) * dz;
            double nn = 0;
            for (int64_t k = 0; k < dz; k++) nn += (double)v[k] * v[k];
            fprintf(f, "%d,%d,%.9g", r, c, sqrt(nn));
            for (int64_t k = 0; k < dz; k++) fprintf(f, ",%.9g", (double)v[k]);
            fputc('\n', f);
        }
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        remove(tmp);
        return abp_fail(err, "%s: write failed", tmp);
    }
    return 0;
}

int cmd_interpolate(int argc, char **argv, abp_dist *d, abp_err *err) {
    char ckpt[1024] = "", out[1024] = "", examples[4096] = "", csv[1024] = "", data[1024] = "";
    int pairs = 8, steps = 10, spherical = 0, linear = 0, grid = 0, corners = 0, help = 0, init = 0, lsteps = 0;
    float range = 2.0f, step_size = 0.0f;
    int64_t seed = 1;
    cli_option opts[] = {
        {"ckpt", OPT_STRING, ckpt, sizeof ckpt, 0, 0, NULL, "a checkpoint written by abp train", 1, 0},
        {"out", OPT_STRING, out, sizeof out, 0, 0, NULL, "the PNG to write", 1, 0},
        {"pairs", OPT_INT, &pairs, 0, 1, 1000, NULL, "rows: example 2k to example 2k+1", 0, 0},
        {"steps", OPT_INT, &steps, 0, 2, 1000, NULL, "images per row, both ends included (--corners: also rows; --grid: its side, 9)", 0, 0},
        {"spherical", OPT_FLAG, &spherical, 0, 0, 0, NULL, "along great circles, the length changing linearly (the paper)", 0, 0},
        {"linear", OPT_FLAG, &linear, 0, 0, 0, NULL, "along straight lines (the default)", 0, 0},
        {"corners", OPT_FLAG, &corners, 0, 0, 0, NULL, "a steps x steps panel between the latents of 4 examples at its corners", 0, 0},
        {"examples", OPT_STRING, examples, sizeof examples, 0, 0, NULL,
         "which training examples (0-based, comma-separated): pairs in order, or the 4 corners "
         "top-left, top-right, bottom-left, bottom-right (default 0,1,2,...)", 0, 0},
        {"grid", OPT_FLAG, &grid, 0, 0, 0, NULL, "for d = 2: the 9 x 9 panel of g(z) over [-range, range]^2 (the paper's Figure 5)", 0, 0},
        {"range", OPT_FLOAT, &range, 0, 0.001, 1000, NULL, "half-width of --grid's square", 0, 0},
        {"latents", OPT_STRING, csv, sizeof csv, 0, 0, NULL, "also write every tile's latent to this CSV (row,col,norm,z1,...)", 0, 0},
        {"init", OPT_CHOICE, &init, 0, 0, 0, "checkpoint|encoder", "the ends: the latents training inferred for the examples, or inferred afresh from their images from the encoder's mean (--objective iabp or vae)", 0, 0},
        {"data", OPT_STRING, data, sizeof data, 0, 0, NULL, "--init encoder: the examples' images (default: the checkpoint's training data)", 0, 0},
        {"langevin-steps", OPT_INT, &lsteps, 0, 0, 1e6, NULL, "--init encoder: Langevin steps after the encoder (default: the checkpoint's training T; 0: the encoder alone)", 0, 0},
        {"langevin-step-size", OPT_FLOAT, &step_size, 0, 0, 100, NULL, "--init encoder: their step size (default: the checkpoint's)", 0, 0},
        {"seed", OPT_INT64, &seed, 0, 0, 9.2e18, NULL, "--init encoder: seed of the Langevin noise (as abp reconstruct's)", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (cli_parse("interpolate", argc, argv, 2, opts, nopts, NULL, 0, NULL, &help, err)) return EXIT_USAGE;
    if (help) {
        if (d->rank == 0)
            cli_usage("interpolate", "--ckpt FILE --out PNG [--spherical] [--corners | --grid] [--examples I,J,...]",
                      "Draws g(z) along paths between the inferred latents of training examples (as\n"
                      "stored in the checkpoint, or with --init encoder inferred afresh from their images:\n"
                      "the encoder's mean, then --langevin-steps T Langevin steps): one row per pair, or\n"
                      "with --corners a square panel between four; or, for a model with d = 2, over a\n"
                      "grid of latent values.", opts, nopts);
        return EXIT_OK;
    }
    const int pairs_given = opts[2].seen, steps_given = opts[3].seen, range_given = opts[9].seen;
    const int encoder_options = cli_seen(opts, nopts, "data") || cli_seen(opts, nopts, "langevin-steps") ||
                                cli_seen(opts, nopts, "langevin-step-size") || cli_seen(opts, nopts, "seed");
    const char *clash = spherical && linear ? "--spherical and --linear exclude each other"
                        : grid && corners   ? "--grid and --corners exclude each other"
                        : grid && (examples[0] || spherical || linear || pairs_given || init)
                            ? "--grid draws fixed latents: it takes no --examples, --pairs, --spherical, --linear or --init"
                        : range_given && !grid ? "--range is for --grid"
                        : encoder_options && init != 1
                            ? "--data, --langevin-steps, --langevin-step-size and --seed are for --init encoder"
                        : corners && pairs_given ? "--corners takes 4 --examples, not --pairs"
                                                 : NULL;
    if (clash) {
        abp_fail(err, "abp interpolate: %s", clash);
        return EXIT_USAGE;
    }
    int64_t ids[MAX_EXAMPLES];
    int nids = 0;
    if (examples[0]) {
        if (parse_examples(examples, ids, &nids, err)) return EXIT_USAGE;
        if (corners ? nids != 4 : nids % 2 != 0 || (pairs_given && nids != 2 * pairs)) {
            abp_fail(err, "abp interpolate: --examples: '%s' names %d examples; %s", examples, nids,
                     corners ? "--corners needs 4" : pairs_given ? "--pairs asks for 2 per pair" : "pairs need an even count");
            return EXIT_USAGE;
        }
        if (!corners) pairs = nids / 2;
    } else {
        nids = corners ? 4 : 2 * pairs;
        for (int k = 0; k < nids; k++) ids[k] = k;
    }
    if (d->rank != 0) return EXIT_OK;

    abp_net net;
    abp_train_cfg cfg;
    abp_ckpt_meta meta;
    abp_ckpt *ck = NULL;
    char *names[MAX_EXAMPLES] = {0};
    float *ends = NULL, *z = NULL, *zb = NULL, *images = NULL, *edge = NULL;
    int status = EXIT_FAILED;
    const int side = steps_given ? steps : 9;
    int rows = grid ? side : corners ? steps : pairs, cols = grid ? side : steps;
    int64_t ntiles = (int64_t)rows * cols;
    int batch = ntiles < 64 ? (int)ntiles : 64;
    char csv_tmp[1100];
    snprintf(csv_tmp, sizeof csv_tmp, "%s.tmp", csv);
    if (abp_model_load(MPI_COMM_SELF, ckpt, batch, &net, &cfg, &meta, err)) return EXIT_FAILED;
    free(meta.config);
    int64_t dz = abp_shape_numel(net.in_shape), dy = abp_shape_numel(net.out_shape);
    z = abp_alloc(sizeof(float) * (size_t)(ntiles * dz), err);
    zb = z ? abp_alloc(sizeof(float) * (size_t)(batch * dz), err) : NULL;
    images = zb ? abp_alloc(sizeof(float) * (size_t)(ntiles * dy), err) : NULL;
    edge = images ? abp_alloc(sizeof(float) * (size_t)(2 * dz), err) : NULL;
    if (!edge) goto done;
    if (grid) {
        if (dz != 2) {
            abp_fail(err, "--grid needs a model with d = 2; %s has d = %lld", ckpt, (long long)dz);
            goto done;
        }
        abp_latent_grid(side, range, z);
    } else if (init == 1) {
        ends = abp_alloc(sizeof(float) * (size_t)(nids * dz), err);
        abp_langevin lv = {.steps = cli_seen(opts, nopts, "langevin-steps") ? lsteps : cfg.langevin_steps,
                           .step_size = cli_seen(opts, nopts, "langevin-step-size") ? step_size : cfg.step_size,
                           .sigma = cfg.sigma, .noise = 1, .seed = (uint64_t)seed, .iteration = 0xFFFFFFFFu};
        if (!ends || encoder_ends(ckpt, data[0] ? data : cfg.data, &cfg, &net, ids, nids, &lv, ends, names, err))
            goto done;
    } else {
        abp_ckpt_meta m2;
        int64_t n_total, ldims[4];
        int lnd;
        if (abp_ckpt_open(MPI_COMM_SELF, ckpt, &ck, &m2, err) || abp_ckpt_latent_shape(ck, &n_total, &lnd, ldims, err))
            goto done;
        for (int k = 0; k < nids; k++)
            if (ids[k] >= n_total) {
                abp_fail(err, "abp interpolate: %s holds %lld examples (0 to %lld), not example %lld%s", ckpt,
                         (long long)n_total, (long long)n_total - 1, (long long)ids[k],
                         examples[0] ? " (--examples)" : corners ? " (--corners takes examples 0 to 3)" : " (--pairs)");
                goto done;
            }
        ends = abp_alloc(sizeof(float) * (size_t)(nids * dz), err);
        if (!ends) goto done;
        for (int k = 0; k < nids; k++) {
            char **one = NULL;
            if (abp_ckpt_read_latents(ck, ids[k], ids[k] + 1, ends + k * dz, err) ||
                abp_ckpt_read_names(ck, ids[k], ids[k] + 1, &one, err))
                goto done;
            names[k] = one[0];
            free(one);
        }
    }
    if (!grid) {
        if (corners) {
            abp_latent_corners(ends, ends + dz, ends + 2 * dz, ends + 3 * dz, rows, cols, spherical, z, edge, dz);
        } else {
            for (int p = 0; p < pairs; p++)
                for (int s = 0; s < steps; s++) {
                    float t = (float)s / (float)(steps - 1);
                    const float *a = ends + (2 * p) * dz, *b = ends + (2 * p + 1) * dz;
                    float *row = z + ((int64_t)p * steps + s) * dz;
                    if (spherical) abp_latent_slerp(a, b, t, row, dz);
                    else abp_latent_lerp(a, b, t, row, dz);
                }
        }
    }
    if (abp_net_generate(&net, z, ntiles, images, zb, err)) goto done;
    if (csv[0] && write_latents_csv(csv_tmp, z, rows, cols, dz, err)) goto done;
    if (abp_png_write_grid(out, images, (int)ntiles, net.out_shape.c, net.out_shape.h, net.out_shape.w, cols, err)) {
        if (csv[0]) remove(csv_tmp);
        goto done;
    }
    if (csv[0] && rename(csv_tmp, csv) != 0) {
        abp_fail(err, "%s: cannot rename %s to it (%s)", csv, csv_tmp, strerror(errno));
        remove(csv_tmp);
        goto done;
    }
    const char *how = spherical ? "spherical" : "linear";
    if (grid) {
        printf("interpolate: wrote %s (%d x %d): z1 from %g (left) to %g (right), z2 from %g (top) to %g (bottom)\n",
               out, side, side, -(double)range, (double)range, (double)range, -(double)range);
    } else if (corners) {
        printf("interpolate: wrote %s (%d x %d, %s between 4 corners)\n", out, rows, cols, how);
        const char *where[4] = {"top left", "top right", "bottom left", "bottom right"};
        for (int k = 0; k < 4; k++)
            printf("  %-12s example %lld (%s)\n", where[k], (long long)ids[k], names[k]);
    } else {
        printf("interpolate: wrote %s (%d x %d, %s)\n", out, rows, cols, how);
        for (int p = 0; p < pairs; p++)
            printf("  row %d: example %lld (%s) to example %lld (%s)\n", p, (long long)ids[2 * p], names[2 * p],
                   (long long)ids[2 * p + 1], names[2 * p + 1]);
    }
    status = EXIT_OK;
done:
    for (int k = 0; k < nids; k++) free(names[k]);
    abp_ckpt_close(ck);
    abp_free(ends);
    abp_free(z);
    abp_free(zb);
    abp_free(images);
    abp_free(edge);
    abp_net_free(&net);
    return status;
}
