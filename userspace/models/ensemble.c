// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * ensemble.c - scores of every detector into anomalies with a severity, a
 * start and an end, hysteresis and a cooldown (see ensemble.h).
 *
 * Episodes live in a fixed array (max_episodes): one per series that is
 * above its threshold now or ended less than a cooldown ago. Inputs below
 * info - hysteresis cost one comparison and no lookup.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/ensemble.h"

struct episode {
	bool used;
	struct anomaly a;
	double round_score; /* highest input of this round for it */
	bool changed;	    /* to report this round */
};

struct ensemble {
	struct ensemble_options o;
	uint64_t next_id, overflow;
	struct episode *ep;
};

static const char *const severity_names[ANOMALY_SEVERITY_COUNT] = {"info", "warning", "critical"};

const char *anomaly_severity_name(enum anomaly_severity s)
{
	return (unsigned)s < ANOMALY_SEVERITY_COUNT ? severity_names[s] : "unknown";
}

int anomaly_severity_parse(const char *name, enum anomaly_severity *ret)
{
	for (unsigned i = 0; name && i < ANOMALY_SEVERITY_COUNT; i++) {
		if (!strcmp(name, severity_names[i])) {
			*ret = (enum anomaly_severity)i;
			return 0;
		}
	}
	return -EINVAL;
}

void ensemble_options_default(struct ensemble_options *o)
{
	*o = (struct ensemble_options){
	    .info = 0.5,
	    .warning = 0.7,
	    .critical = 0.9,
	    .hysteresis = 0.1,
	    .cooldown_s = 300,
	    .max_episodes = 64,
	};
}

static bool options_valid(const struct ensemble_options *o)
{
	return o->info > 0 && o->info <= o->warning && o->warning <= o->critical &&
	       o->critical <= 1 && o->hysteresis >= 0 && o->hysteresis < o->info &&
	       isfinite(o->cooldown_s) && o->cooldown_s >= 0 && o->max_episodes > 0;
}

int ensemble_new(const struct ensemble_options *o, uint64_t first_id, struct ensemble **ret)
{
	struct ensemble *e;

	if (!options_valid(o))
		return -EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->o = *o;
	e->next_id = first_id ? first_id : 1;
	e->ep = calloc(o->max_episodes, sizeof(*e->ep));
	if (!e->ep) {
		free(e);
		return -ENOMEM;
	}
	*ret = e;
	return 0;
}

struct ensemble *ensemble_free(struct ensemble *e)
{
	if (e) {
		free(e->ep);
		free(e);
	}
	return NULL;
}

int ensemble_set_options(struct ensemble *e, const struct ensemble_options *o)
{
	if (!options_valid(o) || o->max_episodes != e->o.max_episodes)
		return -EINVAL;
	e->o = *o;
	return 0;
}

uint64_t ensemble_overflow(const struct ensemble *e)
{
	return e->overflow;
}

static enum anomaly_severity severity_of(const struct ensemble_options *o, double score)
{
	return score >= o->critical  ? ANOMALY_CRITICAL
	       : score >= o->warning ? ANOMALY_WARNING
				     : ANOMALY_INFO;
}

static struct episode *find(struct ensemble *e, const char *key, struct episode **ret_free)
{
	*ret_free = NULL;
	for (size_t i = 0; i < e->o.max_episodes; i++) {
		struct episode *p = &e->ep[i];

		if (!p->used) {
			if (!*ret_free)
				*ret_free = p;
		} else if (!strcmp(p->a.series, key)) {
			return p;
		}
	}
	return NULL;
}

/* Adds name to the comma-separated set (if it fits). */
static void add_detector(char *set, const char *name)
{
	size_t n = strlen(set), len = strlen(name);
	const char *p = set;

	while ((p = strstr(p, name))) {
		if ((p == set || p[-1] == ',') && (p[len] == ',' || p[len] == '\0'))
			return;
		p += len;
	}
	if (n + len + 2 <= ANOMALY_DETECTORS_MAX)
		snprintf(set + n, ANOMALY_DETECTORS_MAX - n, "%s%s", n ? "," : "", name);
}

/* Adds weight to a contributing series, keeping the most contributing
 * ANOMALY_MAX_CONTRIB, most first. */
