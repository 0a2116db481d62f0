// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for models/multivar.c: a model trained in the background from
 * observed rounds and from a history callback, scores and contributing
 * series for a broken correlation, the memory bound, refused options.
 * Waits for the trainer are polls with a generous deadline, never a
 * measurement of speed. */
#include <errno.h>
#include <math.h>
#include <time.h>
#include <unistd.h>

#include "models/multivar.h"
#include "models/rng.h"
#include "test.h"

static const char *const names[] = {"cpu", "disk", "net", "mem"};

static struct multivar_options opts(void)
{
	return (struct multivar_options){.interval_s = 1,
					 .window_s = 5,
					 .history_s = 2000,
					 .retrain_s = 3600,
					 .max_train_rows = 1000,
					 .forest = {.trees = 100, .sample_size = 256, .seed = 1},
					 .lof_neighbors = 20};
}

/* A normal round: cpu, disk and net move together, mem stays. */
static void normal_round(struct rng *r, double load, double *v)
{
	v[0] = load + 0.05 * rng_uniform(r);
	v[1] = 2 * load + 0.05 * rng_uniform(r);
	v[2] = 3 * load + 0.05 * rng_uniform(r);
	v[3] = 5 + 0.05 * rng_uniform(r);
}

/* Waits until the trainer has run `want` times; true if it did. */
static bool wait_attempts(struct multivar *mv, size_t want)
{
	for (int i = 0; i < 6000; i++) { /* up to 60 s, even under ASan */
		size_t n;

		multivar_training_stats(mv, &n, NULL, NULL);
		if (n >= want)
			return true;
		usleep(10000);
	}
	return false;
}

TEST(a_broken_correlation_and_a_jump_score_high_and_name_their_series)
{
	struct multivar_options o = opts();
	struct multivar *mv = NULL;
	struct multivar_result res;
	struct rng r;
	double v[4], t = 1e6, normal_if_raw;
	int i;

	rng_seed(&r, 1);
	CHECK_EQ_INT(multivar_start(&o, names, 4, NULL, NULL, &mv, NULL, 0), 0);
	multivar_score(mv, &res);
	CHECK(!res.valid); /* no model yet */
	for (i = 0; i < 2000; i++, t += 1) {
		normal_round(&r, 1 + sin(i / 50.0), v);
		multivar_observe(mv, t, v);
	}
	multivar_retrain_now(mv);
	CHECK(wait_attempts(mv, 1));
	/* normal rounds: the load goes on as in training */
	for (int k = 0; k < 10; k++, i++, t += 1) {
		normal_round(&r, 1 + sin(i / 50.0), v);
		multivar_observe(mv, t, v);
	}
	CHECK_EQ_INT(multivar_score(mv, &res), 0);
	CHECK(res.valid);
	CHECK(res.model_rows > 300);
	CHECK(res.iforest.score < 0.3);
	CHECK(res.lof.score < 0.3);
	normal_if_raw = res.iforest.raw;
	/* the network drops while cpu and disk keep their load: one window
	 * in, its level and its change are both off */
	for (int k = 0; k < 5; k++, i++, t += 1) {
		normal_round(&r, 1 + sin(i / 50.0), v);
		v[2] = 0.2;
		multivar_observe(mv, t, v);
	}
	CHECK_EQ_INT(multivar_score(mv, &res), 0);
	CHECK(res.valid);
	/* LOF sees the broken correlation; the forest's axis-parallel splits
	 * barely do (its score stays low: a known limit of the method) */
	CHECK(res.lof.score > 0.9);
	CHECK(res.lof.raw > 2);
	CHECK_EQ_INT(res.lof.top[0], 2);
	CHECK_STR(multivar_series_name(mv, res.lof.top[0]), "net");
	CHECK(res.iforest.score < res.lof.score);
	/* back to normal for two windows, then the disk jumps tenfold:
	 * both detectors fire and name the disk */
	for (int k = 0; k < 10; k++, i++, t += 1) {
		normal_round(&r, 1 + sin(i / 50.0), v);
		multivar_observe(mv, t, v);
	}
	for (int k = 0; k < 5; k++, i++, t += 1) {
		normal_round(&r, 1 + sin(i / 50.0), v);
		v[1] *= 10;
		multivar_observe(mv, t, v);
	}
	CHECK_EQ_INT(multivar_score(mv, &res), 0);
	/* one series of four, past anything in training: the forest
	 * isolates it in shorter paths than any training row (a row beyond
	 * the training range is not scored like the most extreme one) */
	CHECK(res.iforest.raw > normal_if_raw);
	CHECK(res.iforest.score > 0.45);
	CHECK(res.lof.score > 0.9);
	CHECK_EQ_INT(res.iforest.top[0], 1);
	CHECK_EQ_INT(res.lof.top[0], 1);
	CHECK(res.iforest.top_share[0] > 0.25);
	multivar_stop(mv);
}

