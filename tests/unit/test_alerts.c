// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for alerts/alerts.c against tests/fakes/webhook_receiver.py on
 * 127.0.0.1, which checks each payload as Slack, PagerDuty and a signed
 * webhook would: delivery on open, escalation and resolve, the severity
 * filter per target, retries with backoff and Retry-After, permanent
 * failures, order per incident, a notify that never blocks, a bounded
 * queue, and no secret in any state. */
#include <errno.h>
#include <pthread.h>
#include <string.h>

#include "alerts/alerts.h"
#include "fake_proc.h"
#include "test.h"
#include "util/clock.h"
#include "util/redact.h"

#define PD_KEY	     "R0UT1NGKEYabcdef0123456789abcdef"
#define HOOK_SECRET  "whsec-TESTSECRET-0123456789"
#define SLACK_PATH   "/slack/services/T0000/B0000/XXXXSLACKTOKEN"
#define WEBHOOK_PATH "/webhook/kpulse?token=HOOKTOKEN123"

static const char *const receiver_args[] = {"--webhook-secret", HOOK_SECRET, NULL};

struct rig {
	struct fake f;
	char slack[256], pd[256], hook[256];
	struct alerts_options o;
	struct alerts *a;
};

/* The receiver and options for every target, quick retries. */
static int rig_start(struct rig *g)
{
	int r;

	memset(g, 0, sizeof(*g));
	r = fake_start(&g->f, "webhook_receiver.py", receiver_args);
	if (r)
		return r;
	fake_url(&g->f, SLACK_PATH, g->slack, sizeof(g->slack));
	fake_url(&g->f, "/pagerduty/v2/enqueue", g->pd, sizeof(g->pd));
	fake_url(&g->f, WEBHOOK_PATH, g->hook, sizeof(g->hook));
	alerts_options_default(&g->o);
	g->o.slack_url = g->slack;
	g->o.pagerduty_key = PD_KEY;
	g->o.pagerduty_url = g->pd;
	g->o.webhook_url = g->hook;
	g->o.webhook_secret = HOOK_SECRET;
	for (int t = 0; t < ALERT_TARGET_COUNT; t++)
		g->o.min_severity[t] = ALERT_INFO;
	g->o.timeout_s = 3;
	g->o.backoff_s = 0.1;
	g->o.backoff_max_s = 1;
	g->o.source = "host1";
	return 0;
}

static int rig_alerts(struct rig *g)
{
	char err[256];
	int r = alerts_new(&g->o, &g->a, err, sizeof(err));

	if (r)
		fprintf(stderr, "  alerts_new: %s\n", err);
	return r;
}

static void rig_stop(struct rig *g)
{
	g->a = alerts_free(g->a);
	fake_stop(&g->f);
}

static struct alert_event event(enum alert_kind kind, int64_t id, enum alert_severity sev)
{
	return (struct alert_event){.kind = kind,
				    .incident_id = id,
				    .severity = sev,
				    .title = "Run-queue latency p99 40x on cpu3",
				    .summary = "kworker/3:1 saturates cpu3",
				    .link = "https://kpulse.example/incidents/7"};
}

/* The received requests of target ("slack", "pagerduty", "webhook"), in
 * order; the caller decrefs. */
static json_t *received(const struct rig *g, const char *target)
{
	json_t *all = fake_received(&g->f), *out = json_array(), *r;
	size_t i;

	json_array_foreach (all, i, r) {
		if (!strcmp(json_string_value(json_object_get(r, "target")), target))
			json_array_append(out, r);
	}
	json_decref(all);
	return out;
}

static const char *body_str(json_t *req, const char *key)
{
	return json_string_value(json_object_get(json_object_get(req, "body"), key));
}

/* ------------------------------------------------------------ delivery */