static void add_contrib(struct anomaly *a, const char *key, double w)
{
	size_t i;

	for (i = 0; i < a->ncontrib && strcmp(a->contrib[i], key); i++)
		;
	if (i == a->ncontrib) {
		if (a->ncontrib < ANOMALY_MAX_CONTRIB) {
			a->ncontrib++;
		} else if (w <= a->contrib_weight[i - 1]) {
			return;
		} else {
			i--; /* replaces the least */
			a->contrib_weight[i] = 0;
		}
		snprintf(a->contrib[i], SERIES_KEY_MAX, "%s", key);
		a->contrib_weight[i] = 0;
	}
	a->contrib_weight[i] += w;
	/* bubble up */
	while (i > 0 && a->contrib_weight[i] > a->contrib_weight[i - 1]) {
		char tmp[SERIES_KEY_MAX];
		double tw = a->contrib_weight[i];

		memcpy(tmp, a->contrib[i], SERIES_KEY_MAX);
		memcpy(a->contrib[i], a->contrib[i - 1], SERIES_KEY_MAX);
		memcpy(a->contrib[i - 1], tmp, SERIES_KEY_MAX);
		a->contrib_weight[i] = a->contrib_weight[i - 1];
		a->contrib_weight[i - 1] = tw;
		i--;
	}
}

static void take_input(struct ensemble *e, double ts, const struct ensemble_input *in, double score)
{
	const char *key = in->nseries ? in->series[0] : in->detector;
	struct episode *free_slot, *p = find(e, key, &free_slot);

	if (!p) {
		/* only a crossing of the info threshold opens an episode */
		if (score < e->o.info)
			return;
		if (!free_slot) {
			e->overflow++;
			return;
		}
		p = free_slot;
		memset(p, 0, sizeof(*p));
		p->used = true;
		snprintf(p->a.series, SERIES_KEY_MAX, "%s", key);
		p->a.id = e->next_id++;
		p->a.start = ts;
		p->a.open = true;
		p->a.end = ts;
		p->a.events |= ANOMALY_OPENED;
		p->changed = true;
	} else if (!p->a.open) {
		/* cooling down: a new crossing continues the same anomaly */
		if (score < e->o.info)
			return;
		p->a.open = true;
		p->a.events |= ANOMALY_OPENED;
		p->changed = true;
	}
	if (score > p->round_score)
		p->round_score = score;
	if (score >= e->o.info)
		add_detector(p->a.detectors, in->detector);
	for (size_t i = 0; i < in->nseries; i++)
		add_contrib(&p->a, in->series[i], score * (in->weights ? in->weights[i] : 1));
}

size_t ensemble_round(struct ensemble *e, double ts, const struct ensemble_input *in, size_t n,
		      struct anomaly *changed, size_t cap)
{
	double keep = e->o.info - e->o.hysteresis;
	size_t out = 0;

	for (size_t i = 0; i < e->o.max_episodes; i++) {
		e->ep[i].round_score = 0;
		e->ep[i].changed = false;
		e->ep[i].a.events = 0;
	}
	for (size_t i = 0; i < n; i++) {
		double s = in[i].score;

		if (isnan(s) || !in[i].detector)
			continue;
		s = s < 0 ? 0 : s > 1 ? 1 : s;
		if (s >= keep)
			take_input(e, ts, &in[i], s);
	}
	for (size_t i = 0; i < e->o.max_episodes; i++) {
		struct episode *p = &e->ep[i];

		if (!p->used)
			continue;
		if (p->a.open && p->round_score >= keep) {
			/* open: reported every round, its end moving on */
			p->a.end = ts;
			p->changed = true;
			if (p->round_score > p->a.peak_score) {
				enum anomaly_severity sev = severity_of(&e->o, p->round_score);

				p->a.peak_score = p->round_score;
				if (sev > p->a.severity) {
					p->a.severity = sev;
					p->a.events |= ANOMALY_ESCALATED;
				}
			}
		} else if (p->a.open) {
			p->a.open = false; /* ended at the last round above */
			p->a.events |= ANOMALY_ENDED;
			p->changed = true;
		} else if (ts - p->a.end > e->o.cooldown_s) {
			p->used = false; /* cooled down: forgotten */
			continue;
		}
		if (p->changed) {
			if (out < cap)
				changed[out++] = p->a;
			else
				e->overflow++;
		}
	}
	return out;
}
