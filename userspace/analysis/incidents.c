// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * incidents.c - the incidents sink (see incidents.h): state, persistence,
 * grouping, lifecycle; the analysis and the operator actions are in
 * incidents_ops.c. The active incidents live in memory under one lock and
 * are written to the store on every change; slow work (evidence queries,
 * LLM asks) runs without the lock and finds its incident again by id.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/evidence.h"
#include "analysis/incidents_internal.h"
#include "util/clock.h"

const char *const inc_state_names[3] = {"open", "acknowledged", "resolved"};
const char *const inc_sev_names[3] = {"info", "warning", "critical"};

double inc_now(struct incidents *inc)
{
	return inc->o.clock ? inc->o.clock(inc->o.clock_ctx) : clock_wall_s();
}

void incidents_options_default(struct incidents_options *o)
{
	memset(o, 0, sizeof(*o));
	o->quiet_s = 600;
	o->baseline_s = 900;
	o->min_severity = 1;
	o->poll_s = 1;
	o->settle_s = 10;
}

static int sev_rank(const char *s)
{
	for (int i = 0; s && i < 3; i++) {
		if (!strcmp(s, inc_sev_names[i]))
			return i;
	}
	return 0;
}

/* The subsystem a series belongs to, from its name. */
static const char *subsystem_of(const char *name)
{
	static const struct {
		const char *prefix, *subsystem;
	} map[] = {
	    {"kpulse_sched_processes_", "processes"},
	    {"kpulse_sched_", "cpu"},
	    {"kpulse_cpu_", "cpu"},
	    {"kpulse_load", "cpu"},
	    {"kpulse_procs_", "cpu"},
	    {"kpulse_pressure_cpu", "cpu"},
	    {"kpulse_pressure_memory", "memory"},
	    {"kpulse_mem_", "memory"},
	    {"kpulse_pressure_io", "io"},
	    {"kpulse_block_", "io"},
	    {"kpulse_filesystem_", "filesystem"},
	    {"kpulse_net_", "network"},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (!strncmp(name, map[i].prefix, strlen(map[i].prefix)))
			return map[i].subsystem;
	}
	return "other";
}

/* ------------------------------------------------------------ persistence */

json_t *inc_doc(const struct incident *it)
{
	json_t *parts = json_array(), *subs = json_array(), *doc;

	for (size_t i = 0; i < it->nparts; i++) {
		const struct part *p = &it->parts[i];
		bool seen = false;
		size_t j;
		json_t *s;

		json_array_append(parts, p->detail);
		json_array_foreach (subs, j, s)
			seen |= !strcmp(json_string_value(s), p->subsystem);
		if (!seen)
			json_array_append_new(subs, json_string(p->subsystem));
	}
	doc = json_pack("{s:o,s:o,s:f,s:s?,s:s?}", "parts", parts, "subsystems", subs,
			"last_activity_at", it->last_activity, "acknowledged_by",
			it->acked_by[0] ? it->acked_by : NULL, "resolved_by",
			it->resolved_by[0] ? it->resolved_by : NULL);
	if (!doc)
		return NULL;
	if (it->evidence)
		json_object_set(doc, "evidence", it->evidence);
	if (it->reading) {
		json_object_set(doc, "resource", json_object_get(it->reading, "resource"));
		json_object_set(doc, "culprit", json_object_get(it->reading, "culprit"));
		json_object_set(doc, "reading", json_object_get(it->reading, "text"));
	}
	if (it->llm_status[0])
		json_object_set_new(doc, "llm_status", json_string(it->llm_status));
	if (!strcmp(it->llm_status, "all_failed"))
		json_object_set_new(doc, "note",
				    json_string("every LLM provider failed: the built-in "
						"analyst's reading stands"));
	return doc;
}

int inc_save(struct incidents *inc, struct incident *it)
{
	struct store_incident row = {
	    .id = it->id,
	    .opened_ts = it->opened,
	    .updated_ts = it->updated,
	    .resolved_ts = it->state == ST_RESOLVED ? it->resolved : 0,
	    .state = inc_state_names[it->state],
	    .severity = inc_sev_names[it->severity],
	    .summary = it->summary,
	};
	int r;

	row.doc = inc_doc(it);
	if (!row.doc)
		return -ENOMEM;
	r = store_incident_save(inc->store, &row);
	json_decref(row.doc);
	return r;
}

