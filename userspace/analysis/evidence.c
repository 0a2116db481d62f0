// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * evidence.c - the evidence record of a window (see evidence.h): what the
 * store holds about the window against the baseline before it, read with
 * the store's range and event queries only (one step per window, so each
 * indicator is two small queries).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/evidence.h"

/* ------------------------------------------------------------ indicators */

enum ind_kind { IND_RATE, IND_P99, IND_MEAN, IND_LAST };

struct indicator {
	const char *id;
	const char *metric;
	enum ind_kind kind;
	const char *group;   /* split by this label; NULL: summed (max for p99) */
	const char *section; /* "indicators" or "pressure" */
};

static const struct indicator indicators[] = {
    {"cpu_busy_cpus", "kpulse_sched_cpu_busy_seconds_total", IND_RATE, NULL, "indicators"},
    {"runqueue_p99_s", "kpulse_sched_runqueue_latency_seconds", IND_P99, NULL, "indicators"},
    {"procs_running", "kpulse_procs_running", IND_MEAN, NULL, "indicators"},
    {"procs_blocked", "kpulse_procs_blocked", IND_MEAN, NULL, "indicators"},
    {"context_switches_per_s", "kpulse_sched_context_switches_total", IND_RATE, NULL, "indicators"},
    {"mem_available_bytes", "kpulse_mem_available_bytes", IND_MEAN, NULL, "indicators"},
    {"mem_total_bytes", "kpulse_mem_total_bytes", IND_LAST, NULL, "indicators"},
    {"direct_reclaims_per_s", "kpulse_mem_direct_reclaim_total", IND_RATE, NULL, "indicators"},
    {"major_faults_per_s", "kpulse_mem_major_page_faults_total", IND_RATE, NULL, "indicators"},
    {"oom_kills_per_s", "kpulse_mem_oom_kills_total", IND_RATE, NULL, "indicators"},
    {"swap_out_bytes_per_s", "kpulse_mem_swap_out_bytes_total", IND_RATE, NULL, "indicators"},
    {"block_utilization", "kpulse_block_utilization_ratio", IND_MEAN, "device", "indicators"},
    {"block_latency_p99_s", "kpulse_block_io_latency_seconds", IND_P99, "device", "indicators"},
    {"block_bytes_per_s", "kpulse_block_bytes_total", IND_RATE, "device", "indicators"},
    {"block_queue_length", "kpulse_block_queue_length", IND_MEAN, "device", "indicators"},
    {"slow_ios_per_s", "kpulse_block_slow_ios_total", IND_RATE, NULL, "indicators"},
    {"tcp_retransmits_per_s", "kpulse_net_tcp_retransmitted_segments_total", IND_RATE, NULL,
     "indicators"},
    {"tcp_resets_sent_per_s", "kpulse_net_tcp_resets_sent_total", IND_RATE, NULL, "indicators"},
    {"packet_drops_per_s", "kpulse_net_packet_drops_total", IND_RATE, "reason", "indicators"},
    {"rx_dropped_per_s", "kpulse_net_rx_dropped_total", IND_RATE, "interface", "indicators"},
    {"tx_dropped_per_s", "kpulse_net_tx_dropped_total", IND_RATE, "interface", "indicators"},
    {"tx_packets_per_s", "kpulse_net_tx_packets_total", IND_RATE, "interface", "indicators"},
    {"execs_per_s", "kpulse_sched_processes_exec_total", IND_RATE, NULL, "indicators"},
    {"forks_per_s", "kpulse_sched_processes_forked_total", IND_RATE, NULL, "indicators"},
    {"filesystem_avail_bytes", "kpulse_filesystem_avail_bytes", IND_LAST, "mountpoint",
     "indicators"},
    {"filesystem_size_bytes", "kpulse_filesystem_size_bytes", IND_LAST, "mountpoint", "indicators"},
    {"cpu_waiting", "kpulse_pressure_cpu_waiting_seconds_total", IND_RATE, NULL, "pressure"},
    {"memory_waiting", "kpulse_pressure_memory_waiting_seconds_total", IND_RATE, NULL, "pressure"},
    {"memory_stalled", "kpulse_pressure_memory_stalled_seconds_total", IND_RATE, NULL, "pressure"},
    {"io_waiting", "kpulse_pressure_io_waiting_seconds_total", IND_RATE, NULL, "pressure"},
    {"io_stalled", "kpulse_pressure_io_stalled_seconds_total", IND_RATE, NULL, "pressure"},
};

