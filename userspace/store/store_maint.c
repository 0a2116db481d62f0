/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store_maint.c - the writer's background work: rolling raw samples up
 * into 1-minute buckets and those into 1-hour buckets, and deleting what
 * is past retention, each in small transactions so that a flush never
 * waits long behind them. Also the aggregation both rollups and queries
 * use, and the histogram blob codec.
 *
 * Rollup progress is a watermark per tier in the meta table: every bucket
 * below it is rolled up. A flush that brings samples older than a
 * watermark (buffered through an outage) moves it back, and the buckets
 * are rolled up again; rollup rows are replaced, so this is idempotent.
 * Retention never deletes source rows that are not rolled up yet.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry/hist.h"
#include "store/store_internal.h"

/* ---------------------------------------------------- histogram blobs */

#define HIST_BLOB_FORMAT 1

size_t store_blob_encode(const uint64_t *slots, unsigned char out[STORE_BLOB_MAX])
{
	size_t n = REGISTRY_HIST_SLOTS, len = 0;

	while (n > 0 && slots[n - 1] == 0)
		n--;
	out[len++] = HIST_BLOB_FORMAT;
	out[len++] = (unsigned char)n;
	for (size_t i = 0; i < n; i++) {
		uint64_t v = slots[i];

		do {
			unsigned char byte = v & 0x7f;

			v >>= 7;
			out[len++] = byte | (v ? 0x80 : 0);
		} while (v);
	}
	return len;
}

int store_blob_decode(const void *blob, size_t len, uint64_t *slots)
{
	const unsigned char *p = blob;
	size_t pos = 2;

	memset(slots, 0, REGISTRY_HIST_SLOTS * sizeof(*slots));
	if (!p || len < 2 || p[0] != HIST_BLOB_FORMAT || p[1] > REGISTRY_HIST_SLOTS)
		return -EBADMSG;
	for (size_t i = 0; i < p[1]; i++) {
		uint64_t v = 0;

		for (unsigned shift = 0;; shift += 7) {
			unsigned char byte;

			if (pos >= len || shift > 63)
				return -EBADMSG;
			byte = p[pos++];
			v |= (uint64_t)(byte & 0x7f) << shift;
			if (!(byte & 0x80))
				break;
		}
		slots[i] = v;
	}
	return pos == len ? 0 : -EBADMSG;
}

/* -------------------------------------------------------- aggregation */

int store_raw_from_row(sqlite3_stmt *st, int first, struct raw_sample *out)
{
	out->has_value = sqlite3_column_type(st, first) != SQLITE_NULL;
	out->value = sqlite3_column_double(st, first);
	out->has_hist = sqlite3_column_type(st, first + 2) == SQLITE_BLOB;
	out->hist_count = 0;
	if (!out->has_hist)
		return 0;
	out->hist_count = (uint64_t)sqlite3_column_int64(st, first + 1);
	return store_blob_decode(sqlite3_column_blob(st, first + 2),
				 (size_t)sqlite3_column_bytes(st, first + 2), out->slots);
}

static bool hist_reset(const struct raw_sample *prev, const struct raw_sample *cur)
{
	if (cur->hist_count < prev->hist_count)
		return true;
	for (size_t i = 0; i < REGISTRY_HIST_SLOTS; i++)
		if (cur->slots[i] < prev->slots[i])
			return true;
	return false;
}

void store_span_add_raw(struct span_agg *agg, enum metric_type type, const struct raw_sample *prev,
			const struct raw_sample *cur)
{
	if (type == METRIC_HISTOGRAM) {
		bool reset;

		if (!cur->has_hist)
			return;
		agg->n++;
		if (!prev || !prev->has_hist)
			return; /* no increase known */
		agg->has_hist = true;
		reset = hist_reset(prev, cur);
		for (size_t i = 0; i < REGISTRY_HIST_SLOTS; i++)
			agg->slots[i] += reset ? cur->slots[i] : cur->slots[i] - prev->slots[i];
		agg->hist_count += reset ? cur->hist_count : cur->hist_count - prev->hist_count;
		agg->hist_sum += reset ? cur->value : cur->value - prev->value;
		return;
	}
	if (!cur->has_value)
		return;
	if (!agg->has_values || cur->value < agg->min)
		agg->min = cur->value;
	if (!agg->has_values || cur->value > agg->max)
		agg->max = cur->value;
	agg->has_values = true;
	agg->n++;
	agg->sum += cur->value;
	agg->last = cur->value;
	if (type == METRIC_COUNTER && prev && prev->has_value) {
		agg->has_inc = true;
		agg->inc += cur->value >= prev->value ? cur->value - prev->value : cur->value;
	}
}

