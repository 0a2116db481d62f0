// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * cgroups.c - per-cgroup CPU, run-queue, memory, I/O and OOM figures on
 * cgroup v2 and v1 (see cgroups.h for which hierarchy names a cgroup).
 *
 * CPU and run-queue time come from the sched program's cgroup_stats map
 * and its per-CPU caches, keyed by cgroup id; ids become paths by walking
 * the naming hierarchy's mount (a cgroup's id is its directory's inode
 * number). The busiest cgroups of the round (top K by CPU, by run-queue
 * time and by I/O) get series; the rest of the CPU and run-queue time is
 * one "(other)" row. Memory, I/O and OOM kills of the listed cgroups are
 * read from their own files, so they agree with the kernel by design.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "kpulse_abi.h"
#include "collection/cgroups.h"
#include "collection/procfs.h"

const char *const cgroups_mode_names[CGROUPS_MODE_COUNT] = {"auto", "v2", "v1", "off"};

struct cg_known {
	uint64_t id;
	char *path; /* relative to the mount, "/" for the root */
};

/* What one cgroup did: totals since kpulse started (CPU, run queue from
 * the map; I/O and OOM from its files) and this round's deltas. */
struct cg_row {
	uint64_t id;
	uint64_t oncpu_ns, runq_ns;
	uint64_t d_oncpu, d_runq;
	uint64_t io_read, io_write, d_io;
	double oom_kills;
	bool listed;
};

/* Block I/O bytes and page faults of a cgroup from its processes' (by
 * path). */
struct cg_io {
	char path[256];
	uint64_t rd, wr, d; /* totals since start; d this round */
	uint64_t faults;    /* page faults, total */
};

#define CG_IO_MAX 1024

struct cgroups {
	enum cgroups_mode mode;
	unsigned top_k;
	struct cgroups_mounts m;
	const char *root;      /* the naming hierarchy's mount */
	bool v2_memory, v2_io; /* v2 holds those controllers */

	struct cg_known *known; /* sorted by id */
	size_t nknown;
	bool walked_this_round;

	struct cg_io *io; /* without the v2 io controller */
	size_t nio;

	struct cg_row *prev; /* sorted by id */
	size_t nprev;
	double other_cpu_s, other_runq_s;
};

/* ------------------------------------------------------------ parsing */

/* Copies a mountinfo field, undoing the octal escapes (\040 for space). */
static void unescape_field(const char *s, size_t n, char *out, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < len; i++) {
		if (s[i] == '\\' && i + 3 < n && s[i + 1] >= '0' && s[i + 1] <= '3') {
			out[o++] =
			    (char)((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		} else {
			out[o++] = s[i];
		}
	}
	out[o] = 0;
}

static bool has_option(const char *opts, size_t n, const char *name)
{
	size_t l = strlen(name);

	for (size_t i = 0; i + l <= n; i++) {
		if ((i == 0 || opts[i - 1] == ',') && !strncmp(opts + i, name, l) &&
		    (i + l == n || opts[i + l] == ','))
			return true;
	}
	return false;
}

int cgroups_parse_mountinfo(const char *text, struct cgroups_mounts *ret)
{
	struct cgroups_mounts m = {};

	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n'), *f[5], *sep, *fstype, *src, *opts;
		size_t len = end ? (size_t)(end - line) : strlen(line);
		int nf = 0;

		/* id parent maj:min root mountpoint ... - fstype source superopts */
		for (const char *s = line; nf < 5 && s < line + len;) {
			f[nf++] = s;
			s = memchr(s, ' ', line + len - s);
			if (!s)
				break;
			s++;
		}
		sep = nf == 5 ? strstr(line, " - ") : NULL;
		if (!sep || sep > line + len)
			return -EINVAL;
		fstype = sep + 3;
		src = memchr(fstype, ' ', line + len - fstype);
		opts = src ? memchr(src + 1, ' ', line + len - src - 1) : NULL;
		if (!src || !opts)
			return -EINVAL;
		opts++;
		{
			const char *mp = f[4], *mpe = memchr(mp, ' ', line + len - mp);
			size_t mpn = mpe ? (size_t)(mpe - mp) : 0, on = line + len - opts;
			size_t fl = (size_t)(src - fstype);

			if (!mpe)
				return -EINVAL;
			if (fl == 7 && !strncmp(fstype, "cgroup2", 7) && !m.v2[0])
				unescape_field(mp, mpn, m.v2, sizeof(m.v2));
			else if (fl == 6 && !strncmp(fstype, "cgroup", 6)) {
				if (has_option(opts, on, "cpuacct") && !m.cpuacct[0])
					unescape_field(mp, mpn, m.cpuacct, sizeof(m.cpuacct));
				if (has_option(opts, on, "memory") && !m.memory[0])
					unescape_field(mp, mpn, m.memory, sizeof(m.memory));
				if (has_option(opts, on, "blkio") && !m.blkio[0])
					unescape_field(mp, mpn, m.blkio, sizeof(m.blkio));
			}
		}
		line = end ? end + 1 : NULL;
	}
	*ret = m;
	return 0;
}

