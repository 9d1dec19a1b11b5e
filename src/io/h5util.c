/* HDF5 helpers shared by checkpoints and image data sets (see h5util.h). */
#include "h5util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---------------------------------------------------------------- keeping ranks in step */

void abp_h5util_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

int abp_h5util_agree(MPI_Comm comm, int rc, abp_err *err) {
    int rank, size;
    MPI_Comm_rank(comm, &rank);
    MPI_Comm_size(comm, &size);
    /* The lowest failing rank, or size when none failed. */
    int mine = rc == 0 ? size : rank, first;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
    if (first == size) return 0;
    abp_err shared = {{0}};
    if (rank == first && err) shared = *err;
    MPI_Bcast(shared.msg, (int)sizeof shared.msg, MPI_CHAR, first, comm);
    if (err) *err = shared;
    return -1;
}

/* ---------------------------------------------------------------- files and property lists */

hid_t abp_h5util_mpio_access(MPI_Comm comm) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && (H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL) < 0 || H5Pset_all_coll_metadata_ops(fapl, 1) < 0 ||
                      H5Pset_coll_metadata_write(fapl, 1) < 0)) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

hid_t abp_h5util_create_file(MPI_Comm comm, const char *path, const char *file, abp_err *err) {
    hid_t fapl = abp_h5util_mpio_access(comm);
    hid_t created = fapl < 0 ? -1 : H5Fcreate(file, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    if (created < 0) abp_fail(err, "%s: cannot create %s as an HDF5 file", path, file);
    return created;
}

hid_t abp_h5util_collective_transfer(void) {
    hid_t dxpl = H5Pcreate(H5P_DATASET_XFER);
    if (dxpl >= 0 && H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0) {
        H5Pclose(dxpl);
        return -1;
    }
    return dxpl;
}

/* ---------------------------------------------------------------- writing through PATH.tmp */

char *abp_h5util_tmp_name(const char *path, abp_err *err) {
    size_t size = strlen(path) + sizeof ".tmp";
    char *tmp = malloc(size);
    if (tmp) snprintf(tmp, size, "%s.tmp", path);
    else abp_fail(err, "%s: out of memory", path);
    return tmp;
}

int abp_h5util_create_empty(const char *path, const char *tmp, abp_err *err) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return abp_fail(err, "%s: cannot create %s (%s)", path, tmp, strerror(errno));
    close(fd);
    return 0;
}

/* ---------------------------------------------------------------- datasets and rows */

int abp_h5util_link_exists(hid_t loc, const char *name) {
    char prefix[1024];
    size_t len = strlen(name);
    if (len == 0 || len >= sizeof prefix) return 0;
    memcpy(prefix, name, len + 1);
    /* Each prefix that ends before a '/' (or at the end) must exist in turn. */
    for (size_t i = 1; i <= len; i++) {
        if (prefix[i] != '/' && prefix[i] != '\0') continue;
        prefix[i] = '\0';
        int found = H5Lexists(loc, prefix, H5P_DEFAULT) > 0;
        prefix[i] = name[i];
        if (!found) return 0;
    }
    return 1;
}

int abp_h5util_dataset_shape(hid_t dset, int64_t dims[H5S_MAX_RANK]) {
    hsize_t h[H5S_MAX_RANK];
    hid_t space = H5Dget_space(dset);
    int ndim = space < 0 ? -1 : H5Sget_simple_extent_dims(space, h, NULL);
    if (space >= 0) H5Sclose(space);
    for (int i = 0; i < ndim; i++) dims[i] = (int64_t)h[i];
    return ndim;
}

H5T_class_t abp_h5util_dataset_class(hid_t dset) {
    hid_t type = H5Dget_type(dset);
    H5T_class_t class = type < 0 ? H5T_NO_CLASS : H5Tget_class(type);
    if (type >= 0) H5Tclose(type);
    return class;
}

hid_t abp_h5util_open_dataset(const char *path, hid_t file, const char *name, int *ndim,
                              int64_t dims[H5S_MAX_RANK], abp_err *err) {
    if (!abp_h5util_link_exists(file, name)) {
        abp_fail(err, "%s: missing /%s", path, name);
        return -1;
    }
    hid_t dset = H5Dopen2(file, name, H5P_DEFAULT);
    *ndim = dset < 0 ? -1 : abp_h5util_dataset_shape(dset, dims);
    if (*ndim < 0) {
        if (dset >= 0) H5Dclose(dset);
        abp_fail(err, "%s: /%s is not a readable dataset", path, name);
        return -1;
    }
    return dset;
}

hid_t abp_h5util_select_rows(hid_t file_space, int64_t lo, int64_t rows) {
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
    count[0] = (hsize_t)rows; /* the other dimensions stay whole */
    if (H5Sselect_hyperslab(file_space, H5S_SELECT_SET, start, NULL, count, NULL) < 0) return -1;
    return H5Screate_simple(ndim, count, NULL);
}

/* The file space of dset with rows [lo, lo + rows) selected, and the matching memory
 * space; closes what it made and returns -1 on failure. */
