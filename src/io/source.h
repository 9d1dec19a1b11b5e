/* A data path opened for reading a range of examples at a time. Private to src/io:
 * abp_data_probe and abp_data_load (source.c) and abp_data_prepare (prepare.c) are built
 * on it.
 *
 * A data path is one of four things, told apart by what it is and by its first bytes:
 *   - an IDX image file (MNIST's format, see idx.h);
 *   - an abp HDF5 data set (made by abp prepare, see h5data.h);
 *   - a folder of image files, taken in strcmp order of their names;
 *   - a single image file, which is a data set of one.
 *   - a WAV file (wav.c), a data set of one sound of 1 x 1 x T, read as floats by
 *     abp_data_load itself (it has no bytes to fit, so abp_source_read refuses its pixels).
 *
 * Every example leaves as interleaved bytes fitted to the requested shape (pixels.h), so
 * the same example from any of them becomes the same bytes, and then the same floats. */
#ifndef ABP_IO_SOURCE_H
#define ABP_IO_SOURCE_H

#include <stdint.h>

#include "abp/error.h"
#include "abp/io.h"

typedef struct abp_source abp_source;

/* Opens path and reads what it holds (info: count, native size, kind), without decoding
 * any pixels. */
ABP_MUST_CHECK int abp_source_open(const char *path, abp_source **out, abp_data_info *info,
                                   abp_err *err);

/* Reads examples [lo, lo + count): pixels (if not NULL) gets count examples of h x w x c
 * interleaved bytes (c is 1 or 3), converted as pixels.h says; names (if not NULL) gets
 * count malloc'd strings, which the caller frees, also after a failure (a slot not reached
 * stays as it was). */
ABP_MUST_CHECK int abp_source_read(abp_source *s, int64_t lo, int64_t count, int c, int h, int w,
                                   uint8_t *pixels, char **names, abp_err *err);

void abp_source_close(abp_source *s);

#endif
