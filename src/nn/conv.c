/* Convolution and transposed convolution ("deconvolution"), 2-D and 1-D (h = 1).
 *
 * Both are one GEMM over the whole batch plus an im2col or col2im. They are mirror images:
 * a convolution gathers kernel-sized patches of its input (im2col) and multiplies by W;
 * a transposed convolution multiplies its input by W^T and scatters the columns into its
 * output (col2im). The backward pass of each is the forward pass of the other. */
#include "abp/nn.h"
#include "layers.h"
#include "onednn.h"

#include <string.h>

/* The kernel positions x = 0..ow-1 whose input column x*s - p + k lies inside 0..iw-1 form
 * one run [*x0, *x1): computing it once per kernel column takes the bounds test out of the
 * innermost loops, which then vectorise. */
static void valid_run(int ow, int iw, int s, int p, int k, int *x0, int *x1) {
    int lo = 0, hi = ow;
    while (lo < hi && lo * s - p + k < 0) lo++;
    while (hi > lo && (hi - 1) * s - p + k >= iw) hi--;
    *x0 = lo;
    *x1 = hi;
}

/* A strided image row read or written at x*sw + off is, split by phase, contiguous: the
 * values at positions m*sw + r (phase r) sit side by side in a "phase-split" copy of the
 * row, phase 0 first. start[r] is where phase r begins; since x*sw + off = (x + q)*sw + r
 * for off = q*sw + r with 0 <= r < sw, position x*sw + off is element x + q of phase r.
 * So with strides above 1 im2col becomes a de-interleave of each input plane and then
 * memcpy's, and col2im contiguous adds into a phase-split accumulator and one interleave
 * per plane: loops the compiler vectorises, where the direct strided form (row[x*sw + off])
 * is a scalar gather or scatter. */
enum { PHASE_PLANE_MAX = 16384, PHASE_MAX = 64 }; /* one plane on a thread's stack (64 KB);
                                                    * larger planes and strides take the
                                                    * direct loops */

/* Short rows gain nothing from the split (CPU time, min of 12 calls, faces64's shapes at load
 * 11-21): an 8-wide row ran col2im and im2col 1.25x slower split, a 16-wide one im2col
 * 1.1-1.4x slower but col2im 0.6-0.9x, and from 32 wide both are 0.6-0.75x. im2col's narrower
 * strided planes take the 2-D phase split below instead, and col2im takes it wherever its
 * planes fit (faster still, at any width measured). */
static int phase_split_pays(int ih, int iw, int sw, int kw, int min_width) {
    return sw > 1 && iw >= min_width && (int64_t)ih * iw <= PHASE_PLANE_MAX && sw <= PHASE_MAX && kw <= PHASE_MAX;
}

/* Per kernel column kj: the run [x0, x1) of valid positions, and off = kj - pw as q, r. */
typedef struct kernel_column {
    int x0, x1, q, r;
} kernel_column;

static void kernel_columns(int ow, int iw, int sw, int pw, int kw, kernel_column *kc) {
    for (int kj = 0; kj < kw; kj++) {
        int off = kj - pw, r = ((off % sw) + sw) % sw;
        valid_run(ow, iw, sw, pw, kj, &kc[kj].x0, &kc[kj].x1);
        kc[kj].r = r;
        kc[kj].q = (off - r) / sw;
    }
}

static void phase_starts(int iw, int sw, int *start) {
    start[0] = 0;
    for (int r = 1; r < sw; r++) start[r] = start[r - 1] + (iw - (r - 1) + sw - 1) / sw;
}

static void deinterleave_row(const float *restrict row, float *restrict split, int iw, int sw,
                             const int *start) {
    if (sw == 2) { /* the generators' stride: one loop that reads the row in order */
        float *even = split, *odd = split + start[1];
        int half = iw / 2;
        for (int m = 0; m < half; m++) {
            even[m] = row[2 * m];
            odd[m] = row[2 * m + 1];
        }
        if (iw % 2) even[half] = row[iw - 1];
        return;
    }
    for (int r = 0; r < sw; r++) {
        float *dst = split + start[r];
        int count = (iw - r + sw - 1) / sw;
        for (int m = 0; m < count; m++) dst[m] = row[m * sw + r];
    }
}

