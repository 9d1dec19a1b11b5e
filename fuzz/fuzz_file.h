/* What the harnesses share: abp's loaders take paths, so each input is written to a fresh
 * temporary file (named with the suffix a loader may look at), loaded by abp's own code,
 * and removed. */
#ifndef ABP_FUZZ_FILE_H
#define ABP_FUZZ_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Writes data to a new file /tmp/abp-fuzz-XXXXXX<suffix>; path gets its name. 0 or -1. */
static inline int fuzz_write_file(const uint8_t *data, size_t size, const char *suffix, char *path, size_t cap) {
    const char *dir = getenv("TMPDIR");
    snprintf(path, cap, "%s/abp-fuzz-XXXXXX%s", dir && *dir ? dir : "/tmp", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    if (fd < 0) return -1;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) break;
        done += (size_t)n;
    }
    close(fd);
    if (done < size) {
        unlink(path);
        return -1;
    }
    return 0;
}

/* A NUL-terminated copy of the input, for the text parsers (free it). */
static inline char *fuzz_text(const uint8_t *data, size_t size) {
    char *text = malloc(size + 1);
    if (!text) return NULL;
    memcpy(text, data, size);
    text[size] = '\0';
    return text;
}

#endif
