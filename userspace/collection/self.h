/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * self.h - what kpulse costs: its build, CPU seconds, memory, open file
 * descriptors, and each BPF program's run time when the kernel keeps BPF
 * run-time stats (sysctl kernel.bpf_stats_enabled=1; kpulse never turns
 * them on, they cost two clock reads per program run).
 */
#ifndef KPULSE_SELF_H
#define KPULSE_SELF_H

#include <stddef.h>
#include <stdint.h>

#include "registry/registry.h"

/* Size and resident set, in pages, from /proc/PID/statm text. Returns 0
 * or -EINVAL; the out-params only on success. */
int self_parse_statm(const char *text, uint64_t *ret_size_pages, uint64_t *ret_resident_pages);

/* starttime (field 22, clock ticks after boot) from /proc/PID/stat text;
 * the command name in parentheses may hold spaces and parentheses.
 * Returns 0 or -EINVAL. */
int self_parse_stat_starttime(const char *text, uint64_t *ret_ticks);

/* One attached BPF program, named like kpulse_probe_up. */
struct self_program {
	const char *probe;  /* "sched:sched_switch" */
	const char *attach; /* "tp_btf" */
	uint32_t prog_id;
};

struct self;

int self_new(const char *proc_root, struct self **ret);
struct self *self_free(struct self *s);

/* The programs to report, copied; each is opened once by id. A program
 * that cannot be opened is left out. Returns 0 or -ENOMEM. */
int self_set_programs(struct self *s, const struct self_program *progs, size_t n);

/* One round: kpulse_build_info{version}, kpulse_process_cpu_seconds_total,
 * _resident_memory_bytes, _virtual_memory_bytes, _open_fds, _max_fds,
 * _start_time_seconds; kpulse_bpf_stats_enabled and, once the kernel has
 * counted runs, kpulse_bpf_program_runs_total and
 * kpulse_bpf_program_run_seconds_total {probe,attach}. Returns 0 or the
 * registry's error. */
int self_sample(struct self *s, struct registry *r, uint64_t boot_time);
void self_describe(struct registry *r);

#endif /* KPULSE_SELF_H */
