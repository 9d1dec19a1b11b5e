/* Image files as a data source (see images.h): a folder of them, taken in strcmp order of
 * their names, or a single one, which is a data set of one.
 *
 * stb_image decodes them, compiled here rather than taken from Debian's libstb: that
 * library is built with every decoder stb has, and Debian 12's v2.27 has known
 * memory-safety bugs in its GIF decoder (CVE-2023-45661..45667) and PNM/HDR ones fixed
 * only in 2.28 (CVE-2021-42715, -42716). Compiling the header ourselves lets us keep only
 * the formats abp documents and bound the image size; the functions are static, so they
 * cannot clash with libstb's (which png.c's stb_image_write and pixels.c's resize still
 * use). Every file is also checked against a pixel limit (abp_image_max_pixels) from its
 * header before a byte of pixels is allocated. */
#include "images.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* The largest side stb accepts (its own default is 2^24): far above any real image, and
 * small enough that w * h * 4 cannot overflow even before abp's pixel limit is checked. */
#define STBI_MAX_DIMENSIONS (1 << 17)
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_ONLY_JPEG
#define STBI_ONLY_BMP
#define STBI_ONLY_PNM
#define STBI_NO_LINEAR
#define STBI_NO_HDR
#define STBI_FAILURE_USERMSG
/* Zeroed allocations: on a damaged file stb may read a table or buffer it never filled (one
 * such case is refused below, in jpeg_tables_problem); zeroed memory makes any other case of
 * that kind give the same pixels every time instead of whatever the heap held. */
#define STBI_MALLOC(size) calloc(1, size)
#define STBI_REALLOC(p, size) realloc(p, size)
#define STBI_FREE(p) free(p)
/* stb is third-party code: its own warnings are not ours to fix (and -Werror is on). The
 * static functions this file does not call are reported only at the end of the file, so
 * that warning stays off for all of it. */
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wunused-parameter"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include <stb/stb_image.h>
#pragma GCC diagnostic pop

/* A folder holds images with these extensions (compared without case); other files in it,
 * such as a README or a labels file, are skipped rather than refused. */
static const char *const image_extensions[] = {"png", "jpg", "jpeg", "bmp", "pgm",
                                               "ppm", "pnm", "gif", "tga"};

int abp_has_image_extension(const char *name) {
    const char *dot = strrchr(name, '.');
    if (!dot || dot == name) return 0;
    for (size_t i = 0; i < sizeof image_extensions / sizeof image_extensions[0]; i++)
        if (strcasecmp(dot + 1, image_extensions[i]) == 0) return 1;
    return 0;
}

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* folder + "/" + name in a malloc'd string (no second slash if folder ends in one), or NULL
 * when out of memory. */
static char *join_path(const char *folder, const char *name) {
    size_t len = strlen(folder);
    const char *sep = len > 0 && folder[len - 1] == '/' ? "" : "/";
    size_t size = len + strlen(sep) + strlen(name) + 1;
    char *path = malloc(size);
    if (path) snprintf(path, size, "%s%s%s", folder, sep, name);
    return path;
}

/* stb keeps its last failure reason in a static; it is NULL before the first failure. */
static const char *stb_reason(void) {
    const char *why = stbi_failure_reason();
    return why ? why : "unknown reason";
}

/* ---------------------------------------------------------------- listing */

void abp_image_files_free(abp_image_files *files) {
    for (int64_t i = 0; i < files->n; i++) {
        free(files->paths[i]);
        free(files->names[i]);
    }
    free(files->paths);
    free(files->names);
    memset(files, 0, sizeof *files);
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Collects the regular image files directly inside folder, sorted by name. */
static int list_folder(const char *folder, abp_image_files *files, abp_err *err) {
    DIR *dir = opendir(folder);
    if (!dir) return abp_fail(err, "%s: cannot open folder (%s)", folder, strerror(errno));

    int64_t capacity = 0;
    struct dirent *entry;
    errno = 0;
    while ((entry = readdir(dir)) != NULL) {
        const char *name = entry->d_name;
        if (name[0] == '.' || !abp_has_image_extension(name)) continue;
        char *path = join_path(folder, name);
        char *copy = strdup(name);
        if (!path || !copy) {
            free(path);
            free(copy);
            goto out_of_memory;
        }
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) { /* subfolders, dangling links */
            free(path);
            free(copy);
            continue;
        }
        if (files->n == capacity) {
            int64_t grown = capacity ? 2 * capacity : 64;
            char **paths = realloc(files->paths, (size_t)grown * sizeof *paths);
            if (paths) files->paths = paths;
            char **names = realloc(files->names, (size_t)grown * sizeof *names);
            if (names) files->names = names;
            if (!paths || !names) {
                free(path);
                free(copy);
                goto out_of_memory;
            }
            capacity = grown;
        }
        files->paths[files->n] = path;
        files->names[files->n] = copy;
        files->n++;
        errno = 0;
    }
    if (errno != 0) {
        int e = errno;
        closedir(dir);
        abp_image_files_free(files);
        return abp_fail(err, "%s: cannot read folder (%s)", folder, strerror(e));
    }
    closedir(dir);
    if (files->n == 0) {
        abp_image_files_free(files);
        return abp_fail(err, "%s: no images in folder (looked for .png .jpg .jpeg .bmp .pgm "
                             ".ppm .pnm .gif .tga)", folder);
    }

    /* paths and names sort alike: every path is the folder prefix plus its name. */
    qsort(files->paths, (size_t)files->n, sizeof *files->paths, compare_names);
    qsort(files->names, (size_t)files->n, sizeof *files->names, compare_names);
    return 0;

out_of_memory:
    closedir(dir);
    abp_image_files_free(files);
    return abp_fail(err, "%s: out of memory listing the folder", folder);
}

