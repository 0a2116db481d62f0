// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * hostmv.c - the host's Isolation Forest and LOF in the models sink (see
 * hostmv.h): the set of series, starting over when it changes, history
 * from the store for the trainer, scores out as ensemble inputs.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "models/features.h"
#include "models/hostmv.h"
#include "models/lof.h"
#include "util/error.h"
#include "util/log.h"

#define DEFAULT_WINDOW_S   60.0
#define DEFAULT_HISTORY_S  86400.0
#define DEFAULT_RETRAIN_S  3600.0
#define DEFAULT_MAX_SERIES 64
/* Training rows, evenly thinned beyond: LOF's fit is quadratic in them. */
#define TRAIN_ROWS_MAX 2000
#define FOREST_TREES   100
#define FOREST_SAMPLE  256
#define LOF_NEIGHBORS  20

/* One series of the vectors: what the store needs to find its history. */
struct mv_series {
	char *key, *name;
	enum series_stat stat;
	size_t nlabels;
	char *lk[REGISTRY_MAX_LABELS], *lv[REGISTRY_MAX_LABELS];
};

/* The series of one multivar; the trainer thread reads it (history), so
 * it is freed only after that multivar stopped. */
struct mv_set {
	struct store *store;
	struct mv_series *s;
	size_t n;
};

struct hostmv {
	struct hostmv_options o;
	struct store *store;
	struct multivar *mv;
	struct mv_set *set;
	double interval_s;
	double next_retry;
	size_t restarts;

	/* a different set seen in the last rounds, waiting to settle */
	char **cand;
	size_t ncand, cand_rounds;

	size_t *idx;	     /* this round: eligible values' indices, max_series */
	unsigned char *rank; /* this round: each value's rank_of(), RANK_NONE if not eligible */
	size_t rank_cap;
	double *values; /* this round: the set's values, NaN where missing */

	struct multivar_result res;
	const char *names[HOSTMV_INPUTS][MULTIVAR_TOP_SERIES];
};

void hostmv_options_default(struct hostmv_options *o)
{
	*o = (struct hostmv_options){DEFAULT_WINDOW_S, DEFAULT_HISTORY_S, DEFAULT_RETRAIN_S,
				     DEFAULT_MAX_SERIES};
}

/* ------------------------------------------------------------ sets */

static struct mv_set *set_free(struct mv_set *set)
{
	if (!set)
		return NULL;
	for (size_t i = 0; set->s && i < set->n; i++) {
		free(set->s[i].key);
		free(set->s[i].name);
		for (size_t k = 0; k < set->s[i].nlabels; k++) {
			free(set->s[i].lk[k]);
			free(set->s[i].lv[k]);
		}
	}
	free(set->s);
	free(set);
	return NULL;
}

static struct mv_set *set_new(struct store *store, const struct series_value *v, const size_t *idx,
			      size_t n)
{
	struct mv_set *set = calloc(1, sizeof(*set));

	if (!set || !(set->s = calloc(n, sizeof(*set->s))))
		return set_free(set);
	set->store = store;
	for (size_t i = 0; i < n; i++) {
		const struct series_value *sv = &v[idx[i]];
		struct mv_series *s = &set->s[i];

		set->n = i + 1;
		s->stat = sv->stat;
		s->key = strdup(sv->key);
		s->name = strdup(sv->name);
		if (!s->key || !s->name)
			return set_free(set);
		for (size_t k = 0; sv->series && k < sv->series->nlabels; k++) {
			s->nlabels = k + 1;
			s->lk[k] = strdup(sv->series->label_keys[k]);
			s->lv[k] = strdup(sv->series->label_values[k]);
			if (!s->lk[k] || !s->lv[k])
				return set_free(set);
		}
	}
	return set;
}

/*
 * multivar_history_fn: each series' rate (counters) or mean (gauges) per
 * window from the store. Runs on the trainer thread; best effort (a series
 * the store cannot answer for stays NaN: those windows are incomplete).
 */
