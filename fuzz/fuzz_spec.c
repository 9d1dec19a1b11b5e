/* Fuzzes the model spec parser and network builder (abp train --model 'z 30 | ...'). */
#include "abp/nn.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0; /* --model takes at most 4095 bytes */
    char *spec = fuzz_text(data, size);
    if (!spec) return 0;
    abp_net net;
    abp_err err = {{0}};
    /* A valid spec may still ask for a huge network: build only what fits a fuzzer. */
    if (abp_net_build(spec, 0, 1, &net, &err) == 0) abp_net_free(&net);
    char *resized = NULL;
    if (abp_spec_resize_latent(spec, 3, 2, &resized, &err) == 0) free(resized);
    free(spec);
    return 0;
}
