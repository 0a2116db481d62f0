/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fuzz_api_input.c - libFuzzer target for api/input.c, the strict layer
 * every client byte passes before a handler acts: JSON bodies
 * (api_json_parse, api_json_only_fields), query-string numbers, series
 * selectors, custom metric names and label keys. The first byte picks the
 * parser. Accepted input must hold what the contracts promise (an object,
 * finite numbers, selectors whose strings are inside the buffer), refused
 * input one terminated error line. `make fuzz` builds it with clang
 * -fsanitize=fuzzer,address,undefined.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/api_internal.h"
#include "util/utf8.h"

static void check_err(const char *err, size_t len)
{
	const char *end = memchr(err, '\0', len);

	if (!end || memchr(err, '\n', (size_t)(end - err)) || !utf8_valid(err, (size_t)(end - err)))
		abort(); /* one terminated line of valid UTF-8: it goes into a JSON reply */
}

static void fuzz_json(const char *body, size_t len)
{
	static const char *const allowed[] = {"name", "password", "role", "labels", "value", NULL};
	char err[256];
	json_t *obj = NULL;
	char *text;

	if (api_json_parse(body, len, 8, &obj, err, sizeof(err)) != 0) {
		check_err(err, sizeof(err));
		return;
	}
	if (!json_is_object(obj))
		abort();
	text = json_dumps(obj, JSON_COMPACT);
	if (!text)
		abort();
	free(text);
	if (api_json_only_fields(obj, allowed, err, sizeof(err)) != 0)
		check_err(err, sizeof(err));
	json_decref(obj);
}

static void fuzz_selector(const char *text, size_t len)
{
	struct store_selector sel;
	char *buf = malloc(len + 1);

	if (!buf)
		return;
	if (api_selector_parse(text, buf, len + 1, &sel) == 0) {
		if (sel.nmatchers > REGISTRY_MAX_LABELS)
			abort();
		if (sel.name && (sel.name < buf || sel.name > buf + len))
			abort();
		for (size_t i = 0; i < sel.nmatchers; i++)
			if (!sel.matchers[i].key || !sel.matchers[i].value)
				abort();
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;
	double v;

	if (size < 1)
		return 0;
	/* the API hands parsers NUL-terminated copies (MHD strings, bodies) */
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	switch (data[0] % 4) {
	case 0:
		fuzz_json(s, size - 1);
		break;
	case 1:
		fuzz_selector(s, strlen(s));
		break;
	case 2:
		if (api_parse_number(s, &v) == 0 && !isfinite(v))
			abort();
		break;
	default:
		(void)api_custom_name_valid(s);
		(void)api_label_key_valid(s);
		break;
	}
	free(s);
	return 0;
}
