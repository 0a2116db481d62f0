// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_datadir.c - unit tests for daemon/datadir: a new data dir is 0700,
 * an open one and its regular files lose their group and other bits (a
 * symbolic link is left alone, not followed), the umask becomes 077, and
 * the lock refuses a second holder with the first one's PID, then passes
 * to the next once released.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/datadir.h"
#include "test.h"

static void path_in(char *buf, size_t len, const char *dir, const char *name)
{
	snprintf(buf, len, "%s/%s", dir, name);
}

static unsigned mode_of(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0xffff;
}

static void touch(const char *path, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, mode);

	if (fd >= 0) {
		fchmod(fd, mode);
		close(fd);
	}
}

static void remove_tree(const char *dir, const char *const *names, size_t n)
{
	char p[512];

	for (size_t i = 0; i < n; i++) {
		path_in(p, sizeof(p), dir, names[i]);
		unlink(p);
	}
	rmdir(dir);
}

TEST(a_new_data_dir_is_created_private_and_the_umask_is_077)
{
	char base[] = "/tmp/kpulse-datadir-XXXXXX", dir[512], err[256] = "";
	mode_t old;

	CHECK(mkdtemp(base) != NULL);
	path_in(dir, sizeof(dir), base, "data");
	CHECK_EQ_INT(datadir_prepare(dir, err, sizeof(err)), 0);
	CHECK_EQ_INT(mode_of(dir), 0700);
	old = umask(0);
	CHECK_EQ_INT(old, 077);
	rmdir(dir);
	rmdir(base);
}

TEST(an_open_data_dir_and_its_files_are_made_private_links_are_not_followed)
{
	static const char *const names[] = {"kpulse.db", "kpulse.db-wal", "link"};
	char dir[] = "/tmp/kpulse-datadir-XXXXXX", p[512], target[] = "/tmp/kpulse-target-XXXXXX";
	char err[256] = "";
	int tfd;

	CHECK(mkdtemp(dir) != NULL);
	tfd = mkstemp(target);
	CHECK(tfd >= 0);
	fchmod(tfd, 0644);
	close(tfd);
	chmod(dir, 0755);
	path_in(p, sizeof(p), dir, "kpulse.db");
	touch(p, 0644);
	path_in(p, sizeof(p), dir, "kpulse.db-wal");
	touch(p, 0660);
	path_in(p, sizeof(p), dir, "link");
	CHECK_EQ_INT(symlink(target, p), 0);

	CHECK_EQ_INT(datadir_prepare(dir, err, sizeof(err)), 0);
	CHECK_EQ_INT(mode_of(dir), 0700);
	path_in(p, sizeof(p), dir, "kpulse.db");
	CHECK_EQ_INT(mode_of(p), 0600);
	path_in(p, sizeof(p), dir, "kpulse.db-wal");
	CHECK_EQ_INT(mode_of(p), 0600);
	/* the link's target is someone else's file */
	CHECK_EQ_INT(mode_of(target), 0644);

	unlink(target);
	remove_tree(dir, names, 3);
}

TEST(a_second_lock_is_refused_with_the_holders_pid_then_passes_on)
{
	static const char *const names[] = {DATADIR_LOCK_FILENAME};
	char dir[] = "/tmp/kpulse-datadir-XXXXXX", err[512] = "", p[512], buf[32] = "";
	pid_t holder = -1;
	int fd1, fd2, f;

	CHECK(mkdtemp(dir) != NULL);
	fd1 = datadir_lock(dir, &holder, err, sizeof(err));
	CHECK(fd1 >= 0);
	CHECK_EQ_INT(holder, 0);
	path_in(p, sizeof(p), dir, DATADIR_LOCK_FILENAME);
	CHECK_EQ_INT(mode_of(p), 0600);
	f = open(p, O_RDONLY | O_CLOEXEC);
	CHECK(f >= 0 && read(f, buf, sizeof(buf) - 1) > 0);
	close(f);
	CHECK_EQ_INT(atoi(buf), getpid());

	/* flock() locks belong to the open file, so this process conflicts
	 * with itself as another daemon would */
	fd2 = datadir_lock(dir, &holder, err, sizeof(err));
	CHECK_EQ_INT(fd2, -EBUSY);
	CHECK_EQ_INT(holder, getpid());
	CHECK(strstr(err, "in use by another kpulse") != NULL);

	close(fd1);
	fd2 = datadir_lock(dir, &holder, err, sizeof(err));
	CHECK(fd2 >= 0);
	close(fd2);
	remove_tree(dir, names, 1);
}

TEST_MAIN()
