// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * utf8.c - strict UTF-8 checks and the escaping sanitizer (see utf8.h).
 */
#include <string.h>

#include "util/utf8.h"

size_t utf8_char_len(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;

	if (n == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0; /* continuation byte, overlong lead (c0, c1) or > U+10FFFF */
	if (n < len)
		return 0;
	/* The second byte's range rules out overlong forms, surrogates and
	 * code points above U+10FFFF. */
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

bool utf8_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		size_t len = utf8_char_len(s + i, n - i);

		if (!len)
			return false;
		i += len;
	}
	return true;
}

size_t utf8_cut(const char *s, size_t len, size_t max)
{
	size_t n = len < max ? len : max, lead = n;
	unsigned char c;
	size_t need;

	/* Back to the lead byte of the last character, then keep that
	 * character only if all of it lies before n. */
	while (lead > 0 && n - lead < 4 && ((unsigned char)s[lead - 1] & 0xc0) == 0x80)
		lead--;
	if (lead == 0)
		return n;
	c = (unsigned char)s[lead - 1];
	need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	return lead - 1 + need > n ? lead - 1 : n;
}

static size_t sanitize(char *dst, size_t dstsize, const char *src, size_t srclen, bool keep_lines,
		       bool *ret_changed)
{
	static const char hex[] = "0123456789abcdef";
	size_t in = 0, out = 0;
	bool changed = false;

	while (in < srclen && src[in]) {
		unsigned char c = (unsigned char)src[in];
		size_t len = utf8_char_len(src + in, srclen - in);
		bool control = len == 1 && (c < 0x20 || c == 0x7f);

		if (keep_lines && c == '\r' && in + 1 < srclen && src[in + 1] == '\n') {
			changed = true;
			in++;
			continue;
		}
		if (keep_lines && (c == '\n' || c == '\t'))
			control = false;
		if (len && !control) {
			if (out + len >= dstsize)
				break;
			memcpy(dst + out, src + in, len);
			out += len;
			in += len;
			continue;
		}
		changed = true;
		if (out + 4 >= dstsize)
			break;
		dst[out++] = '\\';
		dst[out++] = 'x';
		dst[out++] = hex[c >> 4];
		dst[out++] = hex[c & 15];
		in++;
	}
	if (in < srclen && src[in])
		changed = true;
	dst[out] = '\0';
	if (ret_changed)
		*ret_changed = changed;
	return out;
}

size_t utf8_sanitize(char *dst, size_t dstsize, const char *src, size_t srclen, bool *ret_changed)
{
	return sanitize(dst, dstsize, src, srclen, false, ret_changed);
}

size_t utf8_sanitize_text(char *dst, size_t dstsize, const char *src, size_t srclen,
			  bool *ret_changed)
{
	return sanitize(dst, dstsize, src, srclen, true, ret_changed);
}
