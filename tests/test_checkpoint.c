/* Tests of checkpoints (src/io/checkpoint.c). Runs as a single process or under mpirun with
 * any number of ranks; every rank checks what it reads, and the exit status of every rank
 * reflects the failures of all. With ABP_TEST_KEEP=DIR, sample checkpoints are also left in
 * DIR (checkpoint.h5, checkpoint_2d.h5) for tests/mpi_checkpoint.sh to inspect. */
#include "abp/io.h"

#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#define N_EXAMPLES 10
#define N_ARRAYS 4

typedef struct world {
    MPI_Comm comm;
    int rank, size;
    char dir[256]; /* scratch folder, made by rank 0 */
} world;

/* What the sample checkpoints hold. Every value is a function of where it is, so a reader
 * can check any element without the writer's buffers. */
static const abp_ckpt_array sample_shapes[N_ARRAYS] = {
    {.path = "model/00_linear/weight", .ndim = 2, .dims = {6, 3}},
    {.path = "model/00_linear/bias", .ndim = 1, .dims = {6}},
    {.path = "model/03_deconv/weight", .ndim = 4, .dims = {4, 2, 3, 3}},
    {.path = "optimizer/03_deconv/weight.m", .ndim = 4, .dims = {4, 2, 3, 3}},
};
static const char *const sample_config = "linear 4x4x512 | bn | lrelu 0.2 | deconv 1 k5 s2 | tanh\n"
                                         "--sigma 0.3 --steps 20 --data \"caf\xc3\xa9 photos/\"";

static float array_value(int array, int64_t i) { return (float)array * 1000.0f + (float)i * 0.25f - 3.0f; }
static float latent_value(int64_t row, int64_t j) { return (float)row * 100.0f + (float)j + 0.5f; }

/* File 1 names rows "ex#i"; file 2 uses names of different lengths, the longest on the
 * last rank, so that the width of /examples must come from all ranks. */
static void example_name(int style, int64_t row, char *buf, size_t cap) {
    if (style == 1) snprintf(buf, cap, "ex#%lld", (long long)row);
    else snprintf(buf, cap, "ex#%lld", (long long)(row * row * row * 7));
}

static int64_t array_size(const abp_ckpt_array *a) {
    int64_t n = 1;
    for (int d = 0; d < a->ndim; d++) n *= a->dims[d];
    return n;
}

static int64_t product(int ndim, const int64_t *dims) {
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= dims[d];
    return n;
}

/* Rank r of p owns examples [r*n/p, (r+1)*n/p), as in DESIGN.md section 3. */
static void shard(int64_t n, int r, int p, int64_t *lo, int64_t *hi) {
    *lo = (int64_t)r * n / p;
    *hi = (int64_t)(r + 1) * n / p;
}

static abp_ckpt_meta sample_meta(void) {
    abp_ckpt_meta meta = {.iteration = 1234, .epoch = 7, .seed = 0xDEADBEEFCAFEF00DULL, .world_size = 99,
                          .optimizer = "adam", .optimizer_step = 1234, .config = (char *)sample_config};
    return meta;
}

/* ---------------------------------------------------------------- writing the samples */

typedef struct sample {
    abp_ckpt_array arrays[N_ARRAYS];
    int latent_ndim;
    int64_t latent_dims[4];
    int64_t lo, hi;
    float *latents;
    char **names;
} sample;

static void sample_make(sample *s, const world *w, int style, int latent_ndim, const int64_t *latent_dims) {
    memset(s, 0, sizeof *s);
    for (int a = 0; a < N_ARRAYS; a++) {
        s->arrays[a] = sample_shapes[a];
        int64_t n = array_size(&s->arrays[a]);
        s->arrays[a].data = malloc(sizeof(float) * (size_t)n);
        for (int64_t i = 0; i < n; i++) s->arrays[a].data[i] = array_value(a, i);
    }
    s->latent_ndim = latent_ndim;
    memcpy(s->latent_dims, latent_dims, sizeof(int64_t) * (size_t)latent_ndim);
    shard(N_EXAMPLES, w->rank, w->size, &s->lo, &s->hi);
    int64_t rows = s->hi - s->lo, row_size = product(latent_ndim, latent_dims);
    s->latents = malloc(sizeof(float) * (size_t)(rows * row_size + 1));
    s->names = calloc((size_t)rows + 1, sizeof(char *));
    for (int64_t i = 0; i < rows; i++) {
        for (int64_t j = 0; j < row_size; j++) s->latents[i * row_size + j] = latent_value(s->lo + i, j);
        s->names[i] = malloc(32);
        example_name(style, s->lo + i, s->names[i], 32);
    }
}

