// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * incidents.c - the incidents sink and the operator actions (see
 * incidents.h). The active incidents live in memory under one lock and
 * are written to the store on every change; slow work (evidence queries,
 * LLM asks) runs without the lock and finds its incident again by id.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analyst.h"
#include "analysis/evidence.h"
#include "analysis/incidents.h"
#include "analysis/question.h"
#include "util/clock.h"
#include "util/utf8.h"

enum state { ST_OPEN, ST_ACKED, ST_RESOLVED };

static const char *const state_names[] = {"open", "acknowledged", "resolved"};
static const char *const sev_names[] = {"info", "warning", "critical"};

struct part {
	char key[320]; /* anomaly series, prediction or event key */
	char kind[12]; /* "anomaly", "prediction", "event" */
	char subsystem[16];
	int severity;
	double start, end;
	bool active;
	int64_t anomaly_id; /* 0: not an anomaly */
	json_t *detail;	    /* the part as served; owned */
};

struct incident {
	int64_t id;
	enum state state;
	int severity;
	double opened, updated, resolved, last_activity;
	struct part parts[INCIDENTS_PARTS_MAX];
	size_t nparts;
	char summary[512];
	char acked_by[64], resolved_by[64];
	json_t *evidence, *reading; /* owned; NULL until built */
	bool analyzed;		    /* the analysis due at analyze_at ran (or runs) */
	double analyze_at;	    /* settle_s after the open, or after a new subsystem joined */
	char llm_status[16];	    /* "", "ok", "all_failed", "off" */
};

struct incidents {
	struct incidents_options o;
	struct store *store;
	pthread_mutex_t lock;
	struct incident *active[INCIDENTS_ACTIVE_MAX];
	size_t nactive;
	int64_t next_id;
	double started, last_poll;
	/* The parts of resolved incidents (a hash of kind, key and anomaly id),
	 * so that an anomaly still open or a prediction still made does not
	 * open the incident an operator just resolved again. */
	uint64_t retired[INCIDENTS_RETIRED_MAX];
	size_t retired_next;
	uint64_t opened_total, resolved_total, llm_failed_total;
};

static double now_s(struct incidents *inc)
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
		if (!strcmp(s, sev_names[i]))
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

static json_t *incident_doc(const struct incident *it)
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

static int save(struct incidents *inc, struct incident *it)
{
	struct store_incident row = {
	    .id = it->id,
	    .opened_ts = it->opened,
	    .updated_ts = it->updated,
	    .resolved_ts = it->state == ST_RESOLVED ? it->resolved : 0,
	    .state = state_names[it->state],
	    .severity = sev_names[it->severity],
	    .summary = it->summary,
	};
	int r;

	row.doc = incident_doc(it);
	if (!row.doc)
		return -ENOMEM;
	r = store_incident_save(inc->store, &row);
	json_decref(row.doc);
	return r;
}

static void timeline(struct incidents *inc, int64_t id, double ts, const char *kind,
		     const char *who, const char *detail)
{
	store_incident_timeline_add(inc->store, id, ts, kind, who, detail);
}

static void audit(struct incidents *inc, const struct incidents_actor *by, const char *action,
		  int64_t id, const char *detail)
{
	char target[32];

	snprintf(target, sizeof(target), id > 0 ? "incident/%lld" : "host", (long long)id);
	store_audit_add(inc->store, now_s(inc), by && by->who ? by->who : "kpulse",
			by && by->role ? by->role : "system", action, target, detail);
}

static void alert(struct incidents *inc, const struct incident *it, enum alert_kind kind)
{
	char title[256];
	struct alert_event ev = {
	    .kind = kind,
	    .incident_id = it->id,
	    .severity = (enum alert_severity)it->severity,
	    .title = title,
	    .summary = it->summary,
	    .ts = now_s(inc),
	};

	if (!inc->o.alerts)
		return;
	snprintf(title, sizeof(title), "kpulse incident %lld %s (%s)", (long long)it->id,
		 kind == ALERT_RESOLVE	  ? "resolved"
		 : kind == ALERT_ESCALATE ? "escalated"
					  : "opened",
		 sev_names[it->severity]);
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

static struct incident *find_active(struct incidents *inc, int64_t id)
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
static void drop_active(struct incidents *inc, struct incident *it)
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
			inc->active[i] = inc->active[--inc->nactive];
			break;
		}
	}
	incident_free(it);
}

