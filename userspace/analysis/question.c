// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * question.c - the window a free-form question names (see question.h): a
 * small scanner over lower-cased ASCII words, nothing else understood.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "analysis/question.h"

#define SCAN_MAX 4096

/* Lower-cased copy of at most SCAN_MAX bytes, other bytes as spaces. */
static size_t fold(const char *q, size_t len, char *out)
{
	size_t n = len < SCAN_MAX ? len : SCAN_MAX;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)q[i];

		out[i] = c < 0x80 && (isalnum(c) || c == ':') ? (char)tolower(c) : ' ';
	}
	out[n] = '\0';
	return n;
}

/* The unit word at p in seconds, or 0. */
static double unit_s(const char *p)
{
	static const struct {
		const char *word;
		double s;
	} units[] = {{"seconds", 1},  {"second", 1},  {"secs", 1},   {"sec", 1},  {"s", 1},
		     {"minutes", 60}, {"minute", 60}, {"mins", 60},  {"min", 60}, {"m", 60},
		     {"hours", 3600}, {"hour", 3600}, {"hrs", 3600}, {"h", 3600}, {"days", 86400},
		     {"day", 86400},  {"d", 86400}};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		size_t n = strlen(units[i].word);

		if (!strncmp(p, units[i].word, n) && !isalnum((unsigned char)p[n]))
			return units[i].s;
	}
	return 0;
}

static bool word_at(const char *buf, const char *p, const char *word)
{
	size_t n = strlen(word);

	return (p == buf || p[-1] == ' ') && !strncmp(p, word, n) && p[n] == ' ';
}

/* "last N unit", "past N unit", "last unit". */
static bool scan_last(const char *buf, double *ret_s)
{
	for (const char *p = buf; *p; p++) {
		const char *q;
		double n = 1, u;

		if (word_at(buf, p, "last"))
			q = p + 5;
		else if (word_at(buf, p, "past"))
			q = p + 5;
		else
			continue;
		while (*q == ' ')
			q++;
		if (isdigit((unsigned char)*q)) {
			n = 0;
			while (isdigit((unsigned char)*q) && n < 1e6)
				n = n * 10 + (*q++ - '0');
			while (*q == ' ')
				q++;
		}
		u = unit_s(q);
		if (u > 0 && n > 0) {
			*ret_s = n * u;
			return true;
		}
	}
	return false;
}

/* "at HH:MM" or "around HH:MM" (also "at 14h05" is not understood). */
static bool scan_clock(const char *buf, int *hh, int *mm)
{
	for (const char *p = buf; *p; p++) {
		const char *q;
		int h = 0, m = 0, digits = 0;

		if (word_at(buf, p, "at"))
			q = p + 3;
		else if (word_at(buf, p, "around"))
			q = p + 7;
		else
			continue;
		while (*q == ' ')
			q++;
		while (isdigit((unsigned char)*q) && digits < 2) {
			h = h * 10 + (*q++ - '0');
			digits++;
		}
		if (!digits || *q != ':' || !isdigit((unsigned char)q[1]) ||
		    !isdigit((unsigned char)q[2]) || isdigit((unsigned char)q[3]))
			continue;
		m = (q[1] - '0') * 10 + (q[2] - '0');
		if (h > 23 || m > 59)
			continue;
		*hh = h;
		*mm = m;
		return true;
	}
	return false;
}

void question_window(const char *q, size_t len, double now, double *from, double *to, char *said,
		     size_t saidlen)
{
	char buf[SCAN_MAX + 1];
	double span;
	int hh, mm;

	fold(q ? q : "", q ? len : 0, buf);
	if (scan_clock(buf, &hh, &mm)) {
		time_t t = (time_t)now;
		struct tm tm;
		double at;

		localtime_r(&t, &tm);
		tm.tm_hour = hh;
		tm.tm_min = mm;
		tm.tm_sec = 0;
		tm.tm_isdst = -1;
		at = (double)mktime(&tm);
		if (at > now + 60)
			at -= 86400;
		*from = at - 300;
		*to = at + 300 < now ? at + 300 : now;
		if (*to <= *from)
			*to = *from + 1;
		snprintf(said, saidlen, "around %02d:%02d (10 minutes)", hh, mm);
		return;
	}
	if (scan_last(buf, &span)) {
		if (span > QUESTION_MAX_WINDOW_S)
			span = QUESTION_MAX_WINDOW_S;
		if (span < 10)
			span = 10;
		*from = now - span;
		*to = now;
		snprintf(said, saidlen, "the last %.0f seconds", span);
		return;
	}
	*from = now - QUESTION_DEFAULT_WINDOW_S;
	*to = now;
	snprintf(said, saidlen, "the last 15 minutes");
}
