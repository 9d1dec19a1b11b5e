/* Datasets and pictures (abp/io.h): IDX files, folders of images, single images, the
 * conversions between them, the error messages, and the PNG grid writer. Every input is
 * generated here in a fresh temporary folder. */
#include "abp/io.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stb/stb_image.h>
#include <stb/stb_image_write.h>

#include "check.h"

/* ---------------------------------------------------------------- helpers */

static float scaled(int byte) { return (float)byte / 127.5f - 1.0f; }

static void join(char *out, size_t size, const char *dir, const char *name) {
    int len = snprintf(out, size, "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= size) {
        fprintf(stderr, "test_io: path too long: %s/%s\n", dir, name);
        exit(1);
    }
}

static int write_bytes(const char *path, const void *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t put = fwrite(bytes, 1, n, f);
    return fclose(f) == 0 && put == n ? 0 : -1;
}

static void put_be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* The pixel the test IDX file holds at (image i, position p): varied, and covering 0..255. */
static int idx_pixel(int i, int p) { return (i * 37 + p * 11) % 256; }

/* An IDX image file of n images of h x w; keep_bytes < full size cuts it short. */
static int write_idx(const char *path, int n, int h, int w, long keep_bytes) {
    size_t full = 16 + (size_t)n * h * w;
    unsigned char *buf = malloc(full);
    if (!buf) return -1;
    put_be32(buf, 0x00000803);
    put_be32(buf + 4, (uint32_t)n);
    put_be32(buf + 8, (uint32_t)h);
    put_be32(buf + 12, (uint32_t)w);
    for (int i = 0; i < n; i++)
        for (int p = 0; p < h * w; p++)
            buf[16 + (size_t)i * h * w + p] = (unsigned char)idx_pixel(i, p);
    int rc = write_bytes(path, buf, keep_bytes >= 0 ? (size_t)keep_bytes : full);
    free(buf);
    return rc;
}

/* A w x h image of `comp` channels whose every pixel is `value` (comp bytes). */
static int write_flat_png(const char *path, int w, int h, int comp, const unsigned char *value) {
    unsigned char *px = malloc((size_t)w * h * comp);
    if (!px) return -1;
    for (int i = 0; i < w * h; i++) memcpy(px + (size_t)i * comp, value, (size_t)comp);
    int ok = stbi_write_png(path, w, h, comp, px, w * comp);
    free(px);
    return ok ? 0 : -1;
}

