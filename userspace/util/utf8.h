/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * utf8.h - the one strict UTF-8 checker and sanitizer. Every string that
 * comes from outside (kernel task names, device names, HTTP input, LLM
 * answers) and goes into JSON, a label or a log line passes through here,
 * so that all of kpulse agrees on what valid means: RFC 3629, no overlong
 * forms, no surrogates, nothing above U+10FFFF.
 *
 * Sanitizing never drops data silently: a byte that is not part of a valid
 * character, and a control character, is written as the four printable
 * characters "\xNN", so the raw bytes can still be read back from the
 * result. Output is cut only at character (or escape) boundaries.
 */
#ifndef KPULSE_UTIL_UTF8_H
#define KPULSE_UTIL_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length (1..4) of the valid character at s, which has n readable bytes,
 * or 0 when the bytes there do not start a valid character. */
size_t utf8_char_len(const char *s, size_t n);

/* True when the n bytes at s are valid UTF-8 (NUL bytes included). */
bool utf8_valid(const char *s, size_t n);

/* The longest prefix of s (len bytes) that is at most max bytes and does
 * not end inside a character: the length to keep when cutting s to max, or
 * when s itself was cut short (len == max) by a bounded copy. */
size_t utf8_cut(const char *s, size_t len, size_t max);

/*
 * Copies the srclen bytes at src into dst (dstsize bytes, > 0), stopping at
 * a NUL in src, and NUL-terminates it. Invalid bytes and control characters
 * (below 0x20, and 0x7f) become "\xNN". What does not fit is left out at a boundary. Returns the
 * length written (without the NUL); *ret_changed (may be NULL) tells whether anything was escaped
 * or cut.
 */
size_t utf8_sanitize(char *dst, size_t dstsize, const char *src, size_t srclen, bool *ret_changed);

/*
 * utf8_sanitize() for text of several lines (an LLM's answer, an alert's
 * summary): newlines and tabs are kept, "\r\n" becomes "\n" (counted as
 * a change), and every other control character and invalid byte is
 * escaped as "\xNN" as above.
 */
size_t utf8_sanitize_text(char *dst, size_t dstsize, const char *src, size_t srclen,
			  bool *ret_changed);

#endif /* KPULSE_UTIL_UTF8_H */
