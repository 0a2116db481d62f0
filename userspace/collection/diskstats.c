// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * diskstats.c - block devices and their kernel time counters from
 * /proc/diskstats, and iostat's utilisation, queue size and await from
 * two consecutive readings. Counts of I/Os and bytes, and the latency
 * histograms, come from BPF (collector.c), which also gives the devices
 * listed here their zero series until they see I/O.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collection/diskstats.h"
#include "collection/procfs.h"
#include "util/clock.h"

#define DISKSTATS_MAX_BYTES (16 << 20) /* ~150 bytes per device and partition */
#define DISKSTATS_MIN_COLS  11
#define EVER_LISTED_MAX	    4096 /* devices remembered to tell "gone" from "never seen" */

void diskstats_text_clear(struct diskstats_text *t)
{
	free(t->devs);
	memset(t, 0, sizeof(*t));
}

/* " 254       0 vda 219168 8894 ...\n" */
static int parse_line(const char *line, const char *nl, struct diskstats_dev *ret)
{
	struct diskstats_dev d = {};
	const char *p = line, *name;
	uint64_t major, minor;
	size_t len;

	if (procfs_parse_u64(&p, &major) || procfs_parse_u64(&p, &minor) || major > 4095 ||
	    minor > 1048575)
		return -EINVAL;
	while (*p == ' ')
		p++;
	name = p;
	len = strcspn(name, " \n");
	if (len == 0 || len >= DISKSTATS_NAME_LEN || name[len] != ' ')
		return -EINVAL;
	memcpy(d.name, name, len);
	d.major = (unsigned)major;
	d.minor = (unsigned)minor;
	p = name + len;
	while (d.ncols < DISKSTATS_COL_NR && procfs_parse_u64(&p, &d.v[d.ncols]) == 0)
		d.ncols++;
	while (*p == ' ')
		p++;
	if (d.ncols < DISKSTATS_MIN_COLS || p != nl)
		return -EINVAL;
	*ret = d;
	return 0;
}

int diskstats_parse(const char *text, struct diskstats_text *ret)
{
	const char *line = text, *nl;

	ret->n = 0;
	ret->malformed = 0;
	for (; (nl = strchr(line, '\n')); line = nl + 1) {
		struct diskstats_dev d;

		if (parse_line(line, nl, &d)) {
			ret->malformed++;
			continue;
		}
		if (ret->n == ret->cap) {
			size_t cap = ret->cap ? 2 * ret->cap : 16;
			struct diskstats_dev *n = realloc(ret->devs, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			ret->devs = n;
			ret->cap = cap;
		}
		ret->devs[ret->n++] = d;
	}
	if (*line)
		ret->malformed++;
	return 0;
}

void diskstats_iostat(const struct diskstats_dev *prev, const struct diskstats_dev *cur,
		      double interval_s, struct diskstats_iostat *ret)
{
	static const enum diskstats_col used[] = {DISKSTATS_READS,  DISKSTATS_READ_MS,
						  DISKSTATS_WRITES, DISKSTATS_WRITE_MS,
						  DISKSTATS_IO_MS,  DISKSTATS_WEIGHTED_MS};
	uint64_t d[DISKSTATS_COL_NR] = {};
	double ms = interval_s * 1e3;

	memset(ret, 0, sizeof(*ret));
	if (!(interval_s > 0))
		return;
	for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++) {
		if (cur->v[used[i]] < prev->v[used[i]])
			return;
		d[used[i]] = cur->v[used[i]] - prev->v[used[i]];
	}
	/* io_ticks can run a tick ahead of the wall clock between two reads. */
	ret->utilization = d[DISKSTATS_IO_MS] / ms > 1 ? 1 : d[DISKSTATS_IO_MS] / ms;
	ret->queue_length = d[DISKSTATS_WEIGHTED_MS] / ms;
	if (d[DISKSTATS_READS])
		ret->read_await_s = d[DISKSTATS_READ_MS] / 1e3 / d[DISKSTATS_READS];
	if (d[DISKSTATS_WRITES])
		ret->write_await_s = d[DISKSTATS_WRITE_MS] / 1e3 / d[DISKSTATS_WRITES];
}

