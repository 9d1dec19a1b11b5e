/* Progress lines for long commands: done/total, rate and time left, printed now and then
 * rather than on every step, so that a log under Slurm stays readable. One helper for
 * train's iterations and the inference commands' examples. */
#include <math.h>
#include <stdio.h>

#include "abp/tensor.h"
#include "abp/train.h"

void abp_format_duration(double s, char *buf, size_t n) {
    if (s < 0 || !isfinite(s)) snprintf(buf, n, "?");
    else if (s < 60) snprintf(buf, n, "%.0fs", s);
    else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

void abp_progress_start(abp_progress *p, int active, const char *what, const char *unit,
                        int64_t total, const char *scope) {
    *p = (abp_progress){.what = what, .unit = unit, .scope = scope ? scope : "", .total = total,
                        .active = active && total > 0, .t0 = abp_now()};
    p->last = p->t0;
    p->next_done = total / 10 > 0 ? total / 10 : 1;
}

void abp_progress_update(abp_progress *p, int64_t done) {
    if (!p->active) return;
    double now = abp_now();
    /* Nothing for work of a few seconds; then every tenth of the work, every 30 s, and at
     * the end. */
    if (now - p->t0 < 2.0) return;
    if (done < p->total && done < p->next_done && now - p->last < 30) return;
    while (p->next_done <= done) p->next_done += p->total / 10 > 0 ? p->total / 10 : 1;
    double rate = done / (now - p->t0 > 1e-9 ? now - p->t0 : 1e-9);
    char eta[32];
    abp_format_duration((double)(p->total - done) / rate, eta, sizeof eta);
    fprintf(stderr, "%s: %lld/%lld %s%s  %.1f %s/s  ETA %s\n", p->what, (long long)done,
            (long long)p->total, p->unit, p->scope, rate, p->unit, eta);
    fflush(stderr);
    p->last = now;
}
