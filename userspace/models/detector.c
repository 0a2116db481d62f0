// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * detector.c - the streaming per-series anomaly detector (see detector.h
 * for what it is made of and why).
 *
 * Every constant below is in samples or in seconds of the series' own
 * clock and is the same for every series: nothing is tuned per file.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "models/detector.h"

/* ------------------------------------------------------------ constants */

#define DAY_S  86400.0
#define WEEK_S (7 * DAY_S)

/* Level predictors: EWMA weights of a new sample. */
#define LEVEL_ALPHA_FAST 0.3
#define LEVEL_ALPHA_SLOW 0.02
/* Weight of a new error in each predictor's mean absolute error (its
 * scale), and in its mean negative log-likelihood (Gaussian with that
 * scale, the squared residual capped at NLL_Z2_MAX), which chooses the
 * model: the one that explains the series best with the fewest large
 * misses, so a level that misses the same edge every day loses to the
 * profile that knows it. */
#define MAE_ALPHA  0.02
#define NLL_ALPHA  0.005
#define NLL_Z2_MAX 50.0
/* Mean absolute error -> standard deviation of a normal residual. */
#define MAE_TO_SD 1.2533
/* What a residual may move a predictor by, in scales (so one outlier does
 * not drag a level), once the scale is known (after CLIP_AFTER samples). */
#define CLIP_K	   4.0
#define CLIP_AFTER 30
/* A model replaces the current one when its mean log-likelihood is higher
 * by this many nats a sample. */
#define MODEL_SWITCH 0.05
/* A seasonal bin's own spread counts down to this share of its model's
 * error (a bin learns from few samples). */
#define SEASON_DEV_SHARE 0.5
/* Periods of memory of a seasonal bin. */
#define DAY_MEMORY  3.0
#define WEEK_MEMORY 2.0

/* Range: how slowly the extremes forget, and the margin beyond them. */
#define RANGE_HORIZON_S (60 * DAY_S)
#define RANGE_MARGIN	0.05
/* A value beyond the range scores from this up to 1 (a whole range out). */
#define RANGE_SCORE 0.5
/* ... when the model finds it a 3-sigma event too. */
#define RANGE_MIN_Z 3.0

/* Level shift: this many samples in a row beyond SHIFT_Z scales, all on one
 * side, move the levels to the new one. */
#define SHIFT_Z	  3.0
#define SHIFT_RUN 12

/* Likelihood: the long-run distribution of the short-window mean surprise
 * (EW weight of a new sample), and the floor of its variance (NAB's). */
#define LIKE_ALPHA   (1.0 / 2000)
#define LIKE_VAR_MIN 0.0003
/* score = log(1 - likelihood) / log(1e-10): 0.5 is a 1e-5 tail */
#define LOG_FLOOR 1e-10
/* Surprise in decades of tail probability, up to this many. */
#define SURPRISE_MAX 10.0

/* Calibration: the weight of past surprises decays by this much a sample
 * (an effective memory of CAL_MEMORY samples). */
#define CAL_MEMORY     4000.0
#define CAL_LOG2_MIN   (-4.0)
#define CAL_PER_OCTAVE 1.5
#define CAL_TAIL       4.0

/* Episodes: a score that is not EPISODE_STEP above the decaying peak of
 * the recent ones (half-life EPISODE_HALF_LIFE samples) is damped by
 * EPISODE_DAMP, so one episode reports once, and again only when it gets
 * clearly worse. */
#define EPISODE_HALF_LIFE 36.0
#define EPISODE_DAMP	  0.5
#define EPISODE_STEP	  0.1
#define EPISODE_OPEN	  0.5

/* ewma reference */
#define EWMA_ALPHA 0.02

/* ------------------------------------------------------------ names */

static const char *const kind_names[DETECTOR_KIND_COUNT] = {"stream", "ewma"};
static const char *const model_names[DETECTOR_MODEL_COUNT] = {"level_fast", "level_slow", "daily",
							      "weekly"};

const char *detector_kind_name(enum detector_kind kind)
{
	return (unsigned)kind < DETECTOR_KIND_COUNT ? kind_names[kind] : "unknown";
}