static int calls;

static int fake_history(void *ctx, double from, double to, double step, double *means,
			size_t nbuckets, size_t nseries)
{
	struct rng r;

	rng_seed(&r, 2);
	calls++;
	if (fabs(to - from - step * (double)nbuckets) > 1e-6)
		return -EINVAL;
	for (size_t k = 0; k < nbuckets; k++)
		normal_round(&r, 1 + sin((double)k / 10), means + k * nseries);
	return 0;
}

TEST(history_from_the_store_trains_a_model_at_start)
{
	struct multivar_options o = opts();
	struct multivar *mv = NULL;
	struct multivar_result res;
	struct rng r;
	double v[4], t = 2e6;

	rng_seed(&r, 3);
	calls = 0;
	CHECK_EQ_INT(multivar_start(&o, names, 4, fake_history, NULL, &mv, NULL, 0), 0);
	for (int i = 0; i < 12; i++, t += 1) {
		normal_round(&r, 1, v);
		multivar_observe(mv, t, v);
	}
	multivar_retrain_now(mv);
	CHECK(wait_attempts(mv, 1));
	CHECK_EQ_INT(calls, 1);
	multivar_score(mv, &res);
	CHECK(res.valid);
	CHECK(res.model_rows >= 300);
	multivar_stop(mv);
}

TEST(too_little_history_trains_no_model)
{
	struct multivar_options o = opts();
	struct multivar *mv = NULL;
	struct multivar_result res;
	double v[4] = {1, 2, 3, 4};
	size_t n = 1;

	CHECK_EQ_INT(multivar_start(&o, names, 4, NULL, NULL, &mv, NULL, 0), 0);
	for (int i = 0; i < 30; i++)
		multivar_observe(mv, 3e6 + i, v);
	multivar_retrain_now(mv);
	CHECK(wait_attempts(mv, 1));
	multivar_training_stats(mv, NULL, &n, NULL);
	CHECK_EQ_INT(n, 0);
	multivar_score(mv, &res);
	CHECK(!res.valid);
	multivar_stop(mv);
}

TEST(options_are_checked_and_memory_is_bounded)
{
	struct multivar_options o = opts();
	struct multivar *mv = NULL;
	char err[160];
	size_t bound = multivar_memory_bound(&o, 4);

	/* 400 buckets x 4 series, 1000 x 8 training rows, 100 trees */
	CHECK(bound > 100 * 511 * 24);
	CHECK(bound < 8 * 1024 * 1024);
	o.window_s = 0.5;
	CHECK_EQ_INT(multivar_start(&o, names, 4, NULL, NULL, &mv, err, sizeof(err)), -EINVAL);
	o = opts();
	o.history_s = 50;
	CHECK_EQ_INT(multivar_start(&o, names, 4, NULL, NULL, &mv, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "history"));
	o = opts();
	CHECK_EQ_INT(multivar_start(&o, names, 0, NULL, NULL, &mv, err, sizeof(err)), -EINVAL);
	CHECK(mv == NULL);
	CHECK(multivar_stop(NULL) == NULL);
}

TEST_MAIN()
