// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * iforest.c - Isolation Forest: growing, scoring and per-feature
 * contributions (see iforest.h).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "models/iforest.h"
#include "models/rng.h"
#include "util/error.h"

/* Training rows used for the contribution baseline (a sample beyond it). */
#define BASELINE_ROWS 2048
#define EULER_GAMMA   0.5772156649015329

struct node {
	int32_t feature; /* -1: a leaf */
	int32_t size;	 /* a leaf's training rows */
	double split;	 /* x[feature] <= split goes left */
	int32_t left, right;
};

struct tree {
	struct node *nodes;
	size_t count;
};

struct iforest {
	size_t d, psi, ntrees;
	double c_psi; /* iforest_avg_path(psi) */
	struct tree *trees;
	double *baseline;  /* mean contribution credit per feature */
	double *lo, *hi;   /* each feature's training range */
	double *width;	   /* hi - lo, or the floor iforest_set_min_width() set */
	size_t node_bytes; /* for iforest_memory_bytes */
};

double iforest_avg_path(size_t n)
{
	double m;

	if (n <= 1)
		return 0;
	if (n == 2)
		return 1;
	m = (double)n;
	return 2.0 * (log(m - 1.0) + EULER_GAMMA) - 2.0 * (m - 1.0) / m;
}

/* ---------------------------------------------------------------------- */
/* Growing                                                                */
/* ---------------------------------------------------------------------- */

struct grow {
	const double *x;
	size_t d;
	size_t max_depth;
	struct rng *rng;
	struct tree *t;
	size_t *feat; /* scratch: feature order */
};

static int32_t add_node(struct tree *t)
{
	memset(&t->nodes[t->count], 0, sizeof(t->nodes[0]));
	return (int32_t)t->count++;
}

/* Grows the subtree of rows idx[0..n) at depth; returns its node. */
static int32_t grow_node(struct grow *g, size_t *idx, size_t n, size_t depth)
{
	int32_t id = add_node(g->t);
	size_t nfeat = g->d, j = 0, lo = 0, hi;
	double mn = 0, mx = 0, split;
	bool found = false;

	g->t->nodes[id].feature = -1;
	g->t->nodes[id].size = (int32_t)n;
	if (n <= 1 || depth >= g->max_depth)
		return id;
	/* Random features without replacement until one varies here, as
	 * scikit-learn's random splitter does; none varies: a leaf. */
	for (size_t i = 0; i < g->d; i++)
		g->feat[i] = i;
	while (nfeat > 0 && !found) {
		size_t pick = (size_t)rng_below(g->rng, nfeat);

		j = g->feat[pick];
		g->feat[pick] = g->feat[--nfeat];
		mn = mx = g->x[idx[0] * g->d + j];
		for (size_t i = 1; i < n; i++) {
			double v = g->x[idx[i] * g->d + j];

			mn = v < mn ? v : mn;
			mx = v > mx ? v : mx;
		}
		found = mx > mn;
	}
	if (!found)
		return id;
	split = mn + rng_uniform(g->rng) * (mx - mn);
	if (split >= mx) /* rounding: keep both sides non-empty */
		split = mn;
	/* partition: rows with x[j] <= split first */
	hi = n;
	while (lo < hi) {
		if (g->x[idx[lo] * g->d + j] <= split) {
			lo++;
		} else {
			size_t tmp = idx[lo];

			idx[lo] = idx[--hi];
			idx[hi] = tmp;
		}
	}
	g->t->nodes[id].feature = (int32_t)j;
	g->t->nodes[id].split = split;
	{
		int32_t left = grow_node(g, idx, lo, depth + 1);
		int32_t right = grow_node(g, idx + lo, n - lo, depth + 1);

		g->t->nodes[id].left = left;
		g->t->nodes[id].right = right;
	}
	return id;
}

struct iforest *iforest_free(struct iforest *f)
{
	if (!f)
		return NULL;
	for (size_t i = 0; f->trees && i < f->ntrees; i++)
		free(f->trees[i].nodes);
	free(f->trees);
	free(f->baseline);
	free(f->lo);
	free(f->hi);
	free(f->width);
	free(f);
	return NULL;
}

/* Adds weight / h to the credit of each split feature in splits[0..ns). */
static void add_credit(double *credit, const size_t *splits, size_t ns, double weight, double h)
{
	if (!credit || !(h > 0))
		return;
	for (size_t k = 0; k < ns; k++)
		credit[splits[k]] += weight / h;
}

