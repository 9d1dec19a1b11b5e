/* abp bench: how close one ABP iteration comes to this machine's sgemm rate.
 *
 * In one run, on every rank at once: (1) the sgemm rate of the BLAS in use (before and
 * after the iterations, the percentages against the mean of the two), (2) the whole
 * ABP iteration of abp train (abp_trainer_iterate, on synthetic data held in memory), and
 * (3) each layer's forward, input-gradient and weight-gradient passes. Every figure is the
 * median of repeated measurements after warm-up; the last lines are "name value" pairs for
 * scripts (bench/vs-pytorch.sh).
 *
 * The measured iterations also add up where their time goes (an abp_profile attached to the
 * network and the optimizer): the GEMMs and each part around them, so that the share of the
 * iteration spent outside GEMM, and its biggest part, are visible. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/rng.h"
#include "abp/tensor.h"
#include "abp/train.h"
#include "cli.h"
#include "options.h"

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The machine's sgemm rate in GFLOP/s: every rank multiplies two size x size matrices at
 * the same moment, and the rates of the ranks are added (the median repetition of each). */
static int sgemm_rate(abp_dist *d, int size, int reps, double *gflops, abp_err *err) {
    size_t n = (size_t)size * (size_t)size;
    float *a = abp_alloc(sizeof(float) * n, err), *b = abp_alloc(sizeof(float) * n, err);
    float *c = abp_alloc(sizeof(float) * n, err);
    double *t = malloc(sizeof(double) * (size_t)reps);
    int rc = -1;
    if (!a || !b || !c || !t) {
        abp_fail(err, "out of memory for a %dx%d sgemm", size, size);
        goto done;
    }
    abp_rng_normal(1, ABP_RNG_TEST_INIT, 1, 0, 0, a, (int64_t)n);
    abp_rng_normal(1, ABP_RNG_TEST_INIT, 2, 0, 0, b, (int64_t)n);
    abp_sgemm(0, 0, size, size, size, 1.0f, a, size, b, size, 0.0f, c, size); /* warm-up */
    for (int r = 0; r < reps; r++) {
        MPI_Barrier(d->comm);
        double t0 = abp_now();
        abp_sgemm(0, 0, size, size, size, 1.0f, a, size, b, size, 0.0f, c, size);
        t[r] = abp_now() - t0;
    }
    double mine = 2.0 * (double)size * size * size / median(t, reps) / 1e9;
    *gflops = mine;
    rc = abp_dist_sum_doubles(gflops, 1, d) ? abp_fail(err, "MPI_Allreduce failed") : 0;
done:
    abp_free(a);
    abp_free(b);
    abp_free(c);
    free(t);
    return rc;
}

/* Synthetic training data: n examples tanh(N(0, 1)) in (-1, 1), the same on every rank. */
static int synthetic_images(abp_shape ys, int64_t n, abp_images *im, abp_err *err) {
    int64_t dy = abp_shape_numel(ys);
    memset(im, 0, sizeof *im);
    im->n = n, im->c = ys.c, im->h = ys.h, im->w = ys.w;
    im->data = abp_alloc(sizeof(float) * (size_t)(n * dy), err);
    if (!im->data) return -1;
    for (int64_t i = 0; i < n; i++)
        abp_rng_normal(7, ABP_RNG_TEST_INIT, (uint32_t)i, 0, 0, im->data + i * dy, dy);
    for (int64_t e = 0; e < n * dy; e++) im->data[e] = tanhf(im->data[e]);
    return 0;
}

/* Median time of `reps` runs of one layer pass (after one warm-up). All ranks run the same
 * passes in the same order, since batch norm sums its statistics over ranks. */
enum { PASS_FORWARD, PASS_INPUT_GRAD, PASS_WEIGHT_GRAD };
static int time_layer_pass(abp_net *net, int i, int pass, int n, int reps, double *seconds,
                           abp_err *err) {
    abp_layer *l = &net->layers[i];
    const float *x = net->act[i], *y = net->act[i + 1];
    double t[16];
    if (reps > 16) reps = 16;
    for (int r = -1; r < reps; r++) {
        double t0 = abp_now();
        int rc = pass == PASS_FORWARD
                     ? abp_layer_forward(l, x, net->act[i + 1], n, net, err)
                     : abp_layer_backward(l, x, y, net->grad_a, pass == PASS_INPUT_GRAD ? net->grad_b : NULL,
                                          n, pass == PASS_WEIGHT_GRAD, net, err);
        if (rc) return -1;
        if (r >= 0) t[r] = abp_now() - t0;
    }
    *seconds = median(t, reps);
    return 0;
}

