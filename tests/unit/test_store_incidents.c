// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for store/store_incidents.c: an incident comes back with its
 * document, timeline and analyses; lists filter by state, severity and
 * time and page; the per-incident bounds hold; the audit log filters and
 * pages; bad rows are refused. */
#include <errno.h>
#include <string.h>

#include "test_store_fixture.h"

static int save(struct fixture *f, int64_t id, double opened, const char *state,
		const char *severity)
{
	struct store_incident row = {
	    .id = id,
	    .opened_ts = opened,
	    .updated_ts = opened + 1,
	    .resolved_ts = strcmp(state, "resolved") ? 0 : opened + 60,
	    .state = state,
	    .severity = severity,
	    .summary = "cpu anomaly",
	};
	int r;

	row.doc = json_pack("{s:[s],s:{s:i}}", "subsystems", "cpu", "evidence", "ncpu", 2);
	r = store_incident_save(f->s, &row);
	json_decref(row.doc);
	return r;
}

static json_int_t id_at(json_t *items, size_t i)
{
	return json_integer_value(json_object_get(json_array_get(items, i), "id"));
}

STORE_TEST(an_incident_comes_back_with_its_timeline_and_analyses)
{
	json_t *o = NULL, *a = json_pack("{s:s,s:s}", "analyst", "builtin", "text", "CPU.");
	int64_t max = -1;

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(store_incident_max_id(f->s, &max), 0);
	CHECK_EQ_INT(max, 0);
	CHECK_EQ_INT(save(f, 3, T0, "open", "critical"), 0);
	CHECK_EQ_INT(store_incident_timeline_add(f->s, 3, T0, "opened", "kpulse", "by x"), 0);
	CHECK_EQ_INT(store_incident_timeline_add(f->s, 3, T0 + 5, "comment", "ann", "looking"), 0);
	CHECK_EQ_INT(store_incident_analysis_add(f->s, 3, T0 + 2, a), 0);
	CHECK_EQ_INT(store_incident_max_id(f->s, &max), 0);
	CHECK_EQ_INT(max, 3);
	CHECK_EQ_INT(store_incident_get(f->s, 3, &o), 0);
	CHECK_STR(json_string_value(json_object_get(o, "state")), "open");
	CHECK_STR(json_string_value(json_object_get(o, "severity")), "critical");
	CHECK(json_is_null(json_object_get(o, "resolved_at")));
	CHECK_NEAR(json_number_value(json_object_get(o, "opened_at")), T0, 0);
	CHECK_EQ_INT(json_integer_value(json_object_get(json_object_get(o, "evidence"), "ncpu")),
		     2);
	CHECK_EQ_INT(json_array_size(json_object_get(o, "timeline")), 2);
	CHECK_STR(json_string_value(
		      json_object_get(json_array_get(json_object_get(o, "timeline"), 1), "who")),
		  "ann");
	CHECK_STR(json_string_value(json_object_get(
		      json_array_get(json_object_get(o, "analyses"), 0), "analyst")),
		  "builtin");
	CHECK_NEAR(json_number_value(
		       json_object_get(json_array_get(json_object_get(o, "analyses"), 0), "ts")),
		   T0 + 2, 0);
	json_decref(o);
	o = NULL;
	CHECK_EQ_INT(store_incident_get(f->s, 4, &o), -ENOENT);
	json_decref(a);
}

