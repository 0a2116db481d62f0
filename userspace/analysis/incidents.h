/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * incidents.h - the incidents sink: anomalies (from the store, as the
 * models sink writes them), time-to-threshold predictions and OOM kills
 * (from the round's events) grouped into incidents, each with its
 * evidence (evidence.h), the built-in analyst's reading (analyst.h), an
 * LLM's explanation when providers are configured (llm/), and alerts
 * (alerts/).
 *
 * Analysis at open: once the incident is settle_s old (so the store holds
 * samples of its window), evidence over [opened, now] against the
 * baseline before it, the built-in reading, then the LLM providers.
 *
 * Grouping: a new part joins the active incident that shares its
 * subsystem (cpu, memory, io, filesystem, network, processes), else one
 * whose span (opened .. last activity, widened by INCIDENTS_JOIN_GAP_S)
 * overlaps it in time; otherwise it opens an incident. Anomalies below
 * min_severity open nothing (they still join). Severity is the highest of
 * the parts; a rise is an escalation (timeline, alert).
 *
 * Lifecycle: open -> acknowledged (an operator) -> resolved (an operator,
 * or by itself once no part has been active for quiet_s). The parts of a
 * resolved incident retire: an anomaly still open or a prediction still
 * made does not open it again (a new anomaly or OOM kill does). Incidents
 * a previous daemon left active are resolved at start. Every change goes
 * to the store at once: the API reads incidents from the store only.
 *
 * Threads: the sink callbacks run on the sink's thread; the functions for
 * the API may be called from any thread. An LLM ask runs on the thread
 * that wants it (the sink's thread at open, an HTTP thread on demand) and
 * holds no lock meanwhile; llm_router_cancel() at stop makes it quick.
 */
#ifndef KPULSE_ANALYSIS_INCIDENTS_H
#define KPULSE_ANALYSIS_INCIDENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "alerts/alerts.h"
#include "daemon/sink.h"
#include "llm/llm.h"
#include "store/store.h"

/* Slack of the time overlap between a part and an incident. */
#define INCIDENTS_JOIN_GAP_S 60.0
/* Active incidents at once, and parts of one incident. */
#define INCIDENTS_ACTIVE_MAX 64
#define INCIDENTS_PARTS_MAX  64
/* Parts of resolved incidents remembered, so that they do not reopen one. */
#define INCIDENTS_RETIRED_MAX 1024
/* A comment's longest text (bytes of UTF-8). */
#define INCIDENTS_COMMENT_MAX 2000

struct incidents_options {
	double quiet_s;	   /* resolve after this long with no active part; 600 */
	double baseline_s; /* the evidence's baseline before an incident; 900 */
	int min_severity;  /* 0 info, 1 warning, 2 critical: what opens one; 1 */
	double poll_s;	   /* how often anomalies are read from the store; 1 */
	double settle_s;   /* the analysis at open waits until the incident is this old; 10 */
	/* Alert-worthy predictions now (a new array the caller frees), or
	 * NULL: e.g. threshold_tracker_predictions. May be NULL. */
	json_t *(*predictions)(void *ctx);
	void *predictions_ctx;
	struct llm_router *llm;	    /* borrowed; NULL: the built-in analyst alone */
	struct alerts *alerts;	    /* borrowed; NULL: no alerts */
	double (*clock)(void *ctx); /* wall clock; NULL: real */
	void *clock_ctx;
};

void incidents_options_default(struct incidents_options *o);

struct incidents;

/* Checks the options and resolves the incidents a previous daemon left
 * active. Returns 0 and *ret, or -EINVAL / -ENOMEM / a store error with
 * err set. */
int incidents_new(const struct incidents_options *o, struct store *s, struct incidents **ret,
		  char *err, size_t errlen);
/* Accepts NULL; returns NULL. After the sink stopped. */
struct incidents *incidents_free(struct incidents *inc);

/* ctx is the struct incidents. */
extern const struct sink_ops incidents_sink_ops;

/* Who acts (for the timeline and the audit log). */
struct incidents_actor {
	const char *who;  /* user name, "token:ID", or "kpulse" */
	const char *role; /* "viewer", "operator", "admin" */
};

/*
 * Operator actions. Each returns 0, -ENOENT (no such incident), -EALREADY
 * (acknowledged already, or resolved: nothing changes), -EINVAL (a comment
 * empty, too long, or not UTF-8), -ENOSPC (the timeline is full) or a
 * store error. Each change is written to the audit log.
 */
int incidents_ack(struct incidents *inc, int64_t id, const struct incidents_actor *by);
int incidents_resolve(struct incidents *inc, int64_t id, const struct incidents_actor *by);
int incidents_comment(struct incidents *inc, int64_t id, const struct incidents_actor *by,
		      const char *text);

/*
 * Runs the analysis of incident id again: fresh evidence, the built-in
 * reading, and the LLM providers (question may be NULL). Returns 0 and
 * *ret {"evidence", "analyses": [new ones]}, or -ENOENT, -EINVAL or a
 * store error.
 */
int incidents_analyze(struct incidents *inc, int64_t id, const struct incidents_actor *by,
		      const char *question, json_t **ret);

/*
 * A free-form question: evidence of the window it names (question.h) or
 * [from, to] when to > 0, the built-in reading and the LLM route. Returns
 * 0 and *ret {"question", "window": {"from", "to", "said"}, "answer":
 * {"text", "source", "provider", "model", "cache_hit", "note", ...},
 * "reading", "evidence"}, or -EINVAL / -ENOMEM.
 */
int incidents_ask(struct incidents *inc, const char *question, double from, double to,
		  const struct incidents_actor *by, json_t **ret);

/* The incident as stored, with its alert delivery state ("alerts").
 * Returns 0 and *ret, -ENOENT or a store error. */
int incidents_get(struct incidents *inc, int64_t id, json_t **ret);

/* {"active", "opened", "resolved", "llm_failed"}: for /api/v1/status. */
json_t *incidents_status_json(struct incidents *inc);

/* Help texts of the series below, once at start. Returns 0 or -ENOMEM. */
int incidents_describe(struct registry *reg);
/* Adds kpulse_incidents_active, kpulse_incidents_opened_total,
 * kpulse_incidents_resolved_total and kpulse_incidents_llm_failed_total to
 * the round reg has open. Thread-safe. Returns 0 or -ENOMEM. */
int incidents_fill_registry(struct incidents *inc, struct registry *reg);

#endif /* KPULSE_ANALYSIS_INCIDENTS_H */
