/* The observation masks of a shard, a byte per value (1 observed, 0 missing): generated from
 * --mask (a pure function of the seed and the example id), or read from the data set's own
 * /masks. One function, so that abp train and abp complete see a stored mask exactly as they
 * would see the same mask generated. */
#include <stdlib.h>
#include <string.h>

#include "abp/train.h"

int abp_shard_masks(const char *data, const abp_mask_spec *spec, uint64_t seed, int64_t lo,
                    int64_t hi, abp_shape ys, unsigned char **masks, abp_err *err) {
    *masks = NULL;
    int64_t dy = abp_shape_numel(ys), n = hi - lo;
    /* Only an abp data set can hold masks: other paths are not even opened again. */
    char format[32];
    abp_data_info info = {0};
    if (data && data[0] && abp_h5_format(data, format, sizeof format, NULL) == 0 && !strcmp(format, "abp-images") &&
        abp_data_probe(data, &info, err))
        return -1;
    if (info.has_masks) {
        if (spec->kind != ABP_MASK_NONE)
            return abp_fail(err, "--mask: %s holds its own masks (/masks); use them (no --mask) or a data set without", data);
        unsigned char *m = abp_alloc((size_t)((n > 0 ? n : 1) * dy), err);
        if (!m) return -1;
        if (abp_data_load_masks(data, lo, hi, ys.c, ys.h, ys.w, m, err)) {
            abp_free(m);
            return -1;
        }
        *masks = m;
        return 0;
    }
    if (spec->kind == ABP_MASK_NONE) return 0;
    float *row = abp_alloc(sizeof(float) * (size_t)dy, err);
    unsigned char *m = row ? abp_alloc((size_t)((n > 0 ? n : 1) * dy), err) : NULL;
    if (!m) {
        abp_free(row);
        return -1;
    }
    for (int64_t i = 0; i < n; i++) {
        abp_mask_make(spec, seed, lo + i, ys.c, ys.h, ys.w, row);
        for (int64_t e = 0; e < dy; e++) m[i * dy + e] = row[e] != 0.0f;
    }
    abp_free(row);
    *masks = m;
    return 0;
}
