// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * floor_loader.c - loads and attaches floor.bpf.c's empty programs, prints
 * "ready" once they are attached, and holds them until SIGTERM or SIGINT.
 * bench.sh finds the programs through this process's fds.
 *
 * No floor.h: the programs share no data with userspace.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>

#include <bpf/libbpf.h>

#include "floor.skel.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

int main(void)
{
	struct floor_bpf *skel = NULL;
	struct sigaction sa = {.sa_handler = on_signal};
	sigset_t stop_signals, wait_mask;
	int err;

	/* Blocked until sigsuspend(), so a signal cannot slip in between the
	 * flag test and the wait. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigprocmask(SIG_BLOCK, &stop_signals, &wait_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	skel = floor_bpf__open();
	if (!skel) {
		err = errno ? -errno : -ENOMEM;
		fprintf(stderr, "floor_loader: open: %d\n", err);
		goto cleanup;
	}
	err = floor_bpf__load(skel);
	if (err) {
		fprintf(stderr, "floor_loader: load: %d\n", err);
		goto cleanup;
	}
	err = floor_bpf__attach(skel);
	if (err) {
		fprintf(stderr, "floor_loader: attach: %d\n", err);
		goto cleanup;
	}
	printf("ready\n");
	fflush(stdout);

	while (!stop_requested)
		sigsuspend(&wait_mask);

cleanup:
	floor_bpf__destroy(skel);
	return err ? 1 : 0;
}
