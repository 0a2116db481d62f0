/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * alerts_internal.h - what the two files of alerts/ share, and nothing
 * outside userspace/alerts/ includes (but its tests):
 *
 *   alerts.c         the queue, the delivery thread, retries
 *   alerts_state.c   names, options, the delivery state per incident and
 *                    target as JSON, status and metrics
 *   alerts_format.c  the bodies each target takes (Slack, PagerDuty, the
 *                    generic webhook), their signature, and the words of a
 *                    target's answer; no I/O, no state
 */
#ifndef KPULSE_ALERTS_INTERNAL_H
#define KPULSE_ALERTS_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/http.h"

#include "alerts/alerts.h"

/* An accepted event: checked, cut to size, valid UTF-8 without control
 * characters (but newlines in the summary). */
struct alert_msg {
	unsigned refs; /* jobs pointing here; under the alerts' lock */
	enum alert_kind kind;
	int64_t incident_id;
	enum alert_severity severity;
	char title[ALERT_TITLE_MAX];
	char summary[ALERT_SUMMARY_MAX];
	char link[ALERT_LINK_MAX]; /* "" none */
	char dedup_key[ALERT_DEDUP_MAX];
	double ts; /* unix seconds */
};

/* Slack's limit on the text of a section block, in characters. */
#define ALERT_SLACK_SECTION_MAX 3000
/* PagerDuty's limit on payload.summary, in characters. */
#define ALERT_PAGERDUTY_SUMMARY_MAX 1024

/* The JSON body for each target (the caller frees it); NULL on ENOMEM. */
char *alerts_format_slack(const struct alert_msg *m, const char *host);
char *alerts_format_pagerduty(const struct alert_msg *m, const char *routing_key,
			      const char *source);
char *alerts_format_webhook(const struct alert_msg *m, const char *host);

/* Slack's escaping of &, < and > (and nothing else) into dst, cut at a
 * character boundary and never inside an entity. Returns the length. */
size_t alerts_slack_escape(char *dst, size_t dstsize, const char *src);

/* "sha256=" and the hex HMAC-SHA256 of body under secret, into out.
 * Returns 0 or -EIO. */
#define ALERT_SIGNATURE_MAX 80
int alerts_sign(const char *secret, const char *body, size_t len, char out[ALERT_SIGNATURE_MAX]);

/* What a target said in a non-2xx answer, as one clean line: Slack's
 * plain-text error, PagerDuty's message and its first error, a JSON
 * "error" or "message", or the first line of text. "" when nothing. */
void alerts_answer_words(const char *body, size_t len, char *why, size_t whylen);

/* "2015-07-17T08:42:58.315Z" (UTC, milliseconds) into buf. */
void alerts_iso8601(double ts, char buf[32]);

/* ------------------------------------------------------------ the queue */

struct job {
	struct job *next;
	struct alert_msg *msg;
	enum alert_target target;
	unsigned attempts;
	double due; /* monotonic */
	bool in_flight;
};

struct incident {
	int64_t id;
	bool opened[ALERT_TARGET_COUNT]; /* alerted there, so a resolve goes there */
	bool has_last;
	enum alert_kind last_kind;
	enum alert_severity last_severity;
	unsigned pending; /* jobs in the list */
	uint64_t touched; /* notify sequence: the least recent goes first */
	struct alert_delivery d[ALERT_TARGET_COUNT];
};

struct target_stats {
	uint64_t delivered, failed, attempts;
};

struct alerts {
	char *url[ALERT_TARGET_COUNT]; /* NULL: target off */
	char *pagerduty_key;
	char *webhook_secret;
	char origin[ALERT_TARGET_COUNT][HTTP_ORIGIN_MAX];
	char host[256];
	enum alert_severity min_severity[ALERT_TARGET_COUNT];
	double timeout_s, backoff_s, backoff_max_s, drain_s;
	unsigned retries;
	size_t max_queued, max_incidents;
	const char *secrets[5];
	size_t nsecrets;

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	atomic_bool cancel; /* ends the request in flight: the drain is over */
	/* --- under lock --- */
	bool stop, exited;
	double drain_until;
	struct job *head;
	size_t queued_events; /* messages with jobs in the list */
	bool busy;	      /* a job is in flight */
	struct incident *inc;
	size_t ninc;
	uint64_t seq;
	struct target_stats stats[ALERT_TARGET_COUNT];
	uint64_t accepted, dropped, deduplicated;
};

/* The incident's entry if it has one; under lock. */
struct incident *alerts_find_incident(struct alerts *a, int64_t id);

#endif /* KPULSE_ALERTS_INTERNAL_H */
