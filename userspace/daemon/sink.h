/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * sink.h - how every consumer of the daemon's rounds plugs in. A sink is a
 * name and two callbacks; the daemon hands each finished round to every
 * sink, and each sink runs on a thread of its own behind a bounded queue,
 * so a slow or stuck sink never delays collection: when its queue is full
 * the oldest round waiting for it is dropped and counted (the sink then
 * sees the newest data when it catches up).
 *
 * Contracts for a sink's callbacks:
 *   - on_round runs on the sink's thread, one round at a time, in order;
 *     the round is valid during the call (round_ref() to keep it longer)
 *     and must not be changed.
 *   - on_round must return in bounded time: sink_stop() waits for the
 *     call in progress (and, with drain_on_stop, for the rounds queued).
 *   - on_stop (may be NULL) runs on the sink's thread after the last
 *     round, so a sink can flush what it buffers without locks.
 *   - A sink never calls into another sink.
 */
#ifndef KPULSE_DAEMON_SINK_H
#define KPULSE_DAEMON_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/round.h"

struct sink_ops {
	const char *name; /* [a-z_]+: the sink label of its metrics */
	void (*on_round)(void *ctx, struct round *r);
	void (*on_stop)(void *ctx);
	/* At stop, finish every queued round (the store: nothing collected
	 * may be lost) rather than drop them (a view that only shows the
	 * newest round). */
	bool drain_on_stop;
};

/* The queue length when the caller passes 0. */
#define SINK_DEFAULT_QUEUE 8

struct sink;

struct sink_stats {
	uint64_t rounds_done;	 /* on_round calls that returned */
	uint64_t rounds_dropped; /* dropped because the queue was full */
	uint64_t queued;	 /* waiting now */
	double busy_s;		 /* time spent in on_round, all rounds */
};

/*
 * Starts a sink's thread. ops must outlive the sink; ctx is passed to its
 * callbacks. queue_len 0 means SINK_DEFAULT_QUEUE. Returns 0 and *ret, or
 * -EINVAL, -ENOMEM, or the error of pthread_create (negative).
 */
int sink_start(const struct sink_ops *ops, void *ctx, size_t queue_len, struct sink **ret);

/* Queues a reference to r for the sink, dropping (and counting) the oldest
 * queued round when the queue is full. Never blocks on the sink. */
void sink_push(struct sink *s, struct round *r);

/* Lets the sink finish the rounds already queued (drain_on_stop) or drops
 * them (counted), runs on_stop, joins its thread and frees it. Accepts
 * NULL; returns NULL. */
struct sink *sink_stop(struct sink *s);

const char *sink_name(const struct sink *s);
void sink_get_stats(struct sink *s, struct sink_stats *ret);

#endif /* KPULSE_DAEMON_SINK_H */
