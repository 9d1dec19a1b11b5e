/* Batch-norm statistics recomputed for the latents a prior draws.
 *
 * A model's running statistics were accumulated on its training latents during learning.
 * Drawn from another prior (N(0, I) instead of the latents' own distribution, say), z gives
 * each layer inputs of another mean and spread, and the running statistics then normalise
 * them wrongly. Recalibrating sets each layer's running mean and variance to the statistics
 * of one training-mode forward pass over a large set of draws from the prior that will be
 * sampled: layer by layer, exactly what that prior's batch statistics are. */
#include <stdlib.h>

#include "layers.h"

int abp_net_recalibrate_bn(abp_net *net, const float *z_rows, int n, abp_err *err) {
    if (n < 2 || n > net->max_batch)
        return abp_fail(err, "batch-norm recalibration: %d draws for a network built for batches of %d", n,
                        net->max_batch);
    float *z = abp_alloc(sizeof(float) * (size_t)((int64_t)n * abp_shape_numel(net->in_shape)), err);
    float *momentum = z ? abp_alloc(sizeof(float) * (size_t)(net->nlayers + 1), err) : NULL;
    if (!momentum) {
        abp_free(z);
        return -1;
    }
    abp_rows_to_cns(z_rows, z, n, net->in_shape);
    /* momentum 1: running = this batch's statistics, nothing of the old ones */
    for (int i = 0; i < net->nlayers; i++) {
        momentum[i] = net->layers[i].momentum;
        net->layers[i].momentum = 1.0f;
    }
    int training = net->training, update = net->update_running;
    abp_sum_fn sum = net->sum;
    net->training = 1, net->update_running = 1, net->sum = NULL;
    int rc = abp_net_forward(net, z, n, err);
    net->training = training, net->update_running = update, net->sum = sum;
    for (int i = 0; i < net->nlayers; i++) net->layers[i].momentum = momentum[i];
    abp_free(z);
    abp_free(momentum);
    return rc;
}
