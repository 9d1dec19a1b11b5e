/* Command-line parsing for every subcommand (see options.h). */
#include "options.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int set_value(const char *cmd, cli_option *o, const char *v, abp_err *err) {
    char *end = NULL;
    errno = 0;
    switch (o->type) {
    case OPT_STRING:
        if (strlen(v) >= o->dst_size) return abp_fail(err, "abp %s: --%s: value too long", cmd, o->name);
        if (!*v) return abp_fail(err, "abp %s: --%s: empty value", cmd, o->name);
        memcpy(o->dst, v, strlen(v) + 1);
        return 0;
    case OPT_INT:
    case OPT_INT64: {
        long long x = strtoll(v, &end, 10);
        if (!*v || *end || errno) return abp_fail(err, "abp %s: --%s: '%s' is not a whole number", cmd, o->name, v);
        if ((double)x < o->min || (double)x > o->max)
            return abp_fail(err, "abp %s: --%s: %lld is out of range (%.0f to %.0f)", cmd, o->name, x, o->min, o->max);
        if (o->type == OPT_INT) *(int *)o->dst = (int)x;
        else *(int64_t *)o->dst = x;
        return 0;
    }
    case OPT_FLOAT: {
        double x = strtod(v, &end);
        if (!*v || *end || errno || !isfinite(x)) return abp_fail(err, "abp %s: --%s: '%s' is not a number", cmd, o->name, v);
        if (x < o->min || x > o->max)
            return abp_fail(err, "abp %s: --%s: %g is out of range (%g to %g)", cmd, o->name, x, o->min, o->max);
        *(float *)o->dst = (float)x;
        return 0;
    }
    case OPT_CHOICE: {
        int index = 0;
        for (const char *c = o->choices; *c; index++) {
            size_t len = strcspn(c, "|");
            if (strlen(v) == len && strncmp(c, v, len) == 0) {
                *(int *)o->dst = index;
                return 0;
            }
            c += len + (c[len] == '|');
        }
        return abp_fail(err, "abp %s: --%s: '%s' is not one of %s", cmd, o->name, v, o->choices);
    }
    case OPT_FLAG:
        *(int *)o->dst = 1;
        return 0;
    case OPT_LIST: {
        cli_list *list = o->dst;
        if (!*v) return abp_fail(err, "abp %s: --%s: empty value", cmd, o->name);
        if (list->n == CLI_LIST_MAX)
            return abp_fail(err, "abp %s: --%s: more than %d values", cmd, o->name, CLI_LIST_MAX);
        list->value[list->n] = v;
        list->option[list->n] = o->name;
        list->n++;
        return 0;
    }
    }
    return 0;
}

int cli_parse(const char *cmd, int argc, char **argv, int first, cli_option *opts, int nopts,
              char **positional, int max_positional, int *npositional, int *help, abp_err *err) {
    *help = 0;
    if (npositional) *npositional = 0;
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            *help = 1;
            return 0;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (!npositional || *npositional >= max_positional)
                return abp_fail(err, "abp %s: unexpected argument '%s' (see abp %s --help)", cmd, a, cmd);
            positional[(*npositional)++] = argv[i];
            continue;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        cli_option *o = NULL;
        for (int k = 0; k < nopts; k++)
            if (strlen(opts[k].name) == len && !strncmp(opts[k].name, name, len)) o = &opts[k];
        if (!o) return abp_fail(err, "abp %s: unknown option '--%.*s' (see abp %s --help)", cmd, (int)len, name, cmd);
        const char *v;
        if (o->type == OPT_FLAG) {
            if (eq) return abp_fail(err, "abp %s: --%s takes no value", cmd, o->name);
            v = "";
        } else if (eq) {
            v = eq + 1;
        } else {
            if (i + 1 >= argc) return abp_fail(err, "abp %s: --%s needs a value", cmd, o->name);
            v = argv[++i];
        }
        if (set_value(cmd, o, v, err)) return -1;
        o->seen = 1;
    }
    for (int k = 0; k < nopts; k++)
        if (opts[k].required && !opts[k].seen)
            return abp_fail(err, "abp %s: --%s is required (see abp %s --help)", cmd, opts[k].name, cmd);
    return 0;
}

int cli_seen(const cli_option *opts, int nopts, const char *name) {
    for (int k = 0; k < nopts; k++)
        if (!strcmp(opts[k].name, name) && opts[k].seen) return 1;
    return 0;
}

static void print_default(const cli_option *o) {
    switch (o->type) {
    case OPT_STRING:
        if (*(const char *)o->dst) printf(" [%s]", (const char *)o->dst);
        break;
    case OPT_INT: printf(" [%d]", *(const int *)o->dst); break;
    case OPT_INT64: printf(" [%lld]", (long long)*(const int64_t *)o->dst); break;
    case OPT_FLOAT: printf(" [%g]", (double)*(const float *)o->dst); break;
    case OPT_CHOICE: {
        const char *c = o->choices;
        for (int k = 0; k < *(const int *)o->dst; k++) c = strchr(c, '|') + 1;
        printf(" [%.*s]", (int)strcspn(c, "|"), c);
        break;
    }
    case OPT_FLAG:
    case OPT_LIST: break;
    }
}

void cli_usage(const char *cmd, const char *synopsis, const char *description,
               const cli_option *opts, int nopts) {
    printf("usage: abp %s %s\n\n%s\n\noptions:\n", cmd, synopsis, description);
    for (int k = 0; k < nopts; k++) {
        const cli_option *o = &opts[k];
        char left[64];
        const char *arg = o->type == OPT_FLAG ? "" : o->type == OPT_CHOICE ? o->choices
                        : o->type == OPT_STRING || o->type == OPT_LIST ? "S" : o->type == OPT_FLOAT ? "X" : "N";
        snprintf(left, sizeof left, "--%s%s%s", o->name, *arg ? " " : "", arg);
        /* At least two spaces after the left column, wherever it ends: abp man splits there. */
        printf("  %-30s%s%s", left, strlen(left) >= 30 ? "  " : " ", o->help);
        if (o->required) printf(" (required)");
        else if (!strstr(o->help, "(default:")) print_default(o); /* a help that says its default */
        printf("\n");
    }
}
