/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * procs.h - per-process figures: reads the shared per-process map and the
 * per-CPU caches of the sched, mem and block programs, and turns them into
 * a bounded set of series. By default processes are summed by name and
 * cgroup (a thousand short `sh` are one series); per-pid series are an
 * option. Either way the busiest processes by pid, with their cgroup, are
 * kept as JSON for GET /api/v1/processes, which is no series at all.
 */
#ifndef KPULSE_PROCS_H
#define KPULSE_PROCS_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "collection/probes.h"
#include "registry/registry.h"

struct cgroups;
struct procs;

/* Most (name, cgroup) groups remembered; beyond it new groups count only
 * in the "other processes" series. */
#define PROCS_MAX_GROUPS 4096
/* A group idle this many rounds is forgotten (its series is long gone). */
#define PROCS_GROUP_IDLE_ROUNDS 1000

/* probes and cg are borrowed and must outlive p (cg may be NULL: no
 * cgroup label). Returns 0 or -ENOMEM. */
int procs_new(const struct probes *probes, struct cgroups *cg, int ncpus, unsigned top_k,
	      bool per_pid, struct procs **ret);
struct procs *procs_free(struct procs *p);

void procs_set_top_k(struct procs *p, unsigned top_k);
void procs_set_per_pid(struct procs *p, bool per_pid);

/* One round: the per-process series (top K per metric, the rest in
 * kpulse_*_other_processes_*) and the JSON of the busiest pids. Returns
 * 0 or -ENOMEM. */
int procs_sample(struct procs *p, struct registry *r);

/* The busiest processes of the last round: [{"pid", "comm", "cgroup",
 * "metrics": {"name{op=...}": value}}], owned by the caller; NULL before
 * the first round or on ENOMEM. */
json_t *procs_take_json(struct procs *p);

/* A ring-buffer record: fork, exec and exit events name processes (the
 * rows of those already gone keep that name) and exit events carry their
 * final page-fault count; other records are ignored. */
void procs_note_event(struct procs *p, const void *data, size_t size);
/* The cgroup (id in the naming hierarchy) an exec, fork or exit event gave
 * tgid: the cgroup of a process gone before its /proc/PID/cgroup was read.
 * Bounded: one slot per tgid modulo PROCS_EVENT_SLOTS, newest wins. */
#define PROCS_EVENT_SLOTS 4096
void procs_note_cgroup(struct procs *p, uint32_t tgid, uint64_t cgroup_id);

/* Groups remembered now (for tests and the bound). */
size_t procs_group_count(const struct procs *p);

#endif /* KPULSE_PROCS_H */
