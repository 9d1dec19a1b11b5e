/* Checkpoints: one HDF5 file, written and read by all ranks together through MPI-IO.
 *
 * The layout (DESIGN.md section 5):
 *
 *   /             attrs format = "abp-checkpoint", format_version = 1, iteration, epoch,
 *                 seed, world_size, abp_version
 *   /config       scalar string: the model spec and settings
 *   /model/...    float32 arrays, identical on every rank
 *   /optimizer/.. float32 moment buffers; attrs kind, step
 *   /latents      float32 [n, latent dims...]; row i belongs to example i
 *   /examples     fixed-length strings [n]: where each example came from
 *
 * Every dataset carries an attribute crc32 (uint32): zlib's CRC-32 of its data as stored,
 * so that abp_ckpt_verify can tell a damaged file from a good one, and reading an array
 * checks it. Why not HDF5's Fletcher32 filter: filters need chunked datasets written
 * collectively by every rank, while the replicated arrays here are written by rank 0
 * alone (see below); and a failed filter check surfaces as an anonymous read error.
 *
 * Who writes what. Arrays that every rank holds (the model, the optimizer state, /config)
 * are written once, by rank 0 alone, with an independent write: the other ranks would
 * only send copies of the same bytes, and a collective call per array would make every
 * rank wait on every array. The sharded matrices (/latents, /examples) are written with
 * one collective write each, every rank placing its own rows by hyperslab, which lets
 * MPI-IO merge the pieces into a few large writes.
 *
 * Keeping the ranks in step. Parallel HDF5 needs every rank to make the same metadata
 * calls (create or open a group, dataset or attribute) in the same order. Those calls
 * see the same metadata on every rank, so they succeed or fail together and all ranks
 * leave by the same path. What can differ between ranks (arguments, memory, the rank-0
 * writes) is checked before the first collective call or noted and reported at the end,
 * never by leaving the sequence halfway. Each public function ends in agree()
 * (abp_h5util_agree), so all ranks return the same result with the same message.
 *
 * MPI calls are not checked: MPI's default error handler aborts the job on failure. */
#include "abp/io.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>
#include <zlib.h>

#include "h5util.h"

#define CKPT_FORMAT "abp-checkpoint"
#define CKPT_FORMAT_VERSION 1
#define CKPT_MAX_DIMS 4 /* of one array, and of one latent row */
#define CKPT_CRC_ATTR "crc32"

struct abp_ckpt {
    MPI_Comm comm;        /* our own duplicate of the caller's communicator */
    char *path;           /* for messages */
    hid_t file;
    hid_t collective;     /* transfer property list: collective MPI-IO */
    char *config;         /* the meta->config handed out by abp_ckpt_open */
    int64_t n_total;      /* rows of /latents and of /examples */
    int latent_ndim;
    int64_t latent_dims[CKPT_MAX_DIMS];
};

/* ---------------------------------------------------------------- small helpers */

static int comm_rank(MPI_Comm comm) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    return rank;
}

static int comm_size(MPI_Comm comm) {
    int size;
    MPI_Comm_size(comm, &size);
    return size;
}

/* "128x64x5x5", the way shapes appear in messages. */
static const char *format_shape(char *buf, size_t cap, int ndim, const int64_t *dims) {
    size_t used = 0;
    buf[0] = '\0';
    if (ndim == 0) snprintf(buf, cap, "scalar");
    for (int i = 0; i < ndim && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, i ? "x%lld" : "%lld", (long long)dims[i]);
    return buf;
}

/* NaN and infinite values among n floats. A checkpoint never holds one: a diverged run
 * stops before writing (src/train/finite.c), the writer refuses them, and the reader
 * refuses a file that has them (a damaged or foreign one), naming the array. */
static int64_t count_nonfinite(const float *x, int64_t n) {
    int64_t bad = 0;
    for (int64_t k = 0; k < n; k++) bad += !isfinite(x[k]);
    return bad;
}

static int64_t numel(int ndim, const int64_t *dims) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= dims[i];
    return n;
}

static void to_hsize(int ndim, const int64_t *dims, hsize_t *out) {
    for (int i = 0; i < ndim; i++) out[i] = (hsize_t)dims[i];
}

/* ---------------------------------------------------------------- checksums */

/* zlib's CRC-32 of n bytes (zlib takes at most UINT_MAX bytes a call). */
static uint32_t crc_of(const void *data, size_t n) {
    const unsigned char *p = data;
    uLong crc = crc32(0L, Z_NULL, 0);
    while (n > 0) {
        uInt part = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = crc32(crc, p, part);
        p += part, n -= part;
    }
    return (uint32_t)crc;
}

static int compare_pieces(const void *a, const void *b) {
    const uint64_t *x = a, *y = b;
    return (x[0] > y[0]) - (x[0] < y[0]);
}

/* The CRC of a dataset whose rows the ranks hold in pieces: each rank's CRC of its own
 * bytes, gathered and chained in row order with crc32_combine, the same on every rank.
 * A rank's piece starts at row lo and is `bytes` long. */
static uint32_t crc_of_rows(MPI_Comm comm, int64_t lo, const void *data, size_t bytes, int *failed) {
    int size = comm_size(comm);
    uint64_t mine[3] = {(uint64_t)lo, (uint64_t)bytes, bytes ? crc_of(data, bytes) : 0};
    uint64_t *all = malloc(sizeof mine * (size_t)size);
    int ok = all != NULL, all_ok;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, comm);
    if (!all_ok) {
        free(all);
        *failed = 1;
        return 0;
    }
    MPI_Allgather(mine, 3, MPI_UINT64_T, all, 3, MPI_UINT64_T, comm);
    qsort(all, (size_t)size, sizeof mine, compare_pieces);
    uLong crc = crc32(0L, Z_NULL, 0);
    for (int r = 0; r < size; r++)
        if (all[3 * r + 1] > 0) crc = crc32_combine(crc, (uLong)all[3 * r + 2], (z_off_t)all[3 * r + 1]);
    free(all);
    return (uint32_t)crc;
}

/* ---------------------------------------------------------------- writing: checks */

/* The arguments of abp_ckpt_write, kept together. */
typedef struct ckpt_contents {
    const abp_ckpt_meta *meta;
    const abp_ckpt_array *arrays;
    int narrays;
    const float *latents;
    int64_t n_total, row_lo, row_hi;
    int latent_ndim;
    const int64_t *latent_dims;
    char *const *names;
} ckpt_contents;

