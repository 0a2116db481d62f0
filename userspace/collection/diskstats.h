/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * diskstats.h - /proc/diskstats: which block devices exist (whole disks;
 * loop devices while bound, ram disks once used), the kernel's time
 * counters for each, and the figures iostat derives from them between two
 * rounds: utilisation, average queue size and read / write await.
 */
#ifndef KPULSE_DISKSTATS_H
#define KPULSE_DISKSTATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry/registry.h"

#define DISKSTATS_NAME_LEN 32 /* DISK_NAME_LEN */

/* The columns after major, minor and name, in the kernel's order. 11 up
 * to 4.17, 15 (discards) from 4.18, 17 (flushes) from 5.5. */
enum diskstats_col {
	DISKSTATS_READS,
	DISKSTATS_READS_MERGED,
	DISKSTATS_SECTORS_READ,
	DISKSTATS_READ_MS,
	DISKSTATS_WRITES,
	DISKSTATS_WRITES_MERGED,
	DISKSTATS_SECTORS_WRITTEN,
	DISKSTATS_WRITE_MS,
	DISKSTATS_IN_FLIGHT,
	DISKSTATS_IO_MS,       /* time with at least one I/O in flight ("io_ticks") */
	DISKSTATS_WEIGHTED_MS, /* sum over I/Os of their time in flight */
	DISKSTATS_DISCARDS,
	DISKSTATS_DISCARDS_MERGED,
	DISKSTATS_SECTORS_DISCARDED,
	DISKSTATS_DISCARD_MS,
	DISKSTATS_FLUSHES,
	DISKSTATS_FLUSH_MS,
	DISKSTATS_COL_NR,
};

struct diskstats_dev {
	unsigned major, minor;
	char name[DISKSTATS_NAME_LEN];
	unsigned ncols;		      /* 11, 15 or 17 */
	uint64_t v[DISKSTATS_COL_NR]; /* columns past ncols are 0 */
};

/* What one /proc/diskstats text holds. The parser owns devs (grown as
 * needed); diskstats_text_clear() frees it. */
struct diskstats_text {
	struct diskstats_dev *devs;
	size_t n, cap;
	unsigned malformed; /* lines that did not parse, or a cut last line */
};

/*
 * Parses /proc/diskstats text. Lines with fewer than 11 counters (the
 * 4-counter partition lines of 2.6 kernels) or malformed ones are counted
 * in malformed and skipped. Returns 0 or -ENOMEM; devs is reused.
 */
int diskstats_parse(const char *text, struct diskstats_text *ret);
void diskstats_text_clear(struct diskstats_text *t);

/* iostat's extended figures for one device over interval_s seconds. */
struct diskstats_iostat {
	double utilization;   /* %util / 100: share of the time with I/O in flight, 0..1 */
	double queue_length;  /* aqu-sz: average I/Os in flight */
	double read_await_s;  /* r_await: mean time of a completed read; 0 without reads */
	double write_await_s; /* w_await */
};

/* From two readings of one device. A counter that went backwards (a
 * device replaced under the same number) or interval_s <= 0 gives zeros. */
void diskstats_iostat(const struct diskstats_dev *prev, const struct diskstats_dev *cur,
		      double interval_s, struct diskstats_iostat *ret);

/* A listed device: the kernel's dev_t of the whole disk (major << 20 |
 * minor, as the BPF maps key it) and its name. */
struct diskstats_listed {
	uint32_t dev;
	const char *name;
};

struct diskstats;

/* sys_root is where "block/<name>" tells whole disks from partitions and
 * bound loop devices from free ones. max_devices bounds the devices
 * listed per round; the rest are counted in kpulse_block_devices_unlisted. */
int diskstats_new(const char *proc_root, const char *sys_root, unsigned max_devices,
		  struct diskstats **ret);
struct diskstats *diskstats_free(struct diskstats *ds);

/* One round: per listed device the time counters, I/Os in flight and the
 * iostat gauges (0 on a device's first round); kpulse_block_devices_unlisted;
 * the file's kpulse_procfs_errors_total. Returns 0 or the registry's error. */
int diskstats_sample(struct diskstats *ds, struct registry *r);

/* The devices listed by the last round, in file order, valid until the
 * next sample. Returns 0, or -ENODATA when the last round could not read
 * the file (then nothing is known about devices). */
int diskstats_devices(const struct diskstats *ds, const struct diskstats_listed **ret,
		      size_t *ret_n);

enum diskstats_state {
	DISKSTATS_UNKNOWN,  /* never in the file (a hidden multipath path), or no file */
	DISKSTATS_LISTED,   /* listed by the last round */
	DISKSTATS_UNLISTED, /* in the file, not listed: a partition, an unbound loop
			     * device, an unused ram disk, beyond the cap */
	DISKSTATS_GONE,	    /* listed by an earlier round, not in the file now */
};

/* What the last round knows of dev (major << 20 | minor); *ret_name is
 * set for a listed device. */
enum diskstats_state diskstats_device_state(const struct diskstats *ds, uint32_t dev,
					    const char **ret_name);

void diskstats_describe(struct registry *r);

#endif /* KPULSE_DISKSTATS_H */
