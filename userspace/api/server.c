/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * server.c - the REST API's HTTP server: libmicrohttpd with an internal
 * epoll thread pool, its connection limits, request bodies up to a size
 * limit, and dispatch: the route table, the auth gate (token, role, rate
 * limit), the query-parameter check, then the route's handler. Starting
 * and stopping the server is here too; what it serves lives in the other
 * files of the module (see api_internal.h).
 *
 * Contracts: every request gets exactly one response. A body larger than
 * max_body_bytes is answered 413 without being kept (a declared one
 * before it is read; a chunked one is read and thrown away up to
 * DISCARD_FACTOR times the limit, then the connection is dropped). A
 * request for a route that needs a role is refused 401 without a valid
 * token and 403 with too low a role; failed tokens count against the
 * client address's rate limit. api_stop() ends streams before it stops
 * the threads, so no connection is left suspended.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "api/api_internal.h"
#include "util/clock.h"
#include "util/error.h"

/* A chunked body past the limit is read and thrown away up to this many
 * times the limit, then the connection is dropped. */
#define DISCARD_FACTOR 16

/* TLS 1.2 and 1.3 only; GnuTLS's NORMAL set otherwise. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

void api_options_default(struct api_options *o)
{
	*o = (struct api_options){
	    .listen_host = "127.0.0.1",
	    .listen_port = 9876,
	    .threads = 2,
	    .max_connections = 256,
	    .connection_timeout_s = 30,
	    .request_timeout_s = 10,
	    .max_body_bytes = 1 << 20,
	    .rate_limit = 50,
	    .custom_max_series = 1000,
	    .custom_series_ttl_s = 600,
	    .custom_samples_rate = 1000,
	    .max_stream_clients = 16,
	    .interval_s = 1.0,
	    .version = "unknown",
	    .forecast_horizon_s = 3600,
	    .retention_raw_s = 86400,
	    .retention_1m_s = 30 * 86400,
	};
}

bool api_host_is_loopback(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;

	if (!host)
		return false;
	if (strcasecmp(host, "localhost") == 0)
		return true;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return false;
}

uint16_t api_port(const struct api *a)
{
	return a ? a->port : 0;
}

/* ------------------------------------------------------------ dispatch */

struct request_ctx {
	struct api_request req;
	const struct api_route *route; /* NULL until admitted */
	bool answered;		       /* a response was queued before the body */
	char *body;
	size_t len, cap;
	size_t reserved; /* bytes of a->body_bytes this request holds */
	bool too_big, over_budget;
	size_t discarded;
};

/* Only "Bearer TOKEN" (RFC 6750); a bare token is refused. */
static int authenticate(struct api *a, struct MHD_Connection *conn, struct auth_identity *who)
{
	const char *h =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

	if (!a->auth || !h || strlen(h) > AUTH_TOKEN_MAX + 16 || strncasecmp(h, "Bearer ", 7))
		return -EACCES;
	return auth_check(a->auth, h, who);
}

struct param_check {
	const char *allowed; /* "a,b,c" or NULL */
	char unknown[64];
};

static enum MHD_Result check_param(void *cls, enum MHD_ValueKind kind, const char *key,
				   const char *value)
{
	struct param_check *pc = cls;
	size_t klen = strlen(key);

	for (const char *p = pc->allowed; p && *p;) {
		size_t n = strcspn(p, ",");

		if (n == klen && strncmp(p, key, n) == 0)
			return MHD_YES;
		p += n + (p[n] == ',');
	}
	snprintf(pc->unknown, sizeof(pc->unknown), "%s", key);
	return MHD_NO;
}

/* A listener on loopback answers only requests that name it by a loopback
 * name: a web page whose own name was rebound to 127.0.0.1 (DNS
 * rebinding) sends its own name as Host. No Host (HTTP/1.0) is allowed. */
static bool host_allowed(struct api *a, struct MHD_Connection *conn)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	char host[256];
	size_t n;

	if (!a->host_check || !h)
		return true;
	if (h[0] == '[') {
		n = strcspn(h + 1, "]");
		if (h[1 + n] != ']' || (h[2 + n] && h[2 + n] != ':'))
			return false;
		h++;
	} else {
		n = strcspn(h, ":");
	}
	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	return api_host_is_loopback(host);
}

