/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store_query.c - reading the store back: a small pool of read-only
 * connections (WAL lets them read while the writer writes) and the query
 * API the REST layer and the CLI build on: range queries with a tier
 * chosen by step, the latest snapshot, the series list and events.
 *
 * Contracts:
 *   - Every function may be called from any thread, concurrently with the
 *     writer and with each other; at most max_readers connections are
 *     open, and a caller waits for a free one.
 *   - Every result is bounded by the store's limits (max_points,
 *     max_query_series, max_list, max_events): past them the call fails
 *     with -E2BIG rather than return part of the answer.
 *   - Bad input is -EINVAL, found before any database work except an
 *     aggregation that does not fit a matching series' type. Results are
 *     built whole or not at all: on failure *ret_* is not written.
 *   - Raw samples are read through store_encode.c's reader and
 *     statements, and aggregated with store_aggregate.c, as the rollups
 *     do, so a raw step and a rolled-up step agree.
 *   - A connection is returned to the pool after an error that leaves it
 *     usable, and closed otherwise.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "registry/hist.h"
#include "store/store_event_block.h"
#include "store/store_internal.h"

/* Prepares a statement for one query; a negative errno on failure. */
static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret_stmt)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc != SQLITE_OK) {
		sqlite3_finalize(st);
		return store_db_errno(db, rc);
	}
	*ret_stmt = st;
	return 0;
}

/* ---------------------------------------------------------- selectors */

static int selector_check(const struct store_selector *sel, bool name_required)
{
	if (!sel)
		return name_required ? -EINVAL : 0;
	if (sel->name ? !metric_name_valid(sel->name) : name_required)
		return -EINVAL;
	if (sel->nmatchers > REGISTRY_MAX_LABELS)
		return -EINVAL;
	for (size_t i = 0; i < sel->nmatchers; i++) {
		const struct metric_label *m = &sel->matchers[i];

		if (!m->key || !metric_label_key_valid(m->key) || !m->value ||
		    strlen(m->value) >= REGISTRY_LABEL_VALUE_MAX)
			return -EINVAL;
	}
	return 0;
}

static void copy_str(char *dst, size_t size, const char *src)
{
	size_t n = src ? strnlen(src, size - 1) : 0;

	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
}

/* Fills info from (id, name, labels, type, scale) at column first. */
static int info_from_row(sqlite3_stmt *st, int first, struct store_series_info *info)
{
	const char *labels = (const char *)sqlite3_column_text(st, first + 2);
	json_t *obj, *value;
	const char *key;

	memset(info, 0, sizeof(*info));
	info->id = sqlite3_column_int64(st, first);
	copy_str(info->name, sizeof(info->name), (const char *)sqlite3_column_text(st, first + 1));
	if (metric_type_parse((const char *)sqlite3_column_text(st, first + 3), &info->type) < 0)
		info->type = METRIC_GAUGE;
	info->scale = sqlite3_column_double(st, first + 4);
	obj = labels ? json_loads(labels, 0, NULL) : NULL;
	if (!json_is_object(obj)) {
		json_decref(obj);
		return -EBADMSG;
	}
	json_object_foreach (obj, key, value) {
		if (info->nlabels == REGISTRY_MAX_LABELS)
			break;
		copy_str(info->label_keys[info->nlabels], REGISTRY_LABEL_KEY_MAX, key);
		copy_str(info->label_values[info->nlabels], REGISTRY_LABEL_VALUE_MAX,
			 json_string_value(value));
		info->nlabels++;
	}
	json_decref(obj);
	return 0;
}

static bool info_matches(const struct store_series_info *info, const struct store_selector *sel)
{
	if (!sel)
		return true;
	if (sel->name && strcmp(sel->name, info->name) != 0)
		return false;
	for (size_t i = 0; i < sel->nmatchers; i++) {
		size_t j;

		for (j = 0; j < info->nlabels; j++)
			if (!strcmp(info->label_keys[j], sel->matchers[i].key))
				break;
		if (j == info->nlabels || strcmp(info->label_values[j], sel->matchers[i].value))
			return false;
	}
	return true;
}

