/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_store.c - the SQLite time-series store: schema and migrations,
 * exact read-back, graceful close, rollups and retention under a fake
 * clock (checked against aggregates computed here from the raw input),
 * tier choice, result bounds, and write faults (a lock held by another
 * connection, disk full and a read-only file system injected through a
 * SQLite VFS) during which nothing may be lost while the buffer has room.
 *
 * Each test runs in its own mkdtemp directory, removed afterwards even
 * when a CHECK fails (STORE_TEST runs the body, then the cleanup).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "registry/hist.h"
#include "registry/registry.h"
#include "store/store.h"
#include "test.h"

/* An hour boundary, so that minutes and hours start at T0. */
#define T0	      1699999200.0
#define KPULSE_APP_ID 0x6b70756c

/* ------------------------------------------------------------ fixture */

struct fixture {
	char dir[64];
	char path[128];
	double now; /* the fake clock, read by the writer thread */
	struct store_options opts;
	struct store *s;
	sqlite3 *db; /* the test's own connection */
	struct registry *reg;
	struct store_range_result *range;
	struct store_latest_result *latest;
	struct store_series_list *list;
	struct store_event_list *events;
};

static double fake_clock(void *ctx)
{
	struct fixture *f = ctx;
	double v;

	__atomic_load(&f->now, &v, __ATOMIC_SEQ_CST);
	return v;
}

static void set_now(struct fixture *f, double t)
{
	__atomic_store(&f->now, &t, __ATOMIC_SEQ_CST);
}

static int fx_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/kpulse-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -errno;
	snprintf(f->path, sizeof(f->path), "%s/%s", f->dir, STORE_DB_FILENAME);
	store_options_default(&f->opts);
	f->opts.clock = fake_clock;
	f->opts.clock_ctx = f;
	f->opts.maintenance_interval_s = 0; /* only when a test asks */
	set_now(f, T0);
	f->reg = registry_new();
	return f->reg ? 0 : -ENOMEM;
}

static void rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static void fx_done(struct fixture *f)
{
	store_range_result_free(f->range);
	store_latest_result_free(f->latest);
	store_series_list_free(f->list);
	store_event_list_free(f->events);
	f->s = store_close(f->s);
	sqlite3_close(f->db);
	registry_free(f->reg);
	if (f->dir[0])
		rm_dir(f->dir);
}

#define STORE_TEST(name)                                                                           \
	static void body_##name(int *failed, struct fixture *f);                                   \
	TEST(name)                                                                                 \
	{                                                                                          \
		struct fixture fx;                                                                 \
		if (fx_init(&fx) < 0) {                                                            \
			fprintf(stderr, "  fixture setup failed\n");                               \
			*failed = 1;                                                               \
		} else {                                                                           \
			body_##name(failed, &fx);                                                  \
		}                                                                                  \
		fx_done(&fx);                                                                      \
	}                                                                                          \
	static void body_##name(int *failed, struct fixture *f)

static int fx_open(struct fixture *f)
{
	char err[256] = "";
	int ret = store_open(f->path, &f->opts, &f->s, err, sizeof(err));

	if (ret)
		fprintf(stderr, "  store_open: %d %s\n", ret, err);
	return ret;
}

static int sql_open(struct fixture *f)
{
	if (sqlite3_open_v2(f->path, &f->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL))
		return -EIO;
	sqlite3_busy_timeout(f->db, 2000);
	return 0;
}

/* The first column of the first row as an integer; -1 on error. */
static int64_t sql_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static double sql_double(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	double v = NAN;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int sql_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

static uint64_t file_hash(const char *path, off_t *ret_size)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	unsigned char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*ret_size = 0;
	if (fd < 0)
		return 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			h = (h ^ buf[i]) * 0x100000001b3ULL;
		*ret_size += n;
	}
	close(fd);
	return h;
}

static bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* The store's histogram blob: format 1, slot count, LEB128 per slot. */
static int blob_decode(const unsigned char *p, int len, uint64_t slots[REGISTRY_HIST_SLOTS])
{
	int pos = 2;

	memset(slots, 0, REGISTRY_HIST_SLOTS * sizeof(uint64_t));
	if (len < 2 || p[0] != 1 || p[1] > REGISTRY_HIST_SLOTS)
		return -1;
	for (int i = 0; i < p[1]; i++) {
		uint64_t v = 0;

		for (int shift = 0;; shift += 7) {
			if (pos >= len)
				return -1;
			v |= (uint64_t)(p[pos] & 0x7f) << shift;
			if (!(p[pos++] & 0x80))
				break;
		}
		slots[i] = v;
	}
	return pos == len ? 0 : -1;
}

/* A deterministic pseudo-random sequence. */
static uint64_t lcg(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return *state >> 33;
}

static const struct metric_label cpu0[] = {{"cpu", "0"}};

/* One gauge, one counter and one histogram with a label each. */
static int set_round(struct registry *r, double ts, double gauge, double counter,
		     const uint64_t *slots, uint64_t count, double sum_ns)
{
	static const struct metric_label dev[] = {{"device", "sda"}};
	int err;

	registry_begin(r, ts, 1.0);
	err = registry_set_gauge(r, "kpulse_mem_free_bytes", NULL, 0, gauge);
	if (!err)
		err = registry_set_counter(r, "kpulse_sched_cpu_busy_seconds_total", cpu0, 1,
					   counter);
	if (!err)
		err = registry_set_histogram(r, "kpulse_block_io_latency_seconds", dev, 1, slots,
					     count, sum_ns, 1e-9);
	registry_end(r);
	return err;
}

static struct metric_series gauge_series(const char *name, const char *key, const char *value,
					 double v)
{
	struct metric_series m;

	memset(&m, 0, sizeof(m));
	snprintf(m.name, sizeof(m.name), "%s", name);
	if (key) {
		snprintf(m.label_keys[0], sizeof(m.label_keys[0]), "%s", key);
		snprintf(m.label_values[0], sizeof(m.label_values[0]), "%s", value);
		m.nlabels = 1;
	}
	m.type = METRIC_GAUGE;
	m.value = v;
	return m;
}

/* -------------------------------------------------------- schema */

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

/* ------------------------------------------------------- read back */

