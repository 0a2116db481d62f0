// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * csv.c - the strict CSV reader for series and matrices (see csv.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/csv.h"
#include "util/error.h"

/* How much of a bad field a message quotes. */
#define QUOTE_MAX 40
/* Unix seconds beyond this (year 5138) are a unit mistake, not a time. */
#define UNIX_MAX 1e11

/* ---------------------------------------------------------------------- */
/* Fields                                                                 */
/* ---------------------------------------------------------------------- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Checks the grammar strtod would be too lenient about, then converts. */
static int parse_decimal(const char *s, bool allow_sign, double *ret)
{
	const char *p = s;
	char *end;
	size_t int_digits = 0, frac_digits = 0;
	double v;

	if (*p == '-' && allow_sign)
		p++;
	while (is_digit(*p)) {
		p++;
		int_digits++;
	}
	if (*p == '.') {
		p++;
		while (is_digit(*p)) {
			p++;
			frac_digits++;
		}
	}
	if (int_digits + frac_digits == 0)
		return -EINVAL;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!is_digit(*p))
			return -EINVAL;
		while (is_digit(*p))
			p++;
	}
	if (*p != '\0')
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (*end != '\0' || !isfinite(v))
		return -EINVAL;
	*ret = v;
	return 0;
}

int csv_parse_number(const char *s, double *ret)
{
	if (!s)
		return -EINVAL;
	return parse_decimal(s, true, ret);
}

static int two_digits(const char *s)
{
	if (!is_digit(s[0]) || !is_digit(s[1]))
		return -1;
	return (s[0] - '0') * 10 + (s[1] - '0');
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian, Howard Hinnant's
 * days_from_civil), so no time zone or locale is involved. */
static long long days_from_civil(int y, int m, int d)
{
	long long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int parse_datetime(const char *s, double *ret)
{
	int y, mo, d, h, mi, se;

	/* YYYY-MM-DD HH:MM:SS, exactly 19 bytes */
	if (strlen(s) != 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' ||
	    s[16] != ':')
		return -EINVAL;
	if (two_digits(s) < 0 || two_digits(s + 2) < 0)
		return -EINVAL;
	y = two_digits(s) * 100 + two_digits(s + 2);
	mo = two_digits(s + 5);
	d = two_digits(s + 8);
	h = two_digits(s + 11);
	mi = two_digits(s + 14);
	se = two_digits(s + 17);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || se < 0 || se > 59)
		return -EINVAL;
	*ret = (double)(days_from_civil(y, mo, d) * 86400LL + h * 3600 + mi * 60 + se);
	return 0;
}

int csv_parse_time(const char *s, double *ret_t, enum csv_time_format *ret_format)
{
	double t;

	if (!s)
		return -EINVAL;
	if (strchr(s, ' ')) {
		if (parse_datetime(s, &t) < 0)
			return -EINVAL;
		*ret_t = t;
		*ret_format = CSV_TIME_DATETIME;
		return 0;
	}
	if (parse_decimal(s, false, &t) < 0 || strpbrk(s, "eE") || t > UNIX_MAX)
		return -EINVAL;
	*ret_t = t;
	*ret_format = CSV_TIME_UNIX;
	return 0;
}

