/* Labels of examples (abp_labels_read, abp/io.h): an IDX labels file, or an HDF5 file with a
 * one-dimensional integer dataset /labels. The HDF5 form is what h5py writes from a NumPy
 * array (f["labels"] = y) and what abp prepare --labels stores next to /images, so one data
 * set file can carry its images and their labels. Whatever the stored integer type, a label
 * must be 0 to 255: abp keeps one byte per example. Read by one process, without MPI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "abp/io.h"
#include "h5data.h"
#include "h5util.h"
#include "idx.h"

/* The stored type's class in words, for the message that refuses it. */
static const char *class_words(H5T_class_t c) {
    switch (c) {
    case H5T_FLOAT: return "floating-point numbers";
    case H5T_STRING: return "strings";
    case H5T_COMPOUND: return "compound records";
    case H5T_ENUM: return "enumeration values";
    default: return "values that are not integers";
    }
}

static int read_h5_labels(const char *path, uint8_t **labels, int64_t *n, abp_err *err) {
    abp_h5util_quiet();
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return abp_fail(err, "%s: truncated or damaged HDF5 file", path);
    hid_t dset = -1;
    int64_t *wide = NULL;
    int rc = -1;
    int exists = abp_h5util_link_exists(file, "labels");
    if (exists <= 0) {
        abp_fail(err, "%s: an HDF5 file without /labels (one integer label per example; abp prepare --labels "
                 "writes it)", path);
        goto done;
    }
    int ndim;
    int64_t dims[H5S_MAX_RANK];
    if ((dset = abp_h5util_open_dataset(path, file, "labels", &ndim, dims, err)) < 0) goto done;
    H5T_class_t cls = abp_h5util_dataset_class(dset);
    if (cls != H5T_INTEGER) {
        abp_fail(err, "%s: /labels holds %s; labels are whole numbers 0 to 255", path, class_words(cls));
        goto done;
    }
    if (ndim != 1) {
        abp_fail(err, "%s: /labels has %d dimensions; expected 1 (one label per example)", path, ndim);
        goto done;
    }
    int64_t count = dims[0];
    wide = malloc(sizeof *wide * (size_t)(count > 0 ? count : 1));
    *labels = malloc((size_t)(count > 0 ? count : 1));
    if (!wide || !*labels) {
        abp_fail(err, "%s: out of memory for %lld labels", path, (long long)count);
        goto done;
    }
    /* HDF5 converts any stored integer type to int64 (clamping an out-of-range uint64). */
    if (count > 0 && H5Dread(dset, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, wide) < 0) {
        abp_fail(err, "%s: cannot read /labels (damaged file?)", path);
        goto done;
    }
    for (int64_t i = 0; i < count; i++) {
        if (wide[i] < 0 || wide[i] > 255) {
            abp_fail(err, "%s: /labels[%lld] is %lld; labels must be 0 to 255", path, (long long)i, (long long)wide[i]);
            goto done;
        }
        (*labels)[i] = (uint8_t)wide[i];
    }
    *n = count;
    rc = 0;
done:
    if (rc) {
        free(*labels);
        *labels = NULL;
    }
    free(wide);
    if (dset >= 0) H5Dclose(dset);
    H5Fclose(file);
    return rc;
}

int abp_labels_read(const char *path, uint8_t **labels, int64_t *n, abp_err *err) {
    *labels = NULL;
    *n = 0;
    unsigned char head[8] = {0};
    FILE *f = fopen(path, "rb");
    size_t got = f ? fread(head, 1, sizeof head, f) : 0;
    if (f) fclose(f);
    if (got == sizeof head && abp_h5data_has_magic(head)) return read_h5_labels(path, labels, n, err);
    return abp_idx_read_labels(path, labels, n, err); /* it says why a file cannot be opened */
}
