/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_ensemble.c - scores into anomalies: opening at the info threshold,
 * severity from the peak, hysteresis, the cooldown that keeps one episode
 * one anomaly, detectors and contributing series, multivariate inputs, the
 * episode cap and bad options.
 */
#include <errno.h>
#include <string.h>

#include "models/ensemble.h"
#include "test.h"

static struct anomaly out[16];

/* One round with one stream input for series key at score. */
static size_t round1(struct ensemble *e, double ts, const char *key, double score)
{
	const char *series[] = {key};
	struct ensemble_input in = {"stream", score, series, NULL, 1};

	return ensemble_round(e, ts, &in, 1, out, 16);
}

TEST(names_parse_both_ways)
{
	enum anomaly_severity s;

	CHECK_EQ_INT(anomaly_severity_parse("warning", &s), 0);
	CHECK_EQ_INT(s, ANOMALY_WARNING);
	CHECK_EQ_INT(anomaly_severity_parse("severe", &s), -EINVAL);
	CHECK_STR(anomaly_severity_name(ANOMALY_CRITICAL), "critical");
}

TEST(episode_opens_escalates_and_ends_with_hysteresis)
{
	struct ensemble_options o;
	struct ensemble *e = NULL;

	ensemble_options_default(&o);
	CHECK_EQ_INT(ensemble_new(&o, 7, &e), 0);
	CHECK_EQ_INT(round1(e, 100, "a", 0.3), 0);
	CHECK_EQ_INT(round1(e, 101, "a", 0.55), 1);
	CHECK(out[0].open);
	CHECK_EQ_INT(out[0].events, ANOMALY_OPENED);
	CHECK_EQ_INT(out[0].id, 7);
	CHECK_NEAR(out[0].start, 101, 0);
	CHECK_EQ_INT(out[0].severity, ANOMALY_INFO);
	CHECK_EQ_INT(round1(e, 102, "a", 0.95), 1);
	CHECK_EQ_INT(out[0].severity, ANOMALY_CRITICAL);
	CHECK_EQ_INT(out[0].events, ANOMALY_ESCALATED);
	/* 0.45 is below info but above info - hysteresis: still open */
	CHECK_EQ_INT(round1(e, 103, "a", 0.45), 1);
	CHECK(out[0].open);
	CHECK_EQ_INT(out[0].events, 0); /* it only went on */
	CHECK_NEAR(out[0].end, 103, 0);
	CHECK_EQ_INT(round1(e, 104, "a", 0.1), 1);
	CHECK(!out[0].open);
	CHECK_EQ_INT(out[0].events, ANOMALY_ENDED);
	CHECK_NEAR(out[0].end, 103, 0);
	CHECK_NEAR(out[0].peak_score, 0.95, 1e-12);
	CHECK_EQ_INT(out[0].severity, ANOMALY_CRITICAL);
	CHECK_STR(out[0].detectors, "stream");
	CHECK_EQ_INT(round1(e, 105, "a", 0.1), 0);
	ensemble_free(e);
}

TEST(crossing_within_cooldown_continues_the_same_anomaly)
{
	struct ensemble_options o;
	struct ensemble *e = NULL;

	ensemble_options_default(&o);
	o.cooldown_s = 60;
	CHECK_EQ_INT(ensemble_new(&o, 1, &e), 0);
	round1(e, 0, "a", 0.8);
	round1(e, 1, "a", 0);
	CHECK_EQ_INT(round1(e, 30, "a", 0.6), 1);
	CHECK_EQ_INT(out[0].id, 1);
	CHECK_EQ_INT(out[0].events, ANOMALY_OPENED);
	CHECK_NEAR(out[0].start, 0, 0);
	CHECK(out[0].open);
	round1(e, 31, "a", 0);
	/* after the cooldown: a new anomaly */
	round1(e, 100, "a", 0);
	CHECK_EQ_INT(round1(e, 200, "a", 0.6), 1);
	CHECK_EQ_INT(out[0].id, 2);
	CHECK_NEAR(out[0].start, 200, 0);
	ensemble_free(e);
}

TEST(multivariate_input_joins_the_episode_of_its_first_series)
{
	static const char *mv_series[] = {"b", "a"};
	static const double w[] = {0.7, 0.3};
	const char *one[] = {"b"};
	struct ensemble_input in[2] = {
	    {"stream", 0.6, one, NULL, 1},
	    {"iforest", 0.9, mv_series, w, 2},
	};
	struct ensemble_options o;
	struct ensemble *e = NULL;

	ensemble_options_default(&o);
	CHECK_EQ_INT(ensemble_new(&o, 1, &e), 0);
	CHECK_EQ_INT(ensemble_round(e, 10, in, 2, out, 16), 1);
	CHECK_STR(out[0].series, "b");
	CHECK_STR(out[0].detectors, "stream,iforest");
	CHECK_EQ_INT(out[0].ncontrib, 2);
	CHECK_STR(out[0].contrib[0], "b");
	CHECK_STR(out[0].contrib[1], "a");
	CHECK_NEAR(out[0].peak_score, 0.9, 1e-12);
	ensemble_free(e);
}

TEST(episodes_beyond_the_cap_are_counted)
{
	struct ensemble_options o;
	struct ensemble *e = NULL;
	const char *k[] = {"a", "b", "c"};
	struct ensemble_input in[3];

	ensemble_options_default(&o);
	o.max_episodes = 2;
	CHECK_EQ_INT(ensemble_new(&o, 1, &e), 0);
	for (int i = 0; i < 3; i++)
		in[i] = (struct ensemble_input){"stream", 0.9, &k[i], NULL, 1};
	CHECK_EQ_INT(ensemble_round(e, 1, in, 3, out, 16), 2);
	CHECK_EQ_INT(ensemble_overflow(e), 1);
	ensemble_free(e);
}

TEST(bad_options_are_refused)
{
	struct ensemble_options o;
	struct ensemble *e = NULL;

	ensemble_options_default(&o);
	o.warning = 0.4; /* below info */
	CHECK_EQ_INT(ensemble_new(&o, 1, &e), -EINVAL);
	ensemble_options_default(&o);
	o.critical = 1.5;
	CHECK_EQ_INT(ensemble_new(&o, 1, &e), -EINVAL);
	CHECK(!e);
}

TEST_MAIN()
