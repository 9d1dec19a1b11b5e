/* im2col and col2im (src/nn/conv.c) against their definitions, bitwise.
 *
 * The library has three forms: rows split by phase (im2col's strided rows from 32 wide;
 * col2im's from 16 when the 2-D planes do not fit), whole planes split into 2-D phase planes
 * with a zero border (im2col's narrower strided planes, col2im's wherever they fit), and the
 * direct loops (stride 1, or planes too large for either). The geometries below are grouped
 * by the form they take. The references are the plain definitions:
 * im2col copies x[ch][i][y*sh - ph + ki][x*sw - pw + kj] (0 outside the image), col2im zeroes
 * the image and adds every column's value into its pixel, kernel positions (ki, kj) in
 * ascending order. Both must give the same floats for strides 1 to 10, paddings, 1-D rows,
 * rows too short or too wide for the phase split, and on 1 and 2 threads. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "abp/nn.h"
#include "abp/rng.h"
#include "check.h"

static void im2col_reference(const float *img, float *cols, int c, int n, int ih, int iw, int oh, int ow,
                             int kh, int kw, int sh, int sw, int ph, int pw) {
    int64_t ncols = (int64_t)n * oh * ow;
    for (int ch = 0; ch < c; ch++)
        for (int ki = 0; ki < kh; ki++)
            for (int kj = 0; kj < kw; kj++)
                for (int i = 0; i < n; i++)
                    for (int y = 0; y < oh; y++)
                        for (int x = 0; x < ow; x++) {
                            int iy = y * sh - ph + ki, ix = x * sw - pw + kj;
                            float v = iy >= 0 && iy < ih && ix >= 0 && ix < iw
                                          ? img[(((int64_t)ch * n + i) * ih + iy) * iw + ix] : 0.0f;
                            cols[((int64_t)(ch * kh + ki) * kw + kj) * ncols + ((int64_t)i * oh + y) * ow + x] = v;
                        }
}

static void col2im_reference(const float *cols, float *img, int c, int n, int ih, int iw, int oh, int ow,
                             int kh, int kw, int sh, int sw, int ph, int pw) {
    int64_t ncols = (int64_t)n * oh * ow;
    memset(img, 0, sizeof(float) * (size_t)c * (size_t)n * (size_t)ih * (size_t)iw);
    for (int ch = 0; ch < c; ch++)
        for (int ki = 0; ki < kh; ki++)
            for (int kj = 0; kj < kw; kj++)
                for (int i = 0; i < n; i++)
                    for (int y = 0; y < oh; y++)
                        for (int x = 0; x < ow; x++) {
                            int iy = y * sh - ph + ki, ix = x * sw - pw + kj;
                            if (iy < 0 || iy >= ih || ix < 0 || ix >= iw) continue;
                            img[(((int64_t)ch * n + i) * ih + iy) * iw + ix] +=
                                cols[((int64_t)(ch * kh + ki) * kw + kj) * ncols + ((int64_t)i * oh + y) * ow + x];
                        }
}

static int64_t differing(const float *a, const float *b, int64_t n) {
    int64_t k = 0;
    for (int64_t e = 0; e < n; e++) k += memcmp(&a[e], &b[e], sizeof(float)) != 0;
    return k;
}

/* One geometry: the image is c x ih x iw per example, the kernel grid oh x ow. */
static void check_geometry(const char *what, int c, int n, int ih, int iw, int kh, int kw, int sh, int sw,
                           int ph, int pw) {
    int oh = (ih + 2 * ph - kh) / sh + 1, ow = (iw + 2 * pw - kw) / sw + 1;
    int64_t nimg = (int64_t)c * n * ih * iw, ncols = (int64_t)c * kh * kw * n * oh * ow;
    float *img = malloc(sizeof(float) * (size_t)nimg), *cols = malloc(sizeof(float) * (size_t)ncols);
    float *want = malloc(sizeof(float) * (size_t)(ncols > nimg ? ncols : nimg));
    float *got = malloc(sizeof(float) * (size_t)(ncols > nimg ? ncols : nimg));
    abp_rng_normal(11, 99, 1, 0, 0, img, nimg);
    abp_rng_normal(11, 99, 2, 0, 0, cols, ncols);
    cols[ncols / 3] = -0.0f; /* a negative zero must come out as the reference's */
    im2col_reference(img, want, c, n, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw);
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        memset(got, 0x7f, sizeof(float) * (size_t)ncols); /* nothing left unwritten */
        abp_im2col(img, got, c, n, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw);
        int64_t k = differing(want, got, ncols);
        CHECK(k == 0, "%s, %d thread%s: im2col differs at %lld of %lld values", what, threads, threads > 1 ? "s" : "",
              (long long)k, (long long)ncols);
    }
    col2im_reference(cols, want, c, n, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw);
    for (int threads = 1; threads <= 2; threads++) {
        omp_set_num_threads(threads);
        memset(got, 0x7f, sizeof(float) * (size_t)nimg);
        abp_col2im(cols, got, c, n, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw);
        int64_t k = differing(want, got, nimg);
        CHECK(k == 0, "%s, %d thread%s: col2im differs at %lld of %lld values", what, threads, threads > 1 ? "s" : "",
              (long long)k, (long long)nimg);
    }
    free(img), free(cols), free(want), free(got);
}

