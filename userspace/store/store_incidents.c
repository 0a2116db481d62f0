// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * store_incidents.c - incidents, their timelines and analyses, and the
 * audit log (tables of schema step 5 -> 6 in store_schema.c; contract in
 * the incidents section of store.h).
 *
 * Each call opens a connection for its own duration and closes it, like
 * the LLM cache: writes are rare and small, and go through SQLite's
 * locking next to the sample writer. Documents are kept as JSON text and
 * merged into the row's columns when read, so the API serves what the
 * analysis side wrote without a second schema to keep in step.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

static const char *const severities[] = {"info", "warning", "critical"};

static int severity_rank(const char *s)
{
	for (int i = 0; s && i < 3; i++) {
		if (!strcmp(s, severities[i]))
			return i;
	}
	return -1;
}

static bool state_valid(const char *s)
{
	return s && (!strcmp(s, "open") || !strcmp(s, "acknowledged") || !strcmp(s, "resolved"));
}

static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? 0 : store_db_errno(db, rc);
}

static int step_done(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_db_errno(db, rc);
}

static int begin(sqlite3 *db)
{
	int rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_db_errno(db, rc);
}

static int end(sqlite3 *db, int r)
{
	if (!r) {
		int rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);

		r = rc == SQLITE_OK ? 0 : store_db_errno(db, rc);
	}
	if (r)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

static const char *column_text(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t ? (const char *)t : "";
}

/* A JSON column, or an empty object when it does not parse (a document
 * written by a newer daemon, or damaged: the row is still served). */
static json_t *column_json(sqlite3_stmt *st, int col)
{
	json_t *v = json_loads(column_text(st, col), JSON_REJECT_DUPLICATES, NULL);

	if (!v || !json_is_object(v)) {
		json_decref(v);
		v = json_object();
	}
	return v;
}

static int count_rows(sqlite3 *db, const char *sql, int64_t id, int64_t *ret)
{
	sqlite3_stmt *st = NULL;
	int r = prepare(db, sql, &st);

	if (!r) {
		sqlite3_bind_int64(st, 1, id);
		if (sqlite3_step(st) == SQLITE_ROW)
			*ret = sqlite3_column_int64(st, 0);
		else
			r = store_db_errno(db, sqlite3_errcode(db));
	}
	sqlite3_finalize(st);
	return r;
}

/* ------------------------------------------------------------ writes */

int store_incident_save(struct store *s, const struct store_incident *inc)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	char *doc;
	int r;

	if (!s || !inc || inc->id <= 0 || !state_valid(inc->state) ||
	    severity_rank(inc->severity) < 0 || !inc->summary || !json_is_object(inc->doc) ||
	    !isfinite(inc->opened_ts) || !isfinite(inc->updated_ts) || !isfinite(inc->resolved_ts))
		return -EINVAL;
	doc = json_dumps(inc->doc, JSON_COMPACT);
	if (!doc)
		return -ENOMEM;
	r = store_short_conn_open(s, true, &db);
	if (r)
		goto out;
	r = prepare(db,
		    "INSERT OR REPLACE INTO incidents (id, opened_ts, updated_ts, resolved_ts, "
		    "state, severity, summary, doc) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		    &st);
	if (!r) {
		sqlite3_bind_int64(st, 1, inc->id);
		sqlite3_bind_double(st, 2, inc->opened_ts);
		sqlite3_bind_double(st, 3, inc->updated_ts);
		if (inc->resolved_ts > 0)
			sqlite3_bind_double(st, 4, inc->resolved_ts);
		sqlite3_bind_text(st, 5, inc->state, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, inc->severity, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 7, inc->summary, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 8, doc, -1, SQLITE_STATIC);
		r = step_done(db, st);
	}
	sqlite3_finalize(st);
	sqlite3_close_v2(db);
out:
	free(doc);
	return r;
}

