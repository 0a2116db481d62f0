// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for models/forecast.c: edge cases (constant series, gaps, negative
 * values, little history, non-finite values), robustness to a spike and a
 * level shift, daily seasons found where they exist and only there, and
 * interval coverage on held-back data. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "models/forecast.h"
#include "models/rng.h"
#include "test.h"

#define STEP_5M 300.0
#define DAY_5M	288

/* A standard normal draw (Box-Muller). */
static double gauss(struct rng *r)
{
	double u = rng_uniform(r), v = rng_uniform(r);

	return sqrt(-2 * log(u > 0 ? u : 1e-300)) * cos(2 * M_PI * v);
}

static struct forecast_model *fit(const double *y, size_t n, size_t h, bool season)
{
	struct forecast_options o = {.horizon = h, .step_s = STEP_5M, .allow_season = season};
	struct forecast_model *m = NULL;

	if (forecast_model_fit(y, n, &o, &m, NULL, 0) < 0)
		return NULL;
	return m;
}

TEST(constant_series_forecasts_the_constant_with_zero_width)
{
	double y[500];
	struct forecast_point p[12];
	struct forecast_model *m;

	for (size_t i = 0; i < 500; i++)
		y[i] = 42.5;
	m = fit(y, 500, 12, true);
	CHECK(m);
	CHECK_EQ_INT(forecast_model_predict(m, 12, p), 0);
	for (int k = 0; k < 12; k++) {
		CHECK_NEAR(p[k].forecast, 42.5, 1e-9);
		CHECK_NEAR(p[k].lo95, 42.5, 1e-6);
		CHECK_NEAR(p[k].hi95, 42.5, 1e-6);
	}
	forecast_model_free(m);
}

TEST(one_value_is_enough_for_a_naive_forecast)
{
	double y[1] = {3};
	struct forecast_point p[5];
	struct forecast_model *m = fit(y, 1, 5, true);

	CHECK(m);
	CHECK_EQ_INT(forecast_model_predict(m, 5, p), 0);
	CHECK_NEAR(p[4].forecast, 3, 0);
	CHECK_NEAR(p[4].lo95, 3, 1e-6);
	forecast_model_free(m);
}

TEST(short_history_gets_random_walk_intervals_that_widen)
{
	double y[6] = {1, 3, 2, 4, 3, 5};
	struct forecast_point p[4];
	struct forecast_model *m = fit(y, 6, 4, true);

	CHECK(m);
	CHECK_EQ_INT(forecast_model_predict(m, 4, p), 0);
	CHECK_NEAR(p[0].forecast, 5, 0);
	CHECK(p[0].lo95 < p[0].lo80 && p[0].lo80 < 5 && p[0].hi80 > 5 && p[0].hi95 > p[0].hi80);
	/* sd * sqrt(k): twice as wide at k = 4 as at k = 1 */
	CHECK_NEAR(p[3].hi95 - p[3].forecast, 2 * (p[0].hi95 - p[0].forecast), 1e-6);
	forecast_model_free(m);
}

TEST(non_finite_history_and_bad_options_are_refused)
{
	double y[40];
	struct forecast_options o = {.horizon = 5, .step_s = STEP_5M, .allow_season = true};
	struct forecast_model *m = NULL;
	char err[128];

	for (int i = 0; i < 40; i++)
		y[i] = i;
	y[17] = NAN;
	CHECK_EQ_INT(forecast_model_fit(y, 40, &o, &m, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "value 17"));
	y[17] = 17;
	CHECK_EQ_INT(forecast_model_fit(y, 0, &o, &m, err, sizeof(err)), -EINVAL);
	o.horizon = 0;
	CHECK_EQ_INT(forecast_model_fit(y, 40, &o, &m, err, sizeof(err)), -EINVAL);
	o.horizon = FORECAST_HORIZON_MAX + 1;
	CHECK_EQ_INT(forecast_model_fit(y, 40, &o, &m, err, sizeof(err)), -EINVAL);
	CHECK(m == NULL);
	o.horizon = 5;
	CHECK_EQ_INT(forecast_model_fit(y, 40, &o, &m, err, sizeof(err)), 0);
	CHECK_EQ_INT(forecast_model_update(m, INFINITY), -EINVAL);
	CHECK_EQ_INT(forecast_model_predict(m, 6, NULL), -EINVAL);
	forecast_model_free(m);
}