struct proc_metric {
	const char *id;
	const char *metric;
};

static const struct proc_metric proc_metrics[] = {
    {"cpu", "kpulse_sched_process_cpu_seconds_total"},
    {"runqueue", "kpulse_sched_process_runqueue_seconds_total"},
    {"io_bytes", "kpulse_block_process_io_bytes_total"},
    {"page_faults", "kpulse_mem_process_page_faults_total"},
};

static void note(json_t *ev, const char *what, int err)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "%s: %s", what, strerror(err < 0 ? -err : err));
	json_array_append_new(json_object_get(ev, "notes"), json_string(buf));
}

static const char *label_of(const struct store_series_info *info, const char *key)
{
	for (size_t i = 0; i < info->nlabels; i++) {
		if (!strcmp(info->label_keys[i], key))
			return info->label_values[i];
	}
	return NULL;
}

static void agg_of(enum ind_kind k, struct store_range_query *q)
{
	q->agg = k == IND_RATE	 ? STORE_AGG_RATE
		 : k == IND_P99	 ? STORE_AGG_QUANTILE
		 : k == IND_LAST ? STORE_AGG_LAST
				 : STORE_AGG_AVG;
	q->quantile = 0.99;
}

/* One step over [from, to): the result's series each have at most one
 * point. */
static int query_window(struct store *s, const struct store_selector *sel, enum ind_kind k,
			double from, double to, struct store_range_result **ret)
{
	struct store_range_query q = {.selector = *sel, .from = from, .to = to};

	if (!(to > from))
		return -EINVAL;
	q.step = to - from + 1e-3;
	agg_of(k, &q);
	return store_query_range(s, &q, ret);
}

/* Adds v into the object at key (summing, or the max for p99). */
static void accumulate(json_t *obj, const char *key, double v, enum ind_kind k)
{
	json_t *cur = json_object_get(obj, key);

	if (cur && json_is_number(cur))
		v = k == IND_P99 ? fmax(v, json_number_value(cur)) : v + json_number_value(cur);
	json_object_set_new(obj, key, json_real(v));
}

/* Sums (per group) the one point each series has into out[group]. */
static void fold(const struct store_range_result *res, const struct indicator *ind, json_t *out)
{
	for (size_t i = 0; res && i < res->nseries; i++) {
		const struct store_range_series *rs = &res->series[i];
		const char *g = ind->group ? label_of(&rs->info, ind->group) : "";

		if (!rs->npoints || !isfinite(rs->points[0].value) || !g)
			continue;
		accumulate(out, g, rs->points[0].value, ind->kind);
	}
}

static json_t *pair(json_t *baseline, json_t *current)
{
	return json_pack("{s:O?,s:O?}", "baseline", baseline, "current", current);
}

static void add_indicator(struct store *s, const struct evidence_request *req,
			  const struct indicator *ind, json_t *ev)
{
	struct store_selector sel = {.name = ind->metric};
	struct store_range_result *before = NULL, *during = NULL;
	json_t *b = json_object(), *c = json_object(), *section, *v;
	const char *g;
	int r;

	r = query_window(s, &sel, ind->kind, req->from - req->baseline_s, req->from, &before);
	if (!r)
		r = query_window(s, &sel, ind->kind, req->from, req->to, &during);
	if (r) {
		note(ev, ind->metric, r);
		goto out;
	}
	fold(before, ind, b);
	fold(during, ind, c);
	section = json_object_get(ev, ind->section);
	if (!ind->group) {
		if (json_object_size(b) || json_object_size(c))
			json_object_set_new(section, ind->id,
					    pair(json_object_get(b, ""), json_object_get(c, "")));
		goto out;
	}
	if (!json_object_size(b) && !json_object_size(c))
		goto out;
	v = json_object();
	json_object_foreach (c, g, section) {
		json_object_set_new(v, g, pair(json_object_get(b, g), json_object_get(c, g)));
	}
	json_object_foreach (b, g, section) {
		if (!json_object_get(v, g))
			json_object_set_new(v, g, pair(json_object_get(b, g), NULL));
	}
	json_object_set_new(json_object_get(ev, ind->section), ind->id, v);
out:
	store_range_result_free(before);
	store_range_result_free(during);
	json_decref(b);
	json_decref(c);
}