int detector_kind_parse(const char *name, enum detector_kind *ret)
{
	for (unsigned i = 0; name && i < DETECTOR_KIND_COUNT; i++) {
		if (!strcmp(name, kind_names[i])) {
			*ret = (enum detector_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *detector_model_name(enum detector_model m)
{
	return (unsigned)m < DETECTOR_MODEL_COUNT ? model_names[m] : "unknown";
}

void detector_init(struct detector *d, enum detector_kind kind)
{
	memset(d, 0, sizeof(*d));
	d->magic = DETECTOR_STATE_MAGIC;
	d->version = DETECTOR_STATE_VERSION;
	d->kind = kind;
	d->model = DETECTOR_MODEL_SLOW;
}

/* ------------------------------------------------------------ seasonal */

/* A profile seen through its arrays, so the day and the week share code. */
struct profile {
	float *mean, *dev;
	uint8_t *visits;
	uint64_t n; /* the detector's updates: when a large count steps */
	unsigned nbins;
	double period, memory;
};

#define PROFILE(p, per, mem)                                                                       \
	((struct profile){(p).mean, (p).dev, (p).visits, 0,                                        \
			  sizeof((p).mean) / sizeof((p).mean[0]), (per), (mem)})
/* dev NULL: no spread per bin */
#define PROFILE_NODEV(p, per, mem)                                                                 \
	((struct profile){(p).mean, NULL, (p).visits, 0, sizeof((p).mean) / sizeof((p).mean[0]),   \
			  (per), (mem)})

/* Bins are piecewise constant: edges of hourly and half-hourly habits
 * (cron jobs, shifts) fall on bin edges instead of being smeared. */
static unsigned profile_bin(const struct profile *p, double ts)
{
	double phase = fmod(ts, p->period) / p->period * p->nbins;
	unsigned b = phase < 0 ? 0 : (unsigned)phase;

	return b < p->nbins ? b : p->nbins - 1;
}

/* NAN while the bin has not been seen. */
static double profile_predict(const struct profile *p, double ts, double *ret_dev)
{
	unsigned b = profile_bin(p, ts);

	if (p->visits[b] == 0)
		return NAN;
	*ret_dev = p->dev ? p->dev[b] : 0;
	return p->mean[b];
}

/*
 * A bin's sample count in a byte. A bin's weight of a new sample is
 * 1 / count until it reaches its floor (`memory` periods: 18 samples for a
 * daily bin at 5-minute steps, 5,400 at 1-second ones), so small counts
 * must be exact and large ones only close: values below VISITS_EXACT are
 * the count; above, each group of 16 values counts in steps twice those
 * of the group before (2, 4, ... 4,096 samples), an increment taken on
 * every step-th update (the updates of one visit are consecutive, so the
 * count is off by less than one step).
 */
#define VISITS_EXACT 64

static double visits_count(uint8_t v)
{
	unsigned g, r;

	if (v < VISITS_EXACT)
		return v;
	g = (unsigned)(v - VISITS_EXACT) >> 4;
	r = (unsigned)(v - VISITS_EXACT) & 15;
	return VISITS_EXACT + 16.0 * (exp2(g + 1) - 2) + r * exp2(g + 1);
}

static uint8_t visits_step(uint8_t v, uint64_t n)
{
	uint64_t step;

	if (v < VISITS_EXACT)
		return v + 1;
	if (v == UINT8_MAX)
		return v;
	step = 2ull << ((unsigned)(v - VISITS_EXACT) >> 4);
	return (n & (step - 1)) == 0 ? v + 1 : v;
}

/* Moves the bin towards x (residual e from the bin's prediction, already
 * clipped): its first samples set it, later ones average over `memory`
 * periods whatever the sampling step. dev0 seeds a new bin's deviation. */
static void profile_learn(struct profile *p, double ts, double x, double step_s, double dev0)
{
	double per_visit = p->period / p->nbins / (step_s > 0 ? step_s : p->period / p->nbins);
	double alpha_min = 1.0 / (p->memory * (per_visit > 1 ? per_visit : 1)), a;
	unsigned b = profile_bin(p, ts);

	if (p->visits[b] == 0) {
		p->mean[b] = (float)x;
		if (p->dev)
			p->dev[b] = (float)dev0;
		p->visits[b] = 1;
		return;
	}
	p->visits[b] = visits_step(p->visits[b], p->n);
	a = 1.0 / visits_count(p->visits[b]);
	if (a < alpha_min)
		a = alpha_min;
	if (p->dev)
		p->dev[b] += (float)(a * (fabs(x - p->mean[b]) - p->dev[b]));
	p->mean[b] += (float)(a * (x - p->mean[b]));
}

static void profile_shift(struct profile *p, double by)
{
	for (unsigned i = 0; i < p->nbins; i++) {
		if (p->visits[i])
			p->mean[i] += (float)by;
	}
}

/* ------------------------------------------------------------ helpers */

/* The surprise of a residual of z scales: -log10 of its two-sided normal
 * tail, divided by SURPRISE_MAX and capped at 1. Near 0 for usual values
 * (mean 0.434 / SURPRISE_MAX under the model), so a rare value stands out
 * in a short-window mean. */
static double surprise_of(double z)
{
	double p = erfc(z / M_SQRT2), s;

	s = p > 1e-300 ? -log10(p) / SURPRISE_MAX : 1;
	return s > 1 ? 1 : s;
}

/* A scale never 0, so a flat series still scores a change. */
static double floor_scale(double s, double ref)
{
	double f = 1e-9 * fabs(ref) + 1e-12;

	return s > f ? s : f;
}

static double clip(double v, double lim)
{
	return v > lim ? lim : v < -lim ? -lim : v;
}

/* Likelihood of the short-window mean surprise under its long-run normal,
 * log-scaled into [0, 1]; then learns the window's mean. */
static double likelihood_score(struct detector *d, double surprise)
{
	double m = 0, var, z, tail, score;

	d->raw_short[d->short_pos] = (float)surprise;
	d->short_pos = (d->short_pos + 1) % DETECTOR_SHORT_WIN;
	for (int i = 0; i < DETECTOR_SHORT_WIN; i++)
		m += d->raw_short[i];
	m /= DETECTOR_SHORT_WIN;

	var = d->raw_var > LIKE_VAR_MIN ? d->raw_var : LIKE_VAR_MIN;
	z = (m - d->raw_mean) / sqrt(var);
	tail = 0.5 * erfc(z / M_SQRT2);
	score = log(LOG_FLOOR + tail) / log(LOG_FLOOR);

	/* EW mean and variance (West's incremental form) */
	{
		double a = d->n < 1.0 / LIKE_ALPHA ? 1.0 / (double)d->n : LIKE_ALPHA;
		double diff = m - d->raw_mean, incr = a * diff;

		d->raw_mean += incr;
		d->raw_var = (1 - a) * (d->raw_var + diff * incr);
	}
	return score < 0 ? 0 : score > 1 ? 1 : score;
}

/*
 * A conformal p-value of the residual z (in scales): the decayed share of
 * past samples at least as far out, counting the new one (so never below
 * 1 / (past + 1)). Bins are 2/3 of an octave of z from 2^CAL_LOG2_MIN up to about 2^38
 * (a change in a series that never moved has a huge z).
 * Beyond every past residual a power-law tail (index CAL_TAIL) grades how
 * far a first-ever extreme goes. Log-scaled as the likelihood is; then z
 * joins the past.
 */
static double calibrated_score(struct detector *d, double z)
{
	double pos = (log2(z > 1e-30 ? z : 1e-30) - CAL_LOG2_MIN) * CAL_PER_OCTAVE, above = 0;
	double p, score, top_z = 0;
	unsigned b;
	int top = -1;

	if (pos < 0)
		pos = 0;
	b = pos >= DETECTOR_CAL_BINS ? DETECTOR_CAL_BINS - 1 : (unsigned)pos;
	for (unsigned i = b + 1; i < DETECTOR_CAL_BINS; i++)
		above += d->cal[i];
	if (pos < DETECTOR_CAL_BINS)
		above += d->cal[b] * (b + 1 - pos); /* the part of its bin above z */
	for (unsigned i = DETECTOR_CAL_BINS; i-- > 0;) {
		if (d->cal[i] > 0) {
			top = (int)i;
			top_z = exp2((i + 1) / CAL_PER_OCTAVE + CAL_LOG2_MIN);
			break;
		}
	}
	if (above > 1e-6 || top < 0 || z <= top_z)
		p = (above + 1) / (d->cal_total + 1);
	else
		p = pow(top_z / z, CAL_TAIL) / (d->cal_total + 1);
	score = log(LOG_FLOOR + p) / log(LOG_FLOOR);

	{
		float keep = (float)(1 - 1 / CAL_MEMORY);

		for (unsigned i = 0; i < DETECTOR_CAL_BINS; i++)
			d->cal[i] *= keep;
		d->cal[b] += 1;
		d->cal_total = d->cal_total * keep + 1;
	}
	return score < 0 ? 0 : score > 1 ? 1 : score;
}

/* ------------------------------------------------------------ update */

static double ewma_update(struct detector *d, double x, struct detector_result *res)
{
	double a = d->n < 1.0 / EWMA_ALPHA ? 1.0 / (double)d->n : EWMA_ALPHA;
	double sd = sqrt(d->ew_var), diff = x - d->ew_mean, score = 0;

	if (d->n > 1) {
		score = erf(fabs(diff) / floor_scale(sd, d->ew_mean) / M_SQRT2);
	}
	res->expected = d->ew_mean;
	res->surprise = score;
	d->ew_mean += a * diff;
	d->ew_var = (1 - a) * (d->ew_var + diff * a * diff);
	return d->n > DETECTOR_WARMUP ? score : 0;
}

static double stream_update(struct detector *d, double ts, double x, struct detector_result *res)
{
	struct profile day = PROFILE(d->day, DAY_S, DAY_MEMORY);
	struct profile week = PROFILE_NODEV(d->week, WEEK_S, WEEK_MEMORY);
	double pred[DETECTOR_MODEL_COUNT], scale[DETECTOR_MODEL_COUNT], dev[2] = {0, 0};
	bool ok[DETECTOR_MODEL_COUNT];
	enum detector_model m = (enum detector_model)d->model;
	double elapsed = ts - d->first_ts, z, resid, score, surprise, range_score = 0;

	day.n = week.n = d->n;

	if (d->n == 1) {
		d->level[0] = d->level[1] = x;
		d->lo = d->hi = x;
		d->first_ts = ts;
		profile_learn(&day, ts, x, 0, 0);
		profile_learn(&week, ts, x, 0, 0);
		res->expected = x;
		return 0;
	}

	pred[DETECTOR_MODEL_FAST] = d->level[0];
	pred[DETECTOR_MODEL_SLOW] = d->level[1];
	pred[DETECTOR_MODEL_DAILY] = profile_predict(&day, ts, &dev[0]);
	pred[DETECTOR_MODEL_WEEKLY] = profile_predict(&week, ts, &dev[1]);
	for (int i = 0; i < DETECTOR_MODEL_COUNT; i++) {
		double s = d->mae[i];

		/* a seasonal bin knows its own spread; the model's error is
		 * its floor, since a bin learns from few samples */
		if (i >= DETECTOR_MODEL_DAILY &&
		    dev[i - DETECTOR_MODEL_DAILY] > SEASON_DEV_SHARE * s)
			s = dev[i - DETECTOR_MODEL_DAILY];
		else if (i >= DETECTOR_MODEL_DAILY)
			s *= SEASON_DEV_SHARE;
		scale[i] = floor_scale(MAE_TO_SD * s, x);
		ok[i] = isfinite(pred[i]);
	}
	/* a seasonal model competes once its whole period has been seen */
	ok[DETECTOR_MODEL_DAILY] &= elapsed >= 1.25 * DAY_S;
	ok[DETECTOR_MODEL_WEEKLY] &= elapsed >= 1.25 * WEEK_S;
	if (!ok[m])
		m = DETECTOR_MODEL_SLOW;

	/* score against the current model */
	resid = x - pred[m];
	z = fabs(resid) / scale[m];
	/* coming back to the long-run level is never a surprise, however fast
	 * the fast level had moved away (a counter that is mostly zero) */
	if (m == DETECTOR_MODEL_FAST && ok[DETECTOR_MODEL_SLOW]) {
		double zs = fabs(x - pred[DETECTOR_MODEL_SLOW]) / scale[DETECTOR_MODEL_SLOW];

		if (zs < z)
			z = zs;
	}
	surprise = surprise_of(z);
	if (d->n > DETECTOR_WARMUP && d->hi > d->lo) {
		double margin = (d->hi - d->lo) * RANGE_MARGIN;

		double out = x > d->hi + margin	  ? x - d->hi - margin
			     : x < d->lo - margin ? d->lo - margin - x
						  : 0;

		/* a new extreme that the model finds improbable too: records
		 * broken by plain noise are not anomalies */
		if (out > 0 && z >= RANGE_MIN_Z) {
			res->fired |= DETECTOR_FIRED_RANGE;
			surprise = 1;
			range_score =
			    RANGE_SCORE + (1 - RANGE_SCORE) * fmin(1, out / (d->hi - d->lo));
		}
	}
	res->expected = pred[m];
	res->surprise = surprise;
	res->model = m;
	score = likelihood_score(d, surprise);
	{
		double cs = calibrated_score(d, z);

		if (cs > score)
			score = cs;
		if (range_score > score)
			score = range_score;
	}
	if (score >= 0.5)
		res->fired |= DETECTOR_FIRED_SURPRISE;

	/* level shift: a long run of large residuals on one side */
	if (z > SHIFT_Z && d->n > CLIP_AFTER) {
		int sign = resid > 0 ? 1 : -1;

		if (sign == d->shift_sign) {
			d->shift_run++;
			d->shift_sum += resid;
		} else {
			d->shift_sign = sign;
			d->shift_run = 1;
			d->shift_sum = resid;
		}
	} else {
		d->shift_run = 0;
		d->shift_sign = 0;
	}

	/* learn: each model's error judges the prediction it made before x;
	 * residuals are clipped once the scales are known */
	for (int i = 0; i < DETECTOR_MODEL_COUNT; i++) {
		double e, lim = CLIP_K * scale[i], xc;

		if (!isfinite(pred[i]))
			continue;
		e = x - pred[i];
		if (d->n > CLIP_AFTER)
			e = clip(e, lim);
		if (d->mae[i] == 0 && i >= DETECTOR_MODEL_DAILY) {
			/* a new seasonal model starts even */
			d->mae[i] = d->mae[m];
			d->nll[i] = d->nll[m];
		} else {
			double zi = (x - pred[i]) / scale[i], z2 = zi * zi;

			d->mae[i] += MAE_ALPHA * (fabs(e) - d->mae[i]);
			d->nll[i] +=
			    NLL_ALPHA *
			    (log(scale[i]) + 0.5 * (z2 < NLL_Z2_MAX ? z2 : NLL_Z2_MAX) - d->nll[i]);
		}
		xc = pred[i] + e;
		if (i < 2) {
			double a = i == 0 ? LEVEL_ALPHA_FAST : LEVEL_ALPHA_SLOW;

			if (d->n * a < 1)
				a = 1.0 / (double)d->n;
			d->level[i] += a * e;
		} else {
			profile_learn(i == DETECTOR_MODEL_DAILY ? &day : &week, ts, xc, d->step_s,
				      d->mae[m]);
		}
	}
	if (!isfinite(pred[DETECTOR_MODEL_DAILY]))
		profile_learn(&day, ts, x, d->step_s, d->mae[m]);
	if (!isfinite(pred[DETECTOR_MODEL_WEEKLY]))
		profile_learn(&week, ts, x, d->step_s, d->mae[m]);

	if (d->shift_run >= SHIFT_RUN) {
		double by = d->shift_sum / d->shift_run;

		/* the residuals are the current model's: a level model's shift
		 * moves the levels, a profile's shift moves the profiles */
		d->level[0] += by;
		d->level[1] += by;
		if (m >= DETECTOR_MODEL_DAILY) {
			profile_shift(&day, by);
			profile_shift(&week, by);
		}
		d->shift_run = 0;
		d->shift_sign = 0;
		res->fired |= DETECTOR_FIRED_SHIFT;
	}

	/* the model with the lowest error, with hysteresis */
	for (int i = 0; i < DETECTOR_MODEL_COUNT; i++) {
		if (ok[i] && i != (int)m && d->nll[i] < d->nll[m] - MODEL_SWITCH)
			m = (enum detector_model)i;
	}
	d->model = m;

	/* range: extremes decay towards the slow level (time constant
	 * RANGE_HORIZON_S), so one old spike does not mask the next forever */
	{
		double k = (ts - d->last_ts) / RANGE_HORIZON_S;

		if (k > 1)
			k = 1;
		d->hi -= (d->hi - d->level[1]) * k;
		d->lo -= (d->lo - d->level[1]) * k;
		if (x > d->hi)
			d->hi = x;
		if (x < d->lo)
			d->lo = x;
	}
	if (d->n <= DETECTOR_WARMUP)
		return 0;
	{
		double prev = d->peak * exp2(-1 / EPISODE_HALF_LIFE);

		/* the likelihood is a mean over DETECTOR_SHORT_WIN samples: for
		 * that long after a report, a rising score is the same evidence
		 * averaged in again; a worse episode is reported once that
		 * window has passed */
		bool held = prev >= EPISODE_OPEN && d->since_report < DETECTOR_SHORT_WIN;

		d->peak = held || score < prev ? prev : score;
		if (held || score <= prev + EPISODE_STEP)
			score *= EPISODE_DAMP;
		if (d->since_report < UINT32_MAX)
			d->since_report++;
		if (score >= EPISODE_OPEN)
			d->since_report = 0;
	}
	return score;
}

double detector_update(struct detector *d, double ts, double value, struct detector_result *ret)
{
	struct detector_result res = {0};
	double score;

	if (!isfinite(value) || !isfinite(ts) || (d->n && ts < d->last_ts)) {
		if (ret)
			*ret = res;
		return 0;
	}
	d->n++;
	if (d->n > 1) {
		double dt = ts - d->last_ts;

		if (dt > 0)
			d->step_s = d->step_s > 0 ? d->step_s + 0.05 * (dt - d->step_s) : dt;
	}
	if (d->kind == DETECTOR_EWMA)
		score = ewma_update(d, value, &res);
	else
		score = stream_update(d, ts, value, &res);
	d->last_ts = ts;
	res.score = score;
	if (ret)
		*ret = res;
	return score;
}

/* ------------------------------------------------------------ restore */

static bool finite_all(const double *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(v[i]))
			return false;
	}
	return true;
}

static bool finitef_all(const float *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(v[i]))
			return false;
	}
	return true;
}