/* "application/json", with parameters (charset) or without. */
static bool content_type_json(struct MHD_Connection *conn)
{
	const char *ct =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
	size_t n = strlen("application/json");

	if (!ct)
		return false;
	while (*ct == ' ' || *ct == '\t')
		ct++;
	return !strncasecmp(ct, "application/json", n) &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ' || ct[n] == '\t');
}

static bool content_length_too_big(const char *value, size_t max)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(value, &end, 10);
	return errno == ERANGE || n > max;
}

static enum MHD_Result reply_limited(struct api_request *req, const char *key, double retry_after)
{
	char retry[32];

	atomic_fetch_add(&req->api->rate_limited_total, 1);
	api_audit(req->api, API_AUDIT_RATE_LIMITED, key, req->authenticated ? req->who.user : NULL,
		  "%s %.64s", req->method, req->path);
	snprintf(retry, sizeof(retry), "%.0f", retry_after);
	return api_reply_error_header(req, 429, MHD_HTTP_HEADER_RETRY_AFTER, retry,
				      "rate limit of %u requests per second exceeded",
				      req->api->opts.rate_limit);
}

/*
 * Everything decided from the request line and headers, before any of the
 * body is read: Host, %00, the route, the token, the rate limit, the role,
 * the content type, the declared length and the query parameters. Returns
 * with ctx->route set when the request may go on, else with a response
 * queued (ctx->answered).
 */
static enum MHD_Result admit(struct api *a, struct request_ctx *ctx, const char *url,
			     const char *method)
{
	struct api_request *req = &ctx->req;
	struct MHD_Connection *conn = req->conn;
	const struct api_route *route = NULL;
	const char *match_method = strcmp(method, "HEAD") ? method : "GET";
	char allow[64] = "", key[API_RATE_KEY_MAX];
	struct api_conn *ac = api_conn_of(conn);
	struct param_check pc = {0};
	enum auth_role min_role;
	const char *cl;
	double retry_after;

	ctx->answered = true;
	if (!host_allowed(a, conn)) {
		api_client_key(conn, key, sizeof(key));
		api_audit(a, API_AUDIT_BAD_HOST, key, NULL, "Host: %.64s",
			  MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST));
		return api_reply_error(req, 421,
				       "the Host header does not name this server (a loopback "
				       "address or localhost)");
	}
	if (ac && ac->bad_escape)
		return api_reply_error(req, 400, "%%00 (a NUL byte) is not allowed in a URL");

	for (size_t i = 0; i < api_routes_count; i++) {
		if (!api_route_match(api_routes[i].pattern, url, req))
			continue;
		if (strcmp(api_routes[i].method, match_method) == 0) {
			route = &api_routes[i];
			break;
		}
		if (!strstr(allow, api_routes[i].method))
			snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
				 allow[0] ? ", " : "", api_routes[i].method);
	}
	if (!route && allow[0])
		return api_reply_error_header(req, 405, MHD_HTTP_HEADER_ALLOW, allow,
					      "%s is not allowed here; allowed: %s", method, allow);
	if (!route)
		return api_reply_error(req, 404, "no such endpoint");

	min_role = api_route_min_role(route, &a->opts);
	if (min_role > AUTH_ROLE_NONE) {
		if (authenticate(a, conn, &req->who) < 0) {
			atomic_fetch_add(&a->auth_failures_total, 1);
			api_client_key(conn, key, sizeof(key));
			api_audit(a, API_AUDIT_BAD_TOKEN, key, NULL, "%s %.64s", method, url);
			/* Failed tokens have buckets of their own per address:
			 * guessing is limited without starving that address's
			 * /healthz and /metrics. */
			if (api_rate_take(&a->auth_fail_limiter, key, clock_mono_s(),
					  &retry_after) < 0)
				return reply_limited(req, key, retry_after);
			return api_reply_error_header(req, 401, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
						      "Bearer realm=\"kpulse\"",
						      "a valid bearer token is required");
		}
		req->authenticated = true;
		/* Per API token; login tokens (id 0) per user. */
		snprintf(key, sizeof(key), "tok:%lld:%.64s", (long long)req->who.token_id,
			 req->who.user);
	} else {
		api_client_key(conn, key, sizeof(key));
	}
	if (api_rate_take(&a->limiter, key, clock_mono_s(), &retry_after) < 0)
		return reply_limited(req, key, retry_after);
	if (req->authenticated && req->who.role < min_role)
		return api_reply_error(req, 403, "this needs the %s role",
				       auth_role_name(min_role));
	/* A JSON body only with its type: a cross-site form or a no-cors
	 * fetch can send text/plain without a preflight, never JSON. */
	if (route->body && !content_type_json(conn))
		return api_reply_error(req, 415, "Content-Type must be application/json");

	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && content_length_too_big(cl, a->opts.max_body_bytes))
		return api_reply_error(req, 413, "request body larger than %zu bytes",
				       a->opts.max_body_bytes);

	pc.allowed = route->query_params;
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, check_param, &pc);
	if (pc.unknown[0])
		return api_reply_error(req, 400, "unknown query parameter \"%s\"", pc.unknown);
	ctx->answered = false;
	ctx->route = route;
	return MHD_YES;
}