TEST(an_open_reaches_every_target_in_its_format)
{
	struct alert_delivery d[ALERT_TARGET_COUNT];
	struct alert_event ev = event(ALERT_OPEN, 7, ALERT_CRITICAL);
	struct rig g;
	json_t *slack, *pd, *hook, *p;

	CHECK_EQ_INT(rig_start(&g), 0);
	CHECK_EQ_INT(rig_alerts(&g), 0);
	CHECK_EQ_INT(alerts_notify(g.a, &ev), 0);
	CHECK_EQ_INT(alerts_wait_idle(g.a, 20), 0);
	CHECK_EQ_INT(alerts_incident_state(g.a, 7, d), 0);
	for (int t = 0; t < ALERT_TARGET_COUNT; t++) {
		if (d[t].state != ALERT_DELIVERY_DELIVERED)
			fprintf(stderr, "  %s: %s %s\n", alert_target_name(t),
				alert_delivery_state_name(d[t].state), d[t].error);
		CHECK_EQ_INT(d[t].state, ALERT_DELIVERY_DELIVERED);
		CHECK_EQ_INT(d[t].attempts, 1);
		CHECK(d[t].delivered_ts > 0);
		CHECK_STR(d[t].error, "");
	}
	CHECK_EQ_INT(d[ALERT_TARGET_SLACK].http_status, 200);
	CHECK_EQ_INT(d[ALERT_TARGET_PAGERDUTY].http_status, 202);
	CHECK_EQ_INT(d[ALERT_TARGET_WEBHOOK].http_status, 200);

	slack = received(&g, "slack");
	CHECK_EQ_INT(json_array_size(slack), 1);
	CHECK(strstr(body_str(json_array_get(slack, 0), "text"),
		     "[CRITICAL] kpulse incident #7 opened on host1") != NULL);
	pd = received(&g, "pagerduty");
	p = json_object_get(json_object_get(json_array_get(pd, 0), "body"), "payload");
	CHECK_STR(body_str(json_array_get(pd, 0), "event_action"), "trigger");
	CHECK_STR(body_str(json_array_get(pd, 0), "dedup_key"), "kpulse/host1/incident/7");
	CHECK_STR(json_string_value(json_object_get(p, "severity")), "critical");
	CHECK_STR(json_string_value(json_object_get(p, "source")), "host1");
	hook = received(&g, "webhook");
	CHECK_STR(body_str(json_array_get(hook, 0), "kind"), "open");
	CHECK_STR(json_string_value(json_object_get(
		      json_object_get(json_array_get(hook, 0), "headers"), "x-kpulse-event")),
		  "open");
	/* the receiver refuses a bad signature with 401: delivered means it matched */
	CHECK(json_string_value(json_object_get(json_object_get(json_array_get(hook, 0), "headers"),
						"x-kpulse-signature")) != NULL);
	json_decref(slack);
	json_decref(pd);
	json_decref(hook);
	rig_stop(&g);
}

TEST(escalate_and_resolve_follow_with_the_same_dedup_key)
{
	struct alert_event ev = event(ALERT_OPEN, 8, ALERT_WARNING);
	struct alert_delivery d[ALERT_TARGET_COUNT];
	struct rig g;
	json_t *pd, *slack;

	CHECK_EQ_INT(rig_start(&g), 0);
	CHECK_EQ_INT(rig_alerts(&g), 0);
	ev.dedup_key = "incident-8";
	CHECK_EQ_INT(alerts_notify(g.a, &ev), 0);
	ev.kind = ALERT_ESCALATE;
	ev.severity = ALERT_CRITICAL;
	CHECK_EQ_INT(alerts_notify(g.a, &ev), 0);
	ev.kind = ALERT_RESOLVE;
	CHECK_EQ_INT(alerts_notify(g.a, &ev), 0);
	CHECK_EQ_INT(alerts_wait_idle(g.a, 20), 0);
	pd = received(&g, "pagerduty");
	CHECK_EQ_INT(json_array_size(pd), 3);
	CHECK_STR(body_str(json_array_get(pd, 0), "event_action"), "trigger");
	CHECK_STR(body_str(json_array_get(pd, 1), "event_action"), "trigger");
	CHECK_STR(json_string_value(json_object_get(
		      json_object_get(json_object_get(json_array_get(pd, 1), "body"), "payload"),
		      "severity")),
		  "critical");
	CHECK_STR(body_str(json_array_get(pd, 2), "event_action"), "resolve");
	for (int i = 0; i < 3; i++)
		CHECK_STR(body_str(json_array_get(pd, (size_t)i), "dedup_key"), "incident-8");
	slack = received(&g, "slack");
	CHECK(strstr(body_str(json_array_get(slack, 1), "text"), "escalated to CRITICAL"));
	CHECK(strstr(body_str(json_array_get(slack, 2), "text"), "resolved"));
	CHECK_EQ_INT(alerts_incident_state(g.a, 8, d), 0);
	CHECK_EQ_INT(d[ALERT_TARGET_PAGERDUTY].kind, ALERT_RESOLVE);
	CHECK_EQ_INT(d[ALERT_TARGET_PAGERDUTY].state, ALERT_DELIVERY_DELIVERED);
	json_decref(pd);
	json_decref(slack);
	rig_stop(&g);
}

