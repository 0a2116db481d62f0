/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_store_schema.c - store_schema.c: the schema a new database gets,
 * the refusal of a database from a newer kpulse or from someone else
 * (left byte for byte untouched), an unopenable path, and the migration of
 * a version 1 database keeping its data.
 *
 * Each test runs in its own mkdtemp directory, removed afterwards even
 * when a CHECK fails (STORE_TEST runs the body, then the cleanup).
 */
#include "test_store_fixture.h"

STORE_TEST(schema_is_created_with_its_version)
{
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	CHECK_EQ_INT(sql_int(f->db, "PRAGMA application_id"), KPULSE_APP_ID);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
				    "name IN ('meta', 'series', 'samples_raw', 'samples_1m', "
				    "'samples_1h', 'events')"),
		     6);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM pragma_table_info('series') "
				    "WHERE name = 'last_seen_ts'"),
		     1);
	/* WAL mode is a property of the file */
	CHECK_EQ_INT(sql_int(f->db, "SELECT journal_mode = 'wal' FROM pragma_journal_mode"), 1);

	/* reopening an up-to-date database changes nothing */
	f->s = store_close(f->s);
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
}

STORE_TEST(newer_schema_is_refused_and_left_untouched)
{
	char err[256] = "", wal[160];
	uint64_t before, after;
	off_t size_before, size_after;

	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_exec(f->db, "CREATE TABLE future (x); INSERT INTO future VALUES (42);"
				     "PRAGMA application_id = 1802532204;"
				     "PRAGMA user_version = 4;"),
		     0);
	sqlite3_close(f->db);
	f->db = NULL;
	before = file_hash(f->path, &size_before);
	CHECK(size_before > 0);

	CHECK_EQ_INT(store_open(f->path, &f->opts, &f->s, err, sizeof(err)), -EPROTO);
	CHECK(f->s == NULL);
	CHECK(strstr(err, "newer") != NULL);
	CHECK(strstr(err, "version 4") != NULL);
	after = file_hash(f->path, &size_after);
	CHECK_EQ_INT(size_after, size_before);
	CHECK(after == before);
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	CHECK(!file_exists(wal));

	/* still version 4, still in rollback-journal mode */
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "PRAGMA user_version"), 4);
	CHECK_EQ_INT(sql_int(f->db, "SELECT journal_mode = 'delete' FROM pragma_journal_mode"), 1);
}

STORE_TEST(foreign_database_is_refused)
{
	char err[256] = "";
	char junk[128];
	uint64_t before, after;
	off_t size_before, size_after;
	int fd;

	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_exec(f->db, "CREATE TABLE someone_elses (x)"), 0);
	sqlite3_close(f->db);
	f->db = NULL;
	before = file_hash(f->path, &size_before);
	CHECK_EQ_INT(store_open(f->path, &f->opts, &f->s, err, sizeof(err)), -EPROTO);
	CHECK(strstr(err, "not a kpulse database") != NULL);
	after = file_hash(f->path, &size_after);
	CHECK(after == before && size_after == size_before);

	/* not SQLite at all */
	snprintf(junk, sizeof(junk), "%s/junk.db", f->dir);
	fd = open(junk, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	for (int i = 0; i < 64; i++)
		CHECK_EQ_INT(write(fd, "this is not a database, just text. ", 35), 35);
	close(fd);
	before = file_hash(junk, &size_before);
	err[0] = '\0';
	CHECK(store_open(junk, &f->opts, &f->s, err, sizeof(err)) < 0);
	CHECK(err[0] != '\0');
	after = file_hash(junk, &size_after);
	CHECK(after == before && size_after == size_before);
}

STORE_TEST(unopenable_path_fails_with_reason)
{
	char err[256] = "";
	char path[256];

	snprintf(path, sizeof(path), "%s/no/such/dir/kpulse.db", f->dir);
	CHECK(store_open(path, &f->opts, &f->s, err, sizeof(err)) < 0);
	CHECK(f->s == NULL);
	CHECK(strstr(err, "cannot open") != NULL);
}

