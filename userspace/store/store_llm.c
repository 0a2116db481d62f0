// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * store_llm.c - the cache of LLM answers (table llm_cache, schema step
 * 2 -> 3 in store_schema.c; contract in the LLM cache section of store.h).
 *
 * Each call opens a connection for its own duration and closes it: a
 * reader's connection, allowed to write this one table for a put. Puts
 * are small (one row, and the deletes that keep the table bounded) and go
 * through SQLite's locking next to the sample writer, whose commits are
 * short enough for the busy timeout. Uses nothing of the store but its
 * path, VFS and busy timeout, and store_schema.c's helpers.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_internal.h"

void store_llm_entry_clear(struct store_llm_entry *e)
{
	if (!e)
		return;
	free(e->provider);
	free(e->model);
	free(e->prompt);
	free(e->answer);
	memset(e, 0, sizeof(*e));
}

static char *column_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return strdup(t ? (const char *)t : "");
}

static int64_t column_tokens(sqlite3_stmt *st, int col)
{
	return sqlite3_column_type(st, col) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, col);
}

int store_llm_cache_get(struct store *s, const unsigned char key[STORE_LLM_KEY_BYTES], double now,
			struct store_llm_entry *ret)
{
	struct store_llm_entry e = {};
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	int r, rc;

	if (!s || !key || !ret || !isfinite(now))
		return -EINVAL;
	r = store_short_conn_open(s, false, &db);
	if (r)
		return r;
	rc = sqlite3_prepare_v2(db,
				"SELECT provider, model, prompt, answer, prompt_tokens, "
				"completion_tokens, latency_s, created_ts, expires_ts "
				"FROM llm_cache WHERE key = ? AND expires_ts > ?",
				-1, &st, NULL);
	if (rc != SQLITE_OK) {
		r = store_db_errno(db, rc);
		goto out;
	}
	sqlite3_bind_blob(st, 1, key, STORE_LLM_KEY_BYTES, SQLITE_STATIC);
	sqlite3_bind_double(st, 2, now);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE) {
		r = -ENOENT;
		goto out;
	}
	if (rc != SQLITE_ROW) {
		r = store_db_errno(db, rc);
		goto out;
	}
	e.provider = column_dup(st, 0);
	e.model = column_dup(st, 1);
	e.prompt = column_dup(st, 2);
	e.answer = column_dup(st, 3);
	e.prompt_tokens = column_tokens(st, 4);
	e.completion_tokens = column_tokens(st, 5);
	e.latency_s = sqlite3_column_double(st, 6);
	e.created_ts = sqlite3_column_double(st, 7);
	e.expires_ts = sqlite3_column_double(st, 8);
	if (!e.provider || !e.model || !e.prompt || !e.answer) {
		store_llm_entry_clear(&e);
		r = -ENOMEM;
		goto out;
	}
	*ret = e;
	r = 0;
out:
	sqlite3_finalize(st);
	sqlite3_close_v2(db);
	return r;
}

static void bind_tokens(sqlite3_stmt *st, int col, int64_t v)
{
	if (v < 0)
		sqlite3_bind_null(st, col);
	else
		sqlite3_bind_int64(st, col, v);
}

/* Runs sql (no rows) with ?1 bound to a double, or nothing when NAN. */
static int exec_bound(sqlite3 *db, const char *sql, double v)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK) {
		if (!isnan(v))
			sqlite3_bind_double(st, 1, v);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : store_db_errno(db, rc);
}

int store_llm_cache_put(struct store *s, const unsigned char key[STORE_LLM_KEY_BYTES],
			const struct store_llm_entry *e)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	int r, rc;

	if (!s || !key || !e || !e->provider || !e->model || !e->prompt || !e->answer ||
	    !isfinite(e->latency_s) || !isfinite(e->created_ts) || !isfinite(e->expires_ts) ||
	    e->expires_ts < e->created_ts)
		return -EINVAL;
	r = store_short_conn_open(s, true, &db);
	if (r)
		return r;
	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		r = store_db_errno(db, rc);
		goto out;
	}
	rc = sqlite3_prepare_v2(db,
				"INSERT OR REPLACE INTO llm_cache (key, provider, model, prompt, "
				"answer, prompt_tokens, completion_tokens, latency_s, created_ts, "
				"expires_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
				-1, &st, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_blob(st, 1, key, STORE_LLM_KEY_BYTES, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, e->provider, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, e->model, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, e->prompt, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, e->answer, -1, SQLITE_STATIC);
		bind_tokens(st, 6, e->prompt_tokens);
		bind_tokens(st, 7, e->completion_tokens);
		sqlite3_bind_double(st, 8, e->latency_s);
		sqlite3_bind_double(st, 9, e->created_ts);
		sqlite3_bind_double(st, 10, e->expires_ts);
		rc = sqlite3_step(st);
	}
	sqlite3_finalize(st);
	r = rc == SQLITE_DONE ? 0 : store_db_errno(db, rc);
	if (!r)
		r = exec_bound(db, "DELETE FROM llm_cache WHERE expires_ts <= ?", e->created_ts);
	if (!r) {
		_Static_assert(STORE_LLM_MAX_ENTRIES == 10000, "the bound in the statement below");
		r = exec_bound(db,
			       "DELETE FROM llm_cache WHERE key IN (SELECT key FROM llm_cache "
			       "ORDER BY created_ts DESC LIMIT -1 OFFSET 10000)",
			       NAN);
	}
	if (!r) {
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		r = rc == SQLITE_OK ? 0 : store_db_errno(db, rc);
	}
	if (r)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
out:
	sqlite3_close_v2(db);
	return r;
}