/* ------------------------------------------------------------ the reader */

enum dev_kind {
	KIND_PARTITION, /* or anything else /sys/block does not list */
	KIND_DISK,
	KIND_LOOP, /* listed while bound to a file */
	KIND_RAM,  /* listed once it has done I/O */
};

/* What is remembered of a diskstats line from one round to the next. */
struct known {
	struct diskstats_dev last; /* the previous reading */
	double last_t;
	bool has_last;
	enum dev_kind kind;
};

struct diskstats {
	struct procfs_file file;
	char sys_block[200];
	unsigned max_devices;
	struct diskstats_text text;
	struct known *known, *next; /* by line of the last text and of this one */
	size_t nknown, cap;
	struct diskstats_listed *listed;
	size_t nlisted;
	bool valid;	/* the last round read the file */
	uint32_t *ever; /* devices listed by any round, up to EVER_LISTED_MAX */
	size_t never;
};

int diskstats_new(const char *proc_root, const char *sys_root, unsigned max_devices,
		  struct diskstats **ret)
{
	struct diskstats *ds = calloc(1, sizeof(*ds));
	int err;

	if (!ds)
		return -ENOMEM;
	ds->max_devices = max_devices;
	err = procfs_file_init(&ds->file, proc_root, "diskstats", DISKSTATS_MAX_BYTES, false);
	if (!err && snprintf(ds->sys_block, sizeof(ds->sys_block), "%s/block", sys_root) >=
			(int)sizeof(ds->sys_block))
		err = -ENAMETOOLONG;
	if (err) {
		diskstats_free(ds);
		return err;
	}
	*ret = ds;
	return 0;
}

struct diskstats *diskstats_free(struct diskstats *ds)
{
	if (!ds)
		return NULL;
	procfs_file_close(&ds->file);
	diskstats_text_clear(&ds->text);
	free(ds->known);
	free(ds->next);
	free(ds->listed);
	free(ds->ever);
	free(ds);
	return NULL;
}

enum diskstats_state diskstats_device_state(const struct diskstats *ds, uint32_t dev,
					    const char **ret_name)
{
	if (!ds->valid)
		return DISKSTATS_UNKNOWN;
	for (size_t i = 0; i < ds->nlisted; i++) {
		if (ds->listed[i].dev == dev) {
			*ret_name = ds->listed[i].name;
			return DISKSTATS_LISTED;
		}
	}
	for (size_t i = 0; i < ds->text.n; i++)
		if (ds->text.devs[i].major == dev >> 20 &&
		    ds->text.devs[i].minor == (dev & ((1u << 20) - 1)))
			return DISKSTATS_UNLISTED;
	for (size_t i = 0; i < ds->never; i++)
		if (ds->ever[i] == dev)
			return DISKSTATS_GONE;
	return DISKSTATS_UNKNOWN;
}

/* Remembers the devices of this round's list. */
static int remember(struct diskstats *ds)
{
	for (size_t i = 0; i < ds->nlisted; i++) {
		bool known = false;

		for (size_t j = 0; j < ds->never && !known; j++)
			known = ds->ever[j] == ds->listed[i].dev;
		if (known || ds->never == EVER_LISTED_MAX)
			continue;
		if (!ds->ever) {
			ds->ever = malloc(EVER_LISTED_MAX * sizeof(*ds->ever));
			if (!ds->ever)
				return -ENOMEM;
		}
		ds->ever[ds->never++] = ds->listed[i].dev;
	}
	return 0;
}

int diskstats_devices(const struct diskstats *ds, const struct diskstats_listed **ret,
		      size_t *ret_n)
{
	if (!ds->valid)
		return -ENODATA;
	*ret = ds->listed;
	*ret_n = ds->nlisted;
	return 0;
}

