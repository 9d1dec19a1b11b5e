/* WAV (RIFF/WAVE) sound files: mono signals in [-1, 1] in and out.
 *
 * Hand-written rather than libsndfile: the two sample formats abp needs (16-bit PCM and
 * 32-bit float) are a few chunk headers, and libsndfile-dev would pull FLAC, Ogg, Vorbis,
 * Opus and MPEG development packages into every build for them.
 *
 * Reading: the "fmt " and "data" chunks are found among any others (LIST, fact, ...), in
 * either order; WAVE_FORMAT_EXTENSIBLE is read through its sub-format. Several channels
 * are averaged into one. 16-bit samples are divided by 32768, float samples kept as stored.
 * Writing: 16-bit PCM multiplies by 32768, rounds and clamps to [-32768, 32767], so a
 * 16-bit file read and written again is the same bytes; float writes the floats. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/io.h"

enum { WAV_FORMAT_PCM = 1, WAV_FORMAT_FLOAT = 3, WAV_FORMAT_EXTENSIBLE = 0xFFFE };

static uint32_t le16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t le32(const unsigned char *p) { return le16(p) | le16(p + 2) << 16; }
static void put16(unsigned char *p, uint32_t v) { p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8); }
static void put32(unsigned char *p, uint32_t v) { put16(p, v), put16(p + 2, v >> 16); }

int abp_wav_has_magic(const unsigned char *head, size_t n) {
    return n >= 12 && memcmp(head, "RIFF", 4) == 0 && memcmp(head + 8, "WAVE", 4) == 0;
}

/* The whole file in memory (sound clips for abp are small). */
static int read_file(const char *path, unsigned char **bytes, size_t *size, abp_err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return abp_fail(err, "%s: cannot open (%s)", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            unsigned char *grown = realloc(buf, cap = cap ? 2 * cap : 1 << 16);
            if (!grown) {
                free(buf);
                fclose(f);
                return abp_fail(err, "%s: out of memory", path);
            }
            buf = grown;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return abp_fail(err, "%s: read error", path);
    }
    *bytes = buf, *size = len;
    return 0;
}

/* Where the sample bytes are and how to read them. */
typedef struct wav_layout {
    int format;           /* WAV_FORMAT_PCM or WAV_FORMAT_FLOAT */
    int channels, bits, rate;
    size_t data_offset;   /* of the first sample byte */
    int64_t frames;
} wav_layout;

static int parse_layout(const char *path, const unsigned char *b, size_t size, wav_layout *w,
                        abp_err *err) {
    if (!abp_wav_has_magic(b, size))
        return abp_fail(err, "%s: not a WAV file (no RIFF/WAVE header)", path);
    const unsigned char *fmt = NULL;
    size_t pos = 12, data_size = 0, fmt_size = 0;
    int have_data = 0;
    while (pos + 8 <= size && (!fmt || !have_data)) {
        uint32_t chunk = le32(b + pos + 4);
        const unsigned char *body = b + pos + 8;
        if (memcmp(b + pos, "fmt ", 4) == 0) {
            if (chunk < 16 || chunk > size - pos - 8)
                return abp_fail(err, "%s: truncated or damaged fmt chunk", path);
            fmt = body;
            fmt_size = chunk;
        } else if (memcmp(b + pos, "data", 4) == 0) {
            have_data = 1;
            w->data_offset = pos + 8;
            data_size = chunk;
            if (chunk > size - pos - 8)
                return abp_fail(err, "%s: truncated: the data chunk says %u bytes, %zu are there",
                                path, (unsigned)chunk, size - pos - 8);
        }
        pos += 8 + (size_t)chunk + (chunk & 1); /* chunks are padded to even sizes */
    }
    if (!fmt) return abp_fail(err, "%s: truncated or damaged: no fmt chunk", path);
    if (!have_data) return abp_fail(err, "%s: truncated: no data chunk", path);
    int format = (int)le16(fmt);
    if (format == WAV_FORMAT_EXTENSIBLE) /* the sub-format GUID starts with the format code */
        format = fmt_size >= 26 ? (int)le16(fmt + 24) : 0;
    w->channels = (int)le16(fmt + 2);
    w->rate = (int)le32(fmt + 4);
    w->bits = (int)le16(fmt + 14);
    if (w->channels < 1 || w->rate < 1)
        return abp_fail(err, "%s: damaged fmt chunk (%d channels at %d Hz)", path, w->channels, w->rate);
    if (!(format == WAV_FORMAT_PCM && w->bits == 16) && !(format == WAV_FORMAT_FLOAT && w->bits == 32))
        return abp_fail(err, "%s: %d-bit %s samples; abp reads 16-bit PCM and 32-bit float "
                        "(convert with: sox IN -b 16 OUT.wav)", path, w->bits,
                        format == WAV_FORMAT_PCM ? "PCM" : format == WAV_FORMAT_FLOAT ? "float" : "non-PCM");
    w->format = format;
    w->frames = (int64_t)(data_size / ((size_t)w->channels * (size_t)(w->bits / 8)));
    if (w->frames < 1) return abp_fail(err, "%s: holds no samples", path);
    return 0;
}

