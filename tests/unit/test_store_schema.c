/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_store_schema.c - store_schema.c: the schema a new database gets,
 * the refusal of a database from a newer kpulse or from someone else
 * (left byte for byte untouched), an unopenable path, the migration of
 * a version 1 database keeping its data, and the upgrade of a version 4
 * database written by kpulse before compressed chunks
 * (fixtures/store_v4.db, made by fixtures/store_v4_gen.c) into chunks,
 * sample for sample, and a version 6 database of chunk format 1
 * (fixtures/store_v6.db, made by fixtures/store_v6_gen.c) read as it is
 * and written on in format 2, and the upgrade of a version 7 database
 * (fixtures/store_v7.db, made by fixtures/store_v7_gen.c) to the
 * 1-minute tier in chunks, row for row, and of a version 8 database
 * (fixtures/store_v8.db, made by fixtures/store_v8_gen.c) whose events
 * maintenance then moves into blocks, event for event.
 *
 * Each test runs in its own mkdtemp directory, removed afterwards even
 * when a CHECK fails (STORE_TEST runs the body, then the cleanup).
 */
#include "store/store_internal.h"
#include "test_store_fixture.h"

STORE_TEST(schema_is_created_with_its_version)
{
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	CHECK_EQ_INT(sql_int(f->db, "PRAGMA application_id"), KPULSE_APP_ID);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
				    "name IN ('meta', 'series', 'chunks_raw', 'chunks_1m', "
				    "'samples_1h', 'events', 'event_blocks')"),
		     7);
	/* the 1-minute tier is in chunks: no row per minute */
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM sqlite_master WHERE "
				    "name LIKE 'samples_1m%'"),
		     0);
	/* raw samples are in chunks: no table of single samples, and no
	 * index on each sample's time */
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM sqlite_master WHERE "
				    "name LIKE 'samples_raw%'"),
		     0);
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
	char err[256] = "", wal[160], sql[256], newer[32];
	uint64_t before, after;
	off_t size_before, size_after;

	snprintf(sql, sizeof(sql),
		 "CREATE TABLE future (x); INSERT INTO future VALUES (42);"
		 "PRAGMA application_id = 1802532204; PRAGMA user_version = %d;",
		 STORE_SCHEMA_VERSION + 1);
	snprintf(newer, sizeof(newer), "version %d", STORE_SCHEMA_VERSION + 1);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_exec(f->db, sql), 0);
	sqlite3_close(f->db);
	f->db = NULL;
	before = file_hash(f->path, &size_before);
	CHECK(size_before > 0);

	CHECK_EQ_INT(store_open(f->path, &f->opts, &f->s, err, sizeof(err)), -EPROTO);
	CHECK(f->s == NULL);
	CHECK(strstr(err, "newer") != NULL);
	CHECK(strstr(err, newer) != NULL);
	after = file_hash(f->path, &size_after);
	CHECK_EQ_INT(size_after, size_before);
	CHECK(after == before);
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	CHECK(!file_exists(wal));

	/* still the newer version, still in rollback-journal mode */
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION + 1);
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
	CHECK_EQ_INT(sql_int(f->db, "SELECT coalesce(sum(n), 0) FROM chunks_raw"), 2);
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

/* The sample fixtures/store_v4_gen.c wrote for series i at round r. */
static struct raw_sample fixture_sample(int i, int r, struct raw_sample *acc)
{
	double t = 1700000000.0 + r + (r >= 200 ? 30 : 0) + (r % 7 == 3 ? 0.004 : 0);

	acc->ts_ms = llround(t * 1000.0);
	if (i < 2) {
		acc->value = r < 250 ? 1000.0 * i + 3.0 * r : 2.0 * (r - 250);
	} else if (i < 4) {
		acc->value = (r * 37 + i) % 101 * 0.5;
	} else {
		acc->slots[8 + r % 5] += (uint64_t)(i + 1);
		if (r == 300)
			acc->slots[30] = 7;
		acc->hist_count += (uint64_t)(i + 1) + (r == 300 ? 7 : 0);
		acc->value += 0.25 * (i + 1);
	}
	return *acc;
}

/* Compares series i's chunks with what the generator wrote: 0, or the
 * round + 1 of the first difference. */
