/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * api_internal.h - what the files of the API module share and nothing
 * outside userspace/api/ may include: the server's state, the request
 * passed to handlers, the route table and the helpers that answer.
 *
 *   server.c      libmicrohttpd, limits, dispatch and the auth gate
 *   publish.c     api_on_round(): the latest round, and how handlers read it
 *   reply.c       every response: JSON, text, errors and their status codes
 *   tls.c         the certificate and key for HTTPS, checked before use
 *   routes.c      the route table, /openapi.json and /docs
 *   handlers.c    health, Prometheus, live, status, history queries
 *   query_cache.c recent query_range answers, until the store commits
 *   ingest.c      POST /api/v1/metrics (custom metrics)
 *   auth_routes.c login, API tokens and users
 *   stream.c      GET /api/v1/stream (server-sent events)
 *   models_routes.c GET /api/v1/forecast and /api/v1/predictions
 *   incidents_routes.c incidents, their actions, POST /api/v1/analyze, the audit log
 *   incident_body.c the JSON bodies of those routes
 *   static.c      the web dashboard at / and /ui/{file} (files built in)
 *   input.c       JSON bodies, query parameters and series selectors
 *   ratelimit.c   the per-client token buckets and the login throttle
 *
 * Handlers only call downwards (replies, input, the round, the store,
 * auth, export); nothing but server.c dispatches, and nothing but the
 * daemon's start-up calls the functions of server.h.
 */
#ifndef KPULSE_API_INTERNAL_H
#define KPULSE_API_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "api/server.h"
#include "auth/auth.h"
#include "daemon/round.h"
#include "registry/registry.h"
#include "store/store.h"

/* ------------------------------------------------------------ limits */

/* JSON bodies: nesting depth, and items of one custom-metrics batch. */
#define API_JSON_MAX_DEPTH   16
#define API_INGEST_MAX_ITEMS 1000
/* Custom samples may be stamped at most this far from now. */
#define API_FORECASTS_MAX      1
#define API_INGEST_MAX_AGE_S   3600.0
#define API_INGEST_MAX_AHEAD_S 300.0
/* Header bytes per connection (libmicrohttpd's per-connection pool). */
#define API_CONNECTION_MEMORY 65536
/* Messages a stream client may have queued before it counts as slow. */
#define API_STREAM_QUEUE 4
/* Rate-limiter clients tracked; more evict the least recently seen. */
#define API_RATE_SLOTS	 4096
#define API_RATE_KEY_MAX 80
/* Path parameters of one route ("{id}"). */
#define API_PATH_PARAMS	   2
#define API_PATH_PARAM_MAX 128
#define API_ERROR_MAX	   256

/* ------------------------------------------------------------ rate limits */

struct api_rate_slot {
	char key[API_RATE_KEY_MAX];
	double tokens;
	double last; /* monotonic seconds; 0 = free slot */
};

struct api_rate_limiter {
	pthread_mutex_t lock;
	double rate;  /* tokens per second */
	double burst; /* bucket size */
	struct api_rate_slot slots[API_RATE_SLOTS];
};

/* rate requests per second, bursts of 2 s. Returns 0 or -errno. */
int api_rate_init(struct api_rate_limiter *l, unsigned rate);
/* The login throttle: API_LOGIN_RATE a second, bursts of API_LOGIN_BURST. */
int api_login_limiter_init(struct api_rate_limiter *l);
/* rate tokens per second, bucket of burst tokens. */
int api_rate_init_burst(struct api_rate_limiter *l, double rate, double burst);
void api_rate_destroy(struct api_rate_limiter *l);
/* Takes one token for key at time now (monotonic seconds). Returns 0, or
 * -EAGAIN with *retry_after_s (whole seconds, >= 1) when the bucket is empty. */
int api_rate_take(struct api_rate_limiter *l, const char *key, double now, double *retry_after_s);

/* ------------------------------------------------------------ query cache */

#define API_QCACHE_SLOTS   32
#define API_QCACHE_KEY_MAX 1400