void store_span_merge(struct span_agg *a, const struct span_agg *b)
{
	a->n += b->n;
	if (b->has_values) {
		if (!a->has_values || b->min < a->min)
			a->min = b->min;
		if (!a->has_values || b->max > a->max)
			a->max = b->max;
		a->sum += b->sum;
		a->last = b->last;
		a->has_values = true;
	}
	if (b->has_inc) {
		a->inc += b->inc;
		a->has_inc = true;
	}
	if (b->has_hist) {
		a->hist_count += b->hist_count;
		a->hist_sum += b->hist_sum;
		hist_merge(a->slots, b->slots, REGISTRY_HIST_SLOTS);
		a->has_hist = true;
	}
}

/* count, min, max, sum, last, inc, hist_count, hist_sum, hist_slots */
int store_span_from_row(sqlite3_stmt *st, int first, struct span_agg *out)
{
	memset(out, 0, sizeof(*out));
	out->n = sqlite3_column_int64(st, first);
	out->has_values = sqlite3_column_type(st, first + 1) != SQLITE_NULL;
	if (out->has_values) {
		out->min = sqlite3_column_double(st, first + 1);
		out->max = sqlite3_column_double(st, first + 2);
		out->sum = sqlite3_column_double(st, first + 3);
		out->last = sqlite3_column_double(st, first + 4);
	}
	out->has_inc = sqlite3_column_type(st, first + 5) != SQLITE_NULL;
	out->inc = sqlite3_column_double(st, first + 5);
	out->has_hist = sqlite3_column_type(st, first + 8) == SQLITE_BLOB;
	if (!out->has_hist)
		return 0;
	out->hist_count = (uint64_t)sqlite3_column_int64(st, first + 6);
	out->hist_sum = sqlite3_column_double(st, first + 7);
	return store_blob_decode(sqlite3_column_blob(st, first + 8),
				 (size_t)sqlite3_column_bytes(st, first + 8), out->slots);
}

/* Binds a rollup row to an insert: ?1 series, ?2 bucket, ?3.. the agg. */
static void bind_agg(sqlite3_stmt *st, int64_t id, int64_t bucket, const struct span_agg *a,
		     unsigned char blob[STORE_BLOB_MAX])
{
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, bucket);
	sqlite3_bind_int64(st, 3, a->n);
	if (a->has_values) {
		sqlite3_bind_double(st, 4, a->min);
		sqlite3_bind_double(st, 5, a->max);
		sqlite3_bind_double(st, 6, a->sum);
		sqlite3_bind_double(st, 7, a->last);
	} else {
		for (int i = 4; i <= 7; i++)
			sqlite3_bind_null(st, i);
	}
	if (a->has_inc)
		sqlite3_bind_double(st, 8, a->inc);
	else
		sqlite3_bind_null(st, 8);
	if (a->has_hist) {
		size_t len = store_blob_encode(a->slots, blob);

		sqlite3_bind_int64(st, 9, (int64_t)a->hist_count);
		sqlite3_bind_double(st, 10, a->hist_sum);
		sqlite3_bind_blob(st, 11, blob, (int)len, SQLITE_STATIC);
	} else {
		sqlite3_bind_null(st, 9);
		sqlite3_bind_null(st, 10);
		sqlite3_bind_null(st, 11);
	}
}

/* ------------------------------------------------------- statements */

#define ROLLUP_COLS "count, min, max, sum, last, inc, hist_count, hist_sum, hist_slots"
#define ROLLUP_INSERT(table)                                                                       \
	"INSERT OR REPLACE INTO " table " (series_id, bucket_ts, " ROLLUP_COLS ") "                \
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"

/* Deletes the oldest rows below the cutoff ?1: at least ?2 + 1 of them
 * (or all), plus those sharing the last one's timestamp. */
