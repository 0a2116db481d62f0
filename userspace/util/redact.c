// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * redact.c - secret scrubbing (see redact.h). Every REDACT_MIN_RUN-byte
 * window of every secret goes into a small hash set; each window of the
 * text is looked up there, and the bytes of each hit are marked. A run of
 * REDACT_MIN_RUN or more bytes shared with a secret is made of such
 * windows, so all of it is marked; marked runs become REDACT_MARK. Cost:
 * one lookup per byte of text, whatever the number of secrets.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/redact.h"
#include "util/utf8.h"

/* Secrets shorter than this are ignored: they would match everywhere. */
#define SECRET_MIN 4

struct window_set {
	uint64_t *slots;
	bool *used;
	size_t mask;
};

static uint64_t window_at(const char *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));
	return w;
}

static size_t window_hash(uint64_t w, size_t mask)
{
	return (size_t)((w * 0x9e3779b97f4a7c15ull) >> 17) & mask;
}

static void set_add(struct window_set *s, uint64_t w)
{
	size_t i = window_hash(w, s->mask);

	while (s->used[i] && s->slots[i] != w)
		i = (i + 1) & s->mask;
	s->used[i] = true;
	s->slots[i] = w;
}

static bool set_has(const struct window_set *s, uint64_t w)
{
	size_t i = window_hash(w, s->mask);

	while (s->used[i]) {
		if (s->slots[i] == w)
			return true;
		i = (i + 1) & s->mask;
	}
	return false;
}

/*
 * Marks in marks[len] the bytes of text that belong to a secret. Returns
 * 1 when something was marked, 0 when nothing, -1 when out of memory.
 */
static int mark(const char *text, size_t len, const char *const *secrets, size_t n, bool *marks)
{
	struct window_set set = {};
	size_t windows = 0, cap = 16;
	int found = 0;

	_Static_assert(REDACT_MIN_RUN == sizeof(uint64_t), "one window is one uint64_t");
	for (size_t k = 0; k < n; k++) {
		size_t sl = secrets[k] ? strlen(secrets[k]) : 0;

		if (sl >= REDACT_MIN_RUN)
			windows += sl - REDACT_MIN_RUN + 1;
		else if (sl >= SECRET_MIN)
			/* short secrets: whole occurrences only */
			for (const char *p = text;
			     (p = memmem(p, len - (size_t)(p - text), secrets[k], sl)); p++) {
				memset(marks + (p - text), 1, sl);
				found = 1;
			}
	}
	if (!windows || len < REDACT_MIN_RUN)
		return found;
	while (cap < windows * 2)
		cap *= 2;
	set.slots = calloc(cap, sizeof(*set.slots));
	set.used = calloc(cap, sizeof(*set.used));
	set.mask = cap - 1;
	if (!set.slots || !set.used) {
		free(set.slots);
		free(set.used);
		return -1;
	}
	for (size_t k = 0; k < n; k++) {
		size_t sl = secrets[k] ? strlen(secrets[k]) : 0;

		for (size_t i = 0; sl >= REDACT_MIN_RUN && i + REDACT_MIN_RUN <= sl; i++)
			set_add(&set, window_at(secrets[k] + i));
	}
	for (size_t i = 0; i + REDACT_MIN_RUN <= len; i++) {
		if (set_has(&set, window_at(text + i))) {
			memset(marks + i, 1, REDACT_MIN_RUN);
			found = 1;
		}
	}
	free(set.slots);
	free(set.used);
	return found;
}

size_t redact_secrets(char *dst, size_t dstsize, const char *src, const char *const *secrets,
		      size_t n, bool *ret_changed)
{
	size_t len = src ? strlen(src) : 0, out = 0, i = 0;
	bool *marks = NULL;
	int found = 0;

	if (ret_changed)
		*ret_changed = false;
	if (!dstsize)
		return 0;
	if (len) {
		marks = calloc(len, sizeof(*marks));
		found = marks ? mark(src, len, secrets, n, marks) : -1;
	}
	if (found < 0) {
		/* cannot tell where a secret is: show none of the text */
		free(marks);
		if (ret_changed)
			*ret_changed = true;
		snprintf(dst, dstsize, "%s", dstsize > strlen(REDACT_MARK) ? REDACT_MARK : "");
		return strlen(dst);
	}
	while (i < len) {
		size_t j = i;

		if (found && marks[i]) {
			while (j < len && marks[j])
				j++;
			if (out + strlen(REDACT_MARK) >= dstsize)
				break;
			memcpy(dst + out, REDACT_MARK, strlen(REDACT_MARK));
			out += strlen(REDACT_MARK);
		} else {
			size_t keep;

			while (j < len && !(found && marks[j]))
				j++;
			keep = utf8_cut(src + i, j - i, dstsize - 1 - out);
			memcpy(dst + out, src + i, keep);
			out += keep;
			if (keep < j - i)
				break;
		}
		i = j;
	}
	dst[out] = '\0';
	if (ret_changed)
		*ret_changed = found > 0;
	free(marks);
	return out;
}

bool redact_found(const char *text, const char *const *secrets, size_t n)
{
	size_t len = text ? strlen(text) : 0;
	bool *marks;
	int found;

	if (!len)
		return false;
	marks = calloc(len, sizeof(*marks));
	if (!marks)
		return true; /* cannot tell: assume the worst */
	found = mark(text, len, secrets, n, marks);
	free(marks);
	return found != 0;
}
