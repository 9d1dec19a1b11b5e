/* abp train */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "abp/infer.h"
#include "abp/tensor.h"
#include "abp/train.h"
#include "cli.h"
#include "options.h"

/* samples.png as `abp sample` draws it by default, in place of the objective's draw from
 * N(0, I): the prior fitted to the training latents, batch norm recomputed on its draws
 * (docs/sampling.md), so that the first picture a user opens shows the best samples the
 * model makes. It is abp sample's own code (cmd_sample) on the final checkpoint, with the
 * run's seed and threads: `abp sample --ckpt OUT/checkpoint.h5 --out OUT/samples.png
 * --seed SEED` gives the same file. Only where the objective drew samples.png and the
 * checkpoint holds a generator (not a descriptor's synthesized.png, not a sound). A
 * failure keeps the objective's picture and says why in one line: training has succeeded
 * either way. Collective: every rank calls it. */
static void redraw_samples(const abp_train_cfg *cfg, abp_dist *d) {
    char png[1100], ckpt[1100], seed[32], threads[16];
    snprintf(png, sizeof png, "%s/samples.png", cfg->out);
    snprintf(ckpt, sizeof ckpt, "%s/checkpoint.h5", cfg->out);
    struct stat st;
    int drawn = stat(png, &st) == 0;
    MPI_Bcast(&drawn, 1, MPI_INT, 0, d->comm); /* rank 0 wrote the pictures */
    abp_err why = {{0}};
    if (drawn) { /* a generator: arrays under /model (a descriptor's /model is empty) */
        abp_ckpt *ck = NULL;
        abp_ckpt_meta meta;
        abp_ckpt_array *all = NULL;
        int n = 0, found = 0;
        if (abp_ckpt_open(d->comm, ckpt, &ck, &meta, &why) == 0 && abp_ckpt_list(ck, &all, &n, &why) == 0)
            for (int k = 0; k < n && !found; k++) found = !strncmp(all[k].path, "model/", 6);
        free(all);
        abp_ckpt_close(ck);
        drawn = found;
    }
    if (!drawn) return;
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)cfg->seed);
    snprintf(threads, sizeof threads, "%d", cfg->threads);
    char *args[] = {"abp", "sample", "--ckpt", ckpt, "--out", png, "--n", "64", "--cols", "8",
                    "--seed", seed, "--threads", threads, "--quiet", NULL};
    int nargs = (int)(sizeof args / sizeof args[0]) - (cfg->quiet ? 1 : 2);
    if (cmd_sample(nargs, args, d, &why) != EXIT_OK && d->rank == 0)
        printf("abp train: %s stays drawn from N(0, I): %s\n", png, why.msg);
}

