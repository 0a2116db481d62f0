/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * bench_models.c - what the models cost (not a test: it prints numbers and
 * exits 0 unless a model fails to fit). Every figure is the median of
 * REPS runs, each next to its reference measured in the same run:
 *
 *   multivariate: training time of the Isolation Forest (100 trees, 256
 *     samples) and of the LOF (20 neighbours) on the default history (24 h
 *     of 1-minute windows: 1439 rows) of SERIES series (2 features each);
 *     scoring time per vector of the forest (with contributions) and of
 *     the LOF (without and with contributions), next to the brute-force
 *     k-NN distance over every training row (the reference: what any
 *     exact distance-based score pays).
 *   forecast: the update per new value of a fitted model, next to a naive
 *     forecaster's update (last value and the running variance of its
 *     differences, what its intervals need); and the fit (model selection
 *     by backtest) of a 14-day 5-minute series at horizon 12 and of a
 *     1-day 1-minute series at horizon 60.
 *   threshold: one Theil-Sen trend fit on a full window (120 points).
 *
 * Usage: bench_models [SERIES [REPS]] (defaults 24, 5).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "models/forecast.h"
#include "models/iforest.h"
#include "models/lof.h"
#include "models/rng.h"
#include "models/threshold.h"

#define ROWS 1439 /* 24 h of 1-minute windows, pairs of windows */

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double gauss(struct rng *r)
{
	double u = rng_uniform(r), v = rng_uniform(r);

	return sqrt(-2 * log(u > 0 ? u : 1e-300)) * cos(2 * M_PI * v);
}

/* Rows of correlated load features, standardized-looking. */
static void make_rows(struct rng *r, double *x, size_t n, size_t d)
{
	for (size_t i = 0; i < n; i++) {
		double load = gauss(r);

		for (size_t j = 0; j < d; j++)
			x[i * d + j] = (j % 2 ? 0.3 : 1.0) * load + 0.5 * gauss(r);
	}
}

static volatile double sink; /* keeps results alive */

