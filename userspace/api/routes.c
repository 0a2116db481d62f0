/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * routes.c - the route table: every endpoint with its method, path
 * pattern, handler, minimum role, description and flags. Dispatch reads
 * it, and /openapi.json and /docs are generated from it, so an endpoint
 * cannot exist without being documented, and what a route needs (its
 * role, and API_ROUTE_METRICS_AUTH for the one whose role follows an
 * option) is said here and nowhere else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"

#define R_NONE	AUTH_ROLE_NONE
#define R_VIEW	AUTH_ROLE_VIEWER
#define R_OPER	AUTH_ROLE_OPERATOR
#define R_ADMIN AUTH_ROLE_ADMIN

const struct api_route api_routes[] = {
    {"GET", "/healthz", api_handle_healthz, R_NONE, "Liveness: the server answers", NULL, NULL, 0},
    {"GET", "/readyz", api_handle_readyz, R_NONE,
     "Readiness: a round was collected, probes are attached and the store is writable", NULL, NULL,
     0},
    {"GET", "/metrics", api_handle_metrics, R_NONE,
     "Prometheus text exposition 0.0.4 of every series, the custom metrics and the API's "
     "own counters (a viewer token when KPULSE_METRICS_AUTH=on)",
     NULL, NULL, API_ROUTE_METRICS_AUTH},
    {"GET", "/openapi.json", api_handle_openapi, R_NONE,
     "This API as an OpenAPI 3 document, generated from the route table", NULL, NULL, 0},
    {"GET", "/docs", api_handle_docs, R_NONE, "This API as a plain HTML page", NULL, NULL, 0},
    {"GET", "/", api_handle_index, R_NONE,
     "The web dashboard (its files are built into the binary; it logs in like any client)", NULL,
     NULL, 0},
    {"GET", "/ui/{file}", api_handle_static, R_NONE,
     "A file of the web dashboard: script, style sheet or image", NULL, NULL, 0},
    {"GET", "/api/v1/status", api_handle_status, R_VIEW,
     "Daemon status: version, uptime, rounds, probes, store health", NULL, NULL, 0},
    {"GET", "/api/v1/live", api_handle_live, R_VIEW,
     "The latest round as `kpulse dump --json` prints it, with custom metrics and events", NULL,
     NULL, 0},
    {"GET", "/api/v1/series", api_handle_series, R_VIEW,
     "Stored series, optionally only those matching a selector NAME{label=\"v\"}", "match", NULL,
     0},
    {"GET", "/api/v1/query_range", api_handle_query_range, R_VIEW,
     "History of the series matching a selector, aggregated per step (agg avg, min, max, "
     "sum, last, rate, or pN such as p99 for histograms)",
     "series,from,to,step,agg", NULL, 0},
    {"GET", "/api/v1/events", api_handle_events, R_VIEW,
     "Stored events (exec, exit, oom_kill, slow_io, ...) between from and to",
     "type,from,to,limit,order", NULL, 0},
    {"GET", "/api/v1/forecast", api_handle_forecast, R_VIEW,
     "Forecasts of the stored series matching a selector (at most 10), horizon= a duration "
     "(default KPULSE_FORECAST_HORIZON): points with 80% and 95% prediction intervals; "
     "counters as rates",
     "series,horizon", NULL, 0},
    {"GET", "/api/v1/predictions", api_handle_predictions, R_VIEW,
     "Active time-to-threshold predictions: filesystems full, memory or swap exhausted, "
     "configured limits; each with its predicted time, 95% range and whether it falls "
     "within KPULSE_PREDICT_HORIZON",
     NULL, NULL, 0},
    {"GET", "/api/v1/anomalies", api_handle_anomalies, R_VIEW,
     "Anomalies the models found overlapping [from, to] (default: the last day), newest "
     "first: series, start, end, open, severity, peak score, detectors that fired and the "
     "series that contributed most; severity keeps those at least that severe (info, "
     "warning, critical), series those of or contributed to by that series key "
     "(name{k=v,...}:stat)",
     "from,to,severity,series,limit", NULL, 0},
    {"GET", "/api/v1/incidents", api_handle_incidents_list, R_VIEW,
     "Incidents newest first (anomalies, predictions and OOM kills grouped by time and "
     "subsystem): state (open, acknowledged, resolved, active, all), at least severity, "
     "opened between from and to; limit and offset page them",
     "state,severity,from,to,limit,offset", NULL, 0},
    {"GET", "/api/v1/incidents/{id}", api_handle_incident_get, R_VIEW,
     "One incident with its parts, evidence, timeline (comments included), analyses (the "
     "built-in analyst's and the LLM's) and alert delivery state",
     NULL, NULL, 0},
    {"POST", "/api/v1/incidents/{id}/ack", api_handle_incident_ack, R_OPER,
     "Acknowledge an open incident (written to the audit log)", NULL, NULL, 0},
    {"POST", "/api/v1/incidents/{id}/resolve", api_handle_incident_resolve, R_OPER,
     "Resolve an incident (written to the audit log; alerts the resolve)", NULL, NULL, 0},
    {"POST", "/api/v1/incidents/{id}/comments", api_handle_incident_comment, R_OPER,
     "Add a comment to an incident's timeline (written to the audit log)", NULL, "text", 0},
    {"POST", "/api/v1/incidents/{id}/analyze", api_handle_incident_analyze, R_OPER,
     "Run the analysis again: fresh evidence, the built-in analyst, then the LLM providers", NULL,
     "question", 0},
    {"POST", "/api/v1/analyze", api_handle_analyze, R_VIEW,
     "Ask about this host (\"why was it slow at 14:05?\"): evidence of the window the "
     "question names (or from..to, or the last 15 minutes), the built-in reading and the "
     "LLM providers' answer",
     NULL, "question,from,to", 0},
    {"GET", "/api/v1/audit", api_handle_audit, R_ADMIN,
     "The audit log: every change made to incidents and every question, with who and when",
     "from,to,limit,offset", NULL, 0},
    {"GET", "/api/v1/processes", api_handle_processes, R_VIEW,
     "The per-process series of the latest round, grouped by process", NULL, NULL, 0},
    {"GET", "/api/v1/stream", api_handle_stream, R_VIEW,
     "Server-sent events: one `round` event per collection round (the /api/v1/live "
     "document); clients that fall behind are dropped",
     NULL, NULL, 0},
    {"POST", "/api/v1/metrics", api_handle_ingest, R_OPER,
     "Push a batch of custom counters and gauges; shown in /metrics and /api/v1/live and "
     "stored",
     NULL, "timestamp,metrics[{name,type,labels,value}]", 0},
    {"POST", "/api/v1/auth/login", api_handle_login, R_NONE,
     "Exchange a user name and password for a bearer token (JWT)", NULL, "name,password", 0},
    {"GET", "/api/v1/auth/me", api_handle_me, R_VIEW,
     "Who the bearer token belongs to: user name, role, and when it expires (null for API "
     "tokens)",
     NULL, NULL, 0},
    {"POST", "/api/v1/auth/tokens", api_handle_token_create, R_ADMIN,
     "Create a long-lived API token; its text is shown once", NULL, "role,label", 0},
    {"DELETE", "/api/v1/auth/tokens/{id}", api_handle_token_delete, R_ADMIN, "Revoke an API token",
     NULL, NULL, 0},
    {"GET", "/api/v1/users", api_handle_users_list, R_ADMIN, "List users and their roles", NULL,
     NULL, 0},
    {"POST", "/api/v1/users", api_handle_user_add, R_ADMIN, "Create a user", NULL,
     "name,password,role", 0},
    {"DELETE", "/api/v1/users/{name}", api_handle_user_delete, R_ADMIN, "Delete a user", NULL, NULL,
     0},
};

