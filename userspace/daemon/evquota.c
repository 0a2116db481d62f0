// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* evquota.c - per-type token buckets for stored events (see evquota.h). */
#include <math.h>
#include <string.h>

#include "collection/events.h"
#include "daemon/evquota.h"

void evquota_init(struct evquota *q, double rate, double burst_s)
{
	memset(q, 0, sizeof(*q));
	q->rate = rate > 0 ? rate : 0;
	q->burst = fmax(1.0, q->rate * burst_s);
	for (unsigned t = 0; t < KP_EV_TYPE_MAX; t++)
		q->type[t].tokens = q->burst;
}

static int type_index(const char *name)
{
	for (unsigned t = 1; t < KP_EV_TYPE_MAX; t++) {
		const char *n = event_type_name(t);

		if (n && !strcmp(n, name))
			return (int)t;
	}
	return -1;
}

bool evquota_take(struct evquota *q, const char *type, double now)
{
	int t = q->rate > 0 && type ? type_index(type) : -1;

	if (t < 0)
		return true;
	if (q->type[t].last > 0 && now > q->type[t].last)
		q->type[t].tokens =
		    fmin(q->burst, q->type[t].tokens + (now - q->type[t].last) * q->rate);
	if (now > q->type[t].last)
		q->type[t].last = now;
	if (q->type[t].tokens >= 1) {
		q->type[t].tokens -= 1;
		return true;
	}
	atomic_fetch_add(&q->type[t].unstored, 1);
	return false;
}

uint64_t evquota_unstored(const struct evquota *q, unsigned type)
{
	return type < KP_EV_TYPE_MAX ? atomic_load(&q->type[type].unstored) : 0;
}
