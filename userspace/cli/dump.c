// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * dump.c - `kpulse dump`: loads the probes and prints one snapshot of the
 * registry per interval, as a text table or as one JSON object per line
 * (with the events of that interval under "events").
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cli/cli.h"
#include "collection/collector.h"
#include "registry/registry.h"

static void dump_usage(FILE *out)
{
	fprintf(out,
		"Usage: kpulse dump [--json] [--interval SEC] [--count N] [--top-k N]\n"
		"                   [--slow-io-ms MS] [--by-pid] [--cgroups MODE]\n"
		"\n"
		"Load the probes and print a snapshot of every metric each interval.\n"
		"\n"
		"  --json           one JSON object per line (see docs/metrics.md)\n"
		"  --interval SEC   seconds between snapshots (default 1, 0.05 to 3600)\n"
		"  --count N        stop after N snapshots (default: until SIGINT)\n"
		"  --top-k N        per-process rows per metric (default 10)\n"
		"  --slow-io-ms MS  block I/Os at least this slow become events (default 50)\n"
		"  --by-pid         per-process series per pid, not per name and cgroup\n"
		"  --cgroups MODE   hierarchy naming cgroups: auto, v2, v1 or off (default auto)\n"
		"  -h, --help       this text\n");
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int print_snapshot(const struct registry *r, json_t *events, bool as_json)
{
	if (as_json) {
		json_t *o = registry_to_json(r);
		char *line;

		if (!o)
			return -ENOMEM;
		json_object_set(o, "events", events);
		line = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
		json_decref(o);
		if (!line)
			return -ENOMEM;
		fputs(line, stdout);
		fputc('\n', stdout);
		free(line);
	} else {
		size_t i;
		json_t *ev;

		registry_write_text(r, stdout);
		json_array_foreach (events, i, ev) {
			char *s = json_dumps(ev, JSON_COMPACT);

			if (s)
				printf("event %s\n", s);
			free(s);
		}
		fputc('\n', stdout);
	}
	return fflush(stdout) == 0 ? 0 : -errno;
}

int cmd_dump(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"interval", required_argument, NULL, 'i'},
	    {"count", required_argument, NULL, 'c'},
	    {"top-k", required_argument, NULL, 'k'},
	    {"slow-io-ms", required_argument, NULL, 's'},
	    {"by-pid", no_argument, NULL, 'p'},
	    {"cgroups", required_argument, NULL, 'g'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	struct collector_options copts = {.top_k = COLLECTOR_DEFAULT_TOP_K,
					  .slow_io_ns = 50ULL * 1000000};
	struct collector *c = NULL;
	struct registry *r = NULL;
	double interval = 1, next, slow_ms;
	unsigned long count = 0, n = 0, v;
	bool as_json = false;
	int opt, err, status = 0;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			as_json = true;
			break;
		case 'i':
			if (cli_parse_seconds("dump", "--interval", optarg, 0.05, 3600, &interval))
				return EXIT_USAGE;
			break;
		case 'c':
			if (cli_parse_uint("dump", "--count", optarg, 1, 1000000000, &count))
				return EXIT_USAGE;
			break;
		case 'k':
			if (cli_parse_uint("dump", "--top-k", optarg, 1, 1000, &v))
				return EXIT_USAGE;
			copts.top_k = v;
			break;
		case 's':
			if (cli_parse_seconds("dump", "--slow-io-ms", optarg, 0, 600000, &slow_ms))
				return EXIT_USAGE;
			copts.slow_io_ns = (uint64_t)(slow_ms * 1e6);
			break;
		case 'p':
			copts.per_pid_series = true;
			break;
		case 'g':
			for (v = 0; v < CGROUPS_MODE_COUNT; v++)
				if (!strcmp(optarg, cgroups_mode_names[v]))
					break;
			if (v == CGROUPS_MODE_COUNT) {
				fprintf(
				    stderr,
				    "kpulse dump: --cgroups '%s' is not one of auto, v2, v1, off\n",
				    optarg);
				return EXIT_USAGE;
			}
			copts.cgroups = (enum cgroups_mode)v;
			break;
		case 'h':
			dump_usage(stdout);
			return 0;
		default:
			fprintf(stderr,
				"kpulse dump: unknown or incomplete option '%s' (try --help)\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kpulse dump: unexpected argument '%s' (try --help)\n",
			argv[optind]);
		return EXIT_USAGE;
	}

	cli_install_stop_signals(); /* before the slow load: a stop then is clean */
	err = collector_new(&copts, &c);
	if (err)
		return cli_report_start_error("dump", err);
	r = registry_new();
	if (!r) {
		fprintf(stderr, "kpulse dump: out of memory\n");
		status = 1;
		goto cleanup;
	}

	next = now_mono() + interval;
	while (!cli_stop) {
		double left = next - now_mono();

		if (left > 0) {
			int ms = (int)ceil(left * 1000);

			err = collector_poll(c, ms > 100 ? 100 : ms);
			if (err < 0 && err != -EINTR) {
				fprintf(stderr, "kpulse dump: reading events: %s\n",
					strerror(-err));
				status = 1;
				break;
			}
			continue;
		}
		/* Drain what the kernel already submitted before the snapshot. */
		collector_poll(c, 0);
		err = collector_sample(c, r);
		json_t *events = collector_take_events(c);

		if (!err && events)
			err = print_snapshot(r, events, as_json);
		json_decref(events);
		if (err) {
			fprintf(stderr, "kpulse dump: writing snapshot: %s\n", strerror(-err));
			status = 1;
			break;
		}
		next += interval;
		if (count && ++n >= count)
			break;
	}

cleanup:
	registry_free(r);
	collector_free(c);
	return status;
}
