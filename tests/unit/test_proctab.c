// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_proctab.c - names and exit fault totals from process events;
 * /proc/PID/stat fault fields. */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "test.h"
#include "kpulse_abi.h"
#include "collection/proctab.h"

static struct kp_event_proc ev(uint32_t type, uint32_t pid, const char *comm)
{
	struct kp_event_proc e = {.hdr = {.type = type, .pid = pid}};

	memcpy(e.hdr.comm, comm, strnlen(comm, sizeof(e.hdr.comm)));
	return e;
}

TEST(exec_names_a_process_and_exit_keeps_the_name_and_fault_total)
{
	static struct proctab t;
	struct kp_event_proc e = ev(KP_EV_EXEC, 4321, "short-lived");
	uint64_t f = 0;

	CHECK(proctab_comm(&t, 4321) == NULL);
	proctab_note_event(&t, &e, KP_EV_EXEC);
	CHECK_STR(proctab_comm(&t, 4321), "short-lived");
	CHECK_EQ_INT(proctab_exit_faults(&t, 4321, &f), -ENOENT);
	e = ev(KP_EV_EXIT, 4321, "renamed");
	e.min_flt = 100;
	e.maj_flt = 3;
	proctab_note_event(&t, &e, KP_EV_EXIT);
	CHECK_STR(proctab_comm(&t, 4321), "renamed");
	CHECK_EQ_INT(proctab_exit_faults(&t, 4321, &f), 0);
	CHECK_EQ_INT(f, 103);
	/* a fork names the child after its parent until it execs; a pid
	 * reused by a fork forgets the old process's exit */
	e = ev(KP_EV_FORK, 4321, "parent");
	proctab_note_event(&t, &e, KP_EV_FORK);
	CHECK_STR(proctab_comm(&t, 4321), "parent");
	CHECK_EQ_INT(proctab_exit_faults(&t, 4321, &f), -ENOENT);
	e = ev(KP_EV_OOM_KILL, 4321, "other");
	proctab_note_event(&t, &e, KP_EV_OOM_KILL);
	CHECK_STR(proctab_comm(&t, 4321), "parent");
}

TEST(a_pid_sharing_a_slot_replaces_the_older_process)
{
	static struct proctab t;
	struct kp_event_proc a = ev(KP_EV_EXIT, 7, "old"),
			     b = ev(KP_EV_EXEC, 7 + PROCTAB_SLOTS, "new");
	uint64_t f;

	proctab_note_event(&t, &a, KP_EV_EXIT);
	proctab_note_event(&t, &b, KP_EV_EXEC);
	CHECK(proctab_comm(&t, 7) == NULL);
	CHECK_EQ_INT(proctab_exit_faults(&t, 7, &f), -ENOENT);
	CHECK_STR(proctab_comm(&t, 7 + PROCTAB_SLOTS), "new");
	/* a name that fills the field without a NUL is cut to fit */
	b = ev(KP_EV_EXEC, 8, "0123456789abcdef");
	proctab_note_event(&t, &b, KP_EV_EXEC);
	CHECK_STR(proctab_comm(&t, 8), "0123456789abcde");
}

TEST(stat_faults_are_minflt_plus_majflt_after_the_last_paren)
{
	uint64_t f = 0;

	CHECK_EQ_INT(proctab_parse_stat_faults("1234 (a) b) c) S 1 1234 1234 0 -1 4194560 "
					       "500 7 2 1 10 20 0 0 20 0 1 0 100 0 0\n",
					       &f),
		     0);
	CHECK_EQ_INT(f, 502);
	CHECK_EQ_INT(proctab_parse_stat_faults("1 (x) S 1 2\n", &f), -EINVAL);
	CHECK_EQ_INT(proctab_parse_stat_faults("no paren at all", &f), -EINVAL);
	CHECK_EQ_INT(proctab_parse_stat_faults(")", &f), -EINVAL);
	CHECK_EQ_INT(proctab_parse_stat_faults("1 (x) S 1 1 1 0 -1 0 abc 0 0 0", &f), -EINVAL);
	CHECK_EQ_INT(proctab_read_faults((uint32_t)getpid(), &f), 0);
	CHECK(f > 0);
}

TEST_MAIN()
