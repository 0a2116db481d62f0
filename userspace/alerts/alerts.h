/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * alerts.h - delivery of incident alerts to Slack (an incoming webhook),
 * PagerDuty (Events API v2) and a generic JSON webhook.
 *
 * The incident side calls alerts_notify() when an incident opens,
 * escalates or resolves. The call checks and copies the event into a
 * bounded queue and returns at once: it never waits for a network, so
 * nothing that notifies (the incident thread, the collection round) is
 * ever slowed by a target. One delivery thread sends each event to every
 * target it is for:
 *
 *   - open and escalate go to a target when the incident's severity is at
 *     least the target's minimum (per target, or the common one); resolve
 *     goes to the targets the incident was alerted at, and only those;
 *   - a repeat of the incident's last event (same kind and severity) is
 *     not sent again (-EALREADY, counted);
 *   - what may pass (no connection, a reset, 408, 429, 5xx) is tried again
 *     after a backoff (backoff_s doubling up to backoff_max_s, or the
 *     target's Retry-After when longer), at most retries more times; what
 *     will not (another 4xx) fails at once;
 *   - the events of one incident reach each target in the order they were
 *     notified; a target that is slow or down holds back no other target
 *     and no other incident (only one request is in flight at a time, for
 *     at most timeout_s).
 *
 * Formats (each file cites the documentation it follows, alerts.c):
 *   Slack      {"text", "blocks"} with mrkdwn text, &, < and > escaped;
 *   PagerDuty  {"routing_key", "event_action": trigger | resolve,
 *              "dedup_key", "payload": {summary, source, severity,
 *              timestamp, component, class, custom_details}, "links"}; an
 *              escalation is another trigger with the same dedup key;
 *   webhook    {"version": 1, "source": "kpulse", "host", "kind",
 *              "incident_id", "severity", "title", "summary", "link",
 *              "dedup_key", "timestamp"}, signed with HMAC-SHA256 in
 *              X-Kpulse-Signature ("sha256=" hex) when a secret is set.
 *
 * Delivery state is kept per incident and per target (alerts_incident_*)
 * for the incident record and the API, for the last max_incidents
 * incidents. Secrets (the Slack and webhook URLs, the routing key, the
 * webhook secret) never appear in a state, a status or an error: URLs are
 * named by their origin only.
 *
 * Threads: every function may be called from any thread; alerts_free()
 * once, after the last notify. Nothing here logs.
 */
#ifndef KPULSE_ALERTS_H
#define KPULSE_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "registry/registry.h"
#include "util/config.h"

/* Longest texts kept (bytes, cut at a character boundary). */
#define ALERT_TITLE_MAX	  256
#define ALERT_SUMMARY_MAX 2048
#define ALERT_LINK_MAX	  1024
/* PagerDuty: a dedup_key is at most 255 characters. */
#define ALERT_DEDUP_MAX 256
#define ALERT_ERROR_MAX 200

enum alert_kind {
	ALERT_OPEN,
	ALERT_ESCALATE, /* the severity changed while open */
	ALERT_RESOLVE,
	ALERT_KIND_COUNT,
};

/* Incident severities, lowest first (as config_severity_names). */
enum alert_severity {
	ALERT_INFO,
	ALERT_WARNING,
	ALERT_CRITICAL,
	ALERT_SEVERITY_COUNT,
};

enum alert_target {
	ALERT_TARGET_SLACK,
	ALERT_TARGET_PAGERDUTY,
	ALERT_TARGET_WEBHOOK,
	ALERT_TARGET_COUNT,
};

const char *alert_kind_name(enum alert_kind k);		/* "open", "escalate", "resolve" */
const char *alert_severity_name(enum alert_severity s); /* "info", "warning", "critical" */
const char *alert_target_name(enum alert_target t);	/* "slack", "pagerduty", "webhook" */
/* "info", "warning", "critical" (any case): 0 and *ret, or -EINVAL. */
int alert_severity_parse(const char *text, enum alert_severity *ret);

struct alert_event {
	enum alert_kind kind;
	int64_t incident_id; /* >= 0 */
	enum alert_severity severity;
	const char *title;     /* required; cut to ALERT_TITLE_MAX */
	const char *summary;   /* may be NULL; cut to ALERT_SUMMARY_MAX */
	const char *link;      /* the incident in the UI/API: an http(s) URL, or NULL */
	const char *dedup_key; /* per incident; NULL: "kpulse/<host>/incident/<id>" */
	double ts;	       /* unix seconds of the change; 0: now */
};

struct alerts_options {
	/* Targets: NULL or "" leaves one out. Borrowed, copied by alerts_new. */
	const char *slack_url;	   /* incoming-webhook URL */
	const char *pagerduty_key; /* routing (integration) key */
	const char *pagerduty_url; /* NULL: https://events.pagerduty.com/v2/enqueue */
	const char *webhook_url;
	const char *webhook_secret;			      /* NULL or "": unsigned */
	enum alert_severity min_severity[ALERT_TARGET_COUNT]; /* warning each */
	double timeout_s;				      /* one attempt; 10 */
	unsigned retries;				      /* further attempts; 5 */
	double backoff_s;				      /* first wait, doubling; 1 */
	double backoff_max_s;				      /* 60 */
	size_t max_queued;				      /* events waiting for delivery; 256 */
	size_t max_incidents; /* incidents whose delivery state is kept; 1024 */
	double drain_s;	      /* at free, how long deliveries may still run; 5 */
	const char *source;   /* who alerts (PagerDuty's source); NULL: the host name */
};

void alerts_options_default(struct alerts_options *o);

/* The options of the KPULSE_ALERT_* settings; the strings are borrowed
 * from c, which must outlive the call to alerts_new (not the alerts). */
void alerts_options_from_config(const struct kpulse_config *c, struct alerts_options *o);

struct alerts;

/*
 * Checks the options and starts the delivery thread (also with no target:
 * then every event is skipped). A target URL must be http(s), and https
 * unless it points at this machine (the URLs and the routing key are
 * secrets). Returns 0 and *ret, or -EINVAL / -ENOMEM / a pthread error
 * with one line in err naming the KPULSE_ALERT_* setting, never its value.
 */
int alerts_new(const struct alerts_options *o, struct alerts **ret, char *err, size_t errlen);

/* Lets queued deliveries run for up to drain_s (each attempt shortened to
 * fit), gives up the rest (counted as dropped), stops the thread, wipes
 * the secrets and frees. Accepts NULL; returns NULL. */
struct alerts *alerts_free(struct alerts *a);

/*
 * Queues ev for every target it is for (see the top of this file) and
 * returns without waiting. Returns 0 (also when no target is for it), or
 * -EALREADY (a repeat of the incident's last event: nothing queued),
 * -EINVAL (no title, a kind or severity out of range, a negative id, a
 * link that is not an http(s) URL or holds spaces or < > |, a dedup key
 * longer than 255 bytes or not printable ASCII), -ENOBUFS (the queue is
 * full: the event is dropped and counted, its targets marked dropped),
 * -ENOMEM.
 */
int alerts_notify(struct alerts *a, const struct alert_event *ev);

/* Waits until nothing is queued or in flight, for up to timeout_s.
 * Returns 0 or -ETIMEDOUT. For tests and tools. */
int alerts_wait_idle(struct alerts *a, double timeout_s);

/* ------------------------------------------------------------ state */

enum alert_delivery_state {
	ALERT_DELIVERY_NONE,	  /* nothing was ever for this target */
	ALERT_DELIVERY_SKIPPED,	  /* below the target's minimum, or nothing to resolve */
	ALERT_DELIVERY_PENDING,	  /* queued, or waiting to try again */
	ALERT_DELIVERY_DELIVERED, /* the target took it (2xx) */
	ALERT_DELIVERY_FAILED,	  /* refused, or out of tries */
	ALERT_DELIVERY_DROPPED,	  /* the queue was full, or the daemon stopped */
};

/* "none", "skipped", "pending", "delivered", "failed", "dropped" */
const char *alert_delivery_state_name(enum alert_delivery_state s);

/* Where the last event of an incident stands at one target. */
struct alert_delivery {
	enum alert_delivery_state state;
	enum alert_kind kind; /* the event this state is about */
	enum alert_severity severity;
	unsigned attempts;	     /* of that event */
	long http_status;	     /* of the last attempt; 0: no answer */
	double last_attempt_ts;	     /* unix seconds; 0: none */
	double delivered_ts;	     /* 0: not delivered */
	char error[ALERT_ERROR_MAX]; /* why it failed or was skipped; "" */
};

/* The state of incident id at each target (ALERT_DELIVERY_NONE for
 * targets not configured). Returns 0, or -ENOENT when the incident is not
 * (or no longer) tracked. */
int alerts_incident_state(struct alerts *a, int64_t incident_id,
			  struct alert_delivery ret[ALERT_TARGET_COUNT]);

/* The same as {"slack": {"state", "kind", "severity", "attempts",
 * "http_status", "last_attempt_ts", "delivered_ts", "error"}, ...} for the
 * configured targets; NULL when not tracked or on ENOMEM. */
json_t *alerts_incident_json(struct alerts *a, int64_t incident_id);

/* For /api/v1/status: {"targets": {"slack": {"origin", "min_severity",
 * "delivered", "failed", "attempts"}, ...}, "queued", "accepted",
 * "dropped", "deduplicated"}. NULL on ENOMEM. */
json_t *alerts_status_json(struct alerts *a);

/* Help texts of the series below, once. Returns 0 or -ENOMEM. */
int alerts_describe(struct registry *reg);

/* Adds kpulse_alert_deliveries_total{target,result=delivered|failed},
 * kpulse_alert_attempts_total{target}, kpulse_alert_events_total{result=
 * accepted|dropped|deduplicated} and kpulse_alert_queue_events to the
 * round reg has open. Returns 0 or -ENOMEM. */
int alerts_fill_registry(struct alerts *a, struct registry *reg);

#endif /* KPULSE_ALERTS_H */
