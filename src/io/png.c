/* Pictures: a batch of images as one PNG grid (abp_png_write_grid), or one image as it is
 * (abp_png_write_image).
 *
 * The grid is drawn into one 8-bit canvas, tiles left to right then top to bottom, with a
 * 1-pixel black line around and between them. The PNG is encoded by stb_image_write into
 * our own FILE (so that every write error is seen, which stbi_write_png does not report)
 * at PATH.tmp, and renamed over PATH only when complete. */
#include "abp/io.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <stb/stb_image_write.h>

/* [-1, 1] to 0..255, rounded; anything outside (and NaN) is clamped. */
static uint8_t to_byte(float v) {
    if (!(v > -1.0f)) v = -1.0f;
    if (v > 1.0f) v = 1.0f;
    return (uint8_t)((v + 1.0f) * 127.5f + 0.5f);
}

/* Where stbi_write_png_to_func sends the encoded bytes. */
typedef struct png_sink {
    FILE *file;
    int failed;   /* a short write happened */
    int error;    /* its errno */
} png_sink;

static void sink_write(void *context, void *data, int size) {
    png_sink *sink = context;
    if (sink->failed || size <= 0) return;
    if (fwrite(data, 1, (size_t)size, sink->file) != (size_t)size) {
        sink->failed = 1;
        sink->error = errno ? errno : EIO;
    }
}

/* Encodes the canvas to tmp_path. On failure returns the errno to report. */
static int write_png_file(const char *tmp_path, const uint8_t *canvas, int width, int height,
                          int c) {
    errno = 0;
    png_sink sink = {fopen(tmp_path, "wb"), 0, 0};
    if (!sink.file) return errno ? errno : EIO;
    errno = 0;
    int encoded = stbi_write_png_to_func(sink_write, &sink, width, height, c, canvas, width * c);
    if (!encoded && !sink.failed) {
        sink.failed = 1;
        sink.error = ENOMEM; /* the encoder's only failure is an allocation */
    }
    if (fflush(sink.file) != 0 && !sink.failed) {
        sink.failed = 1;
        sink.error = errno ? errno : EIO;
    }
    if (fclose(sink.file) != 0 && !sink.failed) {
        sink.failed = 1;
        sink.error = errno ? errno : EIO;
    }
    return sink.failed ? sink.error : 0;
}

/* Writes the canvas to PATH.tmp, renames it over PATH, and frees the canvas. */
static int save_canvas(const char *path, uint8_t *canvas, int width, int height, int c, abp_err *err) {
    char *tmp_path = malloc(strlen(path) + sizeof ".tmp");
    if (!tmp_path) {
        free(canvas);
        return abp_fail(err, "%s: out of memory", path);
    }
    sprintf(tmp_path, "%s.tmp", path);

    int error = write_png_file(tmp_path, canvas, width, height, c);
    if (error == 0 && rename(tmp_path, path) != 0) error = errno;
    if (error != 0) remove(tmp_path); /* never leave a half-written file behind */
    free(tmp_path);
    free(canvas);
    if (error != 0) return abp_fail(err, "%s: cannot write (%s)", path, strerror(error));
    return 0;
}

int abp_png_write_grid(const char *path, const float *images, int n, int c, int h, int w,
                       int cols, abp_err *err) {
    if (n < 1) return abp_fail(err, "%s: no images to write", path);
    if (c != 1 && c != 3)
        return abp_fail(err, "%s: cannot write %d-channel images (must be 1 or 3)", path, c);
    if (h < 1 || w < 1) return abp_fail(err, "%s: cannot write images of %dx%d", path, h, w);

    if (cols <= 0) { /* as square as possible: the smallest cols with cols * cols >= n */
        cols = 1;
        while ((int64_t)cols * cols < n) cols++;
    }
    if (cols > n) cols = n; /* no empty columns */
    int rows = (n + cols - 1) / cols;

    /* One border line before every tile and one after the last. */
    int64_t width = (int64_t)cols * (w + 1) + 1, height = (int64_t)rows * (h + 1) + 1;
    if (width * c > INT32_MAX || height > INT32_MAX || width * height * c > INT32_MAX)
        return abp_fail(err, "%s: a grid of %dx%d tiles of %dx%d is too large for a PNG", path,
                        rows, cols, h, w);

    uint8_t *canvas = calloc((size_t)(width * height * c), 1); /* zero: the dark border */
    if (!canvas) return abp_fail(err, "%s: out of memory for a %lldx%lld picture", path,
                                 (long long)width, (long long)height);

    size_t plane = (size_t)h * w;
    for (int i = 0; i < n; i++) {
        const float *image = images + (size_t)i * c * plane;
        int64_t left = (int64_t)(i % cols) * (w + 1) + 1, top = (int64_t)(i / cols) * (h + 1) + 1;
        for (int y = 0; y < h; y++) {
            uint8_t *row = canvas + ((top + y) * width + left) * c;
            for (int x = 0; x < w; x++)
                for (int k = 0; k < c; k++)
                    row[x * c + k] = to_byte(image[k * plane + (size_t)y * w + x]);
        }
    }

    return save_canvas(path, canvas, (int)width, (int)height, c, err);
}

int abp_png_write_image(const char *path, const float *image, int c, int h, int w, abp_err *err) {
    if (c != 1 && c != 3) return abp_fail(err, "%s: cannot write %d-channel images (must be 1 or 3)", path, c);
    if (h < 1 || w < 1 || (int64_t)h * w * c > INT32_MAX)
        return abp_fail(err, "%s: cannot write an image of %dx%d", path, h, w);
    uint8_t *canvas = malloc((size_t)h * w * c);
    if (!canvas) return abp_fail(err, "%s: out of memory for a %dx%d picture", path, h, w);
    size_t plane = (size_t)h * w;
    for (size_t p = 0; p < plane; p++)
        for (int k = 0; k < c; k++) canvas[p * c + k] = to_byte(image[k * plane + p]);
    return save_canvas(path, canvas, w, h, c, err);
}
