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
#include <string.h>

#include "models/detector.h"

/* ------------------------------------------------------------ constants */

#define DAY_S  86400.0
#define WEEK_S (7 * DAY_S)

/* Level predictors: EWMA weights of a new sample. */
#define LEVEL_ALPHA_FAST 0.3
#define LEVEL_ALPHA_SLOW 0.02
/* Weight of a new error in each predictor's mean absolute error. */
#define MAE_ALPHA 0.02
/* Mean absolute error -> standard deviation of a normal residual. */
#define MAE_TO_SD 1.2533
/* What a residual may move a predictor by, in scales (so one outlier does
 * not drag a level), once the scale is known (after CLIP_AFTER samples). */
#define CLIP_K	    4.0
#define CLIP_AFTER  30
/* A model replaces the current one when its error is this much lower. */
#define MODEL_SWITCH 0.9
/* Periods of memory of a seasonal bin. */
#define DAY_MEMORY  3.0
#define WEEK_MEMORY 2.0

/* Range: how slowly the extremes forget, and the margin beyond them. */
#define RANGE_HORIZON_S (14 * DAY_S)
#define RANGE_MARGIN	0.05

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

/* ewma reference */
#define EWMA_ALPHA 0.02

/* ------------------------------------------------------------ names */

static const char *const kind_names[DETECTOR_KIND_COUNT] = {"stream", "ewma"};
static const char *const model_names[DETECTOR_MODEL_COUNT] = {"level_fast", "level_slow",
							      "daily", "weekly"};

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

/* The two bins around ts (bin centres), and the weight of the first. */
static void profile_pos(double ts, double period, unsigned nbins, unsigned *b0, unsigned *b1,
			double *w0)
{
	double phase = fmod(ts, period) / period * nbins - 0.5, fl;

	if (phase < 0)
		phase += nbins;
	fl = floor(phase);
	*b0 = (unsigned)fl % nbins;
	*b1 = (*b0 + 1) % nbins;
	*w0 = 1.0 - (phase - fl);
}

/* NAN while either bin has not been seen. */
static double profile_predict(const struct seasonal_profile *p, double ts, double period,
			      unsigned nbins)
{
	unsigned b0, b1;
	double w0;

	profile_pos(ts, period, nbins, &b0, &b1, &w0);
	if (p->visits[b0] <= 0 || p->visits[b1] <= 0)
		return NAN;
	return w0 * p->mean[b0] + (1 - w0) * p->mean[b1];
}

/* Moves the two bins towards x, each by its share of the sample; a bin's
 * first samples set it, later ones average over `memory` periods. */
static void profile_learn(struct seasonal_profile *p, double ts, double period, unsigned nbins,
			  double x, double step_s, double memory)
{
	double per_visit = period / nbins / (step_s > 0 ? step_s : period / nbins);
	double alpha_min = 1.0 / (memory * (per_visit > 1 ? per_visit : 1));
	unsigned b[2];
	double w[2];

	profile_pos(ts, period, nbins, &b[0], &b[1], &w[0]);
	w[1] = 1 - w[0];
	for (int i = 0; i < 2; i++) {
		float *v = &p->visits[b[i]];
		double a;

		if (w[i] <= 0)
			continue;
		*v += (float)w[i];
		a = w[i] / *v;
		if (a < alpha_min * w[i])
			a = alpha_min * w[i];
		if (*v > 1e6f)
			*v = 1e6f;
		p->mean[b[i]] += (float)(a * (x - p->mean[b[i]]));
	}
}

static void profile_shift(struct seasonal_profile *p, unsigned nbins, double by)
{
	for (unsigned i = 0; i < nbins; i++) {
		if (p->visits[i] > 0)
			p->mean[i] += (float)by;
	}
}

/* ------------------------------------------------------------ helpers */

/* Two-sided normal tail turned around: P(|Z| < z). */
static double surprise_of(double z)
{
	return erf(z / M_SQRT2);
}

