/* HDF5 helpers shared by the two kinds of HDF5 file abp writes and reads: checkpoints
 * (checkpoint.c) and image data sets (h5data.c, written by prepare.c). Private to src/io.
 *
 * Both kinds are written collectively through MPI-IO, both keep their ranks in step with
 * agree(), both store names as fixed-length strings and read back either kind of string,
 * and both report a failure as one line naming the file. What they share lives here, once.
 *
 * Conventions: functions returning hid_t return a negative id on failure, and the caller
 * closes what they return. Functions taking `path` and `err` report a failure as
 * "PATH: what is wrong" (abp_fail) and return -1; the others leave the message to their
 * caller. MPI calls are not checked: MPI's default error handler aborts the job. */
#ifndef ABP_IO_H5UTIL_H
#define ABP_IO_H5UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <hdf5.h>
#include <mpi.h>

#include "abp/error.h"

/* ---------------------------------------------------------------- keeping ranks in step */

/* Switches off HDF5's own error printing: its dozens of lines per failure would bury the
 * one line that says which file and what is wrong with it. Called at every entry point. */
void abp_h5util_quiet(void);

/* Makes every rank of comm return the same result: -1 if rc is -1 on any rank, with the
 * message of the lowest failing rank in *err. It is also a barrier: no rank leaves it
 * before every rank has entered it. (abp_dist_agree does the same for an abp_dist; io does
 * not depend on dist, so it keeps its own.) */
int abp_h5util_agree(MPI_Comm comm, int rc, abp_err *err);

/* ---------------------------------------------------------------- files and property lists */

/* A file access property list for MPI-IO on comm. Metadata is read by one rank and
 * broadcast, and written collectively, instead of every rank reading and writing it on its
 * own: that keeps opening, creating and closing a file quick on many ranks. It also makes
 * every call that reads metadata collective. */
hid_t abp_h5util_mpio_access(MPI_Comm comm);

/* Collective on comm: creates (truncating) `file` through MPI-IO. path names the file in
 * messages (the final name, where `file` is its temporary). */
hid_t abp_h5util_create_file(MPI_Comm comm, const char *path, const char *file, abp_err *err);

/* A dataset transfer property list asking for collective MPI-IO, which lets MPI-IO merge
 * the ranks' pieces into a few large requests. */
hid_t abp_h5util_collective_transfer(void);

/* ---------------------------------------------------------------- writing through PATH.tmp */

/* "PATH.tmp", malloc'd: files are written under this name and renamed when complete, so
 * that PATH is never a half-written file. NULL (and a message) when out of memory. */
char *abp_h5util_tmp_name(const char *path, abp_err *err);

/* Creates the empty file tmp, by one rank before the collective create: if that fails (no
 * such folder, no permission) errno says why, which HDF5's own failure would not. */
int abp_h5util_create_empty(const char *path, const char *tmp, abp_err *err);

/* ---------------------------------------------------------------- datasets and rows */

/* True when `name` (a path from loc) exists. H5Lexists fails, rather than answering no,
 * when a middle part of the path is missing, so this walks the path one link at a time. */
int abp_h5util_link_exists(hid_t loc, const char *name);

/* The shape of a dataset as int64; returns its number of dimensions, or -1. */
int abp_h5util_dataset_shape(hid_t dset, int64_t dims[H5S_MAX_RANK]);

/* The class of a dataset's stored type (H5T_NO_CLASS if it cannot be read). */
H5T_class_t abp_h5util_dataset_class(hid_t dset);

/* Opens the dataset `name` (a path from the root of file), which must exist, and returns
 * its shape in *ndim and dims. */
hid_t abp_h5util_open_dataset(const char *path, hid_t file, const char *name, int *ndim,
                              int64_t dims[H5S_MAX_RANK], abp_err *err);

/* Selects rows [lo, lo + rows) of a dataset's file space, whole rows, and returns a memory
 * space of the same shape. A rank with no rows selects nothing, yet can still take part in
 * a collective transfer. */
hid_t abp_h5util_select_rows(hid_t file_space, int64_t lo, int64_t rows);

/* Reads (or writes) rows [lo, lo + rows) of dset as mem_type, with the transfer property
 * list dxpl (collective or H5P_DEFAULT). rows may be 0. */
int abp_h5util_read_rows(hid_t dset, hid_t mem_type, int64_t lo, int64_t rows, hid_t dxpl, void *buf);
int abp_h5util_write_rows(hid_t dset, hid_t mem_type, int64_t lo, int64_t rows, hid_t dxpl,
                          const void *buf);

/* ---------------------------------------------------------------- strings */

/* A fixed-length UTF-8 string type of width bytes, zero-terminated: h5dump, h5py and C all
 * read such strings up to their first zero. Names are stored this way because, unlike
 * variable-length strings, these can be written by hyperslab in one collective write
 * (HDF5 1.10 cannot write variable-length data in parallel). */
hid_t abp_h5util_fixed_string_type(size_t width);

/* Reads rows [lo, lo + rows) of the one-dimensional string dataset dset (stored type
 * `type`, fixed- or variable-length) into names, as rows malloc'd C strings. what names the
 * dataset in messages ("/examples"). Fixed-length strings are read with dxpl, which may be
 * collective: a rank that cannot get memory then still takes part, with no rows, and
 * reports afterwards. Variable-length strings (a file written by another tool, h5py for
 * instance) are read independently, since HDF5 1.10 cannot read them collectively. On
 * failure the names already made are left in names for the caller to free. */
int abp_h5util_read_names(const char *path, const char *what, hid_t dset, hid_t type, int64_t lo, int64_t rows,
                          hid_t dxpl, char **names, abp_err *err);

/* A scalar string, fixed- or variable-length, from an attribute or a dataset, as a
 * malloc'd C string. NULL if it is not one string or cannot be read. */
char *abp_h5util_read_scalar_string(hid_t obj);

/* ---------------------------------------------------------------- attributes */

/* Messages name an attribute as `where` followed by its name: "/" for the root's, so
 * "/format"; "/optimizer/" for a group's. */

/* The scalar string attribute `name` of loc into *out, malloc'd. */
int abp_h5util_read_string_attr(const char *path, hid_t loc, const char *where, const char *name, char **out,
                                abp_err *err);

/* The scalar integer attribute `name` of loc, converted to mem_type (a native integer
 * type) into *out. A float or any other class is refused: these attributes count things. */
int abp_h5util_read_int_attr(const char *path, hid_t loc, const char *where, const char *name, hid_t mem_type,
                             void *out, abp_err *err);

/* Creates the scalar attribute `name` of loc, stored as file_type, from *value in
 * mem_type. */
int abp_h5util_write_attr(const char *path, hid_t loc, const char *name, hid_t file_type, hid_t mem_type,
                          const void *value, abp_err *err);

/* Creates the scalar string attribute `name` of loc. It is variable-length, which h5py
 * reads back as str: attributes are metadata, so unlike dataset elements they may be
 * variable-length in parallel HDF5. */
int abp_h5util_write_string_attr(const char *path, hid_t loc, const char *name, const char *value, abp_err *err);

#endif
