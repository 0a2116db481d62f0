// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * dump.c - `kpulse dump`: loads the probes and prints one snapshot per
 * interval: by default one line per interval in the manner of `vmstat 1`
 * (a timestamp, then per-interval rates and current levels of the host-wide
 * series), with --all the whole registry as a table, with --json one JSON
 * object per line (with the events of that interval under "events").
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <limits.h>

#include <jansson.h>

#include "cli/cli.h"
#include "collection/collector.h"
#include "registry/hist.h"
#include "registry/registry.h"

/* A terminal gets the header again after this many rows, as vmstat does. */
#define HEADER_EVERY 20

static void dump_usage(FILE *out)
{
	fprintf(out,
		"Usage: kpulse dump [--json | --all] [--interval SEC] [--count N] [--top-k N]\n"
		"                   [--slow-io-ms MS] [--by-pid] [--cgroups MODE]\n"
		"\n"
		"Load the probes and print a snapshot each interval: by default one line\n"
		"per interval, like vmstat 1 (rates over the interval, levels now):\n"
		"  r b        runnable and blocked (D state) tasks\n"
		"  us sy id wa st  CPU time by mode, percent of all CPUs\n"
		"  avail free swpd  memory available and free, swap used (MiB)\n"
		"  cs/s fork/s flt/s majf/s  context switches, forks, page faults\n"
		"  rd/s wr/s rkB/s wkB/s  block I/Os and kB, all devices\n"
		"  rxkB/s txkB/s retx/s  interfaces but lo, TCP retransmitted segments\n"
		"  rq99 io99  run-queue and block I/O latency p99 over the interval (ms)\n"
		"  oom ev     OOM kills and kernel events in the interval\n"
		"\n"
		"  --all            every series of the registry as a table, and the events\n"
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

/* ------------------------------------------------------------ vmstat rows */

/* Sum of the values of name's series; with key, only those whose label key
 * is (or, with not, is not) val. */
static double sum_of(const struct registry *r, const char *name, const char *key, const char *val,
		     bool not )
{
	double sum = 0;

	for (size_t i = 0; i < registry_size(r); i++) {
		const struct metric_series *s = registry_at(r, i);
		const char *l;

		if (strcmp(s->name, name))
			continue;
		if (key) {
			l = metric_series_label(s, key);
			if (!l || (strcmp(l, val) == 0) == not )
				continue;
		}
		sum += s->value;
	}
	return sum;
}

/* A counter's increase per second from prev to cur (a reset counts 0). */
static double rate_of(const struct registry *cur, const struct registry *prev, double dt,
		      const char *name, const char *key, const char *val, bool not )
{
	double d = sum_of(cur, name, key, val, not ) - sum_of(prev, name, key, val, not );

	return d > 0 && dt > 0 ? d / dt : 0;
}

/* p99 in ms of what name's histograms (all series together) recorded
 * between prev and cur; NAN when nothing was. */
static double p99_ms(const struct registry *cur, const struct registry *prev, const char *name)
{
	uint64_t a[REGISTRY_HIST_SLOTS] = {}, b[REGISTRY_HIST_SLOTS] = {};
	double scale = 1;

	for (size_t i = 0; i < registry_size(cur); i++) {
		const struct metric_series *s = registry_at(cur, i);

		if (s->type == METRIC_HISTOGRAM && !strcmp(s->name, name)) {
			hist_merge(a, s->slots, REGISTRY_HIST_SLOTS);
			scale = s->scale;
		}
	}
	for (size_t i = 0; i < registry_size(prev); i++) {
		const struct metric_series *s = registry_at(prev, i);

		if (s->type == METRIC_HISTOGRAM && !strcmp(s->name, name))
			hist_merge(b, s->slots, REGISTRY_HIST_SLOTS);
	}
	for (size_t i = 0; i < REGISTRY_HIST_SLOTS; i++)
		a[i] = a[i] > b[i] ? a[i] - b[i] : 0;
	return hist_log2_quantile(a, REGISTRY_HIST_SLOTS, 0.99) * scale * 1e3;
}

static void print_header(void)
{
	printf("%-19s %3s %3s %3s %3s %3s %3s %3s %7s %7s %6s %7s %6s %7s %6s %6s %6s %7s %7s "
	       "%7s %7s %6s %7s %7s %4s %5s\n",
	       "time", "r", "b", "us", "sy", "id", "wa", "st", "avail", "free", "swpd", "cs/s",
	       "fork/s", "flt/s", "majf/s", "rd/s", "wr/s", "rkB/s", "wkB/s", "rxkB/s", "txkB/s",
	       "retx/s", "rq99", "io99", "oom", "ev");
}

/* A whole number, or "-" when there is none (NAN). */
static const char *num(char buf[32], double v, int decimals)
{
	if (isnan(v))
		return "-";
	snprintf(buf, 32, "%.*f", decimals, v);
	return buf;
}

static void print_row(const struct registry *cur, const struct registry *prev, double dt,
		      size_t nevents)
{
	const char *C = "kpulse_cpu_seconds_total";
	double user = sum_of(cur, C, "mode", "user", false) + sum_of(cur, C, "mode", "nice", false);
	double sys = sum_of(cur, C, "mode", "system", false) +
		     sum_of(cur, C, "mode", "irq", false) +
		     sum_of(cur, C, "mode", "softirq", false);
	double idle = sum_of(cur, C, "mode", "idle", false);
	double wait = sum_of(cur, C, "mode", "iowait", false);
	double steal = sum_of(cur, C, "mode", "steal", false);
	double pu = sum_of(prev, C, "mode", "user", false) + sum_of(prev, C, "mode", "nice", false);
	double ps = sum_of(prev, C, "mode", "system", false) +
		    sum_of(prev, C, "mode", "irq", false) +
		    sum_of(prev, C, "mode", "softirq", false);
	double du = fmax(user - pu, 0), ds = fmax(sys - ps, 0);
	double di = fmax(idle - sum_of(prev, C, "mode", "idle", false), 0);
	double dw = fmax(wait - sum_of(prev, C, "mode", "iowait", false), 0);
	double dst = fmax(steal - sum_of(prev, C, "mode", "steal", false), 0);
	double total = du + ds + di + dw + dst, pct = total > 0 ? 100 / total : NAN;
	const double MiB = 1024.0 * 1024;
	char when[32], n[12][32];
	struct tm tm;
	time_t t = (time_t)registry_timestamp(cur);

	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	printf("%-19s %3.0f %3.0f %3s %3s %3s %3s %3s %7.0f %7.0f %6.0f %7.0f %6.0f %7.0f %6.0f "
	       "%6.0f %6.0f %7.0f %7.0f %7.0f %7.0f %6.0f %7s %7s %4.0f %5zu\n",
	       when, sum_of(cur, "kpulse_procs_running", NULL, NULL, false),
	       sum_of(cur, "kpulse_procs_blocked", NULL, NULL, false), num(n[0], du * pct, 0),
	       num(n[1], ds * pct, 0), num(n[2], di * pct, 0), num(n[3], dw * pct, 0),
	       num(n[4], dst * pct, 0),
	       sum_of(cur, "kpulse_mem_available_bytes", NULL, NULL, false) / MiB,
	       sum_of(cur, "kpulse_mem_free_bytes", NULL, NULL, false) / MiB,
	       (sum_of(cur, "kpulse_mem_swap_total_bytes", NULL, NULL, false) -
		sum_of(cur, "kpulse_mem_swap_free_bytes", NULL, NULL, false)) /
		   MiB,
	       rate_of(cur, prev, dt, "kpulse_sched_context_switches_total", NULL, NULL, false),
	       rate_of(cur, prev, dt, "kpulse_sched_processes_forked_total", NULL, NULL, false),
	       rate_of(cur, prev, dt, "kpulse_mem_page_faults_total", NULL, NULL, false),
	       rate_of(cur, prev, dt, "kpulse_mem_major_page_faults_total", NULL, NULL, false),
	       rate_of(cur, prev, dt, "kpulse_block_ios_completed_total", "op", "read", false),
	       rate_of(cur, prev, dt, "kpulse_block_ios_completed_total", "op", "write", false),
	       rate_of(cur, prev, dt, "kpulse_block_bytes_total", "op", "read", false) / 1024,
	       rate_of(cur, prev, dt, "kpulse_block_bytes_total", "op", "write", false) / 1024,
	       rate_of(cur, prev, dt, "kpulse_net_rx_bytes_total", "interface", "lo", true) / 1024,
	       rate_of(cur, prev, dt, "kpulse_net_tx_bytes_total", "interface", "lo", true) / 1024,
	       rate_of(cur, prev, dt, "kpulse_net_tcp_retransmitted_segments_total", NULL, NULL,
		       false),
	       num(n[5], p99_ms(cur, prev, "kpulse_sched_runqueue_latency_seconds"), 2),
	       num(n[6], p99_ms(cur, prev, "kpulse_block_io_latency_seconds"), 2),
	       fmax(sum_of(cur, "kpulse_mem_oom_kills_total", NULL, NULL, false) -
			sum_of(prev, "kpulse_mem_oom_kills_total", NULL, NULL, false),
		    0),
	       nevents);
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
		char when[32];
		struct tm tm;
		time_t t = (time_t)registry_timestamp(r);

		localtime_r(&t, &tm);
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", &tm);
		printf("# snapshot %s, interval %.3gs\n", when, registry_interval(r));
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
	    {"all", no_argument, NULL, 'a'},
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
	struct registry *r = NULL, *prev = NULL;
	double interval = 1, next, slow_ms, prev_at = 0;
	unsigned long count = 0, n = 0, v, rows = 0;
	bool as_json = false, all = false, tty = isatty(STDOUT_FILENO);
	int opt, err, status = 0;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			as_json = true;
			break;
		case 'a':
			all = true;
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
	if (as_json && all) {
		fprintf(stderr, "kpulse dump: --json and --all are two formats: pick one\n");
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

	/* The rows show rates since the previous snapshot: the first one is
	 * taken at start and not printed. */
	if (!as_json && !all) {
		prev = registry_new();
		if (!prev || collector_sample(c, prev)) {
			fprintf(stderr, "kpulse dump: out of memory\n");
			status = 1;
			goto cleanup;
		}
		prev_at = now_mono();
		json_decref(collector_take_events(c));
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

		if (!err && events && prev) {
			struct registry *tmp;

			if (rows++ % (tty ? HEADER_EVERY : ULONG_MAX) == 0)
				print_header();
			print_row(r, prev, now_mono() - prev_at, json_array_size(events));
			prev_at = now_mono();
			tmp = prev; /* the snapshot just printed is the next baseline */
			prev = r;
			r = tmp;
			err = fflush(stdout) == 0 ? 0 : -errno;
		} else if (!err && events) {
			err = print_snapshot(r, events, as_json);
		}
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
	registry_free(prev);
	registry_free(r);
	collector_free(c);
	return status;
}