int main(int argc, char **argv)
{
	size_t series = argc > 1 ? strtoul(argv[1], NULL, 10) : 24;
	size_t reps = argc > 2 ? strtoul(argv[2], NULL, 10) : 5;
	size_t d = 2 * series, probes = 2000;
	struct rng r;
	double *x, *q, *contrib, *t_if, *t_lof, *t_sif, *t_slof, *t_clof, *t_brute;
	double *t_upd, *t_naive, *t_fit5, *t_fit1, *t_ts;
	struct iforest_options io = {.trees = 100, .sample_size = 256, .seed = 1};
	char err[256];
	int status = 0;

	if (series < 1 || series > 256 || reps < 1 || reps > 100) {
		fprintf(stderr, "usage: bench_models [SERIES 1..256 [REPS 1..100]]\n");
		return 2;
	}
	rng_seed(&r, 42);
	x = malloc(ROWS * d * sizeof(double));
	q = malloc(probes * d * sizeof(double));
	contrib = malloc(d * sizeof(double));
	t_if = calloc(reps, sizeof(double));
	t_lof = calloc(reps, sizeof(double));
	t_sif = calloc(reps, sizeof(double));
	t_slof = calloc(reps, sizeof(double));
	t_clof = calloc(reps, sizeof(double));
	t_brute = calloc(reps, sizeof(double));
	t_upd = calloc(reps, sizeof(double));
	t_naive = calloc(reps, sizeof(double));
	t_fit5 = calloc(reps, sizeof(double));
	t_fit1 = calloc(reps, sizeof(double));
	t_ts = calloc(reps, sizeof(double));
	if (!x || !q || !contrib || !t_if || !t_lof || !t_sif || !t_slof || !t_clof || !t_brute ||
	    !t_upd || !t_naive || !t_fit5 || !t_fit1 || !t_ts)
		return 1;
	make_rows(&r, x, ROWS, d);
	make_rows(&r, q, probes, d);

	for (size_t k = 0; k < reps; k++) {
		struct iforest *f = NULL;
		struct lof *l = NULL;
		double t0, acc = 0;

		io.seed = k + 1;
		t0 = mono();
		if (iforest_fit(x, ROWS, d, &io, &f, err, sizeof(err)) < 0) {
			fprintf(stderr, "bench_models: %s\n", err);
			return 1;
		}
		t_if[k] = mono() - t0;
		t0 = mono();
		if (lof_fit(x, ROWS, d, 20, &l, err, sizeof(err)) < 0) {
			fprintf(stderr, "bench_models: %s\n", err);
			return 1;
		}
		t_lof[k] = mono() - t0;
		t0 = mono();
		for (size_t i = 0; i < probes; i++)
			acc += iforest_score_explain(f, q + i * d, contrib);
		t_sif[k] = (mono() - t0) / (double)probes;
		t0 = mono();
		for (size_t i = 0; i < probes; i++)
			acc += lof_score(l, q + i * d, NULL);
		t_slof[k] = (mono() - t0) / (double)probes;
		t0 = mono();
		for (size_t i = 0; i < probes; i++)
			acc += lof_score(l, q + i * d, contrib);
		t_clof[k] = (mono() - t0) / (double)probes;
		t0 = mono();
		for (size_t i = 0; i < probes; i++)
			acc += lof_knn_distance(l, q + i * d);
		t_brute[k] = (mono() - t0) / (double)probes;
		sink = acc;
		iforest_free(f);
		lof_free(l);
	}

	/* forecasting */
	{
		size_t n5 = 14 * 288, n1 = 1440, updates = 200000;
		double *y5 = malloc(n5 * sizeof(double)), *y1 = malloc(n1 * sizeof(double));
		struct forecast_options o5 = {.horizon = 12, .step_s = 300, .allow_season = true};
		struct forecast_options o1 = {.horizon = 60, .step_s = 60, .allow_season = true};

		if (!y5 || !y1)
			return 1;
		for (size_t i = 0; i < n5; i++)
			y5[i] = fmax(0, 20 + 10 * sin(2 * M_PI * (double)i / 288) + 3 * gauss(&r) +
					    (rng_uniform(&r) < 0.01 ? 40 : 0));
		for (size_t i = 0; i < n1; i++)
			y1[i] = 50 + 0.01 * (double)i + 2 * gauss(&r);
		for (size_t k = 0; k < reps; k++) {
			struct forecast_model *m = NULL;
			double t0, last = 0, mean = 0, m2 = 0, cnt = 0;

			t0 = mono();
			if (forecast_model_fit(y5, n5, &o5, &m, err, sizeof(err)) < 0) {
				fprintf(stderr, "bench_models: %s\n", err);
				return 1;
			}
			t_fit5[k] = mono() - t0;
			t0 = mono();
			for (size_t i = 0; i < updates; i++)
				forecast_model_update(m, y5[i % n5]);
			t_upd[k] = (mono() - t0) / (double)updates;
			m = forecast_model_free(m);
			/* the naive reference: last value, Welford on the differences */
			t0 = mono();
			for (size_t i = 0; i < updates; i++) {
				double v = y5[i % n5], dlt = v - last, e;

				last = v;
				cnt++;
				e = dlt - mean;
				mean += e / cnt;
				m2 += e * (dlt - mean);
				sink = m2;
			}
			t_naive[k] = (mono() - t0) / (double)updates;
			t0 = mono();
			if (forecast_model_fit(y1, n1, &o1, &m, err, sizeof(err)) < 0) {
				fprintf(stderr, "bench_models: %s\n", err);
				return 1;
			}
			t_fit1[k] = mono() - t0;
			forecast_model_free(m);
		}
		free(y5);
		free(y1);
	}

	/* threshold */
	{
		double tt[360], vv[360];
		struct threshold_trend tr;

		for (int i = 0; i < 360; i++) {
			tt[i] = 10.0 * i;
			vv[i] = 1e9 - 1e5 * i + 1e6 * gauss(&r);
		}
		for (size_t k = 0; k < reps; k++) {
			double t0 = mono();

			for (int i = 0; i < 100; i++)
				threshold_fit_trend(tt, vv, 360, &tr);
			t_ts[k] = (mono() - t0) / 100;
			sink = tr.slope;
		}
	}

	printf("multivariate, %zu series (%zu features), %d training rows (24 h of 1 min "
	       "windows), median of %zu:\n",
	       series, d, ROWS, reps);
	printf("  train isolation forest     %9.1f ms   (100 trees, 256 samples)\n",
	       median(t_if, reps) * 1e3);
	printf("  train lof                  %9.1f ms   (20 neighbours, exact)\n",
	       median(t_lof, reps) * 1e3);
	printf("  score isolation forest     %9.2f us/vector (with contributions)\n",
	       median(t_sif, reps) * 1e6);
	printf("  score lof                  %9.2f us/vector\n", median(t_slof, reps) * 1e6);
	printf("  score lof + contributions  %9.2f us/vector\n", median(t_clof, reps) * 1e6);
	printf("  k-nn distance, brute force %9.2f us/vector (reference: every training row)\n",
	       median(t_brute, reps) * 1e6);
	printf("forecast, median of %zu:\n", reps);
	printf("  update per value           %9.1f ns   (naive reference %.1f ns)\n",
	       median(t_upd, reps) * 1e9, median(t_naive, reps) * 1e9);
	printf("  fit 14 d of 5 min, h=12    %9.1f ms\n", median(t_fit5, reps) * 1e3);
	printf("  fit 1 d of 1 min, h=60     %9.1f ms\n", median(t_fit1, reps) * 1e3);
	printf("threshold:\n");
	printf("  theil-sen trend, 120 pts   %9.1f us\n", median(t_ts, reps) * 1e6);
	fflush(stdout);
	free(x);
	free(q);
	free(contrib);
	free(t_if);
	free(t_lof);
	free(t_sif);
	free(t_slof);
	free(t_clof);
	free(t_brute);
	free(t_upd);
	free(t_naive);
	free(t_fit5);
	free(t_fit1);
	free(t_ts);
	return status;
}
