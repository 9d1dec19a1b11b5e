/* Image files (PNG, JPEG, BMP, PGM/PPM through stb_image): a folder of them or a single
 * one, as one of the data sources of source.c. GIF and TGA files are listed but refused
 * with a message of their own. Private to src/io. */
#ifndef ABP_IO_IMAGES_H
#define ABP_IO_IMAGES_H

#include <stdint.h>

#include "abp/error.h"

/* The image files of a data path, in the order of the examples, with what each example
 * is called. */
typedef struct abp_image_files {
    char **paths;  /* to open, and to name in error messages */
    char **names;  /* the examples' names: relative to the folder */
    int64_t n;
} abp_image_files;

/* True when a file name ends in one of the image extensions (compared without case). */
int abp_has_image_extension(const char *name);

/* Lists the regular image files directly inside a folder, sorted by name (hidden files and
 * other extensions skipped), or, when is_folder is 0, the one image file `path`. */
ABP_MUST_CHECK int abp_image_files_list(const char *path, int is_folder, abp_image_files *files,
                                        abp_err *err);
void abp_image_files_free(abp_image_files *files);

/* Images of more pixels than this are refused from their header, before decoding: 2^26
 * (8192 x 8192), more than any real data set holds, and 256 MB as RGBA bytes. */
#define ABP_IMAGE_MAX_PIXELS_DEFAULT ((int64_t)1 << 26)

/* The pixel limit: the environment variable ABP_MAX_PIXELS if set (so that every command
 * that reads images, abp prepare and abp train alike, honours it), else the default; -1
 * with err set when the variable is not a number >= 1. */
int64_t abp_image_max_pixels(abp_err *err);

/* Size and channels (alpha included) of an image file without decoding its pixels. */
ABP_MUST_CHECK int abp_image_info(const char *path, int *w, int *h, int *channels, abp_err *err);

/* Both refuse GIF and TGA files, files that are no PNG, JPEG, BMP or PGM/PPM, and images
 * over the pixel limit, with one line naming the file. */
/* Decodes an image file into interleaved 8-bit pixels, to be freed with abp_image_release. */
ABP_MUST_CHECK int abp_image_decode(const char *path, uint8_t **pixels, int *w, int *h,
                                    int *channels, abp_err *err);
void abp_image_release(uint8_t *pixels);

#endif
