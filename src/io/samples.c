/* Sample files: what abp sample writes for other tools (h5py, numpy) to read.
 *
 *   /          attrs: format = "abp-samples", format_version = 1, prior ("gmm:10"), seed,
 *                     batchnorm ("running" | "prior"), checkpoint (the file sampled)
 *   /samples   float32 [n, h, w, c] on [-1, 1]: the layout numpy and image libraries expect
 *   /z         float32 [n, latent values]: the latent each sample was made from
 *
 * Written by one process (serial HDF5 through the default driver) to PATH.tmp, renamed over
 * PATH when closed, so a failure never leaves a damaged PATH. */
#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/io.h"
#include "h5util.h"

/* Writes a 2-D or 4-D float dataset from host memory. */
static int write_floats(const char *path, hid_t file, const char *name, int ndim, const hsize_t *dims,
                        const float *data, abp_err *err) {
    hid_t space = H5Screate_simple(ndim, dims, NULL);
    hid_t dset = space >= 0 ? H5Dcreate2(file, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT)
                            : -1;
    herr_t st = dset >= 0 ? H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : -1;
    if (dset >= 0) H5Dclose(dset);
    if (space >= 0) H5Sclose(space);
    if (st < 0) return abp_fail(err, "%s: cannot write %s", path, name);
    return 0;
}

int abp_samples_write(const char *path, const abp_samples_info *info, const float *images, int n, int c, int h,
                      int w, const float *z, int64_t dz, abp_err *err) {
    abp_h5util_quiet();
    char *tmp = abp_h5util_tmp_name(path, err);
    if (!tmp) return -1;
    int64_t per = (int64_t)c * h * w;
    float *hwc = abp_alloc(sizeof(float) * (size_t)((int64_t)n * per), err);
    hid_t file = -1;
    int rc = -1;
    if (!hwc) goto done;
    /* planar c x h x w per example -> h x w x c */
    for (int64_t i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++)
            for (int64_t p = 0; p < (int64_t)h * w; p++) hwc[i * per + p * c + ch] = images[i * per + ch * h * w + p];
    file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) {
        abp_fail(err, "%s: cannot create %s (does its folder exist and is it writable?)", path, tmp);
        goto done;
    }
    int version = 1;
    hsize_t sdims[4] = {(hsize_t)n, (hsize_t)h, (hsize_t)w, (hsize_t)c}, zdims[2] = {(hsize_t)n, (hsize_t)dz};
    if (abp_h5util_write_string_attr(path, file, "format", "abp-samples", err) ||
        abp_h5util_write_attr(path, file, "format_version", H5T_STD_I32LE, H5T_NATIVE_INT, &version, err) ||
        abp_h5util_write_string_attr(path, file, "prior", info->prior, err) ||
        abp_h5util_write_attr(path, file, "seed", H5T_STD_U64LE, H5T_NATIVE_UINT64, &info->seed, err) ||
        abp_h5util_write_string_attr(path, file, "batchnorm", info->batchnorm, err) ||
        abp_h5util_write_string_attr(path, file, "checkpoint", info->checkpoint, err) ||
        write_floats(path, file, "/samples", 4, sdims, hwc, err) || write_floats(path, file, "/z", 2, zdims, z, err))
        goto done;
    herr_t closed = H5Fclose(file);
    file = -1;
    if (closed < 0) {
        abp_fail(err, "%s: cannot finish writing %s", path, tmp);
        goto done;
    }
    if (rename(tmp, path) != 0) {
        abp_fail(err, "%s: cannot rename %s over it: %s", path, tmp, strerror(errno));
        goto done;
    }
    rc = 0;
done:
    if (file >= 0) H5Fclose(file);
    if (rc) remove(tmp);
    free(tmp);
    abp_free(hwc);
    return rc;
}

int abp_samples_read(const char *path, abp_images *out, abp_err *err) {
    abp_h5util_quiet();
    memset(out, 0, sizeof *out);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) return abp_fail(err, "%s: cannot open it as HDF5", path);
    int ndim = 0, rc = -1;
    int64_t dims[H5S_MAX_RANK];
    float *hwc = NULL;
    hid_t dset = abp_h5util_open_dataset(path, file, "/samples", &ndim, dims, err);
    if (dset < 0) goto done;
    if (ndim != 4 || dims[3] < 1 || dims[3] > 4) {
        abp_fail(err, "%s: /samples must be [n, h, w, c] with 1 to 4 channels", path);
        goto done;
    }
    int64_t n = dims[0], h = dims[1], w = dims[2], c = dims[3], per = h * w * c;
    hwc = abp_alloc(sizeof(float) * (size_t)(n * per + 1), err);
    out->data = hwc ? abp_alloc(sizeof(float) * (size_t)(n * per + 1), err) : NULL;
    if (!out->data) goto done;
    if (H5Dread(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, hwc) < 0) {
        abp_fail(err, "%s: cannot read /samples", path);
        goto done;
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t p = 0; p < h * w; p++) out->data[i * per + ch * h * w + p] = hwc[i * per + p * c + ch];
    out->n = n, out->c = (int)c, out->h = (int)h, out->w = (int)w;
    rc = 0;
done:
    if (dset >= 0) H5Dclose(dset);
    H5Fclose(file);
    abp_free(hwc);
    if (rc) {
        abp_free(out->data);
        memset(out, 0, sizeof *out);
    }
    return rc;
}
