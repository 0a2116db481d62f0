// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * procs.c - the per-process history of the incidents sink (see procs.h):
 * a ring of samples, each the cumulative counters of the processes of one
 * round; rates come from the difference of a process's counters between
 * the last sample at or before each end of a window.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/procs.h"

enum { M_CPU, M_RUNQ, M_IO, M_FAULTS, M_COUNT };

static const char *const metric_names[M_COUNT] = {
    "kpulse_sched_process_cpu_seconds_total",
    "kpulse_sched_process_runqueue_seconds_total",
    "kpulse_block_process_io_bytes_total",
    "kpulse_mem_process_page_faults_total",
};
static const char *const metric_ids[M_COUNT] = {"cpu", "runqueue", "io_bytes", "page_faults"};

/* A row: one process (series with a pid label) or the processes of one
 * name in one cgroup (the default series: pid 0). */
struct proc_entry {
	int32_t pid;
	char comm[16];
	char cgroup[48];
	double v[M_COUNT]; /* cumulative; NAN: not in this round */
};

struct sample {
	double t;
	size_t n;
	struct proc_entry p[PROCS_PER_SAMPLE];
};

struct proc_history {
	pthread_mutex_t lock;
	double period_s, span_s;
	struct sample *ring;
	size_t cap, head, count; /* oldest at head */
};

struct proc_history *proc_history_new(double period_s, double span_s)
{
	struct proc_history *h;
	size_t cap;

