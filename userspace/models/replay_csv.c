// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * replay_csv.c - the strict `timestamp,value` CSV reader of `kpulse replay`
 * (see replay_csv.h for the accepted format).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "models/replay_csv.h"
#include "util/error.h"

#define FIELD_MAX 128

static void trim(const char **s, size_t *len)
{
	while (*len && (**s == ' ' || **s == '\t')) {
		(*s)++;
		(*len)--;
	}
	while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t' || (*s)[*len - 1] == '\r'))
		(*len)--;
}

/* Exactly n digits at s, as a number. */
static bool digits(const char *s, size_t n, int *ret)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*ret = v;
	return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
 * days_from_civil): no time zone, no libc state. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 && leap ? 29 : mdays[m - 1];
}

/* A plain decimal: optional sign, digits with one optional point, an
 * optional exponent. Nothing else (strtod alone would take "nan", "inf",
 * hex and leading space). */
static bool plain_decimal(const char *s, size_t len, bool allow_sign)
{
	size_t i = 0, mant = 0;
	bool point = false;

	if (i < len && (s[i] == '+' || s[i] == '-')) {
		if (!allow_sign)
			return false;
		i++;
	}
	for (; i < len && (isdigit((unsigned char)s[i]) || (s[i] == '.' && !point)); i++) {
		if (s[i] == '.')
			point = true;
		else
			mant++;
	}
	if (!mant)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t exp = 0;

		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		for (; i < len && isdigit((unsigned char)s[i]); i++)
			exp++;
		if (!exp)
			return false;
	}
	return i == len;
}

static int parse_number(const char *s, size_t len, bool allow_sign, double *ret)
{
	char buf[FIELD_MAX];
	char *end;
	double v;

	if (len == 0 || len >= sizeof(buf) || !plain_decimal(s, len, allow_sign))
		return -EINVAL;
	memcpy(buf, s, len);
	buf[len] = '\0';
	errno = 0;
	v = strtod(buf, &end);
	if (*end || !isfinite(v))
		return -ERANGE;
	*ret = v;
	return 0;
}

int replay_csv_parse_timestamp(const char *s, size_t len, double *ret_ts)
{
	int y, mo, d, h, mi, sec;
	double frac = 0;

	trim(&s, &len);
	if (len >= 19 && s[4] == '-' && s[7] == '-' && (s[10] == ' ' || s[10] == 'T') &&
	    s[13] == ':' && s[16] == ':') {
		if (!digits(s, 4, &y) || !digits(s + 5, 2, &mo) || !digits(s + 8, 2, &d) ||
		    !digits(s + 11, 2, &h) || !digits(s + 14, 2, &mi) || !digits(s + 17, 2, &sec))
			return -EINVAL;
		if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 ||
		    sec > 59)
			return -EINVAL;
		if (len > 19) {
			/* ".ffffff": one to nine digits */
			if (s[19] != '.' || len == 20 || len > 29)
				return -EINVAL;
			for (size_t i = 20; i < len; i++) {
				if (!isdigit((unsigned char)s[i]))
					return -EINVAL;
			}
			if (parse_number(s + 19, len - 19, false, &frac))
				return -EINVAL;
		}
		*ret_ts = (double)days_from_civil(y, mo, d) * 86400.0 + h * 3600 + mi * 60 + sec +
			  frac;
		return 0;
	}
	/* unix seconds: non-negative, up to the year 10000 */
	if (parse_number(s, len, false, &frac) || frac > 253402300800.0)
		return -EINVAL;
	*ret_ts = frac;
	return 0;
}

int replay_csv_parse_row(const char *line, size_t len, double prev_ts, struct replay_row *ret,
			 char *err, size_t errlen)
{
	const char *comma = memchr(line, ',', len), *ts = line, *val;
	size_t ts_len, val_len;
	double t, v;
	char *text;

	if (memchr(line, '\0', len))
		return error_set(err, errlen, -EINVAL, "NUL byte in the line");
	if (!comma)
		return error_set(err, errlen, -EINVAL,
				 "expected two fields 'timestamp,value', found one");
	ts_len = (size_t)(comma - line);
	val = comma + 1;
	val_len = len - ts_len - 1;
	if (memchr(val, ',', val_len))
		return error_set(err, errlen, -EINVAL,
				 "expected two fields 'timestamp,value', found more");
	trim(&ts, &ts_len);
	trim(&val, &val_len);
	if (ts_len == 0)
		return error_set(err, errlen, -EINVAL, "empty timestamp");
	if (ts_len >= FIELD_MAX || replay_csv_parse_timestamp(ts, ts_len, &t))
		return error_set(err, errlen, -EINVAL,
				 "timestamp '%.*s' is neither YYYY-MM-DD HH:MM:SS nor unix seconds",
				 (int)(ts_len < 40 ? ts_len : 40), ts);
	if (val_len == 0)
		return error_set(err, errlen, -EINVAL, "empty value");
	if (parse_number(val, val_len, true, &v))
		return error_set(err, errlen, -EINVAL, "value '%.*s' is not a finite decimal number",
				 (int)(val_len < 40 ? val_len : 40), val);
	if (t < prev_ts)
		return error_set(err, errlen, -EINVAL,
				 "timestamp '%.*s' goes back in time (rows must be oldest first; "
				 "equal timestamps are kept)",
				 (int)ts_len, ts);
	text = malloc(ts_len + val_len + 2);
	if (!text)
		return -ENOMEM;
	memcpy(text, ts, ts_len);
	text[ts_len] = '\0';
	memcpy(text + ts_len + 1, val, val_len);
	text[ts_len + 1 + val_len] = '\0';
	*ret = (struct replay_row){t, v, text, text + ts_len + 1};
	return 0;
}