static int row_spaces(hid_t dset, int64_t lo, int64_t rows, hid_t *file_space, hid_t *mem_space) {
    *file_space = H5Dget_space(dset);
    *mem_space = *file_space < 0 ? -1 : abp_h5util_select_rows(*file_space, lo, rows);
    if (*mem_space >= 0) return 0;
    if (*file_space >= 0) H5Sclose(*file_space);
    *file_space = -1;
    return -1;
}

int abp_h5util_read_rows(hid_t dset, hid_t mem_type, int64_t lo, int64_t rows, hid_t dxpl, void *buf) {
    hid_t file_space, mem_space;
    if (row_spaces(dset, lo, rows, &file_space, &mem_space) < 0) return -1;
    herr_t rc = H5Dread(dset, mem_type, mem_space, file_space, dxpl, buf);
    H5Sclose(mem_space);
    H5Sclose(file_space);
    return rc < 0 ? -1 : 0;
}

int abp_h5util_write_rows(hid_t dset, hid_t mem_type, int64_t lo, int64_t rows, hid_t dxpl,
                          const void *buf) {
    hid_t file_space, mem_space;
    if (row_spaces(dset, lo, rows, &file_space, &mem_space) < 0) return -1;
    herr_t rc = H5Dwrite(dset, mem_type, mem_space, file_space, dxpl, buf);
    H5Sclose(mem_space);
    H5Sclose(file_space);
    return rc < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- strings */

hid_t abp_h5util_fixed_string_type(size_t width) {
    hid_t type = H5Tcopy(H5T_C_S1);
    if (type >= 0 && (H5Tset_size(type, width) < 0 || H5Tset_strpad(type, H5T_STR_NULLTERM) < 0 ||
                      H5Tset_cset(type, H5T_CSET_UTF8) < 0)) {
        H5Tclose(type);
        return -1;
    }
    return type;
}

/* "PATH: cannot read rows [lo, hi) of /examples", and the like. */
static int fail_rows(const char *path, const char *doing, const char *what, int64_t lo, int64_t rows,
                     abp_err *err) {
    return abp_fail(err, "%s: %s rows [%lld, %lld) of %s", path, doing, (long long)lo, (long long)(lo + rows),
                    what);
}

/* Fixed-length names are read as stored (no conversion, so a collective read stays
 * collective) and then cut into C strings: up to the first zero, and without the trailing
 * spaces of a space-padded type. */
static int read_fixed_names(const char *path, const char *what, hid_t dset, hid_t type, int64_t lo, int64_t rows,
                            hid_t dxpl, char **names, abp_err *err) {
    size_t width = H5Tget_size(type);
    int space_padded = H5Tget_strpad(type) == H5T_STR_SPACEPAD;
    char *raw = width > 0 ? malloc((size_t)rows * width + 1) : NULL;
    /* Without memory this rank still joins the read, with no rows. */
    int rc = 0;
    if (abp_h5util_read_rows(dset, type, lo, raw ? rows : 0, dxpl, raw) < 0)
        rc = fail_rows(path, "cannot read", what, lo, rows, err);
    else if (!raw)
        rc = fail_rows(path, "out of memory reading", what, lo, rows, err);
    for (int64_t i = 0; i < rows && rc == 0; i++) {
        const char *row = raw + (size_t)i * width;
        size_t len = strnlen(row, width);
        while (space_padded && len > 0 && row[len - 1] == ' ') len--;
        names[i] = strndup(row, len);
        if (!names[i]) rc = fail_rows(path, "out of memory reading", what, lo, rows, err);
    }
    free(raw);
    return rc;
}

/* Variable-length names: HDF5 hands over pointers to strings it allocated, which are
 * copied into our own and given back. The memory type takes the stored character set,
 * since HDF5 does not convert between ASCII and UTF-8. */
static int read_variable_names(const char *path, const char *what, hid_t dset, hid_t type, int64_t lo,
                               int64_t rows, char **names, abp_err *err) {
    hid_t mem = H5Tcopy(H5T_C_S1);
    char **raw = calloc(rows > 0 ? (size_t)rows : 1, sizeof *raw);
    int rc = 0;
    if (!raw)
        rc = fail_rows(path, "out of memory reading", what, lo, rows, err);
    else if (mem < 0 || H5Tset_size(mem, H5T_VARIABLE) < 0 || H5Tset_cset(mem, H5Tget_cset(type)) < 0 ||
             abp_h5util_read_rows(dset, mem, lo, rows, H5P_DEFAULT, raw) < 0)
        rc = fail_rows(path, "cannot read", what, lo, rows, err);
    for (int64_t i = 0; i < rows && rc == 0; i++) {
        names[i] = strdup(raw[i] ? raw[i] : "");
        if (!names[i]) rc = fail_rows(path, "out of memory reading", what, lo, rows, err);
    }
    for (int64_t i = 0; raw && i < rows; i++) H5free_memory(raw[i]);
    free(raw);
    if (mem >= 0) H5Tclose(mem);
    return rc;
}

int abp_h5util_read_names(const char *path, const char *what, hid_t dset, hid_t type, int64_t lo, int64_t rows,
                          hid_t dxpl, char **names, abp_err *err) {
    if (H5Tis_variable_str(type) > 0) return read_variable_names(path, what, dset, type, lo, rows, names, err);
    return read_fixed_names(path, what, dset, type, lo, rows, dxpl, names, err);
}

/* An attribute's or a dataset's type, space and whole contents: the three calls that
 * differ between the two. */
static hid_t object_type(hid_t obj, int is_attr) { return is_attr ? H5Aget_type(obj) : H5Dget_type(obj); }
static hid_t object_space(hid_t obj, int is_attr) { return is_attr ? H5Aget_space(obj) : H5Dget_space(obj); }
static herr_t read_object(hid_t obj, int is_attr, hid_t mem, void *buf) {
    return is_attr ? H5Aread(obj, mem, buf) : H5Dread(obj, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
}

char *abp_h5util_read_scalar_string(hid_t obj) {
    int is_attr = H5Iget_type(obj) == H5I_ATTR;
    hid_t type = object_type(obj, is_attr);
    hid_t space = object_space(obj, is_attr);
    hid_t mem = H5Tcopy(H5T_C_S1);
    char *out = NULL;
    /* HDF5 converts between string lengths and paddings, but not between ASCII and UTF-8,
     * so the memory type takes the stored character set. */
    if (type >= 0 && space >= 0 && mem >= 0 && H5Tget_class(type) == H5T_STRING &&
        H5Sget_simple_extent_npoints(space) == 1 && H5Tset_cset(mem, H5Tget_cset(type)) >= 0) {
        if (H5Tis_variable_str(type) > 0) {
            char *s = NULL;
            if (H5Tset_size(mem, H5T_VARIABLE) >= 0 && read_object(obj, is_attr, mem, &s) >= 0)
                out = strdup(s ? s : "");
            if (s) H5free_memory(s);
        } else {
            /* One byte wider than stored, so HDF5 writes the terminating zero. */
            size_t size = H5Tget_size(type);
            out = calloc(size + 1, 1);
            if (out && (H5Tset_size(mem, size + 1) < 0 || read_object(obj, is_attr, mem, out) < 0)) {
                free(out);
                out = NULL;
            }
        }
    }
    if (mem >= 0) H5Tclose(mem);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    return out;
}

/* ---------------------------------------------------------------- attributes */

int abp_h5util_read_string_attr(const char *path, hid_t loc, const char *where, const char *name, char **out,
                                abp_err *err) {
    *out = NULL;
    if (H5Aexists(loc, name) <= 0) return abp_fail(err, "%s: missing attribute %s%s", path, where, name);
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    *out = attr < 0 ? NULL : abp_h5util_read_scalar_string(attr);
    if (attr >= 0) H5Aclose(attr);
    return *out ? 0 : abp_fail(err, "%s: attribute %s%s is not a readable string", path, where, name);
}

int abp_h5util_read_int_attr(const char *path, hid_t loc, const char *where, const char *name, hid_t mem_type,
                             void *out, abp_err *err) {
    if (H5Aexists(loc, name) <= 0) return abp_fail(err, "%s: missing attribute %s%s", path, where, name);
    hid_t attr = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t type = attr < 0 ? -1 : H5Aget_type(attr);
    hid_t space = attr < 0 ? -1 : H5Aget_space(attr);
    int ok = type >= 0 && space >= 0 && H5Tget_class(type) == H5T_INTEGER &&
             H5Sget_simple_extent_npoints(space) == 1 && H5Aread(attr, mem_type, out) >= 0;
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (attr >= 0) H5Aclose(attr);
    return ok ? 0 : abp_fail(err, "%s: attribute %s%s is not a whole number", path, where, name);
}

int abp_h5util_write_attr(const char *path, hid_t loc, const char *name, hid_t file_type, hid_t mem_type,
                          const void *value, abp_err *err) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr = space < 0 ? -1 : H5Acreate2(loc, name, file_type, space, H5P_DEFAULT, H5P_DEFAULT);
    int ok = attr >= 0 && H5Awrite(attr, mem_type, value) >= 0;
    if (attr >= 0) H5Aclose(attr);
    if (space >= 0) H5Sclose(space);
    return ok ? 0 : abp_fail(err, "%s: cannot write attribute %s", path, name);
}

int abp_h5util_write_string_attr(const char *path, hid_t loc, const char *name, const char *value, abp_err *err) {
    hid_t type = H5Tcopy(H5T_C_S1);
    /* A variable-length string is written from a pointer to the pointer. */
    int rc = type < 0 || H5Tset_size(type, H5T_VARIABLE) < 0 || H5Tset_cset(type, H5T_CSET_UTF8) < 0
                 ? abp_fail(err, "%s: cannot make a string type", path)
                 : abp_h5util_write_attr(path, loc, name, type, type, &value, err);
    if (type >= 0) H5Tclose(type);
    return rc;
}
