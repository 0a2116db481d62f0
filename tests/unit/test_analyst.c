// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for analysis/analyst.c: each rule names its resource and culprit
 * with the numbers of the evidence (CPU saturation by a process, I/O
 * saturation of a device, an OOM kill in a memory cgroup, packet loss with
 * retransmits, an exec storm, a filesystem about to fill), the strongest
 * finding leads, quiet evidence names nothing, and the same evidence gives
 * the same reading. */
#include <string.h>

#include "analysis/analyst.h"
#include "test.h"

static json_t *ev(const char *text)
{
	json_error_t e;
	json_t *v = json_loads(text, 0, &e);

	if (!v)
		fprintf(stderr, "  fixture JSON: %s at %d\n", e.text, e.line);
	return v;
}

static const char *s(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : "(null)";
}

#define CPU_EVIDENCE                                                                               \
	"{\"ncpu\": 2, \"signals\": [{\"kind\": \"anomaly\", \"series\": "                         \
	"\"kpulse_sched_runqueue_latency_seconds:p99\"}],"                                         \
	" \"indicators\": {\"cpu_busy_cpus\": {\"baseline\": 0.2, \"current\": 1.95},"             \
	" \"runqueue_p99_s\": {\"baseline\": 0.0003, \"current\": 0.025}},"                        \
	" \"pressure\": {\"cpu_waiting\": {\"baseline\": 0.01, \"current\": 0.6}},"                \
	" \"top_processes\": {\"cpu\": [{\"comm\": \"stress-ng-cpu\", \"pid\": 4242,"              \
	" \"baseline\": 0.05, \"current\": 1.9}]}, \"events\": {}}"

TEST(cpu_saturation_names_the_process_and_its_numbers)
{
	json_t *e = ev(CPU_EVIDENCE), *r = analyst_read(e);

	CHECK(r != NULL);
	CHECK_STR(s(r, "analyst"), "builtin");
	CHECK_STR(s(r, "resource"), "cpu");
	CHECK_STR(s(r, "culprit"), "process stress-ng-cpu (pid 4242)");
	CHECK(strstr(s(r, "text"), "run-queue latency p99 up from 300 us to 25.0 ms") != NULL);
	CHECK(strstr(s(r, "text"), "from 5% to 190% CPU") != NULL);
	CHECK(strstr(s(r, "text"), "1.95 of 2 CPUs busy") != NULL);
	json_decref(r);
	json_decref(e);
}

TEST(the_same_evidence_gives_the_same_reading)
{
	json_t *e = ev(CPU_EVIDENCE), *a = analyst_read(e), *b = analyst_read(e);

	CHECK(json_equal(a, b));
	json_decref(a);
	json_decref(b);
	json_decref(e);
}

TEST(io_saturation_names_the_device_and_the_writer)
{
	json_t *e =
	    ev("{\"ncpu\": 2, \"indicators\": {"
	       "\"block_utilization\": {\"vda\": {\"baseline\": 0.05, \"current\": 0.97},"
	       " \"vdb\": {\"baseline\": 0.01, \"current\": 0.02}},"
	       "\"block_latency_p99_s\": {\"vda\": {\"baseline\": 0.001, \"current\": 0.08}},"
	       "\"block_bytes_per_s\": {\"vda\": {\"current\": 120000000}}},"
	       "\"pressure\": {\"io_waiting\": {\"current\": 0.5}},"
	       "\"top_processes\": {\"io_bytes\": [{\"comm\": \"fio\", \"pid\": 77,"
	       " \"baseline\": 0, \"current\": 60000000}, {\"comm\": \"jbd2/vda\","
	       " \"pid\": 5, \"baseline\": 1000000, \"current\": 61000000},"
	       " {\"comm\": \"fio\", \"pid\": 78, \"baseline\": 0, \"current\":"
	       " 58000000}]},"
	       "\"events\": {\"slow_io\": {\"count\": 12, \"max_latency_s\": 0.3}}}");
	json_t *r = analyst_read(e);

	CHECK_STR(s(r, "resource"), "io");
	/* fio's two jobs together rose more than the journal thread */
	CHECK_STR(s(r, "culprit"), "device vda, processes fio (pids 77, 78)");
	CHECK(strstr(s(r, "text"), "utilization 97% (was 5%)") != NULL);
	CHECK(strstr(s(r, "text"), "p99 latency 80.0 ms (was 1.0 ms)") != NULL);
	CHECK(strstr(s(r, "text"), "12 slow I/Os") != NULL);
	CHECK(strstr(s(r, "text"), "118 MB/s (was 0 B/s)") != NULL);
	json_decref(r);
	json_decref(e);
}

TEST(an_oom_kill_names_the_victim_and_its_memory_cgroup)
{
	json_t *e =
	    ev("{\"ncpu\": 2, \"indicators\": {\"cpu_busy_cpus\": {\"current\": 1.5}},"
	       "\"pressure\": {\"memory_waiting\": {\"current\": 0.3},"
	       " \"memory_stalled\": {\"current\": 0.1}},"
	       "\"events\": {\"oom_kill\": {\"count\": 1, \"items\": [{\"comm\": \"python3\","
	       " \"pid\": 999, \"memcg\": \"/kpt-oom\", \"rss_bytes\": 67108864}]}}}");
	json_t *r = analyst_read(e);

	CHECK_STR(s(r, "resource"), "memory");
	CHECK_STR(s(r, "culprit"), "process python3 (pid 999) in memory cgroup /kpt-oom");
	CHECK(strstr(s(r, "text"), "OOM killer killed 1 process") != NULL);
	CHECK(strstr(s(r, "text"), "67 MB resident") != NULL);
	/* the CPU finding (1.5 of 2 busy) is there, but second */
	CHECK(strstr(s(r, "text"), "Also: CPU saturation") != NULL);
	json_decref(r);
	json_decref(e);
}