static bool is_header(const char *line, size_t len)
{
	const char *a = line, *b, *comma = memchr(line, ',', len);
	size_t alen, blen;

	if (!comma)
		return false;
	alen = (size_t)(comma - line);
	b = comma + 1;
	blen = len - alen - 1;
	trim(&a, &alen);
	trim(&b, &blen);
	return alen == 9 && !strncasecmp(a, "timestamp", 9) && blen == 5 &&
	       !strncasecmp(b, "value", 5);
}

/*
 * Reads one line into buf (REPLAY_CSV_LINE_MAX + 1 bytes), without its
 * newline. Returns its length, -1 at end of file, -E2BIG for a longer line
 * (the rest is consumed), -EIO on a read error.
 */
static long read_line(FILE *f, char *buf)
{
	size_t n = 0;
	bool any = false, too_long = false;
	int c;

	while ((c = getc(f)) != EOF) {
		any = true;
		if (c == '\n')
			break;
		if (n < REPLAY_CSV_LINE_MAX)
			buf[n++] = (char)c;
		else
			too_long = true;
	}
	if (ferror(f))
		return -EIO;
	if (!any)
		return -1;
	buf[n] = '\0';
	return too_long ? -E2BIG : (long)n;
}

void replay_table_clear(struct replay_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->nrows; i++)
		free(t->rows[i].ts_text);
	free(t->rows);
	*t = (struct replay_table){0};
}

int replay_csv_read(FILE *f, size_t max_rows, struct replay_table *ret, char *err, size_t errlen)
{
	struct replay_table t = {0};
	char line[REPLAY_CSV_LINE_MAX + 1], why[256];
	double prev = -INFINITY;
	bool header = false;
	unsigned long lineno = 0;
	int r = 0;

	if (!max_rows)
		max_rows = REPLAY_CSV_MAX_ROWS;
	for (;;) {
		const char *p = line;
		long len = read_line(f, line);
		size_t n;

		if (len == -1)
			break;
		lineno++;
		if (len == -EIO) {
			r = error_set(err, errlen, -EIO, "line %lu: read error", lineno);
			goto fail;
		}
		if (len == -E2BIG) {
			r = error_set(err, errlen, -EINVAL, "line %lu: longer than %d bytes", lineno,
				      REPLAY_CSV_LINE_MAX);
			goto fail;
		}
		n = (size_t)len;
		if (lineno == 1 && n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3)) {
			p += 3;
			n -= 3;
		}
		{
			const char *q = p;
			size_t m = n;

			trim(&q, &m);
			if (m == 0)
				continue; /* blank line */
		}
		if (!header) {
			if (!is_header(p, n)) {
				r = error_set(err, errlen, -EINVAL,
					      "line %lu: expected the header 'timestamp,value'",
					      lineno);
				goto fail;
			}
			header = true;
			continue;
		}
		if (t.nrows == max_rows) {
			r = error_set(err, errlen, -E2BIG, "line %lu: more than %zu rows", lineno,
				      max_rows);
			goto fail;
		}
		if (t.nrows == t.cap) {
			size_t cap = t.cap ? t.cap * 2 : 1024;
			struct replay_row *rows = realloc(t.rows, cap * sizeof(*rows));

			if (!rows) {
				r = error_set(err, errlen, -ENOMEM, "line %lu: out of memory", lineno);
				goto fail;
			}
			t.rows = rows;
			t.cap = cap;
		}
		r = replay_csv_parse_row(p, n, prev, &t.rows[t.nrows], why, sizeof(why));
		if (r == -ENOMEM) {
			r = error_set(err, errlen, -ENOMEM, "line %lu: out of memory", lineno);
			goto fail;
		}
		if (r) {
			r = error_set(err, errlen, r, "line %lu: %s", lineno, why);
			goto fail;
		}
		prev = t.rows[t.nrows].timestamp;
		t.nrows++;
	}
	if (!header) {
		r = error_set(err, errlen, -EINVAL, "empty file: expected the header 'timestamp,value'");
		goto fail;
	}
	*ret = t;
	return 0;
fail:
	replay_table_clear(&t);
	return r;
}