static int single_file(const char *path, abp_image_files *files, abp_err *err) {
    files->paths = malloc(sizeof *files->paths);
    files->names = malloc(sizeof *files->names);
    char *p = strdup(path), *name = strdup(base_name(path));
    if (!files->paths || !files->names || !p || !name) {
        free(files->paths);
        free(files->names);
        free(p);
        free(name);
        memset(files, 0, sizeof *files);
        return abp_fail(err, "%s: out of memory", path);
    }
    files->paths[0] = p;
    files->names[0] = name;
    files->n = 1;
    return 0;
}

int abp_image_files_list(const char *path, int is_folder, abp_image_files *files, abp_err *err) {
    memset(files, 0, sizeof *files);
    return is_folder ? list_folder(path, files, err) : single_file(path, files, err);
}

/* ---------------------------------------------------------------- decoding */

int64_t abp_image_max_pixels(abp_err *err) {
    const char *text = getenv("ABP_MAX_PIXELS");
    if (!text || !*text) return ABP_IMAGE_MAX_PIXELS_DEFAULT;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end || v < 1)
        return abp_fail(err, "ABP_MAX_PIXELS=%s: expected a number of pixels >= 1", text);
    return v;
}

/* The extensions abp lists in folders but whose decoders it leaves out (see the top). */
static int is_refused_format(const char *path, const char **name) {
    const char *dot = strrchr(path, '.');
    if (!dot) return 0;
    if (strcasecmp(dot + 1, "gif") == 0) *name = "GIF";
    else if (strcasecmp(dot + 1, "tga") == 0) *name = "TGA";
    else return 0;
    return 1;
}

/* Whether a scan header (sos: Ns, then Ns (component, DC << 4 | AC), Ss, Se, Ah << 4 | Al)
 * names a Huffman table its decoding reads that no DHT segment before it defined. */
static int scan_needs_undefined_table(const unsigned char *sos, int ns, int progressive, int defined[2][4]) {
    int ss = sos[1 + 2 * ns], ah = sos[3 + 2 * ns] >> 4;
    int need_dc = !progressive || (ss == 0 && ah == 0), need_ac = !progressive || ss > 0;
    for (int i = 0; i < ns; i++) {
        int dc = sos[2 + 2 * i] >> 4, ac = sos[2 + 2 * i] & 15;
        if (dc > 3 || ac > 3) continue; /* stb refuses these ids itself */
        if ((need_dc && !defined[0][dc]) || (need_ac && !defined[1][ac])) return 1;
    }
    return 0;
}

/* Two faults of stb_image 2.27 in a JPEG's Huffman tables, found by fuzz/fuzz_images.c,
 * refused here before stb sees the file:
 *  - a table (a DHT segment) that declares more than 256 codes makes stb write past its
 *    257-byte size table, already in stbi_info;
 *  - a scan (an SOS segment) that names a table the file never defined makes stb decode
 *    with a table it never filled: uninitialised heap memory, which valgrind reports and
 *    which indexed the symbol table at -21 under the fuzzer. The JPEG standard calls such a
 *    file an error (libjpeg says "Huffman table 0x.. was not defined").
 * Walks the marker segments by their lengths, and the scans' entropy-coded data byte by byte
 * (a 0xFF there is always followed by 0x00 or a marker), so DHT segments between scans are
 * found too, in the order stb meets them. A scan needs what stb's decoder reads: a baseline
 * scan its DC and AC tables; a progressive one its DC table in a first DC scan (Ss = 0,
 * Ah = 0), its AC table in an AC scan (Ss > 0), none in a DC refinement. Returns what is
 * wrong, or NULL when the file is no JPEG or its tables are sound; the FILE is rewound. */
