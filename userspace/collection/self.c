// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * self.c - kpulse's own process (getrusage, /proc/self) and the run time
 * of its BPF programs (bpf_prog_info).
 */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "collection/procfs.h"
#include "collection/self.h"
#include "util/version.h"

#define SMALL_FILE_BYTES 4096

int self_parse_statm(const char *text, uint64_t *ret_size_pages, uint64_t *ret_resident_pages)
{
	uint64_t size, resident;
	const char *p = text;

	if (procfs_parse_u64(&p, &size) || *p != ' ' || procfs_parse_u64(&p, &resident) ||
	    (*p != ' ' && *p != '\n'))
		return -EINVAL;
	*ret_size_pages = size;
	*ret_resident_pages = resident;
	return 0;
}

int self_parse_stat_starttime(const char *text, uint64_t *ret_ticks)
{
	const char *p = strrchr(text, ')');
	uint64_t v;

	/* After "pid (comm)": state is field 3, starttime field 22. */
	if (!p || p[1] != ' ')
		return -EINVAL;
	p += 2;
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EINVAL;
		p++;
	}
	if (procfs_parse_u64(&p, &v) || (*p != ' ' && *p != '\n'))
		return -EINVAL;
	*ret_ticks = v;
	return 0;
}

/* ------------------------------------------------------------ the reader */

struct program {
	char probe[64], attach[16];
	int fd;
};

struct self {
	struct procfs_file statm, stat, bpf_stats;
	char fd_dir[280];
	double page_size, seconds_per_tick;
	struct program *progs;
	size_t nprogs;
};

int self_new(const char *proc_root, struct self **ret)
{
	struct self *s = calloc(1, sizeof(*s));
	long ps = sysconf(_SC_PAGESIZE), hz = sysconf(_SC_CLK_TCK);
	int err;

	if (!s)
		return -ENOMEM;
	s->statm.fd = s->stat.fd = s->bpf_stats.fd = -1;
	s->page_size = ps > 0 ? (double)ps : 4096;
	s->seconds_per_tick = 1.0 / (hz > 0 ? (double)hz : 100.0);
	err = procfs_file_init(&s->statm, proc_root, "self/statm", SMALL_FILE_BYTES, false);
	if (!err)
		err = procfs_file_init(&s->stat, proc_root, "self/stat", SMALL_FILE_BYTES, false);
	if (!err) /* kernels before 5.1 have no such sysctl */
		err = procfs_file_init(&s->bpf_stats, proc_root, "sys/kernel/bpf_stats_enabled",
				       SMALL_FILE_BYTES, true);
	if (!err && snprintf(s->fd_dir, sizeof(s->fd_dir), "%s/self/fd", proc_root) >=
			(int)sizeof(s->fd_dir))
		err = -ENAMETOOLONG;
	if (err) {
		self_free(s);
		return err;
	}
	*ret = s;
	return 0;
}

static void close_programs(struct self *s)
{
	for (size_t i = 0; i < s->nprogs; i++)
		close(s->progs[i].fd);
	free(s->progs);
	s->progs = NULL;
	s->nprogs = 0;
}

struct self *self_free(struct self *s)
{
	if (!s)
		return NULL;
	close_programs(s);
	procfs_file_close(&s->statm);
	procfs_file_close(&s->stat);
	procfs_file_close(&s->bpf_stats);
	free(s);
	return NULL;
}

int self_set_programs(struct self *s, const struct self_program *progs, size_t n)
{
	close_programs(s);
	s->progs = n ? calloc(n, sizeof(*s->progs)) : NULL;
	if (n && !s->progs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct program *p = &s->progs[s->nprogs];

		p->fd = progs[i].prog_id ? bpf_prog_get_fd_by_id(progs[i].prog_id) : -1;
		if (p->fd < 0)
			continue;
		snprintf(p->probe, sizeof(p->probe), "%s", progs[i].probe);
		snprintf(p->attach, sizeof(p->attach), "%s", progs[i].attach);
		s->nprogs++;
	}
	return 0;
}

/* Open descriptors: since 6.2 the size of /proc/PID/fd says it; before,
 * the directory is counted (without the descriptor reading it). */
static int count_fds(const struct self *s, uint64_t *ret)
{
	struct dirent *de;
	struct stat st;
	uint64_t n = 0;
	DIR *d;

	if (stat(s->fd_dir, &st) == 0 && st.st_size > 0) {
		*ret = (uint64_t)st.st_size;
		return 0;
	}
	d = opendir(s->fd_dir);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	*ret = n ? n - 1 : 0;
	return 0;
}

