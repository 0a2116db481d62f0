// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * main.c - the kpulse binary: dispatches to a subcommand, and holds the
 * argument and signal helpers every subcommand shares.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "util/version.h"

volatile sig_atomic_t cli_stop;

static void on_stop_signal(int sig)
{
	cli_stop = sig;
}

void cli_install_stop_signals(void)
{
	struct sigaction sa = {.sa_handler = on_stop_signal};

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

int cli_parse_seconds(const char *cmd, const char *flag, const char *s, double min, double max,
		      double *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (!*s || *end || errno || !isfinite(v) || v < min || v > max) {
		fprintf(stderr, "kpulse %s: %s: '%s' is not a number of seconds from %g to %g\n",
			cmd, flag, s, min, max);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

int cli_parse_uint(const char *cmd, const char *flag, const char *s, unsigned long min,
		   unsigned long max, unsigned long *ret)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*s || *s == '-' || *s == '+' || *end || errno || v < min || v > max) {
		fprintf(stderr, "kpulse %s: %s: '%s' is not a whole number from %lu to %lu\n", cmd,
			flag, s, min, max);
		return -EINVAL;
	}
	*ret = v;
	return 0;
}

int cli_report_start_error(const char *cmd, int err)
{
	if (err == -EPERM) {
		fprintf(stderr,
			"kpulse %s: loading BPF programs needs CAP_BPF and CAP_PERFMON "
			"(or CAP_SYS_ADMIN); run it as root\n",
			cmd);
		return 1;
	}
	if (err == -ENOENT) {
		fprintf(stderr,
			"kpulse %s: no probe could attach on this kernel; "
			"`kpulse probes` shows why\n",
			cmd);
		return 1;
	}
	fprintf(stderr, "kpulse %s: loading probes failed: %s\n", cmd, strerror(-err));
	return 1;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: kpulse COMMAND [OPTIONS]\n"
		     "\n"
		     "eBPF kernel telemetry: scheduler, memory, block I/O and network.\n"
		     "\n"
		     "Commands:\n"
		     "  run      the daemon: collect every interval, keep history in SQLite\n"
		     "  dump     print snapshots of every metric (text or JSON lines)\n"
		     "  top      live view of the busiest processes, devices and links\n"
		     "  probes   list every probe with its state and attach type\n"
		     "  user     add, list, re-role or delete the REST API's accounts\n"
		     "  forecast forecast a CSV series offline, or backtest the forecaster\n"
		     "  replay   run the anomaly detector over a CSV of timestamp,value rows\n"
		     "  version  print the version\n"
		     "\n"
		     "`kpulse COMMAND --help` describes a command's options.\n");
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
		if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
			printf("Usage: kpulse version\n\nPrint the version of kpulse.\n");
			return 0;
		}
		if (argc > 2) {
			fprintf(stderr, "kpulse version: unexpected argument '%s'\n", argv[2]);
			return EXIT_USAGE;
		}
		printf("kpulse %s\n", KPULSE_VERSION);
		return 0;
	}
	if (!strcmp(cmd, "run"))
		return cmd_run(argc - 1, argv + 1);
	if (!strcmp(cmd, "dump"))
		return cmd_dump(argc - 1, argv + 1);
	if (!strcmp(cmd, "top"))
		return cmd_top(argc - 1, argv + 1);
	if (!strcmp(cmd, "probes"))
		return cmd_probes(argc - 1, argv + 1);
	if (!strcmp(cmd, "user"))
		return cmd_user(argc - 1, argv + 1);
	if (!strcmp(cmd, "forecast"))
		return cmd_forecast(argc - 1, argv + 1);
	if (!strcmp(cmd, "replay"))
		return cmd_replay(argc - 1, argv + 1);
	fprintf(stderr, "kpulse: unknown command '%s' (try kpulse --help)\n", cmd);
	return EXIT_USAGE;
}