STORE_TEST(appended_snapshot_reads_back_exactly)
{
	uint64_t slots[REGISTRY_HIST_SLOTS] = {[0] = 3, [10] = 1234567, [20] = 89, [39] = 1};
	struct store_stats st;
	const struct store_latest_sample *g = NULL, *c = NULL, *h = NULL;
	struct store_range_query q = {
	    .selector = {.name = "kpulse_mem_free_bytes"},
	    .from = T0,
	    .to = T0 + 1,
	    .step = 1,
	    .agg = STORE_AGG_LAST,
	};

	f->opts.flush_interval_s = 3600; /* one flush: ours */
	CHECK_EQ_INT(fx_open(f), 0);
	/* values that a float-and-back would change */
	CHECK_EQ_INT(set_round(f->reg, T0, 123456789012.5, 0.1 + 0.2, slots, 1234660, 9.87654321e9),
		     0);
	CHECK_EQ_INT(store_append_snapshot(f->s, f->reg), 0);
	CHECK_EQ_INT(set_round(f->reg, T0 + 1, -1e-300, 1e15 + 1, slots, 1234660, 9.87654321e9), 0);
	CHECK_EQ_INT(store_append_snapshot(f->s, f->reg), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);

	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.samples_written, 6);
	CHECK_EQ_INT(st.samples_buffered, 0);
	CHECK_EQ_INT(st.flushes, 1);
	CHECK_EQ_INT(st.last_error, 0);
	CHECK(st.db_size_bytes > 0);
	CHECK(st.last_flush_latency_s >= 0);

	CHECK_EQ_INT(store_latest(f->s, NULL, &f->latest), 0);
	CHECK_EQ_INT(f->latest->n, 3);
	for (size_t i = 0; i < f->latest->n; i++) {
		const struct store_latest_sample *x = &f->latest->samples[i];

		CHECK_NEAR(x->ts, T0 + 1, 1e-9);
		if (x->series.type == METRIC_GAUGE)
			g = x;
		else if (x->series.type == METRIC_COUNTER)
			c = x;
		else
			h = x;
	}
	CHECK(g && c && h);
	CHECK(g->series.value == -1e-300);
	CHECK(c->series.value == 1e15 + 1);
	CHECK_STR(c->series.name, "kpulse_sched_cpu_busy_seconds_total");
	CHECK_EQ_INT(c->series.nlabels, 1);
	CHECK_STR(c->series.label_keys[0], "cpu");
	CHECK_STR(c->series.label_values[0], "0");
	CHECK_STR(h->series.label_values[0], "sda");
	CHECK_EQ_INT(h->series.hist_count, 1234660);
	CHECK(h->series.hist_sum == 9.87654321e9 * 1e-9);
	CHECK(h->series.scale == 1e-9);
	CHECK(memcmp(h->series.slots, slots, sizeof(slots)) == 0);

	/* the earlier sample, through a raw range query */
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), 0);
	CHECK_EQ_INT(f->range->tier, STORE_TIER_RAW);
	CHECK_EQ_INT(f->range->nseries, 1);
	CHECK_EQ_INT(f->range->series[0].npoints, 2);
	CHECK(f->range->series[0].points[0].value == 123456789012.5);
	CHECK_NEAR(f->range->series[0].points[0].ts, T0, 0);
	CHECK(f->range->series[0].points[1].value == -1e-300);

	/* the series table holds canonical labels */
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM series WHERE labels = '{\"cpu\":\"0\"}' "
				    "AND type = 'counter'"),
		     1);
	CHECK_EQ_INT(store_list_series(f->s, NULL, &f->list), 0);
	CHECK_EQ_INT(f->list->n, 3);
	CHECK_STR(f->list->series[0].name, "kpulse_block_io_latency_seconds");
	CHECK_EQ_INT(f->list->series[0].type, METRIC_HISTOGRAM);
}

STORE_TEST(label_order_does_not_make_a_new_series)
{
	struct metric_series a = gauge_series("kpulse_x", "b", "2", 1);
	struct metric_series b = a;

	snprintf(a.label_keys[1], sizeof(a.label_keys[1]), "a");
	snprintf(a.label_values[1], sizeof(a.label_values[1]), "1");
	a.nlabels = 2;
	/* the same labels, the other way round */
	snprintf(b.label_keys[0], sizeof(b.label_keys[0]), "a");
	snprintf(b.label_values[0], sizeof(b.label_values[0]), "1");
	snprintf(b.label_keys[1], sizeof(b.label_keys[1]), "b");
	snprintf(b.label_values[1], sizeof(b.label_values[1]), "2");
	b.nlabels = 2;
	b.value = 2;

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(store_append_series(f->s, T0, &a, 1), 0);
	CHECK_EQ_INT(store_append_series(f->s, T0 + 1, &b, 1), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM series"), 1);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM series WHERE labels = "
				    "'{\"a\":\"1\",\"b\":\"2\"}'"),
		     1);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM samples_raw"), 2);
}

STORE_TEST(graceful_close_loses_nothing)
{
	struct metric_series m[100];
	char wal[160];
	json_t *fields;

	/* the writer would not flush on its own during the test */
	f->opts.flush_interval_s = 3600;
	CHECK_EQ_INT(fx_open(f), 0);
	for (int i = 0; i < 100; i++) {
		char name[32];

		snprintf(name, sizeof(name), "kpulse_g%d", i);
		m[i] = gauge_series(name, "k", "v", i);
	}
	for (int round = 0; round < 50; round++)
		CHECK_EQ_INT(store_append_series(f->s, T0 + round, m, 100), 0);
	fields = json_pack("{s:i}", "ppid", 1);
	CHECK(fields);
	for (int i = 0; i < 30; i++)
		CHECK_EQ_INT(store_append_event(f->s, T0 + i, "exec", 100 + i, "sh", fields), 0);
	json_decref(fields);
	f->s = store_close(f->s);
	/* the writer's connection closed last and checkpointed the WAL away */
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	CHECK(!file_exists(wal));

	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM samples_raw"), 5000);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM events"), 30);
	CHECK_EQ_INT(sql_int(f->db, "SELECT sum(value) FROM samples_raw"), 50 * 4950);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM series"), 100);
}

STORE_TEST(events_read_back_by_type_and_order)
{
	struct store_event_query q = {.from = T0, .to = T0 + 100, .limit = 100};
	json_t *fields;

	CHECK_EQ_INT(fx_open(f), 0);
	for (int i = 0; i < 10; i++) {
		fields = json_pack("{s:i, s:s}", "ppid", i, "note", "caf\xc3\xa9");
		CHECK(fields);
		CHECK_EQ_INT(store_append_event(f->s, T0 + i, i % 2 ? "exit" : "exec", 1000 + i,
						"a-very-long-command-name", fields),
			     0);
		json_decref(fields);
	}
	CHECK_EQ_INT(store_append_event(f->s, T0 + 50, "oom_kill", 7, NULL, NULL), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);

	CHECK_EQ_INT(store_query_events(f->s, &q, &f->events), 0);
	CHECK_EQ_INT(f->events->n, 11);
	CHECK_STR(f->events->events[0].type, "exec");
	CHECK_STR(f->events->events[0].comm, "a-very-long-com"); /* 15 bytes, as the kernel */
	CHECK_EQ_INT(f->events->events[0].pid, 1000);
	CHECK_NEAR(f->events->events[0].ts, T0, 1e-6);
	CHECK_EQ_INT(json_integer_value(json_object_get(f->events->events[3].fields, "ppid")), 3);
	CHECK_STR(json_string_value(json_object_get(f->events->events[3].fields, "note")),
		  "caf\xc3\xa9");
	CHECK_STR(f->events->events[10].type, "oom_kill");
	CHECK_EQ_INT(json_object_size(f->events->events[10].fields), 0);
	f->events = store_event_list_free(f->events);

	q.type = "exit";
	q.newest_first = true;
	q.limit = 2;
	CHECK_EQ_INT(store_query_events(f->s, &q, &f->events), 0);
	CHECK_EQ_INT(f->events->n, 2);
	CHECK_EQ_INT(f->events->events[0].pid, 1009);
	CHECK_EQ_INT(f->events->events[1].pid, 1007);
	f->events = store_event_list_free(f->events);

	q.type = NULL;
	q.newest_first = false;
	q.from = T0 + 2.5;
	q.to = T0 + 4;
	q.limit = 10;
	CHECK_EQ_INT(store_query_events(f->s, &q, &f->events), 0);
	CHECK_EQ_INT(f->events->n, 2);
	CHECK_EQ_INT(f->events->events[0].pid, 1003);
}

/* --------------------------------------------------------- rollups */

/*
 * A generated history: a gauge, a counter with a reset and a histogram
 * with a reset, one sample every `every` seconds from T0 for n samples.
 */
struct history {
	int n;
	double every;
	double ts[800];
	double gauge[800];
	double counter[800];
	uint64_t slots[800][REGISTRY_HIST_SLOTS];
	uint64_t count[800];
	double sum_ns[800];
};