/* Inserts one row of a per-incident table after checking its bound. */
static int add_bounded(struct store *s, const char *count_sql, int64_t max, const char *insert_sql,
		       int64_t id, double ts, const char *a, const char *b, const char *c)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	int64_t n = 0;
	int r;

	r = store_short_conn_open(s, true, &db);
	if (r)
		return r;
	r = begin(db);
	if (r)
		goto out;
	r = count_rows(db, count_sql, id, &n);
	if (!r && n >= max)
		r = -ENOSPC;
	if (!r)
		r = prepare(db, insert_sql, &st);
	if (!r) {
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_double(st, 2, ts);
		sqlite3_bind_text(st, 3, a, -1, SQLITE_STATIC);
		if (b)
			sqlite3_bind_text(st, 4, b, -1, SQLITE_STATIC);
		if (c)
			sqlite3_bind_text(st, 5, c, -1, SQLITE_STATIC);
		r = step_done(db, st);
	}
	sqlite3_finalize(st);
	r = end(db, r);
out:
	sqlite3_close_v2(db);
	return r;
}

int store_incident_timeline_add(struct store *s, int64_t id, double ts, const char *kind,
				const char *who, const char *detail)
{
	if (!s || id <= 0 || !isfinite(ts) || !kind || !*kind || !who || !detail)
		return -EINVAL;
	return add_bounded(s, "SELECT count(*) FROM incident_timeline WHERE incident_id = ?",
			   STORE_INCIDENT_TIMELINE_MAX,
			   "INSERT INTO incident_timeline (incident_id, ts, kind, who, detail) "
			   "VALUES (?, ?, ?, ?, ?)",
			   id, ts, kind, who, detail);
}

int store_incident_analysis_add(struct store *s, int64_t id, double ts, json_t *doc)
{
	char *text;
	int r;

	if (!s || id <= 0 || !isfinite(ts) || !json_is_object(doc))
		return -EINVAL;
	text = json_dumps(doc, JSON_COMPACT);
	if (!text)
		return -ENOMEM;
	r = add_bounded(s, "SELECT count(*) FROM incident_analyses WHERE incident_id = ?",
			STORE_INCIDENT_ANALYSES_MAX,
			"INSERT INTO incident_analyses (incident_id, ts, doc) VALUES (?, ?, ?)", id,
			ts, text, NULL, NULL);
	free(text);
	return r;
}

int store_audit_add(struct store *s, double ts, const char *who, const char *role,
		    const char *action, const char *target, const char *detail)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	int r;

	if (!s || !isfinite(ts) || !who || !role || !action || !*action || !target || !detail)
		return -EINVAL;
	r = store_short_conn_open(s, true, &db);
	if (r)
		return r;
	r = begin(db);
	if (!r)
		r = prepare(db,
			    "INSERT INTO audit_log (ts, who, role, action, target, detail) "
			    "VALUES (?, ?, ?, ?, ?, ?)",
			    &st);
	if (!r) {
		sqlite3_bind_double(st, 1, ts);
		sqlite3_bind_text(st, 2, who, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, target, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, detail, -1, SQLITE_STATIC);
		r = step_done(db, st);
	}
	sqlite3_finalize(st);
	st = NULL;
	/* bounded: every thousandth entry removes those beyond the bound */
	if (!r && sqlite3_last_insert_rowid(db) % 1000 == 0) {
		_Static_assert(STORE_AUDIT_MAX == 100000, "the bound in the statement below");
		r = prepare(db, "DELETE FROM audit_log WHERE id <= ? - 100000", &st);
		if (!r) {
			sqlite3_bind_int64(st, 1, sqlite3_last_insert_rowid(db));
			r = step_done(db, st);
		}
		sqlite3_finalize(st);
	}
	r = end(db, r);
	sqlite3_close_v2(db);
	return r;
}

/* ------------------------------------------------------------ reads */

int store_incident_max_id(struct store *s, int64_t *ret_id)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	int r;

	if (!s || !ret_id)
		return -EINVAL;
	r = store_short_conn_open(s, false, &db);
	if (r)
		return r;
	r = prepare(db, "SELECT coalesce(max(id), 0) FROM incidents", &st);
	if (!r) {
		if (sqlite3_step(st) == SQLITE_ROW)
			*ret_id = sqlite3_column_int64(st, 0);
		else
			r = store_db_errno(db, sqlite3_errcode(db));
	}
	sqlite3_finalize(st);
	sqlite3_close_v2(db);
	return r;
}

#define INCIDENT_COLUMNS "id, opened_ts, updated_ts, resolved_ts, state, severity, summary, doc"

