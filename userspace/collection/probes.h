/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * probes.h - loads and attaches kpulse's BPF programs. Four program
 * objects (sched, mem, block, net) load independently, so one that the
 * kernel refuses does not take the others down. For every tracepoint the
 * loader prefers the tp_btf entry point and falls back to raw_tp, deciding
 * by feature probes (vmlinux BTF, tracefs) and by what the kernel accepts,
 * never by version numbers. Each probe's outcome is kept with its reason.
 */
#ifndef KPULSE_PROBES_H
#define KPULSE_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum probe_subsystem {
	PROBE_SCHED,
	PROBE_MEM,
	PROBE_BLOCK,
	PROBE_NET,
	PROBE_SUBSYSTEM_NR,
};

enum probe_state {
	PROBE_ATTACHED,
	PROBE_FAILED,	   /* the kernel refused it; error says why */
	PROBE_UNSUPPORTED, /* this kernel has no such tracepoint */
	PROBE_NOT_NEEDED,  /* an alternative hook does its work here */
};

enum probe_attach {
	PROBE_ATTACH_NONE,
	PROBE_ATTACH_TP_BTF,
	PROBE_ATTACH_RAW_TP,
};

struct probe_info {
	const char *tracepoint; /* "sched:sched_switch" */
	enum probe_subsystem subsystem;
	enum probe_state state;
	enum probe_attach attach;
	char error[160];
};

struct probes_options {
	uint64_t slow_io_ns;  /* block I/Os at least this slow become events; 0 = none */
	uint32_t cgroup_hier; /* enum kp_cgroup_hier: what keys per-cgroup CPU time */
};

/* Called for each ring-buffer record: data points at a struct that starts
 * with struct kp_event_hdr; size is what the kernel submitted. */
typedef void (*probes_event_fn)(void *ctx, const void *data, size_t size);

struct probes;

/*
 * Loads and attaches everything this kernel allows. Succeeds when at least
 * one probe attached; per-probe failures are recorded, not returned.
 * Returns 0, -EPERM (missing privilege), -ENOENT (nothing could attach),
 * or another -errno. On failure nothing is left loaded.
 */
int probes_open(const struct probes_options *opts, probes_event_fn on_event, void *ctx,
		struct probes **ret);
struct probes *probes_close(struct probes *p);

size_t probes_count(const struct probes *p);
const struct probe_info *probes_at(const struct probes *p, size_t i);
size_t probes_attached(const struct probes *p);

const char *probe_subsystem_name(enum probe_subsystem s);
const char *probe_state_name(enum probe_state s);
const char *probe_attach_name(enum probe_attach a);

/* Delivers pending ring-buffer events to on_event, waiting up to
 * timeout_ms. Returns the number delivered or -errno (-EINTR included). */
int probes_poll_events(struct probes *p, int timeout_ms);

/* Map fds for the collector's readers; -1 when the subsystem did not load. */
int probes_map_fd(const struct probes *p, enum probe_subsystem s, const char *map_name);
/* The shared per-process map (struct kp_proc_stat per CPU, keyed by tgid). */
int probes_proc_stats_fd(const struct probes *p);
bool probes_subsystem_loaded(const struct probes *p, enum probe_subsystem s);

/* Ids of the loaded programs, for `kpulse probes --json` and make bench. */
size_t probes_prog_ids(const struct probes *p, uint32_t *ids, size_t max);
/* Id of the program attached for probe i (as probes_at), 0 when none. */
uint32_t probes_prog_id(const struct probes *p, size_t i);

#endif /* KPULSE_PROBES_H */