TEST(a_spike_in_the_last_value_does_not_become_the_forecast)
{
	struct rng r;
	double y[2000];
	struct forecast_point p[12];
	struct forecast_model *m;

	rng_seed(&r, 1);
	for (int i = 0; i < 2000; i++)
		y[i] = 10 + 0.5 * gauss(&r) + (i % 97 == 0 ? 30 : 0); /* occasional spikes */
	y[1999] = 60;
	m = fit(y, 2000, 12, true);
	CHECK(m);
	forecast_model_predict(m, 12, p);
	/* the naive forecast would say 60 */
	CHECK(fabs(p[0].forecast - 10) < 3);
	CHECK(fabs(p[11].forecast - 10) < 2);
	forecast_model_free(m);
}

TEST(a_level_shift_is_followed_within_a_few_steps)
{
	struct rng r;
	double y[1500];
	struct forecast_point p[12];
	struct forecast_model *m;

	rng_seed(&r, 2);
	for (int i = 0; i < 1500; i++)
		y[i] = (i < 1490 ? 6 : 15) + 0.3 * gauss(&r);
	m = fit(y, 1500, 12, true);
	CHECK(m);
	forecast_model_predict(m, 12, p);
	CHECK(fabs(p[0].forecast - 15) < 1);
	CHECK(fabs(p[11].forecast - 15) < 1);
	forecast_model_free(m);
}

TEST(a_daily_cycle_is_used_and_followed)
{
	struct rng r;
	double y[10 * DAY_5M], err_model = 0, err_naive = 0;
	struct forecast_point p[36];
	struct forecast_model *m;
	size_t n = 9 * DAY_5M + 100;

	rng_seed(&r, 3);
	for (size_t i = 0; i < 10 * DAY_5M; i++)
		y[i] = 50 + 20 * sin(2 * M_PI * (double)i / DAY_5M) + 2 * gauss(&r);
	m = fit(y, n, 36, true);
	CHECK(m);
	CHECK_EQ_INT(forecast_model_season(m), DAY_5M);
	forecast_model_predict(m, 36, p);
	for (size_t k = 0; k < 36; k++) {
		err_model += fabs(y[n + k] - p[k].forecast);
		err_naive += fabs(y[n + k] - y[n - 1]);
	}
	CHECK(err_model < 0.5 * err_naive);
	forecast_model_free(m);
}

TEST(no_season_is_used_where_the_history_shows_none)
{
	struct rng r;
	double y[8 * DAY_5M];
	struct forecast_model *m;

	rng_seed(&r, 4);
	for (size_t i = 0; i < 8 * DAY_5M; i++)
		y[i] = 5 + gauss(&r);
	m = fit(y, 8 * DAY_5M, 12, true);
	CHECK(m);
	CHECK_EQ_INT(forecast_model_season(m), 0);
	forecast_model_free(m);
}

TEST(non_negative_series_get_no_negative_forecast_or_bound)
{
	struct rng r;
	double y[1000];
	struct forecast_point p[24];
	struct forecast_model *m;

	rng_seed(&r, 5);
	/* mostly 0 with bursts: the kind of series Holt-Winters sends negative */
	for (int i = 0; i < 1000; i++)
		y[i] = rng_uniform(&r) < 0.8 ? 0 : 50 * rng_uniform(&r);
	m = fit(y, 1000, 24, true);
	CHECK(m);
	forecast_model_predict(m, 24, p);
	for (int k = 0; k < 24; k++) {
		CHECK(p[k].forecast >= 0);
		CHECK(p[k].lo95 >= 0 && p[k].lo80 >= 0);
		CHECK(p[k].lo95 <= p[k].lo80 && p[k].lo80 <= p[k].forecast);
		CHECK(p[k].forecast <= p[k].hi80 && p[k].hi80 <= p[k].hi95);
	}
	forecast_model_free(m);
}

