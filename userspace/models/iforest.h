/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * iforest.h - Isolation Forest (Liu, Ting and Zhou, ICDM 2008), built as
 * scikit-learn's IsolationForest builds it: each tree grows on a random
 * subsample of psi = min(sample_size, n) rows drawn without replacement,
 * splits on a random non-constant feature at a uniform threshold between
 * the node's minimum and maximum, and stops at one row or at depth
 * ceil(log2 psi). A row's score is 2^(-E[h(x)] / c(psi)), where h(x) is
 * the depth of its leaf plus c(rows in that leaf) and c(n) the average
 * path length of an unsuccessful binary-search-tree search: in (0, 1],
 * about 0.5 for ordinary rows and towards 1 for rows isolated early.
 *
 * Beyond the training range: scikit-learn's forest saturates there (a row
 * far past the data follows the path of its most extreme row and scores
 * like it). Here a row beyond the range of feature j, by e over a range
 * of width w, is isolated at each split on j with probability e / (w + e),
 * the share of a split drawn over the range extended to the row that
 * falls between the data and the row (as if the row had been sampled);
 * otherwise it walks on (w has a floor: iforest_set_min_width). Its h(x)
 * is the expected depth, so the score
 * keeps rising with the distance. Rows inside the range (every training
 * row) score exactly as scikit-learn scores them.
 *
 * Contributions (which features made a row anomalous): each split on a
 * feature along the row's path in a tree credits that feature 1 / h(x),
 * so features that isolate the row in short paths collect more; a
 * feature's contribution is how far its credit exceeds its mean credit
 * over the training rows, normalized to sum to 1 (the per-feature
 * path-length deviation).
 *
 * A fitted forest is read-only: any number of threads may score with it.
 * Memory: trees * (2 * psi - 1) nodes of 24 bytes, plus 32 * d bytes.
 */
#ifndef KPULSE_MODELS_IFOREST_H
#define KPULSE_MODELS_IFOREST_H

#include <stddef.h>
#include <stdint.h>

#define IFOREST_TREES_MAX  10000
#define IFOREST_SAMPLE_MAX 65536
#define IFOREST_DIMS_MAX   4096

struct iforest_options {
	size_t trees;	    /* 100 in scikit-learn */
	size_t sample_size; /* 256 in scikit-learn */
	uint64_t seed;	    /* same seed, same data: same forest */
};

struct iforest;

/*
 * Grows a forest on the n rows of d finite values in x (row-major).
 * Returns 0 and *ret, or -EINVAL (n < 1, d outside 1..IFOREST_DIMS_MAX,
 * options out of range, a non-finite value; err says which) or -ENOMEM.
 */
int iforest_fit(const double *x, size_t n, size_t d, const struct iforest_options *o,
		struct iforest **ret, char *err, size_t errlen);

/* The anomaly score of row x (d values) in (0, 1]. */
double iforest_score(const struct iforest *f, const double *x);

/* The score, and each feature's contribution in ret_contrib[0..d) (sums
 * to 1, or all 0 when no feature stands out). */
double iforest_score_explain(const struct iforest *f, const double *x, double *ret_contrib);

size_t iforest_dims(const struct iforest *f);

/*
 * The width beyond_share measures against, per feature: at least
 * min_width[j] (d values). A feature nearly constant in training would
 * otherwise make any step off it an isolation at once; the caller knows
 * what step is worth noticing in its units. Call before sharing the
 * forest between threads.
 */
void iforest_set_min_width(struct iforest *f, const double *min_width);

/* The highest score the forest can give: 2^(-1 / c(psi)), a row isolated
 * by the first split of every tree. */
double iforest_score_ceiling(const struct iforest *f);
size_t iforest_memory_bytes(const struct iforest *f);
struct iforest *iforest_free(struct iforest *f);

/* c(n): the average path length of an unsuccessful search in a binary
 * search tree of n keys (0 for n <= 1, 1 for n = 2). */
double iforest_avg_path(size_t n);

#endif /* KPULSE_MODELS_IFOREST_H */
