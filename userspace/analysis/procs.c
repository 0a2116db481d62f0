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

struct proc_entry {
	int32_t pid;
	char comm[16];
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

static struct proc_entry *entry_for(struct sample *s, int32_t pid)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->p[i].pid == pid)
			return &s->p[i];
	}
	if (s->n == PROCS_PER_SAMPLE)
		return NULL;
	s->p[s->n] = (struct proc_entry){.pid = pid};
	for (int m = 0; m < M_COUNT; m++)
		s->p[s->n].v[m] = NAN;
	return &s->p[s->n++];
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
		const char *pid, *comm;
		struct proc_entry *e;
		int m;

		for (m = 0; m < M_COUNT && strcmp(ms->name, metric_names[m]); m++)
			;
		if (m == M_COUNT || !(pid = metric_series_label(ms, "pid")))
			continue;
		e = entry_for(s, (int32_t)strtol(pid, NULL, 10));
		if (!e)
			continue;
		comm = metric_series_label(ms, "comm");
		if (comm && (strcmp(comm, "?") || !e->comm[0]))
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

/* Process pid's counter m at sample i, or at the first sample after i
 * (up to j) that has it: its value when it first shows in the window. */
static double value_from(struct proc_history *h, long i, long j, int32_t pid, int m)
{
	for (long k = i; k <= j; k++) {
		struct sample *s = at(h, (size_t)k);

		for (size_t e = 0; e < s->n; e++) {
			if (s->p[e].pid == pid && !isnan(s->p[e].v[m]))
				return s->p[e].v[m];
		}
	}
	return NAN;
}

/* ... and the last value at or before sample j (from i on). */
static double value_to(struct proc_history *h, long i, long j, int32_t pid, int m)
{
	for (long k = j; k >= i; k--) {
		struct sample *s = at(h, (size_t)k);

		for (size_t e = 0; e < s->n; e++) {
			if (s->p[e].pid == pid && !isnan(s->p[e].v[m]))
				return s->p[e].v[m];
		}
	}
	return NAN;
}

static double rate(struct proc_history *h, long i, long j, double span, int32_t pid, int m)
{
	double a, b;

	if (i < 0 || j <= i || !(span > 0))
		return 0;
	a = value_from(h, i, j, pid, m);
	b = value_to(h, i, j, pid, m);
	return isnan(a) || isnan(b) || b < a ? 0 : (b - a) / span;
}

struct row {
	int32_t pid;
	const char *comm;
	double baseline, current;
};

static int by_rise(const void *x, const void *y)
{
	const struct row *a = x, *b = y;
	double da = a->current - a->baseline, db = b->current - b->baseline;

	return (da < db) - (da > db);
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
		size_t n = 0;
		json_t *list = json_array();

		/* the processes of the window's last sample, and of its first */
		for (int pass = 0; pass < 2; pass++) {
			struct sample *s = at(h, (size_t)(pass ? w0 : w1));

			for (size_t e = 0; e < s->n && n < PROCS_PER_SAMPLE * 2; e++) {
				bool dup = false;

				for (size_t k = 0; k < n && !dup; k++)
					dup = rows[k].pid == s->p[e].pid;
				if (dup)
					continue;
				rows[n].pid = s->p[e].pid;
				rows[n].comm = s->p[e].comm;
				rows[n].current =
				    rate(h, w0, w1, at(h, (size_t)w1)->t - at(h, (size_t)w0)->t,
					 s->p[e].pid, m);
				rows[n].baseline =
				    rate(h, b0, w0, at(h, (size_t)w0)->t - at(h, (size_t)b0)->t,
					 s->p[e].pid, m);
				n++;
			}
		}
		qsort(rows, n, sizeof(*rows), by_rise);
		for (size_t k = 0; k < n && json_array_size(list) < top; k++) {
			if (rows[k].current <= 0)
				continue;
			json_array_append_new(list, json_pack("{s:s,s:i,s:f,s:f}", "comm",
							      rows[k].comm, "pid", rows[k].pid,
							      "baseline", rows[k].baseline,
							      "current", rows[k].current));
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
