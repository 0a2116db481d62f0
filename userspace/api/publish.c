// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * publish.c - how a round reaches the API: api_on_round(), which the
 * daemon calls once per interval, and api_round_get()/api_round_put(),
 * through which handlers read the latest round. Also the daemon's other
 * hand-off, the probe counts.
 *
 * Contracts: the API holds one reference to the latest round (round.h)
 * and drops it when the next round replaces it; nothing is copied. A
 * handler holds a reference of its own while it reads, so a round that
 * was replaced lives until its last reader is done. a->lock is held only
 * to swap or take a pointer, and api_on_round() never waits on an HTTP
 * client: stream clients get the round serialized once, and stream.c only
 * queues it.
 *
 * The round's events array is shared with the handlers that put it into
 * their answers (json_object_set). That only moves its reference count,
 * which jansson changes atomically when built with atomic builtins, as
 * checked below; the array itself is never changed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/api_internal.h"

_Static_assert(JSON_HAVE_ATOMIC_BUILTINS || JSON_HAVE_SYNC_BUILTINS,
	       "handlers share a round's events: jansson's reference counts must be atomic");

struct round *api_round_get(struct api *a)
{
	struct round *r;

	pthread_mutex_lock(&a->lock);
	r = a->round ? round_ref(a->round) : NULL;
	pthread_mutex_unlock(&a->lock);
	return r;
}

void api_round_put(struct round *r)
{
	round_unref(r);
}

/* The round as one `round` server-sent event, for every stream client. */
static int stream_round(struct api *a, const struct round *r)
{
	json_t *live = api_live_json(a, r);
	char *data = live ? json_dumps(live, JSON_COMPACT) : NULL;
	char *msg = NULL;
	int len;

	json_decref(live);
	if (!data)
		return -ENOMEM;
	len = asprintf(&msg, "event: round\ndata: %s\n\n", data);
	free(data);
	if (len < 0)
		return -ENOMEM;
	api_stream_publish(a, msg, (size_t)len);
	free(msg);
	return 0;
}

int api_on_round(struct api *a, struct round *r)
{
	struct round *old;
	bool streaming;

	if (!a || !r)
		return -EINVAL;
	round_ref(r);
	pthread_mutex_lock(&a->lock);
	old = a->round;
	a->round = r;
	a->rounds++;
	pthread_mutex_unlock(&a->lock);
	round_unref(old);

	pthread_mutex_lock(&a->stream_lock);
	streaming = a->stream_count > 0;
	pthread_mutex_unlock(&a->stream_lock);
	return streaming ? stream_round(a, r) : 0;
}

void api_set_probes(struct api *a, size_t attached, size_t total)
{
	pthread_mutex_lock(&a->lock);
	a->probes_attached = attached;
	a->probes_total = total;
	pthread_mutex_unlock(&a->lock);
}

void api_set_predictions(struct api *a, struct threshold_tracker *tr)
{
	pthread_mutex_lock(&a->lock);
	a->predictions = tr;
	pthread_mutex_unlock(&a->lock);
}

void api_set_analysis(struct api *a, struct incidents *inc, struct llm_router *llm,
		      struct alerts *al)
{
	pthread_mutex_lock(&a->lock);
	a->incidents = inc;
	a->llm = llm;
	a->alerts = al;
	pthread_mutex_unlock(&a->lock);
}