static int check_fixture_series(sqlite3 *db, int i)
{
	struct raw_sample want = {0}, got;
	sqlite3_stmt *st = NULL;
	char sql[256];
	int r = 0, bad = 0;

	snprintf(sql, sizeof(sql),
		 "SELECT data FROM chunks_raw WHERE series_id = (SELECT id FROM series WHERE "
		 "labels = '{\"n\":\"%d\"}') ORDER BY start_ms",
		 i);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	while (!bad && sqlite3_step(st) == SQLITE_ROW) {
		struct store_chunk_dec d;

		if (store_chunk_dec_init(&d, sqlite3_column_blob(st, 0),
					 (size_t)sqlite3_column_bytes(st, 0)) < 0) {
			bad = r + 1;
			break;
		}
		while (!bad && store_chunk_dec_next(&d, &got) == 1) {
			fixture_sample(i, r, &want);
			if (got.ts_ms != want.ts_ms || got.value != want.value ||
			    got.has_hist != (i >= 4) ||
			    (i >= 4 && (got.hist_count != want.hist_count ||
					memcmp(got.slots, want.slots, sizeof(got.slots)))))
				bad = r + 1;
			r++;
		}
	}
	sqlite3_finalize(st);
	return bad ? bad : r == 400 ? 0 : 1000 + r;
}

static int copy_file(const char *from, const char *to)
{
	char buf[8192];
	int in = open(from, O_RDONLY | O_CLOEXEC), out, err = 0;
	ssize_t n;

	if (in < 0)
		return -errno;
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		err = -errno;
		close(in);
		return err;
	}
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			err = -EIO;
	if (n < 0)
		err = -errno;
	close(in);
	close(out);
	return err;
}

STORE_TEST(version_4_database_of_the_previous_kpulse_is_upgraded_to_chunks)
{
	size_t batch = store_migrate_batch_samples;
	int bad[6];

	CHECK_EQ_INT(copy_file(TEST_FIXTURES "/store_v4.db", f->path), 0);
	/* several small transactions: 2,400 samples, 500 a step */
	store_migrate_batch_samples = 500;
	set_now(f, 1700000000.0 + 600);
	f->opts.maintenance_interval_s = 0;
	f->opts.retention_raw_s = 1e9;
	int err = fx_open(f);
	store_migrate_batch_samples = batch;
	CHECK_EQ_INT(err, 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM sqlite_master WHERE "
				    "name LIKE 'samples_raw%'"),
		     0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT sum(n) FROM chunks_raw"), 2400);
	/* a chunk per 2 minutes at most: the 430 s of each series in 4 or 5 */
	CHECK(sql_int(f->db, "SELECT count(*) FROM chunks_raw") <= 6 * 5);
	for (int i = 0; i < 6; i++)
		bad[i] = check_fixture_series(f->db, i);
	for (int i = 0; i < 6; i++)
		CHECK_EQ_INT(bad[i], 0);
	/* the rollups and the watermarks are as they were */
	CHECK_EQ_INT(m1_int(f->db, "SELECT count(*) FROM samples_1m"), 48);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM series"), 6);

	/* and the store goes on writing into the migrated chunks */
	{
		struct metric_series m = gauge_series("fixture_level_bytes", "n", "2", 1);

		m.value = 123;
		CHECK_EQ_INT(store_append_series(f->s, 1700000000.0 + 500, &m, 1), 0);
		CHECK_EQ_INT(store_flush_sync(f->s), 0);
	}
	CHECK_EQ_INT(sql_int(f->db, "SELECT sum(n) FROM chunks_raw"), 2401);
	CHECK_EQ_INT(store_latest(f->s, NULL, &f->latest), 0);
	CHECK_EQ_INT(f->latest->n, 1);
	CHECK_NEAR(f->latest->samples[0].series.value, 123, 0);
}

