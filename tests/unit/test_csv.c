// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for util/csv.c: what a series and a matrix may look like, and that
 * every malformed input is refused with a message naming its line. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "test.h"
#include "util/csv.h"

static int read_series(const char *text, size_t max_rows, struct csv_series **ret, char *err,
		       size_t errlen)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc;

	if (!f)
		return -errno;
	rc = csv_read_series(f, "in.csv", max_rows, ret, err, errlen);
	fclose(f);
	return rc;
}

static int read_matrix(const char *text, struct csv_matrix **ret, char *err, size_t errlen)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc;

	if (!f)
		return -errno;
	rc = csv_read_matrix(f, "m.csv", 100, ret, err, errlen);
	fclose(f);
	return rc;
}

TEST(nab_style_series_is_read_in_file_order_with_repeated_timestamps)
{
	struct csv_series *s = NULL;
	char err[256];

	CHECK_EQ_INT(read_series("timestamp,value\n"
				 "2014-03-09 03:00:00,1.5\n"
				 "2014-03-09 03:00:00,-2\n"
				 "2014-03-09 02:55:00,3e2\n",
				 100, &s, err, sizeof(err)),
		     0);
	CHECK_EQ_INT(s->n, 3);
	CHECK_EQ_INT(s->time_format, CSV_TIME_DATETIME);
	CHECK_NEAR(s->t[0], 1394334000, 0);
	CHECK_NEAR(s->t[1], 1394334000, 0);
	CHECK_NEAR(s->t[2], 1394334000 - 300, 0);
	CHECK_NEAR(s->v[0], 1.5, 0);
	CHECK_NEAR(s->v[1], -2, 0);
	CHECK_NEAR(s->v[2], 300, 0);
	csv_series_free(s);
}

TEST(unix_seconds_crlf_and_a_missing_last_newline_are_accepted)
{
	struct csv_series *s = NULL;
	char err[256];

	CHECK_EQ_INT(read_series("timestamp,value\r\n1392388200,0.25\r\n1392388260.5,7", 100, &s,
				 err, sizeof(err)),
		     0);
	CHECK_EQ_INT(s->n, 2);
	CHECK_EQ_INT(s->time_format, CSV_TIME_UNIX);
	CHECK_NEAR(s->t[1], 1392388260.5, 1e-6);
	CHECK_NEAR(s->v[1], 7, 0);
	csv_series_free(s);
}

/* Each bad input, and the start of the message it must produce. */
static const struct {
	const char *text;
	const char *msg;
} bad_series[] = {
    {"", "in.csv: empty input"},
    {"time,value\n", "in.csv:1: header"},
    {"timestamp,value\n2014-01-01 00:00:00,nan\n", "in.csv:2: value \"nan\""},
    {"timestamp,value\n2014-01-01 00:00:00,inf\n", "in.csv:2: value \"inf\""},
    {"timestamp,value\n2014-01-01 00:00:00,\n", "in.csv:2: value \"\""},
    {"timestamp,value\n2014-01-01 00:00:00, 1\n", "in.csv:2: value \" 1\""},
    {"timestamp,value\n2014-01-01 00:00:00,0x10\n", "in.csv:2: value \"0x10\""},
    {"timestamp,value\n2014-01-01 00:00:00,1,2\n", "in.csv:2: expected 2 fields"},
    {"timestamp,value\n2014-02-30 00:00:00,1\n", "in.csv:2: timestamp \"2014-02-30"},
    {"timestamp,value\n2014-01-01 24:00:00,1\n", "in.csv:2: timestamp"},
    {"timestamp,value\n2014-01-01T00:00:00,1\n", "in.csv:2: timestamp"},
    {"timestamp,value\n-5,1\n", "in.csv:2: timestamp"},
    {"timestamp,value\n1e9,1\n", "in.csv:2: timestamp"},
    {"timestamp,value\n1392388200,1\n2014-01-01 00:00:00,1\n", "in.csv:3: timestamp"},
    {"timestamp,value\n1392388200,1\n\n1392388260,1\n", "in.csv:3: empty line"},
    {"timestamp,value\n1392388200,1\r2\n", "in.csv:2: carriage return"},
};