/* ------------------------------------------------------------ analysis */

/* The anomalous series of an incident's parts, for the evidence. */
static size_t part_series(const struct incident *it, const char **out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < it->nparts && n < cap; i++) {
		if (!strcmp(it->parts[i].kind, "anomaly"))
			out[n++] = it->parts[i].key;
	}
	return n;
}

/* The LLM's analysis as an analysis document, or NULL when no provider is
 * configured. *status: "ok" or "all_failed". */
static json_t *llm_analysis(struct incidents *inc, json_t *evidence, json_t *reading,
			    const char *question, const char **status)
{
	struct llm_answer ans = {};
	struct llm_request req = {0};
	json_t *doc, *fails;
	char *text;
	int r;

	if (!inc->o.llm || !llm_router_provider_count(inc->o.llm))
		return NULL;
	text = json_dumps(evidence, JSON_COMPACT);
	req.evidence_json = text;
	req.builtin_reading = json_string_value(json_object_get(reading, "text"));
	req.question = question;
	r = text ? llm_ask(inc->o.llm, &req, &ans) : -ENOMEM;
	free(text);
	if (r < 0 || ans.all_failed) {
		fails = json_array();
		for (size_t i = 0; r >= 0 && i < ans.nfailures; i++)
			json_array_append_new(fails, json_pack("{s:s,s:s}", "provider",
							       ans.failures[i].provider, "reason",
							       ans.failures[i].reason));
		doc = json_pack("{s:s,s:s,s:n,s:n,s:O?,s:s,s:o,s:s?}", "analyst", "llm", "status",
				"failed", "provider", "model", "text",
				json_object_get(reading, "text"), "note",
				"no LLM provider answered: the built-in analyst's reading stands",
				"failures", fails, "error", r < 0 ? strerror(-r) : NULL);
		*status = "all_failed";
		__atomic_add_fetch(&inc->llm_failed_total, 1, __ATOMIC_RELAXED);
	} else {
		doc =
		    json_pack("{s:s,s:s,s:s,s:s,s:s,s:f,s:b,s:b,s:b}", "analyst", "llm", "status",
			      "ok", "provider", ans.provider, "model", ans.model, "text", ans.text,
			      "latency_s", ans.latency_s, "cache_hit", ans.cached, "truncated",
			      ans.truncated, "evidence_trimmed", ans.evidence_trimmed);
		if (doc && ans.prompt_tokens >= 0)
			json_object_set_new(doc, "prompt_tokens", json_integer(ans.prompt_tokens));
		if (doc && ans.completion_tokens >= 0)
			json_object_set_new(doc, "completion_tokens",
					    json_integer(ans.completion_tokens));
		*status = "ok";
	}
	llm_answer_clear(&ans);
	return doc;
}

/*
 * Builds the evidence and readings of incident id (no lock held), stores
 * them as analyses, and keeps them on the incident when it is still
 * active. *ret (may be NULL) gets {"evidence", "analyses"}.
 */