static void print_layer_row(const abp_layer *l, double flops, const double s[3], int has_weights,
                            const char *kernel) {
    char shape[48];
    snprintf(shape, sizeof shape, "%dx%dx%d", l->out.h, l->out.w, l->out.c);
    printf("  %-12s %-11s", l->name, shape);
    for (int p = 0; p < 3; p++) {
        if (p == PASS_WEIGHT_GRAD && !has_weights) {
            printf("  %9s %7s", "-", "");
        } else if (flops > 0) {
            printf("  %7.3f ms %5.0f G", 1e3 * s[p], flops / s[p] / 1e9);
        } else {
            printf("  %7.3f ms %7s", 1e3 * s[p], "");
        }
    }
    if (kernel) printf("  oneDNN %s", kernel);
    printf("\n");
}

/* The per-layer table: each layer's three passes, timed (rank 0 prints). */
static int time_layers(abp_dist *d, abp_net *net, int n, int reps, abp_err *err) {
    if (d->rank == 0)
        printf("layers (batch %d per rank; GFLOP/s per rank):\n  %-12s %-11s  %-17s  %-17s  %-17s\n", n,
               "layer", "output", "forward", "input gradient", "weight gradient");
    int64_t biggest = 0;
    for (int i = 0; i <= net->nlayers; i++) {
        int64_t e = (i < net->nlayers ? abp_shape_numel(net->layers[i].in) : abp_shape_numel(net->out_shape)) * n;
        if (e > biggest) biggest = e;
    }
    for (int64_t e = 0; e < biggest; e++) net->grad_a[e] = 1e-3f * (float)((e % 7) - 3);
    for (int i = 0; i < net->nlayers; i++) {
        abp_layer *l = &net->layers[i];
        double s[3];
        for (int p = 0; p < 3; p++)
            if (time_layer_pass(net, i, p, n, reps, &s[p], err)) return -1;
        if (d->rank == 0)
            print_layer_row(l, abp_layer_forward_flops(l) * n, s, l->nweight + l->nbias > 0,
                            abp_net_layer_kernel(net, i));
    }
    return 0;
}

/* Times every layer's three passes on this rank's share of the batch; prints on rank 0.
 * Layer by layer, as the unfused network runs them: a batch norm's output, which the fused
 * pair does not keep, is allocated for the lrelu after it to read, and freed at the end. */
static int bench_layers(abp_dist *d, abp_net *net, int n, int reps, abp_err *err) {
    if (abp_net_set_unfused(net, 1, err)) return -1;
    int rc = time_layers(d, net, n, reps, err);
    if (abp_net_set_unfused(net, 0, err)) rc = -1;
    return rc;
}

/* Where this rank's memory goes, from the sizes of the buffers abp allocates, in MB. */
static void print_memory(const abp_net *net, int b, int64_t n_local, double rss_mb) {
    const double mb = 4.0 / (1024.0 * 1024.0); /* floats to MB */
    int64_t act = abp_shape_numel(net->in_shape), max_act = act;
    for (int i = 0; i < net->nlayers; i++) {
        int64_t e = abp_shape_numel(net->layers[i].out);
        if (net->act[i + 1]) act += e; /* a fused batch norm + lrelu keeps no middle */
        if (e > max_act) max_act = e;
    }
    int64_t dz = abp_shape_numel(net->in_shape), dy = abp_shape_numel(net->out_shape);
    double model = 4.0 * (double)net->nparams * mb;           /* W, dW, Adam's m and v */
    double acts = (double)(act * b) * mb;                      /* the layers' outputs kept for backward */
    double grads = 2.0 * (double)(max_act * b) * mb;          /* ping-pong activation gradients */
    double scratch = (double)net->scratch_floats * mb;         /* im2col / col2im columns */
    double onednn = (double)abp_net_onednn_bytes(net) / (1024.0 * 1024.0); /* blocked copies */
    double infer = (double)(b * (2 * dz + dy)) * mb;           /* Langevin: dz, noise, residual */
    double batch = (double)(b * (2 * dz + 2 * dy)) * mb;       /* the batch's z, y, dL/dg and dz */
    double shard = (double)(n_local * (dz + dy)) * mb;         /* this rank's examples and latents */
    double total = model + acts + grads + scratch + onednn + infer + batch + shard;
    printf("memory per rank (MB): parameters, gradients and Adam moments %.1f; activations kept "
           "for backward %.1f; activation gradients %.1f; im2col/col2im scratch %.1f; oneDNN's "
           "blocked operands and scratchpads %.1f; Langevin and batch buffers %.1f; examples and "
           "latents %.1f; in all %.1f of a peak RSS of %.1f (the rest: MPI, HDF5, OpenBLAS and "
           "oneDNN's code and buffers)\n",
           model, acts, grads, scratch, onednn, infer + batch, shard, total, rss_mb);
}

