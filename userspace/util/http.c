// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * http.c - the one outbound HTTP wrapper over libcurl (see http.h for the
 * contract: total timeout, body cap, TLS verification, no redirects, no
 * secret in any message).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "util/clock.h"
#include "util/error.h"
#include "util/http.h"
#include "util/utf8.h"
#include "util/version.h"

/* ------------------------------------------------------------ global */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_result = -EIO;

static void do_init(void)
{
	init_result = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

int http_global_init(void)
{
	pthread_once(&init_once, do_init);
	return init_result;
}

void http_global_cleanup(void)
{
	if (init_result == 0)
		curl_global_cleanup();
}

/* ------------------------------------------------------------ URLs */

/* Parses url with libcurl's own URL parser (the one the transfer will
 * use), insisting on http or https and a host. NULL when it is not. */
static CURLU *parse_url(const char *url)
{
	CURLU *u;
	char *scheme = NULL, *host = NULL;
	bool ok;

	if (!url || strlen(url) > HTTP_URL_MAX)
		return NULL;
	/* Control characters and spaces have no place in a URL; curl would
	 * refuse most, but a NUL-free check here keeps the rule in one place. */
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p == 0x7f)
			return NULL;
	u = curl_url();
	if (!u)
		return NULL;
	ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	     curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host[0] &&
	     (!strcasecmp(scheme, "http") || !strcasecmp(scheme, "https"));
	curl_free(scheme);
	curl_free(host);
	if (!ok) {
		curl_url_cleanup(u);
		return NULL;
	}
	return u;
}

bool http_url_valid(const char *url)
{
	CURLU *u = parse_url(url);

	curl_url_cleanup(u);
	return u != NULL;
}

const char *http_url_origin(const char *url, char *buf, size_t len)
{
	char *scheme = NULL, *host = NULL, *port = NULL;
	CURLU *u;

	if (!buf || !len)
		return NULL;
	buf[0] = '\0';
	u = parse_url(url);
	if (!u)
		return NULL;
	curl_url_get(u, CURLUPART_SCHEME, &scheme, 0);
	curl_url_get(u, CURLUPART_HOST, &host, 0);
	/* only a port the URL names; CURLUE_NO_PORT otherwise */
	curl_url_get(u, CURLUPART_PORT, &port, 0);
	snprintf(buf, len, "%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "");
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return buf;
}

bool http_url_is_loopback(const char *url)
{
	unsigned char addr[16];
	char *host = NULL, h[64];
	bool loop = false;
	CURLU *u = parse_url(url);
	size_t n;

	if (!u)
		return false;
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		goto out;
	n = strlen(host);
	/* IPv6 literals come back in brackets */
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(h)) {
		memcpy(h, host + 1, n - 2);
		h[n - 2] = '\0';
	} else if (n < sizeof(h)) {
		memcpy(h, host, n + 1);
	} else {
		goto out;
	}
	if (!strcasecmp(h, "localhost"))
		loop = true;
	else if (inet_pton(AF_INET, h, addr) == 1)
		loop = addr[0] == 127;
	else if (inet_pton(AF_INET6, h, addr) == 1)
		loop = IN6_IS_ADDR_LOOPBACK((struct in6_addr *)addr) ||
		       (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)addr) && addr[12] == 127);
out:
	curl_free(host);
	curl_url_cleanup(u);
	return loop;
}

bool http_status_retryable(long status)
{
	return status == 408 || status == 429 || (status >= 500 && status <= 599);
}

/* ------------------------------------------------------------ transfer */

struct transfer {
	char *buf;
	size_t len, cap, max;
	bool too_big;
	double retry_after_s;
	const atomic_bool *cancel;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct transfer *t = ud;
	size_t n = size * nmemb;

	if (n > t->max - t->len) {
		t->too_big = true;
		return 0; /* anything but n aborts the transfer */
	}
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		char *p;

