// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for analysis/question.c: the window a question names. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis/question.h"
#include "test.h"

/* 2023-11-14 22:13:20 UTC */
#define NOW 1700000000.0

static void window(const char *q, double *from, double *to, char *said, size_t len)
{
	question_window(q, strlen(q), NOW, from, to, said, len);
}

TEST(no_window_named_is_the_last_15_minutes)
{
	double from, to;
	char said[96];

	window("why is it slow?", &from, &to, said, sizeof(said));
	CHECK_NEAR(from, NOW - 900, 0);
	CHECK_NEAR(to, NOW, 0);
	CHECK_STR(said, "the last 15 minutes");
}

TEST(last_n_units_and_last_unit)
{
	double from, to;
	char said[96];

	window("What happened in the LAST 2 hours?", &from, &to, said, sizeof(said));
	CHECK_NEAR(from, NOW - 7200, 0);
	CHECK_STR(said, "the last 7200 seconds");
	window("past 30 min", &from, &to, said, sizeof(said));
	CHECK_NEAR(from, NOW - 1800, 0);
	window("anything in the last hour", &from, &to, said, sizeof(said));
	CHECK_NEAR(from, NOW - 3600, 0);
	window("the last 90 days", &from, &to, said, sizeof(said));
	CHECK_NEAR(from, NOW - QUESTION_MAX_WINDOW_S, 0); /* capped */
	window("last 0 minutes", &from, &to, said, sizeof(said));
	CHECK_STR(said, "the last 15 minutes"); /* nothing understood */
}

TEST(at_a_clock_time_is_the_10_minutes_around_it)
{
	double from, to;
	char said[96];

	setenv("TZ", "UTC", 1);
	tzset();
	window("why was the box slow at 21:05?", &from, &to, said, sizeof(said));
	CHECK_NEAR(from, 1699995900.0 - 300, 0); /* 21:05 UTC that day */
	CHECK_NEAR(to, 1699995900.0 + 300, 0);
	CHECK_STR(said, "around 21:05 (10 minutes)");
	/* a time later than now is yesterday's */
	window("around 23:30", &from, &to, said, sizeof(said));
	CHECK_NEAR(from, 1700004600.0 - 86400 - 300, 0);
	/* not a time */
	window("at 25:99 or at 7:5", &from, &to, said, sizeof(said));
	CHECK_STR(said, "the last 15 minutes");
}

TEST(any_bytes_are_read_safely)
{
	char q[300];
	double from, to;
	char said[96];

	for (size_t i = 0; i < sizeof(q); i++)
		q[i] = (char)(i * 37 + 11);
	question_window(q, sizeof(q), NOW, &from, &to, said, sizeof(said));
	CHECK(to > from);
	question_window(NULL, 0, NOW, &from, &to, said, sizeof(said));
	CHECK_STR(said, "the last 15 minutes");
}

TEST_MAIN()