static void remove_tree(const char *path) {
    DIR *dir = opendir(path);
    if (dir) {
        struct dirent *e;
        char child[4096];
        while ((e = readdir(dir)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            join(child, sizeof child, path, e->d_name);
            remove_tree(child);
        }
        closedir(dir);
        rmdir(path);
    } else {
        unlink(path);
    }
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* ---------------------------------------------------------------- IDX */

static void test_idx(const char *tmp) {
    char path[4096];
    join(path, sizeof path, tmp, "digits-idx3-ubyte");
    const int n = 10, h = 4, w = 3;
    CHECK(write_idx(path, n, h, w, -1) == 0, "cannot write %s", path);

    abp_err err = {{0}};
    abp_data_info info;
    CHECK(abp_data_probe(path, &info, &err) == 0, "%s", err.msg);
    CHECK(info.n == n && info.c == 1 && info.h == h && info.w == w, "probe gave n=%lld %dx%dx%d",
          (long long)info.n, info.c, info.h, info.w);
    CHECK(strcmp(info.kind, "idx") == 0, "kind %s", info.kind);

    /* A middle range at native size: exact values, global names. */
    abp_images im;
    CHECK(abp_data_load(path, 3, 7, 1, h, w, &im, &err) == 0, "%s", err.msg);
    CHECK(im.n == 4 && im.c == 1 && im.h == h && im.w == w, "loaded n=%lld", (long long)im.n);
    int mismatches = 0;
    for (int k = 0; k < 4 && im.data; k++)
        for (int p = 0; p < h * w; p++)
            if (im.data[k * h * w + p] != scaled(idx_pixel(3 + k, p))) mismatches++;
    CHECK(mismatches == 0, "%d pixels differ from the file", mismatches);
    CHECK(im.names && strcmp(im.names[0], "digits-idx3-ubyte#3") == 0, "name %s",
          im.names ? im.names[0] : "(none)");
    CHECK(im.names && strcmp(im.names[3], "digits-idx3-ubyte#6") == 0, "name %s",
          im.names ? im.names[3] : "(none)");
    CHECK(im.data && im.data[0] >= -1.0f && im.data[0] <= 1.0f, "value %g out of [-1,1]",
          im.data ? im.data[0] : 0.0);
    abp_images_free(&im);
    CHECK(im.data == NULL && im.names == NULL && im.n == 0, "free leaves the struct empty");

    /* hi = -1 runs to the end; c = 3 replicates the grey plane. */
    CHECK(abp_data_load(path, 8, -1, 3, h, w, &im, &err) == 0, "%s", err.msg);
    CHECK(im.n == 2 && im.c == 3, "n=%lld c=%d", (long long)im.n, im.c);
    mismatches = 0;
    for (int k = 0; k < 2 && im.data; k++)
        for (int ch = 0; ch < 3; ch++)
            for (int p = 0; p < h * w; p++)
                if (im.data[(k * 3 + ch) * h * w + p] != scaled(idx_pixel(8 + k, p))) mismatches++;
    CHECK(mismatches == 0, "%d pixels differ in grey -> RGB", mismatches);
    abp_images_free(&im);

    /* An empty range is allowed (a rank with no shard). */
    CHECK(abp_data_load(path, 10, 10, 1, h, w, &im, &err) == 0 && im.n == 0, "%s", err.msg);
    abp_images_free(&im);

    /* Out of range and bad channel counts. */
    err.msg[0] = '\0';
    CHECK(abp_data_load(path, 5, 11, 1, h, w, &im, &err) == -1, "hi past the end accepted");
    CHECK(strstr(err.msg, path) && strstr(err.msg, "out of range"), "message: %s", err.msg);
    CHECK(abp_data_load(path, -1, 2, 1, h, w, &im, &err) == -1, "negative lo accepted");
    CHECK(abp_data_load(path, 6, 5, 1, h, w, &im, &err) == -1, "lo > hi accepted");
    err.msg[0] = '\0';
    CHECK(abp_data_load(path, 0, 1, 2, h, w, &im, &err) == -1, "c = 2 accepted");
    CHECK(strstr(err.msg, "channels") != NULL, "message: %s", err.msg);
    CHECK(im.data == NULL && im.n == 0, "a failed load leaves out empty");

    /* A truncated file: the message names the file and both sizes. */
    char cut[4096];
    join(cut, sizeof cut, tmp, "cut-idx3-ubyte");
    CHECK(write_idx(cut, n, h, w, 16 + 9 * h * w + 5) == 0, "cannot write %s", cut);
    err.msg[0] = '\0';
    CHECK(abp_data_probe(cut, &info, &err) == -1, "truncated IDX accepted by probe");
    CHECK(strstr(err.msg, cut) != NULL, "message does not name the file: %s", err.msg);
    CHECK(strstr(err.msg, "136") && strstr(err.msg, "129"), "message lacks sizes: %s", err.msg);
    err.msg[0] = '\0';
    CHECK(abp_data_load(cut, 0, 2, 1, h, w, &im, &err) == -1, "truncated IDX loaded");
    CHECK(strstr(err.msg, cut) != NULL, "message: %s", err.msg);

    /* A header shorter than 16 bytes. */
    CHECK(write_idx(cut, n, h, w, 10) == 0, "cannot write %s", cut);
    err.msg[0] = '\0';
    CHECK(abp_data_probe(cut, &info, &err) == -1 && strstr(err.msg, cut), "message: %s", err.msg);

    /* A labels file is IDX but not images. */
    unsigned char labels[8 + 3] = {0, 0, 8, 1, 0, 0, 0, 3, 7, 2, 1};
    char lab[4096];
    join(lab, sizeof lab, tmp, "labels-idx1-ubyte");
    CHECK(write_bytes(lab, labels, sizeof labels) == 0, "cannot write %s", lab);
    err.msg[0] = '\0';
    CHECK(abp_data_probe(lab, &info, &err) == -1, "labels file accepted as images");
    CHECK(strstr(err.msg, lab) && strstr(err.msg, "labels"), "message: %s", err.msg);
}

/* ---------------------------------------------------------------- folders and images */

static void test_folder(const char *tmp) {
    char dir[4096], path[4096];
    join(dir, sizeof dir, tmp, "pics");
    CHECK(mkdir(dir, 0700) == 0, "mkdir %s", dir);

    /* Three grey 5x5 images written out of order, plus files that must be skipped. */
    const char *names[3] = {"a.png", "b10.png", "b2.png"}; /* strcmp order */
    const unsigned char greys[3] = {10, 200, 128};
    const int write_order[3] = {2, 0, 1};
    for (int i = 0; i < 3; i++) {
        int which = write_order[i];
        join(path, sizeof path, dir, names[which]);
        CHECK(write_flat_png(path, 5, 5, 1, &greys[which]) == 0, "cannot write %s", path);
    }
    join(path, sizeof path, dir, ".hidden.png");
    CHECK(write_bytes(path, "junk", 4) == 0, "cannot write %s", path);
    join(path, sizeof path, dir, "notes.txt");
    CHECK(write_bytes(path, "hello", 5) == 0, "cannot write %s", path);
    join(path, sizeof path, dir, "sub.png"); /* a folder with an image's name */
    CHECK(mkdir(path, 0700) == 0, "mkdir %s", path);

    abp_err err = {{0}};
    abp_data_info info;
    CHECK(abp_data_probe(dir, &info, &err) == 0, "%s", err.msg);
    CHECK(info.n == 3 && info.c == 1 && info.h == 5 && info.w == 5, "probe gave n=%lld %dx%dx%d",
          (long long)info.n, info.c, info.h, info.w);
    CHECK(strcmp(info.kind, "folder") == 0, "kind %s", info.kind);

    abp_images im;
    CHECK(abp_data_load(dir, 0, -1, 1, 5, 5, &im, &err) == 0, "%s", err.msg);
    CHECK(im.n == 3, "n = %lld", (long long)im.n);
    for (int i = 0; i < 3 && i < im.n; i++) {
        CHECK(strcmp(im.names[i], names[i]) == 0, "example %d is %s, want %s", i, im.names[i],
              names[i]);
        CHECK(im.data[i * 25 + 12] == scaled(greys[i]), "example %d value %g, want %g", i,
              im.data[i * 25 + 12], scaled(greys[i]));
    }
    abp_images_free(&im);

    /* Only the requested files: [1, 2) is b10.png. */
    CHECK(abp_data_load(dir, 1, 2, 3, 5, 5, &im, &err) == 0, "%s", err.msg);
    CHECK(im.n == 1 && strcmp(im.names[0], "b10.png") == 0, "got %s", im.n ? im.names[0] : "-");
    int wrong = 0;
    for (int j = 0; j < 3 * 25 && im.data; j++) wrong += im.data[j] != scaled(200);
    CHECK(wrong == 0, "grey -> RGB: %d values differ", wrong);
    abp_images_free(&im);

    /* An RGB image to grey (luma) and to RGB (planes in R, G, B order). */
    char rgb[4096];
    join(rgb, sizeof rgb, tmp, "colour.png");
    const unsigned char colour[3] = {200, 100, 50};
    CHECK(write_flat_png(rgb, 6, 4, 3, colour) == 0, "cannot write %s", rgb);
    CHECK(abp_data_probe(rgb, &info, &err) == 0, "%s", err.msg);
    CHECK(info.n == 1 && info.c == 3 && info.h == 4 && info.w == 6 &&
              strcmp(info.kind, "image") == 0,
          "probe gave n=%lld %dx%dx%d %s", (long long)info.n, info.c, info.h, info.w, info.kind);
    CHECK(abp_data_load(rgb, 0, -1, 3, 4, 6, &im, &err) == 0, "%s", err.msg);
    CHECK(im.n == 1 && strcmp(im.names[0], "colour.png") == 0, "name %s",
          im.n ? im.names[0] : "-");
    for (int ch = 0; ch < 3 && im.data; ch++)
        CHECK(im.data[ch * 24 + 7] == scaled(colour[ch]), "plane %d value %g", ch,
              im.data[ch * 24 + 7]);
    abp_images_free(&im);
    int luma = (int)(0.299 * 200 + 0.587 * 100 + 0.114 * 50 + 0.5); /* 124 */
    CHECK(abp_data_load(rgb, 0, 1, 1, 4, 6, &im, &err) == 0, "%s", err.msg);
    CHECK(im.c == 1 && im.data && fabsf(im.data[5] - scaled(luma)) < 1e-6f, "luma %g, want %g",
          im.data ? im.data[5] : 0.0, scaled(luma));
    abp_images_free(&im);

    /* RGBA: the alpha channel is dropped. */
    char rgba[4096];
    join(rgba, sizeof rgba, tmp, "alpha.png");
    const unsigned char with_alpha[4] = {30, 60, 90, 77};
    CHECK(write_flat_png(rgba, 3, 3, 4, with_alpha) == 0, "cannot write %s", rgba);
    CHECK(abp_data_load(rgba, 0, 1, 3, 3, 3, &im, &err) == 0, "%s", err.msg);
    CHECK(im.data && im.data[0] == scaled(30) && im.data[9] == scaled(60) &&
              im.data[18] == scaled(90),
          "RGBA -> RGB gave %g %g %g", im.data ? im.data[0] : 0, im.data ? im.data[9] : 0,
          im.data ? im.data[18] : 0);
    abp_images_free(&im);

    /* Resize a large constant image to a small one: size as asked, value kept. */
    char big[4096];
    join(big, sizeof big, tmp, "big.png");
    const unsigned char orange[3] = {240, 180, 20};
    CHECK(write_flat_png(big, 40, 20, 3, orange) == 0, "cannot write %s", big);
    CHECK(abp_data_load(big, 0, 1, 3, 8, 8, &im, &err) == 0, "%s", err.msg);
    CHECK(im.n == 1 && im.c == 3 && im.h == 8 && im.w == 8, "size %dx%dx%d", im.c, im.h, im.w);
    float worst = 0;
    for (int ch = 0; ch < 3 && im.data; ch++)
        for (int p = 0; p < 64; p++) {
            float d = fabsf(im.data[ch * 64 + p] - scaled(orange[ch]));
            if (d > worst) worst = d;
        }
    CHECK(worst <= 2.0f / 127.5f, "resized constant image drifts by %g", worst);
    abp_images_free(&im);

    /* The centre crop: a 30x10 image, black | white | black in thirds, loaded at 10x10 is
     * exactly its white middle (the crop is 10x10, so no resampling either). */
    char strip[4096];
    join(strip, sizeof strip, tmp, "strip.png");
    unsigned char px[10 * 30];
    for (int y = 0; y < 10; y++)
        for (int x = 0; x < 30; x++) px[y * 30 + x] = x >= 10 && x < 20 ? 255 : 0;
    CHECK(stbi_write_png(strip, 30, 10, 1, px, 30) != 0, "cannot write %s", strip);
    CHECK(abp_data_load(strip, 0, 1, 1, 10, 10, &im, &err) == 0, "%s", err.msg);
    wrong = 0;
    for (int p = 0; p < 100 && im.data; p++) wrong += im.data[p] != 1.0f;
    CHECK(wrong == 0, "centre crop: %d pixels are not the white middle", wrong);
    abp_images_free(&im);

    /* A file with an image extension that is not an image, in a folder and alone. */
    join(path, sizeof path, dir, "bad.png");
    CHECK(write_bytes(path, "this is not a picture\n", 22) == 0, "cannot write %s", path);
    err.msg[0] = '\0';
    CHECK(abp_data_load(dir, 0, -1, 1, 5, 5, &im, &err) == -1, "bad.png was loaded");
    CHECK(strstr(err.msg, "bad.png") && strstr(err.msg, "not an image"), "message: %s", err.msg);
    /* Only the requested files are decoded: bad.png sorts last ('a' > '1', '2'). */
    CHECK(abp_data_load(dir, 0, 3, 1, 5, 5, &im, &err) == 0, "%s", err.msg);
    CHECK(im.n == 3 && strcmp(im.names[2], "b2.png") == 0, "n = %lld", (long long)im.n);
    abp_images_free(&im);
    err.msg[0] = '\0';
    CHECK(abp_data_probe(path, &info, &err) == -1, "bad.png probed as an image");
    CHECK(strstr(err.msg, path) && strstr(err.msg, "not an image"), "message: %s", err.msg);

    /* A missing path and an empty folder. */
    join(path, sizeof path, tmp, "no-such-thing");
    err.msg[0] = '\0';
    CHECK(abp_data_probe(path, &info, &err) == -1, "a missing path was probed");
    CHECK(strstr(err.msg, path) != NULL, "message: %s", err.msg);
    err.msg[0] = '\0';
    CHECK(abp_data_load(path, 0, -1, 1, 5, 5, &im, &err) == -1 && strstr(err.msg, path),
          "message: %s", err.msg);
    join(path, sizeof path, tmp, "empty");
    CHECK(mkdir(path, 0700) == 0, "mkdir %s", path);
    err.msg[0] = '\0';
    CHECK(abp_data_probe(path, &info, &err) == -1, "an empty folder was probed");
    CHECK(strstr(err.msg, path) && strstr(err.msg, "no images"), "message: %s", err.msg);
}

/* ---------------------------------------------------------------- PNG grids */

static void test_png_grid(const char *tmp) {
    char path[4096], tmp_path[4096 + 8];
    join(path, sizeof path, tmp, "grid.png");
    snprintf(tmp_path, sizeof tmp_path, "%s.tmp", path);

    /* Five RGB 3x2 tiles: tile i, channel k, pixel p holds byte (i*40 + k*15 + p*3). */
    enum { N = 5, C = 3, H = 3, W = 2 };
    float images[N * C * H * W];
    for (int i = 0; i < N; i++)
        for (int k = 0; k < C; k++)
            for (int p = 0; p < H * W; p++)
                images[(i * C + k) * H * W + p] = scaled(i * 40 + k * 15 + p * 3);
    images[0] = 3.0f;  /* clamped to 255 */
    images[1] = -7.0f; /* clamped to 0 */

    abp_err err = {{0}};
    CHECK(abp_png_write_grid(path, images, N, C, H, W, 0, &err) == 0, "%s", err.msg);
    CHECK(!file_exists(tmp_path), "%s left behind", tmp_path);

    /* cols = ceil(sqrt(5)) = 3, rows = 2: 3*(2+1)+1 = 10 wide, 2*(3+1)+1 = 9 high. */
    int w, h, comp;
    unsigned char *px = stbi_load(path, &w, &h, &comp, 0);
    CHECK(px != NULL, "cannot read back %s: %s", path, stbi_failure_reason());
    if (px) {
        CHECK(w == 10 && h == 9 && comp == 3, "grid is %dx%d with %d channels", w, h, comp);
        if (w == 10 && h == 9 && comp == 3) {
            CHECK(px[0] == 0 && px[1] == 0 && px[2] == 0, "border pixel is not dark");
            /* Tile 0 at (1, 1): pixel 0 is clamped high in R; pixel 1 (x=1) clamped low. */
            const unsigned char *t0 = px + (1 * 10 + 1) * 3;
            CHECK(t0[0] == 255 && t0[3] == 0, "clamping gave %d and %d", t0[0], t0[3]);
            CHECK(t0[1] == 15 && t0[2] == 30, "tile 0 G, B = %d, %d", t0[1], t0[2]);
            /* Tile 4 is row 1, column 1: top-left at (1 + 3, 1 + 4); its pixel p = 3 is
             * (x 1, y 1), at (5, 6). */
            const unsigned char *t4 = px + (6 * 10 + 5) * 3;
            CHECK(t4[0] == 4 * 40 + 9 && t4[1] == 4 * 40 + 15 + 9 && t4[2] == 4 * 40 + 30 + 9,
                  "tile 4 pixel = %d %d %d", t4[0], t4[1], t4[2]);
            /* The unused sixth tile and the lines between tiles stay dark. */
            const unsigned char *empty = px + (6 * 10 + 8) * 3;
            CHECK(empty[0] == 0 && empty[1] == 0 && empty[2] == 0, "empty tile is not dark");
            const unsigned char *line = px + (2 * 10 + 3) * 3;
            CHECK(line[0] == 0, "line between tiles is %d", line[0]);
        }
        stbi_image_free(px);
    }

    /* Grey, with explicit columns: a 1-row strip of 2 tiles, written over the old file. */
    float grey[2 * 2 * 2] = {-1, 1, 0, 0.5f, 1, 1, 1, 1};
    CHECK(abp_png_write_grid(path, grey, 2, 1, 2, 2, 4, &err) == 0, "%s", err.msg);
    px = stbi_load(path, &w, &h, &comp, 0);
    CHECK(px && w == 7 && h == 4 && comp == 1, "grey grid %dx%d comp %d", w, h, comp);
    if (px && w == 7 && h == 4 && comp == 1) {
        CHECK(px[1 * 7 + 1] == 0 && px[1 * 7 + 2] == 255 && px[2 * 7 + 1] == 128 &&
                  px[2 * 7 + 2] == 191,
              "grey tile = %d %d %d %d", px[8], px[9], px[15], px[16]);
        CHECK(px[1 * 7 + 4] == 255, "second tile = %d", px[11]);
    }
    stbi_image_free(px);

    /* An unwritable place: the error names the path, and nothing is left behind. */
    char bad[4096], bad_tmp[4096 + 8];
    join(bad, sizeof bad, tmp, "missing-dir/grid.png");
    snprintf(bad_tmp, sizeof bad_tmp, "%s.tmp", bad);
    err.msg[0] = '\0';
    CHECK(abp_png_write_grid(bad, grey, 2, 1, 2, 2, 0, &err) == -1, "wrote into a missing dir");
    CHECK(strstr(err.msg, bad) && strstr(err.msg, "cannot write"), "message: %s", err.msg);
    CHECK(!file_exists(bad) && !file_exists(bad_tmp), "something was left behind");
}

int main(void) {
    char tmp[] = "/tmp/abp-test-io-XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_idx(tmp);
    test_folder(tmp);
    test_png_grid(tmp);
    remove_tree(tmp);
    return check_summary("test_io");
}
