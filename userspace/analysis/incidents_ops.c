// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * incidents_ops.c - the analysis of an incident (evidence, the built-in
 * reading, the LLM route) and what the API asks of the incidents module:
 * operator actions, free-form questions, reads (see incidents.h).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/analyst.h"
#include "analysis/evidence.h"
#include "analysis/incidents_internal.h"
#include "analysis/question.h"
#include "util/utf8.h"

/* ------------------------------------------------------------ analysis */

/* The anomalous series of an incident's parts, for the evidence. */
size_t inc_part_series(const struct incident *it, const char **out, size_t cap)
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

/* The LLM's part of an analysis: asked, stored, and its outcome on the
 * incident when it is still active. Appended to analyses (may be NULL). */
static void llm_part(struct incidents *inc, int64_t id, json_t *evidence, json_t *reading,
		     const char *question, json_t *analyses)
{
	const char *status = "off";
	struct incident *it;
	json_t *llm;

	llm = llm_analysis(inc, evidence, reading, question, &status);
	if (!llm)
		return;
	if (question)
		json_object_set_new(llm, "question", json_string(question));
	if (analyses)
		json_array_append(analyses, llm);
	/* the incident's status first: whoever sees the analysis sees it */
	pthread_mutex_lock(&inc->lock);
	it = inc_find_active(inc, id);
	if (it) {
		snprintf(it->llm_status, sizeof(it->llm_status), "%s", status);
		it->updated = inc_now(inc);
		inc_save(inc, it);
	}
	pthread_mutex_unlock(&inc->lock);
	store_incident_analysis_add(inc->store, id, inc_now(inc), llm);
	inc_timeline(inc, id, inc_now(inc), "analysis", "kpulse",
		     !strcmp(status, "ok")
			 ? "an LLM explained the incident"
			 : "every LLM provider failed: the built-in reading stands");
	json_decref(llm);
}

struct llm_job {
	struct incidents *inc;
	int64_t id;
	json_t *evidence, *reading; /* references */
};

static void *llm_worker(void *arg)
{
	struct llm_job *job = arg;
	struct incidents *inc = job->inc;

	llm_part(inc, job->id, job->evidence, job->reading, NULL, NULL);
	json_decref(job->evidence);
	json_decref(job->reading);
	free(job);
	pthread_mutex_lock(&inc->lock);
	inc->llm_running--;
	pthread_cond_broadcast(&inc->llm_done);
	pthread_mutex_unlock(&inc->lock);
	return NULL;
}

/* Asks the LLM on a thread of its own (at most INCIDENTS_LLM_WORKERS at
 * once), so that the sink goes on with its rounds meanwhile. false when
 * it could not: the caller asks itself. */
static bool llm_part_async(struct incidents *inc, int64_t id, json_t *evidence, json_t *reading)
{
	struct llm_job *job;
	pthread_attr_t attr;
	pthread_t thread;
	bool started;

	pthread_mutex_lock(&inc->lock);
	if (inc->llm_running >= INCIDENTS_LLM_WORKERS) {
		pthread_mutex_unlock(&inc->lock);
		return false;
	}
	inc->llm_running++;
	pthread_mutex_unlock(&inc->lock);
	job = calloc(1, sizeof(*job));
	started = job && !pthread_attr_init(&attr);
	if (started) {
		*job = (struct llm_job){inc, id, json_incref(evidence), json_incref(reading)};
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		started = !pthread_create(&thread, &attr, llm_worker, job);
		pthread_attr_destroy(&attr);
		if (!started) {
			json_decref(job->evidence);
			json_decref(job->reading);
		}
	}
	if (!started) {
		free(job);
		pthread_mutex_lock(&inc->lock);
		inc->llm_running--;
		pthread_cond_broadcast(&inc->llm_done);
		pthread_mutex_unlock(&inc->lock);
	}
	return started;
}

/*
 * Builds the evidence and the built-in reading of incident id (no lock
 * held), stores them, keeps them on the incident when it is still active,
 * then asks the LLM providers: on a worker thread with async_llm (the
 * sink), else here (an operator waiting for the answer). *ret (may be
 * NULL) gets {"evidence", "analyses"}.
 */
int inc_analyze(struct incidents *inc, int64_t id, double from, double to,
		const char *const *series, size_t nseries, json_t *signals, const char *question,
		bool async_llm, json_t **ret)
{
	struct evidence_request req = {.from = from,
				       .to = to > from + 1 ? to : from + 1,
				       .baseline_s = inc->o.baseline_s,
				       .series = series,
				       .nseries = nseries,
				       .signals = signals,
				       .procs = inc->procs};
	bool llm = inc->o.llm && llm_router_provider_count(inc->o.llm);
	json_t *evidence = NULL, *reading = NULL, *analyses = json_array();
	struct incident *it;
	double t = inc_now(inc);
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
	pthread_mutex_lock(&inc->lock);
	it = inc_find_active(inc, id);
	if (it) {
		const char *text = json_string_value(json_object_get(reading, "text"));
		size_t n = text ? utf8_cut(text, strlen(text), sizeof(it->summary) - 1) : 0;

		json_decref(it->evidence);
		json_decref(it->reading);
		it->evidence = json_incref(evidence);
		it->reading = json_incref(reading);
		snprintf(it->llm_status, sizeof(it->llm_status), "%s", llm ? "pending" : "off");
		/* cut at a character boundary: the store keeps valid UTF-8 */
		memcpy(it->summary, text ? text : "", n);
		it->summary[n] = '\0';
		it->updated = inc_now(inc);
		inc_save(inc, it);
	}
	pthread_mutex_unlock(&inc->lock);
	if (llm && !(async_llm && llm_part_async(inc, id, evidence, reading)))
		llm_part(inc, id, evidence, reading, question, analyses);
	if (ret) {
		*ret = json_pack("{s:O,s:O}", "evidence", evidence, "analyses", analyses);
		if (!*ret)
			r = -ENOMEM;
	}
out:
	json_decref(evidence);
	json_decref(reading);
	json_decref(analyses);
	return r;
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
	double t = inc_now(inc);
	int r;

	pthread_mutex_lock(&inc->lock);
	it = inc_find_active(inc, id);
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
	r = inc_save(inc, it);
	pthread_mutex_unlock(&inc->lock);
	if (r)
		return r;
	inc_timeline(inc, id, t, "acknowledged", by->who, "acknowledged");
	inc_audit(inc, by, "incident.ack", id, "");
	return 0;
}

