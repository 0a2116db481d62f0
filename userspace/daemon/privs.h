/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * privs.h - what the daemon gives up once its probes are attached and its
 * listener is bound: every capability of every thread (and the bounding
 * and ambient sets, so none comes back), the right to gain privileges
 * (no_new_privs, locked securebits), and every system call outside an
 * allow-list (seccomp).
 *
 * After the drop the daemon keeps working through what it already holds:
 * BPF map and ring-buffer fds, the netlink socket of tcpstates, the
 * listening socket, the files of the data dir (still owned by its uid).
 * Re-attaching probes, binding another port or reading files only root's
 * capabilities open are then impossible: SIGHUP reloads only what needs
 * none of that, everything else waits for a restart (a new process,
 * started with privileges again).
 */
#ifndef KPULSE_PRIVS_H
#define KPULSE_PRIVS_H

#include <stddef.h>

/* What the seccomp filter does to a system call outside its allow-list. */
enum privs_seccomp {
	PRIVS_SECCOMP_OFF,     /* no filter */
	PRIVS_SECCOMP_LOG,     /* allowed, and logged by the kernel (audit / dmesg) */
	PRIVS_SECCOMP_ENFORCE, /* fails with EPERM, logged; exec, ptrace and fork kill */
};

/*
 * Drops every capability of every thread of the process, clears the
 * bounding and ambient sets, locks the securebits that would give root's
 * capabilities back on exec or setuid, and sets no_new_privs. Threads
 * started before the call are reached by a signal (capabilities belong to
 * each thread); those started after inherit the empty sets.
 *
 * Returns 0 once /proc/self/task shows no thread with a capability; or a
 * negative errno (-ETIMEDOUT when a thread did not answer) with one line
 * in err. On failure some threads may already be without capabilities.
 */
int privs_drop_capabilities(char *err, size_t errlen);

/*
 * Installs the allow-list filter on every thread (TSYNC). Returns 0 (also
 * for PRIVS_SECCOMP_OFF); -ENOSYS when the kernel has no seccomp filters;
 * or another negative errno, with one line in err.
 */
int privs_install_seccomp(enum privs_seccomp mode, char *err, size_t errlen);

#endif /* KPULSE_PRIVS_H */
