// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * procs.c - per-process figures with bounded series (see procs.h).
 *
 * Each round reads every process's totals (the shared proc_stats map plus
 * the per-CPU caches), takes the deltas against the previous round, and
 * adds them to the process's group: (name, cgroup) by default, the pid
 * itself with the per-pid option. The top K groups per metric by delta
 * become labelled series whose value is the group's total since kpulse
 * started; the rest of the delta goes to an "other processes" counter, so
 * the rows add up and the series stay bounded by the names and cgroups a
 * host has, not by how many processes ever ran.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>

#include "kpulse_abi.h"
#include "collection/cgroups.h"
#include "collection/procfs.h"
#include "collection/procs.h"
#include "collection/proctab.h"
#include "util/utf8.h"

enum proc_metric {
	PM_ONCPU,
	PM_RUNQ,
	PM_FAULTS,
	PM_IO_READ,
	PM_IO_WRITE,
	PM_NR,
};

static const struct {
	const char *name;
	const char *other;
	const char *op; /* label op=..., or NULL */
	double scale;
} proc_metrics[PM_NR] = {
    [PM_ONCPU] = {"kpulse_sched_process_cpu_seconds_total",
		  "kpulse_sched_other_processes_cpu_seconds_total", NULL, 1e-9},
    [PM_RUNQ] = {"kpulse_sched_process_runqueue_seconds_total",
		 "kpulse_sched_other_processes_runqueue_seconds_total", NULL, 1e-9},
    [PM_FAULTS] = {"kpulse_mem_process_page_faults_total",
		   "kpulse_mem_other_processes_page_faults_total", NULL, 1},
    [PM_IO_READ] = {"kpulse_block_process_io_bytes_total",
		    "kpulse_block_other_processes_io_bytes_total", "read", 1},
    [PM_IO_WRITE] = {"kpulse_block_process_io_bytes_total",
		     "kpulse_block_other_processes_io_bytes_total", "write", 1},
};

#define CG_LEN 256 /* a cgroup path; the label keeps REGISTRY_LABEL_VALUE_MAX - 1 bytes */
/* Distinct cgroup paths remembered; processes of cgroups beyond it are in
 * the unknown one. Rows and groups hold an index, not the path. */
#define CG_PATHS_MAX 4096

struct proc_row {
	uint32_t tgid;
	uint64_t v[PM_NR];
	uint64_t delta[PM_NR];
	char comm[KP_COMM_LEN];
	uint16_t cg;	/* index in cg_paths; 0 unknown */
	bool comm_read; /* /proc/PID/comm already tried */
	bool cg_read;	/* /proc/PID/cgroup already tried */
};

/* A (name, cgroup) group: what its processes did since kpulse started. */
struct proc_group {
	char comm[KP_COMM_LEN];
	uint16_t cg;
	double total[PM_NR];
	uint64_t delta[PM_NR]; /* this round */
	uint64_t last_round;
};

#define GROUP_SLOTS (2 * PROCS_MAX_GROUPS) /* open addressing, power of two */

struct procs {
	const struct probes *probes;
	struct cgroups *cg;
	int ncpus;
	unsigned top_k;
	bool per_pid;
	uint64_t round;

	struct proc_row *prev_rows; /* sorted by tgid */
	size_t prev_nrows;
	double other_total[PM_NR];

	char **cg_paths; /* [0] is "" */
	size_t ncg_paths;

	struct event_cgroup {
		uint32_t tgid;
		uint64_t cgroup_id;
	} * event_cg; /* [PROCS_EVENT_SLOTS] */

	struct proc_group *groups;
	size_t ngroups;
	int32_t *slots; /* index into groups, -1 empty */

	json_t *busiest; /* the last round's busiest pids */

	struct proctab proctab; /* names and exit fault totals from process events */
};

/* ------------------------------------------------------------ reading */

static void *percpu_lookup(const struct procs *p, int fd, const void *key, size_t value_size)
{
	size_t stride = (value_size + 7) & ~(size_t)7;
	void *vals = calloc(p->ncpus, stride);

	if (vals && bpf_map_lookup_elem(fd, key, vals) != 0) {
		free(vals);
		return NULL;
	}
	return vals;
}