#define DELETE_OLDEST(table, col)                                                                  \
	"DELETE FROM " table " WHERE " col " < ?1 AND " col " <= coalesce((SELECT " col            \
	" FROM " table " WHERE " col " < ?1 ORDER BY " col " LIMIT 1 OFFSET ?2), ?1)"

static const struct {
	size_t offset;
	const char *sql;
} writer_sql[] = {
#define S(field, text)                                                                             \
	{                                                                                          \
		offsetof(struct writer_stmts, field), text                                         \
	}
    S(begin, "BEGIN IMMEDIATE"),
    S(commit, "COMMIT"),
    S(rollback, "ROLLBACK"),
    S(series_upsert,
      "INSERT INTO series (name, labels, type, scale, last_seen_ts) VALUES (?1, ?2, ?3, ?4, ?5) "
      "ON CONFLICT (name, labels) DO UPDATE SET type = excluded.type, scale = excluded.scale, "
      "last_seen_ts = max(last_seen_ts, excluded.last_seen_ts) RETURNING id"),
    S(raw_insert, "INSERT OR REPLACE INTO samples_raw (series_id, ts_ms, value, hist_count, "
		  "hist_slots) VALUES (?1, ?2, ?3, ?4, ?5)"),
    S(event_insert, "INSERT INTO events (ts, type, pid, comm, fields) VALUES (?1, ?2, ?3, ?4, ?5)"),
    S(meta_get, "SELECT value FROM meta WHERE key = ?1"),
    S(meta_set, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)"),
    S(raw_next, "SELECT ts_ms FROM samples_raw WHERE ts_ms >= ?1 ORDER BY ts_ms LIMIT 1"),
    S(raw_series_in, "SELECT id, type FROM series WHERE id IN (SELECT series_id FROM "
		     "samples_raw WHERE ts_ms >= ?1 AND ts_ms < ?2) ORDER BY id"),
    S(raw_rows, "SELECT ts_ms, value, hist_count, hist_slots FROM samples_raw "
		"WHERE series_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 ORDER BY ts_ms"),
    S(raw_prev, "SELECT ts_ms, value, hist_count, hist_slots FROM samples_raw "
		"WHERE series_id = ?1 AND ts_ms < ?2 ORDER BY ts_ms DESC LIMIT 1"),
    S(m1_insert, ROLLUP_INSERT("samples_1m")),
    S(m1_next, "SELECT bucket_ts FROM samples_1m WHERE bucket_ts >= ?1 ORDER BY bucket_ts LIMIT 1"),
    S(m1_series_in, "SELECT id, type FROM series WHERE id IN (SELECT series_id FROM "
		    "samples_1m WHERE bucket_ts >= ?1 AND bucket_ts < ?2) ORDER BY id"),
    S(m1_rows, "SELECT bucket_ts, " ROLLUP_COLS " FROM samples_1m WHERE series_id = ?1 "
	       "AND bucket_ts >= ?2 AND bucket_ts < ?3 ORDER BY bucket_ts"),
    S(h1_insert, ROLLUP_INSERT("samples_1h")),
    S(del_raw, DELETE_OLDEST("samples_raw", "ts_ms")),
    S(del_1m, DELETE_OLDEST("samples_1m", "bucket_ts")),
    S(del_1h, DELETE_OLDEST("samples_1h", "bucket_ts")),
    S(del_events, "DELETE FROM events WHERE id IN "
		  "(SELECT id FROM events WHERE ts < ?1 ORDER BY ts LIMIT ?2)"),
    /* series nothing refers to any more, last written before ?1 */
    S(del_series, "DELETE FROM series WHERE id IN (SELECT id FROM series AS s "
		  "WHERE last_seen_ts < ?1 "
		  "AND NOT EXISTS (SELECT 1 FROM samples_raw WHERE series_id = s.id) "
		  "AND NOT EXISTS (SELECT 1 FROM samples_1m WHERE series_id = s.id) "
		  "AND NOT EXISTS (SELECT 1 FROM samples_1h WHERE series_id = s.id) "
		  "LIMIT ?2)"),
#undef S
};

_Static_assert(sizeof(writer_sql) / sizeof(writer_sql[0]) ==
		   sizeof(struct writer_stmts) / sizeof(sqlite3_stmt *),
	       "every writer statement has its SQL");

