/* WAV files (abp/io.h, src/io/wav.c): both formats round trip, stereo is averaged, other
 * chunks are skipped, a WAV file is a data set of one sound, and truncated, damaged or
 * non-WAV files give one line naming the file. Every file is made here in a temporary
 * folder. */
#include "abp/io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static char dir[] = "/tmp/abp-test-wav-XXXXXX";

static const char *path_of(const char *name) {
    static char buf[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
    return buf[k];
}

static unsigned char *slurp(const char *path, long *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = ftell(f);
    rewind(f);
    unsigned char *b = malloc((size_t)*size + 1);
    if (b && fread(b, 1, (size_t)*size, f) != (size_t)*size) *size = -1;
    fclose(f);
    return b;
}

static void spit(const char *path, const void *bytes, long size) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(bytes, 1, (size_t)size, f);
        fclose(f);
    }
}

static void put16(unsigned char *p, unsigned v) { p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, unsigned v) { put16(p, v & 0xFFFF), put16(p + 2, v >> 16); }

static void test_round_trips(void) {
    enum { T = 1001 };
    float x[T];
    for (int t = 0; t < T; t++) x[t] = (float)((t * 37 % 65536) - 32768) / 32768.0f; /* exact in 16 bits */
    x[0] = -1.0f, x[1] = 32767.0f / 32768.0f;
    abp_err err = {{0}};
    float *y = NULL;
    int64_t frames = 0;
    int rate = 0;

    CHECK(abp_wav_write(path_of("a.wav"), x, T, 8000, ABP_WAV_PCM16, &err) == 0, "%s", err.msg);
    CHECK(abp_wav_read(path_of("a.wav"), &y, &frames, &rate, &err) == 0, "%s", err.msg);
    CHECK(frames == T && rate == 8000, "frames %lld rate %d", (long long)frames, rate);
    int same = 1;
    for (int t = 0; y && t < T; t++) same &= y[t] == x[t];
    CHECK(same, "16-bit values that fit exactly come back exactly");
    abp_free(y);
    long size = 0;
    unsigned char *b = slurp(path_of("a.wav"), &size);
    CHECK(b && size == 44 + 2 * T, "a 16-bit mono file is 44 + 2T bytes, not %ld", size);
    CHECK(b && memcmp(b, "RIFF", 4) == 0 && memcmp(b + 8, "WAVEfmt ", 8) == 0, "header");
    free(b);

    /* Values beyond [-1, 1] clamp; a float file keeps them. */
    float wide[4] = {1.5f, -2.0f, 0.25f, 1e-7f};
    CHECK(abp_wav_write(path_of("c.wav"), wide, 4, 44100, ABP_WAV_PCM16, &err) == 0, "%s", err.msg);
    CHECK(abp_wav_read(path_of("c.wav"), &y, &frames, &rate, &err) == 0, "%s", err.msg);
    CHECK(y && y[0] == 32767.0f / 32768.0f && y[1] == -1.0f && y[2] == 0.25f && y[3] == 0.0f,
          "clamped 16-bit values");
    abp_free(y);
    CHECK(abp_wav_write(path_of("f.wav"), wide, 4, 16000, ABP_WAV_FLOAT32, &err) == 0, "%s", err.msg);
    CHECK(abp_wav_read(path_of("f.wav"), &y, &frames, &rate, &err) == 0, "%s", err.msg);
    CHECK(frames == 4 && rate == 16000 && y && memcmp(y, wide, sizeof wide) == 0, "float round trip");
    abp_free(y);

    /* Writing over an existing file replaces it whole; a missing folder is an error naming it. */
    CHECK(abp_wav_write(path_of("none/x.wav"), wide, 4, 8000, ABP_WAV_PCM16, &err) == -1, "missing folder");
    CHECK(strstr(err.msg, "none/x.wav") != NULL, "message: %s", err.msg);
}

/* A hand-made stereo 16-bit file with a LIST chunk of odd size before the data: channels
 * are averaged, the padding byte is skipped. */
