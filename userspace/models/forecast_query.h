/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * forecast_query.h - forecasts of stored series, as GET /api/v1/forecast
 * serves them, and window means of stored series for the multivariate
 * detectors' training. The glue between the store's range queries and the
 * forecaster: it picks a step for the horizon, reads the history at that
 * step, regularizes it and fits one model per series.
 *
 * Step: the smallest of 10 s, 30 s, 1 min, 5 min, 15 min, 30 min, 1 h
 * that keeps the horizon within FORECAST_QUERY_POINTS steps (1 h: 1 min,
 * 60 points). History: FORECAST_QUERY_HISTORY steps before now (a week
 * at 1 min; the store serves the tier that still holds them). Counters
 * are forecast as their rate per second, gauges and histograms as their
 * step average (a histogram's mean observation).
 *
 * Runs on the caller's thread (an HTTP handler: the store's read
 * connections are thread-safe); a fit costs up to a few hundred
 * milliseconds per series, so the series per request are capped.
 */
#ifndef KPULSE_MODELS_FORECAST_QUERY_H
#define KPULSE_MODELS_FORECAST_QUERY_H

#include <stddef.h>

#include <jansson.h>

#include "store/store.h"

#define FORECAST_QUERY_POINTS	   120
#define FORECAST_QUERY_HISTORY	   10000
#define FORECAST_QUERY_SERIES_MAX  10
#define FORECAST_QUERY_HORIZON_MAX (7 * 86400.0)

struct forecast_query {
	struct store_selector selector; /* name required */
	double horizon_s;		/* 1 step .. FORECAST_QUERY_HORIZON_MAX */
	double now;			/* unix seconds: the forecast starts after it */
	/* The caller's bound on history (0: none): the retention of the tier
	 * that serves the step (raw below 60 s, else 1-minute) less a margin
	 * (the store's clock runs on), so that the store does not fall back
	 * to a coarser tier for the oldest steps. */
	double max_history_s;
};

/* The step chosen for a horizon. */
double forecast_query_step(double horizon_s);

/*
 * Forecasts every stored series matching the selector. Returns 0 and *ret:
 *   {"horizon_s", "step_s", "series": [{"name", "labels", "aggregation",
 *    "model", "season_steps", "history_points", "last_ts", "last_value",
 *    "points": [{"ts", "forecast", "lo80", "hi80", "lo95", "hi95"}, ...]}]}
 * (a series with too little recent history has "points": [] and an
 * "error"); or -EINVAL (bad query), -ENOENT (no stored series matches),
 * -E2BIG (more than FORECAST_QUERY_SERIES_MAX match), -ENOMEM, or a store
 * error; err says which in one line.
 */
int forecast_query_run(struct store *st, const struct forecast_query *q, json_t **ret, char *err,
		       size_t errlen);

/* One source of window means: a stored series and how to aggregate it. */
struct forecast_source {
	struct store_selector selector; /* must match one series */
	enum store_agg agg;
	double quantile; /* for STORE_AGG_QUANTILE */
};

/*
 * Fills means[k * n + i] with source i aggregated over [from + k * step,
 * from + (k + 1) * step), k < nbuckets, leaving NaN where the store has
 * nothing (means is preset to NaN by the caller). Suits
 * multivar_history_fn. Returns 0 or the first store error (sources
 * already read keep their values).
 */
int forecast_query_means(struct store *st, const struct forecast_source *src, size_t n, double from,
			 double step, size_t nbuckets, double *means);

#endif /* KPULSE_MODELS_FORECAST_QUERY_H */
