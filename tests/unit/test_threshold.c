// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for models/threshold.c: Theil-Sen trends and their range, times to
 * a limit in both directions, configured limits, and the tracker fed with
 * registry rounds (a filling filesystem, memory that holds steady, swap
 * that is off, series that go away). */
#include <errno.h>
#include <math.h>

#include "models/rng.h"
#include "models/threshold.h"
#include "registry/registry.h"
#include "test.h"

TEST(an_exact_line_gives_its_slope_and_a_tight_range)
{
	double t[50], v[50];
	struct threshold_trend tr;

	for (int i = 0; i < 50; i++) {
		t[i] = 1.7e9 + 10.0 * i;
		v[i] = 1000 - 2.0 * (10.0 * i);
	}
	CHECK_EQ_INT(threshold_fit_trend(t, v, 50, &tr), 0);
	CHECK_NEAR(tr.slope, -2, 1e-9);
	CHECK_NEAR(tr.slope_lo, -2, 1e-9);
	CHECK_NEAR(tr.slope_hi, -2, 1e-9);
	CHECK_NEAR(tr.level, 1000 - 2.0 * 490, 1e-6);
	CHECK_NEAR(tr.t_last, 1.7e9 + 490, 0);
}

TEST(a_spike_does_not_move_the_trend)
{
	double t[100], v[100];
	struct threshold_trend tr;

	for (int i = 0; i < 100; i++) {
		t[i] = i;
		v[i] = 500 - 3.0 * i;
	}
	v[60] = 5000; /* a deleted-and-restored file, a cache drop */
	v[61] = -4000;
	CHECK_EQ_INT(threshold_fit_trend(t, v, 100, &tr), 0);
	CHECK_NEAR(tr.slope, -3, 1e-9);
	CHECK_NEAR(tr.level, 500 - 3.0 * 99, 1e-6);
}

TEST(noise_widens_the_slope_range_around_the_truth)
{
	struct rng r;
	double t[200], v[200];
	struct threshold_trend tr;

	rng_seed(&r, 1);
	for (int i = 0; i < 200; i++) {
		t[i] = i;
		v[i] = 100 - 0.5 * i + 20 * (rng_uniform(&r) - 0.5);
	}
	CHECK_EQ_INT(threshold_fit_trend(t, v, 200, &tr), 0);
	CHECK(tr.slope_lo < tr.slope && tr.slope < tr.slope_hi);
	CHECK(tr.slope_lo < -0.5 && tr.slope_hi > -0.5);
	CHECK(tr.slope_hi < 0);
	CHECK_EQ_INT(tr.points, THRESHOLD_FIT_POINTS);
}

TEST(too_few_or_bad_samples_are_refused)
{
	double t[3] = {0, 1, 2}, v[3] = {1, 2, NAN}, same[3] = {5, 5, 5};
	struct threshold_trend tr;

	CHECK_EQ_INT(threshold_fit_trend(t, v, 2, &tr), -EINVAL);
	CHECK_EQ_INT(threshold_fit_trend(t, v, 3, &tr), -EINVAL);
	v[2] = 3;
	CHECK_EQ_INT(threshold_fit_trend(same, v, 3, &tr), -EINVAL);
}

TEST(eta_falling_and_rising_with_ranges)
{
	struct threshold_trend tr = {.slope = -2, .slope_lo = -4, .slope_hi = -1, .level = 100};
	struct threshold_eta e;

	threshold_eta(&tr, 0, false, &e);
	CHECK(e.heading && e.significant);
	CHECK_NEAR(e.eta_s, 50, 1e-12);
	CHECK_NEAR(e.eta_lo_s, 25, 1e-12);
	CHECK_NEAR(e.eta_hi_s, 100, 1e-12);
	/* the shallow end does not head for the limit: no upper bound */
	tr.slope_hi = 0.5;
	threshold_eta(&tr, 0, false, &e);
	CHECK(e.heading && !e.significant);
	CHECK(isinf(e.eta_hi_s));
	/* rising towards 200 */
	tr = (struct threshold_trend){.slope = 2, .slope_lo = 1, .slope_hi = 4, .level = 100};
	threshold_eta(&tr, 200, true, &e);
	CHECK(e.heading && e.significant);
	CHECK_NEAR(e.eta_s, 50, 1e-12);
	CHECK_NEAR(e.eta_lo_s, 25, 1e-12);
	CHECK_NEAR(e.eta_hi_s, 100, 1e-12);
	/* moving away */
	threshold_eta(&tr, 0, false, &e);
	CHECK(!e.heading);
	/* already crossed */
	threshold_eta(&tr, 50, true, &e);
	CHECK(e.heading);
	CHECK_NEAR(e.eta_s, 0, 0);
}

