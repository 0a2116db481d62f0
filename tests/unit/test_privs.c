// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_privs.c - unit tests for daemon/privs, each in a child process (the
 * drop cannot be undone): every thread, also one started before the drop
 * and blocked in a wait, ends with no capability and no_new_privs; under
 * the enforce filter an unlisted call fails with EPERM while the daemon's
 * calls still work, exec ends the process with SIGSYS, and fork is
 * refused; under log nothing is refused.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/privs.h"
#include "test.h"

/* Runs fn in a child; returns its wait status. */
static int in_child(int (*fn)(void))
{
	int status = -1;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn());
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}

/* How many tasks of this process show no capability and NNP in their
 * status (-1 when one holds something); tasks must be 4 of them. */
static int threads_dropped(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	if (!d)
		return -1;
	while ((e = readdir(d))) {
		char path[300], line[128];
		int fields = 0;
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			unsigned long long v;

			if (sscanf(line, "CapPrm: %llx", &v) == 1 ||
			    sscanf(line, "CapEff: %llx", &v) == 1 ||
			    sscanf(line, "CapAmb: %llx", &v) == 1)
				fields += v == 0 ? 1 : -100;
			else if (sscanf(line, "NoNewPrivs: %llu", &v) == 1)
				fields += v == 1 ? 1 : -100;
		}
		fclose(f);
		if (fields != 4) {
			n = -1;
			break;
		}
		n++;
	}
	closedir(d);
	return n;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int done;

static void *waiter(void *arg)
{
	pthread_mutex_lock(&lock);
	while (!done)
		pthread_cond_wait(&cond, &lock);
	pthread_mutex_unlock(&lock);
	return NULL;
}

static int drop_with_threads(void)
{
	pthread_t t[3];
	char err[256];
	int r;

	for (int i = 0; i < 3; i++)
		if (pthread_create(&t[i], NULL, waiter, NULL))
			return 10;
	r = privs_drop_capabilities(err, sizeof(err));
	if (r) {
		fprintf(stderr, "drop: %s\n", err);
		return 11;
	}
	/* checked before the threads end: the main thread and the 3 waiters */
	r = threads_dropped() != 4;
	pthread_mutex_lock(&lock);
	done = 1;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	return r ? 12 : 0;
}

TEST(every_thread_ends_with_no_capability_and_no_new_privs)
{
	int st = in_child(drop_with_threads);

	CHECK(WIFEXITED(st));
	CHECK_EQ_INT(WEXITSTATUS(st), 0);
}

static int enforce_then_call(void)
{
	char err[256];
	int fds[2];

	if (privs_drop_capabilities(err, sizeof(err)) ||
	    privs_install_seccomp(PRIVS_SECCOMP_ENFORCE, err, sizeof(err))) {
		fprintf(stderr, "setup: %s\n", err);
		return 20;
	}
	/* the daemon's own calls still work */
	if (pipe2(fds, 0) != 0 || write(fds[1], "x", 1) != 1 || getpid() <= 0)
		return 21;
	if (socket(AF_INET, SOCK_STREAM, 0) < 0 || socket(AF_NETLINK, SOCK_DGRAM, 0) < 0)
		return 22;
	/* calls outside the list fail with EPERM */
	if (mount("none", "/mnt", "tmpfs", 0, NULL) == 0 || errno != EPERM)
		return 23;
	if (socket(AF_PACKET, SOCK_RAW, 0) >= 0 || errno != EPERM)
		return 24;
	if (syscall(SYS_unshare, 0) == 0 || errno != EPERM)
		return 25;
	/* a thread may still start (clone3 answers ENOSYS, glibc uses clone) */
	{
		pthread_t t;

		done = 1;
		if (pthread_create(&t, NULL, waiter, NULL) || pthread_join(t, NULL))
			return 26;
	}
	return 0;
}

TEST(enforce_refuses_unlisted_calls_with_eperm_and_keeps_the_daemons_calls)
{
	int st = in_child(enforce_then_call);

	CHECK(WIFEXITED(st));
	CHECK_EQ_INT(WEXITSTATUS(st), 0);
}

static int enforce_then_exec(void)
{
	char err[256];
	char *const argv[] = {"/bin/true", NULL};

	if (privs_install_seccomp(PRIVS_SECCOMP_ENFORCE, err, sizeof(err)))
		return 30;
	execv("/bin/true", argv);
	return 31; /* not reached: the filter ends the process */
}

TEST(enforce_ends_the_process_on_exec)
{
	int st = in_child(enforce_then_exec);

	CHECK(WIFSIGNALED(st));
	CHECK_EQ_INT(WTERMSIG(st), SIGSYS);
}

static int log_then_call(void)
{
	char err[256];

	if (privs_install_seccomp(PRIVS_SECCOMP_LOG, err, sizeof(err)))
		return 40;
	/* logged, not refused: fails for its own reason, not EPERM */
	if (syscall(SYS_unshare, 0) != 0)
		return 41;
	return 0;
}

TEST(log_mode_refuses_nothing)
{
	int st = in_child(log_then_call);

	CHECK(WIFEXITED(st));
	CHECK_EQ_INT(WEXITSTATUS(st), 0);
}

TEST_MAIN()
