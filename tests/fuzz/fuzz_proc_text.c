/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fuzz_proc_text.c - libFuzzer target for the readers of the kernel's text
 * files that collection/ parses every round: /proc/diskstats, /proc/net/dev,
 * /proc/meminfo, /proc/vmstat, /proc/stat, /proc/loadavg, /proc/pressure,
 * /proc/net/snmp, /proc/net/tcp, a sock_diag reply, /proc/PID/statm and
 * stat, a sysfs uevent, a mountinfo line and the cgroup accounting files
 * (io.stat, memory.events). Kernel text is outside input too: a newer
 * kernel adds columns, a container's /proc is another's, a file is cut
 * at a page. The first byte picks the reader, the rest is the text. Any
 * text gives one of the results the reader documents, names that end
 * within their buffers, never a read past the text, a leak, a crash or
 * undefined behaviour.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collection/cgroups.h"
#include "collection/diskstats.h"
#include "collection/fsstat.h"
#include "collection/memstat.h"
#include "collection/netdev.h"
#include "collection/procfs.h"
#include "collection/procstat.h"
#include "collection/psi.h"
#include "collection/self.h"
#include "collection/tcpstates.h"

static void check_terminated(const char *s, size_t size)
{
	if (strnlen(s, size) >= size)
		abort();
}

static void check_rc(int rc, int ok1, int ok2)
{
	if (rc != 0 && rc != ok1 && rc != ok2)
		abort();
}

static void diskstats(const char *text)
{
	struct diskstats_text t = {0};

	check_rc(diskstats_parse(text, &t), -ENOMEM, -ENOMEM);
	for (size_t i = 0; i < t.n; i++) {
		check_terminated(t.devs[i].name, sizeof(t.devs[i].name));
		if (t.devs[i].ncols > DISKSTATS_COL_NR || !t.devs[i].name[0])
			abort();
	}
	diskstats_text_clear(&t);
}

static void netdev(const char *text)
{
	struct netdev_text t = {0};

	check_rc(netdev_parse(text, &t), -EINVAL, -ENOMEM);
	for (size_t i = 0; i < t.n; i++)
		check_terminated(t.ifs[i].name, sizeof(t.ifs[i].name));
	netdev_text_clear(&t);
}

static void procstat(const char *text)
{
	struct procstat_text t = {0};

	check_rc(procstat_parse_stat(text, &t), -EINVAL, -ENOMEM);
	for (size_t i = 0; i < t.ncpus; i++)
		if (t.cpus[i].nmodes > PROCSTAT_MODE_NR)
			abort();
	procstat_text_clear(&t);
}

static void tcp(const char *text, size_t len, int which)
{
	struct tcpstates_counts c = {0};
	int rc;

	if (which) {
		rc = tcpstates_count_proc(text, &c);
		if (rc < 0 && rc != -EINVAL)
			abort();
	} else {
		/* a netlink reply is binary: the bytes as they came */
		rc = tcpstates_count_diag(text, len, 1, &c);
		if (rc > 1)
			abort();
	}
}

static void one_line(const char *text, size_t len)
{
	struct fsstat_mount *m = malloc(sizeof(*m));

	if (!m)
		return;
	int rc = fsstat_parse_mountinfo_line(text, len, m);

	check_rc(rc, -EINVAL, -EINVAL);
	if (rc == 0) {
		check_terminated(m->mountpoint, sizeof(m->mountpoint));
		check_terminated(m->fstype, sizeof(m->fstype));
		check_terminated(m->source, sizeof(m->source));
	}
	free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct memstat_values mv;
	struct psi_totals psi;
	struct loadavg la;
	uint64_t a, b;
	char name[32];
	char *text;
	int rc;

	if (size < 1)
		return 0;
	text = malloc(size); /* exact size: ASan sees a read past it */
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	switch (data[0] % 16) {
	case 0:
		diskstats(text);
		break;
	case 1:
		netdev(text);
		break;
	case 2:
		memset(&mv, 0, sizeof(mv));
		check_rc(memstat_parse_meminfo(text, &mv), -EINVAL, -EINVAL);
		break;
	case 3:
		memset(&mv, 0, sizeof(mv));
		check_rc(memstat_parse_vmstat(text, &mv), -EINVAL, -EINVAL);
		break;
	case 4:
		procstat(text);
		break;
	case 5:
		check_rc(procstat_parse_loadavg(text, &la), -EINVAL, -EINVAL);
		break;
	case 6:
		check_rc(psi_parse(text, &psi), -EINVAL, -EINVAL);
		break;
	case 7:
		check_rc(tcpstates_parse_snmp(text, &a), -EINVAL, -EINVAL);
		break;
	case 8:
		tcp(text, size - 1, 1);
		break;
	case 9:
		tcp(text, size - 1, 0);
		break;
	case 10:
		check_rc(self_parse_statm(text, &a, &b), -EINVAL, -EINVAL);
		break;
	case 11:
		check_rc(self_parse_stat_starttime(text, &a), -EINVAL, -EINVAL);
		break;
	case 12:
		rc = procfs_parse_uevent_devname(text, name, sizeof(name));
		check_rc(rc, -ENOENT, -EINVAL);
		if (rc == 0)
			check_terminated(name, sizeof(name));
		break;
	case 13:
		one_line(text, strlen(text));
		break;
	case 14:
		rc = cgroups_parse_keyed(text, "oom_kill", &a);
		if (rc != 0 && rc != -ENOENT && rc != -EINVAL && rc != -ERANGE)
			abort();
		break;
	default:
		cgroups_parse_io_stat(text, &a, &b);
		break;
	}
	free(text);
	return 0;
}
