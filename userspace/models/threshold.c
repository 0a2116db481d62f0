// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * threshold.c - Theil-Sen trends, time-to-threshold and the tracker that
 * watches filesystems, memory, swap and configured limits (see
 * threshold.h).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/threshold.h"
#include "util/error.h"

#define Z95 1.959963984540054

static const char *const kind_names[] = {
    [THRESHOLD_FILESYSTEM_FULL] = "filesystem_full",
    [THRESHOLD_MEMORY_EXHAUSTED] = "memory_exhausted",
    [THRESHOLD_SWAP_EXHAUSTED] = "swap_exhausted",
    [THRESHOLD_LIMIT] = "limit",
};

const char *threshold_kind_name(enum threshold_kind kind)
{
	return (unsigned)kind < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[kind]
									   : "unknown";
}

/* The rules every tracker has: falling to zero. */
static const struct threshold_rule builtin_rules[] = {
    {THRESHOLD_FILESYSTEM_FULL, "kpulse_filesystem_avail_bytes", false, 0},
    {THRESHOLD_MEMORY_EXHAUSTED, "kpulse_mem_available_bytes", false, 0},
    {THRESHOLD_SWAP_EXHAUSTED, "kpulse_mem_swap_free_bytes", false, 0},
};
#define BUILTIN_COUNT (sizeof(builtin_rules) / sizeof(builtin_rules[0]))

/* ---------------------------------------------------------------------- */
/* Trend and time to the limit                                            */
/* ---------------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median_sorted(const double *v, size_t n)
{
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int threshold_fit_trend(const double *t, const double *v, size_t n, struct threshold_trend *ret)
{
	/* at most THRESHOLD_FIT_POINTS points, evenly thinned, always with
	 * the last one */
	double tt[THRESHOLD_FIT_POINTS], vv[THRESHOLD_FIT_POINTS];
	double *slopes, *resid, c, m1, m2;
	size_t m, np = 0;
	long lo, hi;
	struct threshold_trend tr = {0};

	if (!t || !v || n < 3)
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(t[i]) || !isfinite(v[i]))
			return -EINVAL;
	if (!(t[n - 1] > t[0]))
		return -EINVAL;
	m = n < THRESHOLD_FIT_POINTS ? n : THRESHOLD_FIT_POINTS;
	for (size_t i = 0; i < m; i++) {
		size_t k =
		    m == n ? i : (size_t)llround((double)i * (double)(n - 1) / (double)(m - 1));

		tt[i] = t[k] - t[n - 1]; /* relative: no precision lost to 1.7e9 */
		vv[i] = v[k];
	}
	slopes = malloc(m * (m - 1) / 2 * sizeof(double));
	resid = malloc(m * sizeof(double));
	if (!slopes || !resid) {
		free(slopes);
		free(resid);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m; i++)
		for (size_t j = i + 1; j < m; j++)
			if (tt[j] > tt[i])
				slopes[np++] = (vv[j] - vv[i]) / (tt[j] - tt[i]);
	if (np == 0) {
		free(slopes);
		free(resid);
		return -EINVAL;
	}
	qsort(slopes, np, sizeof(double), cmp_double);
	tr.slope = median_sorted(slopes, np);
	/* Sen's interval: ranks (N -+ z sqrt(Var S)) / 2 of the sorted slopes */
	c = Z95 * sqrt((double)m * (double)(m - 1) * (double)(2 * m + 5) / 18.0);
	m1 = ((double)np - c) / 2.0;
	m2 = ((double)np + c) / 2.0;
	lo = lround(m1) - 1;
	hi = lround(m2);
	lo = lo < 0 ? 0 : lo;
	hi = hi > (long)np - 1 ? (long)np - 1 : hi;
	tr.slope_lo = slopes[lo];
	tr.slope_hi = slopes[hi];
	for (size_t i = 0; i < m; i++)
		resid[i] = vv[i] - tr.slope * tt[i];
	qsort(resid, m, sizeof(double), cmp_double);
	tr.level = median_sorted(resid, m); /* the line at tt = 0, the last sample */
	tr.t_last = t[n - 1];
	tr.points = m;
	free(slopes);
	free(resid);
	*ret = tr;
	return 0;
}

void threshold_eta(const struct threshold_trend *tr, double limit, bool rising,
		   struct threshold_eta *ret)
{
	/* mirror a rising crossing into a falling one */
	double sign = rising ? -1 : 1;
	double level = sign * tr->level, lim = sign * limit;
	double slope = sign * tr->slope;
	double steep = rising ? -tr->slope_hi : tr->slope_lo; /* most negative */
	double shallow = rising ? -tr->slope_lo : tr->slope_hi;
	struct threshold_eta e = {.eta_hi_s = INFINITY};

