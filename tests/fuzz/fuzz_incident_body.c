// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_incident_body.c - libFuzzer target on the bodies of the incident
 * routes and of POST /api/v1/analyze (api/incident_body.c, on top of the
 * strict JSON reader of api/input.c), and on the window a free-form
 * question names (analysis/question.c). `make fuzz-incidents`.
 *
 * The first byte picks the body kind (low two bits: action, comment,
 * analyze, ask); the rest is the body as libmicrohttpd hands it over
 * (NUL-terminated, its length excluding the NUL). Besides memory and
 * undefined behaviour, the target checks the promises made: an accepted
 * comment or question is valid UTF-8 within its bound with no NUL, an
 * accepted window has from < to, and the question's window always ends
 * after it starts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/incidents.h"
#include "analysis/question.h"
#include "api/api_internal.h"
#include "util/utf8.h"

static void check_text(const char *s, size_t max)
{
	size_t n;

	if (!s)
		return;
	n = strlen(s);
	if (!n || n > max || !utf8_valid(s, n))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct api_incident_body b;
	double from = 0, to = 0;
	char err[API_ERROR_MAX], said[96];
	char *body;

	if (size < 1)
		return 0;
	body = malloc(size);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	body[size - 1] = '\0';
	if (!api_incident_body_parse((enum api_incident_body_kind)(data[0] & 3), body, size - 1, &b,
				     err, sizeof(err))) {
		check_text(b.text, INCIDENTS_COMMENT_MAX);
		check_text(b.question, LLM_QUESTION_MAX);
		if (b.has_window && !(b.to > b.from))
			__builtin_trap();
		api_incident_body_clear(&b);
	} else if (!err[0]) {
		__builtin_trap(); /* a refusal says why */
	}
	question_window(body, size - 1, 1700000000.0, &from, &to, said, sizeof(said));
	if (!(to > from) || !said[0])
		__builtin_trap();
	free(body);
	return 0;
}
