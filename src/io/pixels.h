/* The conversion every example goes through, whatever file it came from. Private to src/io.
 *
 * A decoded image is interleaved 8-bit pixels (row, column, channel). It is fitted to the
 * requested shape in bytes first (channels, centre crop, resize) and only then scaled to
 * floats, so that an example packed by `abp prepare` (which stores the fitted bytes) and the
 * same example loaded from its original file become the very same floats. */
#ifndef ABP_IO_PIXELS_H
#define ABP_IO_PIXELS_H

#include <stdint.h>

#include "abp/error.h"

/* Images without alpha and with it count the same: grey+alpha is grey, RGBA is RGB. */
int abp_pixels_colour_channels(int stored_channels);

/* Fits one image (interleaved, sc channels, sw x sh; sc = 2 or 4 carries alpha, which is
 * dropped) to c channels (1 or 3; grey <-> RGB), centre-cropped to the aspect ratio w:h and
 * resized to w x h (no resampling when the size already matches). Writes h * w * c
 * interleaved bytes to dst. path is only for error messages. */
ABP_MUST_CHECK int abp_pixels_fit(const uint8_t *src, int sw, int sh, int sc, int c, int h, int w,
                                  uint8_t *dst, const char *path, abp_err *err);

/* The float of one stored byte: 0 -> -1, 255 -> 1. Every conversion of pixels to floats
 * goes through this one expression, so that a byte gives the same float wherever it is
 * converted (at load time, or when a batch is gathered from a shard of bytes). */
static inline float abp_pixel_value(uint8_t v) { return (float)v / 127.5f - 1.0f; }

/* Interleaved bytes (h x w x c) to planar floats (c x h x w): 0 -> -1, 255 -> 1. */
void abp_pixels_to_planar(const uint8_t *src, int c, int h, int w, float *dst);

/* Interleaved bytes (h x w x c) to planar bytes (c x h x w), unconverted. */
void abp_pixels_planar_bytes(const uint8_t *src, int c, int h, int w, uint8_t *dst);

#endif
