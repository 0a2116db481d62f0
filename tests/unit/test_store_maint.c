/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_store_maint.c - store_maint.c: rollups and retention under a fake
 * clock. Rollup rows are checked against aggregates computed here from
 * the raw input (expect_bucket()), and read with a blob decoder of the
 * test's own, so the store's code is not checked against itself.
 *
 * Each test runs in its own mkdtemp directory, removed afterwards even
 * when a CHECK fails (STORE_TEST runs the body, then the cleanup).
 */
#include <string.h>

#include "registry/hist.h"

#include "test_store_fixture.h"

/* Events are rows (events) and blocks (event_blocks) */
#define EVENTS_COUNT                                                                               \
	"SELECT (SELECT count(*) FROM events) + (SELECT coalesce(sum(n), 0) FROM event_blocks)"
#define EVENTS_MIN_TS                                                                              \
	"SELECT min(t) FROM (SELECT min(ts) AS t FROM events UNION ALL "                           \
	"SELECT min(start_ts) FROM event_blocks)"
#define EVENTS_MAX_TS                                                                              \
	"SELECT max(t) FROM (SELECT max(ts) AS t FROM events UNION ALL "                           \
	"SELECT max(end_ts) FROM event_blocks)"

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

/* Checks the rollup rows of table against expect_bucket() for each bucket. */
static void check_rollup_rows(int *failed, sqlite3 *db, const char *table, const struct history *h,
			      double width, int nbuckets)
{
	char sql[512];
	sqlite3_stmt *st = NULL;
	int rows = 0;

	snprintf(sql, sizeof(sql),
		 /* min, max and sum are NULL when last gives them */
		 "SELECT r.bucket_ts, r.count, coalesce(r.min, r.last), coalesce(r.max, r.last), "
		 "coalesce(r.sum, r.last * r.count), r.last, s.type, r.inc, "
		 "r.hist_count, r.hist_sum, r.hist_slots FROM %s AS r JOIN series AS s "
		 "ON s.id = r.series_id ORDER BY r.bucket_ts, s.type",
		 table);
	/* the 1-minute tier's chunks as rows */
	CHECK_EQ_INT(m1_table(db), 0);
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
	CHECK_EQ_INT(m1_int(f->db, "SELECT count(DISTINCT bucket_ts) FROM samples_1m"), 2);
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
	CHECK_EQ_INT(m1_int(f->db, "SELECT count FROM samples_1m"), 30);
	CHECK_EQ_INT(m1_int(f->db, "SELECT last FROM samples_1m"), 29);

	/* a sample of that minute arrives late, as after an outage */
	m.value = 1000;
	CHECK_EQ_INT(store_append_series(f->s, T0 + 45, &m, 1), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(store_run_maintenance(f->s), 0);
	CHECK_EQ_INT(m1_int(f->db, "SELECT count(*) FROM samples_1m"), 1);
	CHECK_EQ_INT(m1_int(f->db, "SELECT count FROM samples_1m"), 31);
	CHECK_EQ_INT(m1_int(f->db, "SELECT last FROM samples_1m"), 1000);
	/* the maximum is the last value: left out of the row */
	CHECK_EQ_INT(m1_int(f->db, "SELECT max IS NULL FROM samples_1m"), 1);
	CHECK_EQ_INT(m1_int(f->db, "SELECT min FROM samples_1m"), 0);
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
		rows = m1_int(f->db, "SELECT count(*) FROM samples_1m");
	}
	CHECK_EQ_INT(rows, 2);
}

/* -------------------------------------------------------- retention */

