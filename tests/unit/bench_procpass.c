/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * bench_procpass.c - what the /proc pass costs per round (not a test: it
 * prints numbers and exits 0 unless a measurement could not be made).
 *
 *   pass:  procpass_collect() into a registry, round after round, against a
 *          trivial reader that fetches the same kernel data and parses
 *          nothing: open, read a page at a time and close each file the
 *          pass reads, statvfs of each filesystem it lists. TCP states are
 *          left out of both (counted apart below, every 10 s by default).
 *          Blocks of rounds alternate between the two; the figure is the
 *          CPU time of the process (user + system, so the kernel's text
 *          generation is in both, and the pass's statvfs thread too) per
 *          round, the median over blocks, and
 *          their ratio. Target: the pass costs at most 1.5 times the
 *          trivial reader.
 *   tcp:   one count of every TCP socket by state through sock_diag (what
 *          kpulse does), against the two raw dumps received and dropped;
 *          then in a private network namespace (root: unshare), N
 *          connections over loopback (2N sockets plus a listener): the
 *          count through sock_diag, through /proc/net/tcp{,6} parsed, and
 *          only reading those files, for each N given.
 *
 * Usage: bench_procpass [ROUNDS [N...]] (defaults 2000 rounds; 0 1000 9000).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "collection/procpass.h"
#include "collection/tcpstates.h"
#include "registry/registry.h"

#define BLOCK	  50  /* rounds per timed block */
#define TCP_RUNS  21  /* counts per method and N */
#define TARGET	  1.5 /* pass / trivial reader */
#define MAX_MOUNT 64

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ------------------------------------------------------- trivial reader */

static const char *files[] = {
    "/proc/stat",
    "/proc/loadavg",
    "/proc/meminfo",
    "/proc/vmstat",
    "/proc/pressure/cpu",
    "/proc/pressure/memory",
    "/proc/pressure/io",
    "/proc/pressure/irq",
    "/proc/net/dev",
    "/proc/net/snmp",
    "/proc/diskstats",
    "/proc/self/statm",
    "/proc/sys/kernel/bpf_stats_enabled",
};

static char mounts[MAX_MOUNT][REGISTRY_LABEL_VALUE_MAX];
static size_t nmounts;
static char buf[1 << 16];

/* A page at a time, as a seq_file hands it out (a sysctl allocates what
 * each read asks for). */
static void cat(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	while (read(fd, buf, 4096) > 0)
		;
	close(fd);
}

/* One sock_diag dump of a family, received and dropped. */
static int dump_raw(int nl, int family, uint32_t seq)
{
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 r;
	} req = {
	    .h = {.nlmsg_len = sizeof(req),
		  .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		  .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		  .nlmsg_seq = seq},
	    .r = {.sdiag_family = (__u8)family,
		  .sdiag_protocol = IPPROTO_TCP,
		  .idiag_states = 0x1ffe},
	};
	struct sockaddr_nl k = {.nl_family = AF_NETLINK};

	if (sendto(nl, &req, sizeof(req), 0, (struct sockaddr *)&k, sizeof(k)) < 0)
		return -errno;
	for (;;) {
		ssize_t n = recv(nl, buf, sizeof(buf), 0);
		const struct nlmsghdr *h = (const void *)buf;
		size_t len = n > 0 ? (size_t)n : 0;

		if (n <= 0)
			return -EIO;
		for (; NLMSG_OK(h, len); h = NLMSG_NEXT(h, len))
			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
				return 0;
	}
}

static void trivial_round(void)
{
	struct statvfs st;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		cat(files[i]);
	for (size_t i = 0; i < nmounts; i++)
		statvfs(mounts[i], &st);
}

/* The mount points the pass lists, from its own series. */
static void collect_mounts(struct registry *r)
{
	for (size_t i = 0; i < registry_size(r) && nmounts < MAX_MOUNT; i++) {
		const struct metric_series *s = registry_at(r, i);

		if (strcmp(s->name, "kpulse_filesystem_size_bytes") == 0)
			snprintf(mounts[nmounts++], sizeof(mounts[0]), "%s",
				 metric_series_label(s, "mountpoint"));
	}
}

