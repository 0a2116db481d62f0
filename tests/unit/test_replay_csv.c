/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test_replay_csv.c - the replay CSV reader: what it accepts (both
 * timestamp forms, repeated timestamps, blank lines, BOM, CR) and each way
 * it refuses input, with the line number in the message.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "models/replay_csv.h"
#include "test.h"

/* Reads text as a file; returns the reader's result, err filled. */
static int read_text(const char *text, size_t len, struct replay_table *t, char *err, size_t errlen)
{
	FILE *f = fmemopen((void *)text, len, "r");
	int r;

	if (!f)
		return -errno;
	r = replay_csv_read(f, 0, t, err, errlen);
	fclose(f);
	return r;
}

#define READ(text, t, err) read_text(text, strlen(text), t, err, sizeof(err))

TEST(calendar_and_unix_timestamps_are_read)
{
	struct replay_table t = {0};
	char err[256] = "";

	CHECK_EQ_INT(READ("timestamp,value\n2014-04-01 00:00:00,20.5\n1396310700,-3e2\n", &t, err),
		     0);
	CHECK_EQ_INT(t.nrows, 2);
	CHECK_NEAR(t.rows[0].timestamp, 1396310400.0, 0);
	CHECK_NEAR(t.rows[0].value, 20.5, 0);
	CHECK_STR(t.rows[0].ts_text, "2014-04-01 00:00:00");
	CHECK_STR(t.rows[0].value_text, "20.5");
	CHECK_NEAR(t.rows[1].timestamp, 1396310700.0, 0);
	CHECK_NEAR(t.rows[1].value, -300.0, 0);
	replay_table_clear(&t);
}

TEST(repeated_timestamps_keep_every_row_in_order)
{
	struct replay_table t = {0};
	char err[256] = "";

	CHECK_EQ_INT(READ("timestamp,value\n2014-03-09 03:00:00,1\n2014-03-09 03:00:00,2\n"
			  "2014-03-09 03:00:00,3\n",
			  &t, err),
		     0);
	CHECK_EQ_INT(t.nrows, 3);
	CHECK_NEAR(t.rows[2].value, 3, 0);
	replay_table_clear(&t);
}

TEST(bom_crlf_blank_lines_and_spaces_are_accepted)
{
	struct replay_table t = {0};
	char err[256] = "";

	CHECK_EQ_INT(READ("\xef\xbb\xbftimestamp,value\r\n\r\n 10 , 1.5 \r\n\n11,2\r\n", &t, err), 0);
	CHECK_EQ_INT(t.nrows, 2);
	CHECK_STR(t.rows[0].value_text, "1.5");
	replay_table_clear(&t);
}

TEST(header_only_is_zero_rows)
{
	struct replay_table t = {0};
	char err[256] = "";

	CHECK_EQ_INT(READ("timestamp,value\n", &t, err), 0);
	CHECK_EQ_INT(t.nrows, 0);
	replay_table_clear(&t);
}

/* Each bad input: the error code and the start of the message. */
static const struct {
	const char *text, *msg;
} bad[] = {
    {"", "empty file"},
    {"\n\n", "empty file"},
    {"time,value\n1,2\n", "line 1: expected the header"},
    {"1,2\n", "line 1: expected the header"},
    {"timestamp,value\n1,nan\n", "line 2: value 'nan' is not a finite"},
    {"timestamp,value\n1,inf\n", "line 2: value 'inf'"},
    {"timestamp,value\n1,0x10\n", "line 2: value '0x10'"},
    {"timestamp,value\n1,1e999\n", "line 2: value '1e999'"},
    {"timestamp,value\n1,abc\n", "line 2: value 'abc'"},
    {"timestamp,value\n1,\n", "line 2: empty value"},
    {"timestamp,value\n,1\n", "line 2: empty timestamp"},
    {"timestamp,value\n1\n", "line 2: expected two fields"},
    {"timestamp,value\n1,2,3\n", "line 2: expected two fields"},
    {"timestamp,value\n2014-02-30 00:00:00,1\n", "line 2: timestamp '2014-02-30 00:00:00'"},
    {"timestamp,value\n2014-04-01 24:00:00,1\n", "line 2: timestamp"},
    {"timestamp,value\n2014/04/01 00:00:00,1\n", "line 2: timestamp"},
    {"timestamp,value\n-5,1\n", "line 2: timestamp '-5'"},
    {"timestamp,value\n10,1\n\n9,1\n", "line 4: timestamp '9' goes back in time"},
};

TEST(bad_input_is_refused_naming_the_line)
{
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct replay_table t = {0};
		char err[256] = "";
		int r = READ(bad[i].text, &t, err);

		if (r != -EINVAL || strncmp(err, bad[i].msg, strlen(bad[i].msg))) {
			fprintf(stderr, "  input %zu: r=%d err='%s', expected '%s'\n", i, r, err,
				bad[i].msg);
			CHECK(0);
		}
		CHECK_EQ_INT(t.nrows, 0);
	}
}

TEST(nul_byte_is_refused)
{
	static const char text[] = "timestamp,value\n1,2\0\n";
	struct replay_table t = {0};
	char err[256] = "";

	CHECK_EQ_INT(read_text(text, sizeof(text) - 1, &t, err, sizeof(err)), -EINVAL);
	CHECK_STR(err, "line 2: NUL byte in the line");
}

TEST(huge_line_is_refused)
{
	static char text[REPLAY_CSV_LINE_MAX * 3];
	struct replay_table t = {0};
	char err[256] = "";
	size_t n = (size_t)snprintf(text, sizeof(text), "timestamp,value\n1,");

	memset(text + n, '1', REPLAY_CSV_LINE_MAX * 2);
	n += REPLAY_CSV_LINE_MAX * 2;
	CHECK_EQ_INT(read_text(text, n, &t, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "line 2: longer than 1024 bytes") == err);
}

TEST(row_limit_is_enforced)
{
	struct replay_table t = {0};
	char err[256] = "";
	const char *text = "timestamp,value\n1,1\n2,2\n3,3\n";
	FILE *f = fmemopen((void *)text, strlen(text), "r");

	CHECK(f);
	CHECK_EQ_INT(replay_csv_read(f, 2, &t, err, sizeof(err)), -E2BIG);
	fclose(f);
	CHECK_STR(err, "line 4: more than 2 rows");
}

TEST(fractional_seconds_are_kept)
{
	double ts;

	CHECK_EQ_INT(replay_csv_parse_timestamp("2014-04-10 07:15:00.500000", 26, &ts), 0);
	CHECK_NEAR(ts, 1397114100.5, 1e-6);
	CHECK_EQ_INT(replay_csv_parse_timestamp("2000-02-29T12:00:00", 19, &ts), 0);
	CHECK_NEAR(ts, 951825600.0, 0);
	CHECK_EQ_INT(replay_csv_parse_timestamp("1900-02-29 00:00:00", 19, &ts), -EINVAL);
}

TEST_MAIN()