STORE_TEST(chunks_of_format_1_are_read_and_the_open_one_goes_on_in_format_3)
{
	struct store_range_query q = {
	    .selector = {.name = "fixture_ops_total", .matchers = {{"n", "1"}}, .nmatchers = 1},
	    .from = 1700000000.0,
	    .to = 1700000000.0 + 440,
	    .step = 1,
	    .agg = STORE_AGG_LAST,
	};
	struct store_range_result *res = NULL;
	struct metric_series m = gauge_series("fixture_level_bytes", "n", "2", 1);
	int bad[6];

	CHECK_EQ_INT(copy_file(TEST_FIXTURES "/store_v6.db", f->path), 0);
	set_now(f, 1700000000.0 + 600);
	f->opts.maintenance_interval_s = 0;
	f->opts.retention_raw_s = 1e9;
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM chunks_raw WHERE substr(data, 1, 1) = "
				    "x'01'"),
		     24);
	for (int i = 0; i < 6; i++)
		bad[i] = check_fixture_series(f->db, i);
	for (int i = 0; i < 6; i++)
		CHECK_EQ_INT(bad[i], 0);
	/* queries read them: the counter's last values before and after the
	 * reset at round 250 (t + 280 s with the gap) */
	CHECK_EQ_INT(store_query_range(f->s, &q, &res), 0);
	CHECK_EQ_INT(res->nseries, 1);
	CHECK_EQ_INT(res->series[0].npoints, 400);
	CHECK_NEAR(res->series[0].points[249].value, 1000.0 + 3.0 * 249, 0);
	CHECK_NEAR(res->series[0].points[399].value, 2.0 * 149, 0);
	store_range_result_free(res);

	/* the last chunk of series 2 (70 samples in format 1) is resumed:
	 * rewritten in format 3 with the new sample after its own */
	m.value = 123;
	CHECK_EQ_INT(store_append_series(f->s, 1700000000.0 + 431, &m, 1), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT sum(n) FROM chunks_raw"), 2401);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM chunks_raw"), 24);
	CHECK_EQ_INT(sql_int(f->db, "SELECT n FROM chunks_raw WHERE substr(data, 1, 1) = x'03'"),
		     71);
	/* rewritten where it was (only new open chunks get the open rowids) */
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM chunks_raw WHERE rowid < 0"), 0);
	for (int i = 0; i < 6; i++)
		bad[i] = i == 2 ? 0 : check_fixture_series(f->db, i);
	for (int i = 0; i < 6; i++)
		CHECK_EQ_INT(bad[i], 0);
	CHECK_EQ_INT(store_latest(f->s, NULL, &f->latest), 0);
	CHECK_EQ_INT(f->latest->n, 1);
	CHECK_NEAR(f->latest->samples[0].series.value, 123, 0);
}

/* schema 6 -> 7: model_state becomes a rowid table (2 KB states no
 * longer spill into an overflow page each), keeping its states */
STORE_TEST(model_states_of_schema_6_move_into_a_rowid_table)
{
	unsigned char state[2000];
	sqlite3_stmt *st = NULL;

	for (size_t i = 0; i < sizeof(state); i++)
		state[i] = (unsigned char)(i * 7);
	CHECK_EQ_INT(copy_file(TEST_FIXTURES "/store_v6.db", f->path), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "PRAGMA user_version"), 6);
	CHECK_EQ_INT(sqlite3_prepare_v2(f->db,
					"INSERT INTO model_state (series, kind, updated_ts, state) "
					"VALUES ('a{}:rate', 'stream', 1700000000, ?1)",
					-1, &st, NULL),
		     SQLITE_OK);
	sqlite3_bind_blob(st, 1, state, sizeof(state), SQLITE_STATIC);
	CHECK_EQ_INT(sqlite3_step(st), SQLITE_DONE);
	sqlite3_finalize(st);
	sqlite3_close(f->db);
	f->db = NULL;

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM sqlite_master WHERE name = "
				    "'model_state' AND sql NOT LIKE '%WITHOUT ROWID%'"),
		     1);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM sqlite_master WHERE name IN "
				    "('model_state_v7', 'model_state_series')"),
		     1);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM model_state WHERE series = 'a{}:rate' "
				    "AND kind = 'stream' AND updated_ts = 1700000000"),
		     1);
	st = NULL;
	CHECK_EQ_INT(sqlite3_prepare_v2(f->db, "SELECT state FROM model_state", -1, &st, NULL),
		     SQLITE_OK);
	CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
	CHECK_EQ_INT(sqlite3_column_bytes(st, 0), (int)sizeof(state));
	CHECK(memcmp(sqlite3_column_blob(st, 0), state, sizeof(state)) == 0);
	sqlite3_finalize(st);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM dbstat WHERE name = 'model_state' AND "
				    "pagetype = 'overflow'"),
		     0);
}