static int bench_pass(unsigned rounds)
{
	struct procpass_options o = {.tcp_states_interval_s = 1e9}; /* counted once */
	struct procpass *pp = NULL;
	struct registry *r = registry_new();
	size_t nblocks = rounds / BLOCK / 2, series = 0;
	double *pass = calloc(nblocks ? nblocks : 1, sizeof(double));
	double *triv = calloc(nblocks ? nblocks : 1, sizeof(double));
	int err = 1;
	double p, t;

	if (!r || !pass || !triv || !nblocks || procpass_new(&o, &pp)) {
		fprintf(stderr, "bench_procpass: cannot set up the pass (%s)\n", strerror(errno));
		goto out;
	}
	for (int i = 0; i < 20; i++) { /* warm up: buffers grown, files open */
		registry_begin(r, 0, 1);
		procpass_collect(pp, r);
		registry_end(r);
		trivial_round();
	}
	series = registry_size(r);
	collect_mounts(r);
	for (size_t b = 0; b < nblocks; b++) {
		double t0 = cpu_now();

		for (int i = 0; i < BLOCK; i++) {
			registry_begin(r, 0, 1);
			procpass_collect(pp, r);
			registry_end(r);
		}
		pass[b] = (cpu_now() - t0) / BLOCK;
		t0 = cpu_now();
		for (int i = 0; i < BLOCK; i++)
			trivial_round();
		triv[b] = (cpu_now() - t0) / BLOCK;
	}
	p = median(pass, nblocks);
	t = median(triv, nblocks);
	printf("pass: %zu series, %zu filesystems, %zu blocks of %d rounds each way\n", series,
	       nmounts, nblocks, BLOCK);
	printf("  /proc pass      %8.1f us CPU per round\n", p * 1e6);
	printf("  trivial reader  %8.1f us CPU per round (the same files, statvfs)\n", t * 1e6);
	printf("  ratio           %8.2f (target <= %.1f): %s\n", p / t, TARGET,
	       p / t <= TARGET ? "PASS" : "FAIL");
	err = 0;
out:
	free(pass);
	free(triv);
	procpass_free(pp);
	registry_free(r);
	return err;
}

/* ----------------------------------------------------------------- tcp */

static int lo_up(void)
{
	struct ifreq ifr = {0};
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (s < 0 || ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		err = -errno;
	ifr.ifr_flags |= IFF_UP;
	if (!err && ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		err = -errno;
	if (s >= 0)
		close(s);
	return err;
}

/* Opens connections until there are n pairs; fds are kept in *fds. */
static int connect_pairs(int listener, const struct sockaddr_in *a, int *fds, size_t have, size_t n)
{
	for (size_t i = have; i < n; i++) {
		int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), s;

		if (c < 0 || connect(c, (const struct sockaddr *)a, sizeof(*a)) < 0)
			return -errno;
		s = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0)
			return -errno;
		fds[2 * i] = c;
		fds[2 * i + 1] = s;
	}
	return 0;
}

static double time_count(struct tcpstates *ts, int how, uint64_t *ret_sockets)
{
	struct tcpstates_counts c;
	double t0 = cpu_now();
	int err = 0;

	if (how == 2) {
		cat("/proc/net/tcp");
		cat("/proc/net/tcp6");
	} else {
		err = tcpstates_count(ts, how ? TCPSTATES_PROCFS : TCPSTATES_NETLINK, &c);
	}
	t0 = cpu_now() - t0;
	if (how != 2 && !err) {
		*ret_sockets = 0;
		for (int s = 0; s < TCPSTATES_NR; s++)
			*ret_sockets += c.by_state[s];
	}
	return err ? -1 : t0;
}

/* kpulse's count against the two raw dumps, in this namespace. */
static int bench_tcp_here(void)
{
	struct tcpstates *ts = NULL;
	struct tcpstates_counts c;
	double count[TCP_RUNS], raw[TCP_RUNS];
	int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG), err = 0;
	uint32_t seq = 0;
	uint64_t n = 0;

	if (nl < 0 || tcpstates_new("/proc", 0, &ts)) {
		fprintf(stderr, "bench_procpass: no sock_diag socket (%s)\n", strerror(errno));
		if (nl >= 0)
			close(nl);
		return 1;
	}
	for (int r = 0; r < TCP_RUNS && !err; r++) {
		double t0 = cpu_now();

		err = tcpstates_count(ts, TCPSTATES_NETLINK, &c);
		count[r] = cpu_now() - t0;
		t0 = cpu_now();
		err |= dump_raw(nl, AF_INET, ++seq);
		err |= dump_raw(nl, AF_INET6, ++seq);
		raw[r] = cpu_now() - t0;
	}
	close(nl);
	tcpstates_free(ts);
	if (err) {
		fprintf(stderr, "bench_procpass: sock_diag dump failed\n");
		return 1;
	}
	for (int s = 0; s < TCPSTATES_NR; s++)
		n += c.by_state[s];
	printf("tcp: this namespace, %llu sockets, median of %d\n", (unsigned long long)n,
	       TCP_RUNS);
	printf("  sock_diag count (kpulse)     %9.1f us CPU\n", median(count, TCP_RUNS) * 1e6);
	printf("  the two dumps, raw           %9.1f us CPU (the kernel walks its whole "
	       "connection table)\n",
	       median(raw, TCP_RUNS) * 1e6);
	return 0;
}

