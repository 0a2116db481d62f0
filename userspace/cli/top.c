// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * top.c - `kpulse top`: a live terminal view refreshed every interval:
 * busiest processes, run-queue latency, block latency and IOPS per device,
 * network throughput, retransmits, OOM kills and dropped events. Rates
 * come from the difference between two registry snapshots. q or Ctrl-C
 * quits and the terminal is restored. On a terminal a frame is cut to the
 * window (rows and columns, read every frame, so a resize applies at the
 * next one) from the bottom, so the header stays; when stdout is not a
 * terminal (or with --batch) frames follow each other as plain text, like
 * `top -b`.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "collection/collector.h"
#include "registry/hist.h"
#include "registry/registry.h"

static void top_usage(FILE *out)
{
	fprintf(out, "Usage: kpulse top [--interval SEC] [--count N] [--batch]\n"
		     "\n"
		     "Live view of the busiest processes, devices and interfaces.\n"
		     "Press q or Ctrl-C to quit.\n"
		     "\n"
		     "  --interval SEC  refresh period (default 1, 0.1 to 60)\n"
		     "  --count N       quit after N refreshes (default: run until q)\n"
		     "  -b, --batch     frames as plain text one after another, for a file or\n"
		     "                  a pipe (the default when stdout is not a terminal)\n"
		     "  -h, --help      this text\n");
}

/* ------------------------------------------------------------ terminal */

static struct termios saved_termios;
static bool termios_saved;

static void term_enter(void)
{
	struct termios t;

	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved_termios) == 0) {
		termios_saved = true;
		t = saved_termios;
		t.c_lflag &= ~(ICANON | ECHO);
		t.c_cc[VMIN] = 0;
		t.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSANOW, &t);
	}
	if (isatty(STDOUT_FILENO))
		fputs("\033[?1049h\033[?25l", stdout); /* alternate screen, hide cursor */
}

static void term_leave(void)
{
	if (isatty(STDOUT_FILENO))
		fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	if (termios_saved)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
}

static bool quit_pressed(int timeout_ms)
{
	struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
	char c;

	if (!termios_saved)
		return false;
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return false;
	while (read(STDIN_FILENO, &c, 1) == 1)
		if (c == 'q' || c == 'Q')
			return true;
	return false;
}

/* --------------------------------------------------------------- rates */

struct view {
	const struct registry *cur;
	const struct registry *prev;
	double dt;
	double ncpus;
};

/* On-CPU time a process was shown less of than it accumulated (the kernel
 * accounts a thread's time when it leaves the CPU, and a per-CPU cache
 * slot may reach the totals a round late, so one interval can hold more
 * than the interval): shown in the next frames instead, so no frame shows
 * a share the process's threads could not have had. */
#define CARRY_MAX 64
static struct {
	char pid[16];
	double seconds;
} carry[CARRY_MAX], carry_next[CARRY_MAX];
static size_t ncarry, ncarry_next;

static double carry_take(const char *pid)
{
	for (size_t i = 0; i < ncarry; i++)
		if (!strcmp(carry[i].pid, pid))
			return carry[i].seconds;
	return 0;
}

static void carry_keep(const char *pid, double seconds)
{
	if (seconds > 0 && ncarry_next < CARRY_MAX) {
		snprintf(carry_next[ncarry_next].pid, sizeof(carry_next[0].pid), "%s", pid);
		carry_next[ncarry_next++].seconds = seconds;
	}
}

/* Threads of pid from /proc/PID/stat (field 20), or 0 when unknown. */
static unsigned threads_of(const char *pid)
{
	char path[64], buf[1024], *p;
	unsigned n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')'))) {
		/* after "comm)": state is field 3, num_threads field 20 */
		if (sscanf(p + 1,
			   " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
			   "%u",
			   &n) != 1)
			n = 0;
	}
	fclose(f);
	return n;
}

/* Copies the labels of s into an array for registry_find(). */
static size_t labels_of(const struct metric_series *s, struct metric_label *l)
{
	for (size_t i = 0; i < s->nlabels; i++)
		l[i] = (struct metric_label){s->label_keys[i], s->label_values[i]};
	return s->nlabels;
}

static const struct metric_series *prev_of(const struct view *v, const struct metric_series *s)
{
	struct metric_label l[REGISTRY_MAX_LABELS];
	size_t n = labels_of(s, l);

	return v->prev ? registry_find(v->prev, s->name, l, n) : NULL;
}

static double rate_of(const struct view *v, const struct metric_series *s)
{
	const struct metric_series *p = prev_of(v, s);
	double d = s->value - (p ? p->value : 0);

	return p && v->dt > 0 && d >= 0 ? d / v->dt : 0;
}

