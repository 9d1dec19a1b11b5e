/* IDX image files (see idx.h): header checks and reads of a range of images. */
#include "idx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

enum {
    IDX_HEADER_BYTES = 16,   /* magic + three 32-bit sizes */
    IDX_TYPE_UBYTE = 0x08,
    IDX_LABELS_HEADER_BYTES = 8, /* magic + one 32-bit size */
    IDX_MAX_SIDE = 1 << 16,  /* keeps rows * columns well inside an int */
};

static uint32_t read_be32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int abp_idx_has_magic(const unsigned char head[4]) {
    /* Element types defined by the format: ubyte, sbyte, short, int, float, double. */
    int type_ok = head[2] == 0x08 || head[2] == 0x09 || (head[2] >= 0x0B && head[2] <= 0x0E);
    return head[0] == 0 && head[1] == 0 && type_ok && head[3] >= 1 && head[3] <= 4;
}

int abp_idx_open(const char *path, abp_idx *idx, abp_err *err) {
    memset(idx, 0, sizeof *idx);
    FILE *f = fopen(path, "rb");
    if (!f) return abp_fail(err, "%s: cannot open (%s)", path, strerror(errno));

    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int e = errno;
        fclose(f);
        return abp_fail(err, "%s: cannot stat (%s)", path, strerror(e));
    }
    long long file_bytes = (long long)st.st_size;

    unsigned char head[IDX_HEADER_BYTES];
    size_t got = fread(head, 1, sizeof head, f);
    if (got >= 4 && !abp_idx_has_magic(head)) {
        fclose(f);
        return abp_fail(err, "%s: not an IDX file (magic 0x%08x)", path, (unsigned)read_be32(head));
    }
    if (got >= 4 && (head[2] != IDX_TYPE_UBYTE || head[3] != 3)) {
        fclose(f);
        return abp_fail(err,
                        "%s: IDX file of element type 0x%02x with %d dimension%s, not ubyte images "
                        "(magic 0x00000803)%s",
                        path, head[2], head[3], head[3] == 1 ? "" : "s",
                        head[2] == IDX_TYPE_UBYTE && head[3] == 1 ? "; is it a labels file?" : "");
    }
    if (got < sizeof head) {
        fclose(f);
        return abp_fail(err, "%s: truncated IDX header (%lld bytes, need %d)", path, file_bytes,
                        IDX_HEADER_BYTES);
    }

    uint32_t n = read_be32(head + 4), h = read_be32(head + 8), w = read_be32(head + 12);
    if (h < 1 || w < 1 || h > IDX_MAX_SIDE || w > IDX_MAX_SIDE) {
        fclose(f);
        return abp_fail(err, "%s: IDX header gives an unusable image size %ux%u", path,
                        (unsigned)h, (unsigned)w);
    }
    /* The header must account for every byte: a short file is truncated, a long one is not
     * what it claims to be. Both sizes go in the message so the user can tell which.
     * n * h * w can pass 2^63 (all three come from the file), so compare by division. */
    long long plane = (long long)h * w, data = file_bytes - IDX_HEADER_BYTES;
    if (data % plane != 0 || data / plane != (long long)n) {
        fclose(f);
        return abp_fail(err,
                        "%s: IDX header says %u images of %ux%u (%.0f bytes) but the file has "
                        "%lld bytes",
                        path, (unsigned)n, (unsigned)h, (unsigned)w,
                        IDX_HEADER_BYTES + (double)n * (double)plane, file_bytes);
    }

    idx->file = f;
    idx->path = path;
    idx->n = n;
    idx->h = (int)h;
    idx->w = (int)w;
    return 0;
}

int abp_idx_read(abp_idx *idx, int64_t lo, int64_t count, uint8_t *pixels, abp_err *err) {
    if (lo < 0 || count < 0 || lo + count > idx->n)
        return abp_fail(err, "%s: images [%lld, %lld) are out of range (it holds %lld)",
                        idx->path, (long long)lo, (long long)(lo + count), (long long)idx->n);
    if (count == 0) return 0;

    size_t image_bytes = (size_t)idx->h * (size_t)idx->w;
    off_t at = (off_t)IDX_HEADER_BYTES + (off_t)lo * (off_t)image_bytes;
    if (fseeko(idx->file, at, SEEK_SET) != 0)
        return abp_fail(err, "%s: cannot seek to image %lld (%s)", idx->path, (long long)lo,
                        strerror(errno));

    size_t want = (size_t)count * image_bytes;
    if (fread(pixels, 1, want, idx->file) != want) {
        /* The size was checked at open, so this is a file changed under us or an I/O error. */
        const char *why = ferror(idx->file) ? strerror(errno) : "file ended early";
        return abp_fail(err, "%s: cannot read images [%lld, %lld) (%s)", idx->path,
                        (long long)lo, (long long)(lo + count), why);
    }
    return 0;
}

void abp_idx_close(abp_idx *idx) {
    if (idx->file) fclose(idx->file);
    memset(idx, 0, sizeof *idx);
}

int abp_idx_read_labels(const char *path, uint8_t **labels, int64_t *n, abp_err *err) {
    *labels = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return abp_fail(err, "%s: cannot open (%s)", path, strerror(errno));
    unsigned char head[IDX_LABELS_HEADER_BYTES];
    size_t got = fread(head, 1, sizeof head, f);
    struct stat st;
    int rc = 0;
    if (fstat(fileno(f), &st) != 0)
        rc = abp_fail(err, "%s: cannot stat (%s)", path, strerror(errno));
    else if (got < sizeof head)
        rc = abp_fail(err, "%s: truncated IDX labels header (%lld bytes, need %d)", path, (long long)st.st_size,
                      IDX_LABELS_HEADER_BYTES);
    else if (read_be32(head) != 0x00000801u)
        rc = abp_fail(err, "%s: not an IDX labels file (magic 0x%08x, need 0x00000801)", path,
                      (unsigned)read_be32(head));
    else if ((long long)st.st_size != IDX_LABELS_HEADER_BYTES + (long long)read_be32(head + 4))
        rc = abp_fail(err, "%s: IDX header says %u labels (%lld bytes) but the file has %lld bytes", path,
                      (unsigned)read_be32(head + 4), IDX_LABELS_HEADER_BYTES + (long long)read_be32(head + 4),
                      (long long)st.st_size);
    int64_t count = rc == 0 ? (int64_t)read_be32(head + 4) : 0;
    uint8_t *bytes = rc == 0 ? malloc(count > 0 ? (size_t)count : 1) : NULL;
    if (rc == 0 && !bytes) rc = abp_fail(err, "%s: out of memory for %lld labels", path, (long long)count);
    if (rc == 0 && fread(bytes, 1, (size_t)count, f) != (size_t)count)
        rc = abp_fail(err, "%s: cannot read %lld labels (%s)", path, (long long)count,
                      ferror(f) ? strerror(errno) : "file ended early");
    fclose(f);
    if (rc != 0) {
        free(bytes);
        return rc;
    }
    *labels = bytes;
    *n = count;
    return 0;
}