		while (cap < t->len + n + 1)
			cap *= 2;
		if (cap > t->max + 1)
			cap = t->max + 1;
		p = realloc(t->buf, cap);
		if (!p)
			return 0;
		t->buf = p;
		t->cap = cap;
	}
	memcpy(t->buf + t->len, ptr, n);
	t->len += n;
	t->buf[t->len] = '\0';
	return n;
}

/*
 * Retry-After (RFC 9110 section 10.2.3): delay-seconds, or an HTTP-date
 * read with libcurl's own date parser. A value that is neither is ignored.
 */
static double parse_retry_after(const char *v, size_t n)
{
	char buf[128];
	size_t i = 0, j;

	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	while (n > i &&
	       (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	if (n - i == 0 || n - i >= sizeof(buf))
		return -1;
	memcpy(buf, v + i, n - i);
	buf[n - i] = '\0';
	for (j = 0; buf[j] && isdigit((unsigned char)buf[j]); j++)
		;
	if (!buf[j]) {
		double s = strtod(buf, NULL);

		return s > 1e7 ? 1e7 : s;
	} else {
		time_t when = curl_getdate(buf, NULL);
		double d;

		if (when <= 0)
			return -1;
		d = difftime(when, time(NULL));
		return d < 0 ? 0 : d;
	}
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *ud)
{
	static const char name[] = "retry-after:";
	struct transfer *t = ud;
	size_t n = size * nmemb;

	/* A new status line starts a new answer (an interim 1xx): forget
	 * what the previous one said. */
	if (n >= 5 && !strncmp(ptr, "HTTP/", 5))
		t->retry_after_s = -1;
	else if (n > sizeof(name) - 1 && !strncasecmp(ptr, name, sizeof(name) - 1))
		t->retry_after_s =
		    parse_retry_after(ptr + sizeof(name) - 1, n - (sizeof(name) - 1));
	return n;
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const struct transfer *t = ud;

	return t->cancel && atomic_load(t->cancel) ? 1 : 0;
}

/* The errno and words for a failed transfer. */
static int map_curl_error(CURLcode rc, long os_errno, const char **ret_what)
{
	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		*ret_what = "timed out";
		return -ETIMEDOUT;
	case CURLE_FILESIZE_EXCEEDED:
		*ret_what = "answer too large";
		return -EMSGSIZE;
	case CURLE_COULDNT_CONNECT:
		if (os_errno == EHOSTUNREACH || os_errno == ENETUNREACH) {
			*ret_what = "host unreachable";
			return -EHOSTUNREACH;
		}
		*ret_what = "connection refused";
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		*ret_what = "cannot resolve the host name";
		return -EHOSTUNREACH;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_USE_SSL_FAILED:
		*ret_what = "TLS failed";
		return -EPROTO;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		*ret_what = "the server did not answer in HTTP";
		return -EPROTO;
	case CURLE_GOT_NOTHING:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
		*ret_what = "the connection closed without a full answer";
		return -ECONNRESET;
	case CURLE_ABORTED_BY_CALLBACK:
		*ret_what = "cancelled";
		return -ECANCELED;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		*ret_what = "malformed URL";
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		*ret_what = "out of memory";
		return -ENOMEM;
	default:
		*ret_what = curl_easy_strerror(rc);
		return -EIO;
	}
}

/*
 * curl's own detail line, when it quotes nothing of the URL but its
 * origin: it names the failed step ("SSL certificate problem: ..."), which
 * curl_easy_strerror() does not.
 */
static const char *safe_detail(const char *detail, const char *url)
{
	const char *auth = strstr(url, "://"), *rest;

	if (!detail[0] || !auth || strchr(url, '@'))
		return ""; /* user info: never risk quoting it */
	rest = auth + 3 + strcspn(auth + 3, "/?#");
	if (strlen(rest) > 1 && strstr(detail, rest + 1))
		return "";
	return detail;
}

static void set_options(CURL *h, const struct http_request *req, struct curl_slist *headers,
			struct transfer *t, char *detail)
{
	long ms = (long)ceil(req->timeout_s * 1000);

	curl_easy_setopt(h, CURLOPT_URL, req->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, ms);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_response_bytes);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "kpulse/" KPULSE_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, t);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, t);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, detail);
	if (!strcmp(req->method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body ? req->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
}

/* Frees a header list after wiping it: it may hold an API key. */
static void free_headers(struct curl_slist *l)
{
	for (struct curl_slist *p = l; p; p = p->next)
		explicit_bzero(p->data, strlen(p->data));
	curl_slist_free_all(l);
}

int http_perform(const struct http_request *req, struct http_response *ret, char *err,
		 size_t errlen)
{
	char origin[HTTP_ORIGIN_MAX], detail[CURL_ERROR_SIZE] = "", shown[160];
	struct transfer t = {.retry_after_s = -1};
	struct curl_slist *headers = NULL, *tmp;
	double start = clock_mono_s();
	const char *what, *ctype = NULL;
	long status = 0, os_errno = 0;
	CURL *h = NULL;
	CURLcode rc;
	int r;

	if (!req || !ret || !req->method || !req->url || !(req->timeout_s > 0) ||
	    !req->max_response_bytes || (strcmp(req->method, "GET") && strcmp(req->method, "POST")))
		return error_set(err, errlen, -EINVAL, "http: bad request arguments");
	if (!http_url_origin(req->url, origin, sizeof(origin)))
		return error_set(err, errlen, -EINVAL, "http: not an http or https URL");
	if (http_global_init() < 0)
		return error_set(err, errlen, -EIO, "http: libcurl did not initialize");
	t.max = req->max_response_bytes;
	t.cancel = req->cancel;
	if (t.cancel && atomic_load(t.cancel))
		return error_set(err, errlen, -ECANCELED, "%s: cancelled", origin);

	/* No "Expect: 100-continue": it costs a round trip (or a second's
	 * wait on servers that never send 100) for every larger POST. */
	headers = curl_slist_append(NULL, "Expect:");
	for (size_t i = 0; headers && req->headers && req->headers[i]; i++) {
		tmp = curl_slist_append(headers, req->headers[i]);
		if (!tmp) {
			free_headers(headers);
			headers = NULL;
		} else {
			headers = tmp;
		}
	}
	h = curl_easy_init();
	if (!headers || !h) {
		r = error_set(err, errlen, -ENOMEM, "%s: out of memory", origin);
		goto out;
	}
	set_options(h, req, headers, &t, detail);
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
		r = map_curl_error(rc, os_errno, &what);
		if (t.too_big) {
			r = -EMSGSIZE;
			what = "answer too large";
		}
		if (r == -ETIMEDOUT) {
			r = error_set(err, errlen, r, "%s: timed out after %.1f s", origin,
				      req->timeout_s);
		} else if (r == -EMSGSIZE) {
			r = error_set(err, errlen, r, "%s: answer longer than %zu bytes", origin,
				      req->max_response_bytes);
		} else {
			const char *d = safe_detail(detail, req->url);

			utf8_sanitize(shown, sizeof(shown), d, strlen(d), NULL);
			r = error_set(err, errlen, r, "%s: %s%s%s", origin, what,
				      shown[0] ? ": " : "", shown);
		}
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ctype);
	if (!t.buf) {
		t.buf = calloc(1, 1);
		if (!t.buf) {
			r = error_set(err, errlen, -ENOMEM, "%s: out of memory", origin);
			goto out;
		}
	}
	memset(ret, 0, sizeof(*ret));
	ret->status = status;
	ret->body = t.buf;
	ret->body_len = t.len;
	ret->retry_after_s = t.retry_after_s;
	if (ctype)
		utf8_sanitize(ret->content_type, sizeof(ret->content_type), ctype, strlen(ctype),
			      NULL);
	ret->elapsed_s = clock_mono_s() - start;
	t.buf = NULL;
	r = 0;
out:
	curl_easy_cleanup(h);
	free_headers(headers);
	free(t.buf);
	return r;
}

void http_response_clear(struct http_response *r)
{
	if (!r)
		return;
	free(r->body);
	memset(r, 0, sizeof(*r));
}