#define PERCPU_AT(vals, type, cpu)                                                                 \
	((const type *)((const char *)(vals) + (size_t)(cpu) * ((sizeof(type) + 7) & ~(size_t)7)))

static int row_cmp_tgid(const void *a, const void *b)
{
	const struct proc_row *x = a, *y = b;

	return x->tgid < y->tgid ? -1 : x->tgid > y->tgid;
}

struct row_vec {
	struct proc_row *rows;
	size_t n, cap;
};

static struct proc_row *row_append(struct row_vec *rv, uint32_t tgid)
{
	struct proc_row *row;

	if (rv->n == rv->cap) {
		size_t cap = rv->cap ? 2 * rv->cap : 256;
		struct proc_row *nr = realloc(rv->rows, cap * sizeof(*nr));

		if (!nr)
			return NULL;
		rv->rows = nr;
		rv->cap = cap;
	}
	row = &rv->rows[rv->n++];
	memset(row, 0, sizeof(*row));
	row->tgid = tgid;
	return row;
}

/* Where a per-CPU cache's slots sit in its map value and how they are
 * laid out: a __u32 tgid first (0: empty), then two __u64 values. */
struct cache_layout {
	size_t value_size; /* of the map value (one CPU's) */
	size_t cache_off;  /* of the first slot in it */
	size_t slot_size;
	size_t v0_off, v1_off; /* of the two values in a slot */
	int nslots;
};

static const struct cache_layout sched_cache = {
    .value_size = sizeof(struct kp_sched_cpu),
    .cache_off = offsetof(struct kp_sched_cpu, cache),
    .slot_size = sizeof(struct kp_sched_cache_slot),
    .v0_off = offsetof(struct kp_sched_cache_slot, oncpu_ns),
    .v1_off = offsetof(struct kp_sched_cache_slot, runq_ns),
    .nslots = KP_SCHED_CACHE_SLOTS,
};

static const struct cache_layout blk_cache = {
    .value_size = sizeof(struct kp_blk_cpu),
    .cache_off = offsetof(struct kp_blk_cpu, cache),
    .slot_size = sizeof(struct kp_proc_cache_slot),
    .v0_off = offsetof(struct kp_proc_cache_slot, v[0]),
    .v1_off = offsetof(struct kp_proc_cache_slot, v[1]),
    .nslots = KP_PROC_CACHE_SLOTS,
};

/* Adds the per-CPU cache slots of a sched_cpu / blk_cpu value as rows
 * (the two values as metrics m0 and m1). */
static int append_cache_rows(struct procs *p, struct row_vec *rv, enum probe_subsystem s,
			     const char *map, const struct cache_layout *l, int m0, int m1)
{
	int fd = probes_map_fd(p->probes, s, map);
	size_t stride = (l->value_size + 7) & ~(size_t)7;
	uint32_t zero = 0;
	void *vals;

	if (fd < 0 || !(vals = percpu_lookup(p, fd, &zero, l->value_size)))
		return 0;
	for (int cpu = 0; cpu < p->ncpus; cpu++) {
		const char *slots = (const char *)vals + cpu * stride + l->cache_off;

		for (int i = 0; i < l->nslots; i++) {
			const char *slot = slots + i * l->slot_size;
			uint32_t tgid;
			uint64_t v0, v1;
			struct proc_row *row;

			memcpy(&tgid, slot, sizeof(tgid));
			memcpy(&v0, slot + l->v0_off, sizeof(v0));
			memcpy(&v1, slot + l->v1_off, sizeof(v1));
			if (!tgid || (!v0 && !v1))
				continue;
			row = row_append(rv, tgid);
			if (!row) {
				free(vals);
				return -ENOMEM;
			}
			row->v[m0] = v0;
			row->v[m1] = v1;
		}
	}
	free(vals);
	return 0;
}

