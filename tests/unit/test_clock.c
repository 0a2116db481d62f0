// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for util/clock.c: the timestamp of a periodic run that began late. */
#include <stdbool.h>

#include "test.h"
#include "util/clock.h"

/* within a microsecond: wall times near 1.7e9 s hold about 0.24 us */
static bool near(double a, double b)
{
	return fabs(a - b) < 1e-6;
}

TEST(a_run_late_within_the_tolerance_is_stamped_when_it_was_due)
{
	CHECK(near(clock_align_s(1700000000.0015, 0.0015, 0.002), 1700000000.0));
	CHECK(near(clock_align_s(1700000000.002, 0.002, 0.002), 1700000000.0));
	CHECK(near(clock_align_s(1700000000.25, 0.0, 0.002), 1700000000.25));
}

TEST(a_run_later_than_the_tolerance_keeps_the_time_it_began)
{
	CHECK(near(clock_align_s(1700000000.0025, 0.0025, 0.002), 1700000000.0025));
	CHECK(near(clock_align_s(1700000003.5, 3.5, 0.01), 1700000003.5));
}

TEST(tolerance_zero_or_a_run_before_it_was_due_keeps_the_wall_time)
{
	CHECK(near(clock_align_s(1700000000.001, 0.001, 0.0), 1700000000.001));
	CHECK(near(clock_align_s(1700000000.0, -0.001, 0.002), 1700000000.0));
}

TEST(runs_on_schedule_lie_exactly_an_interval_apart_in_milliseconds)
{
	/* a schedule on the monotonic clock, the wall clock 0.4371 s ahead of
	 * it plus a whole number of seconds, wake-ups 0 to 1.9 ms late */
	const double offset = 1700000000.4371, jitter[] = {0.0, 0.0019, 0.0004, 0.0011, 0.0007};
	long long last = 0;

	for (int i = 0; i < 1000; i++) {
		double due = 1000.0 + i * 0.2, late = jitter[i % 5];
		long long ms = llround(clock_align_s(due + late + offset, late, 0.002) * 1000);

		if (i)
			CHECK_EQ_INT(ms - last, 200);
		last = ms;
	}
}

TEST_MAIN()
