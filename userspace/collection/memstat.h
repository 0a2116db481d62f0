/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * memstat.h - /proc/meminfo and /proc/vmstat: memory in use by kind
 * (free, available, cached, buffers, dirty, writeback, slab, shmem,
 * anonymous, swap) and the kernel's exact counters of swap traffic and
 * major faults.
 */
#ifndef KPULSE_MEMSTAT_H
#define KPULSE_MEMSTAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry/registry.h"

/* The keys kpulse reads, in table order (memstat.c maps each to a series). */
enum memstat_key {
	MEMSTAT_MEM_TOTAL,
	MEMSTAT_MEM_FREE,
	MEMSTAT_MEM_AVAILABLE, /* since 3.14 */
	MEMSTAT_BUFFERS,
	MEMSTAT_CACHED,
	MEMSTAT_SWAP_CACHED,
	MEMSTAT_DIRTY,
	MEMSTAT_WRITEBACK,
	MEMSTAT_ANON_PAGES,
	MEMSTAT_SHMEM, /* since 2.6.32 */
	MEMSTAT_SLAB,
	MEMSTAT_SRECLAIMABLE, /* since 2.6.19 */
	MEMSTAT_SUNRECLAIM,
	MEMSTAT_SWAP_TOTAL,
	MEMSTAT_SWAP_FREE,
	MEMSTAT_MEMINFO_NR,
	/* /proc/vmstat, in pages or events */
	MEMSTAT_PSWPIN = MEMSTAT_MEMINFO_NR,
	MEMSTAT_PSWPOUT,
	MEMSTAT_PGMAJFAULT,
	MEMSTAT_PGFAULT,
	MEMSTAT_KEY_NR,
};

/* Values of one text: bytes for meminfo keys, raw counts for vmstat. */
struct memstat_values {
	uint64_t v[MEMSTAT_KEY_NR];
	bool has[MEMSTAT_KEY_NR];
	unsigned malformed; /* lines of ours that did not parse, or a cut last line */
};

/*
 * Parses /proc/meminfo text ("Key:   123 kB" lines, "kB" meaning KiB)
 * into the meminfo keys, as bytes. Keys the text lacks stay unset. Returns
 * 0, or -EINVAL when MemTotal is missing or malformed; a malformed line of
 * another key is counted and skipped.
 */
int memstat_parse_meminfo(const char *text, struct memstat_values *ret);
/* Parses /proc/vmstat text ("key 123" lines) into the vmstat keys. Returns
 * 0, or -EINVAL when none of them is there. */
int memstat_parse_vmstat(const char *text, struct memstat_values *ret);

struct memstat;

int memstat_new(const char *proc_root, struct memstat **ret);
struct memstat *memstat_free(struct memstat *ms);

/* One round: the kpulse_mem_* gauges of /proc/meminfo, swap traffic in
 * bytes and page faults (all, major) from /proc/vmstat, and the files'
 * kpulse_procfs_errors_total. Returns 0 or the registry's error. */
int memstat_sample(struct memstat *ms, struct registry *r);
void memstat_describe(struct registry *r);

#endif /* KPULSE_MEMSTAT_H */