static void interleave_row(const float *restrict split, float *restrict row, int iw, int sw,
                           const int *start) {
    if (sw == 2) {
        const float *even = split, *odd = split + start[1];
        int half = iw / 2;
        for (int m = 0; m < half; m++) {
            row[2 * m] = even[m];
            row[2 * m + 1] = odd[m];
        }
        if (iw % 2) row[iw - 1] = even[half];
        return;
    }
    for (int r = 0; r < sw; r++) {
        const float *src = split + start[r];
        int count = (iw - r + sw - 1) / sw;
        for (int m = 0; m < count; m++) row[m * sw + r] = src[m];
    }
}

/* One (channel, example) plane of im2col: src is its ih x iw image, dst its first column row
 * (row (ki, kj) at dst + (ki*kw + kj) * ncols). The direct form: strided reads. */
static void im2col_plane_direct(const float *src, float *cols, int64_t ncols, int ih, int iw, int oh,
                                int ow, int kh, int kw, int sh, int sw, int ph, int pw) {
    for (int ki = 0; ki < kh; ki++)
        for (int kj = 0; kj < kw; kj++) {
            float *dst = cols + (int64_t)(ki * kw + kj) * ncols;
            int x0, x1, off = kj - pw;
            valid_run(ow, iw, sw, pw, kj, &x0, &x1);
            for (int y = 0; y < oh; y++, dst += ow) {
                int iy = y * sh - ph + ki;
                if (iy < 0 || iy >= ih || x0 >= x1) {
                    memset(dst, 0, sizeof(float) * (size_t)ow);
                    continue;
                }
                const float *row = src + (int64_t)iy * iw;
                for (int x = 0; x < x0; x++) dst[x] = 0.0f;
                if (sw == 1) {
                    memcpy(dst + x0, row + x0 + off, sizeof(float) * (size_t)(x1 - x0));
                } else {
                    for (int x = x0; x < x1; x++) dst[x] = row[x * sw + off];
                }
                for (int x = x1; x < ow; x++) dst[x] = 0.0f;
            }
        }
}

/* The same, phase-split: the plane is de-interleaved into buf once, then every run a memcpy. */
static void im2col_plane_split(const float *src, float *cols, int64_t ncols, int ih, int iw, int oh,
                               int ow, int kh, int kw, int sh, int sw, int ph, const int *start,
                               const kernel_column *kc, float *buf) {
    for (int y = 0; y < ih; y++) deinterleave_row(src + (int64_t)y * iw, buf + (int64_t)y * iw, iw, sw, start);
    for (int ki = 0; ki < kh; ki++)
        for (int kj = 0; kj < kw; kj++) {
            float *dst = cols + (int64_t)(ki * kw + kj) * ncols;
            int x0 = kc[kj].x0, x1 = kc[kj].x1, at = start[kc[kj].r] + kc[kj].q;
            for (int y = 0; y < oh; y++, dst += ow) {
                int iy = y * sh - ph + ki;
                if (iy < 0 || iy >= ih || x0 >= x1) {
                    memset(dst, 0, sizeof(float) * (size_t)ow);
                    continue;
                }
                for (int x = 0; x < x0; x++) dst[x] = 0.0f;
                memcpy(dst + x0, buf + ((int64_t)iy * iw + at + x0), sizeof(float) * (size_t)(x1 - x0));
                for (int x = x1; x < ow; x++) dst[x] = 0.0f;
            }
        }
}

