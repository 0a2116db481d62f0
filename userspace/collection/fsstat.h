/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fsstat.h - size, free and available bytes and inodes of each real
 * filesystem (statvfs), for the disk-full forecasts. Real means a type
 * backed by a block device (no "nodev" in /proc/filesystems) or named in
 * the include list, and not in the exclude list; each filesystem is
 * reported once, at its first mount point. The mount table is read again
 * only when the kernel says it changed.
 */
#ifndef KPULSE_FSSTAT_H
#define KPULSE_FSSTAT_H

#include <stdbool.h>
#include <stddef.h>

#include "registry/registry.h"

struct statvfs;

#define FSSTAT_FIELD_MAX 4096 /* PATH_MAX: longest mount point, device or type */

/* One line of /proc/PID/mountinfo, with \NNN escapes decoded. */
struct fsstat_mount {
	unsigned major, minor;
	char mountpoint[FSSTAT_FIELD_MAX];
	char fstype[64];
	char source[FSSTAT_FIELD_MAX];
};

/*
 * Parses one mountinfo line (without its newline):
 * "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw".
 * The optional fields before "-" may be none or many. Returns 0 or
 * -EINVAL; *ret only on success.
 */
int fsstat_parse_mountinfo_line(const char *line, size_t len, struct fsstat_mount *ret);

/* Whether /proc/filesystems text lists fstype without "nodev". */
bool fsstat_type_has_dev(const char *filesystems, const char *fstype);

/* Whether a comma-separated list names fstype, or its main type for a
 * "main.sub" type (fuse.sshfs matches "fuse"). */
bool fsstat_list_has_type(const char *list, const char *fstype);

/* Whether path is one of the comma-separated mount points or beneath one
 * ("/var/lib/docker" covers itself and "/var/lib/docker/x", not
 * "/var/lib/dockerx"). */
bool fsstat_list_covers_path(const char *list, const char *path);

/*
 * A label value of at most max_len bytes: the value itself when it fits,
 * else its head, "~" and 8 hex digits of a hash of the whole, so two long
 * mount points stay two series. Returns out.
 */
char *fsstat_label(const char *value, char *out, size_t max_len);

/* How long a round waits for its statvfs calls, in all; a mount whose
 * call outlasts it is left out until the call returns. */
#define FSSTAT_STAT_WAIT_MS 200
/* Most mounts left out as stuck at once (each holds a thread in the
 * kernel); with that many, no statvfs is made. */
#define FSSTAT_MAX_STUCK 8

struct fsstat_options {
	const char *types_include; /* comma-separated; "" none */
	const char *types_exclude;
	const char *mount_exclude; /* mount points, each covering what is beneath it */
	unsigned max_filesystems;
	/* tests: another statvfs, another wait (0: FSSTAT_STAT_WAIT_MS) */
	int (*statvfs_fn)(const char *path, struct statvfs *st);
	unsigned stat_wait_ms;
};

struct fsstat;

/* Reads proc_root/self/mountinfo and proc_root/filesystems. The option
 * strings are copied. Returns 0, -ENOMEM or -ENAMETOOLONG. */
int fsstat_new(const char *proc_root, const struct fsstat_options *opts, struct fsstat **ret);
struct fsstat *fsstat_free(struct fsstat *fs);

/* One round: kpulse_filesystem_{size,free,avail}_bytes, _files,
 * _files_free and _readonly {mountpoint,fstype,device} for each listed
 * filesystem (kpulse_filesystem_stuck instead for one whose statvfs hangs);
 * kpulse_filesystems_unlisted; kpulse_filesystems_stuck;
 * kpulse_filesystem_stuck_total; kpulse_filesystem_stat_errors_total;
 * the files' kpulse_procfs_errors_total. Waits at most FSSTAT_STAT_WAIT_MS.
 * Returns 0 or the registry's error. */
int fsstat_sample(struct fsstat *fs, struct registry *r);
void fsstat_describe(struct registry *r);

#endif /* KPULSE_FSSTAT_H */