void inc_timeline(struct incidents *inc, int64_t id, double ts, const char *kind, const char *who,
		  const char *detail)
{
	store_incident_timeline_add(inc->store, id, ts, kind, who, detail);
}

void inc_audit(struct incidents *inc, const struct incidents_actor *by, const char *action,
	       int64_t id, const char *detail)
{
	char target[32];

	snprintf(target, sizeof(target), id > 0 ? "incident/%lld" : "host", (long long)id);
	store_audit_add(inc->store, inc_now(inc), by && by->who ? by->who : "kpulse",
			by && by->role ? by->role : "system", action, target, detail);
}

void inc_alert(struct incidents *inc, const struct incident *it, enum alert_kind kind)
{
	char title[256];
	struct alert_event ev = {
	    .kind = kind,
	    .incident_id = it->id,
	    .severity = (enum alert_severity)it->severity,
	    .title = title,
	    .summary = it->summary,
	    .ts = inc_now(inc),
	};

	if (!inc->o.alerts)
		return;
	snprintf(title, sizeof(title), "kpulse incident %lld %s (%s)", (long long)it->id,
		 kind == ALERT_RESOLVE	  ? "resolved"
		 : kind == ALERT_ESCALATE ? "escalated"
					  : "opened",
		 inc_sev_names[it->severity]);
	alerts_notify(inc->o.alerts, &ev);
}

static void incident_free(struct incident *it)
{
	if (!it)
		return;
	for (size_t i = 0; i < it->nparts; i++)
		json_decref(it->parts[i].detail);
	json_decref(it->evidence);
	json_decref(it->reading);
	free(it);
}

struct incident *inc_find_active(struct incidents *inc, int64_t id)
{
	for (size_t i = 0; i < inc->nactive; i++) {
		if (inc->active[i]->id == id)
			return inc->active[i];
	}
	return NULL;
}

static uint64_t part_hash(const char *kind, const char *key, int64_t anomaly_id)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (const char *p = kind; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ ':') * 1099511628211ULL;
	if (anomaly_id)
		return (h ^ (uint64_t)anomaly_id) * 1099511628211ULL;
	for (const char *p = key; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}

static bool retired(const struct incidents *inc, const struct part *p)
{
	uint64_t h = part_hash(p->kind, p->key, p->anomaly_id);

	for (size_t i = 0; i < INCIDENTS_RETIRED_MAX; i++) {
		if (inc->retired[i] == h)
			return true;
	}
	return false;
}

/* Takes a resolved incident out of the active ones; its parts retire. */
void inc_drop_active(struct incidents *inc, struct incident *it)
{
	for (size_t i = 0; i < it->nparts; i++) {
		const struct part *p = &it->parts[i];

		if (!strcmp(p->kind, "event"))
			continue; /* each OOM kill is news */
		inc->retired[inc->retired_next] = part_hash(p->kind, p->key, p->anomaly_id);
		inc->retired_next = (inc->retired_next + 1) % INCIDENTS_RETIRED_MAX;
	}
	for (size_t i = 0; i < inc->nactive; i++) {
		if (inc->active[i] == it) {
			inc->active[i] = inc->active[inc->nactive - 1];
			__atomic_sub_fetch(&inc->nactive, 1, __ATOMIC_RELAXED);
			break;
		}
	}
	incident_free(it);
}

/* ------------------------------------------------------------ grouping */

static struct part *find_part(struct incidents *inc, const char *kind, const char *key,
			      int64_t anomaly_id, struct incident **ret_it)
{
	for (size_t i = 0; i < inc->nactive; i++) {
		struct incident *it = inc->active[i];

		for (size_t j = 0; j < it->nparts; j++) {
			struct part *p = &it->parts[j];

			if (strcmp(p->kind, kind))
				continue;
			if (anomaly_id ? p->anomaly_id == anomaly_id : !strcmp(p->key, key)) {
				*ret_it = it;
				return p;
			}
		}
	}
	return NULL;
}