TEST(negative_series_may_be_forecast_below_zero)
{
	double y[300];
	struct forecast_point p[3];
	struct forecast_model *m;

	for (int i = 0; i < 300; i++)
		y[i] = -100 + (i % 2);
	m = fit(y, 300, 3, true);
	CHECK(m);
	forecast_model_predict(m, 3, p);
	CHECK(p[0].forecast < -98 && p[0].forecast > -101);
	CHECK(p[0].lo95 < -99);
	forecast_model_free(m);
}

TEST(intervals_cover_held_back_values_at_about_their_level)
{
	struct rng r;
	double y[6000];
	size_t in80 = 0, in95 = 0, total = 0;
	struct forecast_point p[12];

	rng_seed(&r, 6);
	/* a slowly wandering level plus noise */
	y[0] = 100;
	for (int i = 1; i < 6000; i++)
		y[i] = y[i - 1] + 0.05 * gauss(&r);
	for (int i = 0; i < 6000; i++)
		y[i] += gauss(&r);
	for (size_t o = 3000; o + 12 <= 6000; o += 97) {
		struct forecast_model *m = fit(y, o, 12, false);

		CHECK(m);
		forecast_model_predict(m, 12, p);
		for (int k = 0; k < 12; k++) {
			in80 += y[o + k] >= p[k].lo80 && y[o + k] <= p[k].hi80;
			in95 += y[o + k] >= p[k].lo95 && y[o + k] <= p[k].hi95;
			total++;
		}
		forecast_model_free(m);
	}
	CHECK((double)in80 / total > 0.72 && (double)in80 / total < 0.9);
	CHECK((double)in95 / total > 0.9 && (double)in95 / total < 0.99);
}

TEST(update_moves_the_forecast_in_constant_time)
{
	double y[200];
	struct forecast_point p[1];
	struct forecast_model *m;

	for (int i = 0; i < 200; i++)
		y[i] = 10 + (i % 3);
	m = fit(y, 200, 1, false);
	CHECK(m);
	for (int i = 0; i < 50; i++)
		CHECK_EQ_INT(forecast_model_update(m, 30 + (i % 3)), 0);
	forecast_model_predict(m, 1, p);
	CHECK(fabs(p[0].forecast - 31) < 2);
	forecast_model_free(m);
}

TEST(regularize_drops_repeats_and_fills_gaps)
{
	/* step 60 s; 120 repeated, 240 and 300 missing, 200 off-grid */
	double t[] = {0, 60, 120, 120, 200, 360, 420};
	double v[] = {1, 2, 3, 99, 5, 8, 9};
	double *y = NULL, step, last;
	size_t n, filled;

	CHECK_EQ_INT(forecast_regularize(t, v, 7, 1000, &y, &n, &step, &last, &filled, NULL, 0), 0);
	CHECK_NEAR(step, 60, 0);
	CHECK_EQ_INT(n, 8);
	CHECK_NEAR(last, 420, 0);
	CHECK_EQ_INT(filled, 2);
	CHECK_NEAR(y[2], 3, 0); /* the first of the repeated rows */
	CHECK_NEAR(y[3], 5, 0); /* 200 snapped to 180 */
	CHECK_NEAR(y[4], 6, 1e-12);
	CHECK_NEAR(y[5], 7, 1e-12);
	CHECK_NEAR(y[6], 8, 0);
	free(y);
}

TEST(regularize_refuses_what_cannot_be_gridded)
{
	double t1[] = {5, 5, 5}, v[] = {1, 2, 3};
	double t2[] = {0, 1, 100};
	double *y = NULL, step, last;
	size_t n;
	char err[128];

	CHECK_EQ_INT(
	    forecast_regularize(t1, v, 3, 100, &y, &n, &step, &last, NULL, err, sizeof(err)),
	    -EINVAL);
	CHECK(strstr(err, "never increase"));
	CHECK_EQ_INT(
	    forecast_regularize(t2, v, 3, 1000, &y, &n, &step, &last, NULL, err, sizeof(err)),
	    -EINVAL);
	CHECK(strstr(err, "too irregular"));
	CHECK_EQ_INT(
	    forecast_regularize(t2, v, 3, 50, &y, &n, &step, &last, NULL, err, sizeof(err)),
	    -EINVAL);
	CHECK(strstr(err, "more than the limit"));
	CHECK(y == NULL);
}

TEST_MAIN()
