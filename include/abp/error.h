/* abp — errors.
 *
 * Every function that can fail returns int: 0 on success, -1 on failure, and on failure
 * writes one line into the caller's abp_err saying what went wrong (naming the file or
 * option). The caller must look at the result: ABP_MUST_CHECK makes the compiler insist. */
#ifndef ABP_ERROR_H
#define ABP_ERROR_H

#include <stddef.h>

#define ABP_MUST_CHECK __attribute__((warn_unused_result))

typedef struct abp_err {
    char msg[1024];
} abp_err;

/* Formats msg into err (if err is non-NULL) and returns -1, so that `return abp_fail(...)`
 * reads as what it does. */
int abp_fail(abp_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prepends "context: " to an existing message, for callers that add where it happened. */
int abp_fail_wrap(abp_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* malloc/calloc that report failure through err; sizes are in bytes. 64-byte aligned. */
void *abp_alloc(size_t bytes, abp_err *err);
void *abp_calloc(size_t bytes, abp_err *err);
void abp_free(void *p);

#endif