/* One rollup row as sql selects it: bucket_ts, then STORE_ROLLUP_COLS. */
struct m1_row {
	int64_t bucket;
	struct span_agg agg;
};

static int read_m1_rows(sqlite3 *db, const char *sql, struct m1_row *rows, int max)
{
	sqlite3_stmt *st = NULL;
	int n = 0;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	while (n < max && sqlite3_step(st) == SQLITE_ROW) {
		rows[n].bucket = sqlite3_column_int64(st, 0);
		if (store_span_from_row(st, 1, &rows[n].agg) < 0) {
			n = -1;
			break;
		}
		n++;
	}
	sqlite3_finalize(st);
	return n;
}

static bool same_agg(const struct span_agg *a, const struct span_agg *b)
{
	return a->n == b->n && a->has_values == b->has_values &&
	       (!a->has_values ||
		(fx_same_double(a->min, b->min) && fx_same_double(a->max, b->max) &&
		 fx_same_double(a->sum, b->sum) && fx_same_double(a->last, b->last))) &&
	       a->has_inc == b->has_inc && (!a->has_inc || fx_same_double(a->inc, b->inc)) &&
	       a->has_hist == b->has_hist &&
	       (!a->has_hist ||
		(a->hist_count == b->hist_count && fx_same_double(a->hist_sum, b->hist_sum) &&
		 !memcmp(a->slots, b->slots, sizeof(a->slots))));
}

/* schema 7 -> 8: the minute rows of a database written by the previous
 * kpulse move into chunks of an hour each, in several transactions, and
 * read back bit for bit, through the store's queries too */
STORE_TEST(version_7_minute_rows_are_upgraded_to_chunks_row_for_row)
{
	static const char rows_sql[] =
	    "SELECT bucket_ts, " STORE_ROLLUP_COLS " FROM samples_1m ORDER BY series_id, bucket_ts";
	static struct m1_row before[1000], after[1000];
	size_t batch = store_migrate_batch_samples;
	struct store_range_query q = {
	    .selector = {.name = "fixture_ops_total", .matchers = {{"n", "0"}}, .nmatchers = 1},
	    .from = 1700000000.0 - 20,
	    .to = 1700010200.0,
	    .step = 60,
	    .agg = STORE_AGG_LAST,
	};
	int nbefore, nafter, bad = -1, err;

	CHECK_EQ_INT(copy_file(TEST_FIXTURES "/store_v7.db", f->path), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "PRAGMA user_version"), 7);
	nbefore = read_m1_rows(f->db, rows_sql, before, 1000);
	CHECK_EQ_INT(nbefore, 906);
	sqlite3_close(f->db);
	f->db = NULL;

	/* several small transactions: 906 rows, 200 a step */
	store_migrate_batch_samples = 200;
	set_now(f, 1700010000.0 + 600);
	f->opts.maintenance_interval_s = 0;
	f->opts.retention_raw_s = f->opts.retention_1m_s = f->opts.retention_1h_s = 1e9;
	err = fx_open(f);
	store_migrate_batch_samples = batch;
	CHECK_EQ_INT(err, 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM sqlite_master WHERE "
				    "name LIKE 'samples_1m%'"),
		     0);
	/* a chunk per series and hour: 4 hours (the first and last partial) */
	CHECK_EQ_INT(sql_int(f->db, "SELECT sum(n) FROM chunks_1m"), 906);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM chunks_1m"), 6 * 4);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM chunks_1m WHERE start_ts % 3600 <> 0"),
		     0);
	CHECK_EQ_INT(m1_table(f->db), 0);
	nafter = read_m1_rows(f->db, rows_sql, after, 1000);
	CHECK_EQ_INT(nafter, 906);
	for (int i = 0; i < nafter && bad < 0; i++)
		if (before[i].bucket != after[i].bucket || !same_agg(&before[i].agg, &after[i].agg))
			bad = i;
	CHECK_EQ_INT(bad, -1);

	/* the queries read the chunks: a counter's last value per minute */
	nbefore = read_m1_rows(f->db,
			       "SELECT bucket_ts, " STORE_ROLLUP_COLS " FROM samples_1m WHERE "
			       "series_id = (SELECT id FROM series WHERE labels = '{\"n\":\"0\"}') "
			       "ORDER BY bucket_ts",
			       before, 1000);
	CHECK(nbefore > 100);
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), 0);
	CHECK_EQ_INT(f->range->tier, STORE_TIER_1M);
	CHECK_EQ_INT(f->range->nseries, 1);
	CHECK_EQ_INT(f->range->series[0].npoints, nbefore);
	bad = -1;
	for (int k = 0; k < nbefore && bad < 0; k++) {
		const struct store_point *pt = &f->range->series[0].points[k];

		if (pt->ts != (double)before[k].bucket || pt->value != before[k].agg.last)
			bad = k;
	}
	CHECK_EQ_INT(bad, -1);
	f->range = store_range_result_free(f->range);

	/* and the store goes on rolling up into them */
	{
		struct metric_series m = gauge_series("fixture_level_bytes", "n", "2", 1);

		m.value = 4242;
		/* after the fixture's last sample (1700010190) */
		CHECK_EQ_INT(store_append_series(f->s, 1700010195.0, &m, 1), 0);
		CHECK_EQ_INT(store_run_maintenance(f->s), 0);
	}
	CHECK_EQ_INT(sql_int(f->db, "SELECT sum(n) FROM chunks_1m"), 906);
	CHECK_EQ_INT(m1_int(f->db,
			    "SELECT last FROM samples_1m WHERE bucket_ts = 1700010180 AND "
			    "series_id = (SELECT id FROM series WHERE labels = '{\"n\":\"2\"}')"),
		     4242);
}