/* ------------------------------------------------------------ processes */

struct proc_row {
	long pid;
	char comm[REGISTRY_LABEL_VALUE_MAX];
	double baseline, current;
};

static struct proc_row *proc_find(struct proc_row *rows, size_t *n, size_t cap, long pid)
{
	for (size_t i = 0; i < *n; i++) {
		if (rows[i].pid == pid)
			return &rows[i];
	}
	if (*n == cap)
		return NULL;
	rows[*n] = (struct proc_row){.pid = pid};
	return &rows[(*n)++];
}

static void proc_fold(const struct store_range_result *res, struct proc_row *rows, size_t *n,
		      size_t cap, bool during)
{
	for (size_t i = 0; res && i < res->nseries; i++) {
		const struct store_range_series *rs = &res->series[i];
		const char *pid = label_of(&rs->info, "pid"), *comm = label_of(&rs->info, "comm");
		struct proc_row *p;

		if (!pid || !rs->npoints || !isfinite(rs->points[0].value))
			continue;
		p = proc_find(rows, n, cap, strtol(pid, NULL, 10));
		if (!p)
			continue;
		if (comm && (strcmp(comm, "?") || !p->comm[0]))
			snprintf(p->comm, sizeof(p->comm), "%s", comm);
		if (during)
			p->current += rs->points[0].value;
		else
			p->baseline += rs->points[0].value;
	}
}

/* By how much a process rose in the window: the one that started the
 * trouble ranks above one that was as busy before. */
static int by_rise_desc(const void *a, const void *b)
{
	const struct proc_row *x = a, *y = b;
	double dx = x->current - x->baseline, dy = y->current - y->baseline;

	return (dx < dy) - (dx > dy);
}

#define PROC_ROWS_MAX 256

static void add_processes(struct store *s, const struct evidence_request *req, json_t *ev)
{
	json_t *top = json_object_get(ev, "top_processes");
	struct proc_row *rows;

	if (req->procs && !proc_history_top(req->procs, req->from - req->baseline_s, req->from,
					    req->to, EVIDENCE_TOP_PROCESSES, &top)) {
		json_object_set_new(ev, "top_processes", top);
		return;
	}
	/* older than the history: the store (which refuses once more process
	 * series were ever stored than its query limit; a note says so) */
	rows = calloc(PROC_ROWS_MAX, sizeof(*rows));
	if (!rows)
		return;
	for (size_t m = 0; m < sizeof(proc_metrics) / sizeof(proc_metrics[0]); m++) {
		struct store_selector sel = {.name = proc_metrics[m].metric};
		struct store_range_result *before = NULL, *during = NULL;
		json_t *list;
		size_t n = 0;
		int r;

		r = query_window(s, &sel, IND_RATE, req->from - req->baseline_s, req->from,
				 &before);
		if (!r)
			r = query_window(s, &sel, IND_RATE, req->from, req->to, &during);
		if (r) {
			note(ev, sel.name, r);
		} else {
			proc_fold(during, rows, &n, PROC_ROWS_MAX, true);
			proc_fold(before, rows, &n, PROC_ROWS_MAX, false);
			qsort(rows, n, sizeof(*rows), by_rise_desc);
			list = json_array();
			for (size_t i = 0; i < n && json_array_size(list) < EVIDENCE_TOP_PROCESSES;
			     i++) {
				if (rows[i].current <= 0)
					continue;
				json_array_append_new(
				    list, json_pack("{s:s,s:I,s:f,s:f}", "comm", rows[i].comm,
						    "pid", (json_int_t)rows[i].pid, "baseline",
						    rows[i].baseline, "current", rows[i].current));
			}
			json_object_set_new(top, proc_metrics[m].id, list);
		}
		store_range_result_free(before);
		store_range_result_free(during);
	}
	free(rows);
}

/* ------------------------------------------------------------ correlation */