int detector_restore(const void *blob, size_t len, struct detector *ret)
{
	struct detector d;

	if (!blob || len != sizeof(d))
		return -EINVAL;
	memcpy(&d, blob, sizeof(d));
	if (d.magic != DETECTOR_STATE_MAGIC || d.version != DETECTOR_STATE_VERSION ||
	    d.kind >= DETECTOR_KIND_COUNT || d.model >= DETECTOR_MODEL_COUNT ||
	    d.short_pos >= DETECTOR_SHORT_WIN)
		return -EINVAL;
	{
		double v[] = {d.first_ts, d.last_ts, d.step_s,	  d.level[0], d.level[1],
			      d.lo,	  d.hi,	     d.shift_sum, d.raw_mean, d.raw_var,
			      d.ew_mean,  d.ew_var,  d.cal_total, d.peak};

		if (!finite_all(v, sizeof(v) / sizeof(v[0])) ||
		    !finite_all(d.mae, DETECTOR_MODEL_COUNT) ||
		    !finite_all(d.nll, DETECTOR_MODEL_COUNT) ||
		    !finitef_all(d.day.mean, DETECTOR_DAY_BINS) ||
		    !finitef_all(d.day.dev, DETECTOR_DAY_BINS) ||
		    !finitef_all(d.week.mean, DETECTOR_WEEK_BINS) ||
		    !finitef_all(d.raw_short, DETECTOR_SHORT_WIN) ||
		    !finitef_all(d.cal, DETECTOR_CAL_BINS))
			return -EINVAL;
	}
	*ret = d;
	return 0;
}
