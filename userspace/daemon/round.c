// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * round.c - the frozen, reference-counted round (see round.h).
 */
#include <stdlib.h>

#include "daemon/round.h"

struct round *round_freeze(const struct registry *live, json_t *events, uint64_t seq)
{
	struct round *r = calloc(1, sizeof(*r));
	struct registry *copy = NULL;

	if (!r)
		goto fail;
	copy = registry_copy(live);
	if (!copy)
		goto fail;
	if (!events)
		events = json_array();
	if (!events)
		goto fail;
	atomic_init(&r->refs, 1);
	r->seq = seq;
	r->timestamp = registry_timestamp(live);
	r->interval_s = registry_interval(live);
	r->reg = copy;
	r->events = events;
	return r;
fail:
	registry_free(copy);
	json_decref(events);
	free(r);
	return NULL;
}

struct round *round_ref(struct round *r)
{
	atomic_fetch_add_explicit(&r->refs, 1, memory_order_relaxed);
	return r;
}

struct round *round_unref(struct round *r)
{
	if (!r || atomic_fetch_sub_explicit(&r->refs, 1, memory_order_acq_rel) != 1)
		return NULL;
	registry_free((struct registry *)r->reg);
	json_decref(r->events);
	json_decref(r->processes);
	registry_free((struct registry *)r->custom);
	free(r);
	return NULL;
}