/* One plane of col2im, direct: zero the image plane, add every column row into it. */
static void col2im_plane_direct(const float *cols, float *dst, int64_t ncols, int ih, int iw, int oh,
                                int ow, int kh, int kw, int sh, int sw, int ph, int pw) {
    memset(dst, 0, sizeof(float) * (size_t)ih * (size_t)iw);
    for (int ki = 0; ki < kh; ki++)
        for (int kj = 0; kj < kw; kj++) {
            const float *src = cols + (int64_t)(ki * kw + kj) * ncols;
            int x0, x1, off = kj - pw;
            valid_run(ow, iw, sw, pw, kj, &x0, &x1);
            for (int y = 0; y < oh; y++, src += ow) {
                int iy = y * sh - ph + ki;
                if (iy < 0 || iy >= ih) continue;
                float *row = dst + (int64_t)iy * iw;
                if (sw == 1) {
                    for (int x = x0; x < x1; x++) row[x + off] += src[x];
                } else {
                    for (int x = x0; x < x1; x++) row[x * sw + off] += src[x];
                }
            }
        }
}

/* The same, phase-split: the sums in buf (rows phase-split, contiguous adds), then the plane
 * interleaved into dst once. Same order of additions per pixel as the direct form. */
static void col2im_plane_split(const float *cols, float *dst, int64_t ncols, int ih, int iw, int oh,
                               int ow, int kh, int kw, int sh, int sw, int ph, const int *start,
                               const kernel_column *kc, float *restrict buf) {
    memset(buf, 0, sizeof(float) * (size_t)ih * (size_t)iw);
    for (int ki = 0; ki < kh; ki++)
        for (int kj = 0; kj < kw; kj++) {
            const float *restrict src = cols + (int64_t)(ki * kw + kj) * ncols;
            int x0 = kc[kj].x0, x1 = kc[kj].x1, at = start[kc[kj].r] + kc[kj].q; /* at + x >= 0 */
            for (int y = 0; y < oh; y++, src += ow) {
                int iy = y * sh - ph + ki;
                if (iy < 0 || iy >= ih) continue;
                float *restrict row = buf + (int64_t)iy * iw;
                for (int x = x0; x < x1; x++) row[at + x] += src[x];
            }
        }
    for (int y = 0; y < ih; y++) interleave_row(buf + (int64_t)y * iw, dst + (int64_t)y * iw, iw, sw, start);
}

/* The 2-D phase split: im2col's strided planes whose rows are too short for the split above
 * (the generators' 7-wide grids: nothing per row pays), and col2im's wherever it fits. Image position (m*sh + ri, l*sw + rj) is
 * element (m, l) of phase plane (ri, rj); with ki - ph = qi*sh + ri and kj - pw = qj*sw + rj
 * (0 <= ri < sh, 0 <= rj < sw), tap (ki, kj) at grid point (y, x) is element (y + qi, x + qj)
 * of phase (ri, rj). So every tap reads (im2col) or adds to (col2im) an oh x ow window of one
 * phase plane at (qi, qj): row copies or row adds with no bounds test, if each phase plane
 * carries a border of zeros that every window fits in. Its rows run from the least qi (< 0
 * for the top padding) to the largest qi + oh - 1 or the last image row, whichever is
 * further (a phase can be one row shorter than phase 0: that row is border too); columns the
 * same. Border cells are positions outside the image: im2col reads zeros there, col2im's sums
 * there are dropped. */
typedef struct phase_planes {
    int rows, cols;  /* one phase plane with its border */
    int top, left;   /* where element (0, 0) sits in it */
    int64_t size;    /* rows * cols floats, phase planes (ri, rj) one after another */
    int64_t total;   /* sh * sw * size */
} phase_planes;

