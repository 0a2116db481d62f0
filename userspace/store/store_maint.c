/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store_maint.c - the writer's background work: rolling raw samples up
 * into 1-minute buckets and those into 1-hour buckets, and deleting what
 * is past retention, each in small transactions so that a flush never
 * waits long behind them. Runs on the writer thread only.
 *
 * Contracts:
 *   - Rollup progress is a watermark per tier in the meta table: every
 *     bucket below it is rolled up. The rollup tiers hold complete
 *     buckets only: a minute is rolled up rollup_delay_s after it ends, an
 *     hour once its minutes are.
 *   - A flush that brings samples older than a watermark (buffered
 *     through an outage) moves it back in the same transaction
 *     (store_maint_rewind()), and the buckets are rolled up again. Rollup
 *     rows are replaced, so this is idempotent.
 *   - Retention never deletes source rows that are not rolled up yet, and
 *     never moves a watermark below what retention keeps.
 *   - One step is one transaction of about maintenance_batch_rows rows
 *     (a rollup stops between series once it read that many; a delete
 *     takes that many plus those sharing the last one's time). A failed
 *     step rolls back, and the rollup it was in starts over.
 *   - Raw samples are read through store_encode.c's reader and statements
 *     only, and aggregated with store_aggregate.c, as the queries do.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_event_block.h"
#include "store/store_internal.h"
#include "util/error.h"

/* --------------------------------------------------------- statements */

#define ROLLUP_INSERT(table)                                                                       \
	"INSERT OR REPLACE INTO " table " (series_id, bucket_ts, " STORE_ROLLUP_COLS ") "          \
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"

/* Deletes the oldest rows below the cutoff ?1: at least ?2 + 1 of them
 * (or all), plus those sharing the last one's timestamp. */
#define DELETE_OLDEST(table, col)                                                                  \
	"DELETE FROM " table " WHERE " col " < ?1 AND " col " <= coalesce((SELECT " col            \
	" FROM " table " WHERE " col " < ?1 ORDER BY " col " LIMIT 1 OFFSET ?2), ?1)"

#define M1_CHUNK_SQL "3600"
/* free pages handed back per maintenance step (4 MiB of 8 KiB pages) */
#define VACUUM_PAGES_SQL "512"
_Static_assert(STORE_M1_CHUNK_S == 3600, "M1_CHUNK_SQL");

static const struct store_stmt_sql maint_sql[] = {
#define S(field, text)                                                                             \
	{                                                                                          \
		offsetof(struct maint_stmts, field), text                                          \
	}
    S(meta_get, "SELECT value FROM meta WHERE key = ?1"),
    S(meta_set, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)"),
    S(raw_next, store_sql_raw_next_ts),
    S(raw_series_in, store_sql_raw_series_in),
    S(raw_rows, store_sql_raw_rows),
    S(raw_prev, store_sql_raw_prev),
    S(m1_get, store_sql_m1_chunk_get),
    S(m1_put, store_sql_m1_chunk_put),
    /* chunks start on the hour, as the hours' buckets do */
    S(m1_next, "SELECT min(start_ts) FROM chunks_1m WHERE start_ts >= ?1"),
    S(m1_series_in, "SELECT id, type FROM series WHERE id IN (SELECT series_id FROM "
		    "chunks_1m WHERE start_ts >= ?1 AND start_ts < ?2) ORDER BY id"),
    S(m1_rows, "SELECT data FROM chunks_1m WHERE series_id = ?1 AND start_ts >= ?2 "
	       "AND start_ts < ?3 ORDER BY start_ts"),
    S(h1_insert, ROLLUP_INSERT("samples_1h")),
    S(del_raw, store_sql_raw_delete_oldest),
    /* whole chunks, all of whose minutes are below the cutoff ?1 */
    S(del_1m, "DELETE FROM chunks_1m WHERE start_ts <= ?1 - " M1_CHUNK_SQL " AND start_ts <= "
	      "coalesce((SELECT start_ts FROM chunks_1m WHERE start_ts <= ?1 - " M1_CHUNK_SQL
	      " ORDER BY start_ts LIMIT 1 OFFSET ?2), ?1)"),
    S(del_1h, DELETE_OLDEST("samples_1h", "bucket_ts")),
    S(del_events, "DELETE FROM events WHERE id IN "
		  "(SELECT id FROM events WHERE ts < ?1 ORDER BY ts LIMIT ?2)"),
    /* series nothing refers to any more, last written before ?1 */
    S(del_series, "DELETE FROM series WHERE id IN (SELECT id FROM series AS s "
		  "WHERE last_seen_ts < ?1 "
		  "AND NOT EXISTS (SELECT 1 FROM chunks_raw WHERE series_id = s.id) "
		  "AND NOT EXISTS (SELECT 1 FROM chunks_1m WHERE series_id = s.id) "
		  "AND NOT EXISTS (SELECT 1 FROM samples_1h WHERE series_id = s.id) "
		  "LIMIT ?2)"),
    S(used_bytes, "SELECT (SELECT page_count FROM pragma_page_count()) - (SELECT freelist_count "
		  "FROM pragma_freelist_count()), (SELECT page_size FROM pragma_page_size())"),
    S(oldest_raw, "SELECT min(start_ms) FROM chunks_raw"),
    /* the start of the oldest chunk's hour */
    S(oldest_1m, "SELECT min(start_ts) FROM chunks_1m"),
    S(oldest_1h, "SELECT min(bucket_ts) FROM samples_1h"),
    /* the oldest event, in a row or a block */
    S(oldest_event, "SELECT min(t) FROM (SELECT min(ts) AS t FROM events "
		    "UNION ALL SELECT min(start_ts) FROM event_blocks)"),
    /* the oldest row of a minute that ended before ?1 (the newest row
     * stays, so that the next insert's rowid follows every id in a block:
     * SQLite gives max(rowid) + 1) */
    S(ev_first, "SELECT min(ts) FROM events WHERE ts > 0 AND ts < ?1 "
		"AND id < (SELECT max(id) FROM events)"),
    S(ev_rows, "SELECT id, ts, type, pid, comm, fields FROM events WHERE ts >= ?1 AND ts < ?2 "
	       "AND id < (SELECT max(id) FROM events) ORDER BY type, ts, id LIMIT ?3"),
    S(ev_delete, "DELETE FROM events WHERE id = ?1"),
    S(evb_insert, "INSERT INTO event_blocks (type, start_ts, end_ts, n, data) "
		  "VALUES (?1, ?2, ?3, ?4, ?5)"),
    /* the oldest blocks whose last event is before ?1: the first, and
     * those after it while the events before them number less than ?2
     * (a block holds a minute of one type's events) */
    S(del_evb, "DELETE FROM event_blocks WHERE id IN (SELECT id FROM (SELECT id, n, "
	       "sum(n) OVER (ORDER BY start_ts, id) AS c FROM (SELECT id, n, start_ts FROM "
	       "event_blocks WHERE end_ts < ?1 ORDER BY start_ts LIMIT ?2 / 16 + 1)) "
	       "WHERE c - n < ?2)"),
    S(oldest_ev_row, "SELECT min(ts) FROM events"),
    S(oldest_evb, "SELECT min(start_ts) FROM event_blocks"),
    S(auto_vacuum, "PRAGMA auto_vacuum"),
    S(free_pages, "SELECT freelist_count FROM pragma_freelist_count()"),
    S(vacuum, "PRAGMA incremental_vacuum(" VACUUM_PAGES_SQL ")"),
#undef S
};

#define NMAINT_SQL (sizeof(maint_sql) / sizeof(maint_sql[0]))
_Static_assert(NMAINT_SQL == sizeof(struct maint_stmts) / sizeof(sqlite3_stmt *),
	       "every maintenance statement has its SQL");

/* Pages of each tier's tables and indexes; dbstat is optional in SQLite
 * builds, so without it the sizes stay unknown (0). */
static const char tier_bytes_sql[] =
    "SELECT CASE WHEN name LIKE 'chunks_raw%' THEN 0 WHEN name LIKE 'chunks_1m%' THEN 1 "
    "WHEN name LIKE 'samples_1h%' THEN 2 END AS tier, sum(pgsize) FROM dbstat "
    "WHERE aggregate = 1 AND tier IS NOT NULL GROUP BY tier";

int store_maint_prepare(struct store *s)
{
	if (!s->m1_rows) {
		s->m1_rows = calloc(STORE_M1_CHUNK_ROWS, sizeof(*s->m1_rows));
		if (!s->m1_rows)
			return -ENOMEM;
	}
	if (store_prepare(s->db, tier_bytes_sql, &s->tier_bytes_st) < 0)
		s->tier_bytes_st = NULL;
	s->tier_stats_next = 0;
	s->auto_vacuum = -1;
	return store_prepare_all(s->db, maint_sql, NMAINT_SQL, &s->mst);
}

void store_maint_finalize(struct store *s)
{
	sqlite3_finalize(s->tier_bytes_st);
	s->tier_bytes_st = NULL;
	store_finalize_all(maint_sql, NMAINT_SQL, &s->mst);
}

/* --------------------------------------------------------- watermarks */

static const char wm_1m_key[] = "rollup_1m_done";
static const char wm_1h_key[] = "rollup_1h_done";

static int meta_get(struct store *s, const char *key, int64_t *ret_value)
{
	sqlite3_stmt *st = s->mst.meta_get;
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

static int meta_set(struct store *s, const char *key, int64_t value)
{
	sqlite3_stmt *st = s->mst.meta_set;

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

static int64_t ceil_to(double t, int64_t width)
{
	return -floor_div(-(int64_t)ceil(t), width) * width;
}

int store_maint_rewind(struct store *s, int64_t min_ts_ms, int64_t *ret_wm_1m, int64_t *ret_wm_1h)
{
	int64_t min_s = floor_div(min_ts_ms, 1000);
	double now = store_now(s);
	int64_t wm_1m = floor_div(min_s, TIER_1M_S) * TIER_1M_S;
	int64_t wm_1h = floor_div(min_s, TIER_1H_S) * TIER_1H_S;
	/* never below what retention keeps: those buckets' other samples
	 * may be gone already */
	int64_t keep_1m = ceil_to(now - s->opts.retention_raw_s, TIER_1M_S);
	int64_t keep_1h = ceil_to(now - s->opts.retention_1m_s, TIER_1H_S);
	int err;

	*ret_wm_1m = s->wm_1m;
	*ret_wm_1h = s->wm_1h;
	if (wm_1m < keep_1m)
		wm_1m = keep_1m;
	if (wm_1h < keep_1h)
		wm_1h = keep_1h;
	if (wm_1m < s->wm_1m) {
		err = meta_set(s, wm_1m_key, wm_1m);
		if (err)
			return err;
		*ret_wm_1m = wm_1m;
	}
	if (wm_1h < s->wm_1h) {
		err = meta_set(s, wm_1h_key, wm_1h);
		if (err)
			return err;
		*ret_wm_1h = wm_1h;
	}
	return 0;
}

void store_maint_flushed(struct store *s, int64_t wm_1m, int64_t wm_1h, int64_t min_ts_ms)
{
	if (wm_1m != s->wm_1m || wm_1h != s->wm_1h) {
		s->wm_1m = wm_1m;
		s->wm_1h = wm_1h;
		store_maint_reset(s);
	}
	/* samples for the bucket a rollup is half way through: start it over */
	if (min_ts_ms != INT64_MAX && s->cur_1m.active &&
	    floor_div(min_ts_ms, 1000 * TIER_1M_S) * TIER_1M_S <= s->cur_1m.bucket)
		store_maint_reset(s);
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
	free(s->m1_rows);
	s->m1_rows = NULL;
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
				return error_set(s->werr, sizeof(s->werr), -ENOMEM,
						 "rollup: out of memory");
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
	/* the raw tier's answer is an aggregate: NULL when there is none */
	*found = rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL;
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
	struct raw_reader rd;
	bool first = true;
	int rc, err = 0, k = 0;

	memset(agg, 0, sizeof(*agg));
	store_raw_reader_start(&rd, s->mst.raw_rows, id, bucket * 1000,
			       (bucket + TIER_1M_S) * 1000);
	while (store_raw_reader_next(&rd, &buf[k])) {
		/* a counter's increase from the sample before the minute: the
		 * reader passed it when the minute's chunk began before the
		 * minute (most of the time: chunks are 8 minutes long), else
		 * it ends the chunk before */
		if (first && type != METRIC_GAUGE) {
			if (rd.has_before) {
				buf[k ^ 1] = rd.before;
				prev = &buf[k ^ 1];
			} else {
				bool found;

				/* a corrupt blob only costs this increase */
				rc = store_raw_prev(s->mst.raw_prev, id, bucket * 1000, &buf[k ^ 1],
						    &found);
				if (found)
					prev = &buf[k ^ 1];
				if (rc != SQLITE_ROW && rc != SQLITE_DONE)
					err = store_wfail(s, rc, "rollup: reading samples");
				sqlite3_reset(s->mst.raw_prev);
				if (err)
					break;
			}
		}
		first = false;
		store_span_add_raw(agg, type, prev, &buf[k]);
		prev = &buf[k];
		k ^= 1;
	}
	*rows += rd.rows;
	if (!err && rd.rc != SQLITE_DONE)
		err = store_wfail(s, rd.rc, "rollup: reading samples");
	sqlite3_reset(s->mst.raw_rows);
	return err;
}

/* Merges one series' minutes of an hour (one chunk, as hours and chunks
 * both start on the hour); a chunk that does not decode is skipped. */
static int aggregate_1m(struct store *s, int64_t id, int64_t bucket, struct span_agg *agg,
			size_t *rows)
{
	sqlite3_stmt *st = s->mst.m1_rows;
	size_t n;
	int rc, err;

	memset(agg, 0, sizeof(*agg));
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, bucket);
	sqlite3_bind_int64(st, 3, bucket + TIER_1H_S);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (store_rollup_decode(sqlite3_column_blob(st, 0),
					(size_t)sqlite3_column_bytes(st, 0), s->m1_rows,
					STORE_M1_CHUNK_ROWS, &n) < 0)
			continue;
		*rows += n;
		for (size_t i = 0; i < n; i++)
			if (s->m1_rows[i].bucket >= bucket &&
			    s->m1_rows[i].bucket < bucket + TIER_1H_S)
				store_span_merge(agg, &s->m1_rows[i].agg);
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
		err = source_next(s, t->hour ? s->mst.m1_next : s->mst.raw_next, *wm * t->unit,
				  &found, &first);
		if (err)
			return err;
		bucket = found ? floor_div(first, t->width * t->unit) * t->width : ready;
		if (bucket >= ready) {
			/* nothing to roll up before ready: move the mark there */
			err = meta_set(s, t->wm_key, ready);
			if (err)
				return err;
			*wm = ready;
			return 1;
		}
		err = cursor_load(s, cur, t->hour ? s->mst.m1_series_in : s->mst.raw_series_in,
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
		/* a chunk that overlaps the minute may hold no sample of it */
		if (!agg.n) {
			cur->pos++;
			continue;
		}
		if (t->hour) {
			store_span_bind(s->mst.h1_insert, id, cur->bucket, &agg, blob);
			err = store_wstep(s, s->mst.h1_insert, "rollup: writing");
		} else {
			struct rollup_row row = {.bucket = cur->bucket, .agg = agg};
			int64_t start = floor_div(cur->bucket, STORE_M1_CHUNK_S) * STORE_M1_CHUNK_S;
			int rc = store_m1_chunk_merge(s->mst.m1_get, s->mst.m1_put, id, start, &row,
						      1, s->m1_rows);

			err = rc == SQLITE_OK ? 0 : store_wfail(s, rc, "rollup: writing");
		}
		if (err)
			break;
		cur->pos++;
		written++;
	}
	if (!err && cur->pos == cur->n)
		err = meta_set(s, t->wm_key, cur->bucket + t->width);
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

	sqlite3_bind_int64(s->mst.del_raw, 1, min64(raw_cut, INT64_MAX / 1000) * 1000);
	r = delete_step(s, s->mst.del_raw);
	if (r)
		return r;
	sqlite3_bind_int64(s->mst.del_1m, 1, m1_cut);
	r = delete_step(s, s->mst.del_1m);
	if (r)
		return r;
	sqlite3_bind_int64(s->mst.del_1h, 1, (int64_t)floor(now - o->retention_1h_s));
	r = delete_step(s, s->mst.del_1h);
	if (r)
		return r;
	sqlite3_bind_double(s->mst.del_events, 1, now - o->retention_events_s);
	r = delete_step(s, s->mst.del_events);
	if (r)
		return r;
	sqlite3_bind_double(s->mst.del_evb, 1, now - o->retention_events_s);
	r = delete_step(s, s->mst.del_evb);
	if (r)
		return r;
	/* last_seen_ts is refreshed once a day: a day's margin */
	sqlite3_bind_int64(s->mst.del_series, 1, (int64_t)floor(now - longest - 86400));
	return delete_step(s, s->mst.del_series);
}

/* ------------------------------------------------------- disk budget */

static int query_i64(struct store *s, sqlite3_stmt *st, int col, int64_t *ret)
{
	int rc = sqlite3_step(st), err = 0;

	if (rc == SQLITE_ROW)
		*ret = sqlite3_column_int64(st, col);
	else if (rc != SQLITE_DONE)
		err = store_wfail(s, rc, "reading the store's size");
	sqlite3_reset(st);
	return err;
}

static int query_f64(struct store *s, sqlite3_stmt *st, double *ret, bool *ret_found)
{
	int rc = sqlite3_step(st), err = 0;

	*ret_found = false;
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
		*ret = sqlite3_column_double(st, 0);
		*ret_found = true;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		err = store_wfail(s, rc, "reading the oldest event");
	}
	sqlite3_reset(st);
	return err;
}

/* One bounded delete of the oldest events (whatever their age): blocks
 * that start no later than the oldest row, else rows. */
static int budget_delete_events(struct store *s)
{
	double row_ts = 0, block_ts = 0;
	bool has_row, has_block;
	int err;

	err = query_f64(s, s->mst.oldest_ev_row, &row_ts, &has_row);
	if (!err)
		err = query_f64(s, s->mst.oldest_evb, &block_ts, &has_block);
	if (err)
		return err;
	if (has_block && (!has_row || block_ts <= row_ts)) {
		sqlite3_bind_double(s->mst.del_evb, 1, INFINITY);
		return delete_step(s, s->mst.del_evb);
	}
	sqlite3_bind_double(s->mst.del_events, 1, INFINITY);
	return delete_step(s, s->mst.del_events);
}

/*
 * Over 90% of max_bytes in used pages: one bounded delete of the oldest
 * rows that can go. Events and raw chunks are the data at full
 * resolution and go first, the older of the two each time (a fork storm's
 * events must not outlive the samples around them); raw chunks only once
 * rolled up. Then minutes already in the hours, then the oldest hours.
 * 1 when it deleted.
 */
static int budget_step(struct store *s)
{
	int64_t pages = 0, page_size = 0, raw_ms = 0, event_s = 0;
	int r, err;

	if (!s->opts.max_bytes)
		return 0;
	err = query_i64(s, s->mst.used_bytes, 0, &pages);
	if (!err)
		err = query_i64(s, s->mst.used_bytes, 1, &page_size);
	if (err)
		return err;
	if ((uint64_t)pages * (uint64_t)page_size <= s->opts.max_bytes / 10 * 9)
		return 0;
	err = query_i64(s, s->mst.oldest_raw, 0, &raw_ms);
	if (!err)
		err = query_i64(s, s->mst.oldest_event, 0, &event_s);
	if (err)
		return err;
	r = 0;
	if (event_s > 0 && (raw_ms == 0 || event_s * 1000 <= raw_ms))
		r = budget_delete_events(s);
	if (!r) {
		/* whole chunks below the minute watermark, i.e. rolled up, and
		 * before the oldest event: a batch of chunks can span far more
		 * time than a batch of events (a chunk holds up to 8 minutes) */
		int64_t cut_ms = min64(s->wm_1m, INT64_MAX / 1000) * 1000;

		if (event_s > 0)
			cut_ms = min64(cut_ms, min64(event_s, INT64_MAX / 1000) * 1000);
		sqlite3_bind_int64(s->mst.del_raw, 1, cut_ms);
		r = delete_step(s, s->mst.del_raw);
	}
	if (!r && event_s > 0)
		r = budget_delete_events(s);
	if (!r) {
		sqlite3_bind_int64(s->mst.del_1m, 1, s->wm_1h);
		r = delete_step(s, s->mst.del_1m);
	}
	if (!r) {
		sqlite3_bind_int64(s->mst.del_1h, 1, INT64_MAX);
		r = delete_step(s, s->mst.del_1h);
	}
	if (r > 0) {
		pthread_mutex_lock(&s->lock);
		s->stats.budget_rows_deleted += (uint64_t)sqlite3_changes(s->db);
		pthread_mutex_unlock(&s->lock);
	}
	return r;
}

/* ------------------------------------------------- events into blocks */

/* A minute's events go into blocks once it ended this long ago: a
 * round's events reach the store with the round, after their time. */
#define EVENT_COMPACT_DELAY_S 30

/* A row of the events table, copied out of its statement. */
struct ev_row {
	int64_t id;
	double ts;
	int32_t pid;
	char type[STORE_EVENT_TYPE_MAX];
	char comm[STORE_COMM_LEN];
	char *fields;
};

static void copy_text(char *dst, size_t cap, const unsigned char *src)
{
	size_t n = src ? strnlen((const char *)src, cap - 1) : 0;

	if (n)
		memcpy(dst, src, n);
	dst[n] = 0;
}

/* Reads up to max rows of the minute at bucket into *ret (ordered by
 * type, then time); *ret_n of them. */
static int ev_rows_read(struct store *s, int64_t bucket, size_t max, struct ev_row **ret,
			size_t *ret_n)
{
	sqlite3_stmt *st = s->mst.ev_rows;
	struct ev_row *rows = calloc(max, sizeof(*rows));
	size_t n = 0;
	int rc, err = 0;

	if (!rows)
		return error_set(s->werr, sizeof(s->werr), -ENOMEM, "events: out of memory");
	sqlite3_bind_double(st, 1, (double)bucket);
	sqlite3_bind_double(st, 2, (double)(bucket + STORE_EVENT_BLOCK_SPAN_S));
	sqlite3_bind_int64(st, 3, (int64_t)max);
	while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *f = sqlite3_column_text(st, 5);
		struct ev_row *r = &rows[n];

		r->id = sqlite3_column_int64(st, 0);
		r->ts = sqlite3_column_double(st, 1);
		copy_text(r->type, sizeof(r->type), sqlite3_column_text(st, 2));
		r->pid = (int32_t)sqlite3_column_int64(st, 3);
		copy_text(r->comm, sizeof(r->comm), sqlite3_column_text(st, 4));
		/* only a foreign row is longer: kept as its first bytes */
		r->fields = strndup(f ? (const char *)f : "{}", STORE_EVENT_FIELDS_MAX);
		if (!r->fields) {
			err = error_set(s->werr, sizeof(s->werr), -ENOMEM, "events: out of memory");
			break;
		}
		n++;
	}
	if (!err && n < max && rc != SQLITE_DONE)
		err = store_wfail(s, rc, "events: reading rows");
	sqlite3_reset(st);
	*ret = rows;
	*ret_n = n;
	return err;
}

