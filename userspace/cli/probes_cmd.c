// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * probes_cmd.c - `kpulse probes`: loads every probe as the daemon would
 * and lists each with its state, attach type and, when it failed, why.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/cli.h"
#include "collection/probes.h"

static void probes_usage(FILE *out)
{
	fprintf(out, "Usage: kpulse probes [--json]\n"
		     "\n"
		     "Load every probe and list it with its state and attach type.\n"
		     "\n"
		     "  --json      {\"probes\": [...], \"prog_ids\": [...]}: states and loaded "
		     "program ids\n"
		     "  -h, --help  this text\n");
}

int cmd_probes(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	struct probes_options popts = {.slow_io_ns = 50ULL * 1000000};
	struct probes *p = NULL;
	bool as_json = false;
	int opt, err;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			as_json = true;
			break;
		case 'h':
			probes_usage(stdout);
			return 0;
		default:
			fprintf(stderr, "kpulse probes: unknown option '%s' (try --help)\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kpulse probes: unexpected argument '%s' (try --help)\n",
			argv[optind]);
		return EXIT_USAGE;
	}

	err = probes_open(&popts, NULL, NULL, &p);
	if (err)
		return cli_report_start_error("probes", err);

	if (as_json) {
		json_t *arr = json_array(), *ids = json_array(), *top = json_object();
		uint32_t prog_ids[128];
		size_t n = probes_prog_ids(p, prog_ids, 128);
		char *s;

		for (size_t i = 0; i < probes_count(p); i++) {
			const struct probe_info *pi = probes_at(p, i);

			json_array_append_new(
			    arr, json_pack("{s:s, s:s, s:s, s:s, s:s}", "probe", pi->tracepoint,
					   "subsystem", probe_subsystem_name(pi->subsystem),
					   "state", probe_state_name(pi->state), "attach",
					   probe_attach_name(pi->attach), "error", pi->error));
		}
		for (size_t i = 0; i < n; i++)
			json_array_append_new(ids, json_integer(prog_ids[i]));
		json_object_set_new(top, "probes", arr);
		json_object_set_new(top, "prog_ids", ids);
		s = json_dumps(top, JSON_INDENT(2));
		if (s)
			puts(s);
		free(s);
		json_decref(top);
	} else {
		printf("%-40s %-6s %-12s %-7s %s\n", "PROBE", "SUBSYS", "STATE", "ATTACH",
		       "REASON");
		for (size_t i = 0; i < probes_count(p); i++) {
			const struct probe_info *pi = probes_at(p, i);

			printf("%-40s %-6s %-12s %-7s %s\n", pi->tracepoint,
			       probe_subsystem_name(pi->subsystem), probe_state_name(pi->state),
			       probe_attach_name(pi->attach), pi->error);
		}
		size_t not_needed = 0;

		for (size_t i = 0; i < probes_count(p); i++)
			not_needed += probes_at(p, i)->state == PROBE_NOT_NEEDED;
		printf("%zu of %zu probes attached, %zu not needed on this kernel\n",
		       probes_attached(p), probes_count(p) - not_needed, not_needed);
	}
	probes_close(p);
	return 0;
}