/* The row at st (INCIDENT_COLUMNS) as one object. */
static json_t *incident_row(sqlite3_stmt *st, bool with_evidence)
{
	json_t *o = column_json(st, 7);

	if (!o)
		return NULL;
	if (!with_evidence)
		json_object_del(o, "evidence");
	if (json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0))) ||
	    json_object_set_new(o, "opened_at", json_real(sqlite3_column_double(st, 1))) ||
	    json_object_set_new(o, "updated_at", json_real(sqlite3_column_double(st, 2))) ||
	    json_object_set_new(o, "resolved_at",
				sqlite3_column_type(st, 3) == SQLITE_NULL
				    ? json_null()
				    : json_real(sqlite3_column_double(st, 3))) ||
	    json_object_set_new(o, "state", json_string(column_text(st, 4))) ||
	    json_object_set_new(o, "severity", json_string(column_text(st, 5))) ||
	    json_object_set_new(o, "summary", json_string(column_text(st, 6)))) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Steps st to its end, appending row(st) to out for each row; NULL from
 * row is out of memory. Finalizes st. */
static int append_rows(sqlite3 *db, sqlite3_stmt *st, json_t *(*row)(sqlite3_stmt *st), json_t *out)
{
	int r = 0, rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (json_array_append_new(out, row(st))) {
			r = -ENOMEM;
			break;
		}
	}
	if (!r && rc != SQLITE_DONE)
		r = store_db_errno(db, rc);
	sqlite3_finalize(st);
	return r;
}

static json_t *timeline_row(sqlite3_stmt *st)
{
	return json_pack("{s:I,s:f,s:s,s:s,s:s}", "id", (json_int_t)sqlite3_column_int64(st, 0),
			 "ts", sqlite3_column_double(st, 1), "kind", column_text(st, 2), "who",
			 column_text(st, 3), "detail", column_text(st, 4));
}

static json_t *analysis_row(sqlite3_stmt *st)
{
	json_t *a = column_json(st, 2);

	if (a && (json_object_set_new(a, "id", json_integer(sqlite3_column_int64(st, 0))) ||
		  json_object_set_new(a, "ts", json_real(sqlite3_column_double(st, 1))))) {
		json_decref(a);
		return NULL;
	}
	return a;
}

static json_t *audit_row(sqlite3_stmt *st)
{
	return json_pack("{s:I,s:f,s:s,s:s,s:s,s:s,s:s}", "id",
			 (json_int_t)sqlite3_column_int64(st, 0), "ts",
			 sqlite3_column_double(st, 1), "who", column_text(st, 2), "role",
			 column_text(st, 3), "action", column_text(st, 4), "target",
			 column_text(st, 5), "detail", column_text(st, 6));
}

static json_t *incident_summary_row(sqlite3_stmt *st)
{
	return incident_row(st, false);
}

/* The rows of one incident's child table (sql selects them by incident id). */
static int incident_rows_json(sqlite3 *db, const char *sql, int64_t id,
			      json_t *(*row)(sqlite3_stmt *st), json_t *out)
{
	sqlite3_stmt *st = NULL;
	int r = prepare(db, sql, &st);

	if (r)
		return r;
	sqlite3_bind_int64(st, 1, id);
	return append_rows(db, st, row, out);
}

int store_incident_get(struct store *s, int64_t id, json_t **ret)
{
	json_t *o = NULL, *timeline = json_array(), *analyses = json_array();
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	int r, rc;

	if (!timeline || !analyses) {
		r = -ENOMEM;
		goto out;
	}
	if (!s || !ret) {
		r = -EINVAL;
		goto out;
	}
	r = store_short_conn_open(s, false, &db);
	if (r)
		goto out;
	r = prepare(db, "SELECT " INCIDENT_COLUMNS " FROM incidents WHERE id = ?", &st);
	if (r)
		goto out;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = -ENOENT;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = store_db_errno(db, rc);
		goto out;
	}
	o = incident_row(st, true);
	if (!o) {
		r = -ENOMEM;
		goto out;
	}
	r = incident_rows_json(db,
			       "SELECT id, ts, kind, who, detail FROM incident_timeline "
			       "WHERE incident_id = ? ORDER BY id",
			       id, timeline_row, timeline);
	if (!r)
		r = incident_rows_json(db,
				       "SELECT id, ts, doc FROM incident_analyses "
				       "WHERE incident_id = ? ORDER BY id",
				       id, analysis_row, analyses);
	if (!r &&
	    (json_object_set(o, "timeline", timeline) || json_object_set(o, "analyses", analyses)))
		r = -ENOMEM;
	if (!r) {
		*ret = o;
		o = NULL;
	}