static bool label_is(const struct metric_series *s, const char *key, const char *val)
{
	const char *v = key ? metric_series_label(s, key) : NULL;

	return !key || (v && !strcmp(v, val));
}

/* Sum of the per-second rates of every series with this name and, for
 * each key given, that label value. */
static double rate_sum2(const struct view *v, const char *name, const char *k1, const char *v1,
			const char *k2, const char *v2)
{
	double sum = 0;

	for (size_t i = 0; i < registry_size(v->cur); i++) {
		const struct metric_series *s = registry_at(v->cur, i);

		if (!strcmp(s->name, name) && label_is(s, k1, v1) && label_is(s, k2, v2))
			sum += rate_of(v, s);
	}
	return sum;
}

static double rate_sum(const struct view *v, const char *name, const char *key, const char *val)
{
	return rate_sum2(v, name, key, val, NULL, NULL);
}

/* Quantile of what a histogram recorded during the interval, in its unit. */
static double interval_quantile(const struct view *v, const struct metric_series *s, double q)
{
	const struct metric_series *p = prev_of(v, s);
	uint64_t slots[REGISTRY_HIST_SLOTS];

	for (int i = 0; i < REGISTRY_HIST_SLOTS; i++)
		slots[i] = s->slots[i] - (p && p->slots[i] <= s->slots[i] ? p->slots[i] : 0);
	return hist_log2_quantile(slots, REGISTRY_HIST_SLOTS, q) * s->scale;
}

static double interval_count(const struct view *v, const struct metric_series *s)
{
	const struct metric_series *p = prev_of(v, s);

	return (double)(s->hist_count - (p && p->hist_count <= s->hist_count ? p->hist_count : 0));
}

static double value_of(const struct registry *r, const char *name)
{
	const struct metric_series *s = registry_find(r, name, NULL, 0);

	return s ? s->value : 0;
}

static const char *fmt_seconds(double s, char *buf, size_t len)
{
	if (isnan(s))
		snprintf(buf, len, "-");
	else if (s < 1e-3)
		snprintf(buf, len, "%.0fus", s * 1e6);
	else if (s < 1)
		snprintf(buf, len, "%.1fms", s * 1e3);
	else
		snprintf(buf, len, "%.2fs", s);
	return buf;
}

static const char *fmt_bytes(double b, char *buf, size_t len)
{
	const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	int u = 0;

	while (b >= 1024 && u < 4) {
		b /= 1024;
		u++;
	}
	snprintf(buf, len, u ? "%.1f%s" : "%.0f%s", b, units[u]);
	return buf;
}

/* ------------------------------------------------------------- drawing */

struct proc_line {
	const struct metric_series *s;
	double cpu;
};

static int proc_line_cmp(const void *a, const void *b)
{
	const struct proc_line *x = a, *y = b;

	return x->cpu < y->cpu ? 1 : x->cpu > y->cpu ? -1 : 0;
}