static void history_make(struct history *h, int n, double every, int reset_at)
{
	uint64_t rng = 42;
	double c = 1000;

	memset(h, 0, sizeof(*h));
	h->n = n;
	h->every = every;
	for (int i = 0; i < n; i++) {
		h->ts[i] = T0 + i * every;
		h->gauge[i] = (double)(lcg(&rng) % 100000) / 7.0 - 5000;
		if (i == reset_at)
			c = 0; /* the daemon restarted */
		c += (double)(lcg(&rng) % 1000) / 8.0;
		h->counter[i] = c;
		if (i > 0 && i != reset_at) {
			memcpy(h->slots[i], h->slots[i - 1], sizeof(h->slots[i]));
			h->count[i] = h->count[i - 1];
			h->sum_ns[i] = h->sum_ns[i - 1];
		}
		for (int k = 0; k < 5; k++) {
			int slot = 8 + (int)(lcg(&rng) % 16);
			uint64_t add = lcg(&rng) % 50;

			h->slots[i][slot] += add;
			h->count[i] += add;
			h->sum_ns[i] += (double)add * ldexp(1.5, slot);
		}
	}
}

static int history_append(struct fixture *f, const struct history *h, int from, int to)
{
	for (int i = from; i < to; i++) {
		int err = set_round(f->reg, h->ts[i], h->gauge[i], h->counter[i], h->slots[i],
				    h->count[i], h->sum_ns[i]);

		if (!err)
			err = store_append_snapshot(f->s, f->reg);
		if (err)
			return err;
	}
	return 0;
}

/* What a rollup bucket [b0, b0 + width) must hold, computed from the raw
 * input: values of samples inside, increases since the sample before. */
struct expect {
	int n;
	double min, max, sum, last;
	bool has_inc;
	double inc;
	bool has_hist;
	uint64_t slots[REGISTRY_HIST_SLOTS];
	uint64_t hcount;
	double hsum;
};

static void expect_bucket(const struct history *h, double b0, double width, struct expect *e)
{
	memset(e, 0, sizeof(*e));
	for (int i = 0; i < h->n; i++) {
		bool reset;

		if (h->ts[i] < b0 || h->ts[i] >= b0 + width)
			continue;
		if (e->n == 0 || h->gauge[i] < e->min)
			e->min = h->gauge[i];
		if (e->n == 0 || h->gauge[i] > e->max)
			e->max = h->gauge[i];
		e->n++;
		e->sum += h->gauge[i];
		e->last = h->gauge[i];
		if (i == 0)
			continue; /* the first sample ever: no increase known */
		e->has_inc = e->has_hist = true;
		e->inc += h->counter[i] >= h->counter[i - 1] ? h->counter[i] - h->counter[i - 1]
							     : h->counter[i];
		reset = h->count[i] < h->count[i - 1];
		for (int k = 0; k < REGISTRY_HIST_SLOTS; k++)
			reset |= h->slots[i][k] < h->slots[i - 1][k];
		for (int k = 0; k < REGISTRY_HIST_SLOTS; k++)
			e->slots[k] += reset ? h->slots[i][k] : h->slots[i][k] - h->slots[i - 1][k];
		e->hcount += reset ? h->count[i] : h->count[i] - h->count[i - 1];
		e->hsum += (reset ? h->sum_ns[i] : h->sum_ns[i] - h->sum_ns[i - 1]) * 1e-9;
	}
}

/* Checks the rollup rows of table against expect_bucket() for each bucket. */
static void check_rollup_rows(int *failed, sqlite3 *db, const char *table, const struct history *h,
			      double width, int nbuckets)
{
	char sql[512];
	sqlite3_stmt *st = NULL;
	int rows = 0;

	snprintf(sql, sizeof(sql),
		 "SELECT r.bucket_ts, r.count, r.min, r.max, r.sum, r.last, s.type, r.inc, "
		 "r.hist_count, r.hist_sum, r.hist_slots FROM %s AS r JOIN series AS s "
		 "ON s.id = r.series_id ORDER BY r.bucket_ts, s.type",
		 table);
	CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		double b0 = (double)sqlite3_column_int64(st, 0);
		const char *type = (const char *)sqlite3_column_text(st, 6);
		struct expect e;

		rows++;
		expect_bucket(h, b0, width, &e);
		if (!(sqlite3_column_int64(st, 1) == e.n)) {
			fprintf(stderr, "  %s bucket %.0f %s: count %lld, expected %d\n", table, b0,
				type, (long long)sqlite3_column_int64(st, 1), e.n);
			*failed = 1;
			break;
		}
		if (!strcmp(type, "gauge")) {
			if (sqlite3_column_double(st, 2) != e.min ||
			    sqlite3_column_double(st, 3) != e.max ||
			    fabs(sqlite3_column_double(st, 4) - e.sum) > 1e-6 * fabs(e.sum) ||
			    sqlite3_column_double(st, 5) != e.last ||
			    sqlite3_column_type(st, 7) != SQLITE_NULL) {
				fprintf(stderr, "  %s bucket %.0f gauge differs\n", table, b0);
				*failed = 1;
				break;
			}
		} else if (!strcmp(type, "counter")) {
			bool inc_ok = e.has_inc ? fabs(sqlite3_column_double(st, 7) - e.inc) < 1e-6
						: sqlite3_column_type(st, 7) == SQLITE_NULL;

			if (!inc_ok || sqlite3_column_type(st, 10) != SQLITE_NULL) {
				fprintf(stderr, "  %s bucket %.0f counter inc %g, expected %g\n",
					table, b0, sqlite3_column_double(st, 7), e.inc);
				*failed = 1;
				break;
			}
		} else {
			uint64_t slots[REGISTRY_HIST_SLOTS];

			if (!e.has_hist) {
				CHECK(sqlite3_column_type(st, 10) == SQLITE_NULL);
				continue;
			}
			CHECK(blob_decode(sqlite3_column_blob(st, 10), sqlite3_column_bytes(st, 10),
					  slots) == 0);
			if (memcmp(slots, e.slots, sizeof(slots)) != 0 ||
			    (uint64_t)sqlite3_column_int64(st, 8) != e.hcount ||
			    fabs(sqlite3_column_double(st, 9) - e.hsum) > 1e-9 * e.hsum ||
			    sqlite3_column_type(st, 2) != SQLITE_NULL) {
				fprintf(stderr, "  %s bucket %.0f histogram differs\n", table, b0);
				*failed = 1;
				break;
			}
		}
	}
	sqlite3_finalize(st);
	if (*failed)
		return;
	CHECK_EQ_INT(rows, nbuckets * 3);
}

