/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * store_schema.c - the store's connections: opening with the right
 * pragmas, the schema version check and the forward migrations run at
 * open, SQLite result codes as errno, and the helpers every file uses to
 * prepare its statements and report the writer connection's failures.
 *
 * Contracts:
 *   - A database from a newer kpulse, or not a kpulse database at all, is
 *     refused with -EPROTO and left untouched: nothing is written to it,
 *     not even the checkpoint a last connection does at close.
 *   - Migrations only go forward, each in one transaction with its
 *     user_version bump; another process migrating at the same time is
 *     tolerated.
 *   - Only the writer's connection creates, migrates and checkpoints;
 *     readers are query_only.
 *   - Errors are negative errnos, with one line in the caller's err
 *     buffer (util/error.h) where the function takes one, or in s->werr
 *     for the writer's connection.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/error.h"
#include "util/log.h"

/* ------------------------------------------------------------ errors */

int store_sqlite_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_CANTOPEN:
		return -EACCES;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EPERM;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_CORRUPT:
		return -EBADMSG;
	case SQLITE_NOTADB:
		return -EPROTO;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE:
	case SQLITE_MISUSE:
		return -EINVAL;
	case SQLITE_INTERRUPT:
		return -EINTR;
	default:
		return -EIO;
	}
}

/* For I/O and open failures the system errno says more (EROFS, ENOSPC,
 * ENOENT) than the SQLite code does. */
int store_db_errno(sqlite3 *db, int rc)
{
	int prim = rc & 0xff;

	if (db && (prim == SQLITE_IOERR || prim == SQLITE_CANTOPEN) && sqlite3_system_errno(db) > 0)
		return -sqlite3_system_errno(db);
	return store_sqlite_errno(rc);
}

int store_wfail(struct store *s, int rc, const char *what)
{
	return error_set(s->werr, sizeof(s->werr), store_db_errno(s->db, rc), "%s: %s (%s)", what,
			 s->db ? sqlite3_errmsg(s->db) : "no connection", sqlite3_errstr(rc));
}

int store_wstep(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st), err = 0;

	/* before the reset, which forgets the system errno */
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		err = store_wfail(s, rc, what);
	sqlite3_reset(st);
	return err;
}

/* ------------------------------------------------------- statements */

int store_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret_stmt)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (rc != SQLITE_OK) {
		sqlite3_finalize(st);
		return store_sqlite_errno(rc);
	}
	*ret_stmt = st;
	return 0;
}

static sqlite3_stmt **stmt_slot(const struct store_stmt_sql *entry, void *base)
{
	return (sqlite3_stmt **)((char *)base + entry->offset);
}

int store_prepare_all(sqlite3 *db, const struct store_stmt_sql *table, size_t n, void *base)
{
	for (size_t i = 0; i < n; i++) {
		int err = store_prepare(db, table[i].sql, stmt_slot(&table[i], base));

		if (err)
			return err;
	}
	return 0;
}

void store_finalize_all(const struct store_stmt_sql *table, size_t n, void *base)
{
	for (size_t i = 0; i < n; i++) {
		sqlite3_stmt **slot = stmt_slot(&table[i], base);

		sqlite3_finalize(*slot);
		*slot = NULL;
	}
}

/* ------------------------------------------------------------ schema */

/*
 * Migration i takes a database from user_version i to i + 1; each runs in
 * one transaction together with its user_version bump. Never edit a
 * released step: add a new one and bump STORE_SCHEMA_VERSION.
 *
 * Timestamps: raw samples in integer milliseconds, rollup buckets and
 * last_seen_ts in integer seconds (bucket start), events in real seconds.
 */
