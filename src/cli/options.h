/* Table-driven command-line options for the abp subcommands: "--name value" or
 * "--name=value"; every error names the option and the problem. */
#ifndef ABP_CLI_OPTIONS_H
#define ABP_CLI_OPTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "abp/error.h"

typedef enum { OPT_STRING, OPT_INT, OPT_INT64, OPT_FLOAT, OPT_FLAG, OPT_CHOICE, OPT_LIST } opt_type;

enum { CLI_LIST_MAX = 256 };

/* The values of a repeatable option (OPT_LIST), in the order given. Several options may
 * share one list, which keeps their relative order (abp prepare --idx A --images B --idx C);
 * option[k] says which one gave value[k]. The strings are those of argv. */
typedef struct cli_list {
    const char *value[CLI_LIST_MAX];
    const char *option[CLI_LIST_MAX]; /* its name, without "--" */
    int n;
} cli_list;

typedef struct cli_option {
    const char *name; /* without the leading "--" */
    opt_type type;
    void *dst;        /* char[dst_size], int, int64_t, float, int (flag), int (choice index),
                       * cli_list (list) */
    size_t dst_size;
    double min, max;  /* numeric range */
    const char *choices; /* OPT_CHOICE: "adam|sgd" */
    const char *help;
    int required;
    int seen;
} cli_option;

/* Parses argv[first..argc) against opts; "--help" sets *help. Positional arguments go to
 * positional (up to max_positional). */
int cli_parse(const char *cmd, int argc, char **argv, int first, cli_option *opts, int nopts,
              char **positional, int max_positional, int *npositional, int *help, abp_err *err)
    ABP_MUST_CHECK;

/* Whether the option called name was on the command line (after cli_parse). */
int cli_seen(const cli_option *opts, int nopts, const char *name);

/* Prints "usage: abp CMD SYNOPSIS", a description, and one line per option with its default. */
void cli_usage(const char *cmd, const char *synopsis, const char *description,
               const cli_option *opts, int nopts);

#endif
