// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * features.c - level and change features per series, streaming and from
 * history, and their robust standardization (see features.h).
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "models/features.h"

const char *features_kind_name(size_t j)
{
	return j % FEATURES_PER_SERIES == 0 ? "level" : "change";
}

/* ---------------------------------------------------------------------- */
/* Streaming                                                              */
/* ---------------------------------------------------------------------- */

struct features_stream {
	size_t s, w;  /* series, rounds per window */
	double *ring; /* 2w rounds x s values */
	size_t head, count;
};

struct features_stream *features_stream_new(size_t nseries, size_t rounds_per_window)
{
	struct features_stream *fs;

	if (nseries < 1 || nseries > FEATURES_SERIES_MAX || rounds_per_window < 1 ||
	    rounds_per_window > FEATURES_ROUNDS_MAX)
		return NULL;
	fs = calloc(1, sizeof(*fs));
	if (!fs)
		return NULL;
	fs->s = nseries;
	fs->w = rounds_per_window;
	fs->ring = malloc(2 * fs->w * fs->s * sizeof(double));
	if (!fs->ring)
		return features_stream_free(fs);
	return fs;
}

struct features_stream *features_stream_free(struct features_stream *fs)
{
	if (!fs)
		return NULL;
	free(fs->ring);
	free(fs);
	return NULL;
}

void features_stream_push(struct features_stream *fs, const double *values)
{
	memcpy(fs->ring + fs->head * fs->s, values, fs->s * sizeof(double));
	fs->head = (fs->head + 1) % (2 * fs->w);
	if (fs->count < 2 * fs->w)
		fs->count++;
}

bool features_stream_vector(const struct features_stream *fs, double *out)
{
	size_t cap = 2 * fs->w;

	if (fs->count < cap)
		return false;
	for (size_t j = 0; j < fs->s; j++) {
		double sum[2] = {0, 0};
		size_t n[2] = {0, 0};

		/* the oldest w rounds are the previous window */
		for (size_t i = 0; i < cap; i++) {
			double v = fs->ring[((fs->head + i) % cap) * fs->s + j];
			int half = i >= fs->w;

			if (isfinite(v)) {
				sum[half] += v;
				n[half]++;
			}
		}
		if (!n[0] || !n[1])
			return false;
		out[j * 2] = sum[1] / (double)n[1];
		out[j * 2 + 1] = sum[1] / (double)n[1] - sum[0] / (double)n[0];
	}
	return true;
}

/* ---------------------------------------------------------------------- */
/* From history                                                           */
/* ---------------------------------------------------------------------- */

static bool bucket_pair_valid(const double *means, size_t k, size_t s)
{
	for (size_t j = 0; j < s; j++)
		if (!isfinite(means[k * s + j]) || !isfinite(means[(k + 1) * s + j]))
			return false;
	return true;
}

size_t features_from_buckets(const double *means, size_t nbuckets, size_t nseries, double *out,
			     size_t max_rows)
{
	size_t valid = 0, written = 0, seen = 0;

	if (nbuckets < 2 || !max_rows)
		return 0;
	for (size_t k = 0; k + 1 < nbuckets; k++)
		valid += bucket_pair_valid(means, k, nseries);
	for (size_t k = 0; k + 1 < nbuckets && written < max_rows; k++) {
		double *row;

		if (!bucket_pair_valid(means, k, nseries))
			continue;
		seen++;
		/* thin evenly: keep row seen when it crosses the next 1/max_rows mark */
		if (valid > max_rows &&
		    (seen * max_rows) / valid == ((seen - 1) * max_rows) / valid)
			continue;
		row = out + written * nseries * 2;
		for (size_t j = 0; j < nseries; j++) {
			row[j * 2] = means[(k + 1) * nseries + j];
			row[j * 2 + 1] = means[(k + 1) * nseries + j] - means[k * nseries + j];
		}
		written++;
	}
	return written;
}

/* ---------------------------------------------------------------------- */
/* Compression of non-negative series                                     */
/* ---------------------------------------------------------------------- */