static const char *const migrations[STORE_SCHEMA_VERSION] = {
    /* 0 -> 1: the tables */
    "CREATE TABLE meta ("
    "  key TEXT PRIMARY KEY,"
    "  value INTEGER NOT NULL"
    ") WITHOUT ROWID;"
    /* labels: canonical JSON object (compact, keys sorted) */
    "CREATE TABLE series ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  labels TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  scale REAL NOT NULL DEFAULT 1,"
    "  UNIQUE (name, labels)"
    ");"
    /* value: counter/gauge value or a histogram's cumulative sum;
     * hist_count and hist_slots (hist_blob) cumulative, NULL otherwise */
    "CREATE TABLE samples_raw ("
    "  series_id INTEGER NOT NULL,"
    "  ts_ms INTEGER NOT NULL,"
    "  value REAL,"
    "  hist_count INTEGER,"
    "  hist_slots BLOB,"
    "  PRIMARY KEY (series_id, ts_ms)"
    ") WITHOUT ROWID;"
    "CREATE INDEX samples_raw_ts ON samples_raw (ts_ms);"
    /* count: samples; min..last of the values; inc: a counter's increase;
     * hist_*: the observations made during the bucket */
    "CREATE TABLE samples_1m ("
    "  series_id INTEGER NOT NULL,"
    "  bucket_ts INTEGER NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  min REAL, max REAL, sum REAL, last REAL, inc REAL,"
    "  hist_count INTEGER, hist_sum REAL, hist_slots BLOB,"
    "  PRIMARY KEY (series_id, bucket_ts)"
    ") WITHOUT ROWID;"
    "CREATE INDEX samples_1m_bucket ON samples_1m (bucket_ts);"
    "CREATE TABLE samples_1h ("
    "  series_id INTEGER NOT NULL,"
    "  bucket_ts INTEGER NOT NULL,"
    "  count INTEGER NOT NULL,"
    "  min REAL, max REAL, sum REAL, last REAL, inc REAL,"
    "  hist_count INTEGER, hist_sum REAL, hist_slots BLOB,"
    "  PRIMARY KEY (series_id, bucket_ts)"
    ") WITHOUT ROWID;"
    "CREATE INDEX samples_1h_bucket ON samples_1h (bucket_ts);"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY,"
    "  ts REAL NOT NULL,"
    "  type TEXT NOT NULL,"
    "  pid INTEGER NOT NULL,"
    "  comm TEXT NOT NULL,"
    "  fields TEXT NOT NULL"
    ");"
    "CREATE INDEX events_ts ON events (ts);"
    "CREATE INDEX events_type_ts ON events (type, ts);"
    "PRAGMA application_id = 1802532204;" /* STORE_APPLICATION_ID */
    "PRAGMA user_version = 1;",

    /* 1 -> 2: when each series was last written, so that series with no
     * data left in any tier can be deleted */
    "ALTER TABLE series ADD COLUMN last_seen_ts INTEGER NOT NULL DEFAULT 0;"
    "UPDATE series SET last_seen_ts = max("
    "  coalesce((SELECT max(ts_ms) / 1000 FROM samples_raw WHERE series_id = series.id), 0),"
    "  coalesce((SELECT max(bucket_ts) FROM samples_1m WHERE series_id = series.id), 0),"
    "  coalesce((SELECT max(bucket_ts) FROM samples_1h WHERE series_id = series.id), 0));"
    "CREATE INDEX series_last_seen ON series (last_seen_ts);"
    "PRAGMA user_version = 2;",

    /* 2 -> 3: the anomaly models' records (store_models.c): anomalies with
     * their contributing series (a JSON array), and each series' detector
     * state, so a restart resumes where the daemon stopped */
    "CREATE TABLE anomalies ("
    "  id INTEGER PRIMARY KEY,"
    "  series TEXT NOT NULL,"
    "  start_ts REAL NOT NULL,"
    "  end_ts REAL NOT NULL,"
    "  open INTEGER NOT NULL,"
    "  severity TEXT NOT NULL,"
    "  peak_score REAL NOT NULL,"
    "  detectors TEXT NOT NULL,"
    "  contributors TEXT NOT NULL"
    ");"
    "CREATE INDEX anomalies_end ON anomalies (end_ts);"
    "CREATE TABLE model_state ("
    "  series TEXT PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  updated_ts REAL NOT NULL,"
    "  state BLOB NOT NULL"
    ") WITHOUT ROWID;"
    "PRAGMA user_version = 3;",

    /* 3 -> 4: answers of LLM providers (store_llm.c), keyed by the SHA-256
     * of provider, model and prompt; tokens NULL when not reported */
    "CREATE TABLE llm_cache ("
    "  key BLOB PRIMARY KEY,"
    "  provider TEXT NOT NULL,"
    "  model TEXT NOT NULL,"
    "  prompt TEXT NOT NULL,"
    "  answer TEXT NOT NULL,"
    "  prompt_tokens INTEGER,"
    "  completion_tokens INTEGER,"
    "  latency_s REAL NOT NULL,"
    "  created_ts REAL NOT NULL,"
    "  expires_ts REAL NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX llm_cache_expires ON llm_cache (expires_ts);"
    "CREATE INDEX llm_cache_created ON llm_cache (created_ts);"
    "PRAGMA user_version = 4;",

    /* 4 -> 5: raw samples in compressed chunks (store_chunk.h), one row
     * per series and chunk start; no index on each sample's time. A rowid
     * table, not WITHOUT ROWID: its rows keep up to about 4 KB in the
     * page (an index b-tree spills anything past about 1 KB to an
     * overflow page), and rows land in insertion order, so closed chunks
     * fill their pages. Run by migrate_to_chunks() in steps: this is its
     * first. */
    "CREATE TABLE IF NOT EXISTS chunks_raw ("
    "  series_id INTEGER NOT NULL,"
    "  start_ms INTEGER NOT NULL,"
    "  end_ms INTEGER NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  data BLOB NOT NULL,"
    "  PRIMARY KEY (series_id, start_ms)"
    ");"
    "CREATE INDEX IF NOT EXISTS chunks_raw_start ON chunks_raw (start_ms);",

    /* 5 -> 6: incidents (store_incidents.c): one row each with its parts,
     * evidence and reading as a JSON document; the timeline, the analyses
     * and the audit log of every change made through the API */
    "CREATE TABLE incidents ("
    "  id INTEGER PRIMARY KEY,"
    "  opened_ts REAL NOT NULL,"
    "  updated_ts REAL NOT NULL,"
    "  resolved_ts REAL,"
    "  state TEXT NOT NULL,"
    "  severity TEXT NOT NULL,"
    "  summary TEXT NOT NULL,"
    "  doc TEXT NOT NULL"
    ");"
    "CREATE INDEX incidents_opened ON incidents (opened_ts);"
    "CREATE TABLE incident_timeline ("
    "  id INTEGER PRIMARY KEY,"
    "  incident_id INTEGER NOT NULL,"
    "  ts REAL NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  who TEXT NOT NULL,"
    "  detail TEXT NOT NULL"
    ");"
    "CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, id);"
    "CREATE TABLE incident_analyses ("
    "  id INTEGER PRIMARY KEY,"
    "  incident_id INTEGER NOT NULL,"
    "  ts REAL NOT NULL,"
    "  doc TEXT NOT NULL"
    ");"
    "CREATE INDEX incident_analyses_incident ON incident_analyses (incident_id, id);"
    "CREATE TABLE audit_log ("
    "  id INTEGER PRIMARY KEY,"
    "  ts REAL NOT NULL,"
    "  who TEXT NOT NULL,"
    "  role TEXT NOT NULL,"
    "  action TEXT NOT NULL,"
    "  target TEXT NOT NULL,"
    "  detail TEXT NOT NULL"
    ");"
    "CREATE INDEX audit_log_ts ON audit_log (ts);"
    "PRAGMA user_version = 6;",

    /* 6 -> 7: model_state as a rowid table. A detector's state is about
     * 2 KB: in a WITHOUT ROWID table (an index b-tree, which keeps at most
     * about a quarter of a page in the cell) each one spilled about 1 KB
     * into an overflow page of its own, so each state took a whole extra
     * page (8 KiB on new databases: 76 pages for 67 states, 83% unused).
     * A rowid table keeps rows of up to a page in the leaf, three or four
     * states a page; the unique index on series keeps the lookups. */
    "CREATE TABLE model_state_v7 ("
    "  series TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  updated_ts REAL NOT NULL,"
    "  state BLOB NOT NULL"
    ");"
    "INSERT INTO model_state_v7 (series, kind, updated_ts, state) "
    "  SELECT series, kind, updated_ts, state FROM model_state ORDER BY series;"
    "DROP TABLE model_state;"
    "ALTER TABLE model_state_v7 RENAME TO model_state;"
    "CREATE UNIQUE INDEX model_state_series ON model_state (series);"
    "PRAGMA user_version = 7;",

    /* 7 -> 8: the 1-minute tier in rollup chunks (store_chunk.h), one row
     * per series and hour of minutes (start_ts, on the hour), instead of
     * a row and an index entry per series and minute; n is the minutes
     * it holds. A rowid table, as chunks_raw. Run by
     * migrate_1m_to_chunks() in steps: this is its first. */
    "CREATE TABLE IF NOT EXISTS chunks_1m ("
    "  series_id INTEGER NOT NULL,"
    "  start_ts INTEGER NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  data BLOB NOT NULL,"
    "  PRIMARY KEY (series_id, start_ts)"
    ");"
    "CREATE INDEX IF NOT EXISTS chunks_1m_start ON chunks_1m (start_ts);",

    /* 8 -> 9: events in compressed blocks (store_event_block.h), one row
     * per type and minute, start_ts and end_ts the first and last event's
     * time. New events still go to the events table at each flush;
     * maintenance moves the minutes that ended into blocks, a batch per
     * transaction, so the events of an older database are moved the same
     * way, after the upgrade, in small steps that resume where they
     * stopped. */
    "CREATE TABLE event_blocks ("
    "  id INTEGER PRIMARY KEY,"
    "  type TEXT NOT NULL,"
    "  start_ts REAL NOT NULL,"
    "  end_ts REAL NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  data BLOB NOT NULL"
    ");"
    /* type beside the time: a query of one type reads it from the index */
    "CREATE INDEX event_blocks_start ON event_blocks (start_ts, type);"
    "PRAGMA user_version = 9;",
};