static int check_array(const char *path, const abp_ckpt_array *a, abp_err *err) {
    if (strnlen(a->path, sizeof a->path) == sizeof a->path)
        return abp_fail(err, "%s: an array path is longer than %zu bytes", path, sizeof a->path - 1);
    /* Arrays belong to a network's group (model/, optimizer/, encoder/, ...), never at the
     * top level, where /latents, /examples, /config live, nor under /chains (sharded). */
    if (!strchr(a->path, '/') || a->path[0] == '/' || strncmp(a->path, "chains/", 7) == 0)
        return abp_fail(err, "%s: array path \"%s\" is not under a network's group", path, a->path);
    if (a->ndim < 1 || a->ndim > CKPT_MAX_DIMS)
        return abp_fail(err, "%s: array %s has %d dimensions (1 to %d supported)", path, a->path, a->ndim,
                        CKPT_MAX_DIMS);
    for (int i = 0; i < a->ndim; i++) {
        if (a->dims[i] < 1) {
            char shape[96];
            return abp_fail(err, "%s: array %s has shape %s", path, a->path,
                            format_shape(shape, sizeof shape, a->ndim, a->dims));
        }
    }
    if (!a->data) return abp_fail(err, "%s: array %s has no data", path, a->path);
    int64_t bad = count_nonfinite(a->data, numel(a->ndim, a->dims));
    if (bad) return abp_fail(err, "%s: not written: array %s holds %lld NaN or infinite values", path, a->path,
                             (long long)bad);
    return 0;
}

/* Checks what this rank was given; nothing here needs the other ranks. */
static int check_contents(const char *path, const ckpt_contents *c, abp_err *err) {
    if (!path || !*path) return abp_fail(err, "checkpoint: no file name given");
    if (!c->meta) return abp_fail(err, "%s: no checkpoint metadata given", path);
    if (strnlen(c->meta->optimizer, sizeof c->meta->optimizer) == sizeof c->meta->optimizer)
        return abp_fail(err, "%s: optimizer kind is not a string of at most %zu bytes", path,
                        sizeof c->meta->optimizer - 1);
    if (c->narrays < 0 || (c->narrays > 0 && !c->arrays))
        return abp_fail(err, "%s: no arrays given", path);
    for (int i = 0; i < c->narrays; i++)
        if (check_array(path, &c->arrays[i], err) < 0) return -1;
    if (c->latent_ndim < 1 || c->latent_ndim > CKPT_MAX_DIMS || !c->latent_dims)
        return abp_fail(err, "%s: latents have %d dimensions per example (1 to %d supported)", path,
                        c->latent_ndim, CKPT_MAX_DIMS);
    for (int i = 0; i < c->latent_ndim; i++)
        if (c->latent_dims[i] < 1) return abp_fail(err, "%s: latent dimension %d is %lld", path, i,
                                                   (long long)c->latent_dims[i]);
    if (c->n_total < 1 || c->row_lo < 0 || c->row_lo > c->row_hi || c->row_hi > c->n_total)
        return abp_fail(err, "%s: latent rows [%lld, %lld) do not lie in [0, %lld)", path,
                        (long long)c->row_lo, (long long)c->row_hi, (long long)c->n_total);
    if (c->row_hi > c->row_lo && (!c->latents || !c->names))
        return abp_fail(err, "%s: no latents or example names given for rows [%lld, %lld)", path,
                        (long long)c->row_lo, (long long)c->row_hi);
    for (int64_t i = 0; i < c->row_hi - c->row_lo; i++)
        if (!c->names[i]) return abp_fail(err, "%s: example name of row %lld is missing", path,
                                          (long long)(c->row_lo + i));
    int64_t bad = count_nonfinite(c->latents, (c->row_hi - c->row_lo) * numel(c->latent_ndim, c->latent_dims));
    if (bad) return abp_fail(err, "%s: not written: /latents rows [%lld, %lld) hold %lld NaN or infinite values",
                             path, (long long)c->row_lo, (long long)c->row_hi, (long long)bad);
    for (int i = 0; i < c->meta->nrows; i++) {
        const abp_ckpt_rows *r = &c->meta->rows[i];
        if (strnlen(r->path, sizeof r->path) == sizeof r->path || !strchr(r->path, '/'))
            return abp_fail(err, "%s: sharded rows need a path like chains/NAME", path);
        if (r->row_ndim < 1 || r->row_ndim > CKPT_MAX_DIMS || r->n_total < 1 || r->lo < 0 || r->lo > r->hi ||
            r->hi > r->n_total || (r->hi > r->lo && !r->data))
            return abp_fail(err, "%s: %s: rows [%lld, %lld) of %lld, %d dimensions per row", path, r->path,
                            (long long)r->lo, (long long)r->hi, (long long)r->n_total, r->row_ndim);
        for (int k = 0; k < r->row_ndim; k++)
            if (r->row_dims[k] < 1) return abp_fail(err, "%s: %s: row dimension %d is %lld", path, r->path, k,
                                                    (long long)r->row_dims[k]);
        int64_t nonfinite = count_nonfinite(r->data, (r->hi - r->lo) * numel(r->row_ndim, r->row_dims));
        if (nonfinite) return abp_fail(err, "%s: not written: %s holds %lld NaN or infinite values", path, r->path,
                                       (long long)nonfinite);
    }
    for (int i = 0; i < c->meta->nsteps; i++)
        if (strnlen(c->meta->steps[i].group, sizeof c->meta->steps[i].group) == sizeof c->meta->steps[i].group)
            return abp_fail(err, "%s: an optimizer group name is too long", path);
    return 0;
}