/* Appends one element of size to a growing array; -ENOMEM. */
static int grow(void **arr, size_t *cap, size_t n, size_t size)
{
	void *p;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	p = realloc(*arr, ncap * size);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* The series matching sel, at most limit (else -E2BIG). */
static int find_series(sqlite3 *db, const struct store_selector *sel, size_t limit,
		       struct store_series_info **ret_infos, size_t *ret_n)
{
	static const char by_name[] = "SELECT id, name, labels, type, scale FROM series "
				      "WHERE name = ?1 ORDER BY labels";
	static const char all[] = "SELECT id, name, labels, type, scale FROM series "
				  "ORDER BY name, labels";
	struct store_series_info *infos = NULL, info;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	int err, rc;

	err = prepare(db, sel && sel->name ? by_name : all, &st);
	if (err)
		return err;
	if (sel && sel->name)
		sqlite3_bind_text(st, 1, sel->name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (info_from_row(st, 0, &info) < 0 || !info_matches(&info, sel))
			continue;
		if (n == limit) {
			err = -E2BIG;
			break;
		}
		err = grow((void **)&infos, &cap, n, sizeof(*infos));
		if (err)
			break;
		infos[n++] = info;
	}
	if (!err && rc != SQLITE_DONE)
		err = store_db_errno(db, rc);
	sqlite3_finalize(st);
	if (err) {
		free(infos);
		return err;
	}
	*ret_infos = infos;
	*ret_n = n;
	return 0;
}

/* -------------------------------------------------------- range query */

const char *store_tier_name(enum store_tier tier)
{
	switch (tier) {
	case STORE_TIER_RAW:
		return "raw";
	case STORE_TIER_1M:
		return "1m";
	case STORE_TIER_1H:
		return "1h";
	}
	return "?";
}

int store_agg_parse(const char *text, enum store_agg *ret_agg, double *ret_quantile)
{
	static const struct {
		const char *name;
		enum store_agg agg;
	} names[] = {
	    {"avg", STORE_AGG_AVG}, {"min", STORE_AGG_MIN},   {"max", STORE_AGG_MAX},
	    {"sum", STORE_AGG_SUM}, {"last", STORE_AGG_LAST}, {"rate", STORE_AGG_RATE},
	};
	char *end;
	double p;

	if (!text || !ret_agg || !ret_quantile)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!strcmp(text, names[i].name)) {
			*ret_agg = names[i].agg;
			*ret_quantile = 0;
			return 0;
		}
	}
	if (text[0] != 'p' || !(text[1] >= '0' && text[1] <= '9'))
		return -EINVAL;
	errno = 0;
	p = strtod(text + 1, &end);
	if (errno || *end || !(p >= 0 && p <= 100))
		return -EINVAL;
	*ret_agg = STORE_AGG_QUANTILE;
	*ret_quantile = p / 100.0;
	return 0;
}

static bool agg_fits(enum store_agg agg, enum metric_type type)
{
	switch (agg) {
	case STORE_AGG_AVG:
		return true;
	case STORE_AGG_MIN:
	case STORE_AGG_MAX:
	case STORE_AGG_SUM:
	case STORE_AGG_LAST:
		return type != METRIC_HISTOGRAM;
	case STORE_AGG_RATE:
		return type != METRIC_GAUGE;
	case STORE_AGG_QUANTILE:
		return type == METRIC_HISTOGRAM;
	}
	return false;
}

/* The finest tier whose retention still covers from. */
static enum store_tier choose_tier(const struct store *s, double now, double from, double step)
{
	enum store_tier t = step < TIER_1M_S   ? STORE_TIER_RAW
			    : step < TIER_1H_S ? STORE_TIER_1M
					       : STORE_TIER_1H;

