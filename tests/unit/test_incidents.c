// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for analysis/incidents.c, driven through its sink callbacks with a
 * fake clock and anomalies written into a real store: anomalies sharing a
 * subsystem or overlapping in time make one incident, others another;
 * severity is the highest part and a rise is an escalation; an OOM kill
 * opens a critical one; a quiet incident resolves by itself; operator
 * actions and their audit entries; a resolved incident's parts do not
 * reopen it; predictions join as parts. */
#include <errno.h>
#include <string.h>

#include "analysis/incidents.h"
#include "daemon/round.h"
#include "test_store_fixture.h"

struct ctx {
	struct fixture *f;
	struct incidents *inc;
	json_t *predictions;
	uint64_t seq;
};

static json_t *predictions(void *p)
{
	struct ctx *c = p;

	return c->predictions ? json_deep_copy(c->predictions) : NULL;
}

static int setup(struct ctx *c, struct fixture *f, double quiet_s)
{
	struct incidents_options o;
	char err[256];

	memset(c, 0, sizeof(*c));
	c->f = f;
	if (fx_open(f) || sql_open(f))
		return -1;
	incidents_options_default(&o);
	o.quiet_s = quiet_s;
	o.baseline_s = 60;
	o.settle_s = 0;
	o.clock = fake_clock;
	o.clock_ctx = f;
	o.predictions = predictions;
	o.predictions_ctx = c;
	return incidents_new(&o, f->s, &c->inc, err, sizeof(err));
}

/* One round at time t (the clock moves there), with events (stolen). */
static void round_at(struct ctx *c, double t, json_t *events)
{
	struct registry *reg = registry_new();
	struct round *r;

	set_now(c->f, t);
	registry_begin(reg, t, 1.0);
	registry_end(reg);
	r = round_freeze(reg, events, ++c->seq);
	incidents_sink_ops.on_round(c->inc, r);
	round_unref(r);
	registry_free(reg);
}

static void anomaly(struct ctx *c, int id, const char *series, double start, double end, int open,
		    const char *severity)
{
	char sql[512];

	snprintf(sql, sizeof(sql),
		 "INSERT OR REPLACE INTO anomalies (id, series, start_ts, end_ts, open, severity, "
		 "peak_score, detectors, contributors) VALUES (%d, '%s', %f, %f, %d, '%s', 0.9, "
		 "'stream', '[]')",
		 id, series, start, end, open, severity);
	sql_exec(c->f->db, sql);
}

static json_t *list(struct ctx *c, const char *state)
{
	struct store_incident_query q = {.state = state, .limit = 100};
	json_t *items = NULL;

	store_incident_list(c->f->s, &q, &items, NULL);
	return items;
}

static const char *str(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "(null)";
}

static size_t count_kind(json_t *inc, const char *kind)
{
	size_t n = 0, i;
	json_t *t;

	json_array_foreach (json_object_get(inc, "timeline"), i, t)
		n += !strcmp(str(t, "kind"), kind);
	return n;
}

#define CPU  "kpulse_sched_runqueue_latency_seconds:p99"
#define CPU2 "kpulse_sched_cpu_busy_seconds_total{cpu=0}:rate"
#define NET  "kpulse_net_tcp_retransmitted_segments_total:rate"

STORE_TEST(a_subsystem_or_a_time_overlap_makes_one_incident)
{
	struct ctx c;
	json_t *items, *full = NULL;

	CHECK_EQ_INT(setup(&c, f, 600), 0);
	anomaly(&c, 1, CPU, T0 + 1, T0 + 2, 1, "warning");
	round_at(&c, T0 + 2, NULL);
	items = list(&c, NULL);
	CHECK_EQ_INT(json_array_size(items), 1);
	CHECK_STR(str(json_array_get(items, 0), "severity"), "warning");
	json_decref(items);
	/* same subsystem, later, critical: joins and escalates */
	anomaly(&c, 2, CPU2, T0 + 200, T0 + 201, 1, "critical");
	round_at(&c, T0 + 201, NULL);
	/* another subsystem overlapping in time: joins too */
	anomaly(&c, 3, NET, T0 + 199, T0 + 202, 1, "warning");
	round_at(&c, T0 + 202, NULL);
	items = list(&c, NULL);
	CHECK_EQ_INT(json_array_size(items), 1);
	CHECK_STR(str(json_array_get(items, 0), "severity"), "critical");
	CHECK_EQ_INT(json_array_size(json_object_get(json_array_get(items, 0), "parts")), 3);
	CHECK_EQ_INT(json_array_size(json_object_get(json_array_get(items, 0), "subsystems")), 2);
	CHECK_EQ_INT(store_incident_get(f->s, 1, &full), 0);
	CHECK_EQ_INT(count_kind(full, "opened"), 1);
	CHECK_EQ_INT(count_kind(full, "joined"), 2);
	CHECK_EQ_INT(count_kind(full, "escalated"), 1);
	/* analysed once at open, again when the network joined */
	CHECK(json_array_size(json_object_get(full, "analyses")) >= 2);
	CHECK(json_object_get(full, "evidence") != NULL);
	json_decref(full);
	json_decref(items);
	incidents_free(c.inc);
}

