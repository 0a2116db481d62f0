// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * analyst.c - the built-in analyst (see analyst.h): one function per rule,
 * each reading the evidence record and, when its resource looks saturated,
 * adding a finding with a score, a culprit and a sentence with numbers.
 */
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "analysis/analyst.h"

#define TEXT_MAX 1024

struct finding {
	const char *rule;
	double score;
	char culprit[256];
	char text[TEXT_MAX];
};

struct reading {
	struct finding f[8];
	size_t n;
};

/* ------------------------------------------------------------ reading numbers */

/* ev.section.id.which, NAN when absent or null. */
static double num3(json_t *ev, const char *section, const char *id, const char *which)
{
	json_t *v = json_object_get(json_object_get(json_object_get(ev, section), id), which);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

static double num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_number(v) ? json_number_value(v) : NAN;
}

static double z(double v)
{
	return isfinite(v) ? v : 0;
}

/* ------------------------------------------------------------ formatting */

static const char *fmt_s(double s, char *buf, size_t len)
{
	if (!isfinite(s))
		snprintf(buf, len, "n/a");
	else if (s < 1e-3)
		snprintf(buf, len, "%.0f us", s * 1e6);
	else if (s < 1)
		snprintf(buf, len, "%.1f ms", s * 1e3);
	else
		snprintf(buf, len, "%.2f s", s);
	return buf;
}

static const char *fmt_bytes(double b, char *buf, size_t len)
{
	static const char *const units[] = {"B", "KB", "MB", "GB", "TB"};
	size_t u = 0;

	b = z(b);
	while (b >= 1000 && u < 4) {
		b /= 1000;
		u++;
	}
	snprintf(buf, len, b < 10 && u ? "%.1f %s" : "%.0f %s", b, units[u]);
	return buf;
}

static const char *fmt_dur(double s, char *buf, size_t len)
{
	if (s < 120)
		snprintf(buf, len, "%.0f s", s);
	else if (s < 7200)
		snprintf(buf, len, "%.0f min", s / 60);
	else if (s < 2 * 86400)
		snprintf(buf, len, "%.1f h", s / 3600);
	else
		snprintf(buf, len, "%.1f days", s / 86400);
	return buf;
}

static struct finding *add(struct reading *rd, const char *rule, double score)
{
	struct finding *f;

	if (rd->n == sizeof(rd->f) / sizeof(rd->f[0]))
		return NULL;
	f = &rd->f[rd->n++];
	memset(f, 0, sizeof(*f));
	f->rule = rule;
	f->score = score;
	return f;
}