static bool name_is(const char *name, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(name, prefix, n) == 0 && name[n] &&
	       strspn(name + n, "0123456789") == strlen(name + n);
}

/* sys_block/<name>[/sub] exists; sysfs writes a '/' in a name as '!'. */
static bool sys_has(const struct diskstats *ds, const char *name, const char *sub)
{
	char path[300], *p;
	int n = snprintf(path, sizeof(path), "%s/%s%s", ds->sys_block, name, sub);

	if (n < 0 || n >= (int)sizeof(path))
		return false;
	for (p = path + strlen(ds->sys_block) + 1; *p && p < path + n - strlen(sub); p++)
		if (*p == '/')
			*p = '!';
	return access(path, F_OK) == 0;
}

static enum dev_kind classify(const struct diskstats *ds, const char *name)
{
	if (name_is(name, "loop"))
		return KIND_LOOP;
	if (name_is(name, "ram"))
		return KIND_RAM;
	return sys_has(ds, name, "") ? KIND_DISK : KIND_PARTITION;
}

static bool is_listed(const struct diskstats *ds, const struct known *k)
{
	const struct diskstats_dev *d = &k->last;

	switch (k->kind) {
	case KIND_DISK:
		return true;
	case KIND_LOOP:
		return sys_has(ds, d->name, "/loop");
	case KIND_RAM:
		for (unsigned i = 0; i < d->ncols; i++)
			if (d->v[i])
				return true;
		return false;
	case KIND_PARTITION:
		break;
	}
	return false;
}

/* The last round's entry for d: most often on the same line. */
static const struct known *find_known(const struct diskstats *ds, const struct diskstats_dev *d,
				      size_t hint)
{
	for (size_t j = 0; j < ds->nknown; j++) {
		const struct known *k = &ds->known[(hint + j) % ds->nknown];

		if (k->last.major == d->major && k->last.minor == d->minor &&
		    strcmp(k->last.name, d->name) == 0)
			return k;
	}
	return NULL;
}

static int emit(struct registry *r, const struct diskstats_dev *d,
		const struct diskstats_iostat *io)
{
	static const struct {
		const char *name;
		enum diskstats_col col;
	} ms_counters[] = {
	    {"kpulse_block_read_time_seconds_total", DISKSTATS_READ_MS},
	    {"kpulse_block_write_time_seconds_total", DISKSTATS_WRITE_MS},
	    {"kpulse_block_io_time_seconds_total", DISKSTATS_IO_MS},
	    {"kpulse_block_io_time_weighted_seconds_total", DISKSTATS_WEIGHTED_MS},
	};
	struct metric_label l[] = {{"device", d->name}};
	int err = 0;

	for (size_t i = 0; i < sizeof(ms_counters) / sizeof(ms_counters[0]) && !err; i++)
		err = registry_set_counter(r, ms_counters[i].name, l, 1,
					   (double)d->v[ms_counters[i].col] / 1e3);
	if (!err)
		err = registry_set_gauge(r, "kpulse_block_ios_in_progress", l, 1,
					 (double)d->v[DISKSTATS_IN_FLIGHT]);
	if (!err)
		err =
		    registry_set_gauge(r, "kpulse_block_utilization_ratio", l, 1, io->utilization);
	if (!err)
		err = registry_set_gauge(r, "kpulse_block_queue_length", l, 1, io->queue_length);
	if (!err)
		err = registry_set_gauge(r, "kpulse_block_read_await_seconds", l, 1,
					 io->read_await_s);
	if (!err)
		err = registry_set_gauge(r, "kpulse_block_write_await_seconds", l, 1,
					 io->write_await_s);
	return err;
}

