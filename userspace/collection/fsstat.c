// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fsstat.c - statvfs of each real filesystem. The mount table is parsed
 * when poll() on mountinfo says it changed (and at the first round); each
 * round then costs one statvfs per listed filesystem, made on a thread of
 * its own so that a hung mount cannot stop the round (see "Bounded
 * statvfs" below).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>

#include "collection/fsstat.h"
#include "collection/procfs.h"

#define MOUNTINFO_MAX_BYTES   (64 << 20) /* ~150 bytes a mount; hosts with 100k mounts exist */
#define FILESYSTEMS_MAX_BYTES (64 << 10)
#define LIST_MAX	      1024 /* bytes of an option list */

/* ------------------------------------------------------------- parsing */

/* Copies the space-terminated field at *pp into out (size len), decoding
 * the kernel's \ooo escapes (space, tab, newline, backslash). */
static int take_field(const char **pp, const char *end, char *out, size_t len)
{
	const char *p = *pp;
	size_t n = 0;

	if (p >= end || *p == ' ')
		return -EINVAL;
	for (; p < end && *p != ' '; p++) {
		char ch = *p;

		if (ch == '\\' && end - p >= 4 && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' &&
		    p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
			ch = (char)((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
			p += 3;
		}
		if (n + 1 >= len)
			return -EINVAL;
		out[n++] = ch;
	}
	out[n] = 0;
	*pp = p < end ? p + 1 : p;
	return 0;
}

static int skip_field(const char **pp, const char *end)
{
	const char *sp = memchr(*pp, ' ', (size_t)(end - *pp));

	if (!sp || sp == *pp)
		return -EINVAL;
	*pp = sp + 1;
	return 0;
}

int fsstat_parse_mountinfo_line(const char *line, size_t len, struct fsstat_mount *ret)
{
	const char *p = line, *end = line + len;
	uint64_t major, minor;

	/* mount id, parent id, major:minor */
	if (skip_field(&p, end) || skip_field(&p, end) || procfs_parse_u64(&p, &major) ||
	    *p++ != ':' || procfs_parse_u64(&p, &minor) || *p++ != ' ' || major > 4095 ||
	    minor > 1048575)
		return -EINVAL;
	/* root, then the mount point */
	if (skip_field(&p, end) || take_field(&p, end, ret->mountpoint, sizeof(ret->mountpoint)))
		return -EINVAL;
	/* mount options, then optional fields up to "-" */
	if (skip_field(&p, end))
		return -EINVAL;
	for (;;) {
		if (p + 1 < end && p[0] == '-' && p[1] == ' ') {
			p += 2;
			break;
		}
		if (skip_field(&p, end))
			return -EINVAL;
	}
	if (take_field(&p, end, ret->fstype, sizeof(ret->fstype)) ||
	    take_field(&p, end, ret->source, sizeof(ret->source)))
		return -EINVAL;
	ret->major = (unsigned)major;
	ret->minor = (unsigned)minor;
	return 0;
}

bool fsstat_type_has_dev(const char *filesystems, const char *fstype)
{
	size_t n = strlen(fstype);
	const char *line = filesystems, *nl;

	/* "nodev\tproc\n" or "\text4\n" */
	for (; (nl = strchr(line, '\n')); line = nl + 1) {
		const char *tab = memchr(line, '\t', (size_t)(nl - line));

		if (tab && tab == line && (size_t)(nl - tab - 1) == n &&
		    memcmp(tab + 1, fstype, n) == 0)
			return true;
	}
	return false;
}

/* Calls match(item, len, arg) for each non-empty item of a comma list. */
static bool list_any(const char *list, bool (*match)(const char *, size_t, const void *),
		     const void *arg)
{
	while (list && *list) {
		size_t n = strcspn(list, ",");

		if (n && match(list, n, arg))
			return true;
		list += n + (list[n] == ',');
	}
	return false;
}

static bool type_matches(const char *item, size_t n, const void *arg)
{
	const char *fstype = arg;
	size_t main = strcspn(fstype, ".");

	return (strlen(fstype) == n || main == n) && strncmp(item, fstype, n) == 0;
}

bool fsstat_list_has_type(const char *list, const char *fstype)
{
	return list_any(list, type_matches, fstype);
}

static bool path_under(const char *item, size_t n, const void *arg)
{
	const char *path = arg;

	while (n > 1 && item[n - 1] == '/') /* "/var/lib/docker/" as "/var/lib/docker" */
		n--;
	if (n == 1 && item[0] == '/')
		return true;
	return strncmp(path, item, n) == 0 && (path[n] == 0 || path[n] == '/');
}

bool fsstat_list_covers_path(const char *list, const char *path)
{
	return list_any(list, path_under, path);
}

/* FNV-1a, 32 bits: enough to keep a few long mount points apart. */
static uint32_t hash32(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

char *fsstat_label(const char *value, char *out, size_t max_len)
{
	size_t n = strlen(value), head;

	if (n <= max_len) {
		memcpy(out, value, n + 1);
		return out;
	}
	/* Cut on a UTF-8 character boundary. */
	head = max_len > 9 ? max_len - 9 : 0;
	while (head > 0 && ((unsigned char)value[head] & 0xc0) == 0x80)
		head--;
	memcpy(out, value, head);
	snprintf(out + head, 10, "~%08x", hash32(value));
	return out;
}

/* ------------------------------------------------------------ the reader */

#define LABEL_MAX (REGISTRY_LABEL_VALUE_MAX - 1)

struct listed_fs {
	char *path;    /* the whole mount point, for statvfs */
	bool may_hang; /* network, FUSE or other device-less type: on the worker */
	unsigned major, minor;
	char mountpoint[LABEL_MAX + 1], fstype[LABEL_MAX + 1], device[LABEL_MAX + 1];
};

/* A mount whose statvfs has not returned: left out until it does. */
struct stuck_fs {
	char *path;
	struct stat_worker *worker; /* abandoned, still inside that statvfs */
};

struct fsstat {
	struct procfs_file mountinfo, filesystems;
	char types_include[LIST_MAX], types_exclude[LIST_MAX], mount_exclude[LIST_MAX];
	unsigned max_filesystems;
	int (*statvfs_fn)(const char *path, struct statvfs *st);
	unsigned stat_wait_ms;
	struct listed_fs *fs;
	size_t nfs;
	size_t unlisted;
	bool fresh; /* the list matches the mount table the kernel last announced */
	uint64_t stat_errors;
	struct stat_worker *worker; /* NULL until the first round, or after a hang */
	struct stuck_fs stuck[FSSTAT_MAX_STUCK];
	size_t nstuck;
	uint64_t stuck_total;
};

static int copy_list(char *dst, const char *src)
{
	if (!src)
		src = "";
	if (strlen(src) >= LIST_MAX)
		return -ENAMETOOLONG;
	strcpy(dst, src);
	return 0;
}

int fsstat_new(const char *proc_root, const struct fsstat_options *opts, struct fsstat **ret)
{
	struct fsstat *fs = calloc(1, sizeof(*fs));
	int err;

	if (!fs)
		return -ENOMEM;
	fs->mountinfo.fd = fs->filesystems.fd = -1;
	fs->max_filesystems = opts->max_filesystems;
	fs->statvfs_fn = opts->statvfs_fn ? opts->statvfs_fn : statvfs;
	fs->stat_wait_ms = opts->stat_wait_ms ? opts->stat_wait_ms : FSSTAT_STAT_WAIT_MS;
	err = procfs_file_init(&fs->mountinfo, proc_root, "self/mountinfo", MOUNTINFO_MAX_BYTES,
			       false);
	if (!err)
		err = procfs_file_init(&fs->filesystems, proc_root, "filesystems",
				       FILESYSTEMS_MAX_BYTES, false);
	if (!err)
		err = copy_list(fs->types_include, opts->types_include);
	if (!err)
		err = copy_list(fs->types_exclude, opts->types_exclude);
	if (!err)
		err = copy_list(fs->mount_exclude, opts->mount_exclude);
	if (err) {
		fsstat_free(fs);
		return err;
	}
	*ret = fs;
	return 0;
}

static void clear_list(struct fsstat *fs)
{
	for (size_t i = 0; i < fs->nfs; i++)
		free(fs->fs[i].path);
	fs->nfs = 0;
}

static void worker_stop(struct stat_worker *w);
static void worker_unref(struct stat_worker *w);

struct fsstat *fsstat_free(struct fsstat *fs)
{
	if (!fs)
		return NULL;
	if (fs->worker)
		worker_stop(fs->worker);
	for (size_t i = 0; i < fs->nstuck; i++) {
		free(fs->stuck[i].path);
		worker_unref(fs->stuck[i].worker);
	}
	clear_list(fs);
	free(fs->fs);
	procfs_file_close(&fs->mountinfo);
	procfs_file_close(&fs->filesystems);
	free(fs);
	return NULL;
}

/* The kernel flags a changed mount table with POLLPRI (and POLLERR). */
static bool table_changed(const struct fsstat *fs)
{
	struct pollfd p = {.fd = fs->mountinfo.fd, .events = POLLPRI};

	if (!fs->fresh || fs->mountinfo.fd < 0)
		return true;
	return poll(&p, 1, 0) != 0;
}

static bool is_real(const struct fsstat *fs, const struct fsstat_mount *m)
{
	if (fsstat_list_has_type(fs->types_exclude, m->fstype) ||
	    fsstat_list_covers_path(fs->mount_exclude, m->mountpoint))
		return false;
	return fsstat_list_has_type(fs->types_include, m->fstype) ||
	       fsstat_type_has_dev(fs->filesystems.buf, m->fstype);
}

/* Rebuilds the list from the mount table; -ENOMEM, or another -errno when
 * a file cannot be read (the list is then empty). */
static int reload(struct fsstat *fs)
{
	struct fsstat_mount *m;
	const char *line, *nl;
	struct listed_fs *all = NULL;
	size_t n = 0, cap = 0;
	long len;
	int err = 0;

	clear_list(fs);
	fs->unlisted = 0;
	fs->fresh = false;
	len = procfs_file_read(&fs->mountinfo);
	if (len < 0)
		return (int)len;
	len = procfs_file_read(&fs->filesystems);
	if (len < 0)
		return (int)len;
	m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	free(fs->fs);
	fs->fs = NULL;
	for (line = fs->mountinfo.buf; (nl = strchr(line, '\n')); line = nl + 1) {
		bool dup = false;

		if (fsstat_parse_mountinfo_line(line, (size_t)(nl - line), m)) {
			fs->mountinfo.errors++;
			continue;
		}
		/* A later mount on the same point hides the earlier one. */
		for (size_t i = 0; i < n; i++) {
			if (strcmp(all[i].path, m->mountpoint) == 0) {
				free(all[i].path);
				memmove(&all[i], &all[i + 1], (n - i - 1) * sizeof(*all));
				n--;
				break;
			}
		}
		if (!is_real(fs, m))
			continue;
		/* One filesystem mounted at several points (bind mounts) is
		 * reported once, at its first mount point. */
		for (size_t i = 0; i < n && !dup; i++)
			dup = all[i].major == m->major && all[i].minor == m->minor;
		if (dup)
			continue;
		if (n == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct listed_fs *na = realloc(all, ncap * sizeof(*na));

			if (!na) {
				err = -ENOMEM;
				break;
			}
			all = na;
			cap = ncap;
		}
		all[n] = (struct listed_fs){.major = m->major, .minor = m->minor};
		all[n].may_hang = !fsstat_type_has_dev(fs->filesystems.buf, m->fstype) ||
				  strncmp(m->fstype, "fuse", 4) == 0;
		all[n].path = strdup(m->mountpoint);
		if (!all[n].path) {
			err = -ENOMEM;
			break;
		}
		fsstat_label(m->mountpoint, all[n].mountpoint, LABEL_MAX);
		fsstat_label(m->fstype, all[n].fstype, LABEL_MAX);
		fsstat_label(m->source, all[n].device, LABEL_MAX);
		n++;
	}
	if (*line)
		fs->mountinfo.errors++;
	free(m);
	fs->fs = all;
	fs->nfs = n;
	if (err) {
		clear_list(fs);
		return err;
	}
	/* The cap keeps the first filesystems in mount order. */
	fs->unlisted = n > fs->max_filesystems ? n - fs->max_filesystems : 0;
	while (fs->nfs > fs->max_filesystems)
		free(fs->fs[--fs->nfs].path);
	fs->fresh = true;
	return 0;
}

static int emit(struct registry *r, const struct listed_fs *f, const struct statvfs *st)
{
	struct metric_label l[] = {
	    {"mountpoint", f->mountpoint}, {"fstype", f->fstype}, {"device", f->device}};
	double frsize = (double)st->f_frsize;
	int err;

	err = registry_set_gauge(r, "kpulse_filesystem_size_bytes", l, 3,
				 (double)st->f_blocks * frsize);
	if (!err)
		err = registry_set_gauge(r, "kpulse_filesystem_free_bytes", l, 3,
					 (double)st->f_bfree * frsize);
	if (!err)
		err = registry_set_gauge(r, "kpulse_filesystem_avail_bytes", l, 3,
					 (double)st->f_bavail * frsize);
	if (!err)
		err = registry_set_gauge(r, "kpulse_filesystem_files", l, 3, (double)st->f_files);
	if (!err)
		err = registry_set_gauge(r, "kpulse_filesystem_files_free", l, 3,
					 (double)st->f_ffree);
	if (!err)
		err = registry_set_gauge(r, "kpulse_filesystem_readonly", l, 3,
					 (st->f_flag & ST_RDONLY) ? 1 : 0);
	return err;
}

/* ----------------------------------------------------- bounded statvfs */

/*
 * statvfs of a mount whose server is gone (NFS, CIFS) or whose FUSE daemon
 * is stopped blocks in the kernel, for minutes or for ever. So the statvfs
 * calls run on a worker thread, and a round waits for them at most
 * stat_wait_ms. A call still running then marks its mount stuck: the
 * worker is left to finish that call alone (its stuck entry keeps a
 * reference), the next round starts a new worker, and later rounds leave
 * the mount out, without waiting, until the call returns. At most
 * FSSTAT_MAX_STUCK mounts can be stuck; beyond that no statvfs is made on
 * the worker, so hung calls cannot pile up threads. The worker lives from
 * round to round (a thread per round would cost more than the calls), and
 * only filesystems that can hang use it: network and FUSE ones, and any
 * other type without a device. A local filesystem on a block device
 * answers statvfs from memory, on the round's thread, as cheaply as before
 * (a handoff to the worker costs about 12 us of CPU per round, measured with
 * bench_procpass).
 */
struct stat_worker {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* a job posted, a job done */
	pthread_t thread;
	unsigned refs;	/* the fsstat's (or its stuck entry's) and the thread's */
	bool quit;	/* no more jobs */
	bool abandoned; /* the round stopped waiting: end after this call */
	bool busy;	/* a job is posted and not finished */
	int (*statvfs_fn)(const char *path, struct statvfs *st);
	/* the job; list and which are read only while the round waits */
	const struct listed_fs *list;
	size_t *which;	/* the listed filesystem of each call */
	size_t n, next; /* calls; the one running (n: all done) */
	struct statvfs *st;
	int *rc;
	size_t cap;		     /* of which, st and rc */
	char path[FSSTAT_FIELD_MAX]; /* of the call running */
};

static void worker_unref(struct stat_worker *w)
{
	bool last;

	pthread_mutex_lock(&w->lock);
	last = --w->refs == 0;
	pthread_mutex_unlock(&w->lock);
	if (!last)
		return;
	free(w->which);
	free(w->st);
	free(w->rc);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

static void *worker_main(void *arg)
{
	struct stat_worker *w = arg;

	pthread_mutex_lock(&w->lock);
	while (!w->abandoned) {
		while (!w->busy && !w->quit)
			pthread_cond_wait(&w->cond, &w->lock);
		if (!w->busy)
			break; /* quit */
		while (w->next < w->n && !w->abandoned) {
			size_t i = w->next;
			struct statvfs st;
			int rc;

			snprintf(w->path, sizeof(w->path), "%s", w->list[w->which[i]].path);
			pthread_mutex_unlock(&w->lock);
			rc = w->statvfs_fn(w->path, &st) ? -1 : 0;
			pthread_mutex_lock(&w->lock);
			w->st[i] = st;
			w->rc[i] = rc;
			w->next = i + 1;
		}
		w->next = w->n; /* also when abandoned: its call has returned */
		w->busy = false;
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	worker_unref(w);
	return NULL;
}

static struct stat_worker *worker_new(struct fsstat *fs)
{
	struct stat_worker *w = calloc(1, sizeof(*w));
	pthread_condattr_t ca;

	if (!w)
		return NULL;
	pthread_mutex_init(&w->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	w->statvfs_fn = fs->statvfs_fn;
	w->refs = 2;
	if (pthread_create(&w->thread, NULL, worker_main, w)) {
		w->refs = 1;
		worker_unref(w);
		return NULL;
	}
	return w;
}

/* Ends the current worker, which is idle: joined, so nothing outlives the
 * fsstat but the stuck ones. */
static void worker_stop(struct stat_worker *w)
{
	pthread_mutex_lock(&w->lock);
	w->quit = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	pthread_join(w->thread, NULL);
	worker_unref(w);
}

static bool is_stuck(const struct fsstat *fs, const char *path)
{
	for (size_t i = 0; i < fs->nstuck; i++)
		if (strcmp(fs->stuck[i].path, path) == 0)
			return true;
	return false;
}

/* Drops the stuck entries whose call has returned. */
static void stuck_sweep(struct fsstat *fs)
{
	for (size_t i = 0; i < fs->nstuck;) {
		struct stuck_fs *e = &fs->stuck[i];
		bool back;

		pthread_mutex_lock(&e->worker->lock);
		back = !e->worker->busy;
		pthread_mutex_unlock(&e->worker->lock);
		if (!back) {
			i++;
			continue;
		}
		free(e->path);
		worker_unref(e->worker);
		*e = fs->stuck[--fs->nstuck];
	}
}

/* Room for n calls in an idle worker. */
static int worker_reserve(struct stat_worker *w, size_t n)
{
	size_t *which;
	struct statvfs *st;
	int *rc;

	if (n <= w->cap)
		return 0;
	which = realloc(w->which, n * sizeof(*which));
	if (which)
		w->which = which;
	st = realloc(w->st, n * sizeof(*st));
	if (st)
		w->st = st;
	rc = realloc(w->rc, n * sizeof(*rc));
	if (rc)
		w->rc = rc;
	if (!which || !st || !rc)
		return -ENOMEM;
	w->cap = n;
	return 0;
}

/*
 * Stats every listed filesystem that is not stuck, those that may hang on
 * the worker, waiting at most stat_wait_ms, and emits what returned.
 * Returns 0 or the registry's error; a worker that cannot be had (no
 * memory, no thread) or too many stuck mounts leave the series of the
 * filesystems that may hang out of the round.
 */
static int stat_and_emit(struct fsstat *fs, struct registry *r)
{
	struct stat_worker *w;
	struct timespec deadline;
	size_t n = 0, done;
	int err = 0;

	for (size_t i = 0; i < fs->nfs && !err; i++) {
		struct statvfs st;

		if (fs->fs[i].may_hang) {
			n++;
		} else if (fs->statvfs_fn(fs->fs[i].path, &st) != 0) {
			fs->stat_errors++;
		} else {
			err = emit(r, &fs->fs[i], &st);
		}
	}
	stuck_sweep(fs);
	if (err || !n || fs->nstuck >= FSSTAT_MAX_STUCK)
		return err;
	if (!fs->worker && !(fs->worker = worker_new(fs)))
		return 0;
	w = fs->worker;
	if (worker_reserve(w, n))
		return 0;
	n = 0;
	for (size_t i = 0; i < fs->nfs; i++)
		if (fs->fs[i].may_hang && !is_stuck(fs, fs->fs[i].path))
			w->which[n++] = i;
	if (!n)
		return 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_nsec += (long)(fs->stat_wait_ms % 1000) * 1000000L;
	deadline.tv_sec += fs->stat_wait_ms / 1000 + deadline.tv_nsec / 1000000000L;
	deadline.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&w->lock);
	w->list = fs->fs;
	w->n = n;
	w->next = 0;
	w->busy = true;
	pthread_cond_broadcast(&w->cond);
	while (w->busy && pthread_cond_timedwait(&w->cond, &w->lock, &deadline) != ETIMEDOUT)
		;
	done = w->next;
	if (w->busy) {
		/* Hung in the call at w->next: the worker finishes it alone. */
		struct stuck_fs *e = &fs->stuck[fs->nstuck];

		w->abandoned = true;
		pthread_detach(w->thread);
		fs->worker = NULL;
		e->path = strdup(w->path);
		e->worker = w;
		if (e->path) {
			fs->nstuck++;
			fs->stuck_total++;
		} else {
			w->refs--; /* the fsstat's; the thread still holds one */
		}
	}
	pthread_mutex_unlock(&w->lock);

	/* Calls before done have returned, and the worker writes no more of
	 * their results. */
	for (size_t i = 0; i < done && !err; i++) {
		if (w->rc[i]) {
			fs->stat_errors++;
			continue;
		}
		err = emit(r, &fs->fs[w->which[i]], &w->st[i]);
	}
	return err;
}

int fsstat_sample(struct fsstat *fs, struct registry *r)
{
	int err = 0;

	/* A table that cannot be read leaves the filesystems out of the
	 * round; the failed read is counted on its file. */
	if (table_changed(fs) && reload(fs) == -ENOMEM)
		return -ENOMEM;
	if (fs->fresh) {
		err = stat_and_emit(fs, r);
		for (size_t i = 0; i < fs->nfs && !err; i++) {
			struct metric_label l[] = {{"mountpoint", fs->fs[i].mountpoint},
						   {"fstype", fs->fs[i].fstype},
						   {"device", fs->fs[i].device}};

			if (is_stuck(fs, fs->fs[i].path))
				err = registry_set_gauge(r, "kpulse_filesystem_stuck", l, 3, 1);
		}
		if (!err)
			err = registry_set_gauge(r, "kpulse_filesystems_unlisted", NULL, 0,
						 (double)fs->unlisted);
	}
	if (!err)
		err =
		    registry_set_gauge(r, "kpulse_filesystems_stuck", NULL, 0, (double)fs->nstuck);
	if (!err)
		err = registry_set_counter(r, "kpulse_filesystem_stuck_total", NULL, 0,
					   (double)fs->stuck_total);
	if (!err)
		err = registry_set_counter(r, "kpulse_filesystem_stat_errors_total", NULL, 0,
					   (double)fs->stat_errors);
	if (!err)
		err = procfs_file_report(&fs->mountinfo, r);
	if (!err)
		err = procfs_file_report(&fs->filesystems, r);
	return err;
}

void fsstat_describe(struct registry *r)
{
	registry_describe(r, "kpulse_filesystem_size_bytes", "Filesystem size (statvfs)");
	registry_describe(r, "kpulse_filesystem_free_bytes",
			  "Free bytes, including those reserved for root (statvfs)");
	registry_describe(r, "kpulse_filesystem_avail_bytes",
			  "Bytes available to unprivileged users (statvfs)");
	registry_describe(r, "kpulse_filesystem_files", "Inodes (statvfs)");
	registry_describe(r, "kpulse_filesystem_files_free", "Free inodes (statvfs)");
	registry_describe(r, "kpulse_filesystem_readonly", "1 when mounted read-only");
	registry_describe(r, "kpulse_filesystems_unlisted",
			  "Real filesystems beyond KPULSE_MAX_FILESYSTEMS, without series");
	registry_describe(r, "kpulse_filesystem_stat_errors_total",
			  "statvfs calls that failed (a mount point gone between two rounds)");
	registry_describe(r, "kpulse_filesystem_stuck",
			  "1 while a filesystem's statvfs has not returned (a hung NFS server or "
			  "FUSE daemon); its other series are left out meanwhile");
	registry_describe(r, "kpulse_filesystems_stuck",
			  "Filesystems whose statvfs has not returned, left out of the rounds");
	registry_describe(r, "kpulse_filesystem_stuck_total",
			  "Times a filesystem's statvfs outlasted the wait and it was left out");
}