	if (t == STORE_TIER_RAW && from < now - s->opts.retention_raw_s)
		t = STORE_TIER_1M;
	if (t == STORE_TIER_1M && from < now - s->opts.retention_1m_s)
		t = STORE_TIER_1H;
	return t;
}

/* The value of one step; false when it has none. */
static bool step_value(const struct store_range_query *q, const struct store_series_info *info,
		       const struct span_agg *a, double *ret)
{
	double v;

	switch (q->agg) {
	case STORE_AGG_AVG:
		if (info->type == METRIC_HISTOGRAM) {
			if (!a->has_hist || !a->hist_count)
				return false;
			v = a->hist_sum / (double)a->hist_count;
		} else {
			if (!a->has_values)
				return false;
			v = a->sum / (double)a->n;
		}
		break;
	case STORE_AGG_MIN:
		v = a->min;
		if (!a->has_values)
			return false;
		break;
	case STORE_AGG_MAX:
		v = a->max;
		if (!a->has_values)
			return false;
		break;
	case STORE_AGG_SUM:
		v = a->sum;
		if (!a->has_values)
			return false;
		break;
	case STORE_AGG_LAST:
		v = a->last;
		if (!a->has_values)
			return false;
		break;
	case STORE_AGG_RATE:
		if (info->type == METRIC_HISTOGRAM) {
			if (!a->has_hist)
				return false;
			v = (double)a->hist_count / q->step;
		} else {
			if (!a->has_inc)
				return false;
			v = a->inc / q->step;
		}
		break;
	case STORE_AGG_QUANTILE:
		if (!a->has_hist)
			return false;
		v = hist_log2_quantile(a->slots, REGISTRY_HIST_SLOTS, q->quantile) * info->scale;
		break;
	default:
		return false;
	}
	if (!isfinite(v))
		return false;
	*ret = v;
	return true;
}

/* Walks one series' rows step by step. */
struct stepper {
	const struct store_range_query *q;
	struct store_range_series *out;
	size_t cap;
	size_t nsteps;
	long long k; /* current step, -1 before the first row */
	struct span_agg acc;
};

static int stepper_emit(struct stepper *w)
{
	double v;
	int err;

	if (w->k < 0 || !step_value(w->q, &w->out->info, &w->acc, &v))
		return 0;
	err = grow((void **)&w->out->points, &w->cap, w->out->npoints, sizeof(*w->out->points));
	if (err)
		return err;
	w->out->points[w->out->npoints++] = (struct store_point){
	    .ts = w->q->from + (double)w->k * w->q->step,
	    .value = v,
	};
	return 0;
}

/* Moves to the step holding ts, emitting the finished one. */
static int stepper_seek(struct stepper *w, double ts)
{
	long long k = (long long)floor((ts - w->q->from) / w->q->step);
	int err;

	if (k < 0)
		k = 0;
	if ((size_t)k >= w->nsteps)
		k = (long long)w->nsteps - 1;
	if (k == w->k)
		return 0;
	err = stepper_emit(w);
	memset(&w->acc, 0, sizeof(w->acc));
	w->k = k;
	return err;
}

static int range_raw(sqlite3 *db, struct stepper *w)
{
	int64_t from_ms = (int64_t)ceil(w->q->from * 1000.0);
	int64_t to_ms = (int64_t)floor(w->q->to * 1000.0);
	enum metric_type type = w->out->info.type;
	struct raw_sample buf[2], *prev = NULL;
	struct raw_reader rd;
	sqlite3_stmt *st = NULL;
	int err = 0, rc, k = 0;

	if (type != METRIC_GAUGE) {
		bool found;

		err = prepare(db, store_sql_raw_prev, &st);
		if (err)
			return err;
		rc = store_raw_prev(st, w->out->info.id, from_ms, &buf[0], &found);
		if (found) {
			prev = &buf[0];
			k = 1;
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE)
			err = store_db_errno(db, rc);
		sqlite3_finalize(st);
		if (err)
			return err;
	}
	err = prepare(db, store_sql_raw_rows, &st);
	if (err)
		return err;
	/* to is inclusive */
	store_raw_reader_start(&rd, st, w->out->info.id, from_ms,
			       to_ms < INT64_MAX ? to_ms + 1 : INT64_MAX);
	while (store_raw_reader_next(&rd, &buf[k])) {
		err = stepper_seek(w, (double)buf[k].ts_ms / 1000.0);
		if (err)
			break;
		store_span_add_raw(&w->acc, type, prev, &buf[k]);
		prev = &buf[k];
		k ^= 1;
	}
	if (!err && rd.rc != SQLITE_DONE)
		err = store_db_errno(db, rd.rc);
	sqlite3_finalize(st);
	return err ? err : stepper_emit(w);
}