const size_t api_routes_count = sizeof(api_routes) / sizeof(api_routes[0]);

enum auth_role api_route_min_role(const struct api_route *r, const struct api_options *o)
{
	if ((r->flags & API_ROUTE_METRICS_AUTH) && o->metrics_auth && r->min_role < R_VIEW)
		return R_VIEW;
	return r->min_role;
}

bool api_route_match(const char *pattern, const char *path, struct api_request *req)
{
	const char *p = pattern, *s = path;
	size_t nparams = 0;

	while (*p && *s) {
		if (*p == '{') {
			size_t n = strcspn(s, "/");

			if (n == 0 || n >= API_PATH_PARAM_MAX || nparams == API_PATH_PARAMS)
				return false;
			if (req) {
				memcpy(req->params[nparams], s, n);
				req->params[nparams][n] = '\0';
			}
			nparams++;
			s += n;
			p = strchr(p, '}');
			if (!p)
				return false;
			p++;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	if (*p || *s)
		return false;
	if (req)
		req->nparams = nparams;
	return true;
}

/* ------------------------------------------------------------ OpenAPI */

static const char *role_name(enum auth_role r)
{
	const char *name = r == AUTH_ROLE_NONE ? "none" : auth_role_name(r);

	return name ? name : "unknown";
}

static json_t *error_schema(void)
{
	return json_pack("{s:s,s:{s:{s:s,s:{s:{s:s},s:{s:s}}}}}", "type", "object", "properties",
			 "error", "type", "object", "properties", "code", "type", "string",
			 "message", "type", "string");
}

/* "/api/v1/users/{name}" and its parameters. */
static json_t *path_params(const char *pattern)
{
	json_t *params = json_array();

	for (const char *p = strchr(pattern, '{'); p && params; p = strchr(p + 1, '{')) {
		const char *end = strchr(p, '}');

		if (!end)
			break;
		json_array_append_new(params, json_pack("{s:s%,s:s,s:b,s:{s:s}}", "name", p + 1,
							(size_t)(end - p - 1), "in", "path",
							"required", 1, "schema", "type", "string"));
	}
	return params;
}

/* "get_api_v1_users": unique per method and path, an identifier for
 * generated clients. */
static const char *operation_id(const struct api_route *r, char *buf, size_t len)
{
	size_t n = 0;
	bool sep = true;

	for (const char *p = r->method; *p && n + 1 < len; p++)
		buf[n++] = (char)(*p | 0x20);
	for (const char *p = r->pattern; *p && n + 1 < len; p++) {
		bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			     (*p >= 'A' && *p <= 'Z');

		if (alnum) {
			if (sep)
				buf[n++] = '_';
			if (n + 1 < len)
				buf[n++] = *p;
		}
		sep = !alnum;
	}
	buf[n] = '\0';
	return buf;
}

static json_t *operation(const struct api_route *r)
{
	json_t *op, *params, *responses;
	char opid[128];

	params = path_params(r->pattern);
	for (const char *p = r->query_params; p && *p && params;) {
		size_t n = strcspn(p, ",");

		json_array_append_new(params, json_pack("{s:s%,s:s,s:b,s:{s:s}}", "name", p, n,
							"in", "query", "required", 0, "schema",
							"type", "string"));
		p += n + (p[n] == ',');
	}
	json_t *req_schema = NULL, *resp_schema = NULL;
	const char *status = "200";

	/* the schemas of openapi_schemas.c; a route without a row keeps a
	 * bare object (the OpenAPI test names it) */
	api_openapi_schemas(r->method, r->pattern, &req_schema, &resp_schema, &status);
	responses = json_pack("{s:{s:s},s:{s:s,s:{s:{s:{s:s}}}}}", status, "description", "OK",
			      "default", "description", "An error", "content", "application/json",
			      "schema", "$ref", "#/components/schemas/Error");
	if (responses && resp_schema) {
		const char *type = json_string_value(json_object_get(resp_schema, "type"));
		const char *media =
		    type && !strcmp(type, "string") ? "text/plain" : "application/json";

		if (!strcmp(r->pattern, "/metrics"))
			media = "text/plain; version=0.0.4";
		else if (!strcmp(r->pattern, "/api/v1/stream"))
			media = "text/event-stream";
		else if (!strcmp(r->pattern, "/") || !strcmp(r->pattern, "/docs"))
			media = "text/html";
		json_object_set_new(json_object_get(responses, status), "content",
				    json_pack("{s:{s:o}}", media, "schema", resp_schema));
		resp_schema = NULL;
	}
	json_decref(resp_schema);
	op = json_pack("{s:s,s:s,s:o,s:o,s:s}", "summary", r->summary, "operationId",
		       operation_id(r, opid, sizeof(opid)), "parameters", params, "responses",
		       responses, "x-min-role", role_name(r->min_role));
	if (!op) {
		json_decref(req_schema);
		return NULL;
	}
	if (r->min_role > AUTH_ROLE_NONE)
		json_object_set_new(op, "security", json_pack("[{s:[]}]", "bearer"));
	if (r->body || req_schema)
		json_object_set_new(
		    op, "requestBody",
		    json_pack("{s:b,s:s,s:{s:{s:o}}}", "required", 1, "description",
			      r->body ? r->body : "", "content", "application/json", "schema",
			      req_schema ? req_schema : json_pack("{s:s}", "type", "object")));
	else
		json_decref(req_schema);
	return op;
}

json_t *api_openapi_build(const char *version)
{
	json_t *doc, *paths;
	char method[8];

	paths = json_object();
	doc = json_pack("{s:s,s:{s:s,s:s,s:s},s:o,s:{s:{s:{s:s,s:s,s:s}},s:{s:o}}}", "openapi",
			"3.0.3", "info", "title", "kpulse", "version", version, "description",
			"Kernel telemetry: live metrics, history, events and administration.",
			"paths", paths, "components", "securitySchemes", "bearer", "type", "http",
			"scheme", "bearer", "bearerFormat", "JWT or API token", "schemas", "Error",
			error_schema());
	if (!doc)
		return NULL;
	for (size_t i = 0; i < api_routes_count; i++) {
		const struct api_route *r = &api_routes[i];
		json_t *item = json_object_get(paths, r->pattern);
		size_t n;

		if (!item) {
			item = json_object();
			if (json_object_set_new(paths, r->pattern, item))
				goto fail;
		}
		for (n = 0; r->method[n] && n < sizeof(method) - 1; n++)
			method[n] = (char)(r->method[n] | 0x20);
		method[n] = '\0';
		if (json_object_set_new(item, method, operation(r)))
			goto fail;
	}
	return doc;
fail:
	json_decref(doc);
	return NULL;
}

enum MHD_Result api_handle_openapi(struct api_request *req)
{
	return api_reply_json(req, 200, json_incref(req->api->openapi));
}

static void html_escaped(FILE *out, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", out);
			break;
		case '>':
			fputs("&gt;", out);
			break;
		case '&':
			fputs("&amp;", out);
			break;
		case '"':
			fputs("&quot;", out);
			break;
		default:
			fputc(*s, out);
		}
	}
}