static struct incident *group_for(struct incidents *inc, const struct part *p)
{
	for (size_t i = 0; i < inc->nactive; i++) {
		struct incident *it = inc->active[i];

		for (size_t j = 0; j < it->nparts; j++) {
			if (!strcmp(it->parts[j].subsystem, p->subsystem))
				return it;
		}
	}
	for (size_t i = 0; i < inc->nactive; i++) {
		struct incident *it = inc->active[i];

		if (p->start <= it->last_activity + INCIDENTS_JOIN_GAP_S &&
		    p->end >= it->opened - INCIDENTS_JOIN_GAP_S)
			return it;
	}
	return NULL;
}

/* Set when an incident opened this poll: its id, for the analysis after
 * the lock is released. */
struct poll_ctx {
	int64_t opened[8];
	size_t nopened;
};

static void escalate_check(struct incidents *inc, struct incident *it, int sev, double t)
{
	char detail[128];

	if (sev <= it->severity)
		return;
	snprintf(detail, sizeof(detail), "severity %s -> %s", inc_sev_names[it->severity],
		 inc_sev_names[sev]);
	it->severity = sev;
	inc_timeline(inc, it->id, t, "escalated", "kpulse", detail);
	inc_alert(inc, it, ALERT_ESCALATE);
}

/* Adds part p (detail stolen) to the incident it belongs with, or opens
 * one. */
static void add_part(struct incidents *inc, struct part *p, double t, struct poll_ctx *pc)
{
	struct incident *it = group_for(inc, p);
	char detail[512];

	if (!it) {
		if (p->severity < inc->o.min_severity || inc->nactive == INCIDENTS_ACTIVE_MAX ||
		    !(it = calloc(1, sizeof(*it)))) {
			json_decref(p->detail);
			return;
		}
		it->id = inc->next_id++;
		it->state = ST_OPEN;
		it->severity = p->severity;
		it->opened = fmin(p->start, t);
		it->updated = t;
		it->last_activity = p->active ? t : p->end;
		it->analyze_at = t + inc->o.settle_s;
		snprintf(it->summary, sizeof(it->summary), "%s %s on %s", p->subsystem,
			 !strcmp(p->kind, "event") ? "event" : p->kind, p->key);
		it->parts[it->nparts++] = *p;
		inc->active[inc->nactive] = it;
		__atomic_add_fetch(&inc->nactive, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&inc->opened_total, 1, __ATOMIC_RELAXED);
		inc_save(inc, it);
		snprintf(detail, sizeof(detail), "opened by %s %s (%s)", p->kind, p->key,
			 inc_sev_names[p->severity]);
		inc_timeline(inc, it->id, t, "opened", "kpulse", detail);
		inc_alert(inc, it, ALERT_OPEN);
		return;
	}
	if (it->nparts == INCIDENTS_PARTS_MAX) {
		json_decref(p->detail);
		return;
	}
	/* a subsystem new to the incident: its reading is read again once
	 * the part settled */
	bool known = false;

	for (size_t i = 0; i < it->nparts; i++)
		known |= !strcmp(it->parts[i].subsystem, p->subsystem);
	if (!known && it->analyzed) {
		it->analyzed = false;
		it->analyze_at = t + inc->o.settle_s;
	}
	it->parts[it->nparts++] = *p;
	it->last_activity = fmax(it->last_activity, p->active ? t : p->end);
	it->updated = t;
	snprintf(detail, sizeof(detail), "%s %s joined (%s)", p->kind, p->key,
		 inc_sev_names[p->severity]);
	inc_timeline(inc, it->id, t, "joined", "kpulse", detail);
	escalate_check(inc, it, p->severity, t);
	inc_save(inc, it);
}

/* Updates a known part; true when the incident changed. */
static bool update_part(struct incidents *inc, struct incident *it, struct part *p,
			const struct part *now_p, double t)
{
	bool changed =
	    p->active != now_p->active || p->end != now_p->end || now_p->severity > p->severity;

	p->active = now_p->active;
	p->end = fmax(p->end, now_p->end);
	if (now_p->severity > p->severity)
		p->severity = now_p->severity;
	json_decref(p->detail);
	p->detail = now_p->detail;
	it->last_activity = fmax(it->last_activity, p->active ? t : p->end);
	escalate_check(inc, it, p->severity, t);
	if (changed)
		it->updated = t;
	return changed;
}

static void observe(struct incidents *inc, struct part *np, double t, struct poll_ctx *pc,
		    bool *changed_any)
{
	struct incident *it = NULL;
	struct part *p = find_part(inc, np->kind, np->key, np->anomaly_id, &it);

	if (p) {
		if (update_part(inc, it, p, np, t))
			inc_save(inc, it);
		return;
	}
	if (retired(inc, np)) {
		json_decref(np->detail);
		return;
	}
	add_part(inc, np, t, pc);
	*changed_any = true;
}

