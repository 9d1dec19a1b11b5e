/* HDF5 data set files (see h5data.h): checked opening and hyperslab reads by one process,
 * and collective writes by all ranks.
 *
 * HDF5's own error printing is switched off at every entry point (abp_h5util_quiet), as
 * checkpoint.c does. MPI calls are not checked: MPI's default error handler aborts the job. */
#include "h5data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "h5util.h"

enum { RANK_IMAGES = 4 }; /* /images is [count, height, width, channels] */

/* ---------------------------------------------------------------- small helpers */

int abp_h5data_has_magic(const unsigned char head[8]) {
    return memcmp(head, "\x89HDF\r\n\x1a\n", 8) == 0;
}

/* ---------------------------------------------------------------- the format attribute */

/* The root's format attribute into format ("" when there is none). */
static int file_format(hid_t file, const char *path, char *format, size_t size, abp_err *err) {
    format[0] = '\0';
    if (H5Aexists(file, "format") <= 0) return 0;
    char *value;
    if (abp_h5util_read_string_attr(path, file, "/", "format", &value, err) < 0) return -1;
    snprintf(format, size, "%s", value);
    free(value);
    return 0;
}

int abp_h5_format(const char *path, char *format, size_t size, abp_err *err) {
    abp_h5util_quiet();
    if (size > 0) format[0] = '\0';
    if (H5Fis_hdf5(path) <= 0) return abp_fail(err, "%s: not an HDF5 file", path);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return abp_fail(err, "%s: truncated or damaged HDF5 file", path);
    int rc = file_format(file, path, format, size, err);
    H5Fclose(file);
    return rc;
}

/* ---------------------------------------------------------------- reading */

struct abp_h5data {
    char *path;        /* for messages */
    hid_t file, images, examples, masks; /* masks: -1 when the data set has none */
    hid_t name_type;   /* the stored string type of /examples */
    int64_t n;
    int c, h, w;
};

void abp_h5data_close(abp_h5data *d) {
    if (!d) return;
    if (d->name_type >= 0) H5Tclose(d->name_type);
    if (d->examples >= 0) H5Dclose(d->examples);
    if (d->images >= 0) H5Dclose(d->images);
    if (d->masks >= 0) H5Dclose(d->masks);
    if (d->file >= 0) H5Fclose(d->file);
    free(d->path);
    free(d);
}

/* A whole-number attribute of the root, as int64. */
static int read_root_int(abp_h5data *d, const char *name, int64_t *value, abp_err *err) {
    return abp_h5util_read_int_attr(d->path, d->file, "/", name, H5T_NATIVE_INT64, value, err);
}

/* The root attributes: this is an abp data set of a version this code reads. */
static int check_header(abp_h5data *d, abp_err *err) {
    char format[64];
    if (file_format(d->file, d->path, format, sizeof format, err) < 0) return -1;
    if (!format[0])
        return abp_fail(err, "%s: an HDF5 file but not an abp data set (no format attribute; "
                             "make one with abp prepare)", d->path);
    if (strcmp(format, "abp-checkpoint") == 0)
        return abp_fail(err, "%s: an abp checkpoint, not a data set (make one with abp prepare)", d->path);
    if (strcmp(format, ABP_H5DATA_FORMAT) != 0)
        return abp_fail(err, "%s: not an abp data set (format is \"%s\", expected \"%s\")", d->path, format,
                        ABP_H5DATA_FORMAT);
    int64_t version, n, c, h, w;
    if (read_root_int(d, "format_version", &version, err) < 0) return -1;
    if (version != ABP_H5DATA_FORMAT_VERSION)
        return abp_fail(err, "%s: data set format version %lld, but this abp reads version %d", d->path,
                        (long long)version, ABP_H5DATA_FORMAT_VERSION);
    if (read_root_int(d, "count", &n, err) < 0 ||
        read_root_int(d, "height", &h, err) < 0 ||
        read_root_int(d, "width", &w, err) < 0 ||
        read_root_int(d, "channels", &c, err) < 0)
        return -1;
    if (c != 1 && c != 3) return abp_fail(err, "%s: attribute /channels is %lld (1 or 3 supported)", d->path, (long long)c);
    if (n < 0 || h < 1 || w < 1 || h > 1 << 20 || w > 1 << 20)
        return abp_fail(err, "%s: attributes give an unusable shape: count %lld, %lldx%lld", d->path,
                        (long long)n, (long long)h, (long long)w);
    d->n = n, d->c = (int)c, d->h = (int)h, d->w = (int)w;
    return 0;
}

