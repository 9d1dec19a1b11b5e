/* abp_data_prepare: packs data sources into one HDF5 data set file, in parallel.
 *
 * Every rank opens every source (a folder is listed on each rank, as abp_data_load does)
 * and takes the contiguous share [r*n/p, (r+1)*n/p) of the concatenated examples, the same
 * split as training uses. The writing goes in rounds: in each round every rank fits its
 * next block of examples to the stored shape and all ranks write their blocks in one
 * collective call per dataset, a rank that has run out with an empty selection. Memory per
 * rank is one block, whatever the number of examples.
 *
 * Keeping the ranks in step: every collective HDF5 call must be made by all ranks, so a
 * rank whose decoding failed still joins the round's writes, with no rows, and the round
 * ends with agree() (abp_h5util_agree), after which all ranks stop together. Failures are
 * reported once, with the message of the lowest failing rank.
 *
 * Labels: with cfg->labels, every source has a labels file (IDX or HDF5 /labels, read
 * whole on every rank: one byte an example) and the written examples' labels go to
 * /labels, each rank writing its rows as it writes their images.
 *
 * Selecting classes: with cfg->classes (and labels), only the examples whose label is
 * selected are kept, in their order; `rows` lists their indices in the concatenation and
 * everything above (shares, blocks, rounds) counts kept examples. Their names stay those
 * of their source ("file#17"). */
#include "abp/io.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "h5data.h"
#include "h5util.h"
#include "idx.h"
#include "source.h"

enum {
    DEFAULT_BLOCK = 1024,           /* examples per rank per collective write */
    BLOCK_BYTES = 64 << 20,         /* ... but at most this many bytes of pixels */
    MAX_SIDE = 1 << 16,
};

/* The sources, where each starts in the concatenation, and what goes where. */
typedef struct plan {
    abp_source **sources;
    int64_t *first;        /* index of each source's first example among all */
    int64_t *count;        /* examples used from each source */
    int64_t *rows;         /* with classes: the kept examples, as indices among all; else NULL */
    uint8_t *labels;       /* with labels: of each written example (shape.n); else NULL */
    abp_source *masks;     /* --masks: one mask image per example of the concatenation */
    int nsources;
    abp_data_info shape;   /* what is written: n examples of h x w x c */
    int rank, nranks;
    int64_t lo, hi;        /* this rank's examples */
    int64_t block;
} plan;

