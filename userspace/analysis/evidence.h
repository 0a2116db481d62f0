/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * evidence.h - the evidence record of a time window, built from what the
 * daemon already has in its store: the window [from, to] compared with
 * the baseline before it ([from - baseline_s, from)).
 *
 *   {"window": {"from", "to", "baseline_from"},
 *    "signals": [the incident's parts, as given],
 *    "anomalous": [{"series", "baseline", "current"}],
 *    "correlated": [{"series", "with", "r", "baseline", "current"}],
 *    "indicators": {"cpu_busy_cpus": {"baseline", "current"}, ...,
 *                   "block_utilization": {"vda": {"baseline", "current"}}, ...},
 *    "pressure": {"cpu_waiting": {...}, "memory_stalled": {...}, ...},
 *    "top_processes": {"cpu": [{"comm", "pid", "baseline", "current"}], "runqueue",
 *                      "io_bytes", "page_faults"} (each ranked by its rise,
 *                      current - baseline: the process that started the
 *                      trouble before one that was as busy already),
 *    "cgroups": [{"memcg", "oom_kills"}],
 *    "events": {"oom_kill": {"count", "items"}, "slow_io": {"count", "by_device"},
 *               "tcp_retransmit": {"count", "by_peer"}, "exec": {"count", "per_s",
 *               "by_comm", "by_parent"}},
 *    "ncpu", "notes": [what could not be read]}
 *
 * Values are per second for counters ("rate"), the 99th percentile for
 * histograms, the mean for gauges; null where the store has no sample.
 * A part of the record that cannot be read (a store error, too many
 * series) is left out and named in "notes": evidence is best effort.
 */
#ifndef KPULSE_ANALYSIS_EVIDENCE_H
#define KPULSE_ANALYSIS_EVIDENCE_H

#include <stddef.h>

#include <jansson.h>

#include "analysis/procs.h"
#include "store/store.h"

/* Series keys looked at for correlation, and the most ranked. */
#define EVIDENCE_SERIES_MAX	8
#define EVIDENCE_CORRELATED_MAX 8
#define EVIDENCE_TOP_PROCESSES	8

struct evidence_request {
	double from, to;   /* the window, unix seconds, from < to */
	double baseline_s; /* > 0 */
	/* The anomalous series, keys "name{k=v,...}:stat" (stat rate, p99 or
	 * value); at most EVIDENCE_SERIES_MAX are used. */
	const char *const *series;
	size_t nseries;
	json_t *signals; /* copied into "signals" when not NULL (borrowed) */
	/* The per-process history of recent rounds (borrowed; NULL: none):
	 * the top processes come from it when it covers the window, from the
	 * store otherwise. */
	struct proc_history *procs;
};

/* Builds the record. Returns 0 and *ret (an object the caller owns),
 * -EINVAL (a window that is not one) or -ENOMEM. */
int evidence_build(struct store *s, const struct evidence_request *req, json_t **ret);

/* Splits a series key "name{k=v,...}:stat" into its name (into name,
 * namelen bytes), matchers pointing into buf (len bytes), and its stat.
 * Returns 0 or -EINVAL. */
int evidence_parse_key(const char *key, char *buf, size_t len, struct store_selector *sel,
		       const char **ret_stat);

#endif /* KPULSE_ANALYSIS_EVIDENCE_H */
