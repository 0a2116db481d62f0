/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * round.h - one collection round, frozen: the registry as the round left
 * it and the kernel events that arrived during it. The daemon builds one
 * per interval and hands the same object to every sink (store, API,
 * models, alerts, exporters); nobody copies it again and nobody changes
 * it. It lives until the last holder drops its reference.
 *
 * Thread safety: round_ref() and round_unref() may be called from any
 * thread. Readers use the const registry functions (registry_at() on a
 * frozen registry never writes: it was sorted when it was frozen) and
 * read the events with jansson's getters only. Sharing the events array
 * between threads (json_incref/json_decref from several sinks) relies on
 * jansson's reference counts being atomic, which they are since 2.11 when
 * built with atomic builtins (Debian's 2.14 is; api/publish.c asserts it).
 */
#ifndef KPULSE_DAEMON_ROUND_H
#define KPULSE_DAEMON_ROUND_H

#include <stdatomic.h>
#include <stdint.h>

#include <jansson.h>

#include "registry/registry.h"

struct round {
	atomic_int refs;
	uint64_t seq;		    /* 1 for the daemon's first round */
	double timestamp;	    /* wall clock, unix seconds (registry_timestamp) */
	double interval_s;	    /* what the round covers (registry_interval) */
	const struct registry *reg; /* frozen: every series of the round */
	json_t *events;		    /* array of event objects, never NULL */
	json_t *processes;	    /* the busiest pids (collector_take_processes), or NULL */
	/* The custom series clients pushed (POST /api/v1/metrics), as they
	 * stood at the round, or NULL. Not part of reg: the API stores and
	 * exports them itself; the models read them from here. */
	const struct registry *custom;
};

/*
 * Freezes the current round of live: a copy of its series (made once, for
 * every consumer), and events (a JSON array, stolen: the round owns it from
 * here on; NULL for none). Returns the round with one reference, or NULL on
 * ENOMEM (events are released then too).
 */
struct round *round_freeze(const struct registry *live, json_t *events, uint64_t seq);

/* Takes one more reference; returns r. */
struct round *round_ref(struct round *r);
/* Drops one reference, freeing the round with the last. Accepts NULL;
 * returns NULL. */
struct round *round_unref(struct round *r);

#endif /* KPULSE_DAEMON_ROUND_H */