TEST(each_target_gets_only_the_severities_it_asked_for)
{
	struct alert_event ev = event(ALERT_OPEN, 9, ALERT_WARNING);
	struct alert_delivery d[ALERT_TARGET_COUNT];
	struct rig g;
	json_t *slack;

	CHECK_EQ_INT(rig_start(&g), 0);
	g.o.min_severity[ALERT_TARGET_SLACK] = ALERT_CRITICAL;
	g.o.min_severity[ALERT_TARGET_PAGERDUTY] = ALERT_WARNING;
	CHECK_EQ_INT(rig_alerts(&g), 0);
	CHECK_EQ_INT(alerts_notify(g.a, &ev), 0);
	CHECK_EQ_INT(alerts_wait_idle(g.a, 20), 0);
	CHECK_EQ_INT(alerts_incident_state(g.a, 9, d), 0);
	CHECK_EQ_INT(d[ALERT_TARGET_SLACK].state, ALERT_DELIVERY_SKIPPED);
	CHECK_STR(d[ALERT_TARGET_SLACK].error, "below this target's minimum, critical");
	CHECK_EQ_INT(d[ALERT_TARGET_PAGERDUTY].state, ALERT_DELIVERY_DELIVERED);
	CHECK_EQ_INT(d[ALERT_TARGET_WEBHOOK].state, ALERT_DELIVERY_DELIVERED);
	CHECK_EQ_INT(fake_requests(&g.f, "slack"), 0);

	/* escalated to critical: now Slack hears of it, then of its end */
	ev.kind = ALERT_ESCALATE;
	ev.severity = ALERT_CRITICAL;
	CHECK_EQ_INT(alerts_notify(g.a, &ev), 0);
	ev.kind = ALERT_RESOLVE;
	CHECK_EQ_INT(alerts_notify(g.a, &ev), 0);
	CHECK_EQ_INT(alerts_wait_idle(g.a, 20), 0);
	slack = received(&g, "slack");
	CHECK_EQ_INT(json_array_size(slack), 2);
	CHECK(strstr(body_str(json_array_get(slack, 0), "text"), "escalated to CRITICAL"));
	CHECK(strstr(body_str(json_array_get(slack, 1), "text"), "resolved"));
	json_decref(slack);

	/* a resolve where nothing was alerted is not sent */
	ev = event(ALERT_OPEN, 10, ALERT_INFO);
	CHECK_EQ_INT(alerts_notify(g.a, &ev), 0);
	ev.kind = ALERT_RESOLVE;
	CHECK_EQ_INT(alerts_notify(g.a, &ev), 0);
	CHECK_EQ_INT(alerts_wait_idle(g.a, 20), 0);
	CHECK_EQ_INT(alerts_incident_state(g.a, 10, d), 0);
	CHECK_EQ_INT(d[ALERT_TARGET_SLACK].state, ALERT_DELIVERY_SKIPPED);
	CHECK_STR(d[ALERT_TARGET_SLACK].error, "not alerted at this target: nothing to resolve");
	CHECK_EQ_INT(d[ALERT_TARGET_PAGERDUTY].state, ALERT_DELIVERY_SKIPPED);
	CHECK_EQ_INT(d[ALERT_TARGET_WEBHOOK].state, ALERT_DELIVERY_DELIVERED);
	CHECK_EQ_INT(d[ALERT_TARGET_WEBHOOK].kind, ALERT_RESOLVE);
	rig_stop(&g);
}