TEST(an_oom_kill_seen_only_as_a_signal_still_names_the_victim)
{
	json_t *e = ev("{\"ncpu\": 2, \"signals\": [{\"kind\": \"event\", \"event\": \"oom_kill\","
		       " \"comm\": \"hog\", \"pid\": 5, \"memcg\": \"/t\", \"rss_bytes\": 1000000,"
		       " \"count\": 2}], \"indicators\": {}, \"events\": {}}");
	json_t *r = analyst_read(e);

	CHECK_STR(s(r, "resource"), "memory");
	CHECK_STR(s(r, "culprit"), "process hog (pid 5) in memory cgroup /t");
	CHECK(strstr(s(r, "text"), "killed 2 processes") != NULL);
	json_decref(r);
	json_decref(e);
}

TEST(packet_loss_names_the_drop_reason_and_the_peer)
{
	json_t *e = ev("{\"ncpu\": 2, \"indicators\": {"
		       "\"tcp_retransmits_per_s\": {\"baseline\": 0, \"current\": 85.5},"
		       "\"packet_drops_per_s\": {\"NETFILTER_DROP\": {\"current\": 80},"
		       " \"NOT_SPECIFIED\": {\"current\": 1}}},"
		       "\"events\": {\"tcp_retransmit\": {\"count\": 400, \"by_peer\": [{\"peer\":"
		       " \"10.200.0.2:5201\", \"count\": 390}]}}}");
	json_t *r = analyst_read(e);

	CHECK_STR(s(r, "resource"), "network");
	CHECK_STR(s(r, "culprit"), "drop reason NETFILTER_DROP, peer 10.200.0.2:5201");
	CHECK(strstr(s(r, "text"), "85.5 retransmitted segments/s (was 0.0/s)") != NULL);
	json_decref(r);
	json_decref(e);
}

TEST(an_exec_storm_names_the_program_and_parent)
{
	json_t *e =
	    ev("{\"ncpu\": 2, \"indicators\": {"
	       "\"execs_per_s\": {\"baseline\": 1, \"current\": 400},"
	       "\"forks_per_s\": {\"baseline\": 2, \"current\": 410}},"
	       "\"events\": {\"exec\": {\"count\": 8000, \"by_comm\": [{\"comm\": \"true\","
	       " \"count\": 7900}], \"by_parent\": [{\"ppid\": \"321\", \"count\": 7950}]}}}");
	json_t *r = analyst_read(e);

	CHECK_STR(s(r, "resource"), "processes");
	CHECK_STR(s(r, "culprit"), "program true, parent pid 321");
	CHECK(strstr(s(r, "text"), "400 execs/s (was 1.0/s)") != NULL);
	json_decref(r);
	json_decref(e);
}

TEST(a_filesystem_prediction_names_the_mountpoint_and_the_time_left)
{
	json_t *e = ev("{\"ncpu\": 2, \"signals\": [{\"kind\": \"prediction\", \"prediction\":"
		       " \"filesystem_full\", \"labels\": {\"mountpoint\": \"/data\"}, \"current\":"
		       " 2000000000, \"rate_per_s\": -300000, \"eta_s\": 6667}],"
		       " \"indicators\": {}, \"events\": {}}");
	json_t *r = analyst_read(e);

	CHECK_STR(s(r, "resource"), "filesystem");
	CHECK_STR(s(r, "culprit"), "filesystem /data");
	CHECK(strstr(s(r, "text"), "2.0 GB free, falling 300 KB/s; full in about 111 min") != NULL);
	json_decref(r);
	json_decref(e);
}

TEST(a_level_that_did_not_rise_counts_less_than_one_that_did)
{
	/* CPUs busy all along (other work), while a device went from idle to saturated */
	json_t *e = ev("{\"ncpu\": 2, \"indicators\": {"
		       "\"cpu_busy_cpus\": {\"baseline\": 1.9, \"current\": 1.95},"
		       "\"block_utilization\": {\"vda\": {\"baseline\": 0.1, \"current\": 0.7}}},"
		       "\"pressure\": {\"cpu_waiting\": {\"baseline\": 0.5, \"current\": 0.55}},"
		       "\"events\": {}}");
	json_t *r = analyst_read(e);

	CHECK_STR(s(r, "resource"), "io");
	CHECK_STR(s(r, "culprit"), "device vda");
	json_decref(r);
	json_decref(e);
}

TEST(quiet_evidence_names_no_resource)
{
	json_t *e = ev("{\"ncpu\": 4, \"indicators\": {\"cpu_busy_cpus\": {\"baseline\": 0.3,"
		       " \"current\": 0.35}, \"tcp_retransmits_per_s\": {\"baseline\": 0.1,"
		       " \"current\": 0.2}}, \"events\": {}}");
	json_t *r = analyst_read(e);

	CHECK_STR(s(r, "resource"), "unknown");
	CHECK(json_is_null(json_object_get(r, "culprit")));
	CHECK_EQ_INT(json_array_size(json_object_get(r, "findings")), 0);
	json_decref(r);
	json_decref(e);
	/* not even an object: nothing found, no crash */
	r = analyst_read(NULL);
	CHECK_STR(s(r, "resource"), "unknown");
	json_decref(r);
}

TEST_MAIN()