/* Room for n lines in both known arrays and the listed one. */
static int reserve(struct diskstats *ds, size_t n)
{
	struct known *k;
	struct diskstats_listed *l;

	if (n <= ds->cap)
		return 0;
	k = realloc(ds->known, n * sizeof(*k));
	if (!k)
		return -ENOMEM;
	ds->known = k;
	k = realloc(ds->next, n * sizeof(*k));
	if (!k)
		return -ENOMEM;
	ds->next = k;
	l = realloc(ds->listed, n * sizeof(*l));
	if (!l)
		return -ENOMEM;
	ds->listed = l;
	ds->cap = n;
	return 0;
}

int diskstats_sample(struct diskstats *ds, struct registry *r)
{
	const struct diskstats_text *t = &ds->text;
	size_t unlisted = 0;
	struct known *swap;
	double now;
	int err = 0;

	ds->nlisted = 0;
	ds->valid = false;
	if (procfs_file_read(&ds->file) < 0)
		return procfs_file_report(&ds->file, r);
	now = clock_mono_s();
	err = diskstats_parse(ds->file.buf, &ds->text);
	if (!err)
		err = reserve(ds, t->n);
	if (err)
		return err;
	ds->file.errors += t->malformed;
	for (size_t i = 0; i < t->n; i++) {
		const struct diskstats_dev *d = &t->devs[i];
		const struct known *old = find_known(ds, d, i);
		struct known *k = &ds->next[i];
		struct diskstats_iostat io = {};

		if (old) {
			*k = *old;
		} else {
			memset(k, 0, sizeof(*k));
			k->kind = classify(ds, d->name);
		}
		if (k->has_last)
			diskstats_iostat(&k->last, d, now - k->last_t, &io);
		k->last = *d;
		k->last_t = now;
		k->has_last = false;
		if (!is_listed(ds, k))
			continue;
		if (ds->nlisted >= ds->max_devices) {
			unlisted++;
			continue;
		}
		/* Only a device listed in both rounds has an interval. */
		k->has_last = true;
		ds->listed[ds->nlisted++] = (struct diskstats_listed){
		    .dev = (uint32_t)d->major << 20 | d->minor,
		    .name = d->name,
		};
		if (!err)
			err = emit(r, d, &io);
	}
	ds->valid = true;
	if (!err)
		err = remember(ds);
	swap = ds->known;
	ds->known = ds->next;
	ds->next = swap;
	ds->nknown = t->n;
	if (!err)
		err = registry_set_gauge(r, "kpulse_block_devices_unlisted", NULL, 0,
					 (double)unlisted);
	if (!err)
		err = procfs_file_report(&ds->file, r);
	return err;
}

void diskstats_describe(struct registry *r)
{
	registry_describe(
	    r, "kpulse_block_read_time_seconds_total",
	    "Time spent by completed reads, /proc/diskstats (since the device appeared)");
	registry_describe(r, "kpulse_block_write_time_seconds_total",
			  "Time spent by completed writes, /proc/diskstats");
	registry_describe(r, "kpulse_block_io_time_seconds_total",
			  "Time with at least one I/O in flight (io_ticks), /proc/diskstats");
	registry_describe(r, "kpulse_block_io_time_weighted_seconds_total",
			  "Time in flight summed over I/Os, /proc/diskstats");
	registry_describe(r, "kpulse_block_ios_in_progress", "I/Os in flight, /proc/diskstats");
	registry_describe(r, "kpulse_block_utilization_ratio",
			  "Share of the last interval with I/O in flight, as iostat's %util / 100");
	registry_describe(r, "kpulse_block_queue_length",
			  "Average I/Os in flight over the last interval, as iostat's aqu-sz");
	registry_describe(r, "kpulse_block_read_await_seconds",
			  "Mean time of the reads completed in the last interval, as iostat's "
			  "r_await");
	registry_describe(r, "kpulse_block_write_await_seconds",
			  "Mean time of the writes completed in the last interval, as iostat's "
			  "w_await");
	registry_describe(r, "kpulse_block_devices_unlisted",
			  "Block devices beyond KPULSE_MAX_BLOCK_DEVICES, without series");
}