STORE_TEST(apart_in_time_and_subsystem_is_another_incident_and_info_opens_none)
{
	struct ctx c;
	json_t *items;

	CHECK_EQ_INT(setup(&c, f, 600), 0);
	anomaly(&c, 1, CPU, T0 + 1, T0 + 2, 0, "warning");
	round_at(&c, T0 + 2, NULL);
	anomaly(&c, 2, NET, T0 + 300, T0 + 300, 1, "info"); /* below the minimum */
	round_at(&c, T0 + 300, NULL);
	items = list(&c, NULL);
	CHECK_EQ_INT(json_array_size(items), 1);
	json_decref(items);
	anomaly(&c, 3, NET, T0 + 301, T0 + 302, 1, "warning");
	round_at(&c, T0 + 302, NULL);
	items = list(&c, NULL);
	CHECK_EQ_INT(json_array_size(items), 2);
	CHECK_STR(json_string_value(
		      json_array_get(json_object_get(json_array_get(items, 0), "subsystems"), 0)),
		  "network");
	json_decref(items);
	incidents_free(c.inc);
}

STORE_TEST(an_oom_kill_opens_a_critical_incident_and_quiet_ones_resolve)
{
	struct ctx c;
	json_t *items, *ev;

	CHECK_EQ_INT(setup(&c, f, 30), 0);
	ev = json_pack("[{s:s,s:f,s:i,s:s,s:s,s:i}]", "type", "oom_kill", "timestamp", T0 + 1,
		       "pid", 4321, "comm", "hog", "memcg", "/kpinc-oom", "rss_pages", 16384);
	round_at(&c, T0 + 1, ev);
	items = list(&c, "active");
	CHECK_EQ_INT(json_array_size(items), 1);
	CHECK_STR(str(json_array_get(items, 0), "severity"), "critical");
	CHECK_STR(str(json_array_get(items, 0), "resource"), "memory");
	CHECK(strstr(str(json_array_get(items, 0), "culprit"), "hog (pid 4321)") != NULL);
	json_decref(items);
	round_at(&c, T0 + 20, NULL); /* quiet, not long enough */
	items = list(&c, "active");
	CHECK_EQ_INT(json_array_size(items), 1);
	json_decref(items);
	round_at(&c, T0 + 40, NULL);
	items = list(&c, "resolved");
	CHECK_EQ_INT(json_array_size(items), 1);
	CHECK_STR(str(json_array_get(items, 0), "resolved_by"), "kpulse");
	json_decref(items);
	incidents_free(c.inc);
}

