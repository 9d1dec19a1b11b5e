/* OUT/metrics.png: the loss and the reconstruction error against the iteration, drawn from
 * metrics.csv by gnuplot when it is installed. A picture is a convenience, so nothing here
 * can fail training: the caller prints the one line this returns. gnuplot (a well-kept
 * Debian package, gnuplot-nox) is run rather than a plotting library linked in, so that abp
 * itself needs no graphics dependency. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "abp/train.h"

/* Whether an executable `name` is on PATH. */
static int on_path(const char *name) {
    const char *path = getenv("PATH");
    while (path && *path) {
        size_t len = strcspn(path, ":");
        char file[4096];
        int wrote = snprintf(file, sizeof file, "%.*s/%s", (int)len, path, name);
        if (len > 0 && wrote > 0 && (size_t)wrote < sizeof file && access(file, X_OK) == 0) return 1;
        path += len + (path[len] == ':');
    }
    return 0;
}

int abp_plot_metrics(const char *out, const char *first, const char *second, char *msg, size_t msg_size) {
    char csv[1200], png[1200], tmp[1300];
    snprintf(csv, sizeof csv, "%s/metrics.csv", out);
    snprintf(png, sizeof png, "%s/metrics.png", out);
    snprintf(tmp, sizeof tmp, "%s.tmp", png);
    if (!on_path("gnuplot")) {
        snprintf(msg, msg_size, "%s not drawn: gnuplot is not installed (Debian: apt-get install gnuplot-nox)", png);
        return 1;
    }
    if (strchr(out, '\'') || strchr(out, '\n')) {
        snprintf(msg, msg_size, "%s not drawn: the folder's name holds a quote or a new line", png);
        return -1;
    }
    /* gnuplot reads the script on stdin; its own messages go nowhere (the status says). */
    FILE *gp = popen("gnuplot > /dev/null 2>&1", "w");
    if (!gp) {
        snprintf(msg, msg_size, "%s not drawn: cannot start gnuplot", png);
        return -1;
    }
    fprintf(gp,
            "set terminal png size 900,500 noenhanced\n"
            "set output '%s'\n"
            "set datafile separator ','\n"
            "set title 'abp train: %s'\n"
            "set xlabel 'iteration'\n"
            "set ylabel '%s'\n"
            "set y2label '%s'\n"
            "set logscale y\nset logscale y2\n"
            "set ytics nomirror\nset y2tics\nset grid\nset key top right\n"
            "plot '%s' every ::1 using 1:3 with lines lw 2 title '%s', \\\n"
            "     '' every ::1 using 1:4 axes x1y2 with lines lw 2 title '%s'\n",
            tmp, out, first, second, csv, first, second);
    int status = pclose(gp);
    struct stat st;
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || stat(tmp, &st) != 0 || st.st_size == 0) {
        remove(tmp);
        snprintf(msg, msg_size, "%s not drawn: gnuplot failed on %s", png, csv);
        return -1;
    }
    if (rename(tmp, png) != 0) {
        snprintf(msg, msg_size, "%s not drawn: cannot rename %s", png, tmp);
        return -1;
    }
    snprintf(msg, msg_size, "drew %s (gnuplot)", png);
    return 0;
}