TEST(a_repeat_of_the_last_event_is_not_sent_again)
{
	struct alert_event ev = event(ALERT_OPEN, 11, ALERT_WARNING);
	struct rig g;
	json_t *st;

	CHECK_EQ_INT(rig_start(&g), 0);
	CHECK_EQ_INT(rig_alerts(&g), 0);
	CHECK_EQ_INT(alerts_notify(g.a, &ev), 0);
	CHECK_EQ_INT(alerts_notify(g.a, &ev), -EALREADY);
	CHECK_EQ_INT(alerts_wait_idle(g.a, 20), 0);
	CHECK_EQ_INT(fake_requests(&g.f, "slack"), 1);
	st = alerts_status_json(g.a);
	CHECK_EQ_INT(json_integer_value(json_object_get(st, "deduplicated")), 1);
	CHECK_EQ_INT(json_integer_value(json_object_get(st, "accepted")), 1);
	json_decref(st);
	rig_stop(&g);
}

/* ------------------------------------------------------------ retries */

TEST(a_failing_target_is_retried_with_backoff_until_it_takes_it)
{
	struct alert_event ev = event(ALERT_OPEN, 12, ALERT_CRITICAL);
	struct alert_delivery d[ALERT_TARGET_COUNT];
	struct rig g;

	CHECK_EQ_INT(rig_start(&g), 0);
	CHECK_EQ_INT(fake_control(&g.f, "{\"target\":\"slack\",\"mode\":\"error500\",\"count\":2}"),
		     0);
	CHECK_EQ_INT(rig_alerts(&g), 0);
	CHECK_EQ_INT(alerts_notify(g.a, &ev), 0);
	CHECK_EQ_INT(alerts_wait_idle(g.a, 20), 0);
	CHECK_EQ_INT(alerts_incident_state(g.a, 12, d), 0);
	CHECK_EQ_INT(d[ALERT_TARGET_SLACK].state, ALERT_DELIVERY_DELIVERED);
	CHECK_EQ_INT(d[ALERT_TARGET_SLACK].attempts, 3);
	CHECK_EQ_INT(fake_requests(&g.f, "slack"), 3);
	/* the others were not held back */
	CHECK_EQ_INT(d[ALERT_TARGET_PAGERDUTY].attempts, 1);
	rig_stop(&g);
}

TEST(retry_after_is_honoured_and_retries_are_bounded)
{
	struct alert_event ev = event(ALERT_OPEN, 13, ALERT_CRITICAL);
	struct alert_delivery d[ALERT_TARGET_COUNT];
	struct rig g;
	json_t *pd;
	double gap;

	CHECK_EQ_INT(rig_start(&g), 0);
	CHECK_EQ_INT(fake_control(&g.f, "{\"target\":\"pagerduty\",\"mode\":\"error429\","
					"\"retry_after\":\"1\",\"count\":1}"),
		     0);
	CHECK_EQ_INT(fake_control(&g.f, "{\"target\":\"webhook\",\"mode\":\"error500\"}"), 0);
	g.o.retries = 2;
	CHECK_EQ_INT(rig_alerts(&g), 0);
	CHECK_EQ_INT(alerts_notify(g.a, &ev), 0);
	CHECK_EQ_INT(alerts_wait_idle(g.a, 30), 0);
	CHECK_EQ_INT(alerts_incident_state(g.a, 13, d), 0);
	CHECK_EQ_INT(d[ALERT_TARGET_PAGERDUTY].state, ALERT_DELIVERY_DELIVERED);
	CHECK_EQ_INT(d[ALERT_TARGET_PAGERDUTY].attempts, 2);
	pd = received(&g, "pagerduty");
	gap = json_real_value(json_object_get(json_array_get(pd, 1), "ts")) -
	      json_real_value(json_object_get(json_array_get(pd, 0), "ts"));
	/* the server's second, not the 0.1 s backoff */
	CHECK(gap >= 0.9);
	json_decref(pd);
	/* the webhook never took it: one attempt and two retries, then failed */
	CHECK_EQ_INT(d[ALERT_TARGET_WEBHOOK].state, ALERT_DELIVERY_FAILED);
	CHECK_EQ_INT(d[ALERT_TARGET_WEBHOOK].attempts, 3);
	CHECK_EQ_INT(fake_requests(&g.f, "webhook"), 3);
	CHECK_STR(d[ALERT_TARGET_WEBHOOK].error, "HTTP 500: internal (3 attempts)");
	rig_stop(&g);
}

