/* Side-by-side comparison grids: blocks of examples, one row per image set. */
#include <string.h>

#include "abp/io.h"

int abp_png_write_compare(const char *path, const float *const *sets, int nsets, int n, int c,
                          int h, int w, int cols, abp_err *err) {
    if (n < 1 || nsets < 1) return abp_fail(err, "%s: nothing to draw", path);
    if (cols > n) cols = n;
    int blocks = (n + cols - 1) / cols, tiles = blocks * nsets * cols;
    int64_t per = (int64_t)c * h * w;
    float *grid = abp_alloc(sizeof(float) * (size_t)(tiles * per), err);
    if (!grid) return -1;
    for (int64_t k = 0; k < tiles * per; k++) grid[k] = -1.0f; /* empty tiles are black */
    for (int i = 0; i < n; i++) {
        int block = i / cols, col = i % cols;
        for (int s = 0; s < nsets; s++) {
            int tile = (block * nsets + s) * cols + col;
            memcpy(grid + tile * per, sets[s] + i * per, sizeof(float) * (size_t)per);
        }
    }
    int rc = abp_png_write_grid(path, grid, tiles, c, h, w, cols, err);
    abp_free(grid);
    return rc;
}
