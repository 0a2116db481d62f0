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

struct request_ctx {
	char *body;
	size_t len, cap;
	bool too_big;
	size_t discarded;
};

void api_options_default(struct api_options *o)
{
	*o = (struct api_options){
	    .listen_host = "127.0.0.1",
	    .listen_port = 9876,
	    .threads = 2,
	    .max_connections = 64,
	    .connection_timeout_s = 30,
	    .max_body_bytes = 1 << 20,
	    .rate_limit = 50,
	    .custom_max_series = 1000,
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

static int authenticate(struct api *a, struct MHD_Connection *conn, struct auth_identity *who)
{
	const char *h =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);

	if (!a->auth || !h || strlen(h) > AUTH_TOKEN_MAX + 16)
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

static enum MHD_Result dispatch(struct api *a, struct MHD_Connection *conn, const char *url,
				const char *method, struct request_ctx *ctx)
{
	struct api_request req = {.api = a, .conn = conn, .method = method, .path = url};
	const struct api_route *route = NULL;
	char allow[64] = "", key[API_RATE_KEY_MAX], retry[32];
	struct param_check pc = {0};
	enum auth_role min_role;
	double retry_after;

	req.body = ctx->body ? ctx->body : "";
	req.body_len = ctx->len;
	if (ctx->too_big)
		return api_reply_error(&req, 413, "request body larger than %zu bytes",
				       a->opts.max_body_bytes);

	for (size_t i = 0; i < api_routes_count; i++) {
		if (!api_route_match(api_routes[i].pattern, url, &req))
			continue;
		if (strcmp(api_routes[i].method, method) == 0) {
			route = &api_routes[i];
			break;
		}
		if (!strstr(allow, api_routes[i].method))
			snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
				 allow[0] ? ", " : "", api_routes[i].method);
	}
	if (!route && allow[0])
		return api_reply_error_header(&req, 405, MHD_HTTP_HEADER_ALLOW, allow,
					      "%s is not allowed here; allowed: %s", method, allow);
	if (!route)
		return api_reply_error(&req, 404, "no such endpoint");

	min_role = api_route_min_role(route, &a->opts);
	if (min_role > AUTH_ROLE_NONE) {
		if (authenticate(a, conn, &req.who) < 0) {
			atomic_fetch_add(&a->auth_failures_total, 1);
			/* Failed attempts count against the address, so guessing
			 * tokens is rate limited too. */
			api_client_key(conn, key, sizeof(key));
			if (api_rate_take(&a->limiter, key, clock_mono_s(), &retry_after) < 0)
				goto limited;
			return api_reply_error_header(&req, 401, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
						      "Bearer realm=\"kpulse\"",
						      "a valid bearer token is required");
		}
		req.authenticated = true;
		/* Per API token; login tokens (id 0) per user. */
		snprintf(key, sizeof(key), "tok:%lld:%.64s", (long long)req.who.token_id,
			 req.who.user);
	} else {
		api_client_key(conn, key, sizeof(key));
	}
	if (api_rate_take(&a->limiter, key, clock_mono_s(), &retry_after) < 0)
		goto limited;
	if (req.authenticated && req.who.role < min_role)
		return api_reply_error(&req, 403, "this needs the %s role",
				       auth_role_name(min_role));

	pc.allowed = route->query_params;
	MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, check_param, &pc);
	if (pc.unknown[0])
		return api_reply_error(&req, 400, "unknown query parameter \"%s\"", pc.unknown);
	return route->handler(&req);

limited:
	atomic_fetch_add(&a->rate_limited_total, 1);
	snprintf(retry, sizeof(retry), "%.0f", retry_after);
	return api_reply_error_header(&req, 429, MHD_HTTP_HEADER_RETRY_AFTER, retry,
				      "rate limit of %u requests per second exceeded",
				      a->opts.rate_limit);
}

static bool content_length_too_big(const char *value, size_t max)
{
	char *end;
	unsigned long long n;

	errno = 0;
	n = strtoull(value, &end, 10);
	return errno == ERANGE || n > max;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **con_cls)
{
	struct api *a = cls;
	struct request_ctx *ctx = *con_cls;

	if (!ctx) {
		const char *cl;

		ctx = calloc(1, sizeof(*ctx));
		if (!ctx)
			return MHD_NO;
		*con_cls = ctx;
		atomic_fetch_add(&a->requests_total, 1);
		/* Refuse a declared oversize body before reading any of it. */
		cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						 MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && content_length_too_big(cl, a->opts.max_body_bytes)) {
			struct api_request req = {.api = a, .conn = conn};

			return api_reply_error(&req, 413, "request body larger than %zu bytes",
					       a->opts.max_body_bytes);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		size_t n = *upload_data_size;

		*upload_data_size = 0;
		if (ctx->too_big || ctx->len + n > a->opts.max_body_bytes) {
			ctx->too_big = true;
			free(ctx->body);
			ctx->body = NULL;
			ctx->len = ctx->cap = 0;
			ctx->discarded += n;
			return ctx->discarded > DISCARD_FACTOR * a->opts.max_body_bytes ? MHD_NO
											: MHD_YES;
		}
		if (ctx->len + n + 1 > ctx->cap) {
			size_t cap = ctx->cap ? ctx->cap : 4096;
			char *p;

			while (cap < ctx->len + n + 1)
				cap *= 2;
			p = realloc(ctx->body, cap);
			if (!p)
				return MHD_NO;
			ctx->body = p;
			ctx->cap = cap;
		}
		memcpy(ctx->body + ctx->len, upload_data, n);
		ctx->len += n;
		ctx->body[ctx->len] = '\0';
		return MHD_YES;
	}
	return dispatch(a, conn, url, method, ctx);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct request_ctx *ctx = *con_cls;

	if (ctx) {
		free(ctx->body);
		free(ctx);
		*con_cls = NULL;
	}
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
	r = api_rate_init(&a->limiter, o->rate_limit);
	if (r == 0)
		r = api_login_limiter_init(&a->login_limiter);
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
	    o->max_connections_per_ip ? o->max_connections_per_ip : (o->max_connections + 1) / 2;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	a->mhd = MHD_start_daemon(
	    flags, o->listen_port, NULL, NULL, on_request, a, MHD_OPTION_SOCK_ADDR, ai->ai_addr,
	    MHD_OPTION_THREAD_POOL_SIZE, (unsigned)o->threads, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)o->max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)o->connection_timeout_s,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)API_CONNECTION_MEMORY,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, a, MHD_OPTION_ARRAY, tls_opts,
	    MHD_OPTION_END);
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
	if (a->mhd) {
		/* Suspended stream connections must be resumed before
		 * MHD_stop_daemon(), or they leak. */
		api_stream_stop(a);
		MHD_stop_daemon(a->mhd);
	}
	round_unref(a->round);
	api_query_cache_destroy(&a->qcache);
	registry_free(a->custom);
	json_decref(a->openapi);
	api_tls_free(a);
	api_rate_destroy(&a->limiter);
	api_rate_destroy(&a->login_limiter);
	pthread_mutex_destroy(&a->stream_lock);
	pthread_mutex_destroy(&a->lock);
	free(a);
	return NULL;
}
