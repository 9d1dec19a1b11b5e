/* The GIF writer, read back with giflib's decoder: GIF89a, the loop extension, the frame
 * count, size and delay; grey levels exact, colours close after quantization; bad input
 * refused without leaving a file. */
#include <gif_lib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "abp/io.h"
#include "check.h"

enum { N = 5, H = 6, W = 7 };

/* A frame value that differs between frames, rows, columns and channels. */
static float value(int i, int k, int y, int x) {
    return (float)sin(0.7 * i + 1.3 * k + 0.5 * y + 0.9 * x);
}

/* DGifSlurp files the extensions before the first image with that image. */
static int has_loop_extension(const GifFileType *g) {
    if (g->ImageCount < 1) return 0;
    const SavedImage *first = &g->SavedImages[0];
    for (int e = 0; e + 1 < first->ExtensionBlockCount; e++) {
        const ExtensionBlock *b = &first->ExtensionBlocks[e], *next = b + 1;
        if (b->Function == APPLICATION_EXT_FUNC_CODE && b->ByteCount == 11 && !memcmp(b->Bytes, "NETSCAPE2.0", 11))
            return next->ByteCount == 3 && next->Bytes[0] == 1 && next->Bytes[1] == 0 && next->Bytes[2] == 0;
    }
    return 0;
}

static void check_file(const char *path, int c) {
    char head[6] = {0};
    FILE *f = fopen(path, "rb");
    CHECK(f && fread(head, 1, 6, f) == 6 && !memcmp(head, "GIF89a", 6), "%s: header", path);
    if (f) fclose(f);
    int error = 0;
    GifFileType *g = DGifOpenFileName(path, &error);
    CHECK(g != NULL, "%s: giflib cannot open it (%d)", path, error);
    if (!g) return;
    CHECK(DGifSlurp(g) == GIF_OK, "%s: giflib cannot decode it (%d)", path, g->Error);
    CHECK(g->ImageCount == N && g->SWidth == W && g->SHeight == H, "%s: %d frames of %dx%d", path,
          g->ImageCount, g->SWidth, g->SHeight);
    CHECK(has_loop_extension(g), "%s: no NETSCAPE2.0 loop extension", path);
    GraphicsControlBlock gcb;
    CHECK(DGifSavedExtensionToGCB(g, N - 1, &gcb) == GIF_OK && gcb.DelayTime == 12, "%s: delay", path);
    double worst = 0;
    const ColorMapObject *map = g->SColorMap;
    for (int i = 0; map && i < g->ImageCount && i < N; i++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                const GifColorType *col = &map->Colors[g->SavedImages[i].RasterBits[y * W + x]];
                const int rgb[3] = {col->Red, col->Green, col->Blue};
                for (int k = 0; k < 3; k++) {
                    double want = (value(i, c == 1 ? 0 : k, y, x) + 1) * 127.5;
                    worst = fmax(worst, fabs(rgb[k] - want));
                }
            }
    /* grey: rounding only; colour: a 256-colour median cut of a few hundred pixels is close */
    CHECK(map && worst <= (c == 1 ? 0.5 : 24), "%s: a pixel is off by %g levels", path, worst);
    DGifCloseFile(g, &error);
}

int main(void) {
    abp_err err = {{0}};
    umask(022);
    float *frames = malloc(sizeof(float) * N * 3 * H * W);
    char dir[] = "/tmp/abp_test_gif_XXXXXX", grey[64], colour[64];
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    snprintf(grey, sizeof grey, "%s/grey.gif", dir);
    snprintf(colour, sizeof colour, "%s/colour.gif", dir);

    for (int c = 1; c <= 3; c += 2) {
        for (int i = 0; i < N; i++)
            for (int k = 0; k < c; k++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) frames[((i * c + k) * H + y) * W + x] = value(i, k, y, x);
        const char *path = c == 1 ? grey : colour;
        CHECK(abp_gif_write(path, frames, N, c, H, W, 12, &err) == 0, "%s", err.msg);
        struct stat st;
        CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "%s: mode %o under umask 022", path,
              (unsigned)(st.st_mode & 0777));
        check_file(path, c);
    }

    char missing[96];
    snprintf(missing, sizeof missing, "%s/no/such/dir/a.gif", dir);
    CHECK(abp_gif_write(missing, frames, N, 1, H, W, 10, &err) != 0 && strstr(err.msg, missing),
          "unwritable path: '%s'", err.msg);
    CHECK(abp_gif_write(grey, frames, N, 2, H, W, 10, &err) != 0 && strstr(err.msg, "2-channel"), "2 channels");
    CHECK(abp_gif_write(grey, frames, 0, 1, H, W, 10, &err) != 0, "no frames");
    check_file(grey, 1); /* refused writes left the earlier file as it was */
    char tmp[80];
    snprintf(tmp, sizeof tmp, "%s.tmp", grey);
    CHECK(access(tmp, F_OK) != 0, "a .tmp file was left behind");

    remove(grey);
    remove(colour);
    rmdir(dir);
    free(frames);
    return check_summary("test_gif");
}
