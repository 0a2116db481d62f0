/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * server.c - the REST API's HTTP server: libmicrohttpd with an internal
 * epoll thread pool, its connection limits, request bodies up to a size
 * limit, dispatch through the route table, the auth gate (token, role,
 * rate limit) and the JSON replies. Also api_publish(), the only entry
 * point the collector thread uses. With a certificate and key configured it
 * serves HTTPS through libmicrohttpd's GnuTLS support.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "api/api_internal.h"

/* A chunked body past the limit is read and thrown away up to this many
 * times the limit, then the connection is dropped. */
#define DISCARD_FACTOR 16

/* A certificate chain or key file larger than this is not one. */
#define TLS_FILE_MAX (1 << 20)
/* TLS 1.2 and 1.3 only; GnuTLS's NORMAL set otherwise. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

struct request_ctx {
	char *body;
	size_t len, cap;
	bool too_big;
	size_t discarded;
};

static double wall_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

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

/* ------------------------------------------------------------ snapshots */

struct api_snapshot *api_snapshot_get(struct api *a)
{
	struct api_snapshot *s;

	pthread_mutex_lock(&a->lock);
	s = a->snapshot;
	if (s)
		atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&a->lock);
	return s;
}

void api_snapshot_put(struct api_snapshot *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	registry_free(s->reg);
	json_decref(s->events);
	free(s);
}

int api_publish(struct api *a, const struct registry *r, json_t *events)
{
	struct api_snapshot *s, *old;
	bool streaming;

	if (!a || !r)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	atomic_init(&s->refs, 1);
	s->reg = registry_copy(r);
	s->events = events ? json_deep_copy(events) : json_array();
	s->published_at = registry_timestamp(r);
	if (!s->reg || !s->events) {
		api_snapshot_put(s);
		return -ENOMEM;
	}
	pthread_mutex_lock(&a->lock);
	old = a->snapshot;
	a->snapshot = s;
	a->rounds++;
	pthread_mutex_unlock(&a->lock);
	api_snapshot_put(old);

	pthread_mutex_lock(&a->stream_lock);
	streaming = a->stream_count > 0;
	pthread_mutex_unlock(&a->stream_lock);
	if (streaming) {
		/* Serialized once for every client; clients only queue it. */
		json_t *live = api_live_json(a, s);
		char *data = live ? json_dumps(live, JSON_COMPACT) : NULL;
		char *msg = NULL;
		int len;

		json_decref(live);
		if (!data)
			return -ENOMEM;
		len = asprintf(&msg, "event: round\ndata: %s\n\n", data);
		free(data);
		if (len < 0)
			return -ENOMEM;
		api_stream_publish(a, msg, (size_t)len);
		free(msg);
	}
	return 0;
}

void api_set_probes(struct api *a, size_t attached, size_t total)
{
	pthread_mutex_lock(&a->lock);
	a->probes_attached = attached;
	a->probes_total = total;
	pthread_mutex_unlock(&a->lock);
}

uint16_t api_port(const struct api *a)
{
	return a ? a->port : 0;
}

/* ------------------------------------------------------------ replies */

const char *api_status_code(unsigned status)
{
	switch (status) {
	case 400:
		return "bad_request";
	case 401:
		return "unauthorized";
	case 403:
		return "forbidden";
	case 404:
		return "not_found";
	case 405:
		return "method_not_allowed";
	case 409:
		return "conflict";
	case 413:
		return "payload_too_large";
	case 429:
		return "too_many_requests";
	case 503:
		return "service_unavailable";
	default:
		return status >= 500 ? "internal_error" : "error";
	}
}

static void count_status(struct api *a, unsigned status)
{
	if (status >= 500)
		atomic_fetch_add(&a->responses_5xx, 1);
	else if (status >= 400)
		atomic_fetch_add(&a->responses_4xx, 1);
}