STORE_TEST(minute_rollups_match_independent_aggregates)
{
	static struct history h;
	struct store_range_query q = {
	    .selector = {.name = "kpulse_mem_free_bytes"},
	    .from = T0,
	    .to = T0 + 179,
	    .step = 60,
	};
	struct expect e;

	history_make(&h, 180, 1.0, 100); /* 3 minutes at 1 s, resets in minute 1 */
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(history_append(f, &h, 0, h.n), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);

	/* minute 2 is not complete until rollup_delay_s after it ends */
	set_now(f, T0 + 180 + f->opts.rollup_delay_s - 1);
	CHECK_EQ_INT(store_run_maintenance(f->s), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(DISTINCT bucket_ts) FROM samples_1m"), 2);
	set_now(f, T0 + 180 + f->opts.rollup_delay_s);
	CHECK_EQ_INT(store_run_maintenance(f->s), 0);
	check_rollup_rows(failed, f->db, "samples_1m", &h, 60, 3);
	if (*failed)
		return;

	/* the same through queries on the 1-minute tier */
	for (int agg = STORE_AGG_AVG; agg <= STORE_AGG_LAST; agg++) {
		q.agg = (enum store_agg)agg;
		CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), 0);
		CHECK_EQ_INT(f->range->tier, STORE_TIER_1M);
		CHECK_EQ_INT(f->range->series[0].npoints, 3);
		for (int m = 0; m < 3; m++) {
			double want;

			expect_bucket(&h, T0 + 60 * m, 60, &e);
			want = agg == STORE_AGG_AVG   ? e.sum / e.n
			       : agg == STORE_AGG_MIN ? e.min
			       : agg == STORE_AGG_MAX ? e.max
			       : agg == STORE_AGG_SUM ? e.sum
						      : e.last;
			CHECK_NEAR(f->range->series[0].points[m].ts, T0 + 60 * m, 0);
			CHECK_NEAR(f->range->series[0].points[m].value, want, 1e-9 * fabs(want));
		}
		f->range = store_range_result_free(f->range);
	}

	q.selector.name = "kpulse_sched_cpu_busy_seconds_total";
	q.agg = STORE_AGG_RATE;
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), 0);
	CHECK_EQ_INT(f->range->series[0].npoints, 3);
	for (int m = 0; m < 3; m++) {
		expect_bucket(&h, T0 + 60 * m, 60, &e);
		CHECK_NEAR(f->range->series[0].points[m].value, e.inc / 60, 1e-9);
	}
	f->range = store_range_result_free(f->range);

	/* percentiles from the rolled-up histogram */
	q.selector.name = "kpulse_block_io_latency_seconds";
	q.agg = STORE_AGG_QUANTILE;
	for (double qq = 0.1; qq <= 1.0; qq += 0.22) {
		q.quantile = qq;
		CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), 0);
		CHECK_EQ_INT(f->range->series[0].npoints, 3);
		for (int m = 0; m < 3; m++) {
			double want;

			expect_bucket(&h, T0 + 60 * m, 60, &e);
			want = hist_log2_quantile(e.slots, REGISTRY_HIST_SLOTS, qq) * 1e-9;
			CHECK_NEAR(f->range->series[0].points[m].value, want, 1e-15);
		}
		f->range = store_range_result_free(f->range);
	}
	q.agg = STORE_AGG_AVG;
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), 0);
	expect_bucket(&h, T0 + 60, 60, &e);
	CHECK_NEAR(f->range->series[0].points[1].value, e.hsum / (double)e.hcount, 1e-12);
}

STORE_TEST(hour_rollups_merge_minutes_exactly)
{
	static struct history h;
	struct store_range_query q = {
	    .selector = {.name = "kpulse_block_io_latency_seconds"},
	    .from = T0,
	    .to = T0 + 7199,
	    .step = 3600,
	    .agg = STORE_AGG_QUANTILE,
	    .quantile = 0.99,
	};
	struct store_stats st;
	struct expect e;

	history_make(&h, 720, 10.0, 500);    /* 2 hours at 10 s, resets in hour 1 */
	f->opts.maintenance_batch_rows = 50; /* many small transactions */
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(history_append(f, &h, 0, h.n), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	set_now(f, T0 + 7200 + 30);
	CHECK_EQ_INT(store_run_maintenance(f->s), 0);

	CHECK_EQ_INT(sql_open(f), 0);
	check_rollup_rows(failed, f->db, "samples_1m", &h, 60, 120);
	if (*failed)
		return;
	check_rollup_rows(failed, f->db, "samples_1h", &h, 3600, 2);
	if (*failed)
		return;
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.rollup_rows_written, 120 * 3 + 2 * 3);

	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), 0);
	CHECK_EQ_INT(f->range->tier, STORE_TIER_1H);
	CHECK_EQ_INT(f->range->series[0].npoints, 2);
	for (int hr = 0; hr < 2; hr++) {
		expect_bucket(&h, T0 + 3600 * hr, 3600, &e);
		CHECK_NEAR(f->range->series[0].points[hr].value,
			   hist_log2_quantile(e.slots, REGISTRY_HIST_SLOTS, 0.99) * 1e-9, 1e-15);
	}
	f->range = store_range_result_free(f->range);

	/* counter rate over the hour from the 1-hour tier */
	q.selector.name = "kpulse_sched_cpu_busy_seconds_total";
	q.agg = STORE_AGG_RATE;
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), 0);
	expect_bucket(&h, T0 + 3600, 3600, &e);
	CHECK_NEAR(f->range->series[0].points[1].value, e.inc / 3600, 1e-9);
}

STORE_TEST(raw_rate_and_quantile_follow_the_samples)
{
	static struct history h;
	struct store_range_query q = {
	    .selector = {.name = "kpulse_sched_cpu_busy_seconds_total",
			 .matchers = {{"cpu", "0"}},
			 .nmatchers = 1},
	    .from = T0 + 10,
	    .to = T0 + 49,
	    .step = 10,
	    .agg = STORE_AGG_RATE,
	};
	struct expect e;

	history_make(&h, 60, 1.0, 25);
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(history_append(f, &h, 0, h.n), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	set_now(f, T0 + 60);

	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), 0);
	CHECK_EQ_INT(f->range->tier, STORE_TIER_RAW);
	CHECK_EQ_INT(f->range->series[0].npoints, 4);
	for (int k = 0; k < 4; k++) {
		expect_bucket(&h, T0 + 10 + 10 * k, 10, &e);
		CHECK_NEAR(f->range->series[0].points[k].value, e.inc / 10, 1e-9);
	}
	f->range = store_range_result_free(f->range);

	q.selector = (struct store_selector){.name = "kpulse_block_io_latency_seconds"};
	q.agg = STORE_AGG_QUANTILE;
	q.quantile = 0.5;
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), 0);
	CHECK_EQ_INT(f->range->series[0].npoints, 4);
	for (int k = 0; k < 4; k++) {
		expect_bucket(&h, T0 + 10 + 10 * k, 10, &e);
		CHECK_NEAR(f->range->series[0].points[k].value,
			   hist_log2_quantile(e.slots, REGISTRY_HIST_SLOTS, 0.5) * 1e-9, 1e-15);
	}
}

