/* abp — sample quality: statistics that compare a set of samples with a set of real images
 * through a feature map, offline.
 *
 * A feature map turns images into feature vectors. The statistics below only see those
 * vectors, so they are the same whatever the map is: the penultimate layer of a classifier
 * abp trained (the "classifier FID" MNIST papers use in place of Inception) or, until that
 * exists, the stand-ins here: the pixels themselves, or the leading principal components of
 * the reference images. The stand-ins are honest measures of distance between image
 * distributions, but their numbers are not comparable with any published FID.
 *
 * Every statistic is computed in double. Feature sets are n rows of d floats. */
#ifndef ABP_SCORE_H
#define ABP_SCORE_H

#include <stdint.h>

#include "abp/error.h"

/* ---------------------------------------------------------------- statistics */

/* The Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017):
 *   |m_a - m_b|^2 + tr(S_a + S_b - 2 (S_a^{1/2} S_b S_a^{1/2})^{1/2}),
 * covariances divided by n - 1 (as pytorch-fid does). The matrix square roots come from
 * symmetric eigen-decompositions (LAPACK dsyevd), negative round-off eigenvalues clamped to
 * zero: the symmetric form needs no complex square root, unlike sqrtm(S_a S_b). Needs at
 * least 2 rows in each set. */
ABP_MUST_CHECK int abp_frechet_distance(const float *a, int64_t na, const float *b, int64_t nb, int d,
                                        double *fd, abp_err *err);

/* The kernel inception distance (Binkowski et al. 2018): the unbiased estimate of the
 * squared MMD with the polynomial kernel k(x, y) = (x.y / d + 1)^3,
 *   sum_{i != j} k(a_i, a_j) / (m (m - 1)) + sum_{i != j} k(b_i, b_j) / (n (n - 1))
 *   - 2 sum_{i, j} k(a_i, b_j) / (m n),
 * over the whole sets (the paper averages the same estimator over subsets; its expectation
 * is the same). Zero in expectation when both sets come from one distribution; it can then
 * be negative. Needs at least 2 rows in each set. */
ABP_MUST_CHECK int abp_kid(const float *a, int64_t na, const float *b, int64_t nb, int d, double *kid,
                           abp_err *err);

/* Improved precision and recall (Kynkäänniemi et al. 2019). Each set covers the union of
 * balls around its points, of radius the distance to the point's k-th nearest neighbour in
 * its own set. precision = the fraction of fake rows inside the real set's cover, recall =
 * the fraction of real rows inside the fake set's cover. Needs more than k rows in each. */
ABP_MUST_CHECK int abp_precision_recall(const float *real, int64_t nr, const float *fake, int64_t nf, int d,
                                        int k, double *precision, double *recall, abp_err *err);

/* out[i] = the Euclidean distance from query row i to its nearest row of ref. */
ABP_MUST_CHECK int abp_nearest_distances(const float *query, int64_t nq, const float *ref, int64_t nr, int d,
                                         double *out, abp_err *err);

/* ---------------------------------------------------------------- feature maps */

typedef struct abp_features abp_features;
struct abp_features {
    char name[64]; /* what it is, for the output ("pixels", "pca:64") */
    int c, h, w;   /* the images it takes */
    int dim;       /* features per image */
    int classes;   /* > 0 for a classifier, which also gives class probabilities */
    /* features of n images (planar c x h x w each) into out [n][dim] */
    int (*map)(abp_features *f, const float *images, int64_t n, float *out, abp_err *err);
    /* class probabilities [n][classes] (classifiers only; NULL otherwise) */
    int (*probs)(abp_features *f, const float *images, int64_t n, float *out, abp_err *err);
    void (*release)(abp_features *f);
    void *state;
};

/* The pixels themselves: dim = c * h * w. */
ABP_MUST_CHECK int abp_features_pixels(int c, int h, int w, abp_features *f, abp_err *err);

/* The coefficients of the k leading principal components of the n reference images (PCA of
 * their pixels). Projections, not whitened: distances keep the pixels' scale. */
ABP_MUST_CHECK int abp_features_pca(const float *ref, int64_t n, int c, int h, int w, int k, abp_features *f,
                                    abp_err *err);

/* Maps n images of c x h x w; images of another size than the map takes are an error that
 * names both sizes and `what` (the file they came from). */
ABP_MUST_CHECK int abp_features_apply(abp_features *f, const char *what, const float *images, int64_t n,
                                      int c, int h, int w, float *out, abp_err *err);

void abp_features_free(abp_features *f);

#endif
