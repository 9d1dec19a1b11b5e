/* HDF5 data set files (see h5data.h): checked opening and hyperslab reads by one process,
 * and collective writes by all ranks.
 *
 * HDF5's own error stack is switched off at every entry point (as checkpoint.c does): its
 * dozens of lines per failure would bury the one line that says which file and what is
 * wrong with it. MPI calls are not checked: MPI's default error handler aborts the job. */
#include "h5data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

enum { RANK_IMAGES = 4 }; /* /images is [count, height, width, channels] */

/* ---------------------------------------------------------------- small helpers */

int abp_h5data_has_magic(const unsigned char head[8]) {
    return memcmp(head, "\x89HDF\r\n\x1a\n", 8) == 0;
}

static void quiet_hdf5(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* Selects rows [lo, lo + rows) of a dataset's file space, whole rows, and returns a memory
 * space of that shape. A rank with no rows selects nothing and still takes part in a
 * collective transfer. */
static hid_t select_rows(hid_t file_space, int64_t lo, int64_t rows) {
    hsize_t start[H5S_MAX_RANK] = {0}, count[H5S_MAX_RANK];
    int ndim = H5Sget_simple_extent_dims(file_space, count, NULL);
    if (ndim < 1) return -1;
    if (rows == 0) {
        hsize_t one = 1;
        hid_t mem = H5Screate_simple(1, &one, NULL);
        if (mem >= 0 && (H5Sselect_none(mem) < 0 || H5Sselect_none(file_space) < 0)) {
            H5Sclose(mem);
            return -1;
        }
        return mem;
    }
    start[0] = (hsize_t)lo;
    count[0] = (hsize_t)rows;
    if (H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, count, NULL) < 0) return -1;
    return H5Screate_simple(ndim, count, NULL);
}

/* Reads (write = 0) or writes rows [lo, lo + rows) of dset as mem_type. */
static int transfer_rows(hid_t dset, hid_t mem_type, int64_t lo, int64_t rows, hid_t dxpl, void *buf,
                         int write) {
    hid_t file_space = H5Dget_space(dset);
    hid_t mem_space = file_space < 0 ? -1 : select_rows(file_space, lo, rows);
    herr_t rc = -1;
    if (mem_space >= 0)
        rc = write ? H5Dwrite(dset, mem_type, mem_space, file_space, dxpl, buf)
                   : H5Dread(dset, mem_type, mem_space, file_space, dxpl, buf);
    if (mem_space >= 0) H5Sclose(mem_space);
    if (file_space >= 0) H5Sclose(file_space);
    return rc < 0 ? -1 : 0;
}

/* A fixed-length UTF-8 string type of width bytes, zero-terminated: h5dump, h5py and C all
 * read such strings up to their first zero. */
static hid_t fixed_string_type(size_t width) {
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type >= 0 && (H5Tset_size(type, width) < 0 || H5Tset_strpad(type, H5T_STR_NULLTERM) < 0 ||
                      H5Tset_cset(type, H5T_CSET_UTF8) < 0)) {
        H5Tclose(type);
        return -1;
    }
    return type;
}

/* A scalar string attribute (fixed- or variable-length) as a malloc'd C string, or NULL. */
static char *read_string_attr(hid_t loc, const char *name) {
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t type = attr < 0 ? -1 : H5Aget_type(attr);
    hid_t space = attr < 0 ? -1 : H5Aget_space(attr);
    hid_t mem = H5Tcopy(H5T_C_S1);
    char *out = NULL;
    /* HDF5 converts between string lengths and paddings but not between character sets, so
     * the memory type takes the stored one. */
    if (type >= 0 && space >= 0 && mem >= 0 && H5Tget_class(type) == H5T_STRING &&
        H5Sget_simple_extent_npoints(space) == 1 && H5Tset_cset(mem, H5Tget_cset(type)) >= 0) {
        if (H5Tis_variable_str(type) > 0) {
            char *s = NULL;
            if (H5Tset_size(mem, H5T_VARIABLE) >= 0 && H5Aread(attr, mem, &s) >= 0) out = strdup(s ? s : "");
            if (s) H5free_memory(s);
        } else {
            size_t size = H5Tget_size(type); /* one byte more, for the terminating zero */
            out = calloc(size + 1, 1);
            if (out && (H5Tset_size(mem, size + 1) < 0 || H5Aread(attr, mem, out) < 0)) {
                free(out);
                out = NULL;
            }
        }
    }
    if (mem >= 0) H5Tclose(mem);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (attr >= 0) H5Aclose(attr);
    return out;
}

