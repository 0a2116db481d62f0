/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_series_select.c - the modelled series: default and custom patterns,
 * counter rates (and resets), histogram p99 of the round's arrivals,
 * gauges, stable keys, the series cap and bad patterns.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "models/series_select.h"
#include "registry/registry.h"
#include "test.h"

static const struct series_value *find(const struct series_value *v, long n, const char *key)
{
	for (long i = 0; i < n; i++) {
		if (!strcmp(v[i].key, key))
			return &v[i];
	}
	return NULL;
}

TEST(default_patterns_take_host_series_and_custom_not_processes)
{
	struct series_select *s = NULL;

	CHECK_EQ_INT(series_select_new(NULL, &s, NULL, 0), 0);
	CHECK(series_select_match(s, "kpulse_sched_context_switches_total"));
	CHECK(series_select_match(s, "kpulse_block_io_latency_seconds"));
	CHECK(series_select_match(s, "kpulse_mem_available_bytes"));
	CHECK(series_select_match(s, "myapp_requests_total"));
	CHECK(!series_select_match(s, "kpulse_sched_process_cpu_seconds_total"));
	CHECK(!series_select_match(s, "kpulse_mem_other_processes_page_faults_total"));
	CHECK(!series_select_match(s, "kpulse_store_db_size_bytes"));
	CHECK(!series_select_match(s, "kpulse_anomaly_score"));
	series_select_free(s);
}

TEST(default_word_extends_the_defaults)
{
	struct series_select_options o = {.include = "@default,kpulse_mem_free_bytes",
					  .exclude = "@default,kpulse_net_*"};
	struct series_select *s = NULL;

	CHECK_EQ_INT(series_select_new(&o, &s, NULL, 0), 0);
	CHECK(series_select_match(s, "kpulse_mem_free_bytes"));
	CHECK(series_select_match(s, "kpulse_mem_available_bytes"));
	CHECK(!series_select_match(s, "kpulse_net_rx_bytes_total"));
	CHECK(!series_select_match(s, "kpulse_sched_process_cpu_seconds_total"));
	series_select_free(s);
}

TEST(rates_quantiles_and_gauges_from_two_rounds)
{
	struct series_select_options o = {.include = "c_total,h_seconds,g_bytes", .exclude = ""};
	struct metric_label l = {"dev", "sda"};
	uint64_t slots[REGISTRY_HIST_SLOTS] = {0};
	struct registry *r = registry_new();
	struct series_select *s = NULL;
	struct series_value v[8];
	const struct series_value *x;
	long n;

	CHECK(r);
	CHECK_EQ_INT(series_select_new(&o, &s, NULL, 0), 0);
	registry_begin(r, 1000, 1);
	CHECK_EQ_INT(registry_set_counter(r, "c_total", &l, 1, 100), 0);
	slots[10] = 5;
	CHECK_EQ_INT(registry_set_histogram(r, "h_seconds", NULL, 0, slots, 5, 0, 1e-9), 0);
	CHECK_EQ_INT(registry_set_gauge(r, "g_bytes", NULL, 0, 42), 0);
	CHECK_EQ_INT(registry_set_gauge(r, "other", NULL, 0, 1), 0);
	registry_end(r);
	n = series_select_round(s, r, v, 8);
	/* first round: only the gauge has a value */
	CHECK_EQ_INT(n, 1);
	CHECK_STR(v[0].key, "g_bytes{}:value");
	CHECK_NEAR(v[0].value, 42, 0);

	registry_begin(r, 1002, 2);
	CHECK_EQ_INT(registry_set_counter(r, "c_total", &l, 1, 160), 0);
	slots[20] = 100; /* 100 new arrivals in [2^20, 2^21) ns */
	CHECK_EQ_INT(registry_set_histogram(r, "h_seconds", NULL, 0, slots, 105, 0, 1e-9), 0);
	CHECK_EQ_INT(registry_set_gauge(r, "g_bytes", NULL, 0, 40), 0);
	registry_end(r);
	n = series_select_round(s, r, v, 8);
	CHECK_EQ_INT(n, 3);
	x = find(v, n, "c_total{dev=sda}:rate");
	CHECK(x);
	CHECK_NEAR(x->value, 30, 1e-9); /* 60 in 2 s */
	CHECK_STR(x->name, "c_total");
	CHECK_STR(x->labels, "dev=sda");
	CHECK_EQ_INT(x->stat, SERIES_STAT_RATE);
	x = find(v, n, "h_seconds{}:p99");
	CHECK(x);
	/* all new arrivals are in slot 20: the p99 lies inside it */
	CHECK(x->value >= 1048576e-9 && x->value <= 2097152e-9);

	/* a counter reset counts from zero; a histogram with no arrivals has
	 * no value this round */
	registry_begin(r, 1003, 1);
	CHECK_EQ_INT(registry_set_counter(r, "c_total", &l, 1, 5), 0);
	CHECK_EQ_INT(registry_set_histogram(r, "h_seconds", NULL, 0, slots, 105, 0, 1e-9), 0);
	registry_end(r);
	n = series_select_round(s, r, v, 8);
	CHECK_EQ_INT(n, 1);
	CHECK_NEAR(v[0].value, 5, 1e-9);
	series_select_free(s);
	registry_free(r);
}