/* At least what a row takes in a block's body (3 deltas of up to 10
 * bytes, 2 strings with their lengths and NULs). */
static size_t ev_body_bytes(const struct ev_row *r)
{
	return 30 + 2 * 12 + strlen(r->comm) + strlen(r->fields);
}

/* Writes rows[0..n) (one type, in time order) as one block. */
static int ev_block_write(struct store *s, const struct ev_row *rows, size_t n,
			  struct store_event_rec *recs)
{
	sqlite3_stmt *st = s->mst.evb_insert;
	void *data = NULL;
	size_t len = 0;
	int err;

	for (size_t i = 0; i < n; i++)
		recs[i] = (struct store_event_rec){.id = rows[i].id,
						   .ts = rows[i].ts,
						   .pid = rows[i].pid,
						   .comm = rows[i].comm,
						   .fields = rows[i].fields};
	err = store_event_block_encode(recs, n, &data, &len);
	if (err)
		return error_set(s->werr, sizeof(s->werr), err, "events: encoding a block (%d)",
				 err);
	sqlite3_bind_text(st, 1, rows[0].type, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, rows[0].ts);
	sqlite3_bind_double(st, 3, rows[n - 1].ts);
	sqlite3_bind_int64(st, 4, (int64_t)n);
	sqlite3_bind_blob(st, 5, data, (int)len, SQLITE_STATIC);
	err = store_wstep(s, st, "events: writing a block");
	sqlite3_clear_bindings(st);
	free(data);
	return err;
}