static int analyze(struct incidents *inc, int64_t id, double from, double to,
		   const char *const *series, size_t nseries, json_t *signals, const char *question,
		   json_t **ret)
{
	struct evidence_request req = {.from = from,
				       .to = to > from + 1 ? to : from + 1,
				       .baseline_s = inc->o.baseline_s,
				       .series = series,
				       .nseries = nseries,
				       .signals = signals};
	json_t *evidence = NULL, *reading, *llm, *analyses = json_array();
	const char *status = "off";
	struct incident *it;
	double t = now_s(inc);
	int r;

	r = evidence_build(inc->store, &req, &evidence);
	if (r)
		goto out;
	reading = analyst_read(evidence);
	if (!reading) {
		r = -ENOMEM;
		goto out;
	}
	if (question)
		json_object_set_new(reading, "question", json_string(question));
	json_array_append(analyses, reading);
	store_incident_analysis_add(inc->store, id, t, reading);
	llm = llm_analysis(inc, evidence, reading, question, &status);
	if (llm) {
		if (question)
			json_object_set_new(llm, "question", json_string(question));
		json_array_append(analyses, llm);
		store_incident_analysis_add(inc->store, id, now_s(inc), llm);
		timeline(inc, id, now_s(inc), "analysis", "kpulse",
			 !strcmp(status, "ok") ? "an LLM explained the incident"
					       : "every LLM provider failed: the built-in reading "
						 "stands");
		json_decref(llm);
	}
	pthread_mutex_lock(&inc->lock);
	it = find_active(inc, id);
	if (it) {
		json_decref(it->evidence);
		json_decref(it->reading);
		it->evidence = json_incref(evidence);
		it->reading = reading;
		snprintf(it->llm_status, sizeof(it->llm_status), "%s", status);
		snprintf(it->summary, sizeof(it->summary), "%s",
			 json_string_value(json_object_get(reading, "text")));
		it->updated = now_s(inc);
		save(inc, it);
	} else {
		json_decref(reading);
	}
	pthread_mutex_unlock(&inc->lock);
	if (ret) {
		*ret = json_pack("{s:O,s:O}", "evidence", evidence, "analyses", analyses);
		if (!*ret)
			r = -ENOMEM;
	}
out:
	json_decref(evidence);
	json_decref(analyses);
	return r;
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
	snprintf(detail, sizeof(detail), "severity %s -> %s", sev_names[it->severity],
		 sev_names[sev]);
	it->severity = sev;
	timeline(inc, it->id, t, "escalated", "kpulse", detail);
	alert(inc, it, ALERT_ESCALATE);
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
		inc->active[inc->nactive++] = it;
		inc->opened_total++;
		save(inc, it);
		snprintf(detail, sizeof(detail), "opened by %s %s (%s)", p->kind, p->key,
			 sev_names[p->severity]);
		timeline(inc, it->id, t, "opened", "kpulse", detail);
		alert(inc, it, ALERT_OPEN);
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
		 sev_names[p->severity]);
	timeline(inc, it->id, t, "joined", "kpulse", detail);
	escalate_check(inc, it, p->severity, t);
	save(inc, it);
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
			save(inc, it);
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
		json_object_set_new(np.detail, "severity", json_string(sev_names[np.severity]));
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
				save(inc, it);
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
		save(inc, it);
		snprintf(detail, sizeof(detail), "quiet for %.0f s: resolved automatically",
			 t - it->last_activity);
		timeline(inc, it->id, t, "resolved", "kpulse", detail);
		alert(inc, it, ALERT_RESOLVE);
		inc->resolved_total++;
		drop_active(inc, it);
	}
}

