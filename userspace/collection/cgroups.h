/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * cgroups.h - per-cgroup figures on cgroup v2 and v1. One hierarchy names
 * the cgroups (the `cgroup` label is a path in it, "system.slice/x.service",
 * "/" for the root): cgroup v2 when it holds the cpu controller, else the
 * v1 hierarchy of cpuacct, else v2 without controllers. The sched program
 * keys CPU and run-queue time by that hierarchy's cgroup id (the kernfs
 * inode number, so ids map to paths by walking the mount). Memory, I/O
 * bytes and OOM kills are the kernel's own counters, read at the same path
 * in whichever hierarchy holds the memory and io / blkio controllers (v2
 * memory.current, io.stat, memory.events; v1 memory.usage_in_bytes and
 * memory.oom_control). Without v2's io controller, a cgroup's I/O bytes
 * are its processes' from the block program (v1 blkio counters count only
 * while a throttle limit is set on the device).
 */
#ifndef KPULSE_CGROUPS_H
#define KPULSE_CGROUPS_H

#include <stddef.h>
#include <stdint.h>

#include "collection/probes.h"
#include "registry/registry.h"

enum cgroups_mode {
	CGROUPS_AUTO, /* as above */
	CGROUPS_V2,   /* name cgroups by the v2 hierarchy */
	CGROUPS_V1,   /* name cgroups by the v1 cpuacct hierarchy */
	CGROUPS_OFF,  /* no cgroup figures, no cgroup label */
	CGROUPS_MODE_COUNT,
};

extern const char *const cgroups_mode_names[CGROUPS_MODE_COUNT];

/* Label value of the row that sums every cgroup outside the top K. */
#define CGROUPS_OTHER "(other)"
/* Most cgroups whose ids are mapped to paths. */
#define CGROUPS_MAX_KNOWN 8192

struct cgroups;

/* Finds the hierarchies in /proc/self/mountinfo. A mode whose hierarchy is
 * not mounted gives CGROUPS_OFF. Returns 0 or -ENOMEM. */
int cgroups_new(enum cgroups_mode mode, unsigned top_k, struct cgroups **ret);
struct cgroups *cgroups_free(struct cgroups *cg);

/* The mode in effect: CGROUPS_V2, CGROUPS_V1 or CGROUPS_OFF. */
enum cgroups_mode cgroups_mode(const struct cgroups *cg);
void cgroups_set_top_k(struct cgroups *cg, unsigned top_k);

/* The path of pid's cgroup in the naming hierarchy, from /proc/PID/cgroup.
 * Returns 0, -ENOENT (gone, or not in that hierarchy) or -ENODEV (off). */
int cgroups_pid_path(const struct cgroups *cg, uint32_t pid, char *buf, size_t len);

/*
 * The line of a /proc/PID/cgroup text for a mode: v2 is "0::/path", v1 the
 * line whose controller list has cpuacct. Writes the path without its
 * leading '/' ("/" for the root). Returns 0, -ENOENT (no such line) or
 * -EINVAL (malformed).
 */
int cgroups_parse_proc_cgroup(const char *text, enum cgroups_mode mode, char *buf, size_t len);

/*
 * The mount points of /proc/self/mountinfo text: the cgroup2 mount, and the
 * v1 mounts holding cpuacct, memory and blkio (each "" when absent, each
 * buffer PATH_MAX). Returns 0 or -EINVAL (malformed line).
 */
struct cgroups_mounts {
	char v2[4096];
	char cpuacct[4096];
	char memory[4096];
	char blkio[4096];
};
int cgroups_parse_mountinfo(const char *text, struct cgroups_mounts *ret);

/* The value of a "key value" line (memory.events, memory.oom_control).
 * Returns 0, -ENOENT without the key, or procfs_parse_u64()'s error. */
int cgroups_parse_keyed(const char *text, const char *key, uint64_t *ret);

/* Bytes read and written, summed over the devices of v2 io.stat text
 * ("8:0 rbytes=1 wbytes=2 rios=.. ..." per line); a line without a field
 * or with a bad number adds nothing for it. */
void cgroups_parse_io_stat(const char *text, uint64_t *ret_rd, uint64_t *ret_wr);

/* One round of per-cgroup series (see docs/metrics.md). A no-op when off.
 * Returns 0 or -ENOMEM. */
int cgroups_sample(struct cgroups *cg, const struct probes *probes, int ncpus, struct registry *r);

/* Adds a process's block I/O bytes and page faults of the round to its
 * cgroup (by path): the per-cgroup page faults, and the per-cgroup I/O
 * where v2's io controller does not count it. */
void cgroups_add_process(struct cgroups *cg, const char *path, uint64_t rd, uint64_t wr,
			 uint64_t faults);

/* The path of a cgroup id of the naming hierarchy; walks the mount again
 * (at most once a round) for an id it does not know. Returns 0 or -ENOENT. */
int cgroups_path_of_id(struct cgroups *cg, uint64_t id, char *buf, size_t len);

#endif /* KPULSE_CGROUPS_H */