static int compare_ranges(const void *a, const void *b) {
    const int64_t *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

/* The ranks' rows must cover [0, n_total) exactly once, or /latents would hold rows that
 * nobody wrote. Every rank sees the same gathered ranges and so reaches the same verdict. */
static int check_rows_cover(MPI_Comm comm, const char *path, const ckpt_contents *c, abp_err *err) {
    int size = comm_size(comm);
    int64_t mine[2] = {c->row_lo, c->row_hi};
    int64_t *ranges = malloc(2 * sizeof(int64_t) * (size_t)size);
    int rc = ranges ? 0 : abp_fail(err, "%s: out of memory", path);
    if (abp_h5util_agree(comm, rc, err) < 0) {
        free(ranges);
        return -1;
    }
    MPI_Allgather(mine, 2, MPI_INT64_T, ranges, 2, MPI_INT64_T, comm);
    qsort(ranges, (size_t)size, 2 * sizeof(int64_t), compare_ranges);
    int64_t next = 0;
    for (int r = 0; r < size && rc == 0; r++) {
        if (ranges[2 * r] != next) rc = -1;
        next = ranges[2 * r + 1];
    }
    if (rc == 0 && next != c->n_total) rc = -1;
    free(ranges);
    if (rc < 0)
        return abp_fail(err, "%s: the ranks' latent rows do not cover [0, %lld) exactly once", path,
                        (long long)c->n_total);
    return 0;
}

/* /examples holds fixed-length strings as wide as the longest name on any rank: unlike
 * variable-length strings, those can be written by hyperslab in one collective write
 * (HDF5 1.10 cannot write variable-length data in parallel). Packs this rank's names into
 * rows of *width bytes, zero-padded. */
static char *pack_names(MPI_Comm comm, const char *path, const ckpt_contents *c, size_t *width,
                        abp_err *err) {
    int64_t rows = c->row_hi - c->row_lo;
    unsigned long long longest = 0, mine = 0;
    for (int64_t i = 0; i < rows; i++) {
        size_t len = strlen(c->names[i]);
        if (len > mine) mine = len;
    }
    MPI_Allreduce(&mine, &longest, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, comm);
    *width = (size_t)longest + 1; /* room for the terminating zero of the longest */
    char *packed = calloc(rows > 0 ? (size_t)rows : 1, *width);
    if (!packed) {
        abp_fail(err, "%s: out of memory packing %lld example names", path, (long long)rows);
        return NULL;
    }
    for (int64_t i = 0; i < rows; i++) memcpy(packed + (size_t)i * *width, c->names[i], strlen(c->names[i]));
    return packed;
}

/* ---------------------------------------------------------------- writing: the file */

typedef struct writer {
    const char *path; /* the final file name, for messages */
    MPI_Comm file_comm; /* the ranks writing it */
    hid_t file;
    int rank, nranks;
    hid_t make_parents; /* link creation: create missing groups on the way */
    hid_t no_fill;      /* dataset creation: every element gets written, so skip the fill */
    hid_t collective;   /* transfer: collective MPI-IO */
    int data_failed;    /* a raw write failed on this rank: noted here, reported at the end */
    abp_err data_err;
} writer;

static int writer_begin(writer *w, abp_err *err) {
    w->make_parents = H5Pcreate(H5P_LINK_CREATE);
    w->no_fill = H5Pcreate(H5P_DATASET_CREATE);
    w->collective = abp_h5util_collective_transfer();
    if (w->make_parents < 0 || w->no_fill < 0 || w->collective < 0 ||
        H5Pset_create_intermediate_group(w->make_parents, 1) < 0 ||
        H5Pset_fill_time(w->no_fill, H5D_FILL_TIME_NEVER) < 0)
        return abp_fail(err, "%s: cannot set up HDF5 property lists", w->path);
    return 0;
}

static void writer_end(writer *w) {
    if (w->make_parents >= 0) H5Pclose(w->make_parents);
    if (w->no_fill >= 0) H5Pclose(w->no_fill);
    if (w->collective >= 0) H5Pclose(w->collective);
}

static void note_data_failure(writer *w, const char *what) {
    if (w->data_failed) return;
    w->data_failed = 1;
    abp_fail(&w->data_err, "%s: cannot write %s", w->path, what);
}

static hid_t create_dataset(writer *w, const char *name, hid_t type, int ndim, const hsize_t *dims,
                            abp_err *err) {
    if (abp_h5util_link_exists(w->file, name)) {
        abp_fail(err, "%s: %s is given twice", w->path, name);
        return -1;
    }
    hid_t space = ndim == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(ndim, dims, NULL);
    hid_t dset = space < 0 ? -1 : H5Dcreate2(w->file, name, type, space, w->make_parents, w->no_fill, H5P_DEFAULT);
    if (space >= 0) H5Sclose(space);
    if (dset < 0) abp_fail(err, "%s: cannot create %s", w->path, name);
    return dset;
}

/* Every rank writes the same checksum attribute: attributes are metadata, made by all. */
static int write_crc(writer *w, hid_t dset, uint32_t crc, abp_err *err) {
    return abp_h5util_write_attr(w->path, dset, CKPT_CRC_ATTR, H5T_STD_U32LE, H5T_NATIVE_UINT32, &crc, err);
}

/* Data that every rank holds: rank 0 writes it alone (see the top of the file); every rank
 * computes the same checksum of it. */
static int write_replicated(writer *w, hid_t dset, hid_t mem_type, const void *data, size_t bytes,
                            const char *what, abp_err *err) {
    if (w->rank == 0 && H5Dwrite(dset, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        note_data_failure(w, what);
    return write_crc(w, dset, crc_of(data, bytes), err);
}

static int write_header(writer *w, const abp_ckpt_meta *meta, abp_err *err) {
    int version = CKPT_FORMAT_VERSION, world_size = w->nranks;
    const char *path = w->path;
    hid_t root = w->file;
    if (abp_h5util_write_string_attr(path, root, "format", CKPT_FORMAT, err) < 0 ||
        abp_h5util_write_attr(path, root, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT, &version, err) < 0 ||
        abp_h5util_write_attr(path, root, "iteration", H5T_STD_I64LE, H5T_NATIVE_INT64, &meta->iteration, err) < 0 ||
        abp_h5util_write_attr(path, root, "epoch", H5T_STD_I64LE, H5T_NATIVE_INT64, &meta->epoch, err) < 0 ||
        abp_h5util_write_attr(path, root, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &meta->seed, err) < 0 ||
        abp_h5util_write_attr(path, root, "world_size", H5T_STD_I32LE, H5T_NATIVE_INT, &world_size, err) < 0 ||
        abp_h5util_write_string_attr(path, root, "abp_version", ABP_VERSION, err) < 0)
        return -1;
    return 0;
}

static int write_config(writer *w, const char *config, abp_err *err) {
    if (!config) config = "";
    hid_t type = abp_h5util_fixed_string_type(strlen(config) + 1);
    hid_t dset = type < 0 ? -1 : create_dataset(w, "config", type, 0, NULL, err);
    int rc = dset < 0 ? -1 : write_replicated(w, dset, type, config, strlen(config) + 1, "/config", err);
    if (dset >= 0) H5Dclose(dset);
    if (type >= 0) H5Tclose(type);
    return rc;
}

/* /model and /optimizer exist even when empty, and /optimizer carries the kind and step. */
static int write_groups(writer *w, const abp_ckpt_meta *meta, abp_err *err) {
    hid_t model = H5Gcreate2(w->file, "model", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t optimizer = model < 0 ? -1 : H5Gcreate2(w->file, "optimizer", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    int rc = optimizer < 0 ? abp_fail(err, "%s: cannot create groups /model and /optimizer", w->path) : 0;
    if (rc == 0 && (abp_h5util_write_string_attr(w->path, optimizer, "kind", meta->optimizer, err) < 0 ||
                    abp_h5util_write_attr(w->path, optimizer, "step", H5T_STD_I64LE, H5T_NATIVE_INT64,
                                          &meta->optimizer_step, err) < 0))
        rc = -1;
    if (optimizer >= 0) H5Gclose(optimizer);
    if (model >= 0) H5Gclose(model);
    return rc;
}

static int write_array(writer *w, const abp_ckpt_array *a, abp_err *err) {
    hsize_t dims[CKPT_MAX_DIMS];
    to_hsize(a->ndim, a->dims, dims);
    hid_t dset = create_dataset(w, a->path, H5T_IEEE_F32LE, a->ndim, dims, err);
    if (dset < 0) return -1;
    size_t bytes = sizeof(float) * (size_t)numel(a->ndim, a->dims);
    int rc = write_replicated(w, dset, H5T_NATIVE_FLOAT, a->data, bytes, a->path, err);
    H5Dclose(dset);
    return rc;
}

/* Writes this rank's rows of a sharded dataset in one collective call. */
static void write_rows(writer *w, hid_t dset, hid_t mem_type, int64_t lo, int64_t rows, const void *buf,
                       const char *what) {
    if (abp_h5util_write_rows(dset, mem_type, lo, rows, w->collective, buf) < 0) note_data_failure(w, what);
}

static int write_latents(writer *w, const ckpt_contents *c, abp_err *err) {
    hsize_t dims[1 + CKPT_MAX_DIMS];
    dims[0] = (hsize_t)c->n_total;
    to_hsize(c->latent_ndim, c->latent_dims, dims + 1);
    hid_t dset = create_dataset(w, "latents", H5T_IEEE_F32LE, 1 + c->latent_ndim, dims, err);
    if (dset < 0) return -1;
    write_rows(w, dset, H5T_NATIVE_FLOAT, c->row_lo, c->row_hi - c->row_lo, c->latents, "/latents");
    int failed = 0;
    size_t bytes = sizeof(float) * (size_t)((c->row_hi - c->row_lo) * numel(c->latent_ndim, c->latent_dims));
    uint32_t crc = crc_of_rows(w->file_comm, c->row_lo, c->latents, bytes, &failed);
    int rc = failed ? abp_fail(err, "%s: out of memory for the checksum of /latents", w->path) : write_crc(w, dset, crc, err);
    H5Dclose(dset);
    return rc;
}

/* The extra sharded matrices (/chains/...): one collective write each, like /latents. */
static int write_more_rows(writer *w, const abp_ckpt_meta *meta, abp_err *err) {
    for (int i = 0; i < meta->nrows; i++) {
        const abp_ckpt_rows *r = &meta->rows[i];
        hsize_t dims[1 + CKPT_MAX_DIMS];
        dims[0] = (hsize_t)r->n_total;
        to_hsize(r->row_ndim, r->row_dims, dims + 1);
        hid_t dset = create_dataset(w, r->path, H5T_IEEE_F32LE, 1 + r->row_ndim, dims, err);
        if (dset < 0) return -1;
        write_rows(w, dset, H5T_NATIVE_FLOAT, r->lo, r->hi - r->lo, r->data, r->path);
        int failed = 0;
        size_t bytes = sizeof(float) * (size_t)((r->hi - r->lo) * numel(r->row_ndim, r->row_dims));
        uint32_t crc = crc_of_rows(w->file_comm, r->lo, r->data, bytes, &failed);
        int rc = failed ? abp_fail(err, "%s: out of memory for the checksum of %s", w->path, r->path)
                        : write_crc(w, dset, crc, err);
        H5Dclose(dset);
        if (rc < 0) return -1;
    }
    return 0;
}

/* More optimizers' steps, as the "step" attribute of their groups (made by their arrays). */
static int write_steps(writer *w, const abp_ckpt_meta *meta, abp_err *err) {
    for (int i = 0; i < meta->nsteps; i++) {
        const abp_ckpt_step *s = &meta->steps[i];
        hid_t group = abp_h5util_link_exists(w->file, s->group) ? H5Gopen2(w->file, s->group, H5P_DEFAULT)
                                                                : H5Gcreate2(w->file, s->group, w->make_parents, H5P_DEFAULT, H5P_DEFAULT);
        if (group < 0) return abp_fail(err, "%s: cannot create group /%s", w->path, s->group);
        int rc = abp_h5util_write_attr(w->path, group, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &s->step, err);
        H5Gclose(group);
        if (rc < 0) return -1;
    }
    return 0;
}

static int write_examples(writer *w, const ckpt_contents *c, const char *packed, size_t width, abp_err *err) {
    hsize_t n = (hsize_t)c->n_total;
    hid_t type = abp_h5util_fixed_string_type(width);
    hid_t dset = type < 0 ? -1 : create_dataset(w, "examples", type, 1, &n, err);
    int rc = dset < 0 ? -1 : 0;
    if (dset >= 0) {
        write_rows(w, dset, type, c->row_lo, c->row_hi - c->row_lo, packed, "/examples");
        int failed = 0;
        uint32_t crc = crc_of_rows(w->file_comm, c->row_lo, packed, width * (size_t)(c->row_hi - c->row_lo), &failed);
        rc = failed ? abp_fail(err, "%s: out of memory for the checksum of /examples", w->path) : write_crc(w, dset, crc, err);
        H5Dclose(dset);
    }
    if (type >= 0) H5Tclose(type);
    return rc;
}

static int write_contents(writer *w, const ckpt_contents *c, const char *packed, size_t width, abp_err *err) {
    if (write_header(w, c->meta, err) < 0 || write_config(w, c->meta->config, err) < 0 ||
        write_groups(w, c->meta, err) < 0)
        return -1;
    for (int i = 0; i < c->narrays; i++)
        if (write_array(w, &c->arrays[i], err) < 0) return -1;
    if (write_steps(w, c->meta, err) < 0 || write_latents(w, c, err) < 0) return -1;
    if (write_examples(w, c, packed, width, err) < 0) return -1;
    return write_more_rows(w, c->meta, err);
}

/* Creates tmp through MPI-IO, fills it and closes it. */
static int write_file(MPI_Comm comm, const char *path, const char *tmp, const ckpt_contents *c,
                      const char *packed, size_t width, abp_err *err) {
    writer w = {.path = path, .file_comm = comm, .file = -1, .rank = comm_rank(comm), .nranks = comm_size(comm),
                .make_parents = -1, .no_fill = -1, .collective = -1};
    w.file = abp_h5util_create_file(comm, path, tmp, err);
    if (w.file < 0) return -1;

    int rc = writer_begin(&w, err);
    if (rc == 0) rc = write_contents(&w, c, packed, width, err);
    /* Flushing syncs the file (MPI_File_sync), so that once it is renamed over the last
     * checkpoint its bytes are on disk, not just in some node's cache. */
    if (rc == 0 && H5Fflush(w.file, H5F_SCOPE_GLOBAL) < 0) rc = abp_fail(err, "%s: cannot flush %s", path, tmp);
    writer_end(&w);
    if (H5Fclose(w.file) < 0 && rc == 0) rc = abp_fail(err, "%s: cannot close %s", path, tmp);
    if (rc == 0 && w.data_failed) {
        if (err) *err = w.data_err;
        rc = -1;
    }
    return rc;
}

/* Durable, not just atomic: the file's bytes reach the disk before the rename makes it the
 * checkpoint (H5Fflush syncs through MPI-IO already, but whether MPI_File_sync is an fsync
 * is the MPI library's business, so rank 0 makes sure), and the folder is synced after it,
 * so that a power loss right after a checkpoint cannot take the rename back. */
/* About how large the file will be: its data, plus room for HDF5's metadata (object
 * headers, attributes, the superblock) with a margin. */
static int64_t file_bytes(const ckpt_contents *c, size_t width) {
    int64_t data = 0;
    for (int i = 0; i < c->narrays; i++) data += 4 * numel(c->arrays[i].ndim, c->arrays[i].dims);
    data += 4 * c->n_total * numel(c->latent_ndim, c->latent_dims) + c->n_total * (int64_t)width;
    data += c->meta->config ? (int64_t)strlen(c->meta->config) : 0;
    for (int i = 0; i < c->meta->nrows; i++)
        data += 4 * c->meta->rows[i].n_total * numel(c->meta->rows[i].row_ndim, c->meta->rows[i].row_dims);
    return data + data / 10 + (int64_t)(c->narrays + c->meta->nrows + 8) * 2048 + (1 << 14);
}

static int publish(const char *path, const char *tmp, abp_err *err) {
    if (abp_fsync_path(tmp, err) < 0) return -1;
    if (rename(tmp, path) != 0) return abp_fail(err, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
    return abp_fsync_parent(path, err);
}

int abp_ckpt_write(MPI_Comm comm, const char *path, const abp_ckpt_meta *meta, const abp_ckpt_array *arrays,
                   int narrays, const float *latents, int64_t n_total, int64_t row_lo, int64_t row_hi,
                   int latent_ndim, const int64_t *latent_dims, char *const *names, abp_err *err) {
    abp_h5util_quiet();
    ckpt_contents c = {meta, arrays, narrays, latents, n_total, row_lo, row_hi, latent_ndim, latent_dims, names};
    if (abp_h5util_agree(comm, check_contents(path, &c, err), err) < 0) return -1;
    if (check_rows_cover(comm, path, &c, err) < 0) return -1;

    size_t width = 0;
    char *packed = pack_names(comm, path, &c, &width, err);
    char *tmp = packed ? abp_h5util_tmp_name(path, err) : NULL;
    int rank = comm_rank(comm);
    int rc = abp_h5util_agree(comm, tmp ? 0 : -1, err);
    /* A disk without room for the file fails here, before PATH.tmp exists: HDF5 1.10 cannot
     * close a file whose writes failed with ENOSPC, and crashes at exit on it. */
    if (rc == 0) rc = abp_h5util_agree(comm, rank == 0 ? abp_reserve_space(path, file_bytes(&c, width), err) : 0, err);
    if (rc == 0) rc = abp_h5util_agree(comm, rank == 0 ? abp_h5util_create_empty(path, tmp, err) : 0, err);
    if (rc == 0) {
        /* This agree() is the barrier: every rank has closed the file before rank 0 renames
         * it. The last one keeps all ranks until rank 0 has renamed or removed PATH.tmp. */
        rc = abp_h5util_agree(comm, write_file(comm, path, tmp, &c, packed, width, err), err);
        if (rank == 0 && rc == 0) rc = publish(path, tmp, err);
        if (rank == 0 && rc < 0) unlink(tmp);
        rc = abp_h5util_agree(comm, rc, err);
    }
    free(tmp);
    free(packed);
    return rc;
}

/* ---------------------------------------------------------------- reading: helpers */

/* Rank 0 looks at the file before the ranks open it together, so that a missing file or
 * one that is not HDF5 gets a message of its own rather than HDF5's generic failure. */
static int probe_file(const char *path, abp_err *err) {
    struct stat st;
    if (stat(path, &st) != 0) return abp_fail(err, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return abp_fail(err, "%s: is a directory, not a checkpoint file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return abp_fail(err, "%s: %s", path, strerror(errno));
    fclose(f);
    if (H5Fis_hdf5(path) <= 0) return abp_fail(err, "%s: not an HDF5 file", path);
    return 0;
}

/* ---------------------------------------------------------------- reading: opening */

static int check_format(abp_ckpt *ck, abp_err *err) {
    if (H5Aexists(ck->file, "format") <= 0)
        return abp_fail(err, "%s: not an abp checkpoint (no format attribute)", ck->path);
    char *format = NULL;
    if (abp_h5util_read_string_attr(ck->path, ck->file, "/", "format", &format, err) < 0) return -1;
    int same = strcmp(format, CKPT_FORMAT) == 0;
    if (!same) abp_fail(err, "%s: not an abp checkpoint (format is \"%.100s\")", ck->path, format);
    free(format);
    if (!same) return -1;

    int version = 0;
    if (abp_h5util_read_int_attr(ck->path, ck->file, "/", "format_version", H5T_NATIVE_INT, &version, err) < 0)
        return -1;
    if (version != CKPT_FORMAT_VERSION)
        return abp_fail(err, "%s: checkpoint format version %d, but this abp reads version %d", ck->path,
                        version, CKPT_FORMAT_VERSION);
    return 0;
}

static int read_optimizer(abp_ckpt *ck, abp_ckpt_meta *meta, abp_err *err) {
    if (!abp_h5util_link_exists(ck->file, "optimizer"))
        return abp_fail(err, "%s: missing group /optimizer", ck->path);
    hid_t group = H5Gopen2(ck->file, "optimizer", H5P_DEFAULT);
    if (group < 0) return abp_fail(err, "%s: cannot open group /optimizer", ck->path);
    char *kind = NULL;
    int rc = abp_h5util_read_string_attr(ck->path, group, "/optimizer/", "kind", &kind, err);
    if (rc == 0 && strlen(kind) >= sizeof meta->optimizer)
        rc = abp_fail(err, "%s: optimizer kind \"%.64s\" is too long", ck->path, kind);
    if (rc == 0) snprintf(meta->optimizer, sizeof meta->optimizer, "%s", kind);
    if (rc == 0)
        rc = abp_h5util_read_int_attr(ck->path, group, "/optimizer/", "step", H5T_NATIVE_INT64,
                                      &meta->optimizer_step, err);
    free(kind);
    H5Gclose(group);
    return rc;
}

static int read_config(abp_ckpt *ck, abp_err *err) {
    if (!abp_h5util_link_exists(ck->file, "config")) return abp_fail(err, "%s: missing /config", ck->path);
    hid_t dset = H5Dopen2(ck->file, "config", H5P_DEFAULT);
    ck->config = dset < 0 ? NULL : abp_h5util_read_scalar_string(dset);
    if (dset >= 0) H5Dclose(dset);
    return ck->config ? 0 : abp_fail(err, "%s: /config is not a readable string", ck->path);
}

/* /latents and /examples must agree on the number of examples. */
static int read_latent_shape(abp_ckpt *ck, abp_err *err) {
    int ndim, n_names_ndim;
    int64_t dims[H5S_MAX_RANK], n_names[H5S_MAX_RANK];
    hid_t latents = abp_h5util_open_dataset(ck->path, ck->file, "latents", &ndim, dims, err);
    if (latents < 0) return -1;
    int is_float = abp_h5util_dataset_class(latents) == H5T_FLOAT;
    H5Dclose(latents);
    if (!is_float) return abp_fail(err, "%s: /latents is not a float array", ck->path);
    if (ndim < 2 || ndim > 1 + CKPT_MAX_DIMS)
        return abp_fail(err, "%s: /latents has %d dimensions (2 to %d supported)", ck->path, ndim, 1 + CKPT_MAX_DIMS);
    ck->n_total = dims[0];
    ck->latent_ndim = ndim - 1;
    memcpy(ck->latent_dims, dims + 1, sizeof(int64_t) * (size_t)(ndim - 1));

    hid_t examples = abp_h5util_open_dataset(ck->path, ck->file, "examples", &n_names_ndim, n_names, err);
    if (examples < 0) return -1;
    int is_string = abp_h5util_dataset_class(examples) == H5T_STRING;
    H5Dclose(examples);
    if (!is_string || n_names_ndim != 1) return abp_fail(err, "%s: /examples is not a list of strings", ck->path);
    if (n_names[0] != ck->n_total)
        return abp_fail(err, "%s: /examples has %lld names but /latents has %lld rows", ck->path,
                        (long long)n_names[0], (long long)ck->n_total);
    return 0;
}

static int read_header(abp_ckpt *ck, abp_ckpt_meta *meta, abp_err *err) {
    memset(meta, 0, sizeof *meta);
    const char *path = ck->path;
    hid_t root = ck->file;
    if (check_format(ck, err) < 0 ||
        abp_h5util_read_int_attr(path, root, "/", "iteration", H5T_NATIVE_INT64, &meta->iteration, err) < 0 ||
        abp_h5util_read_int_attr(path, root, "/", "epoch", H5T_NATIVE_INT64, &meta->epoch, err) < 0 ||
        abp_h5util_read_int_attr(path, root, "/", "seed", H5T_NATIVE_UINT64, &meta->seed, err) < 0 ||
        abp_h5util_read_int_attr(path, root, "/", "world_size", H5T_NATIVE_INT, &meta->world_size, err) < 0 ||
        read_optimizer(ck, meta, err) < 0 || read_config(ck, err) < 0 || read_latent_shape(ck, err) < 0)
        return -1;
    meta->config = ck->config;
    return 0;
}

static abp_ckpt *new_handle(const char *path, abp_err *err) {
    abp_ckpt *ck = calloc(1, sizeof *ck);
    char *copy = strdup(path);
    hid_t dxpl = abp_h5util_collective_transfer();
    if (!ck || !copy || dxpl < 0) {
        free(ck);
        free(copy);
        if (dxpl >= 0) H5Pclose(dxpl);
        abp_fail(err, "%s: out of memory", path);
        return NULL;
    }
    ck->comm = MPI_COMM_NULL;
    ck->path = copy;
    ck->collective = dxpl;
    ck->file = -1;
    return ck;
}

int abp_ckpt_open(MPI_Comm comm, const char *path, abp_ckpt **out, abp_ckpt_meta *meta, abp_err *err) {
    abp_h5util_quiet();
    *out = NULL;
    if (abp_h5util_agree(comm, comm_rank(comm) == 0 ? probe_file(path, err) : 0, err) < 0) return -1;
    abp_ckpt *ck = new_handle(path, err);
    if (abp_h5util_agree(comm, ck ? 0 : -1, err) < 0) {
        abp_ckpt_close(ck);
        return -1;
    }
    MPI_Comm_dup(comm, &ck->comm);
    hid_t fapl = abp_h5util_mpio_access(ck->comm);
    ck->file = fapl < 0 ? -1 : H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    int rc = ck->file < 0 ? abp_fail(err, "%s: truncated or damaged HDF5 file", path) : 0;
    if (abp_h5util_agree(ck->comm, rc, err) == 0) rc = abp_h5util_agree(ck->comm, read_header(ck, meta, err), err);
    if (rc < 0) {
        abp_ckpt_close(ck);
        memset(meta, 0, sizeof *meta);
        return -1;
    }
    *out = ck;
    return 0;
}

void abp_ckpt_close(abp_ckpt *ck) {
    if (!ck) return;
    if (ck->file >= 0) H5Fclose(ck->file);
    if (ck->collective >= 0) H5Pclose(ck->collective);
    if (ck->comm != MPI_COMM_NULL) MPI_Comm_free(&ck->comm);
    free(ck->config);
    free(ck->path);
    free(ck);
}

/* ---------------------------------------------------------------- reading: contents */

/* Opens array `name` after checking that it is a float array of exactly the given shape. */
static hid_t open_array(abp_ckpt *ck, const char *name, int ndim, const int64_t *dims, abp_err *err) {
    char want[96], have[96];
    format_shape(want, sizeof want, ndim, dims);
    if (!abp_h5util_link_exists(ck->file, name)) {
        abp_fail(err, "%s: no array %s (expected shape %s)", ck->path, name, want);
        return -1;
    }
    int file_ndim;
    int64_t file_dims[H5S_MAX_RANK];
    hid_t dset = abp_h5util_open_dataset(ck->path, ck->file, name, &file_ndim, file_dims, err);
    if (dset < 0) return -1;
    int rc = 0;
    if (file_ndim != ndim || memcmp(file_dims, dims, sizeof(int64_t) * (size_t)ndim) != 0)
        rc = abp_fail(err, "%s: %s has shape %s, expected %s", ck->path, name,
                      format_shape(have, sizeof have, file_ndim, file_dims), want);
    else if (abp_h5util_dataset_class(dset) != H5T_FLOAT)
        rc = abp_fail(err, "%s: %s is not a float array", ck->path, name);
    if (rc < 0) {
        H5Dclose(dset);
        return -1;
    }
    return dset;
}

/* Compares the crc32 attribute of a dataset (if it has one: files from before abp stored
 * them have none) with the CRC of its bytes, read into data. */
static int check_crc(abp_ckpt *ck, hid_t dset, const char *name, const void *data, size_t bytes, abp_err *err) {
    htri_t has = H5Aexists(dset, CKPT_CRC_ATTR);
    if (has < 0) return abp_fail(err, "%s: cannot look for the checksum of %s", ck->path, name);
    if (has == 0) return 0;
    uint32_t stored = 0;
    if (abp_h5util_read_int_attr(ck->path, dset, name, CKPT_CRC_ATTR, H5T_NATIVE_UINT32, &stored, err) < 0) return -1;
    uint32_t computed = crc_of(data, bytes);
    if (computed != stored)
        return abp_fail(err, "%s: %s fails its checksum (crc32 stored %08x, computed %08x): the file is damaged",
                        ck->path, name, stored, computed);
    return 0;
}

int abp_ckpt_read_array(abp_ckpt *ck, const char *path, float *dst, int ndim, const int64_t *dims, abp_err *err) {
    /* Every rank must make the same HDF5 calls, so bad arguments on one rank stop all. */
    int rc = ndim < 1 || ndim > CKPT_MAX_DIMS || !dims || !dst || !path
                 ? abp_fail(err, "%s: bad arguments reading an array", ck->path)
                 : 0;
    if (abp_h5util_agree(ck->comm, rc, err) < 0) return -1;
    hid_t dset = open_array(ck, path, ndim, dims, err);
    rc = abp_h5util_agree(ck->comm, dset < 0 ? -1 : 0, err);
    /* Every rank wants the whole array: a collective read lets MPI-IO fetch it once and
     * hand it round, instead of every rank reading the same bytes. */
    if (rc == 0 && H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, ck->collective, dst) < 0)
        rc = abp_fail(err, "%s: cannot read %s", ck->path, path);
    /* Non-finite values first: a diverged run's file (from an abp without this check) gets
     * the message that says so, whatever its checksum. */
    int64_t bad = rc == 0 ? count_nonfinite(dst, numel(ndim, dims)) : 0;
    if (bad) rc = abp_fail(err, "%s: %s holds %lld NaN or infinite values (a diverged or damaged checkpoint; "
                                "use an earlier one)", ck->path, path, (long long)bad);
    if (rc == 0) rc = check_crc(ck, dset, path, dst, sizeof(float) * (size_t)numel(ndim, dims), err);
    if (dset >= 0) H5Dclose(dset);
    return abp_h5util_agree(ck->comm, rc, err);
}

int abp_ckpt_latent_shape(abp_ckpt *ck, int64_t *n_total, int *latent_ndim, int64_t *latent_dims, abp_err *err) {
    (void)err; /* the shape was read and checked by abp_ckpt_open */
    *n_total = ck->n_total;
    *latent_ndim = ck->latent_ndim;
    memcpy(latent_dims, ck->latent_dims, sizeof(int64_t) * (size_t)ck->latent_ndim);
    return 0;
}

static int check_range(abp_ckpt *ck, int64_t lo, int64_t hi, const char *what, abp_err *err) {
    if (lo < 0 || lo > hi || hi > ck->n_total)
        return abp_fail(err, "%s: rows [%lld, %lld) of %s are outside [0, %lld)", ck->path, (long long)lo,
                        (long long)hi, what, (long long)ck->n_total);
    return 0;
}

int abp_ckpt_read_latents(abp_ckpt *ck, int64_t lo, int64_t hi, float *dst, abp_err *err) {
    int rc = check_range(ck, lo, hi, "/latents", err);
    if (rc == 0 && hi > lo && !dst) rc = abp_fail(err, "%s: no buffer for /latents", ck->path);
    if (abp_h5util_agree(ck->comm, rc, err) < 0) return -1;
    hid_t dset = H5Dopen2(ck->file, "latents", H5P_DEFAULT);
    if (dset < 0 || abp_h5util_read_rows(dset, H5T_NATIVE_FLOAT, lo, hi - lo, ck->collective, dst) < 0)
        rc = abp_fail(err, "%s: cannot read rows [%lld, %lld) of /latents", ck->path, (long long)lo, (long long)hi);
    int64_t bad = rc == 0 ? count_nonfinite(dst, (hi - lo) * numel(ck->latent_ndim, ck->latent_dims)) : 0;
    if (bad) rc = abp_fail(err, "%s: /latents holds %lld NaN or infinite values in rows [%lld, %lld) (a diverged "
                                "or damaged checkpoint; use an earlier one)", ck->path, (long long)bad,
                           (long long)lo, (long long)hi);
    if (dset >= 0) H5Dclose(dset);
    return abp_h5util_agree(ck->comm, rc, err);
}

int abp_ckpt_read_rows(abp_ckpt *ck, const char *path, int64_t n_total, int row_ndim, const int64_t *row_dims,
                       int64_t lo, int64_t hi, float *dst, abp_err *err) {
    int rc = 0;
    if (row_ndim < 1 || row_ndim > CKPT_MAX_DIMS || !row_dims || !path || lo < 0 || lo > hi || hi > n_total ||
        (hi > lo && !dst))
        rc = abp_fail(err, "%s: bad arguments reading rows of %s", ck->path, path ? path : "(null)");
    if (abp_h5util_agree(ck->comm, rc, err) < 0) return -1;
    int64_t dims[1 + CKPT_MAX_DIMS];
    dims[0] = n_total;
    memcpy(dims + 1, row_dims, sizeof(int64_t) * (size_t)row_ndim);
    hid_t dset = open_array(ck, path, 1 + row_ndim, dims, err);
    rc = abp_h5util_agree(ck->comm, dset < 0 ? -1 : 0, err);
    if (rc == 0 && abp_h5util_read_rows(dset, H5T_NATIVE_FLOAT, lo, hi - lo, ck->collective, dst) < 0)
        rc = abp_fail(err, "%s: cannot read rows [%lld, %lld) of %s", ck->path, (long long)lo, (long long)hi, path);
    int64_t bad = rc == 0 ? count_nonfinite(dst, (hi - lo) * numel(row_ndim, row_dims)) : 0;
    if (bad) rc = abp_fail(err, "%s: %s holds %lld NaN or infinite values in rows [%lld, %lld) (a diverged or "
                                "damaged checkpoint; use an earlier one)", ck->path, path, (long long)bad,
                           (long long)lo, (long long)hi);
    if (dset >= 0) H5Dclose(dset);
    return abp_h5util_agree(ck->comm, rc, err);
}

int abp_ckpt_read_step(abp_ckpt *ck, const char *group, int64_t *step, abp_err *err) {
    int rc = 0;
    if (!abp_h5util_link_exists(ck->file, group)) {
        rc = abp_fail(err, "%s: missing group /%s", ck->path, group);
    } else {
        hid_t g = H5Gopen2(ck->file, group, H5P_DEFAULT);
        char where[128];
        snprintf(where, sizeof where, "/%s/", group);
        rc = g < 0 ? abp_fail(err, "%s: cannot open group /%s", ck->path, group)
                   : abp_h5util_read_int_attr(ck->path, g, where, "step", H5T_NATIVE_INT64, step, err);
        if (g >= 0) H5Gclose(g);
    }
    return abp_h5util_agree(ck->comm, rc, err);
}

int abp_ckpt_has(abp_ckpt *ck, const char *path) { return abp_h5util_link_exists(ck->file, path) > 0; }

int abp_ckpt_read_names(abp_ckpt *ck, int64_t lo, int64_t hi, char ***names, abp_err *err) {
    *names = NULL;
    int64_t rows = hi - lo;
    char **out = NULL;
    int rc = check_range(ck, lo, hi, "/examples", err);
    if (rc == 0 && !(out = calloc(rows > 0 ? (size_t)rows : 1, sizeof *out)))
        rc = abp_fail(err, "%s: out of memory reading /examples", ck->path);
    if (abp_h5util_agree(ck->comm, rc, err) < 0) {
        free(out);
        return -1;
    }
    hid_t dset = H5Dopen2(ck->file, "examples", H5P_DEFAULT);
    hid_t type = dset < 0 ? -1 : H5Dget_type(dset);
    if (type < 0) rc = abp_fail(err, "%s: cannot open /examples", ck->path);
    else rc = abp_h5util_read_names(ck->path, "/examples", dset, type, lo, rows, ck->collective, out, err);
    if (type >= 0) H5Tclose(type);
    if (dset >= 0) H5Dclose(dset);
    rc = abp_h5util_agree(ck->comm, rc, err);
    if (rc < 0 && out) {
        for (int64_t i = 0; i < rows; i++) free(out[i]);
        free(out);
        out = NULL;
    }
    *names = out;
    return rc;
}

/* ---------------------------------------------------------------- listing */

typedef struct array_list {
    abp_ckpt *ck;
    const char *group; /* the top-level group being walked: "model", "optimizer", ... */
    abp_ckpt_array *items;
    int n, cap;
    int failed; /* the first problem is in *err; the walk goes on regardless */
    abp_err *err;
} array_list;

static int list_add(array_list *list, const char *name, hid_t dset) {
    abp_ckpt *ck = list->ck;
    int64_t dims[H5S_MAX_RANK];
    int ndim = abp_h5util_dataset_shape(dset, dims);
    if (ndim < 1 || ndim > CKPT_MAX_DIMS)
        return abp_fail(list->err, "%s: %s/%s has %d dimensions (1 to %d supported)", ck->path, list->group, name,
                        ndim, CKPT_MAX_DIMS);
    if (list->n == list->cap) {
        int cap = list->cap ? 2 * list->cap : 16;
        abp_ckpt_array *grown = realloc(list->items, sizeof *grown * (size_t)cap);
        if (!grown) return abp_fail(list->err, "%s: out of memory listing arrays", ck->path);
        list->items = grown;
        list->cap = cap;
    }
    abp_ckpt_array *a = &list->items[list->n];
    memset(a, 0, sizeof *a);
    int len = snprintf(a->path, sizeof a->path, "%s/%s", list->group, name);
    if (len < 0 || (size_t)len >= sizeof a->path)
        return abp_fail(list->err, "%s: array path %s/%s is too long", ck->path, list->group, name);
    a->ndim = ndim;
    memcpy(a->dims, dims, sizeof(int64_t) * (size_t)ndim);
    list->n++;
    return 0;
}

/* Notes the first problem and goes on: stopping the walk early on one rank (out of memory)
 * would leave the ranks making different HDF5 calls. */
static herr_t visit_link(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    array_list *list = data;
    if (info->type != H5L_TYPE_HARD) return 0;
    hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
    if (obj < 0) {
        list->failed = 1;
        return abp_fail(list->err, "%s: cannot open %s/%s", list->ck->path, list->group, name);
    }
    if (!list->failed && H5Iget_type(obj) == H5I_DATASET && list_add(list, name, obj) < 0) list->failed = 1;
    H5Oclose(obj);
    return 0;
}

/* The names of the file's top-level groups (the networks' and /chains), in name order. */
typedef struct group_names {
    char names[16][64];
    int n;
} group_names;

static herr_t collect_group(hid_t root, const char *name, const H5L_info_t *info, void *data) {
    group_names *g = data;
    if (info->type != H5L_TYPE_HARD || g->n == 16 || strlen(name) >= sizeof g->names[0]) return 0;
    hid_t obj = H5Oopen(root, name, H5P_DEFAULT);
    if (obj < 0) return 0;
    if (H5Iget_type(obj) == H5I_GROUP) snprintf(g->names[g->n++], sizeof g->names[0], "%s", name);
    H5Oclose(obj);
    return 0;
}

int abp_ckpt_list(abp_ckpt *ck, abp_ckpt_array **arrays, int *narrays, abp_err *err) {
    array_list list = {.ck = ck, .err = err};
    group_names groups = {.n = 0};
    if (H5Literate(ck->file, H5_INDEX_NAME, H5_ITER_INC, NULL, collect_group, &groups) < 0) {
        list.failed = 1;
        abp_fail(err, "%s: cannot list the top-level groups", ck->path);
    }
    for (int g = 0; g < groups.n && !list.failed; g++) {
        list.group = groups.names[g];
        if (H5Lvisit_by_name(ck->file, groups.names[g], H5_INDEX_NAME, H5_ITER_INC, visit_link, &list, H5P_DEFAULT) < 0 &&
            !list.failed) {
            list.failed = 1;
            abp_fail(err, "%s: cannot list /%s", ck->path, groups.names[g]);
        }
    }
    int rc = abp_h5util_agree(ck->comm, list.failed ? -1 : 0, err);
    if (rc < 0) {
        free(list.items);
        list.items = NULL;
        list.n = 0;
    }
    *arrays = list.items;
    *narrays = list.n;
    return rc;
}

/* ---------------------------------------------------------------- verifying */

typedef struct verify_walk {
    abp_ckpt *ck;
    int failed, checked;
    abp_err *err;
} verify_walk;

/* Reads one dataset whole, in its own file type (the bytes as stored), and checks them. */
static int verify_dataset(verify_walk *v, const char *name) {
    abp_ckpt *ck = v->ck;
    hid_t dset = H5Dopen2(ck->file, name, H5P_DEFAULT);
    hid_t type = dset < 0 ? -1 : H5Dget_type(dset);
    hid_t space = dset < 0 ? -1 : H5Dget_space(dset);
    hssize_t points = space < 0 ? -1 : H5Sget_simple_extent_npoints(space);
    size_t size = type < 0 ? 0 : H5Tget_size(type);
    int rc = 0;
    unsigned char *buf = NULL;
    /* abp stores every dataset whole and uncompressed, so none can hold more bytes than the
     * file: a larger extent is a damaged or crafted header (fuzzing found one of 2^60 bytes) */
    hsize_t file_bytes = 0;
    if (H5Fget_filesize(ck->file, &file_bytes) < 0) file_bytes = 0;
    if (points < 0 || size == 0) rc = abp_fail(v->err, "%s: cannot open /%s", ck->path, name);
    else if ((uint64_t)points > (uint64_t)file_bytes / size)
        rc = abp_fail(v->err, "%s: /%s claims %lld values of %zu bytes, more than the file holds (the file is damaged)",
                      ck->path, name, (long long)points, size);
    else if (H5Aexists(dset, CKPT_CRC_ATTR) <= 0)
        rc = abp_fail(v->err, "%s: /%s has no checksum (an abp older than checksums wrote it, or it was changed)",
                      ck->path, name);
    else if (!(buf = malloc((size_t)points * size + 1)))
        rc = abp_fail(v->err, "%s: out of memory verifying /%s", ck->path, name);
    else if (H5Dread(dset, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        rc = abp_fail(v->err, "%s: cannot read /%s (the file is damaged)", ck->path, name);
    else {
        char where[160];
        snprintf(where, sizeof where, "/%s", name);
        rc = check_crc(ck, dset, where, buf, (size_t)points * size, v->err);
    }
    free(buf);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (dset >= 0) H5Dclose(dset);
    return rc;
}

static herr_t visit_for_verify(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    verify_walk *v = data;
    if (v->failed || info->type != H5L_TYPE_HARD) return 0;
    H5O_info_t oinfo;
    if (H5Oget_info_by_name(group, name, &oinfo, H5P_DEFAULT) < 0) {
        v->failed = 1;
        abp_fail(v->err, "%s: cannot open /%s (the file is damaged)", v->ck->path, name);
        return 0;
    }
    if (oinfo.type != H5O_TYPE_DATASET) return 0;
    if (verify_dataset(v, name) < 0) v->failed = 1;
    else v->checked++;
    return 0;
}

int abp_ckpt_verify(abp_ckpt *ck, int *datasets, abp_err *err) {
    verify_walk v = {.ck = ck, .err = err};
    if (H5Lvisit(ck->file, H5_INDEX_NAME, H5_ITER_INC, visit_for_verify, &v) < 0 && !v.failed) {
        v.failed = 1;
        abp_fail(err, "%s: cannot walk the file (it is damaged)", ck->path);
    }
    if (datasets) *datasets = v.checked;
    return abp_h5util_agree(ck->comm, v.failed ? -1 : 0, err);
}
