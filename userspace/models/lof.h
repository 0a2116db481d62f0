/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * lof.h - Local Outlier Factor (Breunig, Kriegel, Ng and Sander, SIGMOD
 * 2000), computed as scikit-learn's LocalOutlierFactor computes it, with
 * Euclidean distances and exact (brute-force) neighbours:
 *
 *   k = min(n_neighbors, n - 1); k-distance(b) = distance to b's k-th
 *   neighbour; reach(a, b) = max(k-distance(b), d(a, b));
 *   lrd(a) = 1 / (mean over a's k neighbours b of reach(a, b) + 1e-10);
 *   LOF(a) = mean over a's neighbours b of lrd(b) / lrd(a).
 *
 * A training row's own LOF excludes the row from its neighbours
 * (scikit-learn's negative_outlier_factor_ is its negation); a new row is
 * scored against the training rows (scikit-learn's novelty mode). LOF is
 * about 1 inside a cluster and grows with isolation.
 *
 * Contributions: each feature's share of the squared distances from the
 * row to its k neighbours (sum over neighbours of (x_j - b_j)^2 over the
 * sum of squared distances).
 *
 * Scoring computes the distance to every training row (exact; O(n d)).
 * A fitted model is read-only and may be shared by threads.
 * Memory: n * (d + 3) * 8 bytes (and n * k * 8 more while fitting).
 */
#ifndef KPULSE_MODELS_LOF_H
#define KPULSE_MODELS_LOF_H

#include <stddef.h>

#define LOF_ROWS_MAX	  100000
#define LOF_DIMS_MAX	  4096
#define LOF_NEIGHBORS_MAX 1000

struct lof;

/*
 * Copies the n rows of d finite values in x and computes every row's
 * neighbours, k-distance, lrd and LOF (O(n^2 d)). Returns 0 and *ret, or
 * -EINVAL (n < 2, d or k out of range, a non-finite value) or -ENOMEM.
 */
int lof_fit(const double *x, size_t n, size_t d, size_t n_neighbors, struct lof **ret, char *err,
	    size_t errlen);

/* The LOF of training row i (itself excluded from its neighbours). */
double lof_train_score(const struct lof *l, size_t i);

/* The LOF of a new row x against the training rows; if ret_contrib is
 * not NULL, each feature's share of the distances to the neighbours. */
double lof_score(const struct lof *l, const double *x, double *ret_contrib);

/* The distance from x to its k-th nearest training row: the k-NN outlier
 * score, the least an exact distance-based detector pays (the benchmark's
 * reference). */
double lof_knn_distance(const struct lof *l, const double *x);

size_t lof_rows(const struct lof *l);
size_t lof_neighbors(const struct lof *l);
size_t lof_memory_bytes(const struct lof *l);
struct lof *lof_free(struct lof *l);

#endif /* KPULSE_MODELS_LOF_H */