int cmd_train(int argc, char **argv, abp_dist *d, abp_err *err) {
    abp_train_cfg cfg;
    abp_train_defaults(&cfg);
    int inference = 0, optimizer = 0, help = 0;
    cli_option opts[] = {
        {"data", OPT_STRING, cfg.data, sizeof cfg.data, 0, 0, NULL, "training data: an IDX file, an image folder, an image, an HDF5 data set or a WAV file", 1, 0},
        {"model", OPT_STRING, cfg.model, sizeof cfg.model, 0, 0, NULL, "a built-in model (mnist28, hiabp-mnist28, faces64, faces25, texture, sound) or a spec 'z 30 | linear 7x7x128 | ...'", 0, 0},
        {"out", OPT_STRING, cfg.out, sizeof cfg.out, 0, 0, NULL, "output folder (checkpoint.h5, metrics.csv, PNGs)", 1, 0},
        {"resume", OPT_STRING, cfg.resume, sizeof cfg.resume, 0, 0, NULL, "continue from this checkpoint, or from the newest one in this folder that verifies (damaged ones are skipped and named)", 0, 0},
        {"latent-dim", OPT_INT, &cfg.latent_dim, 0, 1, 1 << 20, NULL, "d, overriding the model's (0: the model's own)", 0, 0},
        {"sigma", OPT_FLOAT, &cfg.sigma, 0, 1e-6, 1e6, NULL, "standard deviation of the observation noise", 0, 0},
        {"langevin-steps", OPT_INT, &cfg.langevin_steps, 0, 0, 1e6, NULL, "L, inference steps per learning iteration", 0, 0},
        {"langevin-step-size", OPT_FLOAT, &cfg.step_size, 0, 0, 100, NULL, "s in z <- z - s^2/2 dU/dz + s e", 0, 0},
        {"inference", OPT_CHOICE, &inference, 0, 0, 0, "langevin|gd", "Langevin dynamics, or gradient descent (no noise)", 0, 0},
        {"iters", OPT_INT64, &cfg.iters, 0, 0, 1e12, NULL, "learning iterations in all, counted from the start of training", 0, 0},
        {"batch", OPT_INT64, &cfg.batch, 0, 1, 1e9, NULL, "global batch, split evenly over the ranks", 0, 0},
        {"objective", OPT_STRING, cfg.objective, sizeof cfg.objective, 0, 0, NULL, "what to train: abp (alternating back-propagation, the default), iabp or vae (with an encoder), descriptor (a generative ConvNet), coop (a generator and a descriptor, cooperatively) or classify (a feature network for abp score); docs/objectives.md", 0, 0},
        {"mask", OPT_STRING, cfg.mask, sizeof cfg.mask, 0, 0, NULL, "train on occluded data: none, pepper:FRACTION (P.5 = pepper:0.5) or region:SIDE (M20 = region:20, at 64x64)", 0, 0},
        {"sense", OPT_INT, &cfg.sense, 0, 0, 1000000, NULL, "train on compressed data: each example observed only through K random projections S y (0: off)", 0, 0},
        {"full-batch", OPT_FLAG, &cfg.full_batch, 0, 0, 0, NULL, "every example in every iteration (the paper's algorithm)", 0, 0},
        {"limit", OPT_INT64, &cfg.limit, 0, 0, 1e12, NULL, "use only the first N examples (0: all)", 0, 0},
        {"optimizer", OPT_CHOICE, &optimizer, 0, 0, 0, "adam|sgd|adamax", "Adam, SGD with momentum, or Adamax (the HiABP paper's, with --beta1 0.9)", 0, 0},
        {"lr", OPT_FLOAT, &cfg.lr, 0, 0, 100, NULL, "learning rate", 0, 0},
        {"beta1", OPT_FLOAT, &cfg.beta1, 0, 0, 0.999999, NULL, "Adam's and Adamax's beta1", 0, 0},
        {"momentum", OPT_FLOAT, &cfg.momentum, 0, 0, 0.999999, NULL, "SGD momentum", 0, 0},
        {"seed", OPT_INT64, &cfg.seed, 0, 0, 9.2e18, NULL, "seed of every random draw", 0, 0},
        {"checkpoint-every", OPT_INT64, &cfg.checkpoint_every, 0, 0, 1e12, NULL, "also checkpoint every K iterations (0: only at the end)", 0, 0},
        {"keep-checkpoints", OPT_INT, &cfg.keep_checkpoints, 0, 1, 1000000, NULL, "keep the newest K numbered checkpoint-ITER.h5 files", 0, 0},
        {"stream", OPT_FLAG, &cfg.stream, 0, 0, 0, NULL, "read each batch from the HDF5 data set (abp prepare) instead of holding the shard in memory; same results", 0, 0},
        {"threads", OPT_INT, &cfg.threads, 0, 0, 1024, NULL, "threads per rank, for the BLAS and abp's loops (0: cores / ranks on the node)", 0, 0},
        {"labels", OPT_STRING, cfg.classify.labels, sizeof cfg.classify.labels, 0, 0, NULL, "--objective classify: the labels of --data, an IDX labels file or an HDF5 file with /labels (abp prepare --labels)", 0, 0},
        {"test-data", OPT_STRING, cfg.classify.test_data, sizeof cfg.classify.test_data, 0, 0, NULL, "--objective classify: held-out images, accuracy printed at the end", 0, 0},
        {"test-labels", OPT_STRING, cfg.classify.test_labels, sizeof cfg.classify.test_labels, 0, 0, NULL, "--objective classify: the labels of --test-data (IDX or HDF5 /labels)", 0, 0},
        {"classifier", OPT_STRING, cfg.classify.model, sizeof cfg.classify.model, 0, 0, NULL, "--objective classify: the network (classify28 or a spec ending in linear K)", 0, 0},
        {"quiet", OPT_FLAG, &cfg.quiet, 0, 0, 0, NULL, "no progress lines", 0, 0},
        {"descriptor", OPT_STRING, cfg.descriptor.spec, sizeof cfg.descriptor.spec, 0, 0, NULL, "the descriptor: descriptor-mnist28, descriptor-texture, descriptor-object or a spec 'z 28x28x1 | conv 64 k4 s2 | ...' (--objective descriptor and coop)", 0, 0},
        {"chains", OPT_INT64, &cfg.descriptor.chains, 0, 1, 1e9, NULL, "M, the descriptor's persistent synthesized images", 0, 0},
        {"descriptor-steps", OPT_INT, &cfg.descriptor.steps, 0, 0, 1e6, NULL, "L, Langevin steps on the synthesized images per iteration", 0, 0},
        {"descriptor-step-size", OPT_FLOAT, &cfg.descriptor.step_size, 0, 0, 100, NULL, "delta in I <- I + delta^2/2 (df/dI - I/s^2) + delta e", 0, 0},
        {"reference-sigma", OPT_FLOAT, &cfg.descriptor.ref_sigma, 0, 1e-9, 1e6, NULL, "s, the descriptor's reference N(0, s^2 I)", 0, 0},
        {"descriptor-lr", OPT_FLOAT, &cfg.descriptor.lr, 0, 0, 100, NULL, "the descriptor's learning rate", 0, 0},
        {"descriptor-beta1", OPT_FLOAT, &cfg.descriptor.beta1, 0, 0, 0.999999, NULL, "the descriptor's Adam beta1", 0, 0},
        {"cd", OPT_FLAG, &cfg.descriptor.cd, 0, 0, 0, NULL, "contrastive divergence: the descriptor's chains start at the batch's observed images", 0, 0},
        {"coop-latent-steps", OPT_INT, &cfg.coop.latent_steps, 0, 0, 1e6, NULL, "coop: Langevin steps on each proposal's z towards its revised image before the generator learns (CoopNets: 0)", 0, 0},
        {"encoder", OPT_STRING, cfg.encoder.spec, sizeof cfg.encoder.spec, 0, 0, NULL, "iabp, vae: the encoder q(z | x): auto (the model's built-in mirror), mnist28-encoder, faces64-encoder, hiabp-mnist28-encoder or a spec ending in 2d numbers ('head N' layers give a hierarchical model's lower levels)", 0, 0},
        {"init", OPT_STRING, cfg.encoder.init, sizeof cfg.encoder.init, 0, 0, NULL, "iabp: where each iteration's chains start: encoder, persistent or prior", 0, 0},
        {"encoder-lr", OPT_FLOAT, &cfg.encoder.lr, 0, 0, 100, NULL, "iabp, vae: the encoder's learning rate", 0, 0},
        {"prior", OPT_STRING, cfg.prior.kind, sizeof cfg.prior.kind, 0, 0, NULL, "the latent prior: normal (N(0, I)) or ebm (exp(f(z)) N(0, I), f an MLP learned with the generator; objective abp)", 0, 0},
        {"prior-net", OPT_STRING, cfg.prior.spec, sizeof cfg.prior.spec, 0, 0, NULL, "--prior ebm: f(z), ebm-prior (linear 200, lrelu, linear 200, lrelu, linear 1) or a spec ending in linear 1", 0, 0},
        {"prior-steps", OPT_INT, &cfg.prior.steps, 0, 0, 1e6, NULL, "--prior ebm: Langevin steps of each prior sample from N(0, I) (the paper: 60)", 0, 0},
        {"prior-step-size", OPT_FLOAT, &cfg.prior.step_size, 0, 0, 100, NULL, "--prior ebm: s in z <- z + s^2/2 (df/dz - z) + s e (the paper: 0.4)", 0, 0},
        {"prior-lr", OPT_FLOAT, &cfg.prior.lr, 0, 0, 100, NULL, "--prior ebm: the prior's learning rate (the paper: 2e-5; its optimizer and beta1 are the generator's)", 0, 0},
    };
    int nopts = (int)(sizeof opts / sizeof opts[0]);
    if (cli_parse("train", argc, argv, 2, opts, nopts, NULL, 0, NULL, &help, err)) return EXIT_USAGE;
    if (help) {
        if (d->rank == 0)
            cli_usage("train", "--data PATH --out DIR [options]",
                      "Learns g(z; W) by alternating back-propagation: L Langevin steps on each\n"
                      "example's persistent latent, then one optimizer step on W. Under mpirun each\n"
                      "rank owns a contiguous shard of the examples; gradients are summed with one\n"
                      "MPI_Allreduce per iteration. At the end, OUT/samples.png is drawn as abp sample\n"
                      "draws by default (a prior fitted to the learned latents; docs/sampling.md).", opts, nopts);
        return EXIT_OK;
    }
    if (!abp_train_has_objective(cfg.objective)) {
        abp_fail(err, "abp train: --objective %s: unknown; expected one of: %s", cfg.objective, abp_train_objectives());
        return EXIT_USAGE;
    }
    if (abp_latent_prior_check(&cfg.prior, cfg.objective, err)) {
        abp_fail_wrap(err, "abp train");
        return EXIT_USAGE;
    }
    abp_chain_init init;
    if (abp_encoder_init_kind(&cfg.encoder, &init, err)) return EXIT_USAGE;
    abp_mask_spec mask;
    if (abp_mask_parse(cfg.mask, &mask, err)) return EXIT_USAGE; /* before anything is created */
    if (cfg.sense > 0 && mask.kind != ABP_MASK_NONE) {
        abp_fail(err, "abp train: --sense %d cannot be combined with --mask %s: choose one observation", cfg.sense, cfg.mask);
        return EXIT_USAGE;
    }
    cfg.inference_gd = inference == 1;
    cfg.optimizer = (abp_opt_kind)optimizer; /* the choices are in the enum's order */
    /* On --resume the encoder's settings come from the checkpoint; those given here are
     * checked against it (src/train/train.c). */
    cfg.encoder.given = (cli_seen(opts, nopts, "encoder") ? ABP_ENCODER_GIVEN_SPEC : 0) |
                        (cli_seen(opts, nopts, "init") ? ABP_ENCODER_GIVEN_INIT : 0) |
                        (cli_seen(opts, nopts, "encoder-lr") ? ABP_ENCODER_GIVEN_LR : 0);
    char why[256];
    int threads = abp_threads_set(abp_dist_threads_per_rank(d, cfg.threads, why, sizeof why));
    if (d->rank == 0 && !cfg.quiet)
        printf("abp %s: %d rank%s, %s (BLAS kernel %s%s%s, %d thread%s)\n", ABP_VERSION, d->size,
               d->size > 1 ? "s" : "", why, abp_blas_kernel(),
               abp_blas_kernel_is_weaker() ? " set by OPENBLAS_CORETYPE; this CPU supports the faster " : "",
               abp_blas_kernel_is_weaker() ? abp_blas_best_kernel() : "", threads, threads > 1 ? "s" : "");
    /* Where the ranks landed: on a cluster, the first thing to check against what the job
     * script asked for (ranks per node, threads per rank). */
    char layout[1024];
    if (abp_dist_layout(d, threads, layout, sizeof layout, err)) return EXIT_FAILED;
    if (d->rank == 0 && !cfg.quiet) printf("abp train: layout: %s\n", layout);
    int rc = abp_train(&cfg, d, err);
    if (rc == 0) redraw_samples(&cfg, d);
    return rc == 0 ? EXIT_OK : rc == ABP_STOPPED ? EXIT_STOPPED : rc == ABP_DIVERGED ? EXIT_DIVERGED : EXIT_FAILED;
}