int store_writer_prepare(struct store *s)
{
	for (size_t i = 0; i < sizeof(writer_sql) / sizeof(writer_sql[0]); i++) {
		sqlite3_stmt **slot = (sqlite3_stmt **)((char *)&s->st + writer_sql[i].offset);
		int err = store_prepare(s->db, writer_sql[i].sql, slot);

		if (err)
			return err;
	}
	return 0;
}

void store_writer_finalize(struct store *s)
{
	for (size_t i = 0; i < sizeof(writer_sql) / sizeof(writer_sql[0]); i++) {
		sqlite3_stmt **slot = (sqlite3_stmt **)((char *)&s->st + writer_sql[i].offset);

		sqlite3_finalize(*slot);
		*slot = NULL;
	}
}

/* ------------------------------------------------------------- meta */

static const char wm_1m_key[] = "rollup_1m_done";
static const char wm_1h_key[] = "rollup_1h_done";

static int meta_get(struct store *s, const char *key, int64_t *ret_value)
{
	sqlite3_stmt *st = s->st.meta_get;
	int rc, err = 0;

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*ret_value = sqlite3_column_int64(st, 0);
	else if (rc != SQLITE_DONE)
		err = store_wfail(s, rc, "reading meta");
	sqlite3_reset(st);
	return err;
}

int store_meta_set(struct store *s, const char *key, int64_t value)
{
	sqlite3_stmt *st = s->st.meta_set;

	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, value);
	return store_wstep(s, st, "writing meta");
}

int store_maint_load(struct store *s)
{
	int err;

	s->wm_1m = s->wm_1h = WATERMARK_NONE;
	err = meta_get(s, wm_1m_key, &s->wm_1m);
	if (!err)
		err = meta_get(s, wm_1h_key, &s->wm_1h);
	return err;
}

void store_maint_reset(struct store *s)
{
	s->cur_1m.active = false;
	s->cur_1h.active = false;
}

void store_maint_free(struct store *s)
{
	free(s->cur_1m.ids);
	free(s->cur_1m.types);
	free(s->cur_1h.ids);
	free(s->cur_1h.types);
	memset(&s->cur_1m, 0, sizeof(s->cur_1m));
	memset(&s->cur_1h, 0, sizeof(s->cur_1h));
}

/* ----------------------------------------------------------- rollups */

/* Loads the series with source rows in [from, to) into the cursor. */
static int cursor_load(struct store *s, struct rollup_cursor *cur, sqlite3_stmt *st, int64_t from,
		       int64_t to)
{
	int rc, err;

	cur->n = cur->pos = 0;
	sqlite3_bind_int64(st, 1, from);
	sqlite3_bind_int64(st, 2, to);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		enum metric_type type;

		if (cur->n == cur->cap) {
			size_t ncap = cur->cap ? cur->cap * 2 : 256;
			int64_t *ids = realloc(cur->ids, ncap * sizeof(*ids));
			enum metric_type *types;

			if (ids)
				cur->ids = ids;
			types = ids ? realloc(cur->types, ncap * sizeof(*types)) : NULL;
			if (!types) {
				sqlite3_reset(st);
				snprintf(s->werr, sizeof(s->werr), "rollup: out of memory");
				return -ENOMEM;
			}
			cur->types = types;
			cur->cap = ncap;
		}
		if (metric_type_parse((const char *)sqlite3_column_text(st, 1), &type) < 0)
			type = METRIC_GAUGE;
		cur->ids[cur->n] = sqlite3_column_int64(st, 0);
		cur->types[cur->n] = type;
		cur->n++;
	}
	err = rc == SQLITE_DONE ? 0 : store_wfail(s, rc, "rollup: listing series");
	sqlite3_reset(st);
	return err;
}

/* The first source timestamp >= from; 0 with *found = false if none. */
static int source_next(struct store *s, sqlite3_stmt *st, int64_t from, bool *found,
		       int64_t *ret_ts)
{
	int rc, err;

	sqlite3_bind_int64(st, 1, from);
	rc = sqlite3_step(st);
	*found = rc == SQLITE_ROW;
	if (*found)
		*ret_ts = sqlite3_column_int64(st, 0);
	err =
	    rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_wfail(s, rc, "rollup: finding work");
	sqlite3_reset(st);
	return err;
}

