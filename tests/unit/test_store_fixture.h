/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_store_fixture.h - what the store's test files share: a fixture
 * that opens a store in its own mkdtemp directory with a fake clock, the
 * STORE_TEST macro that runs a test body and then the cleanup (even when
 * a CHECK fails), and small helpers to look at the database with a
 * connection of the test's own.
 *
 * One test file per file of userspace/store/ (test_store.c for the life
 * cycle, test_store_<file>.c for the others). The helpers are static
 * inline so that each test file uses only those it needs.
 */
#ifndef KPULSE_TEST_STORE_FIXTURE_H
#define KPULSE_TEST_STORE_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "registry/registry.h"
#include "store/store.h"
#include "store/store_chunk.h"
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

static inline double fake_clock(void *ctx)
{
	struct fixture *f = ctx;
	double v;

	__atomic_load(&f->now, &v, __ATOMIC_SEQ_CST);
	return v;
}

static inline void set_now(struct fixture *f, double t)
{
	__atomic_store(&f->now, &t, __ATOMIC_SEQ_CST);
}

static inline int fx_init(struct fixture *f)
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

static inline void rm_dir(const char *dir)
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

static inline void fx_done(struct fixture *f)
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

static inline int fx_open(struct fixture *f)
{
	char err[256] = "";
	int ret = store_open(f->path, &f->opts, &f->s, err, sizeof(err));

	if (ret)
		fprintf(stderr, "  store_open: %d %s\n", ret, err);
	return ret;
}

static inline int sql_open(struct fixture *f)
{
	if (sqlite3_open_v2(f->path, &f->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL))
		return -EIO;
	sqlite3_busy_timeout(f->db, 2000);
	return 0;
}

/* The first column of the first row as an integer; -1 on error. */
static inline int64_t sql_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static inline double sql_double(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	double v = NAN;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Decodes the raw chunks that sql selects (one data column): the number
 * of samples, their sum of values and their first time; -1 samples when a
 * chunk does not decode. */
struct chunk_totals {
	int64_t n;
	double sum;
	int64_t min_ts_ms;
};

static inline struct chunk_totals chunk_totals(sqlite3 *db, const char *sql)
{
	struct chunk_totals t = {.min_ts_ms = INT64_MAX};
	sqlite3_stmt *st = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
		t.n = -1;
		return t;
	}
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct store_chunk_dec d;
		struct raw_sample smp;
		int rc;

		if (store_chunk_dec_init(&d, sqlite3_column_blob(st, 0),
					 (size_t)sqlite3_column_bytes(st, 0)) < 0) {
			t.n = -1;
			break;
		}
		while ((rc = store_chunk_dec_next(&d, &smp)) == 1) {
			t.n++;
			t.sum += smp.value;
			if (smp.ts_ms < t.min_ts_ms)
				t.min_ts_ms = smp.ts_ms;
		}
		if (rc < 0) {
			t.n = -1;
			break;
		}
	}
	sqlite3_finalize(st);
	return t;
}

static inline int sql_exec(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -EIO;
}

static inline bool fx_same_double(double a, double b)
{
	return memcmp(&a, &b, sizeof(a)) == 0;
}

/*
 * The 1-minute tier as it was stored before chunks, one row a minute:
 * (re)fills a temporary table samples_1m of the test's connection from
 * the chunks in chunks_1m, with min, max and sum NULL when last gives
 * them and the slots in the histogram blob of the store (format 1, slot
 * count, LEB128 per slot). 0, or -1 when a chunk does not decode.
 */
static inline int m1_table(sqlite3 *db)
{
	static struct rollup_row rows[60];
	sqlite3_stmt *sel = NULL, *ins = NULL;
	int err = 0;

	if (sql_exec(db, "DROP TABLE IF EXISTS temp.samples_1m;"
			 "CREATE TEMP TABLE samples_1m (series_id, bucket_ts, count, min, max, "
			 "sum, last, inc, hist_count, hist_sum, hist_slots)") ||
	    sqlite3_prepare_v2(db, "SELECT series_id, data FROM main.chunks_1m", -1, &sel, NULL) !=
		SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "INSERT INTO temp.samples_1m VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
			       "?7, ?8, ?9, ?10, ?11)",
			       -1, &ins, NULL) != SQLITE_OK)
		err = -1;
	while (!err && sqlite3_step(sel) == SQLITE_ROW) {
		size_t n;

		if (store_rollup_decode(sqlite3_column_blob(sel, 1),
					(size_t)sqlite3_column_bytes(sel, 1), rows, 60, &n) < 0) {
			err = -1;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			const struct span_agg *a = &rows[i].agg;
			unsigned char blob[2 + REGISTRY_HIST_SLOTS * 10];
			int len = 2, nslots = REGISTRY_HIST_SLOTS;

			sqlite3_reset(ins);
			sqlite3_clear_bindings(ins);
			sqlite3_bind_int64(ins, 1, sqlite3_column_int64(sel, 0));
			sqlite3_bind_int64(ins, 2, rows[i].bucket);
			sqlite3_bind_int64(ins, 3, a->n);
			if (a->has_values) {
				if (!fx_same_double(a->min, a->last))
					sqlite3_bind_double(ins, 4, a->min);
				if (!fx_same_double(a->max, a->last))
					sqlite3_bind_double(ins, 5, a->max);
				if (!fx_same_double(a->sum, a->last * (double)a->n))
					sqlite3_bind_double(ins, 6, a->sum);
				sqlite3_bind_double(ins, 7, a->last);
			}
			if (a->has_inc)
				sqlite3_bind_double(ins, 8, a->inc);
			if (a->has_hist) {
				while (nslots > 0 && !a->slots[nslots - 1])
					nslots--;
				blob[0] = 1;
				blob[1] = (unsigned char)nslots;
				for (int k = 0; k < nslots; k++) {
					uint64_t v = a->slots[k];

					do {
						blob[len++] =
						    (unsigned char)((v & 0x7f) |
								    (v > 0x7f ? 0x80 : 0));
						v >>= 7;
					} while (v);
				}
				sqlite3_bind_int64(ins, 9, (int64_t)a->hist_count);
				sqlite3_bind_double(ins, 10, a->hist_sum);
				sqlite3_bind_blob(ins, 11, blob, len, SQLITE_TRANSIENT);
			}
			if (sqlite3_step(ins) != SQLITE_DONE) {
				err = -1;
				break;
			}
		}
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(ins);
	return err;
}

/* sql_int() on the 1-minute tier as rows (m1_table()); -2 when the
 * chunks do not decode. */
static inline int64_t m1_int(sqlite3 *db, const char *sql)
{
	return m1_table(db) ? -2 : sql_int(db, sql);
}

static inline uint64_t file_hash(const char *path, off_t *ret_size)
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

static inline bool file_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* One gauge, one counter and one histogram with a label each. */
static inline int set_round(struct registry *r, double ts, double gauge, double counter,
			    const uint64_t *slots, uint64_t count, double sum_ns)
{
	static const struct metric_label cpu0[] = {{"cpu", "0"}};
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

static inline struct metric_series gauge_series(const char *name, const char *key,
						const char *value, double v)
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
/* ------------------------------------------------------- a history */

/* A deterministic pseudo-random sequence. */
static inline uint64_t lcg(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return *state >> 33;
}

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

static inline void history_make(struct history *h, int n, double every, int reset_at)
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

static inline int history_append(struct fixture *f, const struct history *h, int from, int to)
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

static inline void expect_bucket(const struct history *h, double b0, double width, struct expect *e)
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

#endif /* KPULSE_TEST_STORE_FIXTURE_H */
