// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * store_models.c - the tables of the anomaly models: anomalies and each
 * series' detector state (schema step 2 -> 3 in store_schema.c), written
 * through a connection of the models sink's own and read by the API (see
 * the models section of store.h).
 *
 * The models' writes are small (a few rows a round, a state checkpoint
 * every few minutes) and go through SQLite's own locking next to the
 * sample writer: WAL lets readers run meanwhile, and the busy timeout
 * covers the sample writer's short commits.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

struct store_models {
	struct store *s;
	sqlite3 *db; /* only between store_models_begin() and its commit or rollback */
	sqlite3_stmt *put_anomaly, *put_state;
};

static const char *const severities[] = {"info", "warning", "critical"};

static int severity_rank(const char *s)
{
	for (int i = 0; s && i < 3; i++) {
		if (!strcmp(s, severities[i]))
			return i;
	}
	return -1;
}

static int exec(sqlite3 *db, const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_db_errno(db, rc);
}

static void conn_close(struct store_models *m)
{
	sqlite3_finalize(m->put_anomaly);
	sqlite3_finalize(m->put_state);
	sqlite3_close_v2(m->db);
	m->put_anomaly = m->put_state = NULL;
	m->db = NULL;
}

/*
 * A connection for one session, closed at its end: one held between
 * rounds would keep the database files open while the store's writer,
 * after a disk fault, has closed its own to let the file system recover.
 */
static int conn_open(struct store_models *m, char *err, size_t errlen)
{
	struct store *s = m->s;
	int r;

	r = store_db_open(s->path, s->vfs, s->opts.busy_timeout_ms, false, &m->db, err, errlen);
	if (r)
		return r;
	/* a reader's connection, allowed to write these two tables */
	r = exec(m->db, "PRAGMA query_only = 0; PRAGMA synchronous = NORMAL");
	if (!r)
		r = store_prepare(m->db,
				  "INSERT OR REPLACE INTO anomalies (id, series, start_ts, end_ts, "
				  "open, severity, peak_score, detectors, contributors) "
				  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
				  &m->put_anomaly);
	if (!r)
		r = store_prepare(m->db,
				  "INSERT INTO model_state (series, kind, updated_ts, state) "
				  "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (series) DO UPDATE SET "
				  "kind = excluded.kind, updated_ts = excluded.updated_ts, "
				  "state = excluded.state",
				  &m->put_state);
	if (r) {
		if (err && errlen)
			snprintf(err, errlen, "preparing the models' connection: %s",
				 sqlite3_errmsg(m->db));
		conn_close(m);
	}
	return r;
}

struct store_models *store_models_close(struct store_models *m)
{
	if (!m)
		return NULL;
	if (m->db)
		exec(m->db, "ROLLBACK");
	conn_close(m);
	free(m);
	return NULL;
}

int store_models_open(struct store *s, struct store_models **ret, char *err, size_t errlen)
{
	struct store_models *m = calloc(1, sizeof(*m));
	int r;

	if (!m)
		return -ENOMEM;
	m->s = s;
	/* one session now, so that a database that cannot be used says so at
	 * start */
	r = conn_open(m, err, errlen);
	if (r) {
		free(m);
		return r;
	}
	conn_close(m);
	*ret = m;
	return 0;
}

static int step_reset(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_db_errno(db, rc);
}

/* Uses the transaction's connection, or opens one for this call
 * (*own set: the caller closes it). */
static int use_conn(struct store_models *m, bool *own)
{
	*own = !m->db;
	return *own ? conn_open(m, NULL, 0) : 0;
}

static int done_conn(struct store_models *m, bool own, int r)
{
	if (own)
		conn_close(m);
	return r;
}

int store_models_put_anomaly(struct store_models *m, const struct store_anomaly *a)
{
	sqlite3_stmt *st = m->put_anomaly;

	if (!a->series || !a->detectors || !a->contributors || severity_rank(a->severity) < 0 ||
	    !(a->peak_score >= 0 && a->peak_score <= 1) || !isfinite(a->start_ts) ||
	    !isfinite(a->end_ts) || a->end_ts < a->start_ts || !m->db)
		return -EINVAL;
	sqlite3_bind_int64(st, 1, a->id);
	sqlite3_bind_text(st, 2, a->series, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 3, a->start_ts);
	sqlite3_bind_double(st, 4, a->end_ts);
	sqlite3_bind_int(st, 5, a->open);
	sqlite3_bind_text(st, 6, a->severity, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 7, a->peak_score);
	sqlite3_bind_text(st, 8, a->detectors, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 9, a->contributors, -1, SQLITE_STATIC);
	return step_reset(m->db, st);
}

int store_models_put_state(struct store_models *m, const char *series, const char *kind, double ts,
			   const void *blob, size_t len)
{
	sqlite3_stmt *st = m->put_state;

	if (!series || !kind || !blob || !len || len > INT32_MAX || !m->db)
		return -EINVAL;
	sqlite3_bind_text(st, 1, series, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, 3, ts);
	sqlite3_bind_blob(st, 4, blob, (int)len, SQLITE_STATIC);
	return step_reset(m->db, st);
}

int store_models_begin(struct store_models *m)
{
	int r;

	if (m->db)
		return -EBUSY;
	r = conn_open(m, NULL, 0);
	if (!r) {
		r = exec(m->db, "BEGIN IMMEDIATE");
		if (r)
			conn_close(m);
	}
	return r;
}

int store_models_commit(struct store_models *m)
{
	int r;

	if (!m->db)
		return -EINVAL;
	r = exec(m->db, "COMMIT");
	if (r)
		exec(m->db, "ROLLBACK");
	conn_close(m);
	return r;
}

void store_models_rollback(struct store_models *m)
{
	if (m->db) {
		exec(m->db, "ROLLBACK");
		conn_close(m);
	}
}

