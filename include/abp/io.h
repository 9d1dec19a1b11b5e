/* abp — input and output: datasets, image grids, checkpoints.
 *
 * Layout convention of this header: an image set holds n examples, each c x h x w floats
 * in planar order (channel, row, column), values in [-1, 1]. Example i starts at
 * data + i * c * h * w. */
#ifndef ABP_IO_H
#define ABP_IO_H

#include <stddef.h>
#include <stdint.h>
#include <mpi.h>

#include "abp/error.h"

/* ---------------------------------------------------------------- datasets */

typedef struct abp_images {
    int64_t n;       /* examples held here */
    int c, h, w;     /* channels, rows, columns of every example */
    float *data;     /* n * c * h * w floats in [-1, 1], planar per example */
    char **names;    /* n strings: where each example came from ("a/b.png", "file#17") */
} abp_images;

typedef struct abp_data_info {
    int64_t n;       /* examples in the source */
    int c, h, w;     /* native size (of the first image, for folders; as stored, for hdf5) */
    char kind[16];   /* "idx", "hdf5", "folder", "image", "wav" */
    int has_masks;   /* hdf5: the data set stores its own observation masks (/masks) */
    int has_labels;  /* hdf5: the data set stores a label per example (/labels) */
} abp_data_info;

/* What a data path holds, without reading the pixels: an IDX image file (MNIST format,
 * magic 0x00000803, not gzipped), an HDF5 data set made by abp_data_prepare (only its
 * attributes and shapes are read), a folder of images (PNG, JPEG, BMP, PGM/PPM; GIF and TGA refused;
 * sorted by name, hidden files skipped), a single image file, or a WAV file (one example
 * of 1 x 1 x T, see "sound" below). */
ABP_MUST_CHECK int abp_data_probe(const char *path, abp_data_info *info, abp_err *err);

/* Loads examples [lo, hi) of path, converted to c channels (grey <-> RGB) and to h x w
 * (centre crop to the aspect ratio, then resize), scaled to [-1, 1]. hi = -1 means to the
 * end. Only the requested rows are read (of an HDF5 data set: a hyperslab of /images and
 * /examples), so a rank can load just its shard; the call involves no other rank. An
 * example gives the same floats and the same name from its original file as from the data
 * set abp_data_prepare packed it into. */
ABP_MUST_CHECK int abp_data_load(const char *path, int64_t lo, int64_t hi, int c, int h, int w,
                                 abp_images *out, abp_err *err);

/* The stored masks (/masks of an HDF5 data set made with abp prepare --masks) of examples
 * [lo, hi), as bytes (1 observed, 0 missing) of c x h x w per example, planar like the
 * images: h x w must be the stored size (masks are never resized: that would invent
 * observed values); a stored single channel serves every channel, and of three stored
 * channels one channel is asked for, a pixel counts as observed only where all three are.
 * An error names the file if it has no masks or another size. */
ABP_MUST_CHECK int abp_data_load_masks(const char *path, int64_t lo, int64_t hi, int c, int h, int w,
                                       uint8_t *masks, abp_err *err);

/* Reports how far abp_data_prepare is: called on every rank, once with done = 0 when the
 * file has been created and then after every collective write, with the examples written
 * by all ranks so far; out is the shape being written (out->n examples in all). */
/* The labels of a labelled data set, one byte per example: an IDX labels file (magic
 * 0x00000801, as MNIST's train-labels-idx1-ubyte) or an HDF5 file whose dataset /labels is
 * one-dimensional, of any integer type, every value 0 to 255 (what abp prepare --labels
 * writes, or h5py from a NumPy array). *labels gets *n malloc'd bytes, which the caller
 * frees. A wrong type, rank or value is one error naming the file. */
ABP_MUST_CHECK int abp_labels_read(const char *path, uint8_t **labels, int64_t *n, abp_err *err);

typedef void (*abp_prepare_progress)(const abp_data_info *out, int64_t done, void *ctx);