STORE_TEST(retention_deletes_old_rows_per_tier)
{
	struct metric_series m = gauge_series("kpulse_ret", NULL, NULL, 1);
	struct chunk_totals raw;
	struct store_stats st;
	double now = T0 + 6 * 3600 + 60;
	int64_t raw_chunks;

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
	CHECK_EQ_INT(sql_int(f->db, "SELECT coalesce(sum(n), 0) FROM chunks_raw"), 360);
	CHECK_EQ_INT(m1_int(f->db, "SELECT count(*) FROM samples_1m"), 360);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM samples_1h"), 6);
	CHECK_EQ_INT(sql_int(f->db, EVENTS_COUNT), 36);
	/* each minute with an event in a block of its own, but the newest
	 * event, which stays a row */
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM event_blocks"), 35);
	f->s = store_close(f->s);

	raw_chunks = sql_int(f->db, "SELECT count(*) FROM chunks_raw");
	/* then reopen with short retentions, bounded to 7 rows a step */
	f->opts.retention_raw_s = 3600;
	f->opts.retention_1m_s = 2 * 3600;
	f->opts.retention_1h_s = 4 * 3600;
	f->opts.retention_events_s = 1800;
	f->opts.maintenance_batch_rows = 7;
	set_now(f, now);
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(store_run_maintenance(f->s), 0);

	/* raw: the samples at or after now - 1 h, i.e. from minute 301, and
	 * those of chunks reaching there (a chunk spans less than
	 * STORE_CHUNK_SPAN_MS: a sample a minute) */
	raw = chunk_totals(f->db, "SELECT data FROM chunks_raw");
	CHECK(raw.n >= 59 && raw.n <= 60 + STORE_CHUNK_SPAN_MS / 60000);
	CHECK(raw.min_ts_ms >= (int64_t)(now - 3600) * 1000 - STORE_CHUNK_SPAN_MS);
	CHECK_EQ_INT(sql_int(f->db, "SELECT max(start_ms) FROM chunks_raw") + STORE_CHUNK_SPAN_MS >
			 (int64_t)(now - 3600) * 1000,
		     1);
	/* 1m: whole chunks (hours of minutes) all before now - 2 h go, i.e.
	 * hours 0 to 3; hours 4 and 5 stay, minute 240 on */
	CHECK_EQ_INT(m1_int(f->db, "SELECT count(*) FROM samples_1m"), 120);
	CHECK_EQ_INT(m1_int(f->db, "SELECT min(bucket_ts) FROM samples_1m"),
		     (int64_t)T0 + 4 * 3600);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM chunks_1m"), 2);
	/* 1h: buckets at or after now - 4 h: hours 3, 4, 5 */
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM samples_1h"), 3);
	CHECK_EQ_INT(sql_int(f->db, "SELECT min(bucket_ts) FROM samples_1h"),
		     (int64_t)T0 + 3 * 3600);
	/* events: at or after now - 30 min: minutes 340 and 350 (a block
	 * goes once its last event is past retention) */
	CHECK_EQ_INT(sql_int(f->db, EVENTS_COUNT), 2);
	CHECK(sql_double(f->db, EVENTS_MIN_TS) >= now - 1800);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.rows_deleted,
		     (raw_chunks - sql_int(f->db, "SELECT count(*) FROM chunks_raw")) + (6 - 2) +
			 (6 - 3) + (36 - 2));
	/* the series still has data */
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM series"), 1);

	/* days later everything is gone, the series too */
	set_now(f, now + 2 * 86400);
	CHECK_EQ_INT(store_run_maintenance(f->s), 0);
	CHECK_EQ_INT(
	    sql_int(f->db, "SELECT (SELECT count(*) FROM chunks_raw) + "
			   "(SELECT count(*) FROM chunks_1m) + "
			   "(SELECT count(*) FROM samples_1h) + "
			   "(SELECT count(*) FROM events) + (SELECT count(*) FROM event_blocks) + "
			   "(SELECT count(*) FROM series)"),
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
	CHECK_EQ_INT(sql_int(f->db, "SELECT coalesce(sum(n), 0) FROM chunks_raw"), 10);
}

/* Bytes of the database's pages: what the disk budget bounds. */
static int64_t db_file_bytes(sqlite3 *db)
{
	return sql_int(db, "SELECT page_count * page_size FROM pragma_page_count(), "
			   "pragma_page_size()");
}

/* A minute of events too large for one block (600 of 8 KB) goes into
 * several, each within what a block may hold, and reads back whole. */