static void free_names(char **names, int64_t n) {
    if (!names) return;
    for (int64_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* ---------------------------------------------------------------- the plan */

static void close_sources(plan *p) {
    for (int i = 0; p->sources && i < p->nsources; i++) abp_source_close(p->sources[i]);
    free(p->sources);
    abp_source_close(p->masks);
    free(p->first);
    free(p->count);
    free(p->rows);
    free(p->labels);
}

/* With cfg->labels: every source's labels (as many as the source has examples),
 * concatenated as the examples used are: all[first[i] + k] is example k of source i. */
static int read_labels(plan *p, const abp_prepare_cfg *cfg, const int64_t *size, uint8_t **all, abp_err *err) {
    int64_t used = p->first[p->nsources - 1] + p->count[p->nsources - 1];
    *all = malloc((size_t)(used > 0 ? used : 1));
    if (!*all) return abp_fail(err, "out of memory for %lld labels", (long long)used);
    for (int i = 0; i < p->nsources; i++) {
        const char *labels_path = cfg->labels[i];
        if (!labels_path) return abp_fail(err, "source %s has no labels file", cfg->sources[i]);
        uint8_t *labels;
        int64_t n;
        if (abp_labels_read(labels_path, &labels, &n, err) != 0) return -1;
        if (n != size[i]) {
            free(labels);
            return abp_fail(err, "%s: %lld labels but %s holds %lld images", labels_path, (long long)n,
                            cfg->sources[i], (long long)size[i]);
        }
        memcpy(*all + p->first[i], labels, (size_t)p->count[i]);
        free(labels);
    }
    return 0;
}

/* With cfg->classes: lists the examples whose class is selected, at most `limit` of them
 * (0: all), from all[] of read_labels. */
static int select_classes(plan *p, const abp_prepare_cfg *cfg, const uint8_t *all, const char *out, abp_err *err) {
    int64_t used = p->first[p->nsources - 1] + p->count[p->nsources - 1], kept = 0;
    p->rows = malloc(sizeof *p->rows * (size_t)(used > 0 ? used : 1));
    if (!p->rows) return abp_fail(err, "%s: out of memory", out);
    for (int64_t k = 0; k < used && (cfg->limit <= 0 || kept < cfg->limit); k++)
        if (cfg->classes[all[k]]) p->rows[kept++] = k;
    p->shape.n = kept;
    return 0;
}

/* The labels of the written examples: all[] in the order written. */
static int keep_labels(plan *p, const uint8_t *all, const char *out, abp_err *err) {
    p->labels = malloc((size_t)(p->shape.n > 0 ? p->shape.n : 1));
    if (!p->labels) return abp_fail(err, "%s: out of memory", out);
    for (int64_t k = 0; k < p->shape.n; k++) p->labels[k] = all[p->rows ? p->rows[k] : k];
    p->shape.has_labels = 1;
    return 0;
}

/* The masks' source: one image per example of the sources (all of them, so that example i
 * of the concatenation has mask i whatever the limit or classes keep), at the stored size. */
static int open_masks(plan *p, const abp_prepare_cfg *cfg, const char *out, abp_err *err) {
    abp_data_info info;
    int64_t all = 0;
    for (int i = 0; i < p->nsources; i++) {
        abp_data_info src;
        abp_source *s;
        if (abp_source_open(cfg->sources[i], &s, &src, err) != 0) return -1;
        abp_source_close(s);
        all += src.n;
    }
    if (abp_source_open(cfg->masks, &p->masks, &info, err) != 0) return -1;
    if (strcmp(info.kind, "hdf5") == 0 || strcmp(info.kind, "wav") == 0)
        return abp_fail(err, "--masks %s: give mask images (IDX, a folder or an image), not a %s file", cfg->masks, info.kind);
    if (info.n != all)
        return abp_fail(err, "--masks %s: %lld masks for %lld examples; give one mask per example", cfg->masks,
                        (long long)info.n, (long long)all);
    if (info.h != p->shape.h || info.w != p->shape.w)
        return abp_fail(err, "--masks %s: masks of %dx%d for images stored at %dx%d; masks are not resized", cfg->masks,
                        info.h, info.w, p->shape.h, p->shape.w);
    (void)out;
    p->shape.has_masks = 1;
    return 0;
}

/* Opens every source and works out the shape: the first source's native size and channels
 * unless the caller asked for others, and the examples up to the limit. */
static int open_sources(plan *p, const abp_prepare_cfg *cfg, const char *out, abp_err *err) {
    if (cfg->nsources < 1 || !cfg->sources) return abp_fail(err, "%s: no data sources given", out);
    p->nsources = cfg->nsources;
    p->sources = calloc((size_t)p->nsources, sizeof *p->sources);
    p->first = calloc((size_t)p->nsources, sizeof *p->first);
    p->count = calloc((size_t)p->nsources, sizeof *p->count);
    if (!p->sources || !p->first || !p->count) return abp_fail(err, "%s: out of memory", out);

    /* With classes, the limit counts kept examples (select_classes), not examples read. */
    int64_t total = 0, limit = cfg->limit > 0 && !cfg->classes ? cfg->limit : INT64_MAX;
    int64_t *size = calloc((size_t)p->nsources, sizeof *size); /* examples in each source */
    if (!size) return abp_fail(err, "%s: out of memory", out);
    for (int i = 0; i < p->nsources; i++) {
        abp_data_info info;
        if (abp_source_open(cfg->sources[i], &p->sources[i], &info, err) != 0) {
            free(size);
            return -1;
        }
        size[i] = info.n;
        if (i == 0) {
            p->shape.c = cfg->c > 0 ? cfg->c : info.c;
            p->shape.h = cfg->h > 0 ? cfg->h : info.h;
            p->shape.w = cfg->w > 0 ? cfg->w : info.w;
        }
        p->first[i] = total;
        p->count[i] = info.n < limit - total ? info.n : limit - total;
        total += p->count[i];
    }
    p->shape.n = total;
    if (cfg->classes && !cfg->labels) {
        free(size);
        return abp_fail(err, "%s: classes are selected by labels, and no labels files were given", out);
    }
    uint8_t *all = NULL;
    int rc = cfg->labels ? read_labels(p, cfg, size, &all, err) : 0;
    if (rc == 0 && cfg->classes) rc = select_classes(p, cfg, all, out, err);
    if (rc == 0 && cfg->labels) rc = keep_labels(p, all, out, err);
    free(all);
    free(size);
    if (rc != 0) return -1;
    total = p->shape.n;
    snprintf(p->shape.kind, sizeof p->shape.kind, "hdf5");

    if (p->shape.c != 1 && p->shape.c != 3)
        return abp_fail(err, "%s: cannot store %d channels (1 or 3)", out, p->shape.c);
    if (p->shape.h < 1 || p->shape.w < 1 || p->shape.h > MAX_SIDE || p->shape.w > MAX_SIDE)
        return abp_fail(err, "%s: cannot store images of %dx%d (1 to %d a side)", out, p->shape.h, p->shape.w,
                        MAX_SIDE);
    if (total < 1)
        return abp_fail(err, "%s: the sources hold no examples%s", out, cfg->classes ? " of the selected classes" : "");

    if (cfg->masks && open_masks(p, cfg, out, err) != 0) return -1;

    /* A block of at most BLOCK_BYTES, so that large images do not take gigabytes per rank. */
    int64_t row_bytes = (int64_t)p->shape.h * p->shape.w * p->shape.c;
    int64_t block = cfg->block > 0 ? cfg->block : DEFAULT_BLOCK;
    if (cfg->block <= 0 && block * row_bytes > BLOCK_BYTES) block = BLOCK_BYTES / row_bytes;
    p->block = block > 0 ? block : 1;
    p->lo = total * p->rank / p->nranks;
    p->hi = total * (p->rank + 1) / p->nranks;
    return 0;
}

/* Reads examples [lo, lo + count) of the concatenation, which may span several sources.
 * pixels or names may be NULL. */
static int read_range(plan *p, int64_t lo, int64_t count, uint8_t *pixels, char **names, abp_err *err) {
    const abp_data_info *s = &p->shape;
    size_t row_bytes = (size_t)s->h * s->w * s->c;
    for (int i = 0; i < p->nsources; i++) {
        int64_t from = lo > p->first[i] ? lo : p->first[i];
        int64_t to = lo + count < p->first[i] + p->count[i] ? lo + count : p->first[i] + p->count[i];
        if (from >= to) continue;
        int64_t at = from - lo; /* where this piece goes in the block */
        if (abp_source_read(p->sources[i], from - p->first[i], to - from, s->c, s->h, s->w,
                            pixels ? pixels + (size_t)at * row_bytes : NULL, names ? names + at : NULL, err) != 0)
            return -1;
    }
    return 0;
}

/* Reads written rows [lo, lo + count): the concatenation's, or with classes the kept
 * examples', a run of consecutive indices at a time. */
static int read_block(plan *p, int64_t lo, int64_t count, uint8_t *pixels, char **names, abp_err *err) {
    if (!p->rows) return read_range(p, lo, count, pixels, names, err);
    size_t row_bytes = (size_t)p->shape.h * p->shape.w * p->shape.c;
    for (int64_t at = 0, run; at < count; at += run) {
        for (run = 1; at + run < count && p->rows[lo + at + run] == p->rows[lo + at] + run; run++) {}
        if (read_range(p, p->rows[lo + at], run, pixels ? pixels + (size_t)at * row_bytes : NULL,
                       names ? names + at : NULL, err) != 0)
            return -1;
    }
    return 0;
}

/* The masks of written rows [lo, lo + count), as 1 (nonzero: observed) or 0. */
static int read_mask_block(plan *p, int64_t lo, int64_t count, uint8_t *masks, abp_err *err) {
    const abp_data_info *s = &p->shape;
    size_t row_bytes = (size_t)s->h * s->w * s->c;
    for (int64_t at = 0, run; at < count; at += run) {
        int64_t from = p->rows ? p->rows[lo + at] : lo + at;
        for (run = 1; at + run < count && (p->rows ? p->rows[lo + at + run] : lo + at + run) == from + run; run++) {}
        if (abp_source_read(p->masks, from, run, s->c, s->h, s->w, masks + (size_t)at * row_bytes, NULL, err) != 0)
            return -1;
    }
    for (size_t k = 0; k < (size_t)count * row_bytes; k++) masks[k] = masks[k] != 0;
    return 0;
}

/* /examples holds fixed-length strings (HDF5 1.10 cannot write variable-length data in
 * parallel), as wide as the longest name on any rank: each rank looks at its own names
 * before anything is written. */
static int name_width(MPI_Comm comm, plan *p, const char *out, size_t *width, abp_err *err) {
    unsigned long long mine = 0, longest = 0;
    int rc = 0;
    for (int64_t lo = p->lo; rc == 0 && lo < p->hi; lo += p->block) {
        int64_t count = p->hi - lo < p->block ? p->hi - lo : p->block;
        char **names = calloc((size_t)count, sizeof *names);
        rc = names ? read_block(p, lo, count, NULL, names, err) : abp_fail(err, "%s: out of memory", out);
        for (int64_t i = 0; rc == 0 && i < count; i++)
            if (strlen(names[i]) > mine) mine = strlen(names[i]);
        free_names(names, count);
    }
    if (abp_h5util_agree(comm, rc, err) != 0) return -1;
    MPI_Allreduce(&mine, &longest, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, comm);
    *width = (size_t)longest + 1; /* room for the terminating zero of the longest */
    return 0;
}

/* Examples written by all ranks after `rounds` rounds: each rank's share, capped. */
static int64_t done_after(const plan *p, int64_t rounds) {
    int64_t done = 0;
    for (int r = 0; r < p->nranks; r++) {
        int64_t share = p->shape.n * (r + 1) / p->nranks - p->shape.n * r / p->nranks;
        done += share < rounds * p->block ? share : rounds * p->block;
    }
    return done;
}

/* ---------------------------------------------------------------- writing */

/* All rounds of collective writes into an open writer. */
static int write_rounds(MPI_Comm comm, plan *p, abp_h5data_writer *w, const char *out, const abp_prepare_cfg *cfg,
                        abp_err *err) {
    size_t row_bytes = (size_t)p->shape.h * p->shape.w * p->shape.c;
    uint8_t *pixels = malloc((size_t)p->block * row_bytes);
    char **names = calloc((size_t)p->block, sizeof *names);
    uint8_t *masks = p->masks ? malloc((size_t)p->block * row_bytes) : NULL;
    int rc = pixels && names && (!p->masks || masks) ? 0
                             : abp_fail(err, "%s: out of memory for a block of %lld examples", out, (long long)p->block);
    rc = abp_h5util_agree(comm, rc, err);

    int64_t largest_share = (p->shape.n + p->nranks - 1) / p->nranks;
    int64_t rounds = (largest_share + p->block - 1) / p->block;
    for (int64_t k = 0; rc == 0 && k < rounds; k++) {
        int64_t lo = p->lo + k * p->block;
        int64_t count = lo >= p->hi ? 0 : p->hi - lo < p->block ? p->hi - lo : p->block;
        int mine = read_block(p, lo, count, pixels, names, err);
        if (mine == 0 && masks) mine = read_mask_block(p, lo, count, masks, err);
        const uint8_t *labels = p->labels && count > 0 ? p->labels + lo : NULL;
        int wrote = abp_h5data_write(w, lo, mine == 0 ? count : 0, pixels, names, masks, labels, mine == 0 ? err : NULL);
        rc = abp_h5util_agree(comm, mine != 0 ? mine : wrote, err);
        for (int64_t i = 0; i < count; i++) {
            free(names[i]);
            names[i] = NULL;
        }
        if (rc == 0 && cfg->progress) cfg->progress(&p->shape, done_after(p, k + 1), cfg->progress_ctx);
    }
    free(pixels);
    free(names);
    free(masks);
    return rc;
}

/* Gives the finished file its name. A hard link, unlike rename, fails when `out` exists,
 * so a file that appeared at `out` while we were writing is never replaced; file systems
 * without hard links get a rename after one more look. */
static int publish(const char *out, const char *tmp, abp_err *err) {
    if (link(tmp, out) == 0) {
        unlink(tmp);
        return 0;
    }
    if (errno == EEXIST) return abp_fail(err, "%s: already exists; remove it or choose another", out);
    if (errno != EPERM && errno != ENOTSUP && errno != EOPNOTSUPP && errno != EXDEV)
        return abp_fail(err, "%s: cannot rename %s to it (%s)", out, tmp, strerror(errno));
    if (access(out, F_OK) == 0) return abp_fail(err, "%s: already exists; remove it or choose another", out);
    if (rename(tmp, out) != 0) return abp_fail(err, "%s: cannot rename %s to it (%s)", out, tmp, strerror(errno));
    return 0;
}

static int refuse_existing(const char *out, abp_err *err) {
    struct stat st;
    if (lstat(out, &st) == 0) return abp_fail(err, "%s: already exists; remove it or choose another", out);
    return 0;
}

/* Creates OUT.tmp, writes every round into it and closes it; rank 0 then names it `out`,
 * or removes it after a failure. */
static int write_file(MPI_Comm comm, plan *p, const char *out, const abp_prepare_cfg *cfg, abp_err *err) {
    size_t width;
    if (name_width(comm, p, out, &width, err) != 0) return -1;
    char *tmp = abp_h5util_tmp_name(out, err);
    int rc = abp_h5util_agree(comm, tmp ? 0 : -1, err);
    if (rc == 0) rc = abp_h5util_agree(comm, p->rank == 0 ? abp_h5util_create_empty(out, tmp, err) : 0, err);
    if (rc != 0) {
        free(tmp);
        return -1;
    }

    abp_h5data_writer *w = NULL;
    rc = abp_h5util_agree(comm, abp_h5data_create(comm, tmp, out, &p->shape, width, p->masks != NULL, &w, err), err);
    if (rc == 0 && cfg->progress) cfg->progress(&p->shape, 0, cfg->progress_ctx);
    if (rc == 0) rc = write_rounds(comm, p, w, out, cfg, err);
    /* Every rank closes, also after a failure: closing is collective. This agree() is the
     * barrier before the rename: every rank has closed the file. */
    int closed = abp_h5data_finish(w, rc == 0 ? err : NULL);
    rc = abp_h5util_agree(comm, rc != 0 ? rc : closed, err);
    if (p->rank == 0 && rc == 0) rc = publish(out, tmp, err);
    if (p->rank == 0 && rc != 0) unlink(tmp);
    rc = abp_h5util_agree(comm, rc, err);
    free(tmp);
    return rc;
}

int abp_data_prepare(MPI_Comm comm, const char *out, const abp_prepare_cfg *cfg, abp_data_info *written,
                     abp_err *err) {
    plan p = {0};
    MPI_Comm_rank(comm, &p.rank);
    MPI_Comm_size(comm, &p.nranks);
    memset(written, 0, sizeof *written);
    if (!out || !*out) return abp_h5util_agree(comm, abp_fail(err, "prepare: no output file given"), err);
    int rc = abp_h5util_agree(comm, p.rank == 0 ? refuse_existing(out, err) : 0, err);
    if (rc == 0) rc = abp_h5util_agree(comm, open_sources(&p, cfg, out, err), err);
    if (rc == 0) rc = write_file(comm, &p, out, cfg, err);
    if (rc == 0) *written = p.shape;
    close_sources(&p);
    return rc;
}
