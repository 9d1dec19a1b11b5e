/* Datasets and pictures (abp/io.h): IDX files, folders of images, single images, HDF5
 * data sets (abp_data_prepare and reading them back), the conversions between them, the
 * error messages, and the PNG grid writer. Every input is generated here in a fresh
 * temporary folder. Runs as a single process (abp_data_prepare on one rank; the CLI test
 * cli_prepare.sh runs it on several). */
#include "abp/io.h"

#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>
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

/* ---------------------------------------------------------------- HDF5 data sets */

/* The whole of a small file, to see that a refused write left it as it was. */
static long read_all(const char *path, unsigned char *buf, long cap) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    long n = (long)fread(buf, 1, (size_t)cap, f);
    fclose(f);
    return n;
}

/* Loads [lo, hi) of a and of b at c x h x w and counts the floats and names that differ;
 * -1 if either load fails. */
static int count_differences(const char *a, const char *b, int64_t lo, int64_t hi, int c, int h, int w) {
    abp_images x, y;
    abp_err err = {{0}};
    int rc_x = abp_data_load(a, lo, hi, c, h, w, &x, &err);
    if (rc_x != 0) fprintf(stderr, "test_io: %s\n", err.msg);
    int rc_y = abp_data_load(b, lo, hi, c, h, w, &y, &err);
    if (rc_y != 0) fprintf(stderr, "test_io: %s\n", err.msg);
    int differ = -1;
    if (rc_x == 0 && rc_y == 0 && x.n == y.n) {
        differ = 0;
        for (int64_t k = 0; k < x.n * c * h * w; k++) differ += x.data[k] != y.data[k];
        for (int64_t i = 0; i < x.n; i++) differ += strcmp(x.names[i], y.names[i]) != 0;
    }
    abp_images_free(&x);
    abp_images_free(&y);
    return differ;
}

/* What the progress callback saw. */
typedef struct progress_log {
    int calls, decreasing;
    int64_t first, last, total;
} progress_log;

static void log_progress(const abp_data_info *out, int64_t done, void *ctx) {
    progress_log *log = ctx;
    if (log->calls == 0) log->first = done;
    if (log->calls > 0 && done < log->last) log->decreasing = 1;
    log->calls++;
    log->last = done;
    log->total = out->n;
}