static int floor_div(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

static int imax(int a, int b) { return a > b ? a : b; }

/* The planes' extent along one axis: n image positions, grid g, kernel k, stride s, padding p. */
static void phase_extent(int n, int g, int k, int s, int p, int *before, int *extent) {
    int qlo = floor_div(-p, s), qhi = floor_div(k - 1 - p, s);
    *before = imax(0, -qlo);
    *extent = *before + imax((n + s - 1) / s, qhi + g);
}

/* Stride 1 keeps the direct loops (its rows are contiguous already), and so do planes whose
 * phase planes do not fit the stack buffer. */
static int phase_planes_fit(int ih, int iw, int oh, int ow, int kh, int kw, int sh, int sw, int ph,
                            int pw, phase_planes *pp) {
    if ((sh == 1 && sw == 1) || sh > PHASE_MAX || sw > PHASE_MAX || kh > PHASE_MAX || kw > PHASE_MAX)
        return 0;
    phase_extent(ih, oh, kh, sh, ph, &pp->top, &pp->rows);
    phase_extent(iw, ow, kw, sw, pw, &pp->left, &pp->cols);
    pp->size = (int64_t)pp->rows * pp->cols;
    pp->total = (int64_t)sh * sw * pp->size;
    return pp->total <= PHASE_PLANE_MAX;
}

/* Where tap (ki, kj)'s window begins: at tap_row[ki] + tap_col[kj] floats into the planes. */
static void phase_taps(const phase_planes *pp, int kh, int kw, int sh, int sw, int ph, int pw, int *tap_row,
                       int *tap_col) {
    for (int ki = 0; ki < kh; ki++) {
        int q = floor_div(ki - ph, sh), r = ki - ph - q * sh;
        tap_row[ki] = (int)((int64_t)r * sw * pp->size + (int64_t)(pp->top + q) * pp->cols);
    }
    for (int kj = 0; kj < kw; kj++) {
        int q = floor_div(kj - pw, sw), r = kj - pw - q * sw;
        tap_col[kj] = (int)((int64_t)r * pp->size + pp->left + q);
    }
}

/* One image row into its phase planes' row (phase r at dst + r * stride), and back. */
static void scatter_row(const float *restrict row, float *restrict dst, int iw, int sw, int64_t stride) {
    if (sw == 2) {
        float *even = dst, *odd = dst + stride;
        int half = iw / 2;
        for (int m = 0; m < half; m++) {
            even[m] = row[2 * m];
            odd[m] = row[2 * m + 1];
        }
        if (iw % 2) even[half] = row[iw - 1];
        return;
    }
    for (int r = 0; r < sw && r < iw; r++) {
        float *to = dst + r * stride;
        int count = (iw - r + sw - 1) / sw;
        for (int m = 0; m < count; m++) to[m] = row[m * sw + r];
    }
}

static void gather_row(const float *restrict src, float *restrict row, int iw, int sw, int64_t stride) {
    if (sw == 2) {
        const float *even = src, *odd = src + stride;
        int half = iw / 2;
        for (int m = 0; m < half; m++) {
            row[2 * m] = even[m];
            row[2 * m + 1] = odd[m];
        }
        if (iw % 2) row[iw - 1] = even[half];
        return;
    }
    for (int r = 0; r < sw && r < iw; r++) {
        const float *from = src + r * stride;
        int count = (iw - r + sw - 1) / sw;
        for (int m = 0; m < count; m++) row[m * sw + r] = from[m];
    }
}

/* Where image row iy's phase-plane row begins (its phase rj = 0 at column left). */
static float *phase_row(float *planes, const phase_planes *pp, int iy, int sh, int sw) {
    return planes + (int64_t)(iy % sh) * sw * pp->size + (int64_t)(pp->top + iy / sh) * pp->cols + pp->left;
}

/* One plane of im2col, 2-D phase-split. The planes' borders are zero on entry and stay so:
 * only the interior is written, the same cells for every plane. */
static void im2col_plane_2d(const float *src, float *cols, int64_t ncols, int ih, int iw, int oh, int ow,
                            int kh, int kw, int sh, int sw, const phase_planes *pp, const int *tap_row,
                            const int *tap_col, float *planes) {
    for (int iy = 0; iy < ih; iy++) scatter_row(src + (int64_t)iy * iw, phase_row(planes, pp, iy, sh, sw), iw, sw, pp->size);
    for (int ki = 0; ki < kh; ki++)
        for (int kj = 0; kj < kw; kj++) {
            float *dst = cols + (int64_t)(ki * kw + kj) * ncols;
            const float *from = planes + tap_row[ki] + tap_col[kj];
            if (ow >= 4 && ow <= 8) /* two 4-float moves, overlapping when ow < 8: no call */
                for (int y = 0; y < oh; y++, dst += ow, from += pp->cols) {
                    memcpy(dst, from, sizeof(float) * 4);
                    memcpy(dst + ow - 4, from + ow - 4, sizeof(float) * 4);
                }
            else
                for (int y = 0; y < oh; y++, dst += ow, from += pp->cols)
                    memcpy(dst, from, sizeof(float) * (size_t)ow);
        }
}

/* One plane of col2im, 2-D phase-split: window adds into zeroed planes, kernel positions in
 * ascending order (each pixel's sum is the direct form's, addition by addition), then the
 * interiors interleaved into the image. */
static void col2im_plane_2d(const float *cols, float *dst, int64_t ncols, int ih, int iw, int oh, int ow,
                            int kh, int kw, int sh, int sw, const phase_planes *pp, const int *tap_row,
                            const int *tap_col, float *restrict planes) {
    memset(planes, 0, sizeof(float) * (size_t)pp->total);
    for (int ki = 0; ki < kh; ki++)
        for (int kj = 0; kj < kw; kj++) {
            const float *restrict src = cols + (int64_t)(ki * kw + kj) * ncols;
            float *restrict acc = planes + tap_row[ki] + tap_col[kj];
            for (int y = 0; y < oh; y++, src += ow, acc += pp->cols)
                for (int x = 0; x < ow; x++) acc[x] += src[x];
        }
    for (int iy = 0; iy < ih; iy++) gather_row(phase_row(planes, pp, iy, sh, sw), dst + (int64_t)iy * iw, iw, sw, pp->size);
}

/* Which form a call of im2col or col2im takes, with the tables that form needs: computed
 * once per call, shared read-only by the threads. */
typedef struct plane_plan {
    int split, split2d;           /* per-row split, 2-D split; neither: the direct loops */
    int start[PHASE_MAX];         /* per-row split: where each phase of a row begins */
    kernel_column kc[PHASE_MAX];  /* per-row split: each kernel column's run */
    phase_planes pp;              /* 2-D split: the phase planes' extent */
    int tap_row[PHASE_MAX], tap_col[PHASE_MAX]; /* 2-D split: where each tap's window begins */
} plane_plan;

static void plan_row_split(plane_plan *p, int iw, int ow, int sw, int pw, int kw) {
    p->split = 1;
    phase_starts(iw, sw, p->start);
    kernel_columns(ow, iw, sw, pw, kw, p->kc);
}

/* 1 (and the plan made) if the 2-D split's planes fit the buffer. */
static int plan_2d_split(plane_plan *p, int ih, int iw, int oh, int ow, int kh, int kw, int sh, int sw, int ph,
                         int pw) {
    if (!phase_planes_fit(ih, iw, oh, ow, kh, kw, sh, sw, ph, pw, &p->pp)) return 0;
    p->split2d = 1;
    phase_taps(&p->pp, kh, kw, sh, sw, ph, pw, p->tap_row, p->tap_col);
    return 1;
}

/* Both loops run over (channel, example) pairs in parallel: each pair reads one input plane
 * and writes its own rows of the columns (im2col) or its own output plane (col2im), so no
 * two threads touch the same float, and col2im adds the kernel positions of a pixel in the
 * same order (ki, kj ascending, from +0) on any number of threads, split or not. */
void abp_im2col(const float *img, float *cols, int c, int n, int ih, int iw, int oh, int ow,
                int kh, int kw, int sh, int sw, int ph, int pw) {
    int64_t ncols = (int64_t)n * oh * ow, plane = (int64_t)oh * ow;
    plane_plan p = {0};
    if (phase_split_pays(ih, iw, sw, kw, 32))
        plan_row_split(&p, iw, ow, sw, pw, kw);
    else
        plan_2d_split(&p, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw);
#pragma omp parallel if ((int64_t)c * kh * kw * ncols >= ABP_PARALLEL_MIN)
    {
        float buf[PHASE_PLANE_MAX]; /* one plane phase-split (by rows or 2-D); 64 KB of stack */
        if (p.split2d) memset(buf, 0, sizeof(float) * (size_t)p.pp.total); /* the borders, once */
#pragma omp for collapse(2) schedule(static)
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < n; i++) {
                const float *src = img + ((int64_t)ch * n + i) * ih * iw;
                float *dst = cols + (int64_t)ch * kh * kw * ncols + i * plane;
                if (p.split)
                    im2col_plane_split(src, dst, ncols, ih, iw, oh, ow, kh, kw, sh, sw, ph, p.start, p.kc, buf);
                else if (p.split2d)
                    im2col_plane_2d(src, dst, ncols, ih, iw, oh, ow, kh, kw, sh, sw, &p.pp, p.tap_row, p.tap_col, buf);
                else
                    im2col_plane_direct(src, dst, ncols, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw);
            }
    }
}

