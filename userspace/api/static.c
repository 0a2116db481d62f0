/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * static.c - the web dashboard: GET / (index.html) and GET /ui/{file},
 * served from the table the build compiles into the binary (static.h);
 * no file is opened, so no path can reach outside the table.
 *
 * Contracts: a file goes out with its content type, a strong ETag,
 * Cache-Control: no-cache (revalidate, answered 304 when If-None-Match
 * names the tag), gzip when the client accepts it and a copy exists
 * (Vary: Accept-Encoding), and the browser-facing headers: the strict
 * Content-Security-Policy of static.h, nosniff, no referrer, no
 * framing. An unknown file is a 404 error like any other.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/api_internal.h"
#include "api/static.h"

const struct api_web_asset *api_web_asset_find(const char *path)
{
	if (!path)
		return NULL;
	for (size_t i = 0; i < api_web_assets_count; i++)
		if (strcmp(api_web_assets[i].path, path) == 0)
			return &api_web_assets[i];
	return NULL;
}

/* ------------------------------------------------------------ headers */

static const char *skip_ows(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

/* The opaque tag (with quotes) of one list member [s, end), W/ dropped. */
static bool tag_equal(const char *s, const char *end, const char *tag)
{
	size_t n;

	while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	if (end - s > 2 && s[0] == 'W' && s[1] == '/')
		s += 2;
	n = (size_t)(end - s);
	return tag && strlen(tag) == n && memcmp(s, tag, n) == 0;
}

bool api_etag_matches(const char *if_none_match, const char *tag, const char *tag_gzip)
{
	const char *s = if_none_match;

	if (!s)
		return false;
	for (;;) {
		const char *end, *last;

		s = skip_ows(s);
		end = s + strcspn(s, ",");
		for (last = end; last > s && (last[-1] == ' ' || last[-1] == '\t'); last--)
			;
		if (last - s == 1 && *s == '*')
			return true;
		if (tag_equal(s, end, tag) || tag_equal(s, end, tag_gzip))
			return true;
		if (!*end)
			return false;
		s = end + 1;
	}
}

/* Whether the parameters of one coding ("; q=0.5") leave it acceptable. */
static bool qvalue_nonzero(const char *s, const char *end)
{
	while (s < end) {
		const char *semi = memchr(s, ';', (size_t)(end - s));
		const char *p;

		if (!semi)
			return true;
		p = skip_ows(semi + 1);
		if ((p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
			/* q=0, q=0.0, q=0.000: refused; anything else accepts. */
			p += 2;
			if (*p != '0')
				return true;
			for (p++, p += (*p == '.'); p < end && *p == '0'; p++)
				;
			return p < end && isdigit((unsigned char)*p);
		}
		s = semi + 1;
	}
	return true;
}

bool api_accepts_gzip(const char *accept_encoding)
{
	const char *s = accept_encoding;

	if (!s)
		return false;
	for (;;) {
		const char *end, *name_end;
		size_t n;

		s = skip_ows(s);
		end = s + strcspn(s, ",");
		name_end = s + strcspn(s, ";, \t");
		n = (size_t)(name_end - s);
		if (((n == 4 && strncasecmp(s, "gzip", 4) == 0) || (n == 1 && *s == '*')) &&
		    qvalue_nonzero(name_end, end))
			return true;
		if (!*end)
			return false;
		s = end + 1;
	}
}

/* ------------------------------------------------------------ serving */

static enum MHD_Result serve(struct api_request *req, const char *path)
{
	const struct api_web_asset *f = api_web_asset_find(path);
	const char *inm, *ae;
	struct MHD_Response *resp;
	bool gz, not_modified;

	if (!f)
		return api_reply_error(req, 404, "no such file");
	inm =
	    MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	ae = MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
					 MHD_HTTP_HEADER_ACCEPT_ENCODING);
	gz = f->gzip && api_accepts_gzip(ae);
	not_modified = api_etag_matches(inm, f->etag, f->etag_gzip);

	/* The table lives as long as the program: no copy, nothing to free. */
	if (not_modified)
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	else
		resp = MHD_create_response_from_buffer(gz ? f->gzip_len : f->len,
						       (void *)(gz ? f->gzip : f->data),
						       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, gz ? f->etag_gzip : f->etag);
	if (f->gzip)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
	if (!not_modified) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, f->content_type);
		if (gz)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	}
	return api_queue_response(req, not_modified ? 304 : 200, resp, API_ANSWER_PAGE);
}

enum MHD_Result api_handle_index(struct api_request *req)
{
	return serve(req, "/");
}

enum MHD_Result api_handle_static(struct api_request *req)
{
	char path[API_PATH_PARAM_MAX + 8];

	snprintf(path, sizeof(path), "/ui/%s", req->params[0]);
	return serve(req, path);
}