static void test_prepare(const char *tmp) {
    char idx[4096], pics[4096], path[4096], out[4096], out_tmp[4096 + 8];
    join(idx, sizeof idx, tmp, "digits-idx3-ubyte");
    CHECK(write_idx(idx, 10, 4, 3, -1) == 0, "cannot write %s", idx);
    join(pics, sizeof pics, tmp, "rgb");
    CHECK(mkdir(pics, 0700) == 0, "mkdir %s", pics);
    const unsigned char colours[2][3] = {{200, 100, 50}, {10, 20, 30}};
    for (int i = 0; i < 2; i++) {
        char name[16];
        snprintf(name, sizeof name, "p%d.png", i);
        join(path, sizeof path, pics, name);
        CHECK(write_flat_png(path, 6, 4, 3, colours[i]) == 0, "cannot write %s", path);
    }
    abp_err err = {{0}};
    abp_data_info info, written;

    /* The IDX file at its own size, 3 examples per write: 4 writes, the last one short. */
    join(out, sizeof out, tmp, "digits.h5");
    snprintf(out_tmp, sizeof out_tmp, "%s.tmp", out);
    const char *one[] = {idx};
    progress_log log = {0};
    abp_prepare_cfg cfg = {.sources = one, .nsources = 1, .block = 3, .progress = log_progress, .progress_ctx = &log};
    CHECK(abp_data_prepare(MPI_COMM_WORLD, out, &cfg, &written, &err) == 0, "%s", err.msg);
    CHECK(written.n == 10 && written.c == 1 && written.h == 4 && written.w == 3, "wrote %lld of %dx%dx%d",
          (long long)written.n, written.h, written.w, written.c);
    CHECK(log.calls == 5 && log.first == 0 && log.last == 10 && log.total == 10 && !log.decreasing,
          "progress: %d calls, first %lld, last %lld of %lld", log.calls, (long long)log.first, (long long)log.last,
          (long long)log.total);
    CHECK(!file_exists(out_tmp), "%s left behind", out_tmp);
    CHECK(abp_data_probe(out, &info, &err) == 0, "%s", err.msg);
    CHECK(info.n == 10 && info.c == 1 && info.h == 4 && info.w == 3 && strcmp(info.kind, "hdf5") == 0,
          "probe gave n=%lld %dx%dx%d %s", (long long)info.n, info.h, info.w, info.c, info.kind);
    char format[32];
    CHECK(abp_h5_format(out, format, sizeof format, &err) == 0 && strcmp(format, "abp-images") == 0, "format %s",
          format);

    /* The packed file gives the very floats and names of the IDX file: a middle range, the
     * grey -> RGB path, and the resize path (the same bytes are fitted the same way). */
    CHECK(count_differences(idx, out, 3, 7, 1, 4, 3) == 0, "rows [3, 7) differ");
    CHECK(count_differences(idx, out, 0, -1, 3, 4, 3) == 0, "RGB rows differ");
    CHECK(count_differences(idx, out, 2, 9, 1, 2, 2) == 0, "rows resized to 2x2 differ");
    CHECK(count_differences(idx, out, 9, 10, 3, 8, 6) == 0, "rows resized to 8x6 differ");
    abp_images im;
    CHECK(abp_data_load(out, 10, 10, 1, 4, 3, &im, &err) == 0 && im.n == 0, "empty range: %s", err.msg);
    abp_images_free(&im);
    err.msg[0] = '\0';
    CHECK(abp_data_load(out, 8, 11, 1, 4, 3, &im, &err) == -1, "rows past the end loaded");
    CHECK(strstr(err.msg, out) && strstr(err.msg, "out of range"), "message: %s", err.msg);

    /* An existing file is refused and left exactly as it was. */
    unsigned char before[1 << 16], after[1 << 16];
    long size_before = read_all(out, before, sizeof before);
    err.msg[0] = '\0';
    CHECK(abp_data_prepare(MPI_COMM_WORLD, out, &cfg, &written, &err) == -1, "an existing file was replaced");
    CHECK(strstr(err.msg, out) && strstr(err.msg, "already exists"), "message: %s", err.msg);
    CHECK(read_all(out, after, sizeof after) == size_before && size_before > 0 &&
              memcmp(before, after, (size_t)size_before) == 0,
          "the existing file changed");

    /* Stored at another size: the bytes are fitted once, when packing, so loading at that
     * size gives what the IDX file gives at it. */
    join(path, sizeof path, tmp, "digits-2x2.h5");
    abp_prepare_cfg small = {.sources = one, .nsources = 1, .h = 2, .w = 2};
    CHECK(abp_data_prepare(MPI_COMM_WORLD, path, &small, &written, &err) == 0, "%s", err.msg);
    CHECK(written.h == 2 && written.w == 2 && written.n == 10, "wrote %dx%d", written.h, written.w);
    CHECK(count_differences(idx, path, 0, -1, 1, 2, 2) == 0, "rows stored at 2x2 differ");

    /* Two sources concatenated, cut by the limit, stored as RGB at the first one's size. */
    join(path, sizeof path, tmp, "mixed.h5");
    const char *two[] = {idx, pics};
    abp_prepare_cfg mixed = {.sources = two, .nsources = 2, .limit = 11, .c = 3};
    CHECK(abp_data_prepare(MPI_COMM_WORLD, path, &mixed, &written, &err) == 0, "%s", err.msg);
    CHECK(written.n == 11 && written.c == 3 && written.h == 4 && written.w == 3, "wrote %lld of %dx%dx%d",
          (long long)written.n, written.h, written.w, written.c);
    abp_images all, from_pics;
    CHECK(abp_data_load(path, 0, -1, 3, 4, 3, &all, &err) == 0, "%s", err.msg);
    CHECK(abp_data_load(pics, 0, 1, 3, 4, 3, &from_pics, &err) == 0, "%s", err.msg);
    if (all.n == 11 && from_pics.n == 1) {
        CHECK(strcmp(all.names[9], "digits-idx3-ubyte#9") == 0 && strcmp(all.names[10], "p0.png") == 0,
              "names %s, %s", all.names[9], all.names[10]);
        CHECK(memcmp(all.data + 10 * 36, from_pics.data, 36 * sizeof(float)) == 0,
              "the folder's image differs in the packed file");
    }
    abp_images_free(&all);
    abp_images_free(&from_pics);
    CHECK(count_differences(idx, path, 0, 10, 3, 4, 3) == 0, "the IDX rows differ in the mixed file");

    /* Failures name the culprit and leave neither the file nor its .tmp. */
    join(path, sizeof path, tmp, "failed.h5");
    char path_tmp[4096 + 8];
    snprintf(path_tmp, sizeof path_tmp, "%s.tmp", path);
    char missing[4096];
    join(missing, sizeof missing, tmp, "no-such-idx3-ubyte");
    const char *bad_source[] = {idx, missing};
    abp_prepare_cfg bad = {.sources = bad_source, .nsources = 2};
    err.msg[0] = '\0';
    CHECK(abp_data_prepare(MPI_COMM_WORLD, path, &bad, &written, &err) == -1, "a missing source was packed");
    CHECK(strstr(err.msg, missing) != NULL, "message: %s", err.msg);
    abp_prepare_cfg grey_alpha = {.sources = one, .nsources = 1, .c = 2};
    err.msg[0] = '\0';
    CHECK(abp_data_prepare(MPI_COMM_WORLD, path, &grey_alpha, &written, &err) == -1, "2 channels accepted");
    CHECK(strstr(err.msg, "channels") != NULL, "message: %s", err.msg);
    join(out, sizeof out, pics, "q-broken.png"); /* sorts after p0, p1: found only when decoding */
    CHECK(write_bytes(out, "no picture", 10) == 0, "cannot write %s", out);
    const char *with_broken[] = {pics};
    abp_prepare_cfg broken = {.sources = with_broken, .nsources = 1};
    err.msg[0] = '\0';
    CHECK(abp_data_prepare(MPI_COMM_WORLD, path, &broken, &written, &err) == -1, "a broken image was packed");
    CHECK(strstr(err.msg, "q-broken.png") && strstr(err.msg, "not an image"), "message: %s", err.msg);
    CHECK(!file_exists(path) && !file_exists(path_tmp), "a failed prepare left a file");
}