/* /images: uint8, [count, height, width, channels] as the attributes say. */
static int check_images(abp_h5data *d, abp_err *err) {
    int ndim;
    int64_t dims[H5S_MAX_RANK];
    if ((d->images = abp_h5util_open_dataset(d->path, d->file, "images", &ndim, dims, err)) < 0) return -1;
    hid_t type = H5Dget_type(d->images);
    int is_uint8 = type >= 0 && H5Tget_class(type) == H5T_INTEGER && H5Tget_size(type) == 1 &&
                   H5Tget_sign(type) == H5T_SGN_NONE;
    if (type >= 0) H5Tclose(type);
    if (!is_uint8) return abp_fail(err, "%s: /images is not an array of unsigned bytes (uint8)", d->path);
    if (ndim != RANK_IMAGES)
        return abp_fail(err, "%s: /images has %d dimensions, expected 4 (count, height, width, channels)", d->path,
                        ndim);
    if (dims[0] != d->n || dims[1] != d->h || dims[2] != d->w || dims[3] != d->c)
        return abp_fail(err, "%s: /images is %lldx%lldx%lldx%lld but the attributes say %lldx%dx%dx%d", d->path,
                        (long long)dims[0], (long long)dims[1], (long long)dims[2], (long long)dims[3],
                        (long long)d->n, d->h, d->w, d->c);
    return 0;
}

/* /masks, if there: uint8 of the very shape of /images. */
static int check_masks(abp_h5data *d, abp_err *err) {
    int exists = abp_h5util_link_exists(d->file, "masks");
    if (exists < 0) return abp_fail(err, "%s: cannot look for /masks (damaged file?)", d->path);
    if (!exists) return 0;
    int ndim;
    int64_t dims[H5S_MAX_RANK];
    if ((d->masks = abp_h5util_open_dataset(d->path, d->file, "masks", &ndim, dims, err)) < 0) return -1;
    hid_t type = H5Dget_type(d->masks);
    int is_uint8 = type >= 0 && H5Tget_class(type) == H5T_INTEGER && H5Tget_size(type) == 1 &&
                   H5Tget_sign(type) == H5T_SGN_NONE;
    if (type >= 0) H5Tclose(type);
    if (!is_uint8 || ndim != RANK_IMAGES || dims[0] != d->n || dims[1] != d->h || dims[2] != d->w || dims[3] != d->c)
        return abp_fail(err, "%s: /masks is not uint8 of the shape of /images (%lldx%dx%dx%d)", d->path,
                        (long long)d->n, d->h, d->w, d->c);
    return 0;
}

/* /examples: one string per row. */
static int check_examples(abp_h5data *d, abp_err *err) {
    int ndim;
    int64_t dims[H5S_MAX_RANK];
    if ((d->examples = abp_h5util_open_dataset(d->path, d->file, "examples", &ndim, dims, err)) < 0) return -1;
    d->name_type = H5Dget_type(d->examples);
    if (d->name_type < 0 || H5Tget_class(d->name_type) != H5T_STRING || ndim != 1)
        return abp_fail(err, "%s: /examples is not a list of strings", d->path);
    if (dims[0] != d->n)
        return abp_fail(err, "%s: /examples has %lld names but the data set has %lld images", d->path,
                        (long long)dims[0], (long long)d->n);
    return 0;
}

int abp_h5data_open(const char *path, abp_h5data **out, abp_data_info *info, abp_err *err) {
    abp_h5util_quiet();
    *out = NULL;
    abp_h5data *d = calloc(1, sizeof *d);
    char *copy = strdup(path);
    if (!d || !copy) {
        free(d);
        free(copy);
        return abp_fail(err, "%s: out of memory", path);
    }
    d->path = copy;
    d->images = d->examples = d->masks = d->name_type = -1;
    /* The default driver: one process, no MPI, whatever the other ranks are doing. */
    d->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int rc = d->file < 0 ? abp_fail(err, "%s: truncated or damaged HDF5 file", path) : 0;
    if (rc == 0) rc = check_header(d, err);
    if (rc == 0) rc = check_images(d, err);
    if (rc == 0) rc = check_examples(d, err);
    if (rc == 0) rc = check_masks(d, err);
    int labelled = rc == 0 ? abp_h5util_link_exists(d->file, "labels") : 0;
    if (labelled < 0) rc = abp_fail(err, "%s: cannot look for /labels (damaged file?)", path);
    if (rc < 0) {
        abp_h5data_close(d);
        return -1;
    }
    memset(info, 0, sizeof *info);
    info->n = d->n, info->c = d->c, info->h = d->h, info->w = d->w;
    info->has_masks = d->masks >= 0;
    info->has_labels = labelled > 0; /* checked when read as labels (abp_labels_read) */
    snprintf(info->kind, sizeof info->kind, "hdf5");
    *out = d;
    return 0;
}