static const char *jpeg_tables_problem(FILE *f) {
    const char *problem = NULL;
    int defined[2][4] = {{0}}; /* [DC, AC][table id] */
    int progressive = 0;
    int first = getc(f), second;
    do second = getc(f); while (second == 0xFF); /* stb skips fill bytes before SOI too */
    if (first == 0xFF && second == 0xD8) {
        for (int c; !problem && (c = getc(f)) != EOF;) {
            if (c != 0xFF) continue;
            int m;
            do m = getc(f); while (m == 0xFF);
            if (m == EOF || m == 0xD9) break; /* end of image */
            if (m == 0x00 || m == 0x01 || m == 0xD8 || (m >= 0xD0 && m <= 0xD7)) continue; /* no length */
            int hi = getc(f), lo = getc(f);
            if (lo == EOF) break;
            long left = ((long)hi << 8 | lo) - 2;
            if (m == 0xC0 || m == 0xC1 || m == 0xC2) progressive = m == 0xC2; /* the frames stb reads */
            if (m == 0xDA) { /* start of scan: Ns, then Ns (component, DC << 4 | AC), Ss, Se, Ah << 4 | Al */
                unsigned char sos[1 + 2 * 4 + 3];
                if (left < 1 || left > (long)sizeof sos || fread(sos, 1, (size_t)left, f) != (size_t)left)
                    break; /* stb refuses a scan header of any other length (or a short file) */
                int ns = sos[0];
                if (ns < 1 || ns > 4 || left != 1 + 2 * ns + 3) break;
                if (scan_needs_undefined_table(sos, ns, progressive, defined))
                    problem = "a scan uses a Huffman table the file never defines";
                continue;
            }
            if (m != 0xC4) {
                if (left > 0 && fseek(f, left, SEEK_CUR) != 0) break;
                continue;
            }
            /* stb reads another table while any length is left, even fewer than the 17
             * bytes of a table's head: it then reads the head from what follows (found by
             * fuzz_images from the JPEG seeds: a table of 0 codes in a 19-byte segment). */
            while (!problem && left > 0) { /* one table: class/id, 16 counts, the symbols */
                int codes = 0, which = getc(f);
                for (int i = 0; i < 16; i++) {
                    int count = getc(f);
                    codes += count == EOF ? 0 : count; /* stb reads 0 past the end */
                }
                if (codes > 256) problem = "a Huffman table of more than 256 codes";
                else if (fseek(f, codes, SEEK_CUR) != 0) break;
                if (which != EOF && which >> 4 <= 1 && (which & 15) <= 3) defined[which >> 4][which & 15] = 1;
                left -= 17 + codes;
            }
        }
    }
    rewind(f);
    return problem;
}

/* stb_image 2.27 reads the numbers of a PGM/PPM header into an int with no bound
 * (stbi__pnm_getinteger), so a width, height or maximum value of 2^31 or more is a signed
 * overflow, undefined behaviour, before stb checks any size: found by fuzz_images under
 * UBSan. This reads a P5/P6 header as stb does (whitespace, '#' comments to the end of the
 * line, then digits) with every number saturating just above its bound, and refuses a side
 * over STBI_MAX_DIMENSIONS or a maximum value over 65535 before stb sees the file. A
 * one-byte look-ahead gives stb's "at end of file" (no byte left), which ends a number
 * even after a digit. (stb's buffered reader can take one digit more when a file of a
 * multiple of 128 bytes ends inside a number: ten times a bounded value, far from an
 * overflow, and such a file has no pixels.) Returns 0 when the file is no PGM/PPM or its
 * numbers are in bounds, else -1 with err set; the FILE is rewound. */
typedef struct {
    FILE *f;
    int next; /* the byte stb's next read returns, or EOF */
} pnm_reader;

static int pnm_at_eof(const pnm_reader *r) { return r->next == EOF; }

static char pnm_get8(pnm_reader *r) { /* stb's stbi__get8: 0 once the file is used up */
    int c = r->next;
    if (c == EOF) return 0;
    r->next = getc(r->f);
    return (char)c;
}

static int pnm_isspace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static void pnm_skip_whitespace(pnm_reader *r, char *c) {
    for (;;) {
        while (!pnm_at_eof(r) && pnm_isspace(*c)) *c = pnm_get8(r);
        if (pnm_at_eof(r) || *c != '#') break;
        while (!pnm_at_eof(r) && *c != '\n' && *c != '\r') *c = pnm_get8(r);
    }
}

