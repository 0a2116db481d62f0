// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * tcpstates.c - TCP sockets by state through sock_diag (netlink), with
 * /proc/net/tcp{,6} as the fallback, and PassiveOpens from /proc/net/snmp.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

#include "collection/procfs.h"
#include "collection/tcpstates.h"
#include "util/clock.h"

#define TCP_PROC_MAX_BYTES (256 << 20) /* 150 bytes a socket: ~1.7M sockets */
#define SNMP_MAX_BYTES	   (64 << 10)
#define DIAG_BUF_BYTES	   (64 << 10) /* larger than any dump message batch */
#define TCP_NEW_SYN_RECV   12
/* ESTABLISHED (1) to NEW_SYN_RECV (12), as ss asks for "all": request
 * sockets included, and not BOUND_INACTIVE (13, 6.5), which would add a walk
 * of the bind table for sockets that are not connections. */
#define TCP_ALL_STATES 0x1ffeu

static const char *state_names[TCPSTATES_NR] = {
    NULL,	 "established", "syn_sent",   "syn_recv", "fin_wait1", "fin_wait2",
    "time_wait", "close",	"close_wait", "last_ack", "listen",    "closing",
};

const char *tcpstates_name(unsigned state)
{
	return state < TCPSTATES_NR ? state_names[state] : NULL;
}

static void count_state(struct tcpstates_counts *c, unsigned state)
{
	if (state == TCP_NEW_SYN_RECV)
		state = 3; /* SYN_RECV */
	if (state > 0 && state < TCPSTATES_NR)
		c->by_state[state]++;
}

/* ----------------------------------------------------------- sock_diag */

int tcpstates_count_diag(const void *buf, size_t len, uint32_t seq, struct tcpstates_counts *c)
{
	const struct nlmsghdr *h = buf;
	/* Signed, as NLMSG_NEXT() expects: a last message whose length is not
	 * a multiple of 4 takes the count below zero, which ends the walk (in
	 * a size_t it would wrap and the walk read past the buffer). */
	int left = len > INT_MAX ? INT_MAX : (int)len;

	for (; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
		if (h->nlmsg_seq != seq)
			continue;
		if (h->nlmsg_type == NLMSG_DONE)
			return 1;
		if (h->nlmsg_type == NLMSG_ERROR) {
			const struct nlmsgerr *e = NLMSG_DATA(h);

			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*e)))
				return -EBADMSG;
			return e->error < 0 ? e->error : -EPROTO;
		}
		if (h->nlmsg_type != SOCK_DIAG_BY_FAMILY)
			continue;
		if (h->nlmsg_len < NLMSG_LENGTH(sizeof(struct inet_diag_msg)))
			return -EBADMSG;
		count_state(c, ((const struct inet_diag_msg *)NLMSG_DATA(h))->idiag_state);
	}
	/* Bytes left that do not make a whole message. */
	return left > 0 ? -EBADMSG : 0;
}

/* ---------------------------------------------------------- /proc text */

int tcpstates_count_proc(const char *text, struct tcpstates_counts *c)
{
	const char *line = strchr(text, '\n'), *nl;
	int malformed = 0;

	/* "  sl  local_address rem_address   st tx_queue ..." */
	if (!line || !strstr(text, "local_address"))
		return -EINVAL;
	for (line++; (nl = strchr(line, '\n')); line = nl + 1) {
		/* "   0: 0100007F:0277 00000000:0000 0A 00000000:..." */
		const char *p = line;
		unsigned state = 0;
		int i;

		for (i = 0; i < 3; i++) { /* sl, local, remote */
			while (*p == ' ')
				p++;
			p += strcspn(p, " \n");
		}
		while (*p == ' ')
			p++;
		for (i = 0; i < 2 && p < nl; i++, p++) {
			char ch = *p;

			if (ch >= '0' && ch <= '9')
				state = state * 16 + (unsigned)(ch - '0');
			else if (ch >= 'A' && ch <= 'F')
				state = state * 16 + (unsigned)(ch - 'A' + 10);
			else
				break;
		}
		if (i != 2 || *p != ' ') {
			malformed++;
			continue;
		}
		count_state(c, state);
	}
	return malformed + (*line != 0);
}

