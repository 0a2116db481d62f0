/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * handlers.c - the read endpoints: health and readiness, the Prometheus
 * exposition, status, the live round, processes, and the history queries
 * that go through the store (series, query_range, events).
 *
 * Contracts: handlers read the latest round through api_round_get() (a
 * reference of their own, see publish.c) and never the collector's
 * registry; a->lock is held only to copy small things. /metrics formats
 * with export/prometheus.h, query_range answers go through the API's
 * query cache (query_cache.c).
 */
#include <errno.h>
#include <pthread.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts/alerts.h"
#include "analysis/incidents.h"
#include "api/api_internal.h"
#include "llm/llm.h"
#include "collection/events.h"
#include "kpulse_abi.h"
#include "export/prometheus.h"
#include "util/clock.h"
#include "util/config.h"

#define EVENTS_DEFAULT_LIMIT 100
#define EVENTS_MAX_LIMIT     1000
#define RANGE_DEFAULT_S	     3600.0
#define ANOMALIES_DEFAULT_S  86400.0 /* anomalies: the last day unless from says */
/* A series key: name{labels}:stat (models/series_select.h) */
#define ANOMALY_SERIES_MAX 512
/* Steps a default range query is split into. */
#define RANGE_DEFAULT_STEPS 240
#define TIME_ARG_HELP	    "%s: not unix seconds, now, or a time before now such as -1h or now-15m"

static bool event_type_known(const char *type)
{
	for (uint32_t t = 0; t < KP_EV_TYPE_MAX; t++)
		if (event_type_name(t) && !strcmp(event_type_name(t), type))
			return true;
	return false;
}