int incidents_resolve(struct incidents *inc, int64_t id, const struct incidents_actor *by)
{
	struct incident *it;
	double t = inc_now(inc);
	int r;

	pthread_mutex_lock(&inc->lock);
	it = inc_find_active(inc, id);
	if (!it) {
		pthread_mutex_unlock(&inc->lock);
		return not_active(inc, id);
	}
	it->state = ST_RESOLVED;
	it->resolved = it->updated = t;
	snprintf(it->resolved_by, sizeof(it->resolved_by), "%s", by->who);
	r = inc_save(inc, it);
	if (!r) {
		inc_alert(inc, it, ALERT_RESOLVE);
		__atomic_add_fetch(&inc->resolved_total, 1, __ATOMIC_RELAXED);
		inc_drop_active(inc, it);
	}
	pthread_mutex_unlock(&inc->lock);
	if (r)
		return r;
	inc_timeline(inc, id, t, "resolved", by->who, "resolved by an operator");
	inc_audit(inc, by, "incident.resolve", id, "");
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
	r = store_incident_timeline_add(inc->store, id, inc_now(inc), "comment", by->who, text);
	if (!r)
		inc_audit(inc, by, "incident.comment", id, text);
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
		 : inc_now(inc);
	parts = json_object_get(o, "parts");
	json_array_foreach (parts, i, p) {
		const char *s = json_string_value(json_object_get(p, "series"));

		if (n < EVIDENCE_SERIES_MAX && s &&
		    !strcmp(json_string_value(json_object_get(p, "kind")) ?: "", "anomaly"))
			series[n++] = s;
	}
	r = inc_analyze(inc, id, fmin(from, to - 1), to, series, n, parts, question, false, ret);
	if (!r) {
		inc_timeline(inc, id, inc_now(inc), "analysis", by->who, "analysis run again");
		inc_audit(inc, by, "incident.analyze", id, question ? question : "");
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
	struct evidence_request req = {
	    .baseline_s = inc->o.baseline_s, .series = series, .procs = inc->procs};
	json_t *evidence = NULL, *reading = NULL, *llm, *answer;
	const char *status = "off";
	char said[96];
	double t = inc_now(inc);
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
		inc_audit(inc, by, "analyze", 0, question);
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

	o = json_pack("{s:I,s:I,s:I,s:I}", "active",
		      (json_int_t)__atomic_load_n(&inc->nactive, __ATOMIC_RELAXED), "opened",
		      (json_int_t)__atomic_load_n(&inc->opened_total, __ATOMIC_RELAXED), "resolved",
		      (json_int_t)__atomic_load_n(&inc->resolved_total, __ATOMIC_RELAXED),
		      "llm_failed",
		      (json_int_t)__atomic_load_n(&inc->llm_failed_total, __ATOMIC_RELAXED));
	return o;
}

int incidents_describe(struct registry *reg)
{
	return registry_describe(reg, "kpulse_incidents_active",
				 "Incidents open or acknowledged now") |
	       registry_describe(reg, "kpulse_incidents_opened_total",
				 "Incidents opened since start") |
	       registry_describe(reg, "kpulse_incidents_resolved_total",
				 "Incidents resolved since start") |
	       registry_describe(reg, "kpulse_incidents_llm_failed_total",
				 "Analyses in which no LLM provider answered");
}

int incidents_fill_registry(struct incidents *inc, struct registry *reg)
{
	uint64_t opened, resolved;
	size_t active;
	int err;

	/* no lock: the daemon's loop calls this, and the sink's thread may
	 * hold the lock through store calls */
	active = __atomic_load_n(&inc->nactive, __ATOMIC_RELAXED);
	opened = __atomic_load_n(&inc->opened_total, __ATOMIC_RELAXED);
	resolved = __atomic_load_n(&inc->resolved_total, __ATOMIC_RELAXED);
	err = registry_set_gauge(reg, "kpulse_incidents_active", NULL, 0, (double)active);
	err |= registry_set_counter(reg, "kpulse_incidents_opened_total", NULL, 0, (double)opened);
	err |=
	    registry_set_counter(reg, "kpulse_incidents_resolved_total", NULL, 0, (double)resolved);
	err |=
	    registry_set_counter(reg, "kpulse_incidents_llm_failed_total", NULL, 0,
				 (double)__atomic_load_n(&inc->llm_failed_total, __ATOMIC_RELAXED));
	return err ? -ENOMEM : 0;
}