/*
 * Per-process totals: proc_stats (per CPU, summed) plus what still sits in
 * the per-CPU caches of the sched and block programs. proc_stats is read
 * first: a slot flushed between the two reads is then missed for one
 * round rather than counted twice, so every row stays monotonic.
 */
static int read_proc_rows(struct procs *p, struct proc_row **ret_rows, size_t *ret_n)
{
	int fd = probes_proc_stats_fd(p->probes);
	struct row_vec rv = {};
	uint32_t key, next, *prev = NULL;
	size_t out = 0;
	int guard = 0, err;

	while (fd >= 0 && bpf_map_get_next_key(fd, prev, &next) == 0 &&
	       guard++ < 2 * KP_PROC_MAX_ENTRIES) {
		struct proc_row *row;
		void *vals;

		key = next;
		prev = &key;
		vals = percpu_lookup(p, fd, &key, sizeof(struct kp_proc_stat));
		if (!vals)
			continue;
		row = row_append(&rv, key);
		if (!row) {
			free(vals);
			free(rv.rows);
			return -ENOMEM;
		}
		for (int cpu = 0; cpu < p->ncpus; cpu++) {
			const struct kp_proc_stat *s = PERCPU_AT(vals, struct kp_proc_stat, cpu);

			row->v[PM_ONCPU] += s->oncpu_ns;
			row->v[PM_RUNQ] += s->runq_delay_ns;
			row->v[PM_IO_READ] += s->io_read_bytes;
			row->v[PM_IO_WRITE] += s->io_write_bytes;
			if (!row->comm[0] && s->comm[0])
				memcpy(row->comm, s->comm, KP_COMM_LEN);
		}
		row->comm[KP_COMM_LEN - 1] = 0;
		free(vals);
	}
	err = append_cache_rows(p, &rv, PROBE_SCHED, "sched_cpu", &sched_cache, PM_ONCPU, PM_RUNQ);
	if (!err)
		err = append_cache_rows(p, &rv, PROBE_BLOCK, "blk_cpu", &blk_cache, PM_IO_READ,
					PM_IO_WRITE);
	if (err) {
		free(rv.rows);
		return err;
	}
	/* Sort by tgid and fold the rows of one process into one. */
	if (rv.n)
		qsort(rv.rows, rv.n, sizeof(*rv.rows), row_cmp_tgid);
	for (size_t i = 0; i < rv.n; i++) {
		struct proc_row *dst = &rv.rows[out];

		if (out && rv.rows[out - 1].tgid == rv.rows[i].tgid) {
			dst = &rv.rows[out - 1];
			for (int m = 0; m < PM_NR; m++)
				dst->v[m] += rv.rows[i].v[m];
			if (!dst->comm[0])
				memcpy(dst->comm, rv.rows[i].comm, KP_COMM_LEN);
			continue;
		}
		if (out != i)
			*dst = rv.rows[i];
		out++;
	}
	*ret_rows = rv.rows;
	*ret_n = out;
	return 0;
}

static uint16_t cg_intern(struct procs *p, const char *path);

/* Deltas against the previous round (both sorted by tgid), carrying over
 * what was learnt about each process. A value that went down is a new
 * process reusing the pid. */
/*
 * A process's page faults are the kernel's own per-task counts (minflt +
 * majflt of /proc/PID/stat, which include faults taken on its behalf by
 * get_user_pages and prefaulting that no BPF hook here sees), read for
 * the processes that ran since the last round (one that did not run
 * cannot have faulted); a process that is gone keeps the total its exit
 * event carried, or what was seen last.
 */
static uint64_t process_faults(const struct procs *p, const struct proc_row *row,
			       const struct proc_row *prev)
{
	uint64_t f;

	if ((!prev || row->v[PM_ONCPU] != prev->v[PM_ONCPU]) &&
	    proctab_read_faults(row->tgid, &f) == 0)
		return f;
	if (proctab_exit_faults(&p->proctab, row->tgid, &f) == 0)
		return f;
	return prev ? prev->v[PM_FAULTS] : 0;
}

