/* Animations: a sequence of images as one looping GIF (abp_gif_write), through giflib.
 *
 * One palette for the whole animation, so that colours do not flicker between frames: 256
 * grey levels for grey frames; for colour frames giflib's median-cut quantizer run once over
 * all frames stacked as one tall picture. A NETSCAPE2.0 application extension makes viewers
 * loop forever, and a graphics-control extension before every frame gives its delay. Written
 * to PATH.tmp and renamed over PATH only when complete, as the PNG writer does. */
#include "abp/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <gif_lib.h>

/* [-1, 1] to 0..255, rounded; anything outside (and NaN) is clamped (as in png.c). */
static uint8_t to_byte(float v) {
    if (!(v > -1.0f)) v = -1.0f;
    if (v > 1.0f) v = 1.0f;
    return (uint8_t)((v + 1.0f) * 127.5f + 0.5f);
}

/* Palette indices of every pixel of every frame (n * h rows of w) and the palette. */
static int quantize(const float *frames, int n, int c, int h, int w, GifByteType *indices,
                    GifColorType palette[256], const char *path, abp_err *err) {
    size_t plane = (size_t)h * w, pixels = (size_t)n * plane;
    if (c == 1) {
        for (int k = 0; k < 256; k++) palette[k].Red = palette[k].Green = palette[k].Blue = (GifByteType)k;
        for (size_t p = 0; p < pixels; p++) indices[p] = to_byte(frames[p]);
        return 0;
    }
    GifByteType *rgb = malloc(3 * pixels);
    if (!rgb) return abp_fail(err, "%s: out of memory for %d frames", path, n);
    for (int i = 0; i < n; i++)
        for (int k = 0; k < 3; k++)
            for (size_t p = 0; p < plane; p++)
                rgb[k * pixels + (size_t)i * plane + p] = to_byte(frames[((size_t)i * 3 + k) * plane + p]);
    int colours = 256;
    memset(palette, 0, 256 * sizeof *palette);
    int rc = GifQuantizeBuffer((unsigned)w, (unsigned)(n * h), &colours, rgb, rgb + pixels, rgb + 2 * pixels,
                               indices, palette);
    free(rgb);
    if (rc != GIF_OK) return abp_fail(err, "%s: giflib could not reduce the frames to 256 colours", path);
    return 0;
}

/* Writes the encoded animation to tmp_path; returns 0 or a giflib error code. */
static int write_gif_file(const char *tmp_path, const GifByteType *indices, const GifColorType *palette,
                          int n, int h, int w, int delay_cs) {
    int error = 0;
    /* Our own open(), because EGifOpenFileName creates files readable by their owner only. */
    int fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) return E_GIF_ERR_OPEN_FAILED;
    GifFileType *gif = EGifOpenFileHandle(fd, &error);
    if (!gif) {
        close(fd);
        return error ? error : E_GIF_ERR_OPEN_FAILED;
    }
    ColorMapObject *map = GifMakeMapObject(256, palette);
    if (!map) {
        EGifCloseFile(gif, &error);
        return E_GIF_ERR_NOT_ENOUGH_MEM;
    }
    EGifSetGifVersion(gif, true); /* GIF89a: the extensions below need it */
    static const unsigned char loop_forever[3] = {1, 0, 0}; /* sub-block 1, 16-bit count 0 */
    GraphicsControlBlock gcb = {DISPOSAL_UNSPECIFIED, false, delay_cs, NO_TRANSPARENT_COLOR};
    GifByteType control[4];
    size_t control_len = EGifGCBToExtension(&gcb, control);
    int ok = EGifPutScreenDesc(gif, w, h, 8, 0, map) == GIF_OK &&
             EGifPutExtensionLeader(gif, APPLICATION_EXT_FUNC_CODE) == GIF_OK &&
             EGifPutExtensionBlock(gif, 11, "NETSCAPE2.0") == GIF_OK &&
             EGifPutExtensionBlock(gif, 3, loop_forever) == GIF_OK &&
             EGifPutExtensionTrailer(gif) == GIF_OK;
    for (int i = 0; ok && i < n; i++) {
        ok = EGifPutExtension(gif, GRAPHICS_EXT_FUNC_CODE, (int)control_len, control) == GIF_OK &&
             EGifPutImageDesc(gif, 0, 0, w, h, false, NULL) == GIF_OK;
        for (int y = 0; ok && y < h; y++)
            ok = EGifPutLine(gif, (GifPixelType *)(indices + ((size_t)i * h + y) * w), w) == GIF_OK;
    }
    int code = ok ? 0 : (gif->Error ? gif->Error : E_GIF_ERR_WRITE_FAILED);
    if (EGifCloseFile(gif, &error) != GIF_OK && code == 0) code = error ? error : E_GIF_ERR_CLOSE_FAILED;
    GifFreeMapObject(map);
    return code;
}

int abp_gif_write(const char *path, const float *frames, int n, int c, int h, int w, int delay_cs,
                  abp_err *err) {
    if (n < 1) return abp_fail(err, "%s: no frames to write", path);
    if (c != 1 && c != 3)
        return abp_fail(err, "%s: cannot write %d-channel frames (must be 1 or 3)", path, c);
    if (h < 1 || w < 1 || h > 65535 || w > 65535 || (int64_t)n * h > INT32_MAX / w)
        return abp_fail(err, "%s: cannot write %d frames of %dx%d as a GIF", path, n, h, w);
    if (delay_cs < 0 || delay_cs > 65535) return abp_fail(err, "%s: frame delay %d cs out of range", path, delay_cs);

    GifByteType *indices = malloc((size_t)n * h * w);
    GifColorType palette[256];
    char *tmp_path = malloc(strlen(path) + sizeof ".tmp");
    if (!indices || !tmp_path) {
        free(indices);
        free(tmp_path);
        return abp_fail(err, "%s: out of memory", path);
    }
    sprintf(tmp_path, "%s.tmp", path);
    int rc = quantize(frames, n, c, h, w, indices, palette, path, err);
    if (rc == 0) {
        errno = 0;
        int code = write_gif_file(tmp_path, indices, palette, n, h, w, delay_cs);
        int saved = errno;
        if (code == 0 && rename(tmp_path, path) != 0) {
            rc = abp_fail(err, "%s: cannot write (%s)", path, strerror(errno));
        } else if (code != 0) {
            const char *why = GifErrorString(code);
            rc = abp_fail(err, "%s: cannot write (%s%s%s)", path, why ? why : "giflib error",
                          saved ? ": " : "", saved ? strerror(saved) : "");
        }
        if (rc != 0) remove(tmp_path); /* never leave a half-written file behind */
    }
    free(indices);
    free(tmp_path);
    return rc;
}
