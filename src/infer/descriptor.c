/* The descriptor's score, its gradients, and Langevin dynamics on images (abp/infer.h).
 * The same forward/backward code as the generator, run the other way: the network's input
 * is the image, and the back-propagated quantity is df/d(output) = 1 for every output. */
#include "abp/infer.h"

#include "abp/rng.h"

int abp_image_ws_init(abp_image_ws *ws, const abp_net *net, abp_err *err) {
    size_t ni = (size_t)(abp_shape_numel(net->in_shape) * net->max_batch);
    size_t no = (size_t)(abp_shape_numel(net->out_shape) * net->max_batch);
    ws->dI = abp_alloc(sizeof(float) * ni, err);
    ws->dout = ws->dI ? abp_alloc(sizeof(float) * no, err) : NULL;
    ws->noise = ws->dout ? abp_alloc(sizeof(float) * (size_t)abp_shape_numel(net->in_shape), err) : NULL;
    if (!ws->noise) {
        abp_image_ws_free(ws);
        return -1;
    }
    return 0;
}

void abp_image_ws_free(abp_image_ws *ws) {
    abp_free(ws->dI);
    abp_free(ws->dout);
    abp_free(ws->noise);
    ws->dI = ws->dout = ws->noise = NULL;
}

/* Sums the CNS output per image: output (c, i, p) is at (c * n + i) * pix + p. */
static double sum_outputs(const abp_net *net, const float *out, int n, double *score) {
    abp_shape os = net->out_shape;
    int64_t pix = abp_shape_pixels(os);
    double total = 0.0;
    for (int i = 0; i < n; i++) {
        double f = 0.0;
        for (int c = 0; c < os.c; c++)
            for (int64_t p = 0; p < pix; p++) f += out[((int64_t)c * n + i) * pix + p];
        if (score) score[i] = f;
        total += f;
    }
    return total;
}

int abp_descriptor_score(abp_net *net, const float *img, int n, double *score, double *sum, abp_err *err) {
    if (abp_net_forward(net, img, n, err)) return -1;
    *sum = sum_outputs(net, abp_net_output(net), n, score);
    return 0;
}

int abp_descriptor_grad(abp_net *net, const float *img, int n, float scale, float *dI, int want_param_grads,
                        double *sum, abp_image_ws *ws, abp_err *err) {
    if (abp_descriptor_score(net, img, n, NULL, sum, err)) return -1;
    /* d(scale * f)/d(output) is scale for every output of every image */
    int64_t no = abp_shape_numel(net->out_shape) * n;
    for (int64_t k = 0; k < no; k++) ws->dout[k] = scale;
    return abp_net_backward(net, ws->dout, n, dI, want_param_grads, err);
}

int abp_langevin_images(abp_net *net, float *img, int n, const int64_t *ids, const abp_image_langevin *cfg,
                        abp_image_ws *ws, abp_err *err) {
    abp_shape is = net->in_shape;
    int64_t ni = abp_shape_numel(is) * n, pix = abp_shape_pixels(is), d = abp_shape_numel(is);
    float half_d2 = 0.5f * cfg->step_size * cfg->step_size;
    float inv_s2 = 1.0f / (cfg->ref_sigma * cfg->ref_sigma);
    for (int step = 0; step < cfg->steps; step++) {
        double sum;
        if (abp_descriptor_grad(net, img, n, 1.0f, ws->dI, 0, &sum, ws, err)) return -1;
        for (int64_t k = 0; k < ni; k++) img[k] += half_d2 * (ws->dI[k] - img[k] * inv_s2);
        if (!cfg->noise) continue;
        for (int i = 0; i < n; i++) {
            abp_rng_normal(cfg->seed, ABP_RNG_DESCRIPTOR, (uint32_t)ids[i], cfg->iteration, (uint32_t)step,
                           ws->noise, d);
            for (int64_t e = 0; e < d; e++) img[((e / pix) * n + i) * pix + e % pix] += cfg->step_size * ws->noise[e];
        }
    }
    return 0;
}