/*
 * One step of moving events into blocks: the rows of the oldest minute
 * that ended EVENT_COMPACT_DELAY_S ago, up to maintenance_batch_rows of
 * them, become one block per type (several past
 * STORE_EVENT_BLOCK_MAX_EVENTS) in one transaction that also deletes the
 * rows. Events that arrive late for a minute already moved get a block
 * of their own the same way. 1 when it moved some, 0 when none is due.
 */
static int events_compact_step(struct store *s, double now)
{
	int64_t cutoff =
	    floor_div((int64_t)floor(now - EVENT_COMPACT_DELAY_S), STORE_EVENT_BLOCK_SPAN_S) *
	    STORE_EVENT_BLOCK_SPAN_S;
	size_t max = s->opts.maintenance_batch_rows, n = 0;
	struct store_event_rec *recs = NULL;
	struct ev_row *rows = NULL;
	double first = 0;
	bool found;
	int err;

	if (!isfinite(now))
		return 0;
	sqlite3_bind_double(s->mst.ev_first, 1, (double)cutoff);
	err = query_f64(s, s->mst.ev_first, &first, &found);
	if (err || !found)
		return err;
	err = store_wstep(s, s->st.begin, "events: begin");
	if (err)
		return err;
	/* first < cutoff, a time of today: floor() fits */
	err = ev_rows_read(s,
			   floor_div((int64_t)floor(first), STORE_EVENT_BLOCK_SPAN_S) *
			       STORE_EVENT_BLOCK_SPAN_S,
			   max ? max : 1, &rows, &n);
	if (!err && n) {
		recs = calloc(n < STORE_EVENT_BLOCK_MAX_EVENTS ? n : STORE_EVENT_BLOCK_MAX_EVENTS,
			      sizeof(*recs));
		if (!recs)
			err = error_set(s->werr, sizeof(s->werr), -ENOMEM, "events: out of memory");
	}
	for (size_t i = 0; !err && i < n;) {
		size_t j = i + 1, body = ev_body_bytes(&rows[i]);

		/* one type, and a body well within what a block may hold */
		while (j < n && j - i < STORE_EVENT_BLOCK_MAX_EVENTS &&
		       !strcmp(rows[j].type, rows[i].type) &&
		       body + ev_body_bytes(&rows[j]) <= STORE_EVENT_BLOCK_MAX_RAW / 2)
			body += ev_body_bytes(&rows[j++]);
		err = ev_block_write(s, rows + i, j - i, recs);
		i = j;
	}
	for (size_t i = 0; !err && i < n; i++) {
		sqlite3_bind_int64(s->mst.ev_delete, 1, rows[i].id);
		err = store_wstep(s, s->mst.ev_delete, "events: deleting rows");
	}
	if (!err)
		err = store_wstep(s, s->st.commit, "events: commit");
	if (err && !sqlite3_get_autocommit(s->db)) {
		sqlite3_step(s->st.rollback);
		sqlite3_reset(s->st.rollback);
	}
	for (size_t i = 0; rows && i < n; i++)
		free(rows[i].fields);
	free(rows);
	free(recs);
	if (err)
		return err;
	if (n) {
		pthread_mutex_lock(&s->lock);
		s->stats.events_compacted += n;
		pthread_mutex_unlock(&s->lock);
	}
	return n ? 1 : 0;
}