/*
 * The share of a split on feature j, drawn over its training range
 * extended to x[j], that falls between the range and x[j]: 0 inside the
 * range, towards 1 far beyond it.
 */
static double beyond_share(const struct iforest *f, size_t j, double v)
{
	double e = v > f->hi[j] ? v - f->hi[j] : v < f->lo[j] ? f->lo[j] - v : 0;

	return e > 0 ? e / (f->width[j] + e) : 0;
}

/*
 * The expected h(x) in tree t. Inside the training range this is the
 * depth of x's leaf plus c(its rows), as scikit-learn computes it. Beyond
 * it on a feature, a split on that feature isolates x with probability
 * beyond_share() (had x been in the sample, the split would have been
 * drawn over a range reaching x), and the rest of the time x walks on. So
 * a row far beyond the training rows gets a short path instead of the
 * path of the most extreme one: the forest does not saturate at the edge
 * of its data. If credit is not NULL, each split on a way the path can
 * end gets (probability of that ending) / (its length).
 */
static double path_length(const struct iforest *f, const struct tree *t, const double *x,
			  double *credit)
{
	size_t splits[64], ns = 0, depth = 0;
	double alive = 1, h = 0, leaf;
	int32_t id = 0;

	while (t->nodes[id].feature >= 0) {
		const struct node *nd = &t->nodes[id];
		double q = beyond_share(f, (size_t)nd->feature, x[nd->feature]);

		splits[ns++] = (size_t)nd->feature;
		depth++;
		if (q > 0) {
			h += alive * q * (double)depth;
			add_credit(credit, splits, ns, alive * q, (double)depth);
			alive *= 1 - q;
		}
		id = x[nd->feature] <= nd->split ? nd->left : nd->right;
	}
	leaf = (double)depth + iforest_avg_path((size_t)t->nodes[id].size);
	add_credit(credit, splits, ns, alive, leaf);
	return h + alive * leaf;
}

/* Mean path length over the trees; credit (d values, zeroed here) gets
 * each path's splits weighted 1 / h, averaged over the trees. */
static double mean_path(const struct iforest *f, const double *x, double *credit)
{
	double sum = 0;

	if (credit)
		memset(credit, 0, f->d * sizeof(double));
	for (size_t i = 0; i < f->ntrees; i++)
		sum += path_length(f, &f->trees[i], x, credit);
	if (credit)
		for (size_t j = 0; j < f->d; j++)
			credit[j] /= (double)f->ntrees;
	return sum / (double)f->ntrees;
}

int iforest_fit(const double *x, size_t n, size_t d, const struct iforest_options *o,
		struct iforest **ret, char *err, size_t errlen)
{
	struct iforest *f = NULL;
	struct rng rng;
	struct grow g = {0};
	size_t *idx = NULL, *perm = NULL, nb;
	double *credit = NULL;
	int rc = -ENOMEM;