out:
	sqlite3_finalize(st);
	sqlite3_close_v2(db);
	json_decref(o);
	json_decref(timeline);
	json_decref(analyses);
	return r;
}

/* Binds the filter of q to st from column 1; returns the next column. */
static int bind_incident_filter(sqlite3_stmt *st, const struct store_incident_query *q)
{
	int col = 1;

	sqlite3_bind_text(st, col++, q->state ? q->state : "", -1, SQLITE_STATIC);
	sqlite3_bind_int(st, col++, q->severity ? severity_rank(q->severity) : 0);
	sqlite3_bind_double(st, col++, q->from);
	sqlite3_bind_double(st, col++, q->to > 0 ? q->to : INFINITY);
	return col;
}

#define INCIDENT_FILTER                                                                            \
	" WHERE (?1 = '' OR state = ?1 OR (?1 = 'active' AND state != 'resolved'))"                \
	" AND (CASE severity WHEN 'info' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END) >= ?2"           \
	" AND opened_ts >= ?3 AND opened_ts <= ?4"

int store_incident_list(struct store *s, const struct store_incident_query *q, json_t **ret_items,
			int64_t *ret_total)
{
	json_t *items = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	int r, rc, col;

	if (!s || !q || !ret_items || q->limit < 1 || q->limit > 1000 || q->offset > INT32_MAX ||
	    (q->severity && severity_rank(q->severity) < 0) || !(q->from <= q->to || q->to == 0) ||
	    (q->state && !state_valid(q->state) && strcmp(q->state, "active")))
		return -EINVAL;
	items = json_array();
	if (!items)
		return -ENOMEM;
	r = store_short_conn_open(s, false, &db);
	if (r)
		goto out;
	r = prepare(db, "SELECT count(*) FROM incidents" INCIDENT_FILTER, &st);
	if (r)
		goto out;
	bind_incident_filter(st, q);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = store_db_errno(db, rc);
		goto out;
	}
	if (ret_total)
		*ret_total = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	r = prepare(db,
		    "SELECT " INCIDENT_COLUMNS " FROM incidents" INCIDENT_FILTER
		    " ORDER BY opened_ts DESC, id DESC LIMIT ?5 OFFSET ?6",
		    &st);
	if (r)
		goto out;
	col = bind_incident_filter(st, q);
	sqlite3_bind_int64(st, col++, (sqlite3_int64)q->limit);
	sqlite3_bind_int64(st, col, (sqlite3_int64)q->offset);
	r = append_rows(db, st, incident_summary_row, items);
	st = NULL;
	if (r)
		goto out;
	*ret_items = items;
	items = NULL;
out:
	sqlite3_finalize(st);
	sqlite3_close_v2(db);
	json_decref(items);
	return r;
}

int store_audit_list(struct store *s, double from, double to, size_t limit, size_t offset,
		     json_t **ret_items, int64_t *ret_total)
{
	json_t *items = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	int r, rc;

	if (!s || !ret_items || limit < 1 || limit > 1000 || offset > INT32_MAX || !(from <= to))
		return -EINVAL;
	items = json_array();
	if (!items)
		return -ENOMEM;
	r = store_short_conn_open(s, false, &db);
	if (r)
		goto out;
	r = prepare(db, "SELECT count(*) FROM audit_log WHERE ts >= ?1 AND ts <= ?2", &st);
	if (r)
		goto out;
	sqlite3_bind_double(st, 1, from);
	sqlite3_bind_double(st, 2, to);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		r = store_db_errno(db, rc);
		goto out;
	}
	if (ret_total)
		*ret_total = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	r = prepare(db,
		    "SELECT id, ts, who, role, action, target, detail FROM audit_log "
		    "WHERE ts >= ?1 AND ts <= ?2 ORDER BY id DESC LIMIT ?3 OFFSET ?4",
		    &st);
	if (r)
		goto out;
	sqlite3_bind_double(st, 1, from);
	sqlite3_bind_double(st, 2, to);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)offset);
	r = append_rows(db, st, audit_row, items);
	st = NULL;
	if (r)
		goto out;
	*ret_items = items;
	items = NULL;
out:
	sqlite3_finalize(st);
	sqlite3_close_v2(db);
	json_decref(items);
	return r;
}