/*
 * Free pages handed back to the file system. Pages freed in a burst (the
 * event rows' pages once they moved into blocks, the oldest chunks that
 * retention or the budget dropped) stay in the file's freelist until new
 * rows reuse them, and meanwhile the file grows at its end: a real
 * daemon's freelist grew by 0.67 bytes a sample over 20 minutes, a fifth
 * of its growth. A database created with auto_vacuum = INCREMENTAL
 * (store_schema.c) is truncated here after each step, VACUUM_PAGES_SQL
 * pages at a time in one transaction of its own. One made before keeps
 * auto_vacuum = NONE (turning it on needs a VACUUM, a rewrite of the
 * whole file) and its freelist as before. 1 while pages remain.
 */
static int vacuum_step(struct store *s)
{
	int64_t mode = 0, before = 0;
	int err, rc;

	if (s->auto_vacuum < 0) {
		err = query_i64(s, s->mst.auto_vacuum, 0, &mode);
		if (err)
			return err;
		s->auto_vacuum = mode == 2; /* INCREMENTAL */
	}
	if (!s->auto_vacuum)
		return 0;
	err = query_i64(s, s->mst.free_pages, 0, &before);
	if (err || before <= 0)
		return err;
	/* a row for each page handed back, in one transaction */
	while ((rc = sqlite3_step(s->mst.vacuum)) == SQLITE_ROW)
		;
	err = rc == SQLITE_DONE ? 0 : store_wfail(s, rc, "handing free pages back");
	sqlite3_reset(s->mst.vacuum);
	if (err)
		return err;
	return before > atoi(VACUUM_PAGES_SQL) ? 1 : 0;
}