struct api_qcache_slot {
	uint64_t flushes; /* the store's flush count when it was filled */
	double created;	  /* monotonic seconds */
	char key[API_QCACHE_KEY_MAX];
	char *body; /* NULL: free */
	size_t len;
};

struct api_query_cache {
	pthread_mutex_t lock;
	struct api_qcache_slot slots[API_QCACHE_SLOTS];
};

int api_query_cache_init(struct api_query_cache *c);
/* Frees every cached body. */
void api_query_cache_destroy(struct api_query_cache *c);
/* A malloc'd copy of the body cached for key, when the store has not
 * committed since (flushes) and it is less than a second old at now
 * (monotonic seconds); else NULL. */
char *api_query_cache_get(struct api_query_cache *c, uint64_t flushes, double now, const char *key,
			  size_t *ret_len);
/* Keeps a copy of body for key; bodies over 96 KiB and keys of
 * API_QCACHE_KEY_MAX bytes or more are not kept. */
void api_query_cache_put(struct api_query_cache *c, uint64_t flushes, double now, const char *key,
			 const char *body, size_t len);

/* ------------------------------------------------------------ state */

struct api_stream_client;

struct api {
	struct api_options opts;
	char listen_host[256];
	char version[32];
	struct store *store;
	struct auth *auth;
	struct MHD_Daemon *mhd;
	uint16_t port;
	double started_at; /* wall clock */
	bool tls;	   /* serving HTTPS */
	/* The PEM text handed to libmicrohttpd, kept until it stops; the key
	 * is wiped before it is freed. */
	char *tls_cert_pem;
	char *tls_key_pem;

	pthread_mutex_t lock; /* the fields below */
	struct round *round;  /* the latest; one reference, NULL before the first */
	struct threshold_tracker *predictions; /* borrowed; NULL: none */
	/* borrowed, set by the daemon (api_set_analysis); NULL: none */
	struct incidents *incidents;
	struct llm_router *llm;
	struct alerts *alerts;
	uint64_t rounds;
	size_t probes_attached, probes_total;
	/* custom metrics: created once with registry_begin(), never ended,
	 * so series stay until restart; bounded by custom_max_series */
	struct registry *custom;

	pthread_mutex_t stream_lock; /* stream clients and stopping */
	struct api_stream_client *stream_clients;
	size_t stream_count;
	bool stopping;

	struct api_rate_limiter limiter;
	/* Logins per client address: each one costs a full PBKDF2 on an HTTP
	 * thread, so they are held to API_LOGIN_RATE a second (bursts of
	 * API_LOGIN_BURST) whatever the general limit is. */
	struct api_rate_limiter login_limiter;
	struct api_query_cache qcache;
	json_t *openapi; /* built at start, read-only afterwards */

	/* forecasts being fitted now: each costs up to seconds of CPU on an
	 * HTTP thread, so at most API_FORECASTS_MAX at once */
	atomic_int forecasts_running;

	atomic_uint_fast64_t requests_total;
	atomic_uint_fast64_t responses_4xx;
	atomic_uint_fast64_t responses_5xx;
	atomic_uint_fast64_t rate_limited_total;
	atomic_uint_fast64_t auth_failures_total;
	atomic_uint_fast64_t stream_dropped_total;
	atomic_uint_fast64_t custom_samples_total;
};

/* publish.c: the latest round with a reference for the caller (NULL
 * before the first round); hand it back with api_round_put(), which
 * accepts NULL. A handler never reads a->round without a reference. */
struct round *api_round_get(struct api *a);
void api_round_put(struct round *r);

/* ------------------------------------------------------------ requests */

struct api_request {
	struct api *api;
	struct MHD_Connection *conn;
	const char *method;
	const char *path;
	char params[API_PATH_PARAMS][API_PATH_PARAM_MAX]; /* "{x}" segments, in order */
	size_t nparams;
	const char *body; /* NUL-terminated copy; len excludes the NUL */
	size_t body_len;
	bool authenticated;
	struct auth_identity who;
};

/* Every handler queues exactly one response through the reply helpers
 * and returns what MHD_queue_response() returned. */