int abp_wav_info(const char *path, int64_t *frames, int *rate, abp_err *err) {
    unsigned char *bytes;
    size_t size;
    if (read_file(path, &bytes, &size, err)) return -1;
    wav_layout w;
    int rc = parse_layout(path, bytes, size, &w, err);
    free(bytes);
    if (rc == 0) *frames = w.frames, *rate = w.rate;
    return rc;
}

int abp_wav_read(const char *path, float **samples, int64_t *frames, int *rate, abp_err *err) {
    unsigned char *bytes;
    size_t size;
    if (read_file(path, &bytes, &size, err)) return -1;
    wav_layout w;
    if (parse_layout(path, bytes, size, &w, err)) {
        free(bytes);
        return -1;
    }
    float *out = abp_alloc(sizeof(float) * (size_t)w.frames, err);
    if (!out) {
        free(bytes);
        return abp_fail_wrap(err, "%s", path);
    }
    const unsigned char *p = bytes + w.data_offset;
    for (int64_t t = 0; t < w.frames; t++) {
        double sum = 0.0;
        for (int ch = 0; ch < w.channels; ch++) {
            if (w.format == WAV_FORMAT_PCM) {
                sum += (double)(int16_t)le16(p) / 32768.0;
                p += 2;
            } else {
                uint32_t u = le32(p);
                float v;
                memcpy(&v, &u, sizeof v);
                sum += (double)v;
                p += 4;
            }
        }
        out[t] = (float)(sum / w.channels);
    }
    free(bytes);
    *samples = out, *frames = w.frames, *rate = w.rate;
    return 0;
}

int abp_wav_write(const char *path, const float *samples, int64_t frames, int rate,
                  abp_wav_format format, abp_err *err) {
    int is_float = format == ABP_WAV_FLOAT32, bytes_per = is_float ? 4 : 2;
    uint64_t data_bytes = (uint64_t)frames * (uint64_t)bytes_per;
    uint32_t fmt_size = is_float ? 18 : 16, fact_size = is_float ? 12 : 0;
    uint32_t header = 12 + 8 + fmt_size + fact_size + 8;
    if (frames < 1 || rate < 1) return abp_fail(err, "%s: nothing to write (%lld samples at %d Hz)", path, (long long)frames, rate);
    if (data_bytes + header > 0xFFFFFFFFu)
        return abp_fail(err, "%s: %lld samples are too many for one WAV file", path, (long long)frames);
    size_t total = header + (size_t)data_bytes + (data_bytes & 1);
    unsigned char *b = calloc(total, 1);
    if (!b) return abp_fail(err, "%s: out of memory", path);
    unsigned char *p = b;
    memcpy(p, "RIFF", 4), put32(p + 4, (uint32_t)(total - 8)), memcpy(p + 8, "WAVE", 4), p += 12;
    memcpy(p, "fmt ", 4), put32(p + 4, fmt_size), p += 8;
    put16(p, is_float ? WAV_FORMAT_FLOAT : WAV_FORMAT_PCM), put16(p + 2, 1), put32(p + 4, (uint32_t)rate);
    put32(p + 8, (uint32_t)rate * (uint32_t)bytes_per), put16(p + 12, (uint32_t)bytes_per);
    put16(p + 14, 8 * (uint32_t)bytes_per), p += fmt_size; /* an 18-byte fmt ends in cbSize = 0 */
    if (is_float) memcpy(p, "fact", 4), put32(p + 4, 4), put32(p + 8, (uint32_t)frames), p += 12;
    memcpy(p, "data", 4), put32(p + 4, (uint32_t)data_bytes), p += 8;
    for (int64_t t = 0; t < frames; t++) {
        if (is_float) {
            uint32_t u;
            memcpy(&u, &samples[t], sizeof u);
            put32(p, u), p += 4;
        } else {
            double v = nearbyint((double)samples[t] * 32768.0);
            v = v < -32768.0 ? -32768.0 : v > 32767.0 ? 32767.0 : v != v ? 0.0 : v;
            put16(p, (uint32_t)(uint16_t)(int16_t)v), p += 2;
        }
    }
    /* Written to PATH.tmp and renamed, so a failure never leaves a damaged PATH. */
    char tmp[1100];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) {
        free(b);
        return abp_fail(err, "%s: path too long", path);
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        free(b);
        return abp_fail(err, "%s: cannot create (%s)", tmp, strerror(errno));
    }
    size_t put = fwrite(b, 1, total, f);
    free(b);
    if (fclose(f) != 0 || put != total) {
        remove(tmp);
        return abp_fail(err, "%s: write failed", tmp);
    }
    if (rename(tmp, path) != 0) {
        remove(tmp);
        return abp_fail(err, "%s: cannot rename into place (%s)", path, strerror(errno));
    }
    return 0;
}