int evidence_parse_key(const char *key, char *buf, size_t len, struct store_selector *sel,
		       const char **ret_stat)
{
	char *colon, *brace, *p;

	if (!key || strlen(key) >= len)
		return -EINVAL;
	memset(sel, 0, sizeof(*sel));
	strcpy(buf, key);
	colon = strrchr(buf, ':');
	if (!colon || (colon > buf && colon[-1] != '}' && strchr(buf, '{')))
		return -EINVAL;
	*colon = '\0';
	*ret_stat = colon + 1;
	if (strcmp(*ret_stat, "rate") && strcmp(*ret_stat, "p99") && strcmp(*ret_stat, "value"))
		return -EINVAL;
	brace = strchr(buf, '{');
	sel->name = buf;
	if (!brace)
		return *buf ? 0 : -EINVAL;
	*brace = '\0';
	p = brace + 1;
	if (!*buf || !*p || p[strlen(p) - 1] != '}')
		return -EINVAL;
	p[strlen(p) - 1] = '\0';
	while (*p) {
		char *eq = strchr(p, '='), *comma;

		if (!eq || sel->nmatchers == REGISTRY_MAX_LABELS)
			return -EINVAL;
		*eq = '\0';
		comma = strchr(eq + 1, ',');
		if (comma)
			*comma = '\0';
		sel->matchers[sel->nmatchers++] = (struct metric_label){p, eq + 1};
		p = comma ? comma + 1 : eq + 1 + strlen(eq + 1);
	}
	return 0;
}

static enum ind_kind kind_of_stat(const char *stat)
{
	return !strcmp(stat, "rate") ? IND_RATE : !strcmp(stat, "p99") ? IND_P99 : IND_MEAN;
}

#define CORR_STEPS 30

/* The points of one series on the grid [from, from + CORR_STEPS * step),
 * NAN where it has none. */
static void grid(const struct store_range_series *rs, double from, double step, double *out)
{
	for (size_t k = 0; k < CORR_STEPS; k++)
		out[k] = NAN;
	for (size_t i = 0; i < rs->npoints; i++) {
		long k = lround((rs->points[i].ts - from) / step);

		if (k >= 0 && k < CORR_STEPS)
			out[k] = rs->points[i].value;
	}
}

static double pearson(const double *x, const double *y)
{
	double sx = 0, sy = 0, sxx = 0, syy = 0, sxy = 0;
	size_t n = 0;

	for (size_t k = 0; k < CORR_STEPS; k++) {
		if (!isfinite(x[k]) || !isfinite(y[k]))
			continue;
		sx += x[k];
		sy += y[k];
		sxx += x[k] * x[k];
		syy += y[k] * y[k];
		sxy += x[k] * y[k];
		n++;
	}
	if (n < 5)
		return NAN;
	double vx = sxx - sx * sx / n, vy = syy - sy * sy / n;

	if (vx <= 1e-18 || vy <= 1e-18)
		return NAN;
	return (sxy - sx * sy / n) / sqrt(vx * vy);
}

static void series_key(const struct store_series_info *info, const char *stat, char *buf,
		       size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "%s", info->name);

	for (size_t i = 0; i < info->nlabels && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s=%s", i ? "," : "{",
				      info->label_keys[i], info->label_values[i]);
	if (n < len)
		snprintf(buf + n, len - n, "%s:%s", info->nlabels ? "}" : "", stat);
}

static const char *stat_of(enum ind_kind k)
{
	return k == IND_RATE ? "rate" : k == IND_P99 ? "p99" : "value";
}

struct corr {
	char series[512];
	char with[512];
	double r;
};

static int by_abs_r(const void *a, const void *b)
{
	double x = fabs(((const struct corr *)a)->r), y = fabs(((const struct corr *)b)->r);

	return (x < y) - (x > y);
}

#define CORR_MAX 256