/* The 1-minute tier: only the chunks that overlap [from, to] are read
 * (and decoded whole: an hour of minutes); one that does not decode is
 * skipped, as a damaged row was. */
static int range_1m(sqlite3 *db, struct stepper *w)
{
	static const char sql[] = "SELECT data FROM chunks_1m WHERE series_id = ?1 "
				  "AND start_ts > ?2 - 3600 AND start_ts <= ?3 ORDER BY start_ts";
	int64_t from = (int64_t)ceil(w->q->from), to = (int64_t)floor(w->q->to);
	struct rollup_row *rows;
	sqlite3_stmt *st = NULL;
	size_t n;
	int err, rc;

	_Static_assert(STORE_M1_CHUNK_S == 3600, "the chunk span in sql");
	rows = calloc(STORE_M1_CHUNK_ROWS, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	err = prepare(db, sql, &st);
	if (err) {
		free(rows);
		return err;
	}
	sqlite3_bind_int64(st, 1, w->out->info.id);
	sqlite3_bind_int64(st, 2, from);
	sqlite3_bind_int64(st, 3, to);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (store_rollup_decode(sqlite3_column_blob(st, 0),
					(size_t)sqlite3_column_bytes(st, 0), rows,
					STORE_M1_CHUNK_ROWS, &n) < 0)
			continue;
		for (size_t i = 0; i < n && !err; i++) {
			if (rows[i].bucket < from || rows[i].bucket > to)
				continue;
			err = stepper_seek(w, (double)rows[i].bucket);
			if (!err)
				store_span_merge(&w->acc, &rows[i].agg);
		}
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = store_db_errno(db, rc);
	sqlite3_finalize(st);
	free(rows);
	return err ? err : stepper_emit(w);
}

static int range_rollup(sqlite3 *db, enum store_tier tier, struct stepper *w)
{
	static const char h1_sql[] = "SELECT bucket_ts, " STORE_ROLLUP_COLS " FROM samples_1h "
				     "WHERE series_id = ?1 AND bucket_ts >= ?2 "
				     "AND bucket_ts <= ?3 ORDER BY bucket_ts";
	struct span_agg row;
	sqlite3_stmt *st = NULL;
	int err, rc;

	if (tier == STORE_TIER_1M)
		return range_1m(db, w);
	err = prepare(db, h1_sql, &st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, w->out->info.id);
	sqlite3_bind_int64(st, 2, (int64_t)ceil(w->q->from));
	sqlite3_bind_int64(st, 3, (int64_t)floor(w->q->to));
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (store_span_from_row(st, 1, &row) < 0)
			continue;
		err = stepper_seek(w, (double)sqlite3_column_int64(st, 0));
		if (err)
			break;
		store_span_merge(&w->acc, &row);
	}
	if (!err && rc != SQLITE_DONE)
		err = store_db_errno(db, rc);
	sqlite3_finalize(st);
	return err ? err : stepper_emit(w);
}

struct store_range_result *store_range_result_free(struct store_range_result *r)
{
	if (r) {
		for (size_t i = 0; i < r->nseries; i++)
			free(r->series[i].points);
		free(r->series);
		free(r);
	}
	return NULL;
}

