/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * csv.h - the one strict CSV reader of kpulse, for offline inputs:
 * `timestamp,value` series (kpulse forecast, kpulse replay, NAB files)
 * and numeric matrices (the multivariate detectors' scoring tool).
 *
 * Strict means: a header line is required; every row has the header's
 * field count; numbers are plain decimals (no "nan", "inf", hex, or
 * surrounding spaces); no quoting, no blank lines, no NUL bytes. A line
 * may end in "\n" or "\r\n"; the last line may lack its newline. Any
 * deviation fails the whole read with one line in err naming the input
 * and the line number ("data.csv:17: value \"abc\" is not a number").
 *
 * Limits: a line longer than CSV_LINE_MAX bytes, more rows than the
 * caller's max_rows, or more columns than CSV_COLS_MAX is an error, so
 * what a file can make us allocate is bounded by the caller.
 *
 * Series rows are kept exactly in file order: NAB repeats timestamps
 * (a daylight-saving hour) and has backward jumps, and it is the
 * consumer's business what to do with them.
 */
#ifndef KPULSE_UTIL_CSV_H
#define KPULSE_UTIL_CSV_H

#include <stddef.h>
#include <stdio.h>

/* Longest line, without its line ending. */
#define CSV_LINE_MAX 4096
/* Most columns of a matrix. */
#define CSV_COLS_MAX 1024
/* Default row limit for callers without a better one. */
#define CSV_ROWS_DEFAULT 10000000

enum csv_time_format {
	CSV_TIME_DATETIME, /* "YYYY-MM-DD HH:MM:SS", read as UTC */
	CSV_TIME_UNIX,	   /* unix seconds, integer or decimal */
};

struct csv_series {
	size_t n;
	double *t;			  /* unix seconds, in file order */
	double *v;			  /* finite values */
	enum csv_time_format time_format; /* of the first row; every row must match */
};

struct csv_matrix {
	size_t rows, cols;
	double *x;    /* row-major, rows * cols finite values */
	char **names; /* cols header names */
};

/*
 * Reads a series: header "timestamp,value", then one row per sample.
 * name labels messages (usually the path). Returns 0 and *ret (free with
 * csv_series_free), or -EINVAL (bad content; err says where), -E2BIG (a
 * limit), -ENOMEM, or -EIO.
 */
int csv_read_series(FILE *f, const char *name, size_t max_rows, struct csv_series **ret, char *err,
		    size_t errlen);
/* The same, opening path (O_CLOEXEC); -errno when it cannot be opened. */
int csv_load_series(const char *path, size_t max_rows, struct csv_series **ret, char *err,
		    size_t errlen);
struct csv_series *csv_series_free(struct csv_series *s);

/*
 * Reads a numeric matrix: a header of column names (non-empty, at most
 * CSV_COLS_MAX), then rows of as many numbers. Same returns as above.
 */
int csv_read_matrix(FILE *f, const char *name, size_t max_rows, struct csv_matrix **ret, char *err,
		    size_t errlen);
int csv_load_matrix(const char *path, size_t max_rows, struct csv_matrix **ret, char *err,
		    size_t errlen);
struct csv_matrix *csv_matrix_free(struct csv_matrix *m);

/*
 * Parses one timestamp field: "YYYY-MM-DD HH:MM:SS" (each field in its
 * calendar range, UTC) or unix seconds (a plain non-negative decimal).
 * Returns 0, *ret_t and *ret_format, or -EINVAL.
 */
int csv_parse_time(const char *s, double *ret_t, enum csv_time_format *ret_format);

/* Formats t in format into buf ("2014-02-14 14:30:00" or "1392388200");
 * returns buf. len >= 32 always suffices. */
const char *csv_format_time(double t, enum csv_time_format format, char *buf, size_t len);

/* A plain finite decimal: optional '-', digits, optional fraction and
 * exponent; nothing else. Returns 0 and *ret, or -EINVAL. */
int csv_parse_number(const char *s, double *ret);

#endif /* KPULSE_UTIL_CSV_H */
