// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_procfs.c - /proc/meminfo and sysfs uevent parsing. */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "test.h"
#include "collection/procfs.h"

TEST(meminfo_parses_kb_values_into_bytes)
{
	const char *text = "MemTotal:       16384 kB\n"
			   "MemFree:         1024 kB\n"
			   "MemAvailable:    8192 kB\n"
			   "Buffers:          100 kB\n"
			   "Cached:          2048 kB\n"
			   "SwapCached:         0 kB\n"
			   "SwapTotal:       4096 kB\n"
			   "SwapFree:        4000 kB\n"
			   "HugePages_Total:    0\n";
	struct meminfo m;

	CHECK_EQ_INT(procfs_parse_meminfo(text, &m), 0);
	CHECK_EQ_INT(m.total_bytes, 16384ULL * 1024);
	CHECK_EQ_INT(m.free_bytes, 1024ULL * 1024);
	CHECK_EQ_INT(m.available_bytes, 8192ULL * 1024);
	CHECK_EQ_INT(m.cached_bytes, 2048ULL * 1024);
	CHECK_EQ_INT(m.swap_total_bytes, 4096ULL * 1024);
	CHECK_EQ_INT(m.swap_free_bytes, 4000ULL * 1024);
}

TEST(meminfo_without_required_keys_is_rejected)
{
	struct meminfo m = {.total_bytes = 7};

	CHECK_EQ_INT(procfs_parse_meminfo("MemFree: 1 kB\n", &m), -EINVAL);
	CHECK_EQ_INT(procfs_parse_meminfo("", &m), -EINVAL);
	CHECK_EQ_INT(m.total_bytes, 7); /* untouched on failure */
}

TEST(meminfo_malformed_or_overflowing_number_is_rejected)
{
	struct meminfo m;

	CHECK_EQ_INT(procfs_parse_meminfo("MemTotal: abc kB\nMemAvailable: 1 kB\n", &m), -EINVAL);
	CHECK_EQ_INT(
	    procfs_parse_meminfo("MemTotal: 99999999999999999999 kB\nMemAvailable: 1 kB\n", &m),
	    -EINVAL);
	CHECK_EQ_INT(
	    procfs_parse_meminfo("MemTotal: 18014398509481984 kB\nMemAvailable: 1 kB\n", &m),
	    -EINVAL);
	CHECK_EQ_INT(procfs_parse_meminfo("MemTotal: 12 kB junk\nMemAvailable: 1 kB\n", &m),
		     -EINVAL);
}

TEST(meminfo_reads_the_real_file)
{
	struct meminfo m;

	CHECK_EQ_INT(procfs_read_meminfo("/proc/meminfo", &m), 0);
	CHECK(m.total_bytes > 0);
	CHECK(m.available_bytes <= m.total_bytes);
	CHECK_EQ_INT(procfs_read_meminfo("/nonexistent/meminfo", &m), -ENOENT);
}

TEST(uevent_devname_is_found)
{
	char name[32];

	CHECK_EQ_INT(procfs_parse_uevent_devname("MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk\n",
						 name, sizeof(name)),
		     0);
	CHECK_STR(name, "vda");
	CHECK_EQ_INT(procfs_parse_uevent_devname("DEVNAME=nvme0n1", name, sizeof(name)), 0);
	CHECK_STR(name, "nvme0n1");
}

TEST(uevent_devname_missing_or_bad_is_an_error)
{
	char name[8];

	CHECK_EQ_INT(procfs_parse_uevent_devname("MAJOR=8\n", name, sizeof(name)), -ENOENT);
	CHECK_EQ_INT(procfs_parse_uevent_devname("DEVNAME=\n", name, sizeof(name)), -EINVAL);
	CHECK_EQ_INT(procfs_parse_uevent_devname("DEVNAME=../x\n", name, sizeof(name)), -EINVAL);
	CHECK_EQ_INT(procfs_parse_uevent_devname("DEVNAME=a\tb\n", name, sizeof(name)), -EINVAL);
	CHECK_EQ_INT(procfs_parse_uevent_devname("DEVNAME=waytoolongname\n", name, sizeof(name)),
		     -EINVAL);
}

TEST(block_devname_falls_back_to_major_minor)
{
	char name[32];

	CHECK(procfs_block_devname(4095, 1048575, name, sizeof(name)) < 0);
	CHECK_STR(name, "4095:1048575");
}

TEST(read_comm_of_self_and_of_a_missing_pid)
{
	char comm[32];

	CHECK_EQ_INT(procfs_read_comm(1, comm, sizeof(comm)), 0);
	CHECK(comm[0] != 0 && !strchr(comm, '\n'));
	CHECK(procfs_read_comm(4000000000u, comm, sizeof(comm)) < 0);
}

TEST(read_comm_cuts_a_long_name_to_fit)
{
	char full[64], small[4];

	CHECK_EQ_INT(procfs_read_comm(getpid(), full, sizeof(full)), 0);
	CHECK_EQ_INT(procfs_read_comm(getpid(), small, sizeof(small)), 0);
	CHECK_EQ_INT(strlen(small), strlen(full) < 3 ? strlen(full) : 3);
	CHECK(strncmp(small, full, strlen(small)) == 0);
}

TEST(read_file_reports_too_big)
{
	char buf[4];

	CHECK_EQ_INT(procfs_read_file("/proc/self/status", buf, sizeof(buf)), -EFBIG);
	CHECK_EQ_INT(strlen(buf), 3);
}

TEST_MAIN()