static int range_check(const struct store *s, const struct store_range_query *q, size_t *ret_steps)
{
	double nsteps;
	int err;

	err = selector_check(&q->selector, true);
	if (err)
		return err;
	if (!isfinite(q->from) || !isfinite(q->to) || q->from > q->to || !isfinite(q->step) ||
	    q->step <= 0)
		return -EINVAL;
	if (q->agg < STORE_AGG_AVG || q->agg > STORE_AGG_QUANTILE)
		return -EINVAL;
	if (q->agg == STORE_AGG_QUANTILE && !(q->quantile >= 0 && q->quantile <= 1))
		return -EINVAL;
	nsteps = floor((q->to - q->from) / q->step) + 1;
	if (nsteps > (double)s->opts.max_points)
		return -E2BIG;
	*ret_steps = (size_t)nsteps;
	return 0;
}

int store_query_range(struct store *s, const struct store_range_query *q,
		      struct store_range_result **ret_result)
{
	struct store_series_info *infos = NULL;
	struct store_range_result *res = NULL;
	size_t n = 0, nsteps;
	sqlite3 *db;
	int err;

	if (!s || !q || !ret_result)
		return -EINVAL;
	err = range_check(s, q, &nsteps);
	if (err)
		return err;
	err = store_reader_get(s, &db);
	if (err)
		return err;
	err = find_series(db, &q->selector, s->opts.max_query_series, &infos, &n);
	if (err)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!agg_fits(q->agg, infos[i].type)) {
			err = -EINVAL;
			goto out;
		}
	}
	res = calloc(1, sizeof(*res));
	if (!res || (n && !(res->series = calloc(n, sizeof(*res->series))))) {
		err = -ENOMEM;
		goto out;
	}
	res->tier = choose_tier(s, store_now(s), q->from, q->step);
	res->step = q->step;
	for (size_t i = 0; i < n; i++) {
		struct stepper w = {.q = q, .out = &res->series[i], .nsteps = nsteps, .k = -1};

		res->series[i].info = infos[i];
		res->nseries++;
		if (res->tier == STORE_TIER_RAW)
			err = range_raw(db, &w);
		else
			err = range_rollup(db, res->tier, &w);
		if (err)
			goto out;
	}
	*ret_result = res;
	res = NULL;
out:
	store_reader_release(s, db, err);
	store_range_result_free(res);
	free(infos);
	return err;
}

/* ------------------------------------------------------------ latest */

struct store_latest_result *store_latest_result_free(struct store_latest_result *r)
{
	if (r) {
		free(r->samples);
		free(r);
	}
	return NULL;
}

static void latest_fill(const struct raw_sample *rawp, const struct store_series_info *info,
			struct store_latest_sample *out)
{
	struct metric_series *m = &out->series;
	const struct raw_sample raw = *rawp;

	memset(out, 0, sizeof(*out));
	out->ts = (double)raw.ts_ms / 1000.0;
	copy_str(m->name, sizeof(m->name), info->name);
	for (size_t i = 0; i < info->nlabels; i++) {
		memcpy(m->label_keys[i], info->label_keys[i], REGISTRY_LABEL_KEY_MAX);
		memcpy(m->label_values[i], info->label_values[i], REGISTRY_LABEL_VALUE_MAX);
	}
	m->nlabels = info->nlabels;
	m->type = info->type;
	m->scale = info->type == METRIC_HISTOGRAM ? info->scale : 0;
	if (info->type == METRIC_HISTOGRAM && raw.has_hist) {
		memcpy(m->slots, raw.slots, sizeof(m->slots));
		m->hist_count = raw.hist_count;
		m->hist_sum = raw.value;
	} else {
		m->value = raw.value;
	}
}

int store_latest(struct store *s, const struct store_selector *sel,
		 struct store_latest_result **ret_result)
{
	struct store_latest_result *res = NULL;
	struct store_series_info info;
	int64_t newest = INT64_MIN, last_id = -1;
	size_t cap = 0;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int err, rc;

