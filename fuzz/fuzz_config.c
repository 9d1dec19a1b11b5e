/* Fuzzes the parser of a checkpoint's /config (the settings a run was trained with). */
#include "abp/train.h"
#include "fuzz_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *text = fuzz_text(data, size);
    if (!text) return 0;
    abp_train_cfg cfg;
    abp_err err = {{0}};
    if (abp_train_cfg_parse(text, &cfg, &err) == 0) {
        char *again = abp_train_cfg_format(&cfg, cfg.model);
        free(again);
    }
    free(text);
    return 0;
}