STORE_TEST(late_samples_are_rolled_up_again)
{
	struct metric_series m = gauge_series("kpulse_late", NULL, NULL, 0);

	CHECK_EQ_INT(fx_open(f), 0);
	for (int i = 0; i < 30; i++) {
		m.value = i;
		CHECK_EQ_INT(store_append_series(f->s, T0 + i, &m, 1), 0);
	}
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	set_now(f, T0 + 600);
	CHECK_EQ_INT(store_run_maintenance(f->s), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count FROM samples_1m"), 30);
	CHECK_EQ_INT(sql_int(f->db, "SELECT last FROM samples_1m"), 29);

	/* a sample of that minute arrives late, as after an outage */
	m.value = 1000;
	CHECK_EQ_INT(store_append_series(f->s, T0 + 45, &m, 1), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(store_run_maintenance(f->s), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM samples_1m"), 1);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count FROM samples_1m"), 31);
	CHECK_EQ_INT(sql_int(f->db, "SELECT last FROM samples_1m"), 1000);
	CHECK_EQ_INT(sql_int(f->db, "SELECT max FROM samples_1m"), 1000);
}

STORE_TEST(background_maintenance_rolls_up_without_being_asked)
{
	struct metric_series m = gauge_series("kpulse_bg", NULL, NULL, 3);
	int64_t rows = 0;

	f->opts.maintenance_interval_s = 0.01;
	f->opts.flush_interval_s = 0.01;
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(store_append_series(f->s, T0, &m, 1), 0);
	CHECK_EQ_INT(store_append_series(f->s, T0 + 61, &m, 1), 0);
	set_now(f, T0 + 200);
	CHECK_EQ_INT(sql_open(f), 0);
	for (int i = 0; i < 300 && rows < 2; i++) {
		usleep(10000);
		rows = sql_int(f->db, "SELECT count(*) FROM samples_1m");
	}
	CHECK_EQ_INT(rows, 2);
}

/* -------------------------------------------------------- retention */

STORE_TEST(retention_deletes_old_rows_per_tier)
{
	struct metric_series m = gauge_series("kpulse_ret", NULL, NULL, 1);
	struct store_stats st;
	double now = T0 + 6 * 3600 + 60;

	/* first keep everything and roll it all up */
	f->opts.retention_raw_s = f->opts.retention_1m_s = 1e9;
	f->opts.retention_1h_s = f->opts.retention_events_s = 1e9;
	CHECK_EQ_INT(fx_open(f), 0);
	/* 6 hours: a sample a minute, an event every 10 minutes */
	for (int i = 0; i < 360; i++) {
		m.value = i;
		CHECK_EQ_INT(store_append_series(f->s, T0 + 60 * i, &m, 1), 0);
		if (i % 10 == 0)
			CHECK_EQ_INT(store_append_event(f->s, T0 + 60 * i, "exec", i, "x", NULL),
				     0);
	}
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	set_now(f, T0 + 6 * 3600 + 30);
	CHECK_EQ_INT(store_run_maintenance(f->s), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM samples_raw"), 360);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM samples_1m"), 360);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM samples_1h"), 6);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM events"), 36);
	f->s = store_close(f->s);

	/* then reopen with short retentions, bounded to 7 rows a step */
	f->opts.retention_raw_s = 3600;
	f->opts.retention_1m_s = 2 * 3600;
	f->opts.retention_1h_s = 4 * 3600;
	f->opts.retention_events_s = 1800;
	f->opts.maintenance_batch_rows = 7;
	set_now(f, now);
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(store_run_maintenance(f->s), 0);

	/* raw: samples at or after now - 1 h, i.e. from minute 301 */
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM samples_raw"), 59);
	CHECK_EQ_INT(sql_int(f->db, "SELECT min(ts_ms) FROM samples_raw"),
		     (int64_t)(now - 3600) * 1000);
	/* 1m: buckets at or after now - 2 h, from minute 241 */
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM samples_1m"), 119);
	CHECK_EQ_INT(sql_int(f->db, "SELECT min(bucket_ts) FROM samples_1m"),
		     (int64_t)(now - 7200));
	/* 1h: buckets at or after now - 4 h: hours 3, 4, 5 */
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM samples_1h"), 3);
	CHECK_EQ_INT(sql_int(f->db, "SELECT min(bucket_ts) FROM samples_1h"),
		     (int64_t)T0 + 3 * 3600);
	/* events: at or after now - 30 min: minutes 340 and 350 */
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM events"), 2);
	CHECK(sql_double(f->db, "SELECT min(ts) FROM events") >= now - 1800);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.rows_deleted, (360 - 59) + (360 - 119) + (6 - 3) + (36 - 2));
	/* the series still has data */
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM series"), 1);

	/* days later everything is gone, the series too */
	set_now(f, now + 2 * 86400);
	CHECK_EQ_INT(store_run_maintenance(f->s), 0);
	CHECK_EQ_INT(sql_int(f->db,
			     "SELECT (SELECT count(*) FROM samples_raw) + "
			     "(SELECT count(*) FROM samples_1m) + "
			     "(SELECT count(*) FROM samples_1h) + "
			     "(SELECT count(*) FROM events) + (SELECT count(*) FROM series)"),
		     0);
}

STORE_TEST(retention_keeps_raw_rows_not_yet_rolled_up)
{
	struct metric_series m = gauge_series("kpulse_keep", NULL, NULL, 1);

	f->opts.retention_raw_s = 60;
	/* rollups cannot run: the minutes never become ready */
	f->opts.rollup_delay_s = 1e9;
	CHECK_EQ_INT(fx_open(f), 0);
	for (int i = 0; i < 10; i++)
		CHECK_EQ_INT(store_append_series(f->s, T0 + 10 * i, &m, 1), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	set_now(f, T0 + 3600);
	CHECK_EQ_INT(store_run_maintenance(f->s), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM samples_raw"), 10);
}

/* ------------------------------------------------------ tier choice */

STORE_TEST(tier_follows_step_and_retention)
{
	static const struct {
		double age, step;
		enum store_tier tier;
	} cases[] = {
	    {3600, 1, STORE_TIER_RAW},	     {3600, 59.9, STORE_TIER_RAW},
	    {3600, 60, STORE_TIER_1M},	     {3600, 3599, STORE_TIER_1M},
	    {3600, 3600, STORE_TIER_1H},     {3600, 86400, STORE_TIER_1H},
	    {2 * 86400, 10, STORE_TIER_1M},  /* raw keeps 24 h */
	    {60 * 86400, 10, STORE_TIER_1H}, /* 1m keeps 30 days */
	    {60 * 86400, 60, STORE_TIER_1H},
	};
	struct metric_series m = gauge_series("kpulse_tier", NULL, NULL, 1);
	double now = T0 + 100 * 86400.0;

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(store_append_series(f->s, T0, &m, 1), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	set_now(f, now);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct store_range_query q = {
		    .selector = {.name = "kpulse_tier"},
		    .from = now - cases[i].age,
		    .to = now - cases[i].age + 10 * cases[i].step,
		    .step = cases[i].step,
		    .agg = STORE_AGG_AVG,
		};

		f->range = store_range_result_free(f->range);
		CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), 0);
		if (f->range->tier != cases[i].tier)
			fprintf(stderr, "  case %zu: tier %s\n", i,
				store_tier_name(f->range->tier));
		CHECK_EQ_INT(f->range->tier, cases[i].tier);
	}
}

/* ----------------------------------------------------------- bounds */

STORE_TEST(results_are_bounded)
{
	struct metric_series m[5];
	struct store_range_query q = {
	    .selector = {.name = "kpulse_b"},
	    .from = T0,
	    .step = 1,
	    .agg = STORE_AGG_LAST,
	};
	struct store_event_query eq = {.from = 0, .to = T0 + 1e6, .limit = 4};

	f->opts.max_points = 100;
	f->opts.max_query_series = 3;
	f->opts.max_list = 4;
	f->opts.max_events = 3;
	CHECK_EQ_INT(fx_open(f), 0);
	for (int i = 0; i < 5; i++) {
		char v[16];

		snprintf(v, sizeof(v), "%d", i);
		m[i] = gauge_series("kpulse_b", "i", v, i);
	}
	CHECK_EQ_INT(store_append_series(f->s, T0, m, 5), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);

	/* 5 series match, 3 allowed */
	q.to = T0 + 10;
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), -E2BIG);
	CHECK(f->range == NULL);
	q.selector.matchers[0] = (struct metric_label){"i", "2"};
	q.selector.nmatchers = 1;
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), 0);
	CHECK_EQ_INT(f->range->nseries, 1);
	CHECK_NEAR(f->range->series[0].points[0].value, 2, 0);
	f->range = store_range_result_free(f->range);

	/* 100 steps allowed: [T0, T0 + 99] has 100, [T0, T0 + 100] 101 */
	q.to = T0 + 99;
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), 0);
	f->range = store_range_result_free(f->range);
	q.to = T0 + 100;
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), -E2BIG);
	q.to = T0 + 1e9;
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), -E2BIG);

	CHECK_EQ_INT(store_list_series(f->s, NULL, &f->list), -E2BIG);
	CHECK_EQ_INT(store_latest(f->s, NULL, &f->latest), -E2BIG);
	{
		struct store_selector sel = {
		    .name = "kpulse_b", .matchers = {{"i", "4"}}, .nmatchers = 1};

		CHECK_EQ_INT(store_list_series(f->s, &sel, &f->list), 0);
		CHECK_EQ_INT(f->list->n, 1);
		CHECK_EQ_INT(store_latest(f->s, &sel, &f->latest), 0);
		CHECK_EQ_INT(f->latest->n, 1);
		CHECK_NEAR(f->latest->samples[0].series.value, 4, 0);
	}

	CHECK_EQ_INT(store_query_events(f->s, &eq, &f->events), -E2BIG);
	eq.limit = 3;
	CHECK_EQ_INT(store_query_events(f->s, &eq, &f->events), 0);
	CHECK_EQ_INT(f->events->n, 0);
}