int cgroups_parse_proc_cgroup(const char *text, enum cgroups_mode mode, char *buf, size_t len)
{
	for (const char *line = text; line && *line;) {
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);
		const char *c1 = memchr(line, ':', n), *c2, *path;
		bool match;

		if (!c1 || !(c2 = memchr(c1 + 1, ':', line + n - c1 - 1)))
			return -EINVAL;
		if (mode == CGROUPS_V2)
			match = c1 - line == 1 && line[0] == '0' && c2 == c1 + 1;
		else
			match = has_option(c1 + 1, (size_t)(c2 - c1 - 1), "cpuacct");
		if (match) {
			path = c2 + 1;
			if (path >= line + n || *path != '/')
				return -EINVAL;
			if (line + n - path == 1)
				snprintf(buf, len, "/");
			else
				snprintf(buf, len, "%.*s", (int)(line + n - path - 1), path + 1);
			return 0;
		}
		line = end ? end + 1 : NULL;
	}
	return -ENOENT;
}

int cgroups_pid_path(const struct cgroups *cg, uint32_t pid, char *buf, size_t len)
{
	char path[64], text[4096];

	if (!cg || cg->mode == CGROUPS_OFF)
		return -ENODEV;
	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/cgroup", pid);
	if (procfs_read_file(path, text, sizeof(text)) < 0)
		return -ENOENT;
	return cgroups_parse_proc_cgroup(text, cg->mode, buf, len) ? -ENOENT : 0;
}

/* ------------------------------------------------------------ ids */

static int known_cmp(const void *a, const void *b)
{
	const struct cg_known *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static void known_clear(struct cgroups *cg)
{
	for (size_t i = 0; i < cg->nknown; i++)
		free(cg->known[i].path);
	cg->nknown = 0;
}

/* Adds every directory below dir (rel is its path from the mount). */
static void walk(struct cgroups *cg, int dirfd, const char *rel, int depth)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *de;

	if (!d) {
		close(dirfd);
		return;
	}
	while ((de = readdir(d)) && cg->nknown < CGROUPS_MAX_KNOWN) {
		char sub[PATH_MAX];
		struct stat st;
		int fd;

		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		fd = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0)
			continue;
		if (fstat(fd, &st) || snprintf(sub, sizeof(sub), "%s%s%s", rel, rel[0] ? "/" : "",
					       de->d_name) >= (int)sizeof(sub)) {
			close(fd);
			continue;
		}
		cg->known[cg->nknown].id = st.st_ino;
		cg->known[cg->nknown].path = strdup(sub);
		if (cg->known[cg->nknown].path)
			cg->nknown++;
		if (depth < 32)
			walk(cg, fd, sub, depth + 1);
		else
			close(fd);
	}
	closedir(d);
}

static void walk_mount(struct cgroups *cg)
{
	struct stat st;
	int fd;

	known_clear(cg);
	fd = open(cg->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) == 0) {
		cg->known[0].id = st.st_ino;
		cg->known[0].path = strdup("/");
		if (cg->known[0].path)
			cg->nknown = 1;
	}
	walk(cg, fd, "", 0);
	qsort(cg->known, cg->nknown, sizeof(*cg->known), known_cmp);
}

int cgroups_path_of_id(struct cgroups *cg, uint64_t id, char *buf, size_t len)
{
	struct cg_known key = {.id = id}, *k;

	if (cg->mode == CGROUPS_OFF)
		return -ENOENT;
	k = bsearch(&key, cg->known, cg->nknown, sizeof(*k), known_cmp);
	if (!k && !cg->walked_this_round) {
		cg->walked_this_round = true;
		walk_mount(cg);
		k = bsearch(&key, cg->known, cg->nknown, sizeof(*k), known_cmp);
	}
	if (!k)
		return -ENOENT;
	snprintf(buf, len, "%s", k->path);
	return 0;
}