/* Overwrites img. */
void abp_col2im(const float *cols, float *img, int c, int n, int ih, int iw, int oh, int ow,
                int kh, int kw, int sh, int sw, int ph, int pw) {
    int64_t ncols = (int64_t)n * oh * ow, plane = (int64_t)oh * ow;
    /* col2im takes the 2-D split wherever it fits, also where rows could be split: window
     * adds beat the per-row split from 16 to 64 wide (faces64's planes, 0.73-0.93x) */
    plane_plan p = {0};
    if (!plan_2d_split(&p, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw) && phase_split_pays(ih, iw, sw, kw, 16))
        plan_row_split(&p, iw, ow, sw, pw, kw);
#pragma omp parallel if ((int64_t)c * kh * kw * ncols >= ABP_PARALLEL_MIN)
    {
        float buf[PHASE_PLANE_MAX]; /* the sums, phase-split (by rows or 2-D); 64 KB of stack */
#pragma omp for collapse(2) schedule(static)
        for (int ch = 0; ch < c; ch++)
            for (int i = 0; i < n; i++) {
                float *dst = img + ((int64_t)ch * n + i) * ih * iw;
                const float *src = cols + (int64_t)ch * kh * kw * ncols + i * plane;
                if (p.split)
                    col2im_plane_split(src, dst, ncols, ih, iw, oh, ow, kh, kw, sh, sw, ph, p.start, p.kc, buf);
                else if (p.split2d)
                    col2im_plane_2d(src, dst, ncols, ih, iw, oh, ow, kh, kw, sh, sw, &p.pp, p.tap_row, p.tap_col, buf);
                else
                    col2im_plane_direct(src, dst, ncols, ih, iw, oh, ow, kh, kw, sh, sw, ph, pw);
            }
    }
}