STORE_TEST(buffer_overflow_counts_drops_exactly)
{
	struct metric_series m[40];
	struct store_stats st;

	f->opts.flush_interval_s = 3600; /* nothing drains during the test */
	f->opts.max_buffered_samples = 100;
	f->opts.max_buffered_events = 5;
	CHECK_EQ_INT(fx_open(f), 0);
	for (int i = 0; i < 40; i++) {
		char name[32];

		snprintf(name, sizeof(name), "kpulse_o%d", i);
		m[i] = gauge_series(name, NULL, NULL, i);
	}
	CHECK_EQ_INT(store_append_series(f->s, T0, m, 40), 0);
	CHECK_EQ_INT(store_append_series(f->s, T0 + 1, m, 40), 0);
	CHECK_EQ_INT(store_append_series(f->s, T0 + 2, m, 40), -ENOBUFS);
	CHECK_EQ_INT(store_append_series(f->s, T0 + 3, m, 40), -ENOBUFS);
	for (int i = 0; i < 7; i++)
		CHECK_EQ_INT(store_append_event(f->s, T0 + i, "exec", i, "x", NULL),
			     i < 5 ? 0 : -ENOBUFS);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.samples_buffered, 100);
	CHECK_EQ_INT(st.samples_dropped, 60);
	CHECK_EQ_INT(st.events_buffered, 5);
	CHECK_EQ_INT(st.events_dropped, 2);

	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.samples_written, 100);
	CHECK_EQ_INT(st.samples_buffered, 0);
	CHECK_EQ_INT(st.events_written, 5);
	/* room again */
	CHECK_EQ_INT(store_append_series(f->s, T0 + 4, m, 40), 0);
}

STORE_TEST(series_limit_drops_new_series_until_old_ones_are_idle)
{
	struct metric_series m[10];
	struct store_stats st;

	f->opts.max_series = 5;
	CHECK_EQ_INT(fx_open(f), 0);
	for (int i = 0; i < 10; i++) {
		char name[32];

		snprintf(name, sizeof(name), "kpulse_s%d", i);
		m[i] = gauge_series(name, NULL, NULL, i);
	}
	CHECK_EQ_INT(store_append_series(f->s, T0, m, 10), -ENOBUFS);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.samples_dropped, 5);
	CHECK_EQ_INT(st.series_tracked, 5);
	/* once written, the first five are idle and make room */
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(store_append_series(f->s, T0 + 1, m + 5, 5), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM series"), 10);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM samples_raw"), 10);
}

/* Memory follows the live series: one that stopped appearing (a process
 * that left the top K) is forgotten after a while, and comes back with
 * its old id when it reappears. */
STORE_TEST(series_that_stop_appearing_are_forgotten_and_found_again)
{
	struct metric_series gone = gauge_series("kpulse_gone", NULL, NULL, 1);
	struct metric_series live = gauge_series("kpulse_live", NULL, NULL, 2);
	struct store_stats st;
	int round;

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(store_append_series(f->s, T0, &gone, 1), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	for (round = 1; round <= 1400; round++)
		CHECK_EQ_INT(store_append_series(f->s, T0 + round, &live, 1), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.series_tracked, 1);
	CHECK_EQ_INT(store_append_series(f->s, T0 + round, &gone, 1), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM series"), 2);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM samples_raw WHERE series_id = "
				    "(SELECT id FROM series WHERE name = 'kpulse_gone')"),
		     2);
}

/* ------------------------------------------------------- bad input */

STORE_TEST(bad_input_is_rejected)
{
	struct metric_series m[3] = {
	    gauge_series("kpulse_ok", NULL, NULL, 1),
	    gauge_series("kpulse_nan", NULL, NULL, NAN),
	    gauge_series("kpulse_inf", NULL, NULL, INFINITY),
	};
	struct metric_series bad = gauge_series("", NULL, NULL, 1);
	struct store_range_query q = {
	    .selector = {.name = "kpulse_ok"},
	    .from = T0,
	    .to = T0 + 10,
	    .step = 1,
	    .agg = STORE_AGG_AVG,
	};
	struct store_event_query eq = {.from = T0, .to = T0 + 10, .limit = 10};
	struct store_options o;
	struct store_stats st;
	char err[128] = "", big[STORE_EVENT_FIELDS_MAX + 1];
	json_t *fields;
	enum store_agg agg;
	double qq;

	CHECK_EQ_INT(fx_open(f), 0);
	/* NaN and Inf are not stored (SQLite would turn NaN into NULL) */
	CHECK_EQ_INT(store_append_series(f->s, T0, m, 3), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.samples_written, 1);
	CHECK_EQ_INT(st.samples_rejected, 2);
	CHECK_EQ_INT(store_append_series(f->s, NAN, m, 1), -EINVAL);
	CHECK_EQ_INT(store_append_series(f->s, 0, m, 1), -EINVAL);
	CHECK_EQ_INT(store_append_series(f->s, -5, m, 1), -EINVAL);
	CHECK_EQ_INT(store_append_series(f->s, T0, &bad, 1), -EINVAL);
	bad = m[0];
	bad.nlabels = REGISTRY_MAX_LABELS + 1;
	CHECK_EQ_INT(store_append_series(f->s, T0, &bad, 1), -EINVAL);
	CHECK_EQ_INT(store_append_snapshot(f->s, NULL), -EINVAL);

	/* queries */
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), 0);
	CHECK_EQ_INT(f->range->series[0].npoints, 1);
	f->range = store_range_result_free(f->range);
	q.from = T0 + 11;
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), -EINVAL); /* from > to */
	q.from = NAN;
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), -EINVAL);
	q.from = T0;
	q.step = 0;
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), -EINVAL);
	q.step = -1;
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), -EINVAL);
	q.step = INFINITY;
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), -EINVAL);
	q.step = 1;
	q.selector.name = NULL;
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), -EINVAL);
	q.selector.name = "1bad";
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), -EINVAL);
	q.selector.name = "kpulse_ok";
	q.selector.nmatchers = REGISTRY_MAX_LABELS + 1;
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), -EINVAL);
	q.selector.nmatchers = 1;
	q.selector.matchers[0] = (struct metric_label){"bad-key", "x"};
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), -EINVAL);
	q.selector.matchers[0] = (struct metric_label){"k", NULL};
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), -EINVAL);
	q.selector.nmatchers = 0;
	q.agg = STORE_AGG_RATE; /* a gauge has no rate */
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), -EINVAL);
	q.agg = STORE_AGG_QUANTILE;
	q.quantile = 0.5;
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), -EINVAL);
	q.agg = (enum store_agg)99;
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), -EINVAL);
	CHECK(f->range == NULL);

	/* an unknown name is not an error: no series */
	q.agg = STORE_AGG_AVG;
	q.selector.name = "kpulse_nothing_here";
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), 0);
	CHECK_EQ_INT(f->range->nseries, 0);

	CHECK_EQ_INT(store_agg_parse("p99", &agg, &qq), 0);
	CHECK_EQ_INT(agg, STORE_AGG_QUANTILE);
	CHECK_NEAR(qq, 0.99, 1e-12);
	CHECK_EQ_INT(store_agg_parse("p99.9", &agg, &qq), 0);
	CHECK_NEAR(qq, 0.999, 1e-12);
	CHECK_EQ_INT(store_agg_parse("rate", &agg, &qq), 0);
	CHECK_EQ_INT(agg, STORE_AGG_RATE);
	CHECK_EQ_INT(store_agg_parse("p101", &agg, &qq), -EINVAL);
	CHECK_EQ_INT(store_agg_parse("p", &agg, &qq), -EINVAL);
	CHECK_EQ_INT(store_agg_parse("p5x", &agg, &qq), -EINVAL);
	CHECK_EQ_INT(store_agg_parse("median", &agg, &qq), -EINVAL);

	/* events */
	CHECK_EQ_INT(store_append_event(f->s, T0, "Bad-Type", 1, "x", NULL), -EINVAL);
	CHECK_EQ_INT(store_append_event(f->s, T0, "", 1, "x", NULL), -EINVAL);
	CHECK_EQ_INT(store_append_event(f->s, NAN, "exec", 1, "x", NULL), -EINVAL);
	fields = json_array();
	CHECK_EQ_INT(store_append_event(f->s, T0, "exec", 1, "x", fields), -EINVAL);
	json_decref(fields);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	fields = json_pack("{s:s}", "big", big);
	CHECK_EQ_INT(store_append_event(f->s, T0, "exec", 1, "x", fields), -E2BIG);
	json_decref(fields);
	eq.from = T0 + 11;
	CHECK_EQ_INT(store_query_events(f->s, &eq, &f->events), -EINVAL);
	eq.from = T0;
	eq.limit = 0;
	CHECK_EQ_INT(store_query_events(f->s, &eq, &f->events), -EINVAL);
	eq.limit = 1;
	eq.type = "no spaces";
	CHECK_EQ_INT(store_query_events(f->s, &eq, &f->events), -EINVAL);

	/* options */
	store_options_default(&o);
	o.flush_interval_s = 0;
	CHECK_EQ_INT(store_open(f->path, &o, &f->s, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "flush_interval_s") != NULL);
	store_options_default(&o);
	o.retention_raw_s = NAN;
	CHECK_EQ_INT(store_open(f->path, &o, &f->s, err, sizeof(err)), -EINVAL);
	CHECK(store_close(NULL) == NULL);
	CHECK(store_range_result_free(NULL) == NULL);
}