static int load_history(void *ctx, double from, double to, double step, double *means,
			size_t nbuckets, size_t nseries)
{
	struct mv_set *set = ctx;

	if (!set->store)
		return -ENOENT;
	for (size_t j = 0; j < nseries && j < set->n; j++) {
		const struct mv_series *s = &set->s[j];
		struct store_range_query q = {.from = from, .to = to, .step = step};
		struct store_range_result *res = NULL;

		q.selector.name = s->name;
		for (size_t k = 0; k < s->nlabels; k++)
			q.selector.matchers[k] = (struct metric_label){s->lk[k], s->lv[k]};
		q.selector.nmatchers = s->nlabels;
		q.agg = s->stat == SERIES_STAT_RATE ? STORE_AGG_RATE : STORE_AGG_AVG;
		if (store_query_range(set->store, &q, &res))
			continue;
		for (size_t i = 0; i < res->nseries; i++) {
			const struct store_range_series *rs = &res->series[i];

			if (rs->info.nlabels != s->nlabels)
				continue; /* matchers are a subset: only the exact series */
			for (size_t p = 0; p < rs->npoints; p++) {
				double k = floor((rs->points[p].ts - from) / step + 0.5);

				if (k >= 0 && k < (double)nbuckets && isfinite(rs->points[p].value))
					means[(size_t)k * nseries + j] = rs->points[p].value;
			}
		}
		store_range_result_free(res);
	}
	return 0;
}

/* ------------------------------------------------------------ life cycle */

int hostmv_new(const struct hostmv_options *o, struct store *store, struct hostmv **ret, char *err,
	       size_t errlen)
{
	struct hostmv *h;

	if (o->max_series < HOSTMV_MIN_SERIES || o->max_series > FEATURES_SERIES_MAX)
		return error_set(err, errlen, -EINVAL, "multivariate series %zu is not %d to %d",
				 o->max_series, HOSTMV_MIN_SERIES, FEATURES_SERIES_MAX);
	if (!(o->window_s > 0) || !(o->retrain_s > 0) ||
	    !(o->history_s >= (MULTIVAR_TRAIN_MIN + 1) * o->window_s))
		return error_set(err, errlen, -EINVAL,
				 "multivariate history %gs must hold at least %d windows of %gs",
				 o->history_s, MULTIVAR_TRAIN_MIN + 1, o->window_s);
	h = calloc(1, sizeof(*h));
	if (!h)
		return error_set(err, errlen, -ENOMEM, "out of memory");
	h->o = *o;
	h->store = store;
	h->idx = calloc(o->max_series, sizeof(*h->idx));
	h->values = calloc(o->max_series, sizeof(*h->values));
	h->cand = calloc(o->max_series, sizeof(*h->cand));
	if (!h->idx || !h->values || !h->cand) {
		hostmv_free(h);
		return error_set(err, errlen, -ENOMEM, "out of memory");
	}
	*ret = h;
	return 0;
}

static void cand_clear(struct hostmv *h)
{
	for (size_t i = 0; i < h->ncand; i++)
		h->cand[i] = (free(h->cand[i]), NULL);
	h->ncand = 0;
	h->cand_rounds = 0;
}

struct hostmv *hostmv_free(struct hostmv *h)
{
	if (!h)
		return NULL;
	multivar_stop(h->mv);
	set_free(h->set);
	if (h->cand)
		cand_clear(h);
	free(h->cand);
	free(h->idx);
	free(h->rank);
	free(h->values);
	free(h);
	return NULL;
}

