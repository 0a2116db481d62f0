// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * privs.c - the daemon's privilege drop after start-up: capabilities of
 * every thread, no_new_privs and securebits, then a seccomp allow-list
 * (libseccomp). See privs.h for the contract.
 *
 * Capabilities live in each thread's credentials, and the store, sink and
 * HTTP threads are already running when the drop happens (the listener
 * must be bound first). So the calling thread drops its own, then signals
 * every other thread listed in /proc/self/task to do the same in a signal
 * handler (raw prctl and capset calls only), and checks each thread's
 * status until none holds a capability.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "daemon/privs.h"

/* Rounds of "signal the threads that still hold a capability"; a thread
 * started during one round is caught by the next. */
#define DROP_PASSES 8
/* How long a signalled thread may take to answer, per pass. */
#define DROP_WAIT_MS 2000

/* ------------------------------------------------------------ capabilities */

static int last_cap = CAP_LAST_CAP;
/* Without CAP_SETPCAP (a systemd unit that does not grant it) the bounding
 * set and the securebits stay as they are: no_new_privs alone already
 * keeps an exec from gaining anything. Set by the first thread. */
static bool no_setpcap;
static atomic_int threads_answered;
static atomic_int thread_error;

/* Everything a thread gives up; only raw system calls, as it also runs in
 * a signal handler. Bounding set first: dropping from it needs
 * CAP_SETPCAP, which the capset at the end removes. */
static int drop_this_thread(void)
{
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct none[_LINUX_CAPABILITY_U32S_3] = {};
	const unsigned long bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
				   SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
				   SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;

	for (int cap = 0; cap <= last_cap && !no_setpcap; cap++)
		if (prctl(PR_CAPBSET_READ, cap, 0, 0, 0) == 1 &&
		    prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0) {
			if (errno != EPERM)
				return -errno;
			no_setpcap = true;
		}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
		return -errno;
	/* already locked by an earlier pass: leave them as they are */
	if (!no_setpcap && (unsigned long)prctl(PR_GET_SECUREBITS, 0, 0, 0, 0) != bits &&
	    prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0)
		return -errno;
	if (syscall(SYS_capset, &h, none) != 0)
		return -errno;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -errno;
	return 0;
}

static void on_drop_signal(int sig)
{
	int saved = errno, r = drop_this_thread();

	if (r)
		atomic_store(&thread_error, r);
	atomic_fetch_add(&threads_answered, 1);
	errno = saved;
}

static void read_last_cap(void)
{
	char buf[16] = "";
	int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (read(fd, buf, sizeof(buf) - 1) > 0 && atoi(buf) > 0 && atoi(buf) < 64)
		last_cap = atoi(buf);
	close(fd);
}

/* True when /proc/self/task/TID/status shows no capability in any set and
 * no_new_privs; false also when it cannot be read (the thread may have
 * ended: the caller's next pass looks again). */
static bool thread_is_dropped(const char *tid)
{
	char path[300], line[128];
	bool dropped = true, nnp = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%s/status", tid);
	f = fopen(path, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long v;

		if (sscanf(line, "CapPrm: %llx", &v) == 1 ||
		    sscanf(line, "CapEff: %llx", &v) == 1 ||
		    sscanf(line, "CapAmb: %llx", &v) == 1 ||
		    (!no_setpcap && sscanf(line, "CapBnd: %llx", &v) == 1))
			dropped &= v == 0;
		else if (sscanf(line, "NoNewPrivs: %llu", &v) == 1)
			nnp = v == 1;
	}
	fclose(f);
	return dropped && nnp;
}

/* Signals every thread but this one that still holds something; returns
 * how many were signalled, or a negative errno. */
static int signal_threads(int sig)
{
	pid_t self = (pid_t)syscall(SYS_gettid), pid = getpid();
	struct dirent *e;
	int sent = 0;
	DIR *d;

	d = opendir("/proc/self/task");
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		pid_t tid = (pid_t)atoi(e->d_name);

		if (tid <= 0 || tid == self || thread_is_dropped(e->d_name))
			continue;
		if (syscall(SYS_tgkill, pid, tid, sig) == 0)
			sent++;
		/* ESRCH: the thread ended meanwhile */
	}
	closedir(d);
	return sent;
}