/* ------------------------------------------------------------ faults */

static int wait_for_errors(struct store *s, uint64_t n)
{
	struct store_stats st;

	for (int i = 0; i < 500; i++) {
		store_get_stats(s, &st);
		if (st.write_errors >= n)
			return 0;
		usleep(10000);
	}
	return -ETIMEDOUT;
}

STORE_TEST(locked_database_buffers_then_resumes)
{
	struct metric_series m[20];
	struct store_stats st;

	f->opts.busy_timeout_ms = 20;
	f->opts.flush_interval_s = 0.02;
	f->opts.retry_max_s = 0.05;
	CHECK_EQ_INT(fx_open(f), 0);
	for (int i = 0; i < 20; i++) {
		char name[32];

		snprintf(name, sizeof(name), "kpulse_l%d", i);
		m[i] = gauge_series(name, "k", "v", i);
	}
	CHECK_EQ_INT(store_append_series(f->s, T0, m, 20), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);

	/* another process takes the write lock */
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_exec(f->db, "BEGIN EXCLUSIVE"), 0);
	for (int r = 1; r <= 10; r++)
		CHECK_EQ_INT(store_append_series(f->s, T0 + r, m, 20), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), -EBUSY);
	CHECK_EQ_INT(wait_for_errors(f->s, 3), 0); /* the writer keeps retrying */
	for (int r = 11; r <= 20; r++)
		CHECK_EQ_INT(store_append_series(f->s, T0 + r, m, 20), 0);
	CHECK_EQ_INT(store_append_event(f->s, T0, "exec", 1, "x", NULL), 0);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.samples_buffered, 400);
	CHECK_EQ_INT(st.samples_written, 20);
	CHECK_EQ_INT(st.samples_dropped, 0);
	CHECK_EQ_INT(st.last_error, -EBUSY);
	CHECK(strstr(st.last_error_text, "locked") != NULL);
	CHECK(st.consecutive_failures >= 3);
	/* reads still work while the writer is blocked */
	CHECK_EQ_INT(store_list_series(f->s, NULL, &f->list), 0);
	CHECK_EQ_INT(f->list->n, 20);

	CHECK_EQ_INT(sql_exec(f->db, "COMMIT"), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.samples_written, 420);
	CHECK_EQ_INT(st.samples_buffered, 0);
	CHECK_EQ_INT(st.events_written, 1);
	CHECK_EQ_INT(st.consecutive_failures, 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM samples_raw"), 420);
}

/*
 * A VFS over the default one that fails on demand: FAULT_FULL makes every
 * write return SQLITE_FULL (disk full); FAULT_ROFS makes writes fail with
 * EROFS and opens with CANTOPEN, as after a read-only remount.
 */
enum { FAULT_NONE, FAULT_FULL, FAULT_ROFS };
static int fault_mode;
static sqlite3_vfs fault_vfs;
static sqlite3_vfs *real_vfs;
static sqlite3_io_methods fault_io;

struct fault_file {
	sqlite3_file base;
	sqlite3_file *real;
};

static int fault_now(void)
{
	return __atomic_load_n(&fault_mode, __ATOMIC_SEQ_CST);
}

static sqlite3_file *real_of(sqlite3_file *f)
{
	return ((struct fault_file *)f)->real;
}

static int ff_close(sqlite3_file *f)
{
	return real_of(f)->pMethods->xClose(real_of(f));
}

static int ff_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return real_of(f)->pMethods->xRead(real_of(f), buf, n, off);
}

static int ff_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	switch (fault_now()) {
	case FAULT_FULL:
		return SQLITE_FULL;
	case FAULT_ROFS:
		errno = EROFS;
		return SQLITE_IOERR_WRITE;
	}
	return real_of(f)->pMethods->xWrite(real_of(f), buf, n, off);
}

static int ff_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	if (fault_now() != FAULT_NONE)
		return SQLITE_IOERR_TRUNCATE;
	return real_of(f)->pMethods->xTruncate(real_of(f), size);
}

static int ff_sync(sqlite3_file *f, int flags)
{
	return real_of(f)->pMethods->xSync(real_of(f), flags);
}

static int ff_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return real_of(f)->pMethods->xFileSize(real_of(f), size);
}

static int ff_lock(sqlite3_file *f, int level)
{
	return real_of(f)->pMethods->xLock(real_of(f), level);
}

static int ff_unlock(sqlite3_file *f, int level)
{
	return real_of(f)->pMethods->xUnlock(real_of(f), level);
}

static int ff_check_lock(sqlite3_file *f, int *out)
{
	return real_of(f)->pMethods->xCheckReservedLock(real_of(f), out);
}

static int ff_control(sqlite3_file *f, int op, void *arg)
{
	return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}

static int ff_sector(sqlite3_file *f)
{
	return real_of(f)->pMethods->xSectorSize(real_of(f));
}