int abp_h5data_read(abp_h5data *d, int64_t lo, int64_t count, uint8_t *pixels, char **names, abp_err *err) {
    abp_h5util_quiet();
    if (lo < 0 || count < 0 || lo + count > d->n)
        return abp_fail(err, "%s: examples [%lld, %lld) are out of range (it holds %lld)", d->path, (long long)lo,
                        (long long)(lo + count), (long long)d->n);
    if (count == 0) return 0;
    if (pixels && abp_h5util_read_rows(d->images, H5T_NATIVE_UINT8, lo, count, H5P_DEFAULT, pixels) < 0)
        return abp_fail(err, "%s: cannot read rows [%lld, %lld) of /images (damaged file?)", d->path,
                        (long long)lo, (long long)(lo + count));
    /* One process reads: the default (independent) transfer. */
    if (names && abp_h5util_read_names(d->path, "/examples", d->examples, d->name_type, lo, count, H5P_DEFAULT,
                                       names, err) < 0)
        return -1;
    return 0;
}

int abp_h5data_read_masks(abp_h5data *d, int64_t lo, int64_t count, uint8_t *masks, abp_err *err) {
    abp_h5util_quiet();
    if (d->masks < 0) return abp_fail(err, "%s: holds no /masks", d->path);
    if (lo < 0 || count < 0 || lo + count > d->n)
        return abp_fail(err, "%s: examples [%lld, %lld) are out of range (it holds %lld)", d->path, (long long)lo,
                        (long long)(lo + count), (long long)d->n);
    if (count > 0 && abp_h5util_read_rows(d->masks, H5T_NATIVE_UINT8, lo, count, H5P_DEFAULT, masks) < 0)
        return abp_fail(err, "%s: cannot read rows [%lld, %lld) of /masks (damaged file?)", d->path,
                        (long long)lo, (long long)(lo + count));
    return 0;
}

int abp_h5data_cache_rows(abp_h5data *d, int64_t rows, abp_err *err) {
    abp_h5util_quiet();
    /* A chunk is one example, so a cache of `rows` chunks holds a batch. HDF5 wants the
     * number of hash slots prime and about 100 times the chunks held to avoid collisions
     * (H5Pset_chunk_cache); the ratio matters little here because batches rarely share
     * rows, but the byte size must hold a whole batch or HDF5 reads around the cache. */
    size_t row_bytes = (size_t)d->h * d->w * d->c;
    size_t slots = 101;
    while (slots < (size_t)rows * 100) slots = slots * 2 + 1;
    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    int rc = dapl < 0 || H5Pset_chunk_cache(dapl, slots, (size_t)rows * row_bytes, 1.0) < 0 ? -1 : 0;
    hid_t images = rc == 0 ? H5Dopen2(d->file, "images", dapl) : -1;
    if (dapl >= 0) H5Pclose(dapl);
    if (images < 0) return abp_fail(err, "%s: cannot reopen /images with a chunk cache of %lld rows", d->path,
                                    (long long)rows);
    H5Dclose(d->images);
    d->images = images;
    return 0;
}

int abp_h5data_read_at(abp_h5data *d, const int64_t *rows, int64_t count, uint8_t *pixels, abp_err *err) {
    abp_h5util_quiet();
    if (count == 0) return 0;
    for (int64_t k = 0; k < count; k++)
        if (rows[k] < 0 || rows[k] >= d->n || (k > 0 && rows[k] <= rows[k - 1]))
            return abp_fail(err, "%s: row %lld is out of range or out of order (it holds %lld)", d->path,
                            (long long)rows[k], (long long)d->n);
    /* One selection of all the rows (a union of one-row blocks, merged by HDF5 where they
     * touch), read by one H5Dread into `count` consecutive rows of memory: HDF5 walks the
     * selection in file order, which is why the rows must come sorted. */
    hid_t space = H5Dget_space(d->images);
    hsize_t start[RANK_IMAGES] = {0, 0, 0, 0};
    hsize_t block[RANK_IMAGES] = {1, (hsize_t)d->h, (hsize_t)d->w, (hsize_t)d->c};
    hsize_t mem_dims[RANK_IMAGES] = {(hsize_t)count, block[1], block[2], block[3]};
    const hsize_t one[RANK_IMAGES] = {1, 1, 1, 1};
    herr_t ok = space < 0 ? -1 : H5Sselect_none(space);
    for (int64_t k = 0; ok >= 0 && k < count; k++) {
        int64_t first = rows[k], run = 1;
        while (k + 1 < count && rows[k + 1] == first + run) k++, run++; /* a run of neighbours: one block */
        start[0] = (hsize_t)first;
        block[0] = (hsize_t)run;
        ok = H5Sselect_hyperslab(space, H5S_SELECT_OR, start, NULL, one, block);
    }
    hid_t mem = ok >= 0 ? H5Screate_simple(RANK_IMAGES, mem_dims, NULL) : -1;
    if (mem >= 0) ok = H5Dread(d->images, H5T_NATIVE_UINT8, mem, space, H5P_DEFAULT, pixels);
    if (mem >= 0) H5Sclose(mem);
    if (space >= 0) H5Sclose(space);
    if (mem < 0 || ok < 0)
        return abp_fail(err, "%s: cannot read %lld rows of /images (damaged file?)", d->path, (long long)count);
    return 0;
}