/* Takes n more bytes of the budget shared by every body being received. */
static bool body_reserve(struct api *a, struct request_ctx *ctx, size_t n)
{
	size_t budget = API_BODY_BUDGET_FACTOR * a->opts.max_body_bytes;
	size_t cur = atomic_load(&a->body_bytes);

	do {
		if (cur + n > budget)
			return false;
	} while (!atomic_compare_exchange_weak(&a->body_bytes, &cur, cur + n));
	ctx->reserved += n;
	return true;
}

static void body_drop(struct api *a, struct request_ctx *ctx)
{
	free(ctx->body);
	ctx->body = NULL;
	ctx->len = ctx->cap = 0;
	atomic_fetch_sub(&a->body_bytes, ctx->reserved);
	ctx->reserved = 0;
}

/* Keeps n more body bytes, within max_body_bytes and the shared budget;
 * what does not fit is counted and thrown away. MHD_NO drops the
 * connection (a chunked body far past the limit, or no memory). */
static enum MHD_Result body_append(struct api *a, struct request_ctx *ctx, const char *data,
				   size_t n)
{
	if (ctx->too_big || ctx->over_budget || ctx->len + n > a->opts.max_body_bytes) {
		ctx->too_big = !ctx->over_budget;
		body_drop(a, ctx);
		ctx->discarded += n;
		return ctx->discarded > DISCARD_FACTOR * a->opts.max_body_bytes ? MHD_NO : MHD_YES;
	}
	if (ctx->len + n + 1 > ctx->cap) {
		size_t cap = ctx->cap ? ctx->cap : 4096;
		char *p;

		while (cap < ctx->len + n + 1)
			cap *= 2;
		if (cap > a->opts.max_body_bytes + 1)
			cap = a->opts.max_body_bytes + 1;
		if (!body_reserve(a, ctx, cap - ctx->cap)) {
			ctx->over_budget = true;
			body_drop(a, ctx);
			ctx->discarded += n;
			return MHD_YES;
		}
		p = realloc(ctx->body, cap);
		if (!p)
			return MHD_NO;
		ctx->body = p;
		ctx->cap = cap;
	}
	memcpy(ctx->body + ctx->len, data, n);
	ctx->len += n;
	ctx->body[ctx->len] = '\0';
	return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct api *a = cls;
	struct request_ctx *ctx = *con_cls;

	if (!ctx) {
		ctx = calloc(1, sizeof(*ctx));
		if (!ctx)
			return MHD_NO;
		*con_cls = ctx;
		ctx->req =
		    (struct api_request){.api = a, .conn = conn, .method = method, .path = url};
		atomic_fetch_add(&a->requests_total, 1);
		return admit(a, ctx, url, method);
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		/* Refused before its body: what still comes is not kept. */
		if (ctx->answered)
			return MHD_YES;
		return body_append(a, ctx, upload_data, n);
	}
	if (ctx->answered)
		return MHD_YES;
	api_conn_received(a, api_conn_of(conn));
	ctx->req.body = ctx->body ? ctx->body : "";
	ctx->req.body_len = ctx->len;
	if (ctx->too_big) {
		ctx->answered = true;
		return api_reply_error(&ctx->req, 413, "request body larger than %zu bytes",
				       a->opts.max_body_bytes);
	}
	if (ctx->over_budget) {
		ctx->answered = true;
		return api_reply_error_header(&ctx->req, 503, MHD_HTTP_HEADER_RETRY_AFTER, "1",
					      "too many request bodies being received; retry");
	}
	return ctx->route->handler(&ctx->req);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct api *a = cls;
	struct request_ctx *ctx = *con_cls;

	if (ctx) {
		body_drop(a, ctx);
		if (ctx->req.login) {
			explicit_bzero(ctx->req.login, sizeof(*ctx->req.login));
			free(ctx->req.login);
		}
		free(ctx);
		*con_cls = NULL;
	}
	api_conn_next(a, api_conn_of(conn));
}