	if (!s || !ret_result)
		return -EINVAL;
	err = selector_check(sel, false);
	if (err)
		return err;
	err = store_reader_get(s, &db);
	if (err)
		return err;
	res = calloc(1, sizeof(*res));
	err = res ? prepare(db, store_sql_raw_latest, &st) : -ENOMEM;
	if (err)
		goto out;
	/* each series' last sample in its chunks of the last span; then only
	 * those at the newest time any series has */
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct raw_sample raw;
		bool same;

		if (info_from_row(st, 0, &info) < 0 || !info_matches(&info, sel))
			continue;
		if (store_chunk_last_sample(sqlite3_column_blob(st, 5),
					    (size_t)sqlite3_column_bytes(st, 5), &raw) < 0)
			continue;
		if (raw.ts_ms > newest)
			newest = raw.ts_ms;
		same = res->n && last_id == info.id;
		if (same) {
			if (raw.ts_ms > (int64_t)llround(res->samples[res->n - 1].ts * 1000.0))
				latest_fill(&raw, &info, &res->samples[res->n - 1]);
			continue;
		}
		if (res->n == s->opts.max_list) {
			err = -E2BIG;
			break;
		}
		err = grow((void **)&res->samples, &cap, res->n, sizeof(*res->samples));
		if (err)
			break;
		latest_fill(&raw, &info, &res->samples[res->n++]);
		last_id = info.id;
	}
	if (!err && rc != SQLITE_DONE)
		err = store_db_errno(db, rc);
	if (!err) {
		size_t k = 0;

		for (size_t i = 0; i < res->n; i++)
			if ((int64_t)llround(res->samples[i].ts * 1000.0) == newest)
				res->samples[k++] = res->samples[i];
		res->n = k;
		*ret_result = res;
		res = NULL;
	}
out:
	sqlite3_finalize(st);
	store_reader_release(s, db, err);
	store_latest_result_free(res);
	return err;
}

/* ------------------------------------------------------------ series */

struct store_series_list *store_series_list_free(struct store_series_list *l)
{
	if (l) {
		free(l->series);
		free(l);
	}
	return NULL;
}

int store_list_series(struct store *s, const struct store_selector *sel,
		      struct store_series_list **ret_list)
{
	struct store_series_list *l;
	sqlite3 *db;
	int err;

	if (!s || !ret_list)
		return -EINVAL;
	err = selector_check(sel, false);
	if (err)
		return err;
	l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	err = store_reader_get(s, &db);
	if (err) {
		free(l);
		return err;
	}
	err = find_series(db, sel, s->opts.max_list, &l->series, &l->n);
	store_reader_release(s, db, err);
	if (err) {
		free(l);
		return err;
	}
	*ret_list = l;
	return 0;
}

/* ------------------------------------------------------------ events */

struct store_event_list *store_event_list_free(struct store_event_list *l)
{
	if (l) {
		for (size_t i = 0; i < l->n; i++)
			json_decref(l->events[i].fields);
		free(l->events);
		free(l);
	}
	return NULL;
}

/* Appends one event to l; fields is JSON text (NULL or not an object
 * reads as {}). */
static int event_add(struct store_event_list *l, size_t *cap, int64_t id, double ts,
		     const char *type, int32_t pid, const char *comm, const char *fields)
{
	struct store_event *e;
	int err = grow((void **)&l->events, cap, l->n, sizeof(*l->events));

	if (err)
		return err;
	e = &l->events[l->n];
	memset(e, 0, sizeof(*e));
	e->id = id;
	e->ts = ts;
	copy_str(e->type, sizeof(e->type), type);
	e->pid = pid;
	copy_str(e->comm, sizeof(e->comm), comm);
	e->fields = fields ? json_loads(fields, 0, NULL) : NULL;
	if (e->fields && !json_is_object(e->fields)) {
		json_decref(e->fields);
		e->fields = NULL;
	}
	if (!e->fields)
		e->fields = json_object();
	if (!e->fields)
		return -ENOMEM;
	l->n++;
	return 0;
}