static void sink_round(void *ctx, struct round *r)
{
	struct incidents *inc = ctx;
	struct poll_ctx pc = {};
	double t = now_s(inc);

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
		it = find_active(inc, pc.opened[i]);
		if (it) {
			json_t *doc = incident_doc(it);

			signals = json_incref(json_object_get(doc, "parts"));
			json_decref(doc);
			from = it->opened;
			n = part_series(it, series, EVIDENCE_SERIES_MAX);
			/* copies: the incident may change meanwhile */
			for (size_t k = 0; k < n; k++)
				series[k] = strdup(series[k]);
		}
		pthread_mutex_unlock(&inc->lock);
		if (!it)
			continue;
		analyze(inc, pc.opened[i], fmin(from, t - 1), t, series, n, signals, NULL, NULL);
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
	r = store_incident_max_id(s, &max_id);
	if (!r)
		r = store_incident_list(s, &q, &items, NULL);
	if (r) {
		snprintf(err, errlen, "incidents: reading the store: %s", strerror(-r));
		incidents_free(inc);
		return r;
	}
	inc->next_id = max_id + 1;
	inc->started = inc->last_poll = now_s(inc);
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
			timeline(inc, id, inc->started, "resolved", "kpulse",
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
	pthread_mutex_destroy(&inc->lock);
	free(inc);
	return NULL;
}

/* ------------------------------------------------------------ actions */

/* -EALREADY when the stored incident exists (resolved), else -ENOENT. */
static int not_active(struct incidents *inc, int64_t id)
{
	json_t *o = NULL;
	int r = store_incident_get(inc->store, id, &o);

	json_decref(o);
	return r == 0 ? -EALREADY : r;
}

int incidents_ack(struct incidents *inc, int64_t id, const struct incidents_actor *by)
{
	struct incident *it;
	double t = now_s(inc);
	int r;

	pthread_mutex_lock(&inc->lock);
	it = find_active(inc, id);
	if (!it) {
		pthread_mutex_unlock(&inc->lock);
		return not_active(inc, id);
	}
	if (it->state != ST_OPEN) {
		pthread_mutex_unlock(&inc->lock);
		return -EALREADY;
	}
	it->state = ST_ACKED;
	it->updated = t;
	snprintf(it->acked_by, sizeof(it->acked_by), "%s", by->who);
	r = save(inc, it);
	pthread_mutex_unlock(&inc->lock);
	if (r)
		return r;
	timeline(inc, id, t, "acknowledged", by->who, "acknowledged");
	audit(inc, by, "incident.ack", id, "");
	return 0;
}

int incidents_resolve(struct incidents *inc, int64_t id, const struct incidents_actor *by)
{
	struct incident *it;
	double t = now_s(inc);
	int r;

	pthread_mutex_lock(&inc->lock);
	it = find_active(inc, id);
	if (!it) {
		pthread_mutex_unlock(&inc->lock);
		return not_active(inc, id);
	}
	it->state = ST_RESOLVED;
	it->resolved = it->updated = t;
	snprintf(it->resolved_by, sizeof(it->resolved_by), "%s", by->who);
	r = save(inc, it);
	if (!r) {
		alert(inc, it, ALERT_RESOLVE);
		inc->resolved_total++;
		drop_active(inc, it);
	}
	pthread_mutex_unlock(&inc->lock);
	if (r)
		return r;
	timeline(inc, id, t, "resolved", by->who, "resolved by an operator");
	audit(inc, by, "incident.resolve", id, "");
	return 0;
}

int incidents_comment(struct incidents *inc, int64_t id, const struct incidents_actor *by,
		      const char *text)
{
	size_t len = text ? strlen(text) : 0;
	json_t *o = NULL;
	int r;

	if (!len || len > INCIDENTS_COMMENT_MAX || !utf8_valid(text, len))
		return -EINVAL;
	r = store_incident_get(inc->store, id, &o);
	json_decref(o);
	if (r)
		return r;
	r = store_incident_timeline_add(inc->store, id, now_s(inc), "comment", by->who, text);
	if (!r)
		audit(inc, by, "incident.comment", id, text);
	return r;
}

int incidents_analyze(struct incidents *inc, int64_t id, const struct incidents_actor *by,
		      const char *question, json_t **ret)
{
	const char *series[EVIDENCE_SERIES_MAX];
	json_t *o = NULL, *parts, *p;
	double from, to;
	size_t n = 0, i;
	int r;

	r = store_incident_get(inc->store, id, &o);
	if (r)
		return r;
	from = json_number_value(json_object_get(o, "opened_at"));
	to = json_is_number(json_object_get(o, "resolved_at"))
		 ? json_number_value(json_object_get(o, "resolved_at"))
		 : now_s(inc);
	parts = json_object_get(o, "parts");
	json_array_foreach (parts, i, p) {
		const char *s = json_string_value(json_object_get(p, "series"));

		if (n < EVIDENCE_SERIES_MAX && s &&
		    !strcmp(json_string_value(json_object_get(p, "kind")) ?: "", "anomaly"))
			series[n++] = s;
	}
	r = analyze(inc, id, fmin(from, to - 1), to, series, n, parts, question, ret);
	if (!r) {
		timeline(inc, id, now_s(inc), "analysis", by->who, "analysis run again");
		audit(inc, by, "incident.analyze", id, question ? question : "");
	}
	json_decref(o);
	return r;
}

int incidents_ask(struct incidents *inc, const char *question, double from, double to,
		  const struct incidents_actor *by, json_t **ret)
{
	struct store_anomaly_query aq = {.limit = EVIDENCE_SERIES_MAX};
	struct store_anomaly_list *al = NULL;
	const char *series[EVIDENCE_SERIES_MAX];
	struct evidence_request req = {.baseline_s = inc->o.baseline_s, .series = series};
	json_t *evidence = NULL, *reading = NULL, *llm, *answer;
	const char *status = "off";
	char said[96];
	double t = now_s(inc);
	int r;

	if (!question || !*question || !ret)
		return -EINVAL;
	if (to > 0) {
		req.from = from;
		req.to = to;
		snprintf(said, sizeof(said), "as asked");
	} else {
		question_window(question, strlen(question), t, &req.from, &req.to, said,
				sizeof(said));
	}
	aq.from = req.from;
	aq.to = req.to;
	if (!store_query_anomalies(inc->store, &aq, &al)) {
		for (size_t i = 0; i < al->n && req.nseries < EVIDENCE_SERIES_MAX; i++)
			series[req.nseries++] = al->items[i].series;
	}
	r = evidence_build(inc->store, &req, &evidence);
	if (r)
		goto out;
	reading = analyst_read(evidence);
	if (!reading) {
		r = -ENOMEM;
		goto out;
	}
	llm = llm_analysis(inc, evidence, reading, question, &status);
	if (llm && !strcmp(status, "ok")) {
		answer = json_pack(
		    "{s:O,s:s,s:O,s:O,s:O,s:O?}", "text", json_object_get(llm, "text"), "source",
		    "llm", "provider", json_object_get(llm, "provider"), "model",
		    json_object_get(llm, "model"), "cache_hit", json_object_get(llm, "cache_hit"),
		    "latency_s", json_object_get(llm, "latency_s"));
	} else {
		answer = json_pack("{s:O,s:s,s:s?,s:O?}", "text", json_object_get(reading, "text"),
				   "source", "builtin", "note",
				   llm ? "no LLM provider answered: the built-in analyst's "
					 "reading stands"
				       : NULL,
				   "failures", llm ? json_object_get(llm, "failures") : NULL);
	}
	json_decref(llm);
	*ret = json_pack("{s:s,s:{s:f,s:f,s:s},s:o,s:O,s:O}", "question", question, "window",
			 "from", req.from, "to", req.to, "said", said, "answer", answer, "reading",
			 reading, "evidence", evidence);
	if (!*ret)
		r = -ENOMEM;
	else
		audit(inc, by, "analyze", 0, question);
out:
	store_anomaly_list_free(al);
	json_decref(evidence);
	json_decref(reading);
	return r;
}

int incidents_get(struct incidents *inc, int64_t id, json_t **ret)
{
	json_t *o = NULL, *al;
	int r = store_incident_get(inc->store, id, &o);

	if (r)
		return r;
	al = inc->o.alerts ? alerts_incident_json(inc->o.alerts, id) : NULL;
	json_object_set_new(o, "alerts", al ? al : json_object());
	*ret = o;
	return 0;
}

json_t *incidents_status_json(struct incidents *inc)
{
	json_t *o;

	pthread_mutex_lock(&inc->lock);
	o = json_pack("{s:I,s:I,s:I,s:I}", "active", (json_int_t)inc->nactive, "opened",
		      (json_int_t)inc->opened_total, "resolved", (json_int_t)inc->resolved_total,
		      "llm_failed",
		      (json_int_t)__atomic_load_n(&inc->llm_failed_total, __ATOMIC_RELAXED));
	pthread_mutex_unlock(&inc->lock);
	return o;
}