/* ------------------------------------------------------------ files */

/* dir/path/file in buf; path "/" is the mount itself. */
static int cg_file(char *buf, size_t len, const char *dir, const char *path, const char *file)
{
	int n = strcmp(path, "/") ? snprintf(buf, len, "%s/%s/%s", dir, path, file)
				  : snprintf(buf, len, "%s/%s", dir, file);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int cgroups_parse_keyed(const char *text, const char *key, uint64_t *ret)
{
	size_t l = strlen(key);

	for (const char *s = text; s && *s; s = strchr(s, '\n'), s = s ? s + 1 : NULL) {
		if (!strncmp(s, key, l) && s[l] == ' ') {
			const char *v = s + l;

			return procfs_parse_u64(&v, ret);
		}
	}
	return -ENOENT;
}

/* Memory in use by the cgroup at path; -ENOENT when no hierarchy has it. */
static int read_memory(const struct cgroups *cg, const char *path, uint64_t *ret)
{
	char file[PATH_MAX], text[64];
	const char *v = text;

	if (cg->v2_memory ? cg_file(file, sizeof(file), cg->m.v2, path, "memory.current")
			  : !cg->m.memory[0] || cg_file(file, sizeof(file), cg->m.memory, path,
							"memory.usage_in_bytes"))
		return -ENOENT;
	if (procfs_read_file(file, text, sizeof(text)) < 0)
		return -ENOENT;
	return procfs_parse_u64(&v, ret);
}

static int read_oom_kills(const struct cgroups *cg, const char *path, uint64_t *ret)
{
	char file[PATH_MAX], text[1024];

	if (cg->v2_memory ? cg_file(file, sizeof(file), cg->m.v2, path, "memory.events")
			  : !cg->m.memory[0] || cg_file(file, sizeof(file), cg->m.memory, path,
							"memory.oom_control"))
		return -ENOENT;
	if (procfs_read_file(file, text, sizeof(text)) < 0)
		return -ENOENT;
	return cgroups_parse_keyed(text, "oom_kill", ret);
}

static struct cg_io *io_find(const struct cgroups *cg, const char *path)
{
	for (size_t i = 0; i < cg->nio; i++)
		if (!strcmp(cg->io[i].path, path))
			return &cg->io[i];
	return NULL;
}

void cgroups_add_process(struct cgroups *cg, const char *path, uint64_t rd, uint64_t wr,
			 uint64_t faults)
{
	struct cg_io *e;

	if (!cg || cg->mode == CGROUPS_OFF || !path[0] || !(rd + wr + faults))
		return;
	e = io_find(cg, path);
	if (!e && cg->nio < CG_IO_MAX) {
		e = &cg->io[cg->nio++];
		memset(e, 0, sizeof(*e));
		snprintf(e->path, sizeof(e->path), "%s", path);
	}
	if (!e)
		return;
	e->rd += rd;
	e->wr += wr;
	e->d += rd + wr;
	e->faults += faults;
}

/* The value after "key=" in [s, end); -ENOENT without it. */
static int line_value(const char *s, const char *end, const char *key, uint64_t *ret)
{
	size_t l = strlen(key);

	for (const char *q = s; q + l <= end; q++)
		if (!strncmp(q, key, l) && (q == s || q[-1] == ' ')) {
			q += l;
			return procfs_parse_u64(&q, ret);
		}
	return -ENOENT;
}

void cgroups_parse_io_stat(const char *text, uint64_t *ret_rd, uint64_t *ret_wr)
{
	uint64_t r = 0, w = 0, v;

	for (const char *s = text; *s;) {
		const char *e = strchrnul(s, '\n');

		if (!line_value(s, e, "rbytes=", &v))
			r += v;
		if (!line_value(s, e, "wbytes=", &v))
			w += v;
		s = *e ? e + 1 : e;
	}
	*ret_rd = r;
	*ret_wr = w;
}

/*
 * Bytes read and written: v2 io.stat ("8:0 rbytes=.. wbytes=.. ..." per
 * device). Without the v2 io controller, the block program's bytes of the
 * cgroup's processes (v1 blkio.throttle.io_service_bytes counts only while
 * some cgroup has a throttle limit on the device, so it cannot be relied
 * on).
 */
static int read_io(const struct cgroups *cg, const char *path, uint64_t *rd, uint64_t *wr)
{
	char file[PATH_MAX], text[8192];
	const struct cg_io *e;

	if (!cg->v2_io) {
		e = io_find(cg, path);
		*rd = e ? e->rd : 0;
		*wr = e ? e->wr : 0;
		return 0;
	}
	if (cg_file(file, sizeof(file), cg->m.v2, path, "io.stat"))
		return -ENOENT;
	if (procfs_read_file(file, text, sizeof(text)) < 0)
		return -ENOENT;
	cgroups_parse_io_stat(text, rd, wr);
	return 0;
}

/* ------------------------------------------------------------ the map */

static void *percpu_lookup(int ncpus, int fd, const void *key, size_t value_size)
{
	size_t stride = (value_size + 7) & ~(size_t)7;
	void *vals = calloc(ncpus, stride);

	if (vals && bpf_map_lookup_elem(fd, key, vals) != 0) {
		free(vals);
		return NULL;
	}
	return vals;
}

static int row_cmp_id(const void *a, const void *b)
{
	const struct cg_row *x = a, *y = b;

	return x->id < y->id ? -1 : x->id > y->id;
}

static struct cg_row *row_add(struct cg_row **rows, size_t *n, size_t *cap, uint64_t id)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		struct cg_row *nr = realloc(*rows, c * sizeof(*nr));

		if (!nr)
			return NULL;
		*rows = nr;
		*cap = c;
	}
	memset(&(*rows)[*n], 0, sizeof(**rows));
	(*rows)[*n].id = id;
	return &(*rows)[(*n)++];
}

