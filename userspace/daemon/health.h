/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * health.h - the daemon's own health, written into each round next to the
 * kernel's series: the store's counters (written, dropped, buffered,
 * latency, size, writable) and each sink's (rounds done, dropped, queued).
 */
#ifndef KPULSE_DAEMON_HEALTH_H
#define KPULSE_DAEMON_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "daemon/evquota.h"
#include "daemon/sink.h"
#include "registry/registry.h"
#include "store/store.h"

/* Attaches the help texts of the health series (once, at start).
 * Returns 0 or -ENOMEM. */
int health_describe(struct registry *r);

/* The daemon's own counters among the health series. */
struct health_counts {
	uint64_t events_rejected; /* events the store refused */
	uint64_t rounds_skipped;  /* rounds a late loop did not collect */
};

/* Adds the series to the round r has open; quota counts the events the
 * store was not given (NULL: none). Returns 0 or -ENOMEM (some series may
 * be missing). */
int health_add(struct registry *r, struct store *s, struct sink *const *sinks, size_t nsinks,
	       const struct health_counts *counts, const struct evquota *quota);

/* Logs the moments the store starts failing, fails differently, and
 * recovers: one line each, not one per round. *last_error carries the
 * state from call to call (start at 0). */
void health_log_store(struct store *s, int *last_error);

#endif /* KPULSE_DAEMON_HEALTH_H */