__attribute__((format(printf, 2, 3))) static void say(struct finding *f, const char *fmt, ...)
{
	size_t n = strlen(f->text);
	va_list ap;

	if (n >= sizeof(f->text) - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(f->text + n, sizeof(f->text) - n, fmt, ap);
	va_end(ap);
}

/* The processes of one command in a top_processes list, summed: a hog
 * with several workers (stress-ng, fio jobs, a build) is one culprit. */
struct group {
	char comm[64];
	long long pids[8];
	size_t npids;
	double baseline, current;
	char name[160]; /* "process fio (pid 7)", "processes fio (pids 7, 9)" */
};

/* The command whose processes rose the most in a top_processes list;
 * false when the list is empty. */
static bool top_group(json_t *ev, const char *metric, struct group *ret)
{
	json_t *list = json_object_get(json_object_get(ev, "top_processes"), metric), *p;
	struct group g[16];
	size_t n = 0, i, best = 0;

	json_array_foreach (list, i, p) {
		const char *comm = json_string_value(json_object_get(p, "comm"));
		size_t k;

		if (!comm)
			continue;
		for (k = 0; k < n && strcmp(g[k].comm, comm); k++)
			;
		if (k == n) {
			if (n == sizeof(g) / sizeof(g[0]))
				continue;
			memset(&g[n], 0, sizeof(g[n]));
			snprintf(g[n].comm, sizeof(g[n].comm), "%s", comm);
			n++;
		}
		if (g[k].npids < sizeof(g[k].pids) / sizeof(g[k].pids[0]))
			g[k].pids[g[k].npids++] = json_integer_value(json_object_get(p, "pid"));
		g[k].baseline += z(num(p, "baseline"));
		g[k].current += z(num(p, "current"));
	}
	if (!n)
		return false;
	for (size_t k = 1; k < n; k++) {
		if (g[k].current - g[k].baseline > g[best].current - g[best].baseline)
			best = k;
	}
	*ret = g[best];
	if (ret->npids == 1) {
		snprintf(ret->name, sizeof(ret->name), "process %s (pid %lld)", ret->comm,
			 ret->pids[0]);
	} else {
		size_t len =
		    (size_t)snprintf(ret->name, sizeof(ret->name), "processes %s (pids", ret->comm);

		for (size_t k = 0; k < ret->npids && len < sizeof(ret->name); k++)
			len += (size_t)snprintf(ret->name + len, sizeof(ret->name) - len, "%s %lld",
						k ? "," : "", ret->pids[k]);
		if (len < sizeof(ret->name))
			snprintf(ret->name + len, sizeof(ret->name) - len, ")");
	}
	return true;
}

/* Whether a signal (an incident part) names a series starting with prefix. */
static bool signal_on(json_t *ev, const char *prefix)
{
	size_t i;
	json_t *s;

	json_array_foreach (json_object_get(ev, "signals"), i, s) {
		const char *series = json_string_value(json_object_get(s, "series"));

		if (series && !strncmp(series, prefix, strlen(prefix)))
			return true;
	}
	return false;
}

/* ------------------------------------------------------------ rules */

static void rule_cpu(json_t *ev, struct reading *rd)
{
	double ncpu = fmax(1, z(num(ev, "ncpu")));
	double busy = num3(ev, "indicators", "cpu_busy_cpus", "current");
	double busy0 = num3(ev, "indicators", "cpu_busy_cpus", "baseline");
	double rq = num3(ev, "indicators", "runqueue_p99_s", "current");
	double rq0 = num3(ev, "indicators", "runqueue_p99_s", "baseline");
	double wait = num3(ev, "pressure", "cpu_waiting", "current");
	double wait0 = num3(ev, "pressure", "cpu_waiting", "baseline");
	struct group g;
	bool has_g = top_group(ev, "cpu", &g);
	double score = 0, util = z(busy) / ncpu;
	struct finding *f;
	char a[32], b[32];

	/* levels count fully only when they rose: a host busy all along is
	 * not what changed */
	if (util >= 0.7)
		score += util * (z(busy) - z(busy0) >= 0.2 * ncpu ? 1 : 0.3);
	if (isfinite(rq) && rq >= 1e-3 && rq >= 3 * fmax(z(rq0), 1e-5))
		score += 0.5 + fmin(1, log10(rq / fmax(z(rq0), 1e-5)) / 3);
	if (z(wait) >= 0.2 && z(wait) >= 2 * z(wait0))
		score += fmin(1, z(wait));
	if (signal_on(ev, "kpulse_sched_") || signal_on(ev, "kpulse_pressure_cpu"))
		score += score > 0 ? 0.3 : 0;
	if (score <= 0 || !(f = add(rd, "cpu", score)))
		return;
	say(f, "CPU saturation: %.2f of %.0f CPUs busy (was %.2f)", z(busy), ncpu, z(busy0));
	if (isfinite(rq))
		say(f, "; run-queue latency p99 up from %s to %s", fmt_s(z(rq0), a, sizeof(a)),
		    fmt_s(rq, b, sizeof(b)));
	if (isfinite(wait))
		say(f, "; CPU pressure %.0f%% of the time some task waited", 100 * wait);
	/* the command that rose most, by a tenth of a CPU at least (on a
	 * host saturated already, a hog gets only its share) */
	if (has_g && g.current - g.baseline >= 0.1) {
		snprintf(f->culprit, sizeof(f->culprit), "%s", g.name);
		say(f, ", while %s went from %.0f%% to %.0f%% CPU", g.name, 100 * g.baseline,
		    100 * g.current);
	}
	say(f, ".");
}

/* The key of the largest "current" in a grouped indicator, and its pair. */
static const char *max_group(json_t *ev, const char *id, json_t **ret)
{
	json_t *g = json_object_get(json_object_get(ev, "indicators"), id), *v;
	const char *k, *best = NULL;
	double bv = -1;

	json_object_foreach (g, k, v) {
		double c = num(v, "current");

		if (isfinite(c) && c > bv) {
			bv = c;
			best = k;
			*ret = v;
		}
	}
	return best;
}

static void rule_io(json_t *ev, struct reading *rd)
{
	json_t *u = NULL, *lat = NULL, *bytes = NULL,
	       *slow = json_object_get(json_object_get(ev, "events"), "slow_io");
	const char *dev = max_group(ev, "block_utilization", &u);
	double util = u ? z(num(u, "current")) : 0, util0 = u ? z(num(u, "baseline")) : 0;
	double wait = num3(ev, "pressure", "io_waiting", "current");
	double wait0 = num3(ev, "pressure", "io_waiting", "baseline");
	struct group g;
	bool has_g = top_group(ev, "io_bytes", &g);
	double score = 0, l = NAN, l0 = NAN;
	struct finding *f;
	char a[32], b[32];

	if (dev) {
		lat = json_object_get(
		    json_object_get(json_object_get(ev, "indicators"), "block_latency_p99_s"), dev);
		bytes = json_object_get(
		    json_object_get(json_object_get(ev, "indicators"), "block_bytes_per_s"), dev);
		l = num(lat, "current");
		l0 = num(lat, "baseline");
	}
	if (util >= 0.6)
		score += util * (util - util0 >= 0.2 ? 1 : 0.3);
	if (isfinite(l) && l >= 10e-3 && l >= 3 * fmax(z(l0), 1e-4))
		score += 0.5;
	if (z(num(slow, "count")) > 0)
		score += 0.3;
	if (z(wait) >= 0.2 && z(wait) >= 2 * z(wait0))
		score += fmin(1, z(wait));
	if (signal_on(ev, "kpulse_block_") || signal_on(ev, "kpulse_pressure_io"))
		score += score > 0 ? 0.3 : 0;
	if (score <= 0 || !dev || !(f = add(rd, "io", score)))
		return;
	snprintf(f->culprit, sizeof(f->culprit), "device %s", dev);
	say(f, "I/O saturation of device %s: utilization %.0f%% (was %.0f%%)", dev, 100 * util,
	    100 * util0);
	if (isfinite(l))
		say(f, ", p99 latency %s (was %s)", fmt_s(l, a, sizeof(a)),
		    fmt_s(z(l0), b, sizeof(b)));
	if (bytes)
		say(f, ", %s/s moved", fmt_bytes(num(bytes, "current"), a, sizeof(a)));
	if (z(num(slow, "count")) > 0)
		say(f, ", %lld slow I/Os (slowest %s)",
		    (long long)json_integer_value(json_object_get(slow, "count")),
		    fmt_s(num(slow, "max_latency_s"), a, sizeof(a)));
	if (isfinite(wait))
		say(f, "; I/O pressure %.0f%%", 100 * wait);
	if (has_g && g.current > g.baseline) {
		size_t n = strlen(f->culprit);

		snprintf(f->culprit + n, sizeof(f->culprit) - n, ", %s", g.name);
		say(f, "; the I/O that rose most was by %s: %s/s (was %s/s)", g.name,
		    fmt_bytes(g.current, a, sizeof(a)), fmt_bytes(g.baseline, b, sizeof(b)));
	}
	say(f, ".");
}

static void rule_memory(json_t *ev, struct reading *rd)
{
	json_t *oom = json_object_get(json_object_get(ev, "events"), "oom_kill");
	json_t *victim = json_array_get(json_object_get(oom, "items"), 0);
	double stalled = num3(ev, "pressure", "memory_stalled", "current");
	double waiting = num3(ev, "pressure", "memory_waiting", "current");
	double waiting0 = num3(ev, "pressure", "memory_waiting", "baseline");
	double rec = num3(ev, "indicators", "direct_reclaims_per_s", "current");
	double rec0 = num3(ev, "indicators", "direct_reclaims_per_s", "baseline");
	double avail = num3(ev, "indicators", "mem_available_bytes", "current");
	double total = num3(ev, "indicators", "mem_total_bytes", "current");
	long long kills = json_integer_value(json_object_get(oom, "count"));
	struct group g;
	bool has_g = top_group(ev, "page_faults", &g);
	double score = 0;
	struct finding *f;
	char a[32], b[32];
	size_t i;
	json_t *s;

	/* an OOM kill seen as a signal (the round's event) counts too */
	json_array_foreach (json_object_get(ev, "signals"), i, s) {
		if (!victim &&
		    !strcmp(json_string_value(json_object_get(s, "kind")) ?: "", "event") &&
		    json_object_get(s, "memcg")) {
			victim = s;
			kills = kills ? kills : json_integer_value(json_object_get(s, "count"));
		}
	}
	if (victim)
		score += 2;
	if ((z(stalled) >= 0.05 || z(waiting) >= 0.2) && z(waiting) >= 2 * z(waiting0))
		score += fmin(1, z(waiting) + z(stalled));
	if (z(rec) >= 10 && z(rec) >= 5 * z(rec0))
		score += 0.5;
	if (isfinite(total) && total > 0 && z(avail) > 0 && avail / total < 0.05)
		score += 0.5;
	if (score <= 0 || !(f = add(rd, "memory", score)))
		return;
	if (victim) {
		const char *memcg = json_string_value(json_object_get(victim, "memcg"));

		snprintf(f->culprit, sizeof(f->culprit), "process %s (pid %lld)%s%s",
			 json_string_value(json_object_get(victim, "comm")),
			 (long long)json_integer_value(json_object_get(victim, "pid")),
			 memcg && *memcg ? " in memory cgroup " : "", memcg ? memcg : "");
		say(f,
		    "Memory exhausted: the OOM killer killed %lld process%s, first %s with %s "
		    "resident",
		    kills > 0 ? kills : 1, kills > 1 ? "es" : "", f->culprit,
		    fmt_bytes(num(victim, "rss_bytes"), a, sizeof(a)));
	} else {
		say(f, "Memory pressure");
		if (has_g)
			snprintf(f->culprit, sizeof(f->culprit), "%s", g.name);
	}
	if (isfinite(waiting) || isfinite(stalled))
		say(f,
		    "; memory pressure: some tasks waited %.0f%%, all stalled %.0f%% of the time",
		    100 * z(waiting), 100 * z(stalled));
	if (isfinite(rec))
		say(f, "; direct reclaim %.1f/s (was %.1f/s)", rec, z(rec0));
	if (isfinite(avail))
		say(f, "; %s available of %s", fmt_bytes(avail, a, sizeof(a)),
		    fmt_bytes(total, b, sizeof(b)));
	if (!victim && has_g)
		say(f, "; page faults rose most by %s: %.0f/s (was %.0f/s)", g.name, g.current,
		    g.baseline);
	say(f, ".");
}

static void rule_network(json_t *ev, struct reading *rd)
{
	double re = num3(ev, "indicators", "tcp_retransmits_per_s", "current");
	double re0 = num3(ev, "indicators", "tcp_retransmits_per_s", "baseline");
	json_t *retr = json_object_get(json_object_get(ev, "events"), "tcp_retransmit");
	json_t *peer = json_array_get(json_object_get(retr, "by_peer"), 0), *drop = NULL,
	       *ifd = NULL;
	const char *reason = max_group(ev, "packet_drops_per_s", &drop);
	const char *ifname = max_group(ev, "rx_dropped_per_s", &ifd);
	struct finding *f;
	double score = 0;
	size_t n;

	if (z(re) >= 2 && z(re) >= 5 * z(re0))
		score += 1 + fmin(1, log10(z(re) / fmax(z(re0), 0.1)) / 3);
	if (signal_on(ev, "kpulse_net_"))
		score += score > 0 ? 0.3 : 0;
	if (score <= 0 || !(f = add(rd, "network", score)))
		return;
	say(f, "Packet loss causing TCP retransmits: %.1f retransmitted segments/s (was %.1f/s)",
	    z(re), z(re0));
	if (ifname && z(num(ifd, "current")) > 0) {
		snprintf(f->culprit, sizeof(f->culprit), "interface %s", ifname);
		say(f, "; interface %s drops %.1f packets/s", ifname, num(ifd, "current"));
	}
	if (reason && z(num(drop, "current")) > 0) {
		n = strlen(f->culprit);
		snprintf(f->culprit + n, sizeof(f->culprit) - n, "%sdrop reason %s", n ? ", " : "",
			 reason);
		say(f, "; the kernel dropped %.1f packets/s, most for %s", num(drop, "current"),
		    reason);
	}
	if (peer) {
		const char *pe = json_string_value(json_object_get(peer, "peer"));

		n = strlen(f->culprit);
		snprintf(f->culprit + n, sizeof(f->culprit) - n, "%speer %s", n ? ", " : "", pe);
		say(f, "; most retransmits went to %s (%lld of %lld)", pe,
		    (long long)json_integer_value(json_object_get(peer, "count")),
		    (long long)json_integer_value(json_object_get(retr, "count")));
	}
	say(f, ".");
}

static void rule_processes(json_t *ev, struct reading *rd)
{
	double ex = num3(ev, "indicators", "execs_per_s", "current");
	double ex0 = num3(ev, "indicators", "execs_per_s", "baseline");
	double fk = num3(ev, "indicators", "forks_per_s", "current");
	double fk0 = num3(ev, "indicators", "forks_per_s", "baseline");
	json_t *exec = json_object_get(json_object_get(ev, "events"), "exec");
	json_t *comm = json_array_get(json_object_get(exec, "by_comm"), 0);
	json_t *parent = json_array_get(json_object_get(exec, "by_parent"), 0);
	struct finding *f;
	double score = 0;

	if ((z(ex) >= 20 && z(ex) >= 5 * z(ex0)) || (z(fk) >= 50 && z(fk) >= 5 * z(fk0)))
		score += 1 + fmin(1, log10(fmax(z(ex), z(fk)) / 20));
	if (score <= 0 || !(f = add(rd, "processes", score)))
		return;
	say(f, "Fork/exec storm: %.0f execs/s (was %.1f/s), %.0f forks/s (was %.1f/s)", z(ex),
	    z(ex0), z(fk), z(fk0));
	if (comm) {
		snprintf(f->culprit, sizeof(f->culprit), "program %s",
			 json_string_value(json_object_get(comm, "comm")));
		say(f, "; most exec'd: %s (%lld times)",
		    json_string_value(json_object_get(comm, "comm")),
		    (long long)json_integer_value(json_object_get(comm, "count")));
	}
	if (parent) {
		size_t n = strlen(f->culprit);

		snprintf(f->culprit + n, sizeof(f->culprit) - n, "%sparent pid %s", n ? ", " : "",
			 json_string_value(json_object_get(parent, "ppid")));
		say(f, "; most came from parent pid %s (%lld)",
		    json_string_value(json_object_get(parent, "ppid")),
		    (long long)json_integer_value(json_object_get(parent, "count")));
	}
	say(f, ".");
}

static void rule_filesystem(json_t *ev, struct reading *rd)
{
	json_t *avail =
	    json_object_get(json_object_get(ev, "indicators"), "filesystem_avail_bytes");
	json_t *size = json_object_get(json_object_get(ev, "indicators"), "filesystem_size_bytes");
	struct finding *f;
	const char *mp;
	char a[32], b[32], c[32];
	size_t i;
	json_t *s, *v;

	/* a prediction first: it has the time left */
	json_array_foreach (json_object_get(ev, "signals"), i, s) {
		json_t *lab = json_object_get(s, "labels");

		if (strcmp(json_string_value(json_object_get(s, "prediction")) ?: "",
			   "filesystem_full"))
			continue;
		mp = json_string_value(json_object_get(lab, "mountpoint")) ?: "?";
		if (!(f = add(rd, "filesystem", 1.5)))
			return;
		snprintf(f->culprit, sizeof(f->culprit), "filesystem %s", mp);
		say(f, "Filesystem %s about to fill: %s free, falling %s/s; full in about %s.", mp,
		    fmt_bytes(num(s, "current"), a, sizeof(a)),
		    fmt_bytes(-num(s, "rate_per_s"), b, sizeof(b)),
		    fmt_dur(z(num(s, "eta_s")), c, sizeof(c)));
		return;
	}
	json_object_foreach (avail, mp, v) {
		double av = num(v, "current"), av0 = num(v, "baseline");
		double sz = num(json_object_get(size, mp), "current");

		if (!isfinite(av) || !isfinite(sz) || sz <= 0 || av / sz >= 0.05 ||
		    !(isfinite(av0) && av0 > av))
			continue;
		if (!(f = add(rd, "filesystem", 1 + (0.05 - av / sz) * 10)))
			return;
		snprintf(f->culprit, sizeof(f->culprit), "filesystem %s", mp);
		say(f, "Filesystem %s nearly full: %s free of %s (%.1f%%), down from %s.", mp,
		    fmt_bytes(av, a, sizeof(a)), fmt_bytes(sz, b, sizeof(b)), 100 * av / sz,
		    fmt_bytes(av0, c, sizeof(c)));
		return;
	}
}

/* ------------------------------------------------------------ the reading */

json_t *analyst_read(json_t *ev)
{
	struct reading rd = {};
	const struct finding *best = NULL;
	json_t *out, *findings = json_array();
	char text[4 * TEXT_MAX];
	size_t n = 0;

	rule_memory(ev, &rd);
	rule_cpu(ev, &rd);
	rule_io(ev, &rd);
	rule_network(ev, &rd);
	rule_processes(ev, &rd);
	rule_filesystem(ev, &rd);
	for (size_t i = 0; i < rd.n; i++) {
		if (!best || rd.f[i].score > best->score)
			best = &rd.f[i];
	}
	text[0] = '\0';
	if (best)
		n += (size_t)snprintf(text, sizeof(text), "%s", best->text);
	else
		n += (size_t)snprintf(text, sizeof(text),
				      "No saturated resource found: CPU, I/O, memory, network, "
				      "process creation and filesystems look as they did before "
				      "the window.");
	for (size_t i = 0; i < rd.n && n < sizeof(text); i++) {
		json_array_append_new(
		    findings,
		    json_pack("{s:s,s:s,s:s?,s:f,s:s}", "rule", rd.f[i].rule, "resource",
			      rd.f[i].rule, "culprit", rd.f[i].culprit[0] ? rd.f[i].culprit : NULL,
			      "score", round(rd.f[i].score * 100) / 100, "text", rd.f[i].text));
		if (&rd.f[i] != best)
			n +=
			    (size_t)snprintf(text + n, sizeof(text) - n, " Also: %s", rd.f[i].text);
	}
	out = json_pack("{s:s,s:s,s:s?,s:s,s:o}", "analyst", "builtin", "resource",
			best ? best->rule : "unknown", "culprit",
			best && best->culprit[0] ? best->culprit : NULL, "text", text, "findings",
			findings);
	return out;
}