_Static_assert(STORE_APPLICATION_ID == 1802532204, "application_id in migration 0");

static int query_int(sqlite3 *db, const char *sql, int64_t *ret_value)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*ret_value = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		} else if (rc == SQLITE_DONE) {
			rc = SQLITE_ERROR;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

/*
 * Reads the schema version and refuses what this code must not write to.
 * Only reads: safe on a database that will be refused.
 */
static int check_version(sqlite3 *db, const char *path, bool writer, int64_t *ret_version,
			 char *err, size_t errlen)
{
	int64_t version, app_id, nobjects;
	int rc;

	rc = query_int(db, "PRAGMA user_version", &version);
	if (rc == SQLITE_OK)
		rc = query_int(db, "PRAGMA application_id", &app_id);
	if (rc == SQLITE_OK)
		rc = query_int(db, "SELECT count(*) FROM sqlite_master", &nobjects);
	if (rc != SQLITE_OK) {
		return error_set(err, errlen, store_db_errno(db, rc), "cannot read %s: %s", path,
				 sqlite3_errmsg(db));
	}
	if (version > STORE_SCHEMA_VERSION) {
		return error_set(err, errlen, -EPROTO,
				 "%s has schema version %lld, newer than the %d this kpulse knows; "
				 "refusing to open it (it is left unchanged)",
				 path, (long long)version, STORE_SCHEMA_VERSION);
	}
	if (app_id != STORE_APPLICATION_ID && (version > 0 || nobjects > 0)) {
		return error_set(
		    err, errlen, -EPROTO,
		    "%s is not a kpulse database (application_id %#llx); refusing to open it", path,
		    (unsigned long long)app_id);
	}
	if (!writer && version != STORE_SCHEMA_VERSION) {
		return error_set(err, errlen, -EPROTO, "%s has schema version %lld, expected %d",
				 path, (long long)version, STORE_SCHEMA_VERSION);
	}
	*ret_version = version;
	return 0;
}

/* ---------------------------------------------- 4 -> 5: raw to chunks */

/* Samples converted per transaction: small steps, so that a reader (or a
 * kill) never waits long; a kill resumes where the last step ended. */
size_t store_migrate_batch_samples = 50000;

struct chunk_conv {
	sqlite3 *db;
	sqlite3_stmt *next_series, *rows, *insert, *del;
	struct store_chunk_enc e;
	int64_t id;
	size_t written;
};

static int conv_write(struct chunk_conv *c)
{
	const void *bytes;
	size_t len;
	int rc;

	if (!c->e.n)
		return SQLITE_OK;
	bytes = store_chunk_enc_bytes(&c->e, &len);
	if (!bytes)
		return SQLITE_NOMEM;
	sqlite3_bind_int64(c->insert, 1, c->id);
	sqlite3_bind_int64(c->insert, 2, c->e.t_first);
	sqlite3_bind_int64(c->insert, 3, c->e.t_last);
	sqlite3_bind_int64(c->insert, 4, c->e.n);
	sqlite3_bind_blob(c->insert, 5, bytes, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(c->insert);
	sqlite3_reset(c->insert);
	store_chunk_enc_reset(&c->e);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Converts one series' samples into chunks and deletes them. */
static int conv_series(struct chunk_conv *c, bool hist)
{
	struct raw_sample smp;
	int rc;

	store_chunk_enc_free(&c->e);
	if (store_chunk_enc_init(&c->e, hist) < 0)
		return SQLITE_NOMEM;
	sqlite3_bind_int64(c->rows, 1, c->id);
	while ((rc = sqlite3_step(c->rows)) == SQLITE_ROW) {
		memset(&smp, 0, sizeof(smp));
		smp.ts_ms = sqlite3_column_int64(c->rows, 0);
		smp.has_value = sqlite3_column_type(c->rows, 1) != SQLITE_NULL;
		smp.value = sqlite3_column_double(c->rows, 1);
		smp.hist_count = (uint64_t)sqlite3_column_int64(c->rows, 2);
		/* what the old reader skipped is dropped: no value, or a
		 * histogram blob that does not decode */
		if (!smp.has_value)
			continue;
		if (hist &&
		    store_blob_decode(sqlite3_column_blob(c->rows, 3),
				      (size_t)sqlite3_column_bytes(c->rows, 3), smp.slots) < 0)
			continue;
		if (store_chunk_enc_full(&c->e, smp.ts_ms)) {
			rc = conv_write(c);
			if (rc != SQLITE_OK)
				break;
		}
		if (store_chunk_enc_add(&c->e, &smp) < 0) {
			rc = SQLITE_NOMEM;
			break;
		}
		c->written++;
	}
	sqlite3_reset(c->rows);
	if (rc != SQLITE_DONE)
		return rc;
	rc = conv_write(c);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_bind_int64(c->del, 1, c->id);
	rc = sqlite3_step(c->del);
	sqlite3_reset(c->del);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* One transaction: series after c->id until the batch is full. *ret_done
 * when no sample is left. */
static int conv_step(void *arg, bool *ret_done)
{
	struct chunk_conv *c = arg;
	size_t start = c->written;
	int rc = SQLITE_OK;

	*ret_done = false;
	while (c->written - start < store_migrate_batch_samples) {
		const char *type;

		sqlite3_bind_int64(c->next_series, 1, c->id);
		rc = sqlite3_step(c->next_series);
		if (rc == SQLITE_DONE) {
			*ret_done = true;
			rc = SQLITE_OK;
			sqlite3_reset(c->next_series);
			break;
		}
		if (rc != SQLITE_ROW) {
			sqlite3_reset(c->next_series);
			break;
		}
		c->id = sqlite3_column_int64(c->next_series, 0);
		type = (const char *)sqlite3_column_text(c->next_series, 1);
		rc = conv_series(c, type && !strcmp(type, "histogram"));
		sqlite3_reset(c->next_series);
		if (rc != SQLITE_OK)
			break;
	}
	return rc;
}

/*
 * What a migration in small transactions (4 -> 5, 7 -> 8) names: its
 * version, the table it empties into chunks, the words for that table's
 * rows in the log, and the step that moves a batch of them.
 */
struct steps {
	int from;
	const char *table, *rows, *into;
	int (*step)(void *ctx, bool *ret_done);
	void *ctx;
	const size_t *written;
};

/*
 * The first transaction: migrations[from] (the chunk table), rows of
 * series that no longer exist deleted, the rest counted into *ret_total.
 * *ret_skip when another process migrated while this one waited for the
 * lock.
 */
static int steps_begin(sqlite3 *db, const char *path, const struct steps *m, int64_t *ret_total,
		       bool *ret_skip)
{
	char orphans[128], count[96];
	int64_t version = 0;
	int rc;

	*ret_skip = false;
	snprintf(orphans, sizeof(orphans),
		 "DELETE FROM %s WHERE series_id NOT IN (SELECT id FROM series)", m->table);
	snprintf(count, sizeof(count), "SELECT count(*) FROM %s", m->table);
	rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = query_int(db, "PRAGMA user_version", &version);
	if (rc == SQLITE_OK && version != m->from) {
		*ret_skip = true;
		return sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, migrations[m->from], NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, orphans, NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = query_int(db, count, ret_total);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc == SQLITE_OK && *ret_total)
		log_info("store: %s: schema %d -> %d, %lld %s into %s", path, m->from, m->from + 1,
			 (long long)*ret_total, m->rows, m->into);
	return rc;
}

/* Then one transaction per step until none is left, progress logged,
 * and the emptied table dropped with the version bump. */
static int steps_run(sqlite3 *db, const char *path, const struct steps *m, int64_t total)
{
	char finish[128];
	bool done = false;
	int rc = SQLITE_OK;

	while (rc == SQLITE_OK && !done) {
		rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = m->step(m->ctx, &done);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		if (rc == SQLITE_OK && !done)
			log_info("store: %s: %zu of %lld %s in chunks", path, *m->written,
				 (long long)total, m->rows);
	}
	snprintf(finish, sizeof(finish),
		 "BEGIN IMMEDIATE; DROP TABLE %s; PRAGMA user_version = %d; COMMIT;", m->table,
		 m->from + 1);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db, finish, NULL, NULL, NULL);
	if (rc == SQLITE_OK && total)
		log_info("store: %s: schema %d, %zu %s in chunks", path, m->from + 1, *m->written,
			 m->rows);
	return rc;
}

/*
 * Schema 4 -> 5 in small transactions: the chunk table, then series after
 * series their samples into chunks (each series' rows deleted in the
 * transaction that wrote its chunks), then the old table dropped with the
 * version bump. A kill in between leaves version 4 with part of the
 * samples in chunks_raw: the next start goes on from there (and an older
 * kpulse still reads what is left of samples_raw).
 */
static int migrate_to_chunks(sqlite3 *db, const char *path)
{
	static const char next_sql[] =
	    "SELECT s.id, s.type FROM series AS s WHERE s.id > ?1 AND EXISTS "
	    "(SELECT 1 FROM samples_raw WHERE series_id = s.id) ORDER BY s.id LIMIT 1";
	struct chunk_conv c = {.db = db, .id = INT64_MIN};
	const struct steps m = {.from = 4,
				.table = "samples_raw",
				.rows = "raw samples",
				.into = "compressed chunks",
				.step = conv_step,
				.ctx = &c,
				.written = &c.written};
	int64_t total = 0;
	bool skip;
	int rc;

	rc = steps_begin(db, path, &m, &total, &skip);
	if (rc != SQLITE_OK || skip)
		return rc;
	rc = sqlite3_prepare_v2(db, next_sql, -1, &c.next_series, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db,
					"SELECT ts_ms, value, hist_count, hist_slots FROM "
					"samples_raw WHERE series_id = ?1 ORDER BY ts_ms",
					-1, &c.rows, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db,
					"INSERT OR REPLACE INTO chunks_raw (series_id, start_ms, "
					"end_ms, n, data) VALUES (?1, ?2, ?3, ?4, ?5)",
					-1, &c.insert, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "DELETE FROM samples_raw WHERE series_id = ?1", -1,
					&c.del, NULL);
	if (rc == SQLITE_OK)
		rc = steps_run(db, path, &m, total);
	sqlite3_finalize(c.next_series);
	sqlite3_finalize(c.rows);
	sqlite3_finalize(c.insert);
	sqlite3_finalize(c.del);
	store_chunk_enc_free(&c.e);
	return rc;
}

/* ---------------------------------------- 7 -> 8: minutes into chunks */

struct m1_conv {
	sqlite3_stmt *next_series, *rows, *get, *put, *del;
	struct rollup_row *hour, *scratch; /* STORE_M1_CHUNK_ROWS each */
	int64_t id;
	size_t written;
};

/* Converts one series' minute rows into its hours' chunks (merged with a
 * chunk already there, which a previous run may have left) and deletes
 * them. */
static int m1_conv_series(struct m1_conv *c)
{
	int64_t start = 0;
	size_t n = 0;
	int rc;

	sqlite3_bind_int64(c->rows, 1, c->id);
	while ((rc = sqlite3_step(c->rows)) == SQLITE_ROW) {
		int64_t bucket = sqlite3_column_int64(c->rows, 0);
		int64_t hour = floor_div(bucket, STORE_M1_CHUNK_S) * STORE_M1_CHUNK_S;
		struct rollup_row *row;

		c->written++;
		/* kpulse wrote buckets on the minute only: no other fits the
		 * 60 rows of an hour's chunk */
		if (floor_div(bucket, TIER_1M_S) * TIER_1M_S != bucket)
			continue;
		if (n && hour != start) {
			rc = store_m1_chunk_merge(c->get, c->put, c->id, start, c->hour, n,
						  c->scratch);
			if (rc != SQLITE_OK)
				break;
			n = 0;
		}
		start = hour;
		row = &c->hour[n];
		row->bucket = bucket;
		/* what the old reader skipped is dropped: a histogram blob
		 * that does not decode, or no sample */
		if (store_span_from_row(c->rows, 1, &row->agg) < 0 || row->agg.n < 1)
			continue;
		n++;
	}
	sqlite3_reset(c->rows);
	if (rc != SQLITE_DONE)
		return rc == SQLITE_ROW ? SQLITE_ERROR : rc;
	if (n) {
		rc = store_m1_chunk_merge(c->get, c->put, c->id, start, c->hour, n, c->scratch);
		if (rc != SQLITE_OK)
			return rc;
	}
	sqlite3_bind_int64(c->del, 1, c->id);
	rc = sqlite3_step(c->del);
	sqlite3_reset(c->del);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* One transaction: series after c->id until the batch is full. */
static int m1_conv_step(void *arg, bool *ret_done)
{
	struct m1_conv *c = arg;
	size_t start = c->written;
	int rc = SQLITE_OK;

	*ret_done = false;
	while (c->written - start < store_migrate_batch_samples) {
		sqlite3_bind_int64(c->next_series, 1, c->id);
		rc = sqlite3_step(c->next_series);
		if (rc == SQLITE_DONE) {
			*ret_done = true;
			rc = SQLITE_OK;
			sqlite3_reset(c->next_series);
			break;
		}
		if (rc != SQLITE_ROW) {
			sqlite3_reset(c->next_series);
			break;
		}
		c->id = sqlite3_column_int64(c->next_series, 0);
		sqlite3_reset(c->next_series);
		rc = m1_conv_series(c);
		if (rc != SQLITE_OK)
			break;
	}
	return rc;
}

/*
 * Schema 7 -> 8 in small transactions, as 4 -> 5: the chunk table, then
 * series after series their minute rows into chunks (each series' rows
 * deleted in the transaction that wrote its chunks), then the old table
 * dropped with the version bump. A kill in between leaves version 7 with
 * part of the minutes in chunks_1m: the next start goes on from there
 * (an older kpulse still reads what is left of samples_1m, and what it
 * adds there is merged into the chunks then).
 */
static int migrate_1m_to_chunks(sqlite3 *db, const char *path)
{
	static const char next_sql[] =
	    "SELECT s.id FROM series AS s WHERE s.id > ?1 AND EXISTS "
	    "(SELECT 1 FROM samples_1m WHERE series_id = s.id) ORDER BY s.id LIMIT 1";
	static const char rows_sql[] = "SELECT bucket_ts, " STORE_ROLLUP_COLS " FROM samples_1m "
				       "WHERE series_id = ?1 ORDER BY bucket_ts";
	struct m1_conv c = {.id = INT64_MIN};
	const struct steps m = {.from = 7,
				.table = "samples_1m",
				.rows = "1-minute rows",
				.into = "chunks",
				.step = m1_conv_step,
				.ctx = &c,
				.written = &c.written};
	int64_t total = 0;
	bool skip;
	int rc;

	rc = steps_begin(db, path, &m, &total, &skip);
	if (rc != SQLITE_OK || skip)
		return rc;
	c.hour = calloc(STORE_M1_CHUNK_ROWS, sizeof(*c.hour));
	c.scratch = calloc(STORE_M1_CHUNK_ROWS, sizeof(*c.scratch));
	if (!c.hour || !c.scratch)
		rc = SQLITE_NOMEM;
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, next_sql, -1, &c.next_series, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, rows_sql, -1, &c.rows, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, store_sql_m1_chunk_get, -1, &c.get, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, store_sql_m1_chunk_put, -1, &c.put, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "DELETE FROM samples_1m WHERE series_id = ?1", -1,
					&c.del, NULL);
	if (rc == SQLITE_OK)
		rc = steps_run(db, path, &m, total);
	sqlite3_finalize(c.next_series);
	sqlite3_finalize(c.rows);
	sqlite3_finalize(c.get);
	sqlite3_finalize(c.put);
	sqlite3_finalize(c.del);
	free(c.hour);
	free(c.scratch);
	return rc;
}

static int migrate(sqlite3 *db, const char *path, int64_t version, char *err, size_t errlen)
{
	int rc;

	while (version < STORE_SCHEMA_VERSION) {
		int64_t now_version;

		if (version == 4 || version == 7) {
			rc = version == 4 ? migrate_to_chunks(db, path)
					  : migrate_1m_to_chunks(db, path);
			if (rc != SQLITE_OK)
				goto fail;
			rc = query_int(db, "PRAGMA user_version", &now_version);
			if (rc != SQLITE_OK)
				goto fail;
			version = now_version > version ? now_version : version + 1;
			continue;
		}
		rc = sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			goto fail;
		/* another process may have migrated while we waited for the lock */
		rc = query_int(db, "PRAGMA user_version", &now_version);
		if (rc != SQLITE_OK)
			goto fail;
		if (now_version == version)
			rc = sqlite3_exec(db, migrations[version], NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			goto fail;
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			goto fail;
		if (now_version > STORE_SCHEMA_VERSION) {
			return error_set(err, errlen, -EPROTO,
					 "%s was upgraded to schema version %lld while opening",
					 path, (long long)now_version);
		}
		version = now_version == version ? version + 1 : now_version;
	}
	return 0;
fail:
	/* the message before the rollback, which replaces it */
	error_set(err, errlen, 0, "migrating %s to schema version %lld failed: %s", path,
		  (long long)version + 1, sqlite3_errmsg(db));
	if (!sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return store_db_errno(db, rc);
}

/*
 * WAL lets the REST API read while the writer writes. synchronous=NORMAL
 * is safe in WAL mode: the WAL is synced at each checkpoint, not at each
 * commit, so a power cut can lose the last commits since the checkpoint
 * but never corrupts the database. Losing a second or two of telemetry is
 * a fair price for one fsync less per flush.
 */
/* Page caches are what the daemon's memory grows into. The writer's is
 * sized by the series count after open (writer_size_cache() in store_writer.c);
 * readers get 2 MiB each, which keeps a small daemon under its 40 MB
 * budget with every reader busy. */
/*
 * A new database's page size: raw chunks are rows of up to
 * STORE_CHUNK_MAX_BYTES, and a 4 KiB page holding one such row leaves
 * most of the rest unused; 8 KiB pages fit them better, and 16 KiB ones
 * cost more in the two dozen tables and indexes that stay nearly empty
 * (bench_store: 1.91 bytes a sample at 8 KiB, 1.95 at 16 KiB). An
 * existing database keeps its pages (WAL mode fixes them).
 * auto_vacuum = INCREMENTAL, set before the first table: maintenance hands
 * free pages back to the file system (store_maint.c, vacuum_step), at the
 * cost of a pointer-map page per 1,600 or so pages. An existing database
 * keeps auto_vacuum = NONE: turning it on would need a VACUUM, a rewrite of
 * the whole file at start.
 */
static const char new_db_pragmas[] = "PRAGMA page_size = 8192;"
				     "PRAGMA auto_vacuum = INCREMENTAL;";

static const char writer_pragmas[] = "PRAGMA synchronous = NORMAL;"
				     "PRAGMA journal_size_limit = 262144;"
				     "PRAGMA temp_store = MEMORY;"
				     "PRAGMA cache_size = -4096;";
_Static_assert(STORE_WAL_TRUNCATE_BYTES == 262144, "journal_size_limit in writer_pragmas");

static const char reader_pragmas[] = "PRAGMA query_only = 1;"
				     "PRAGMA temp_store = MEMORY;"
				     "PRAGMA cache_size = -2048;";

static int set_wal(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			const char *mode = (const char *)sqlite3_column_text(st, 0);

			rc = mode && strcmp(mode, "wal") == 0 ? SQLITE_OK : SQLITE_CANTOPEN;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

int store_db_open(const char *path, const char *vfs, int busy_timeout_ms, bool writer,
		  sqlite3 **ret_db, char *err, size_t errlen)
{
	/* SQLite's unix VFS opens every file with O_CLOEXEC itself. */
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (writer ? SQLITE_OPEN_CREATE : 0);
	sqlite3 *db = NULL;
	int64_t version = 0;
	int rc, ret;

	/* The file opened as SQLite will, first: when that fails, errno is
	 * the reason (SQLite retries read-only and reports the retry's). */
	if (writer && !vfs) {
		int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

		if (fd < 0)
			return error_set(err, errlen, -errno, "cannot open %s: %s", path,
					 strerror(errno));
		close(fd);
	}
	rc = sqlite3_open_v2(path, &db, flags, vfs);
	if (rc != SQLITE_OK) {
		int sys = db ? sqlite3_system_errno(db) : 0;

		/* what the system said (read-only file system, not a
		 * directory, permission denied) says more than SQLite's
		 * "unable to open database file" */
		if (sys > 0)
			ret =
			    error_set(err, errlen, -sys, "cannot open %s: %s", path, strerror(sys));
		else
			ret = error_set(err, errlen, store_db_errno(db, rc), "cannot open %s: %s",
					path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(db, 1);
	/* nothing may be written before the version is known to be ours:
	 * not even the checkpoint a last connection does at close */
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	sqlite3_busy_timeout(db, busy_timeout_ms);

	ret = check_version(db, path, writer, &version, err, errlen);
	if (ret)
		goto fail;

	if (writer) {
		sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
		/* a new file's pages: set before WAL mode, which fixes them */
		rc = version == 0 ? sqlite3_exec(db, new_db_pragmas, NULL, NULL, NULL) : SQLITE_OK;
		if (rc == SQLITE_OK)
			rc = set_wal(db);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(db, writer_pragmas, NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			ret = error_set(
			    err, errlen, store_db_errno(db, rc), "cannot set up %s: %s", path,
			    rc == SQLITE_CANTOPEN ? "WAL mode refused" : sqlite3_errmsg(db));
			goto fail;
		}
		ret = migrate(db, path, version, err, errlen);
		if (ret)
			goto fail;
	} else {
		/* only the writer checkpoints (readers closing last must not) */
		rc = sqlite3_exec(db, reader_pragmas, NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			ret = error_set(err, errlen, store_db_errno(db, rc), "cannot set up %s: %s",
					path, sqlite3_errmsg(db));
			goto fail;
		}
	}
	*ret_db = db;
	return 0;
fail:
	sqlite3_close_v2(db);
	return ret;
}

int store_short_conn_open(struct store *s, bool write, sqlite3 **ret)
{
	sqlite3 *db = NULL;
	int r;

	r = store_db_open(s->path, s->vfs, s->opts.busy_timeout_ms, false, &db, NULL, 0);
	if (r)
		return r;
	if (write) {
		int rc = sqlite3_exec(db, "PRAGMA query_only = 0; PRAGMA synchronous = NORMAL",
				      NULL, NULL, NULL);

		if (rc != SQLITE_OK) {
			r = store_db_errno(db, rc);
			sqlite3_close_v2(db);
			return r;
		}
	}
	*ret = db;
	return 0;
}

/* ------------------------------------------------- read connections */

/*
 * Every connection of the process to the store's files must be closed
 * for a file system that failed to be unmounted and recovered: SQLite
 * holds a shared lock on the database file for as long as a WAL
 * connection is open, and while any lock is held it keeps the file
 * descriptors of the process's other connections to that file open past
 * their close (POSIX locks belong to the process, a close() would drop
 * them). So while the writer is disconnected after a fault, a read
 * connection is closed after each use instead of waiting in the pool.
 */
int store_reader_get(struct store *s, sqlite3 **ret_db)
{
	sqlite3 *db;
	int err;

	pthread_mutex_lock(&s->rlock);
	for (;;) {
		if (s->nridle) {
			db = s->ridle[--s->nridle];
			pthread_mutex_unlock(&s->rlock);
			*ret_db = db;
			return 0;
		}
		if (s->nropen < s->opts.max_readers)
			break;
		pthread_cond_wait(&s->rcond, &s->rlock);
	}
	s->nropen++;
	pthread_mutex_unlock(&s->rlock);

	err = store_db_open(s->path, s->vfs, s->opts.busy_timeout_ms, false, &db, NULL, 0);
	if (err) {
		pthread_mutex_lock(&s->rlock);
		s->nropen--;
		pthread_cond_signal(&s->rcond);
		pthread_mutex_unlock(&s->rlock);
		return err;
	}
	*ret_db = db;
	return 0;
}

void store_reader_release(struct store *s, sqlite3 *db, int err)
{
	bool keep = !err || err == -EINVAL || err == -E2BIG || err == -ENOMEM || err == -EBUSY;

	pthread_mutex_lock(&s->rlock);
	if (keep && !s->readers_paused) {
		s->ridle[s->nridle++] = db;
	} else {
		s->nropen--;
		sqlite3_close_v2(db);
	}
	pthread_cond_signal(&s->rcond);
	pthread_mutex_unlock(&s->rlock);
}

void store_readers_close(struct store *s)
{
	pthread_mutex_lock(&s->rlock);
	while (s->nridle) {
		sqlite3_close_v2(s->ridle[--s->nridle]);
		s->nropen--;
	}
	pthread_mutex_unlock(&s->rlock);
}

void store_readers_pause(struct store *s)
{
	pthread_mutex_lock(&s->rlock);
	s->readers_paused = true;
	pthread_mutex_unlock(&s->rlock);
	store_readers_close(s);
}

void store_readers_resume(struct store *s)
{
	pthread_mutex_lock(&s->rlock);
	s->readers_paused = false;
	pthread_mutex_unlock(&s->rlock);
}