/* A scalar integer attribute, converted to int64. */
static int read_int_attr(const char *path, hid_t loc, const char *name, int64_t *value, abp_err *err) {
    if (H5Aexists(loc, name) <= 0) return abp_fail(err, "%s: missing attribute /%s", path, name);
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t type = attr < 0 ? -1 : H5Aget_type(attr);
    hid_t space = attr < 0 ? -1 : H5Aget_space(attr);
    int ok = type >= 0 && space >= 0 && H5Tget_class(type) == H5T_INTEGER &&
             H5Sget_simple_extent_npoints(space) == 1 && H5Aread(attr, H5T_NATIVE_INT64, value) >= 0;
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (attr >= 0) H5Aclose(attr);
    return ok ? 0 : abp_fail(err, "%s: attribute /%s is not a whole number", path, name);
}

/* ---------------------------------------------------------------- the format attribute */

/* The root's format attribute into format ("" when there is none). */
static int file_format(hid_t file, const char *path, char *format, size_t size, abp_err *err) {
    format[0] = '\0';
    if (H5Aexists(file, "format") <= 0) return 0;
    char *value = read_string_attr(file, "format");
    if (!value) return abp_fail(err, "%s: attribute /format is not a readable string", path);
    snprintf(format, size, "%s", value);
    free(value);
    return 0;
}

int abp_h5_format(const char *path, char *format, size_t size, abp_err *err) {
    quiet_hdf5();
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
    hid_t file, images, examples;
    hid_t name_type;   /* the stored string type of /examples */
    int64_t n;
    int c, h, w;
};

void abp_h5data_close(abp_h5data *d) {
    if (!d) return;
    if (d->name_type >= 0) H5Tclose(d->name_type);
    if (d->examples >= 0) H5Dclose(d->examples);
    if (d->images >= 0) H5Dclose(d->images);
    if (d->file >= 0) H5Fclose(d->file);
    free(d->path);
    free(d);
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
    if (read_int_attr(d->path, d->file, "format_version", &version, err) < 0) return -1;
    if (version != ABP_H5DATA_FORMAT_VERSION)
        return abp_fail(err, "%s: data set format version %lld, but this abp reads version %d", d->path,
                        (long long)version, ABP_H5DATA_FORMAT_VERSION);
    if (read_int_attr(d->path, d->file, "count", &n, err) < 0 ||
        read_int_attr(d->path, d->file, "height", &h, err) < 0 ||
        read_int_attr(d->path, d->file, "width", &w, err) < 0 ||
        read_int_attr(d->path, d->file, "channels", &c, err) < 0)
        return -1;
    if (c != 1 && c != 3) return abp_fail(err, "%s: attribute /channels is %lld (1 or 3 supported)", d->path, (long long)c);
    if (n < 0 || h < 1 || w < 1 || h > 1 << 20 || w > 1 << 20)
        return abp_fail(err, "%s: attributes give an unusable shape: count %lld, %lldx%lld", d->path,
                        (long long)n, (long long)h, (long long)w);
    d->n = n, d->c = (int)c, d->h = (int)h, d->w = (int)w;
    return 0;
}

/* Opens the dataset `name` of the root and returns its shape. */
static hid_t open_dataset(abp_h5data *d, const char *name, int *ndim, hsize_t dims[H5S_MAX_RANK], abp_err *err) {
    if (H5Lexists(d->file, name, H5P_DEFAULT) <= 0) {
        abp_fail(err, "%s: missing /%s", d->path, name);
        return -1;
    }
    hid_t dset = H5Dopen2(d->file, name, H5P_DEFAULT);
    hid_t space = dset < 0 ? -1 : H5Dget_space(dset);
    *ndim = space < 0 ? -1 : H5Sget_simple_extent_dims(space, dims, NULL);
    if (space >= 0) H5Sclose(space);
    if (*ndim < 0) {
        if (dset >= 0) H5Dclose(dset);
        abp_fail(err, "%s: /%s is not a readable dataset", d->path, name);
        return -1;
    }
    return dset;
}