/* Starts the detectors over on this round's eligible series. */
static void restart(struct hostmv *h, double ts, double interval_s, const struct series_value *v,
		    size_t n)
{
	double window = fmax(h->o.window_s, interval_s);
	struct multivar_options mo = {
	    .interval_s = interval_s,
	    .window_s = window,
	    .history_s = fmax(h->o.history_s, (MULTIVAR_TRAIN_MIN + 1) * window),
	    .retrain_s = h->o.retrain_s,
	    .max_train_rows = TRAIN_ROWS_MAX,
	    .forest = {.trees = FOREST_TREES, .sample_size = FOREST_SAMPLE, .seed = 1},
	    .lof_neighbors = LOF_NEIGHBORS,
	};
	double windows = floor(mo.history_s / window);
	const char **names = calloc(n, sizeof(*names));
	struct mv_set *set = set_new(h->store, v, h->idx, n);
	char err[256] = "";
	int r = -ENOMEM;

	h->mv = multivar_stop(h->mv);
	h->set = set_free(h->set);
	h->restarts++;
	/* the training matrix need not hold more rows than the history has */
	if (windows < (double)mo.max_train_rows)
		mo.max_train_rows = (size_t)fmax(windows, MULTIVAR_TRAIN_MIN);
	if (names && set) {
		for (size_t i = 0; i < n; i++)
			names[i] = set->s[i].key;
		r = multivar_start(&mo, names, n, load_history, set, &h->mv, err, sizeof(err));
	}
	free(names);
	/* kept even when the start failed: the same set is not tried again
	 * (one warning), a new one is */
	h->set = set;
	if (r) {
		log_warn("models: the multivariate detectors did not start: %s",
			 err[0] ? err : strerror(-r));
		return;
	}
	h->interval_s = interval_s;
	/* the store's history may be enough for a model right away: the
	 * trainer is asked once this round is observed (it says where "now"
	 * is for the history) */
	h->next_retry = ts;
	log_info("models: multivariate detectors on %zu series (window %gs, history %gs)", n,
		 window, mo.history_s);
}

/* ------------------------------------------------------------ rounds */

/*
 * When there are more eligible series than max_series, the host-level
 * kernel signals that move when something goes wrong come first, in this
 * order (then the rest in the round's order: per-cgroup series, file
 * systems, custom metrics), so a host with many interfaces, mounts or
 * pushed metrics still watches its scheduler and memory.
 */
static const char *const preferred[] = {
    "kpulse_sched_context_switches_total",
    "kpulse_sched_processes_forked_total",
    "kpulse_sched_processes_exited_total",
    "kpulse_sched_cpu_busy_seconds_total",
    "kpulse_mem_page_faults_total",
    "kpulse_mem_major_page_faults_total",
    "kpulse_block_ios_completed_total",
    "kpulse_block_bytes_total",
    "kpulse_net_rx_bytes_total",
    "kpulse_net_tx_bytes_total",
    "kpulse_net_tcp_retransmitted_segments_total",
    "kpulse_net_packet_drops_total",
    "kpulse_mem_available_bytes",
    "kpulse_mem_direct_reclaim_total",
    "kpulse_pressure_*",
};
#define RANK_OTHER (sizeof(preferred) / sizeof(preferred[0]))
#define RANK_NONE  0xff

static unsigned char rank_of(const char *name)
{
	for (size_t r = 0; r < RANK_OTHER; r++) {
		size_t n = strlen(preferred[r]);

		if (preferred[r][n - 1] == '*' ? !strncmp(name, preferred[r], n - 1)
					       : !strcmp(name, preferred[r]))
			return (unsigned char)r;
	}
	return (unsigned char)RANK_OTHER;
}

/* This round's eligible series into h->idx, preferred ones first (a
 * stable order: the same round gives the same set). Returns how many, or
 * 0 when the rank buffer cannot grow (the round is skipped). */
static size_t select_series(struct hostmv *h, const struct series_value *v, size_t n)
{
	size_t ne = 0;

	if (n > h->rank_cap) {
		unsigned char *r = realloc(h->rank, n);

		if (!r)
			return 0;
		h->rank = r;
		h->rank_cap = n;
	}
	for (size_t i = 0; i < n; i++)
		h->rank[i] = v[i].stat != SERIES_STAT_P99 && isfinite(v[i].value)
				 ? rank_of(v[i].name)
				 : RANK_NONE;
	for (unsigned r = 0; r <= RANK_OTHER && ne < h->o.max_series; r++)
		for (size_t i = 0; i < n && ne < h->o.max_series; i++)
			if (h->rank[i] == r)
				h->idx[ne++] = i;
	return ne;
}

double hostmv_min_history_s(const struct hostmv *h, double interval_s)
{
	return (MULTIVAR_TRAIN_MIN + 1) * fmax(h->o.window_s, interval_s);
}

