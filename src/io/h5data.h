/* HDF5 data set files, the format `abp prepare` writes (DESIGN.md section 6). Private to
 * src/io: source.c reads them for abp_data_probe and abp_data_load, prepare.c writes them.
 *
 *   /           attrs format = "abp-images", format_version = 1,
 *                     height, width, channels (int32), count (int64)
 *   /images     uint8 [count, height, width, channels]: row-major, channels interleaved,
 *               chunked by example ([1, height, width, channels]) and never compressed, so
 *               that many ranks can write it at once and each can read its own rows
 *   /examples   fixed-length strings [count]: where each row came from, with the very names
 *               the original source gives ("train-images-idx3-ubyte#17", "cat.png"), so that
 *               a checkpoint trained on the original can be resumed on the packed file
 *   /masks      (optional: abp prepare --masks) uint8 of the shape of /images, chunked the
 *               same way: 1 where the value is observed, 0 where it is missing
 *   /labels     (optional: abp prepare --labels) uint8 [count], each example's label, which
 *               abp train --objective classify --labels FILE reads (labels.c; there any
 *               integer type of one dimension is accepted, as h5py writes it)
 *
 * Reading is by one process alone (the HDF5 default driver), so that loading a shard stays
 * a local call like loading from an IDX file; writing is collective, through MPI-IO. */
#ifndef ABP_IO_H5DATA_H
#define ABP_IO_H5DATA_H

#include <stddef.h>
#include <stdint.h>
#include <mpi.h>

#include "abp/error.h"
#include "abp/io.h"

#define ABP_H5DATA_FORMAT "abp-images"
#define ABP_H5DATA_FORMAT_VERSION 1

/* True when the first 8 bytes of a file are HDF5's signature (superblock at offset 0, as
 * HDF5 writes it unless told to leave a user block). */
int abp_h5data_has_magic(const unsigned char head[8]);

/* ---------------------------------------------------------------- reading */

typedef struct abp_h5data abp_h5data; /* an open, checked data set file */

/* Opens path and checks its format, attributes and both datasets against each other,
 * reading only metadata. info gets the count and the stored size, kind "hdf5". */
ABP_MUST_CHECK int abp_h5data_open(const char *path, abp_h5data **out, abp_data_info *info,
                                   abp_err *err);

/* Reads rows [lo, lo + count) by hyperslab: pixels (if not NULL) gets count stored images,
 * interleaved bytes of height x width x channels each; names (if not NULL) gets count
 * malloc'd strings. */
ABP_MUST_CHECK int abp_h5data_read(abp_h5data *h, int64_t lo, int64_t count, uint8_t *pixels,
                                   char **names, abp_err *err);

/* Reads rows [lo, lo + count) of /masks (interleaved, as the pixels); an error if the data
 * set has none. */
ABP_MUST_CHECK int abp_h5data_read_masks(abp_h5data *h, int64_t lo, int64_t count, uint8_t *masks,
                                         abp_err *err);

/* Reads the rows listed in rows[0..count), strictly increasing, as one sorted selection
 * of /images: pixels gets them in that order, h x w x c interleaved bytes each. */
ABP_MUST_CHECK int abp_h5data_read_at(abp_h5data *h, const int64_t *rows, int64_t count,
                                      uint8_t *pixels, abp_err *err);

/* Reopens /images with a chunk cache that holds `rows` examples (a batch). */
ABP_MUST_CHECK int abp_h5data_cache_rows(abp_h5data *h, int64_t rows, abp_err *err);

void abp_h5data_close(abp_h5data *h);

/* ---------------------------------------------------------------- writing */

typedef struct abp_h5data_writer abp_h5data_writer;

/* Collective on comm: creates file (truncating it) through MPI-IO for shape->n examples of
 * shape->h x shape->w x shape->c, with /examples strings of name_width bytes (the longest
 * name plus its terminating zero), and /labels when shape->has_labels. label names the
 * file in messages. The writer exists
 * afterwards even on failure, so that every rank can pass it to abp_h5data_finish. The
 * result can differ between ranks only for reasons local to one (memory). */
ABP_MUST_CHECK int abp_h5data_create(MPI_Comm comm, const char *file, const char *label,
                                     const abp_data_info *shape, size_t name_width,
                                     int with_masks, abp_h5data_writer **out, abp_err *err);

/* Collective: this rank's rows [lo, lo + count) (count may be 0: the rank still takes part)
 * of interleaved pixels, their names, (created with_masks) their masks and (created with
 * labels) their labels, in one collective write per dataset. */
ABP_MUST_CHECK int abp_h5data_write(abp_h5data_writer *w, int64_t lo, int64_t count,
                                    const uint8_t *pixels, char *const *names,
                                    const uint8_t *masks, const uint8_t *labels, abp_err *err);

/* Collective: flushes (to disk, not only to caches) and closes the file, and frees w. */
ABP_MUST_CHECK int abp_h5data_finish(abp_h5data_writer *w, abp_err *err);

#endif