int store_models_end_open(struct store_models *m)
{
	bool own;
	int r = use_conn(m, &own);

	if (!r)
		r = exec(m->db, "UPDATE anomalies SET open = 0 WHERE open != 0");
	return done_conn(m, own, r);
}

int store_models_max_id(struct store_models *m, int64_t *ret_id)
{
	sqlite3_stmt *st = NULL;
	bool own;
	int rc, r = use_conn(m, &own);

	if (r)
		return r;
	rc = sqlite3_prepare_v2(m->db, "SELECT coalesce(max(id), 0) FROM anomalies", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*ret_id = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return done_conn(m, own, rc == SQLITE_OK ? 0 : store_db_errno(m->db, rc));
}

int store_models_load_states(struct store_models *m,
			     int (*fn)(void *ctx, const char *series, const char *kind, double ts,
				       const void *blob, size_t len),
			     void *ctx)
{
	sqlite3_stmt *st = NULL;
	bool own;
	int rc, r = use_conn(m, &own);

	if (r)
		return r;
	rc = sqlite3_prepare_v2(m->db, "SELECT series, kind, updated_ts, state FROM model_state",
				-1, &st, NULL);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		r = fn(ctx, (const char *)sqlite3_column_text(st, 0),
		       (const char *)sqlite3_column_text(st, 1), sqlite3_column_double(st, 2),
		       sqlite3_column_blob(st, 3), (size_t)sqlite3_column_bytes(st, 3));
		if (r)
			break;
	}
	sqlite3_finalize(st);
	if (!r && rc != SQLITE_DONE)
		r = store_db_errno(m->db, rc);
	return done_conn(m, own, r);
}

/* Runs one DELETE with one bound time. */
static int delete_before(sqlite3 *db, const char *sql, double t)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_double(st, 1, t);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_db_errno(db, rc);
}

int store_models_prune(struct store_models *m, double before, double state_before)
{
	bool own;
	int r = use_conn(m, &own);

	if (!r)
		r = delete_before(m->db, "DELETE FROM anomalies WHERE end_ts < ?1 AND open = 0",
				  before);
	if (!r)
		r = delete_before(m->db, "DELETE FROM model_state WHERE updated_ts < ?1",
				  state_before);
	return done_conn(m, own, r);
}

/* ------------------------------------------------------------ queries */

static void anomaly_clear(struct store_anomaly *a)
{
	free(a->series);
	free(a->severity);
	free(a->detectors);
	free(a->contributors);
}

struct store_anomaly_list *store_anomaly_list_free(struct store_anomaly_list *l)
{
	if (!l)
		return NULL;
	for (size_t i = 0; i < l->n; i++)
		anomaly_clear(&l->items[i]);
	free(l->items);
	free(l);
	return NULL;
}

static char *col_dup(sqlite3_stmt *st, int i)
{
	const char *t = (const char *)sqlite3_column_text(st, i);

	return strdup(t ? t : "");
}

#define ANOMALY_QUERY_LIMIT_MAX 10000

int store_query_anomalies(struct store *s, const struct store_anomaly_query *q,
			  struct store_anomaly_list **ret)
{
	struct store_anomaly_list *l = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	int rank = 0, rc, r;

	if (!q || !(q->from <= q->to) || q->limit == 0 || q->limit > ANOMALY_QUERY_LIMIT_MAX)
		return -EINVAL;
	if (q->severity && (rank = severity_rank(q->severity)) < 0)
		return -EINVAL;
	r = store_db_open(s->path, s->vfs, s->opts.busy_timeout_ms, false, &db, NULL, 0);
	if (r)
		return r;
	l = calloc(1, sizeof(*l));
	if (l)
		l->items = calloc(q->limit, sizeof(*l->items));
	if (!l || !l->items) {
		r = -ENOMEM;
		goto out;
	}
	/* contributors hold the keys as JSON strings: match the quoted key */
	rc = sqlite3_prepare_v2(
	    db,
	    "SELECT id, series, start_ts, end_ts, open, severity, peak_score, detectors, "
	    "contributors FROM anomalies WHERE start_ts <= ?2 AND end_ts >= ?1 "
	    "AND (CASE severity WHEN 'critical' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END) >= ?3 "
	    "AND (?4 IS NULL OR series = ?4 OR instr(contributors, json_quote(?4)) > 0) "
	    "ORDER BY start_ts DESC, id DESC LIMIT ?5",
	    -1, &st, NULL);
	if (rc != SQLITE_OK) {
		r = store_db_errno(db, rc);
		goto out;
	}
	sqlite3_bind_double(st, 1, q->from);
	sqlite3_bind_double(st, 2, q->to);
	sqlite3_bind_int(st, 3, rank);
	if (q->series)
		sqlite3_bind_text(st, 4, q->series, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)q->limit);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_anomaly *a = &l->items[l->n];

		a->id = sqlite3_column_int64(st, 0);
		a->start_ts = sqlite3_column_double(st, 2);
		a->end_ts = sqlite3_column_double(st, 3);
		a->open = sqlite3_column_int(st, 4) != 0;
		a->peak_score = sqlite3_column_double(st, 6);
		a->series = col_dup(st, 1);
		a->severity = col_dup(st, 5);
		a->detectors = col_dup(st, 7);
		a->contributors = col_dup(st, 8);
		l->n++;
		if (!a->series || !a->severity || !a->detectors || !a->contributors) {
			r = -ENOMEM;
			goto out;
		}
	}
	r = rc == SQLITE_DONE ? 0 : store_db_errno(db, rc);
out:
	sqlite3_finalize(st);
	sqlite3_close_v2(db);
	if (r) {
		store_anomaly_list_free(l);
		return r;
	}
	*ret = l;
	return 0;
}