static void poll_anomalies(struct incidents *inc, double t, struct poll_ctx *pc)
{
	struct store_anomaly_query q = {
	    .from = fmax(inc->started, inc->last_poll - 2 * inc->o.poll_s), .to = t, .limit = 1000};
	struct store_anomaly_list *l = NULL;
	bool changed = false;

	if (store_query_anomalies(inc->store, &q, &l))
		return;
	for (size_t i = l->n; i-- > 0;) {
		const struct store_anomaly *a = &l->items[i];
		struct part np = {.anomaly_id = a->id,
				  .severity = sev_rank(a->severity),
				  .start = a->start_ts,
				  .end = a->end_ts,
				  .active = a->open};
		char name[REGISTRY_NAME_MAX];

		snprintf(np.kind, sizeof(np.kind), "anomaly");
		snprintf(np.key, sizeof(np.key), "%s", a->series);
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(a->series, "{:"), a->series);
		snprintf(np.subsystem, sizeof(np.subsystem), "%s", subsystem_of(name));
		np.detail = json_pack("{s:s,s:I,s:s,s:s,s:s,s:f,s:f,s:b,s:f,s:s}", "kind",
				      "anomaly", "anomaly_id", (json_int_t)a->id, "series",
				      a->series, "subsystem", np.subsystem, "severity", a->severity,
				      "start", a->start_ts, "end", a->end_ts, "open", a->open,
				      "peak_score", a->peak_score, "detectors", a->detectors);
		observe(inc, &np, t, pc, &changed);
	}
	store_anomaly_list_free(l);
}

static void poll_predictions(struct incidents *inc, double t, struct poll_ctx *pc)
{
	json_t *list = inc->o.predictions ? inc->o.predictions(inc->o.predictions_ctx) : NULL, *pr;
	bool changed = false;
	size_t i;

	json_array_foreach (list, i, pr) {
		const char *kind = json_string_value(json_object_get(pr, "kind")) ?: "limit";
		const char *series = json_string_value(json_object_get(pr, "series")) ?: "?";
		double eta = json_number_value(json_object_get(pr, "eta_s"));
		char *labels =
		    json_dumps(json_object_get(pr, "labels"), JSON_COMPACT | JSON_SORT_KEYS);
		struct part np = {
		    .severity = eta < 3600 ? 2 : 1, .start = t, .end = t, .active = true};

		if (!json_is_true(json_object_get(pr, "alert"))) {
			free(labels);
			continue;
		}
		snprintf(np.kind, sizeof(np.kind), "prediction");
		snprintf(np.key, sizeof(np.key), "%s:%s%s", kind, series, labels ? labels : "");
		free(labels);
		snprintf(np.subsystem, sizeof(np.subsystem), "%s",
			 !strcmp(kind, "filesystem_full")    ? "filesystem"
			 : !strcmp(kind, "memory_exhausted") ? "memory"
			 : !strcmp(kind, "swap_exhausted")   ? "memory"
							     : subsystem_of(series));
		np.detail = json_deep_copy(pr);
		json_object_set_new(np.detail, "prediction", json_string(kind));
		json_object_set_new(np.detail, "kind", json_string("prediction"));
		json_object_set_new(np.detail, "subsystem", json_string(np.subsystem));
		json_object_set_new(np.detail, "severity", json_string(inc_sev_names[np.severity]));
		observe(inc, &np, t, pc, &changed);
	}
	/* predictions no longer made are no longer active */
	for (size_t k = 0; k < inc->nactive; k++) {
		struct incident *it = inc->active[k];

		for (size_t j = 0; j < it->nparts; j++) {
			struct part *p = &it->parts[j];
			bool still = false;
			json_t *x;

			if (strcmp(p->kind, "prediction") || !p->active)
				continue;
			json_array_foreach (list, i, x) {
				still |= json_is_true(json_object_get(x, "alert")) &&
					 json_equal(json_object_get(x, "series"),
						    json_object_get(p->detail, "series")) &&
					 json_equal(json_object_get(x, "labels"),
						    json_object_get(p->detail, "labels"));
			}
			if (!still) {
				p->active = false;
				p->end = t;
				inc_save(inc, it);
			}
		}
	}
	json_decref(list);
}