static void add_correlated(struct store *s, const struct evidence_request *req, json_t *ev)
{
	double from = req->from - req->baseline_s, step = (req->to - from) / CORR_STEPS;
	json_t *anomalous = json_object_get(ev, "anomalous"), *list;
	struct corr *found = calloc(CORR_MAX, sizeof(*found));
	size_t nfound = 0;

	if (!found || !(step > 0))
		goto out;
	for (size_t a = 0; a < req->nseries && a < EVIDENCE_SERIES_MAX; a++) {
		struct store_range_result *ar = NULL, *before = NULL, *during = NULL;
		struct store_range_query q = {.from = from, .to = req->to, .step = step};
		const char *stat;
		double x[CORR_STEPS], y[CORR_STEPS];
		char buf[512];
		int r;

		if (evidence_parse_key(req->series[a], buf, sizeof(buf), &q.selector, &stat))
			continue;
		agg_of(kind_of_stat(stat), &q);
		r = store_query_range(s, &q, &ar);
		if (!r)
			r = query_window(s, &q.selector, kind_of_stat(stat), from, req->from,
					 &before);
		if (!r)
			r = query_window(s, &q.selector, kind_of_stat(stat), req->from, req->to,
					 &during);
		if (r || !ar->nseries) {
			if (r)
				note(ev, req->series[a], r);
			goto next;
		}
		json_array_append_new(
		    anomalous, json_pack("{s:s,s:o,s:o}", "series", req->series[a], "baseline",
					 before && before->nseries && before->series[0].npoints
					     ? json_real(before->series[0].points[0].value)
					     : json_null(),
					 "current",
					 during && during->nseries && during->series[0].npoints
					     ? json_real(during->series[0].points[0].value)
					     : json_null()));
		grid(&ar->series[0], from, step, x);
		for (size_t i = 0; i < sizeof(indicators) / sizeof(indicators[0]); i++) {
			struct store_range_query cq = {.selector = {.name = indicators[i].metric},
						       .from = from,
						       .to = req->to,
						       .step = step};
			struct store_range_result *cr = NULL;

			agg_of(indicators[i].kind, &cq);
			if (store_query_range(s, &cq, &cr))
				continue;
			for (size_t k = 0; k < cr->nseries && nfound < CORR_MAX; k++) {
				struct corr *c = &found[nfound];
				double rr;

				series_key(&cr->series[k].info, stat_of(indicators[i].kind),
					   c->series, sizeof(c->series));
				if (!strcmp(c->series, req->series[a]))
					continue;
				grid(&cr->series[k], from, step, y);
				rr = pearson(x, y);
				if (!isfinite(rr) || fabs(rr) < 0.5)
					continue;
				c->r = rr;
				snprintf(c->with, sizeof(c->with), "%s", req->series[a]);
				nfound++;
			}
			store_range_result_free(cr);
		}
	next:
		store_range_result_free(ar);
		store_range_result_free(before);
		store_range_result_free(during);
	}
	qsort(found, nfound, sizeof(*found), by_abs_r);
	list = json_object_get(ev, "correlated");
	for (size_t i = 0, kept = 0; i < nfound && kept < EVIDENCE_CORRELATED_MAX; i++) {
		bool dup = false;

		for (size_t j = 0; j < i && !dup; j++)
			dup = !strcmp(found[j].series, found[i].series);
		if (dup)
			continue;
		json_array_append_new(list, json_pack("{s:s,s:s,s:f}", "series", found[i].series,
						      "with", found[i].with, "r",
						      round(found[i].r * 1000) / 1000));
		kept++;
	}
out:
	free(found);
}

/* ------------------------------------------------------------ events */

/* Counts name in obj (an object of counts). */
static void count_in(json_t *obj, const char *name)
{
	json_t *v = json_object_get(obj, name);

	json_object_set_new(obj, name && *name ? name : "?",
			    json_integer(v ? json_integer_value(v) + 1 : 1));
}

/* The top n of an object of counts, as [{"name", "count"}]. */
static json_t *top_counts(json_t *obj, const char *label, size_t n)
{
	json_t *out = json_array(), *v;
	const char *k;

	while (json_array_size(out) < n && json_object_size(obj)) {
		const char *best = NULL;
		json_int_t bc = -1;

		json_object_foreach (obj, k, v) {
			if (json_integer_value(v) > bc) {
				bc = json_integer_value(v);
				best = k;
			}
		}
		json_array_append_new(out, json_pack("{s:s,s:I}", label, best, "count", bc));
		json_object_del(obj, best);
	}
	json_decref(obj);
	return out;
}

#define EVENTS_MAX 5000

