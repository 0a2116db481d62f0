// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * incidents_routes.c - incidents over HTTP:
 *   GET  /api/v1/incidents               list (state, severity, from, to, limit, offset)
 *   GET  /api/v1/incidents/{id}          one, with evidence, timeline, analyses, alerts
 *   POST /api/v1/incidents/{id}/ack      acknowledge (operator)
 *   POST /api/v1/incidents/{id}/resolve  resolve (operator)
 *   POST /api/v1/incidents/{id}/comments {"text"} (operator)
 *   POST /api/v1/incidents/{id}/analyze  run the analysis again (operator)
 *   POST /api/v1/analyze                 a free-form question (viewer)
 *   GET  /api/v1/audit                   the audit log (admin)
 * An analysis runs on the request's HTTP thread (evidence queries and
 * the LLM providers, at most their timeouts).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/incidents.h"
#include "api/api_internal.h"
#include "util/clock.h"

static const char *arg(struct api_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

static struct incidents *incidents_of(struct api_request *req)
{
	struct incidents *inc;

	pthread_mutex_lock(&req->api->lock);
	inc = req->api->incidents;
	pthread_mutex_unlock(&req->api->lock);
	return inc;
}

#define NO_INCIDENTS "incidents are off (KPULSE_INCIDENTS=off)"

/* A whole number in [min, max] from a query parameter (absent: dflt). */
static int count_arg(struct api_request *req, const char *name, long long min, long long max,
		     long long dflt, long long *ret)
{
	const char *s = arg(req, name);
	char *end;
	long long v;

	if (!s) {
		*ret = dflt;
		return 0;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int id_param(struct api_request *req, int64_t *ret)
{
	const char *s = req->params[0];
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || *s == '+' || *s == ' ')
		return -EINVAL;
	*ret = v;
	return 0;
}

static void actor_of(struct api_request *req, struct incidents_actor *by, char *buf, size_t len)
{
	if (req->who.token_id)
		snprintf(buf, len, "%s (token %lld)", req->who.user, (long long)req->who.token_id);
	else
		snprintf(buf, len, "%s", req->who.user);
	by->who = buf;
	by->role = auth_role_name(req->who.role);
}

enum MHD_Result api_handle_incidents_list(struct api_request *req)
{
	struct incidents *inc = incidents_of(req);
	struct store_incident_query q = {0};
	const char *from = arg(req, "from"), *to = arg(req, "to");
	long long limit, offset;
	json_t *items = NULL;
	int64_t total = 0;
	int r;

	if (!inc)
		return api_reply_error(req, 503, NO_INCIDENTS);
	q.state = arg(req, "state");
	q.severity = arg(req, "severity");
	if (q.state && strcmp(q.state, "open") && strcmp(q.state, "acknowledged") &&
	    strcmp(q.state, "resolved") && strcmp(q.state, "active") && strcmp(q.state, "all"))
		return api_reply_error(req, 400,
				       "state: not open, acknowledged, resolved, active or all");
	if (q.state && !strcmp(q.state, "all"))
		q.state = NULL;
	if (q.severity && strcmp(q.severity, "info") && strcmp(q.severity, "warning") &&
	    strcmp(q.severity, "critical"))
		return api_reply_error(req, 400, "severity: not info, warning or critical");
	if ((from && api_parse_number(from, &q.from)) || (to && api_parse_number(to, &q.to)) ||
	    (to && from && q.to < q.from))
		return api_reply_error(req, 400, "from, to: unix seconds with from <= to");
	if (count_arg(req, "limit", 1, 1000, 50, &limit) ||
	    count_arg(req, "offset", 0, 1000000, 0, &offset))
		return api_reply_error(req, 400, "limit: 1..1000, offset: 0..1000000");
	q.limit = (size_t)limit;
	q.offset = (size_t)offset;
	r = store_incident_list(req->api->store, &q, &items, &total);
	if (r)
		return api_reply_errno(req, r, "incidents");
	return api_reply_json(req, 200,
			      json_pack("{s:o,s:I,s:I,s:I}", "incidents", items, "total",
					(json_int_t)total, "limit", (json_int_t)limit, "offset",
					(json_int_t)offset));
}

enum MHD_Result api_handle_incident_get(struct api_request *req)
{
	struct incidents *inc = incidents_of(req);
	json_t *o = NULL;
	int64_t id;
	int r;

	if (!inc)
		return api_reply_error(req, 503, NO_INCIDENTS);
	if (id_param(req, &id))
		return api_reply_error(req, 404, "incident: not found (ids are whole numbers > 0)");
	r = incidents_get(inc, id, &o);
	if (r)
		return api_reply_errno(req, r, "incident");
	return api_reply_json(req, 200, o);
}

/* What every POST on incidents shares: incidents are on, the {id} is a
 * whole number (when the route has one), the body parses as kind, and the
 * caller is named for the timeline. */
struct incident_call {
	struct incidents *inc;
	int64_t id;
	struct api_incident_body body; /* cleared by the caller on success */
	struct incidents_actor by;
	char who[AUTH_NAME_MAX + 32];
};

/* Returns true with c filled in, or false with the refusal queued in *reply. */
static bool call_begin(struct api_request *req, enum api_incident_body_kind kind, bool has_id,
		       struct incident_call *c, enum MHD_Result *reply)
{
	char err[API_ERROR_MAX];

	c->inc = incidents_of(req);
	if (!c->inc) {
		*reply = api_reply_error(req, 503, NO_INCIDENTS);
		return false;
	}
	if (has_id && id_param(req, &c->id)) {
		*reply =
		    api_reply_error(req, 404, "incident: not found (ids are whole numbers > 0)");
		return false;
	}
	if (api_incident_body_parse(kind, req->body, req->body_len, &c->body, err, sizeof(err))) {
		*reply = api_reply_error(req, 400, "%s", err);
		return false;
	}
	actor_of(req, &c->by, c->who, sizeof(c->who));
	return true;
}

/* The incident as it now stands, after a change that succeeded. */
static enum MHD_Result reply_incident(struct api_request *req, struct incident_call *c,
				      unsigned int status)
{
	json_t *o = NULL;
	int r = incidents_get(c->inc, c->id, &o);

	if (r)
		return api_reply_errno(req, r, "incident");
	return api_reply_json(req, status, o);
}

/* ack and resolve share everything but the action. */
static enum MHD_Result action(struct api_request *req, bool resolve)
{
	struct incident_call c;
	enum MHD_Result reply;
	int r;

	if (!call_begin(req, API_BODY_ACTION, true, &c, &reply))
		return reply;
	api_incident_body_clear(&c.body);
	r = resolve ? incidents_resolve(c.inc, c.id, &c.by) : incidents_ack(c.inc, c.id, &c.by);
	if (r == -EALREADY)
		return api_reply_error(req, 409, "incident %lld: already %s", (long long)c.id,
				       resolve ? "resolved" : "acknowledged or resolved");
	if (r)
		return api_reply_errno(req, r, "incident");
	return reply_incident(req, &c, 200);
}

enum MHD_Result api_handle_incident_ack(struct api_request *req)
{
	return action(req, false);
}

enum MHD_Result api_handle_incident_resolve(struct api_request *req)
{
	return action(req, true);
}

enum MHD_Result api_handle_incident_comment(struct api_request *req)
{
	struct incident_call c;
	enum MHD_Result reply;
	int r;

	if (!call_begin(req, API_BODY_COMMENT, true, &c, &reply))
		return reply;
	r = incidents_comment(c.inc, c.id, &c.by, c.body.text);
	api_incident_body_clear(&c.body);
	if (r == -ENOSPC)
		return api_reply_error(req, 409, "incident %lld: its timeline is full",
				       (long long)c.id);
	if (r)
		return api_reply_errno(req, r, "incident");
	return reply_incident(req, &c, 201);
}

enum MHD_Result api_handle_incident_analyze(struct api_request *req)
{
	struct incident_call c;
	enum MHD_Result reply;
	json_t *o = NULL;
	int r;

	if (!call_begin(req, API_BODY_ANALYZE, true, &c, &reply))
		return reply;
	r = incidents_analyze(c.inc, c.id, &c.by, c.body.question, &o);
	api_incident_body_clear(&c.body);
	if (r)
		return api_reply_errno(req, r, "incident analysis");
	return api_reply_json(req, 200, o);
}

enum MHD_Result api_handle_analyze(struct api_request *req)
{
	struct incident_call c;
	enum MHD_Result reply;
	json_t *o = NULL;
	int r;

	if (!call_begin(req, API_BODY_ASK, false, &c, &reply))
		return reply;
	r = incidents_ask(c.inc, c.body.question, c.body.from, c.body.has_window ? c.body.to : 0,
			  &c.by, &o);
	api_incident_body_clear(&c.body);
	if (r)
		return api_reply_errno(req, r, "analysis");
	return api_reply_json(req, 200, o);
}

enum MHD_Result api_handle_audit(struct api_request *req)
{
	const char *from = arg(req, "from"), *to = arg(req, "to");
	double f = 0, t = clock_wall_s() + 86400;
	long long limit, offset;
	json_t *items = NULL;
	int64_t total = 0;
	int r;

	if ((from && api_parse_number(from, &f)) || (to && api_parse_number(to, &t)) || t < f)
		return api_reply_error(req, 400, "from, to: unix seconds with from <= to");
	if (count_arg(req, "limit", 1, 1000, 100, &limit) ||
	    count_arg(req, "offset", 0, 1000000, 0, &offset))
		return api_reply_error(req, 400, "limit: 1..1000, offset: 0..1000000");
	r = store_audit_list(req->api->store, f, t, (size_t)limit, (size_t)offset, &items, &total);
	if (r)
		return api_reply_errno(req, r, "audit log");
	return api_reply_json(req, 200,
			      json_pack("{s:o,s:I,s:I,s:I}", "entries", items, "total",
					(json_int_t)total, "limit", (json_int_t)limit, "offset",
					(json_int_t)offset));
}