int tcpstates_parse_snmp(const char *text, uint64_t *ret_passive_opens)
{
	const char *head = strstr(text, "\nTcp: "), *vals, *p, *q;
	size_t col = 0;

	if (strncmp(text, "Tcp: ", 5) == 0)
		head = text;
	else if (head)
		head++;
	if (!head || !(vals = strstr(head + 1, "\nTcp: ")))
		return -EINVAL;
	vals++;
	/* The column of PassiveOpens in the header... */
	for (p = head + 5; *p != '\n'; col++) {
		size_t n = strcspn(p, " \n");

		if (n == 12 && strncmp(p, "PassiveOpens", 12) == 0)
			break;
		p += n;
		while (*p == ' ')
			p++;
		if (!*p)
			return -EINVAL;
	}
	if (*p == '\n')
		return -EINVAL;
	/* ...then that column of the values (MaxConn before it is -1). */
	for (q = vals + 5; col > 0; col--) {
		q += strcspn(q, " \n");
		if (*q != ' ')
			return -EINVAL;
		q++;
	}
	if (procfs_parse_u64(&q, ret_passive_opens) || (*q != ' ' && *q != '\n'))
		return -EINVAL;
	return 0;
}

/* ------------------------------------------------------------ the reader */

struct tcpstates {
	int nl_fd; /* -1 until opened, and after a failure */
	uint32_t seq;
	void *buf;
	struct procfs_file tcp, tcp6, snmp;
	double interval_s;
	double counted_at; /* monotonic time of the last count */
	bool counted;	   /* last holds a count */
	struct tcpstates_counts last;
};

int tcpstates_new(const char *proc_root, double interval_s, struct tcpstates **ret)
{
	struct tcpstates *ts = calloc(1, sizeof(*ts));
	int err;

	if (!ts)
		return -ENOMEM;
	ts->interval_s = interval_s;
	ts->nl_fd = -1;
	ts->tcp.fd = ts->tcp6.fd = ts->snmp.fd = -1;
	ts->buf = malloc(DIAG_BUF_BYTES);
	err = ts->buf ? 0 : -ENOMEM;
	if (!err)
		err = procfs_file_init(&ts->tcp, proc_root, "net/tcp", TCP_PROC_MAX_BYTES, false);
	if (!err) /* no IPv6, no tcp6 */
		err = procfs_file_init(&ts->tcp6, proc_root, "net/tcp6", TCP_PROC_MAX_BYTES, true);
	if (!err)
		err = procfs_file_init(&ts->snmp, proc_root, "net/snmp", SNMP_MAX_BYTES, false);
	if (err) {
		tcpstates_free(ts);
		return err;
	}
	*ret = ts;
	return 0;
}

static void close_netlink(struct tcpstates *ts)
{
	if (ts->nl_fd >= 0)
		close(ts->nl_fd);
	ts->nl_fd = -1;
}

struct tcpstates *tcpstates_free(struct tcpstates *ts)
{
	if (!ts)
		return NULL;
	close_netlink(ts);
	free(ts->buf);
	procfs_file_close(&ts->tcp);
	procfs_file_close(&ts->tcp6);
	procfs_file_close(&ts->snmp);
	free(ts);
	return NULL;
}