int privs_drop_capabilities(char *err, size_t errlen)
{
	struct sigaction sa = {.sa_handler = on_drop_signal, .sa_flags = SA_RESTART}, old;
	const int sig = SIGRTMIN + 4;
	int r, sent = 0, pass;

	read_last_cap();
	r = drop_this_thread();
	if (r) {
		snprintf(err, errlen, "dropping this thread's capabilities: %s", strerror(-r));
		return r;
	}
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, &old) != 0) {
		r = -errno;
		snprintf(err, errlen, "signal handler: %s", strerror(errno));
		return r;
	}
	for (pass = 0; pass < DROP_PASSES; pass++) {
		struct timespec tick = {.tv_nsec = 1000000};
		int waited = 0;

		atomic_store(&threads_answered, 0);
		sent = signal_threads(sig);
		if (sent < 0) {
			r = sent;
			snprintf(err, errlen, "listing /proc/self/task: %s", strerror(-r));
			goto cleanup;
		}
		if (sent == 0)
			break;
		while (atomic_load(&threads_answered) < sent && waited++ < DROP_WAIT_MS)
			nanosleep(&tick, NULL);
		r = atomic_load(&thread_error);
		if (r) {
			snprintf(err, errlen, "a thread could not drop its capabilities: %s",
				 strerror(-r));
			goto cleanup;
		}
	}
	if (sent != 0) {
		r = -ETIMEDOUT;
		snprintf(err, errlen, "%d thread(s) still hold capabilities after %d signals", sent,
			 DROP_PASSES);
	}
cleanup:
	/* A late signal from this call must not kill the process. */
	sa.sa_handler = SIG_IGN;
	sigaction(sig, &sa, NULL);
	return r;
}

/* ------------------------------------------------------------ seccomp */

/*
 * The system calls the daemon makes, found by running every test suite
 * (daemon, API, web, kernel, LLM, alerts) with KPULSE_SECCOMP=log and
 * reading the kernel's log, plus the families they belong to (a call's
 * 64-bit or "at" variant, what glibc may pick instead). Names unknown on
 * this architecture are skipped.
 */
/* grouped by family, several a line */
/* clang-format off */
static const char *const allowed_syscalls[] = {
    /* memory and threads (glibc, malloc, pthread) */
    "brk", "mmap", "munmap", "mremap", "mprotect", "madvise", "mincore", "msync", "mlock",
    "munlock", "futex", "futex_waitv", "set_robust_list", "get_robust_list", "rseq",
    "set_tid_address", "sched_yield", "sched_getaffinity", "sched_getparam",
    "sched_getscheduler", "membarrier", "arch_prctl", "prctl", "exit", "exit_group",
    "restart_syscall", "getrandom", "capget", "setpriority", "getpriority",
    /* signals (kill is limited to this process below) */
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigtimedwait", "rt_sigsuspend",
    "rt_sigpending", "sigaltstack", "tgkill", "tkill",
    /* time */
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
    "timerfd_create", "timerfd_settime", "timerfd_gettime",
    /* identity and limits */
    "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getgroups",
    "getresuid", "getresgid", "getrlimit", "prlimit64", "getrusage", "uname", "sysinfo", "times",
    "getcwd", "umask",
    /* files (the store, auth.db, /proc and /sys, .env on reload, TLS files) */
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "open", "openat", "openat2", "close", "close_range", "creat", "stat", "fstat",
    "lstat", "newfstatat", "statx", "statfs", "fstatfs", "lseek", "access", "faccessat",
    "faccessat2", "readlink", "readlinkat", "getdents", "getdents64", "fcntl", "flock", "fsync",
    "fdatasync", "ftruncate", "truncate", "fallocate", "rename", "renameat", "renameat2",
    "unlink", "unlinkat", "mkdir", "mkdirat", "rmdir", "fchmod", "fchown", "utimensat", "dup",
    "dup2", "dup3", "pipe", "pipe2", "fadvise64", "sendfile", "copy_file_range",
    /* waiting */
    "poll", "ppoll", "select", "pselect6", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2",
    /* sockets (socket itself is limited to some families below): the API,
     * tcpstates' netlink, outbound HTTP (LLM, alerts), DNS */
    "socketpair", "connect", "accept", "accept4", "bind", "listen", "getsockname",
    "getpeername", "sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg",
    "shutdown", "setsockopt", "getsockopt",
    /* BPF maps, ring buffers and program stats, through the fds held */
    "bpf",
};
/* clang-format on */
/* clang-format on */