	if (!x || !o || n < 1)
		return error_set(err, errlen, -EINVAL, "iforest: no training rows");
	if (d < 1 || d > IFOREST_DIMS_MAX)
		return error_set(err, errlen, -EINVAL, "iforest: %zu features is not 1..%d", d,
				 IFOREST_DIMS_MAX);
	if (o->trees < 1 || o->trees > IFOREST_TREES_MAX || o->sample_size < 2 ||
	    o->sample_size > IFOREST_SAMPLE_MAX)
		return error_set(
		    err, errlen, -EINVAL,
		    "iforest: trees %zu (1..%d) or sample size %zu (2..%d) out of range", o->trees,
		    IFOREST_TREES_MAX, o->sample_size, IFOREST_SAMPLE_MAX);
	for (size_t i = 0; i < n * d; i++)
		if (!isfinite(x[i]))
			return error_set(err, errlen, -EINVAL,
					 "iforest: row %zu, feature %zu is not finite", i / d,
					 i % d);
	f = calloc(1, sizeof(*f));
	if (!f)
		goto nomem;
	f->d = d;
	f->psi = n < o->sample_size ? n : o->sample_size;
	f->ntrees = o->trees;
	f->c_psi = iforest_avg_path(f->psi);
	f->trees = calloc(f->ntrees, sizeof(*f->trees));
	f->baseline = calloc(d, sizeof(double));
	f->lo = malloc(d * sizeof(double));
	f->hi = malloc(d * sizeof(double));
	f->width = malloc(d * sizeof(double));
	idx = malloc(f->psi * sizeof(*idx));
	perm = malloc(n * sizeof(*perm));
	g.feat = malloc(d * sizeof(*g.feat));
	credit = malloc(d * sizeof(double));
	if (!f->trees || !f->baseline || !f->lo || !f->hi || !f->width || !idx || !perm ||
	    !g.feat || !credit)
		goto nomem;
	for (size_t j = 0; j < d; j++) {
		f->lo[j] = f->hi[j] = x[j];
		for (size_t i = 1; i < n; i++) {
			f->lo[j] = fmin(f->lo[j], x[i * d + j]);
			f->hi[j] = fmax(f->hi[j], x[i * d + j]);
		}
		f->width[j] = f->hi[j] - f->lo[j];
	}
	rng_seed(&rng, o->seed);
	g.x = x;
	g.d = d;
	g.rng = &rng;
	g.max_depth = (size_t)ceil(log2((double)(f->psi > 2 ? f->psi : 2)));
	for (size_t i = 0; i < n; i++)
		perm[i] = i;
	for (size_t t = 0; t < f->ntrees; t++) {
		/* psi rows without replacement: a partial Fisher-Yates */
		for (size_t i = 0; i < f->psi; i++) {
			size_t k = i + (size_t)rng_below(&rng, n - i), tmp = perm[i];

			perm[i] = perm[k];
			perm[k] = tmp;
			idx[i] = perm[i];
		}
		f->trees[t].nodes = malloc((2 * f->psi - 1) * sizeof(struct node));
		if (!f->trees[t].nodes)
			goto nomem;
		g.t = &f->trees[t];
		grow_node(&g, idx, f->psi, 0);
		{
			struct node *shrunk =
			    realloc(f->trees[t].nodes, f->trees[t].count * sizeof(struct node));

			if (shrunk)
				f->trees[t].nodes = shrunk;
		}
		f->node_bytes += f->trees[t].count * sizeof(struct node);
	}
	/* the contribution baseline: mean credit over (a sample of) rows */
	nb = n < BASELINE_ROWS ? n : BASELINE_ROWS;
	for (size_t r = 0; r < nb; r++) {
		size_t row = nb == n ? r : (size_t)rng_below(&rng, n);

		mean_path(f, x + row * d, credit);
		for (size_t j = 0; j < d; j++)
			f->baseline[j] += credit[j] / (double)nb;
	}
	*ret = f;
	f = NULL;
	rc = 0;
	goto out;
nomem:
	rc = error_set(err, errlen, -ENOMEM, "iforest: out of memory");
out:
	free(idx);
	free(perm);
	free(g.feat);
	free(credit);
	iforest_free(f);
	return rc;
}

double iforest_score(const struct iforest *f, const double *x)
{
	if (f->c_psi <= 0)
		return 0.5;
	return pow(2.0, -mean_path(f, x, NULL) / f->c_psi);
}

double iforest_score_explain(const struct iforest *f, const double *x, double *ret_contrib)
{
	double h = mean_path(f, x, ret_contrib), sum = 0;

	for (size_t j = 0; j < f->d; j++) {
		ret_contrib[j] -= f->baseline[j];
		if (ret_contrib[j] < 0)
			ret_contrib[j] = 0;
		sum += ret_contrib[j];
	}
	for (size_t j = 0; j < f->d; j++)
		ret_contrib[j] = sum > 0 ? ret_contrib[j] / sum : 0;
	if (f->c_psi <= 0)
		return 0.5;
	return pow(2.0, -h / f->c_psi);
}

void iforest_set_min_width(struct iforest *f, const double *min_width)
{
	for (size_t j = 0; j < f->d; j++)
		f->width[j] = fmax(f->hi[j] - f->lo[j], min_width[j]);
}

double iforest_score_ceiling(const struct iforest *f)
{
	return f->c_psi > 0 ? pow(2.0, -1.0 / f->c_psi) : 0.5;
}

size_t iforest_dims(const struct iforest *f)
{
	return f ? f->d : 0;
}

size_t iforest_memory_bytes(const struct iforest *f)
{
	if (!f)
		return 0;
	return sizeof(*f) + f->ntrees * sizeof(struct tree) + f->node_bytes +
	       4 * f->d * sizeof(double);
}