static void compute_deltas(struct procs *p, struct proc_row *rows, size_t n)
{
	size_t j = 0;

	for (size_t i = 0; i < n; i++) {
		bool seen, reused = false, active = false;
		const char *name;

		while (j < p->prev_nrows && p->prev_rows[j].tgid < rows[i].tgid)
			j++;
		seen = j < p->prev_nrows && p->prev_rows[j].tgid == rows[i].tgid;
		rows[i].v[PM_FAULTS] = process_faults(p, &rows[i], seen ? &p->prev_rows[j] : NULL);
		for (int m = 0; seen && m < PM_NR; m++)
			reused |= rows[i].v[m] < p->prev_rows[j].v[m];
		for (int m = 0; m < PM_NR; m++) {
			uint64_t before = seen && !reused ? p->prev_rows[j].v[m] : 0;

			rows[i].delta[m] = rows[i].v[m] - before;
			/* The kernel's count runs from the process's start: one
			 * that started before kpulse (no fork or exec seen) counts
			 * from when it is first seen, as the BPF figures do. */
			if (m == PM_FAULTS && !seen && !proctab_comm(&p->proctab, rows[i].tgid))
				rows[i].delta[m] = 0;
			active |= rows[i].delta[m] != 0;
		}
		/* An entry made by a cache eviction has no comm: keep the one
		 * seen earlier. */
		if (seen && !reused) {
			if (!rows[i].comm[0])
				memcpy(rows[i].comm, p->prev_rows[j].comm, KP_COMM_LEN);
			rows[i].comm_read = p->prev_rows[j].comm_read;
			rows[i].cg = p->prev_rows[j].cg;
			rows[i].cg_read = p->prev_rows[j].cg_read;
		}
		if (!active)
			continue;
		/* The name the process's last fork / exec / exit event gave:
		 * newer than the one its first BPF entry recorded (maybe
		 * before its exec), and there when /proc no longer is. */
		name = proctab_comm(&p->proctab, rows[i].tgid);
		if (name)
			snprintf(rows[i].comm, sizeof(rows[i].comm), "%s", name);
		/* Name and cgroup of an active process, once per process. */
		if (!rows[i].comm[0] && !rows[i].comm_read) {
			char comm[KP_COMM_LEN + 1];

			if (procfs_read_comm(rows[i].tgid, comm, sizeof(comm)) == 0) {
				size_t len = strnlen(comm, KP_COMM_LEN - 1);

				memcpy(rows[i].comm, comm, len);
				rows[i].comm[len] = 0;
			}
			rows[i].comm_read = true;
		}
		if (p->cg && !rows[i].cg_read) {
			char path[CG_LEN];

			const struct event_cgroup *e =
			    &p->event_cg[rows[i].tgid % PROCS_EVENT_SLOTS];

			if (cgroups_pid_path(p->cg, rows[i].tgid, path, sizeof(path)) == 0)
				rows[i].cg = cg_intern(p, path);
			/* Gone already: the cgroup its last event named. */
			else if (e->tgid == rows[i].tgid &&
				 cgroups_path_of_id(p->cg, e->cgroup_id, path, sizeof(path)) == 0)
				rows[i].cg = cg_intern(p, path);
			rows[i].cg_read = true;
		}
		if (p->cg)
			cgroups_add_process(p->cg, p->cg_paths[rows[i].cg],
					    rows[i].delta[PM_IO_READ], rows[i].delta[PM_IO_WRITE],
					    rows[i].delta[PM_FAULTS]);
	}
}

/* ------------------------------------------------------------ groups */

/* The index of a cgroup path, added when new; 0 (unknown) when the table
 * is full or out of memory. */
static uint16_t cg_intern(struct procs *p, const char *path)
{
	char *copy;

	for (size_t i = 1; i < p->ncg_paths; i++)
		if (!strcmp(p->cg_paths[i], path))
			return (uint16_t)i;
	if (p->ncg_paths >= CG_PATHS_MAX || !(copy = strdup(path)))
		return 0;
	p->cg_paths[p->ncg_paths] = copy;
	return (uint16_t)p->ncg_paths++;
}