/* Queues text as the whole response, plus one optional extra header. */
static enum MHD_Result reply(struct api_request *req, unsigned status, const char *content_type,
			     char *text_steal, size_t len, const char *hdr, const char *hdr_value)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(len, text_steal, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text_steal);
		return MHD_NO;
	}
	if (content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (hdr)
		MHD_add_response_header(resp, hdr, hdr_value);
	count_status(req->api, status);
	ret = MHD_queue_response(req->conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result reply_json_hdr(struct api_request *req, unsigned status, json_t *body,
				      const char *hdr, const char *hdr_value)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

	json_decref(body);
	if (!text) {
		static const char oom[] =
		    "{\"error\":{\"code\":\"internal_error\",\"message\":\"out of memory\"}}";
		char *copy = strdup(oom);

		return copy ? reply(req, 500, "application/json", copy, strlen(copy), NULL, NULL)
			    : MHD_NO;
	}
	return reply(req, status, "application/json", text, strlen(text), hdr, hdr_value);
}

enum MHD_Result api_reply_json(struct api_request *req, unsigned status, json_t *body_steal)
{
	if (status == 204) {
		json_decref(body_steal);
		return reply(req, 204, NULL, NULL, 0, NULL, NULL);
	}
	return reply_json_hdr(req, status, body_steal, NULL, NULL);
}

enum MHD_Result api_reply_text(struct api_request *req, unsigned status, const char *content_type,
			       char *text_steal, size_t len)
{
	return reply(req, status, content_type, text_steal, len, NULL, NULL);
}

static json_t *error_body(unsigned status, const char *message)
{
	return json_pack("{s:{s:s,s:s}}", "error", "code", api_status_code(status), "message",
			 message);
}

static enum MHD_Result reply_error_hdr(struct api_request *req, unsigned status, const char *hdr,
				       const char *hdr_value, const char *fmt, va_list ap)
{
	char msg[API_ERROR_MAX];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return reply_json_hdr(req, status, error_body(status, msg), hdr, hdr_value);
}

enum MHD_Result api_reply_error(struct api_request *req, unsigned status, const char *fmt, ...)
{
	enum MHD_Result r;
	va_list ap;

	va_start(ap, fmt);
	r = reply_error_hdr(req, status, NULL, NULL, fmt, ap);
	va_end(ap);
	return r;
}

__attribute__((format(printf, 5, 6))) static enum MHD_Result
reply_error_with(struct api_request *req, unsigned status, const char *hdr, const char *hdr_value,
		 const char *fmt, ...)
{
	enum MHD_Result r;
	va_list ap;

	va_start(ap, fmt);
	r = reply_error_hdr(req, status, hdr, hdr_value, fmt, ap);
	va_end(ap);
	return r;
}

enum MHD_Result api_reply_errno(struct api_request *req, int err, const char *what)
{
	switch (err) {
	case -EINVAL:
		return api_reply_error(req, 400, "%s: invalid request", what);
	case -E2BIG:
		return api_reply_error(req, 400, "%s: too many results; narrow the request", what);
	case -ENOENT:
		return api_reply_error(req, 404, "%s: not found", what);
	case -EEXIST:
		return api_reply_error(req, 409, "%s: already exists", what);
	case -EACCES:
		return api_reply_error(req, 401, "%s: not authorized", what);
	case -EPERM:
		return api_reply_error(req, 403, "%s: not allowed", what);
	case -EBUSY:
	case -EAGAIN:
		return api_reply_error(req, 503, "%s: busy, try again", what);
	default:
		return api_reply_error(req, 500, "%s: %s", what, strerror(err < 0 ? -err : err));
	}
}

/* ------------------------------------------------------------ dispatch */

static void client_key(struct MHD_Connection *conn, char *buf, size_t len)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char addr[INET6_ADDRSTRLEN] = "unknown";

	if (ci && ci->client_addr) {
		const struct sockaddr *sa = ci->client_addr;

		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr,
				  sizeof(addr));
		else if (sa->sa_family == AF_INET6)
			inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr,
				  sizeof(addr));
	}
	snprintf(buf, len, "ip:%s", addr);
}