/* /images: uint8, [count, height, width, channels] as the attributes say. */
static int check_images(abp_h5data *d, abp_err *err) {
    int ndim;
    hsize_t dims[H5S_MAX_RANK];
    if ((d->images = open_dataset(d, "images", &ndim, dims, err)) < 0) return -1;
    hid_t type = H5Dget_type(d->images);
    int is_uint8 = type >= 0 && H5Tget_class(type) == H5T_INTEGER && H5Tget_size(type) == 1 &&
                   H5Tget_sign(type) == H5T_SGN_NONE;
    if (type >= 0) H5Tclose(type);
    if (!is_uint8) return abp_fail(err, "%s: /images is not an array of unsigned bytes (uint8)", d->path);
    if (ndim != RANK_IMAGES)
        return abp_fail(err, "%s: /images has %d dimensions, expected 4 (count, height, width, channels)", d->path,
                        ndim);
    if (dims[0] != (hsize_t)d->n || dims[1] != (hsize_t)d->h || dims[2] != (hsize_t)d->w || dims[3] != (hsize_t)d->c)
        return abp_fail(err, "%s: /images is %llux%llux%llux%llu but the attributes say %lldx%dx%dx%d", d->path,
                        (unsigned long long)dims[0], (unsigned long long)dims[1], (unsigned long long)dims[2],
                        (unsigned long long)dims[3], (long long)d->n, d->h, d->w, d->c);
    return 0;
}

/* /examples: one string per row. */
static int check_examples(abp_h5data *d, abp_err *err) {
    int ndim;
    hsize_t dims[H5S_MAX_RANK];
    if ((d->examples = open_dataset(d, "examples", &ndim, dims, err)) < 0) return -1;
    d->name_type = H5Dget_type(d->examples);
    if (d->name_type < 0 || H5Tget_class(d->name_type) != H5T_STRING || ndim != 1)
        return abp_fail(err, "%s: /examples is not a list of strings", d->path);
    if (dims[0] != (hsize_t)d->n)
        return abp_fail(err, "%s: /examples has %llu names but the data set has %lld images", d->path,
                        (unsigned long long)dims[0], (long long)d->n);
    return 0;
}

int abp_h5data_open(const char *path, abp_h5data **out, abp_data_info *info, abp_err *err) {
    quiet_hdf5();
    *out = NULL;
    abp_h5data *d = calloc(1, sizeof *d);
    char *copy = strdup(path);
    if (!d || !copy) {
        free(d);
        free(copy);
        return abp_fail(err, "%s: out of memory", path);
    }
    d->path = copy;
    d->images = d->examples = d->name_type = -1;
    /* The default driver: one process, no MPI, whatever the other ranks are doing. */
    d->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    int rc = d->file < 0 ? abp_fail(err, "%s: truncated or damaged HDF5 file", path) : 0;
    if (rc == 0) rc = check_header(d, err);
    if (rc == 0) rc = check_images(d, err);
    if (rc == 0) rc = check_examples(d, err);
    if (rc < 0) {
        abp_h5data_close(d);
        return -1;
    }
    memset(info, 0, sizeof *info);
    info->n = d->n, info->c = d->c, info->h = d->h, info->w = d->w;
    snprintf(info->kind, sizeof info->kind, "hdf5");
    *out = d;
    return 0;
}