	if (!(period_s > 0) || !(span_s > 0))
		return NULL;
	cap = (size_t)ceil(span_s / period_s) + 2;
	if (cap > PROCS_SAMPLES_MAX) {
		cap = PROCS_SAMPLES_MAX;
		period_s = span_s / (PROCS_SAMPLES_MAX - 2);
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->ring = calloc(cap, sizeof(*h->ring));
	if (!h->ring) {
		free(h);
		return NULL;
	}
	pthread_mutex_init(&h->lock, NULL);
	h->period_s = period_s;
	h->span_s = span_s;
	h->cap = cap;
	return h;
}

struct proc_history *proc_history_free(struct proc_history *h)
{
	if (!h)
		return NULL;
	pthread_mutex_destroy(&h->lock);
	free(h->ring);
	free(h);
	return NULL;
}

static struct sample *at(struct proc_history *h, size_t i)
{
	return &h->ring[(h->head + i) % h->cap];
}

static bool same_row(const struct proc_entry *e, int32_t pid, const char *comm, const char *cgroup)
{
	if (pid || e->pid)
		return e->pid == pid;
	return !strcmp(e->comm, comm) && !strcmp(e->cgroup, cgroup);
}

static struct proc_entry *entry_for(struct sample *s, int32_t pid, const char *comm,
				    const char *cgroup)
{
	struct proc_entry *e;

	for (size_t i = 0; i < s->n; i++) {
		if (same_row(&s->p[i], pid, comm, cgroup))
			return &s->p[i];
	}
	if (s->n == PROCS_PER_SAMPLE)
		return NULL;
	e = &s->p[s->n++];
	*e = (struct proc_entry){.pid = pid};
	snprintf(e->comm, sizeof(e->comm), "%s", comm);
	snprintf(e->cgroup, sizeof(e->cgroup), "%s", cgroup);
	for (int m = 0; m < M_COUNT; m++)
		e->v[m] = NAN;
	return e;
}

void proc_history_observe(struct proc_history *h, const struct registry *reg, double t)
{
	struct sample *s;
	size_t n;

	if (!h || !reg)
		return;
	pthread_mutex_lock(&h->lock);
	if (h->count && t - at(h, h->count - 1)->t < h->period_s) {
		pthread_mutex_unlock(&h->lock);
		return;
	}
	while (h->count && (h->count == h->cap || t - at(h, 0)->t > h->span_s)) {
		h->head = (h->head + 1) % h->cap;
		h->count--;
	}
	s = at(h, h->count);
	s->t = t;
	s->n = 0;
	n = registry_size(reg);
	for (size_t i = 0; i < n; i++) {
		const struct metric_series *ms = registry_at(reg, i);
		const char *pid, *comm, *cgroup;
		struct proc_entry *e;
		int m;

		for (m = 0; m < M_COUNT && strcmp(ms->name, metric_names[m]); m++)
			;
		if (m == M_COUNT)
			continue;
		pid = metric_series_label(ms, "pid");
		comm = metric_series_label(ms, "comm");
		cgroup = metric_series_label(ms, "cgroup");
		e = entry_for(s, pid ? (int32_t)strtol(pid, NULL, 10) : 0, comm ? comm : "?",
			      cgroup ? cgroup : "");
		if (!e)
			continue;
		if (comm && strcmp(comm, "?"))
			snprintf(e->comm, sizeof(e->comm), "%s", comm);
		/* I/O bytes come per op: summed */
		e->v[m] = (isnan(e->v[m]) ? 0 : e->v[m]) + ms->value;
	}
	h->count++;
	pthread_mutex_unlock(&h->lock);
}

/* The index of the last sample at or before t, or -1. */
static long last_at(struct proc_history *h, double t)
{
	long found = -1;

	for (size_t i = 0; i < h->count && at(h, i)->t <= t; i++)
		found = (long)i;
	return found;
}

/* Row r's counter m in sample k, or NAN. */
static double value_in(struct proc_history *h, long k, const struct proc_entry *r, int m)
{
	struct sample *s = at(h, (size_t)k);

	for (size_t e = 0; e < s->n; e++) {
		if (same_row(&s->p[e], r->pid, r->comm, r->cgroup))
			return s->p[e].v[m];
	}
	return NAN;
}

/* Row r's rate of counter m between samples i and j: from its value at i
 * (or when it first shows after i) to its last value at or before j. */
static double rate(struct proc_history *h, long i, long j, const struct proc_entry *r, int m)
{
	double a = NAN, b = NAN, span;

	if (i < 0 || j <= i)
		return 0;
	span = at(h, (size_t)j)->t - at(h, (size_t)i)->t;
	if (!(span > 0))
		return 0;
	for (long k = i; k <= j && isnan(a); k++)
		a = value_in(h, k, r, m);
	for (long k = j; k >= i && isnan(b); k--)
		b = value_in(h, k, r, m);
	return isnan(a) || isnan(b) || b < a ? 0 : (b - a) / span;
}

struct row {
	const struct proc_entry *e;
	double baseline, current;
};

static int by_rise(const void *x, const void *y)
{
	const struct row *a = x, *b = y;
	double da = a->current - a->baseline, db = b->current - b->baseline;

	return (da < db) - (da > db);
}

static json_t *row_json(const struct row *r)
{
	json_t *o = json_pack("{s:s,s:f,s:f}", "comm", r->e->comm, "baseline", r->baseline,
			      "current", r->current);

	if (o && r->e->pid)
		json_object_set_new(o, "pid", json_integer(r->e->pid));
	if (o && r->e->cgroup[0])
		json_object_set_new(o, "cgroup", json_string(r->e->cgroup));
	return o;
}

int proc_history_top(struct proc_history *h, double baseline_from, double from, double to,
		     size_t top, json_t **ret)
{
	struct row *rows = NULL;
	json_t *out = NULL;
	long b0, w0, w1;
	int r = 0;

	pthread_mutex_lock(&h->lock);
	b0 = last_at(h, baseline_from);
	w0 = last_at(h, from);
	w1 = last_at(h, to);
	if (w0 < 0 || w1 <= w0) {
		r = -ERANGE;
		goto out;
	}
	if (b0 < 0)
		b0 = 0; /* a baseline shorter than asked for */
	rows = calloc(PROCS_PER_SAMPLE * 2, sizeof(*rows));
	out = json_object();
	if (!rows || !out) {
		r = -ENOMEM;
		goto out;
	}
	for (int m = 0; m < M_COUNT; m++) {
		json_t *list = json_array();
		size_t n = 0;

		/* the rows of the window's last sample, and of its first */
		for (int pass = 0; pass < 2; pass++) {
			struct sample *s = at(h, (size_t)(pass ? w0 : w1));

			for (size_t e = 0; e < s->n && n < PROCS_PER_SAMPLE * 2; e++) {
				const struct proc_entry *pe = &s->p[e];
				bool dup = false;

				for (size_t k = 0; k < n && !dup; k++)
					dup = same_row(rows[k].e, pe->pid, pe->comm, pe->cgroup);
				if (dup)
					continue;
				rows[n].e = pe;
				rows[n].current = rate(h, w0, w1, pe, m);
				rows[n].baseline = rate(h, b0, w0, pe, m);
				n++;
			}
		}
		qsort(rows, n, sizeof(*rows), by_rise);
		for (size_t k = 0; k < n && json_array_size(list) < top; k++) {
			if (rows[k].current > 0)
				json_array_append_new(list, row_json(&rows[k]));
		}
		json_object_set_new(out, metric_ids[m], list);
	}
	*ret = out;
	out = NULL;
out:
	pthread_mutex_unlock(&h->lock);
	free(rows);
	json_decref(out);
	return r;
}