/* An event as the fixture's events table holds it. */
struct fixture_event {
	int64_t id;
	double ts;
	char type[STORE_EVENT_TYPE_MAX];
	int32_t pid;
	char comm[STORE_COMM_LEN];
	json_t *fields;
};

static int read_fixture_events(sqlite3 *db, struct fixture_event *out, int max)
{
	sqlite3_stmt *st = NULL;
	int n = 0;

	if (sqlite3_prepare_v2(db,
			       "SELECT id, ts, type, pid, comm, fields FROM events ORDER BY ts, id",
			       -1, &st, NULL) != SQLITE_OK)
		return -1;
	while (n < max && sqlite3_step(st) == SQLITE_ROW) {
		struct fixture_event *e = &out[n++];

		e->id = sqlite3_column_int64(st, 0);
		e->ts = sqlite3_column_double(st, 1);
		snprintf(e->type, sizeof(e->type), "%s", (const char *)sqlite3_column_text(st, 2));
		e->pid = (int32_t)sqlite3_column_int64(st, 3);
		snprintf(e->comm, sizeof(e->comm), "%s", (const char *)sqlite3_column_text(st, 4));
		e->fields = json_loads((const char *)sqlite3_column_text(st, 5), 0, NULL);
	}
	sqlite3_finalize(st);
	return n;
}

/* A version 8 database (fixtures/store_v8.db): upgraded at open by one
 * table more; maintenance then moves its events into blocks in small
 * transactions (7 events a step here), a block per type and minute, the
 * newest event left a row; every event reads back as it was. */
