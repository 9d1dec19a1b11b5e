/* abp prepare: packs IDX files and image folders into one HDF5 data set file, which
 * `abp train --data` then reads a shard per rank. Under mpirun the ranks write it together. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "abp/io.h"
#include "cli.h"
#include "options.h"

enum { MAX_SIDE = 1 << 16 };

#define PROGRESS_SECONDS 3.0 /* at most one progress line this often */

/* What the progress callback needs to print its lines (rank 0 only). */
typedef struct progress {
    int rank, nranks, nsources, quiet;
    double start, last; /* MPI_Wtime of the start and of the last line */
} progress;

static void report(const abp_data_info *out, int64_t done, void *ctx) {
    progress *p = ctx;
    if (p->rank != 0 || p->quiet) return;
    double now = MPI_Wtime();
    if (done == 0) {
        printf("prepare: %lld images from %d source%s, stored as %dx%dx%d (h x w x c), on %d rank%s\n",
               (long long)out->n, p->nsources, p->nsources > 1 ? "s" : "", out->h, out->w, out->c, p->nranks,
               p->nranks > 1 ? "s" : "");
    } else if (done < out->n && now - p->last >= PROGRESS_SECONDS) {
        printf("prepare: %lld/%lld images (%.0f%%), %.1f s\n", (long long)done, (long long)out->n,
               100.0 * (double)done / (double)out->n, now - p->start);
        p->last = now;
    }
    fflush(stdout);
}

/* "HxW", two whole numbers from 1 to MAX_SIDE. */
static int parse_size(const char *text, int *h, int *w, abp_err *err) {
    long v[2];
    const char *at = text;
    for (int k = 0; k < 2; k++) {
        char *end;
        errno = 0;
        v[k] = isdigit((unsigned char)*at) ? strtol(at, &end, 10) : -1;
        if (v[k] < 1 || v[k] > MAX_SIDE || errno || *end != (k == 0 ? 'x' : '\0'))
            return abp_fail(err, "abp prepare: --size: '%s' is not HxW with sides from 1 to %d (e.g. 64x64)",
                            text, MAX_SIDE);
        at = end + 1;
    }
    *h = (int)v[0];
    *w = (int)v[1];
    return 0;
}

/* "0-4", "5-9", "1,3,7", "0-2,8": labels from 0 to 255, single or as ranges, joined by
 * commas; sets their flags in keep[256]. Hand-written: no Debian library parses such lists. */
static int parse_classes(const char *text, uint8_t keep[256], abp_err *err) {
    const char *at = text;
    memset(keep, 0, 256);
    for (;;) {
        long lo, hi;
        char *end;
        if (!isdigit((unsigned char)*at)) break;
        errno = 0;
        lo = hi = strtol(at, &end, 10);
        if (*end == '-' && isdigit((unsigned char)end[1])) hi = strtol(end + 1, &end, 10);
        if (errno || lo > 255 || hi > 255 || hi < lo) break;
        for (long k = lo; k <= hi; k++) keep[k] = 1;
        if (*end == '\0') return 0;
        if (*end != ',') break;
        at = end + 1;
    }
    return abp_fail(err, "abp prepare: --classes: '%s' is not a list of labels from 0 to 255 (e.g. 0-4 or 1,3,7)",
                    text);
}

/* A probe failure, said as coming from the option that named the source. Messages of the
 * data readers start with the file they are about: when that is the source itself, the
 * option goes in front ("--idx x: cannot open"), else the source too ("--images d: d/a.png: ..."). */
static int fail_source(const char *option, const char *path, abp_err *err) {
    char why[sizeof err->msg];
    memcpy(why, err->msg, sizeof why);
    size_t len = strlen(path);
    if (strncmp(why, path, len) == 0 && why[len] == ':') return abp_fail(err, "abp prepare: --%s %s", option, why);
    return abp_fail(err, "abp prepare: --%s %s: %s", option, path, why);
}

/* "an IDX file", "a folder of images", ... for abp_data_info.kind. */
static const char *kind_phrase(const char *kind) {
    return !strcmp(kind, "idx") ? "an IDX file" : !strcmp(kind, "hdf5") ? "an HDF5 data set"
         : !strcmp(kind, "folder") ? "a folder of images" : !strcmp(kind, "wav") ? "a WAV sound"
         : "an image";
}

/* Rank 0, before anything is written: every source exists and is what its option says,
 * and --out is free. */
static int check_inputs(const cli_list *sources, const char *out, abp_err *err) {
    struct stat st;
    if (lstat(out, &st) == 0) return abp_fail(err, "abp prepare: --out %s already exists; remove it or choose another", out);
    for (int k = 0; k < sources->n; k++) {
        const char *path = sources->value[k], *option = sources->option[k];
        abp_data_info info;
        if (abp_data_probe(path, &info, err) != 0) return fail_source(option, path, err);
        int is_idx = !strcmp(info.kind, "idx");
        int is_images = !strcmp(info.kind, "folder") || !strcmp(info.kind, "image");
        if (!strcmp(option, "idx") && !is_idx)
            return abp_fail(err, "abp prepare: --idx %s: not an IDX file but %s%s", path, kind_phrase(info.kind),
                            is_images ? " (give it with --images)" : "");
        if (!strcmp(option, "images") && !is_images)
            return abp_fail(err, "abp prepare: --images %s: not a folder of images but %s%s", path,
                            kind_phrase(info.kind), is_idx ? " (give it with --idx)" : "");
    }
    return 0;
}