static void add_events(struct store *s, const struct evidence_request *req, json_t *ev)
{
	static const char *const types[] = {"oom_kill", "slow_io", "tcp_retransmit", "exec"};
	json_t *events = json_object_get(ev, "events"), *cg = json_object();

	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		struct store_event_query q = {
		    .type = types[t], .from = req->from, .to = req->to, .limit = EVENTS_MAX};
		struct store_event_list *l = NULL;
		json_t *o, *items = json_array(), *by = json_object(), *by2 = json_object();
		int r = store_query_events(s, &q, &l);
		double maxlat = 0;

		if (r) {
			note(ev, types[t], r);
			json_decref(items);
			json_decref(by);
			json_decref(by2);
			continue;
		}
		for (size_t i = 0; i < l->n; i++) {
			const struct store_event *e = &l->events[i];
			json_t *f = e->fields;
			char peer[128];

			switch (t) {
			case 0:
				if (json_array_size(items) < 10)
					json_array_append_new(
					    items,
					    json_pack("{s:f,s:i,s:s,s:O?,s:I}", "ts", e->ts, "pid",
						      (int)e->pid, "comm", e->comm, "memcg",
						      json_object_get(f, "memcg"), "rss_bytes",
						      (json_int_t)json_integer_value(
							  json_object_get(f, "rss_pages")) *
							  (json_int_t)sysconf(_SC_PAGESIZE)));
				count_in(cg, json_string_value(json_object_get(f, "memcg")));
				break;
			case 1:
				count_in(by, json_string_value(json_object_get(f, "device")));
				count_in(by2, e->comm);
				maxlat = fmax(maxlat,
					      json_number_value(json_object_get(f, "latency_s")));
				break;
			case 2:
				snprintf(
				    peer, sizeof(peer), "%s:%lld",
				    json_string_value(json_object_get(f, "daddr")) ?: "?",
				    (long long)json_integer_value(json_object_get(f, "dport")));
				count_in(by, peer);
				break;
			default:
				count_in(by, e->comm);
				snprintf(peer, sizeof(peer), "%lld",
					 (long long)json_integer_value(json_object_get(f, "ppid")));
				count_in(by2, peer);
				break;
			}
		}
		switch (t) {
		case 0:
			o = json_pack("{s:I,s:o}", "count", (json_int_t)l->n, "items", items);
			items = NULL;
			break;
		case 1:
			o = json_pack("{s:I,s:f,s:o,s:o}", "count", (json_int_t)l->n,
				      "max_latency_s", maxlat, "by_device",
				      top_counts(by, "device", 5), "by_comm",
				      top_counts(by2, "comm", 5));
			by = by2 = NULL;
			break;
		case 2:
			o = json_pack("{s:I,s:o}", "count", (json_int_t)l->n, "by_peer",
				      top_counts(by, "peer", 5));
			by = NULL;
			break;
		default:
			o = json_pack("{s:I,s:f,s:o,s:o}", "count", (json_int_t)l->n, "per_s",
				      l->n / (req->to - req->from), "by_comm",
				      top_counts(by, "comm", 5), "by_parent",
				      top_counts(by2, "ppid", 5));
			by = by2 = NULL;
			break;
		}
		if (l->n == EVENTS_MAX)
			json_object_set_new(o, "truncated", json_true());
		json_object_set_new(events, types[t], o);
		json_decref(items);
		json_decref(by);
		json_decref(by2);
		store_event_list_free(l);
	}
	json_object_set_new(ev, "cgroups", top_counts(cg, "memcg", 10));
}

/* ------------------------------------------------------------ the record */

int evidence_build(struct store *s, const struct evidence_request *req, json_t **ret)
{
	json_t *ev;

	if (!s || !req || !ret || !isfinite(req->from) || !isfinite(req->to) ||
	    !(req->to > req->from) || !(req->baseline_s > 0) || !isfinite(req->baseline_s))
		return -EINVAL;
	ev = json_pack("{s:{s:f,s:f,s:f},s:O?,s:[],s:[],s:{},s:{},s:{},s:{},s:I,s:[]}", "window",
		       "from", req->from, "to", req->to, "baseline_from",
		       req->from - req->baseline_s, "signals", req->signals, "anomalous",
		       "correlated", "indicators", "pressure", "top_processes", "events", "ncpu",
		       (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "notes");
	if (!ev)
		return -ENOMEM;
	for (size_t i = 0; i < sizeof(indicators) / sizeof(indicators[0]); i++)
		add_indicator(s, req, &indicators[i], ev);
	add_processes(s, req, ev);
	add_correlated(s, req, ev);
	add_events(s, req, ev);
	*ret = ev;
	return 0;
}