typedef enum MHD_Result (*api_handler)(struct api_request *req);

/* A route flag: the route needs a viewer token when the API's
 * metrics_auth option is on (GET /metrics, KPULSE_METRICS_AUTH). */
#define API_ROUTE_METRICS_AUTH (1u << 0)

struct api_route {
	const char *method;
	const char *pattern; /* "/api/v1/auth/tokens/{id}" */
	api_handler handler;
	enum auth_role min_role; /* AUTH_ROLE_NONE: no token needed */
	const char *summary;
	const char *query_params; /* "type,from,to,limit" or NULL */
	const char *body;	  /* JSON body fields for the docs, or NULL */
	unsigned flags;		  /* API_ROUTE_* */
};

extern const struct api_route api_routes[];
extern const size_t api_routes_count;

/* The role a route needs under these options (its min_role, raised by
 * its flags). */
enum auth_role api_route_min_role(const struct api_route *r, const struct api_options *o);

/* Matches path against pattern; fills params. */
bool api_route_match(const char *pattern, const char *path, struct api_request *req);

/* The OpenAPI 3 document of the route table; NULL on ENOMEM. */
json_t *api_openapi_build(const char *version);

/* The request and response schemas of a route (openapi_schemas.c): new
 * references (NULL for no body) and the success status. -ENOENT for a
 * route without a row, -EINVAL for a row that is not JSON. */
int api_openapi_schemas(const char *method, const char *pattern, json_t **ret_request,
			json_t **ret_response, const char **ret_status);

/* ------------------------------------------------------------ clients */

#define API_LOGIN_RATE	1.0
#define API_LOGIN_BURST 10.0

/* "ip:ADDRESS" of the connection's client, the key of the per-address
 * limits. */
void api_client_key(struct MHD_Connection *conn, char *buf, size_t len);
/* Takes one login attempt for the request's client address: 0, or -EAGAIN
 * with *retry_after_s set. */
int api_login_throttle(struct api_request *req, double *retry_after_s);

/* ------------------------------------------------------------ replies */

enum MHD_Result api_reply_json(struct api_request *req, unsigned status, json_t *body_steal);
enum MHD_Result api_reply_text(struct api_request *req, unsigned status, const char *content_type,
			       char *text_steal, size_t len);
