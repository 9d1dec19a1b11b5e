/* Sample-quality statistics of two feature sets: Fréchet distance, KID, precision and recall,
 * nearest-neighbour distances. Everything in double: a Fréchet distance is a difference of
 * traces of similar size, and float loses it. Pairwise quantities go block by block through
 * BLAS dgemm, so memory stays O(block x n) rather than O(n^2). */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <string.h>

#include "abp/score.h"

enum { BLOCK = 512 };

static double *to_double(const float *x, int64_t n, int d, abp_err *err) {
    double *out = abp_alloc(sizeof(double) * (size_t)(n * d), err);
    if (out)
        for (int64_t e = 0; e < n * d; e++) out[e] = x[e];
    return out;
}

/* ---------------------------------------------------------------- Fréchet distance */

/* Mean [d] and covariance [d][d] (divided by n - 1) of n rows, x centred in place. */
static void moments(double *x, int64_t n, int d, double *mean, double *cov) {
    for (int a = 0; a < d; a++) mean[a] = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int a = 0; a < d; a++) mean[a] += x[i * d + a];
    for (int a = 0; a < d; a++) mean[a] /= (double)n;
    for (int64_t i = 0; i < n; i++)
        for (int a = 0; a < d; a++) x[i * d + a] -= mean[a];
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, (int)n, 1.0 / (double)(n - 1), x, d, 0.0, cov, d);
    for (int a = 0; a < d; a++)
        for (int b = 0; b < a; b++) cov[(size_t)a * d + b] = cov[(size_t)b * d + a];
}

/* Eigenvalues (ascending) into lambda, eigenvectors into the columns of m (overwritten). */
static int eigen(double *m, int d, double *lambda, abp_err *err) {
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', d, m, d, lambda);
    if (info != 0) return abp_fail(err, "Fréchet distance: LAPACK dsyevd failed (info %d)", (int)info);
    return 0;
}

int abp_frechet_distance(const float *a, int64_t na, const float *b, int64_t nb, int d, double *fd,
                         abp_err *err) {
    if (na < 2 || nb < 2)
        return abp_fail(err, "Fréchet distance: needs at least 2 images in each set (%lld and %lld)",
                        (long long)na, (long long)nb);
    size_t dd = (size_t)d * d;
    double *xa = to_double(a, na, d, err), *xb = xa ? to_double(b, nb, d, err) : NULL;
    double *work = xb ? abp_alloc(sizeof(double) * (4 * dd + 3 * (size_t)d), err) : NULL;
    int rc = -1;
    if (!work) goto done;
    double *ca = work, *cb = ca + dd, *root = cb + dd, *tmp = root + dd;
    double *ma = tmp + dd, *mb = ma + d, *lambda = mb + d;
    moments(xa, na, d, ma, ca);
    moments(xb, nb, d, mb, cb);
    double mean_term = 0.0, trace = 0.0;
    for (int k = 0; k < d; k++) {
        mean_term += (ma[k] - mb[k]) * (ma[k] - mb[k]);
        trace += ca[(size_t)k * d + k] + cb[(size_t)k * d + k];
    }
    /* root = S_a^{1/2} = V diag(sqrt(lambda)) V^T */
    memcpy(tmp, ca, sizeof(double) * dd);
    if (eigen(tmp, d, lambda, err)) goto done;
    for (int j = 0; j < d; j++) {
        double s = sqrt(sqrt(fmax(lambda[j], 0.0))); /* V diag(l^{1/4}) times its transpose */
        for (int i = 0; i < d; i++) tmp[(size_t)i * d + j] *= s;
    }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, d, d, 1.0, tmp, d, 0.0, root, d);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < i; j++) root[(size_t)i * d + j] = root[(size_t)j * d + i];
    /* M = root S_b root, symmetric positive semi-definite; tr M^{1/2} = sum sqrt(eig M). */
    cblas_dsymm(CblasRowMajor, CblasLeft, CblasUpper, d, d, 1.0, root, d, cb, d, 0.0, tmp, d);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, tmp, d, root, d, 0.0, ca, d);
    for (int i = 0; i < d; i++)
        for (int j = 0; j < i; j++) {
            double s = 0.5 * (ca[(size_t)i * d + j] + ca[(size_t)j * d + i]);
            ca[(size_t)i * d + j] = ca[(size_t)j * d + i] = s;
        }
    if (eigen(ca, d, lambda, err)) goto done;
    double cross = 0.0;
    for (int j = 0; j < d; j++) cross += sqrt(fmax(lambda[j], 0.0));
    *fd = fmax(mean_term + trace - 2.0 * cross, 0.0);
    rc = 0;