STORE_TEST(operators_ack_comment_and_resolve_and_resolved_parts_stay_retired)
{
	struct incidents_actor ann = {"ann", "operator"};
	struct ctx c;
	json_t *items, *audit = NULL;

	CHECK_EQ_INT(setup(&c, f, 600), 0);
	anomaly(&c, 1, CPU, T0 + 1, T0 + 2, 1, "critical");
	round_at(&c, T0 + 2, NULL);
	CHECK_EQ_INT(incidents_ack(c.inc, 1, &ann), 0);
	CHECK_EQ_INT(incidents_ack(c.inc, 1, &ann), -EALREADY);
	CHECK_EQ_INT(incidents_comment(c.inc, 1, &ann, "on it"), 0);
	CHECK_EQ_INT(incidents_comment(c.inc, 1, &ann, ""), -EINVAL);
	CHECK_EQ_INT(incidents_comment(c.inc, 1, &ann, "\xff\xfe"), -EINVAL);
	CHECK_EQ_INT(incidents_comment(c.inc, 9, &ann, "x"), -ENOENT);
	CHECK_EQ_INT(incidents_resolve(c.inc, 1, &ann), 0);
	CHECK_EQ_INT(incidents_resolve(c.inc, 1, &ann), -EALREADY);
	CHECK_EQ_INT(incidents_ack(c.inc, 2, &ann), -ENOENT);
	/* the anomaly is still open: it does not reopen what was resolved */
	anomaly(&c, 1, CPU, T0 + 1, T0 + 10, 1, "critical");
	round_at(&c, T0 + 10, NULL);
	items = list(&c, "active");
	CHECK_EQ_INT(json_array_size(items), 0);
	json_decref(items);
	/* a new anomaly does */
	anomaly(&c, 2, CPU, T0 + 11, T0 + 12, 1, "warning");
	round_at(&c, T0 + 12, NULL);
	items = list(&c, "active");
	CHECK_EQ_INT(json_array_size(items), 1);
	json_decref(items);
	{
		struct registry *reg = registry_new();
		const struct metric_series *ms;

		registry_begin(reg, T0 + 12, 1);
		CHECK_EQ_INT(incidents_fill_registry(c.inc, reg), 0);
		registry_end(reg);
		ms = registry_find(reg, "kpulse_incidents_resolved_total", NULL, 0);
		CHECK(ms && ms->value == 1);
		ms = registry_find(reg, "kpulse_incidents_opened_total", NULL, 0);
		CHECK(ms && ms->value == 2);
		ms = registry_find(reg, "kpulse_incidents_active", NULL, 0);
		CHECK(ms && ms->value == 1);
		registry_free(reg);
	}
	CHECK_EQ_INT(store_audit_list(f->s, 0, T0 + 100, 10, 0, &audit, NULL), 0);
	CHECK_EQ_INT(json_array_size(audit), 3);
	CHECK_STR(str(json_array_get(audit, 0), "action"), "incident.resolve");
	CHECK_STR(str(json_array_get(audit, 2), "who"), "ann");
	json_decref(audit);
	incidents_free(c.inc);
}

STORE_TEST(an_alert_worthy_prediction_is_a_part_and_stops_when_it_is_no_longer_made)
{
	struct ctx c;
	json_t *items, *parts;

	CHECK_EQ_INT(setup(&c, f, 30), 0);
	c.predictions =
	    json_pack("[{s:s,s:s,s:{s:s},s:f,s:f,s:f,s:b}]", "kind", "filesystem_full", "series",
		      "kpulse_filesystem_avail_bytes", "labels", "mountpoint", "/data", "eta_s",
		      1800.0, "current", 1e9, "rate_per_s", -5e5, "alert", 1);
	round_at(&c, T0 + 1, NULL);
	items = list(&c, "active");
	CHECK_EQ_INT(json_array_size(items), 1);
	CHECK_STR(str(json_array_get(items, 0), "severity"), "critical"); /* within the hour */
	CHECK_STR(str(json_array_get(items, 0), "resource"), "filesystem");
	parts = json_object_get(json_array_get(items, 0), "parts");
	CHECK_STR(str(json_array_get(parts, 0), "prediction"), "filesystem_full");
	json_decref(items);
	json_decref(c.predictions);
	c.predictions = NULL;
	round_at(&c, T0 + 5, NULL);
	round_at(&c, T0 + 40, NULL);
	items = list(&c, "resolved");
	CHECK_EQ_INT(json_array_size(items), 1);
	json_decref(items);
	incidents_free(c.inc);
}

STORE_TEST(incidents_left_active_by_a_previous_daemon_are_resolved_at_start)
{
	struct incidents_options o;
	struct ctx c;
	json_t *items;
	char err[256];

	CHECK_EQ_INT(setup(&c, f, 600), 0);
	anomaly(&c, 1, CPU, T0 + 1, T0 + 2, 1, "warning");
	round_at(&c, T0 + 2, NULL);
	incidents_free(c.inc);
	incidents_options_default(&o);
	o.clock = fake_clock;
	o.clock_ctx = f;
	CHECK_EQ_INT(incidents_new(&o, f->s, &c.inc, err, sizeof(err)), 0);
	items = list(&c, "active");
	CHECK_EQ_INT(json_array_size(items), 0);
	json_decref(items);
	incidents_free(c.inc);
}

TEST_MAIN()
