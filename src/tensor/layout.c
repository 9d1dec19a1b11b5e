/* Conversions between row-per-example storage and the CNS activation layout: pure copies,
 * split over abp's threads by (channel, example). */
#include "abp/tensor.h"

void abp_rows_to_cns(const float *rows, float *cns, int n, abp_shape s) {
    int64_t pix = abp_shape_pixels(s), per = abp_shape_numel(s);
#pragma omp parallel for collapse(2) schedule(static) if (per * n >= ABP_PARALLEL_MIN)
    for (int c = 0; c < s.c; c++)
        for (int i = 0; i < n; i++) {
            const float *src = rows + (int64_t)i * per + (int64_t)c * pix;
            float *dst = cns + ((int64_t)c * n + i) * pix;
            for (int64_t p = 0; p < pix; p++) dst[p] = src[p];
        }
}

void abp_cns_to_rows(const float *cns, float *rows, int n, abp_shape s) {
    int64_t pix = abp_shape_pixels(s), per = abp_shape_numel(s);
#pragma omp parallel for collapse(2) schedule(static) if (per * n >= ABP_PARALLEL_MIN)
    for (int c = 0; c < s.c; c++)
        for (int i = 0; i < n; i++) {
            const float *src = cns + ((int64_t)c * n + i) * pix;
            float *dst = rows + (int64_t)i * per + (int64_t)c * pix;
            for (int64_t p = 0; p < pix; p++) dst[p] = src[p];
        }
}

void abp_gather_rows_to_cns(const float *rows, const int64_t *idx, float *cns, int n, abp_shape s) {
    int64_t pix = abp_shape_pixels(s), per = abp_shape_numel(s);
#pragma omp parallel for collapse(2) schedule(static) if (per * n >= ABP_PARALLEL_MIN)
    for (int c = 0; c < s.c; c++)
        for (int i = 0; i < n; i++) {
            const float *src = rows + idx[i] * per + (int64_t)c * pix;
            float *dst = cns + ((int64_t)c * n + i) * pix;
            for (int64_t p = 0; p < pix; p++) dst[p] = src[p];
        }
}