/* Refreshes the tiers' sizes and oldest times in the stats. */
static int tier_stats(struct store *s, double now)
{
	sqlite3_stmt *oldest[STORE_NTIERS] = {s->mst.oldest_raw, s->mst.oldest_1m,
					      s->mst.oldest_1h};
	static const double unit[STORE_NTIERS] = {1e-3, 1, 1};
	uint64_t bytes[STORE_NTIERS] = {0};
	double oldest_ts[STORE_NTIERS] = {0};
	int err = 0;

	if (now < s->tier_stats_next)
		return 0;
	s->tier_stats_next = now + STORE_TIER_STATS_S;
	for (int t = 0; t < STORE_NTIERS && !err; t++) {
		int64_t v = 0;

		err = query_i64(s, oldest[t], 0, &v);
		oldest_ts[t] = (double)v * unit[t];
	}
	if (!err && s->tier_bytes_st) {
		int rc;

		while ((rc = sqlite3_step(s->tier_bytes_st)) == SQLITE_ROW) {
			int t = sqlite3_column_int(s->tier_bytes_st, 0);

			if (t >= 0 && t < STORE_NTIERS)
				bytes[t] = (uint64_t)sqlite3_column_int64(s->tier_bytes_st, 1);
		}
		if (rc != SQLITE_DONE)
			err = store_wfail(s, rc, "reading the tiers' sizes");
		sqlite3_reset(s->tier_bytes_st);
	}
	if (err)
		return err;
	pthread_mutex_lock(&s->lock);
	memcpy(s->stats.tier_bytes, bytes, sizeof(bytes));
	memcpy(s->stats.tier_oldest_ts, oldest_ts, sizeof(oldest_ts));
	pthread_mutex_unlock(&s->lock);
	return 0;
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
	r = retention_step(s, now);
	if (r)
		return r;
	r = events_compact_step(s, now);
	if (r)
		return r;
	r = budget_step(s);
	if (r)
		return r;
	r = vacuum_step(s);
	if (r)
		return r;
	return tier_stats(s, now);
}