TEST(malformed_series_are_refused_naming_the_line)
{
	for (size_t i = 0; i < sizeof(bad_series) / sizeof(bad_series[0]); i++) {
		struct csv_series *s = NULL;
		char err[256] = "";

		CHECK_EQ_INT(read_series(bad_series[i].text, 100, &s, err, sizeof(err)), -EINVAL);
		CHECK(s == NULL);
		if (strncmp(err, bad_series[i].msg, strlen(bad_series[i].msg)) != 0) {
			fprintf(stderr, "  case %zu: got \"%s\", expected \"%s...\"\n", i, err,
				bad_series[i].msg);
			CHECK(0);
		}
	}
}

TEST(a_nul_byte_is_refused)
{
	static const char text[] = "timestamp,value\n13923882\0000,1\n";
	FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");
	struct csv_series *s = NULL;
	char err[256];

	CHECK(f);
	CHECK_EQ_INT(csv_read_series(f, "in.csv", 100, &s, err, sizeof(err)), -EINVAL);
	fclose(f);
	CHECK(strstr(err, "in.csv:2: NUL byte"));
}

TEST(row_and_line_limits_are_enforced)
{
	static char big[CSV_LINE_MAX + 64];
	struct csv_series *s = NULL;
	char err[256];

	CHECK_EQ_INT(read_series("timestamp,value\n1,1\n2,2\n3,3\n", 2, &s, err, sizeof(err)),
		     -E2BIG);
	CHECK(strstr(err, "in.csv:4: more than 2 rows"));
	strcpy(big, "timestamp,value\n1,");
	memset(big + strlen(big), '1', CSV_LINE_MAX);
	CHECK_EQ_INT(read_series(big, 10, &s, err, sizeof(err)), -E2BIG);
	CHECK(strstr(err, "in.csv:2: line longer than"));
}

TEST(load_names_a_missing_file)
{
	struct csv_series *s = NULL;
	char err[256];

	CHECK_EQ_INT(csv_load_series("/nonexistent/x.csv", 10, &s, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "/nonexistent/x.csv: cannot open"));
}

TEST(matrix_is_read_with_its_column_names)
{
	struct csv_matrix *m = NULL;
	char err[256];

	CHECK_EQ_INT(read_matrix("a,b,c\n1,2,3\n-4,5.5,6e-1\n", &m, err, sizeof(err)), 0);
	CHECK_EQ_INT(m->rows, 2);
	CHECK_EQ_INT(m->cols, 3);
	CHECK_STR(m->names[1], "b");
	CHECK_NEAR(m->x[3], -4, 0);
	CHECK_NEAR(m->x[5], 0.6, 1e-15);
	csv_matrix_free(m);
}

TEST(malformed_matrices_are_refused_naming_the_line)
{
	struct csv_matrix *m = NULL;
	char err[256];

	CHECK_EQ_INT(read_matrix("a,b\n1,2\n3\n", &m, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "m.csv:3: expected 2 fields, got 1"));
	CHECK_EQ_INT(read_matrix("a,,c\n1,2,3\n", &m, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "m.csv:1: column 2 has an empty name"));
	CHECK_EQ_INT(read_matrix("a,b\n1,NaN\n", &m, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "m.csv:2: b \"NaN\""));
	CHECK(m == NULL);
}

TEST(times_format_back_as_they_were_read)
{
	char buf[40];
	double t;
	enum csv_time_format fmt;

	CHECK_EQ_INT(csv_parse_time("2016-02-29 23:59:59", &t, &fmt), 0);
	CHECK_STR(csv_format_time(t, fmt, buf, sizeof(buf)), "2016-02-29 23:59:59");
	CHECK_STR(csv_format_time(t + 1, fmt, buf, sizeof(buf)), "2016-03-01 00:00:00");
	CHECK_EQ_INT(csv_parse_time("1392388200", &t, &fmt), 0);
	CHECK_STR(csv_format_time(t + 300, fmt, buf, sizeof(buf)), "1392388500");
	CHECK_EQ_INT(csv_parse_time("2015-02-29 00:00:00", &t, &fmt), -EINVAL);
}

TEST_MAIN()