/* ---------------------------------------------------------------- writing */

struct abp_h5data_writer {
    const char *label;   /* the file's name in messages */
    hid_t file, images, examples, masks, labels; /* masks, labels: -1 without */
    hid_t name_type;     /* fixed-length strings of name_width bytes, in memory and in the file */
    hid_t collective;    /* transfer property list: collective MPI-IO */
    size_t name_width;
    size_t row_bytes;    /* bytes of one image */
    char *packed;        /* names of one write, name_width bytes each */
    int64_t packed_rows; /* rows packed can hold */
};

/* The root attributes. The sizes are stored as int32, the count as int64. */
static int write_header(abp_h5data_writer *w, const abp_data_info *shape, abp_err *err) {
    const char *label = w->label;
    hid_t root = w->file;
    int version = ABP_H5DATA_FORMAT_VERSION;
    int64_t count = shape->n;
    if (abp_h5util_write_string_attr(label, root, "format", ABP_H5DATA_FORMAT, err) < 0 ||
        abp_h5util_write_attr(label, root, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT, &version, err) < 0 ||
        abp_h5util_write_attr(label, root, "height", H5T_STD_I32LE, H5T_NATIVE_INT, &shape->h, err) < 0 ||
        abp_h5util_write_attr(label, root, "width", H5T_STD_I32LE, H5T_NATIVE_INT, &shape->w, err) < 0 ||
        abp_h5util_write_attr(label, root, "channels", H5T_STD_I32LE, H5T_NATIVE_INT, &shape->c, err) < 0 ||
        abp_h5util_write_attr(label, root, "count", H5T_STD_I64LE, H5T_NATIVE_INT64, &count, err) < 0)
        return -1;
    return 0;
}

/* Creates a dataset of the given shape; chunk (may be NULL: contiguous) gives its chunks.
 * Every element gets written, so HDF5 need not write fill values first. Without the times
 * HDF5 would store in the object header, the same inputs give the same bytes, whenever and
 * on however many ranks they are packed (a checksum then identifies a data set). */