TEST(configured_limits_are_parsed_and_bad_ones_named)
{
	struct threshold_rule *r = NULL;
	size_t n = 0;
	char err[128];

	CHECK_EQ_INT(threshold_parse_limits("", &r, &n, err, sizeof(err)), 0);
	CHECK_EQ_INT(n, 0);
	CHECK_EQ_INT(
	    threshold_parse_limits("kpulse_a_total>1e6,kpulse_b<-2.5", &r, &n, err, sizeof(err)),
	    0);
	CHECK_EQ_INT(n, 2);
	CHECK_STR(r[0].series, "kpulse_a_total");
	CHECK(r[0].rising);
	CHECK_NEAR(r[0].limit, 1e6, 0);
	CHECK(!r[1].rising);
	CHECK_NEAR(r[1].limit, -2.5, 0);
	free(r);
	CHECK_EQ_INT(threshold_parse_limits("kpulse_a", &r, &n, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "\"kpulse_a\" is not NAME>LIMIT"));
	CHECK_EQ_INT(threshold_parse_limits("9bad>1", &r, &n, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not a metric name"));
	CHECK_EQ_INT(threshold_parse_limits("kpulse_a>nan", &r, &n, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "\"nan\" is not a number"));
	CHECK_EQ_INT(threshold_parse_limits("kpulse_a>1,", &r, &n, err, sizeof(err)), -EINVAL);
	CHECK_EQ_INT(threshold_parse_limits("kpulse_a>1,,kpulse_b<2", &r, &n, err, sizeof(err)),
		     -EINVAL);
}

static void round_with(struct threshold_tracker *tr, struct registry *reg, double t,
		       double fs_avail, double mem_avail, double swap_total, double swap_free,
		       double custom)
{
	struct metric_label fs[] = {{"mountpoint", "/data"}, {"fstype", "ext4"}};

	registry_begin(reg, t, 1);
	if (fs_avail >= 0)
		registry_set_gauge(reg, "kpulse_filesystem_avail_bytes", fs, 2, fs_avail);
	registry_set_gauge(reg, "kpulse_mem_available_bytes", NULL, 0, mem_avail);
	registry_set_gauge(reg, "kpulse_mem_swap_total_bytes", NULL, 0, swap_total);
	registry_set_gauge(reg, "kpulse_mem_swap_free_bytes", NULL, 0, swap_free);
	registry_set_gauge(reg, "kpulse_queue_depth", NULL, 0, custom);
	registry_end(reg);
	threshold_tracker_observe(tr, reg, t);
}

TEST(a_filling_filesystem_is_predicted_full_and_steady_memory_is_not)
{
	struct threshold_options o = {.window_s = 600,
				      .min_span_s = 60,
				      .sample_every_s = 5,
				      .horizon_s = 3600,
				      .max_targets = 16};
	struct threshold_rule limit = {THRESHOLD_LIMIT, "kpulse_queue_depth", true, 1000};
	struct threshold_tracker *tr = threshold_tracker_new(&o, &limit, 1);
	struct registry *reg = registry_new();
	json_t *p, *fs = NULL, *q = NULL;
	double t0 = 1.7e9;

	CHECK(tr && reg);
	/* 1 GB free, written at 1 MB/s: full in 1000 s from t0 */
	for (int i = 0; i <= 300; i++)
		round_with(tr, reg, t0 + i, 1e9 - 1e6 * i, 4e9 + (i % 2) * 1e6, 0, 0,
			   100 + 2.0 * i);
	p = threshold_tracker_predictions(tr);
	CHECK(p);
	for (size_t i = 0; i < json_array_size(p); i++) {
		json_t *e = json_array_get(p, i);
		const char *kind = json_string_value(json_object_get(e, "kind"));

		CHECK(strcmp(kind, "memory_exhausted") != 0);
		CHECK(strcmp(kind, "swap_exhausted") != 0); /* no swap */
		if (!strcmp(kind, "filesystem_full"))
			fs = e;
		if (!strcmp(kind, "limit"))
			q = e;
	}
	CHECK(fs);
	CHECK_STR(json_string_value(json_object_get(json_object_get(fs, "labels"), "mountpoint")),
		  "/data");
	/* 700 s left after the last sample at t0 + 300 */
	CHECK_NEAR(json_real_value(json_object_get(fs, "eta_s")), 700, 1);
	CHECK_NEAR(json_real_value(json_object_get(fs, "predicted_at")), t0 + 1000, 1);
	CHECK_NEAR(json_real_value(json_object_get(fs, "rate_per_s")), -1e6, 1);
	CHECK(json_is_true(json_object_get(fs, "alert")));
	/* the queue: 700 at t0 + 300, +2/s, 1000 in 150 s */
	CHECK(q);
	CHECK_NEAR(json_real_value(json_object_get(q, "eta_s")), 150, 1);
	CHECK_EQ_INT(threshold_tracker_alerts(tr), 2);
	json_decref(p);
	threshold_tracker_free(tr);
	registry_free(reg);
}

TEST(no_prediction_before_the_minimum_span_and_none_beyond_the_horizon_alerts)
{
	struct threshold_options o = {.window_s = 600,
				      .min_span_s = 120,
				      .sample_every_s = 1,
				      .horizon_s = 100,
				      .max_targets = 16};
	struct threshold_tracker *tr = threshold_tracker_new(&o, NULL, 0);
	struct registry *reg = registry_new();
	json_t *p;

	CHECK(tr && reg);
	for (int i = 0; i < 100; i++)
		round_with(tr, reg, 1000 + i, 1e9 - 1e3 * i, 4e9, 0, 0, 0);
	p = threshold_tracker_predictions(tr);
	CHECK_EQ_INT(json_array_size(p), 0);
	json_decref(p);
	for (int i = 100; i < 200; i++)
		round_with(tr, reg, 1000 + i, 1e9 - 1e3 * i, 4e9, 0, 0, 0);
	p = threshold_tracker_predictions(tr);
	CHECK_EQ_INT(json_array_size(p), 1);
	/* about 1e6 s away: a prediction, not an alert */
	CHECK(json_is_false(json_object_get(json_array_get(p, 0), "alert")));
	CHECK_EQ_INT(threshold_tracker_alerts(tr), 0);
	json_decref(p);
	threshold_tracker_free(tr);
	registry_free(reg);
}

TEST(swap_and_vanished_series_are_handled)
{
	struct threshold_options o = {.window_s = 100,
				      .min_span_s = 10,
				      .sample_every_s = 1,
				      .horizon_s = 1e6,
				      .max_targets = 16};
	struct threshold_tracker *tr = threshold_tracker_new(&o, NULL, 0);
	struct registry *reg = registry_new();
	json_t *p;

	CHECK(tr && reg);
	for (int i = 0; i < 50; i++)
		round_with(tr, reg, i, 5e8, 4e9, 1e9, 1e9 - 1e6 * i, 0);
	p = threshold_tracker_predictions(tr);
	CHECK_EQ_INT(json_array_size(p), 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(p, 0), "kind")),
		  "swap_exhausted");
	json_decref(p);
	CHECK_EQ_INT(threshold_tracker_targets(tr), 3); /* fs, memory, swap */
	/* the filesystem is unmounted: forgotten after a window */
	for (int i = 50; i < 200; i++)
		round_with(tr, reg, i, -1, 4e9, 1e9, 1e9, 0);
	CHECK_EQ_INT(threshold_tracker_targets(tr), 2);
	threshold_tracker_free(tr);
	registry_free(reg);
}

TEST(bad_options_are_refused)
{
	struct threshold_options o = {
	    .window_s = 1, .min_span_s = 0, .sample_every_s = 1, .horizon_s = 1, .max_targets = 1};

	CHECK(threshold_tracker_new(&o, NULL, 0) == NULL);
	o.window_s = 10;
	o.max_targets = 0;
	CHECK(threshold_tracker_new(&o, NULL, 0) == NULL);
	CHECK(threshold_tracker_new(NULL, NULL, 0) == NULL);
	CHECK(threshold_tracker_free(NULL) == NULL);
}

TEST_MAIN()
