/* The body of the data-loader harnesses: abp's data loader (abp_data_probe, then
 * abp_data_load of the first examples, as abp train does) on a file of any kind it detects
 * by content: IDX, WAV, HDF5 data set, or an image. fuzz_idx.c, fuzz_images.c and
 * fuzz_h5data.c include it, each with the file-name suffix of its kind and a corpus of its
 * own, so that each fuzzer starts from (and mutates) inputs of one format. */
#include "abp/io.h"
#include "fuzz_file.h"

#ifndef FUZZ_SUFFIX
#define FUZZ_SUFFIX ""
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    /* Keep a decoded image within what a fuzzer's memory limit allows: 2^22 pixels. */
    setenv("ABP_MAX_PIXELS", "4194304", 1);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    if (fuzz_write_file(data, size, FUZZ_SUFFIX, path, sizeof path)) return 0;
    abp_data_info info;
    abp_err err = {{0}};
    if (abp_data_probe(path, &info, &err) == 0) {
        /* The native shape, bounded, and a small one that makes the loader resize. */
        int c = info.c == 3 ? 3 : 1;
        int h = info.h > 0 && info.h <= 256 ? info.h : 8, w = info.w > 0 && info.w <= 4096 ? info.w : 8;
        int64_t hi = info.n < 3 ? info.n : 3;
        abp_images im = {0};
        if (abp_data_load(path, 0, hi, c, h, w, &im, &err) == 0) abp_images_free(&im);
        if (abp_data_load(path, 0, hi > 1 ? 1 : hi, 1, 5, 7, &im, &err) == 0) abp_images_free(&im);
    }
    unlink(path);
    return 0;
}
