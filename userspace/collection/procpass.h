/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * procpass.h - the /proc pass of a collection round: every counter the
 * kernel already keeps exactly (CPU time, load, pressure, memory, swap,
 * filesystems, interfaces, block devices, TCP states, kpulse itself),
 * read once per round into the registry. The BPF side (collector.c) asks
 * it which block devices and interfaces exist, so that each has its
 * series from the first round and loses them when it goes.
 */
#ifndef KPULSE_PROCPASS_H
#define KPULSE_PROCPASS_H

#include <stddef.h>

#include "collection/diskstats.h"
#include "collection/self.h"
#include "registry/registry.h"

/* The defaults of the options below; util/config.c has the same strings
 * (a unit test holds them together). zfs registers as "nodev" but lives
 * on disks. Network filesystems are left out: statvfs on a dead server
 * blocks the round. */
#define PROCPASS_DEFAULT_FS_TYPES_INCLUDE  "zfs"
#define PROCPASS_DEFAULT_FS_TYPES_EXCLUDE  "squashfs,erofs,iso9660"
#define PROCPASS_DEFAULT_FS_MOUNT_EXCLUDE  ""
#define PROCPASS_DEFAULT_MAX_FILESYSTEMS   64
#define PROCPASS_DEFAULT_MAX_INTERFACES	   128
#define PROCPASS_DEFAULT_MAX_BLOCK_DEVICES 128

struct procpass_options {
	const char *proc_root; /* NULL: "/proc" (tests point it at fixtures) */
	const char *sys_root;  /* NULL: "/sys" */
	/* Comma-separated lists; NULL takes the default, "" means none. */
	const char *fs_types_include;
	const char *fs_types_exclude;
	const char *fs_mount_exclude;
	/* Label bounds; 0 takes the default. */
	unsigned max_filesystems;
	unsigned max_interfaces;
	unsigned max_block_devices;
	/* Seconds between two counts of TCP sockets by state (see
	 * tcpstates.h); 0 counts every round, as `kpulse dump` does. */
	double tcp_states_interval_s;
};

struct procpass;

/* Returns 0, -ENOMEM or -ENAMETOOLONG (a root or list too long). */
int procpass_new(const struct procpass_options *opts, struct procpass **ret);
struct procpass *procpass_free(struct procpass *pp);

/* The BPF programs whose run time kpulse reports (see self.h). */
int procpass_set_programs(struct procpass *pp, const struct self_program *progs, size_t n);

/*
 * One round's /proc series into r (inside the caller's registry_begin ..
 * registry_end; help texts are attached once per registry). A file that
 * cannot be read leaves its series out and counts in
 * kpulse_procfs_errors_total. Returns 0 or the registry's first error.
 */
int procpass_collect(struct procpass *pp, struct registry *r);

/* The block devices and interfaces the last round listed (see
 * diskstats_devices() and netdev_count(): -ENODATA when unknown). */
int procpass_block_devices(const struct procpass *pp, const struct diskstats_listed **ret,
			   size_t *ret_n);
enum diskstats_state procpass_block_device_state(const struct procpass *pp, uint32_t dev,
						 const char **ret_name);
long procpass_interface_count(const struct procpass *pp);
const char *procpass_interface(const struct procpass *pp, size_t i);

#endif /* KPULSE_PROCPASS_H */
