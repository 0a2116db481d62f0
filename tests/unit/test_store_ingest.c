/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_store_ingest.c - store_ingest.c: what an append keeps (every value
 * exactly, read back through the writer and the queries), the buffer's
 * bound with drops counted exactly, and appends refused or counted as
 * rejected (values that are not finite, bad timestamps, invalid series,
 * bad events).
 *
 * Each test runs in its own mkdtemp directory, removed afterwards even
 * when a CHECK fails (STORE_TEST runs the body, then the cleanup).
 */
#include "test_store_fixture.h"

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

STORE_TEST(bad_appends_are_rejected_and_counted)
{
	struct metric_series m[3] = {
	    gauge_series("kpulse_ok", NULL, NULL, 1),
	    gauge_series("kpulse_nan", NULL, NULL, NAN),
	    gauge_series("kpulse_inf", NULL, NULL, INFINITY),
	};
	struct metric_series bad = gauge_series("", NULL, NULL, 1);
	struct store_stats st;
	char big[STORE_EVENT_FIELDS_MAX + 1];
	json_t *fields;

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

	/* nothing of it was buffered */
	CHECK_EQ_INT(store_flush_sync(f->s), 0);
	store_get_stats(f->s, &st);
	CHECK_EQ_INT(st.samples_written, 1);
	CHECK_EQ_INT(st.events_written, 0);
	CHECK_EQ_INT(st.samples_buffered + st.events_buffered, 0);
}

TEST_MAIN()