/* True when this round's eligible series are the running set, in order. */
static bool same_as_running(const struct hostmv *h, const struct series_value *v, size_t n)
{
	if (!h->set || h->set->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(h->set->s[i].key, v[h->idx[i]].key))
			return false;
	return true;
}

/* Watches a set that differs from the running one; true once it has been
 * the same for HOSTMV_SETTLE_ROUNDS rounds. */
static bool settled(struct hostmv *h, const struct series_value *v, size_t n)
{
	bool same = h->ncand == n;

	for (size_t i = 0; same && i < n; i++)
		same = !strcmp(h->cand[i], v[h->idx[i]].key);
	if (!same) {
		cand_clear(h);
		for (size_t i = 0; i < n; i++) {
			if (!(h->cand[i] = strdup(v[h->idx[i]].key))) {
				cand_clear(h);
				return false;
			}
			h->ncand = i + 1;
		}
	}
	return ++h->cand_rounds >= HOSTMV_SETTLE_ROUNDS;
}

/* values[j]: the value of set series j this round (NaN when missing). */
static void gather(struct hostmv *h, const struct series_value *v, size_t nv, bool same)
{
	for (size_t j = 0; j < h->set->n; j++) {
		h->values[j] = NAN;
		if (same) {
			h->values[j] = v[h->idx[j]].value;
			continue;
		}
		for (size_t i = 0; i < nv; i++) {
			if (!strcmp(v[i].key, h->set->s[j].key)) {
				h->values[j] = v[i].value;
				break;
			}
		}
	}
}

static size_t to_inputs(struct hostmv *h, struct ensemble_input *out)
{
	const struct multivar_detector_result *d[HOSTMV_INPUTS] = {&h->res.iforest, &h->res.lof};
	static const char *const det[HOSTMV_INPUTS] = {"iforest", "lof"};
	size_t k = 0;

	for (size_t i = 0; i < HOSTMV_INPUTS; i++) {
		/* no contributor (all shares 0): the episode is named by the detector */
		for (size_t t = 0; t < d[i]->ntop; t++)
			h->names[i][t] = h->set->s[d[i]->top[t]].key;
		out[k++] = (struct ensemble_input){det[i], d[i]->score, h->names[i],
						   d[i]->top_share, d[i]->ntop};
	}
	return k;
}

size_t hostmv_round(struct hostmv *h, double ts, double interval_s, const struct series_value *v,
		    size_t n, struct ensemble_input *out)
{
	size_t ne = 0;
	bool same;

	h->res.valid = false;
	ne = select_series(h, v, n);
	same = same_as_running(h, v, ne);
	if (same) {
		if (h->ncand)
			cand_clear(h);
	} else if (settled(h, v, ne) && ne >= HOSTMV_MIN_SERIES) {
		cand_clear(h);
		restart(h, ts, interval_s, v, ne);
		same = h->mv != NULL;
	}
	if (!h->mv)
		return 0;
	gather(h, v, n, same);
	multivar_observe(h->mv, ts, h->values);
	if (multivar_score(h->mv, &h->res) || !h->res.valid) {
		size_t trained = 0;

		h->res.valid = false;
		multivar_training_stats(h->mv, NULL, &trained, NULL);
		if (!trained && ts >= h->next_retry) {
			multivar_retrain_now(h->mv);
			h->next_retry =
			    ts + HOSTMV_RETRY_WINDOWS * fmax(h->o.window_s, h->interval_s);
		}
		return 0;
	}
	return to_inputs(h, out);
}

const char *hostmv_series_key(const struct hostmv *h, size_t i)
{
	return h->mv && i < h->set->n ? h->set->s[i].key : NULL;
}

void hostmv_stats(const struct hostmv *h, struct hostmv_stats *ret)
{
	*ret = (struct hostmv_stats){.series = h->mv ? h->set->n : 0,
				     .restarts = h->restarts,
				     .valid = h->res.valid,
				     .iforest = h->res.valid ? h->res.iforest.score : 0,
				     .lof = h->res.valid ? h->res.lof.score : 0};
	if (h->mv)
		multivar_training_stats(h->mv, NULL, &ret->trainings, NULL);
}
