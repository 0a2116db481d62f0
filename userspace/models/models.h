/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * models.h - the models sink: every round, the modelled series
 * (series_select.h) go through their streaming detector (detector.h), the
 * scores through the ensemble (ensemble.h), and the anomalies into the
 * store (store_models.c). Off the collection path: it runs on its sink
 * thread behind the sink's bounded queue.
 *
 * State: each series' detector is saved to the store every checkpoint and
 * at stop, and restored at start; a series with no saved state warms up
 * from its stored history (the last MODELS_WARMUP_HISTORY_S at a 1-minute
 * step) before its first live value, so a new daemon does not start from
 * nothing (a few series a round, so the queries do not come in one burst).
 * The sink's thread runs at nice 10: models are background work.
 *
 * Multivariate: with o.multivar, the host's Isolation Forest and LOF
 * (hostmv.h) score the same values every round, trained on their own
 * thread; their scores join the streaming ones in the ensemble, so an
 * anomaly record names every detector that fired and the series that
 * contributed most.
 *
 * Scores out: the round is frozen, so the sink keeps the latest score of
 * each series and models_add_scores() writes them, with the models' own
 * counters, into the next round the daemon collects (series
 * kpulse_anomaly_score{metric, series, stat}, at most max_series; and
 * kpulse_multivar_score{detector}).
 */
#ifndef KPULSE_MODELS_MODELS_H
#define KPULSE_MODELS_MODELS_H

#include <stddef.h>

#include "daemon/sink.h"
#include "models/ensemble.h"
#include "models/hostmv.h"
#include "registry/registry.h"
#include "store/store.h"

/* History a series without saved state warms up from. */
#define MODELS_WARMUP_HISTORY_S (2 * 86400.0)

struct models_options {
	const char *include, *exclude; /* series_select patterns; NULL: "@default" */
	size_t max_series;	       /* 0: 500 */
	struct ensemble_options ensemble;
	double checkpoint_s;	    /* how often detector state is saved; 0: 300 */
	double anomaly_retention_s; /* anomalies that ended longer ago are deleted; 0: 30 d */
	bool multivar;		    /* the host's Isolation Forest and LOF run (hostmv.h) */
	struct hostmv_options mv;
};

void models_options_default(struct models_options *o);

struct models;

/*
 * Checks the options, opens the models' store connection, ends the
 * anomalies a previous daemon left open, restores saved detector states.
 * store may be NULL (no persistence: tests). Returns 0 and *ret, or
 * -EINVAL / -ENOMEM / a store error with err set.
 */
int models_new(const struct models_options *o, struct store *store, struct models **ret, char *err,
	       size_t errlen);
/* Saves the detectors one last time (if the sink did not stop yet) and
 * frees. Accepts NULL; returns NULL. */
struct models *models_free(struct models *m);

/* The sink: ctx is the struct models. on_stop saves the detectors. */
extern const struct sink_ops models_sink_ops;

/* New thresholds and cooldown (reload), applied from the next round.
 * Thread-safe. Returns 0 or -EINVAL (out of order; nothing changes). */
int models_set_thresholds(struct models *m, const struct ensemble_options *o);

/* Writes the latest scores and the models' counters into the round r has
 * open. Thread-safe (called by the daemon's loop). Returns 0 or -ENOMEM. */
int models_add_scores(struct models *m, struct registry *r);
/* Help texts of those series. Returns 0 or -ENOMEM. */
int models_describe(struct registry *r);

#endif /* KPULSE_MODELS_MODELS_H */