static int event_cmp_asc(const void *a, const void *b)
{
	const struct store_event *x = a, *y = b;

	if (x->ts != y->ts)
		return x->ts < y->ts ? -1 : 1;
	return (x->id > y->id) - (x->id < y->id);
}

static int event_cmp_desc(const void *a, const void *b)
{
	return event_cmp_asc(b, a);
}

/* Sorts l in the query's order and keeps its first limit events. */
static void events_trim(struct store_event_list *l, const struct store_event_query *q)
{
	if (l->n) /* an empty list may have no array, which qsort must not get */
		qsort(l->events, l->n, sizeof(*l->events),
		      q->newest_first ? event_cmp_desc : event_cmp_asc);
	while (l->n > q->limit)
		json_decref(l->events[--l->n].fields);
}

/* The bound past which no event can be in the answer: the limit'th of l
 * (sorted and trimmed when it holds that many), else none. */
struct events_bound {
	bool set;
	bool newest_first;
	double ts;
};

static struct events_bound events_bound(const struct store_event_list *l,
					const struct store_event_query *q)
{
	return (struct events_bound){.set = l->n >= q->limit,
				     .newest_first = q->newest_first,
				     .ts = l->n >= q->limit ? l->events[l->n - 1].ts : 0};
}

/* True when an event at ts comes after the bound in the query's order. */
static bool events_past(const struct events_bound *b, double ts)
{
	return b->set && (b->newest_first ? ts < b->ts : ts > b->ts);
}

/*
 * The events of the blocks (store_event_block.h) that overlap [from, to],
 * added to l: blocks in start order (newest first: backwards), each
 * decoded whole; once l holds limit events, a block that starts past the
 * limit'th event (newest first: that ends before it, a block spanning
 * less than STORE_EVENT_BLOCK_SPAN_S) ends the scan. A block that does
 * not decode is skipped.
 */
static int events_from_blocks(sqlite3 *db, const struct store_event_query *q,
			      struct store_event_list *l, size_t *cap)
{
	/* [by type][newest first] */
	static const char *const sql[2][2] = {
	    {"SELECT type, start_ts, data FROM event_blocks WHERE start_ts > ?1 AND start_ts <= ?2 "
	     "ORDER BY start_ts",
	     "SELECT type, start_ts, data FROM event_blocks WHERE start_ts > ?1 AND start_ts <= ?2 "
	     "ORDER BY start_ts DESC"},
	    {"SELECT type, start_ts, data FROM event_blocks WHERE type = ?3 AND start_ts > ?1 "
	     "AND start_ts <= ?2 ORDER BY start_ts",
	     "SELECT type, start_ts, data FROM event_blocks WHERE type = ?3 AND start_ts > ?1 "
	     "AND start_ts <= ?2 ORDER BY start_ts DESC"},
	};
	sqlite3_stmt *st = NULL;
	int err, rc;

	err = prepare(db, sql[q->type != NULL][q->newest_first], &st);
	if (err)
		return err;
	sqlite3_bind_double(st, 1, q->from - STORE_EVENT_BLOCK_SPAN_S);
	sqlite3_bind_double(st, 2, q->to);
	if (q->type)
		sqlite3_bind_text(st, 3, q->type, -1, SQLITE_STATIC);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *type = (const char *)sqlite3_column_text(st, 0);
		double start = sqlite3_column_double(st, 1);
		const void *data = sqlite3_column_blob(st, 2);
		struct events_bound bound = events_bound(l, q);
		struct store_event_block b;

