// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * forecast.c - robust level + decaying deviation + optional seasonal
 * profile, chosen per series by backtest; empirical intervals (see
 * forecast.h for the model and its contract).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/forecast.h"
#include "util/error.h"

/* Innovations beyond CLIP_K robust scales are clipped: a spike moves the
 * level by at most alpha * CLIP_K scales. */
#define CLIP_K 3.0
/* Weight of each new absolute deviation in the robust scale. */
#define SCALE_BETA 0.05
/* This many innovations in a row clipped on the same side are a level
 * shift, not spikes: the level jumps to their median. */
#define SHIFT_RUN 3
/* A history may hold no level shift and the future one: giving up shift
 * detection must win the backtest by this factor. */
#define NO_SHIFT_MARGIN 1.03
/* Fewer values than this: the naive forecast with random-walk intervals. */
#define MIN_FIT 30
/* Most backtest origins; and most origin x horizon pairs scored per
 * candidate (beyond it origins are strided). */
#define VALID_MAX  2000
#define VALID_WORK 120000
/* A seasonal profile needs this many whole seasons before the backtest,
 * and must explain this share of the variance, to be offered. */
#define SEASONS_MIN   3
#define SEASONS_USED  7
#define SEASON_R2_MIN 0.15
/* Horizons with fewer backtest errors borrow the quantiles of the last
 * horizon that had enough, scaled by sqrt(k / k0). */
#define QUANT_MIN_N 30
/* The winner's own backtest errors are optimistic (it won on them):
 * widening its quantiles by 10% brings held-back coverage to nominal. */
#define QUANT_WIDEN 1.1
#define Z80	    1.2815515655446004
#define Z95	    1.959963984540054

static const double alphas[] = {0.5, 0.2, 0.1, 0.05, 0.02, 0.01};
static const double phis[] = {0.0, 0.25, 0.5, 0.8, 1.0};
/* Clipping the level's innovations at CLIP_K scales gives a robust mean;
 * at a fraction of a scale the level tracks the median, which is what
 * minimises absolute errors on a series that idles with frequent bursts. */
static const double lclips[] = {CLIP_K, 0.25};

/* The quantiles kept per horizon: 2.5%, 10%, 90%, 97.5%. */
enum { Q_LO95, Q_LO80, Q_HI80, Q_HI95, Q_COUNT };
static const double quant_p[Q_COUNT] = {0.025, 0.10, 0.90, 0.975};

struct cand {
	double alpha, phi;
	double lclip;  /* level innovations clipped at lclip scales */
	bool dev_clip; /* clip the deviation carried forward at CLIP_K scales */
	bool shifts;   /* SHIFT_RUN clipped values in a row move the level to them */
	int season;    /* index into the profiles: -1 none */
};

/* A seasonal profile offered to the backtest: daily or weekly, raw or
 * smoothed over neighbouring phases. */
#define PROFILES_MAX 4
struct profile {
	size_t m, w;
	double *val; /* from the values before the backtest origins */
	bool usable; /* explains enough variance */
};

struct state {
	double level, dev, scale;
	/* the latest run of innovations clipped on the same side */
	int run_sign;
	int run_len;
	double run_z[SHIFT_RUN];
};

struct forecast_model {
	struct cand c;
	struct state st;
	size_t t;	  /* index of the next value */
	size_t horizon;	  /* fitted horizon */
	size_t season;	  /* steps; 0 none */
	double *profile;  /* season values, by t % season */
	double scale_min; /* floor of the robust scale */
	double norm_min;  /* floor of the scale that normalizes errors */
	bool nonneg;
	bool random_walk; /* too little history: naive + sigma * sqrt(k) */
	double rw_sigma;
	double *q; /* horizon * Q_COUNT normalized error quantiles */
};