static void sample_free(sample *s) {
    for (int a = 0; a < N_ARRAYS; a++) free(s->arrays[a].data);
    for (int64_t i = 0; i < s->hi - s->lo; i++) free(s->names[i]);
    free(s->names);
    free(s->latents);
}

static int sample_write(const world *w, const sample *s, const char *path, abp_err *err) {
    abp_ckpt_meta meta = sample_meta();
    return abp_ckpt_write(w->comm, path, &meta, s->arrays, N_ARRAYS, s->latents, N_EXAMPLES, s->lo, s->hi,
                          s->latent_ndim, s->latent_dims, s->names, err);
}

/* ---------------------------------------------------------------- file helpers */

static void path_in(const world *w, const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s/%s", w->dir, name);
}

static char *read_bytes(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)*len + 1);
    if (fread(buf, 1, (size_t)*len, f) != (size_t)*len) *len = -1;
    fclose(f);
    return buf;
}

static void write_bytes(const char *path, const char *bytes, long len) {
    FILE *f = fopen(path, "wb");
    if (!f) return;
    fwrite(bytes, 1, (size_t)len, f);
    fclose(f);
}

static int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0;
}

/* Removes the scratch folder: files, and the empty folders some tests make. */
static void remove_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    char path[512];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (unlink(path) != 0) rmdir(path);
    }
    closedir(d);
    rmdir(dir);
}

