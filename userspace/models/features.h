/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * features.h - the multivariate detectors' feature vectors: for each of a
 * host's S modelled series, its level (the mean over the last window) and
 * its change (that mean minus the mean of the window before), so
 * d = 2 * S. A load that rises everywhere at once, or one signal that
 * moves against the others, shows in these vectors.
 *
 * Two builders give the same features:
 *   - streaming, every round: sliding means over the rounds of the last
 *     window_s and the window_s before it (a ring of rounds);
 *   - from history: per-window means (the store's rollups, or the
 *     multivariate model's own buckets), row i from buckets i and i - 1.
 * A series missing from a whole window makes the vector invalid (it is
 * skipped, never imputed). Standardization is robust: each feature minus
 * its training median, over 1.4826 MAD (or its sd when the MAD is 0, or 1),
 * clipped at +-FEATURES_CLIP so one wild value cannot dominate distances.
 */
#ifndef KPULSE_MODELS_FEATURES_H
#define KPULSE_MODELS_FEATURES_H

#include <stdbool.h>
#include <stddef.h>

#define FEATURES_PER_SERIES 2
#define FEATURES_SERIES_MAX 256
#define FEATURES_CLIP	    50.0
/* Rounds a streaming window may hold (a 1 h window at 1 s rounds). */
#define FEATURES_ROUNDS_MAX 3600

/* The name of feature j of a series: "level" or "change". */
const char *features_kind_name(size_t j);

/* ---- streaming ---- */

struct features_stream;

/* A stream of nseries values per round covering window_s each. Returns
 * NULL on ENOMEM or nseries / window out of range. rounds_per_window is
 * how many rounds a window holds (window_s / interval_s, at least 1). */
struct features_stream *features_stream_new(size_t nseries, size_t rounds_per_window);
struct features_stream *features_stream_free(struct features_stream *fs);

/* One round's values (NaN where a series was missing). */
void features_stream_push(struct features_stream *fs, const double *values);

/* The current vector (2 * nseries values) from the last two windows.
 * Returns true when it is valid (both windows full, every series seen in
 * each window). */
bool features_stream_vector(const struct features_stream *fs, double *out);

/* ---- from history ---- */

/*
 * Rows from per-window means: means is nbuckets x nseries (NaN for
 * missing), oldest first; row k uses buckets k + 1 and k. Writes at most
 * max_rows rows (evenly thinned over the valid ones when there are more) into out
 * (max_rows x 2 * nseries) and returns how many.
 */
size_t features_from_buckets(const double *means, size_t nbuckets, size_t nseries, double *out,
			     size_t max_rows);

/* ---- compression of non-negative series ---- */

/*
 * Counters' rates and most gauges are non-negative and heavy-tailed: a
 * build on the machine lifts the fork rate 50-fold, a fork storm
 * 1,000-fold. Standardized linearly, both sit at the clip and look alike
 * (and a history with builds in it hides the storm). So a series whose
 * training levels are all >= 0 is compressed: level -> log1p(level / u),
 * change -> the same of this window minus that of the window before, with
 * u its median training level (or its mean, or 1, when that is 0); a
 * series with a negative level stays linear (unit 0). The multivariate
 * detectors give these features a scale of at least 0.2 (multivar.c).
 */
struct features_log {
	size_t s;
	double *unit; /* per series; 0: linear */
};

/* Fits the units on n rows of 2 * nseries features. Returns 0 or -ENOMEM
 * (-EINVAL for n == 0). */
int features_log_fit(struct features_log *l, const double *x, size_t n, size_t nseries);
/* Compresses one row of 2 * s features (in and out may be the same). */
void features_log_apply(const struct features_log *l, const double *in, double *out);
void features_log_clear(struct features_log *l);

/* ---- standardization ---- */

struct features_scaler {
	size_t d;
	double *center, *scale;
};

/* Fits center and scale on n rows of d features. Returns 0 or -ENOMEM
 * (-EINVAL for n == 0). */
int features_scaler_fit(struct features_scaler *s, const double *x, size_t n, size_t d);
void features_scaler_apply(const struct features_scaler *s, const double *in, double *out);
void features_scaler_clear(struct features_scaler *s);

#endif /* KPULSE_MODELS_FEATURES_H */