TEST(series_beyond_the_cap_are_skipped_and_counted)
{
	struct series_select_options o = {.include = "g", .exclude = "", .max_series = 2};
	struct registry *r = registry_new();
	struct series_select *s = NULL;
	struct series_value v[8];
	static const char *cpus[] = {"0", "1", "2", "3"};

	CHECK(r);
	CHECK_EQ_INT(series_select_new(&o, &s, NULL, 0), 0);
	registry_begin(r, 1000, 1);
	for (int i = 0; i < 4; i++) {
		struct metric_label l = {"cpu", cpus[i]};

		CHECK_EQ_INT(registry_set_gauge(r, "g", &l, 1, i), 0);
	}
	registry_end(r);
	CHECK_EQ_INT(series_select_round(s, r, v, 8), 2);
	CHECK_EQ_INT(series_select_tracked(s), 2);
	CHECK_EQ_INT(series_select_skipped(s), 2);
	CHECK_STR(v[1].key, "g{cpu=1}:value");
	series_select_free(s);
	registry_free(r);
}

/* The table starts small and doubles as series come (64 slots first): a
 * thousand counters cross several doublings, each keeps its previous value
 * through them (its rate is right), and the cap still holds. */
TEST(the_table_grows_with_the_series_and_keeps_their_state)
{
	struct series_select_options o = {.include = "c_total", .exclude = "", .max_series = 1000};
	static struct series_value v[1200];
	struct registry *r = registry_new();
	struct series_select *s = NULL;
	char dev[16], key[64];
	long n;

	CHECK(r);
	CHECK_EQ_INT(series_select_new(&o, &s, NULL, 0), 0);
	for (int round = 0; round < 2; round++) {
		registry_begin(r, 1000 + 2 * round, 2);
		for (int i = 0; i < 1100; i++) {
			struct metric_label l = {"dev", dev};

			snprintf(dev, sizeof(dev), "d%d", i);
			CHECK_EQ_INT(registry_set_counter(r, "c_total", &l, 1,
							  (double)(round * 2 * (i + 1))),
				     0);
		}
		registry_end(r);
		n = series_select_round(s, r, v, 1200);
		CHECK_EQ_INT(n, round ? 1000 : 0); /* a rate needs two rounds */
	}
	CHECK_EQ_INT(series_select_tracked(s), 1000);
	CHECK_EQ_INT(series_select_skipped(s), 200); /* 100 beyond the cap, twice */
	for (int i = 0; i < 1100; i++) {
		const struct series_value *x;

		snprintf(key, sizeof(key), "c_total{dev=d%d}:rate", i);
		x = find(v, n, key);
		if (i < 1000) {
			CHECK(x != NULL);
			if (x)
				CHECK_NEAR(x->value, (double)(i + 1), 1e-9);
		} else {
			CHECK(x == NULL);
		}
	}
	series_select_free(s);
	registry_free(r);
}

TEST(empty_pattern_is_refused)
{
	struct series_select_options o = {.include = "a,,b"};
	struct series_select *s = NULL;
	char err[256] = "";

	CHECK_EQ_INT(series_select_new(&o, &s, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "include patterns 'a,,b'") == err);
	CHECK(!s);
}

TEST_MAIN()
