/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * server.h - the REST API: an HTTP server (libmicrohttpd, its own thread
 * pool) that serves the daemon's latest round, the store's history, a
 * Prometheus exposition, server-sent events, custom metrics and the
 * user and token administration of auth/auth.h.
 *
 * The API is a sink of the daemon's rounds: after each round the daemon
 * calls api_on_round() with the frozen round (daemon/round.h), which the
 * API keeps a reference to until the next one; nothing is copied. HTTP
 * handlers only read rounds, never the collector's registry, so a slow
 * client can never hold up collection. Nothing here logs; api_start()
 * reports why it failed.
 *
 * Only the daemon's start-up calls these functions; no other module reads
 * userspace/api/.
 */
#ifndef KPULSE_API_SERVER_H
#define KPULSE_API_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "store/store.h"

struct round;

struct api_options {
	const char *listen_host; /* numeric address or host name; "127.0.0.1" */
	uint16_t listen_port;	 /* 0 picks a free port (tests) */
	bool metrics_auth;	 /* GET /metrics needs a viewer token */
	/* A non-loopback address while /metrics is open is refused unless set. */
	bool allow_remote_unauthenticated;
	unsigned threads;		 /* thread pool size; 2 */
	unsigned max_connections;	 /* 256 */
	unsigned max_connections_per_ip; /* 0: a quarter of max_connections */
	unsigned connection_timeout_s;	 /* idle connections are closed; 30 */
	/* A request must arrive whole (headers and body) within this; 2 s
	 * while more than half of max_connections are open. 10 */
	unsigned request_timeout_s;
	size_t max_body_bytes;	  /* larger bodies get 413; 1 MiB */
	unsigned rate_limit;	  /* requests per second per token or address; 50 */
	size_t custom_max_series; /* series POST /api/v1/metrics may create; 1000 */
	/* A custom series not pushed for this long (up to twice it) is
	 * dropped, freeing its place under custom_max_series; 600 */
	unsigned custom_series_ttl_s;
	/* Custom series one token (login tokens: one user) may have created
	 * and still hold; 0: a quarter of custom_max_series (at least 1) */
	size_t custom_token_max_series;
	/* Custom samples a token may push a second, in bursts of five
	 * seconds' worth (at least one full batch); 1000 */
	unsigned custom_samples_rate;
	unsigned max_stream_clients; /* concurrent GET /api/v1/stream; 16 */
	double interval_s;	     /* the collection interval, shown by /status */
	const char *version;	     /* shown by /status and /openapi.json */
	/* HTTPS when both are set (paths of PEM files, read once at start);
	 * NULL or "" for both: plain HTTP. The key must not be world-readable. */
	const char *tls_cert_file;
	const char *tls_key_file;
	/* GET /api/v1/forecast: the horizon without horizon=, and the raw and
	 * 1-minute retentions, which bound the history it reads. */
	double forecast_horizon_s; /* 3600 */
	double retention_raw_s;	   /* 24 h */
	double retention_1m_s;	   /* 30 days */
};

struct api;

/* Every field at its default. */
void api_options_default(struct api_options *o);

/* True for 127.0.0.0/8, ::1 and "localhost". */
bool api_host_is_loopback(const char *host);

/*
 * Starts serving. store and auth are borrowed and must outlive the API;
 * auth may be NULL, and then every route that needs a token answers 401.
 * Returns 0 and *ret_api, or a negative errno with a one-line reason in
 * err: -EINVAL (bad options), -EPERM (a non-loopback address while /metrics
 * needs no token and allow_remote_unauthenticated is off), -EADDRNOTAVAIL
 * (the host does not resolve), -EADDRINUSE or -EIO (cannot listen),
 * -ENOMEM. With TLS also -EINVAL when only one of the two files is set,
 * a file cannot be read, is not PEM, the key does not match the certificate
 * or is readable by every user (err names the option, KPULSE_TLS_CERT or
 * KPULSE_TLS_KEY, and the path), and -ENOTSUP when libmicrohttpd was built
 * without TLS.
 */
int api_start(const struct api_options *o, struct store *store, struct auth *auth,
	      struct api **ret_api, char *err, size_t errlen);

/* Ends every stream, closes every connection and stops the threads.
 * Accepts NULL; returns NULL. */
struct api *api_stop(struct api *a);

/* The port the server listens on (useful after asking for port 0). */
uint16_t api_port(const struct api *a);

/*
 * Publishes a finished round: the API takes a reference to r (round_ref),
 * serves it to every handler from now on, and drops its reference to the
 * round before (round_unref); the caller keeps its own reference. Stream
 * clients are sent the round, serialized once for all of them. Never
 * copies the round and never waits on HTTP clients. Returns 0, -EINVAL
 * (a or r is NULL), or -ENOMEM when the round could not be serialized for
 * the stream clients (it is published to the handlers all the same).
 */
int api_on_round(struct api *a, struct round *r);

/* A copy of the custom series (POST /api/v1/metrics) as they stand, for
 * the round's consumers that model them; NULL when there are none or on
 * ENOMEM. The caller frees it (registry_free). */
struct registry *api_custom_snapshot(struct api *a);

/* Probe counts for /readyz and /api/v1/status. */
void api_set_probes(struct api *a, size_t attached, size_t total);

struct threshold_tracker;

/* The time-to-threshold predictions GET /api/v1/predictions serves
 * (borrowed: it must outlive the API; NULL: none, an empty list). */
void api_set_predictions(struct api *a, struct threshold_tracker *tr);

struct incidents;
struct llm_router;
struct alerts;
/* The incidents, LLM router and alerts the incident routes, /api/v1/status
 * and /metrics read (borrowed: they must outlive the API; NULL: none). */
void api_set_analysis(struct api *a, struct incidents *inc, struct llm_router *llm,
		      struct alerts *al);

#endif /* KPULSE_API_SERVER_H */
