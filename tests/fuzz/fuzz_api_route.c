/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fuzz_api_route.c - libFuzzer target for the API's request path: the
 * route table's matcher (api_route_match, against every route), the
 * dashboard's asset lookup and its Accept-Encoding and If-None-Match
 * readers, and the query-string values (numbers and selectors) of the
 * path's query. Input: a path, optionally "?k=v&k=v", then "\n" and
 * header text. A match must leave at most API_PATH_PARAMS parameters, each
 * one terminated segment without '/'. `make fuzz` builds it with clang
 * -fsanitize=fuzzer,address,undefined.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "api/static.h"

static void check_params(const struct api_request *req)
{
	if (req->nparams > API_PATH_PARAMS)
		abort();
	for (size_t i = 0; i < req->nparams; i++) {
		const char *p = req->params[i];
		const char *end = memchr(p, '\0', API_PATH_PARAM_MAX);

		if (!end || end == p || memchr(p, '/', (size_t)(end - p)))
			abort();
	}
}

/* Each value of "k=v&k=v" as MHD would hand it (no decoding here: MHD has
 * done it before kpulse sees a value). */
static void fuzz_query(char *q)
{
	for (char *tok = strtok(q, "&"); tok; tok = strtok(NULL, "&")) {
		char *v = strchr(tok, '=');
		struct store_selector sel;
		double d;
		char *buf;

		v = v ? v + 1 : tok;
		if (api_parse_number(v, &d) == 0 && !isfinite(d))
			abort();
		buf = malloc(strlen(v) + 1);
		if (!buf)
			return;
		(void)api_selector_parse(v, buf, strlen(v) + 1, &sel);
		free(buf);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), *headers, *query;
	struct api_request req;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	headers = strchr(s, '\n');
	if (headers)
		*headers++ = '\0';
	query = strchr(s, '?');
	if (query)
		*query++ = '\0';

	for (size_t i = 0; i < api_routes_count; i++) {
		memset(&req, 0, sizeof(req));
		if (api_route_match(api_routes[i].pattern, s, &req))
			check_params(&req);
	}
	(void)api_web_asset_find(s);
	if (headers) {
		(void)api_accepts_gzip(headers);
		(void)api_etag_matches(headers, "\"abc\"", "\"abc-gz\"");
	}
	if (query)
		fuzz_query(query);
	free(s);
	return 0;
}