int main(void) {
    /* im2col splits rows (32 wide and more), col2im takes the 2-D planes. deconv k5 s2 of
     * the generators, as its backward im2col and forward col2im see it: the image is the
     * deconv's output (2x the grid), p = 2, and the output padding of 1 leaves the last row
     * and column to fewer kernel positions. */
    check_geometry("rows split (im2col), 2-D (col2im): deconv k5 s2 (32x32 from 16x16)", 3, 4, 32, 32, 5, 5, 2, 2, 2,
                   2);
    check_geometry("rows split (im2col), 2-D (col2im): conv k5 s(2,3) p0", 2, 3, 17, 40, 5, 5, 2, 3, 0, 0);
    check_geometry("rows split (im2col), 2-D (col2im): deconv1d k25 s10 (1-D)", 2, 3, 1, 200, 1, 25, 1, 10, 0, 12);
    check_geometry("rows split (im2col), 2-D (col2im): deconv1d k7 s4", 3, 4, 1, 48, 1, 7, 1, 4, 0, 3);
    /* both split rows: the plane fits the buffer, its 2-D phase planes with borders do not */
    check_geometry("rows split: a 128 x 128 plane, k5 s2 p2", 1, 2, 128, 128, 5, 5, 2, 2, 2, 2);
    /* 2-D phase planes for both: strided planes under 32 wide */
    check_geometry("2-D: deconv k5 s2 (mnist28's 14x14 from 7x7)", 4, 5, 14, 14, 5, 5, 2, 2, 2, 2);
    check_geometry("2-D: deconv k5 s2 (16x16 from 8x8)", 4, 5, 16, 16, 5, 5, 2, 2, 2, 2);
    check_geometry("2-D: deconv k5 s2, odd sizes 17 x 19", 3, 4, 17, 19, 5, 5, 2, 2, 2, 2);
    check_geometry("2-D: conv k4 s2 p1 (28x28)", 3, 4, 28, 28, 4, 4, 2, 2, 1, 1);
    check_geometry("2-D: conv k5 s(2,3) p0", 2, 3, 17, 20, 5, 5, 2, 3, 0, 0);
    check_geometry("2-D: 1-D rows k7 s4, 24 wide", 2, 3, 1, 24, 1, 7, 1, 4, 0, 3);
    check_geometry("2-D: deconv k5 s2 (8x8 from 4x4)", 3, 4, 8, 8, 5, 5, 2, 2, 2, 2);
    check_geometry("2-D: deconv k5 s2, odd size 13", 3, 4, 13, 13, 5, 5, 2, 2, 2, 2);
    check_geometry("2-D: deconv k5 s2, odd size 15", 3, 4, 15, 15, 5, 5, 2, 2, 2, 2);
    check_geometry("2-D: odd sizes 13 x 15, k4 s2 p1", 2, 3, 13, 15, 4, 4, 2, 2, 1, 1);
    check_geometry("2-D: stride 3, k5 p2", 2, 3, 13, 11, 5, 5, 3, 3, 2, 2);
    check_geometry("2-D: k2 s3 p0 (phases without taps)", 2, 3, 9, 10, 2, 2, 3, 3, 0, 0);
    check_geometry("2-D: strides (3, 1), k3 p1", 2, 3, 12, 9, 3, 3, 3, 1, 1, 1);
    check_geometry("2-D: 1-D rows k7 s4", 2, 3, 1, 12, 1, 7, 1, 4, 0, 3);
    check_geometry("2-D: 1-D rows k25 s10, kernel wider than the image", 2, 3, 1, 12, 1, 25, 1, 10, 0, 12);
    check_geometry("2-D: k5 s2 p2, kernel larger than the 2x2 grid", 3, 4, 4, 4, 5, 5, 2, 2, 2, 2);
    check_geometry("2-D: k7 s2 p3, 3x3 image", 3, 4, 3, 3, 7, 7, 2, 2, 3, 3);
    check_geometry("2-D: k5 s3 p2, 2x2 image under one stride", 2, 3, 2, 2, 5, 5, 3, 3, 2, 2);
    /* the direct loops: stride 1; planes whose phase planes do not fit the buffer */
    check_geometry("direct: conv k3 s1 p1", 3, 6, 9, 11, 3, 3, 1, 1, 1, 1);
    check_geometry("direct: 1-D rows of 20000", 1, 2, 1, 20000, 1, 5, 1, 2, 0, 2);
    check_geometry("direct: a 2000 x 8 plane, too tall for the 2-D planes", 1, 2, 2000, 8, 5, 5, 2, 2, 2, 2);
    /* large enough that every loop is split over the threads */
    check_geometry("threaded 2-D, k5 s2 (16x16)", 16, 16, 16, 16, 5, 5, 2, 2, 2, 2);
    check_geometry("threaded rows split (im2col), 2-D (col2im), k5 s2 (32x32)", 8, 8, 32, 32, 5, 5, 2, 2, 2, 2);
    check_geometry("threaded rows split, k5 s2 (128x128)", 2, 2, 128, 128, 5, 5, 2, 2, 2, 2);
    check_geometry("threaded 2-D, k5 s2 (14x14)", 16, 16, 14, 14, 5, 5, 2, 2, 2, 2);
    return check_summary("test_im2col");
}
