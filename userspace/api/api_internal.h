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
 *   login_worker.c the password-hashing worker behind POST /api/v1/auth/login
 *   connguard.c   every connection's state: the deadline for receiving a
 *                 request (slowloris), and the %00 check of the unescaper
 *   audit.c       security events: one log line each (rate-limited) and counters
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
/* Login requests waiting for the password-hashing worker, and the extra
 * places kept for addresses that logged in successfully before. */
#define API_LOGIN_QUEUE	      8
#define API_LOGIN_QUEUE_KNOWN 4
#define API_LOGIN_KNOWN_SLOTS 256
#define API_LOGIN_KNOWN_TTL_S (7 * 86400.0)
/* Request bodies buffered at once across all connections, in units of
 * max_body_bytes. */
#define API_BODY_BUDGET_FACTOR 16
/* Under connection pressure (more than half of max_connections open) a
 * request must arrive whole within this many seconds, not request_timeout_s. */
#define API_REQUEST_TIMEOUT_BUSY_S 2.0

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
/* The same for n tokens at once (n <= the burst, else -E2BIG). */
int api_rate_take_n(struct api_rate_limiter *l, const char *key, double n, double now,
		    double *retry_after_s);

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

/* ------------------------------------------------------------ connections */

/* One per TCP connection (libmicrohttpd's socket context), from accept to
 * close. Fields after fd are under the guard's lock. */
struct api_conn {
	struct api_conn *prev, *next;
	int fd;
	double since;	 /* monotonic: when receiving the current request began */
	bool receiving;	 /* a request is being received: the deadline applies */
	bool shut;	 /* the sweeper has shut it down */
	bool bad_escape; /* the current request's URL or query had %00 */
};

struct api_conn_guard {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct api_conn *head;
	size_t count;
	bool started, stop;
	pthread_t sweeper;
};

/* ------------------------------------------------------------ login worker */

/* One login waiting for (or done by) the password-hashing worker; owned
 * by the request it belongs to, whose connection stays suspended while
 * the worker may touch it. */
struct api_login_job {
	struct api_login_job *next;
	struct MHD_Connection *conn;
	bool known; /* from an address that logged in before */
	char user[AUTH_NAME_MAX];
	char password[AUTH_PASSWORD_MAX + 1];
	char client[API_RATE_KEY_MAX];
	/* written by the worker, read after the connection is resumed */
	bool done;
	int result;
	char token[AUTH_TOKEN_MAX];
	double expires_at, retry_after_s;
};

struct api_login_known {
	char key[API_RATE_KEY_MAX];
	double at; /* monotonic; 0: free */
};

struct api_login_worker {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool started, stop;
	pthread_t thread;
	/* [0]: addresses that logged in before, served first; [1]: the rest */
	struct api_login_job *head[2], *tail[2];
	size_t queued[2];
	struct api_login_known known[API_LOGIN_KNOWN_SLOTS];
};

/* ------------------------------------------------------------ audit */

enum api_audit_event {
	API_AUDIT_LOGIN_FAILED,	 /* wrong user name or password */
	API_AUDIT_LOGIN_BACKOFF, /* an account+address backing off (a lockout) */
	API_AUDIT_LOGIN_BUSY,	 /* the password-hashing queue was full */
	API_AUDIT_BAD_TOKEN,	 /* a request with a missing or bad token */
	API_AUDIT_RATE_LIMITED,	 /* a 429 of the per-client limits */
	API_AUDIT_SLOW_CLIENT,	 /* a connection closed for sending its request too slowly */
	API_AUDIT_BAD_HOST,	 /* a Host header that is not this loopback server */
	API_AUDIT_TOKEN_CREATED,
	API_AUDIT_TOKEN_REVOKED,
	API_AUDIT_USER_ADDED,
	API_AUDIT_USER_DELETED,
	API_AUDIT_EVENTS,
};