/* The version 1 schema exactly as kpulse released it. */
static const char schema_v1[] =
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE series (id INTEGER PRIMARY KEY, name TEXT NOT NULL, labels TEXT NOT NULL,"
    "  type TEXT NOT NULL, scale REAL NOT NULL DEFAULT 1, UNIQUE (name, labels));"
    "CREATE TABLE samples_raw (series_id INTEGER NOT NULL, ts_ms INTEGER NOT NULL, value REAL,"
    "  hist_count INTEGER, hist_slots BLOB, PRIMARY KEY (series_id, ts_ms)) WITHOUT ROWID;"
    "CREATE INDEX samples_raw_ts ON samples_raw (ts_ms);"
    "CREATE TABLE samples_1m (series_id INTEGER NOT NULL, bucket_ts INTEGER NOT NULL,"
    "  count INTEGER NOT NULL, min REAL, max REAL, sum REAL, last REAL, inc REAL,"
    "  hist_count INTEGER, hist_sum REAL, hist_slots BLOB,"
    "  PRIMARY KEY (series_id, bucket_ts)) WITHOUT ROWID;"
    "CREATE INDEX samples_1m_bucket ON samples_1m (bucket_ts);"
    "CREATE TABLE samples_1h (series_id INTEGER NOT NULL, bucket_ts INTEGER NOT NULL,"
    "  count INTEGER NOT NULL, min REAL, max REAL, sum REAL, last REAL, inc REAL,"
    "  hist_count INTEGER, hist_sum REAL, hist_slots BLOB,"
    "  PRIMARY KEY (series_id, bucket_ts)) WITHOUT ROWID;"
    "CREATE INDEX samples_1h_bucket ON samples_1h (bucket_ts);"
    "CREATE TABLE events (id INTEGER PRIMARY KEY, ts REAL NOT NULL, type TEXT NOT NULL,"
    "  pid INTEGER NOT NULL, comm TEXT NOT NULL, fields TEXT NOT NULL);"
    "CREATE INDEX events_ts ON events (ts);"
    "CREATE INDEX events_type_ts ON events (type, ts);"
    "PRAGMA application_id = 1802532204;"
    "PRAGMA user_version = 1;";

STORE_TEST(migrates_version_1_forward_keeping_data)
{
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_exec(f->db, schema_v1), 0);
	CHECK_EQ_INT(
	    sql_exec(f->db,
		     "INSERT INTO series VALUES (1, 'kpulse_mem_free_bytes', '{}', 'gauge', 1);"
		     "INSERT INTO series VALUES (2, 'kpulse_old_total', '{}', 'counter', 1);"
		     "INSERT INTO samples_raw VALUES (1, 1699999200000, 5, NULL, NULL);"
		     "INSERT INTO samples_raw VALUES (1, 1699999201000, 7, NULL, NULL);"
		     "INSERT INTO samples_1h VALUES (2, 1699992000, 1, 3, 3, 3, 3, NULL,"
		     "  NULL, NULL, NULL);"
		     "INSERT INTO meta VALUES ('rollup_1m_done', 1699999200);"),
	    0);
	sqlite3_close(f->db);
	f->db = NULL;

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	CHECK_EQ_INT(sql_int(f->db, "SELECT last_seen_ts FROM series WHERE id = 1"), 1699999201);
	CHECK_EQ_INT(sql_int(f->db, "SELECT last_seen_ts FROM series WHERE id = 2"), 1699992000);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM samples_raw"), 2);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM sqlite_master WHERE name = "
				    "'series_last_seen'"),
		     1);

	/* the old data reads back through the store */
	CHECK_EQ_INT(store_latest(f->s, NULL, &f->latest), 0);
	CHECK_EQ_INT(f->latest->n, 1);
	CHECK_STR(f->latest->samples[0].series.name, "kpulse_mem_free_bytes");
	CHECK_NEAR(f->latest->samples[0].series.value, 7, 0);
	CHECK_NEAR(f->latest->samples[0].ts, 1699999201.0, 1e-9);
}

TEST_MAIN()