static int ff_device(sqlite3_file *f)
{
	return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f));
}

static int ff_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	return real_of(f)->pMethods->xShmMap(real_of(f), pg, pgsz, extend, pp);
}

static int ff_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return real_of(f)->pMethods->xShmLock(real_of(f), offset, n, flags);
}

static void ff_shm_barrier(sqlite3_file *f)
{
	real_of(f)->pMethods->xShmBarrier(real_of(f));
}

static int ff_shm_unmap(sqlite3_file *f, int delete_flag)
{
	return real_of(f)->pMethods->xShmUnmap(real_of(f), delete_flag);
}

static int ff_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **pp)
{
	return real_of(f)->pMethods->xFetch(real_of(f), off, amt, pp);
}

static int ff_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return real_of(f)->pMethods->xUnfetch(real_of(f), off, p);
}

static int fv_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	struct fault_file *ff = (struct fault_file *)f;
	int rc;

	ff->real = (sqlite3_file *)(ff + 1);
	ff->real->pMethods = NULL;
	f->pMethods = NULL;
	if (fault_now() == FAULT_ROFS) {
		errno = EROFS;
		return SQLITE_CANTOPEN;
	}
	rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
	if (ff->real->pMethods)
		f->pMethods = &fault_io;
	return rc;
}

static int fv_last_error(sqlite3_vfs *vfs, int n, char *buf)
{
	return fault_now() == FAULT_ROFS ? EROFS : real_vfs->xGetLastError(real_vfs, n, buf);
}

static void fault_vfs_register(void)
{
	if (real_vfs)
		return;
	real_vfs = sqlite3_vfs_find(NULL);
	fault_io = (sqlite3_io_methods){
	    .iVersion = 3,
	    .xClose = ff_close,
	    .xRead = ff_read,
	    .xWrite = ff_write,
	    .xTruncate = ff_truncate,
	    .xSync = ff_sync,
	    .xFileSize = ff_size,
	    .xLock = ff_lock,
	    .xUnlock = ff_unlock,
	    .xCheckReservedLock = ff_check_lock,
	    .xFileControl = ff_control,
	    .xSectorSize = ff_sector,
	    .xDeviceCharacteristics = ff_device,
	    .xShmMap = ff_shm_map,
	    .xShmLock = ff_shm_lock,
	    .xShmBarrier = ff_shm_barrier,
	    .xShmUnmap = ff_shm_unmap,
	    .xFetch = ff_fetch,
	    .xUnfetch = ff_unfetch,
	};
	fault_vfs = *real_vfs;
	fault_vfs.pNext = NULL;
	fault_vfs.zName = "kpulse_fault";
	fault_vfs.szOsFile = (int)sizeof(struct fault_file) + real_vfs->szOsFile;
	fault_vfs.xOpen = fv_open;
	fault_vfs.xGetLastError = fv_last_error;
	sqlite3_vfs_register(&fault_vfs, 0);
}

static void set_fault(int mode)
{
	__atomic_store_n(&fault_mode, mode, __ATOMIC_SEQ_CST);
}

/*
 * Runs one fault scenario: writes fail while buffered data grows, the
 * first attempt with first_err (or want_err), the retries with want_err;
 * then the fault clears and every sample and event is written.
 */
static void fault_scenario(int *failed, struct fixture *f, int mode, int first_err, int want_err)
{
	int err;

	struct metric_series m[25];
	struct store_stats st;

	fault_vfs_register();
	f->opts.vfs = "kpulse_fault";
	f->opts.flush_interval_s = 0.02;
	f->opts.retry_max_s = 0.05;
	CHECK_EQ_INT(fx_open(f), 0);
	for (int i = 0; i < 25; i++) {
		char name[32];

		snprintf(name, sizeof(name), "kpulse_f%d", i);
		m[i] = gauge_series(name, NULL, NULL, i);
	}
	CHECK_EQ_INT(store_append_series(f->s, T0, m, 25), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);

	set_fault(mode);
	for (int r = 1; r <= 8; r++)
		CHECK_EQ_INT(store_append_series(f->s, T0 + r, m, 25), 0);
	CHECK_EQ_INT(store_append_event(f->s, T0, "exec", 1, "x", NULL), 0);
	err = store_flush_sync(f->s);
	CHECK(err == first_err || err == want_err);
	CHECK_EQ_INT(wait_for_errors(f->s, 3), 0);
	for (int r = 9; r <= 16; r++)
		CHECK_EQ_INT(store_append_series(f->s, T0 + r, m, 25), 0);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.last_error, want_err);
	CHECK(st.last_error_text[0] != '\0');
	CHECK_EQ_INT(st.samples_buffered, 16 * 25);
	CHECK_EQ_INT(st.samples_dropped, 0);
	CHECK_EQ_INT(st.events_buffered, 1);

	set_fault(FAULT_NONE);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.samples_written, 17 * 25);
	CHECK_EQ_INT(st.samples_buffered, 0);
	CHECK_EQ_INT(st.events_written, 1);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM samples_raw"), 17 * 25);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM events"), 1);
	CHECK_EQ_INT(sql_int(f->db, "SELECT integrity_check = 'ok' FROM pragma_integrity_check"),
		     1);
}

STORE_TEST(disk_full_buffers_then_resumes)
{
	fault_scenario(failed, f, FAULT_FULL, -ENOSPC, -ENOSPC);
	set_fault(FAULT_NONE);
}

STORE_TEST(read_only_filesystem_buffers_then_resumes)
{
	/* SQLite reports a failed WAL write as a bare I/O error; reopening the
	 * connection, which the writer then does, names the cause */
	fault_scenario(failed, f, FAULT_ROFS, -EIO, -EROFS);
	set_fault(FAULT_NONE);
}

/* ------------------------------------------------------- concurrency */

struct appender {
	struct store *s;
	int rounds;
	int err;
};

static void *append_thread(void *arg)
{
	struct appender *a = arg;
	struct metric_series m[50];

	for (int i = 0; i < 50; i++) {
		char name[32];

		snprintf(name, sizeof(name), "kpulse_c%d", i);
		m[i] = gauge_series(name, "cpu", "0", i);
	}
	for (int r = 0; r < a->rounds && !a->err; r++) {
		a->err = store_append_series(a->s, T0 + r, m, 50);
		if (r % 16 == 0)
			usleep(1000);
	}
	return NULL;
}

STORE_TEST(queries_run_while_the_writer_writes)
{
	struct appender a = {.rounds = 300};
	struct store_range_query q = {
	    .selector = {.name = "kpulse_c7"},
	    .from = T0,
	    .to = T0 + 299,
	    .step = 1,
	    .agg = STORE_AGG_LAST,
	};
	pthread_t t;

	f->opts.flush_interval_s = 0.005;
	f->opts.maintenance_interval_s = 0.005;
	CHECK_EQ_INT(fx_open(f), 0);
	a.s = f->s;
	set_now(f, T0 + 3600);
	CHECK_EQ_INT(pthread_create(&t, NULL, append_thread, &a), 0);
	for (int i = 0; i < 40; i++) {
		CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), 0);
		f->range = store_range_result_free(f->range);
		CHECK_EQ_INT(store_latest(f->s, NULL, &f->latest), 0);
		f->latest = store_latest_result_free(f->latest);
	}
	pthread_join(t, NULL);
	CHECK_EQ_INT(a.err, 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(store_query_range(f->s, &q, &f->range), 0);
	CHECK_EQ_INT(f->range->series[0].npoints, 300);
	CHECK_NEAR(f->range->series[0].points[299].value, 7, 0);
}

TEST_MAIN()
