/* Fuzzes the WAV reader: header, then the samples. */
#include "abp/io.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[512];
    if (fuzz_write_file(data, size, ".wav", path, sizeof path)) return 0;
    int64_t frames;
    int rate;
    abp_err err = {{0}};
    float *samples = NULL;
    if (abp_wav_info(path, &frames, &rate, &err) == 0 && abp_wav_read(path, &samples, &frames, &rate, &err) == 0)
        abp_free(samples);
    unlink(path);
    return 0;
}