STORE_TEST(events_too_large_for_one_block_split_into_several)
{
	static char pad[8001];
	struct store_event_query q = {.from = T0, .to = T0 + 60, .limit = 1000};
	json_t *fields;
	size_t whole = 0;

	f->opts.maintenance_interval_s = 0;
	f->opts.max_buffered_events = 1000;
	CHECK_EQ_INT(fx_open(f), 0);
	for (int i = 0; i < 600; i++) {
		memset(pad, 'a' + i % 26, sizeof(pad) - 1);
		fields = json_pack("{s:s}", "pad", pad);
		CHECK(fields != NULL);
		CHECK_EQ_INT(store_append_event(f->s, T0 + 0.05 * i, "slow_io", i, "dd", fields),
			     0);
		json_decref(fields);
	}
	/* and one later, which stays a row */
	CHECK_EQ_INT(store_append_event(f->s, T0 + 100, "slow_io", 600, "dd", NULL), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	set_now(f, T0 + 120);
	CHECK_EQ_INT(store_run_maintenance(f->s), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM events"), 1);
	CHECK_EQ_INT(sql_int(f->db, "SELECT sum(n) FROM event_blocks"), 600);
	CHECK(sql_int(f->db, "SELECT count(*) FROM event_blocks") >= 2);
	CHECK_EQ_INT(store_query_events(f->s, &q, &f->events), 0);
	CHECK_EQ_INT(f->events->n, 600);
	for (size_t i = 0; i < f->events->n; i++) {
		const char *v =
		    json_string_value(json_object_get(f->events->events[i].fields, "pad"));

		whole += f->events->events[i].pid == (int)i && v && strlen(v) == 8000 &&
			 v[0] == 'a' + (int)i % 26;
	}
	CHECK_EQ_INT(whole, 600);
}

/* 600 events of 8 KB, each row's fields a chain of overflow pages, moved
 * into blocks (a repeated pad makes little of them) at T0 + 120. */
static int events_to_blocks(struct fixture *f)
{
	static char pad[8001];
	int r = 0;

	for (int i = 0; i < 600 && !r; i++) {
		json_t *fields;

		memset(pad, 'a' + i % 26, sizeof(pad) - 1);
		fields = json_pack("{s:s}", "pad", pad);
		if (!fields)
			return -ENOMEM;
		r = store_append_event(f->s, T0 + 0.05 * i, "slow_io", i, "dd", fields);
		json_decref(fields);
	}
	if (!r)
		r = store_flush_sync(f->s);
	set_now(f, T0 + 120);
	return r ? r : store_run_maintenance(f->s);
}

#define FREE_PAGES "SELECT freelist_count FROM pragma_freelist_count()"

/* The event rows' pages freed by their move into blocks go back to the file
 * system: a new database is auto_vacuum = INCREMENTAL and maintenance
 * truncates it, so its freelist is empty and the file shrank. */
STORE_TEST(free_pages_go_back_to_the_file_system)
{
	int64_t pages;

	f->opts.max_buffered_events = 1000;
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "PRAGMA auto_vacuum"), 2);
	CHECK_EQ_INT(events_to_blocks(f), 0);
	/* 600 rows of 8 KB took 4.8 MB of pages; their blocks take a few */
	pages = sql_int(f->db, "PRAGMA page_count");
	CHECK(pages > 0 && pages < 200);
	CHECK_EQ_INT(sql_int(f->db, FREE_PAGES), 0);
	/* the newest row stays a row (store_maint.c, ev_first) */
	CHECK_EQ_INT(sql_int(f->db, "SELECT sum(n) FROM event_blocks"), 599);
	CHECK_EQ_INT(sql_int(f->db, EVENTS_COUNT), 600);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM pragma_integrity_check "
				    "WHERE integrity_check <> 'ok'"),
		     0);
}

/* A database made before auto_vacuum (NONE) stays so: maintenance leaves
 * its free pages to be reused by the next rows, as it did. */