struct api_audit {
	atomic_uint_fast64_t total[API_AUDIT_EVENTS];
	pthread_mutex_t lock; /* the log-line budget below */
	double second[API_AUDIT_EVENTS];
	unsigned lines[API_AUDIT_EVENTS];
	uint64_t suppressed[API_AUDIT_EVENTS];
};

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
	/* custom metrics, bounded by custom_max_series. Each period of
	 * custom_series_ttl_s is a registry "round": api_custom_expire() ends
	 * it, dropping the series not pushed during it, so a series lives one
	 * to two periods after its last sample and the cap frees up. */
	struct registry *custom;
	double custom_period_start;		/* wall clock */
	uint64_t custom_period;			/* periods ended so far */
	struct api_rate_limiter ingest_limiter; /* samples per token */
	/* Who created each custom series (tsearch trees, ingest.c): a token
	 * owns the series it created until they expire, at most
	 * custom_token_max_series of them, so one token cannot take the
	 * whole cap. */
	void *custom_owners; /* struct api_custom_owner, by series */
	void *custom_quotas; /* struct api_custom_quota, by token */
	size_t custom_owner_count;

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
	/* batches refused for new series: [0] over the token's quota, [1]
	 * over custom_max_series */
	atomic_uint_fast64_t custom_series_refused[2];

	/* bad tokens per client address: their own buckets, so a client
	 * guessing tokens does not drain the one /healthz and /metrics use */
	struct api_rate_limiter auth_fail_limiter;
	struct api_conn_guard guard;
	struct api_login_worker login;
	struct api_audit audit;
	bool host_check;	  /* listening on loopback: Host must name loopback */
	atomic_size_t body_bytes; /* request bodies buffered now */
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
	struct api_login_job *login; /* api_handle_login()'s; freed with the request */
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

/* ------------------------------------------------------------ connections */

/* connguard.c: libmicrohttpd's connection notifications (socket contexts)
 * and URL unescaper; the sweeper thread that shuts connections down when
 * a request takes longer than request_timeout_s to arrive whole
 * (API_REQUEST_TIMEOUT_BUSY_S while more than half of max_connections are
 * open). */
int api_conn_guard_start(struct api *a);
void api_conn_guard_stop(struct api *a);
void api_conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		     enum MHD_ConnectionNotificationCode code);
size_t api_unescape(void *cls, struct MHD_Connection *conn, char *s);
/* The connection's state, or NULL. */
struct api_conn *api_conn_of(struct MHD_Connection *conn);
/* The request arrived whole (no deadline while it is answered). */
void api_conn_received(struct api *a, struct api_conn *c);
/* The response is done: the next request's deadline starts now. */
void api_conn_next(struct api *a, struct api_conn *c);

/* ------------------------------------------------------------ login worker */

/* login_worker.c: one thread, at low CPU priority, runs every login's
 * PBKDF2, so password hashing never holds an HTTP thread. */
int api_login_worker_start(struct api *a);
/* Fails what is queued (-ESHUTDOWN), resumes those connections and joins
 * the thread; before MHD_stop_daemon(). */
void api_login_worker_stop(struct api *a);
/* Suspends job->conn and queues the job: 0, or -EBUSY (the connection is
 * not suspended) when the queue of its kind is full. */
int api_login_submit(struct api *a, struct api_login_job *job);
/* Remembers (and asks about) addresses that logged in successfully. */
void api_login_known_add(struct api *a, const char *client);

/* ------------------------------------------------------------ audit */

/* audit.c: counts the event and logs one line "security: EVENT client=...
 * user=... DETAIL" (client, user may be NULL; both are sanitized; secrets
 * never passed). Noisy events are held to a few lines a second, with a
 * count of those left out. */
void api_audit(struct api *a, enum api_audit_event ev, const char *client, const char *user,
	       const char *fmt, ...) __attribute__((format(printf, 5, 6)));
const char *api_audit_event_name(enum api_audit_event ev);
int api_audit_init(struct api_audit *au);
void api_audit_destroy(struct api_audit *au);

/* ------------------------------------------------------------ replies */

/* What an answer is, for its browser headers: API data (a CSP that allows
 * nothing, never cached) or a dashboard file (its own CSP, revalidated). */
enum api_answer_kind {
	API_ANSWER_DATA,
	API_ANSWER_PAGE,
};
/* The one way a response leaves the API (JSON, text, errors, the stream,
 * the dashboard's files): adds the security headers every answer carries
 * (CSP, X-Frame-Options, Referrer-Policy, nosniff, CORP, COOP,
 * Cache-Control), counts 4xx and 5xx, queues it and drops the caller's
 * reference. Returns what MHD_queue_response() returned. */
enum MHD_Result api_queue_response(struct api_request *req, unsigned status,
				   struct MHD_Response *resp, enum api_answer_kind kind);
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

/* ingest.c: ends the custom series' period when it is over (caller holds
 * a->lock). */
void api_custom_expire(struct api *a, double now);
/* ingest.c: frees the owner and quota trees (api_stop). */
void api_custom_owners_free(struct api *a);

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
/* Ends the streams opened with API token id (> 0), or by user (non-NULL). */
void api_stream_revoke(struct api *a, int64_t token_id, const char *user);

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