/* Totals per cgroup id: cgroup_stats first, then the per-CPU caches (the
 * order that keeps each total monotonic, as for processes). */
static int read_rows(const struct probes *probes, int ncpus, struct cg_row **ret, size_t *ret_n)
{
	int fd = probes_map_fd(probes, PROBE_SCHED, "cgroup_stats");
	int cfd = probes_map_fd(probes, PROBE_SCHED, "sched_cpu");
	struct cg_row *rows = NULL;
	size_t n = 0, cap = 0, out = 0;
	uint64_t key, next, *prev = NULL;
	size_t stride = (sizeof(struct kp_sched_cpu) + 7) & ~(size_t)7;
	uint32_t zero = 0;
	int guard = 0;
	void *vals;

	while (fd >= 0 && bpf_map_get_next_key(fd, prev, &next) == 0 &&
	       guard++ < 2 * KP_CGROUP_MAX_ENTRIES) {
		struct cg_row *row;

		key = next;
		prev = &key;
		vals = percpu_lookup(ncpus, fd, &key, sizeof(struct kp_cgroup_stat));
		if (!vals)
			continue;
		row = row_add(&rows, &n, &cap, key);
		for (int cpu = 0; row && cpu < ncpus; cpu++) {
			const struct kp_cgroup_stat *s =
			    (const void *)((const char *)vals + cpu * (sizeof(*s) + 7) / 8 * 8);

			row->oncpu_ns += s->oncpu_ns;
			row->runq_ns += s->runq_delay_ns;
		}
		free(vals);
		if (!row)
			goto nomem;
	}
	if (cfd >= 0 && (vals = percpu_lookup(ncpus, cfd, &zero, sizeof(struct kp_sched_cpu)))) {
		for (int cpu = 0; cpu < ncpus; cpu++) {
			const struct kp_sched_cpu *c =
			    (const void *)((const char *)vals + cpu * stride);

			for (int i = 0; i < KP_SCHED_CACHE_SLOTS; i++) {
				const struct kp_sched_cache_slot *s = &c->cache[i];
				struct cg_row *row;

				if (!s->cgid || (!s->oncpu_ns && !s->runq_ns))
					continue;
				row = row_add(&rows, &n, &cap, s->cgid);
				if (!row) {
					free(vals);
					goto nomem;
				}
				row->oncpu_ns = s->oncpu_ns;
				row->runq_ns = s->runq_ns;
			}
		}
		free(vals);
	}
	if (n)
		qsort(rows, n, sizeof(*rows), row_cmp_id);
	for (size_t i = 0; i < n; i++) {
		if (out && rows[out - 1].id == rows[i].id) {
			rows[out - 1].oncpu_ns += rows[i].oncpu_ns;
			rows[out - 1].runq_ns += rows[i].runq_ns;
			continue;
		}
		rows[out++] = rows[i];
	}
	*ret = rows;
	*ret_n = out;
	return 0;
nomem:
	free(rows);
	return -ENOMEM;
}

/* ------------------------------------------------------------ series */

static int rank_by;