/* An HDF5 file that is not a checkpoint: root attributes as given (NULL: none). */
static void write_plain_hdf5(const char *path, const char *format, int version) {
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t n = 4;
    float data[4] = {1, 2, 3, 4};
    hid_t space = H5Screate_simple(1, &n, NULL);
    hid_t dset = H5Dcreate2(file, "x", H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dwrite(dset, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data);
    H5Dclose(dset);
    H5Sclose(space);
    if (format) {
        hid_t scalar = H5Screate(H5S_SCALAR);
        hid_t str = H5Tcopy(H5T_C_S1);
        H5Tset_size(str, strlen(format));
        hid_t attr = H5Acreate2(file, "format", str, scalar, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(attr, str, format);
        H5Aclose(attr);
        attr = H5Acreate2(file, "format_version", H5T_STD_I32LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
        H5Awrite(attr, H5T_NATIVE_INT, &version);
        H5Aclose(attr);
        H5Tclose(str);
        H5Sclose(scalar);
    }
    H5Fclose(file);
}

/* A failed call must fail on every rank, with a message that names `needle`. */
static void check_failed_naming(int rc, const abp_err *err, const char *needle, const char *what) {
    CHECK(rc == -1, "%s: expected failure, got %d", what, rc);
    CHECK(strstr(err->msg, needle) != NULL, "%s: message \"%s\" does not name %s", what, err->msg, needle);
}

/* ---------------------------------------------------------------- reading back */

static void check_meta(const world *w, const abp_ckpt_meta *meta) {
    CHECK(meta->iteration == 1234, "iteration %lld", (long long)meta->iteration);
    CHECK(meta->epoch == 7, "epoch %lld", (long long)meta->epoch);
    CHECK(meta->seed == 0xDEADBEEFCAFEF00DULL, "seed %llx", (unsigned long long)meta->seed);
    CHECK(meta->world_size == w->size, "world_size %d, written by %d ranks", meta->world_size, w->size);
    CHECK(strcmp(meta->optimizer, "adam") == 0, "optimizer \"%s\"", meta->optimizer);
    CHECK(meta->optimizer_step == 1234, "optimizer step %lld", (long long)meta->optimizer_step);
    CHECK(meta->config && strcmp(meta->config, sample_config) == 0, "config \"%s\"",
          meta->config ? meta->config : "(null)");
}

static void check_arrays(abp_ckpt *ck) {
    abp_err err = {{0}};
    for (int a = 0; a < N_ARRAYS; a++) {
        const abp_ckpt_array *shape = &sample_shapes[a];
        int64_t n = array_size(shape);
        float *got = malloc(sizeof(float) * (size_t)n);
        int rc = abp_ckpt_read_array(ck, shape->path, got, shape->ndim, shape->dims, &err);
        CHECK(rc == 0, "read %s: %s", shape->path, err.msg);
        int64_t bad = 0;
        for (int64_t i = 0; rc == 0 && i < n; i++) bad += got[i] != array_value(a, i);
        CHECK(bad == 0, "%s: %lld values differ", shape->path, (long long)bad);
        free(got);
    }
}

static void check_list(abp_ckpt *ck) {
    /* Sorted by name, as `abp info` shows them. */
    static const int order[N_ARRAYS] = {1, 0, 2, 3};
    abp_err err = {{0}};
    abp_ckpt_array *list = NULL;
    int n = 0;
    int rc = abp_ckpt_list(ck, &list, &n, &err);
    CHECK(rc == 0 && n == N_ARRAYS, "list: rc %d, %d arrays: %s", rc, n, err.msg);
    for (int i = 0; rc == 0 && i < n && i < N_ARRAYS; i++) {
        const abp_ckpt_array *want = &sample_shapes[order[i]];
        CHECK(strcmp(list[i].path, want->path) == 0, "list[%d] is %s, expected %s", i, list[i].path, want->path);
        CHECK(list[i].data == NULL, "list[%d] has data", i);
        CHECK(list[i].ndim == want->ndim &&
                  memcmp(list[i].dims, want->dims, sizeof(int64_t) * (size_t)want->ndim) == 0,
              "list[%d] (%s) has the wrong shape", i, list[i].path);
    }
    free(list);
}

/* The rows a rank reads in read pattern `pattern`: all; the shards in reverse rank order;
 * overlapping windows, with the last rank reading none. */
static void read_range(int pattern, const world *w, int64_t *lo, int64_t *hi) {
    if (pattern == 0) {
        *lo = 0;
        *hi = N_EXAMPLES;
    } else if (pattern == 1) {
        shard(N_EXAMPLES, w->size - 1 - w->rank, w->size, lo, hi);
    } else {
        *lo = (int64_t)w->rank * N_EXAMPLES / (w->size + 1);
        *hi = (int64_t)(w->rank + 2) * N_EXAMPLES / (w->size + 1);
        if (*hi > N_EXAMPLES) *hi = N_EXAMPLES;
        if (w->rank == w->size - 1 && w->size > 1) *lo = *hi = N_EXAMPLES;
    }
}

static void check_rows(abp_ckpt *ck, const world *w, int style, int latent_ndim, const int64_t *latent_dims) {
    abp_err err = {{0}};
    int64_t row_size = product(latent_ndim, latent_dims);
    for (int pattern = 0; pattern < 3; pattern++) {
        int64_t lo, hi;
        read_range(pattern, w, &lo, &hi);
        float *z = malloc(sizeof(float) * (size_t)((hi - lo) * row_size + 1));
        int rc = abp_ckpt_read_latents(ck, lo, hi, z, &err);
        CHECK(rc == 0, "read latents [%lld, %lld): %s", (long long)lo, (long long)hi, err.msg);
        int64_t bad = 0;
        for (int64_t i = 0; rc == 0 && i < hi - lo; i++)
            for (int64_t j = 0; j < row_size; j++) bad += z[i * row_size + j] != latent_value(lo + i, j);
        CHECK(bad == 0, "latents [%lld, %lld), pattern %d: %lld values differ", (long long)lo, (long long)hi,
              pattern, (long long)bad);
        free(z);

        char **names = NULL;
        rc = abp_ckpt_read_names(ck, lo, hi, &names, &err);
        CHECK(rc == 0 && names != NULL, "read names [%lld, %lld): %s", (long long)lo, (long long)hi, err.msg);
        for (int64_t i = 0; rc == 0 && i < hi - lo; i++) {
            char want[32];
            example_name(style, lo + i, want, sizeof want);
            CHECK(strcmp(names[i], want) == 0, "name of row %lld is \"%s\", expected \"%s\"", (long long)(lo + i),
                  names[i], want);
            free(names[i]);
        }
        free(names);
    }
}

/* Writes a sample checkpoint, reads everything back, and checks every value. */
static void test_round_trip(const world *w, const char *name, int style, int latent_ndim,
                            const int64_t *latent_dims) {
    char path[512];
    path_in(w, name, path, sizeof path);
    sample s;
    sample_make(&s, w, style, latent_ndim, latent_dims);
    abp_err err = {{0}};
    int rc = sample_write(w, &s, path, &err);
    CHECK(rc == 0, "write %s: %s", path, err.msg);
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    CHECK(!file_exists(tmp), "%s is left behind", tmp);

    abp_ckpt *ck = NULL;
    abp_ckpt_meta meta;
    rc = abp_ckpt_open(w->comm, path, &ck, &meta, &err);
    CHECK(rc == 0 && ck != NULL, "open %s: %s", path, err.msg);
    if (rc == 0) {
        check_meta(w, &meta);
        int64_t n_total = 0, dims[4] = {0};
        int ndim = 0;
        rc = abp_ckpt_latent_shape(ck, &n_total, &ndim, dims, &err);
        CHECK(rc == 0 && n_total == N_EXAMPLES && ndim == latent_ndim &&
                  memcmp(dims, latent_dims, sizeof(int64_t) * (size_t)latent_ndim) == 0,
              "latent shape: rc %d, n %lld, ndim %d", rc, (long long)n_total, ndim);
        check_arrays(ck);
        check_list(ck);
        check_rows(ck, w, style, latent_ndim, latent_dims);
        abp_ckpt_close(ck);
    }

    /* Kept for tests/mpi_checkpoint.sh to look at with h5dump. */
    const char *keep = getenv("ABP_TEST_KEEP");
    if (keep && *keep) {
        char kept[512];
        snprintf(kept, sizeof kept, "%s/%s", keep, name);
        rc = sample_write(w, &s, kept, &err);
        CHECK(rc == 0, "write %s: %s", kept, err.msg);
    }
    sample_free(&s);
}

/* ---------------------------------------------------------------- failures */

static void test_read_errors(const world *w, const char *path) {
    abp_ckpt *ck = NULL;
    abp_ckpt_meta meta;
    abp_err err = {{0}};
    if (abp_ckpt_open(w->comm, path, &ck, &meta, &err) != 0) {
        CHECK(0, "open %s: %s", path, err.msg);
        return;
    }
    float buf[4 * 2 * 3 * 3];
    const int64_t swapped[4] = {2, 4, 3, 3};
    int rc = abp_ckpt_read_array(ck, "model/03_deconv/weight", buf, 4, swapped, &err);
    check_failed_naming(rc, &err, "model/03_deconv/weight", "wrong shape");
    CHECK(strstr(err.msg, "4x2x3x3") && strstr(err.msg, "2x4x3x3"), "wrong shape: message \"%s\"", err.msg);

    const int64_t flat[1] = {72};
    rc = abp_ckpt_read_array(ck, "model/03_deconv/weight", buf, 1, flat, &err);
    check_failed_naming(rc, &err, "model/03_deconv/weight", "wrong number of dimensions");

    rc = abp_ckpt_read_array(ck, "model/99_none/weight", buf, 1, flat, &err);
    check_failed_naming(rc, &err, "model/99_none/weight", "missing array");

    /* One rank asking for rows past the end stops all of them. */
    int64_t lo = 0, hi = w->rank == w->size - 1 ? N_EXAMPLES + 1 : 1;
    float *z = malloc(sizeof(float) * 3 * (N_EXAMPLES + 1));
    rc = abp_ckpt_read_latents(ck, lo, hi, z, &err);
    check_failed_naming(rc, &err, "/latents", "rows past the end");
    free(z);
    char **names = NULL;
    rc = abp_ckpt_read_names(ck, lo, hi, &names, &err);
    check_failed_naming(rc, &err, "/examples", "names past the end");
    CHECK(names == NULL, "names past the end: result not NULL");

    /* The handle still works after those failures. */
    float row[3];
    rc = abp_ckpt_read_latents(ck, 4, 5, row, &err);
    CHECK(rc == 0 && row[0] == latent_value(4, 0) && row[2] == latent_value(4, 2), "read after failures: %s",
          err.msg);
    abp_ckpt_close(ck);
}

static void check_open_fails(const world *w, const char *path, const char *needle, const char *what) {
    static char not_a_handle;
    abp_ckpt *ck = (abp_ckpt *)&not_a_handle; /* a failed open must set it to NULL */
    abp_ckpt_meta meta;
    abp_err err = {{0}};
    int rc = abp_ckpt_open(w->comm, path, &ck, &meta, &err);
    check_failed_naming(rc, &err, path, what);
    CHECK(strstr(err.msg, needle) != NULL, "%s: message \"%s\" does not say \"%s\"", what, err.msg, needle);
    CHECK(ck == NULL, "%s: handle not NULL", what);
    if (rc == 0) abp_ckpt_close(ck);
}

static void test_open_errors(const world *w, const char *good) {
    char text[512], truncated[512], plain[512], other[512], future[512], missing[512];
    path_in(w, "notes.txt", text, sizeof text);
    path_in(w, "truncated.h5", truncated, sizeof truncated);
    path_in(w, "plain.h5", plain, sizeof plain);
    path_in(w, "other.h5", other, sizeof other);
    path_in(w, "future.h5", future, sizeof future);
    path_in(w, "missing.h5", missing, sizeof missing);
    if (w->rank == 0) {
        write_bytes(text, "iteration 5\nthis is not HDF5\n", 29);
        long len = 0;
        char *bytes = read_bytes(good, &len);
        if (bytes) write_bytes(truncated, bytes, len / 2);
        free(bytes);
        write_plain_hdf5(plain, NULL, 0);
        write_plain_hdf5(other, "something-else", 1);
        write_plain_hdf5(future, "abp-checkpoint", 2);
    }
    MPI_Barrier(w->comm);
    check_open_fails(w, text, "not an HDF5 file", "text file");
    check_open_fails(w, truncated, "truncated or damaged", "truncated file");
    check_open_fails(w, plain, "not an abp checkpoint (no format attribute)", "plain HDF5 file");
    check_open_fails(w, other, "not an abp checkpoint", "other format");
    check_open_fails(w, future, "version 2", "format version 2");
    check_open_fails(w, missing, "No such file", "missing file");
    check_open_fails(w, w->dir, "directory", "a directory");
}

/* A write that fails must fail on every rank and leave the existing file as it was. */
static void test_write_errors(const world *w, const char *good) {
    const int64_t dims[1] = {3};
    sample s;
    sample_make(&s, w, 1, 1, dims);
    abp_err err = {{0}};

    char nowhere[512];
    path_in(w, "no/such/folder/ck.h5", nowhere, sizeof nowhere);
    int rc = sample_write(w, &s, nowhere, &err);
    check_failed_naming(rc, &err, nowhere, "write into a missing folder");
    CHECK(strstr(err.msg, "No such file or directory"), "missing folder: message \"%s\"", err.msg);

    long before_len = 0, after_len = 0;
    char *before = w->rank == 0 ? read_bytes(good, &before_len) : NULL;
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s.tmp", good);

    /* Fails inside HDF5, after PATH.tmp exists: the same array twice. */
    abp_ckpt_array bias = s.arrays[1];
    s.arrays[1] = s.arrays[0];
    rc = sample_write(w, &s, good, &err);
    check_failed_naming(rc, &err, "model/00_linear/weight", "array given twice");
    CHECK(!file_exists(tmp), "array given twice: %s is left behind", tmp);
    s.arrays[1] = bias;

    /* Fails before any file is touched: the last rank leaves out its last row, which only
     * it knows. */
    if (w->rank == w->size - 1) s.hi--;
    rc = sample_write(w, &s, good, &err);
    check_failed_naming(rc, &err, good, "rows not covering [0, n)");

    /* Refused before any file is touched: a NaN in an array, and an infinity in the last
     * rank's latents only (every rank must refuse). */
    float kept = s.arrays[2].data[7];
    s.arrays[2].data[7] = NAN;
    rc = sample_write(w, &s, good, &err);
    check_failed_naming(rc, &err, "model/03_deconv/weight holds 1 NaN or infinite", "NaN in an array");
    s.arrays[2].data[7] = kept;
    if (w->rank == w->size - 1 && s.hi > s.lo) s.latents[0] = INFINITY;
    rc = sample_write(w, &s, good, &err);
    check_failed_naming(rc, &err, "/latents rows", "infinity in one rank's latents");
    if (w->rank == w->size - 1 && s.hi > s.lo) s.latents[0] = latent_value(s.lo, 0);
    CHECK(!file_exists(tmp), "non-finite values: %s is left behind", tmp);
    MPI_Barrier(w->comm); /* before rank 0 makes a folder of that name below */

    /* Fails creating PATH.tmp: a folder is in the way. */
    if (w->rank == 0) mkdir(tmp, 0755);
    MPI_Barrier(w->comm);
    shard(N_EXAMPLES, w->rank, w->size, &s.lo, &s.hi);
    rc = sample_write(w, &s, good, &err);
    check_failed_naming(rc, &err, good, "PATH.tmp is a folder");
    MPI_Barrier(w->comm);
    if (w->rank == 0) rmdir(tmp);

    if (w->rank == 0) {
        char *after = read_bytes(good, &after_len);
        CHECK(before && after && before_len == after_len && memcmp(before, after, (size_t)before_len) == 0,
              "%s changed after failed writes", good);
        free(after);
    }
    free(before);
    sample_free(&s);
}

/* ---------------------------------------------------------------- main */

static void make_scratch(world *w) {
    if (w->rank == 0) {
        const char *base = getenv("TMPDIR");
        snprintf(w->dir, sizeof w->dir, "%s/abp_test_ckpt_XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(w->dir)) w->dir[0] = '\0';
    }
    MPI_Bcast(w->dir, sizeof w->dir, MPI_CHAR, 0, w->comm);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    world w = {.comm = MPI_COMM_WORLD};
    MPI_Comm_rank(w.comm, &w.rank);
    MPI_Comm_size(w.comm, &w.size);
    make_scratch(&w);
    CHECK(w.dir[0] != '\0', "cannot make a scratch folder");

    if (w.dir[0]) {
        const int64_t vector[1] = {3}, square[2] = {2, 2};
        char first[512];
        path_in(&w, "checkpoint.h5", first, sizeof first);
        test_round_trip(&w, "checkpoint.h5", 1, 1, vector);
        test_round_trip(&w, "checkpoint_2d.h5", 2, 2, square);
        test_read_errors(&w, first);
        test_open_errors(&w, first);
        test_write_errors(&w, first);
        MPI_Barrier(w.comm);
        if (w.rank == 0) remove_dir(w.dir);
    }

    /* Rank 0 reports the counts of all ranks; every rank exits with the common verdict. */
    int local[2] = {check_passed, check_failed}, total[2];
    MPI_Allreduce(local, total, 2, MPI_INT, MPI_SUM, w.comm);
    check_passed = total[0];
    check_failed = total[1];
    int status = w.rank == 0 ? check_summary("test_checkpoint") : (check_failed ? 1 : 0);
    MPI_Finalize();
    return status;
}