/* Rank 0's time per part, as the mean per measured iteration and its share of the mean
 * iteration; "rest" is what no part covers (the gradient allreduce, the batch gathers, the
 * copies of z and y). Batch norm's share includes its allreduce of the statistics. */
static void print_parts(const abp_profile *prof, int iters, double mean_sec, double gflop, double sgemm) {
    double covered = 0;
    printf("where an iteration goes (rank 0, mean of %d; %% of %.4f s):", iters, mean_sec);
    for (int p = 0; p < ABP_PART_COUNT; p++) {
        double s = prof->seconds[p] / iters;
        covered += s;
        printf("%s %s %.4f s %.1f%%", p ? "," : "", abp_part_name((abp_part)p), s, 100.0 * s / mean_sec);
    }
    printf(", rest %.4f s %.1f%%; outside GEMM %.1f%%\n", mean_sec - covered,
           100.0 * (mean_sec - covered) / mean_sec,
           100.0 * (mean_sec - prof->seconds[ABP_PART_GEMM] / iters) / mean_sec);
    /* The ceiling at this model's GEMM shapes: what the iteration would reach if nothing but
     * its GEMMs took time. Below it, the work outside GEMM is what to cut; at it, the shapes. */
    double gemm_sec = prof->seconds[ABP_PART_GEMM] / iters;
    if (gemm_sec > 0)
        printf("the GEMMs alone: %.1f GFLOP/s, %.1f%% of sgemm (the ceiling at this model's shapes; "
               "oneDNN's kernels count as GEMMs)\n",
               gflop / gemm_sec, 100.0 * gflop / gemm_sec / sgemm);
}

/* Which convolutions ran in oneDNN (and its kernel) and which on im2col/col2im + GEMM.
 * Returns the number in oneDNN. */
static int print_backends(const abp_net *net) {
    char version[64];
    abp_onednn_version(version, sizeof version);
    int convs = 0, in_onednn = 0;
    const char *kernel = NULL;
    for (int i = 0; i < net->nlayers; i++) {
        abp_layer_kind k = net->layers[i].kind;
        if (k != ABP_CONV && k != ABP_DECONV) continue;
        convs++;
        if (abp_net_layer_kernel(net, i)) in_onednn++, kernel = abp_net_layer_kernel(net, i);
    }
    if (convs == 0) return 0;
    if (!strcmp(version, "none"))
        printf("convolutions: %d, all on im2col/col2im + GEMM (abp is built without oneDNN)\n", convs);
    else if (!net->onednn)
        printf("convolutions: %d, all on im2col/col2im + GEMM (%s is off: ABP_ONEDNN=0)\n", convs, version);
    else
        printf("convolutions: %d of %d in %s (%s), the rest (under 16 channels in or out, or under "
               "32 pixels in the small image) on im2col/col2im + GEMM\n",
               in_onednn, convs, version, kernel ? kernel : "-");
    return in_onednn;
}

/* GEMM flops per example of one ABP iteration with L Langevin steps: each step a forward
 * pass and an input-gradient pass through every layer; the learning step a forward pass, a
 * weight-gradient pass and an input-gradient pass through every layer but the first. */
static double iteration_flops(const abp_net *net, int L) {
    double f = abp_net_forward_flops(net), first = net->nlayers ? abp_layer_forward_flops(&net->layers[0]) : 0;
    return L * 2.0 * f + 3.0 * f - first;
}