static void draw(const struct view *v, const struct probes *probes, FILE *out, bool batch)
{
	const struct registry *r = v->cur;
	struct proc_line procs[64];
	size_t nprocs = 0;
	char a[32], b[32], c[32];
	time_t now = time(NULL);
	struct tm tm;

	localtime_r(&now, &tm);
	strftime(a, sizeof(a), "%H:%M:%S", &tm);
	size_t not_needed = 0;

	for (size_t i = 0; i < probes_count(probes); i++)
		not_needed += probes_at(probes, i)->state == PROBE_NOT_NEEDED;
	fprintf(out, "kpulse top - %s - %zu/%zu probes attached%s\n\n", a, probes_attached(probes),
		probes_count(probes) - not_needed, batch ? "" : " - q to quit");

	/* Scheduler */
	const struct metric_series *runq =
	    registry_find(r, "kpulse_sched_runqueue_latency_seconds", NULL, 0);
	double cpus = 0, busy = 0;

	for (size_t i = 0; i < registry_size(r); i++) {
		const struct metric_series *s = registry_at(r, i);

		if (!strcmp(s->name, "kpulse_sched_cpu_busy_seconds_total")) {
			cpus++;
			busy += rate_of(v, s);
		}
	}
	busy = fmin(busy, cpus); /* the same accounting lag as a process's */
	fprintf(out, "CPU  busy %5.1f%% of %.0f   ctx switches %8.0f/s   runq p50 %s  p99 %s\n",
		cpus ? 100 * busy / cpus : 0, cpus,
		rate_sum(v, "kpulse_sched_context_switches_total", NULL, NULL),
		fmt_seconds(runq ? interval_quantile(v, runq, 0.5) : NAN, a, sizeof(a)),
		fmt_seconds(runq ? interval_quantile(v, runq, 0.99) : NAN, b, sizeof(b)));

	/* Memory */
	fprintf(out, "MEM  available %s of %s   page faults %8.0f/s   OOM kills %.0f\n",
		fmt_bytes(value_of(r, "kpulse_mem_available_bytes"), a, sizeof(a)),
		fmt_bytes(value_of(r, "kpulse_mem_total_bytes"), b, sizeof(b)),
		rate_sum(v, "kpulse_mem_page_faults_total", NULL, NULL),
		value_of(r, "kpulse_mem_oom_kills_total"));

	/* Network totals */
	fprintf(out, "TCP  retransmits %6.1f/s   resets sent %5.1f/s   drops %8.1f/s\n",
		rate_sum(v, "kpulse_net_tcp_retransmitted_segments_total", NULL, NULL),
		rate_sum(v, "kpulse_net_tcp_resets_sent_total", NULL, NULL),
		rate_sum(v, "kpulse_net_packet_drops_total", NULL, NULL));

	double dropped = 0;

	for (size_t i = 0; i < registry_size(r); i++) {
		const struct metric_series *s = registry_at(r, i);

		if (!strcmp(s->name, "kpulse_events_dropped_total"))
			dropped += s->value;
	}
	fprintf(out, "EVT  dropped events %.0f\n\n", dropped);

	/* Block devices */
	fprintf(out, "%-12s %10s %10s %10s %10s\n", "DEVICE", "IOPS", "READ/s", "WRITE/s",
		"LAT p99");
	for (size_t i = 0; i < registry_size(r); i++) {
		const struct metric_series *s = registry_at(r, i);
		const char *dev;
		double iops;

		if (strcmp(s->name, "kpulse_block_io_latency_seconds"))
			continue;
		dev = metric_series_label(s, "device");
		iops = v->dt > 0 ? interval_count(v, s) / v->dt : 0;
		fprintf(
		    out, "%-12s %10.0f %10s %10s %10s\n", dev, iops,
		    fmt_bytes(rate_sum2(v, "kpulse_block_bytes_total", "device", dev, "op", "read"),
			      a, sizeof(a)),
		    fmt_bytes(
			rate_sum2(v, "kpulse_block_bytes_total", "device", dev, "op", "write"), c,
			sizeof(c)),
		    fmt_seconds(interval_quantile(v, s, 0.99), b, sizeof(b)));
	}

	/* Interfaces */
	fprintf(out, "\n%-16s %12s %12s\n", "INTERFACE", "RX/s", "TX/s");
	for (size_t i = 0; i < registry_size(r); i++) {
		const struct metric_series *s = registry_at(r, i);
		const char *ifname;

		if (strcmp(s->name, "kpulse_net_rx_bytes_total"))
			continue;
		ifname = metric_series_label(s, "interface");
		fprintf(out, "%-16s %12s %12s\n", ifname, fmt_bytes(rate_of(v, s), a, sizeof(a)),
			fmt_bytes(rate_sum(v, "kpulse_net_tx_bytes_total", "interface", ifname), b,
				  sizeof(b)));
	}

	/* Processes */
	for (size_t i = 0; i < registry_size(r) && nprocs < 64; i++) {
		const struct metric_series *s = registry_at(r, i);

		if (strcmp(s->name, "kpulse_sched_process_cpu_seconds_total"))
			continue;
		const struct metric_series *p = prev_of(v, s);
		const char *pid = metric_series_label(s, "pid");
		double used = (p && s->value >= p->value ? s->value - p->value : 0) +
			      (pid ? carry_take(pid) : 0);
		unsigned threads = pid ? threads_of(pid) : 0;
		double cap = v->dt * fmax(1, threads ? fmin(threads, v->ncpus) : v->ncpus);
		double shown = fmin(used, cap);

		if (pid)
			carry_keep(pid, used - shown);
		procs[nprocs++] = (struct proc_line){s, v->dt > 0 ? shown / v->dt : 0};
	}
	memcpy(carry, carry_next, sizeof(carry));
	ncarry = ncarry_next;
	ncarry_next = 0;
	qsort(procs, nprocs, sizeof(procs[0]), proc_line_cmp);
	fprintf(out, "\n%8s %-16s %7s %12s  %s\n", "PID", "COMM", "CPU%", "RUNQ WAIT/s", "CGROUP");
	for (size_t i = 0; i < nprocs && i < 15; i++) {
		const struct metric_series *s = procs[i].s, *rq;
		const char *pid = metric_series_label(s, "pid");
		const char *comm = metric_series_label(s, "comm");
		const char *cg = metric_series_label(s, "cgroup");
		struct metric_label l[REGISTRY_MAX_LABELS];

		/* The run-queue series of the same process or group. */
		for (size_t k = 0; k < s->nlabels; k++)
			l[k] = (struct metric_label){s->label_keys[k], s->label_values[k]};
		rq = registry_find(r, "kpulse_sched_process_runqueue_seconds_total", l, s->nlabels);
		/* By default processes are summed by name: no pid. */
		fprintf(out, "%8s %-16s %6.1f%% %12s  %s\n", pid ? pid : "-", comm ? comm : "?",
			100 * procs[i].cpu, rq ? fmt_seconds(rate_of(v, rq), c, sizeof(c)) : "-",
			cg ? cg : "");
	}
	fflush(out);
}

