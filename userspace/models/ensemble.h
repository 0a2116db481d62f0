/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * ensemble.h - the contract between detectors and the anomaly decision,
 * and the decision itself.
 *
 * Every detector, streaming per-series (detector.h) or multivariate
 * (Isolation Forest, LOF: models/multivar.*), hands the ensemble one
 * ensemble_input per round per thing it scored: its name, a score in
 * [0, 1] and the series that contributed, most first. The first series
 * names the episode: inputs with the same first series (or, without
 * series, the same detector) belong to one anomaly.
 *
 * The ensemble turns those scores into anomalies:
 *   - an episode opens when a score reaches the info threshold, and its
 *     severity is the highest threshold its peak reached (info, warning,
 *     critical);
 *   - it stays open while the score stays above info - hysteresis, and
 *     ends at the last round above (hysteresis: no flapping on a score
 *     that hovers at the threshold);
 *   - for a cooldown after it ends, a new crossing continues the same
 *     anomaly instead of opening another (one episode, one anomaly);
 *   - the record keeps the detectors that fired and the series that
 *     contributed most.
 *
 * Not thread-safe: one owner (the models sink's thread). Memory is bounded
 * by max_episodes: crossings beyond are counted, not tracked.
 */
#ifndef KPULSE_MODELS_ENSEMBLE_H
#define KPULSE_MODELS_ENSEMBLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "models/series_select.h"

/* ------------------------------------------------------------ input */

struct ensemble_input {
	const char *detector;	   /* [a-z_]+, e.g. "stream", "iforest", "lof" */
	double score;		   /* [0, 1]; others are clamped, NaN ignored */
	const char *const *series; /* contributing series keys, most first */
	const double *weights;	   /* per series (may be NULL: all equal) */
	size_t nseries;
};

/* ------------------------------------------------------------ output */

enum anomaly_severity {
	ANOMALY_INFO,
	ANOMALY_WARNING,
	ANOMALY_CRITICAL,
	ANOMALY_SEVERITY_COUNT,
};

/* "info", "warning", "critical"; "unknown" out of range. */
const char *anomaly_severity_name(enum anomaly_severity s);
/* Returns 0 and *ret, or -EINVAL. */
int anomaly_severity_parse(const char *name, enum anomaly_severity *ret);

#define ANOMALY_MAX_CONTRIB   4
#define ANOMALY_DETECTORS_MAX 128

/* What happened to an anomaly in the round that reported it. */
enum {
	ANOMALY_OPENED = 1 << 0,    /* new, or continued after its end (cooldown) */
	ANOMALY_ESCALATED = 1 << 1, /* its severity went up */
	ANOMALY_ENDED = 1 << 2,	    /* it ended (open is false) */
};

struct anomaly {
	uint64_t id;		     /* unique, increasing */
	char series[SERIES_KEY_MAX]; /* the episode's series (or detector) */
	double start, end;	     /* unix seconds: first and last round above */
	bool open;		     /* still going on */
	double peak_score;
	enum anomaly_severity severity;
	char detectors[ANOMALY_DETECTORS_MAX]; /* "stream,iforest" */
	size_t ncontrib;
	char contrib[ANOMALY_MAX_CONTRIB][SERIES_KEY_MAX]; /* most first */
	double contrib_weight[ANOMALY_MAX_CONTRIB];
	uint32_t events; /* ANOMALY_* of this round; 0: it only went on */
};

/* ------------------------------------------------------------ decision */

struct ensemble_options {
	double info, warning, critical; /* thresholds, 0 < info <= warning <= critical <= 1 */
	double hysteresis;		/* an episode ends below info - hysteresis */
	double cooldown_s;		/* a crossing this soon after the end continues it */
	size_t max_episodes;		/* open or cooling down at once */
};

/* info 0.5, warning 0.7, critical 0.9, hysteresis 0.1, cooldown 300 s,
 * 64 episodes. */
void ensemble_options_default(struct ensemble_options *o);

struct ensemble;

/* Returns 0 and *ret, -EINVAL for thresholds out of order or range, or
 * -ENOMEM. first_id is the id the next anomaly gets. */
int ensemble_new(const struct ensemble_options *o, uint64_t first_id, struct ensemble **ret);
/* Accepts NULL; returns NULL. */
struct ensemble *ensemble_free(struct ensemble *e);

/* Applies new thresholds and cooldown (reload); -EINVAL leaves them. */
int ensemble_set_options(struct ensemble *e, const struct ensemble_options *o);

/*
 * One round at time ts: the inputs of every detector. Anomalies open in
 * this round, and those that ended in it, are written to changed[] (up
 * to cap; the rest are counted in ensemble_overflow()); returns how many.
 * A record that ended has open == false and is not reported again unless
 * the cooldown continues it.
 */
size_t ensemble_round(struct ensemble *e, double ts, const struct ensemble_input *in, size_t n,
		      struct anomaly *changed, size_t cap);

/* Crossings not tracked because max_episodes were in use, and changes
 * that did not fit in changed[]. */
uint64_t ensemble_overflow(const struct ensemble *e);

#endif /* KPULSE_MODELS_ENSEMBLE_H */
