/* Manual pages (roff, man(7) macros) made from the same text that `abp CMD --help` prints.
 *
 * The help text is captured by running the command with --help while stdout points at a
 * temporary file, then translated line by line: the synopsis, the description, and one
 * entry per option line of cli_usage's table. Going through the printed text, rather than a
 * second renderer of the option tables, keeps the commands' own files untouched and makes
 * it impossible for the two to disagree: an option that --help prints is in the page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Writes s with roff's special characters escaped: backslashes, and '-' as \- so that
 * options render (and search) as ASCII hyphens. A line must not start with '.' or '\''. */
static void roff_text(FILE *out, const char *s, size_t len) {
    if (len && (s[0] == '.' || s[0] == '\'')) fputs("\\&", out);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '\\') fputs("\\e", out);
        else if (s[i] == '-') fputs("\\-", out);
        else fputc(s[i], out);
    }
}

static void roff_line(FILE *out, const char *s) {
    roff_text(out, s, strlen(s));
    fputc('\n', out);
}

static void upper(const char *s, char *dst, size_t size) {
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++) dst[i] = (char)(s[i] >= 'a' && s[i] <= 'z' ? s[i] - 32 : s[i]);
    dst[i] = 0;
}

static void header(FILE *out, const char *page, const char *what) {
    char title[64];
    upper(page, title, sizeof title);
    /* Left-aligned and without hyphenation, so that options never break across lines. */
    fprintf(out, ".TH %s 1 \"\" \"abp %s\" \"abp manual\"\n.ad l\n.nh\n.SH NAME\n", title, ABP_VERSION);
    roff_text(out, page, strlen(page));
    fputs(" \\- ", out);
    roff_line(out, what);
}

static const char *skip_spaces(const char *s) {
    while (*s == ' ') s++;
    return s;
}

/* One line of cli_usage's table: "  --name[ ARG]<2+ spaces>help". */
static void option_entry(FILE *out, const char *line) {
    const char *left = skip_spaces(line);
    const char *sep = strstr(left, "  ");
    const char *help = sep ? skip_spaces(sep) : "";
    size_t left_len = sep ? (size_t)(sep - left) : strlen(left);
    const char *space = memchr(left, ' ', left_len);
    size_t name_len = space ? (size_t)(space - left) : left_len;
    fputs(".TP\n.B ", out);
    roff_text(out, left, name_len);
    if (space) {
        fputs(" \\fI", out);
        roff_text(out, space + 1, left_len - name_len - 1);
        fputs("\\fR", out);
    }
    fputc('\n', out);
    roff_line(out, help);
}

static void footer(FILE *out, const char *see_also) {
    fputs(".SH EXIT STATUS\n"
          "0 success; 1 failure (one line on standard error naming the file or option and the "
          "problem; earlier outputs are left intact); 2 a usage error; 3 stopped by SIGTERM or "
          "SIGUSR1 after writing a checkpoint (a batch script may requeue the job); 4 training "
          "diverged (a NaN or infinity; no checkpoint was written for it, the last good one is "
          "kept: do not requeue unchanged).\n"
          ".SH ENVIRONMENT\n"
          "Run it as a single process or under\n.BR mpirun (1).\n"
          "As root, Open MPI needs OMPI_ALLOW_RUN_AS_ROOT=1 and OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1.\n"
          "OPENBLAS_CORETYPE, when set, chooses the BLAS kernel (see abp \\-\\-help).\n"
          "ABP_MAX_PIXELS=N: the largest image, in pixels, that is decoded (default 2^26; a larger "
          "one is refused from its header).\n"
          ".SH SEE ALSO\n",
          out);
    fputs(see_also, out);
    fputs("\nThe user guide, docs/user\\-guide.md, in the abp sources.\n", out);
}