/* A frame on the terminal: cleared screen, at most rows - 1 lines of at
 * most cols bytes (cut from the bottom: the header and totals stay), so
 * nothing scrolls or wraps. */
static void show_frame(const char *frame, size_t len)
{
	struct winsize ws = {};
	size_t rows = 24, cols = 80, line = 0;
	const char *p = frame, *end = frame + len;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		rows = ws.ws_row;
		cols = ws.ws_col;
	}
	fputs("\033[H\033[2J", stdout);
	while (p < end && line + 1 < rows) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		fwrite(p, 1, n < cols ? n : cols, stdout);
		fputc('\n', stdout);
		line++;
		p = nl ? nl + 1 : end;
	}
	fflush(stdout);
}

static double now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int cmd_top(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"interval", required_argument, NULL, 'i'},
	    {"count", required_argument, NULL, 'c'},
	    {"batch", no_argument, NULL, 'b'},
	    {"help", no_argument, NULL, 'h'},
	    {},
	};
	struct collector_options copts = {.top_k = 15, .slow_io_ns = 50ULL * 1000000};
	struct collector *col = NULL;
	struct registry *cur = NULL, *prev = NULL;
	double interval = 1, next, last = 0;
	unsigned long count = 0, n = 0;
	bool batch = !isatty(STDOUT_FILENO);
	char *frame = NULL;
	size_t frame_len = 0;
	int opt, err, status = 0;

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+hb", longopts, NULL)) != -1) {
		switch (opt) {
		case 'b':
			batch = true;
			break;
		case 'i':
			if (cli_parse_seconds("top", "--interval", optarg, 0.1, 60, &interval))
				return EXIT_USAGE;
			break;
		case 'c':
			if (cli_parse_uint("top", "--count", optarg, 1, 1000000000, &count))
				return EXIT_USAGE;
			break;
		case 'h':
			top_usage(stdout);
			return 0;
		default:
			fprintf(stderr,
				"kpulse top: unknown or incomplete option '%s' (try --help)\n",
				argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kpulse top: unexpected argument '%s' (try --help)\n",
			argv[optind]);
		return EXIT_USAGE;
	}

	cli_install_stop_signals();
	err = collector_new(&copts, &col);
	if (err)
		return cli_report_start_error("top", err);
	cur = registry_new();
	if (!cur) {
		collector_free(col);
		fprintf(stderr, "kpulse top: out of memory\n");
		return 1;
	}

	if (!batch)
		term_enter();
	next = now_mono();
	while (!cli_stop) {
		double left = next - now_mono();

		if (left > 0) {
			int ms = (int)ceil(left * 1000);

			if (!batch && quit_pressed(0))
				break;
			collector_poll(col, ms > 100 ? 100 : ms);
			continue;
		}
		collector_poll(col, 0);
		json_decref(collector_take_events(col));
		if (collector_sample(col, cur) != 0) {
			status = 1;
			break;
		}
		/* the interval from the monotonic clock: a wall-clock step
		 * must not stretch or shrink the rates */
		double sampled = now_mono();
		struct view v = {cur, prev, last ? sampled - last : 0,
				 sysconf(_SC_NPROCESSORS_ONLN)};

		if (batch) {
			draw(&v, collector_probes(col), stdout, true);
			fputc('\n', stdout);
			if (fflush(stdout) != 0) {
				status = 1; /* the reader went away */
				break;
			}
		} else {
			FILE *mem = open_memstream(&frame, &frame_len);

			if (!mem) {
				status = 1;
				break;
			}
			draw(&v, collector_probes(col), mem, false);
			fclose(mem);
			show_frame(frame, frame_len);
			free(frame);
			frame = NULL;
		}
		last = sampled;
		registry_free(prev);
		prev = registry_copy(cur);
		next += interval;
		if (count && ++n >= count)
			break;
	}
	if (!batch)
		term_leave();

	registry_free(prev);
	registry_free(cur);
	collector_free(col);
	return status;
}