static hid_t create_dataset(abp_h5data_writer *w, const char *name, hid_t type, int ndim, const hsize_t *dims,
                            const hsize_t *chunk, abp_err *err) {
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t space = H5Screate_simple(ndim, dims, NULL);
    hid_t dset = -1;
    if (dcpl >= 0 && space >= 0 && H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0 &&
        H5Pset_obj_track_times(dcpl, 0) >= 0 && (!chunk || H5Pset_chunk(dcpl, ndim, chunk) >= 0))
        dset = H5Dcreate2(w->file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (space >= 0) H5Sclose(space);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (dset < 0) abp_fail(err, "%s: cannot create /%s", w->label, name);
    return dset;
}

int abp_h5data_create(MPI_Comm comm, const char *file, const char *label, const abp_data_info *shape,
                      size_t name_width, int with_masks, abp_h5data_writer **out, abp_err *err) {
    abp_h5util_quiet();
    abp_h5data_writer *w = calloc(1, sizeof *w);
    *out = w;
    if (!w) return abp_fail(err, "%s: out of memory", label);
    w->label = label;
    w->file = w->images = w->examples = w->masks = w->labels = -1;
    w->row_bytes = (size_t)shape->h * shape->w * shape->c;
    w->name_width = name_width;
    w->name_type = abp_h5util_fixed_string_type(name_width);
    w->collective = abp_h5util_collective_transfer();
    if (w->name_type < 0 || w->collective < 0)
        return abp_fail(err, "%s: cannot set up HDF5 types and property lists", label);

    w->file = abp_h5util_create_file(comm, label, file, err);
    if (w->file < 0) return -1;
    if (write_header(w, shape, err) < 0) return -1;

    hsize_t dims[RANK_IMAGES] = {(hsize_t)shape->n, (hsize_t)shape->h, (hsize_t)shape->w, (hsize_t)shape->c};
    hsize_t chunk[RANK_IMAGES] = {1, dims[1], dims[2], dims[3]}; /* one example per chunk */
    w->images = create_dataset(w, "images", H5T_STD_U8LE, RANK_IMAGES, dims, chunk, err);
    if (w->images < 0) return -1;
    w->examples = create_dataset(w, "examples", w->name_type, 1, dims, NULL, err);
    if (w->examples < 0) return -1;
    if (with_masks && (w->masks = create_dataset(w, "masks", H5T_STD_U8LE, RANK_IMAGES, dims, chunk, err)) < 0)
        return -1;
    if (shape->has_labels && (w->labels = create_dataset(w, "labels", H5T_STD_U8LE, 1, dims, NULL, err)) < 0)
        return -1;
    return 0;
}

/* Packs count names into rows of name_width bytes, zero-padded. */
static int pack_names(abp_h5data_writer *w, int64_t count, char *const *names, abp_err *err) {
    if (count == 0) return 0;
    if (count > w->packed_rows) {
        char *grown = realloc(w->packed, (size_t)count * w->name_width);
        if (!grown) return abp_fail(err, "%s: out of memory packing %lld names", w->label, (long long)count);
        w->packed = grown;
        w->packed_rows = count;
    }
    memset(w->packed, 0, (size_t)count * w->name_width);
    for (int64_t i = 0; i < count; i++) {
        size_t len = strlen(names[i]);
        if (len >= w->name_width)
            return abp_fail(err, "%s: example name \"%.64s\" is longer than the %zu bytes planned", w->label,
                            names[i], w->name_width - 1);
        memcpy(w->packed + (size_t)i * w->name_width, names[i], len);
    }
    return 0;
}

int abp_h5data_write(abp_h5data_writer *w, int64_t lo, int64_t count, const uint8_t *pixels, char *const *names,
                     const uint8_t *masks, const uint8_t *labels, abp_err *err) {
    abp_h5util_quiet();
    /* A rank that cannot pack its names still takes part in both collective writes, with no
     * rows, so that the others are not left waiting; it reports afterwards. */
    int rc = pack_names(w, count, names, err);
    int64_t rows = rc == 0 ? count : 0;
    if (abp_h5util_write_rows(w->images, H5T_NATIVE_UINT8, lo, rows, w->collective, pixels) < 0 && rc == 0)
        rc = abp_fail(err, "%s: cannot write rows [%lld, %lld) of /images", w->label, (long long)lo,
                      (long long)(lo + count));
    if (abp_h5util_write_rows(w->examples, w->name_type, lo, rows, w->collective, w->packed) < 0 && rc == 0)
        rc = abp_fail(err, "%s: cannot write rows [%lld, %lld) of /examples", w->label, (long long)lo,
                      (long long)(lo + count));
    if (w->masks >= 0 && abp_h5util_write_rows(w->masks, H5T_NATIVE_UINT8, lo, rows, w->collective, masks) < 0 && rc == 0)
        rc = abp_fail(err, "%s: cannot write rows [%lld, %lld) of /masks", w->label, (long long)lo,
                      (long long)(lo + count));
    if (w->labels >= 0 && abp_h5util_write_rows(w->labels, H5T_NATIVE_UINT8, lo, rows, w->collective, labels) < 0 &&
        rc == 0)
        rc = abp_fail(err, "%s: cannot write rows [%lld, %lld) of /labels", w->label, (long long)lo,
                      (long long)(lo + count));
    return rc;
}

int abp_h5data_finish(abp_h5data_writer *w, abp_err *err) {
    abp_h5util_quiet();
    if (!w) return 0;
    int rc = 0;
    if (w->examples >= 0) H5Dclose(w->examples);
    if (w->images >= 0) H5Dclose(w->images);
    if (w->masks >= 0) H5Dclose(w->masks);
    if (w->labels >= 0) H5Dclose(w->labels);
    if (w->file >= 0) {
        /* Flushing syncs the file (MPI_File_sync), so that once it is renamed into place its
         * bytes are on disk, not only in some node's cache. */
        if (H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0) rc = abp_fail(err, "%s: cannot flush the file", w->label);
        if (H5Fclose(w->file) < 0 && rc == 0) rc = abp_fail(err, "%s: cannot close the file", w->label);
    }
    if (w->name_type >= 0) H5Tclose(w->name_type);
    if (w->collective >= 0) H5Pclose(w->collective);
    free(w->packed);
    free(w);
    return rc;
}