static const char *arg(struct api_request *req, const char *name)
{
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

/* An optional numeric argument: 0 (absent, *ret unchanged; or parsed),
 * -EINVAL when present and not a finite number. */
static int number_arg(struct api_request *req, const char *name, double *ret)
{
	const char *s = arg(req, name);

	if (!s)
		return 0;
	return api_parse_number(s, ret);
}

/*
 * A time argument: unix seconds, "now", or now minus a duration ("-1h",
 * "now-15m", as the configuration writes durations). 0 (absent: *ret
 * unchanged; or parsed), -EINVAL otherwise.
 */
static int time_arg(struct api_request *req, const char *name, double now, double *ret)
{
	const char *s = arg(req, name);
	double ago;

	if (!s)
		return 0;
	if (!strcmp(s, "now")) {
		*ret = now;
		return 0;
	}
	if (!strncmp(s, "now-", 4) || s[0] == '-') {
		if (config_parse_duration(s + (s[0] == '-' ? 1 : 4), &ago) < 0)
			return -EINVAL;
		*ret = now - ago;
		return 0;
	}
	return api_parse_number(s, ret);
}

/* A duration argument: seconds, or a number with unit s, m, h or d. */
static int duration_arg(struct api_request *req, const char *name, double *ret)
{
	const char *s = arg(req, name);

	if (!s)
		return 0;
	return api_parse_number(s, ret) == 0 ? 0 : config_parse_duration(s, ret);
}

/* The type of the metric name in the newest round (counters' default
 * aggregation is their rate), or -1 when the round has none of it. */
static int metric_type_now(struct api_request *req, const char *name)
{
	struct round *r = api_round_get(req->api);
	int type = -1;

	for (size_t i = 0; r && i < registry_size(r->reg); i++) {
		const struct metric_series *s = registry_at(r->reg, i);

		if (!strcmp(s->name, name)) {
			type = (int)s->type;
			break;
		}
	}
	api_round_put(r);
	return type;
}

static json_t *number_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

static json_t *labels_json(const char (*keys)[REGISTRY_LABEL_KEY_MAX],
			   const char (*values)[REGISTRY_LABEL_VALUE_MAX], size_t n)
{
	json_t *o = json_object();

	for (size_t i = 0; o && i < n; i++)
		if (json_object_set_new(o, keys[i], json_string(values[i]))) {
			json_decref(o);
			return NULL;
		}
	return o;
}

/* ------------------------------------------------------------ health */

enum MHD_Result api_handle_healthz(struct api_request *req)
{
	return api_reply_json(req, 200, json_pack("{s:s}", "status", "ok"));
}

enum MHD_Result api_handle_readyz(struct api_request *req)
{
	struct api *a = req->api;
	struct store_stats st;
	size_t attached;
	uint64_t rounds;
	bool writable, ready;
	json_t *body;

	pthread_mutex_lock(&a->lock);
	attached = a->probes_attached;
	rounds = a->rounds;
	pthread_mutex_unlock(&a->lock);
	store_get_stats(a->store, &st);
	writable = st.consecutive_failures == 0;
	ready = rounds > 0 && attached > 0 && writable;
	body = json_pack("{s:b,s:{s:b,s:b,s:b}}", "ready", ready, "checks", "round_collected",
			 rounds > 0, "probes_attached", attached > 0, "store_writable", writable);
	if (!ready && body)
		json_object_set_new(body, "error",
				    json_pack("{s:s,s:s}", "code", "service_unavailable", "message",
					      "not ready; see checks"));
	return api_reply_json(req, ready ? 200 : 503, body);
}

/* ------------------------------------------------------------ Prometheus */

/* The API's own counters, as a registry so they render like the rest. */
static struct registry *api_health_registry(struct api *a)
{
	struct registry *r = registry_new();
	struct metric_label l4 = {"class", "4xx"}, l5 = {"class", "5xx"};
	size_t clients, custom;
	int err = 0;

	if (!r)
		return NULL;
	pthread_mutex_lock(&a->stream_lock);
	clients = a->stream_count;
	pthread_mutex_unlock(&a->stream_lock);
	pthread_mutex_lock(&a->lock);
	custom = registry_size(a->custom);
	pthread_mutex_unlock(&a->lock);

	registry_begin(r, clock_wall_s(), 0);
	err |= registry_set_counter(r, "kpulse_api_requests_total", NULL, 0,
				    (double)atomic_load(&a->requests_total));
	err |= registry_set_counter(r, "kpulse_api_errors_total", &l4, 1,
				    (double)atomic_load(&a->responses_4xx));
	err |= registry_set_counter(r, "kpulse_api_errors_total", &l5, 1,
				    (double)atomic_load(&a->responses_5xx));
	err |= registry_set_counter(r, "kpulse_api_rate_limited_total", NULL, 0,
				    (double)atomic_load(&a->rate_limited_total));
	err |= registry_set_counter(r, "kpulse_api_auth_failures_total", NULL, 0,
				    (double)atomic_load(&a->auth_failures_total));
	for (int ev = 0; ev < API_AUDIT_EVENTS; ev++) {
		struct metric_label l = {"event", api_audit_event_name(ev)};

		err |= registry_set_counter(r, "kpulse_api_security_events_total", &l, 1,
					    (double)atomic_load(&a->audit.total[ev]));
	}
	err |=
	    registry_describe(r, "kpulse_api_security_events_total",
			      "Security events by kind (failed logins, backoffs, refused logins, "
			      "bad tokens, 429s, slow clients, foreign Host, token and user "
			      "changes), each also logged");
	err |= registry_set_gauge(r, "kpulse_api_stream_clients", NULL, 0, (double)clients);
	err |= registry_set_counter(r, "kpulse_api_stream_dropped_total", NULL, 0,
				    (double)atomic_load(&a->stream_dropped_total));
	err |= registry_set_gauge(r, "kpulse_api_custom_series", NULL, 0, (double)custom);
	err |= registry_set_counter(r, "kpulse_api_custom_samples_total", NULL, 0,
				    (double)atomic_load(&a->custom_samples_total));
	err |= registry_describe(r, "kpulse_api_requests_total", "HTTP requests received");
	err |= registry_describe(r, "kpulse_api_errors_total", "HTTP error responses by class");
	err |= registry_describe(r, "kpulse_api_rate_limited_total",
				 "Requests refused by the rate limit");
	err |= registry_describe(r, "kpulse_api_auth_failures_total",
				 "Requests refused for a missing or bad token");
	err |= registry_describe(r, "kpulse_api_stream_clients", "Connected stream clients");
	err |= registry_describe(r, "kpulse_api_stream_dropped_total",
				 "Stream clients dropped for falling behind");
	for (int lim = 0; lim < 2; lim++) {
		struct metric_label l = {"limit", lim ? "total" : "token"};

		err |= registry_set_counter(r, "kpulse_api_custom_series_refused_total", &l, 1,
					    (double)atomic_load(&a->custom_series_refused[lim]));
	}
	err |= registry_describe(r, "kpulse_api_custom_series", "Custom series held");
	err |= registry_describe(r, "kpulse_api_custom_series_refused_total",
				 "Custom-metric batches refused for their new series, by the "
				 "limit reached: the token's quota or the total");
	err |= registry_describe(r, "kpulse_api_custom_samples_total",
				 "Custom samples accepted by POST /api/v1/metrics");
	if (err)
		return registry_free(r);
	return r;
}

enum MHD_Result api_handle_metrics(struct api_request *req)
{
	struct api *a = req->api;
	struct round *round = api_round_get(a);
	struct registry *custom, *health;
	const struct registry *regs[3];
	char *text = NULL;
	size_t len = 0;
	int r;

	pthread_mutex_lock(&a->lock);
	custom = registry_copy(a->custom);
	pthread_mutex_unlock(&a->lock);
	health = api_health_registry(a);
	regs[0] = round ? round->reg : NULL;
	regs[1] = custom;
	regs[2] = health;
	r = (custom && health)
		? prometheus_render(regs, 3, "kpulse series; see docs/metrics.md", &text, &len)
		: -ENOMEM;
	registry_free(custom);
	registry_free(health);
	api_round_put(round);
	if (r < 0)
		return api_reply_error(req, 500, "out of memory");
	return api_reply_text(req, 200, PROMETHEUS_CONTENT_TYPE, text, len);
}

/* ------------------------------------------------------------ live */

json_t *api_live_json(struct api *a, const struct round *r)
{
	json_t *root, *custom, *metrics;

	if (r)
		root = registry_to_json(r->reg);
	else
		root = json_pack("{s:n,s:n,s:[]}", "timestamp", "interval_s", "metrics");
	pthread_mutex_lock(&a->lock);
	custom = registry_to_json(a->custom);
	pthread_mutex_unlock(&a->lock);
	metrics = json_object_get(root, "metrics");
	if (!root || !custom || !metrics ||
	    json_array_extend(metrics, json_object_get(custom, "metrics")) ||
	    (r ? json_object_set(root, "events", r->events)
	       : json_object_set_new(root, "events", json_array()))) {
		json_decref(root);
		json_decref(custom);
		return NULL;
	}
	json_decref(custom);
	return root;
}

enum MHD_Result api_handle_live(struct api_request *req)
{
	struct round *round = api_round_get(req->api);
	json_t *live;

	if (!round)
		return api_reply_error(req, 503, "no round collected yet");
	live = api_live_json(req->api, round);
	api_round_put(round);
	if (!live)
		return api_reply_error(req, 500, "out of memory");
	return api_reply_json(req, 200, live);
}

/* Groups the series that carry a pid label by process. */
enum MHD_Result api_handle_processes(struct api_request *req)
{
	struct round *round = api_round_get(req->api);
	json_t *by_pid, *list, *p;
	const char *pid;

	if (!round)
		return api_reply_error(req, 503, "no round collected yet");
	/* The collector's list of the busiest pids, when the round has it:
	 * series are per name and cgroup by default and carry no pid. */
	if (round->processes) {
		list = json_deep_copy(round->processes);
		api_round_put(round);
		if (!list)
			return api_reply_error(req, 500, "out of memory");
		return api_reply_json(
		    req, 200,
		    json_pack("{s:f,s:o}", "timestamp", clock_wall_s(), "processes", list));
	}
	by_pid = json_object();
	list = json_array();
	for (size_t i = 0; by_pid && i < registry_size(round->reg); i++) {
		const struct metric_series *s = registry_at(round->reg, i);
		const char *spid = metric_series_label(s, "pid");
		const char *comm = metric_series_label(s, "comm");
		char key[REGISTRY_NAME_MAX + 2 * REGISTRY_LABEL_VALUE_MAX + 16];
		json_t *proc, *metrics;
		size_t n;

		if (!spid || s->type == METRIC_HISTOGRAM)
			continue;
		proc = json_object_get(by_pid, spid);
		if (!proc) {
			proc = json_pack("{s:s,s:s,s:{}}", "pid", spid, "comm", comm ? comm : "",
					 "metrics");
			if (json_object_set_new(by_pid, spid, proc))
				break;
		}
		/* The name, plus any label other than pid and comm ({op="read"}). */
		n = (size_t)snprintf(key, sizeof(key), "%s", s->name);
		for (size_t l = 0; l < s->nlabels; l++) {
			if (!strcmp(s->label_keys[l], "pid") || !strcmp(s->label_keys[l], "comm"))
				continue;
			n += (size_t)snprintf(key + n, sizeof(key) - n, "%s%s=\"%s\"",
					      strchr(key, '{') ? "," : "{", s->label_keys[l],
					      s->label_values[l]);
			if (n >= sizeof(key))
				break;
		}
		if (n < sizeof(key) - 1 && strchr(key, '{'))
			strcat(key, "}");
		metrics = json_object_get(proc, "metrics");
		json_object_set_new(metrics, key, number_or_null(s->value));
	}
	json_object_foreach (by_pid, pid, p) {
		json_t *copy =
		    json_pack("{s:O,s:O,s:O}", "pid", json_object_get(p, "pid"), "comm",
			      json_object_get(p, "comm"), "metrics", json_object_get(p, "metrics"));

		/* pid as a number for clients; it came from a label. */
		if (copy)
			json_object_set_new(copy, "pid", json_integer(strtoll(pid, NULL, 10)));
		json_array_append_new(list, copy);
	}
	json_decref(by_pid);
	api_round_put(round);
	if (!list)
		return api_reply_error(req, 500, "out of memory");
	return api_reply_json(
	    req, 200, json_pack("{s:f,s:o}", "timestamp", clock_wall_s(), "processes", list));
}

/* ------------------------------------------------------------ status */

/* The LLM providers' breakers, the alert targets and the incidents. */
static void status_analysis(struct api *a, json_t *body)
{
	struct incidents *inc;
	struct llm_router *llm;
	struct alerts *al;

	pthread_mutex_lock(&a->lock);
	inc = a->incidents;
	llm = a->llm;
	al = a->alerts;
	pthread_mutex_unlock(&a->lock);
	if (llm)
		json_object_set_new(body, "llm", llm_router_status_json(llm));
	if (al)
		json_object_set_new(body, "alerts", alerts_status_json(al));
	if (inc)
		json_object_set_new(body, "incidents", incidents_status_json(inc));
}

enum MHD_Result api_handle_status(struct api_request *req)
{
	struct api *a = req->api;
	struct store_stats st;
	size_t attached, total, custom, series = 0, clients;
	double last = 0;
	uint64_t rounds;
	json_t *body;

	pthread_mutex_lock(&a->lock);
	attached = a->probes_attached;
	total = a->probes_total;
	rounds = a->rounds;
	custom = registry_size(a->custom);
	if (a->round) {
		last = a->round->timestamp;
		series = registry_size(a->round->reg);
	}
	pthread_mutex_unlock(&a->lock);
	pthread_mutex_lock(&a->stream_lock);
	clients = a->stream_count;
	pthread_mutex_unlock(&a->stream_lock);
	store_get_stats(a->store, &st);

	body = json_pack(
	    "{s:s,s:f,s:f,s:f,s:{s:I,s:o,s:I},s:{s:I,s:I},"
	    "s:{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:s?},s:{s:I,s:I,s:I,s:b}}",
	    "version", a->version, "started_at", a->started_at, "uptime_s",
	    clock_wall_s() - a->started_at, "interval_s", a->opts.interval_s, "rounds", "count",
	    (json_int_t)rounds, "last_timestamp", last > 0 ? json_real(last) : json_null(),
	    "series", (json_int_t)series, "probes", "attached", (json_int_t)attached, "total",
	    (json_int_t)total, "store", "writable", st.consecutive_failures == 0, "samples_written",
	    (json_int_t)st.samples_written, "samples_dropped", (json_int_t)st.samples_dropped,
	    "samples_buffered", (json_int_t)st.samples_buffered, "events_written",
	    (json_int_t)st.events_written, "write_errors", (json_int_t)st.write_errors,
	    "db_size_bytes", (json_int_t)st.db_size_bytes, "last_flush_latency_s",
	    st.last_flush_latency_s, "last_error", st.last_error ? st.last_error_text : NULL, "api",
	    "stream_clients", (json_int_t)clients, "custom_series", (json_int_t)custom, "requests",
	    (json_int_t)atomic_load(&a->requests_total), "tls", a->tls);
	if (!body)
		return api_reply_error(req, 500, "out of memory");
	status_analysis(a, body);
	return api_reply_json(req, 200, body);
}

/* ------------------------------------------------------------ history */

static json_t *series_info_json(const struct store_series_info *info)
{
	return json_pack("{s:s,s:o,s:s}", "name", info->name, "labels",
			 labels_json(info->label_keys, info->label_values, info->nlabels), "type",
			 metric_type_name(info->type));
}

enum MHD_Result api_handle_series(struct api_request *req)
{
	const char *match = arg(req, "match");
	struct store_series_list *list = NULL;
	struct store_selector sel;
	char buf[1024];
	json_t *out;
	int r;

	if (match && api_selector_parse(match, buf, sizeof(buf), &sel) < 0)
		return api_reply_error(req, 400, "match: not a selector NAME{label=\"value\",...}");
	r = store_list_series(req->api->store, match ? &sel : NULL, &list);
	if (r < 0)
		return api_reply_errno(req, r, "series");
	out = json_array();
	for (size_t i = 0; out && i < list->n; i++)
		if (json_array_append_new(out, series_info_json(&list->series[i]))) {
			json_decref(out);
			out = NULL;
		}
	store_series_list_free(list);
	if (!out)
		return api_reply_error(req, 500, "out of memory");
	return api_reply_json(req, 200, json_pack("{s:o}", "series", out));
}

static json_t *range_result_json(const struct store_range_result *res)
{
	json_t *series = json_array();

	for (size_t i = 0; series && i < res->nseries; i++) {
		const struct store_range_series *rs = &res->series[i];
		json_t *s = series_info_json(&rs->info), *points = json_array();

		for (size_t k = 0; points && k < rs->npoints; k++)
			if (json_array_append_new(points,
						  json_pack("[f,o]", rs->points[k].ts,
							    number_or_null(rs->points[k].value))))
				break;
		if (!s || !points || json_object_set_new(s, "points", points) ||
		    json_array_append_new(series, s)) {
			json_decref(series);
			return NULL;
		}
	}
	return json_pack("{s:s,s:f,s:o}", "tier", store_tier_name(res->tier), "step", res->step,
			 "series", series);
}

enum MHD_Result api_handle_query_range(struct api_request *req)
{
	const char *series = arg(req, "series"), *agg = arg(req, "agg");
	struct store_range_query q = {0};
	struct store_range_result *res = NULL;
	char buf[1024];
	json_t *out;
	int r;

	if (!series)
		return api_reply_error(req, 400, "series is required: NAME or NAME{label=\"v\"}");
	if (api_selector_parse(series, buf, sizeof(buf), &q.selector) < 0)
		return api_reply_error(req, 400,
				       "series: not a selector NAME{label=\"value\",...}");
	double now = clock_wall_s();

	q.to = now;
	if (time_arg(req, "to", now, &q.to) < 0)
		return api_reply_error(req, 400, TIME_ARG_HELP, "to");
	q.from = q.to - RANGE_DEFAULT_S;
	if (time_arg(req, "from", now, &q.from) < 0)
		return api_reply_error(req, 400, TIME_ARG_HELP, "from");
	if (q.from > q.to)
		return api_reply_error(req, 400, "from is after to");
	q.step = fmax(1.0, (q.to - q.from) / RANGE_DEFAULT_STEPS);
	if (duration_arg(req, "step", &q.step) < 0 || !(q.step > 0))
		return api_reply_error(req, 400,
				       "step: not a positive duration (seconds, or 5s, 1m, 1h)");
	/* an average of a counter's raw values means nothing: its rate does */
	if (!agg)
		agg = metric_type_now(req, q.selector.name) == METRIC_COUNTER ? "rate" : "avg";
	if (store_agg_parse(agg, &q.agg, &q.quantile) < 0)
		return api_reply_error(req, 400,
				       "agg: not one of avg, min, max, sum, last, rate, pN");

	/* The key is the query after parsing: the same question in other
	 * words shares the answer. %.17g keeps every bit of the doubles. */
	struct store_stats st;
	char key[API_QCACHE_KEY_MAX], *body;
	size_t len;

	store_get_stats(req->api->store, &st);
	if (snprintf(key, sizeof(key), "%s|%.17g|%.17g|%.17g|%d|%.17g", series, q.from, q.to,
		     q.step, (int)q.agg, q.quantile) < (int)sizeof(key)) {
		body =
		    api_query_cache_get(&req->api->qcache, st.flushes, clock_mono_s(), key, &len);
		if (body)
			return api_reply_text(req, 200, "application/json", body, len);
	} else {
		key[0] = 0;
	}

	r = store_query_range(req->api->store, &q, &res);
	if (r == -EINVAL)
		return api_reply_error(
		    req, 400, "query refused: the aggregation may not fit the series type");
	if (r == -E2BIG)
		return api_reply_error(
		    req, 400, "too many series or steps; narrow the selector or raise step");
	if (r < 0)
		return api_reply_errno(req, r, "query_range");
	out = range_result_json(res);
	store_range_result_free(res);
	body = out ? json_dumps(out, JSON_COMPACT) : NULL;
	json_decref(out);
	if (!body)
		return api_reply_error(req, 500, "out of memory");
	len = strlen(body);
	if (key[0])
		api_query_cache_put(&req->api->qcache, st.flushes, clock_mono_s(), key, body, len);
	return api_reply_text(req, 200, "application/json", body, len);
}

/*
 * The from, to and limit of a list endpoint: to defaults to now, from to
 * span before it, limit to EVENTS_DEFAULT_LIMIT (1 to EVENTS_MAX_LIMIT).
 * Returns true, or false with *reply holding the 400 answer.
 */
static bool list_window(struct api_request *req, double span, double *from, double *to,
			size_t *limit, enum MHD_Result *reply)
{
	double lim = EVENTS_DEFAULT_LIMIT;

	double now = clock_wall_s();

	*to = now;
	if (time_arg(req, "to", now, to) < 0) {
		*reply = api_reply_error(req, 400, TIME_ARG_HELP, "to");
		return false;
	}
	*from = *to - span;
	if (time_arg(req, "from", now, from) < 0) {
		*reply = api_reply_error(req, 400, TIME_ARG_HELP, "from");
		return false;
	}
	if (*from > *to) {
		*reply = api_reply_error(req, 400, "from is after to");
		return false;
	}
	if (number_arg(req, "limit", &lim) < 0 || lim < 1 || lim > EVENTS_MAX_LIMIT ||
	    lim != floor(lim)) {
		*reply = api_reply_error(req, 400, "limit: not a whole number from 1 to %d",
					 EVENTS_MAX_LIMIT);
		return false;
	}
	*limit = (size_t)lim;
	return true;
}

enum MHD_Result api_handle_events(struct api_request *req)
{
	const char *order = arg(req, "order");
	struct store_event_query q = {.type = arg(req, "type")};
	struct store_event_list *list = NULL;
	enum MHD_Result reply;
	json_t *out;
	int r;

	if (!list_window(req, RANGE_DEFAULT_S, &q.from, &q.to, &q.limit, &reply))
		return reply;
	if (order && strcmp(order, "asc") && strcmp(order, "desc"))
		return api_reply_error(req, 400, "order: not asc or desc");
	if (q.type && !event_type_known(q.type))
		return api_reply_error(
		    req, 400,
		    "type: not an event type (exec, fork, exit, oom_kill, slow_io, "
		    "tcp_retransmit, tcp_close)");
	q.newest_first = order && !strcmp(order, "desc");
	r = store_query_events(req->api->store, &q, &list);
	if (r == -EINVAL)
		return api_reply_error(req, 400, "type: not an event type [a-z0-9_]{1,31}");
	if (r < 0)
		return api_reply_errno(req, r, "events");
	out = json_array();
	for (size_t i = 0; out && i < list->n; i++) {
		const struct store_event *e = &list->events[i];

		if (json_array_append_new(out, json_pack("{s:I,s:f,s:s,s:i,s:s,s:O?}", "id",
							 (json_int_t)e->id, "timestamp", e->ts,
							 "type", e->type, "pid", (int)e->pid,
							 "comm", e->comm, "fields", e->fields))) {
			json_decref(out);
			out = NULL;
		}
	}
	store_event_list_free(list);
	if (!out)
		return api_reply_error(req, 500, "out of memory");
	return api_reply_json(req, 200, json_pack("{s:o}", "events", out));
}

/* GET /api/v1/anomalies: the models' anomalies overlapping [from, to],
 * newest first, at least `severity`, of (or contributed to by) `series`. */
enum MHD_Result api_handle_anomalies(struct api_request *req)
{
	struct store_anomaly_query q = {.severity = arg(req, "severity"),
					.series = arg(req, "series")};
	struct store_anomaly_list *list = NULL;
	enum MHD_Result reply;
	json_t *out;
	int r;

	if (!list_window(req, ANOMALIES_DEFAULT_S, &q.from, &q.to, &q.limit, &reply))
		return reply;
	if (q.severity && strcmp(q.severity, "info") && strcmp(q.severity, "warning") &&
	    strcmp(q.severity, "critical"))
		return api_reply_error(req, 400, "severity: not info, warning or critical");
	if (q.series && (!q.series[0] || strlen(q.series) >= ANOMALY_SERIES_MAX))
		return api_reply_error(req, 400,
				       "series: not a series key name{labels}:stat shorter than %d "
				       "bytes",
				       ANOMALY_SERIES_MAX);
	r = store_query_anomalies(req->api->store, &q, &list);
	if (r < 0)
		return api_reply_errno(req, r, "anomalies");
	out = json_array();
	for (size_t i = 0; out && i < list->n; i++) {
		const struct store_anomaly *a = &list->items[i];
		json_t *contrib = json_loads(a->contributors, JSON_REJECT_DUPLICATES, NULL);
		json_t *detectors = json_array();

		for (const char *d = a->detectors; detectors && *d;) {
			size_t n = strcspn(d, ",");

			json_array_append_new(detectors, json_stringn(d, n));
			d += n + (d[n] == ',');
		}
		if (!json_is_array(contrib)) {
			json_decref(contrib);
			contrib = json_array();
		}
		if (json_array_append_new(
			out, json_pack("{s:I,s:s,s:f,s:f,s:b,s:s,s:f,s:o,s:o}", "id",
				       (json_int_t)a->id, "series", a->series, "start", a->start_ts,
				       "end", a->end_ts, "open", a->open, "severity", a->severity,
				       "peak_score", a->peak_score, "detectors", detectors,
				       "contributors", contrib))) {
			json_decref(out);
			out = NULL;
		}
	}
	store_anomaly_list_free(list);
	if (!out)
		return api_reply_error(req, 500, "out of memory");
	return api_reply_json(req, 200, json_pack("{s:o}", "anomalies", out));
}
