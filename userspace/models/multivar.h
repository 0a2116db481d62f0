/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * multivar.h - the multivariate detectors of one host: an Isolation
 * Forest and a Local Outlier Factor over the feature vectors of
 * features.h, trained in the background on recent history, retrained on
 * a schedule and scored every round.
 *
 * Threads: multivar_observe() and multivar_score() run on the caller's
 * thread (the models sink), one round at a time, and never wait for
 * training. A trainer thread of its own wakes every retrain_s, copies the
 * window means it needs under a short lock, fits scaler, forest and LOF
 * without any lock, and hands the new model over; the next
 * multivar_score() swaps it in and frees the old one. Before the first
 * model exists, scores are not valid.
 *
 * History: per-window means of every series over the last history_s
 * (history_s / window_s buckets), filled by multivar_observe() and, at
 * start, by the optional load_history callback (the store), which runs on
 * the trainer thread.
 *
 * Scores for the ensemble (models/ensemble.h), in [0, 1]: from tail, the
 * probability that a row of the training history scores at least as high
 * (empirical up to the 95th percentile of the training scores, beyond it
 * an exponential tail fitted to the top 5%: peaks over threshold), score
 * = log(tail) / log(1e-10). So 0.5 is a one-in-100,000 round, as for the
 * streaming detectors, and an ordinary round scores below 0.2. The
 * forest's scores have a ceiling (a row isolated at once in every tree)
 * and rows beyond the training range climb towards it with their distance
 * (iforest.h): past the highest training score, its tail also falls
 * geometrically from 1 / (n + 1) to 1e-10 at the ceiling, and the smaller
 * probability counts.
 * Contributions are per series: the shares of its level and change
 * features, per detector.
 *
 * Memory (multivar_memory_bound): buckets history_s / window_s x S
 * doubles, a ring of 2 x rounds-per-window x S doubles, the training
 * matrix (at most max_train_rows x 2S doubles, during training only), the
 * forest (trees x (2 psi - 1) nodes of 24 bytes) and the LOF (rows x
 * (2S + 3) doubles), twice while a new model waits to be swapped in.
 */
#ifndef KPULSE_MODELS_MULTIVAR_H
#define KPULSE_MODELS_MULTIVAR_H

#include <stdbool.h>
#include <stddef.h>

#include "models/iforest.h"

#define MULTIVAR_TOP_SERIES 3
#define MULTIVAR_TRAIN_MIN  32 /* training rows below which no model is fitted */

struct multivar_options {
	double interval_s;     /* rounds' interval */
	double window_s;       /* feature window (>= interval_s) */
	double history_s;      /* training history */
	double retrain_s;      /* retraining period */
	size_t max_train_rows; /* training rows kept (evenly thinned beyond) */
	struct iforest_options forest;
	size_t lof_neighbors;
};

/*
 * Loads the per-window means of the model's series over [from, to) at
 * step window_s: means is nbuckets x nseries, preset to NaN; fill what
 * the store has. Returns 0 or -errno (training then uses what
 * multivar_observe collected). Runs on the trainer thread.
 */
typedef int (*multivar_history_fn)(void *ctx, double from, double to, double step, double *means,
				   size_t nbuckets, size_t nseries);

struct multivar;

/*
 * Creates the detectors for nseries series named names[] (copied) and
 * starts the trainer thread. Returns 0 and *ret, or -EINVAL (options out
 * of range; err says which), -ENOMEM, or the error of pthread_create.
 */
int multivar_start(const struct multivar_options *o, const char *const *names, size_t nseries,
		   multivar_history_fn load_history, void *ctx, struct multivar **ret, char *err,
		   size_t errlen);

/* Stops and joins the trainer, frees everything. Accepts NULL; returns NULL. */
struct multivar *multivar_stop(struct multivar *mv);

/* One round at wall time t: values[nseries], NaN for a missing series. */
void multivar_observe(struct multivar *mv, double t, const double *values);

struct multivar_detector_result {
	double raw;			       /* IF: 2^(-E[h]/c); LOF: the factor */
	double tail;			       /* probability a training row scores at least raw */
	double score;			       /* in [0, 1]: log(tail) / log(1e-10) */
	size_t top[MULTIVAR_TOP_SERIES];       /* series indices, most contributing first */
	double top_share[MULTIVAR_TOP_SERIES]; /* their shares (0 past the last) */
	size_t ntop;
};

struct multivar_result {
	bool valid; /* a model exists and the current vector is complete */
	struct multivar_detector_result iforest, lof;
	double model_trained_at; /* wall time of the model's training */
	size_t model_rows;	 /* its training rows */
};

/* Swaps in a freshly trained model if one is waiting, then scores the
 * current vector. Returns 0 (see ret->valid) or -ENOMEM. */
int multivar_score(struct multivar *mv, struct multivar_result *ret);

/* Asks the trainer to train now (tests, and a first model at start). */
void multivar_retrain_now(struct multivar *mv);

/* Training runs so far (attempts, including those that found too little
 * history), models trained, and the last training's duration in seconds.
 * Any pointer may be NULL. */
void multivar_training_stats(struct multivar *mv, size_t *ret_attempts, size_t *ret_trainings,
			     double *ret_last_s);

const char *multivar_series_name(const struct multivar *mv, size_t i);

/* The bound stated above, in bytes, for these options and series. */
size_t multivar_memory_bound(const struct multivar_options *o, size_t nseries);

#endif /* KPULSE_MODELS_MULTIVAR_H */
