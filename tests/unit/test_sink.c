// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_sink.c - daemon/round.c and daemon/sink.c: a frozen round is shared
 * without copies, a sink sees rounds in order, a full queue drops the
 * oldest and counts it, and stop drains or drops as the sink asks. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "test.h"
#include "daemon/round.h"
#include "daemon/sink.h"

struct recorder {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	uint64_t seen[64];
	size_t n;
	bool blocked, release, stopped;
};

static void record_round(void *ctx, struct round *r)
{
	struct recorder *rec = ctx;

	pthread_mutex_lock(&rec->lock);
	/* The first round parks the thread until the test releases it, so the
	 * test controls exactly what is queued. */
	while (!rec->release) {
		rec->blocked = true;
		pthread_cond_broadcast(&rec->cond);
		pthread_cond_wait(&rec->cond, &rec->lock);
	}
	if (rec->n < 64)
		rec->seen[rec->n++] = r->seq;
	pthread_mutex_unlock(&rec->lock);
}

static void record_stop(void *ctx)
{
	struct recorder *rec = ctx;

	rec->stopped = true;
}

static struct round *make_round(uint64_t seq)
{
	struct registry *reg = registry_new();
	struct round *r;

	registry_begin(reg, 1000.0 + seq, 1.0);
	registry_set_gauge(reg, "kp_test", NULL, 0, (double)seq);
	registry_end(reg);
	r = round_freeze(reg, NULL, seq);
	registry_free(reg);
	return r;
}

static void wait_blocked(struct recorder *rec)
{
	pthread_mutex_lock(&rec->lock);
	while (!rec->blocked)
		pthread_cond_wait(&rec->cond, &rec->lock);
	pthread_mutex_unlock(&rec->lock);
}

static void release(struct recorder *rec)
{
	pthread_mutex_lock(&rec->lock);
	rec->release = true;
	pthread_cond_broadcast(&rec->cond);
	pthread_mutex_unlock(&rec->lock);
}

TEST(frozen_round_holds_the_series_and_outlives_the_live_registry)
{
	struct round *r = make_round(3), *again;
	const struct metric_series *s;

	CHECK(r);
	CHECK_EQ_INT(r->seq, 3);
	CHECK_NEAR(r->timestamp, 1003.0, 1e-9);
	CHECK_NEAR(r->interval_s, 1.0, 1e-9);
	CHECK(json_is_array(r->events) && json_array_size(r->events) == 0);
	s = registry_find(r->reg, "kp_test", NULL, 0);
	CHECK(s && s->value == 3.0);
	again = round_ref(r);
	CHECK(again == r);
	CHECK(round_unref(r) == NULL);
	CHECK_EQ_INT(atomic_load(&again->refs), 1);
	round_unref(again);
	CHECK(round_unref(NULL) == NULL);
}

static void *stop_thread(void *s)
{
	sink_stop(s);
	return NULL;
}

static void run_queue_case(int *failed, bool drain)
{
	struct recorder rec = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	struct sink_ops ops = {.name = "rec",
			       .on_round = record_round,
			       .on_stop = record_stop,
			       .drain_on_stop = drain};
	struct sink_stats st;
	struct sink *s = NULL;

	CHECK_EQ_INT(sink_start(&ops, &rec, 4, &s), 0);
	/* Round 1 parks the sink; 2..9 then fill a queue of 4: 2..5 are
	 * dropped oldest first, 6..9 stay. */
	for (uint64_t seq = 1; seq <= 9; seq++) {
		struct round *r = make_round(seq);

		CHECK(r);
		sink_push(s, r);
		round_unref(r);
		if (seq == 1)
			wait_blocked(&rec);
	}
	sink_get_stats(s, &st);
	CHECK_EQ_INT(st.queued, 4);
	CHECK_EQ_INT(st.rounds_dropped, 4);
	CHECK_EQ_INT(strcmp(sink_name(s), "rec"), 0);
	if (!drain) {
		pthread_t stopper;

		/* Stop while round 1 is still in progress: the queue goes at
		 * once, then the round in progress is let finish. */
		CHECK_EQ_INT(pthread_create(&stopper, NULL, stop_thread, s), 0);
		do {
			usleep(1000);
			sink_get_stats(s, &st);
		} while (st.queued > 0);
		CHECK_EQ_INT(st.rounds_dropped, 8);
		release(&rec);
		pthread_join(stopper, NULL);
		CHECK(rec.stopped);
		/* the round in progress finished; the queue was dropped */
		CHECK_EQ_INT(rec.n, 1);
		CHECK_EQ_INT(rec.seen[0], 1);
		return;
	}
	release(&rec);
	s = sink_stop(s);
	CHECK(s == NULL);
	CHECK(rec.stopped);
	CHECK_EQ_INT(rec.n, 5);
	CHECK_EQ_INT(rec.seen[0], 1);
	CHECK_EQ_INT(rec.seen[1], 6);
	CHECK_EQ_INT(rec.seen[4], 9);
}

TEST(full_queue_drops_the_oldest_and_stop_drains_what_is_left)
{
	run_queue_case(failed, true);
}

TEST(stop_drops_the_queue_of_a_sink_that_does_not_drain)
{
	run_queue_case(failed, false);
}

TEST(sink_start_refuses_incomplete_ops)
{
	struct sink_ops no_round = {.name = "x"};
	struct sink *s = NULL;

	CHECK_EQ_INT(sink_start(&no_round, NULL, 1, &s), -EINVAL);
	CHECK_EQ_INT(sink_start(NULL, NULL, 1, &s), -EINVAL);
	CHECK(s == NULL);
	CHECK(sink_stop(NULL) == NULL);
}

TEST_MAIN()
