// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * models.c - the models sink (see models.h): series -> detectors ->
 * ensemble -> anomalies in the store; detector state saved and restored;
 * warm-up from stored history; the latest scores handed back to the
 * daemon for the next round.
 *
 * Threads: on_round and on_stop run on the sink's thread and own
 * everything but what `lock` guards: the published scores (read by
 * models_add_scores() on the daemon's loop) and the thresholds a reload
 * hands over. The sink fills the back copy of the scores without the lock
 * and takes it only to swap; the loop only ever tries the lock, so
 * collection never waits on the models (a round it cannot take the lock
 * in goes without scores; the next one has them).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <jansson.h>

#include "models/detector.h"
#include "models/models.h"
#include "models/series_select.h"
#include "util/clock.h"
#include "util/error.h"
#include "util/log.h"

#define DEFAULT_MAX_SERIES	    500
#define DEFAULT_CHECKPOINT_S	    300.0
#define DEFAULT_ANOMALY_RETENTION_S (30 * 86400.0)
/* Saved states of series not seen for this long are deleted. */
#define STATE_RETENTION_S (30 * 86400.0)
/* A model whose series had no value for this long leaves the table at the
 * next checkpoint (its state saved first), so series that come and go
 * (interfaces, devices, processes) do not fill it; one that comes back
 * warms up from its stored history. Its score stops being exported after
 * EXPORT_STALE_S. */
#define MODEL_IDLE_S   3600.0
#define EXPORT_STALE_S 300.0
/* Warm-up: the last hour from raw samples at the round's step (at least
 * 1 s: 3,600 points, under the store's per-query limit), the hour before
 * back to MODELS_WARMUP_HISTORY_S from 1-minute rollups. */
#define WARMUP_RAW_S  3600.0
#define WARMUP_STEP_S 60.0
#define STATE_KIND    "stream"
/* New series warmed up from history per round, at most: a daemon starting
 * on a full store spreads its warm-up queries over its first rounds
 * instead of one burst that competes with collection for the CPU. */
#define WARMUPS_PER_ROUND 8
/* The models' thread runs at this nice value: background work. */
#define MODELS_NICE 10
/* An anomaly is saved when it opens, escalates or ends; while it goes on,
 * its moving end is saved this often (not every round). */
#define OPEN_SAVE_S 10.0

/* One allocation per series: the metric name and labels are read back
 * from the key ("name{labels}:stat") when the scores are exported, so a
 * model keeps no other strings. */
struct model {
	enum series_stat stat;
	bool seen;		 /* has had a live value */
	double score;		 /* of the latest round */
	double published;	 /* what the latest published copy holds */
	struct model *idle_next; /* on the list of models leaving the table */
	struct detector det;
	char key[]; /* the table's key */
};

struct models {
	struct models_options o;
	char *include, *exclude;
	struct series_select *sel;
	struct store *store;
	struct store_models *sm;
	struct ensemble *ens;
	struct hostmv *hmv; /* NULL: multivariate detectors off */

	pthread_mutex_t lock;
	/* --- under lock --- */
	struct ensemble_options pending;
	bool have_pending;
	struct published {
		uint64_t gen; /* counts the copies published */
		size_t n;
		struct pub_score {
			const struct model *md; /* metric and labels never change */
			double score;
		} * v; /* max_series */
		struct models_counters {
			uint64_t anomalies_total, store_errors, warmed, restored, skipped;
			size_t open_now, nmodels;
			struct hostmv_stats mv;
		} c;
	} pub[2];
	int front;		    /* pub[front] is read; the sink fills the other */
	atomic_uint_fast64_t taken; /* gen of the last copy the loop read */

	/* --- sink thread --- */
	struct model **tab; /* open addressing, cap slots (a power of two) */
	size_t cap, cap_max, n;
	struct models_counters c;
	struct series_value *vals;
	struct series_value *mv_vals; /* those old enough for hostmv */
	struct ensemble_input *inputs;
	const char **keys;
	struct anomaly *changed;
	struct model *idle; /* out of the table, freed once no copy names them */
	double last_checkpoint, last_open_save;
	bool stopped, niced;
};

void models_options_default(struct models_options *o)
{
	*o = (struct models_options){.max_series = DEFAULT_MAX_SERIES,
				     .checkpoint_s = DEFAULT_CHECKPOINT_S,
				     .anomaly_retention_s = DEFAULT_ANOMALY_RETENTION_S,
				     .multivar = true};
	ensemble_options_default(&o->ensemble);
	hostmv_options_default(&o->mv);
}

/* ------------------------------------------------------------ table */

static uint64_t hash_key(const char *k)
{
	uint64_t h = 1469598103934665603ull;

	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ull;
	return h;
}

static struct model **slot_of(struct models *m, const char *key)
{
	size_t mask = m->cap - 1, i = hash_key(key) & mask;

	while (m->tab[i] && strcmp(m->tab[i]->key, key))
		i = (i + 1) & mask;
	return &m->tab[i];
}

static struct model *model_free(struct model *md)
{
	free(md);
	return NULL;
}

static struct model *model_new(const char *key)
{
	size_t len = strlen(key) + 1;
	struct model *md = calloc(1, sizeof(*md) + len);

	if (!md)
		return NULL;
	memcpy(md->key, key, len);
	detector_init(&md->det, DETECTOR_STREAM);
	return md;
}

/* Splits a key "name{labels}:stat" into name and labels (buffers of
 * SERIES_KEY_MAX). False for a key not of that form. */
static bool split_key(const char *key, char *name, char *labels)
{
	const char *open = strchr(key, '{'), *close = strrchr(key, '}');

	if (!open || !close || close < open || close[1] != ':')
		return false;
	memcpy(name, key, (size_t)(open - key));
	name[open - key] = 0;
	memcpy(labels, open + 1, (size_t)(close - open - 1));
	labels[close - open - 1] = 0;
	return true;
}

/* The table's first size; it doubles when half full, up to cap_max (2 x
 * max_series). Sized for the maximum at once, its slots would be touched
 * one page per model (KPULSE_MODELS_MAX_SERIES=10000: 256 KiB). */
#define TABLE_MIN 64

/* Inserts md (the caller checked the key is absent and n < max). The
 * table doubles first when md would fill it past half; if it cannot, it
 * fills further. Returns 0, or -ENOMEM (md not inserted) when it could not
 * grow and has one free slot left (probes need a free slot to stop). */
static int insert(struct models *m, struct model *md)
{
	if ((m->n + 1) * 2 > m->cap && m->cap < m->cap_max) {
		struct model **old = m->tab, **tab = calloc(m->cap * 2, sizeof(*tab));

		if (tab) {
			size_t cap = m->cap;

			m->tab = tab;
			m->cap = cap * 2;
			for (size_t i = 0; i < cap; i++)
				if (old[i])
					*slot_of(m, old[i]->key) = old[i];
			free(old);
		}
	}
	if (m->n + 1 >= m->cap)
		return -ENOMEM;
	*slot_of(m, md->key) = md;
	m->n++;
	return 0;
}

/*
 * Fills the back copy with every scored model and the counters, then swaps
 * it to the front. When the loop did not read the previous copy (it found
 * the lock taken), each score keeps the highest value since the last copy
 * it read, so a one-round peak is never lost to a missed read.
 */
static void publish(struct models *m, double now)
{
	struct published *b = &m->pub[!m->front];
	bool missed = atomic_load(&m->taken) != m->pub[m->front].gen;

	b->n = 0;
	b->gen = m->pub[m->front].gen + 1;
	for (size_t i = 0; i < m->cap && b->n < m->o.max_series; i++) {
		struct model *md = m->tab[i];

		if (!md || !md->seen || md->det.last_ts < now - EXPORT_STALE_S)
			continue;
		if (!missed || md->score > md->published)
			md->published = md->score;
		b->v[b->n++] = (struct pub_score){md, md->published};
	}
	b->c = m->c;
	b->c.nmodels = m->n;
	pthread_mutex_lock(&m->lock);
	m->front = !m->front;
	pthread_mutex_unlock(&m->lock);
}

/* ------------------------------------------------------------ state */

/* Rebuilds the table without the models idle for MODEL_IDLE_S, which go
 * on m->idle: the published copy may still name them until the next
 * publish(). */
static void sweep_idle(struct models *m, double now)
{
	struct model **old = m->tab, **tab;
	size_t cap = m->cap;
	bool any = false;

	for (size_t i = 0; i < m->cap && !any; i++)
		any = old[i] && old[i]->det.n && old[i]->det.last_ts < now - MODEL_IDLE_S;
	if (!any || !(tab = calloc(m->cap, sizeof(*tab))))
		return;
	m->tab = tab;
	m->n = 0;
	for (size_t i = 0; i < cap; i++) {
		struct model *md = old[i];

		if (!md)
			continue;
		/* the ones that stay fitted before: insert() cannot fail */
		if ((md->det.n && md->det.last_ts < now - MODEL_IDLE_S) || insert(m, md)) {
			md->idle_next = m->idle;
			m->idle = md;
		}
	}
	free(old);
}

static void free_idle(struct models *m)
{
	while (m->idle) {
		struct model *next = m->idle->idle_next;

		model_free(m->idle);
		m->idle = next;
	}
}

static int restore_one(void *ctx, const char *series, const char *kind, double ts, const void *blob,
		       size_t len)
{
	struct models *m = ctx;
	struct model *md;

	if (strcmp(kind, STATE_KIND) || m->n >= m->o.max_series || *slot_of(m, series))
		return 0;
	md = model_new(series);
	if (!md)
		return -ENOMEM;
	if (detector_restore(blob, len, &md->det)) {
		/* another version's state: warm up from history instead */
		model_free(md);
		return 0;
	}
	if (insert(m, md)) {
		model_free(md);
		return -ENOMEM;
	}
	m->c.restored++;
	return 0;
}

static void checkpoint(struct models *m, double now)
{
	int r;

	m->last_checkpoint = now;
	if (!m->sm)
		return;
	r = store_models_begin(m->sm);
	for (size_t i = 0; !r && i < m->cap; i++) {
		struct model *md = m->tab[i];

		if (md && md->det.n)
			r = store_models_put_state(m->sm, md->key, STATE_KIND, now, &md->det,
						   sizeof(md->det));
	}
	if (!r)
		r = store_models_commit(m->sm);
	if (r) {
		store_models_rollback(m->sm);
		log_warn("models: saving detector state failed: %s (retried at the next "
			 "checkpoint)",
			 strerror(-r));
		m->c.store_errors++;
		return;
	}
	r = store_models_prune(m->sm, now - m->o.anomaly_retention_s, now - STATE_RETENTION_S);
	if (r)
		log_warn("models: pruning old anomalies failed: %s", strerror(-r));
	/* their states are saved: idle models may leave the table */
	sweep_idle(m, now);
}

/* Feeds the series' stored history to a new detector: the 1-minute
 * rollups of the last MODELS_WARMUP_HISTORY_S, then the raw samples of the
 * last hour. Best effort: nothing stored is nothing learnt. */
static void warm_up(struct models *m, struct model *md, const struct series_value *v, double now,
		    double step_s)
{
	struct store_range_query q = {0};
	const struct metric_series *s = v->series;
	double spans[2][3] = {
	    {now - MODELS_WARMUP_HISTORY_S, now - WARMUP_RAW_S, WARMUP_STEP_S},
	    {now - WARMUP_RAW_S, now - step_s / 2, step_s > 1 ? step_s : 1},
	};

	if (!m->store)
		return;
	q.selector.name = s->name;
	for (size_t i = 0; i < s->nlabels; i++)
		q.selector.matchers[i] =
		    (struct metric_label){s->label_keys[i], s->label_values[i]};
	q.selector.nmatchers = s->nlabels;
	q.agg = v->stat == SERIES_STAT_RATE  ? STORE_AGG_RATE
		: v->stat == SERIES_STAT_P99 ? STORE_AGG_QUANTILE
					     : STORE_AGG_LAST;
	q.quantile = 0.99;
	for (int k = 0; k < 2; k++) {
		struct store_range_result *res = NULL;

		q.from = spans[k][0];
		q.to = spans[k][1];
		q.step = spans[k][2];
		if (q.to <= q.from || store_query_range(m->store, &q, &res))
			continue;
		for (size_t i = 0; i < res->nseries; i++) {
			const struct store_range_series *rs = &res->series[i];

			if (rs->info.nlabels != s->nlabels)
				continue; /* matchers are a subset: only the exact series */
			for (size_t p = 0; p < rs->npoints; p++)
				detector_update(&md->det, rs->points[p].ts + q.step,
						rs->points[p].value, NULL);
		}
		store_range_result_free(res);
	}
	if (md->det.n)
		m->c.warmed++;
}

/* ------------------------------------------------------------ lifecycle */

static char *dup_or_default(const char *s)
{
	return strdup(s ? s : "@default");
}

int models_new(const struct models_options *o, struct store *store, struct models **ret, char *err,
	       size_t errlen)
{
	struct series_select_options so;
	struct models *m = calloc(1, sizeof(*m));
	int64_t max_id = 0;
	size_t cap = 2;
	int r;

	if (!m)
		return error_set(err, errlen, -ENOMEM, "out of memory");
	pthread_mutex_init(&m->lock, NULL);
	m->o = *o;
	if (!m->o.max_series)
		m->o.max_series = DEFAULT_MAX_SERIES;
	if (!(m->o.checkpoint_s > 0))
		m->o.checkpoint_s = DEFAULT_CHECKPOINT_S;
	if (!(m->o.anomaly_retention_s > 0))
		m->o.anomaly_retention_s = DEFAULT_ANOMALY_RETENTION_S;
	m->include = dup_or_default(o->include);
	m->exclude = dup_or_default(o->exclude);
	while (cap < 2 * m->o.max_series)
		cap *= 2;
	m->cap_max = cap;
	m->cap = cap < TABLE_MIN ? cap : TABLE_MIN;
	m->tab = calloc(m->cap, sizeof(*m->tab));
	m->vals = calloc(m->o.max_series, sizeof(*m->vals));
	m->mv_vals = calloc(m->o.max_series, sizeof(*m->mv_vals));
	m->pub[0].v = calloc(m->o.max_series, sizeof(*m->pub[0].v));
	m->pub[1].v = calloc(m->o.max_series, sizeof(*m->pub[1].v));
	m->inputs = calloc(m->o.max_series + HOSTMV_INPUTS, sizeof(*m->inputs));
	m->keys = calloc(m->o.max_series, sizeof(*m->keys));
	m->changed = calloc(m->o.ensemble.max_episodes ? m->o.ensemble.max_episodes : 1,
			    sizeof(*m->changed));
	if (!m->include || !m->exclude || !m->tab || !m->vals || !m->mv_vals || !m->inputs ||
	    !m->keys || !m->changed || !m->pub[0].v || !m->pub[1].v) {
		r = error_set(err, errlen, -ENOMEM, "out of memory");
		goto fail;
	}
	so = (struct series_select_options){m->include, m->exclude, m->o.max_series};
	r = series_select_new(&so, &m->sel, err, errlen);
	if (r)
		goto fail;
	m->store = store;
	if (store) {
		r = store_models_open(store, &m->sm, err, errlen);
		if (!r)
			r = store_models_end_open(m->sm);
		if (!r)
			r = store_models_max_id(m->sm, &max_id);
		if (!r)
			r = store_models_load_states(m->sm, restore_one, m);
		if (r) {
			if (err && !err[0])
				error_set(err, errlen, r, "reading the models' tables: %s",
					  strerror(-r));
			goto fail;
		}
	}
	if (m->o.multivar) {
		r = hostmv_new(&m->o.mv, store, &m->hmv, err, errlen);
		if (r)
			goto fail;
	}
	publish(m, clock_wall_s());
	r = ensemble_new(&m->o.ensemble, (uint64_t)max_id + 1, &m->ens);
	if (r) {
		error_set(err, errlen, r,
			  "anomaly thresholds must be 0 < info <= warning <= critical <= 1 "
			  "(got %g, %g, %g)",
			  o->ensemble.info, o->ensemble.warning, o->ensemble.critical);
		goto fail;
	}
	*ret = m;
	return 0;
fail:
	models_free(m);
	return r;
}

struct models *models_free(struct models *m)
{
	if (!m)
		return NULL;
	if (!m->stopped && m->sm)
		checkpoint(m, clock_wall_s());
	hostmv_free(m->hmv);
	for (size_t i = 0; m->tab && i < m->cap; i++)
		model_free(m->tab[i]);
	free_idle(m);
	free(m->tab);
	free(m->vals);
	free(m->mv_vals);
	free(m->pub[0].v);
	free(m->pub[1].v);
	free(m->inputs);
	free(m->keys);
	free(m->changed);
	free(m->include);
	free(m->exclude);
	series_select_free(m->sel);
	ensemble_free(m->ens);
	store_models_close(m->sm);
	pthread_mutex_destroy(&m->lock);
	free(m);
	return NULL;
}

int models_set_thresholds(struct models *m, const struct ensemble_options *o)
{
	struct ensemble *probe = NULL;
	struct ensemble_options t = *o;

	t.max_episodes = 1;
	if (ensemble_new(&t, 1, &probe))
		return -EINVAL;
	ensemble_free(probe);
	pthread_mutex_lock(&m->lock);
	m->pending = *o;
	m->have_pending = true;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* ------------------------------------------------------------ the round */

/* "[{"series": KEY, "weight": W}, ...]"; NULL on ENOMEM. */
static char *contributors_json(const struct anomaly *a)
{
	json_t *arr = json_array();
	char *text;

	for (size_t i = 0; arr && i < a->ncontrib; i++) {
		if (json_array_append_new(arr, json_pack("{s:s, s:f}", "series", a->contrib[i],
							 "weight", a->contrib_weight[i]))) {
			json_decref(arr);
			return NULL;
		}
	}
	text = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
	json_decref(arr);
	return text;
}

static void save_anomaly(struct models *m, const struct anomaly *a)
{
	char *contrib = contributors_json(a);
	struct store_anomaly rec = {
	    .id = (int64_t)a->id,
	    .series = (char *)a->series,
	    .start_ts = a->start,
	    .end_ts = a->end,
	    .open = a->open,
	    .severity = (char *)anomaly_severity_name(a->severity),
	    .peak_score = a->peak_score,
	    .detectors = (char *)a->detectors,
	    .contributors = contrib,
	};
	int r = contrib ? store_models_put_anomaly(m->sm, &rec) : -ENOMEM;

	/* counted; a failing disk is logged by the store's own writer */
	if (r) {
		m->c.store_errors++;
		log_debug("models: anomaly %llu on %s not saved: %s", (unsigned long long)a->id,
			  a->series, strerror(-r));
	}
	free(contrib);
}

static void models_round(void *ctx, struct round *rd)
{
	struct models *m = ctx;
	double ts = rd->timestamp, step = rd->interval_s > 0 ? rd->interval_s : 1;
	size_t nin = 0, nchanged, open_now = 0, warmups = 0, nsave = 0, nmv = 0;
	double mv_age = m->hmv ? hostmv_min_history_s(m->hmv, step) : 0;
	bool save_open;
	long n;

	pthread_mutex_lock(&m->lock);
	if (m->have_pending) {
		if (ensemble_set_options(m->ens, &m->pending))
			log_warn("models: new anomaly thresholds refused");
		m->have_pending = false;
	}
	pthread_mutex_unlock(&m->lock);

	if (!m->niced) {
		/* the sink's own thread; failing leaves the default priority */
		setpriority(PRIO_PROCESS, (id_t)gettid(), MODELS_NICE);
		m->niced = true;
	}
	n = series_select_round(m->sel, rd->reg, m->vals, m->o.max_series);
	if (n >= 0 && rd->custom) {
		long more = series_select_more(m->sel, rd->custom, ts, m->vals + n,
					       m->o.max_series - (size_t)n);

		n = more < 0 ? more : n + more;
	}
	if (n < 0) {
		log_warn("models: round %llu skipped: out of memory", (unsigned long long)rd->seq);
		return;
	}
	for (long i = 0; i < n; i++) {
		const struct series_value *v = &m->vals[i];
		struct model *md = *slot_of(m, v->key);
		double score;

		if (!md) {
			/* beyond this round's warm-ups: picked up in a later round */
			if (m->n >= m->o.max_series || warmups == WARMUPS_PER_ROUND ||
			    !(md = model_new(v->key)))
				continue;
			if (insert(m, md)) {
				model_free(md);
				continue;
			}
			warm_up(m, md, v, ts, step);
			warmups += m->store != NULL;
		}
		score = detector_update(&md->det, ts, v->value, NULL);
		if (!md->seen) {
			md->stat = v->stat;
			md->seen = true;
		}
		md->score = score;
		if (m->hmv && md->det.n && md->det.first_ts <= ts - mv_age)
			m->mv_vals[nmv++] = *v;
		m->keys[nin] = md->key;
		m->inputs[nin] = (struct ensemble_input){"stream", score, &m->keys[nin], NULL, 1};
		nin++;
	}

	if (m->hmv) {
		nin += hostmv_round(m->hmv, ts, step, m->mv_vals, nmv, m->inputs + nin);
		hostmv_stats(m->hmv, &m->c.mv);
	}
	nchanged =
	    ensemble_round(m->ens, ts, m->inputs, nin, m->changed, m->o.ensemble.max_episodes);
	save_open = ts - m->last_open_save >= OPEN_SAVE_S;

	for (size_t i = 0; i < nchanged; i++) {
		const struct anomaly *a = &m->changed[i];

		if (a->events & ANOMALY_OPENED) {
			log_info("anomaly %llu: %s %s %s (score %.2f, %s)",
				 (unsigned long long)a->id, anomaly_severity_name(a->severity),
				 a->series, a->start == ts ? "opened" : "continues", a->peak_score,
				 a->detectors);
			m->c.anomalies_total += a->start == ts;
		}
		open_now += a->open;
		/* keep only what is worth a write this round */
		if ((a->events || save_open) && nsave++ != i)
			m->changed[nsave - 1] = *a;
	}
	if (save_open)
		m->last_open_save = ts;
	if (nsave && m->sm) {
		int r = store_models_begin(m->sm);

		for (size_t i = 0; !r && i < nsave; i++)
			save_anomaly(m, &m->changed[i]);
		if (!r)
			r = store_models_commit(m->sm);
		if (r) {
			m->c.store_errors++;
			log_debug("models: anomalies not saved this round: %s", strerror(-r));
		}
	}
	m->c.open_now = open_now;
	m->c.skipped = series_select_skipped(m->sel);
	if (ts - m->last_checkpoint >= m->o.checkpoint_s) {
		if (m->last_checkpoint == 0)
			m->last_checkpoint = ts; /* the first round starts the clock */
		else
			checkpoint(m, ts);
	}
	publish(m, ts);
	free_idle(m); /* no published copy names them any more */
}

static void models_stop(void *ctx)
{
	struct models *m = ctx;

	checkpoint(m, clock_wall_s());
	m->stopped = true;
}

const struct sink_ops models_sink_ops = {
    .name = "models",
    .on_round = models_round,
    .on_stop = models_stop,
};

/* ------------------------------------------------------------ scores out */

static const struct {
	const char *name, *help;
} models_help[] = {
    {"kpulse_anomaly_score",
     "Latest anomaly score in [0, 1] of a modelled series (metric, its labels, stat: rate, "
     "p99 or value)"},
    {"kpulse_models_series", "Series with an anomaly model"},
    {"kpulse_models_series_skipped_total", "Series seen beyond KPULSE_MODELS_MAX_SERIES"},
    {"kpulse_anomalies_total", "Anomalies opened"},
    {"kpulse_anomalies_open", "Anomalies going on now"},
    {"kpulse_models_store_errors_total", "Model writes to the store that failed"},
    {"kpulse_models_warmed_up_total", "Models warmed up from stored history"},
    {"kpulse_models_restored_total", "Models restored from saved state at start"},
    {"kpulse_multivar_score",
     "Latest score in [0, 1] of the host's multivariate detectors (detector: iforest, lof)"},
    {"kpulse_multivar_series", "Series in the multivariate detectors' feature vectors"},
    {"kpulse_multivar_trainings_total",
     "Models the multivariate detectors trained (since they last started over)"},
};

int models_describe(struct registry *r)
{
	int err = 0;

	for (size_t i = 0; i < sizeof(models_help) / sizeof(models_help[0]); i++)
		err |= registry_describe(r, models_help[i].name, models_help[i].help);
	return err ? -ENOMEM : 0;
}

int models_add_scores(struct models *m, struct registry *r)
{
	const struct published *p;
	int err = 0;

	if (pthread_mutex_trylock(&m->lock))
		return 0; /* the sink is swapping: scores in the next round */
	p = &m->pub[m->front];
	for (size_t i = 0; i < p->n; i++) {
		const struct model *md = p->v[i].md;
		char name[SERIES_KEY_MAX], labels[SERIES_KEY_MAX];
		struct metric_label l[3] = {
		    {"metric", name},
		    {"series", labels},
		    {"stat", series_stat_name(md->stat)},
		};

		if (!split_key(md->key, name, labels))
			continue;
		/* To four decimals, whole ten-thousandths that the store codes
		 * as small integers: at full precision (XOR-ed doubles) the
		 * scores took a quarter of a real daemon's raw samples' bytes,
		 * for digits that are the estimator's noise. Anomalies keep
		 * their full-precision peak. */
		err |= registry_set_gauge(r, "kpulse_anomaly_score", l, 3,
					  round(p->v[i].score * 1e4) / 1e4) == -ENOMEM;
	}
	err |=
	    registry_set_gauge(r, "kpulse_models_series", NULL, 0, (double)p->c.nmodels) == -ENOMEM;
	err |= registry_set_counter(r, "kpulse_models_series_skipped_total", NULL, 0,
				    (double)p->c.skipped) == -ENOMEM;
	err |= registry_set_counter(r, "kpulse_anomalies_total", NULL, 0,
				    (double)p->c.anomalies_total) == -ENOMEM;
	err |= registry_set_gauge(r, "kpulse_anomalies_open", NULL, 0, (double)p->c.open_now) ==
	       -ENOMEM;
	err |= registry_set_counter(r, "kpulse_models_store_errors_total", NULL, 0,
				    (double)p->c.store_errors) == -ENOMEM;
	err |= registry_set_counter(r, "kpulse_models_warmed_up_total", NULL, 0,
				    (double)p->c.warmed) == -ENOMEM;
	err |= registry_set_counter(r, "kpulse_models_restored_total", NULL, 0,
				    (double)p->c.restored) == -ENOMEM;
	if (p->c.mv.valid) {
		struct metric_label d = {"detector", "iforest"};

		err |= registry_set_gauge(r, "kpulse_multivar_score", &d, 1, p->c.mv.iforest) ==
		       -ENOMEM;
		d.value = "lof";
		err |=
		    registry_set_gauge(r, "kpulse_multivar_score", &d, 1, p->c.mv.lof) == -ENOMEM;
	}
	if (m->hmv) {
		err |= registry_set_gauge(r, "kpulse_multivar_series", NULL, 0,
					  (double)p->c.mv.series) == -ENOMEM;
		err |= registry_set_counter(r, "kpulse_multivar_trainings_total", NULL, 0,
					    (double)p->c.mv.trainings) == -ENOMEM;
	}
	atomic_store(&m->taken, p->gen);
	pthread_mutex_unlock(&m->lock);
	return err ? -ENOMEM : 0;
}