static double median_inplace(double *v, size_t n);

void features_log_clear(struct features_log *l)
{
	free(l->unit);
	memset(l, 0, sizeof(*l));
}

int features_log_fit(struct features_log *l, const double *x, size_t n, size_t nseries)
{
	double *col;

	if (n == 0 || nseries == 0)
		return -EINVAL;
	memset(l, 0, sizeof(*l));
	l->unit = calloc(nseries, sizeof(double));
	col = malloc(n * sizeof(double));
	if (!l->unit || !col) {
		free(col);
		features_log_clear(l);
		return -ENOMEM;
	}
	l->s = nseries;
	for (size_t j = 0; j < nseries; j++) {
		double sum = 0, med;
		bool nonneg = true;

		for (size_t i = 0; i < n; i++) {
			col[i] = x[i * nseries * FEATURES_PER_SERIES + j * FEATURES_PER_SERIES];
			nonneg = nonneg && col[i] >= 0;
			sum += col[i];
		}
		if (!nonneg)
			continue; /* linear */
		med = median_inplace(col, n);
		l->unit[j] = med > 0 ? med : sum > 0 ? sum / (double)n : 1;
	}
	free(col);
	return 0;
}

void features_log_apply(const struct features_log *l, const double *in, double *out)
{
	for (size_t j = 0; j < l->s; j++) {
		double level = in[j * FEATURES_PER_SERIES],
		       change = in[j * FEATURES_PER_SERIES + 1];
		double u = l->unit[j], prev;

		if (u <= 0) {
			out[j * FEATURES_PER_SERIES] = level;
			out[j * FEATURES_PER_SERIES + 1] = change;
			continue;
		}
		/* a level below 0 (a gauge that went negative after training)
		 * is compressed as 0: it is at least that far from the rest */
		prev = fmax(level - change, 0);
		level = log1p(fmax(level, 0) / u);
		out[j * FEATURES_PER_SERIES] = level;
		out[j * FEATURES_PER_SERIES + 1] = level - log1p(prev / u);
	}
}

/* ---------------------------------------------------------------------- */
/* Standardization                                                        */
/* ---------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median_inplace(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

void features_scaler_clear(struct features_scaler *s)
{
	free(s->center);
	free(s->scale);
	memset(s, 0, sizeof(*s));
}

int features_scaler_fit(struct features_scaler *s, const double *x, size_t n, size_t d)
{
	double *col;

	if (n == 0 || d == 0)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->center = malloc(d * sizeof(double));
	s->scale = malloc(d * sizeof(double));
	col = malloc(n * sizeof(double));
	if (!s->center || !s->scale || !col) {
		free(col);
		features_scaler_clear(s);
		return -ENOMEM;
	}
	s->d = d;
	for (size_t j = 0; j < d; j++) {
		double mean = 0, var = 0, mad;

		for (size_t i = 0; i < n; i++) {
			col[i] = x[i * d + j];
			mean += col[i];
		}
		mean /= (double)n;
		for (size_t i = 0; i < n; i++)
			var += (col[i] - mean) * (col[i] - mean);
		s->center[j] = median_inplace(col, n);
		for (size_t i = 0; i < n; i++)
			col[i] = fabs(x[i * d + j] - s->center[j]);
		mad = 1.4826 * median_inplace(col, n);
		if (mad > 0)
			s->scale[j] = mad;
		else if (var > 0)
			s->scale[j] = sqrt(var / (double)n);
		else
			s->scale[j] = 1;
	}
	free(col);
	return 0;
}

void features_scaler_apply(const struct features_scaler *s, const double *in, double *out)
{
	for (size_t j = 0; j < s->d; j++) {
		double z = (in[j] - s->center[j]) / s->scale[j];

		out[j] = z > FEATURES_CLIP    ? FEATURES_CLIP
			 : z < -FEATURES_CLIP ? -FEATURES_CLIP
					      : z;
	}
}
