/* --resume DIR: the newest checkpoint of a folder that verifies, as SCR falls back to an
 * older checkpoint when the newest is damaged. A run that died while writing, or a disk that
 * corrupted a file, then costs the iterations since the one before, not the run. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/io.h"

static int newest_first(const void *a, const void *b) {
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x < y) - (x > y);
}

/* The iterations of dir's checkpoint-ITER.h5 files, newest first, in a malloc'd array. */
static int list_numbered(const char *dir, long long **out, size_t *n, abp_err *err) {
    *out = NULL, *n = 0;
    DIR *d = opendir(dir);
    if (!d) return abp_fail(err, "--resume %s: cannot list the folder (%s)", dir, strerror(errno));
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long long it;
        char tail[8];
        if (sscanf(e->d_name, "checkpoint-%lld.h%7s", &it, tail) != 2 || strcmp(tail, "5") != 0) continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            long long *grown = realloc(*out, cap * sizeof *grown);
            if (!grown) {
                closedir(d);
                free(*out);
                *out = NULL;
                return abp_fail(err, "--resume %s: out of memory", dir);
            }
            *out = grown;
        }
        (*out)[(*n)++] = it;
    }
    closedir(d);
    qsort(*out, *n, sizeof **out, newest_first);
    return 0;
}

/* Whether a file is a checkpoint that opens and verifies; why not in err. */
static int verifies(const char *path, abp_err *err) {
    abp_ckpt *ck;
    abp_ckpt_meta meta;
    if (abp_ckpt_open(MPI_COMM_SELF, path, &ck, &meta, err)) return 0;
    int ok = abp_ckpt_verify(ck, NULL, err) == 0;
    abp_ckpt_close(ck);
    return ok;
}

/* Rank 0's choice: the numbered files newest first (checkpoint.h5 names one of them), or
 * checkpoint.h5 alone when there are none. */
static int choose(const char *dir, char *path, size_t cap, abp_err *err) {
    long long *its;
    size_t n;
    if (list_numbered(dir, &its, &n, err)) return -1;
    size_t candidates = n > 0 ? n : 1, skipped = 0;
    int found = 0;
    for (size_t i = 0; i < candidates && !found; i++) {
        if (n > 0) snprintf(path, cap, "%s/checkpoint-%08lld.h5", dir, its[i]);
        else snprintf(path, cap, "%s/checkpoint.h5", dir);
        abp_err why = {{0}};
        if (verifies(path, &why)) {
            found = 1;
        } else {
            fprintf(stderr, "abp: --resume %s: skipping %s\n", dir, why.msg);
            skipped++;
        }
    }
    free(its);
    if (!found)
        return abp_fail(err, "--resume %s: no checkpoint in the folder verifies (%zu tried, each named above)",
                        dir, skipped);
    return 0;
}

int abp_ckpt_pick(MPI_Comm comm, const char *dir, char *path, size_t cap, abp_err *err) {
    int rank;
    MPI_Comm_rank(comm, &rank);
    int rc = rank == 0 ? choose(dir, path, cap, err) : 0;
    abp_err shared = {{0}};
    int msg[1] = {rc};
    MPI_Bcast(msg, 1, MPI_INT, 0, comm);
    if (msg[0] < 0) {
        if (rank == 0 && err) shared = *err;
        MPI_Bcast(shared.msg, (int)sizeof shared.msg, MPI_CHAR, 0, comm);
        if (err) *err = shared;
        return -1;
    }
    MPI_Bcast(path, (int)cap, MPI_CHAR, 0, comm);
    return 0;
}
