// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for models/forecast_query.c against a real store: the step for a
 * horizon, forecasts of gauges and counters from stored history, refused
 * queries, and window means for the multivariate training. */
#include <errno.h>
#include <math.h>

#include "models/forecast_query.h"
#include "test_store_fixture.h"

#define HISTORY_S 7200

/* Two hours at 10 s: a gauge per device and a counter at 50/s. */
static int fill(struct fixture *f, size_t devices)
{
	char names[16][8];

	for (int i = 0; i <= HISTORY_S / 10; i++) {
		double t = T0 + 10.0 * i;

		registry_begin(f->reg, t, 10);
		for (size_t d = 0; d < devices; d++) {
			struct metric_label l = {"dev", names[d]};

			snprintf(names[d], sizeof(names[d]), "d%zu", d);
			registry_set_gauge(f->reg, "kpulse_test_level", &l, 1,
					   100 + 10 * d + ((i * 7) % 5) - 2);
		}
		registry_set_counter(f->reg, "kpulse_test_total", NULL, 0, 50.0 * 10 * i);
		registry_end(f->reg);
		if (store_append_snapshot(f->s, f->reg) < 0)
			return -1;
	}
	if (store_flush_sync(f->s) < 0)
		return -1;
	/* past the rollup delay: the 1-minute tier gets its rows */
	set_now(f, T0 + HISTORY_S + 120);
	return store_run_maintenance(f->s);
}

TEST(steps_follow_the_horizon)
{
	CHECK_NEAR(forecast_query_step(600), 10, 0);
	CHECK_NEAR(forecast_query_step(1200), 10, 0);
	CHECK_NEAR(forecast_query_step(3600), 30, 0);
	CHECK_NEAR(forecast_query_step(7200), 60, 0);
	CHECK_NEAR(forecast_query_step(86400), 900, 0);
	CHECK_NEAR(forecast_query_step(7 * 86400), 3600, 0);
}

STORE_TEST(gauges_and_counters_are_forecast_from_stored_history)
{
	struct forecast_query q = {.selector = {.name = "kpulse_test_level"},
				   .horizon_s = 600,
				   .now = T0 + HISTORY_S + 1,
				   .max_history_s = 86400 - 3600};
	json_t *res = NULL, *s0, *pts;
	char err[256];

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(fill(f, 2), 0);
	CHECK_EQ_INT(forecast_query_run(f->s, &q, &res, err, sizeof(err)), 0);
	CHECK_NEAR(json_real_value(json_object_get(res, "step_s")), 10, 0);
	CHECK_EQ_INT(json_array_size(json_object_get(res, "series")), 2);
	s0 = json_array_get(json_object_get(res, "series"), 0);
	CHECK_STR(json_string_value(json_object_get(json_object_get(s0, "labels"), "dev")), "d0");
	CHECK_STR(json_string_value(json_object_get(s0, "aggregation")), "avg");
	pts = json_object_get(s0, "points");
	CHECK_EQ_INT(json_array_size(pts), 60);
	for (size_t k = 0; k < 60; k++) {
		json_t *p = json_array_get(pts, k);
		double fc = json_real_value(json_object_get(p, "forecast"));

		CHECK_NEAR(json_real_value(json_object_get(p, "ts")),
			   T0 + HISTORY_S + 10.0 * (k + 1), 1e-6);
		CHECK(fc > 97 && fc < 103);
		CHECK(json_real_value(json_object_get(p, "lo95")) <= fc);
		CHECK(json_real_value(json_object_get(p, "hi95")) >= fc);
	}
	json_decref(res);
	res = NULL;
	/* a counter is forecast as its rate */
	q.selector.name = "kpulse_test_total";
	CHECK_EQ_INT(forecast_query_run(f->s, &q, &res, err, sizeof(err)), 0);
	s0 = json_array_get(json_object_get(res, "series"), 0);
	CHECK_STR(json_string_value(json_object_get(s0, "aggregation")), "rate");
	CHECK_NEAR(json_real_value(json_object_get(json_array_get(json_object_get(s0, "points"), 0),
						   "forecast")),
		   50, 1e-6);
	json_decref(res);
}

STORE_TEST(bad_and_unmatched_queries_are_refused)
{
	struct forecast_query q = {.selector = {.name = "kpulse_test_level"},
				   .horizon_s = 600,
				   .now = T0 + HISTORY_S + 1,
				   .max_history_s = 86400 - 3600};
	json_t *res = NULL;
	char err[256];

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(fill(f, 12), 0);
	CHECK_EQ_INT(forecast_query_run(f->s, &q, &res, err, sizeof(err)), -E2BIG);
	CHECK(strstr(err, "12 stored series match"));
	q.selector.name = "kpulse_nothing";
	CHECK_EQ_INT(forecast_query_run(f->s, &q, &res, err, sizeof(err)), -ENOENT);
	q.selector.name = "kpulse_test_total";
	q.horizon_s = 0;
	CHECK_EQ_INT(forecast_query_run(f->s, &q, &res, err, sizeof(err)), -EINVAL);
	q.horizon_s = 30 * 86400;
	CHECK_EQ_INT(forecast_query_run(f->s, &q, &res, err, sizeof(err)), -EINVAL);
	CHECK(res == NULL);
}

STORE_TEST(window_means_fill_their_buckets)
{
	struct forecast_source src[2] = {
	    {.selector = {.name = "kpulse_test_level", .matchers = {{"dev", "d1"}}, .nmatchers = 1},
	     .agg = STORE_AGG_AVG},
	    {.selector = {.name = "kpulse_test_total"}, .agg = STORE_AGG_RATE},
	};
	double means[4 * 2];

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(fill(f, 2), 0);
	for (size_t i = 0; i < 8; i++)
		means[i] = NAN;
	/* four 1-minute windows, the first two before the stored history */
	CHECK_EQ_INT(forecast_query_means(f->s, src, 2, T0 - 120, 60, 4, means), 0);
	for (size_t k = 0; k < 2; k++)
		CHECK(isnan(means[k * 2]) && isnan(means[k * 2 + 1]));
	for (size_t k = 2; k < 4; k++)
		CHECK(means[k * 2] > 108 && means[k * 2] < 112);
	/* the store's rate of the first minute counts its 5 intervals */
	CHECK_NEAR(means[2 * 2 + 1], 50.0 * 50 / 60, 1e-6);
	CHECK_NEAR(means[3 * 2 + 1], 50, 1e-6);
}

TEST_MAIN()
