// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * procpass.c - runs the /proc readers of a round in turn: procstat,
 * memstat, psi, fsstat, netdev, diskstats, tcpstates, self. Each owns
 * its files (kept open from round to round) and its series.
 */
#include <errno.h>
#include <stdlib.h>

#include "collection/fsstat.h"
#include "collection/memstat.h"
#include "collection/netdev.h"
#include "collection/procpass.h"
#include "collection/procstat.h"
#include "collection/psi.h"
#include "collection/tcpstates.h"

struct procpass {
	struct procstat *procstat;
	struct memstat *memstat;
	struct psi *psi;
	struct fsstat *fsstat;
	struct netdev *netdev;
	struct diskstats *diskstats;
	struct tcpstates *tcpstates;
	struct self *self;
	const struct registry *described;
};

int procpass_new(const struct procpass_options *opts, struct procpass **ret)
{
	const char *proc = opts->proc_root ? opts->proc_root : "/proc";
	const char *sys = opts->sys_root ? opts->sys_root : "/sys";
	struct fsstat_options fo = {
	    .types_include =
		opts->fs_types_include ? opts->fs_types_include : PROCPASS_DEFAULT_FS_TYPES_INCLUDE,
	    .types_exclude =
		opts->fs_types_exclude ? opts->fs_types_exclude : PROCPASS_DEFAULT_FS_TYPES_EXCLUDE,
	    .mount_exclude =
		opts->fs_mount_exclude ? opts->fs_mount_exclude : PROCPASS_DEFAULT_FS_MOUNT_EXCLUDE,
	    .max_filesystems =
		opts->max_filesystems ? opts->max_filesystems : PROCPASS_DEFAULT_MAX_FILESYSTEMS,
	};
	struct procpass *pp = calloc(1, sizeof(*pp));
	int err;

	if (!pp)
		return -ENOMEM;
	err = procstat_new(proc, &pp->procstat);
	if (!err)
		err = memstat_new(proc, &pp->memstat);
	if (!err)
		err = psi_new(proc, &pp->psi);
	if (!err)
		err = fsstat_new(proc, &fo, &pp->fsstat);
	if (!err)
		err = netdev_new(proc,
				 opts->max_interfaces ? opts->max_interfaces
						      : PROCPASS_DEFAULT_MAX_INTERFACES,
				 &pp->netdev);
	if (!err)
		err = diskstats_new(proc, sys,
				    opts->max_block_devices ? opts->max_block_devices
							    : PROCPASS_DEFAULT_MAX_BLOCK_DEVICES,
				    &pp->diskstats);
	if (!err)
		err = tcpstates_new(proc, opts->tcp_states_interval_s, &pp->tcpstates);
	if (!err)
		err = self_new(proc, &pp->self);
	if (err) {
		procpass_free(pp);
		return err;
	}
	*ret = pp;
	return 0;
}

struct procpass *procpass_free(struct procpass *pp)
{
	if (!pp)
		return NULL;
	procstat_free(pp->procstat);
	memstat_free(pp->memstat);
	psi_free(pp->psi);
	fsstat_free(pp->fsstat);
	netdev_free(pp->netdev);
	diskstats_free(pp->diskstats);
	tcpstates_free(pp->tcpstates);
	self_free(pp->self);
	free(pp);
	return NULL;
}

int procpass_set_programs(struct procpass *pp, const struct self_program *progs, size_t n)
{
	return self_set_programs(pp->self, progs, n);
}

static void describe(struct registry *r)
{
	registry_describe(r, "kpulse_procfs_errors_total",
			  "Failed reads and malformed lines of a kernel file kpulse reads");
	procstat_describe(r);
	memstat_describe(r);
	psi_describe(r);
	fsstat_describe(r);
	netdev_describe(r);
	diskstats_describe(r);
	tcpstates_describe(r);
	self_describe(r);
}

int procpass_collect(struct procpass *pp, struct registry *r)
{
	int err, first = 0;

	if (pp->described != r) {
		describe(r);
		pp->described = r;
	}
	/* One reader's registry error does not keep the others out. */
	err = procstat_sample(pp->procstat, r);
	first = first ? first : err;
	err = memstat_sample(pp->memstat, r);
	first = first ? first : err;
	err = psi_sample(pp->psi, r);
	first = first ? first : err;
	err = fsstat_sample(pp->fsstat, r);
	first = first ? first : err;
	err = netdev_sample(pp->netdev, r);
	first = first ? first : err;
	err = diskstats_sample(pp->diskstats, r);
	first = first ? first : err;
	err = tcpstates_sample(pp->tcpstates, r);
	first = first ? first : err;
	err = self_sample(pp->self, r, procstat_boot_time(pp->procstat));
	return first ? first : err;
}

int procpass_block_devices(const struct procpass *pp, const struct diskstats_listed **ret,
			   size_t *ret_n)
{
	return diskstats_devices(pp->diskstats, ret, ret_n);
}

enum diskstats_state procpass_block_device_state(const struct procpass *pp, uint32_t dev,
						 const char **ret_name)
{
	return diskstats_device_state(pp->diskstats, dev, ret_name);
}

long procpass_interface_count(const struct procpass *pp)
{
	return netdev_count(pp->netdev);
}

const char *procpass_interface(const struct procpass *pp, size_t i)
{
	return netdev_name(pp->netdev, i);
}