static void test_stereo_and_chunks(void) {
    unsigned char b[12 + 24 + 8 + 4 + 8 + 8];
    memcpy(b, "RIFF", 4), put32(b + 4, sizeof b - 8), memcpy(b + 8, "WAVE", 4);
    unsigned char *p = b + 12;
    memcpy(p, "fmt ", 4), put32(p + 4, 16), put16(p + 8, 1), put16(p + 10, 2), put32(p + 12, 22050);
    put32(p + 16, 22050 * 4), put16(p + 20, 4), put16(p + 22, 16), p += 24;
    memcpy(p, "LIST", 4), put32(p + 4, 3), memcpy(p + 8, "ab\0\0", 4), p += 12; /* 3 bytes + pad */
    memcpy(p, "data", 4), put32(p + 4, 8), p += 8;
    put16(p, 16384), put16(p + 2, 0), put16(p + 4, (unsigned)(uint16_t)-32768), put16(p + 6, 0);
    spit(path_of("stereo.wav"), b, sizeof b);
    abp_err err = {{0}};
    float *y = NULL;
    int64_t frames = 0;
    int rate = 0;
    CHECK(abp_wav_read(path_of("stereo.wav"), &y, &frames, &rate, &err) == 0, "%s", err.msg);
    CHECK(frames == 2 && rate == 22050, "frames %lld rate %d", (long long)frames, rate);
    CHECK(y && y[0] == 0.25f && y[1] == -0.5f, "mean of the channels: %g %g", y ? y[0] : 0.0, y ? y[1] : 0.0);
    abp_free(y);
}

static void expect_error(const char *name, const void *bytes, long size, const char *needle) {
    const char *path = path_of(name);
    spit(path, bytes, size);
    abp_err err = {{0}};
    float *y = NULL;
    int64_t frames;
    int rate;
    CHECK(abp_wav_read(path, &y, &frames, &rate, &err) == -1, "%s was read", name);
    CHECK(strstr(err.msg, path) && strstr(err.msg, needle) && !strchr(err.msg, '\n'),
          "%s: message '%s' should name the file and say '%s'", name, err.msg, needle);
    abp_data_info info;
    CHECK(abp_data_probe(path, &info, &err) == -1 || strcmp(info.kind, "wav") != 0,
          "%s passed as a sound", name);
}

static void test_bad_files(void) {
    float x[100] = {0};
    abp_err err = {{0}};
    CHECK(abp_wav_write(path_of("good.wav"), x, 100, 8000, ABP_WAV_PCM16, &err) == 0, "%s", err.msg);
    long size;
    unsigned char *b = slurp(path_of("good.wav"), &size);
    if (!b) return;
    expect_error("cut.wav", b, size - 10, "truncated");
    expect_error("headonly.wav", b, 30, "truncated");
    unsigned char c[64];
    memcpy(c, b, 44);
    put16(c + 34, 24); /* 24-bit */
    put32(c + 40, 0);
    expect_error("b24.wav", c, 44, "16-bit PCM and 32-bit float");
    free(b);
    const char text[] = "RIFX this is not a sound file at all";
    CHECK(abp_wav_has_magic((const unsigned char *)text, sizeof text) == 0, "RIFX is not WAV");
    spit(path_of("text.wav"), text, sizeof text);
    float *y;
    int64_t frames;
    int rate;
    CHECK(abp_wav_read(path_of("text.wav"), &y, &frames, &rate, &err) == -1 &&
              strstr(err.msg, "not a WAV file") && strstr(err.msg, "text.wav"),
          "message: %s", err.msg);
}

/* As data: one example, 1 x 1 x T; a model of fewer samples takes the first ones; more
 * samples than the file has is an error naming both. */
static void test_as_data(void) {
    float x[50];
    for (int t = 0; t < 50; t++) x[t] = (float)t / 64.0f;
    abp_err err = {{0}};
    CHECK(abp_wav_write(path_of("clip.wav"), x, 50, 8000, ABP_WAV_PCM16, &err) == 0, "%s", err.msg);
    abp_data_info info;
    CHECK(abp_data_probe(path_of("clip.wav"), &info, &err) == 0, "%s", err.msg);
    CHECK(info.n == 1 && info.c == 1 && info.h == 1 && info.w == 50 && strcmp(info.kind, "wav") == 0,
          "probe: n %lld %dx%dx%d %s", (long long)info.n, info.h, info.w, info.c, info.kind);
    abp_images im;
    CHECK(abp_data_load(path_of("clip.wav"), 0, -1, 1, 1, 40, &im, &err) == 0, "%s", err.msg);
    CHECK(im.n == 1 && im.data && im.data[0] == 0.0f && im.data[39] == 39.0f / 64.0f, "first 40 samples");
    CHECK(im.names && strcmp(im.names[0], "clip.wav") == 0, "name %s", im.names ? im.names[0] : "-");
    abp_images_free(&im);
    CHECK(abp_data_load(path_of("clip.wav"), 0, -1, 1, 1, 60, &im, &err) == -1 &&
              strstr(err.msg, "50 samples") && strstr(err.msg, "60"),
          "message: %s", err.msg);
    CHECK(abp_data_load(path_of("clip.wav"), 0, -1, 1, 8, 8, &im, &err) == -1 && strstr(err.msg, "a sound"),
          "an image model on a sound: %s", err.msg);
}

int main(void) {
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_round_trips();
    test_stereo_and_chunks();
    test_bad_files();
    test_as_data();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "test_wav: could not remove %s\n", dir);
    return check_summary("test_wav");
}