/* {"error":{"code","message"}}; message is printf-style. */
enum MHD_Result api_reply_error(struct api_request *req, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with one more header (Allow, Retry-After, WWW-Authenticate). */
enum MHD_Result api_reply_error_header(struct api_request *req, unsigned status, const char *hdr,
				       const char *hdr_value, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* -errno of a store or auth call to an HTTP status and an error reply. */
enum MHD_Result api_reply_errno(struct api_request *req, int err, const char *what);
/* A short code for an HTTP status: "bad_request", "not_found", ... */
const char *api_status_code(unsigned status);

/* ------------------------------------------------------------ input */

/*
 * Parses a JSON request body strictly: an object at the top, no NUL byte,
 * nesting at most max_depth, no duplicate keys, no trailing data, valid
 * UTF-8, integers that fit int64 and reals that are finite. Returns 0 and
 * *ret (an object), or -EINVAL with a reason in err.
 */
int api_json_parse(const char *body, size_t len, size_t max_depth, json_t **ret, char *err,
		   size_t errlen);
/* -EINVAL (err names the field) when obj has a key not in allowed (NULL-
 * terminated). */
int api_json_only_fields(json_t *obj, const char *const *allowed, char *err, size_t errlen);

/* A query-string value: a finite decimal ("1700000000.5"). 0 or -EINVAL. */
int api_parse_number(const char *s, double *ret);

/* NAME or NAME{key="value",...} with \" \\ \n escapes into sel; the
 * strings point into buf (strlen(text) + 1 bytes). 0 or -EINVAL. */
int api_selector_parse(const char *text, char *buf, size_t buflen, struct store_selector *sel);

/* The custom-metric name and label rules of POST /api/v1/metrics. */
bool api_custom_name_valid(const char *name);
bool api_label_key_valid(const char *key);

/* ------------------------------------------------------------ incident bodies */

/* incident_body.c: the bodies of the incident routes. */
enum api_incident_body_kind {
	API_BODY_ACTION,  /* ack, resolve: empty or {} */
	API_BODY_COMMENT, /* {"text"} */
	API_BODY_ANALYZE, /* incident analyze: empty, {} or {"question"} */
	API_BODY_ASK,	  /* POST /api/v1/analyze: {"question", "from"?, "to"?} */
};

struct api_incident_body {
	json_t *root;	      /* owns the strings below; NULL for an empty body */
	const char *text;     /* a comment, leading blanks skipped */
	const char *question; /* NULL: none */
	double from, to;
	bool has_window;
};

/* Returns 0 and *ret (clear it), or -EINVAL with a reason in err. */
int api_incident_body_parse(enum api_incident_body_kind kind, const char *body, size_t len,
			    struct api_incident_body *ret, char *err, size_t errlen);
void api_incident_body_clear(struct api_incident_body *b);

/* ------------------------------------------------------------ handlers */

enum MHD_Result api_handle_healthz(struct api_request *req);
enum MHD_Result api_handle_readyz(struct api_request *req);
enum MHD_Result api_handle_metrics(struct api_request *req);
enum MHD_Result api_handle_status(struct api_request *req);
enum MHD_Result api_handle_live(struct api_request *req);
enum MHD_Result api_handle_series(struct api_request *req);
enum MHD_Result api_handle_query_range(struct api_request *req);
enum MHD_Result api_handle_events(struct api_request *req);
enum MHD_Result api_handle_anomalies(struct api_request *req);
enum MHD_Result api_handle_processes(struct api_request *req);
enum MHD_Result api_handle_ingest(struct api_request *req);
enum MHD_Result api_handle_stream(struct api_request *req);
enum MHD_Result api_handle_login(struct api_request *req);
enum MHD_Result api_handle_me(struct api_request *req);
enum MHD_Result api_handle_token_create(struct api_request *req);
enum MHD_Result api_handle_token_delete(struct api_request *req);
enum MHD_Result api_handle_users_list(struct api_request *req);
enum MHD_Result api_handle_user_add(struct api_request *req);
enum MHD_Result api_handle_user_delete(struct api_request *req);
enum MHD_Result api_handle_openapi(struct api_request *req);
enum MHD_Result api_handle_forecast(struct api_request *req);
enum MHD_Result api_handle_predictions(struct api_request *req);
enum MHD_Result api_handle_docs(struct api_request *req);
enum MHD_Result api_handle_index(struct api_request *req);
enum MHD_Result api_handle_static(struct api_request *req);
enum MHD_Result api_handle_incidents_list(struct api_request *req);
enum MHD_Result api_handle_incident_get(struct api_request *req);
enum MHD_Result api_handle_incident_ack(struct api_request *req);
enum MHD_Result api_handle_incident_resolve(struct api_request *req);
enum MHD_Result api_handle_incident_comment(struct api_request *req);
enum MHD_Result api_handle_incident_analyze(struct api_request *req);
enum MHD_Result api_handle_analyze(struct api_request *req);
enum MHD_Result api_handle_audit(struct api_request *req);

/* stream.c: sends the round to every client; ends streams when stopping. */
void api_stream_publish(struct api *a, const char *msg, size_t len);
void api_stream_stop(struct api *a);

/* handlers.c: the live view (the dump --json shape plus the custom
 * metrics and the round's events); r may be NULL before the first round.
 * NULL on ENOMEM. */
json_t *api_live_json(struct api *a, const struct round *r);

/* tls.c: reads and checks the certificate and key into a->tls_*_pem when
 * both options are set; 0 (also without TLS) or -errno with err. */
int api_tls_load(struct api *a, const struct api_options *o, char *err, size_t errlen);
/* Wipes the key and frees both. */
void api_tls_free(struct api *a);

#endif /* KPULSE_API_INTERNAL_H */
