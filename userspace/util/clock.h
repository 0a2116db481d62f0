/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * clock.h - the one way kpulse reads time: seconds as a double. Wall-clock
 * time (unix seconds) stamps samples and events; monotonic time measures
 * intervals and deadlines, which must not jump when the clock is set.
 */
#ifndef KPULSE_UTIL_CLOCK_H
#define KPULSE_UTIL_CLOCK_H

/* Unix seconds (CLOCK_REALTIME). */
double clock_wall_s(void);
/* Seconds since an arbitrary start (CLOCK_MONOTONIC). */
double clock_mono_s(void);
/*
 * The timestamp of a periodic run that began late seconds after it was
 * due, at wall time wall: the wall time it was due (wall - late) when late
 * is within [0, tolerance], else wall. Runs on schedule then lie exactly
 * their interval apart, whatever the wake-up jitter (0 to 2 ms here), and
 * a store that codes times as the step from the last costs one bit a
 * sample on them (Prometheus aligns its scrapes' timestamps the same way,
 * within 2 ms by default).
 */
double clock_align_s(double wall, double late, double tolerance);
/* Sleeps for s seconds (> 0), resuming after signals; returns at once for
 * s <= 0. */
void clock_sleep_s(double s);

#endif /* KPULSE_UTIL_CLOCK_H */