static uint64_t group_hash(const char *comm, uint16_t cg)
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *s = comm; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL;
	h = (h ^ (cg & 0xff)) * 1099511628211ULL;
	return (h ^ (cg >> 8)) * 1099511628211ULL;
}

/* The group of (comm, cgroup), created when new; NULL when the table is
 * full. */
static struct proc_group *group_get(struct procs *p, const char *comm, uint16_t cg)
{
	size_t mask = GROUP_SLOTS - 1, i = group_hash(comm, cg) & mask;

	for (;; i = (i + 1) & mask) {
		struct proc_group *g;

		if (p->slots[i] < 0) {
			if (p->ngroups >= PROCS_MAX_GROUPS)
				return NULL;
			g = &p->groups[p->ngroups];
			memset(g, 0, sizeof(*g));
			snprintf(g->comm, sizeof(g->comm), "%s", comm);
			g->cg = cg;
			p->slots[i] = (int32_t)p->ngroups++;
			return g;
		}
		g = &p->groups[p->slots[i]];
		if (g->cg == cg && !strcmp(g->comm, comm))
			return g;
	}
}

/* Forgets the groups idle for PROCS_GROUP_IDLE_ROUNDS and rebuilds the
 * index. */
static void groups_prune(struct procs *p)
{
	size_t out = 0;

	for (size_t i = 0; i < p->ngroups; i++) {
		if (p->round - p->groups[i].last_round > PROCS_GROUP_IDLE_ROUNDS)
			continue;
		p->groups[out++] = p->groups[i];
	}
	p->ngroups = 0;
	for (size_t i = 0; i < GROUP_SLOTS; i++)
		p->slots[i] = -1;
	for (size_t i = 0; i < out; i++) {
		struct proc_group g = p->groups[i];
		struct proc_group *dst = group_get(p, g.comm, g.cg);

		*dst = g;
	}
}

size_t procs_group_count(const struct procs *p)
{
	return p->ngroups;
}

/* ------------------------------------------------------------ series */

/* One ranked entry: a group or a row, by its delta of the sorted metric. */
struct ranked {
	const uint64_t *delta;
	uint64_t tie; /* pid or index: a stable order */
	void *item;
};

static int ranked_metric;

static int ranked_cmp(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;

	if (x->delta[ranked_metric] != y->delta[ranked_metric])
		return x->delta[ranked_metric] > y->delta[ranked_metric] ? -1 : 1;
	return x->tie < y->tie ? -1 : x->tie > y->tie;
}

static const char *or_unknown(const char *s)
{
	return s[0] ? s : "?";
}

static int set_series(struct procs *p, struct registry *r, int m, const char *comm, const char *pid,
		      const char *cgroup, double value)
{
	struct metric_label l[4] = {{"comm", or_unknown(comm)}};
	size_t nl = 1;

	if (pid)
		l[nl++] = (struct metric_label){"pid", pid};
	if (p->cg)
		l[nl++] = (struct metric_label){"cgroup", or_unknown(cgroup)};
	if (proc_metrics[m].op)
		l[nl++] = (struct metric_label){"op", proc_metrics[m].op};
	return registry_set_counter(r, proc_metrics[m].name, l, nl, value * proc_metrics[m].scale);
}

static int set_other(struct procs *p, struct registry *r, int m)
{
	struct metric_label l[] = {{"op", proc_metrics[m].op}};

	return registry_set_counter(r, proc_metrics[m].other, l, proc_metrics[m].op ? 1 : 0,
				    p->other_total[m]);
}

/* Top K of n ranked entries for metric m; returns how many have a delta. */
static size_t rank_top(struct ranked *rk, size_t n, int m, unsigned top_k)
{
	size_t k = 0;

	ranked_metric = m;
	if (n)
		qsort(rk, n, sizeof(*rk), ranked_cmp);
	while (k < n && k < top_k && rk[k].delta[m])
		k++;
	return k;
}

/* The name a process is grouped under. Kernel workers rename themselves
 * ("kworker/u8:5-events") and their numbers only grow, so they are one
 * group. */
static const char *group_name(const char *comm)
{
	if (!strncmp(comm, "kworker/", 8))
		return "kworker";
	return or_unknown(comm);
}

