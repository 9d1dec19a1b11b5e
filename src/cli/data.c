/* What several commands do first with --data: the first N examples of a data set, or this
 * rank's shard of them; and the other start-up steps the data-parallel commands share. */
#include <stdlib.h>
#include <string.h>

#include "abp/io.h"
#include "abp/tensor.h"
#include "abp/train.h"
#include "cli.h"

int cli_load_first(const char *path, int64_t limit, int c, int h, int w, abp_images *im, abp_err *err) {
    abp_data_info info;
    if (abp_data_probe(path, &info, err)) return -1;
    int64_t n = limit > 0 && limit < info.n ? limit : info.n;
    return abp_data_load(path, 0, n, c, h, w, im, err);
}

int cli_load_shard(abp_dist *d, const char *path, int64_t limit, int batch, int c, int h, int w,
                   cli_shard *s, abp_err *err) {
    abp_data_info info;
    memset(s, 0, sizeof *s);
    int rc = abp_data_probe(path, &info, err);
    if (rc == 0) {
        s->n = limit > 0 && limit < info.n ? limit : info.n;
        s->has_masks = info.has_masks;
        abp_shard_range_batched(s->n, batch, d->size, d->rank, &s->lo, &s->hi);
        if (s->hi > s->lo) rc = abp_data_load(path, s->lo, s->hi, c, h, w, &s->im, err);
    }
    return abp_dist_agree(d, rc, err);
}

int cli_load_encoder(abp_dist *d, const char *ckpt, const abp_train_cfg *cfg, const abp_net *g, int batch,
                     abp_net *enc, abp_err *err) {
    int rc = abp_encoder_load(MPI_COMM_SELF, ckpt, cfg, g, batch, enc, err);
    if (abp_dist_agree(d, rc, err)) {
        if (rc == 0) abp_net_free(enc);
        return -1;
    }
    return 0;
}

int cli_make_out_dir(abp_dist *d, const char *out, abp_err *err) {
    return abp_dist_agree(d, d->rank == 0 ? abp_mkdir_p(out, err) : 0, err);
}

int cli_set_threads(abp_dist *d, int requested) {
    char why[256];
    return abp_threads_set(abp_dist_threads_per_rank(d, requested, why, sizeof why)); /* the BLAS's and the loops' */
}

int cli_load_model(abp_dist *d, const char *ckpt, int batch, int latent_h, int latent_w, abp_net *net,
                   abp_train_cfg *cfg, abp_err *err) {
    abp_ckpt_meta meta;
    int rc = abp_model_load_resized(MPI_COMM_SELF, ckpt, batch, latent_h, latent_w, net, cfg, &meta, err);
    if (rc == 0) free(meta.config);
    if (abp_dist_agree(d, rc, err)) {
        if (rc == 0) abp_net_free(net);
        return -1;
    }
    return 0;
}