/* Fixed-length names are read as stored and cut into C strings. */
static int read_fixed_names(abp_h5data *d, int64_t lo, int64_t count, char **names) {
    size_t width = H5Tget_size(d->name_type);
    int space_padded = H5Tget_strpad(d->name_type) == H5T_STR_SPACEPAD;
    char *raw = width > 0 ? malloc((size_t)count * width) : NULL;
    int rc = raw ? transfer_rows(d->examples, d->name_type, lo, count, H5P_DEFAULT, raw, 0) : -1;
    for (int64_t i = 0; i < count && rc == 0; i++) {
        const char *row = raw + (size_t)i * width;
        size_t len = strnlen(row, width);
        while (space_padded && len > 0 && row[len - 1] == ' ') len--;
        if (!(names[i] = strndup(row, len))) rc = -1;
    }
    free(raw);
    return rc;
}

/* Variable-length names (a file written by another tool, h5py for instance). */
static int read_variable_names(abp_h5data *d, int64_t lo, int64_t count, char **names) {
    hid_t mem = H5Tcopy(H5T_C_S1);
    char **raw = calloc((size_t)count, sizeof *raw);
    int rc = mem >= 0 && raw && H5Tset_size(mem, H5T_VARIABLE) >= 0 &&
                     H5Tset_cset(mem, H5Tget_cset(d->name_type)) >= 0
                 ? transfer_rows(d->examples, mem, lo, count, H5P_DEFAULT, raw, 0)
                 : -1;
    for (int64_t i = 0; i < count && rc == 0; i++)
        if (!(names[i] = strdup(raw[i] ? raw[i] : ""))) rc = -1;
    for (int64_t i = 0; raw && i < count; i++) H5free_memory(raw[i]);
    free(raw);
    if (mem >= 0) H5Tclose(mem);
    return rc;
}

int abp_h5data_read(abp_h5data *d, int64_t lo, int64_t count, uint8_t *pixels, char **names, abp_err *err) {
    quiet_hdf5();
    if (lo < 0 || count < 0 || lo + count > d->n)
        return abp_fail(err, "%s: examples [%lld, %lld) are out of range (it holds %lld)", d->path, (long long)lo,
                        (long long)(lo + count), (long long)d->n);
    if (count == 0) return 0;
    if (pixels && transfer_rows(d->images, H5T_NATIVE_UINT8, lo, count, H5P_DEFAULT, pixels, 0) < 0)
        return abp_fail(err, "%s: cannot read rows [%lld, %lld) of /images (damaged file?)", d->path,
                        (long long)lo, (long long)(lo + count));
    if (names && (H5Tis_variable_str(d->name_type) > 0 ? read_variable_names(d, lo, count, names)
                                                       : read_fixed_names(d, lo, count, names)) < 0)
        return abp_fail(err, "%s: cannot read rows [%lld, %lld) of /examples (damaged file, or out of memory)",
                        d->path, (long long)lo, (long long)(lo + count));
    return 0;
}

/* ---------------------------------------------------------------- writing */

struct abp_h5data_writer {
    const char *label;   /* the file's name in messages */
    hid_t file, images, examples;
    hid_t name_type;     /* fixed-length strings of name_width bytes, in memory and in the file */
    hid_t collective;    /* transfer property list: collective MPI-IO */
    size_t name_width;
    size_t row_bytes;    /* bytes of one image */
    char *packed;        /* names of one write, name_width bytes each */
    int64_t packed_rows; /* rows packed can hold */
};

/* File access through MPI-IO on comm, with metadata read by one rank and broadcast and
 * written collectively, which keeps creating and closing the file quick on many ranks. */
static hid_t mpio_access(MPI_Comm comm) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && (H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0 || H5Pset_all_coll_metadata_ops(fapl, 1) < 0 ||
                      H5Pset_coll_metadata_write(fapl, 1) < 0)) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

/* String attributes are variable-length, which h5py reads back as str. */
static int write_string_attr(hid_t loc, const char *name, const char *value) {
    hid_t type = H5Tcopy(H5T_C_S1);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = -1;
    if (type >= 0 && space >= 0 && H5Tset_size(type, H5T_VARIABLE) >= 0 && H5Tset_cset(type, H5T_CSET_UTF8) >= 0)
        attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = attr >= 0 && H5Awrite(attr, type, &value) >= 0 ? 0 : -1;
    if (attr >= 0) H5Aclose(attr);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    return rc;
}