/* OOM kills from the round's events: one part per memory cgroup. */
static void round_events(struct incidents *inc, const struct round *r, struct poll_ctx *pc)
{
	bool changed = false;
	size_t i;
	json_t *ev;

	json_array_foreach (r->events, i, ev) {
		const char *type = json_string_value(json_object_get(ev, "type"));
		const char *memcg = json_string_value(json_object_get(ev, "memcg")) ?: "";
		double ts = json_number_value(json_object_get(ev, "timestamp"));
		struct part np = {.severity = 2, .start = ts, .end = ts};
		struct incident *it = NULL;
		struct part *p;
		long long count = 1;

		if (!type || strcmp(type, "oom_kill"))
			continue;
		snprintf(np.kind, sizeof(np.kind), "event");
		snprintf(np.key, sizeof(np.key), "oom_kill:%s", memcg);
		snprintf(np.subsystem, sizeof(np.subsystem), "memory");
		p = find_part(inc, np.kind, np.key, 0, &it);
		if (p)
			count = json_integer_value(json_object_get(p->detail, "count")) + 1;
		np.detail = json_pack(
		    "{s:s,s:s,s:s,s:s,s:f,s:f,s:O?,s:O?,s:s,s:I,s:I}", "kind", "event", "event",
		    "oom_kill", "subsystem", "memory", "severity", "critical", "start",
		    p ? p->start : ts, "end", ts, "comm", json_object_get(ev, "comm"), "pid",
		    json_object_get(ev, "pid"), "memcg", memcg, "rss_bytes",
		    (json_int_t)json_integer_value(json_object_get(ev, "rss_pages")) * 4096,
		    "count", (json_int_t)count);
		observe(inc, &np, ts, pc, &changed);
	}
}

static void auto_resolve(struct incidents *inc, double t)
{
	for (size_t i = inc->nactive; i-- > 0;) {
		struct incident *it = inc->active[i];
		bool active = false;
		char detail[128];

		for (size_t j = 0; j < it->nparts; j++)
			active |= it->parts[j].active;
		if (active) {
			it->last_activity = t;
			continue;
		}
		if (t - it->last_activity < inc->o.quiet_s)
			continue;
		it->state = ST_RESOLVED;
		it->resolved = t;
		it->updated = t;
		snprintf(it->resolved_by, sizeof(it->resolved_by), "kpulse");
		inc_save(inc, it);
		snprintf(detail, sizeof(detail), "quiet for %.0f s: resolved automatically",
			 t - it->last_activity);
		inc_timeline(inc, it->id, t, "resolved", "kpulse", detail);
		inc_alert(inc, it, ALERT_RESOLVE);
		__atomic_add_fetch(&inc->resolved_total, 1, __ATOMIC_RELAXED);
		inc_drop_active(inc, it);
	}
}

static void sink_round(void *ctx, struct round *r)
{
	struct incidents *inc = ctx;
	struct poll_ctx pc = {};
	double t = inc_now(inc);

	proc_history_observe(inc->procs, r->reg, r->timestamp);
	pthread_mutex_lock(&inc->lock);
	round_events(inc, r, &pc);
	if (t - inc->last_poll >= inc->o.poll_s) {
		poll_anomalies(inc, t, &pc);
		poll_predictions(inc, t, &pc);
		auto_resolve(inc, t);
		inc->last_poll = t;
	}
	/* the analysis at open (and after a new subsystem joined), once it
	 * is settle_s old: the store then holds the window's samples */
	for (size_t i = 0; i < inc->nactive; i++) {
		struct incident *it = inc->active[i];

		if (!it->analyzed && t >= it->analyze_at &&
		    pc.nopened < sizeof(pc.opened) / sizeof(pc.opened[0])) {
			it->analyzed = true;
			pc.opened[pc.nopened++] = it->id;
		}
	}
	pthread_mutex_unlock(&inc->lock);

	/* evidence and analysis of what opened, without the lock */
	for (size_t i = 0; i < pc.nopened; i++) {
		const char *series[EVIDENCE_SERIES_MAX];
		json_t *signals = NULL;
		double from = t;
		size_t n = 0;
		struct incident *it;

		pthread_mutex_lock(&inc->lock);
		it = inc_find_active(inc, pc.opened[i]);
		if (it) {
			json_t *doc = inc_doc(it);

			signals = json_incref(json_object_get(doc, "parts"));
			json_decref(doc);
			from = it->opened;
			n = inc_part_series(it, series, EVIDENCE_SERIES_MAX);
			/* copies: the incident may change meanwhile */
			for (size_t k = 0; k < n; k++)
				series[k] = strdup(series[k]);
		}
		pthread_mutex_unlock(&inc->lock);
		if (!it)
			continue;
		inc_analyze(inc, pc.opened[i], fmin(from, t - 1), t, series, n, signals, NULL, true,
			    NULL);
		for (size_t k = 0; k < n; k++)
			free((char *)series[k]);
		json_decref(signals);
	}
}

