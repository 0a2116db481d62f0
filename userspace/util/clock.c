// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * clock.c - wall and monotonic clocks in seconds (see clock.h).
 */
#include <errno.h>
#include <math.h>
#include <time.h>

#include "util/clock.h"

static double read_clock(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double clock_wall_s(void)
{
	return read_clock(CLOCK_REALTIME);
}

double clock_mono_s(void)
{
	return read_clock(CLOCK_MONOTONIC);
}

double clock_align_s(double wall, double late, double tolerance)
{
	if (late >= 0 && late <= tolerance)
		return wall - late;
	return wall;
}

void clock_sleep_s(double s)
{
	struct timespec ts;

	if (!(s > 0))
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - floor(s)) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}