TEST(a_refusal_fails_at_once_with_the_targets_words)
{
	struct alert_event ev = event(ALERT_OPEN, 14, ALERT_CRITICAL);
	struct alert_delivery d[ALERT_TARGET_COUNT];
	struct rig g;

	CHECK_EQ_INT(rig_start(&g), 0);
	CHECK_EQ_INT(fake_control(&g.f, "{\"target\":\"slack\",\"mode\":\"error400\"}"), 0);
	CHECK_EQ_INT(rig_alerts(&g), 0);
	CHECK_EQ_INT(alerts_notify(g.a, &ev), 0);
	CHECK_EQ_INT(alerts_wait_idle(g.a, 20), 0);
	CHECK_EQ_INT(alerts_incident_state(g.a, 14, d), 0);
	CHECK_EQ_INT(d[ALERT_TARGET_SLACK].state, ALERT_DELIVERY_FAILED);
	CHECK_EQ_INT(d[ALERT_TARGET_SLACK].attempts, 1);
	CHECK_EQ_INT(d[ALERT_TARGET_SLACK].http_status, 404);
	CHECK_STR(d[ALERT_TARGET_SLACK].error, "HTTP 404: channel_not_found");
	rig_stop(&g);
}

TEST(an_incidents_events_keep_their_order_while_others_go_ahead)
{
	struct alert_event a1 = event(ALERT_OPEN, 21, ALERT_CRITICAL);
	struct alert_event a2 = event(ALERT_OPEN, 22, ALERT_CRITICAL);
	struct rig g;
	json_t *hook;

	CHECK_EQ_INT(rig_start(&g), 0);
	/* the webhook refuses the first two attempts: incident 21's open
	 * waits to be tried again, its resolve behind it */
	CHECK_EQ_INT(
	    fake_control(&g.f, "{\"target\":\"webhook\",\"mode\":\"error500\",\"count\":2}"), 0);
	g.o.backoff_s = 0.5;
	CHECK_EQ_INT(rig_alerts(&g), 0);
	CHECK_EQ_INT(alerts_notify(g.a, &a1), 0);
	a1.kind = ALERT_RESOLVE;
	CHECK_EQ_INT(alerts_notify(g.a, &a1), 0);
	CHECK_EQ_INT(alerts_notify(g.a, &a2), 0);
	CHECK_EQ_INT(alerts_wait_idle(g.a, 30), 0);
	hook = received(&g, "webhook");
	CHECK_EQ_INT(json_array_size(hook), 5);
	{
		/* 21: open (refused), open, resolve, in that order; 22 went
		 * ahead while 21 waited to be tried again */
		const char *kinds21[3];
		size_t n21 = 0, first22 = 99, second21 = 99, i;
		json_t *r;

		json_array_foreach (hook, i, r) {
			json_t *b = json_object_get(r, "body");
			int64_t id = json_integer_value(json_object_get(b, "incident_id"));

			if (id == 21 && n21 < 3) {
				if (n21 == 1)
					second21 = i;
				kinds21[n21++] = json_string_value(json_object_get(b, "kind"));
			}
			if (id == 22 && first22 == 99)
				first22 = i;
		}
		CHECK_EQ_INT(n21, 3);
		CHECK_STR(kinds21[0], "open");
		CHECK_STR(kinds21[1], "open");
		CHECK_STR(kinds21[2], "resolve");
		CHECK(first22 < second21);
	}
	json_decref(hook);
	rig_stop(&g);
}

/* ------------------------------------------------------------ never block */