/* ---------------------------------------------------------------------- */
/* Small helpers                                                          */
/* ---------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of v[0..n) (reorders v). n >= 1. */
static double median_inplace(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Linear-interpolated quantile of sorted v[0..n). */
static double quantile_sorted(const double *v, size_t n, double p)
{
	double pos = p * (double)(n - 1);
	size_t i = (size_t)pos;
	double f = pos - (double)i;

	if (i + 1 >= n)
		return v[n - 1];
	return v[i] + f * (v[i + 1] - v[i]);
}

static double clip(double x, double lim)
{
	return x > lim ? lim : x < -lim ? -lim : x;
}

/* ---------------------------------------------------------------------- */
/* The filter                                                             */
/* ---------------------------------------------------------------------- */

/* The state before the first value: level at the first (deseasonalized)
 * value, scale the mean absolute difference of the first 50 values. */
static void state_init(struct state *st, const double *y, size_t n, const double *prof, size_t m,
		       double scale_min)
{
	double sum = 0;
	size_t k = n < 50 ? n : 50;

	memset(st, 0, sizeof(*st));
	st->level = y[0] - (m ? prof[0] : 0);
	for (size_t i = 1; i < k; i++)
		sum += fabs(y[i] - y[i - 1]);
	st->scale = k > 1 ? sum / (double)(k - 1) : 0;
	if (st->scale < scale_min)
		st->scale = scale_min;
}

/* One observation z (deseasonalized) into the state. */
static void state_step(struct state *st, const struct cand *c, double z, double scale_min)
{
	double e = z - st->level;
	double lim = CLIP_K * st->scale;
	double llim = c->lclip * st->scale;
	int sign = e > lim ? 1 : e < -lim ? -1 : 0;

	if (sign && sign == st->run_sign) {
		if (st->run_len < SHIFT_RUN)
			st->run_z[st->run_len++] = z;
	} else {
		st->run_sign = sign;
		st->run_len = sign ? 1 : 0;
		st->run_z[0] = z;
	}
	if (c->shifts && st->run_len == SHIFT_RUN) {
		double v[SHIFT_RUN];

		memcpy(v, st->run_z, sizeof(v));
		st->level = median_inplace(v, SHIFT_RUN);
		st->run_len = 0;
		st->run_sign = 0;
	} else {
		st->level += c->alpha * clip(e, llim);
	}
	st->scale = (1 - SCALE_BETA) * st->scale + SCALE_BETA * fmin(fabs(e), lim);
	if (st->scale < scale_min)
		st->scale = scale_min;
	e = z - st->level;
	st->dev = c->dev_clip ? clip(e, CLIP_K * st->scale) : e;
}

/* Point forecast k steps ahead (k >= 1) from a state at index t (the
 * index of the next value is t). */
static double point_at(const struct state *st, const struct cand *c, const double *profile,
		       size_t season, size_t t_next, size_t k, bool nonneg)
{
	double f = st->level + pow(c->phi, (double)k) * st->dev;

	if (season)
		f += profile[(t_next + k - 1) % season];
	if (nonneg && f < 0)
		f = 0;
	return f;
}

/* ---------------------------------------------------------------------- */
/* Seasonal profiles                                                      */
/* ---------------------------------------------------------------------- */

/*
 * The profile of season m from the whole seasons that end at index end:
 * in each season, each value's deviation from that season's median,
 * averaged over +-w neighbouring phases (w 0 keeps a job that runs at the
 * same minute every day; a wider w smooths a noisy daily curve); then per phase the median over
 * the seasons, centred on its median. Writes prof[m]; returns the share
 * of the deviations' variance the profile explains, or -1 when there are
 * fewer than SEASONS_MIN seasons. work holds 2 * m * SEASONS_USED doubles.
 */
static double build_profile(const double *y, size_t end, size_t m, size_t w, double *prof,
			    double *work)
{
	size_t d_count = end / m;
	double *dev, *col, var_all = 0, var_res = 0, mean, mad;

	if (d_count < SEASONS_MIN)
		return -1;
	if (d_count > SEASONS_USED)
		d_count = SEASONS_USED;
	dev = work;		       /* d_count * m deviations, phase-ordered */
	col = work + SEASONS_USED * m; /* scratch */
	for (size_t d = 0; d < d_count; d++) {
		size_t start = end - (d + 1) * m;
		double med;

		memcpy(col, y + start, m * sizeof(double));
		med = median_inplace(col, m);
		for (size_t i = 0; i < m; i++)
			dev[d * m + (start + i) % m] = y[start + i] - med;
	}
	for (size_t p = 0; p < m; p++) {
		for (size_t d = 0; d < d_count; d++) {
			double s = 0;

			for (size_t j = 0; j <= 2 * w; j++)
				s += dev[d * m + (p + m + j - w) % m];
			col[d] = s / (double)(2 * w + 1);
		}
		prof[p] = median_inplace(col, d_count);
	}
	memcpy(col, prof, m * sizeof(double));
	mean = median_inplace(col, m);
	for (size_t p = 0; p < m; p++)
		prof[p] -= mean;
	/* Explained variance, on the same deviations, each clipped at 5 MADs
	 * so that one spike does not decide it. */
	for (size_t i = 0; i < d_count * m; i++)
		col[i] = fabs(dev[i]);
	mad = median_inplace(col, d_count * m) * 1.4826;
	if (mad <= 0)
		mad = 1e-12;
	for (size_t i = 0; i < d_count * m; i++) {
		double a = clip(dev[i], 5 * mad), r = clip(dev[i] - prof[i % m], 5 * mad);

		var_all += a * a;
		var_res += r * r;
	}
	if (var_all <= 0)
		return 0;
	return 1 - var_res / var_all;
}

/* ---------------------------------------------------------------------- */
/* Backtest                                                               */
/* ---------------------------------------------------------------------- */

struct series {
	const double *y;
	size_t n;
	size_t h;
	size_t v0, stride; /* backtest origins: v0, v0 + stride, ... < n - 1 */
	double scale_min;
	double norm_min; /* errors are divided by max(scale, norm_min) */
	bool nonneg;
};

/*
 * Runs candidate c over s->y with profile prof (season m, NULL/0 for none)
 * and returns the mean absolute error over the backtest origins and
 * horizons. If errs is not NULL, stores each error divided by the scale
 * at its origin: errs[k * nslots + slot], counts in cnt[k].
 */
static double backtest(const struct series *s, const struct cand *c, const double *prof, size_t m,
		       double *errs, size_t nslots, size_t *cnt)
{
	struct state st;
	double sum = 0;
	size_t count = 0, slot = 0;

	state_init(&st, s->y, s->n, prof, m, s->scale_min);
	for (size_t t = 0; t < s->n; t++) {
		double z = s->y[t] - (m ? prof[t % m] : 0);

		state_step(&st, c, z, s->scale_min);
		if (t < s->v0 || (t - s->v0) % s->stride || t + 1 >= s->n)
			continue;
		for (size_t k = 1; k <= s->h && t + k < s->n; k++) {
			double f = point_at(&st, c, prof, m, t + 1, k, s->nonneg);
			double e = s->y[t + k] - f;

			sum += fabs(e);
			count++;
			if (errs) {
				errs[(k - 1) * nslots + slot] = e / fmax(st.scale, s->norm_min);
				cnt[k - 1]++;
			}
		}
		slot++;
	}
	return count ? sum / (double)count : INFINITY;
}

/* ---------------------------------------------------------------------- */
/* Fit                                                                    */
/* ---------------------------------------------------------------------- */

struct forecast_model *forecast_model_free(struct forecast_model *m)
{
	if (!m)
		return NULL;
	free(m->profile);
	free(m->q);
	free(m);
	return NULL;
}

static size_t season_steps(double step_s, double period_s)
{
	double m;

	if (!(step_s > 0))
		return 0;
	m = period_s / step_s;
	if (fabs(m - round(m)) > 1e-6 || m < 2 || m > FORECAST_SEASON_MAX)
		return 0;
	return (size_t)round(m);
}

/* Naive with random-walk intervals, for too little history. */
static int fit_random_walk(struct forecast_model *m, const double *y, size_t n)
{
	double mean = 0, ss = 0;

	m->random_walk = true;
	m->c = (struct cand){
	    .alpha = 1, .phi = 1, .lclip = CLIP_K, .dev_clip = false, .shifts = true, .season = -1};
	m->st.level = y[n - 1];
	if (n > 2) {
		for (size_t i = 1; i < n; i++)
			mean += y[i] - y[i - 1];
		mean /= (double)(n - 1);
		for (size_t i = 1; i < n; i++)
			ss += (y[i] - y[i - 1] - mean) * (y[i] - y[i - 1] - mean);
		m->rw_sigma = sqrt(ss / (double)(n - 2));
	} else if (n == 2) {
		m->rw_sigma = fabs(y[1] - y[0]);
	}
	return 0;
}

/* Quantiles per horizon from the collected errors; horizons with too few
 * errors borrow from the last one that had enough. */
static void fill_quantiles(struct forecast_model *m, double *errs, size_t nslots, const size_t *cnt)
{
	size_t k0 = 0;

	for (size_t k = 0; k < m->horizon; k++) {
		double *q = m->q + k * Q_COUNT;

		if (cnt[k] >= QUANT_MIN_N) {
			qsort(errs + k * nslots, cnt[k], sizeof(double), cmp_double);
			for (int i = 0; i < Q_COUNT; i++)
				q[i] = QUANT_WIDEN *
				       quantile_sorted(errs + k * nslots, cnt[k], quant_p[i]);
			k0 = k + 1;
		} else if (k0) {
			double f = sqrt((double)(k + 1) / (double)k0);

			for (int i = 0; i < Q_COUNT; i++)
				q[i] = m->q[(k0 - 1) * Q_COUNT + i] * f;
		} else {
			/* no horizon had enough: Gaussian on the scale (1.25
			 * converts a mean absolute deviation to a sd) */
			double sd = 1.25 * sqrt((double)(k + 1));

			q[Q_LO95] = -Z95 * sd;
			q[Q_LO80] = -Z80 * sd;
			q[Q_HI80] = Z80 * sd;
			q[Q_HI95] = Z95 * sd;
		}
	}
}

int forecast_model_fit(const double *y, size_t n, const struct forecast_options *o,
		       struct forecast_model **ret, char *err, size_t errlen)
{
	struct forecast_model *m;
	struct series s = {0};
	struct profile profs[PROFILES_MAX] = {0};
	size_t seasons[2], nseason = 0, nprof = 0, m_max = 0, nslots;
	double *work = NULL;
	double *errs = NULL, best = INFINITY, absmean = 0;
	size_t *cnt = NULL;
	struct cand bestc = {0};
	int rc = -ENOMEM;

	if (!y || n == 0 || !o)
		return error_set(err, errlen, -EINVAL, "forecast: no history");
	if (o->horizon < 1 || o->horizon > FORECAST_HORIZON_MAX)
		return error_set(err, errlen, -EINVAL, "forecast: horizon %zu is not 1..%d",
				 o->horizon, FORECAST_HORIZON_MAX);
	for (size_t i = 0; i < n; i++)
		if (!isfinite(y[i]))
			return error_set(err, errlen, -EINVAL,
					 "forecast: value %zu of the history is not finite", i);
	if (n > FORECAST_HISTORY_MAX) {
		y += n - FORECAST_HISTORY_MAX;
		n = FORECAST_HISTORY_MAX;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return error_set(err, errlen, -ENOMEM, "forecast: out of memory");
	m->horizon = o->horizon;
	m->t = n;
	m->q = calloc(o->horizon * Q_COUNT, sizeof(double));
	if (!m->q)
		goto nomem;
	m->nonneg = true;
	for (size_t i = 0; i < n; i++) {
		if (y[i] < 0)
			m->nonneg = false;
		absmean += fabs(y[i]);
	}
	absmean /= (double)n;
	m->scale_min = 1e-9 * absmean + 1e-12;
	/* On a series that idles at one value the robust scale collapses to
	 * its floor, and errors divided by it would explode the quantiles:
	 * normalize by at least a tenth of the mean absolute step change. */
	{
		double mad1 = 0;

		for (size_t i = 1; i < n; i++)
			mad1 += fabs(y[i] - y[i - 1]);
		m->norm_min = n > 1 ? 0.1 * mad1 / (double)(n - 1) : 0;
		if (m->norm_min < m->scale_min)
			m->norm_min = m->scale_min;
	}
	if (n < MIN_FIT) {
		fit_random_walk(m, y, n);
		*ret = m;
		return 0;
	}

	s = (struct series){.y = y,
			    .n = n,
			    .h = o->horizon,
			    .scale_min = m->scale_min,
			    .norm_min = m->norm_min,
			    .nonneg = m->nonneg};
	{
		size_t v = n / 2 < VALID_MAX ? n / 2 : VALID_MAX;

		s.v0 = n - v;
		s.stride = (v * o->horizon + VALID_WORK - 1) / VALID_WORK;
		if (s.stride < 1)
			s.stride = 1;
	}
	if (o->allow_season) {
		size_t day = season_steps(o->step_s, 86400), week = season_steps(o->step_s, 604800);

		if (day && s.v0 >= SEASONS_MIN * day)
			seasons[nseason++] = day;
		if (week && s.v0 >= SEASONS_MIN * week)
			seasons[nseason++] = week;
	}
	for (size_t i = 0; i < nseason; i++)
		if (seasons[i] > m_max)
			m_max = seasons[i];
	if (nseason) {
		work = malloc(2 * SEASONS_USED * m_max * sizeof(double));
		if (!work)
			goto nomem;
	}
	for (size_t i = 0; i < nseason; i++) {
		for (int smooth = 0; smooth < 2; smooth++) {
			struct profile *pr = &profs[nprof];

			pr->m = seasons[i];
			pr->w = smooth ? seasons[i] / 144 : 0;
			if (smooth && pr->w == 0)
				continue;
			pr->val = calloc(pr->m, sizeof(double));
			if (!pr->val)
				goto nomem;
			nprof++;
			/* the backtest's profile only sees the values before it */
			pr->usable =
			    build_profile(y, s.v0, pr->m, pr->w, pr->val, work) >= SEASON_R2_MIN;
		}
	}

	for (int si = -1; si < (int)nprof; si++) {
		const double *prof = si >= 0 ? profs[si].val : NULL;
		size_t sm = si >= 0 ? profs[si].m : 0;

		if (si >= 0 && !profs[si].usable)
			continue;
		for (size_t ai = 0; ai < sizeof(alphas) / sizeof(alphas[0]); ai++) {
			for (size_t pi = 0; pi < sizeof(phis) / sizeof(phis[0]); pi++) {
				for (int v = 0; v < 8; v++) {
					struct cand c = {.alpha = alphas[ai],
							 .phi = phis[pi],
							 .lclip = lclips[v & 1],
							 .dev_clip = v & 2,
							 .shifts = !(v & 4),
							 .season = si};
					double mae;

					/* the deviation is irrelevant at phi 0, and
					 * phi 1 unclipped is the naive forecast
					 * whatever the level does */
					if (phis[pi] == 0 && c.dev_clip)
						continue;
					if (phis[pi] == 1 && !c.dev_clip && (ai > 0 || v))
						continue;
					mae = backtest(&s, &c, prof, sm, NULL, 0, NULL);
					if (!c.shifts)
						mae *= NO_SHIFT_MARGIN;
					if (mae < best) {
						best = mae;
						bestc = c;
					}
				}
			}
		}
	}
	m->c = bestc;

	/* The winner's backtest errors give the intervals. */
	nslots = (n - s.v0 + s.stride - 1) / s.stride + 1;
	errs = malloc(nslots * o->horizon * sizeof(double));
	cnt = calloc(o->horizon, sizeof(size_t));
	if (!errs || !cnt)
		goto nomem;
	if (bestc.season >= 0) {
		struct profile *pr = &profs[bestc.season];

		m->season = pr->m;
		backtest(&s, &bestc, pr->val, pr->m, errs, nslots, cnt);
		/* the final profile sees all of the history */
		m->profile = calloc(pr->m, sizeof(double));
		if (!m->profile)
			goto nomem;
		build_profile(y, n, pr->m, pr->w, m->profile, work);
	} else {
		backtest(&s, &bestc, NULL, 0, errs, nslots, cnt);
	}
	fill_quantiles(m, errs, nslots, cnt);

	/* The state after the last value, under the final profile. */
	state_init(&m->st, y, n, m->profile, m->season, m->scale_min);
	for (size_t t = 0; t < n; t++)
		state_step(&m->st, &m->c, y[t] - (m->season ? m->profile[t % m->season] : 0),
			   m->scale_min);
	rc = 0;
	*ret = m;
	m = NULL;
	goto out;
nomem:
	rc = error_set(err, errlen, -ENOMEM, "forecast: out of memory");
out:
	for (size_t i = 0; i < nprof; i++)
		free(profs[i].val);
	free(work);
	free(errs);
	free(cnt);
	forecast_model_free(m);
	return rc;
}

int forecast_model_update(struct forecast_model *m, double y)
{
	double z;

	if (!m || !isfinite(y))
		return -EINVAL;
	if (y < 0)
		m->nonneg = false;
	if (m->random_walk) {
		m->st.level = y;
		m->t++;
		return 0;
	}
	z = y - (m->season ? m->profile[m->t % m->season] : 0);
	state_step(&m->st, &m->c, z, m->scale_min);
	m->t++;
	return 0;
}

int forecast_model_predict(const struct forecast_model *m, size_t h, struct forecast_point *out)
{
	if (!m || !out || h < 1 || h > m->horizon)
		return -EINVAL;
	for (size_t k = 1; k <= h; k++) {
		struct forecast_point *p = &out[k - 1];

		if (m->random_walk) {
			double sd = m->rw_sigma * sqrt((double)k);

			p->forecast = m->st.level;
			p->lo95 = p->forecast - Z95 * sd;
			p->lo80 = p->forecast - Z80 * sd;
			p->hi80 = p->forecast + Z80 * sd;
			p->hi95 = p->forecast + Z95 * sd;
		} else {
			const double *q = m->q + (k - 1) * Q_COUNT;
			double s = fmax(m->st.scale, m->norm_min);

			p->forecast =
			    point_at(&m->st, &m->c, m->profile, m->season, m->t, k, m->nonneg);
			p->lo95 = p->forecast + q[Q_LO95] * s;
			p->lo80 = p->forecast + q[Q_LO80] * s;
			p->hi80 = p->forecast + q[Q_HI80] * s;
			p->hi95 = p->forecast + q[Q_HI95] * s;
		}
		/* nested, around the point, and never of zero width: a series
		 * forecast exactly is still compared with printed numbers */
		{
			double eps = 1e-8 * fabs(p->forecast) + m->scale_min;

			p->lo95 -= eps;
			p->lo80 -= eps;
			p->hi80 += eps;
			p->hi95 += eps;
		}
		p->lo80 = fmin(p->lo80, p->forecast);
		p->hi80 = fmax(p->hi80, p->forecast);
		p->lo95 = fmin(p->lo95, p->lo80);
		p->hi95 = fmax(p->hi95, p->hi80);
		if (m->nonneg) {
			p->lo95 = fmax(p->lo95, 0);
			p->lo80 = fmax(p->lo80, 0);
		}
	}
	return 0;
}

const char *forecast_model_describe(const struct forecast_model *m, char *buf, size_t len)
{
	if (!m) {
		snprintf(buf, len, "none");
	} else if (m->random_walk) {
		snprintf(buf, len, "naive (short history)");
	} else if (m->c.phi == 1 && !m->c.dev_clip && !m->season) {
		snprintf(buf, len, "naive");
	} else {
		snprintf(buf, len, "level a=%g clip=%g%s phi=%g%s season=%zu", m->c.alpha,
			 m->c.lclip, m->c.shifts ? " shifts" : "", m->c.phi,
			 m->c.dev_clip ? " clipped" : "", m->season);
	}
	return buf;
}

size_t forecast_model_season(const struct forecast_model *m)
{
	return m ? m->season : 0;
}

/* ---------------------------------------------------------------------- */
/* Regular grids                                                          */
/* ---------------------------------------------------------------------- */

int forecast_regularize(const double *t, const double *v, size_t n, size_t max_n, double **ret_y,
			size_t *ret_n, double *ret_step_s, double *ret_t_last, size_t *ret_filled,
			char *err, size_t errlen)
{
	double *d = NULL, *y = NULL, step = 0, tmax;
	size_t nd = 0, best = 0, slots, filled = 0, last_slot = 0;
	bool *have = NULL;
	int rc;

	if (n < 2)
		return error_set(err, errlen, -EINVAL, "need at least 2 rows to infer the step");
	d = malloc((n - 1) * sizeof(double));
	if (!d)
		return error_set(err, errlen, -ENOMEM, "out of memory");
	for (size_t i = 1; i < n; i++)
		if (t[i] > t[i - 1])
			d[nd++] = t[i] - t[i - 1];
	if (nd == 0) {
		free(d);
		return error_set(err, errlen, -EINVAL, "timestamps never increase: no step");
	}
	qsort(d, nd, sizeof(double), cmp_double);
	for (size_t i = 0, j; i < nd; i = j) {
		for (j = i; j < nd && d[j] == d[i]; j++)
			;
		if (j - i > best) {
			best = j - i;
			step = d[i];
		}
	}
	free(d);
	tmax = t[0];
	for (size_t i = 1; i < n; i++)
		if (t[i] > tmax)
			tmax = t[i];
	if ((tmax - t[0]) / step + 1 > (double)max_n)
		return error_set(err, errlen, -EINVAL,
				 "the rows span %.0f steps of %gs, more than the limit of %zu",
				 (tmax - t[0]) / step + 1, step, max_n);
	slots = (size_t)llround((tmax - t[0]) / step) + 1;
	y = calloc(slots, sizeof(double));
	have = calloc(slots, sizeof(bool));
	if (!y || !have) {
		rc = error_set(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	tmax = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		size_t k;

		if (!(t[i] > tmax)) /* repeated or backward: dropped */
			continue;
		tmax = t[i];
		k = (size_t)llround((t[i] - t[0]) / step);
		if (k >= slots || have[k])
			continue;
		y[k] = v[i];
		have[k] = true;
		last_slot = k;
	}
	slots = last_slot + 1;
	for (size_t k = 0, prev = 0; k < slots; k++) {
		size_t next;

		if (have[k]) {
			prev = k;
			continue;
		}
		for (next = k + 1; !have[next]; next++)
			;
		y[k] = y[prev] + (y[next] - y[prev]) * (double)(k - prev) / (double)(next - prev);
		filled++;
	}
	if (filled * 2 > slots) {
		rc = error_set(err, errlen, -EINVAL,
			       "%zu of %zu steps of %gs have no row: too irregular to forecast",
			       filled, slots, step);
		goto fail;
	}
	free(have);
	*ret_y = y;
	*ret_n = slots;
	*ret_step_s = step;
	*ret_t_last = t[0] + (double)(slots - 1) * step;
	if (ret_filled)
		*ret_filled = filled;
	return 0;
fail:
	free(y);
	free(have);
	return rc;
}