typedef struct abp_prepare_cfg {
    const char *const *sources; /* data paths (as abp_data_load takes), concatenated in order */
    int nsources;
    int64_t limit;              /* only the first `limit` examples of them all (0: every one);
                                 * with classes, the first `limit` of the selected ones */
    const uint8_t *classes;     /* NULL: every example; else 256 flags, one per label value:
                                 * only examples whose label's flag is set are written */
    const char *const *labels;  /* NULL, or a labels file per source (abp_labels_read), each
                                 * holding as many labels as its source examples: the
                                 * written examples' labels are stored as /labels uint8
                                 * [n], and classes selects by them */
    int c, h, w;                /* the stored shape; 0: the first source's native one */
    const char *masks;          /* NULL, or a data path (IDX, folder, image) of one mask image
                                 * per example of the sources (before --limit or classes),
                                 * of the stored h x w: nonzero = observed; stored as /masks */
    int64_t block;              /* examples per rank per collective write (0: 1024, fewer
                                 * for large images, to bound the memory in flight) */
    abp_prepare_progress progress; /* may be NULL */
    void *progress_ctx;
} abp_prepare_cfg;

/* Packs the sources into one HDF5 data set file at `out` (layout: DESIGN.md section 6),
 * collectively over comm: each rank decodes its own contiguous share of the examples and
 * every rank takes part in each collective write. The file is written as OUT.tmp and
 * renamed to `out` by rank 0 only when complete; an existing `out` is refused, never
 * replaced. *written gets the shape written. Returns the same result on every rank. */
ABP_MUST_CHECK int abp_data_prepare(MPI_Comm comm, const char *out, const abp_prepare_cfg *cfg,
                                    abp_data_info *written, abp_err *err);

/* The "format" attribute of an HDF5 file ("abp-checkpoint", "abp-images"; "" when it has
 * none), so that a program given some .h5 file can pick its reader. Reads only that. */
ABP_MUST_CHECK int abp_h5_format(const char *path, char *format, size_t size, abp_err *err);

void abp_images_free(abp_images *im);

/* Creates a folder and its missing parents (mkdir -p); an existing folder is fine. */
ABP_MUST_CHECK int abp_mkdir_p(const char *path, abp_err *err);

/* fsync(2) of a file, and of the folder that holds a path (after a rename in it). */
ABP_MUST_CHECK int abp_fsync_path(const char *path, abp_err *err);
ABP_MUST_CHECK int abp_fsync_parent(const char *path, abp_err *err);

/* Checks that `bytes` more fit next to path, by reserving them in a scratch file
 * PATH.reserve (posix_fallocate) and deleting it: a full disk is then one clear error
 * before a file is created, rather than a failure deep inside HDF5. */
ABP_MUST_CHECK int abp_reserve_space(const char *path, int64_t bytes, abp_err *err);

/* ---------------------------------------------------------------- pictures */

/* Writes n images (planar c x h x w, values in [-1, 1], clamped) as one PNG grid with
 * `cols` columns and a 1-pixel dark border between tiles. The file is written to
 * PATH.tmp and renamed over PATH, so a failure never leaves a damaged PATH. */
ABP_MUST_CHECK int abp_png_write_grid(const char *path, const float *images, int n, int c, int h,
                                      int w, int cols, abp_err *err);

/* Writes one image (planar c x h x w, c = 1 or 3) as a PNG of exactly h x w pixels, no
 * border: what FID tools read from a folder. To PATH.tmp, renamed over PATH. */
ABP_MUST_CHECK int abp_png_write_image(const char *path, const float *image, int c, int h, int w, abp_err *err);

/* Writes nsets image sets side by side for comparison (originals, reconstructions, ...):
 * blocks of `cols` examples, each block one row per set. Images as for abp_png_write_grid
 * (row-per-example, planar). */
ABP_MUST_CHECK int abp_png_write_compare(const char *path, const float *const *sets, int nsets,
                                         int n, int c, int h, int w, int cols, abp_err *err);

/* ---------------------------------------------------------------- sample files */

/* What a sample file says about how its samples were made. */
typedef struct abp_samples_info {
    const char *prior;      /* "normal", "gaussian", "gmm:K" */
    uint64_t seed;
    const char *batchnorm;  /* "running" or "prior" */
    const char *checkpoint; /* the checkpoint sampled */
} abp_samples_info;

/* Writes n samples (planar c x h x w, as the network makes them) as HDF5 for other tools:
 * /samples float32 [n, h, w, c] on [-1, 1], /z float32 [n, dz], root attributes format =
 * "abp-samples", format_version, prior, seed, batchnorm, checkpoint. To PATH.tmp, renamed
 * over PATH. One process. */