TEST(notify_returns_at_once_while_a_target_hangs_and_the_queue_is_bounded)
{
	struct alert_delivery d[ALERT_TARGET_COUNT];
	struct rig g;
	double worst = 0, t0;
	int rc = 0, accepted = 0, full = 0;

	CHECK_EQ_INT(rig_start(&g), 0);
	CHECK_EQ_INT(fake_control(&g.f, "{\"target\":\"slack\",\"mode\":\"hang\"}"), 0);
	g.o.pagerduty_key = NULL;
	g.o.webhook_url = NULL;
	g.o.max_queued = 4;
	g.o.timeout_s = 30;
	g.o.drain_s = 0.5;
	CHECK_EQ_INT(rig_alerts(&g), 0);
	for (int i = 0; i < 20; i++) {
		struct alert_event ev = event(ALERT_OPEN, 100 + i, ALERT_CRITICAL);

		t0 = clock_mono_s();
		rc = alerts_notify(g.a, &ev);
		if (clock_mono_s() - t0 > worst)
			worst = clock_mono_s() - t0;
		accepted += rc == 0;
		full += rc == -ENOBUFS;
	}
	/* a notify copies and returns; a hanging target costs it nothing */
	CHECK(worst < 0.5);
	CHECK_EQ_INT(accepted, 4);
	CHECK_EQ_INT(full, 16);
	CHECK_EQ_INT(alerts_incident_state(g.a, 119, d), 0);
	CHECK_EQ_INT(d[ALERT_TARGET_SLACK].state, ALERT_DELIVERY_DROPPED);
	CHECK_STR(d[ALERT_TARGET_SLACK].error, "dropped: the alert queue was full");
	/* stopping gives up what it cannot deliver within drain_s + timeout */
	t0 = clock_mono_s();
	g.a = alerts_free(g.a);
	CHECK(clock_mono_s() - t0 < 10);
	fake_stop(&g.f);
}

struct notifier {
	struct alerts *a;
	int base, errors;
};

static void *notify_many(void *arg)
{
	struct notifier *n = arg;

	for (int i = 0; i < 10; i++) {
		struct alert_event ev = event(ALERT_OPEN, n->base + i, ALERT_CRITICAL);

		n->errors += alerts_notify(n->a, &ev) != 0;
	}
	return NULL;
}

