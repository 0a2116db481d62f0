/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * procs.h - a short history of the per-process counters of recent rounds
 * (on-CPU time, run-queue delay, I/O bytes, page faults of the processes
 * the collector ranks), kept by the incidents sink so that the evidence
 * can rank processes without querying the store: a store query matches
 * every process series ever stored, which soon passes its series limit.
 *
 * A sample is taken at most every period_s; samples older than span_s go.
 * At most PROCS_PER_SAMPLE processes per sample (the collector ranks the
 * busiest). Thread-safe: observed on the sink's thread, read from any.
 */
#ifndef KPULSE_ANALYSIS_PROCS_H
#define KPULSE_ANALYSIS_PROCS_H

#include <stddef.h>

#include <jansson.h>

#include "registry/registry.h"

#define PROCS_PER_SAMPLE  64
#define PROCS_SAMPLES_MAX 1200

struct proc_history;

/* NULL on ENOMEM or a period or span that is not > 0. */
struct proc_history *proc_history_new(double period_s, double span_s);
/* Accepts NULL; returns NULL. */
struct proc_history *proc_history_free(struct proc_history *h);

/* Takes the per-process counters of a round stamped t (a sample when the
 * last one is period_s old). */
void proc_history_observe(struct proc_history *h, const struct registry *reg, double t);

/*
 * The processes of [from, to] against [baseline_from, from), as the
 * evidence's "top_processes": {"cpu": [{"comm", "pid", "baseline",
 * "current"}], "runqueue", "io_bytes", "page_faults"}, per second, each
 * list ranked by rise (current - baseline), at most top long. Returns 0
 * and *ret, -ERANGE when the history does not reach back to from (or has
 * nothing after it), -ENOMEM.
 */
int proc_history_top(struct proc_history *h, double baseline_from, double from, double to,
		     size_t top, json_t **ret);

#endif /* KPULSE_ANALYSIS_PROCS_H */
