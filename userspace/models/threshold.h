/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * threshold.h - time-to-threshold predictions: when will a filesystem be
 * full, available memory or swap run out, or a series cross a configured
 * limit, and how sure are we.
 *
 * The trend is the Theil-Sen slope of the recent window (the median of
 * the slopes between every pair of samples): a spike, a deleted log file
 * or a cache drop moves it far less than a least-squares line. Its 95%
 * range is Sen's rank interval of the pairwise slopes. The level is the
 * trend line's value at the last sample, and the predicted time is when
 * the line reaches the limit; the range of times comes from the steeper
 * and the shallower slope (no upper end when the shallower one does not
 * head for the limit). A prediction is alert-worthy when its slope heads
 * for the limit significantly (the whole slope range does) and the
 * predicted time falls inside the configured horizon.
 *
 * The tracker keeps, per watched series, samples at most every
 * sample_every_s over the last window_s (bounded: max_targets series of
 * window_s / sample_every_s + 1 samples) and refits each series when it
 * gets a new sample. It is fed rounds on one thread; the predictions it
 * publishes may be read from any thread.
 */
#ifndef KPULSE_MODELS_THRESHOLD_H
#define KPULSE_MODELS_THRESHOLD_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "registry/registry.h"

/* Samples a trend is fitted on (evenly thinned beyond). */
#define THRESHOLD_FIT_POINTS 120
/* Configured limits: at most this many, each "NAME>LIMIT" or "NAME<LIMIT". */
#define THRESHOLD_LIMITS_MAX  64
#define THRESHOLD_TARGETS_MAX 4096

enum threshold_kind {
	THRESHOLD_FILESYSTEM_FULL,  /* kpulse_filesystem_avail_bytes falls to 0 */
	THRESHOLD_MEMORY_EXHAUSTED, /* kpulse_mem_available_bytes falls to 0 */
	THRESHOLD_SWAP_EXHAUSTED,   /* kpulse_mem_swap_free_bytes falls to 0 */
	THRESHOLD_LIMIT,	    /* a configured series and limit */
};

/* "filesystem_full", "memory_exhausted", "swap_exhausted", "limit". */
const char *threshold_kind_name(enum threshold_kind kind);

struct threshold_rule {
	enum threshold_kind kind;
	char series[REGISTRY_NAME_MAX];
	bool rising; /* true: crossing upwards (NAME>LIMIT) */
	double limit;
};

/* ---- the math ---- */

struct threshold_trend {
	double slope, slope_lo, slope_hi; /* per second; 95% range */
	double level;			  /* the line at t_last */
	double t_last;
	size_t points;
};

/* Fits the trend of n samples (t ascending, finite). Returns 0 and *ret,
 * or -EINVAL (fewer than 3 samples, no time span, non-finite). */
int threshold_fit_trend(const double *t, const double *v, size_t n, struct threshold_trend *ret);

struct threshold_eta {
	bool heading;		   /* the slope points at the limit (or it is crossed) */
	bool significant;	   /* the whole slope range does */
	double eta_s;		   /* seconds after t_last; 0 when already crossed */
	double eta_lo_s, eta_hi_s; /* eta_hi_s INFINITY when not significant */
};

/* When trend tr reaches limit (from below if rising, above otherwise). */
void threshold_eta(const struct threshold_trend *tr, double limit, bool rising,
		   struct threshold_eta *ret);

/*
 * Parses configured limits: comma-separated "NAME>LIMIT" or "NAME<LIMIT"
 * (NAME a metric name, LIMIT a decimal number), "" for none. Returns 0,
 * *ret (malloc'd, NULL for none) and *ret_n, or -EINVAL with err naming
 * the bad item, or -ENOMEM.
 */
int threshold_parse_limits(const char *spec, struct threshold_rule **ret, size_t *ret_n, char *err,
			   size_t errlen);

/* ---- the tracker ---- */

struct threshold_options {
	double window_s;       /* history the trend is fitted on */
	double min_span_s;     /* no prediction from less history than this */
	double sample_every_s; /* at most one sample per series this often */
	double horizon_s;      /* a predicted time inside it is alert-worthy */
	size_t max_targets;    /* series watched at once (more are ignored) */
};

struct threshold_tracker;

/* The built-in rules plus limits[0..nlimits) (copied). Returns NULL on
 * ENOMEM or options out of range (window_s < 2 * sample_every_s, ...). */
struct threshold_tracker *threshold_tracker_new(const struct threshold_options *o,
						const struct threshold_rule *limits,
						size_t nlimits);
struct threshold_tracker *threshold_tracker_free(struct threshold_tracker *tr);

/* Takes the watched series' values from a round stamped t, refits those
 * that got a new sample and publishes the predictions. */
void threshold_tracker_observe(struct threshold_tracker *tr, const struct registry *reg, double t);

/*
 * The published predictions, a new JSON array (the caller owns it), each
 *   {"kind", "series", "labels": {...}, "limit", "current", "rate_per_s",
 *    "eta_s", "eta_lo_s", "eta_hi_s" (null: no upper end), "predicted_at",
 *    "predicted_at_lo", "predicted_at_hi" (unix seconds or null),
 *    "significant", "alert", "window_s", "points", "horizon_s"}
 * for every watched series whose trend heads for its limit; sorted by
 * eta_s. NULL on ENOMEM. Thread-safe.
 */
json_t *threshold_tracker_predictions(struct threshold_tracker *tr);

/* A new alert horizon (reload); applies from the next round. Accepts NULL
 * and ignores a horizon that is not > 0. Thread-safe. */
void threshold_tracker_set_horizon(struct threshold_tracker *tr, double horizon_s);

/* How many published predictions are alert-worthy now. Thread-safe. */
size_t threshold_tracker_alerts(struct threshold_tracker *tr);

/* Series watched now. */
size_t threshold_tracker_targets(const struct threshold_tracker *tr);

#endif /* KPULSE_MODELS_THRESHOLD_H */