/* The number stb would read, or bound + 1 for any larger one. */
static long pnm_number(pnm_reader *r, char *c, long bound) {
    long value = 0;
    while (!pnm_at_eof(r) && *c >= '0' && *c <= '9') {
        if (value <= bound) value = value * 10 + (*c - '0');
        *c = pnm_get8(r);
    }
    return value > bound ? bound + 1 : value;
}

static int pnm_header_ok(FILE *f, const char *path, abp_err *err) {
    pnm_reader r = {f, getc(f)};
    char p = pnm_get8(&r), t = pnm_get8(&r);
    int rc = 0;
    if (p == 'P' && (t == '5' || t == '6')) {
        const char *kind = t == '5' ? "PGM" : "PPM";
        char c = pnm_get8(&r);
        pnm_skip_whitespace(&r, &c);
        long w = pnm_number(&r, &c, STBI_MAX_DIMENSIONS);
        pnm_skip_whitespace(&r, &c);
        long h = pnm_number(&r, &c, STBI_MAX_DIMENSIONS);
        pnm_skip_whitespace(&r, &c);
        long maxval = pnm_number(&r, &c, 65535);
        if (w > STBI_MAX_DIMENSIONS || h > STBI_MAX_DIMENSIONS)
            rc = abp_fail(err, "%s: a %s header with a %s of more than %d pixels, the most abp reads "
                               "per side (a damaged file?)", path, kind,
                          w > STBI_MAX_DIMENSIONS ? "width" : "height", STBI_MAX_DIMENSIONS);
        else if (maxval > 65535)
            rc = abp_fail(err, "%s: a %s header with a maximum value of more than 65535 (PGM/PPM "
                               "allows 1 to 65535; a damaged file?)", path, kind);
    }
    rewind(f);
    return rc;
}

/* Opens an image file and reads its header: refuses the formats abp leaves out and images
 * of more pixels than the limit, before anything is decoded. The FILE is left at the
 * start, for stbi_load_from_file. */
static FILE *open_checked(const char *path, int *w, int *h, int *channels, abp_err *err) {
    const char *format;
    if (is_refused_format(path, &format)) {
        abp_fail(err, "%s: %s images are not read (abp reads PNG, JPEG, BMP, PGM/PPM); convert it, "
                      "e.g. to PNG", path, format);
        return NULL;
    }
    int64_t limit = abp_image_max_pixels(err);
    if (limit < 0) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        abp_fail(err, "%s: cannot open (%s)", path, strerror(errno));
        return NULL;
    }
    const char *jpeg_problem = jpeg_tables_problem(f);
    if (jpeg_problem) {
        abp_fail(err, "%s: a damaged JPEG (%s)", path, jpeg_problem);
        fclose(f);
        return NULL;
    }
    if (pnm_header_ok(f, path, err) != 0) {
        fclose(f);
        return NULL;
    }
    if (!stbi_info_from_file(f, w, h, channels)) {
        abp_fail(err, "%s: not an image abp reads (PNG, JPEG, BMP, PGM/PPM): %s", path, stb_reason());
        fclose(f);
        return NULL;
    }
    /* stb 2.27 lets a PNM header of height or width 0 through (found by fuzz_images). */
    if (*w < 1 || *h < 1) {
        abp_fail(err, "%s: an image of %d x %d pixels", path, *w, *h);
        fclose(f);
        return NULL;
    }
    if ((int64_t)*w * *h > limit) {
        abp_fail(err, "%s: %d x %d = %lld pixels, more than the limit of %lld (raise it with "
                      "ABP_MAX_PIXELS=N)", path, *w, *h, (long long)*w * *h, (long long)limit);
        fclose(f);
        return NULL;
    }
    return f;
}

int abp_image_info(const char *path, int *w, int *h, int *channels, abp_err *err) {
    FILE *f = open_checked(path, w, h, channels, err);
    if (!f) return -1;
    fclose(f);
    return 0;
}

int abp_image_decode(const char *path, uint8_t **pixels, int *w, int *h, int *channels,
                     abp_err *err) {
    int iw, ih, ic;
    *pixels = NULL;
    FILE *f = open_checked(path, &iw, &ih, &ic, err);
    if (!f) return -1;
    *pixels = stbi_load_from_file(f, w, h, channels, 0);
    fclose(f);
    if (!*pixels) return abp_fail(err, "%s: not an image abp reads (%s)", path, stb_reason());
    /* The file changed between the header and the pixels: the limit no longer holds. */
    if (*w != iw || *h != ih) {
        stbi_image_free(*pixels);
        *pixels = NULL;
        return abp_fail(err, "%s: changed while being read", path);
    }
    return 0;
}

void abp_image_release(uint8_t *pixels) { stbi_image_free(pixels); }