static int rank_cmp(const void *a, const void *b)
{
	const struct cg_row *x = *(const struct cg_row *const *)a;
	const struct cg_row *y = *(const struct cg_row *const *)b;
	uint64_t vx = rank_by == 0 ? x->d_oncpu : rank_by == 1 ? x->d_runq : x->d_io;
	uint64_t vy = rank_by == 0 ? y->d_oncpu : rank_by == 1 ? y->d_runq : y->d_io;

	if (vx != vy)
		return vx > vy ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static int emit_row(struct cgroups *cg, struct registry *r, struct cg_row *row)
{
	char path[REGISTRY_LABEL_VALUE_MAX * 4];
	struct metric_label l[2] = {{"cgroup", path}};
	const struct cg_io *e;
	uint64_t mem, oom;
	int err = 0;

	if (cgroups_path_of_id(cg, row->id, path, sizeof(path)))
		return 0; /* removed since: its time stays in no row */
	err |=
	    registry_set_counter(r, "kpulse_cgroup_cpu_seconds_total", l, 1, row->oncpu_ns / 1e9);
	err |= registry_set_counter(r, "kpulse_cgroup_runqueue_seconds_total", l, 1,
				    row->runq_ns / 1e9);
	if (read_memory(cg, path, &mem) == 0)
		err |= registry_set_gauge(r, "kpulse_cgroup_memory_bytes", l, 1, mem);
	e = io_find(cg, path);
	err |= registry_set_counter(r, "kpulse_cgroup_page_faults_total", l, 1, e ? e->faults : 0);
	if (read_oom_kills(cg, path, &oom) == 0)
		err |= registry_set_counter(r, "kpulse_cgroup_oom_kills_total", l, 1, oom);
	if (read_io(cg, path, &row->io_read, &row->io_write) == 0) {
		l[1] = (struct metric_label){"op", "read"};
		err |= registry_set_counter(r, "kpulse_cgroup_io_bytes_total", l, 2, row->io_read);
		l[1] = (struct metric_label){"op", "write"};
		err |= registry_set_counter(r, "kpulse_cgroup_io_bytes_total", l, 2, row->io_write);
	}
	row->listed = true;
	return err;
}

int cgroups_sample(struct cgroups *cg, const struct probes *probes, int ncpus, struct registry *r)
{
	struct cg_row *rows = NULL, **order = NULL;
	struct metric_label other[] = {{"cgroup", CGROUPS_OTHER}};
	uint64_t all_cpu = 0, all_runq = 0, top_cpu = 0, top_runq = 0;
	size_t n = 0, j = 0;
	int err;

	if (cg->mode == CGROUPS_OFF)
		return 0;
	cg->walked_this_round = false;
	err = read_rows(probes, ncpus, &rows, &n);
	if (err)
		return err;
	for (size_t i = 0; i < n; i++) {
		while (j < cg->nprev && cg->prev[j].id < rows[i].id)
			j++;
		if (j < cg->nprev && cg->prev[j].id == rows[i].id) {
			const struct cg_row *p = &cg->prev[j];

			rows[i].d_oncpu = rows[i].oncpu_ns >= p->oncpu_ns
					      ? rows[i].oncpu_ns - p->oncpu_ns
					      : rows[i].oncpu_ns;
			rows[i].d_runq = rows[i].runq_ns >= p->runq_ns
					     ? rows[i].runq_ns - p->runq_ns
					     : rows[i].runq_ns;
			/* I/O of a cgroup listed last round: its growth ranks it. */
			if (!cg->v2_io) {
				char path[PATH_MAX];
				const struct cg_io *e;

				if (!cgroups_path_of_id(cg, rows[i].id, path, sizeof(path)) &&
				    (e = io_find(cg, path)))
					rows[i].d_io = e->d;
			} else if (p->listed) {
				uint64_t rd = 0, wr = 0;
				char path[PATH_MAX];

				if (!cgroups_path_of_id(cg, rows[i].id, path, sizeof(path)) &&
				    !read_io(cg, path, &rd, &wr) &&
				    rd + wr >= p->io_read + p->io_write)
					rows[i].d_io = rd + wr - p->io_read - p->io_write;
			}
		} else {
			rows[i].d_oncpu = rows[i].oncpu_ns;
			rows[i].d_runq = rows[i].runq_ns;
		}
		all_cpu += rows[i].d_oncpu;
		all_runq += rows[i].d_runq;
	}
	order = n ? malloc(n * sizeof(*order)) : NULL;
	if (n && !order) {
		free(rows);
		return -ENOMEM;
	}
	/* The union of the top K by CPU, by run-queue time and by I/O. */
	for (rank_by = 0; rank_by < 3; rank_by++) {
		for (size_t i = 0; i < n; i++)
			order[i] = &rows[i];
		if (n)
			qsort(order, n, sizeof(*order), rank_cmp);
		for (size_t k = 0; k < n && k < cg->top_k; k++) {
			struct cg_row *row = order[k];
			uint64_t d = rank_by == 0   ? row->d_oncpu
				     : rank_by == 1 ? row->d_runq
						    : row->d_io;

			if (!d)
				break;
			if (!row->listed) {
				err |= emit_row(cg, r, row);
				if (row->listed) {
					top_cpu += row->d_oncpu;
					top_runq += row->d_runq;
				}
			}
		}
	}
	cg->other_cpu_s += (all_cpu - top_cpu) / 1e9;
	cg->other_runq_s += (all_runq - top_runq) / 1e9;
	err |=
	    registry_set_counter(r, "kpulse_cgroup_cpu_seconds_total", other, 1, cg->other_cpu_s);
	err |= registry_set_counter(r, "kpulse_cgroup_runqueue_seconds_total", other, 1,
				    cg->other_runq_s);
	free(order);
	for (size_t i = 0; i < cg->nio; i++)
		cg->io[i].d = 0;
	free(cg->prev);
	cg->prev = rows;
	cg->nprev = n;
	return err ? -ENOMEM : 0;
}

/* ------------------------------------------------------------ life */

static bool v2_has_controller(const char *v2, const char *name)
{
	char file[PATH_MAX], text[512];
	long n;

	if (!v2[0] ||
	    snprintf(file, sizeof(file), "%s/cgroup.controllers", v2) >= (int)sizeof(file))
		return false;
	n = procfs_read_file(file, text, sizeof(text));
	if (n <= 0)
		return false;
	for (char *tok = strtok(text, " \n"); tok; tok = strtok(NULL, " \n"))
		if (!strcmp(tok, name))
			return true;
	return false;
}

int cgroups_new(enum cgroups_mode mode, unsigned top_k, struct cgroups **ret)
{
	struct cgroups *cg = calloc(1, sizeof(*cg));
	char *text = malloc(1 << 20);
	long n;

	if (!cg || !text) {
		free(text);
		free(cg);
		return -ENOMEM;
	}
	cg->top_k = top_k ? top_k : 10;
	n = procfs_read_file("/proc/self/mountinfo", text, 1 << 20);
	if (n < 0 || cgroups_parse_mountinfo(text, &cg->m))
		memset(&cg->m, 0, sizeof(cg->m));
	free(text);
	if (mode == CGROUPS_AUTO) {
		if (cg->m.v2[0] && v2_has_controller(cg->m.v2, "cpu"))
			mode = CGROUPS_V2;
		else if (cg->m.cpuacct[0])
			mode = CGROUPS_V1;
		else
			mode = cg->m.v2[0] ? CGROUPS_V2 : CGROUPS_OFF;
	}
	if ((mode == CGROUPS_V2 && !cg->m.v2[0]) || (mode == CGROUPS_V1 && !cg->m.cpuacct[0]))
		mode = CGROUPS_OFF;
	cg->mode = mode;
	cg->root = mode == CGROUPS_V2 ? cg->m.v2 : cg->m.cpuacct;
	cg->v2_memory = v2_has_controller(cg->m.v2, "memory");
	cg->v2_io = v2_has_controller(cg->m.v2, "io");
	if (mode != CGROUPS_OFF) {
		cg->known = calloc(CGROUPS_MAX_KNOWN, sizeof(*cg->known));
		cg->io = calloc(CG_IO_MAX, sizeof(*cg->io));
		if (!cg->known || !cg->io) {
			cgroups_free(cg);
			return -ENOMEM;
		}
		walk_mount(cg);
	}
	*ret = cg;
	return 0;
}

struct cgroups *cgroups_free(struct cgroups *cg)
{
	if (!cg)
		return NULL;
	if (cg->known)
		known_clear(cg);
	free(cg->known);
	free(cg->io);
	free(cg->prev);
	free(cg);
	return NULL;
}

enum cgroups_mode cgroups_mode(const struct cgroups *cg)
{
	return cg ? cg->mode : CGROUPS_OFF;
}

void cgroups_set_top_k(struct cgroups *cg, unsigned top_k)
{
	if (top_k)
		cg->top_k = top_k;
}