static void add_channel_bias(float *y, const float *bias, int c, int64_t per_channel) {
    if (!bias) return;
#pragma omp parallel for schedule(static) if (c * per_channel >= ABP_PARALLEL_MIN)
    for (int ch = 0; ch < c; ch++) {
        float b = bias[ch];
        float *p = y + (int64_t)ch * per_channel;
        for (int64_t k = 0; k < per_channel; k++) p[k] += b;
    }
}

/* One thread sums each channel, in order: the same float on any number of threads. */
static void sum_channels(const float *dy, float *dbias, int c, int64_t per_channel) {
    if (!dbias) return;
#pragma omp parallel for schedule(static) if (c * per_channel >= ABP_PARALLEL_MIN)
    for (int ch = 0; ch < c; ch++) {
        const float *p = dy + (int64_t)ch * per_channel;
        float s = 0.0f;
        for (int64_t k = 0; k < per_channel; k++) s += p[k];
        dbias[ch] += s;
    }
}

int64_t abp_conv_scratch(const abp_layer *l, int n) {
    int64_t kk = (int64_t)l->kh * l->kw;
    if (l->kind == ABP_CONV) return l->in.c * kk * n * abp_shape_pixels(l->out);
    return l->out.c * kk * n * abp_shape_pixels(l->in);
}

