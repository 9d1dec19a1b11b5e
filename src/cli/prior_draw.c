/* How the commands that draw from a trained model's prior get their latents: N(0, I), a
 * Gaussian or mixture fitted to the checkpoint's /latents at the time of sampling (abp keeps
 * no fitted prior in the checkpoint: the fit takes well under a second for the latents of
 * tens of thousands of examples, and the checkpoint is never rewritten), or the energy-based
 * prior the checkpoint learned (abp train --prior ebm; short-run Langevin from N(0, I)).
 * Optionally batch norm's running statistics are recomputed on the prior's draws. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "abp/rng.h"
#include "abp/train.h"
#include "cli.h"

/* Draws for batch-norm recalibration are samples RECAL_FIRST, RECAL_FIRST + 1, ...: far from
 * the samples a user asks for, so that the statistics do not come from the very draws shown. */
#define RECAL_FIRST 2000000000u
enum { RECAL_MAX = 1000 };

int cli_prior_parse(cli_prior *p, const char *text, const char *what, abp_err *err) {
    p->automatic = !strcmp(text, "auto");
    if (p->automatic) {
        p->choice.kind = ABP_PRIOR_GMM;
        p->choice.k = CLI_AUTO_K;
        return 0;
    }
    return abp_prior_parse(text, what, &p->choice, err);
}

/* auto: the learned prior of a checkpoint that has one; else the mixture when there are
 * latents enough of the size sampled, else N(0, I). */
static int resolve_auto(cli_prior *p, const char *ckpt, int64_t dz, abp_err *err) {
    abp_ckpt *ck = NULL;
    abp_ckpt_meta meta;
    int64_t n = 0, dims[4], per = 1;
    int ndim = 0;
    if (abp_ckpt_open(MPI_COMM_SELF, ckpt, &ck, &meta, err)) return -1;
    int rc = abp_ckpt_latent_shape(ck, &n, &ndim, dims, err), learned = abp_ckpt_has(ck, "prior");
    abp_ckpt_close(ck);
    if (rc) return -1;
    for (int k = 0; k < ndim; k++) per *= dims[k];
    if (learned && per == dz) {
        p->choice.kind = ABP_PRIOR_EBM;
        p->choice.k = 0;
        if (p->verbose) printf("prior: ebm (--prior auto: the checkpoint learned its prior)\n");
    } else if (per != dz || n < CLI_AUTO_MIN_LATENTS) {
        p->choice.kind = ABP_PRIOR_NORMAL;
        p->choice.k = 0;
        if (p->verbose)
            printf("prior: normal (--prior auto: %s)\n", per != dz ? "another latent shape than trained"
                                                                   : "too few latents for a mixture");
    }
    return 0;
}

/* --prior ebm: the checkpoint's f_a (/prior), built for its latent, and the short run it
 * was trained with; the noise's iteration is UINT32_MAX, which training never draws. */
static int load_ebm(cli_prior *p, const char *ckpt, int64_t dz, abp_err *err) {
    abp_ckpt *ck = NULL;
    abp_ckpt_meta meta;
    abp_train_cfg cfg;
    abp_ckpt_array *arrays = NULL;
    int64_t n = 0, dims[4];
    int ndim = 0, narrays = 0, rc = -1;
    if (abp_ckpt_open(MPI_COMM_SELF, ckpt, &ck, &meta, err)) return -1;
    if (abp_train_cfg_parse(meta.config ? meta.config : "", &cfg, err) || abp_ckpt_latent_shape(ck, &n, &ndim, dims, err))
        goto done;
    if (!abp_ckpt_has(ck, "prior") || !abp_latent_prior_is_ebm(&cfg.prior)) {
        abp_fail(err, "--prior ebm: %s learned no prior (no /prior: it was trained without abp train --prior ebm); "
                      "use --prior normal, gaussian or gmm:K", ckpt);
        goto done;
    }
    abp_shape zs = ndim == 1 ? (abp_shape){(int)dims[0], 1, 1} : (abp_shape){(int)dims[2], (int)dims[0], (int)dims[1]};
    if (abp_shape_numel(zs) != dz) {
        abp_fail(err, "--prior ebm: the checkpoint's latents have %lld values, the model sampled takes %lld "
                      "(--latent-shape works only with --prior normal)", (long long)abp_shape_numel(zs), (long long)dz);
        goto done;
    }
    if (abp_ebm_prior_build(cfg.prior.spec, zs, 64, &p->ebm, err)) goto done;
    p->ebm_loaded = 1;
    if (abp_net_ckpt_arrays(&p->ebm, NULL, "prior", "optimizer/prior", &arrays, &narrays, err)) goto done;
    for (int k = 0; k < narrays; k++)
        if (abp_ckpt_read_array(ck, arrays[k].path, arrays[k].data, arrays[k].ndim, arrays[k].dims, err)) goto done;
    p->ebm.training = 0;
    if (abp_ebm_ws_init(&p->ebm_ws, &p->ebm, err)) goto done;
    p->ebm_cns = abp_alloc(sizeof(float) * (size_t)(p->ebm.max_batch * dz), err);
    if (!p->ebm_cns) goto done;
    p->ebm_lv = (abp_ebm_langevin){.steps = cfg.prior.steps, .step_size = cfg.prior.step_size, .seed = p->seed,
                                   .iteration = UINT32_MAX};
    if (p->verbose)
        printf("prior: ebm learned with the model (/prior): %d Langevin steps of %g from N(0, I)\n", cfg.prior.steps,
               (double)cfg.prior.step_size);
    rc = 0;
done:
    free(arrays);
    abp_ckpt_close(ck); /* frees meta.config */
    return rc;
}