STORE_TEST(free_pages_stay_in_a_database_without_auto_vacuum)
{
	f->opts.max_buffered_events = 1000;
	CHECK_EQ_INT(fx_open(f), 0);
	f->s = store_close(f->s);
	CHECK_EQ_INT(sql_open(f), 0);
	CHECK_EQ_INT(sql_exec(f->db, "PRAGMA auto_vacuum = NONE; VACUUM"), 0);
	CHECK_EQ_INT(sql_int(f->db, "PRAGMA auto_vacuum"), 0);
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(events_to_blocks(f), 0);
	CHECK_EQ_INT(sql_int(f->db, "PRAGMA auto_vacuum"), 0);
	CHECK(sql_int(f->db, FREE_PAGES) > 500);
	/* the newest row stays a row (store_maint.c, ev_first) */
	CHECK_EQ_INT(sql_int(f->db, "SELECT sum(n) FROM event_blocks"), 599);
	CHECK_EQ_INT(sql_int(f->db, EVENTS_COUNT), 600);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM pragma_integrity_check "
				    "WHERE integrity_check <> 'ok'"),
		     0);
}

/*
 * What both budget tests write: nseries noisy gauges and events_per_round
 * fork events (fields, may be NULL with 0 events) every 10 s from T0, a
 * flush and a maintenance pass every 60 rounds; *peak is the largest file
 * seen after a pass, *last_t the last round's time. Returns 0 or the first
 * error.
 */
static int fill_budget(struct fixture *f, int nseries, int rounds, int events_per_round,
		       json_t *fields, int64_t *peak, double *last_t)
{
	struct metric_series m[100];
	uint64_t rng = 1;
	int r = 0;

	if (nseries > 100)
		return -EINVAL;
	for (int i = 0; i < nseries; i++) {
		char v[16];

		snprintf(v, sizeof(v), "%d", i);
		m[i] = gauge_series("kpulse_budget", "i", v, 0);
	}
	*peak = 0;
	for (int k = 0; k < rounds && !r; k++) {
		double t = T0 + 10.0 * k;

		*last_t = t;
		for (int i = 0; i < nseries; i++)
			m[i].value = (double)((k * 7919 + i * 104729) % 100003) * 1.5;
		r = store_append_series(f->s, t, m, nseries);
		for (int e = 0; e < events_per_round && !r; e++) {
			/* a pad that does not compress: blocks would make
			 * little of a repeated one */
			if (fields) {
				char pad[97];

				for (int j = 0; j < 96; j++) {
					rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
					pad[j] = "0123456789abcdef"[rng >> 60];
				}
				pad[96] = 0;
				json_object_set_new(fields, "pad", json_string(pad));
			}
			r = store_append_event(f->s, t, "fork", 1000 + e, "storm", fields);
		}
		if (!r && k % 60 == 59) {
			r = store_flush_sync(f->s);
			set_now(f, t + 60);
			if (!r)
				r = store_run_maintenance(f->s);
			if (db_file_bytes(f->db) > *peak)
				*peak = db_file_bytes(f->db);
		}
	}
	return r ? r : store_flush_sync(f->s);
}

/* The last 10 minutes of kpulse_budget{i=...} up to t, at a 10 s step:
 * 0 with the last value when they come whole from the raw tier. */
static int read_last_10_minutes(struct fixture *f, const char *i, double t, double *last)
{
	struct store_range_query q = {
	    .selector = {.name = "kpulse_budget", .matchers = {{"i", i}}, .nmatchers = 1},
	    .from = t - 590,
	    .to = t,
	    .step = 10,
	    .agg = STORE_AGG_LAST,
	};
	struct store_range_result *res = NULL;
	int r = store_query_range(f->s, &q, &res);

	if (r)
		return r;
	if (res->tier != STORE_TIER_RAW || res->nseries != 1 || res->series[0].npoints != 60)
		r = -ENODATA;
	else
		*last = res->series[0].points[59].value;
	store_range_result_free(res);
	return r;
}

