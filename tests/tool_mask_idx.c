/* Writes the masks abp train --mask SPEC --seed SEED generates for examples 0..N-1 of H x W
 * as an IDX image file (255 observed, 0 occluded), for tests of abp prepare --masks: a data
 * set that stores these very masks must train exactly as the generated ones do.
 * Usage: mask_idx SPEC SEED N H W OUT.idx */
#include <stdio.h>
#include <stdlib.h>

#include "abp/infer.h"

static void put_be32(unsigned v, FILE *f) {
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8), (unsigned char)v};
    fwrite(b, 1, 4, f);
}

int main(int argc, char **argv) {
    if (argc != 7) {
        fprintf(stderr, "usage: mask_idx SPEC SEED N H W OUT.idx\n");
        return 2;
    }
    abp_err err = {{0}};
    abp_mask_spec spec;
    if (abp_mask_parse(argv[1], &spec, &err)) {
        fprintf(stderr, "mask_idx: %s\n", err.msg);
        return 2;
    }
    unsigned long long seed = strtoull(argv[2], NULL, 10);
    int n = atoi(argv[3]), h = atoi(argv[4]), w = atoi(argv[5]);
    float *mask = malloc(sizeof(float) * (size_t)h * (size_t)w);
    FILE *f = fopen(argv[6], "wb");
    if (!mask || !f || n < 1 || h < 1 || w < 1) {
        fprintf(stderr, "mask_idx: cannot write %s\n", argv[6]);
        return 1;
    }
    put_be32(0x00000803u, f);
    put_be32((unsigned)n, f);
    put_be32((unsigned)h, f);
    put_be32((unsigned)w, f);
    for (int i = 0; i < n; i++) {
        abp_mask_make(&spec, seed, i, 1, h, w, mask);
        for (int k = 0; k < h * w; k++) fputc(mask[k] != 0.0f ? 255 : 0, f);
    }
    free(mask);
    return fclose(f) == 0 ? 0 : 1;
}