static int sample_process(struct self *s, struct registry *r, uint64_t boot_time)
{
	struct metric_label v[] = {{"version", KPULSE_VERSION}};
	uint64_t size, resident, fds = 0, start;
	struct rusage ru;
	struct rlimit rl;
	int err;

	err = registry_set_gauge(r, "kpulse_build_info", v, 1, 1);
	if (!err && getrusage(RUSAGE_SELF, &ru) == 0)
		err = registry_set_counter(r, "kpulse_process_cpu_seconds_total", NULL, 0,
					   ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
					       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	if (!err && procfs_file_read(&s->statm) >= 0) {
		if (self_parse_statm(s->statm.buf, &size, &resident) == 0) {
			err = registry_set_gauge(r, "kpulse_process_resident_memory_bytes", NULL, 0,
						 (double)resident * s->page_size);
			if (!err)
				err = registry_set_gauge(r, "kpulse_process_virtual_memory_bytes",
							 NULL, 0, (double)size * s->page_size);
		} else {
			s->statm.errors++;
		}
	}
	if (!err && count_fds(s, &fds) == 0)
		err = registry_set_gauge(r, "kpulse_process_open_fds", NULL, 0, (double)fds);
	if (!err && getrlimit(RLIMIT_NOFILE, &rl) == 0)
		err = registry_set_gauge(r, "kpulse_process_max_fds", NULL, 0, (double)rl.rlim_cur);
	/* The start time does not change: /proc/self/stat is read until it
	 * has been read once. */
	if (!err && boot_time && (s->stat.seen || procfs_file_read(&s->stat) >= 0)) {
		if (self_parse_stat_starttime(s->stat.buf, &start) == 0)
			err = registry_set_gauge(r, "kpulse_process_start_time_seconds", NULL, 0,
						 (double)boot_time +
						     (double)start * s->seconds_per_tick);
		else
			s->stat.errors++;
	}
	return err;
}

static int sample_programs(struct self *s, struct registry *r)
{
	bool enabled = false;
	int err = 0;

	if (procfs_file_read(&s->bpf_stats) >= 0) {
		enabled = s->bpf_stats.buf[0] == '1';
		err = registry_set_gauge(r, "kpulse_bpf_stats_enabled", NULL, 0, enabled);
	}
	for (size_t i = 0; i < s->nprogs && !err; i++) {
		struct metric_label l[] = {{"probe", s->progs[i].probe},
					   {"attach", s->progs[i].attach}};
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (bpf_obj_get_info_by_fd(s->progs[i].fd, &info, &len) != 0)
			continue;
		/* Stats that were never on have nothing to say. */
		if (!enabled && !info.run_cnt)
			continue;
		err = registry_set_counter(r, "kpulse_bpf_program_runs_total", l, 2,
					   (double)info.run_cnt);
		if (!err)
			err = registry_set_counter(r, "kpulse_bpf_program_run_seconds_total", l, 2,
						   (double)info.run_time_ns / 1e9);
	}
	return err;
}

int self_sample(struct self *s, struct registry *r, uint64_t boot_time)
{
	int err = sample_process(s, r, boot_time);

	if (!err)
		err = sample_programs(s, r);
	if (!err)
		err = procfs_file_report(&s->statm, r);
	return err;
}

void self_describe(struct registry *r)
{
	registry_describe(r, "kpulse_build_info", "1, labelled with kpulse's version");
	registry_describe(r, "kpulse_process_cpu_seconds_total",
			  "CPU time of the kpulse process, user and system (getrusage)");
	registry_describe(r, "kpulse_process_resident_memory_bytes",
			  "Resident memory of the kpulse process (VmRSS)");
	registry_describe(r, "kpulse_process_virtual_memory_bytes",
			  "Virtual memory of the kpulse process (VmSize)");
	registry_describe(r, "kpulse_process_open_fds", "Open file descriptors of kpulse");
	registry_describe(r, "kpulse_process_max_fds", "kpulse's limit on open file descriptors");
	registry_describe(r, "kpulse_process_start_time_seconds", "When kpulse started, unix time");
	registry_describe(r, "kpulse_bpf_stats_enabled",
			  "1 while the kernel keeps BPF run-time stats (kernel.bpf_stats_enabled)");
	registry_describe(r, "kpulse_bpf_program_runs_total",
			  "Runs of each kpulse BPF program counted while BPF stats were on");
	registry_describe(r, "kpulse_bpf_program_run_seconds_total",
			  "Run time of each kpulse BPF program while BPF stats were on");
}