done:
    abp_free(xa);
    abp_free(xb);
    abp_free(work);
    return rc;
}

/* ---------------------------------------------------------------- KID */

/* Sum of k(x_i, y_j) = (x_i . y_j / d + 1)^3 over all pairs, or over i != j when same. */
static double kernel_sum(const double *x, int64_t nx, const double *y, int64_t ny, int d, int same, double *gram) {
    double total = 0.0;
    for (int64_t i0 = 0; i0 < nx; i0 += BLOCK) {
        int bi = (int)(nx - i0 < BLOCK ? nx - i0 : BLOCK);
        for (int64_t j0 = 0; j0 < ny; j0 += BLOCK) {
            int bj = (int)(ny - j0 < BLOCK ? ny - j0 : BLOCK);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bi, bj, d, 1.0 / d, x + i0 * d, d, y + j0 * d, d,
                        0.0, gram, bj);
            for (int i = 0; i < bi; i++)
                for (int j = 0; j < bj; j++) {
                    if (same && i0 + i == j0 + j) continue;
                    double v = gram[(size_t)i * bj + j] + 1.0;
                    total += v * v * v;
                }
        }
    }
    return total;
}

int abp_kid(const float *a, int64_t na, const float *b, int64_t nb, int d, double *kid, abp_err *err) {
    if (na < 2 || nb < 2)
        return abp_fail(err, "KID: needs at least 2 images in each set (%lld and %lld)", (long long)na,
                        (long long)nb);
    double *xa = to_double(a, na, d, err), *xb = xa ? to_double(b, nb, d, err) : NULL;
    double *gram = xb ? abp_alloc(sizeof(double) * BLOCK * BLOCK, err) : NULL;
    if (!gram) {
        abp_free(xa);
        abp_free(xb);
        return -1;
    }
    double m = (double)na, n = (double)nb;
    double kaa = kernel_sum(xa, na, xa, na, d, 1, gram) / (m * (m - 1.0));
    double kbb = kernel_sum(xb, nb, xb, nb, d, 1, gram) / (n * (n - 1.0));
    double kab = kernel_sum(xa, na, xb, nb, d, 0, gram) / (m * n);
    *kid = kaa + kbb - 2.0 * kab;
    abp_free(xa);
    abp_free(xb);
    abp_free(gram);
    return 0;
}

/* ---------------------------------------------------------------- neighbours */

/* For every row i of x, calls visit(i, j, squared distance to row j of y) for all j, from
 * blocks of |x|^2 + |y|^2 - 2 x.y (clamped at 0: round-off can make it slightly negative). */
typedef void (*pair_visit)(int64_t i, int64_t j, double dist2, void *ctx);

static int for_all_pairs(const double *x, int64_t nx, const double *y, int64_t ny, int d, pair_visit visit,
                         void *ctx, abp_err *err) {
    double *gram = abp_alloc(sizeof(double) * BLOCK * BLOCK, err);
    double *nxs = gram ? abp_alloc(sizeof(double) * (size_t)(nx + ny), err) : NULL;
    if (!nxs) {
        abp_free(gram);
        return -1;
    }
    double *nys = nxs + nx;
    for (int64_t i = 0; i < nx; i++) nxs[i] = cblas_ddot(d, x + i * d, 1, x + i * d, 1);
    for (int64_t j = 0; j < ny; j++) nys[j] = cblas_ddot(d, y + j * d, 1, y + j * d, 1);
    for (int64_t i0 = 0; i0 < nx; i0 += BLOCK) {
        int bi = (int)(nx - i0 < BLOCK ? nx - i0 : BLOCK);
        for (int64_t j0 = 0; j0 < ny; j0 += BLOCK) {
            int bj = (int)(ny - j0 < BLOCK ? ny - j0 : BLOCK);
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, bi, bj, d, 1.0, x + i0 * d, d, y + j0 * d, d, 0.0,
                        gram, bj);
            for (int i = 0; i < bi; i++)
                for (int j = 0; j < bj; j++) {
                    double d2 = nxs[i0 + i] + nys[j0 + j] - 2.0 * gram[(size_t)i * bj + j];
                    visit(i0 + i, j0 + j, d2 > 0.0 ? d2 : 0.0, ctx);
                }
        }
    }
    abp_free(gram);
    abp_free(nxs);
    return 0;
}

typedef struct nearest_ctx {
    double *best; /* [nx] smallest squared distance so far */
} nearest_ctx;