TEST(notifies_from_many_threads_are_all_delivered)
{
	struct notifier n[4];
	pthread_t t[4];
	struct rig g;
	json_t *st;

	CHECK_EQ_INT(rig_start(&g), 0);
	g.o.slack_url = NULL;
	g.o.pagerduty_key = NULL;
	CHECK_EQ_INT(rig_alerts(&g), 0);
	for (int i = 0; i < 4; i++) {
		n[i] = (struct notifier){g.a, 1000 * (i + 1), 0};
		pthread_create(&t[i], NULL, notify_many, &n[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ_INT(n[i].errors, 0);
	}
	CHECK_EQ_INT(alerts_wait_idle(g.a, 60), 0);
	CHECK_EQ_INT(fake_requests(&g.f, "webhook"), 40);
	st = alerts_status_json(g.a);
	CHECK_EQ_INT(json_integer_value(json_object_get(
			 json_object_get(json_object_get(st, "targets"), "webhook"), "delivered")),
		     40);
	CHECK_EQ_INT(json_integer_value(json_object_get(st, "queued")), 0);
	json_decref(st);
	rig_stop(&g);
}

TEST(stopping_delivers_what_is_queued_first)
{
	struct alert_event ev = event(ALERT_OPEN, 31, ALERT_CRITICAL);
	struct rig g;

	CHECK_EQ_INT(rig_start(&g), 0);
	CHECK_EQ_INT(rig_alerts(&g), 0);
	CHECK_EQ_INT(alerts_notify(g.a, &ev), 0);
	g.a = alerts_free(g.a);
	CHECK_EQ_INT(fake_requests(&g.f, "slack"), 1);
	CHECK_EQ_INT(fake_requests(&g.f, "pagerduty"), 1);
	CHECK_EQ_INT(fake_requests(&g.f, "webhook"), 1);
	fake_stop(&g.f);
}

/* ------------------------------------------------------------ secrets */

TEST(no_secret_appears_in_states_status_or_metrics)
{
	static const char *const secrets[] = {"XXXXSLACKTOKEN", PD_KEY, HOOK_SECRET,
					      "HOOKTOKEN123"};
	struct alert_event ev = event(ALERT_OPEN, 41, ALERT_CRITICAL);
	struct registry *reg = registry_new();
	struct rig g;
	json_t *j;
	char *dump;

	CHECK_EQ_INT(rig_start(&g), 0);
	/* Slack unreachable: its error names the origin only */
	g.o.slack_url = "http://127.0.0.1:9/services/T0000/B0000/XXXXSLACKTOKEN";
	g.o.retries = 0;
	CHECK_EQ_INT(rig_alerts(&g), 0);
	CHECK_EQ_INT(alerts_notify(g.a, &ev), 0);
	CHECK_EQ_INT(alerts_wait_idle(g.a, 20), 0);
	j = alerts_incident_json(g.a, 41);
	dump = json_dumps(j, 0);
	CHECK(dump && !redact_found(dump, secrets, 4));
	CHECK(strstr(dump, "http://127.0.0.1:9: connection refused") != NULL);
	CHECK(strstr(dump, "\"delivered\"") != NULL);
	free(dump);
	json_decref(j);
	j = alerts_status_json(g.a);
	dump = json_dumps(j, 0);
	CHECK(dump && !redact_found(dump, secrets, 4));
	CHECK(strstr(dump, "\"origin\": \"http://127.0.0.1:9\"") != NULL);
	free(dump);
	json_decref(j);
	CHECK_EQ_INT(alerts_describe(reg), 0);
	registry_begin(reg, 1.7e9, 1);
	CHECK_EQ_INT(alerts_fill_registry(g.a, reg), 0);
	registry_end(reg);
	j = registry_to_json(reg);
	dump = json_dumps(j, 0);
	CHECK(dump && !redact_found(dump, secrets, 4));
	free(dump);
	json_decref(j);
	registry_free(reg);
	rig_stop(&g);
}

TEST(bad_settings_are_refused_naming_the_setting_not_its_value)
{
	static const struct {
		const char *slack, *key, *pd, *hook, *msg;
	} bad[] = {
	    {"http://hooks.example.com/services/T/B/SECRETPATH", NULL, NULL, NULL,
	     "KPULSE_ALERT_SLACK_URL: refusing plain http to http://hooks.example.com: the alert "
	     "carries a secret"},
	    {"hooks.slack.com/services/T/B/SECRETPATH", NULL, NULL, NULL,
	     "KPULSE_ALERT_SLACK_URL: not an http:// or https:// URL"},
	    {NULL, "bad key with spaces", NULL, NULL,
	     "KPULSE_ALERT_PAGERDUTY_KEY: not a routing key"},
	    {NULL, PD_KEY, "ftp://events.pagerduty.com/", NULL,
	     "KPULSE_ALERT_PAGERDUTY_URL: not an http:// or https:// URL"},
	    {NULL, NULL, NULL, "http://10.0.0.9/hook?token=SECRETPATH",
	     "KPULSE_ALERT_WEBHOOK_URL: refusing plain http to http://10.0.0.9"},
	};
	struct alerts_options o;
	struct alerts *a = NULL;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		alerts_options_default(&o);
		o.slack_url = bad[i].slack;
		o.pagerduty_key = bad[i].key;
		o.pagerduty_url = bad[i].pd;
		o.webhook_url = bad[i].hook;
		CHECK_EQ_INT(alerts_new(&o, &a, err, sizeof(err)), -EINVAL);
		CHECK(a == NULL);
		if (strncmp(err, bad[i].msg, strlen(bad[i].msg))) {
			fprintf(stderr, "  case %zu: \"%s\"\n", i, err);
			CHECK(0);
		}
		CHECK(strstr(err, "SECRETPATH") == NULL);
		CHECK(strstr(err, "spaces") == NULL);
	}
	/* https anywhere, or http to this machine, is fine */
	alerts_options_default(&o);
	o.slack_url = "https://hooks.slack.com/services/T/B/X";
	o.webhook_url = "http://[::1]:8080/hook";
	o.pagerduty_key = PD_KEY;
	CHECK_EQ_INT(alerts_new(&o, &a, err, sizeof(err)), 0);
	a = alerts_free(a);
}

TEST(bad_events_are_refused)
{
	struct alert_event ev;
	struct rig g;
	char dk[300];

	CHECK_EQ_INT(rig_start(&g), 0);
	CHECK_EQ_INT(rig_alerts(&g), 0);
	ev = event(ALERT_OPEN, 50, ALERT_CRITICAL);
	ev.title = NULL;
	CHECK_EQ_INT(alerts_notify(g.a, &ev), -EINVAL);
	ev = event(ALERT_OPEN, 50, ALERT_CRITICAL);
	ev.title = "";
	CHECK_EQ_INT(alerts_notify(g.a, &ev), -EINVAL);
	ev = event((enum alert_kind)7, 50, ALERT_CRITICAL);
	CHECK_EQ_INT(alerts_notify(g.a, &ev), -EINVAL);
	ev = event(ALERT_OPEN, 50, (enum alert_severity)9);
	CHECK_EQ_INT(alerts_notify(g.a, &ev), -EINVAL);
	ev = event(ALERT_OPEN, -1, ALERT_CRITICAL);
	CHECK_EQ_INT(alerts_notify(g.a, &ev), -EINVAL);
	ev = event(ALERT_OPEN, 50, ALERT_CRITICAL);
	ev.link = "https://kpulse.example/x|<!here>";
	CHECK_EQ_INT(alerts_notify(g.a, &ev), -EINVAL);
	ev.link = "javascript:alert(1)";
	CHECK_EQ_INT(alerts_notify(g.a, &ev), -EINVAL);
	ev = event(ALERT_OPEN, 50, ALERT_CRITICAL);
	memset(dk, 'k', sizeof(dk) - 1);
	dk[sizeof(dk) - 1] = '\0';
	ev.dedup_key = dk;
	CHECK_EQ_INT(alerts_notify(g.a, &ev), -EINVAL);
	ev.dedup_key = "tab\there";
	CHECK_EQ_INT(alerts_notify(g.a, &ev), -EINVAL);
	/* nothing of it was queued or tracked */
	CHECK_EQ_INT(alerts_wait_idle(g.a, 5), 0);
	CHECK_EQ_INT(fake_requests(&g.f, "slack"), 0);
	/* titles with control characters are escaped, not refused */
	ev = event(ALERT_OPEN, 51, ALERT_CRITICAL);
	ev.title = "bad\x1b[31m title\xff";
	CHECK_EQ_INT(alerts_notify(g.a, &ev), 0);
	CHECK_EQ_INT(alerts_wait_idle(g.a, 20), 0);
	rig_stop(&g);
}

TEST(the_oldest_incident_makes_room_and_options_follow_the_configuration)
{
	struct alert_delivery d[ALERT_TARGET_COUNT];
	struct kpulse_config c;
	struct rig g;
	char err[256];

	CHECK_EQ_INT(rig_start(&g), 0);
	g.o.max_incidents = 3;
	CHECK_EQ_INT(rig_alerts(&g), 0);
	for (int i = 0; i < 4; i++) {
		struct alert_event ev = event(ALERT_OPEN, 60 + i, ALERT_CRITICAL);

		CHECK_EQ_INT(alerts_notify(g.a, &ev), 0);
		CHECK_EQ_INT(alerts_wait_idle(g.a, 20), 0);
	}
	CHECK_EQ_INT(alerts_incident_state(g.a, 60, d), -ENOENT);
	CHECK_EQ_INT(alerts_incident_state(g.a, 63, d), 0);
	CHECK(alerts_incident_json(g.a, 60) == NULL);
	rig_stop(&g);

	config_defaults(&c);
	CHECK_EQ_INT(config_set(&c, "KPULSE_ALERT_MIN_SEVERITY", "critical", err, sizeof(err)), 0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_ALERT_SLACK_MIN_SEVERITY", "info", err, sizeof(err)),
		     0);
	CHECK_EQ_INT(config_set(&c, "KPULSE_ALERT_RETRIES", "3", err, sizeof(err)), 0);
	alerts_options_from_config(&c, &g.o);
	CHECK_EQ_INT(g.o.min_severity[ALERT_TARGET_SLACK], ALERT_INFO);
	CHECK_EQ_INT(g.o.min_severity[ALERT_TARGET_PAGERDUTY], ALERT_CRITICAL);
	CHECK_EQ_INT(g.o.min_severity[ALERT_TARGET_WEBHOOK], ALERT_CRITICAL);
	CHECK_EQ_INT(g.o.retries, 3);
	CHECK_STR(g.o.pagerduty_url, "https://events.pagerduty.com/v2/enqueue");
	CHECK_STR(g.o.slack_url, "");
}

TEST_MAIN()
