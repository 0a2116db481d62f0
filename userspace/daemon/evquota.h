/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * evquota.h - how many events of each type the store keeps.
 *
 * A fork storm sends thousands of fork and exit events a second; stored
 * one row each, they would fill the disk faster than every series
 * together. Each event type has a token bucket: rate events a second on
 * average, bursts of burst_s seconds' worth. Events past it still reach
 * the live stream, the models and the incidents of their round; only the
 * store leaves them out, and they are counted per type
 * (kpulse_store_events_unstored_total{type}).
 *
 * Contracts: one thread takes (the store sink's); any thread may read the
 * counts. Time is passed in, so the buckets are tested without waiting,
 * and a clock stepping back never refuses more.
 */
#ifndef KPULSE_DAEMON_EVQUOTA_H
#define KPULSE_DAEMON_EVQUOTA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "kpulse_abi.h"

/* The daemon's bursts: a minute's worth of each type. On a busy build
 * host here (compilers and test suites), fork, exit, exec and tcp_close
 * events came at 9 to 18 a second each and took 8 times the disk of every
 * series' samples together; a quiet server stays far below. */
#define EVQUOTA_BURST_S 60

struct evquota {
	double rate;  /* events a second per type; 0: no limit */
	double burst; /* bucket size, in events */
	struct {
		double tokens, last;
		atomic_uint_fast64_t unstored;
	} type[KP_EV_TYPE_MAX];
};

void evquota_init(struct evquota *q, double rate, double burst_s);
/* true when an event of type (its name, as in events.c) at wall time now
 * may be stored; false counts it as unstored. Unknown types pass (the
 * store judges them). */
bool evquota_take(struct evquota *q, const char *type, double now);
/* Events of type (KP_EV_*) left out so far. */
uint64_t evquota_unstored(const struct evquota *q, unsigned type);

#endif