/* Aggregates one series' raw samples of a minute; adds the rows read. */
static int aggregate_raw(struct store *s, int64_t id, enum metric_type type, int64_t bucket,
			 struct span_agg *agg, size_t *rows)
{
	struct raw_sample buf[2];
	struct raw_sample *prev = NULL;
	sqlite3_stmt *st;
	int rc, err = 0, k = 0;

	memset(agg, 0, sizeof(*agg));
	if (type != METRIC_GAUGE) {
		st = s->st.raw_prev;
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_int64(st, 2, bucket * 1000);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			buf[0].ts_ms = sqlite3_column_int64(st, 0);
			err = store_raw_from_row(st, 1, &buf[0]);
			prev = err ? NULL : &buf[0];
			k = 1;
			err = 0; /* a corrupt blob only costs this increase */
		} else if (rc != SQLITE_DONE) {
			err = store_wfail(s, rc, "rollup: reading samples");
		}
		sqlite3_reset(st);
		if (err)
			return err;
	}
	st = s->st.raw_rows;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, bucket * 1000);
	sqlite3_bind_int64(st, 3, (bucket + TIER_1M_S) * 1000);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct raw_sample *cur = &buf[k];

		(*rows)++;
		cur->ts_ms = sqlite3_column_int64(st, 0);
		if (store_raw_from_row(st, 1, cur) < 0)
			continue;
		store_span_add_raw(agg, type, prev, cur);
		prev = cur;
		k ^= 1;
	}
	if (rc != SQLITE_DONE)
		err = store_wfail(s, rc, "rollup: reading samples");
	sqlite3_reset(st);
	return err;
}

/* Merges one series' minute rows of an hour. */
static int aggregate_1m(struct store *s, int64_t id, int64_t bucket, struct span_agg *agg,
			size_t *rows)
{
	sqlite3_stmt *st = s->st.m1_rows;
	struct span_agg row;
	int rc, err;

	memset(agg, 0, sizeof(*agg));
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, bucket);
	sqlite3_bind_int64(st, 3, bucket + TIER_1H_S);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		(*rows)++;
		if (store_span_from_row(st, 1, &row) == 0)
			store_span_merge(agg, &row);
	}
	err = rc == SQLITE_DONE ? 0 : store_wfail(s, rc, "rollup: reading minutes");
	sqlite3_reset(st);
	return err;
}

struct tier_rollup {
	bool hour;
	int64_t width; /* bucket seconds */
	int64_t unit;  /* source timestamp units per second */
	const char *wm_key;
};

/*
 * One step of a tier's rollup: a bounded part of the next complete bucket
 * in one transaction. Returns 1 when it did work, 0 when there is none,
 * or a negative errno.
 */
