/* Folders for outputs, and making what was written there durable. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "abp/io.h"

int abp_mkdir_p(const char *path, abp_err *err) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return abp_fail(err, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST) return abp_fail(err, "%s: cannot create %s (%s)", path, buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST) return abp_fail(err, "%s: cannot create (%s)", path, strerror(errno));
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode)) return abp_fail(err, "%s: not a folder", path);
    return 0;
}

int abp_fsync_path(const char *path, abp_err *err) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return abp_fail(err, "%s: cannot open to sync (%s)", path, strerror(errno));
    int rc = fsync(fd) == 0 ? 0 : abp_fail(err, "%s: cannot sync to disk (%s)", path, strerror(errno));
    close(fd);
    return rc;
}

int abp_fsync_parent(const char *path, abp_err *err) {
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == path) snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) >= sizeof dir) return abp_fail(err, "%s: path too long", path);
    else snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    return abp_fsync_path(dir, err);
}

int abp_reserve_space(const char *path, int64_t bytes, abp_err *err) {
    char reserve[4200];
    if (snprintf(reserve, sizeof reserve, "%s.reserve", path) >= (int)sizeof reserve)
        return abp_fail(err, "%s: path too long", path);
    int fd = open(reserve, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return abp_fail(err, "%s: cannot create %s (%s)", path, reserve, strerror(errno));
    int e = posix_fallocate(fd, 0, (off_t)bytes);
    close(fd);
    unlink(reserve);
    /* A file system that cannot reserve space (EINVAL, EOPNOTSUPP) is let through. */
    if (e == ENOSPC || e == EDQUOT || e == EFBIG)
        return abp_fail(err, "%s: not written: it needs about %.1f MB and the disk has less free (%s); "
                             "the previous checkpoint is kept", path, (double)bytes / 1e6, strerror(e));
    return 0;
}