const struct sink_ops incidents_sink_ops = {.name = "incidents", .on_round = sink_round};

/* ------------------------------------------------------------ life */

int incidents_new(const struct incidents_options *o, struct store *s, struct incidents **ret,
		  char *err, size_t errlen)
{
	struct store_incident_query q = {.state = "active", .limit = 1000};
	struct incidents *inc;
	json_t *items = NULL, *item;
	int64_t max_id = 0;
	size_t i;
	int r;

	if (!o || !s || !ret || !(o->quiet_s >= 0) || !(o->baseline_s > 0) || !(o->poll_s > 0) ||
	    !(o->settle_s >= 0) || o->min_severity < 0 || o->min_severity > 2) {
		snprintf(err, errlen, "incidents: options out of range");
		return -EINVAL;
	}
	inc = calloc(1, sizeof(*inc));
	if (!inc)
		return -ENOMEM;
	inc->o = *o;
	inc->store = s;
	pthread_mutex_init(&inc->lock, NULL);
	pthread_cond_init(&inc->llm_done, NULL);
	/* the baseline and a window of up to an hour, at most PROCS_SAMPLES_MAX samples */
	inc->procs = proc_history_new(fmax(0.5, (o->baseline_s + 3600) / (PROCS_SAMPLES_MAX - 2)),
				      o->baseline_s + 3600);
	if (!inc->procs) {
		incidents_free(inc);
		return -ENOMEM;
	}
	r = store_incident_max_id(s, &max_id);
	if (!r)
		r = store_incident_list(s, &q, &items, NULL);
	if (r) {
		snprintf(err, errlen, "incidents: reading the store: %s", strerror(-r));
		incidents_free(inc);
		return r;
	}
	inc->next_id = max_id + 1;
	inc->started = inc->last_poll = inc_now(inc);
	/* what a previous daemon left active is over: it saw its end no more */
	json_array_foreach (items, i, item) {
		int64_t id = json_integer_value(json_object_get(item, "id"));
		json_t *full = NULL;

		if (store_incident_get(s, id, &full))
			continue;
		struct store_incident row = {
		    .id = id,
		    .opened_ts = json_number_value(json_object_get(full, "opened_at")),
		    .updated_ts = inc->started,
		    .resolved_ts = inc->started,
		    .state = "resolved",
		    .severity = json_string_value(json_object_get(full, "severity")),
		    .summary = json_string_value(json_object_get(full, "summary")),
		    .doc = full,
		};
		json_object_set_new(full, "resolved_by", json_string("kpulse"));
		json_object_del(full, "timeline");
		json_object_del(full, "analyses");
		if (!store_incident_save(s, &row))
			inc_timeline(inc, id, inc->started, "resolved", "kpulse",
				     "the daemon restarted: resolved");
		json_decref(full);
	}
	json_decref(items);
	*ret = inc;
	return 0;
}

struct incidents *incidents_free(struct incidents *inc)
{
	if (!inc)
		return NULL;
	for (size_t i = 0; i < inc->nactive; i++)
		incident_free(inc->active[i]);
	/* LLM asks still running (llm_router_cancel() ends them quickly) */
	pthread_mutex_lock(&inc->lock);
	while (inc->llm_running)
		pthread_cond_wait(&inc->llm_done, &inc->lock);
	pthread_mutex_unlock(&inc->lock);
	proc_history_free(inc->procs);
	pthread_cond_destroy(&inc->llm_done);
	pthread_mutex_destroy(&inc->lock);
	free(inc);
	return NULL;
}