STORE_TEST(lists_filter_by_state_severity_and_time_and_page)
{
	struct store_incident_query q = {.limit = 10};
	json_t *items = NULL;
	int64_t total = 0;

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(save(f, 1, T0, "resolved", "info"), 0);
	CHECK_EQ_INT(save(f, 2, T0 + 10, "acknowledged", "warning"), 0);
	CHECK_EQ_INT(save(f, 3, T0 + 20, "open", "critical"), 0);
	CHECK_EQ_INT(store_incident_list(f->s, &q, &items, &total), 0);
	CHECK_EQ_INT(total, 3);
	CHECK_EQ_INT(id_at(items, 0), 3); /* newest first */
	CHECK(!json_object_get(json_array_get(items, 0), "evidence"));
	json_decref(items);
	q.state = "active";
	CHECK_EQ_INT(store_incident_list(f->s, &q, &items, &total), 0);
	CHECK_EQ_INT(total, 2);
	json_decref(items);
	q.state = NULL;
	q.severity = "warning";
	CHECK_EQ_INT(store_incident_list(f->s, &q, &items, &total), 0);
	CHECK_EQ_INT(total, 2);
	json_decref(items);
	q.severity = NULL;
	q.from = T0 + 5;
	q.to = T0 + 15;
	CHECK_EQ_INT(store_incident_list(f->s, &q, &items, &total), 0);
	CHECK_EQ_INT(total, 1);
	CHECK_EQ_INT(id_at(items, 0), 2);
	json_decref(items);
	q.from = q.to = 0;
	q.limit = 1;
	q.offset = 1;
	CHECK_EQ_INT(store_incident_list(f->s, &q, &items, &total), 0);
	CHECK_EQ_INT(total, 3);
	CHECK_EQ_INT(json_array_size(items), 1);
	CHECK_EQ_INT(id_at(items, 0), 2);
	json_decref(items);
	q.state = "closed";
	CHECK_EQ_INT(store_incident_list(f->s, &q, &items, &total), -EINVAL);
	q.state = NULL;
	q.limit = 0;
	CHECK_EQ_INT(store_incident_list(f->s, &q, &items, &total), -EINVAL);
}

STORE_TEST(the_timeline_is_bounded_and_bad_rows_are_refused)
{
	struct store_incident bad = {.id = 1, .state = "open", .severity = "loud", .summary = ""};
	json_t *a = json_array();

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(save(f, 1, T0, "open", "warning"), 0);
	for (int i = 0; i < STORE_INCIDENT_TIMELINE_MAX; i++)
		CHECK_EQ_INT(store_incident_timeline_add(f->s, 1, T0 + i, "comment", "x", "y"), 0);
	CHECK_EQ_INT(store_incident_timeline_add(f->s, 1, T0, "comment", "x", "y"), -ENOSPC);
	bad.doc = json_object();
	CHECK_EQ_INT(store_incident_save(f->s, &bad), -EINVAL);
	bad.severity = "info";
	bad.state = "closed";
	CHECK_EQ_INT(store_incident_save(f->s, &bad), -EINVAL);
	json_decref(bad.doc);
	CHECK_EQ_INT(store_incident_analysis_add(f->s, 1, T0, a), -EINVAL); /* not an object */
	CHECK_EQ_INT(store_incident_timeline_add(f->s, 0, T0, "comment", "x", "y"), -EINVAL);
	json_decref(a);
}

STORE_TEST(the_audit_log_filters_and_pages_newest_first)
{
	json_t *items = NULL;
	int64_t total = 0;

	CHECK_EQ_INT(fx_open(f), 0);
	CHECK_EQ_INT(store_audit_add(f->s, T0, "ann", "operator", "incident.ack", "incident/1", ""),
		     0);
	CHECK_EQ_INT(
	    store_audit_add(f->s, T0 + 1, "bob", "admin", "incident.resolve", "incident/1", ""), 0);
	CHECK_EQ_INT(store_audit_add(f->s, T0 + 2, "cy", "viewer", "analyze", "host", "why?"), 0);
	CHECK_EQ_INT(store_audit_list(f->s, 0, T0 + 10, 2, 0, &items, &total), 0);
	CHECK_EQ_INT(total, 3);
	CHECK_EQ_INT(json_array_size(items), 2);
	CHECK_STR(json_string_value(json_object_get(json_array_get(items, 0), "who")), "cy");
	CHECK_STR(json_string_value(json_object_get(json_array_get(items, 1), "action")),
		  "incident.resolve");
	json_decref(items);
	CHECK_EQ_INT(store_audit_list(f->s, T0, T0 + 0.5, 10, 0, &items, &total), 0);
	CHECK_EQ_INT(total, 1);
	CHECK_STR(json_string_value(json_object_get(json_array_get(items, 0), "role")), "operator");
	json_decref(items);
	CHECK_EQ_INT(store_audit_list(f->s, T0 + 1, T0, 10, 0, &items, &total), -EINVAL);
	CHECK_EQ_INT(store_audit_add(f->s, T0, "x", "admin", "", "t", ""), -EINVAL);
}

TEST_MAIN()