static double scale_of(const struct detector *d, enum detector_model m, double ref)
{
	double floor_ = 1e-9 * fabs(ref) + 1e-12, s = MAE_TO_SD * d->mae[m];

	return s > floor_ ? s : floor_;
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

/* ------------------------------------------------------------ update */

static double ewma_update(struct detector *d, double x, struct detector_result *res)
{
	double a = d->n < 1.0 / EWMA_ALPHA ? 1.0 / (double)d->n : EWMA_ALPHA;
	double sd = sqrt(d->ew_var), diff = x - d->ew_mean, score = 0;

	if (d->n > 1) {
		double floor_ = 1e-9 * fabs(d->ew_mean) + 1e-12;

		score = surprise_of(fabs(diff) / (sd > floor_ ? sd : floor_));
	}
	res->expected = d->ew_mean;
	res->surprise = score;
	d->ew_mean += a * diff;
	d->ew_var = (1 - a) * (d->ew_var + diff * a * diff);
	return d->n > DETECTOR_WARMUP ? score : 0;
}

static double stream_update(struct detector *d, double ts, double x, struct detector_result *res)
{
	double pred[DETECTOR_MODEL_COUNT], scale, z, resid, score = 0, surprise;
	bool ok[DETECTOR_MODEL_COUNT];
	enum detector_model m = (enum detector_model)d->model;
	double elapsed = ts - d->first_ts;

	if (d->n == 1) {
		d->level[0] = d->level[1] = x;
		d->lo = d->hi = x;
		d->first_ts = ts;
		profile_learn(&d->day, ts, DAY_S, DETECTOR_DAY_BINS, x, 0, DAY_MEMORY);
		profile_learn(&d->week, ts, WEEK_S, DETECTOR_WEEK_BINS, x, 0, WEEK_MEMORY);
		res->expected = x;
		return 0;
	}

	pred[DETECTOR_MODEL_FAST] = d->level[0];
	pred[DETECTOR_MODEL_SLOW] = d->level[1];
	pred[DETECTOR_MODEL_DAILY] = profile_predict(&d->day, ts, DAY_S, DETECTOR_DAY_BINS);
	pred[DETECTOR_MODEL_WEEKLY] = profile_predict(&d->week, ts, WEEK_S, DETECTOR_WEEK_BINS);
	for (int i = 0; i < DETECTOR_MODEL_COUNT; i++)
		ok[i] = isfinite(pred[i]);
	/* a seasonal model competes once its whole period has been seen */
	ok[DETECTOR_MODEL_DAILY] &= elapsed >= 1.25 * DAY_S;
	ok[DETECTOR_MODEL_WEEKLY] &= elapsed >= 1.25 * WEEK_S;
	if (!ok[m])
		m = DETECTOR_MODEL_SLOW;

	/* score against the current model */
	resid = x - pred[m];
	scale = scale_of(d, m, x);
	z = fabs(resid) / scale;
	surprise = surprise_of(z);
	res->expected = pred[m];
	res->surprise = surprise;
	res->model = m;
	score = likelihood_score(d, surprise);
	if (score >= 0.5)
		res->fired |= DETECTOR_FIRED_SURPRISE;

	if (d->n > DETECTOR_WARMUP && d->hi > d->lo) {
		double margin = (d->hi - d->lo) * RANGE_MARGIN;

		if (x > d->hi + margin || x < d->lo - margin) {
			res->fired |= DETECTOR_FIRED_RANGE;
			score = 1;
		}
	}

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

	/* learn: errors first (they judge the predictions made before x) */
	for (int i = 0; i < DETECTOR_MODEL_COUNT; i++) {
		double e, lim;

		if (!isfinite(pred[i]))
			continue;
		e = fabs(x - pred[i]);
		lim = CLIP_K * scale_of(d, (enum detector_model)i, x);
		if (d->mae[i] == 0 && i >= DETECTOR_MODEL_DAILY)
			d->mae[i] = d->mae[m]; /* a new seasonal model starts even */
		else
			d->mae[i] += MAE_ALPHA * ((d->n > CLIP_AFTER && e > lim ? lim : e) - d->mae[i]);
	}
	for (int i = 0; i < 2; i++) {
		double a = i == 0 ? LEVEL_ALPHA_FAST : LEVEL_ALPHA_SLOW;
		double e = x - d->level[i];

		if (i == 1 && d->n < 1.0 / a)
			a = 1.0 / (double)d->n;
		if (d->n > CLIP_AFTER)
			e = clip(e, CLIP_K * scale_of(d, (enum detector_model)i, x));
		d->level[i] += a * e;
	}
	{
		double xd = x, xw = x;

		if (d->n > CLIP_AFTER && isfinite(pred[DETECTOR_MODEL_DAILY]))
			xd = pred[DETECTOR_MODEL_DAILY] +
			     clip(x - pred[DETECTOR_MODEL_DAILY],
				  CLIP_K * scale_of(d, DETECTOR_MODEL_DAILY, x));
		if (d->n > CLIP_AFTER && isfinite(pred[DETECTOR_MODEL_WEEKLY]))
			xw = pred[DETECTOR_MODEL_WEEKLY] +
			     clip(x - pred[DETECTOR_MODEL_WEEKLY],
				  CLIP_K * scale_of(d, DETECTOR_MODEL_WEEKLY, x));
		profile_learn(&d->day, ts, DAY_S, DETECTOR_DAY_BINS, xd, d->step_s, DAY_MEMORY);
		profile_learn(&d->week, ts, WEEK_S, DETECTOR_WEEK_BINS, xw, d->step_s,
			      WEEK_MEMORY);
	}
	if (d->shift_run >= SHIFT_RUN) {
		double by = d->shift_sum / d->shift_run;

		d->level[0] += by;
		d->level[1] += by;
		profile_shift(&d->day, DETECTOR_DAY_BINS, by);
		profile_shift(&d->week, DETECTOR_WEEK_BINS, by);
		d->shift_run = 0;
		d->shift_sign = 0;
		res->fired |= DETECTOR_FIRED_SHIFT;
	}

	/* the model with the lowest error, with hysteresis */
	for (int i = 0; i < DETECTOR_MODEL_COUNT; i++) {
		if (ok[i] && i != (int)m && d->mae[i] < MODEL_SWITCH * d->mae[m])
			m = (enum detector_model)i;
	}
	d->model = m;

	/* range: extremes decay towards the slow level over RANGE_HORIZON_S */
	{
		double dt = ts - d->last_ts, k = dt / RANGE_HORIZON_S;

		if (k > 1)
			k = 1;
		d->hi -= (d->hi - d->level[1]) * k;
		d->lo -= (d->lo - d->level[1]) * k;
		if (x > d->hi)
			d->hi = x;
		if (x < d->lo)
			d->lo = x;
	}
	return d->n > DETECTOR_WARMUP ? score : 0;
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
	double nums[] = {0};

	(void)nums;
	if (!blob || len != sizeof(d))
		return -EINVAL;
	memcpy(&d, blob, sizeof(d));
	if (d.magic != DETECTOR_STATE_MAGIC || d.version != DETECTOR_STATE_VERSION ||
	    d.kind >= DETECTOR_KIND_COUNT || d.model >= DETECTOR_MODEL_COUNT ||
	    d.short_pos >= DETECTOR_SHORT_WIN)
		return -EINVAL;
	{
		double v[] = {d.first_ts, d.last_ts,  d.step_s,	   d.level[0], d.level[1],
			      d.lo,	  d.hi,	      d.shift_sum, d.raw_mean, d.raw_var,
			      d.ew_mean,  d.ew_var};

		if (!finite_all(v, sizeof(v) / sizeof(v[0])) ||
		    !finite_all(d.mae, DETECTOR_MODEL_COUNT) ||
		    !finitef_all(d.day.mean, DETECTOR_WEEK_BINS) ||
		    !finitef_all(d.day.visits, DETECTOR_WEEK_BINS) ||
		    !finitef_all(d.week.mean, DETECTOR_WEEK_BINS) ||
		    !finitef_all(d.week.visits, DETECTOR_WEEK_BINS) ||
		    !finitef_all(d.raw_short, DETECTOR_SHORT_WIN))
			return -EINVAL;
	}
	*ret = d;
	return 0;
}