static void visit_nearest(int64_t i, int64_t j, double dist2, void *ctx) {
    (void)j;
    nearest_ctx *c = ctx;
    if (dist2 < c->best[i]) c->best[i] = dist2;
}

/* The k smallest squared distances from row i to the other rows of the same set, kept
 * sorted in knn[i * k ..]. */
typedef struct knn_ctx {
    double *knn;
    int k;
} knn_ctx;

static void visit_knn(int64_t i, int64_t j, double dist2, void *ctx) {
    knn_ctx *c = ctx;
    if (i == j) return;
    double *row = c->knn + i * c->k;
    if (dist2 >= row[c->k - 1]) return;
    int t = c->k - 1;
    while (t > 0 && row[t - 1] > dist2) {
        row[t] = row[t - 1];
        t--;
    }
    row[t] = dist2;
}

/* radius2[i] = squared distance from row i to its k-th nearest other row. */
static int kth_neighbour(const double *x, int64_t n, int d, int k, double *radius2, abp_err *err) {
    double *knn = abp_alloc(sizeof(double) * (size_t)(n * k), err);
    if (!knn) return -1;
    for (int64_t e = 0; e < n * k; e++) knn[e] = INFINITY;
    knn_ctx c = {knn, k};
    if (for_all_pairs(x, n, x, n, d, visit_knn, &c, err)) {
        abp_free(knn);
        return -1;
    }
    for (int64_t i = 0; i < n; i++) radius2[i] = knn[i * k + k - 1];
    abp_free(knn);
    return 0;
}

/* covered[i] = 1 when row i of x lies in some ball (y_j, radius2_j). */
typedef struct cover_ctx {
    const double *radius2;
    unsigned char *covered;
} cover_ctx;

static void visit_cover(int64_t i, int64_t j, double dist2, void *ctx) {
    cover_ctx *c = ctx;
    if (dist2 <= c->radius2[j]) c->covered[i] = 1;
}

static int covered_fraction(const double *x, int64_t nx, const double *y, int64_t ny, int d,
                            const double *radius2, double *fraction, abp_err *err) {
    unsigned char *covered = abp_calloc((size_t)nx, err);
    if (!covered) return -1;
    cover_ctx c = {radius2, covered};
    if (for_all_pairs(x, nx, y, ny, d, visit_cover, &c, err)) {
        abp_free(covered);
        return -1;
    }
    int64_t count = 0;
    for (int64_t i = 0; i < nx; i++) count += covered[i];
    *fraction = (double)count / (double)nx;
    abp_free(covered);
    return 0;
}

int abp_precision_recall(const float *real, int64_t nr, const float *fake, int64_t nf, int d, int k,
                         double *precision, double *recall, abp_err *err) {
    if (k < 1 || nr <= k || nf <= k)
        return abp_fail(err, "precision and recall with k = %d need more than %d images in each set (%lld and %lld)",
                        k, k, (long long)nr, (long long)nf);
    double *xr = to_double(real, nr, d, err), *xf = xr ? to_double(fake, nf, d, err) : NULL;
    double *rr = xf ? abp_alloc(sizeof(double) * (size_t)(nr + nf), err) : NULL;
    int rc = -1;
    if (!rr) goto done;
    double *rf = rr + nr;
    if (kth_neighbour(xr, nr, d, k, rr, err) || kth_neighbour(xf, nf, d, k, rf, err)) goto done;
    if (covered_fraction(xf, nf, xr, nr, d, rr, precision, err)) goto done;
    if (covered_fraction(xr, nr, xf, nf, d, rf, recall, err)) goto done;
    rc = 0;
done:
    abp_free(xr);
    abp_free(xf);
    abp_free(rr);
    return rc;
}

int abp_nearest_distances(const float *query, int64_t nq, const float *ref, int64_t nr, int d, double *out,
                          abp_err *err) {
    if (nr < 1) return abp_fail(err, "nearest neighbours: the reference set is empty");
    double *xq = to_double(query, nq, d, err), *xr = xq ? to_double(ref, nr, d, err) : NULL;
    int rc = -1;
    if (!xr) goto done;
    for (int64_t i = 0; i < nq; i++) out[i] = INFINITY;
    nearest_ctx c = {out};
    if (for_all_pairs(xq, nq, xr, nr, d, visit_nearest, &c, err)) goto done;
    for (int64_t i = 0; i < nq; i++) out[i] = sqrt(out[i]);
    rc = 0;
done:
    abp_free(xq);
    abp_free(xr);
    return rc;
}