static int emit_groups(struct procs *p, struct registry *r, struct proc_row *rows, size_t n)
{
	struct ranked *rk;
	int err = 0;

	for (size_t i = 0; i < p->ngroups; i++)
		memset(p->groups[i].delta, 0, sizeof(p->groups[i].delta));
	for (size_t i = 0; i < n; i++) {
		struct proc_group *g;
		bool active = false;

		for (int m = 0; m < PM_NR; m++)
			active |= rows[i].delta[m] != 0;
		if (!active)
			continue;
		g = group_get(p, group_name(rows[i].comm), rows[i].cg);
		if (!g) { /* full: the delta still counts, as "other" */
			for (int m = 0; m < PM_NR; m++)
				p->other_total[m] += rows[i].delta[m] * proc_metrics[m].scale;
			continue;
		}
		for (int m = 0; m < PM_NR; m++) {
			g->delta[m] += rows[i].delta[m];
			g->total[m] += rows[i].delta[m];
		}
		g->last_round = p->round;
	}
	rk = p->ngroups ? calloc(p->ngroups, sizeof(*rk)) : NULL;
	if (p->ngroups && !rk)
		return -ENOMEM;
	for (int m = 0; m < PM_NR; m++) {
		uint64_t all = 0, top = 0;
		size_t k;

		for (size_t i = 0; i < p->ngroups; i++) {
			rk[i] = (struct ranked){p->groups[i].delta, i, &p->groups[i]};
			all += p->groups[i].delta[m];
		}
		k = rank_top(rk, p->ngroups, m, p->top_k);
		for (size_t i = 0; i < k; i++) {
			struct proc_group *g = rk[i].item;

			err |= set_series(p, r, m, g->comm, NULL, p->cg_paths[g->cg], g->total[m]);
			top += g->delta[m];
		}
		p->other_total[m] += (double)(all - top) * proc_metrics[m].scale;
		err |= set_other(p, r, m);
	}
	free(rk);
	return err;
}

/* The busiest pids: per-pid series (with the option) and the JSON for
 * GET /api/v1/processes. */
static int emit_pids(struct procs *p, struct registry *r, struct proc_row *rows, size_t n)
{
	struct ranked *rk = n ? calloc(n, sizeof(*rk)) : NULL;
	json_t *by_pid = json_object(), *list = json_array();
	int err = 0;

	if ((n && !rk) || !by_pid || !list) {
		free(rk);
		json_decref(by_pid);
		json_decref(list);
		return -ENOMEM;
	}
	for (int m = 0; m < PM_NR; m++) {
		uint64_t all = 0, top = 0;
		size_t k;

		for (size_t i = 0; i < n; i++) {
			rk[i] = (struct ranked){rows[i].delta, rows[i].tgid, &rows[i]};
			all += rows[i].delta[m];
		}
		k = rank_top(rk, n, m, p->top_k);
		for (size_t i = 0; i < k; i++) {
			struct proc_row *row = rk[i].item;
			char pid[16], key[REGISTRY_NAME_MAX + 16];
			json_t *proc;

			snprintf(pid, sizeof(pid), "%" PRIu32, row->tgid);
			if (p->per_pid)
				err |= set_series(p, r, m, row->comm, pid, p->cg_paths[row->cg],
						  row->v[m]);
			top += row->delta[m];
			proc = json_object_get(by_pid, pid);
			if (!proc) {
				/* a task names itself: its bytes may be any, JSON
				 * takes valid UTF-8 (escaped as the labels are) */
				char comm[4 * KP_COMM_LEN], cg[4 * 256];
				const char *path = or_unknown(p->cg_paths[row->cg]);

				utf8_sanitize(comm, sizeof(comm), or_unknown(row->comm),
					      strlen(or_unknown(row->comm)), NULL);
				utf8_sanitize(cg, sizeof(cg), path, strlen(path), NULL);
				proc = json_pack("{s:I,s:s,s:s,s:{}}", "pid", (json_int_t)row->tgid,
						 "comm", comm, "cgroup", cg, "metrics");
				if (!proc || json_object_set_new(by_pid, pid, proc)) {
					err = -ENOMEM;
					continue;
				}
				json_array_append(list, proc);
			}
			if (proc_metrics[m].op)
				snprintf(key, sizeof(key), "%s{op=\"%s\"}", proc_metrics[m].name,
					 proc_metrics[m].op);
			else
				snprintf(key, sizeof(key), "%s", proc_metrics[m].name);
			json_object_set_new(json_object_get(proc, "metrics"), key,
					    json_real(row->v[m] * proc_metrics[m].scale));
		}
		if (p->per_pid) {
			p->other_total[m] += (double)(all - top) * proc_metrics[m].scale;
			err |= set_other(p, r, m);
		}
	}
	free(rk);
	json_decref(by_pid);
	json_decref(p->busiest);
	p->busiest = list;
	return err;
}

