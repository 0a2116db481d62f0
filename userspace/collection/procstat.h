/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * procstat.h - /proc/stat and /proc/loadavg: CPU seconds per CPU and mode,
 * processes running and blocked, boot time, load averages. The kernel
 * keeps these exactly; one read of each file per round.
 */
#ifndef KPULSE_PROCSTAT_H
#define KPULSE_PROCSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry/registry.h"

/* The columns of a cpuN line, in the kernel's order. */
enum procstat_mode {
	PROCSTAT_USER, /* includes guest time, as in the kernel */
	PROCSTAT_NICE,
	PROCSTAT_SYSTEM,
	PROCSTAT_IDLE,
	PROCSTAT_IOWAIT,
	PROCSTAT_IRQ,
	PROCSTAT_SOFTIRQ,
	PROCSTAT_STEAL,
	PROCSTAT_MODE_NR,
};

/* "user", "nice", ... "steal"; NULL out of range. */
const char *procstat_mode_name(enum procstat_mode m);

struct procstat_cpu {
	unsigned cpu;
	/* Modes the line has: 4 on 2.4 kernels, 7 from 2.6.0, 8 (steal)
	 * from 2.6.11; later columns (guest) are not read. */
	unsigned nmodes;
	uint64_t ticks[PROCSTAT_MODE_NR]; /* USER_HZ ticks */
};

/* What one /proc/stat text holds. The parser owns cpus (grown as needed);
 * procstat_text_clear() frees it. */
struct procstat_text {
	struct procstat_cpu *cpus;
	size_t ncpus, cap;
	uint64_t procs_running, procs_blocked, boot_time;
	bool has_procs_running, has_procs_blocked, has_boot_time;
	unsigned malformed; /* lines of ours that did not parse, or a cut last line */
};

/*
 * Parses /proc/stat text: the cpuN lines (not the "cpu" total),
 * procs_running, procs_blocked and btime; other lines are skipped unread.
 * Returns 0, -EINVAL when there is no cpuN line at all, or -ENOMEM. The
 * fields are reset first; cpus is reused.
 */
int procstat_parse_stat(const char *text, struct procstat_text *ret);
void procstat_text_clear(struct procstat_text *t);

struct loadavg {
	double load1, load5, load15;
};

/* "0.52 0.58 0.59 2/189 12345": the first three numbers. Returns 0 or
 * -EINVAL; *ret only on success. */
int procstat_parse_loadavg(const char *text, struct loadavg *ret);

struct procstat;

/* Readers of proc_root/stat and proc_root/loadavg. Returns 0, -ENOMEM or
 * -ENAMETOOLONG. */
int procstat_new(const char *proc_root, struct procstat **ret);
struct procstat *procstat_free(struct procstat *ps);

/* One round: kpulse_cpu_seconds_total{cpu,mode}, kpulse_procs_running,
 * kpulse_procs_blocked, kpulse_boot_time_seconds, kpulse_load1/5/15 and
 * the files' kpulse_procfs_errors_total. A file that cannot be read
 * leaves its series out of the round. Returns 0 or the registry's error. */
int procstat_sample(struct procstat *ps, struct registry *r);
/* Boot time (unix seconds) from the last /proc/stat read; 0 before. */
uint64_t procstat_boot_time(const struct procstat *ps);

/* Help texts of the series above. */
void procstat_describe(struct registry *r);

#endif /* KPULSE_PROCSTAT_H */