ABP_MUST_CHECK int abp_samples_write(const char *path, const abp_samples_info *info, const float *images, int n,
                                     int c, int h, int w, const float *z, int64_t dz, abp_err *err);

/* Reads /samples of such a file (or any HDF5 file with a float [n, h, w, c] /samples, as
 * h5py would write one) into planar images; names stay NULL. */
ABP_MUST_CHECK int abp_samples_read(const char *path, abp_images *out, abp_err *err);

/* ---------------------------------------------------------------- sound */

/* WAV files (RIFF/WAVE) of 16-bit PCM or 32-bit float samples. A sound is a 1 x 1 x T
 * signal: one channel (a file's channels are averaged), values in [-1, 1] (16-bit: /32768;
 * float: as stored). As training data, a WAV file is a data set of one example: its first
 * W samples for a model that makes 1 x 1 x W signals. */
typedef enum abp_wav_format { ABP_WAV_PCM16, ABP_WAV_FLOAT32 } abp_wav_format;

/* Whether the first n bytes of a file start "RIFF....WAVE". */
int abp_wav_has_magic(const unsigned char *head, size_t n);

/* The number of samples per channel (*frames) and the sample rate, from the header. */
ABP_MUST_CHECK int abp_wav_info(const char *path, int64_t *frames, int *rate, abp_err *err);

/* Reads the whole file: *samples gets *frames floats (free with abp_free). Truncated,
 * damaged or non-WAV files, and other sample formats, are errors naming the file. */
ABP_MUST_CHECK int abp_wav_read(const char *path, float **samples, int64_t *frames, int *rate,
                                abp_err *err);

/* Writes a mono WAV file (16-bit: values x 32768, rounded and clamped), to PATH.tmp and
 * renamed over PATH. */
ABP_MUST_CHECK int abp_wav_write(const char *path, const float *samples, int64_t frames, int rate,
                                 abp_wav_format format, abp_err *err);

/* Writes n frames (planar c x h x w, values in [-1, 1], clamped; c = 1 or 3) as one looping
 * GIF89a animation, delay_cs hundredths of a second per frame, through giflib: 256 grey
 * levels, or for colour one median-cut palette of 256 colours for all frames. Written to
 * PATH.tmp and renamed over PATH. */
ABP_MUST_CHECK int abp_gif_write(const char *path, const float *frames, int n, int c, int h, int w,
                                 int delay_cs, abp_err *err);

/* ---------------------------------------------------------------- checkpoints */

/* One named float array of the model or the optimizer, identical on every rank, e.g.
 * path "model/03_deconv/weight" with dims {128, 64, 5, 5}. */
typedef struct abp_ckpt_array {
    char path[128];
    float *data;
    int ndim;
    int64_t dims[4];
} abp_ckpt_array;

/* The step count of one more optimizer, written as the int64 attribute "step" of the group
 * /GROUP (e.g. "optimizer/encoder"); the generator's is meta.optimizer_step, as ever. */
typedef struct abp_ckpt_step {
    char group[96];
    int64_t step;
} abp_ckpt_step;

/* A sharded float matrix besides /latents (e.g. /chains/descriptor): n_total rows of
 * row_dims each, of which this rank holds rows [lo, hi), and writes and reads them by
 * hyperslab, as /latents. Row i belongs to global id i (example or chain), not to a rank. */
typedef struct abp_ckpt_rows {
    char path[128];
    const float *data;        /* [hi - lo][row_dims...]; read through abp_ckpt_read_rows */
    int64_t n_total, lo, hi;
    int row_ndim;
    int64_t row_dims[4];
} abp_ckpt_rows;

typedef struct abp_ckpt_meta {
    int64_t iteration;       /* learning iterations done */
    int64_t epoch;
    uint64_t seed;
    int world_size;          /* ranks that wrote it */
    char optimizer[16];      /* "adam", "sgd" */
    int64_t optimizer_step;
    char *config;            /* the full model spec and settings as a command line could give them */
    /* written only (abp_ckpt_open leaves them empty): more optimizers' steps, more sharded rows */
    const abp_ckpt_step *steps;
    int nsteps;
    const abp_ckpt_rows *rows;
    int nrows;
} abp_ckpt_meta;