/* A plain list of what /openapi.json documents. */
enum MHD_Result api_handle_docs(struct api_request *req)
{
	json_t *paths = json_object_get(req->api->openapi, "paths"), *item, *op;
	const char *path, *method;
	char *text = NULL;
	size_t len = 0;
	FILE *out;

	out = open_memstream(&text, &len);
	if (!out)
		return api_reply_error(req, 500, "out of memory");
	fputs("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>kpulse API</title>"
	      "</head><body>\n<h1>kpulse API</h1>\n<p>Machine-readable: "
	      "<a href=\"/openapi.json\">/openapi.json</a>. Routes other than the first four "
	      "need <code>Authorization: Bearer TOKEN</code>.</p>\n<ul>\n",
	      out);
	json_object_foreach (paths, path, item) {
		json_object_foreach (item, method, op) {
			json_t *params = json_object_get(op, "parameters"), *p;
			size_t i;

			fputs("<li><code>", out);
			for (const char *m = method; *m; m++)
				fputc(*m & ~0x20, out);
			fputc(' ', out);
			html_escaped(out, path);
			fputs("</code> (", out);
			html_escaped(out, json_string_value(json_object_get(op, "x-min-role")));
			fputs("): ", out);
			html_escaped(out, json_string_value(json_object_get(op, "summary")));
			json_array_foreach (params, i, p) {
				fputs(i ? ", " : ". Parameters: ", out);
				html_escaped(out, json_string_value(json_object_get(p, "name")));
			}
			fputs("</li>\n", out);
		}
	}
	fputs("</ul>\n</body></html>\n", out);
	if (fclose(out) != 0 || !text) {
		free(text);
		return api_reply_error(req, 500, "out of memory");
	}
	return api_reply_text(req, 200, "text/html; charset=utf-8", text, len);
}