int procs_sample(struct procs *p, struct registry *r)
{
	struct proc_row *rows = NULL;
	size_t n = 0;
	int err;

	err = read_proc_rows(p, &rows, &n);
	if (err)
		return err;
	p->round++;
	compute_deltas(p, rows, n);
	err = emit_pids(p, r, rows, n);
	if (!p->per_pid)
		err |= emit_groups(p, r, rows, n);
	if (p->round % 64 == 0 || p->ngroups >= PROCS_MAX_GROUPS)
		groups_prune(p);
	free(p->prev_rows);
	p->prev_rows = rows;
	p->prev_nrows = n;
	return err ? -ENOMEM : 0;
}

json_t *procs_take_json(struct procs *p)
{
	json_t *out = p->busiest;

	p->busiest = NULL;
	return out;
}

/* ------------------------------------------------------------ life */

int procs_new(const struct probes *probes, struct cgroups *cg, int ncpus, unsigned top_k,
	      bool per_pid, struct procs **ret)
{
	struct procs *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->groups = calloc(PROCS_MAX_GROUPS, sizeof(*p->groups));
	p->slots = malloc(GROUP_SLOTS * sizeof(*p->slots));
	p->cg_paths = calloc(CG_PATHS_MAX, sizeof(*p->cg_paths));
	p->event_cg = calloc(PROCS_EVENT_SLOTS, sizeof(*p->event_cg));
	if (p->cg_paths)
		p->cg_paths[0] = strdup("");
	if (!p->groups || !p->slots || !p->cg_paths || !p->cg_paths[0] || !p->event_cg) {
		procs_free(p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < GROUP_SLOTS; i++)
		p->slots[i] = -1;
	p->probes = probes;
	p->cg = cg && cgroups_mode(cg) != CGROUPS_OFF ? cg : NULL;
	p->ncg_paths = 1;
	p->ncpus = ncpus;
	p->top_k = top_k;
	p->per_pid = per_pid;
	*ret = p;
	return 0;
}

struct procs *procs_free(struct procs *p)
{
	if (!p)
		return NULL;
	free(p->prev_rows);
	free(p->groups);
	free(p->slots);
	for (size_t i = 0; p->cg_paths && i < CG_PATHS_MAX; i++)
		free(p->cg_paths[i]);
	free(p->cg_paths);
	free(p->event_cg);
	json_decref(p->busiest);
	free(p);
	return NULL;
}

void procs_set_top_k(struct procs *p, unsigned top_k)
{
	if (top_k)
		p->top_k = top_k;
}

void procs_note_cgroup(struct procs *p, uint32_t tgid, uint64_t cgroup_id)
{
	if (!p || !tgid || !cgroup_id)
		return;
	p->event_cg[tgid % PROCS_EVENT_SLOTS] = (struct event_cgroup){tgid, cgroup_id};
}

void procs_set_per_pid(struct procs *p, bool per_pid)
{
	p->per_pid = per_pid;
}

void procs_note_event(struct procs *p, const void *data, size_t size)
{
	const struct kp_event_hdr *h = data;

	if (size >= sizeof(struct kp_event_proc))
		proctab_note_event(&p->proctab, data, h->type);
}
