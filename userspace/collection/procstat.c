// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * procstat.c - CPU time per CPU and mode, running and blocked processes
 * and boot time from /proc/stat; load averages from /proc/loadavg.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collection/procfs.h"
#include "collection/procstat.h"

#define STAT_MAX_BYTES	  (16 << 20) /* the intr line grows with CPUs and IRQs */
#define LOADAVG_MAX_BYTES 4096

static const char *mode_names[PROCSTAT_MODE_NR] = {
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
};

const char *procstat_mode_name(enum procstat_mode m)
{
	return (unsigned)m < PROCSTAT_MODE_NR ? mode_names[m] : NULL;
}

void procstat_text_clear(struct procstat_text *t)
{
	free(t->cpus);
	memset(t, 0, sizeof(*t));
}

/* "cpu3  1 2 3 4 ..." from just after "cpu": at least user, nice, system
 * and idle. */
static int parse_cpu_line(const char *p, struct procstat_cpu *ret)
{
	struct procstat_cpu c = {};
	uint64_t id;

	if (*p < '0' || *p > '9' || procfs_parse_u64(&p, &id) || id > 1u << 20)
		return -EINVAL;
	c.cpu = (unsigned)id;
	while (c.nmodes < PROCSTAT_MODE_NR && procfs_parse_u64(&p, &c.ticks[c.nmodes]) == 0)
		c.nmodes++;
	if (c.nmodes < PROCSTAT_IOWAIT || (*p != ' ' && *p != '\n'))
		return -EINVAL;
	*ret = c;
	return 0;
}

/* "key N\n" after the key. */
static int parse_value_line(const char *p, uint64_t *ret)
{
	uint64_t v;

	if (procfs_parse_u64(&p, &v) || *p != '\n')
		return -EINVAL;
	*ret = v;
	return 0;
}

int procstat_parse_stat(const char *text, struct procstat_text *ret)
{
	const char *line = text, *nl;
	struct procstat_cpu *cpus = ret->cpus;
	size_t cap = ret->cap;

	memset(ret, 0, sizeof(*ret));
	ret->cpus = cpus;
	ret->cap = cap;
	for (; (nl = strchr(line, '\n')); line = nl + 1) {
		if (strncmp(line, "cpu", 3) == 0 && line[3] != ' ') {
			struct procstat_cpu c;

			if (parse_cpu_line(line + 3, &c)) {
				ret->malformed++;
				continue;
			}
			if (ret->ncpus == ret->cap) {
				size_t ncap = ret->cap ? 2 * ret->cap : 16;
				struct procstat_cpu *n = realloc(ret->cpus, ncap * sizeof(*n));

				if (!n)
					return -ENOMEM;
				ret->cpus = n;
				ret->cap = ncap;
			}
			ret->cpus[ret->ncpus++] = c;
		} else if (strncmp(line, "procs_running ", 14) == 0) {
			ret->has_procs_running = !parse_value_line(line + 14, &ret->procs_running);
			ret->malformed += !ret->has_procs_running;
		} else if (strncmp(line, "procs_blocked ", 14) == 0) {
			ret->has_procs_blocked = !parse_value_line(line + 14, &ret->procs_blocked);
			ret->malformed += !ret->has_procs_blocked;
		} else if (strncmp(line, "btime ", 6) == 0) {
			ret->has_boot_time = !parse_value_line(line + 6, &ret->boot_time);
			ret->malformed += !ret->has_boot_time;
		}
	}
	/* The kernel ends every line with a newline: text after the last
	 * one is a cut read. */
	if (*line)
		ret->malformed++;
	return ret->ncpus ? 0 : -EINVAL;
}

/* "12.34" -> 12.34, moving *pp past it. */
static int parse_fixed(const char **pp, double *ret)
{
	const char *p = *pp;
	uint64_t whole, frac = 0;
	double scale = 1;

	if (procfs_parse_u64(&p, &whole))
		return -EINVAL;
	if (*p == '.') {
		p++;
		for (; *p >= '0' && *p <= '9' && scale < 1e15; p++) {
			frac = frac * 10 + (uint64_t)(*p - '0');
			scale *= 10;
		}
		if (scale == 1)
			return -EINVAL;
	}
	*pp = p;
	*ret = (double)whole + (double)frac / scale;
	return 0;
}

int procstat_parse_loadavg(const char *text, struct loadavg *ret)
{
	struct loadavg l;
	const char *p = text;

	if (parse_fixed(&p, &l.load1) || *p != ' ' || parse_fixed(&p, &l.load5) || *p != ' ' ||
	    parse_fixed(&p, &l.load15) || *p != ' ')
		return -EINVAL;
	*ret = l;
	return 0;
}