/* ------------------------------------------------------------ lifetime */

int api_start(const struct api_options *o, struct store *store, struct auth *auth,
	      struct api **ret_api, char *err, size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
	unsigned per_ip;
	const union MHD_DaemonInfo *info;
	/* HTTPS options when TLS is on; MHD_OPTION_END (0) ends the array. */
	struct MHD_OptionItem tls_opts[4] = {{MHD_OPTION_END, 0, NULL}};
	char port[8];
	struct api *a;
	int r;

	if (!o || !o->listen_host || !store || o->threads == 0 || o->max_connections == 0 ||
	    o->max_body_bytes == 0 || o->rate_limit == 0 || o->max_stream_clients == 0 ||
	    strlen(o->listen_host) >= sizeof(a->listen_host))
		return error_set(err, errlen, -EINVAL, "invalid API options");
	if (!api_host_is_loopback(o->listen_host) && !o->metrics_auth &&
	    !o->allow_remote_unauthenticated)
		return error_set(err, errlen, -EPERM,
				 "%s is not a loopback address and /metrics needs no token; set "
				 "KPULSE_METRICS_AUTH=on or KPULSE_ALLOW_REMOTE_UNAUTHENTICATED=on",
				 o->listen_host);
	snprintf(port, sizeof(port), "%u", o->listen_port);
	r = getaddrinfo(o->listen_host, port, &hints, &ai);
	if (r != 0 || !ai)
		return error_set(err, errlen, -EADDRNOTAVAIL, "cannot resolve %s: %s",
				 o->listen_host, gai_strerror(r));

	/* Memory under load: glibc gives every thread that contends an arena
	 * of its own (up to 8 per core), each keeping what it freed; two
	 * arenas serve this daemon's few threads. Blocks of 64 KiB and more
	 * (request bodies, large answers) are mapped and unmapped on free
	 * instead of growing a heap that is never given back. Process-wide,
	 * set here because the API is what brings the load. */
	mallopt(M_ARENA_MAX, 2);
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	mallopt(M_TRIM_THRESHOLD, 256 * 1024);

	a = calloc(1, sizeof(*a));
	if (!a) {
		freeaddrinfo(ai);
		return error_set(err, errlen, -ENOMEM, "out of memory");
	}
	a->opts = *o;
	snprintf(a->listen_host, sizeof(a->listen_host), "%s", o->listen_host);
	snprintf(a->version, sizeof(a->version), "%s", o->version ? o->version : "unknown");
	a->opts.listen_host = a->listen_host;
	a->opts.version = a->version;
	a->store = store;
	a->auth = auth;
	a->started_at = clock_wall_s();
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->stream_lock, NULL);
	pthread_mutex_init(&a->guard.lock, NULL);
	pthread_cond_init(&a->guard.wake, NULL);
	pthread_mutex_init(&a->login.lock, NULL);
	pthread_cond_init(&a->login.wake, NULL);
	a->host_check = api_host_is_loopback(o->listen_host);
	r = api_rate_init(&a->limiter, o->rate_limit);
	if (r == 0)
		r = api_rate_init(&a->auth_fail_limiter, o->rate_limit);
	if (r == 0)
		r = api_login_limiter_init(&a->login_limiter);
	if (a->opts.custom_samples_rate == 0)
		a->opts.custom_samples_rate = 1000;
	if (r == 0)
		r = api_audit_init(&a->audit);
	if (r == 0)
		r = api_rate_init_burst(
		    &a->ingest_limiter, a->opts.custom_samples_rate,
		    fmax(5.0 * a->opts.custom_samples_rate, API_INGEST_MAX_ITEMS));
	if (r == 0)
		r = api_query_cache_init(&a->qcache);
	a->custom = registry_new();
	a->openapi = api_openapi_build(a->version);
	if (r < 0 || !a->custom || !a->openapi) {
		freeaddrinfo(ai);
		a->mhd = NULL;
		api_stop(a);
		return error_set(err, errlen, -ENOMEM, "out of memory");
	}
	registry_begin(a->custom, a->started_at, 0);
	a->custom_period_start = a->started_at;
	if (a->opts.custom_series_ttl_s == 0)
		a->opts.custom_series_ttl_s = 600;
	if (a->opts.custom_max_series == 0)
		a->opts.custom_max_series = 1000;
	if (a->opts.custom_token_max_series == 0)
		a->opts.custom_token_max_series =
		    a->opts.custom_max_series / 4 ? a->opts.custom_max_series / 4 : 1;
	r = api_tls_load(a, o, err, errlen);
	/* The paths were only needed to read the files; do not keep them. */
	a->opts.tls_cert_file = a->opts.tls_key_file = NULL;
	if (r < 0) {
		freeaddrinfo(ai);
		api_stop(a);
		return r;
	}
	if (a->tls) {
		flags |= MHD_USE_TLS;
		tls_opts[0] =
		    (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, a->tls_cert_pem};
		tls_opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, a->tls_key_pem};
		tls_opts[2] =
		    (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES};
	}

	per_ip =
	    o->max_connections_per_ip ? o->max_connections_per_ip : (o->max_connections + 3) / 4;
	if (o->request_timeout_s == 0) {
		api_stop(a);
		freeaddrinfo(ai);
		return error_set(err, errlen, -EINVAL, "invalid API options");
	}
	r = api_conn_guard_start(a);
	if (r == 0)
		r = api_login_worker_start(a);
	if (r < 0) {
		api_stop(a);
		freeaddrinfo(ai);
		return error_set(err, errlen, r, "cannot start the API's threads: %s",
				 strerror(-r));
	}
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	a->mhd = MHD_start_daemon(
	    flags, o->listen_port, NULL, NULL, on_request, a, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)o->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->connection_timeout_s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONNECTION_MEMORY,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, a, MHD_OPTION_NOTIFY_CONNECTION,
	    api_conn_notify, a, MHD_OPTION_UNESCAPE_CALLBACK, api_unescape, a, MHD_OPTION_ARRAY,
	    tls_opts, MHD_OPTION_END);
	r = errno;
	freeaddrinfo(ai);
	if (!a->mhd) {
		/* The files passed tls_check_pem(), so GnuTLS refusing them
		 * (an unsupported key type, say) is rare but possible. */
		int ret = error_set(
		    err, errlen, r == EADDRINUSE ? -EADDRINUSE : -EIO,
		    "cannot listen on %s port %u: %s%s", o->listen_host, o->listen_port,
		    r ? strerror(r) : "libmicrohttpd refused to start",
		    a->tls ? " (or GnuTLS refused KPULSE_TLS_CERT / KPULSE_TLS_KEY)" : "");

		api_stop(a);
		return ret;
	}
	info = MHD_get_daemon_info(a->mhd, MHD_DAEMON_INFO_BIND_PORT);
	a->port = info ? info->port : o->listen_port;
	*ret_api = a;
	return 0;
}

struct api *api_stop(struct api *a)
{
	if (!a)
		return NULL;
	/* Suspended connections (streams, logins waiting for the worker)
	 * must be resumed before MHD_stop_daemon(), or they leak. */
	api_login_worker_stop(a);
	api_conn_guard_stop(a);
	if (a->mhd) {
		api_stream_stop(a);
		MHD_stop_daemon(a->mhd);
	}
	round_unref(a->round);
	api_query_cache_destroy(&a->qcache);
	api_custom_owners_free(a);
	registry_free(a->custom);
	json_decref(a->openapi);
	api_tls_free(a);
	api_rate_destroy(&a->limiter);
	api_rate_destroy(&a->login_limiter);
	api_rate_destroy(&a->auth_fail_limiter);
	api_rate_destroy(&a->ingest_limiter);
	api_audit_destroy(&a->audit);
	pthread_mutex_destroy(&a->guard.lock);
	pthread_cond_destroy(&a->guard.wake);
	pthread_mutex_destroy(&a->login.lock);
	pthread_cond_destroy(&a->login.wake);
	pthread_mutex_destroy(&a->stream_lock);
	pthread_mutex_destroy(&a->lock);
	free(a);
	return NULL;
}