		if (events_past(&bound, q->newest_first ? start + STORE_EVENT_BLOCK_SPAN_S : start))
			break;
		if (store_event_block_decode(data, (size_t)sqlite3_column_bytes(st, 2), &b) < 0)
			continue; /* damaged: its events are lost, not the query */
		for (size_t i = 0; !err && i < b.n; i++) {
			const struct store_event_rec *r = &b.recs[i];

			if (r->ts < q->from || r->ts > q->to || events_past(&bound, r->ts))
				continue;
			err = event_add(l, cap, r->id, r->ts, type, r->pid, r->comm, r->fields);
		}
		store_event_block_free(&b);
		if (!err && l->n >= q->limit)
			events_trim(l, q);
	}
	if (!err && rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = store_db_errno(db, rc);
	sqlite3_finalize(st);
	return err;
}

/*
 * Events live in two tables: rows (events, written at each flush) and
 * blocks (event_blocks, the minutes maintenance moved). Both are read in
 * one read transaction, so an event moved meanwhile is seen once.
 */
int store_query_events(struct store *s, const struct store_event_query *q,
		       struct store_event_list **ret_list)
{
	/* [by type][newest first] */
	static const char *const sql[2][2] = {
	    {"SELECT id, ts, type, pid, comm, fields FROM events WHERE ts >= ?1 AND ts <= ?2 "
	     "ORDER BY ts, id LIMIT ?3",
	     "SELECT id, ts, type, pid, comm, fields FROM events WHERE ts >= ?1 AND ts <= ?2 "
	     "ORDER BY ts DESC, id DESC LIMIT ?3"},
	    {"SELECT id, ts, type, pid, comm, fields FROM events WHERE type = ?4 AND ts >= ?1 "
	     "AND ts <= ?2 ORDER BY ts, id LIMIT ?3",
	     "SELECT id, ts, type, pid, comm, fields FROM events WHERE type = ?4 AND ts >= ?1 "
	     "AND ts <= ?2 ORDER BY ts DESC, id DESC LIMIT ?3"},
	};
	struct store_event_list *l = NULL;
	sqlite3_stmt *st = NULL;
	bool in_txn = false;
	size_t cap = 0;
	sqlite3 *db;
	int err, rc;

	if (!s || !q || !ret_list)
		return -EINVAL;
	if (!isfinite(q->from) || !isfinite(q->to) || q->from > q->to || !q->limit ||
	    (q->type && !store_event_type_valid(q->type)))
		return -EINVAL;
	if (q->limit > s->opts.max_events)
		return -E2BIG;
	err = store_reader_get(s, &db);
	if (err)
		return err;
	l = calloc(1, sizeof(*l));
	if (!l) {
		err = -ENOMEM;
		goto out;
	}
	rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		err = store_db_errno(db, rc);
		goto out;
	}
	in_txn = true;
	err = prepare(db, sql[q->type != NULL][q->newest_first], &st);
	if (err)
		goto out;
	sqlite3_bind_double(st, 1, q->from);
	sqlite3_bind_double(st, 2, q->to);
	sqlite3_bind_int64(st, 3, (int64_t)q->limit);
	if (q->type)
		sqlite3_bind_text(st, 4, q->type, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		err = event_add(l, &cap, sqlite3_column_int64(st, 0), sqlite3_column_double(st, 1),
				(const char *)sqlite3_column_text(st, 2),
				(int32_t)sqlite3_column_int64(st, 3),
				(const char *)sqlite3_column_text(st, 4),
				(const char *)sqlite3_column_text(st, 5));
		if (err)
			break;
	}
	if (!err && rc != SQLITE_DONE)
		err = store_db_errno(db, rc);
	if (!err && l->n >= q->limit)
		events_trim(l, q);
	if (!err)
		err = events_from_blocks(db, q, l, &cap);
	if (!err)
		events_trim(l, q);
	if (!err) {
		*ret_list = l;
		l = NULL;
	}
out:
	sqlite3_finalize(st);
	if (in_txn && sqlite3_exec(db, err ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	/* a connection still in a transaction does not go back to the pool */
	store_reader_release(s, db, err ? err : sqlite3_get_autocommit(db) ? 0 : -EIO);
	store_event_list_free(l);
	return err;
}