/* Writes a checkpoint collectively: every rank of comm calls it with the same meta and
 * arrays; rank r passes its own latent rows [row_lo, row_hi) of the n_total x latent_dims
 * matrix and their example names. The file goes to PATH.tmp, is closed, and after a
 * barrier rank 0 renames it over PATH. Returns the same result on every rank. */
ABP_MUST_CHECK int abp_ckpt_write(MPI_Comm comm, const char *path, const abp_ckpt_meta *meta,
                                  const abp_ckpt_array *arrays, int narrays,
                                  const float *latents, int64_t n_total, int64_t row_lo,
                                  int64_t row_hi, int latent_ndim, const int64_t *latent_dims,
                                  char *const *names, abp_err *err);

typedef struct abp_ckpt abp_ckpt; /* an open checkpoint file */

/* Opens and validates (format, format_version) a checkpoint collectively; meta->config is
 * owned by the handle. */
ABP_MUST_CHECK int abp_ckpt_open(MPI_Comm comm, const char *path, abp_ckpt **out,
                                 abp_ckpt_meta *meta, abp_err *err);

/* Reads a named array into dst after checking that its shape is exactly dims. A missing
 * array or a different shape is an error that names both shapes. */
ABP_MUST_CHECK int abp_ckpt_read_array(abp_ckpt *ck, const char *path, float *dst, int ndim,
                                       const int64_t *dims, abp_err *err);

/* Shape of /latents: *n_total and up to 4 latent dims. */
ABP_MUST_CHECK int abp_ckpt_latent_shape(abp_ckpt *ck, int64_t *n_total, int *latent_ndim,
                                         int64_t *latent_dims, abp_err *err);

/* Reads rows [lo, hi) of /latents (collective: every rank calls it, with its own range). */
ABP_MUST_CHECK int abp_ckpt_read_latents(abp_ckpt *ck, int64_t lo, int64_t hi, float *dst,
                                         abp_err *err);

/* Reads rows [lo, hi) of the sharded matrix at path (collective). The file's matrix must have
 * exactly n_total rows of row_dims, else an error names both shapes. */
ABP_MUST_CHECK int abp_ckpt_read_rows(abp_ckpt *ck, const char *path, int64_t n_total, int row_ndim,
                                      const int64_t *row_dims, int64_t lo, int64_t hi, float *dst,
                                      abp_err *err);

/* Reads the "step" attribute of /group (written from meta.steps). */
ABP_MUST_CHECK int abp_ckpt_read_step(abp_ckpt *ck, const char *group, int64_t *step, abp_err *err);

/* Whether /path exists in the file (same answer on every rank). */
int abp_ckpt_has(abp_ckpt *ck, const char *path);

/* Reads rows [lo, hi) of /examples; *names gets hi - lo malloc'd strings (free each, then
 * the array). */
ABP_MUST_CHECK int abp_ckpt_read_names(abp_ckpt *ck, int64_t lo, int64_t hi, char ***names,
                                       abp_err *err);

/* Lists the names of all arrays in the file's groups (/model, /optimizer, every other
 * network's group, /chains) with their shapes, for
 * `abp info`; *arrays gets a malloc'd vector (data pointers NULL). */
ABP_MUST_CHECK int abp_ckpt_list(abp_ckpt *ck, abp_ckpt_array **arrays, int *narrays,
                                 abp_err *err);

/* Reads every dataset of the file and checks it against its crc32 attribute: 0 when all
 * match (*datasets gets how many were checked; may be NULL), else -1 naming the first
 * dataset that is damaged, unreadable or has no checksum. Reads the whole file: meant for a
 * checkpoint opened on MPI_COMM_SELF (abp info --verify, the choice of --resume DIR). */
ABP_MUST_CHECK int abp_ckpt_verify(abp_ckpt *ck, int *datasets, abp_err *err);

/* The newest checkpoint in a folder that verifies (abp_ckpt_verify): its
 * checkpoint-ITER.h5 files newest first, then checkpoint.h5. Collective; rank 0 does the
 * reading and says on stderr which files it skipped and why; every rank gets the path. */
ABP_MUST_CHECK int abp_ckpt_pick(MPI_Comm comm, const char *dir, char *path, size_t cap, abp_err *err);

void abp_ckpt_close(abp_ckpt *ck);

#endif
