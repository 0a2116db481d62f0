/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * http.h - THE outbound HTTP client. Every request kpulse sends (LLM
 * providers, alert targets) goes through http_perform(), one libcurl easy
 * handle per request, so that every call has, without the caller asking:
 *
 *   - a total timeout: resolving, connecting, TLS, sending, waiting and
 *     reading all count against it;
 *   - a cap on the response body: a bigger answer fails and nothing of it
 *     is kept;
 *   - TLS verification on (peer certificate and host name), with no way to
 *     turn it off;
 *   - http and https only, redirects not followed (a 3xx is an answer like
 *     any other), no "Expect: 100-continue" round trip;
 *   - no signals (safe on any thread), and a cancel flag checked while it
 *     waits, so that a stopping daemon does not wait for a slow server.
 *
 * Secrets: request headers (API keys) are never quoted anywhere, and a URL
 * is quoted only as its origin (scheme://host[:port]): webhook URLs carry
 * their secret in the path. Proxies follow libcurl's environment variables
 * (https_proxy, no_proxy).
 *
 * Call http_global_init() once before threads start (main does);
 * http_perform() calls it too, so tests and tools need not.
 */
#ifndef KPULSE_UTIL_HTTP_H
#define KPULSE_UTIL_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

/* Longest URL accepted (curl's own limit is far higher). */
#define HTTP_URL_MAX 2048
/* "scheme://host:port" of a URL, as messages quote it. */
#define HTTP_ORIGIN_MAX 300

struct http_request {
	const char *method;	    /* "GET" or "POST" */
	const char *url;	    /* http:// or https:// */
	const char *const *headers; /* "Name: value" lines, NULL-terminated; may be NULL */
	const char *body;	    /* POST: the body (may be NULL when body_len is 0) */
	size_t body_len;
	double timeout_s;	   /* the whole call, > 0 */
	size_t max_response_bytes; /* > 0: a longer body fails with -EMSGSIZE */
	/* May be NULL. When it becomes true, the call ends with -ECANCELED
	 * within about a second. */
	const atomic_bool *cancel;
};

struct http_response {
	long status;	 /* the HTTP status, any value: a 500 is an answer */
	char *body;	 /* owned, NUL-terminated (body_len excludes the NUL) */
	size_t body_len; /* may hold NUL bytes: use body_len, not strlen */
	/* Retry-After in seconds (delay-seconds or an HTTP-date, as RFC 9110
	 * allows), or -1 when the answer had none. */
	double retry_after_s;
	char content_type[128]; /* "" when none */
	double elapsed_s;	/* wall time of the call */
};

/*
 * Sends req and reads the answer. Returns 0 with *ret filled for any HTTP
 * status, or a negative errno with one line in err that names the origin
 * and never a header or the URL's path:
 *   -EINVAL       bad arguments, a malformed URL, a scheme other than
 *                 http/https
 *   -ETIMEDOUT    the total timeout passed
 *   -EMSGSIZE     the body is longer than max_response_bytes
 *   -ECONNREFUSED nothing listens there
 *   -EHOSTUNREACH the host name does not resolve or the host is unreachable
 *   -EPROTO       TLS failed (certificate refused, handshake failed) or the
 *                 server did not speak HTTP
 *   -ECONNRESET   the connection broke or closed without an answer
 *   -ECANCELED    *cancel became true
 *   -ENOMEM, -EIO anything else
 * On failure *ret is untouched.
 */
int http_perform(const struct http_request *req, struct http_response *ret, char *err,
		 size_t errlen);

/* Frees the body and zeroes *r; accepts a zeroed or NULL r. */
void http_response_clear(struct http_response *r);

/* 408, 429 and the 5xx statuses: worth another try later. */
bool http_status_retryable(long status);

/*
 * "scheme://host[:port]" of url in buf (len bytes), without user info,
 * path, query or fragment. Returns buf, or NULL (buf = "") when url is not
 * an http or https URL with a host.
 */
const char *http_url_origin(const char *url, char *buf, size_t len);

/* True when url is an http or https URL with a host (what http_perform
 * accepts). */
bool http_url_valid(const char *url);

/* True when url's host is a loopback address or "localhost": plain http
 * to it never leaves the machine. */
bool http_url_is_loopback(const char *url);

/* libcurl's global state: once per process, before threads (idempotent,
 * thread-safe through pthread_once); cleanup once at exit, after every
 * thread that made calls has ended. Returns 0 or -EIO. */
int http_global_init(void);
void http_global_cleanup(void);

#endif /* KPULSE_UTIL_HTTP_H */
