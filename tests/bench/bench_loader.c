// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * bench_loader.c - loads one of the bench's BPF objects (an empty-program
 * floor or a single-purpose peer), attaches its programs, prints "ready"
 * once they are attached, and holds them until SIGTERM or SIGINT. bench.sh
 * finds the programs through this process's fds.
 *
 * Usage: bench_loader OBJECT.bpf.o [PROGRAM...]: with program names, only
 * those are loaded (so the floor can match the hooks kpulse attached on
 * this kernel); without, all of them.
 *
 * One loader for several objects, so it opens the object file rather than
 * a skeleton; the programs share no data with userspace.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <bpf/libbpf.h>

#define MAX_LINKS 16

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = 1;
}

static int wanted(const char *name, int nwanted, char **names)
{
	if (!nwanted)
		return 1;
	for (int i = 0; i < nwanted; i++)
		if (!strcmp(names[i], name))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	struct bpf_link *links[MAX_LINKS] = {};
	struct sigaction sa = {.sa_handler = on_signal};
	struct bpf_object *obj = NULL;
	struct bpf_program *prog;
	sigset_t stop_signals, wait_mask;
	int err = 0, nlinks = 0, nwanted = argc - 2;

	if (argc < 2) {
		fprintf(stderr, "usage: bench_loader OBJECT.bpf.o [PROGRAM...]\n");
		return 2;
	}
	/* Blocked until sigsuspend(), so a signal cannot slip in between the
	 * flag test and the wait. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	sigprocmask(SIG_BLOCK, &stop_signals, &wait_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	obj = bpf_object__open_file(argv[1], NULL);
	if (!obj) {
		err = errno ? -errno : -ENOMEM;
		fprintf(stderr, "bench_loader: open %s: %d\n", argv[1], err);
		goto cleanup;
	}
	bpf_object__for_each_program (prog, obj)
		bpf_program__set_autoload(prog, wanted(bpf_program__name(prog), nwanted, argv + 2));
	err = bpf_object__load(obj);
	if (err) {
		fprintf(stderr, "bench_loader: load %s: %d\n", argv[1], err);
		goto cleanup;
	}
	bpf_object__for_each_program (prog, obj) {
		if (!bpf_program__autoload(prog))
			continue;
		if (nlinks == MAX_LINKS) {
			err = -E2BIG;
			fprintf(stderr, "bench_loader: more than %d programs\n", MAX_LINKS);
			goto cleanup;
		}
		links[nlinks] = bpf_program__attach(prog);
		if (!links[nlinks]) {
			err = -errno;
			fprintf(stderr, "bench_loader: attach %s: %d\n", bpf_program__name(prog),
				err);
			goto cleanup;
		}
		nlinks++;
	}
	if (!nlinks) {
		err = -ENOENT;
		fprintf(stderr, "bench_loader: no program of %s to attach\n", argv[1]);
		goto cleanup;
	}
	printf("ready %d\n", nlinks);
	fflush(stdout);

	while (!stop_requested)
		sigsuspend(&wait_mask);

cleanup:
	for (int i = 0; i < nlinks; i++)
		bpf_link__destroy(links[i]);
	bpf_object__close(obj);
	return err ? 1 : 0;
}
