// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_cgroups.c - the cgroup module's parsers: /proc/self/mountinfo (v2,
 * v1 and hybrid layouts) and /proc/PID/cgroup (which line names a cgroup
 * in each mode), the accounting files' readers (io.stat, "key value"
 * files), plus a live read of this process's own cgroup. */
#include <errno.h>
#include <unistd.h>

#include "test.h"
#include "collection/cgroups.h"

/* Debian 12 in a container: v1 controllers, cgroup2 without any. */
static const char hybrid[] =
    "22 1 0:21 / / rw,relatime - overlay overlay rw\n"
    "30 22 0:26 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "32 30 0:28 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "33 30 0:29 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "34 30 0:30 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "35 30 0:31 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

/* systemd's legacy layout: cpu and cpuacct mounted together. */
static const char legacy[] =
    "25 24 0:22 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup "
    "rw,cpu,cpuacct\n"
    "26 24 0:23 / /sys/fs/cgroup/with\\040space rw shared:10 - cgroup cgroup rw,memory\n";

static const char unified[] = "29 23 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime "
			      "shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n";

TEST(mountinfo_hybrid_finds_every_hierarchy)
{
	struct cgroups_mounts m;

	CHECK_EQ_INT(cgroups_parse_mountinfo(hybrid, &m), 0);
	CHECK_STR(m.v2, "/sys/fs/cgroup/unified");
	CHECK_STR(m.cpuacct, "/sys/fs/cgroup/cpuacct");
	CHECK_STR(m.memory, "/sys/fs/cgroup/memory");
	CHECK_STR(m.blkio, "/sys/fs/cgroup/blkio");
}

TEST(mountinfo_comounted_controllers_and_escaped_spaces)
{
	struct cgroups_mounts m;

	CHECK_EQ_INT(cgroups_parse_mountinfo(legacy, &m), 0);
	CHECK_STR(m.cpuacct, "/sys/fs/cgroup/cpu,cpuacct");
	CHECK_STR(m.memory, "/sys/fs/cgroup/with space");
	CHECK_STR(m.v2, "");
	CHECK_STR(m.blkio, "");
}

TEST(mountinfo_unified_has_only_v2)
{
	struct cgroups_mounts m;

	CHECK_EQ_INT(cgroups_parse_mountinfo(unified, &m), 0);
	CHECK_STR(m.v2, "/sys/fs/cgroup");
	CHECK_STR(m.cpuacct, "");
	/* memory_recursiveprot is a mount option, not the memory controller */
	CHECK_STR(m.memory, "");
}

TEST(mountinfo_malformed_line_is_an_error)
{
	struct cgroups_mounts m;

	CHECK_EQ_INT(cgroups_parse_mountinfo("31 30 0:27 / /x rw cgroup cgroup rw,cpu\n", &m),
		     -EINVAL);
	CHECK_EQ_INT(cgroups_parse_mountinfo("garbage\n", &m), -EINVAL);
	CHECK_EQ_INT(cgroups_parse_mountinfo("", &m), 0);
}

static const char proc_cgroup[] = "9:name=systemd:/system.slice/nginx.service\n"
				  "4:memory:/process_api/eaf8\n"
				  "2:cpu,cpuacct:/system.slice/nginx.service\n"
				  "0::/system.slice/nginx.service\n";

TEST(proc_cgroup_line_per_mode)
{
	char path[128];

	CHECK_EQ_INT(cgroups_parse_proc_cgroup(proc_cgroup, CGROUPS_V2, path, sizeof(path)), 0);
	CHECK_STR(path, "system.slice/nginx.service");
	CHECK_EQ_INT(cgroups_parse_proc_cgroup(proc_cgroup, CGROUPS_V1, path, sizeof(path)), 0);
	CHECK_STR(path, "system.slice/nginx.service");
	CHECK_EQ_INT(
	    cgroups_parse_proc_cgroup("2:cpuacct:/\n0::/\n", CGROUPS_V1, path, sizeof(path)), 0);
	CHECK_STR(path, "/");
}