int cmd_bench(int argc, char **argv, abp_dist *d, abp_err *err) {
    abp_train_cfg cfg;
    abp_train_defaults(&cfg);
    int iters = 7, warmup = 2, sgemm_size = 2048, layers = 1, help = 0;
    int64_t examples = 0;
    snprintf(cfg.model, sizeof cfg.model, "faces64");
    cli_option opts[] = {
        {"model", OPT_STRING, cfg.model, sizeof cfg.model, 0, 0, NULL, "a built-in model (faces64, mnist28) or a spec", 0, 0},
        {"batch", OPT_INT64, &cfg.batch, 0, 1, 1e6, NULL, "global batch, split over the ranks", 0, 0},
        {"langevin-steps", OPT_INT, &cfg.langevin_steps, 0, 0, 1e6, NULL, "L, Langevin steps per iteration", 0, 0},
        {"iters", OPT_INT, &iters, 0, 1, 1000, NULL, "measured iterations (the median is reported)", 0, 0},
        {"warmup", OPT_INT, &warmup, 0, 0, 1000, NULL, "iterations run before measuring", 0, 0},
        {"examples", OPT_INT64, &examples, 0, 0, 1e9, NULL, "synthetic examples in all (0: 4 x batch)", 0, 0},
        {"sgemm-size", OPT_INT, &sgemm_size, 0, 64, 16384, NULL, "n of the n x n x n sgemm that measures the machine", 0, 0},
        {"layers", OPT_INT, &layers, 0, 0, 1, NULL, "also time each layer (1) or not (0)", 0, 0},
        {"threads", OPT_INT, &cfg.threads, 0, 0, 1024, NULL, "threads per rank, for the BLAS and abp's loops (0: cores / ranks on the node)", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (cli_parse("bench", argc, argv, 2, opts, nopts, NULL, 0, NULL, &help, err)) return EXIT_USAGE;
    if (help) {
        if (d->rank == 0)
            cli_usage("bench", "[--model faces64|mnist28|SPEC] [--batch 64] [--langevin-steps 10]",
                      "Measures the sgemm rate of this machine, the whole ABP iteration of abp train\n"
                      "(on synthetic data) and each layer's passes, all in one run and under mpirun on\n"
                      "every rank at once. The last lines are 'name value' pairs.", opts, nopts);
        return EXIT_OK;
    }
    cfg.quiet = 1;
    cfg.lr = 1e-4f;
    if (examples == 0) examples = 4 * cfg.batch;
    cfg.limit = 0;
    char why[256];
    int threads = abp_threads_set(abp_dist_threads_per_rank(d, cfg.threads, why, sizeof why));
    if (d->rank == 0)
        printf("abp bench: %s; BLAS kernel %s (%s); abp's loops: %d OpenMP thread%s, wait %s\n", why,
               abp_blas_kernel(), abp_blas_threading(), abp_loop_threads(), abp_loop_threads() > 1 ? "s" : "",
               getenv("OMP_WAIT_POLICY") ? getenv("OMP_WAIT_POLICY")
               : getenv("GOMP_SPINCOUNT") ? getenv("GOMP_SPINCOUNT") : "default");
    if (d->rank == 0 && abp_blas_kernel_is_weaker())
        printf("abp bench: note: this CPU supports the faster %s kernel, but OPENBLAS_CORETYPE=%s in the "
               "environment chose %s (unset it to let abp pick)\n",
               abp_blas_best_kernel(), getenv("OPENBLAS_CORETYPE") ? getenv("OPENBLAS_CORETYPE") : "",
               abp_blas_kernel());

    double sgemm = 0;
    if (abp_dist_agree(d, sgemm_rate(d, sgemm_size, 5, &sgemm, err), err)) return EXIT_FAILED;
    if (d->rank == 0)
        printf("sgemm %dx%dx%d: %.1f GFLOP/s (%d rank%s x %d thread%s)\n", sgemm_size, sgemm_size,
               sgemm_size, sgemm, d->size, d->size > 1 ? "s" : "", threads, threads > 1 ? "s" : "");

    /* The shape of the model's signal, for the synthetic data. */
    abp_net probe;
    const char *spec = abp_model_spec(cfg.model);
    if (abp_net_build(spec ? spec : cfg.model, 0, 1, &probe, err)) return EXIT_USAGE;
    abp_shape ys = probe.out_shape;
    abp_net_free(&probe);
    abp_images data;
    abp_trainer *t = NULL;
    double *times = NULL, *comm = NULL;
    int status = EXIT_FAILED;
    if (abp_dist_agree(d, synthetic_images(ys, examples, &data, err), err)) return EXIT_FAILED;
    if (abp_trainer_create(&cfg, d, &data, &t, err)) goto done;
    abp_net *net = abp_trainer_net(t);
    double per_example = iteration_flops(net, cfg.langevin_steps);
    double gflop = per_example * (double)cfg.batch / 1e9;
    if (d->rank == 0)
        printf("model %s: %lld parameters, %.3f GFLOP forward per example; iteration = %.1f GFLOP "
               "(batch %lld, L = %d)\n", spec ? cfg.model : "(spec)", (long long)net->nparams,
               abp_net_forward_flops(net) / 1e9, gflop, (long long)cfg.batch, cfg.langevin_steps);

    abp_profile prof = {{0}};
    times = malloc(sizeof(double) * (size_t)iters);
    comm = malloc(sizeof(double) * (size_t)iters);
    if (abp_dist_agree(d, times && comm ? 0 : abp_fail(err, "out of memory"), err)) goto done;
    for (int it = 0; it < warmup + iters; it++) {
        double sse, c0 = d->comm_seconds;
        int stop;
        MPI_Barrier(d->comm);
        double t0 = abp_now();
        if (it == warmup) { /* the profile counts the measured iterations only */
            net->profile = &prof;
            abp_trainer_optimizer(t)->profile = &prof;
        }
        if (abp_trainer_iterate(t, it, 0, &sse, &stop, err)) goto done;
        if (it >= warmup) {
            times[it - warmup] = abp_now() - t0;
            comm[it - warmup] = d->comm_seconds - c0;
        }
    }
    net->profile = NULL;
    abp_trainer_optimizer(t)->profile = NULL;
    /* Every rank's iteration ends in the same allreduce, so rank 0's times are the run's. */
    double sec = median(times, iters), comm_sec = median(comm, iters);
    double rate = gflop / sec;
    /* The sgemm rate again, after the iterations: on a shared machine the speed drifts over a
     * run, and the two rates bracket the iterations; the percentages use their mean. */
    double sgemm_after = 0;
    if (abp_dist_agree(d, sgemm_rate(d, sgemm_size, 5, &sgemm_after, err), err)) goto done;
    double sgemm_ref = 0.5 * (sgemm + sgemm_after);
    if (d->rank == 0)
        printf("sgemm again after the iterations: %.1f GFLOP/s (%.1f%% from before)\n"
               "iteration: %.4f s (median of %d after %d warm-up), %.1f GFLOP/s, %.1f%% of the mean sgemm "
               "rate %.1f; allreduce %.4f s\n", sgemm_after, 100.0 * (sgemm_after - sgemm) / sgemm, sec, iters,
               warmup, rate, 100.0 * rate / sgemm_ref, sgemm_ref, comm_sec);
    double mean_sec = 0;
    for (int r = 0; r < iters; r++) mean_sec += times[r] / iters;
    int onednn_layers = d->rank == 0 ? print_backends(net) : 0;
    if (d->rank == 0) print_parts(&prof, iters, mean_sec, gflop, sgemm_ref);
    /* The peak of training, before the per-layer timing allocates the unfused middles. */
    double rss_mb = abp_dist_max_double(d, abp_peak_rss_bytes()) / (1024.0 * 1024.0);
    if (layers && bench_layers(d, net, abp_trainer_batch_share(t), 5, err)) goto done;
    if (d->rank == 0) print_memory(net, abp_trainer_batch_share(t), examples / d->size, rss_mb);
    if (d->rank == 0) {
        printf("model %s\nbatch %lld\nlangevin_steps %d\nranks %d\nthreads_per_rank %d\nblas_kernel %s\n"
               "blas_best_kernel %s\n",
               spec ? cfg.model : "spec", (long long)cfg.batch, cfg.langevin_steps, d->size, threads,
               abp_blas_kernel(), abp_blas_best_kernel() ? abp_blas_best_kernel() : "generic");
        printf("sgemm_gflops %.2f\nsgemm_gflops_before %.2f\nsgemm_gflops_after %.2f\nseconds_per_iteration %.6f\n"
               "gflops_per_iteration %.4f\niteration_gflops_per_second %.2f\npercent_of_sgemm %.2f\n"
               "allreduce_seconds_per_iteration %.6f\npeak_rss_mb %.1f\n",
               sgemm_ref, sgemm, sgemm_after, sec, gflop, rate, 100.0 * rate / sgemm_ref, comm_sec, rss_mb);
        printf("loop_threads %d\nblas_threading %s\ngomp_spincount %s\nopenblas_thread_timeout %s\n",
               abp_loop_threads(), abp_blas_threading(), getenv("GOMP_SPINCOUNT") ? getenv("GOMP_SPINCOUNT") : "default",
               getenv("OPENBLAS_THREAD_TIMEOUT") ? getenv("OPENBLAS_THREAD_TIMEOUT") : "default");
        char version[64];
        abp_onednn_version(version, sizeof version);
        /* "2.6.3", "off" (ABP_ONEDNN=0) or "none" (built without it); the instruction set
         * of its kernels on this CPU */
        const char *number = strncmp(version, "oneDNN ", 7) ? version : net->onednn ? version + 7 : "off";
        printf("onednn %s\nonednn_isa %s\nonednn_layers %d\n", number, abp_onednn_isa(), onednn_layers);
        for (int p = 0; p < ABP_PART_COUNT; p++)
            printf("part_%s_seconds %.6f\n", abp_part_name((abp_part)p), prof.seconds[p] / iters);
    }
    status = EXIT_OK;
done:
    free(times);
    free(comm);
    abp_trainer_free(t);
    abp_images_free(&data);
    return status;
}
