/* A tiny test harness: CHECK records a failure with file and line and goes on;
 * check_summary prints "N passed, N failed" and returns the exit status. */
#ifndef ABP_TEST_CHECK_H
#define ABP_TEST_CHECK_H

#include <stdio.h>

extern int check_passed, check_failed;

#define CHECK(cond, ...)                                                           \
    do {                                                                           \
        if (cond) {                                                                \
            check_passed++;                                                        \
        } else {                                                                   \
            check_failed++;                                                        \
            fprintf(stderr, "%s:%d: check failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                          \
            fputc('\n', stderr);                                                   \
        }                                                                          \
    } while (0)

int check_summary(const char *suite);

#endif