int api_login_throttle(struct api_request *req, double *retry_after_s)
{
	char key[API_RATE_KEY_MAX];

	client_key(req->conn, key, sizeof(key));
	return api_rate_take(&req->api->login_limiter, key, mono_now(), retry_after_s);
}

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
		return reply_error_with(&req, 405, MHD_HTTP_HEADER_ALLOW, allow,
					"%s is not allowed here; allowed: %s", method, allow);
	if (!route)
		return api_reply_error(&req, 404, "no such endpoint");

	min_role = route->min_role;
	if (route->handler == api_handle_metrics && a->opts.metrics_auth)
		min_role = AUTH_ROLE_VIEWER;
	if (min_role > AUTH_ROLE_NONE) {
		if (authenticate(a, conn, &req.who) < 0) {
			atomic_fetch_add(&a->auth_failures_total, 1);
			/* Failed attempts count against the address, so guessing
			 * tokens is rate limited too. */
			client_key(conn, key, sizeof(key));
			if (api_rate_take(&a->limiter, key, mono_now(), &retry_after) < 0)
				goto limited;
			return reply_error_with(&req, 401, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
						"Bearer realm=\"kpulse\"",
						"a valid bearer token is required");
		}
		req.authenticated = true;
		/* Per API token; login tokens (id 0) per user. */
		snprintf(key, sizeof(key), "tok:%lld:%.64s", (long long)req.who.token_id,
			 req.who.user);
	} else {
		client_key(conn, key, sizeof(key));
	}
	if (api_rate_take(&a->limiter, key, mono_now(), &retry_after) < 0)
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
	return reply_error_with(&req, 429, MHD_HTTP_HEADER_RETRY_AFTER, retry,
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

/* ------------------------------------------------------------ start errors */

__attribute__((format(printf, 3, 4))) static void set_err(char *err, size_t errlen, const char *fmt,
							  ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------ TLS */

/*
 * Reads a PEM file into a NUL-terminated buffer. option names the setting
 * in err ("KPULSE_TLS_KEY /etc/kpulse/key.pem: ..."). A key file readable
 * by every user is refused rather than warned about: nothing here logs,
 * and a key any local user can copy is one to replace, not to serve.
 */
static int tls_read_file(const char *option, const char *path, bool is_key, char **ret, char *err,
			 size_t errlen)
{
	struct stat st;
	size_t len = 0;
	char *buf = NULL;
	int fd, r;

	/* Every failure to read the file is bad configuration: -EINVAL. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		set_err(err, errlen, "%s %s: cannot open: %s", option, path, strerror(errno));
		return -EINVAL;
	}
	if (fstat(fd, &st) < 0) {
		set_err(err, errlen, "%s %s: cannot stat: %s", option, path, strerror(errno));
		r = -EINVAL;
		goto cleanup;
	}
	if (!S_ISREG(st.st_mode)) {
		set_err(err, errlen, "%s %s: not a regular file", option, path);
		r = -EINVAL;
		goto cleanup;
	}
	if (is_key && (st.st_mode & S_IROTH)) {
		set_err(err, errlen,
			"%s %s: readable by every user (mode %04o); refusing to use it, "
			"chmod o-r it (and replace the key if others may have read it)",
			option, path, (unsigned)(st.st_mode & 07777));
		r = -EINVAL;
		goto cleanup;
	}
	if (st.st_size == 0 || st.st_size > TLS_FILE_MAX) {
		set_err(err, errlen, "%s %s: %s", option, path,
			st.st_size == 0 ? "empty file" : "larger than 1 MiB, not a PEM file");
		r = -EINVAL;
		goto cleanup;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		set_err(err, errlen, "out of memory");
		r = -ENOMEM;
		goto cleanup;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			set_err(err, errlen, "%s %s: cannot read: %s", option, path,
				n < 0 ? strerror(errno) : "file shrank while being read");
			r = -EINVAL;
			goto cleanup;
		}
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (strlen(buf) != len) {
		set_err(err, errlen, "%s %s: holds a NUL byte, not a PEM file", option, path);
		r = -EINVAL;
		goto cleanup;
	}
	*ret = buf;
	buf = NULL;
	r = 0;
cleanup:
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	return r;
}

/* Encrypted keys are not supported: there is no passphrase to give, and
 * without this callback OpenSSL would prompt on the terminal. */
static int tls_no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return -1;
}

/*
 * Checks the PEM text with libcrypto before libmicrohttpd sees it: GnuTLS
 * behind MHD_start_daemon() only reports that starting failed, while here
 * each problem gets a message naming the option and the file.
 */
static int tls_check_pem(const struct api_options *o, const char *cert_pem, const char *key_pem,
			 char *err, size_t errlen)
{
	BIO *cert_bio = BIO_new_mem_buf(cert_pem, -1), *key_bio = BIO_new_mem_buf(key_pem, -1);
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;
	int r = -EINVAL;

	if (!cert_bio || !key_bio) {
		set_err(err, errlen, "out of memory");
		r = -ENOMEM;
		goto cleanup;
	}
	cert = PEM_read_bio_X509(cert_bio, NULL, tls_no_passphrase, NULL);
	if (!cert) {
		set_err(err, errlen, "KPULSE_TLS_CERT %s: no PEM certificate in it",
			o->tls_cert_file);
		goto cleanup;
	}
	key = PEM_read_bio_PrivateKey(key_bio, NULL, tls_no_passphrase, NULL);
	if (!key) {
		set_err(err, errlen,
			"KPULSE_TLS_KEY %s: no PEM private key in it (encrypted keys are not "
			"supported)",
			o->tls_key_file);
		goto cleanup;
	}
	if (X509_check_private_key(cert, key) != 1) {
		set_err(err, errlen, "KPULSE_TLS_KEY %s: does not match the certificate in %s",
			o->tls_key_file, o->tls_cert_file);
		goto cleanup;
	}
	r = 0;
cleanup:
	/* The error queue is per thread; leave nothing for the next caller. */
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(cert);
	BIO_free(key_bio);
	BIO_free(cert_bio);
	return r;
}

/* Reads and checks the certificate and key into a->tls_*_pem when TLS is
 * configured. Returns 0 (also without TLS) or a negative errno with err. */
static int tls_load(struct api *a, const struct api_options *o, char *err, size_t errlen)
{
	bool has_cert = o->tls_cert_file && o->tls_cert_file[0];
	bool has_key = o->tls_key_file && o->tls_key_file[0];
	int r;

	if (!has_cert && !has_key)
		return 0;
	if (has_cert != has_key) {
		set_err(err, errlen, "%s is set but %s is not; HTTPS needs both (or neither)",
			has_cert ? "KPULSE_TLS_CERT" : "KPULSE_TLS_KEY",
			has_cert ? "KPULSE_TLS_KEY" : "KPULSE_TLS_CERT");
		return -EINVAL;
	}
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		set_err(err, errlen,
			"KPULSE_TLS_CERT: this libmicrohttpd was built without TLS support; "
			"install one built with GnuTLS or unset KPULSE_TLS_CERT and "
			"KPULSE_TLS_KEY");
		return -ENOTSUP;
	}
	r = tls_read_file("KPULSE_TLS_CERT", o->tls_cert_file, false, &a->tls_cert_pem, err,
			  errlen);
	if (r < 0)
		return r;
	r = tls_read_file("KPULSE_TLS_KEY", o->tls_key_file, true, &a->tls_key_pem, err, errlen);
	if (r < 0)
		return r;
	r = tls_check_pem(o, a->tls_cert_pem, a->tls_key_pem, err, errlen);
	if (r < 0)
		return r;
	a->tls = true;
	return 0;
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
	    strlen(o->listen_host) >= sizeof(a->listen_host)) {
		set_err(err, errlen, "invalid API options");
		return -EINVAL;
	}
	if (!api_host_is_loopback(o->listen_host) && !o->metrics_auth &&
	    !o->allow_remote_unauthenticated) {
		set_err(err, errlen,
			"%s is not a loopback address and /metrics needs no token; set "
			"KPULSE_METRICS_AUTH=on or KPULSE_ALLOW_REMOTE_UNAUTHENTICATED=on",
			o->listen_host);
		return -EPERM;
	}
	snprintf(port, sizeof(port), "%u", o->listen_port);
	r = getaddrinfo(o->listen_host, port, &hints, &ai);
	if (r != 0 || !ai) {
		set_err(err, errlen, "cannot resolve %s: %s", o->listen_host, gai_strerror(r));
		return -EADDRNOTAVAIL;
	}

	a = calloc(1, sizeof(*a));
	if (!a) {
		freeaddrinfo(ai);
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->opts = *o;
	snprintf(a->listen_host, sizeof(a->listen_host), "%s", o->listen_host);
	snprintf(a->version, sizeof(a->version), "%s", o->version ? o->version : "unknown");
	a->opts.listen_host = a->listen_host;
	a->opts.version = a->version;
	a->store = store;
	a->auth = auth;
	a->started_at = wall_now();
	pthread_mutex_init(&a->lock, NULL);
	pthread_mutex_init(&a->stream_lock, NULL);
	r = api_rate_init(&a->limiter, o->rate_limit);
	if (r == 0)
		r = api_rate_init_burst(&a->login_limiter, API_LOGIN_RATE, API_LOGIN_BURST);
	a->custom = registry_new();
	a->openapi = api_openapi_build(a->version);
	if (r < 0 || !a->custom || !a->openapi) {
		freeaddrinfo(ai);
		set_err(err, errlen, "out of memory");
		a->mhd = NULL;
		api_stop(a);
		return -ENOMEM;
	}
	registry_begin(a->custom, a->started_at, 0);
	r = tls_load(a, o, err, errlen);
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
		set_err(err, errlen, "cannot listen on %s port %u: %s%s", o->listen_host,
			o->listen_port, r ? strerror(r) : "libmicrohttpd refused to start",
			a->tls ? " (or GnuTLS refused KPULSE_TLS_CERT / KPULSE_TLS_KEY)" : "");
		api_stop(a);
		return r == EADDRINUSE ? -EADDRINUSE : -EIO;
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
	api_snapshot_put(a->snapshot);
	api_query_cache_drop(a->store);
	registry_free(a->custom);
	json_decref(a->openapi);
	if (a->tls_key_pem)
		explicit_bzero(a->tls_key_pem, strlen(a->tls_key_pem));
	free(a->tls_key_pem);
	free(a->tls_cert_pem);
	api_rate_destroy(&a->limiter);
	api_rate_destroy(&a->login_limiter);
	pthread_mutex_destroy(&a->stream_lock);
	pthread_mutex_destroy(&a->lock);
	free(a);
	return NULL;
}
