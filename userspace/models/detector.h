/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * detector.h - the streaming anomaly detector of one series: what the
 * daemon runs for every modelled series and what `kpulse replay` runs over
 * a CSV, the same code.
 *
 * Each update scores the new value against what the past predicted, then
 * learns from it: strictly online (a score uses only earlier values and
 * the value itself), constant time and constant memory (the state is one
 * fixed-size struct with no pointers, so it is also what is persisted).
 *
 * The default detector ("stream") is made of:
 *   - four predictors run side by side: a fast and a slow robust level
 *     (EWMA with clipped residuals, so one outlier does not drag them), a
 *     daily and a weekly seasonal profile (time-of-day bins of 30 minutes
 *     with their own mean and spread; time-of-week bins of 2 hours with a
 *     mean, their spread the weekly model's error). Wide bins learn a
 *     shape from few periods (a 30-minute bin averages twice the samples
 *     of a 15-minute one, so its mean and spread are steadier after a day
 *     or two) and keep the state near 1.4 KB. The series' model is the one with
 *     the best recent log-likelihood (a level that misses the same daily
 *     edge every day loses to the profile that knows it); a seasonal one
 *     competes once it has seen its period.
 *   - the surprise of the value under that model: -log10 of the two-sided
 *     Gaussian tail of its residual over the model's robust scale (coming
 *     back to the long-run level is never a surprise).
 *   - two calibrations of that surprise, the higher wins: a conformal
 *     p-value of the residual against the decayed record of past ones (how
 *     rare is this here), and NAB's "anomaly likelihood": the short-window
 *     mean of the surprise against its long-run distribution (a burst of
 *     moderately odd values), so noisy series and mostly-zero counters do
 *     not fire on their usual bursts.
 *   - a range check: a value beyond the range the series has shown
 *     (decaying over weeks) by more than a margin, and a 3-sigma event for
 *     the model, scores at least 0.5.
 *   - re-baselining: a residual that keeps the same sign for long enough is
 *     a level shift, not a stream of anomalies; the levels (and, for a
 *     seasonal model, the profiles) move to it.
 *   - episodes: a score that is not clearly above the recent peak is
 *     halved, and so is any score in the DETECTOR_SHORT_WIN updates after
 *     one of 0.5 or more (the likelihood averages that many: a rising
 *     score there is the same evidence again), so one episode reports once
 *     (and again, after that window, when it gets worse).
 * Scores are log-scaled into [0, 1]: 0.5 is about a one-in-100,000 event.
 *
 * "ewma" is the reference: an EWMA mean and variance and the two-sided
 * tail of the z-score, nothing else.
 */
#ifndef KPULSE_MODELS_DETECTOR_H
#define KPULSE_MODELS_DETECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum detector_kind {
	DETECTOR_STREAM, /* the default: everything above */
	DETECTOR_EWMA,	 /* reference: EWMA z-score */
	DETECTOR_KIND_COUNT,
};

/* "stream", "ewma"; "unknown" out of range. */
const char *detector_kind_name(enum detector_kind kind);
/* Returns 0 and *ret, or -EINVAL for any other name. */
int detector_kind_parse(const char *name, enum detector_kind *ret);

/* What made a score high: bits of detector_result.fired. */
enum {
	DETECTOR_FIRED_SURPRISE = 1 << 0, /* far from the model's prediction */
	DETECTOR_FIRED_RANGE = 1 << 1,	  /* outside the range seen so far */
	DETECTOR_FIRED_SHIFT = 1 << 2,	  /* a level shift was re-baselined */
};

/* Which predictor is the series' model now. */
enum detector_model {
	DETECTOR_MODEL_FAST,
	DETECTOR_MODEL_SLOW,
	DETECTOR_MODEL_DAILY,
	DETECTOR_MODEL_WEEKLY,
	DETECTOR_MODEL_COUNT,
};

const char *detector_model_name(enum detector_model m);

#define DETECTOR_DAY_BINS      48	   /* 30 minutes each */
#define DETECTOR_WEEK_BINS     84	   /* 2 hours each */
#define DETECTOR_SHORT_WIN     8	   /* likelihood's short window, samples */
#define DETECTOR_CAL_BINS      64	   /* calibration histogram of surprises */
#define DETECTOR_STATE_MAGIC   0x6b706474u /* "kpdt" */
#define DETECTOR_STATE_VERSION 5u

/* One bin per time-of-day (or time-of-week) slot: its mean, its mean
 * absolute deviation, and how many samples it has learnt (a byte: exact
 * up to 63, then counted in steps that double every 16 values, up to
 * about 127,000; detector.c's visits_count()). */
#define SEASONAL_PROFILE(n)                                                                        \
	struct {                                                                                   \
		float mean[n];                                                                     \
		float dev[n];                                                                      \
		uint8_t visits[n];                                                                 \
	}
/* The same without a spread per bin (the model's error stands for it). */
#define SEASONAL_PROFILE_NODEV(n)                                                                  \
	struct {                                                                                   \
		float mean[n];                                                                     \
		uint8_t visits[n];                                                                 \
	}

/* Plain data: copied, persisted and restored as bytes. */
struct detector {
	uint32_t magic, version;
	uint32_t kind;
	uint32_t model; /* enum detector_model */
	uint64_t n;	/* updates so far */
	double first_ts, last_ts;
	double step_s; /* EW estimate of the sampling step */

	/* predictors: level fast / slow, daily, weekly */
	double level[2];
	double mae[DETECTOR_MODEL_COUNT]; /* EW mean absolute error, clipped: the scale */
	double nll[DETECTOR_MODEL_COUNT]; /* EW negative log-likelihood: the choice */
	SEASONAL_PROFILE(DETECTOR_DAY_BINS) day;
	SEASONAL_PROFILE_NODEV(DETECTOR_WEEK_BINS) week;

	/* range */
	double lo, hi;

	/* level shift */
	double shift_sum;
	uint32_t shift_run;
	int32_t shift_sign;

	/* likelihood */
	double raw_mean, raw_var;
	/* calibration: decayed weights of past surprises, DETECTOR_CAL_BINS
	 * equal bins over [0, 1], and their total */
	float cal[DETECTOR_CAL_BINS];
	double cal_total;
	float raw_short[DETECTOR_SHORT_WIN];
	uint32_t short_pos;

	/* episode: the decaying peak of the scores reported, and the updates
	 * since a score reached 0.5 */
	double peak;
	uint32_t since_report, pad;

	/* ewma reference */
	double ew_mean, ew_var;
};

struct detector_result {
	double score;	 /* [0, 1]; 0 while warming up */
	double expected; /* the model's prediction before this value */
	double surprise; /* the raw surprise in [0, 1] */
	uint32_t fired;	 /* DETECTOR_FIRED_* */
	enum detector_model model;
};

/* Updates before any score is not 0. */
#define DETECTOR_WARMUP 300

void detector_init(struct detector *d, enum detector_kind kind);

/*
 * Scores value at time ts (unix seconds; never earlier than the previous
 * update's) against the past, then learns it. A value that is not finite,
 * or a time that goes back, is not learnt: the score is 0 and the state is
 * unchanged. Returns the score in [0, 1]; fills *ret (may be NULL).
 */
double detector_update(struct detector *d, double ts, double value, struct detector_result *ret);

/*
 * Checks that len bytes at blob are a state this build can resume (magic,
 * version, size, kind, finite numbers) and copies them to *ret. Returns 0
 * or -EINVAL.
 */
int detector_restore(const void *blob, size_t len, struct detector *ret);

#endif /* KPULSE_MODELS_DETECTOR_H */
