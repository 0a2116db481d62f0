// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * datadir.c - the data dir's modes and its lock: it holds connection
 * events (addresses, ports, process names) and the users database, so
 * nobody but its owner reads it, and two daemons never write it at once
 * (their counters would interleave in one series). See datadir.h.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/datadir.h"
#include "util/log.h"

/* Takes the group and other bits off the regular files of the open dir. */
static int make_files_private(int dirfd, const char *path)
{
	DIR *d;
	struct dirent *e;
	int dup_fd = dup(dirfd), r = 0;

	if (dup_fd < 0)
		return -errno;
	d = fdopendir(dup_fd);
	if (!d) {
		r = -errno;
		close(dup_fd);
		return r;
	}
	while ((e = readdir(d))) {
		struct stat st;
		int fd;

		if (e->d_name[0] == '.' && (!e->d_name[1] || !strcmp(e->d_name, "..")))
			continue;
		fd = openat(dirfd, e->d_name,
			    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			continue; /* a symbolic link, a socket, gone: not ours to fix */
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077)) {
			if (fchmod(fd, st.st_mode & 0700) == 0)
				log_warn("data dir: %s/%s was mode %04o, readable by other users; "
					 "now %04o",
					 path, e->d_name, (unsigned)(st.st_mode & 07777),
					 (unsigned)(st.st_mode & 0700));
			else if (!r)
				r = -errno;
		}
		close(fd);
	}
	closedir(d);
	return r;
}

int datadir_prepare(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd, r;

	umask(077);
	if (mkdir(path, 0700) != 0 && errno != EEXIST) {
		r = -errno;
		snprintf(err, errlen, "cannot create it: %s", strerror(errno));
		return r;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		if (r == -ENOTDIR)
			snprintf(err, errlen, "not a directory");
		else
			snprintf(err, errlen, "cannot open it: %s", strerror(errno));
		return r;
	}
	if (fstat(fd, &st) != 0) {
		r = -errno;
		snprintf(err, errlen, "cannot stat it: %s", strerror(errno));
		goto cleanup;
	}
	if (st.st_uid != geteuid())
		log_warn("data dir %s: owned by uid %u, not by this process (uid %u)", path,
			 (unsigned)st.st_uid, (unsigned)geteuid());
	if (st.st_mode & 077) {
		if (fchmod(fd, 0700) != 0) {
			r = -errno;
			snprintf(err, errlen,
				 "mode %04o lets other users in, and chmod 0700 failed: %s",
				 (unsigned)(st.st_mode & 07777), strerror(errno));
			goto cleanup;
		}
		log_warn("data dir %s was mode %04o, open to other users; now 0700", path,
			 (unsigned)(st.st_mode & 07777));
	}
	r = make_files_private(fd, path);
	if (r)
		snprintf(err, errlen, "cannot make its files private: %s", strerror(-r));
cleanup:
	close(fd);
	return r;
}

/* The PID the holder wrote, 0 when there is none to read. */
static pid_t read_holder(int fd)
{
	char buf[24] = "";
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid;

	if (n <= 0)
		return 0;
	pid = strtol(buf, NULL, 10);
	return pid > 0 && pid <= INT_MAX ? (pid_t)pid : 0;
}

int datadir_lock(const char *path, pid_t *ret_holder, char *err, size_t errlen)
{
	char file[PATH_MAX], pid[24];
	int fd, r, n;

	*ret_holder = 0;
	if (snprintf(file, sizeof(file), "%s/%s", path, DATADIR_LOCK_FILENAME) >=
	    (int)sizeof(file)) {
		snprintf(err, errlen, "path too long");
		return -ENAMETOOLONG;
	}
	fd = open(file, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0600);
	if (fd < 0) {
		r = -errno;
		snprintf(err, errlen, "%s: cannot open it: %s", file, strerror(errno));
		return r;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (r == -EBUSY) {
			*ret_holder = read_holder(fd);
			snprintf(err, errlen, "in use by another kpulse (PID %d, lock %s)",
				 (int)*ret_holder, file);
		} else {
			snprintf(err, errlen, "%s: cannot lock it: %s", file, strerror(-r));
		}
		close(fd);
		return r;
	}
	n = snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		r = errno ? -errno : -EIO;
		snprintf(err, errlen, "%s: cannot write the PID: %s", file, strerror(-r));
		close(fd);
		return r;
	}
	return fd;
}
