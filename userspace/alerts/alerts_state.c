// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * alerts_state.c - what alerts/ says about itself: the names of kinds,
 * severities, targets and delivery states, the options from the config,
 * the delivery state of an incident as JSON, the status object of
 * /api/v1/status and the kpulse_alert_* series. Reads the queue's state
 * under its lock (alerts_internal.h); sends nothing.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include "alerts/alerts_internal.h"

/* ------------------------------------------------------------ names */

const char *alert_kind_name(enum alert_kind k)
{
	static const char *const names[] = {"open", "escalate", "resolve"};

	return (unsigned)k < ALERT_KIND_COUNT ? names[k] : "unknown";
}

const char *alert_severity_name(enum alert_severity s)
{
	return (unsigned)s < ALERT_SEVERITY_COUNT ? config_severity_names[s] : "unknown";
}

const char *alert_target_name(enum alert_target t)
{
	static const char *const names[] = {"slack", "pagerduty", "webhook"};

	return (unsigned)t < ALERT_TARGET_COUNT ? names[t] : "unknown";
}

int alert_severity_parse(const char *text, enum alert_severity *ret)
{
	for (int i = 0; text && i < ALERT_SEVERITY_COUNT; i++) {
		if (!strcasecmp(text, config_severity_names[i])) {
			*ret = (enum alert_severity)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *alert_delivery_state_name(enum alert_delivery_state s)
{
	static const char *const names[] = {"none",	 "skipped", "pending",
					    "delivered", "failed",  "dropped"};

	return (unsigned)s <= ALERT_DELIVERY_DROPPED ? names[s] : "unknown";
}

/* ------------------------------------------------------------ options */

void alerts_options_default(struct alerts_options *o)
{
	memset(o, 0, sizeof(*o));
	for (int t = 0; t < ALERT_TARGET_COUNT; t++)
		o->min_severity[t] = ALERT_WARNING;
	o->timeout_s = 10;
	o->retries = 5;
	o->backoff_s = 1;
	o->backoff_max_s = 60;
	o->max_queued = 256;
	o->max_incidents = 1024;
	o->drain_s = 5;
}

void alerts_options_from_config(const struct kpulse_config *c, struct alerts_options *o)
{
	const int per_target[ALERT_TARGET_COUNT] = {c->alert_slack_min_severity,
						    c->alert_pagerduty_min_severity,
						    c->alert_webhook_min_severity};

	alerts_options_default(o);
	o->slack_url = c->alert_slack_url;
	o->pagerduty_key = c->alert_pagerduty_key;
	o->pagerduty_url = c->alert_pagerduty_url;
	o->webhook_url = c->alert_webhook_url;
	o->webhook_secret = c->alert_webhook_secret;
	for (int t = 0; t < ALERT_TARGET_COUNT; t++)
		/* 0 is "default": the common minimum */
		o->min_severity[t] = (enum alert_severity)(per_target[t] ? per_target[t] - 1
									 : c->alert_min_severity);
	o->timeout_s = c->alert_timeout_s;
	o->retries = c->alert_retries;
	o->max_queued = c->alert_queue;
}

/* ------------------------------------------------------------ state */

int alerts_incident_state(struct alerts *a, int64_t incident_id,
			  struct alert_delivery ret[ALERT_TARGET_COUNT])
{
	struct incident *inc;

	if (!a || !ret)
		return -EINVAL;
	pthread_mutex_lock(&a->lock);
	inc = alerts_find_incident(a, incident_id);
	if (inc)
		memcpy(ret, inc->d, sizeof(inc->d));
	pthread_mutex_unlock(&a->lock);
	return inc ? 0 : -ENOENT;
}

static json_t *ts_or_null(double ts)
{
	return ts > 0 ? json_real(ts) : json_null();
}

json_t *alerts_incident_json(struct alerts *a, int64_t incident_id)
{
	struct alert_delivery d[ALERT_TARGET_COUNT];
	json_t *root;

	if (alerts_incident_state(a, incident_id, d))
		return NULL;
	root = json_object();
	for (int t = 0; root && t < ALERT_TARGET_COUNT; t++) {
		json_t *o;

		if (!a->url[t])
			continue;
		o = json_pack("{s:s, s:s, s:s, s:i, s:I, s:o, s:o, s:s}", "state",
			      alert_delivery_state_name(d[t].state), "kind",
			      alert_kind_name(d[t].kind), "severity",
			      alert_severity_name(d[t].severity), "attempts", (int)d[t].attempts,
			      "http_status", (json_int_t)d[t].http_status, "last_attempt_ts",
			      ts_or_null(d[t].last_attempt_ts), "delivered_ts",
			      ts_or_null(d[t].delivered_ts), "error", d[t].error);
		if (!o || json_object_set_new(root, alert_target_name(t), o)) {
			json_decref(root);
			return NULL;
		}
	}
	return root;
}

json_t *alerts_status_json(struct alerts *a)
{
	json_t *root, *targets = json_object();
	int bad = !targets;

	if (!a) {
		json_decref(targets);
		return NULL;
	}
	pthread_mutex_lock(&a->lock);
	for (int t = 0; !bad && t < ALERT_TARGET_COUNT; t++) {
		json_t *o;

		if (!a->url[t])
			continue;
		o = json_pack("{s:s, s:s, s:I, s:I, s:I}", "origin", a->origin[t], "min_severity",
			      alert_severity_name(a->min_severity[t]), "delivered",
			      (json_int_t)a->stats[t].delivered, "failed",
			      (json_int_t)a->stats[t].failed, "attempts",
			      (json_int_t)a->stats[t].attempts);
		bad |= !o || json_object_set_new(targets, alert_target_name(t), o);
	}
	root = bad ? NULL
		   : json_pack("{s:o, s:I, s:I, s:I, s:I}", "targets", targets, "queued",
			       (json_int_t)a->queued_events, "accepted", (json_int_t)a->accepted,
			       "dropped", (json_int_t)a->dropped, "deduplicated",
			       (json_int_t)a->deduplicated);
	pthread_mutex_unlock(&a->lock);
	if (bad)
		json_decref(targets);
	return root;
}

static const struct {
	const char *name, *help;
} series_help[] = {
    {"kpulse_alert_deliveries_total",
     "Alert deliveries that ended, by target and result (delivered, or failed after its "
     "retries or refused)"},
    {"kpulse_alert_attempts_total", "HTTP requests sent to an alert target"},
    {"kpulse_alert_events_total",
     "Incident events notified, by result: accepted, dropped (queue full, or stopped before "
     "delivery), deduplicated (a repeat)"},
    {"kpulse_alert_queue_events", "Events waiting for delivery"},
};

int alerts_describe(struct registry *reg)
{
	int err = 0;

	for (size_t i = 0; i < sizeof(series_help) / sizeof(series_help[0]); i++)
		err |= registry_describe(reg, series_help[i].name, series_help[i].help);
	return err ? -ENOMEM : 0;
}

int alerts_fill_registry(struct alerts *a, struct registry *reg)
{
	struct target_stats st[ALERT_TARGET_COUNT];
	uint64_t ev[3], queued;
	bool on[ALERT_TARGET_COUNT];
	static const char *const results[] = {"accepted", "dropped", "deduplicated"};
	int err = 0;

	if (!a || !reg)
		return -EINVAL;
	pthread_mutex_lock(&a->lock);
	memcpy(st, a->stats, sizeof(st));
	ev[0] = a->accepted;
	ev[1] = a->dropped;
	ev[2] = a->deduplicated;
	queued = a->queued_events;
	for (int t = 0; t < ALERT_TARGET_COUNT; t++)
		on[t] = a->url[t] != NULL;
	pthread_mutex_unlock(&a->lock);
	for (int t = 0; t < ALERT_TARGET_COUNT; t++) {
		struct metric_label ok[2] = {{"result", "delivered"},
					     {"target", alert_target_name(t)}};
		struct metric_label bad[2] = {{"result", "failed"},
					      {"target", alert_target_name(t)}};
		struct metric_label l = {"target", alert_target_name(t)};

		if (!on[t])
			continue;
		err |= registry_set_counter(reg, "kpulse_alert_deliveries_total", ok, 2,
					    (double)st[t].delivered);
		err |= registry_set_counter(reg, "kpulse_alert_deliveries_total", bad, 2,
					    (double)st[t].failed);
		err |= registry_set_counter(reg, "kpulse_alert_attempts_total", &l, 1,
					    (double)st[t].attempts);
	}
	for (int i = 0; i < 3; i++) {
		struct metric_label l = {"result", results[i]};

		err |= registry_set_counter(reg, "kpulse_alert_events_total", &l, 1, (double)ev[i]);
	}
	err |= registry_set_gauge(reg, "kpulse_alert_queue_events", NULL, 0, (double)queued);
	return err ? -ENOMEM : 0;
}
