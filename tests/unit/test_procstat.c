// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_procstat.c - /proc/stat and /proc/loadavg, captured from 6.18 and in
 * the layouts of older kernels. */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include "test.h"
#include "collection/procfs.h"
#include "collection/procstat.h"

static double value(struct registry *r, const char *name, const char *cpu, const char *mode)
{
	struct metric_label l[] = {{"cpu", cpu}, {"mode", mode}};
	const struct metric_series *s = registry_find(r, name, l, cpu ? 2 : 0);

	return s ? s->value : -1;
}

TEST(stat_of_6_18_has_every_cpu_with_eight_modes_and_the_process_counts)
{
	struct procstat_text t = {};
	char *text = test_fixture("proc-6.18/stat");

	CHECK(text);
	CHECK_EQ_INT(procstat_parse_stat(text, &t), 0);
	free(text);
	CHECK_EQ_INT(t.ncpus, 2);
	CHECK_EQ_INT(t.cpus[0].cpu, 0);
	CHECK_EQ_INT(t.cpus[1].cpu, 1);
	CHECK_EQ_INT(t.cpus[0].nmodes, PROCSTAT_MODE_NR);
	/* "cpu0 47084 0 9550 85060 868 0 375 1180 0 0" as captured */
	CHECK(t.cpus[0].ticks[PROCSTAT_USER] > 0 && t.cpus[0].ticks[PROCSTAT_IDLE] > 0);
	CHECK(t.has_procs_running && t.has_procs_blocked && t.has_boot_time);
	CHECK(t.boot_time > 1600000000);
	CHECK_EQ_INT(t.malformed, 0);
	procstat_text_clear(&t);
}

TEST(stat_of_2_6_10_has_seven_modes_and_no_steal)
{
	struct procstat_text t = {};
	char *text = test_fixture("stat-2.6.10");

	CHECK(text);
	CHECK_EQ_INT(procstat_parse_stat(text, &t), 0);
	free(text);
	CHECK_EQ_INT(t.ncpus, 2);
	CHECK_EQ_INT(t.cpus[1].nmodes, 7);
	CHECK_EQ_INT(t.cpus[1].ticks[PROCSTAT_USER], 1657);
	CHECK_EQ_INT(t.cpus[1].ticks[PROCSTAT_IDLE], 682393);
	CHECK_EQ_INT(t.cpus[1].ticks[PROCSTAT_SOFTIRQ], 2);
	CHECK_EQ_INT(t.cpus[1].ticks[PROCSTAT_STEAL], 0);
	CHECK_EQ_INT(t.procs_running, 1);
	CHECK_EQ_INT(t.boot_time, 1062191376);
	procstat_text_clear(&t);
}

TEST(stat_of_2_4_has_four_modes_and_no_process_counts)
{
	struct procstat_text t = {};
	char *text = test_fixture("stat-2.4");

	CHECK(text);
	CHECK_EQ_INT(procstat_parse_stat(text, &t), 0);
	free(text);
	CHECK_EQ_INT(t.ncpus, 1);
	CHECK_EQ_INT(t.cpus[0].nmodes, 4);
	CHECK_EQ_INT(t.cpus[0].ticks[PROCSTAT_IDLE], 11311718);
	CHECK(!t.has_procs_running && !t.has_procs_blocked);
	CHECK_EQ_INT(t.malformed, 0);
	procstat_text_clear(&t);
}

TEST(stat_skips_malformed_and_cut_lines_and_counts_them)
{
	struct procstat_text t = {};
	const char *text = "cpu  1 2 3 4\n"
			   "cpu0 1 2 3 4 5 6 7 8 9 10\n"
			   "cpu1 1 2\n"			       /* too few columns */
			   "cpu2 1 2 x 4\n"		       /* not a number */
			   "cpu3 99999999999999999999 1 1 1\n" /* overflow */
			   "procs_running abc\n"
			   "cpu4 5 5 5 5 5"; /* cut: no newline */

	CHECK_EQ_INT(procstat_parse_stat(text, &t), 0);
	CHECK_EQ_INT(t.ncpus, 1);
	CHECK_EQ_INT(t.cpus[0].ticks[PROCSTAT_STEAL], 8);
	CHECK_EQ_INT(t.malformed, 5);
	CHECK(!t.has_procs_running);
	CHECK_EQ_INT(procstat_parse_stat("cpu  1 2 3 4\nintr 1\n", &t), -EINVAL);
	CHECK_EQ_INT(procstat_parse_stat("", &t), -EINVAL);
	procstat_text_clear(&t);
}