static int rollup_step(struct store *s, const struct tier_rollup *t, double now)
{
	struct rollup_cursor *cur = t->hour ? &s->cur_1h : &s->cur_1m;
	int64_t *wm = t->hour ? &s->wm_1h : &s->wm_1m;
	sqlite3_stmt *insert = t->hour ? s->st.h1_insert : s->st.m1_insert;
	unsigned char blob[STORE_BLOB_MAX];
	size_t rows = 0, written = 0;
	int64_t ready, first, bucket;
	bool found;
	int err;

	if (*wm == WATERMARK_NONE)
		return 0; /* nothing was ever written */
	if (t->hour)
		ready = s->wm_1m == WATERMARK_NONE ? INT64_MIN
						   : floor_div(s->wm_1m, TIER_1H_S) * TIER_1H_S;
	else
		ready =
		    floor_div((int64_t)floor(now - s->opts.rollup_delay_s), TIER_1M_S) * TIER_1M_S;

	if (!cur->active) {
		if (*wm >= ready)
			return 0;
		err = source_next(s, t->hour ? s->st.m1_next : s->st.raw_next, *wm * t->unit,
				  &found, &first);
		if (err)
			return err;
		bucket = found ? floor_div(first, t->width * t->unit) * t->width : ready;
		if (bucket >= ready) {
			/* nothing to roll up before ready: move the mark there */
			err = store_meta_set(s, t->wm_key, ready);
			if (err)
				return err;
			*wm = ready;
			return 1;
		}
		err = cursor_load(s, cur, t->hour ? s->st.m1_series_in : s->st.raw_series_in,
				  bucket * t->unit, (bucket + t->width) * t->unit);
		if (err)
			return err;
		cur->bucket = bucket;
		cur->active = true;
	}

	err = store_wstep(s, s->st.begin, "rollup: begin");
	if (err)
		return err;
	while (cur->pos < cur->n && rows < s->opts.maintenance_batch_rows) {
		struct span_agg agg;
		int64_t id = cur->ids[cur->pos];

		if (t->hour)
			err = aggregate_1m(s, id, cur->bucket, &agg, &rows);
		else
			err = aggregate_raw(s, id, cur->types[cur->pos], cur->bucket, &agg, &rows);
		if (err)
			break;
		bind_agg(insert, id, cur->bucket, &agg, blob);
		err = store_wstep(s, insert, "rollup: writing");
		if (err)
			break;
		cur->pos++;
		written++;
	}
	if (!err && cur->pos == cur->n)
		err = store_meta_set(s, t->wm_key, cur->bucket + t->width);
	if (!err)
		err = store_wstep(s, s->st.commit, "rollup: commit");
	if (err) {
		if (!sqlite3_get_autocommit(s->db)) {
			sqlite3_step(s->st.rollback);
			sqlite3_reset(s->st.rollback);
		}
		cur->active = false;
		return err;
	}
	if (cur->pos == cur->n) {
		*wm = cur->bucket + t->width;
		cur->active = false;
	}
	pthread_mutex_lock(&s->lock);
	s->stats.rollup_rows_written += written;
	pthread_mutex_unlock(&s->lock);
	return 1;
}

/* ---------------------------------------------------------- retention */

static int64_t min64(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

/* Runs one bounded delete below the cutoff bound to ?1 by the caller;
 * 1 when it deleted something. */
static int delete_step(struct store *s, sqlite3_stmt *st)
{
	int changes, err;

	sqlite3_bind_int64(st, 2, (int64_t)s->opts.maintenance_batch_rows);
	err = store_wstep(s, st, "retention: delete");
	if (err)
		return err;
	changes = sqlite3_changes(s->db);
	if (changes <= 0)
		return 0;
	pthread_mutex_lock(&s->lock);
	s->stats.rows_deleted += (uint64_t)changes;
	pthread_mutex_unlock(&s->lock);
	return 1;
}

static int retention_step(struct store *s, double now)
{
	const struct store_options *o = &s->opts;
	double longest = fmax(o->retention_raw_s, fmax(o->retention_1m_s, o->retention_1h_s));
	/* source rows stay until they are rolled up */
	int64_t raw_cut = min64((int64_t)floor(now - o->retention_raw_s), s->wm_1m);
	int64_t m1_cut = min64((int64_t)floor(now - o->retention_1m_s), s->wm_1h);
	int r;

	sqlite3_bind_int64(s->st.del_raw, 1, min64(raw_cut, INT64_MAX / 1000) * 1000);
	r = delete_step(s, s->st.del_raw);
	if (r)
		return r;
	sqlite3_bind_int64(s->st.del_1m, 1, m1_cut);
	r = delete_step(s, s->st.del_1m);
	if (r)
		return r;
	sqlite3_bind_int64(s->st.del_1h, 1, (int64_t)floor(now - o->retention_1h_s));
	r = delete_step(s, s->st.del_1h);
	if (r)
		return r;
	sqlite3_bind_double(s->st.del_events, 1, now - o->retention_events_s);
	r = delete_step(s, s->st.del_events);
	if (r)
		return r;
	/* last_seen_ts is refreshed once a day: a day's margin */
	sqlite3_bind_int64(s->st.del_series, 1, (int64_t)floor(now - longest - 86400));
	return delete_step(s, s->st.del_series);
}

int store_maint_step(struct store *s)
{
	static const struct tier_rollup m1 = {false, TIER_1M_S, 1000, wm_1m_key};
	static const struct tier_rollup h1 = {true, TIER_1H_S, 1, wm_1h_key};
	double now = store_now(s);
	int r;

	if (!s->db)
		return 0;
	r = rollup_step(s, &m1, now);
	if (r)
		return r;
	r = rollup_step(s, &h1, now);
	if (r)
		return r;
	return retention_step(s, now);
}
