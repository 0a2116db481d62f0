// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * sink.c - a sink's thread and its bounded queue of rounds (see sink.h).
 * The queue is a ring of round references under one mutex; the daemon's
 * thread only ever takes that mutex for a few instructions.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "daemon/sink.h"
#include "util/clock.h"

struct sink {
	const struct sink_ops *ops;
	void *ctx;
	pthread_t thread;

	pthread_mutex_t lock; /* everything below */
	pthread_cond_t wake;
	struct round **ring;
	size_t cap, head, len;
	bool stopping;
	uint64_t done, dropped;
	double busy_s;
};

static void *sink_main(void *arg)
{
	struct sink *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct round *r;
		double t0;

		while (s->len == 0 && !s->stopping)
			pthread_cond_wait(&s->wake, &s->lock);
		if (s->len == 0)
			break; /* stopping, and nothing left */
		r = s->ring[s->head];
		s->head = (s->head + 1) % s->cap;
		s->len--;
		pthread_mutex_unlock(&s->lock);

		t0 = clock_mono_s();
		s->ops->on_round(s->ctx, r);
		round_unref(r);

		pthread_mutex_lock(&s->lock);
		s->done++;
		s->busy_s += clock_mono_s() - t0;
	}
	pthread_mutex_unlock(&s->lock);
	if (s->ops->on_stop)
		s->ops->on_stop(s->ctx);
	return NULL;
}

int sink_start(const struct sink_ops *ops, void *ctx, size_t queue_len, struct sink **ret)
{
	struct sink *s;
	int r;

	if (!ops || !ops->name || !ops->on_round || !ret)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cap = queue_len ? queue_len : SINK_DEFAULT_QUEUE;
	s->ring = calloc(s->cap, sizeof(*s->ring));
	if (!s->ring) {
		free(s);
		return -ENOMEM;
	}
	s->ops = ops;
	s->ctx = ctx;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	r = pthread_create(&s->thread, NULL, sink_main, s);
	if (r) {
		pthread_cond_destroy(&s->wake);
		pthread_mutex_destroy(&s->lock);
		free(s->ring);
		free(s);
		return -r;
	}
	*ret = s;
	return 0;
}

void sink_push(struct sink *s, struct round *r)
{
	struct round *dropped = NULL;

	pthread_mutex_lock(&s->lock);
	if (s->len == s->cap) {
		dropped = s->ring[s->head];
		s->head = (s->head + 1) % s->cap;
		s->len--;
		s->dropped++;
	}
	s->ring[(s->head + s->len) % s->cap] = round_ref(r);
	s->len++;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	/* Freeing the last reference can take a while: not under the lock. */
	round_unref(dropped);
}

struct sink *sink_stop(struct sink *s)
{
	if (!s)
		return NULL;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	while (!s->ops->drain_on_stop && s->len > 0) {
		round_unref(s->ring[s->head]);
		s->head = (s->head + 1) % s->cap;
		s->len--;
		s->dropped++;
	}
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s->ring);
	free(s);
	return NULL;
}

const char *sink_name(const struct sink *s)
{
	return s->ops->name;
}

void sink_get_stats(struct sink *s, struct sink_stats *ret)
{
	pthread_mutex_lock(&s->lock);
	ret->rounds_done = s->done;
	ret->rounds_dropped = s->dropped;
	ret->queued = s->len;
	ret->busy_s = s->busy_s;
	pthread_mutex_unlock(&s->lock);
}
