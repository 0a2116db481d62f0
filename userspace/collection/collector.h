/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * collector.h - one collection round: reads every BPF map and /proc gauge
 * into the metric registry, and buffers the ring-buffer events that
 * arrived since the last round. The daemon, `kpulse dump` and `kpulse top`
 * all collect through this.
 */
#ifndef KPULSE_COLLECTOR_H
#define KPULSE_COLLECTOR_H

#include <stdint.h>

#include <jansson.h>

#include "collection/cgroups.h"
#include "collection/probes.h"
#include "collection/procpass.h"
#include "registry/registry.h"

struct collector_options {
	unsigned top_k;		   /* per-process rows per metric (and per-cgroup rows) */
	bool per_pid_series;	   /* per-process series by pid, not by name and cgroup */
	enum cgroups_mode cgroups; /* which hierarchy names cgroups (0: auto) */
	uint64_t slow_io_ns;	   /* block I/Os at least this slow become events */
	unsigned max_events;	   /* events buffered between rounds; more are counted, not kept */
	struct procpass_options proc; /* the /proc pass; zeroed takes the defaults */
};

#define COLLECTOR_DEFAULT_TOP_K	     10
#define COLLECTOR_DEFAULT_MAX_EVENTS 10000

struct collector;

/* Loads the probes (see probes_open() for the errors) and sets up the
 * /proc pass (-ENAMETOOLONG for a list option too long). */
int collector_new(const struct collector_options *opts, struct collector **ret);
struct collector *collector_free(struct collector *c);

const struct probes *collector_probes(const struct collector *c);

/* Waits up to timeout_ms for ring-buffer events and buffers them.
 * Returns the number received or -errno (-EINTR on a signal). */
int collector_poll(struct collector *c, int timeout_ms);

/* One round: registry_begin() .. registry_end() with every series.
 * Returns 0 or -ENOMEM. A map that cannot be read is skipped. */
int collector_sample(struct collector *c, struct registry *r);

/* The same series without begin/end, for a caller that adds its own
 * series (the daemon's health) to the same round. */
int collector_collect(struct collector *c, struct registry *r);

/* Changes the number of per-process rows from the next round on. */
void collector_set_top_k(struct collector *c, unsigned top_k);

/* Per-process series by pid (true) or by name and cgroup, from the next
 * round on. */
void collector_set_per_pid_series(struct collector *c, bool per_pid);

/* The busiest processes of the last round, by pid (procs_take_json());
 * the caller owns it; NULL when there is none. */
json_t *collector_take_processes(struct collector *c);

/* The events buffered since the last call, oldest first, as a JSON array
 * the caller owns (never NULL unless out of memory). */
json_t *collector_take_events(struct collector *c);

#endif /* KPULSE_COLLECTOR_H */
