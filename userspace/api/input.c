/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * input.c - everything the API reads from a client before acting on it:
 * JSON bodies (strict jansson parsing plus the checks jansson leaves to
 * the caller), query-string numbers and series selectors. Each function
 * either accepts its input whole or says what is wrong with it.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_internal.h"
#include "util/error.h"
#include "util/utf8.h"

/* ------------------------------------------------------------ JSON */

/* Deepest nesting of objects and arrays, outside strings; stops counting
 * once past limit, so a hostile body costs one linear scan. */
static size_t json_depth(const char *s, size_t len, size_t limit)
{
	size_t depth = 0, max = 0;
	bool in_string = false;

	for (size_t i = 0; i < len && max <= limit; i++) {
		char c = s[i];

		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '{' || c == '[') {
			if (++depth > max)
				max = depth;
		} else if ((c == '}' || c == ']') && depth > 0) {
			depth--;
		}
	}
	return max;
}

int api_json_parse(const char *body, size_t len, size_t max_depth, json_t **ret, char *err,
		   size_t errlen)
{
	json_error_t jerr;
	json_t *root;

	if (!body || len == 0)
		return error_set(err, errlen, -EINVAL, "a JSON object body is required");
	if (memchr(body, '\0', len))
		return error_set(err, errlen, -EINVAL, "the body holds a NUL byte");
	if (json_depth(body, len, max_depth) > max_depth)
		return error_set(err, errlen, -EINVAL, "JSON nested deeper than %zu levels",
				 max_depth);
	/* Without JSON_DECODE_ANY the top level must be an object or array;
	 * without JSON_ALLOW_NUL a \u0000 escape is refused; jansson refuses
	 * invalid UTF-8, integers beyond int64, reals that overflow to
	 * infinity, NaN and Infinity literals, and trailing data. */
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		/* jansson quotes the bytes near the error, which may be invalid
		 * UTF-8 or control characters: the message goes into a JSON reply */
		char why[sizeof(jerr.text) * 4];

		utf8_sanitize(why, sizeof(why), jerr.text, strnlen(jerr.text, sizeof(jerr.text)),
			      NULL);
		return error_set(err, errlen, -EINVAL, "invalid JSON at byte %d: %s", jerr.position,
				 why);
	}
	if (!json_is_object(root)) {
		json_decref(root);
		return error_set(err, errlen, -EINVAL, "the body must be a JSON object");
	}
	*ret = root;
	return 0;
}

int api_json_only_fields(json_t *obj, const char *const *allowed, char *err, size_t errlen)
{
	const char *key;
	json_t *v;

	json_object_foreach (obj, key, v) {
		bool known = false;

		for (const char *const *a = allowed; *a && !known; a++)
			known = strcmp(*a, key) == 0;
		if (!known) {
			/* at most 64 bytes of the name, cut at a character
			 * boundary, control characters escaped */
			char shown[4 * 64 + 1];

			utf8_sanitize(shown, sizeof(shown), key, utf8_cut(key, strlen(key), 64),
				      NULL);
			return error_set(err, errlen, -EINVAL, "unknown field \"%s\"", shown);
		}
	}
	return 0;
}

/* ------------------------------------------------------------ query strings */

int api_parse_number(const char *s, double *ret)
{
	char *end;
	double v;

	/* strtod would also take spaces, hex, "inf" and "nan". */
	if (!s || !(isdigit((unsigned char)s[0]) || s[0] == '-' || s[0] == '.'))
		return -EINVAL;
	if (strspn(s, "0123456789.eE+-") != strlen(s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
		return -EINVAL;
	*ret = v;
	return 0;
}

/* ------------------------------------------------------------ names */

bool api_label_key_valid(const char *key)
{
	/* Keys starting with __ are reserved by Prometheus. */
	return metric_label_key_valid(key) && strncmp(key, "__", 2) != 0;
}

bool api_custom_name_valid(const char *name)
{
	static const char *const reserved_suffix[] = {"_bucket", "_sum", "_count"};
	size_t n = strlen(name);

	/* kpulse_ is the collector's namespace; the histogram suffixes would
	 * collide with the series a histogram exposes. */
	if (!metric_name_valid(name) || strncmp(name, "kpulse_", 7) == 0 || strchr(name, ':'))
		return false;
	for (size_t i = 0; i < sizeof(reserved_suffix) / sizeof(reserved_suffix[0]); i++) {
		size_t s = strlen(reserved_suffix[i]);

		if (n > s && strcmp(name + n - s, reserved_suffix[i]) == 0)
			return false;
	}
	return true;
}

/* ------------------------------------------------------------ selectors */

static const char *skip_spaces(const char *p)
{
	while (*p == ' ')
		p++;
	return p;
}

int api_selector_parse(const char *text, char *buf, size_t buflen, struct store_selector *sel)
{
	const char *p = text;
	char *w = buf;
	size_t n;

	if (!text || strlen(text) + 1 > buflen)
		return -EINVAL;
	memset(sel, 0, sizeof(*sel));
	for (n = 0; isalnum((unsigned char)p[n]) || p[n] == '_' || p[n] == ':'; n++)
		;
	memcpy(w, p, n);
	w[n] = '\0';
	if (!metric_name_valid(w))
		return -EINVAL;
	sel->name = w;
	w += n + 1;
	p += n;
	if (*p == '\0')
		return 0;
	if (*p++ != '{')
		return -EINVAL;
	p = skip_spaces(p);
	while (*p != '}') {
		char *key = w, *value;

		if (sel->nmatchers == REGISTRY_MAX_LABELS)
			return -EINVAL;
		for (n = 0; isalnum((unsigned char)p[n]) || p[n] == '_'; n++)
			;
		memcpy(w, p, n);
		w[n] = '\0';
		if (!metric_label_key_valid(key))
			return -EINVAL;
		w += n + 1;
		p = skip_spaces(p + n);
		if (*p++ != '=')
			return -EINVAL;
		p = skip_spaces(p);
		if (*p++ != '"')
			return -EINVAL;
		value = w;
		for (; *p && *p != '"'; p++) {
			if (*p == '\\') {
				p++;
				if (*p == 'n')
					*w++ = '\n';
				else if (*p == '"' || *p == '\\')
					*w++ = *p;
				else
					return -EINVAL;
			} else {
				*w++ = *p;
			}
		}
		if (*p++ != '"' || (size_t)(w - value) >= REGISTRY_LABEL_VALUE_MAX)
			return -EINVAL;
		*w++ = '\0';
		for (size_t i = 0; i < sel->nmatchers; i++)
			if (strcmp(sel->matchers[i].key, key) == 0)
				return -EINVAL;
		sel->matchers[sel->nmatchers].key = key;
		sel->matchers[sel->nmatchers].value = value;
		sel->nmatchers++;
		p = skip_spaces(p);
		if (*p == ',')
			p = skip_spaces(p + 1);
		else if (*p != '}')
			return -EINVAL;
	}
	if (p[1] != '\0')
		return -EINVAL;
	return 0;
}