TEST(stat_grows_past_many_cpus)
{
	static char text[200 * 64];
	struct procstat_text t = {};
	size_t n = 0;

	for (int i = 0; i < 200; i++)
		n += (size_t)snprintf(text + n, sizeof(text) - n, "cpu%d %d 0 0 1 0 0 0 0 0 0\n", i,
				      i);
	CHECK_EQ_INT(procstat_parse_stat(text, &t), 0);
	CHECK_EQ_INT(t.ncpus, 200);
	CHECK_EQ_INT(t.cpus[199].cpu, 199);
	CHECK_EQ_INT(t.cpus[199].ticks[PROCSTAT_USER], 199);
	procstat_text_clear(&t);
}

TEST(loadavg_reads_three_averages)
{
	struct loadavg l = {.load1 = -1};

	CHECK_EQ_INT(procstat_parse_loadavg("0.52 10.58 100.09 2/189 12345\n", &l), 0);
	CHECK_NEAR(l.load1, 0.52, 1e-9);
	CHECK_NEAR(l.load5, 10.58, 1e-9);
	CHECK_NEAR(l.load15, 100.09, 1e-9);
	l.load1 = -1;
	CHECK_EQ_INT(procstat_parse_loadavg("0.52 0.58\n", &l), -EINVAL);
	CHECK_EQ_INT(procstat_parse_loadavg("a b c 1/1 1\n", &l), -EINVAL);
	CHECK_EQ_INT(procstat_parse_loadavg("0. 1 2 1/1 1\n", &l), -EINVAL);
	CHECK_EQ_INT(procstat_parse_loadavg("", &l), -EINVAL);
	CHECK_NEAR(l.load1, -1, 0);
}

TEST(sample_of_the_captured_tree_sets_seconds_per_cpu_and_mode)
{
	struct registry *r = registry_new();
	struct procstat *ps = NULL;
	double hz = (double)sysconf(_SC_CLK_TCK);
	struct procstat_text t = {};
	char *text = test_fixture("proc-6.18/stat");

	CHECK(r && text);
	CHECK_EQ_INT(procstat_parse_stat(text, &t), 0);
	free(text);
	CHECK_EQ_INT(procstat_new(TEST_FIXTURES "/proc-6.18", &ps), 0);
	registry_begin(r, 0, 1);
	CHECK_EQ_INT(procstat_sample(ps, r), 0);
	registry_end(r);
	CHECK_NEAR(value(r, "kpulse_cpu_seconds_total", "1", "user"),
		   t.cpus[1].ticks[PROCSTAT_USER] / hz, 1e-6);
	CHECK_NEAR(value(r, "kpulse_cpu_seconds_total", "0", "steal"),
		   t.cpus[0].ticks[PROCSTAT_STEAL] / hz, 1e-6);
	CHECK_NEAR(value(r, "kpulse_procs_running", NULL, NULL), t.procs_running, 0);
	CHECK_NEAR(value(r, "kpulse_boot_time_seconds", NULL, NULL), t.boot_time, 0);
	CHECK_EQ_INT(procstat_boot_time(ps), t.boot_time);
	CHECK(value(r, "kpulse_load1", NULL, NULL) >= 0);
	CHECK(value(r, "kpulse_load15", NULL, NULL) >= 0);
	/* 16 CPU series, 2 process counts, boot time, 3 loads, 2 error counters */
	CHECK_EQ_INT(registry_size(r), 16 + 2 + 1 + 3 + 2);
	procstat_text_clear(&t);
	procstat_free(ps);
	registry_free(r);
}

TEST(sample_without_the_files_sets_only_their_error_counters)
{
	struct registry *r = registry_new();
	struct procstat *ps = NULL;
	struct metric_label l[] = {{"file", "/proc/stat"}};
	const struct metric_series *s;

	CHECK(r);
	CHECK_EQ_INT(procstat_new("/nonexistent-kpulse", &ps), 0);
	registry_begin(r, 0, 1);
	CHECK_EQ_INT(procstat_sample(ps, r), 0);
	registry_end(r);
	CHECK_EQ_INT(registry_size(r), 2);
	s = registry_find(r, "kpulse_procfs_errors_total", l, 1);
	CHECK(s && s->value == 1);
	procstat_free(ps);
	registry_free(r);
}

TEST(free_accepts_null)
{
	CHECK(procstat_free(NULL) == NULL);
	CHECK_STR(procstat_mode_name(PROCSTAT_STEAL), "steal");
	CHECK(procstat_mode_name(PROCSTAT_MODE_NR) == NULL);
}

TEST_MAIN()
