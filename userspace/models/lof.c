// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * lof.c - Local Outlier Factor with exact neighbours (see lof.h).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "models/lof.h"
#include "util/error.h"

/* scikit-learn's guard against a zero mean reachability distance. */
#define LRD_EPS 1e-10

struct lof {
	size_t n, d, k;
	double *x;     /* n * d training rows */
	double *kdist; /* distance to each row's k-th neighbour */
	double *lrd;   /* local reachability density */
	double *score; /* each training row's LOF */
	size_t *nbr;   /* n * k neighbour indices (fit only; freed after) */
};

/* The k nearest of a scan, sorted by squared distance. */
struct knn {
	size_t k, count;
	double *dist2;
	size_t *idx;
};

static double dist2(const double *a, const double *b, size_t d)
{
	double s = 0;

	for (size_t j = 0; j < d; j++) {
		double t = a[j] - b[j];

		s += t * t;
	}
	return s;
}

static void knn_offer(struct knn *q, double d2, size_t i)
{
	size_t pos;

	if (q->count == q->k && d2 >= q->dist2[q->k - 1])
		return;
	pos = q->count < q->k ? q->count++ : q->k - 1;
	while (pos > 0 && q->dist2[pos - 1] > d2) {
		q->dist2[pos] = q->dist2[pos - 1];
		q->idx[pos] = q->idx[pos - 1];
		pos--;
	}
	q->dist2[pos] = d2;
	q->idx[pos] = i;
}

/* The k nearest training rows of x, skipping row `skip` (n for none):
 * every distance, a loop the compiler vectorizes. (Abandoning a distance
 * once it passes the current k-th was measured slower on 48 features.) */
static void knn_scan(const struct lof *l, const double *x, size_t skip, struct knn *q)
{
	q->count = 0;
	for (size_t i = 0; i < l->n; i++)
		if (i != skip)
			knn_offer(q, dist2(x, l->x + i * l->d, l->d), i);
}

struct lof *lof_free(struct lof *l)
{
	if (!l)
		return NULL;
	free(l->x);
	free(l->kdist);
	free(l->lrd);
	free(l->score);
	free(l->nbr);
	free(l);
	return NULL;
}

int lof_fit(const double *x, size_t n, size_t d, size_t n_neighbors, struct lof **ret, char *err,
	    size_t errlen)
{
	struct lof *l;
	struct knn q = {0};
	int rc;

	if (!x || n < 2 || n > LOF_ROWS_MAX)
		return error_set(err, errlen, -EINVAL, "lof: %zu training rows is not 2..%d", n,
				 LOF_ROWS_MAX);
	if (d < 1 || d > LOF_DIMS_MAX || n_neighbors < 1 || n_neighbors > LOF_NEIGHBORS_MAX)
		return error_set(err, errlen, -EINVAL,
				 "lof: %zu features (1..%d) or %zu neighbours (1..%d) out of range",
				 d, LOF_DIMS_MAX, n_neighbors, LOF_NEIGHBORS_MAX);
	for (size_t i = 0; i < n * d; i++)
		if (!isfinite(x[i]))
			return error_set(err, errlen, -EINVAL,
					 "lof: row %zu, feature %zu is not finite", i / d, i % d);
	l = calloc(1, sizeof(*l));
	if (!l)
		return error_set(err, errlen, -ENOMEM, "lof: out of memory");
	l->n = n;
	l->d = d;
	l->k = n_neighbors < n - 1 ? n_neighbors : n - 1;
	l->x = malloc(n * d * sizeof(double));
	l->kdist = malloc(n * sizeof(double));
	l->lrd = malloc(n * sizeof(double));
	l->score = malloc(n * sizeof(double));
	l->nbr = malloc(n * l->k * sizeof(size_t));
	q.k = l->k;
	q.dist2 = malloc(l->k * sizeof(double));
	q.idx = malloc(l->k * sizeof(size_t));
	if (!l->x || !l->kdist || !l->lrd || !l->score || !l->nbr || !q.dist2 || !q.idx) {
		rc = error_set(err, errlen, -ENOMEM, "lof: out of memory");
		goto fail;
	}
	memcpy(l->x, x, n * d * sizeof(double));
	for (size_t i = 0; i < n; i++) {
		knn_scan(l, l->x + i * d, i, &q);
		l->kdist[i] = sqrt(q.dist2[l->k - 1]);
		memcpy(l->nbr + i * l->k, q.idx, l->k * sizeof(size_t));
	}
	for (size_t i = 0; i < n; i++) {
		double sum = 0;

		for (size_t j = 0; j < l->k; j++) {
			size_t b = l->nbr[i * l->k + j];
			double dab = sqrt(dist2(l->x + i * d, l->x + b * d, d));

			sum += fmax(l->kdist[b], dab);
		}
		l->lrd[i] = 1.0 / (sum / (double)l->k + LRD_EPS);
	}
	for (size_t i = 0; i < n; i++) {
		double sum = 0;

		for (size_t j = 0; j < l->k; j++)
			sum += l->lrd[l->nbr[i * l->k + j]];
		l->score[i] = sum / (double)l->k / l->lrd[i];
	}
	/* scoring needs only kdist and lrd */
	free(l->nbr);
	l->nbr = NULL;
	free(q.dist2);
	free(q.idx);
	*ret = l;
	return 0;
fail:
	free(q.dist2);
	free(q.idx);
	lof_free(l);
	return rc;
}

double lof_train_score(const struct lof *l, size_t i)
{
	return i < l->n ? l->score[i] : NAN;
}

double lof_score(const struct lof *l, const double *x, double *ret_contrib)
{
	/* k <= LOF_NEIGHBORS_MAX: on the stack */
	double d2s[LOF_NEIGHBORS_MAX];
	size_t idx[LOF_NEIGHBORS_MAX];
	struct knn q = {.k = l->k, .dist2 = d2s, .idx = idx};
	double reach = 0, lrd_sum = 0, lrd_x, total = 0;

	knn_scan(l, x, l->n, &q);
	for (size_t j = 0; j < l->k; j++) {
		reach += fmax(l->kdist[idx[j]], sqrt(d2s[j]));
		lrd_sum += l->lrd[idx[j]];
	}
	lrd_x = 1.0 / (reach / (double)l->k + LRD_EPS);
	if (ret_contrib) {
		memset(ret_contrib, 0, l->d * sizeof(double));
		for (size_t j = 0; j < l->k; j++) {
			const double *b = l->x + idx[j] * l->d;

			for (size_t f = 0; f < l->d; f++) {
				double t = x[f] - b[f];

				ret_contrib[f] += t * t;
				total += t * t;
			}
		}
		for (size_t f = 0; f < l->d; f++)
			ret_contrib[f] = total > 0 ? ret_contrib[f] / total : 0;
	}
	return lrd_sum / (double)l->k / lrd_x;
}

double lof_knn_distance(const struct lof *l, const double *x)
{
	double d2s[LOF_NEIGHBORS_MAX];
	size_t idx[LOF_NEIGHBORS_MAX];
	struct knn q = {.k = l->k, .dist2 = d2s, .idx = idx};

	knn_scan(l, x, l->n, &q);
	return sqrt(d2s[l->k - 1]);
}

size_t lof_rows(const struct lof *l)
{
	return l ? l->n : 0;
}

size_t lof_neighbors(const struct lof *l)
{
	return l ? l->k : 0;
}

size_t lof_memory_bytes(const struct lof *l)
{
	if (!l)
		return 0;
	return sizeof(*l) + l->n * (l->d + 3) * sizeof(double);
}
