/* Time of one in-place MPI_Allreduce (MPI_SUM) against message size, and a fit of the
 * cost model t(bytes) = a + bytes * c, reported as the ring's latency and bandwidth:
 *   ring: t = 2 (p-1) * latency + 2 (p-1)/p * bytes / bandwidth.
 * It is the network half of the cost model in notes/scaling.md (bench/scaling.sh measures the
 * other half). Build and run (not part of the CMake build):
 *   mpicc -O2 -o /tmp/allreduce bench/allreduce.c
 *   mpirun -np 2 /tmp/allreduce [--min-bytes 8] [--max-bytes 33554432] [--seconds 0.2] [--double]
 * Prints a CSV (ranks,type,bytes,calls,median_s,min_s,bus_gb_per_s): over 7 repeats of
 * `calls` calls, the median and the smallest of the slowest rank's mean time per call (the
 * bus bandwidth 2 (p-1)/p * bytes / min_s), then "# fit ..." lines. The fit uses the smallest:
 * on a shared machine it is the one least disturbed by other programs.
 * --double sends MPI_DOUBLE (as batch norm's statistic sums do); the default is MPI_FLOAT (as
 * the fused gradient allreduce). */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPEATS 7

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, p;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &p);
    long long min_bytes = 8, max_bytes = 32LL << 20;
    double budget = 0.2; /* seconds per size and repeat */
    int use_double = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--min-bytes") && i + 1 < argc) min_bytes = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--max-bytes") && i + 1 < argc) max_bytes = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) budget = atof(argv[++i]);
        else if (!strcmp(argv[i], "--double")) use_double = 1;
        else {
            if (rank == 0)
                fprintf(stderr, "usage: allreduce [--min-bytes N] [--max-bytes N] [--seconds S] [--double]\n");
            MPI_Finalize();
            return 2;
        }
    }
    size_t elem = use_double ? sizeof(double) : sizeof(float);
    MPI_Datatype type = use_double ? MPI_DOUBLE : MPI_FLOAT;
    if (min_bytes < (long long)elem) min_bytes = (long long)elem;
    char *buf = calloc((size_t)max_bytes + elem, 1);
    if (!buf) {
        fprintf(stderr, "allreduce: out of memory for %lld bytes\n", max_bytes);
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    double xs[64], ts[64];
    int npts = 0;
    if (rank == 0) printf("ranks,type,bytes,calls,median_s,min_s,bus_gb_per_s\n");
    for (long long bytes = min_bytes; bytes <= max_bytes && npts < 64; bytes *= 2) {
        int count = (int)(bytes / (long long)elem);
        /* Calibrate the number of calls so one repeat takes about `budget` seconds. */
        int calls = 1;
        for (;;) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            for (int k = 0; k < calls; k++) MPI_Allreduce(MPI_IN_PLACE, buf, count, type, MPI_SUM, MPI_COMM_WORLD);
            double dt = MPI_Wtime() - t0, slowest;
            MPI_Allreduce(&dt, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            if (slowest > budget / 4 || calls >= (1 << 20)) {
                calls = (int)(calls * budget / (slowest > 0 ? slowest : 1e-9));
                if (calls < 3) calls = 3;
                break;
            }
            calls *= 4;
        }
        double per_call[REPEATS];
        for (int r = 0; r < REPEATS; r++) {
            MPI_Barrier(MPI_COMM_WORLD);
            double t0 = MPI_Wtime();
            for (int k = 0; k < calls; k++) MPI_Allreduce(MPI_IN_PLACE, buf, count, type, MPI_SUM, MPI_COMM_WORLD);
            double dt = (MPI_Wtime() - t0) / calls, slowest;
            MPI_Allreduce(&dt, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
            per_call[r] = slowest;
        }
        qsort(per_call, REPEATS, sizeof(double), cmp_double);
        double t = per_call[0];
        double bus = p > 1 ? 2.0 * (p - 1) / p * (double)bytes / t / 1e9 : 0.0;
        if (rank == 0)
            printf("%d,%s,%lld,%d,%.9f,%.9f,%.3f\n", p, use_double ? "double" : "float", bytes, calls,
                   per_call[REPEATS / 2], t, bus);
        fflush(stdout);
        xs[npts] = (double)bytes;
        ts[npts] = t;
        npts++;
    }
    if (rank == 0 && p > 1 && npts >= 2) {
        /* Latency from the smallest message; bandwidth from a least-squares line through the
         * sizes of at least 1/64 of the largest (over all sizes, the large ones would swamp
         * the latency; the slope between two points is at the mercy of noise). */
        double a = ts[0], sx = 0, sy = 0, sxx = 0, sxy = 0;
        int m = 0;
        for (int k = 0; k < npts; k++)
            if (xs[k] * 64 >= xs[npts - 1]) {
                sx += xs[k], sy += ts[k], sxx += xs[k] * xs[k], sxy += xs[k] * ts[k];
                m++;
            }
        double c = m >= 2 ? (m * sxy - sx * sy) / (m * sxx - sx * sx) : ts[npts - 1] / xs[npts - 1];
        double lat = a / (2.0 * (p - 1));
        double bw = c > 0 ? 2.0 * (p - 1) / p / c : 0.0;
        printf("# fit: t(%lld B) = %.3g s; slope over %d sizes >= %lld B: %.3g s/B\n", (long long)xs[0], a, m,
               (long long)(xs[npts - 1] / 64), c);
        printf("# as a ring: latency = t(%lld B) / (2 (p-1)) = %.3g us per step; bandwidth = 2 (p-1)/p / slope = %.3g GB/s\n",
               (long long)xs[0], lat * 1e6, bw / 1e9);
    }
    free(buf);
    MPI_Finalize();
    return 0;
}
