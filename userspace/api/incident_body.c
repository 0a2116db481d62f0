// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * incident_body.c - the JSON bodies of the incident routes and of
 * POST /api/v1/analyze, read strictly (api_json_parse: one object, no
 * duplicate keys, valid UTF-8, no NUL) and checked field by field. Apart
 * from the handlers so that the fuzz target (tests/fuzz/
 * fuzz_incident_body.c) runs it without a server.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "analysis/incidents.h"
#include "api/api_internal.h"
#include "util/error.h"
#include "util/utf8.h"

/* A question's longest text, as llm/ takes it. */
#define QUESTION_MAX LLM_QUESTION_MAX

static int text_field(json_t *root, const char *name, size_t max, bool required, const char **ret,
		      char *err, size_t errlen)
{
	json_t *v = json_object_get(root, name);
	const char *s;
	size_t len;

	if (!v) {
		if (required)
			return error_set(err, errlen, -EINVAL, "%s is required", name);
		return 0;
	}
	s = json_string_value(v);
	if (!s)
		return error_set(err, errlen, -EINVAL, "%s: not a string", name);
	len = json_string_length(v);
	if (strlen(s) != len)
		return error_set(err, errlen, -EINVAL, "%s: holds a NUL character", name);
	while (len && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')) {
		s++;
		len--;
	}
	if (!len)
		return error_set(err, errlen, -EINVAL, "%s: empty", name);
	if (len > max)
		return error_set(err, errlen, -EINVAL, "%s: longer than %zu bytes", name, max);
	*ret = s;
	return 0;
}

static int time_field(json_t *root, const char *name, double *ret, char *err, size_t errlen)
{
	json_t *v = json_object_get(root, name);
	double t;

	if (!v)
		return 0;
	t = json_number_value(v);
	if (!json_is_number(v) || !isfinite(t) || t < 0 || t > 1e11)
		return error_set(err, errlen, -EINVAL, "%s: not unix seconds", name);
	*ret = t;
	return 1;
}

int api_incident_body_parse(enum api_incident_body_kind kind, const char *body, size_t len,
			    struct api_incident_body *ret, char *err, size_t errlen)
{
	static const char *const action_fields[] = {NULL};
	static const char *const comment_fields[] = {"text", NULL};
	static const char *const analyze_fields[] = {"question", NULL};
	static const char *const ask_fields[] = {"question", "from", "to", NULL};
	const char *const *fields = kind == API_BODY_ACTION    ? action_fields
				    : kind == API_BODY_COMMENT ? comment_fields
				    : kind == API_BODY_ANALYZE ? analyze_fields
							       : ask_fields;
	struct api_incident_body b = {};
	int r, nf, nt;

	if (kind != API_BODY_ACTION && kind != API_BODY_COMMENT && kind != API_BODY_ANALYZE &&
	    kind != API_BODY_ASK)
		return error_set(err, errlen, -EINVAL, "unknown body kind");
	if (!body || !len) {
		if (kind == API_BODY_COMMENT || kind == API_BODY_ASK)
			return error_set(err, errlen, -EINVAL, "a JSON object body is required");
		*ret = b;
		return 0;
	}
	r = api_json_parse(body, len, 2, &b.root, err, errlen);
	if (r < 0)
		return r;
	r = api_json_only_fields(b.root, fields, err, errlen);
	if (!r && kind == API_BODY_COMMENT)
		r = text_field(b.root, "text", INCIDENTS_COMMENT_MAX, true, &b.text, err, errlen);
	if (!r && (kind == API_BODY_ANALYZE || kind == API_BODY_ASK))
		r = text_field(b.root, "question", QUESTION_MAX, kind == API_BODY_ASK, &b.question,
			       err, errlen);
	if (!r && kind == API_BODY_ASK) {
		nf = time_field(b.root, "from", &b.from, err, errlen);
		nt = nf < 0 ? nf : time_field(b.root, "to", &b.to, err, errlen);
		if (nf < 0 || nt < 0)
			r = -EINVAL;
		else if (nf != nt)
			r = error_set(err, errlen, -EINVAL, "from and to go together");
		else if (nf && !(b.to > b.from && b.to - b.from <= 7 * 86400.0))
			r = error_set(err, errlen, -EINVAL,
				      "to must be after from, at most 7 days later");
		b.has_window = nf > 0;
	}
	if (r) {
		json_decref(b.root);
		return r;
	}
	*ret = b;
	return 0;
}

void api_incident_body_clear(struct api_incident_body *b)
{
	if (b) {
		json_decref(b->root);
		memset(b, 0, sizeof(*b));
	}
}