int cmd_prepare(int argc, char **argv, abp_dist *d, abp_err *err) {
    cli_list sources = {0}, labels = {0};
    char out[1024] = "", size[64] = "", classes[256] = "", masks[1024] = "";
    int channels = 0, quiet = 0, help = 0;
    int64_t limit = 0;
    cli_option opts[] = {
        {"idx", OPT_LIST, &sources, 0, 0, 0, NULL, "an IDX image file (MNIST's format); may be given several times", 0, 0},
        {"images", OPT_LIST, &sources, 0, 0, 0, NULL, "a folder of images (or one image); may be given several times", 0, 0},
        {"out", OPT_STRING, out, sizeof out, 0, 0, NULL, "the HDF5 file to write (must not exist)", 1, 0},
        {"size", OPT_STRING, size, sizeof size, 0, 0, NULL, "HxW to store (default: the first source's size)", 0, 0},
        {"channels", OPT_INT, &channels, 0, 0, 3, NULL, "1 (grey) or 3 (RGB); 0: the first source's", 0, 0},
        {"limit", OPT_INT64, &limit, 0, 0, 1e12, NULL, "only the first N examples of all sources (0: all)", 0, 0},
        {"labels", OPT_LIST, &labels, 0, 0, 0, NULL,
         "a labels file per source, in the same order (IDX or HDF5 /labels): stored as /labels, and --classes selects by them", 0, 0},
        {"classes", OPT_STRING, classes, sizeof classes, 0, 0, NULL, "only examples with these labels, e.g. 0-4 or 1,3,7", 0, 0},
        {"masks", OPT_STRING, masks, sizeof masks, 0, 0, NULL,
         "IDX file or folder of one mask image per example (nonzero = observed), stored as /masks", 0, 0},
        {"quiet", OPT_FLAG, &quiet, 0, 0, 0, NULL, "no progress lines, only the summary", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (cli_parse("prepare", argc, argv, 2, opts, nopts, NULL, 0, NULL, &help, err)) return EXIT_USAGE;
    if (help) {
        if (d->rank == 0)
            cli_usage("prepare", "(--idx FILE | --images DIR)... --out FILE.h5 [--size HxW] [--channels 1|3]\n"
                      "                    [--labels FILE... [--classes LIST]] [--masks IDX|DIR]",
                      "Packs the sources, concatenated in the order given, into one HDF5 data set:\n"
                      "/images uint8 [n, h, w, c] chunked by example, /examples the source of each row\n"
                      "(the names abp train gives them, so a checkpoint trained on the sources resumes on\n"
                      "the file). Images are converted as abp train converts them: channels, centre crop,\n"
                      "resize. Under mpirun each rank decodes its share and all ranks write together.\n"
                      "The file is written as FILE.h5.tmp and renamed when complete. --labels (one file\n"
                      "per source) stores each example's label as /labels uint8 [n], which abp train\n"
                      "--objective classify --labels FILE.h5 reads. With --classes, only the examples\n"
                      "whose label is listed are kept, in order, under their original names; --limit\n"
                      "then counts kept examples.\n"
                      "--masks gives the data its own observation masks (bad pixels, missing regions):\n"
                      "one mask image per example of the sources, at the stored size, a nonzero pixel\n"
                      "observed; stored as /masks uint8 [n, h, w, c] (1 observed, 0 missing), which\n"
                      "abp train and abp complete then use as --mask uses its generated masks.",
                      opts, nopts);
        return EXIT_OK;
    }
    int h = 0, w = 0;
    if (sources.n == 0) {
        abp_fail(err, "abp prepare: give at least one --idx FILE or --images DIR (see abp prepare --help)");
        return EXIT_USAGE;
    }
    if (size[0] && parse_size(size, &h, &w, err)) return EXIT_USAGE;
    uint8_t keep[256];
    if (classes[0] && parse_classes(classes, keep, err)) return EXIT_USAGE;
    if (classes[0] && labels.n != sources.n) {
        abp_fail(err, "abp prepare: --classes needs one --labels file per source: %d source%s, %d --labels", sources.n,
                 sources.n == 1 ? "" : "s", labels.n);
        return EXIT_USAGE;
    }
    if (labels.n > 0 && labels.n != sources.n) {
        abp_fail(err, "abp prepare: --labels needs one labels file per source: %d source%s, %d --labels", sources.n,
                 sources.n == 1 ? "" : "s", labels.n);
        return EXIT_USAGE;
    }
    if (channels == 2) {
        abp_fail(err, "abp prepare: --channels: 2 is not 1 (grey) or 3 (RGB)");
        return EXIT_USAGE;
    }
    if (abp_dist_agree(d, d->rank == 0 ? check_inputs(&sources, out, err) : 0, err)) return EXIT_FAILED;

    progress state = {.rank = d->rank, .nranks = d->size, .nsources = sources.n, .quiet = quiet};
    state.start = state.last = MPI_Wtime();
    abp_prepare_cfg cfg = {.sources = sources.value, .nsources = sources.n, .limit = limit,
                           .classes = classes[0] ? keep : NULL, .labels = labels.n > 0 ? labels.value : NULL,
                           .c = channels,
                           .h = h, .w = w, .masks = masks[0] ? masks : NULL, .progress = report,
                           .progress_ctx = &state};
    abp_data_info written;
    if (abp_data_prepare(d->comm, out, &cfg, &written, err)) return EXIT_FAILED;
    if (d->rank == 0) {
        struct stat st;
        double mb = stat(out, &st) == 0 ? (double)st.st_size / 1e6 : 0.0;
        const char *with = written.has_masks && written.has_labels ? " with their masks and labels"
                         : written.has_masks                        ? " with their masks"
                         : written.has_labels                       ? " with their labels"
                                                                    : "";
        printf("wrote %s: %lld images %dx%dx%d%s, %.1f MB, %.1f s\n", out, (long long)written.n, written.h, written.w,
               written.c, with, mb, MPI_Wtime() - state.start);
    }
    return EXIT_OK;
}
