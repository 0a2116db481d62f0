/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_detector.c - the streaming detector on series whose right answer
 * is known: a spike in noise, a flat line that moves, a daily cycle (no
 * alarm on its edges, an alarm when a day is missing), a mostly-zero
 * counter, a level shift that becomes the new normal; no look-ahead; the
 * state restored from bytes scores like the original.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "models/detector.h"
#include "test.h"

#define STEP 300.0 /* 5-minute samples, like NAB */
#define T0   1396310400.0

/* A deterministic uniform in [0, 1) (xorshift), so tests never vary. */
static double uniform(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (double)(*s >> 11) / 9007199254740992.0;
}

static double noise(uint64_t *s)
{
	double u = uniform(s), v = uniform(s);

	return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

static struct detector det;

/* Feeds n samples of f(i); returns the highest score among them. */
#define FEED(from, to, expr)                                                                       \
	({                                                                                         \
		double _max = 0;                                                                   \
		for (int i = (from); i < (to); i++) {                                              \
			double _s = detector_update(&det, T0 + i * STEP, (expr), NULL);            \
			if (_s > _max)                                                             \
				_max = _s;                                                         \
		}                                                                                  \
		_max;                                                                              \
	})

TEST(names_parse_both_ways)
{
	enum detector_kind k;

	CHECK_EQ_INT(detector_kind_parse("stream", &k), 0);
	CHECK_EQ_INT(k, DETECTOR_STREAM);
	CHECK_EQ_INT(detector_kind_parse("ewma", &k), 0);
	CHECK_EQ_INT(k, DETECTOR_EWMA);
	CHECK_EQ_INT(detector_kind_parse("htm", &k), -EINVAL);
	CHECK_STR(detector_kind_name(DETECTOR_EWMA), "ewma");
	CHECK_STR(detector_model_name(DETECTOR_MODEL_DAILY), "daily");
}

TEST(state_is_under_4_kib)
{
	CHECK(sizeof(struct detector) < 4096);
}

/* At 1-second steps a daily bin learns 1,800 samples a day, more than its
 * byte of count holds exactly: its mean must still average the days it
 * remembers (two days, one a standard deviation higher: their mean),
 * not follow only the last minutes as a count stuck at 255 would. */
TEST(one_second_samples_average_the_days_in_a_daily_bin)
{
	uint64_t s = 7;
	const double step = 1;
	unsigned b = (unsigned)(fmod(T0, 86400.0) / 86400.0 * DETECTOR_DAY_BINS);

	detector_init(&det, DETECTOR_STREAM);
	for (int i = 0; i < 2 * 86400; i++)
		detector_update(&det, T0 + i * step, (i < 86400 ? 100 : 110) + 10 * noise(&s),
				NULL);
	CHECK_NEAR(det.day.mean[b], 105, 1.5);
	CHECK_NEAR(det.day.mean[(b + DETECTOR_DAY_BINS / 2) % DETECTOR_DAY_BINS], 105, 1.5);
}

TEST(warmup_scores_zero)
{
	uint64_t s = 1;

	detector_init(&det, DETECTOR_STREAM);
	CHECK_NEAR(FEED(0, DETECTOR_WARMUP, 10 + noise(&s) * (i == 100 ? 100 : 1)), 0, 0);
}

TEST(spike_in_noise_scores_high_and_noise_does_not)
{
	uint64_t s = 2;
	struct detector_result res;
	double quiet, spike;

	detector_init(&det, DETECTOR_STREAM);
	quiet = FEED(0, 2000, 50 + noise(&s));
	spike = detector_update(&det, T0 + 2000 * STEP, 80, &res);
	/* plain noise: nothing at "warning" level (0.6) */
	CHECK(quiet < 0.6);
	CHECK(spike > 0.7);
	CHECK(res.fired & DETECTOR_FIRED_RANGE);
	CHECK_NEAR(res.expected, 50, 1);
}

TEST(flat_line_that_moves_scores_high)
{
	double flat, moved;

	detector_init(&det, DETECTOR_STREAM);
	flat = FEED(0, 1000, 45.0);
	moved = detector_update(&det, T0 + 1000 * STEP, 45.5, NULL);
	CHECK_NEAR(flat, 0, 0.05);
	CHECK(moved > 0.7);
}

/* 09:00-18:00 high, else low, with noise: NAB's art_daily shapes. */
static double daily(int i, uint64_t *s)
{
	double hour = fmod(T0 + i * STEP, 86400) / 3600;

	return (hour >= 9 && hour < 18 ? 80 : 20) + noise(s);
}

TEST(daily_cycle_learnt_then_missing_day_fires)
{
	uint64_t s = 3;
	struct detector_result res;
	double normal, missing;
	int day = 288;

	detector_init(&det, DETECTOR_STREAM);
	FEED(0, 7 * day, daily(i, &s));
	normal = FEED(7 * day, 10 * day, daily(i, &s));
	detector_update(&det, T0 + 10 * day * STEP, daily(10 * day, &s), &res);
	CHECK_EQ_INT(res.model, DETECTOR_MODEL_DAILY);
	/* day 11: the high part never comes */
	missing = FEED(10 * day + 1, 11 * day, 20 + noise(&s));
	CHECK(normal < 0.5);
	CHECK(missing > 0.7);
}

TEST(mostly_zero_counter_does_not_fire_on_usual_bursts)
{
	uint64_t s = 4;
	double burst_storm;
	int high = 0;

	detector_init(&det, DETECTOR_STREAM);
	FEED(0, 3000, uniform(&s) < 0.02 ? 5 + 5 * uniform(&s) : 0);
	/* 2% of samples are bursts, about 20 here: at most a few (two bursts
	 * close together look like a denser stream) may score 0.5 or more */
	for (int i = 3000; i < 4000; i++) {
		double x = uniform(&s) < 0.02 ? 5 + 5 * uniform(&s) : 0;
		double sc = detector_update(&det, T0 + i * STEP, x, NULL);

		high += sc >= 0.5;
	}
	CHECK(high <= 3);
	burst_storm = FEED(4000, 4020, 200.0);
	CHECK(burst_storm > 0.9);
}

TEST(level_shift_becomes_the_new_normal)
{
	uint64_t s = 5;
	double at_shift, later;

	detector_init(&det, DETECTOR_STREAM);
	FEED(0, 2000, 10 + noise(&s));
	at_shift = FEED(2000, 2010, 30 + noise(&s));
	FEED(2010, 2600, 30 + noise(&s));
	later = FEED(2600, 3000, 30 + noise(&s));
	CHECK(at_shift > 0.7);
	CHECK(later < 0.5);
}

TEST(score_uses_only_the_past)
{
	/* two detectors fed the same prefix give the same scores, whatever
	 * comes after the prefix in either */
	static struct detector a, b;
	uint64_t s = 6;
	double va[1000];

	for (int i = 0; i < 1000; i++)
		va[i] = 5 + noise(&s);
	detector_init(&a, DETECTOR_STREAM);
	detector_init(&b, DETECTOR_STREAM);
	for (int i = 0; i < 1000; i++) {
		double sa = detector_update(&a, T0 + i * STEP, va[i], NULL);
		double sb = detector_update(&b, T0 + i * STEP, va[i], NULL);

		CHECK_NEAR(sa, sb, 0);
	}
}

TEST(bad_samples_are_not_learnt)
{
	static struct detector copy;
	uint64_t s = 7;

	detector_init(&det, DETECTOR_STREAM);
	FEED(0, 500, 1 + noise(&s));
	copy = det;
	CHECK_NEAR(detector_update(&det, T0 + 500 * STEP, NAN, NULL), 0, 0);
	CHECK_NEAR(detector_update(&det, T0 + 500 * STEP, INFINITY, NULL), 0, 0);
	CHECK_NEAR(detector_update(&det, T0, 1, NULL), 0, 0); /* back in time */
	CHECK(memcmp(&copy, &det, sizeof(det)) == 0);
}

TEST(restored_state_continues_identically)
{
	static struct detector restored;
	uint64_t s = 8;

	detector_init(&det, DETECTOR_STREAM);
	FEED(0, 1500, daily(i, &s));
	CHECK_EQ_INT(detector_restore(&det, sizeof(det), &restored), 0);
	for (int i = 1500; i < 1800; i++) {
		double x = daily(i, &s);

		CHECK_NEAR(detector_update(&det, T0 + i * STEP, x, NULL),
			   detector_update(&restored, T0 + i * STEP, x, NULL), 0);
	}
}

TEST(corrupt_state_is_refused)
{
	static struct detector bad;

	detector_init(&det, DETECTOR_STREAM);
	detector_update(&det, T0, 1, NULL);
	CHECK_EQ_INT(detector_restore(&det, sizeof(det) - 1, &bad), -EINVAL);
	bad = det;
	bad.version++;
	CHECK_EQ_INT(detector_restore(&bad, sizeof(bad), &bad), -EINVAL);
	bad = det;
	bad.level[1] = NAN;
	CHECK_EQ_INT(detector_restore(&bad, sizeof(bad), &bad), -EINVAL);
	bad = det;
	bad.kind = 99;
	CHECK_EQ_INT(detector_restore(&bad, sizeof(bad), &bad), -EINVAL);
}

TEST(ewma_reference_scores_a_spike)
{
	uint64_t s = 9;
	double quiet;

	detector_init(&det, DETECTOR_EWMA);
	quiet = FEED(0, 1000, 3 + noise(&s));
	CHECK(quiet < 0.99999);
	CHECK(detector_update(&det, T0 + 1000 * STEP, 30, NULL) > 0.999);
}

TEST_MAIN()
