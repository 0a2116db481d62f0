// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_procfs.c - the per-round file reader, number parsing, sysfs uevent
 * names and /proc/<pid>/comm. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "collection/procfs.h"

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

/* Writes text to dir/name, replacing what was there. */
static int put(const char *dir, const char *name, const char *text, size_t len)
{
	char path[256];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ok = write(fd, text, len) == (ssize_t)len;
	close(fd);
	return ok ? 0 : -1;
}

static void unput(const char *dir, const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

TEST(file_reads_text_larger_than_its_first_buffer_and_rereads_it_fresh)
{
	char dir[] = "/tmp/kpulse-test-procfs-XXXXXX", big[10000];
	struct procfs_file f;
	long n1 = -1, n2 = -1;
	bool same1 = false, same2 = false;

	CHECK(mkdtemp(dir));
	memset(big, 'a', sizeof(big));
	big[sizeof(big) - 1] = '\n';
	if (put(dir, "t", big, sizeof(big)) == 0 &&
	    procfs_file_init(&f, dir, "t", 1 << 20, false) == 0) {
		n1 = procfs_file_read(&f);
		same1 = n1 == (long)sizeof(big) && memcmp(f.buf, big, sizeof(big)) == 0;
		/* The same descriptor sees the new text. */
		put(dir, "t", "short\n", 6);
		n2 = procfs_file_read(&f);
		same2 = n2 == 6 && strcmp(f.buf, "short\n") == 0;
		procfs_file_close(&f);
	}
	unput(dir, "t");
	rmdir(dir);
	CHECK(same1);
	CHECK(same2);
	CHECK_EQ_INT(f.errors, 0);
}

TEST(file_of_exactly_max_bytes_is_read_and_one_more_is_too_big)
{
	char dir[] = "/tmp/kpulse-test-procfs-XXXXXX", text[5000];
	struct procfs_file f;
	long at_max = 0, over = 0;
	uint64_t errors = 0;

	CHECK(mkdtemp(dir));
	memset(text, 'b', sizeof(text));
	if (procfs_file_init(&f, dir, "t", 4096, false) == 0) {
		put(dir, "t", text, 4096);
		at_max = procfs_file_read(&f);
		put(dir, "t", text, 4097);
		over = procfs_file_read(&f);
		errors = f.errors;
		procfs_file_close(&f);
	}
	unput(dir, "t");
	rmdir(dir);
	CHECK_EQ_INT(at_max, 4096);
	CHECK_EQ_INT(over, -EFBIG);
	CHECK_EQ_INT(errors, 1);
}

TEST(missing_file_is_an_error_unless_optional_and_is_found_once_it_appears)
{
	char dir[] = "/tmp/kpulse-test-procfs-XXXXXX";
	struct procfs_file need, opt;
	long first = 0, later = 0, optional = 0;

	CHECK(mkdtemp(dir));
	procfs_file_init(&need, dir, "later", 4096, false);
	procfs_file_init(&opt, dir, "never", 4096, true);
	first = procfs_file_read(&need);
	optional = procfs_file_read(&opt);
	put(dir, "later", "1\n", 2);
	later = procfs_file_read(&need);
	unput(dir, "later");
	rmdir(dir);
	CHECK_EQ_INT(first, -ENOENT);
	CHECK_EQ_INT(need.errors, 1);
	CHECK_EQ_INT(later, 2);
	CHECK_STR(need.buf, "1\n");
	CHECK_EQ_INT(optional, -ENOENT);
	CHECK_EQ_INT(opt.errors, 0);
	CHECK(!opt.seen);
	procfs_file_close(&need);
	procfs_file_close(&opt);
}

TEST(kept_descriptor_on_a_seq_file_gives_fresh_text)
{
	struct procfs_file f;
	char first[128];
	long n;

	CHECK_EQ_INT(procfs_file_init(&f, "/proc", "uptime", 4096, false), 0);
	n = procfs_file_read(&f);
	CHECK(n > 0);
	snprintf(first, sizeof(first), "%s", f.buf);
	usleep(30000); /* uptime moves in hundredths of a second */
	n = procfs_file_read(&f);
	CHECK(n > 0);
	CHECK(strcmp(first, f.buf) != 0);
	procfs_file_close(&f);
}

TEST(init_refuses_a_path_too_long)
{
	struct procfs_file f;
	char root[300];

	memset(root, 'r', sizeof(root) - 1);
	root[sizeof(root) - 1] = 0;
	CHECK_EQ_INT(procfs_file_init(&f, root, "stat", 4096, false), -ENAMETOOLONG);
}

TEST(report_names_the_file_once_read_or_failed)
{
	struct registry *r = registry_new();
	struct procfs_file f;
	struct metric_label l[] = {{"file", "/proc/stat"}};
	const struct metric_series *s;

	CHECK(r);
	procfs_file_init(&f, "/nonexistent-kpulse", "stat", 4096, false);
	registry_begin(r, 0, 1);
	CHECK_EQ_INT(procfs_file_report(&f, r), 0); /* never read: nothing */
	CHECK_EQ_INT(registry_size(r), 0);
	procfs_file_read(&f);
	CHECK_EQ_INT(procfs_file_report(&f, r), 0);
	registry_end(r);
	s = registry_find(r, "kpulse_procfs_errors_total", l, 1);
	CHECK(s);
	CHECK_EQ_INT(s->value, 1);
	registry_free(r);
}

TEST(parse_u64_skips_blanks_and_refuses_overflow_and_non_digits)
{
	const char *p = " \t42 rest", *q = "18446744073709551615", *o = "18446744073709551616";
	const char *x = "x1";
	uint64_t v = 7;

	CHECK_EQ_INT(procfs_parse_u64(&p, &v), 0);
	CHECK_EQ_INT(v, 42);
	CHECK_STR(p, " rest");
	CHECK_EQ_INT(procfs_parse_u64(&q, &v), 0);
	CHECK(v == UINT64_MAX);
	v = 7;
	CHECK_EQ_INT(procfs_parse_u64(&o, &v), -ERANGE);
	CHECK_EQ_INT(procfs_parse_u64(&x, &v), -EINVAL);
	CHECK_EQ_INT(v, 7);
	CHECK_STR(x, "x1");
}

TEST_MAIN()
