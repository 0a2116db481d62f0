/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * hostmv.h - the host's multivariate detectors inside the models sink:
 * which series the Isolation Forest and LOF (multivar.h) look at, their
 * history from the store, and their scores as ensemble inputs.
 *
 * Series: the modelled series that are counters' rates or gauges, had
 * a value this round and have hostmv_min_history_s() of history (stored
 * or live) (a histogram's p99 has no value in a round without
 * arrivals, and a feature vector needs every series in every window), at
 * most max_series: the host-level kernel signals first (context switches,
 * forks, exits, CPU time, faults, block I/O, network, available memory,
 * reclaim, pressure, in that order; see hostmv.c), then the others in the
 * round's order. When that set changes and stays
 * changed for HOSTMV_SETTLE_ROUNDS rounds (a new interface, a custom
 * metric pushed for the first time), the detectors start over on the new
 * set; their training history comes back from the store, so a restart
 * costs one background training, not a day of learning.
 *
 * Training: on its own thread (multivar.h), first on the store's history
 * (rates and means per window), then every retrain_s; until a first
 * model exists, a new attempt every HOSTMV_RETRY_WINDOWS windows.
 *
 * Not thread-safe: one owner (the models sink's thread).
 */
#ifndef KPULSE_MODELS_HOSTMV_H
#define KPULSE_MODELS_HOSTMV_H

#include <stdbool.h>
#include <stddef.h>

#include "models/ensemble.h"
#include "models/multivar.h"
#include "models/series_select.h"
#include "store/store.h"

#define HOSTMV_SETTLE_ROUNDS 5
#define HOSTMV_RETRY_WINDOWS 16
#define HOSTMV_MIN_SERIES    2
/* Ensemble inputs one round gives: iforest and lof. */
#define HOSTMV_INPUTS 2

struct hostmv_options {
	double window_s, history_s, retrain_s; /* multivar_options */
	size_t max_series;		       /* series in the vectors; 2..FEATURES_SERIES_MAX */
};

/* window 60 s, history 24 h, retrain 1 h, 64 series. */
void hostmv_options_default(struct hostmv_options *o);

struct hostmv;

/* Checks the options (err says which is out of range). store may be NULL
 * (no history). Returns 0 and *ret, -EINVAL or -ENOMEM. No thread runs
 * before the first round. */
int hostmv_new(const struct hostmv_options *o, struct store *store, struct hostmv **ret, char *err,
	       size_t errlen);
/* Stops the trainer and frees. Accepts NULL; returns NULL. */
struct hostmv *hostmv_free(struct hostmv *h);

/*
 * One round at ts of interval_s: the selected values. Writes the scores of
 * a trained model (up to HOSTMV_INPUTS) into out and returns how many; the
 * series names they point to stay valid until the next call.
 */
size_t hostmv_round(struct hostmv *h, double ts, double interval_s, const struct series_value *v,
		    size_t n, struct ensemble_input *out);

/* The history a series needs before it joins the vectors (the caller
 * leaves younger series out): enough windows for a model, so a series
 * that appears does not hold the detectors without a model while its
 * history grows. */
double hostmv_min_history_s(const struct hostmv *h, double interval_s);

struct hostmv_stats {
	size_t series;	     /* in the vectors now (0: not started) */
	size_t restarts;     /* starts on a new set of series */
	size_t trainings;    /* models trained by the current detectors */
	bool valid;	     /* the latest round was scored */
	double iforest, lof; /* its scores */
};

void hostmv_stats(const struct hostmv *h, struct hostmv_stats *ret);

/* The key of series i of the running detectors' vectors, NULL past the
 * last (or when none run). */
const char *hostmv_series_key(const struct hostmv *h, size_t i);

#endif /* KPULSE_MODELS_HOSTMV_H */