const char *csv_format_time(double t, enum csv_time_format format, char *buf, size_t len)
{
	time_t secs;
	struct tm tm;

	if (format == CSV_TIME_UNIX || !isfinite(t) || t < 0 || t > UNIX_MAX) {
		if (t == floor(t) && fabs(t) < 1e15)
			snprintf(buf, len, "%.0f", t);
		else
			snprintf(buf, len, "%.3f", t);
		return buf;
	}
	secs = (time_t)llround(t);
	if (!gmtime_r(&secs, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%.0f", t);
	return buf;
}

/* ---------------------------------------------------------------------- */
/* Lines                                                                  */
/* ---------------------------------------------------------------------- */

struct reader {
	FILE *f;
	const char *name;
	size_t lineno;
	char line[CSV_LINE_MAX + 2];
	char *err;
	size_t errlen;
};

/* 1 and r->line without its ending, 0 at end of input, or -errno. */
static int read_line(struct reader *r)
{
	size_t n = 0;
	int c;

	for (;;) {
		c = getc_unlocked(r->f);
		if (c == EOF) {
			if (ferror(r->f))
				return error_set(r->err, r->errlen, -EIO, "%s:%zu: read error",
						 r->name, r->lineno + 1);
			if (n == 0)
				return 0;
			break;
		}
		if (c == '\n')
			break;
		if (c == '\0')
			return error_set(r->err, r->errlen, -EINVAL, "%s:%zu: NUL byte in line",
					 r->name, r->lineno + 1);
		if (n >= CSV_LINE_MAX + 1)
			return error_set(r->err, r->errlen, -E2BIG,
					 "%s:%zu: line longer than %d bytes", r->name,
					 r->lineno + 1, CSV_LINE_MAX);
		r->line[n++] = (char)c;
	}
	if (n > 0 && r->line[n - 1] == '\r')
		n--;
	if (n > CSV_LINE_MAX)
		return error_set(r->err, r->errlen, -E2BIG, "%s:%zu: line longer than %d bytes",
				 r->name, r->lineno + 1, CSV_LINE_MAX);
	r->line[n] = '\0';
	r->lineno++;
	if (n == 0)
		return error_set(r->err, r->errlen, -EINVAL, "%s:%zu: empty line", r->name,
				 r->lineno);
	if (strchr(r->line, '\r'))
		return error_set(r->err, r->errlen, -EINVAL,
				 "%s:%zu: carriage return inside a line", r->name, r->lineno);
	return 1;
}

/* Splits r->line at commas in place; returns the field count or -E2BIG. */
static int split_fields(struct reader *r, char **fields, int max)
{
	char *p = r->line;
	int n = 0;

	for (;;) {
		if (n == max)
			return error_set(r->err, r->errlen, -E2BIG, "%s:%zu: more than %d fields",
					 r->name, r->lineno, max);
		fields[n++] = p;
		p = strchr(p, ',');
		if (!p)
			return n;
		*p++ = '\0';
	}
}

static int bad_field(struct reader *r, const char *what, const char *field, const char *expect)
{
	return error_set(r->err, r->errlen, -EINVAL, "%s:%zu: %s \"%.*s\"%s is not %s", r->name,
			 r->lineno, what, QUOTE_MAX, field, strlen(field) > QUOTE_MAX ? "..." : "",
			 expect);
}

/* Grows *p (elements of size) to hold at least want; keeps *cap. */
static int grow(void **p, size_t *cap, size_t want, size_t size)
{
	size_t n = *cap ? *cap : 1024;
	void *q;

	if (want <= *cap)
		return 0;
	while (n < want)
		n *= 2;
	q = realloc(*p, n * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Series                                                                 */
/* ---------------------------------------------------------------------- */

struct csv_series *csv_series_free(struct csv_series *s)
{
	if (!s)
		return NULL;
	free(s->t);
	free(s->v);
	free(s);
	return NULL;
}

int csv_read_series(FILE *f, const char *name, size_t max_rows, struct csv_series **ret, char *err,
		    size_t errlen)
{
	struct reader *r;
	struct csv_series *s = NULL;
	char *fields[3];
	size_t cap_t = 0, cap_v = 0;
	enum csv_time_format fmt;
	int rc, n;

	r = calloc(1, sizeof(*r));
	s = calloc(1, sizeof(*s));
	if (!r || !s) {
		rc = error_set(err, errlen, -ENOMEM, "%s: out of memory", name);
		goto fail;
	}
	*r = (struct reader){.f = f, .name = name, .err = err, .errlen = errlen};
	rc = read_line(r);
	if (rc == 0)
		rc = error_set(err, errlen, -EINVAL, "%s: empty input, expected a header line",
			       name);
	if (rc < 0)
		goto fail;
	if (strcmp(r->line, "timestamp,value") != 0) {
		rc = error_set(err, errlen, -EINVAL, "%s:1: header must be \"timestamp,value\"",
			       name);
		goto fail;
	}
	for (;;) {
		double t, v;

		rc = read_line(r);
		if (rc < 0)
			goto fail;
		if (rc == 0)
			break;
		n = split_fields(r, fields, 3);
		if (n < 0) {
			rc = n;
			goto fail;
		}
		if (n != 2) {
			rc = error_set(err, errlen, -EINVAL, "%s:%zu: expected 2 fields, got %d",
				       name, r->lineno, n);
			goto fail;
		}
		if (csv_parse_time(fields[0], &t, &fmt) < 0) {
			rc = bad_field(r, "timestamp", fields[0],
				       "\"YYYY-MM-DD HH:MM:SS\" or unix seconds");
			goto fail;
		}
		if (s->n == 0) {
			s->time_format = fmt;
		} else if (fmt != s->time_format) {
			rc = bad_field(r, "timestamp", fields[0],
				       "in the format of the first row's timestamp");
			goto fail;
		}
		if (csv_parse_number(fields[1], &v) < 0) {
			rc = bad_field(r, "value", fields[1], "a finite decimal number");
			goto fail;
		}
		if (s->n >= max_rows) {
			rc = error_set(err, errlen, -E2BIG, "%s:%zu: more than %zu rows", name,
				       r->lineno, max_rows);
			goto fail;
		}
		if (grow((void **)&s->t, &cap_t, s->n + 1, sizeof(double)) < 0 ||
		    grow((void **)&s->v, &cap_v, s->n + 1, sizeof(double)) < 0) {
			rc = error_set(err, errlen, -ENOMEM, "%s:%zu: out of memory", name,
				       r->lineno);
			goto fail;
		}
		s->t[s->n] = t;
		s->v[s->n] = v;
		s->n++;
	}
	free(r);
	*ret = s;
	return 0;
fail:
	free(r);
	csv_series_free(s);
	return rc;
}

static FILE *open_input(const char *path, int *rc, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	FILE *f;

	if (fd < 0) {
		*rc = error_set(err, errlen, -errno, "%s: cannot open: %m", path);
		return NULL;
	}
	f = fdopen(fd, "r");
	if (!f) {
		*rc = error_set(err, errlen, -errno, "%s: cannot open: %m", path);
		close(fd);
	}
	return f;
}

int csv_load_series(const char *path, size_t max_rows, struct csv_series **ret, char *err,
		    size_t errlen)
{
	int rc = 0;
	FILE *f = open_input(path, &rc, err, errlen);

	if (!f)
		return rc;
	rc = csv_read_series(f, path, max_rows, ret, err, errlen);
	fclose(f);
	return rc;
}

/* ---------------------------------------------------------------------- */
/* Matrices                                                               */
/* ---------------------------------------------------------------------- */

struct csv_matrix *csv_matrix_free(struct csv_matrix *m)
{
	if (!m)
		return NULL;
	for (size_t j = 0; m->names && j < m->cols; j++)
		free(m->names[j]);
	free(m->names);
	free(m->x);
	free(m);
	return NULL;
}

int csv_read_matrix(FILE *f, const char *name, size_t max_rows, struct csv_matrix **ret, char *err,
		    size_t errlen)
{
	struct reader *r;
	struct csv_matrix *m = NULL;
	char **fields = NULL;
	size_t cap = 0;
	int rc, n;

	r = calloc(1, sizeof(*r));
	m = calloc(1, sizeof(*m));
	fields = calloc(CSV_COLS_MAX + 1, sizeof(*fields));
	if (!r || !m || !fields) {
		rc = error_set(err, errlen, -ENOMEM, "%s: out of memory", name);
		goto fail;
	}
	*r = (struct reader){.f = f, .name = name, .err = err, .errlen = errlen};
	rc = read_line(r);
	if (rc == 0)
		rc = error_set(err, errlen, -EINVAL, "%s: empty input, expected a header line",
			       name);
	if (rc < 0)
		goto fail;
	n = split_fields(r, fields, CSV_COLS_MAX);
	if (n < 0) {
		rc = n;
		goto fail;
	}
	m->names = calloc((size_t)n, sizeof(*m->names));
	if (!m->names) {
		rc = error_set(err, errlen, -ENOMEM, "%s: out of memory", name);
		goto fail;
	}
	m->cols = (size_t)n;
	for (int j = 0; j < n; j++) {
		if (fields[j][0] == '\0') {
			rc = error_set(err, errlen, -EINVAL, "%s:1: column %d has an empty name",
				       name, j + 1);
			goto fail;
		}
		m->names[j] = strdup(fields[j]);
		if (!m->names[j]) {
			rc = error_set(err, errlen, -ENOMEM, "%s: out of memory", name);
			goto fail;
		}
	}
	for (;;) {
		rc = read_line(r);
		if (rc < 0)
			goto fail;
		if (rc == 0)
			break;
		n = split_fields(r, fields, CSV_COLS_MAX + 1);
		if (n < 0) {
			rc = n;
			goto fail;
		}
		if ((size_t)n != m->cols) {
			rc = error_set(err, errlen, -EINVAL, "%s:%zu: expected %zu fields, got %d",
				       name, r->lineno, m->cols, n);
			goto fail;
		}
		if (m->rows >= max_rows) {
			rc = error_set(err, errlen, -E2BIG, "%s:%zu: more than %zu rows", name,
				       r->lineno, max_rows);
			goto fail;
		}
		if (grow((void **)&m->x, &cap, (m->rows + 1) * m->cols, sizeof(double)) < 0) {
			rc = error_set(err, errlen, -ENOMEM, "%s:%zu: out of memory", name,
				       r->lineno);
			goto fail;
		}
		for (int j = 0; j < n; j++) {
			if (csv_parse_number(fields[j], &m->x[m->rows * m->cols + (size_t)j]) < 0) {
				rc =
				    bad_field(r, m->names[j], fields[j], "a finite decimal number");
				goto fail;
			}
		}
		m->rows++;
	}
	free(fields);
	free(r);
	*ret = m;
	return 0;
fail:
	free(fields);
	free(r);
	csv_matrix_free(m);
	return rc;
}

int csv_load_matrix(const char *path, size_t max_rows, struct csv_matrix **ret, char *err,
		    size_t errlen)
{
	int rc = 0;
	FILE *f = open_input(path, &rc, err, errlen);

	if (!f)
		return rc;
	rc = csv_read_matrix(f, path, max_rows, ret, err, errlen);
	fclose(f);
	return rc;
}