/* Runs the command with --help and returns what it printed (malloc'd). */
static char *capture_help(const char *cmd, cli_command_fn run, abp_err *err) {
    FILE *tmp = tmpfile();
    if (!tmp) {
        abp_fail(err, "man: cannot create a temporary file for the help of '%s'", cmd);
        return NULL;
    }
    fflush(stdout);
    int saved = dup(STDOUT_FILENO);
    if (saved < 0 || dup2(fileno(tmp), STDOUT_FILENO) < 0) {
        if (saved >= 0) close(saved);
        fclose(tmp);
        abp_fail(err, "man: cannot redirect standard output");
        return NULL;
    }
    char *args[] = {"abp", (char *)cmd, "--help", NULL};
    abp_dist d = {.comm = MPI_COMM_NULL, .rank = 0, .size = 1};
    abp_err run_err = {{0}};
    int status = run(3, args, &d, &run_err);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    long size = ftell(tmp);
    char *text = size >= 0 ? malloc((size_t)size + 1) : NULL;
    if (status != EXIT_OK || !text) {
        free(text);
        fclose(tmp);
        abp_fail(err, "man: 'abp %s --help' failed (status %d)", cmd, status);
        return NULL;
    }
    rewind(tmp);
    size_t got = fread(text, 1, (size_t)size, tmp);
    fclose(tmp);
    text[got] = 0;
    return text;
}

int cli_man_page(const char *cmd, const char *what, cli_command_fn run, FILE *out, abp_err *err) {
    char *text = capture_help(cmd, run, err);
    if (!text) return -1;
    char page[64];
    snprintf(page, sizeof page, "abp-%s", cmd);
    header(out, page, what);
    /* The help text has three parts: "usage: abp CMD ..." with indented continuation
     * lines up to a blank line, the description up to "options:", then the table. */
    enum { SYNOPSIS, DESCRIPTION, OPTIONS } part = SYNOPSIS;
    char prefix[80];
    snprintf(prefix, sizeof prefix, "usage: abp %s", cmd);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (part == SYNOPSIS && !strncmp(line, prefix, strlen(prefix))) {
            fputs(".SH SYNOPSIS\n.B abp ", out);
            roff_line(out, cmd);
            roff_line(out, skip_spaces(line + strlen(prefix)));
            continue;
        }
        if (part == SYNOPSIS && line[0] == ' ') {
            roff_line(out, skip_spaces(line));
            continue;
        }
        if (part == SYNOPSIS) {
            part = DESCRIPTION;
            fputs(".SH DESCRIPTION\n", out);
        }
        if (!strcmp(line, "options:")) {
            part = OPTIONS;
            fputs(".SH OPTIONS\n", out);
            continue;
        }
        if (part == DESCRIPTION) roff_line(out, skip_spaces(line));
        else if (!strncmp(skip_spaces(line), "--", 2)) option_entry(out, line);
        else roff_line(out, skip_spaces(line));
    }
    /* strtok skips empty lines, so a paragraph break in the description is lost; the
     * descriptions are one paragraph each, which keeps this simple. */
    fputs(".TP\n.B \\-\\-help\nprint the usage and the options, then exit\n", out);
    footer(out, ".BR abp (1)\n");
    free(text);
    return 0;
}

void cli_man_overview(const char *const *names, const char *const *whats, int n, FILE *out) {
    header(out, "abp", "learn generator networks by alternating back-propagation, over MPI");
    fputs(".SH SYNOPSIS\n.B abp\n.I COMMAND\n[options]\n.br\n"
          ".B mpirun\n\\-np\n.I P\n.B abp train\n[options]\n"
          ".SH DESCRIPTION\n"
          "abp learns a top\\-down ConvNet g(z; W) from images, sounds or video frames by "
          "alternating back\\-propagation (Han, Lu, Zhu and Wu, AAAI 2017): Langevin dynamics "
          "on each example's own persistent latent, then one optimizer step on W. Under mpirun "
          "each rank owns a shard of the examples and their latents; gradients are summed with "
          "one MPI_Allreduce per iteration; checkpoints are one HDF5 file written collectively.\n"
          ".SH COMMANDS\n",
          out);
    for (int i = 0; i < n; i++) {
        fputs(".TP\n.B ", out);
        roff_line(out, names[i]);
        roff_line(out, whats[i]);
    }
    fputs(".PP\nEach command has its own page,\n.BR abp\\-train (1)\nand so on, and prints "
          "its options with \\-\\-help.\n",
          out);
    char see[4096] = "";
    for (int i = 0; i < n; i++) {
        size_t len = strlen(see);
        snprintf(see + len, sizeof see - len, ".BR abp\\-%s (1)%s\n", names[i], i + 1 < n ? "," : "");
    }
    footer(out, see);
}
