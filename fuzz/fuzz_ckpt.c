/* Fuzzes the checkpoint reader as abp sample and abp train --resume use it: open (format,
 * header, /config, shapes), every array's shape and bytes, the latents and names, and
 * abp_ckpt_verify. MPI is started once, as a singleton, in LLVMFuzzerInitialize. */
#include <mpi.h>

#include "abp/io.h"
#include "abp/tensor.h"
#include "fuzz_file.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void finalize(void) { MPI_Finalize(); }

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    MPI_Init(argc, argv);
    atexit(finalize);
    return 0;
}

static void read_everything(abp_ckpt *ck) {
    abp_err err = {{0}};
    abp_ckpt_array *arrays = NULL;
    int n = 0;
    if (abp_ckpt_list(ck, &arrays, &n, &err) == 0) {
        for (int k = 0; k < n; k++) {
            int64_t count = 1;
            /* dims come from the file: stop multiplying past the cap (a crafted file's
             * dims overflow int64_t, which UBSan found here in the harness itself) */
            for (int j = 0; j < arrays[k].ndim && count > 0 && count <= (1 << 22); j++)
                count = arrays[k].dims[j] > 0 && arrays[k].dims[j] <= (1 << 22) ? count * arrays[k].dims[j] : -1;
            if (count <= 0 || count > (1 << 22)) continue;
            float *buf = abp_alloc(sizeof(float) * (size_t)count, &err);
            if (buf && abp_ckpt_read_array(ck, arrays[k].path, buf, arrays[k].ndim, arrays[k].dims, &err)) {
            }
            abp_free(buf);
        }
        free(arrays);
    }
    int64_t rows, dims[4];
    int ndim;
    if (abp_ckpt_latent_shape(ck, &rows, &ndim, dims, &err) == 0 && rows > 0) {
        int64_t per = 1;
        for (int j = 0; j < ndim; j++) per *= dims[j];
        int64_t hi = rows < 4 ? rows : 4;
        if (per > 0 && per < (1 << 20)) {
            float *z = abp_alloc(sizeof(float) * (size_t)(hi * per), &err);
            if (z && abp_ckpt_read_latents(ck, 0, hi, z, &err)) {
            }
            abp_free(z);
        }
        char **names = NULL;
        if (abp_ckpt_read_names(ck, 0, hi, &names, &err) == 0) {
            for (int64_t i = 0; i < hi; i++) free(names[i]);
            free(names);
        }
    }
    if (abp_ckpt_verify(ck, NULL, &err)) {
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    if (fuzz_write_file(data, size, ".h5", path, sizeof path)) return 0;
    abp_ckpt *ck;
    abp_ckpt_meta meta;
    abp_err err = {{0}};
    if (abp_ckpt_open(MPI_COMM_SELF, path, &ck, &meta, &err) == 0) {
        read_everything(ck);
        abp_ckpt_close(ck);
    }
    unlink(path);
    return 0;
}