TEST(proc_cgroup_missing_or_malformed)
{
	char path[128];

	CHECK_EQ_INT(cgroups_parse_proc_cgroup("4:memory:/a\n", CGROUPS_V2, path, sizeof(path)),
		     -ENOENT);
	CHECK_EQ_INT(cgroups_parse_proc_cgroup("0::/a\n", CGROUPS_V1, path, sizeof(path)), -ENOENT);
	CHECK_EQ_INT(cgroups_parse_proc_cgroup("nonsense\n", CGROUPS_V2, path, sizeof(path)),
		     -EINVAL);
	CHECK_EQ_INT(cgroups_parse_proc_cgroup("0::relative\n", CGROUPS_V2, path, sizeof(path)),
		     -EINVAL);
	/* "cpuacct" must be a whole controller name */
	CHECK_EQ_INT(cgroups_parse_proc_cgroup("3:cpuacctx:/a\n", CGROUPS_V1, path, sizeof(path)),
		     -ENOENT);
}

TEST(io_stat_sums_bytes_over_devices)
{
	uint64_t rd = 1, wr = 1;

	cgroups_parse_io_stat("8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n"
			      "253:1 rbytes=100 wbytes=0 rios=3 wios=0 dbytes=7 dios=1\n",
			      &rd, &wr);
	CHECK(rd == 4196 && wr == 8192);
	/* empty (no I/O yet), a cut last line, a bad number, a field name that
	 * only ends in "rbytes=" */
	cgroups_parse_io_stat("", &rd, &wr);
	CHECK(rd == 0 && wr == 0);
	cgroups_parse_io_stat("8:0 rbytes=10 wbytes=x\n8:16 xrbytes=5 wbytes=3", &rd, &wr);
	CHECK(rd == 10 && wr == 3);
	/* a field of the next line is not this line's */
	cgroups_parse_io_stat("8:0 rios=1\n8:16 rbytes=2\n", &rd, &wr);
	CHECK(rd == 2 && wr == 0);
}

TEST(keyed_value_finds_the_whole_key)
{
	uint64_t v = 0;

	CHECK_EQ_INT(
	    cgroups_parse_keyed("low 0\nhigh 0\nmax 0\noom 3\noom_kill 2\n", "oom_kill", &v), 0);
	CHECK(v == 2);
	CHECK_EQ_INT(cgroups_parse_keyed("oom_kill_disable 0\nunder_oom 0\n", "oom_kill", &v),
		     -ENOENT);
	CHECK_EQ_INT(cgroups_parse_keyed("oom_kill x\n", "oom_kill", &v), -EINVAL);
	CHECK_EQ_INT(cgroups_parse_keyed("", "oom_kill", &v), -ENOENT);
}

TEST(own_cgroup_resolves_in_the_mode_in_effect)
{
	struct cgroups *cg = NULL;
	char path[256];

	CHECK_EQ_INT(cgroups_new(CGROUPS_AUTO, 5, &cg), 0);
	if (cgroups_mode(cg) != CGROUPS_OFF) {
		CHECK_EQ_INT(cgroups_pid_path(cg, (uint32_t)getpid(), path, sizeof(path)), 0);
		CHECK(path[0] != 0);
	} else {
		CHECK_EQ_INT(cgroups_pid_path(cg, (uint32_t)getpid(), path, sizeof(path)), -ENODEV);
	}
	CHECK(cgroups_pid_path(cg, 4000000000u, path, sizeof(path)) < 0);
	cgroups_free(cg);
}

TEST(off_mode_has_no_paths)
{
	struct cgroups *cg = NULL;
	char path[64];

	CHECK_EQ_INT(cgroups_new(CGROUPS_OFF, 5, &cg), 0);
	CHECK_EQ_INT(cgroups_mode(cg), CGROUPS_OFF);
	CHECK_EQ_INT(cgroups_path_of_id(cg, 1, path, sizeof(path)), -ENOENT);
	CHECK_EQ_INT(cgroups_sample(cg, NULL, 1, NULL), 0);
	cgroups_free(cg);
}

TEST_MAIN()
