// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * reply.c - every response the API sends goes through here: JSON bodies,
 * text bodies (Prometheus, HTML, cached JSON), and errors as
 * {"error":{"code","message"}} with the short code of their status.
 *
 * Contracts: each helper queues exactly one response and returns what
 * MHD_queue_response() returned, takes ownership of the body it is given
 * (also on failure), and counts 4xx and 5xx replies for /metrics. Every
 * response of the API, these and the stream's and the dashboard files',
 * is queued by api_queue_response(), which adds the security headers
 * (a CSP, no framing, no referrer, nosniff, CORP and COOP, no caching).
 * Error messages are made valid UTF-8. When a JSON body cannot be
 * serialized the reply becomes a 500 with a fixed body, so a client
 * always gets an answer it can parse.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/static.h"
#include "util/utf8.h"

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
	case 415:
		return "unsupported_media_type";
	case 421:
		return "misdirected_request";
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

enum MHD_Result api_queue_response(struct api_request *req, unsigned status,
				   struct MHD_Response *resp, enum api_answer_kind kind)
{
	enum MHD_Result ret;

	/* Nothing the API answers is a page to run or to frame; the
	 * dashboard's files have their own policy (static.h). */
	MHD_add_response_header(
	    resp, MHD_HTTP_HEADER_CONTENT_SECURITY_POLICY,
	    kind == API_ANSWER_PAGE ? API_WEB_CSP : "default-src 'none'; frame-ancestors 'none'");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				kind == API_ANSWER_PAGE ? "no-cache" : "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "same-origin");
	MHD_add_response_header(resp, "Cross-Origin-Opener-Policy", "same-origin");
	count_status(req->api, status);
	ret = MHD_queue_response(req->conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Queues text as the whole response, plus one optional extra header. */
static enum MHD_Result reply(struct api_request *req, unsigned status, const char *content_type,
			     char *text_steal, size_t len, const char *hdr, const char *hdr_value)
{
	struct MHD_Response *resp;

	resp = MHD_create_response_from_buffer(len, text_steal, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text_steal);
		return MHD_NO;
	}
	if (content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	if (hdr)
		MHD_add_response_header(resp, hdr, hdr_value);
	return api_queue_response(req, status, resp, API_ANSWER_DATA);
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
	char msg[API_ERROR_MAX], safe[4 * API_ERROR_MAX];

	/* Messages quote input (a query key, a JSON field name): invalid
	 * UTF-8 would make the JSON unwritable, and a cut could split a
	 * character, so both become \xNN escapes. */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	utf8_sanitize(safe, sizeof(safe), msg, strlen(msg), NULL);
	return reply_json_hdr(req, status, error_body(status, safe), hdr, hdr_value);
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

enum MHD_Result api_reply_error_header(struct api_request *req, unsigned status, const char *hdr,
				       const char *hdr_value, const char *fmt, ...)
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
