/* Fitting decoded images to a model's shape, and scaling them to [-1, 1] (see pixels.h). */
#include "pixels.h"

#include <stdlib.h>
#include <string.h>

#include <stb/stb_image_resize.h>

int abp_pixels_colour_channels(int stored_channels) { return stored_channels >= 3 ? 3 : 1; }

/* Interleaved pixels from `from` to `to` channels (to is 1 or 3; alpha is dropped). */
static void convert_channels(const uint8_t *src, size_t pixels, int from, uint8_t *dst, int to) {
    for (size_t i = 0; i < pixels; i++, src += from, dst += to) {
        if (to == 3 && from >= 3) { /* RGB(A) -> RGB */
            dst[0] = src[0], dst[1] = src[1], dst[2] = src[2];
        } else if (to == 3) { /* grey(+alpha) -> RGB: replicate */
            dst[0] = dst[1] = dst[2] = src[0];
        } else if (from >= 3) { /* RGB(A) -> grey: ITU-R BT.601 luma */
            float y = 0.299f * src[0] + 0.587f * src[1] + 0.114f * src[2];
            dst[0] = (uint8_t)(y + 0.5f);
        } else { /* grey+alpha -> grey */
            dst[0] = src[0];
        }
    }
}

/* The largest window of aspect ratio w:h centred in an sw x sh image, so that the resize
 * after it never stretches the picture. */
static void centre_crop(int sw, int sh, int w, int h, int *x0, int *y0, int *cw, int *ch) {
    if ((int64_t)sw * h > (int64_t)sh * w) { /* source is wider: trim the sides */
        *ch = sh;
        *cw = (int)(((int64_t)sh * w + h / 2) / h);
    } else { /* source is taller (or the same shape): trim top and bottom */
        *cw = sw;
        *ch = (int)(((int64_t)sw * h + w / 2) / w);
    }
    if (*cw < 1) *cw = 1;
    if (*ch < 1) *ch = 1;
    if (*cw > sw) *cw = sw;
    if (*ch > sh) *ch = sh;
    *x0 = (sw - *cw) / 2;
    *y0 = (sh - *ch) / 2;
}

int abp_pixels_fit(const uint8_t *src, int sw, int sh, int sc, int c, int h, int w, uint8_t *dst,
                   const char *path, abp_err *err) {
    uint8_t *recoloured = NULL;
    const uint8_t *at = src;

    if (sc != c) {
        recoloured = malloc((size_t)sw * sh * c);
        if (!recoloured) return abp_fail(err, "%s: out of memory converting channels", path);
        convert_channels(src, (size_t)sw * sh, sc, recoloured, c);
        at = recoloured;
    }
    size_t stride = (size_t)sw * c; /* bytes from one row to the next */

    int x0, y0, cw, ch;
    centre_crop(sw, sh, w, h, &x0, &y0, &cw, &ch);
    at += (size_t)y0 * stride + (size_t)x0 * c;

    int rc = 0;
    if (cw != w || ch != h) {
        if (!stbir_resize_uint8(at, cw, ch, (int)stride, dst, w, h, 0, c))
            rc = abp_fail(err, "%s: cannot resize %dx%d to %dx%d", path, cw, ch, w, h);
    } else {
        for (int y = 0; y < h; y++) /* the crop alone: copy its rows */
            memcpy(dst + (size_t)y * w * c, at + (size_t)y * stride, (size_t)w * c);
    }
    free(recoloured);
    return rc;
}

void abp_pixels_to_planar(const uint8_t *src, int c, int h, int w, float *dst) {
    size_t plane = (size_t)h * w;
    for (size_t p = 0; p < plane; p++)
        for (int k = 0; k < c; k++) dst[(size_t)k * plane + p] = abp_pixel_value(src[p * c + k]);
}

void abp_pixels_planar_bytes(const uint8_t *src, int c, int h, int w, uint8_t *dst) {
    size_t plane = (size_t)h * w;
    for (size_t p = 0; p < plane; p++)
        for (int k = 0; k < c; k++) dst[(size_t)k * plane + p] = src[p * c + k];
}