STORE_TEST(v8_events_move_into_blocks_event_for_event)
{
	static struct fixture_event before[400];
	struct store_event_query q = {.from = 1700000000.0, .to = 1700002000.0, .limit = 1000};
	int n, bad = -1;

	CHECK_EQ_INT(copy_file(TEST_FIXTURES "/store_v8.db", f->path), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "PRAGMA user_version"), 8);
	n = read_fixture_events(f->db, before, 400);
	CHECK_EQ_INT(n, 300);
	sqlite3_close(f->db);
	f->db = NULL;

	set_now(f, 1700001507.25 + 600);
	f->opts.maintenance_interval_s = 0;
	f->opts.maintenance_batch_rows = 7;
	f->opts.retention_events_s = 1e9;
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION);
	/* still rows until maintenance runs: read the same */
	CHECK_EQ_INT(store_query_events(f->s, &q, &f->events), 0);
	CHECK_EQ_INT(f->events->n, 300);
	f->events = store_event_list_free(f->events);

	CHECK_EQ_INT(store_run_maintenance(f->s), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM events"), 1);
	CHECK_EQ_INT(sql_int(f->db, "SELECT sum(n) FROM event_blocks"), 299);
	CHECK(sql_int(f->db, "SELECT max(n) FROM event_blocks") <= 7);
	CHECK_EQ_INT(sql_int(f->db,
			     "SELECT count(*) FROM event_blocks WHERE "
			     "CAST(start_ts / 60 AS INTEGER) <> CAST(end_ts / 60 AS INTEGER) "
			     "OR start_ts > end_ts"),
		     0);
	CHECK_EQ_INT(store_query_events(f->s, &q, &f->events), 0);
	CHECK_EQ_INT(f->events->n, 300);
	for (int i = 0; i < n && i < (int)f->events->n && bad < 0; i++) {
		const struct store_event *e = &f->events->events[i];

		if (e->id != before[i].id || memcmp(&e->ts, &before[i].ts, sizeof(e->ts)) ||
		    strcmp(e->type, before[i].type) || e->pid != before[i].pid ||
		    strcmp(e->comm, before[i].comm) || !json_equal(e->fields, before[i].fields))
			bad = i;
	}
	CHECK_EQ_INT(bad, -1);
	for (int i = 0; i < n; i++)
		json_decref(before[i].fields);

	/* new events go on getting ids after every moved one */
	CHECK_EQ_INT(store_append_event(f->s, 1700002000.0, "exec", 1, "new", NULL), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT max(id) FROM events"), 301);
}

/* The raw chunks of a version 8 database (format 2) read back sample
 * for sample after the upgrade, and the last one, resumed by the
 * writer, goes on in format 3 with the others left as they were. */
STORE_TEST(v8_chunks_of_format_2_are_read_and_the_open_one_goes_on_in_format_3)
{
	/* store_v8_gen.c: every 10 s from T0, the value 2 j */
	const double t0 = 1700000007.25;
	struct store_range_query q = {
	    .selector = {.name = "fixture_level_bytes"},
	    .from = t0 - 1,
	    .to = t0 + 1600,
	    .step = 10,
	    .agg = STORE_AGG_LAST,
	};
	struct store_range_result *res = NULL;
	struct metric_series m = gauge_series("fixture_level_bytes", NULL, NULL, 1);
	int bad = -1;

	CHECK_EQ_INT(copy_file(TEST_FIXTURES "/store_v8.db", f->path), 0);
	set_now(f, t0 + 1500);
	f->opts.maintenance_interval_s = 0;
	f->opts.retention_raw_s = 1e9;
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM chunks_raw WHERE substr(data, 1, 1) = "
				    "x'02'"),
		     4);
	CHECK_EQ_INT(store_query_range(f->s, &q, &res), 0);
	CHECK_EQ_INT(res->nseries, 1);
	CHECK_EQ_INT(res->series[0].npoints, 150);
	for (size_t j = 0; j < res->series[0].npoints && bad < 0; j++)
		if (res->series[0].points[j].value != 2.0 * (double)j)
			bad = (int)j;
	CHECK_EQ_INT(bad, -1);
	store_range_result_free(res);
	res = NULL;

	m.value = 1000;
	CHECK_EQ_INT(store_append_series(f->s, t0 + 1500, &m, 1), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM chunks_raw"), 4);
	CHECK_EQ_INT(sql_int(f->db, "SELECT sum(n) FROM chunks_raw"), 151);
	CHECK_EQ_INT(sql_int(f->db, "SELECT n FROM chunks_raw WHERE substr(data, 1, 1) = x'03'"),
		     5);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM chunks_raw WHERE substr(data, 1, 1) = "
				    "x'02'"),
		     3);
	q.to = t0 + 1510;
	CHECK_EQ_INT(store_query_range(f->s, &q, &res), 0);
	CHECK_EQ_INT(res->nseries, 1);
	CHECK_EQ_INT(res->series[0].npoints, 151);
	bad = -1;
	for (size_t j = 0; j < 150 && j < res->series[0].npoints && bad < 0; j++)
		if (res->series[0].points[j].value != 2.0 * (double)j)
			bad = (int)j;
	CHECK_EQ_INT(bad, -1);
	CHECK_NEAR(res->series[0].points[150].value, 1000, 0);
	store_range_result_free(res);
}

TEST_MAIN()