static int bench_tcp(const size_t *ns, size_t count)
{
	static const char *how[] = {"sock_diag count (kpulse)", "/proc/net/tcp{,6} parsed",
				    "/proc/net/tcp{,6} read only"};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	size_t most = 0, have = 0;
	struct tcpstates *ts = NULL;
	struct rlimit rl;
	int *fds, l, err;

	for (size_t i = 0; i < count; i++)
		most = ns[i] > most ? ns[i] : most;
	if (unshare(CLONE_NEWNET) < 0 || lo_up() < 0) {
		fprintf(stderr, "bench_procpass: no private network namespace (%s); run as root\n",
			strerror(errno));
		return 1;
	}
	/* Two descriptors a connection: raise the limit, or fit under it. */
	rl.rlim_cur = rl.rlim_max = 2 * most + 256;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 && getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		if (2 * most + 256 > rl.rlim_cur) {
			most = (rl.rlim_cur - 256) / 2;
			printf(
			    "tcp: at most %zu connections (RLIMIT_NOFILE %llu, cannot be raised)\n",
			    most, (unsigned long long)rl.rlim_cur);
		}
	}
	fds = calloc(2 * most + 1, sizeof(*fds));
	l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!fds || l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4096) < 0 ||
	    getsockname(l, (struct sockaddr *)&a, &alen) < 0 || tcpstates_new("/proc", 0, &ts)) {
		fprintf(stderr, "bench_procpass: cannot set up the listener (%s)\n",
			strerror(errno));
		free(fds);
		return 1;
	}
	printf("tcp: sockets counted by state in a private network namespace, median of %d\n",
	       TCP_RUNS);
	for (size_t i = 0; i < count; i++) {
		double t[3][TCP_RUNS], m[3];
		uint64_t seen[2] = {0, 0};

		if (ns[i] > most)
			break;
		err = connect_pairs(l, &a, fds, have, ns[i]);
		if (err) {
			fprintf(stderr, "bench_procpass: %zu connections: %s\n", ns[i],
				strerror(-err));
			break;
		}
		have = ns[i] > have ? ns[i] : have;
		for (int r = 0; r < TCP_RUNS && !err; r++)
			for (int h = 0; h < 3 && !err; h++)
				if ((t[h][r] = time_count(ts, h, &seen[h < 2 ? h : 0])) < 0)
					err = -EIO;
		if (err) {
			fprintf(stderr, "bench_procpass: counting failed at %zu connections\n",
				ns[i]);
			break;
		}
		printf("  %6zu connections, %6zu sockets (counted: %llu netlink, %llu /proc)\n",
		       ns[i], 2 * have + 1, (unsigned long long)seen[0],
		       (unsigned long long)seen[1]);
		for (int h = 0; h < 3; h++) {
			m[h] = median(t[h], TCP_RUNS);
			printf("    %-28s %9.1f us  %6.0f ns/socket\n", how[h], m[h] * 1e6,
			       m[h] * 1e9 / (double)(2 * have + 1));
		}
	}
	for (size_t i = 0; i < 2 * have; i++)
		close(fds[i]);
	close(l);
	free(fds);
	tcpstates_free(ts);
	return err ? 1 : 0;
}

int main(int argc, char **argv)
{
	size_t ns[16] = {0, 1000, 9000}, count = 3;
	unsigned rounds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 2000;
	int err;

	if (argc > 2) {
		count = 0;
		for (int i = 2; i < argc && count < 16; i++)
			ns[count++] = strtoul(argv[i], NULL, 10);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	err = bench_pass(rounds < 2 * BLOCK ? 2 * BLOCK : rounds);
	if (!err)
		err = bench_tcp_here();
	if (!err)
		err = bench_tcp(ns, count);
	return err;
}
