// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for analysis/procs.c: the per-process history ranks processes by
 * their rise in a window against the baseline before it, sums a process's
 * I/O over ops, keeps to its span, and says when it does not cover a
 * window. */
#include <errno.h>
#include <string.h>

#include "analysis/procs.h"
#include "test.h"

/* One round at t: hog (pid 10) on CPU from t = 100 at 1.9 CPU-seconds a
 * second, a steady process (pid 20) at 0.5 all along, and hog's writes. */
static void round_at(struct proc_history *h, double t)
{
	struct registry *reg = registry_new();
	struct metric_label steady[] = {{"comm", "steady"}, {"pid", "20"}};
	struct metric_label hog[] = {{"comm", "hog"}, {"pid", "10"}};
	struct metric_label hog_w[] = {{"comm", "hog"}, {"op", "write"}, {"pid", "10"}};
	struct metric_label hog_r[] = {{"comm", "hog"}, {"op", "read"}, {"pid", "10"}};

	registry_begin(reg, t, 1.0);
	registry_set_counter(reg, "kpulse_sched_process_cpu_seconds_total", steady, 2, 0.5 * t);
	if (t >= 100) {
		registry_set_counter(reg, "kpulse_sched_process_cpu_seconds_total", hog, 2,
				     1.9 * (t - 100));
		registry_set_counter(reg, "kpulse_block_process_io_bytes_total", hog_w, 3,
				     1e6 * (t - 100));
		registry_set_counter(reg, "kpulse_block_process_io_bytes_total", hog_r, 3,
				     1e5 * (t - 100));
	}
	registry_end(reg);
	proc_history_observe(h, reg, t);
	registry_free(reg);
}

static json_t *first(json_t *top, const char *metric)
{
	return json_array_get(json_object_get(top, metric), 0);
}

TEST(the_process_that_rose_ranks_first_with_its_rates)
{
	struct proc_history *h = proc_history_new(1, 300);
	json_t *top = NULL, *p;

	CHECK(h != NULL);
	for (double t = 0; t <= 130; t += 0.5)
		round_at(h, t);
	CHECK_EQ_INT(proc_history_top(h, 40, 100, 130, 5, &top), 0);
	p = first(top, "cpu");
	CHECK_STR(json_string_value(json_object_get(p, "comm")), "hog");
	CHECK_EQ_INT(json_integer_value(json_object_get(p, "pid")), 10);
	CHECK_NEAR(json_number_value(json_object_get(p, "current")), 1.9, 0.01);
	CHECK_NEAR(json_number_value(json_object_get(p, "baseline")), 0, 1e-9);
	/* the steady one is there too, below */
	p = json_array_get(json_object_get(top, "cpu"), 1);
	CHECK_EQ_INT(json_integer_value(json_object_get(p, "pid")), 20);
	CHECK_NEAR(json_number_value(json_object_get(p, "current")), 0.5, 0.01);
	CHECK_NEAR(json_number_value(json_object_get(p, "baseline")), 0.5, 0.01);
	/* reads and writes add up */
	CHECK_NEAR(json_number_value(json_object_get(first(top, "io_bytes"), "current")), 1.1e6,
		   1e4);
	CHECK_EQ_INT(json_array_size(json_object_get(top, "page_faults")), 0);
	json_decref(top);
	proc_history_free(h);
}

TEST(a_window_the_history_does_not_cover_is_refused)
{
	struct proc_history *h = proc_history_new(1, 60);
	json_t *top = NULL;

	for (double t = 0; t <= 200; t += 1)
		round_at(h, t);
	/* the span keeps about the last minute */
	CHECK_EQ_INT(proc_history_top(h, 10, 20, 200, 5, &top), -ERANGE);
	CHECK_EQ_INT(proc_history_top(h, 150, 190, 200, 5, &top), 0);
	json_decref(top);
	CHECK_EQ_INT(proc_history_top(h, 150, 300, 400, 5, &top), -ERANGE);
	proc_history_free(h);
	CHECK(proc_history_new(0, 60) == NULL);
	CHECK(proc_history_free(NULL) == NULL);
}

TEST_MAIN()
