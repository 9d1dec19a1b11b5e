/* Error messages and checked allocation (see include/abp/error.h). */
#include "abp/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int abp_fail(abp_err *err, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int abp_fail_wrap(abp_err *err, const char *fmt, ...) {
    if (err) {
        char old[sizeof err->msg];
        memcpy(old, err->msg, sizeof old);
        va_list ap;
        va_start(ap, fmt);
        int len = vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        /* Append ": old" to whatever room is left; truncation is acceptable for a message. */
        if (len >= 0 && (size_t)len < sizeof err->msg - 2) {
            size_t used = (size_t)len;
            err->msg[used++] = ':';
            err->msg[used++] = ' ';
            size_t room = sizeof err->msg - used - 1, n = strlen(old);
            if (n > room) n = room;
            memcpy(err->msg + used, old, n);
            err->msg[used + n] = 0;
        }
    }
    return -1;
}

void *abp_alloc(size_t bytes, abp_err *err) {
    void *p = NULL;
    size_t rounded = (bytes + 63) / 64 * 64;
    if (rounded == 0) rounded = 64;
    if (posix_memalign(&p, 64, rounded) != 0) {
        abp_fail(err, "out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    return p;
}

void *abp_calloc(size_t bytes, abp_err *err) {
    void *p = abp_alloc(bytes, err);
    if (p) memset(p, 0, bytes);
    return p;
}

void abp_free(void *p) { free(p); }