static int write_int_attr(hid_t loc, const char *name, hid_t file_type, int64_t value) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = space < 0 ? -1 : H5Acreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    int rc = attr >= 0 && H5Awrite(attr, H5T_NATIVE_INT64, &value) >= 0 ? 0 : -1;
    if (attr >= 0) H5Aclose(attr);
    if (space >= 0) H5Sclose(space);
    return rc;
}

static int write_header(abp_h5data_writer *w, const abp_data_info *shape, abp_err *err) {
    if (write_string_attr(w->file, "format", ABP_H5DATA_FORMAT) < 0 ||
        write_int_attr(w->file, "format_version", H5T_STD_I32LE, ABP_H5DATA_FORMAT_VERSION) < 0 ||
        write_int_attr(w->file, "height", H5T_STD_I32LE, shape->h) < 0 ||
        write_int_attr(w->file, "width", H5T_STD_I32LE, shape->w) < 0 ||
        write_int_attr(w->file, "channels", H5T_STD_I32LE, shape->c) < 0 ||
        write_int_attr(w->file, "count", H5T_STD_I64LE, shape->n) < 0)
        return abp_fail(err, "%s: cannot write the root attributes", w->label);
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
                      size_t name_width, abp_h5data_writer **out, abp_err *err) {
    quiet_hdf5();
    abp_h5data_writer *w = calloc(1, sizeof *w);
    *out = w;
    if (!w) return abp_fail(err, "%s: out of memory", label);
    w->label = label;
    w->file = w->images = w->examples = -1;
    w->row_bytes = (size_t)shape->h * shape->w * shape->c;
    w->name_width = name_width;
    w->name_type = fixed_string_type(name_width);
    w->collective = H5Pcreate(H5P_DATASET_XFER);
    if (w->name_type < 0 || w->collective < 0 || H5Pset_dxpl_mpio(w->collective, H5FD_MPIO_COLLECTIVE) < 0)
        return abp_fail(err, "%s: cannot set up HDF5 types and property lists", label);

    hid_t fapl = mpio_access(comm);
    w->file = fapl < 0 ? -1 : H5Fcreate(file, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    if (w->file < 0) return abp_fail(err, "%s: cannot create %s as an HDF5 file", label, file);
    if (write_header(w, shape, err) < 0) return -1;

    hsize_t dims[RANK_IMAGES] = {(hsize_t)shape->n, (hsize_t)shape->h, (hsize_t)shape->w, (hsize_t)shape->c};
    hsize_t chunk[RANK_IMAGES] = {1, dims[1], dims[2], dims[3]}; /* one example per chunk */
    w->images = create_dataset(w, "images", H5T_STD_U8LE, RANK_IMAGES, dims, chunk, err);
    if (w->images < 0) return -1;
    w->examples = create_dataset(w, "examples", w->name_type, 1, dims, NULL, err);
    return w->examples < 0 ? -1 : 0;
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
                     abp_err *err) {
    quiet_hdf5();
    /* A rank that cannot pack its names still takes part in both collective writes, with no
     * rows, so that the others are not left waiting; it reports afterwards. */
    int rc = pack_names(w, count, names, err);
    int64_t rows = rc == 0 ? count : 0;
    if (transfer_rows(w->images, H5T_NATIVE_UINT8, lo, rows, w->collective, (void *)pixels, 1) < 0 && rc == 0)
        rc = abp_fail(err, "%s: cannot write rows [%lld, %lld) of /images", w->label, (long long)lo,
                      (long long)(lo + count));
    if (transfer_rows(w->examples, w->name_type, lo, rows, w->collective, w->packed, 1) < 0 && rc == 0)
        rc = abp_fail(err, "%s: cannot write rows [%lld, %lld) of /examples", w->label, (long long)lo,
                      (long long)(lo + count));
    return rc;
}

int abp_h5data_finish(abp_h5data_writer *w, abp_err *err) {
    quiet_hdf5();
    if (!w) return 0;
    int rc = 0;
    if (w->examples >= 0) H5Dclose(w->examples);
    if (w->images >= 0) H5Dclose(w->images);
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