/* ------------------------------------------------------------ the reader */

struct procstat {
	struct procfs_file stat, loadavg;
	struct procstat_text text;
	double seconds_per_tick;
	uint64_t boot_time;
};

int procstat_new(const char *proc_root, struct procstat **ret)
{
	struct procstat *ps = calloc(1, sizeof(*ps));
	long hz = sysconf(_SC_CLK_TCK);
	int err;

	if (!ps)
		return -ENOMEM;
	ps->seconds_per_tick = 1.0 / (hz > 0 ? (double)hz : 100.0);
	err = procfs_file_init(&ps->stat, proc_root, "stat", STAT_MAX_BYTES, false);
	if (!err)
		err =
		    procfs_file_init(&ps->loadavg, proc_root, "loadavg", LOADAVG_MAX_BYTES, false);
	if (err) {
		procstat_free(ps);
		return err;
	}
	*ret = ps;
	return 0;
}

struct procstat *procstat_free(struct procstat *ps)
{
	if (!ps)
		return NULL;
	procfs_file_close(&ps->stat);
	procfs_file_close(&ps->loadavg);
	procstat_text_clear(&ps->text);
	free(ps);
	return NULL;
}

uint64_t procstat_boot_time(const struct procstat *ps)
{
	return ps->boot_time;
}

static int sample_stat(struct procstat *ps, struct registry *r)
{
	const struct procstat_text *t = &ps->text;
	int err = 0, perr;

	if (procfs_file_read(&ps->stat) < 0)
		return 0;
	perr = procstat_parse_stat(ps->stat.buf, &ps->text);
	if (perr == -ENOMEM)
		return perr;
	ps->stat.errors += t->malformed + (perr != 0);
	if (perr)
		return 0;
	for (size_t i = 0; i < t->ncpus; i++) {
		char cpu[16];

		snprintf(cpu, sizeof(cpu), "%u", t->cpus[i].cpu);
		for (unsigned m = 0; m < t->cpus[i].nmodes; m++) {
			struct metric_label l[] = {{"cpu", cpu}, {"mode", mode_names[m]}};

			err = err ? err
				  : registry_set_counter(r, "kpulse_cpu_seconds_total", l, 2,
							 (double)t->cpus[i].ticks[m] *
							     ps->seconds_per_tick);
		}
	}
	if (!err && t->has_procs_running)
		err = registry_set_gauge(r, "kpulse_procs_running", NULL, 0, t->procs_running);
	if (!err && t->has_procs_blocked)
		err = registry_set_gauge(r, "kpulse_procs_blocked", NULL, 0, t->procs_blocked);
	if (t->has_boot_time) {
		ps->boot_time = t->boot_time;
		if (!err)
			err = registry_set_gauge(r, "kpulse_boot_time_seconds", NULL, 0,
						 t->boot_time);
	}
	return err;
}

static int sample_loadavg(struct procstat *ps, struct registry *r)
{
	struct loadavg l;
	int err;

	if (procfs_file_read(&ps->loadavg) < 0)
		return 0;
	if (procstat_parse_loadavg(ps->loadavg.buf, &l)) {
		ps->loadavg.errors++;
		return 0;
	}
	err = registry_set_gauge(r, "kpulse_load1", NULL, 0, l.load1);
	if (!err)
		err = registry_set_gauge(r, "kpulse_load5", NULL, 0, l.load5);
	if (!err)
		err = registry_set_gauge(r, "kpulse_load15", NULL, 0, l.load15);
	return err;
}

int procstat_sample(struct procstat *ps, struct registry *r)
{
	int err = sample_stat(ps, r);

	if (!err)
		err = sample_loadavg(ps, r);
	if (!err)
		err = procfs_file_report(&ps->stat, r);
	if (!err)
		err = procfs_file_report(&ps->loadavg, r);
	return err;
}

void procstat_describe(struct registry *r)
{
	registry_describe(r, "kpulse_cpu_seconds_total",
			  "CPU time per CPU and mode, from /proc/stat (user includes guest)");
	registry_describe(r, "kpulse_procs_running", "Runnable tasks, procs_running in /proc/stat");
	registry_describe(r, "kpulse_procs_blocked",
			  "Tasks blocked on I/O, procs_blocked in /proc/stat");
	registry_describe(r, "kpulse_boot_time_seconds", "Boot time, btime in /proc/stat");
	registry_describe(r, "kpulse_load1", "1-minute load average, /proc/loadavg");
	registry_describe(r, "kpulse_load5", "5-minute load average, /proc/loadavg");
	registry_describe(r, "kpulse_load15", "15-minute load average, /proc/loadavg");
}