int cli_prior_fit(cli_prior *p, const char *ckpt, int64_t dz, abp_err *err) {
    memset(&p->gmm, 0, sizeof p->gmm);
    p->fitted = 0;
    if (p->automatic && resolve_auto(p, ckpt, dz, err)) return -1;
    if (p->choice.kind == ABP_PRIOR_NORMAL) return 0;
    if (p->choice.kind == ABP_PRIOR_EBM) return load_ebm(p, ckpt, dz, err);
    char name[32];
    abp_prior_format(&p->choice, name, sizeof name);
    abp_ckpt *ck = NULL;
    abp_ckpt_meta meta;
    int64_t n = 0, dims[4];
    int ndim = 0;
    if (abp_ckpt_open(MPI_COMM_SELF, ckpt, &ck, &meta, err)) return -1;
    int rc = -1;
    float *z = NULL;
    if (abp_ckpt_latent_shape(ck, &n, &ndim, dims, err)) goto done;
    int64_t per = 1;
    for (int k = 0; k < ndim; k++) per *= dims[k];
    if (per != dz) {
        abp_fail(err, "--prior %s: the checkpoint's latents have %lld values, the model sampled takes %lld "
                 "(--latent-shape works only with --prior normal)", name, (long long)per, (long long)dz);
        goto done;
    }
    if (n < p->choice.k || n < 2) {
        abp_fail(err, "--prior %s: %s holds %lld latents, too few for %d component%s", name, ckpt, (long long)n,
                 p->choice.k, p->choice.k == 1 ? "" : "s");
        goto done;
    }
    z = abp_alloc(sizeof(float) * (size_t)(n * dz), err);
    if (!z || abp_ckpt_read_latents(ck, 0, n, z, err)) goto done;
    abp_gmm_cfg cfg;
    abp_gmm_defaults(&cfg, p->choice.k, p->seed);
    if (abp_gmm_fit(z, n, (int)dz, &cfg, &p->gmm, err)) {
        abp_fail_wrap(err, "--prior %s on the latents of %s", name, ckpt);
        goto done;
    }
    p->fitted = 1;
    if (p->verbose)
        printf("prior: %s fitted to %lld of %lld latents: mean log-likelihood %.4f after %d EM iteration%s%s\n", name,
               (long long)p->gmm.n_used, (long long)n, p->gmm.log_likelihood, p->gmm.iterations,
               p->gmm.iterations == 1 ? "" : "s", p->gmm.converged ? "" : " (not converged)");
    rc = 0;
done:
    abp_free(z);
    abp_ckpt_close(ck);
    return rc;
}

int cli_prior_draw(cli_prior *p, int64_t first, int64_t n, int64_t dz, float *z, abp_err *err) {
    if (p->ebm_loaded) return abp_ebm_prior_draw(&p->ebm, &p->ebm_lv, first, n, z, p->ebm_cns, &p->ebm_ws, err);
    if (p->fitted) {
        abp_gmm_sample(&p->gmm, p->seed, first, n, z, NULL);
        return 0;
    }
    for (int64_t i = 0; i < n; i++)
        abp_rng_normal(p->seed, ABP_RNG_PRIOR, (uint32_t)(first + i), 0, 0, z + i * dz, dz);
    return 0;
}

int cli_prior_recalibrate(cli_prior *p, const char *ckpt, int lat_h, int lat_w, abp_net *net, abp_err *err) {
    if (!p->recalibrate) return 0;
    /* as many draws as fit in about 256 MB of activations, at most RECAL_MAX */
    int64_t act = 0;
    for (int i = 0; i <= net->nlayers; i++)
        act += abp_shape_numel(i < net->nlayers ? net->layers[i].in : net->out_shape);
    int64_t m = (int64_t)(1 << 26) / (act > 0 ? act : 1);
    if (m > RECAL_MAX) m = RECAL_MAX;
    if (m < 2) m = 2;
    abp_net big;
    abp_train_cfg cfg;
    abp_ckpt_meta meta;
    if (abp_model_load_resized(MPI_COMM_SELF, ckpt, (int)m, lat_h, lat_w, &big, &cfg, &meta, err)) return -1;
    free(meta.config);
    int64_t dz = abp_shape_numel(big.in_shape);
    int rc = -1;
    float *z = abp_alloc(sizeof(float) * (size_t)(m * dz), err);
    if (!z) goto done;
    if (big.nbuffers != net->nbuffers) {
        abp_fail(err, "batch-norm recalibration: %s builds two different networks", ckpt);
        goto done;
    }
    if (cli_prior_draw(p, RECAL_FIRST, m, dz, z, err) || abp_net_recalibrate_bn(&big, z, (int)m, err)) goto done;
    if (net->nbuffers > 0) memcpy(net->buffers, big.buffers, sizeof(float) * (size_t)net->nbuffers);
    if (p->verbose && net->nbuffers > 0)
        printf("prior: batch norm recomputed on %lld draws from the prior\n", (long long)m);
    rc = 0;
done:
    abp_free(z);
    abp_net_free(&big);
    return rc;
}

void cli_prior_free(cli_prior *p) {
    if (p->fitted) abp_gmm_free(&p->gmm);
    p->fitted = 0;
    if (p->ebm_loaded) {
        abp_net_free(&p->ebm);
        abp_ebm_ws_free(&p->ebm_ws);
        abp_free(p->ebm_cns);
        p->ebm_cns = NULL;
    }
    p->ebm_loaded = 0;
}
