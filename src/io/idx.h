/* IDX image files, the format MNIST ships in. Private to src/io: images.c uses it to
 * serve abp_data_probe and abp_data_load.
 *
 * An IDX file is a big-endian header followed by the raw array:
 *
 *     bytes 0-1   zero
 *     byte  2     element type (0x08 = unsigned byte)
 *     byte  3     number of dimensions (3 for images: n, rows, columns)
 *     then        one 32-bit big-endian size per dimension
 *     then        the elements, row-major
 *
 * so an image file has magic 0x00000803, a 16-byte header and n * rows * columns bytes. */
#ifndef ABP_IO_IDX_H
#define ABP_IO_IDX_H

#include <stdint.h>
#include <stdio.h>

#include "abp/error.h"

/* An open IDX image file whose header has been checked against its size. */
typedef struct abp_idx {
    FILE *file;
    const char *path; /* borrowed, for error messages */
    int64_t n;        /* images */
    int h, w;         /* rows and columns of each image */
} abp_idx;

/* True when the first four bytes of a file look like some IDX header (any element type),
 * so that a labels file can be told apart from an unknown format with a clear message. */
int abp_idx_has_magic(const unsigned char head[4]);

/* Opens path and checks that it holds ubyte images and exactly as many bytes as its header
 * promises. path must outlive the handle. */
ABP_MUST_CHECK int abp_idx_open(const char *path, abp_idx *idx, abp_err *err);

/* Reads images [lo, lo + count) into pixels (count * h * w bytes), touching only those
 * bytes of the file. */
ABP_MUST_CHECK int abp_idx_read(abp_idx *idx, int64_t lo, int64_t count, uint8_t *pixels,
                                abp_err *err);

void abp_idx_close(abp_idx *idx);

/* Reads a whole IDX labels file (magic 0x00000801: one unsigned byte per example, as
 * MNIST's train-labels-idx1-ubyte) after checking its header against its size. *labels
 * gets *n malloc'd bytes, which the caller frees. */
ABP_MUST_CHECK int abp_idx_read_labels(const char *path, uint8_t **labels, int64_t *n, abp_err *err);

#endif