/* Never made by the daemon, and the first thing an exploit wants: these
 * end the process under enforce (sanitizer builds excepted: the leak
 * checker forks a tracer and ptraces the process at exit). */
/* clang-format off */
static const char *const fatal_syscalls[] = {
    "execve", "execveat", "ptrace", "process_vm_readv", "process_vm_writev", "fork", "vfork",
};
/* clang-format on */

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif
#ifndef SANITIZER_BUILD
#define SANITIZER_BUILD 0
#endif

static int add_rules(scmp_filter_ctx ctx, enum privs_seccomp mode, const char **bad)
{
	int r, nr;

	for (size_t i = 0; i < sizeof(allowed_syscalls) / sizeof(allowed_syscalls[0]); i++) {
		nr = seccomp_syscall_resolve_name(allowed_syscalls[i]);
		if (nr == __NR_SCMP_ERROR)
			continue;
		*bad = allowed_syscalls[i];
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
		if (r)
			return r;
	}
	/* Signals to this process only. */
	*bad = "kill";
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1,
			     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid()));
	if (r)
		return r;
	/* Sockets of the families the daemon uses: the API and outbound HTTP
	 * (inet, unix for the resolver), tcpstates' sock_diag (netlink). */
	static const int families[] = {AF_UNIX, AF_INET, AF_INET6, AF_NETLINK};

	*bad = "socket";
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
				     SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]));
		if (r)
			return r;
	}
	/* Any ioctl but pushing input into a terminal. */
	*bad = "ioctl";
	r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
			     SCMP_A1(SCMP_CMP_NE, TIOCSTI));
	if (r)
		return r;
	/* Threads only: clone with CLONE_THREAD; clone3 (whose flags a filter
	 * cannot see) answers ENOSYS, and glibc falls back to clone. The leak
	 * checker of sanitizer builds clones a tracer (no CLONE_THREAD) that
	 * ptraces the process at exit. */
	*bad = "clone";
	if (SANITIZER_BUILD) {
		if ((r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 0)) ||
		    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ptrace), 0)) ||
		    (r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(wait4), 0)))
			return r;
	} else {
		r = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
				     SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	}
	if (!r)
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* under log, they are logged as the default is */
	if (r || mode != PRIVS_SECCOMP_ENFORCE)
		return r;
	for (size_t i = 0; i < sizeof(fatal_syscalls) / sizeof(fatal_syscalls[0]); i++) {
		nr = seccomp_syscall_resolve_name(fatal_syscalls[i]);
		if (nr == __NR_SCMP_ERROR || (SANITIZER_BUILD && nr == SCMP_SYS(ptrace)))
			continue;
		*bad = fatal_syscalls[i];
		r = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, nr, 0);
		if (r)
			return r;
	}
	return 0;
}

int privs_install_seccomp(enum privs_seccomp mode, char *err, size_t errlen)
{
	const char *bad = "init";
	scmp_filter_ctx ctx;
	int r;

	if (mode == PRIVS_SECCOMP_OFF)
		return 0;
	ctx = seccomp_init(mode == PRIVS_SECCOMP_ENFORCE ? SCMP_ACT_ERRNO(EPERM) : SCMP_ACT_LOG);
	if (!ctx) {
		snprintf(err, errlen, "seccomp_init failed");
		return -ENOMEM;
	}
	/* every thread; refused calls logged by the kernel, also the EPERM ones */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	if (!r)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
	if (!r)
		r = add_rules(ctx, mode, &bad);
	if (r) {
		snprintf(err, errlen, "building the filter (%s): %s", bad, strerror(-r));
		goto cleanup;
	}
	r = seccomp_load(ctx);
	if (r)
		snprintf(err, errlen, "loading the filter: %s", strerror(-r));
cleanup:
	seccomp_release(ctx);
	return r;
}