	if (level <= lim) {
		e.heading = true;
		e.significant = true;
		e.eta_s = e.eta_lo_s = e.eta_hi_s = 0;
	} else if (slope < 0) {
		e.heading = true;
		e.eta_s = (lim - level) / slope;
		e.eta_lo_s = steep < 0 ? (lim - level) / steep : e.eta_s;
		if (shallow < 0) {
			e.significant = true;
			e.eta_hi_s = (lim - level) / shallow;
		}
	} else {
		e.eta_s = e.eta_lo_s = INFINITY;
	}
	*ret = e;
}

int threshold_parse_limits(const char *spec, struct threshold_rule **ret, size_t *ret_n, char *err,
			   size_t errlen)
{
	struct threshold_rule *rules = NULL;
	size_t n = 0;
	const char *p = spec;

	if (!spec || !*spec) {
		*ret = NULL;
		*ret_n = 0;
		return 0;
	}
	rules = calloc(THRESHOLD_LIMITS_MAX, sizeof(*rules));
	if (!rules)
		return error_set(err, errlen, -ENOMEM, "out of memory");
	while (*p) {
		const char *end = strchr(p, ','), *op;
		size_t len = end ? (size_t)(end - p) : strlen(p), name_len;
		char item[REGISTRY_NAME_MAX + 64], *num_end;
		double limit;

		if (len == 0 || len >= sizeof(item)) {
			error_set(err, errlen, -EINVAL,
				  "limit %zu: \"%.*s\" is not NAME>LIMIT or "
				  "NAME<LIMIT",
				  n + 1, (int)(len < 64 ? len : 64), p);
			goto fail;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		op = strpbrk(item, "<>");
		if (n == THRESHOLD_LIMITS_MAX) {
			error_set(err, errlen, -EINVAL, "more than %d limits",
				  THRESHOLD_LIMITS_MAX);
			goto fail;
		}
		name_len = op ? (size_t)(op - item) : 0;
		if (!op || name_len == 0 || name_len >= REGISTRY_NAME_MAX) {
			error_set(err, errlen, -EINVAL,
				  "limit \"%s\" is not NAME>LIMIT or NAME<LIMIT", item);
			goto fail;
		}
		memcpy(rules[n].series, item, name_len);
		rules[n].series[name_len] = '\0';
		if (!metric_name_valid(rules[n].series)) {
			error_set(err, errlen, -EINVAL, "limit \"%s\": \"%s\" is not a metric name",
				  item, rules[n].series);
			goto fail;
		}
		errno = 0;
		limit = strtod(op + 1, &num_end);
		if (op[1] == '\0' || *num_end != '\0' || errno || !isfinite(limit) ||
		    strpbrk(op + 1, " \txXnNiI")) {
			error_set(err, errlen, -EINVAL, "limit \"%s\": \"%s\" is not a number",
				  item, op + 1);
			goto fail;
		}
		rules[n].kind = THRESHOLD_LIMIT;
		rules[n].rising = *op == '>';
		rules[n].limit = limit;
		n++;
		p += len;
		if (*p == ',') {
			p++;
			if (!*p) {
				error_set(err, errlen, -EINVAL, "limits end with a comma");
				goto fail;
			}
		}
	}
	*ret = rules;
	*ret_n = n;
	return 0;
fail:
	free(rules);
	return -EINVAL;
}

/* ---------------------------------------------------------------------- */
/* The tracker                                                            */
/* ---------------------------------------------------------------------- */

struct target {
	size_t rule;
	struct metric_series id; /* name and labels (value unused) */
	double *t, *v;		 /* ring of cap samples */
	size_t head, count;
	double last_seen;
	bool fitted;
	struct threshold_trend trend;
	struct threshold_eta eta;
};

struct threshold_tracker {
	struct threshold_options o;
	struct threshold_rule *rules;
	size_t nrules;
	struct target *targets;
	size_t ntargets, cap;
	double *scratch_t, *scratch_v;

	pthread_mutex_t lock; /* guards published, alerts and horizon_s */
	json_t *published;
	size_t alerts;
	double horizon_s;
};

struct threshold_tracker *threshold_tracker_free(struct threshold_tracker *tr)
{
	if (!tr)
		return NULL;
	for (size_t i = 0; i < tr->ntargets; i++) {
		free(tr->targets[i].t);
		free(tr->targets[i].v);
	}
	free(tr->targets);
	free(tr->rules);
	free(tr->scratch_t);
	free(tr->scratch_v);
	json_decref(tr->published);
	pthread_mutex_destroy(&tr->lock);
	free(tr);
	return NULL;
}

struct threshold_tracker *threshold_tracker_new(const struct threshold_options *o,
						const struct threshold_rule *limits, size_t nlimits)
{
	struct threshold_tracker *tr;

	if (!o || !(o->sample_every_s > 0) || !(o->window_s >= 2 * o->sample_every_s) ||
	    !(o->min_span_s >= 0) || !(o->horizon_s > 0) || o->max_targets < 1 ||
	    o->max_targets > THRESHOLD_TARGETS_MAX || nlimits > THRESHOLD_LIMITS_MAX ||
	    o->window_s / o->sample_every_s > 1e6)
		return NULL;
	tr = calloc(1, sizeof(*tr));
	if (!tr)
		return NULL;
	pthread_mutex_init(&tr->lock, NULL);
	tr->o = *o;
	tr->horizon_s = o->horizon_s;
	tr->cap = (size_t)(o->window_s / o->sample_every_s) + 1;
	tr->nrules = BUILTIN_COUNT + nlimits;
	tr->rules = calloc(tr->nrules, sizeof(*tr->rules));
	tr->targets = calloc(o->max_targets, sizeof(*tr->targets));
	tr->scratch_t = malloc(tr->cap * sizeof(double));
	tr->scratch_v = malloc(tr->cap * sizeof(double));
	tr->published = json_array();
	if (!tr->rules || !tr->targets || !tr->scratch_t || !tr->scratch_v || !tr->published)
		return threshold_tracker_free(tr);
	memcpy(tr->rules, builtin_rules, sizeof(builtin_rules));
	if (nlimits)
		memcpy(tr->rules + BUILTIN_COUNT, limits, nlimits * sizeof(*limits));
	return tr;
}

static bool same_labels(const struct metric_series *a, const struct metric_series *b)
{
	if (a->nlabels != b->nlabels)
		return false;
	for (size_t i = 0; i < a->nlabels; i++)
		if (strcmp(a->label_keys[i], b->label_keys[i]) ||
		    strcmp(a->label_values[i], b->label_values[i]))
			return false;
	return true;
}

static struct target *find_target(struct threshold_tracker *tr, size_t rule,
				  const struct metric_series *s)
{
	struct target *tg;

	for (size_t i = 0; i < tr->ntargets; i++)
		if (tr->targets[i].rule == rule && same_labels(&tr->targets[i].id, s))
			return &tr->targets[i];
	if (tr->ntargets == tr->o.max_targets)
		return NULL;
	tg = &tr->targets[tr->ntargets];
	memset(tg, 0, sizeof(*tg));
	tg->t = malloc(tr->cap * sizeof(double));
	tg->v = malloc(tr->cap * sizeof(double));
	if (!tg->t || !tg->v) {
		free(tg->t);
		free(tg->v);
		return NULL;
	}
	tg->rule = rule;
	metric_series_copy(&tg->id, s);
	tr->ntargets++;
	return tg;
}

static void drop_target(struct threshold_tracker *tr, size_t i)
{
	free(tr->targets[i].t);
	free(tr->targets[i].v);
	tr->targets[i] = tr->targets[--tr->ntargets];
}

/* Adds a sample if sample_every_s has passed; refits. */
static void target_add(struct threshold_tracker *tr, struct target *tg, double t, double v)
{
	size_t first, n = 0;

	tg->last_seen = t;
	if (tg->count && t < tg->t[(tg->head + tr->cap - 1) % tr->cap] + tr->o.sample_every_s)
		return;
	tg->t[tg->head] = t;
	tg->v[tg->head] = v;
	tg->head = (tg->head + 1) % tr->cap;
	if (tg->count < tr->cap)
		tg->count++;
	/* copy the window in time order, dropping what is older than it */
	first = (tg->head + tr->cap - tg->count) % tr->cap;
	for (size_t i = 0; i < tg->count; i++) {
		size_t k = (first + i) % tr->cap;

		if (tg->t[k] < t - tr->o.window_s)
			continue;
		tr->scratch_t[n] = tg->t[k];
		tr->scratch_v[n] = tg->v[k];
		n++;
	}
	tg->fitted = false;
	if (n < 3 || tr->scratch_t[n - 1] - tr->scratch_t[0] < tr->o.min_span_s)
		return;
	if (threshold_fit_trend(tr->scratch_t, tr->scratch_v, n, &tg->trend) == 0) {
		const struct threshold_rule *r = &tr->rules[tg->rule];

		threshold_eta(&tg->trend, r->limit, r->rising, &tg->eta);
		tg->fitted = true;
	}
}

static json_t *num_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *prediction_json(const struct threshold_tracker *tr, const struct target *tg,
			       bool alert, double horizon_s)
{
	const struct threshold_rule *r = &tr->rules[tg->rule];
	const struct threshold_eta *e = &tg->eta;
	json_t *labels = json_object(), *o;

	for (size_t i = 0; labels && i < tg->id.nlabels; i++)
		json_object_set_new(labels, tg->id.label_keys[i],
				    json_string(tg->id.label_values[i]));
	o = json_pack("{s:s, s:s, s:o, s:f, s:f, s:f, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b, "
		      "s:f, s:I, s:f}",
		      "kind", threshold_kind_name(r->kind), "series", tg->id.name, "labels",
		      labels ? labels : json_object(), "limit", r->limit, "current",
		      tg->trend.level, "rate_per_s", tg->trend.slope, "eta_s",
		      num_or_null(e->eta_s), "eta_lo_s", num_or_null(e->eta_lo_s), "eta_hi_s",
		      num_or_null(e->eta_hi_s), "predicted_at",
		      num_or_null(tg->trend.t_last + e->eta_s), "predicted_at_lo",
		      num_or_null(tg->trend.t_last + e->eta_lo_s), "predicted_at_hi",
		      num_or_null(tg->trend.t_last + e->eta_hi_s), "significant",
		      (int)e->significant, "alert", (int)alert, "window_s", tr->o.window_s,
		      "points", (json_int_t)tg->trend.points, "horizon_s", horizon_s);
	return o;
}

static int cmp_eta(const void *a, const void *b)
{
	const struct target *x = *(const struct target *const *)a;
	const struct target *y = *(const struct target *const *)b;

	return (x->eta.eta_s > y->eta.eta_s) - (x->eta.eta_s < y->eta.eta_s);
}

static void publish(struct threshold_tracker *tr)
{
	const struct target **order = malloc((tr->ntargets + 1) * sizeof(*order));
	json_t *arr = json_array();
	size_t n = 0, alerts = 0;
	double horizon_s;

	if (!order || !arr) {
		free(order);
		json_decref(arr);
		return; /* keep the previous predictions */
	}
	for (size_t i = 0; i < tr->ntargets; i++)
		if (tr->targets[i].fitted && tr->targets[i].eta.heading)
			order[n++] = &tr->targets[i];
	qsort(order, n, sizeof(*order), cmp_eta);
	pthread_mutex_lock(&tr->lock);
	horizon_s = tr->horizon_s;
	pthread_mutex_unlock(&tr->lock);
	for (size_t i = 0; i < n; i++) {
		bool alert = order[i]->eta.significant && order[i]->eta.eta_s <= horizon_s;

		alerts += alert;
		json_array_append_new(arr, prediction_json(tr, order[i], alert, horizon_s));
	}
	free(order);
	pthread_mutex_lock(&tr->lock);
	json_decref(tr->published);
	tr->published = arr;
	tr->alerts = alerts;
	pthread_mutex_unlock(&tr->lock);
}

void threshold_tracker_observe(struct threshold_tracker *tr, const struct registry *reg, double t)
{
	const struct metric_series *swap_total;
	bool swap_on;

	if (!tr || !reg || !isfinite(t))
		return;
	swap_total = registry_find(reg, "kpulse_mem_swap_total_bytes", NULL, 0);
	swap_on = swap_total && swap_total->value > 0;
	for (size_t i = 0; i < registry_size(reg); i++) {
		const struct metric_series *s = registry_at(reg, i);

		if (!s || s->type == METRIC_HISTOGRAM || !isfinite(s->value))
			continue;
		for (size_t r = 0; r < tr->nrules; r++) {
			struct target *tg;

			if (strcmp(s->name, tr->rules[r].series) != 0)
				continue;
			if (tr->rules[r].kind == THRESHOLD_SWAP_EXHAUSTED && !swap_on)
				continue;
			tg = find_target(tr, r, s);
			if (tg)
				target_add(tr, tg, t, s->value);
		}
	}
	/* series gone for a whole window are forgotten */
	for (size_t i = tr->ntargets; i-- > 0;)
		if (tr->targets[i].last_seen < t - tr->o.window_s)
			drop_target(tr, i);
	publish(tr);
}

json_t *threshold_tracker_predictions(struct threshold_tracker *tr)
{
	json_t *copy;

	if (!tr)
		return json_array();
	pthread_mutex_lock(&tr->lock);
	copy = json_deep_copy(tr->published);
	pthread_mutex_unlock(&tr->lock);
	return copy;
}

void threshold_tracker_set_horizon(struct threshold_tracker *tr, double horizon_s)
{
	if (!tr || !(horizon_s > 0))
		return;
	pthread_mutex_lock(&tr->lock);
	tr->horizon_s = horizon_s;
	pthread_mutex_unlock(&tr->lock);
}

size_t threshold_tracker_alerts(struct threshold_tracker *tr)
{
	size_t n;

	if (!tr)
		return 0;
	pthread_mutex_lock(&tr->lock);
	n = tr->alerts;
	pthread_mutex_unlock(&tr->lock);
	return n;
}

size_t threshold_tracker_targets(const struct threshold_tracker *tr)
{
	return tr ? tr->ntargets : 0;
}
