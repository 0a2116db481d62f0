// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_self.c - kpulse's own process figures, checked on this test's own
 * process, and the parsers of /proc/PID/statm and /proc/PID/stat. */
#include <dirent.h>
#include <errno.h>
#include <sys/resource.h>
#include <unistd.h>

#include "test.h"
#include "collection/procfs.h"
#include "collection/self.h"
#include "util/version.h"

TEST(statm_gives_size_and_resident_pages)
{
	char *text = test_fixture("proc-6.18/self/statm");
	uint64_t size = 0, res = 0;

	CHECK(text);
	CHECK_EQ_INT(self_parse_statm(text, &size, &res), 0);
	free(text);
	CHECK_EQ_INT(size, 765);
	CHECK_EQ_INT(res, 440);
	CHECK_EQ_INT(self_parse_statm("12\n", &size, &res), -EINVAL);
	CHECK_EQ_INT(self_parse_statm("12 x 1\n", &size, &res), -EINVAL);
	CHECK_EQ_INT(size, 765);
}

TEST(stat_starttime_survives_spaces_and_parentheses_in_the_name)
{
	char *text = test_fixture("proc-6.18/self/stat");
	uint64_t t = 0;

	CHECK(text);
	CHECK_EQ_INT(self_parse_stat_starttime(text, &t), 0);
	free(text);
	CHECK_EQ_INT(t, 211385);
	CHECK_EQ_INT(
	    self_parse_stat_starttime("7 (a) (b) c)) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 "
				      "0 4242 100 1 2\n",
				      &t),
	    0);
	CHECK_EQ_INT(t, 4242);
	t = 1;
	CHECK_EQ_INT(self_parse_stat_starttime("7 (a) S 1 1\n", &t), -EINVAL);
	CHECK_EQ_INT(self_parse_stat_starttime("7 a S 1 1\n", &t), -EINVAL);
	CHECK_EQ_INT(self_parse_stat_starttime("", &t), -EINVAL);
	CHECK_EQ_INT(t, 1);
}

static double value(struct registry *r, const char *name)
{
	const struct metric_series *s = registry_find(r, name, NULL, 0);

	return s ? s->value : -1;
}

static long count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	long n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own */
}

TEST(sample_of_this_process_matches_what_the_kernel_says_of_it)
{
	struct registry *r = registry_new();
	struct metric_label v[] = {{"version", KPULSE_VERSION}};
	const struct metric_series *bi;
	struct self *s = NULL;
	struct procfs_file statm;
	uint64_t size = 0, res = 0, start = 0;
	double page = (double)sysconf(_SC_PAGESIZE), hz = (double)sysconf(_SC_CLK_TCK);
	struct rlimit rl;
	long fds;

	CHECK(r);
	CHECK_EQ_INT(self_new("/proc", &s), 0);
	/* The second round: the reader's own files are open by then. */
	for (int round = 0; round < 2; round++) {
		registry_begin(r, 0, 1);
		CHECK_EQ_INT(self_sample(s, r, 1000), 0);
		registry_end(r);
	}
	fds = count_fds();
	bi = registry_find(r, "kpulse_build_info", v, 1);
	CHECK(bi && bi->value == 1);
	CHECK(value(r, "kpulse_process_cpu_seconds_total") >= 0);
	CHECK(value(r, "kpulse_process_resident_memory_bytes") > 0);
	/* within a page or two of a statm read right after */
	procfs_file_init(&statm, "/proc", "self/statm", 4096, false);
	CHECK(procfs_file_read(&statm) > 0);
	CHECK_EQ_INT(self_parse_statm(statm.buf, &size, &res), 0);
	procfs_file_close(&statm);
	CHECK_NEAR(value(r, "kpulse_process_resident_memory_bytes"), res * page, 64 * page);
	CHECK_NEAR(value(r, "kpulse_process_virtual_memory_bytes"), size * page, 1024 * page);
	CHECK_NEAR(value(r, "kpulse_process_open_fds"), fds, 0);
	CHECK_EQ_INT(getrlimit(RLIMIT_NOFILE, &rl), 0);
	CHECK_NEAR(value(r, "kpulse_process_max_fds"), rl.rlim_cur, 0);
	{
		struct procfs_file st;

		procfs_file_init(&st, "/proc", "self/stat", 4096, false);
		CHECK(procfs_file_read(&st) > 0);
		CHECK_EQ_INT(self_parse_stat_starttime(st.buf, &start), 0);
		procfs_file_close(&st);
	}
	CHECK_NEAR(value(r, "kpulse_process_start_time_seconds"), 1000 + start / hz, 1e-6);
	CHECK(value(r, "kpulse_bpf_stats_enabled") >= 0);
	self_free(s);
	registry_free(r);
}

TEST(programs_that_cannot_be_opened_are_left_out)
{
	struct registry *r = registry_new();
	struct self *s = NULL;
	struct self_program p[] = {{"sched:sched_switch", "tp_btf", 0},
				   {"sched:sched_wakeup", "raw_tp", 0x7fffffff}};

	CHECK(r);
	CHECK_EQ_INT(self_new(TEST_FIXTURES "/proc-6.18", &s), 0);
	CHECK_EQ_INT(self_set_programs(s, p, 2), 0);
	registry_begin(r, 0, 1);
	CHECK_EQ_INT(self_sample(s, r, 0), 0);
	registry_end(r);
	CHECK(!registry_find(r, "kpulse_bpf_program_runs_total", NULL, 0));
	for (size_t i = 0; i < registry_size(r); i++)
		CHECK(strcmp(registry_at(r, i)->name, "kpulse_bpf_program_runs_total") != 0);
	CHECK_NEAR(value(r, "kpulse_bpf_stats_enabled"), 0, 0); /* the captured sysctl */
	/* without a boot time there is no start time */
	CHECK(value(r, "kpulse_process_start_time_seconds") < 0);
	CHECK_NEAR(value(r, "kpulse_process_resident_memory_bytes"),
		   440 * (double)sysconf(_SC_PAGESIZE), 0);
	CHECK(self_free(s) == NULL);
	CHECK(self_free(NULL) == NULL);
	registry_free(r);
}

TEST_MAIN()