/* ---- convolution: y = W * im2col(x) ---- */

void abp_conv_forward(const abp_layer *l, const float *x, float *y, int n, float *cols,
                      abp_profile *prof) {
    int K = l->in.c * l->kh * l->kw;
    int ncols = n * (int)abp_shape_pixels(l->out);
    double t0 = abp_profile_start(prof);
    abp_im2col(x, cols, l->in.c, n, l->in.h, l->in.w, l->out.h, l->out.w, l->kh, l->kw, l->sh,
               l->sw, l->ph, l->pw);
    abp_profile_add(prof, ABP_PART_IM2COL, t0);
    t0 = abp_profile_start(prof);
    abp_sgemm(0, 0, l->out.c, ncols, K, 1.0f, l->weight, K, cols, ncols, 0.0f, y, ncols);
    abp_profile_add(prof, ABP_PART_GEMM, t0);
    t0 = abp_profile_start(prof);
    add_channel_bias(y, l->bias, l->out.c, ncols);
    abp_profile_add(prof, ABP_PART_POINTWISE, t0);
}

void abp_conv_backward(const abp_layer *l, const float *x, const float *dy, float *dx, int n,
                       int want_param_grads, float *cols, abp_profile *prof) {
    int K = l->in.c * l->kh * l->kw;
    int ncols = n * (int)abp_shape_pixels(l->out);
    double t0;
    if (want_param_grads) {
        t0 = abp_profile_start(prof);
        abp_im2col(x, cols, l->in.c, n, l->in.h, l->in.w, l->out.h, l->out.w, l->kh, l->kw,
                   l->sh, l->sw, l->ph, l->pw);
        abp_profile_add(prof, ABP_PART_IM2COL, t0);
        t0 = abp_profile_start(prof);
        abp_sgemm(0, 1, l->out.c, K, ncols, 1.0f, dy, ncols, cols, ncols, 1.0f, l->dweight, K);
        abp_profile_add(prof, ABP_PART_GEMM, t0);
        t0 = abp_profile_start(prof);
        sum_channels(dy, l->dbias, l->out.c, ncols);
        abp_profile_add(prof, ABP_PART_POINTWISE, t0);
    }
    if (dx) {
        t0 = abp_profile_start(prof);
        abp_sgemm(1, 0, K, ncols, l->out.c, 1.0f, l->weight, K, dy, ncols, 0.0f, cols, ncols);
        abp_profile_add(prof, ABP_PART_GEMM, t0);
        t0 = abp_profile_start(prof);
        abp_col2im(cols, dx, l->in.c, n, l->in.h, l->in.w, l->out.h, l->out.w, l->kh, l->kw,
                   l->sh, l->sw, l->ph, l->pw);
        abp_profile_add(prof, ABP_PART_COL2IM, t0);
    }
}

/* ---- transposed convolution: y = col2im(W^T x) ---- */

