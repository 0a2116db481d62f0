/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * procfs.h - the few things kpulse reads from /proc and /sys rather than
 * from BPF: /proc/meminfo gauges, block device names, process names. The
 * parsers take text so tests can feed them fixtures; the readers wrap them.
 */
#ifndef KPULSE_PROCFS_H
#define KPULSE_PROCFS_H

#include <stddef.h>
#include <stdint.h>

struct meminfo {
	uint64_t total_bytes;
	uint64_t free_bytes;
	uint64_t available_bytes;
	uint64_t cached_bytes;
	uint64_t swap_total_bytes;
	uint64_t swap_free_bytes;
};

/*
 * Parses /proc/meminfo text ("Key:   123 kB" lines). MemTotal and
 * MemAvailable are required; the others default to 0 when absent.
 * Returns 0, or -EINVAL for text without the required keys or with a
 * malformed or overflowing number on a key it uses.
 */
int procfs_parse_meminfo(const char *text, struct meminfo *ret);
int procfs_read_meminfo(const char *path, struct meminfo *ret);

/*
 * Finds DEVNAME=<name> in a sysfs uevent text. Names are what
 * /proc/diskstats shows ("vda", "nvme0n1"). Returns 0 or -ENOENT when
 * missing, -EINVAL when the name is empty or has a '/' or control byte.
 */
int procfs_parse_uevent_devname(const char *text, char *buf, size_t len);
/* Name of the block device major:minor from /sys/dev/block; on failure
 * writes "MAJ:MIN" and returns -errno. */
int procfs_block_devname(unsigned major, unsigned minor, char *buf, size_t len);

/* /proc/<pid>/comm without the newline, cut to fit buf; -errno when the
 * process is gone. */
int procfs_read_comm(uint32_t pid, char *buf, size_t len);

/* Reads a whole small file into buf (NUL-terminated). Returns bytes read
 * or -errno; -EFBIG when it does not fit. */
long procfs_read_file(const char *path, char *buf, size_t len);

#endif /* KPULSE_PROCFS_H */
