/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_store_query.c - store_query.c: range queries on the raw tier
 * (rates across a counter reset, quantiles of histograms), the tier
 * chosen by step and retention, events by type and order, the bounds on
 * every result, bad queries, and queries running while the writer
 * writes.
 *
 * Each test runs in its own mkdtemp directory, removed afterwards even
 * when a CHECK fails (STORE_TEST runs the body, then the cleanup).
 */
#include <pthread.h>

#include "registry/hist.h"

#include "test_store_fixture.h"

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

/* The pids of f->events, in order, against want[0..n). */
static bool event_pids(const struct store_event_list *l, const int *want, size_t n)
{
	if (!l || l->n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (l->events[i].pid != want[i])
			return false;
	return true;
}

/* Maintenance moves the minutes that ended into blocks (the newest event
 * stays a row); queries read rows and blocks as one list: in order,
 * limited, by type, each event once and whole; a damaged block costs its
 * own events only. */
STORE_TEST(events_read_back_the_same_from_rows_and_blocks)
{
	struct store_event_query q = {.from = T0, .to = T0 + 1000, .limit = 1000};
	int want[8];
	json_t *fields;

	f->opts.maintenance_interval_s = 0;
	CHECK_EQ_INT(fx_open(f), 0);
	/* 100 events 3 s apart (minutes 0 to 4), exec and exit in turn */
	for (int i = 0; i < 100; i++) {
		fields = json_pack("{s:i, s:s}", "ppid", i, "cgroup", "/");
		CHECK(fields);
		CHECK_EQ_INT(store_append_event(f->s, T0 + 3 * i, i % 2 ? "exit" : "exec", 1000 + i,
						"w", fields),
			     0);
		json_decref(fields);
	}
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	set_now(f, T0 + 600);
	CHECK_EQ_INT(store_run_maintenance(f->s), 0);
	CHECK_EQ_INT(sql_open(f), 0);
	/* minutes 0 to 4: a block per type each, but the newest event's */
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM event_blocks"), 10);
	CHECK_EQ_INT(sql_int(f->db, "SELECT sum(n) FROM event_blocks"), 99);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM events"), 1);
	/* the current minute's stay rows; the one left behind goes */
	for (int i = 0; i < 5; i++)
		CHECK_EQ_INT(store_append_event(f->s, T0 + 560 + i, "exec", 2000 + i, "w", NULL),
			     0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	CHECK_EQ_INT(store_run_maintenance(f->s), 0);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM events"), 5);
	CHECK_EQ_INT(sql_int(f->db, "SELECT count(*) FROM event_blocks"), 11);

	CHECK_EQ_INT(store_query_events(f->s, &q, &f->events), 0);
	CHECK_EQ_INT(f->events->n, 105);
	for (size_t i = 0; i < f->events->n && i < 100; i++) {
		const struct store_event *e = &f->events->events[i];

		CHECK_EQ_INT(e->pid, 1000 + (int)i);
		CHECK(e->ts == T0 + 3 * (double)i);
		CHECK_STR(e->type, i % 2 ? "exit" : "exec");
		CHECK_STR(e->comm, "w");
		CHECK_EQ_INT(json_integer_value(json_object_get(e->fields, "ppid")), (int)i);
		CHECK(i == 0 || e->id > f->events->events[i - 1].id);
	}
	f->events = store_event_list_free(f->events);

	/* newest first across rows and blocks */
	q.newest_first = true;
	q.limit = 7;
	CHECK_EQ_INT(store_query_events(f->s, &q, &f->events), 0);
	memcpy(want, (int[]){2004, 2003, 2002, 2001, 2000, 1099, 1098}, 7 * sizeof(int));
	CHECK(event_pids(f->events, want, 7));
	f->events = store_event_list_free(f->events);
	/* oldest first from inside a block */
	q.newest_first = false;
	q.from = T0 + 10;
	q.limit = 3;
	CHECK_EQ_INT(store_query_events(f->s, &q, &f->events), 0);
	memcpy(want, (int[]){1004, 1005, 1006}, 3 * sizeof(int));

	CHECK(event_pids(f->events, want, 3));
	f->events = store_event_list_free(f->events);
	/* one type, newest first, through a range that ends in a block */
	q.type = "exit";
	q.newest_first = true;
	q.from = T0;
	q.to = T0 + 200;
	q.limit = 3;
	CHECK_EQ_INT(store_query_events(f->s, &q, &f->events), 0);
	memcpy(want, (int[]){1065, 1063, 1061}, 3 * sizeof(int));
	CHECK(event_pids(f->events, want, 3));
	f->events = store_event_list_free(f->events);

	/* a damaged block: its events are gone from the answers, no more */
	CHECK_EQ_INT(sql_exec(f->db, "UPDATE event_blocks SET data = x'0102' WHERE id = "
				     "(SELECT min(id) FROM event_blocks)"),
		     0);
	q.type = NULL;
	q.newest_first = false;
	q.to = T0 + 1000;
	q.limit = 1000;
	CHECK_EQ_INT(store_query_events(f->s, &q, &f->events), 0);
	CHECK_EQ_INT(f->events->n, 105 - 10);
}

/* A collected event carries its type, timestamp, pid and comm among its
 * fields too: the store keeps them once, in the columns, and keeps a key
 * whose value differs from its column. */
STORE_TEST(event_fields_keep_what_the_columns_do_not)
{
	struct store_event_query q = {.from = T0, .to = T0 + 100, .limit = 10};
	json_t *fields;
	sqlite3_int64 len;

	CHECK_EQ_INT(fx_open(f), 0);
	fields = json_pack("{s:s, s:f, s:i, s:s, s:i}", "type", "exec", "timestamp", T0 + 1.25,
			   "pid", 4242, "comm", "make", "ppid", 1);
	CHECK(fields);
	CHECK_EQ_INT(store_append_event(f->s, T0 + 1.25, "exec", 4242, "make", fields), 0);
	json_decref(fields);
	/* not the column's values: kept */
	fields = json_pack("{s:s, s:i, s:s}", "type", "other", "pid", 1, "comm",
			   "a-very-long-command-name");
	CHECK(fields);
	CHECK_EQ_INT(
	    store_append_event(f->s, T0 + 2, "exit", 4243, "a-very-long-command-name", fields), 0);
	json_decref(fields);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);

	CHECK_EQ_INT(store_query_events(f->s, &q, &f->events), 0);
	CHECK_EQ_INT(f->events->n, 2);
	CHECK_EQ_INT(json_object_size(f->events->events[0].fields), 1);
	CHECK_EQ_INT(json_integer_value(json_object_get(f->events->events[0].fields, "ppid")), 1);
	CHECK_STR(f->events->events[0].comm, "make");
	CHECK_NEAR(f->events->events[0].ts, T0 + 1.25, 1e-9);
	CHECK_EQ_INT(json_object_size(f->events->events[1].fields), 3);
	CHECK_STR(json_string_value(json_object_get(f->events->events[1].fields, "comm")),
		  "a-very-long-command-name");
	CHECK_EQ_INT(sql_open(f), 0);
	len = sql_int(f->db, "SELECT length(fields) FROM events ORDER BY id LIMIT 1");
	CHECK_EQ_INT(len, (sqlite3_int64)strlen("{\"ppid\":1}"));
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

STORE_TEST(bad_queries_are_rejected)
{
	struct metric_series m = gauge_series("kpulse_ok", NULL, NULL, 1);
	struct store_range_query q = {
	    .selector = {.name = "kpulse_ok"},
	    .from = T0,
	    .to = T0 + 10,
	    .step = 1,
	    .agg = STORE_AGG_AVG,
	};
	struct store_event_query eq = {.from = T0, .to = T0 + 10, .limit = 10};
	enum store_agg agg;
	double qq;

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(store_append_series(f->s, T0, &m, 1), 0);
	CHECK_EQ_INT(store_flush_sync(f->s), 0);

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
	eq.from = T0 + 11;
	CHECK_EQ_INT(store_query_events(f->s, &eq, &f->events), -EINVAL);
	eq.from = T0;
	eq.limit = 0;
	CHECK_EQ_INT(store_query_events(f->s, &eq, &f->events), -EINVAL);
	eq.limit = 1;
	eq.type = "no spaces";
	CHECK_EQ_INT(store_query_events(f->s, &eq, &f->events), -EINVAL);
	CHECK(store_range_result_free(NULL) == NULL);
	CHECK(store_latest_result_free(NULL) == NULL);
	CHECK(store_series_list_free(NULL) == NULL);
	CHECK(store_event_list_free(NULL) == NULL);
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