/* How write_h5 departs from a good data set file. */
typedef enum h5_variant { H5_GOOD, H5_NO_FORMAT, H5_OTHER_VERSION, H5_NO_IMAGES, H5_FLOAT_IMAGES, H5_RANK3,
                          H5_WRONG_HEIGHT, H5_FEW_NAMES } h5_variant;

/* A data set of 4 grey 2x3 images made with the HDF5 API as another tool (h5py) would make
 * it: contiguous, names as variable-length strings. Pixel p of image i is i * 10 + p. */
static int write_h5(const char *path, h5_variant v) {
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (file < 0) return -1;
    hid_t scalar = H5Screate(H5S_SCALAR), str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, H5T_VARIABLE);
    const char *format = "abp-images";
    long long version = v == H5_OTHER_VERSION ? 2 : 1, height = v == H5_WRONG_HEIGHT ? 3 : 2, width = 3,
              channels = 1, count = 4;
    if (v != H5_NO_FORMAT) {
        hid_t a = H5Acreate2(file, "format", str, scalar, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, str, &format);
        H5Aclose(a);
    }
    const char *names[] = {"format_version", "height", "width", "channels", "count"};
    const long long values[] = {version, height, width, channels, count};
    for (int k = 0; k < 5; k++) {
        hid_t a = H5Acreate2(file, names[k], H5T_STD_I64LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(a, H5T_NATIVE_LLONG, &values[k]);
        H5Aclose(a);
    }
    unsigned char pixels[4 * 6];
    for (int i = 0; i < 4 * 6; i++) pixels[i] = (unsigned char)(i / 6 * 10 + i % 6);
    if (v != H5_NO_IMAGES) {
        hsize_t dims[4] = {4, 2, 3, 1};
        hid_t space = H5Screate_simple(v == H5_RANK3 ? 3 : 4, dims, NULL);
        hid_t d = H5Dcreate2(file, "images", v == H5_FLOAT_IMAGES ? H5T_IEEE_F32LE : H5T_STD_U8LE, space,
                             H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        H5Dwrite(d, H5T_NATIVE_UCHAR, H5S_ALL, H5S_ALL, H5P_DEFAULT, pixels);
        H5Dclose(d);
        H5Sclose(space);
    }
    const char *rows[] = {"a", "bb", "ccc", "dddd"};
    hsize_t n = v == H5_FEW_NAMES ? 3 : 4;
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(file, "examples", str, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(d, str, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows);
    H5Dclose(d);
    H5Sclose(space);
    H5Tclose(str);
    H5Sclose(scalar);
    return H5Fclose(file) < 0 ? -1 : 0;
}

static void test_h5_reading(const char *tmp) {
    char path[4096];
    abp_err err = {{0}};
    abp_data_info info;
    abp_images im;

    /* A file from another tool: variable-length names, 64-bit attributes, no chunks. */
    join(path, sizeof path, tmp, "foreign.h5");
    CHECK(write_h5(path, H5_GOOD) == 0, "cannot write %s", path);
    CHECK(abp_data_probe(path, &info, &err) == 0, "%s", err.msg);
    CHECK(abp_data_load(path, 1, 3, 1, 2, 3, &im, &err) == 0, "%s", err.msg);
    CHECK(im.n == 2 && strcmp(im.names[0], "bb") == 0 && strcmp(im.names[1], "ccc") == 0, "names %s %s",
          im.n ? im.names[0] : "-", im.n > 1 ? im.names[1] : "-");
    CHECK(im.data && im.data[0] == scaled(10) && im.data[11] == scaled(25), "values %g %g", im.data ? im.data[0] : 0,
          im.data ? im.data[11] : 0);
    abp_images_free(&im);

    /* Each way of being wrong, named in one line with the file. */
    const struct {
        h5_variant variant;
        const char *says;
    } broken[] = {
        {H5_NO_FORMAT, "not an abp data set"}, {H5_OTHER_VERSION, "version 2"},
        {H5_NO_IMAGES, "missing /images"},     {H5_FLOAT_IMAGES, "uint8"},
        {H5_RANK3, "3 dimensions"},            {H5_WRONG_HEIGHT, "attributes say"},
        {H5_FEW_NAMES, "3 names"},
    };
    for (size_t k = 0; k < sizeof broken / sizeof broken[0]; k++) {
        join(path, sizeof path, tmp, "broken.h5");
        CHECK(write_h5(path, broken[k].variant) == 0, "cannot write %s", path);
        err.msg[0] = '\0';
        CHECK(abp_data_probe(path, &info, &err) == -1, "variant %d probed", (int)broken[k].variant);
        CHECK(strstr(err.msg, path) && strstr(err.msg, broken[k].says) && !strchr(err.msg, '\n'),
              "variant %d: '%s' does not say '%s'", (int)broken[k].variant, err.msg, broken[k].says);
        err.msg[0] = '\0';
        CHECK(abp_data_load(path, 0, 1, 1, 2, 3, &im, &err) == -1 && strstr(err.msg, broken[k].says),
              "variant %d loaded: %s", (int)broken[k].variant, err.msg);
    }

    /* A file cut short. */
    join(path, sizeof path, tmp, "foreign.h5");
    unsigned char bytes[1 << 16];
    long size = read_all(path, bytes, sizeof bytes);
    join(path, sizeof path, tmp, "cut.h5");
    CHECK(size > 0 && write_bytes(path, bytes, (size_t)size / 2) == 0, "cannot write %s", path);
    err.msg[0] = '\0';
    CHECK(abp_data_probe(path, &info, &err) == -1, "a truncated file was probed");
    CHECK(strstr(err.msg, path) && strstr(err.msg, "truncated"), "message: %s", err.msg);
    CHECK(abp_h5_format(path, info.kind, sizeof info.kind, &err) == -1, "format of a truncated file");
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

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv); /* abp_data_prepare writes through MPI-IO, here on one rank */
    char tmp[] = "/tmp/abp-test-io-XXXXXX";
    if (!mkdtemp(tmp)) {
        perror("mkdtemp");
        return 1;
    }
    test_idx(tmp);
    test_folder(tmp);
    test_prepare(tmp);
    test_h5_reading(tmp);
    test_png_grid(tmp);
    remove_tree(tmp);
    int status = check_summary("test_io");
    MPI_Finalize();
    return status;
}