void abp_deconv_forward(const abp_layer *l, const float *x, float *y, int n, float *cols,
                        abp_profile *prof) {
    int M = l->out.c * l->kh * l->kw;
    int ncols = n * (int)abp_shape_pixels(l->in);
    double t0 = abp_profile_start(prof);
    abp_sgemm(1, 0, M, ncols, l->in.c, 1.0f, l->weight, M, x, ncols, 0.0f, cols, ncols);
    abp_profile_add(prof, ABP_PART_GEMM, t0);
    t0 = abp_profile_start(prof);
    abp_col2im(cols, y, l->out.c, n, l->out.h, l->out.w, l->in.h, l->in.w, l->kh, l->kw, l->sh,
               l->sw, l->ph, l->pw);
    abp_profile_add(prof, ABP_PART_COL2IM, t0);
    t0 = abp_profile_start(prof);
    add_channel_bias(y, l->bias, l->out.c, (int64_t)n * abp_shape_pixels(l->out));
    abp_profile_add(prof, ABP_PART_POINTWISE, t0);
}

void abp_deconv_backward(const abp_layer *l, const float *x, const float *dy, float *dx, int n,
                         int want_param_grads, float *cols, abp_profile *prof) {
    int M = l->out.c * l->kh * l->kw;
    int ncols = n * (int)abp_shape_pixels(l->in);
    double t0 = abp_profile_start(prof);
    abp_im2col(dy, cols, l->out.c, n, l->out.h, l->out.w, l->in.h, l->in.w, l->kh, l->kw, l->sh,
               l->sw, l->ph, l->pw);
    abp_profile_add(prof, ABP_PART_IM2COL, t0);
    if (want_param_grads) {
        t0 = abp_profile_start(prof);
        abp_sgemm(0, 1, l->in.c, M, ncols, 1.0f, x, ncols, cols, ncols, 1.0f, l->dweight, M);
        abp_profile_add(prof, ABP_PART_GEMM, t0);
        t0 = abp_profile_start(prof);
        sum_channels(dy, l->dbias, l->out.c, (int64_t)n * abp_shape_pixels(l->out));
        abp_profile_add(prof, ABP_PART_POINTWISE, t0);
    }
    if (dx) {
        t0 = abp_profile_start(prof);
        abp_sgemm(0, 0, l->in.c, ncols, M, 1.0f, l->weight, M, cols, ncols, 0.0f, dx, ncols);
        abp_profile_add(prof, ABP_PART_GEMM, t0);
    }
}

/* ---- either kind, in oneDNN where it runs the layer, else on the GEMM path above ---- */

void abp_conv_any_forward(const abp_layer *l, const float *x, float *y, int n, float *cols,
                          abp_onednn *onednn, int index, abp_profile *prof) {
    if (abp_onednn_forward(onednn, index, l, x, y, n, prof)) {
        double t0 = abp_profile_start(prof);
        add_channel_bias(y, l->bias, l->out.c, (int64_t)n * abp_shape_pixels(l->out));
        abp_profile_add(prof, ABP_PART_POINTWISE, t0);
    } else if (l->kind == ABP_CONV) {
        abp_conv_forward(l, x, y, n, cols, prof);
    } else {
        abp_deconv_forward(l, x, y, n, cols, prof);
    }
}

int abp_conv_any_backward(const abp_layer *l, const float *x, const float *dy, float *dx, int n,
                          int want_param_grads, float *cols, abp_onednn *onednn, int index,
                          abp_profile *prof) {
    int done = abp_onednn_backward(onednn, index, l, x, dy, dx, n, want_param_grads, prof);
    if (done < 0) return -1;
    if (done) {
        if (want_param_grads) {
            double t0 = abp_profile_start(prof);
            sum_channels(dy, l->dbias, l->out.c, (int64_t)n * abp_shape_pixels(l->out));
            abp_profile_add(prof, ABP_PART_POINTWISE, t0);
        }
    } else if (l->kind == ABP_CONV) {
        abp_conv_backward(l, x, dy, dx, n, want_param_grads, cols, prof);
    } else {
        abp_deconv_backward(l, x, dy, dx, n, want_param_grads, cols, prof);
    }
    return 0;
}
