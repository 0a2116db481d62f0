/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * forecast.h - per-series forecasts with 80% and 95% prediction
 * intervals, for short horizons on server signals.
 *
 * At short horizons the last value is the forecast to beat, so the model
 * family is built around it: a robust level (exponential smoothing whose
 * innovations are clipped, at a few robust scales for a robust mean or at
 * a quarter of one to track the median of a series that idles between
 * bursts), optionally level shifts (three clipped values in a row on one
 * side move the level to them at once), the last value's deviation from
 * that level decaying geometrically with the horizon (phi = 1 and no
 * clipping is the naive forecast itself), and optionally a daily or
 * weekly seasonal profile. The profile is a median across past seasons of
 * each phase's deviation from its season's median, so a spike never
 * enters it, and it is offered only when the history holds three seasons
 * and the profile explains part of the variance.
 *
 * Fitting is model selection by backtest: every candidate (smoothing
 * constants, decay rates, clipping, shifts, with and without season)
 * forecasts from each origin of the recent history, and the one with the
 * lowest mean absolute error over horizons 1..H wins; shift detection is
 * given up only when that wins by 3%. Nothing is tuned per series by hand.
 * The intervals are the empirical quantiles of the winner's backtest
 * errors at each horizon, 10% wider (the winner's own errors flatter it),
 * scaled by the robust scale at each origin (at least a tenth of the mean
 * step change), so they follow the current volatility. Series with no
 * negative value in their history get no negative forecast or bound.
 *
 * The input is a regular series (one value per step, no gaps):
 * forecast_regularize() turns timestamped samples into one.
 */
#ifndef KPULSE_MODELS_FORECAST_H
#define KPULSE_MODELS_FORECAST_H

#include <stdbool.h>
#include <stddef.h>

/* Limits on what a caller may ask for. */
#define FORECAST_HORIZON_MAX 10000
#define FORECAST_SEASON_MAX  20160 /* a week at a 30 s step */
#define FORECAST_HISTORY_MAX 200000

struct forecast_options {
	size_t horizon;	   /* steps to forecast, 1..FORECAST_HORIZON_MAX */
	double step_s;	   /* seconds per step: derives the daily / weekly seasons */
	bool allow_season; /* false: level models only */
};

/* A fitted model: the chosen candidate, its state after the last value,
 * and its error quantiles. */
struct forecast_model;

struct forecast_point {
	double forecast, lo80, hi80, lo95, hi95;
};

/* A short description of a fitted model, e.g. "level a=0.1 phi=0.8 season=288". */
#define FORECAST_DESC_MAX 96

/*
 * Fits a model to y[0..n) (finite values, n >= 1, at most
 * FORECAST_HISTORY_MAX: older values are ignored beyond it). Returns 0 and
 * *ret (free with forecast_model_free), or -EINVAL (bad options, a
 * non-finite value: err says which) or -ENOMEM.
 */
int forecast_model_fit(const double *y, size_t n, const struct forecast_options *o,
		       struct forecast_model **ret, char *err, size_t errlen);

/* Feeds the next observed value (O(1): the model is not re-selected).
 * Returns 0 or -EINVAL for a non-finite value (the model is unchanged). */
int forecast_model_update(struct forecast_model *m, double y);

/* Writes the forecasts of the next h steps (h <= the fitted horizon) into
 * out[0..h). Returns 0 or -EINVAL. */
int forecast_model_predict(const struct forecast_model *m, size_t h, struct forecast_point *out);

const char *forecast_model_describe(const struct forecast_model *m, char *buf, size_t len);
/* The season the model uses, in steps (0: none). */
size_t forecast_model_season(const struct forecast_model *m);

struct forecast_model *forecast_model_free(struct forecast_model *m);

/*
 * Turns timestamped samples (t in seconds, in the order given) into a
 * regular series: the step is the most common positive difference; a row
 * not later than every earlier row is dropped (repeated or backward
 * timestamps); rows are snapped to the nearest step of a grid anchored at
 * the first; empty slots are filled by linear interpolation. Refused
 * (-EINVAL, err says why) when there is no positive step, or more than
 * half of the slots would be filled, or the grid would exceed max_n.
 * Returns 0, *ret_y (malloc'd, *ret_n values), *ret_step_s, *ret_t_last
 * (the grid time of the last slot) and, if ret_filled is not NULL, the
 * number of filled slots.
 */
int forecast_regularize(const double *t, const double *v, size_t n, size_t max_n, double **ret_y,
			size_t *ret_n, double *ret_step_s, double *ret_t_last, size_t *ret_filled,
			char *err, size_t errlen);

#endif /* KPULSE_MODELS_FORECAST_H */