STORE_TEST(disk_budget_drops_oldest_first_and_keeps_recent_data)
{
	/* raw chunks go first, down to the minutes' watermark, so the last
	 * 10 minutes stay whole only while the rollup tiers fit with room to
	 * spare: 1 MiB was 2 pages short of that once event_blocks came */
	const uint64_t budget = (1 << 20) + (1 << 16);
	const int rounds = 3000;
	struct store_stats st;
	int64_t peak = 0;
	double t = T0, last = 0;

	f->opts.max_bytes = budget;
	f->opts.maintenance_interval_s = 0;
	f->opts.retention_raw_s = f->opts.retention_1m_s = f->opts.retention_1h_s = 1e9;
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	/* 8 h 20 min of 100 noisy gauges every 10 s: several MiB unbounded */
	CHECK_EQ_INT(fill_budget(f, 100, rounds, 0, NULL, &peak, &t), 0);
	store_get_stats(f->s, &st);
	/* oldest first: raw and minutes were dropped, and the file stayed
	 * within the budget plus what one flush adds between maintenances */
	CHECK(st.budget_rows_deleted > 0);
	CHECK(peak <= (int64_t)budget + 256 * 1024);
	CHECK(sql_int(f->db, "SELECT min(start_ms) FROM chunks_raw") > (int64_t)T0 * 1000);
	CHECK(m1_int(f->db, "SELECT min(bucket_ts) FROM samples_1m") > (int64_t)T0);
	/* the tiers' figures: each tier's oldest time and its pages */
	CHECK_NEAR(st.tier_oldest_ts[STORE_TIER_RAW],
		   (double)sql_int(f->db, "SELECT min(start_ms) FROM chunks_raw") / 1000, 1e-3);
	CHECK_NEAR(st.tier_oldest_ts[STORE_TIER_1H],
		   (double)sql_int(f->db, "SELECT min(bucket_ts) FROM samples_1h"), 0);
	CHECK(st.tier_bytes[STORE_TIER_RAW] > 0 && st.tier_bytes[STORE_TIER_1M] > 0);
	CHECK(st.tier_bytes[STORE_TIER_RAW] + st.tier_bytes[STORE_TIER_1M] +
		  st.tier_bytes[STORE_TIER_1H] <=
	      (uint64_t)db_file_bytes(f->db));

	/* the last 10 minutes read back whole from the raw tier */
	CHECK_EQ_INT(read_last_10_minutes(f, "7", t, &last), 0);
	CHECK(last == (double)(((rounds - 1) * 7919 + 7 * 104729) % 100003) * 1.5);
}

/* A fork storm's events in a small budget: events are full-resolution data
 * like raw chunks, so the older of the two goes first; the file stays in
 * the budget, the events kept are the newest, and the raw samples of the
 * last 10 minutes are whole. */
STORE_TEST(disk_budget_counts_events_and_drops_the_oldest_with_raw)
{
	const uint64_t budget = 1 << 20;
	const int per_flush = 60;
	int64_t peak = 0, raw_ms;
	double t = T0, last = 0;
	json_t *fields = json_pack("{s:s}", "pad", ""); /* fill_budget() fills it */
	int r;

	CHECK(fields != NULL);
	f->opts.max_bytes = budget;
	f->opts.maintenance_interval_s = 0;
	f->opts.max_buffered_events = 1000000;
	f->opts.retention_raw_s = f->opts.retention_1m_s = f->opts.retention_1h_s = 1e9;
	f->opts.retention_events_s = 1e9;
	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	/* 5.5 h of 10 gauges and 20 events every 10 s, each with 96 random hex
	 * digits: about 5 MiB unbounded, even in blocks */
	r = fill_budget(f, 10, 2000, 20, fields, &peak, &t);
	json_decref(fields);
	CHECK_EQ_INT(r, 0);
	CHECK(peak <= (int64_t)budget + 256 * 1024);
	/* both were cut from the old end, and neither outlives the other by
	 * more than a few flushes' worth */
	raw_ms = sql_int(f->db, "SELECT min(start_ms) FROM chunks_raw");
	CHECK(raw_ms > (int64_t)T0 * 1000);
	CHECK((int64_t)sql_double(f->db, EVENTS_MIN_TS) > (int64_t)T0);
	CHECK((int64_t)sql_double(f->db, EVENTS_MIN_TS) >= raw_ms / 1000 - 3 * per_flush * 10);
	CHECK((int64_t)sql_double(f->db, EVENTS_MAX_TS) == (int64_t)t);
	/* most of them in blocks */
	CHECK(sql_int(f->db, "SELECT count(*) FROM event_blocks") > 0);
	CHECK_EQ_INT(read_last_10_minutes(f, "3", t, &last), 0);
}

TEST_MAIN()