static int open_netlink(struct tcpstates *ts)
{
	/* A reply that never comes cannot stall the round for long. */
	struct timeval tv = {.tv_sec = 2};

	if (ts->nl_fd >= 0)
		return 0;
	ts->nl_fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (ts->nl_fd < 0)
		return -errno;
	if (setsockopt(ts->nl_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0) {
		int err = -errno;

		close_netlink(ts);
		return err;
	}
	return 0;
}

/* One dump of one family's TCP sockets in every state. */
static int dump_family(struct tcpstates *ts, int family, struct tcpstates_counts *c)
{
	struct {
		struct nlmsghdr h;
		struct inet_diag_req_v2 req;
	} msg = {
	    .h = {.nlmsg_len = sizeof(msg),
		  .nlmsg_type = SOCK_DIAG_BY_FAMILY,
		  .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		  .nlmsg_seq = ++ts->seq},
	    .req = {.sdiag_family = (__u8)family,
		    .sdiag_protocol = IPPROTO_TCP,
		    .idiag_states = TCP_ALL_STATES},
	};
	struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
	int r = 0;

	if (sendto(ts->nl_fd, &msg, sizeof(msg), 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	while (r == 0) {
		struct iovec iov = {ts->buf, DIAG_BUF_BYTES};
		struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
		ssize_t n = recvmsg(ts->nl_fd, &mh, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0 || (mh.msg_flags & MSG_TRUNC))
			return -EBADMSG;
		r = tcpstates_count_diag(ts->buf, (size_t)n, ts->seq, c);
	}
	return r < 0 ? r : 0;
}

static int count_netlink(struct tcpstates *ts, struct tcpstates_counts *c)
{
	int err = open_netlink(ts);

	if (!err)
		err = dump_family(ts, AF_INET, c);
	/* A kernel without IPv6 has no AF_INET6 handler. */
	if (!err) {
		err = dump_family(ts, AF_INET6, c);
		if (err == -ENOENT || err == -EAFNOSUPPORT)
			err = 0;
	}
	/* What is left of a broken dump must not reach the next one. */
	if (err)
		close_netlink(ts);
	return err;
}

static int count_procfs(struct tcpstates *ts, struct tcpstates_counts *c)
{
	struct procfs_file *files[] = {&ts->tcp, &ts->tcp6};
	long n;
	int m;

	for (size_t i = 0; i < 2; i++) {
		n = procfs_file_read(files[i]);
		if (n == -ENOENT && files[i]->optional)
			continue;
		if (n < 0)
			return (int)n;
		m = tcpstates_count_proc(files[i]->buf, c);
		if (m < 0) {
			files[i]->errors++;
			return m;
		}
		files[i]->errors += (unsigned)m;
	}
	return 0;
}

int tcpstates_count(struct tcpstates *ts, enum tcpstates_source src, struct tcpstates_counts *ret)
{
	struct tcpstates_counts c = {};
	int err = src == TCPSTATES_NETLINK ? count_netlink(ts, &c) : count_procfs(ts, &c);

	if (!err)
		*ret = c;
	return err;
}

int tcpstates_sample(struct tcpstates *ts, struct registry *r)
{
	double now = clock_mono_s();
	uint64_t passive;
	int err = 0;

	if (!ts->counted || now - ts->counted_at >= ts->interval_s) {
		ts->counted = tcpstates_count(ts, TCPSTATES_NETLINK, &ts->last) == 0 ||
			      tcpstates_count(ts, TCPSTATES_PROCFS, &ts->last) == 0;
		ts->counted_at = now;
	}
	for (unsigned s = 1; ts->counted && s < TCPSTATES_NR && !err; s++) {
		struct metric_label l[] = {{"state", state_names[s]}};

		err = registry_set_gauge(r, "kpulse_net_tcp_connections", l, 1,
					 (double)ts->last.by_state[s]);
	}
	if (!err && procfs_file_read(&ts->snmp) >= 0) {
		if (tcpstates_parse_snmp(ts->snmp.buf, &passive) == 0)
			err = registry_set_counter(r, "kpulse_net_tcp_passive_opens_total", NULL, 0,
						   (double)passive);
		else
			ts->snmp.errors++;
	}
	if (!err)
		err = procfs_file_report(&ts->snmp, r);
	if (!err)
		err = procfs_file_report(&ts->tcp, r);
	if (!err)
		err = procfs_file_report(&ts->tcp6, r);
	return err;
}

void tcpstates_describe(struct registry *r)
{
	registry_describe(r, "kpulse_net_tcp_connections",
			  "TCP sockets by state in kpulse's network namespace, as ss -tan counts "
			  "them");
	registry_describe(r, "kpulse_net_tcp_passive_opens_total",
			  "Connections accepted from LISTEN (PassiveOpens, /proc/net/snmp)");
}
