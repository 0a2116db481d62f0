// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_tcpstates.c - sock_diag replies, /proc/net/tcp{,6} text, PassiveOpens
 * of /proc/net/snmp, and both sources on sockets the test opens. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#include "test.h"
#include "collection/tcpstates.h"

/* Appends one message to buf at *off. */
static void put_msg(char *buf, size_t *off, uint16_t type, uint32_t seq, const void *payload,
		    size_t len)
{
	struct nlmsghdr *h = (struct nlmsghdr *)(buf + *off);

	memset(h, 0, NLMSG_SPACE(len));
	h->nlmsg_len = NLMSG_LENGTH(len);
	h->nlmsg_type = type;
	h->nlmsg_seq = seq;
	memcpy(NLMSG_DATA(h), payload, len);
	*off += NLMSG_SPACE(len);
}

static void put_sock(char *buf, size_t *off, uint32_t seq, uint8_t state)
{
	struct inet_diag_msg m = {.idiag_family = AF_INET, .idiag_state = state};

	put_msg(buf, off, SOCK_DIAG_BY_FAMILY, seq, &m, sizeof(m));
}

TEST(diag_reply_counts_states_and_request_sockets_as_syn_recv)
{
	static char buf[4096];
	struct tcpstates_counts c = {};
	size_t off = 0;
	int done = 0;

	put_sock(buf, &off, 7, 1); /* ESTABLISHED */
	put_sock(buf, &off, 7, 1);
	put_sock(buf, &off, 7, 10); /* LISTEN */
	put_sock(buf, &off, 7, 12); /* NEW_SYN_RECV */
	put_sock(buf, &off, 6, 1);  /* a stale dump's */
	put_sock(buf, &off, 7, 99); /* unknown state: not counted */
	CHECK_EQ_INT(tcpstates_count_diag(buf, off, 7, &c), 0);
	put_msg(buf + off, &(size_t){0}, NLMSG_DONE, 7, &done, sizeof(done));
	CHECK_EQ_INT(tcpstates_count_diag(buf, off + NLMSG_SPACE(sizeof(done)), 7, &c), 1);
	/* the second call counted the same four again */
	CHECK_EQ_INT(c.by_state[1], 4);
	CHECK_EQ_INT(c.by_state[10], 2);
	CHECK_EQ_INT(c.by_state[3], 2);
	CHECK_STR(tcpstates_name(3), "syn_recv");
	CHECK_STR(tcpstates_name(11), "closing");
	CHECK(tcpstates_name(0) == NULL && tcpstates_name(12) == NULL);
}

TEST(diag_errors_and_broken_messages_are_reported)
{
	static char buf[4096];
	struct tcpstates_counts c = {};
	struct nlmsgerr e = {.error = -EPERM};
	size_t off = 0;

	put_msg(buf, &off, NLMSG_ERROR, 3, &e, sizeof(e));
	CHECK_EQ_INT(tcpstates_count_diag(buf, off, 3, &c), -EPERM);
	/* a socket message too short for inet_diag_msg */
	off = 0;
	put_msg(buf, &off, SOCK_DIAG_BY_FAMILY, 3, &e, 4);
	CHECK_EQ_INT(tcpstates_count_diag(buf, off, 3, &c), -EBADMSG);
	/* a buffer cut inside a message */
	off = 0;
	put_sock(buf, &off, 3, 1);
	CHECK_EQ_INT(tcpstates_count_diag(buf, off - 8, 3, &c), -EBADMSG);
	CHECK_EQ_INT(tcpstates_count_diag(buf, 0, 3, &c), 0);
}

/* Found by fuzz_proc_text: a last message whose length is not a multiple
 * of 4 ends the buffer without its padding. The walk used to take the
 * padding off a size_t count, which wrapped, and read past the buffer
 * (an exact-size heap copy here, so ASan sees any such read). */
TEST(diag_last_message_without_padding_ends_the_walk)
{
	static char buf[256];
	struct tcpstates_counts c = {};
	size_t off = 0, len;
	char *exact;

	put_sock(buf, &off, 5, 1);
	put_sock(buf, &off, 5, 10);
	((struct nlmsghdr *)(buf + off - NLMSG_SPACE(sizeof(struct inet_diag_msg))))->nlmsg_len +=
	    1;
	len = off - NLMSG_SPACE(sizeof(struct inet_diag_msg)) +
	      NLMSG_LENGTH(sizeof(struct inet_diag_msg)) + 1;
	exact = malloc(len);
	CHECK(exact != NULL);
	memcpy(exact, buf, len);
	CHECK_EQ_INT(tcpstates_count_diag(exact, len, 5, &c), 0);
	CHECK_EQ_INT(c.by_state[1], 1);
	CHECK_EQ_INT(c.by_state[10], 1);
	free(exact);
}

TEST(proc_net_tcp_of_6_18_counts_each_state)
{
	struct tcpstates_counts c = {};
	char *v4 = test_fixture("proc-6.18/net/tcp"), *v6 = test_fixture("proc-6.18/net/tcp6");

	CHECK(v4 && v6);
	CHECK_EQ_INT(tcpstates_count_proc(v4, &c), 0);
	CHECK_EQ_INT(c.by_state[1], 4);
	CHECK_EQ_INT(c.by_state[6], 20);
	CHECK_EQ_INT(c.by_state[10], 5);
	CHECK_EQ_INT(tcpstates_count_proc(v6, &c), 0);
	CHECK_EQ_INT(c.by_state[1], 6);
	CHECK_EQ_INT(c.by_state[5], 1);
	CHECK_EQ_INT(c.by_state[8], 1);
	CHECK_EQ_INT(c.by_state[10], 6);
	free(v4);
	free(v6);
}

TEST(proc_net_tcp_bad_lines_are_counted_and_a_missing_header_refused)
{
	struct tcpstates_counts c = {};
	const char *text = "  sl  local_address rem_address   st tx_queue\n"
			   "   0: 0100007F:943F 00000000:0000 0A 00000000:00000000\n"
			   "   1: 0100007F:943F 00000000:0000 0G 00000000:00000000\n"
			   "   2: 0100007F:943F\n"
			   "   3: 0100007F:943F 00000000:0000 01 0";

	CHECK_EQ_INT(tcpstates_count_proc(text, &c), 3);
	CHECK_EQ_INT(c.by_state[10], 1);
	CHECK_EQ_INT(c.by_state[1], 0);
	CHECK_EQ_INT(tcpstates_count_proc("0: 0100007F:943F 00000000:0000 0A\n", &c), -EINVAL);
	CHECK_EQ_INT(tcpstates_count_proc("", &c), -EINVAL);
}

TEST(passive_opens_are_found_by_their_column_in_old_and_new_layouts)
{
	char *now = test_fixture("proc-6.18/net/snmp"), *old = test_fixture("snmp-3.9");
	uint64_t v = 0;

	CHECK(now && old);
	CHECK_EQ_INT(tcpstates_parse_snmp(now, &v), 0);
	CHECK(v > 0);
	CHECK_EQ_INT(tcpstates_parse_snmp(old, &v), 0);
	CHECK_EQ_INT(v, 17);
	free(now);
	free(old);
	v = 5;
	CHECK_EQ_INT(tcpstates_parse_snmp("Tcp: RtoAlgorithm PassiveOpens\n", &v), -EINVAL);
	CHECK_EQ_INT(tcpstates_parse_snmp("Tcp: A B\nTcp: 1 2\n", &v), -EINVAL);
	CHECK_EQ_INT(tcpstates_parse_snmp("Tcp: A PassiveOpens\nTcp: -1 x\n", &v), -EINVAL);
	CHECK_EQ_INT(tcpstates_parse_snmp("Tcp: A B PassiveOpens\nTcp: -1 9\n", &v), -EINVAL);
	CHECK_EQ_INT(tcpstates_parse_snmp("", &v), -EINVAL);
	CHECK_EQ_INT(v, 5);
	CHECK_EQ_INT(tcpstates_parse_snmp("Ip: 1\nIp: 2\nTcp: A PassiveOpens\nTcp: -1 9\n", &v), 0);
	CHECK_EQ_INT(v, 9);
}

/* A listener and one connection on 127.0.0.1: both sources see them. */
TEST(netlink_and_proc_both_count_the_sockets_of_this_test)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t alen = sizeof(a);
	struct tcpstates_counts nl = {}, pf = {};
	struct tcpstates *ts = NULL;
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), c = -1, s = -1;
	int enl = -1, epf = -1;

	if (l >= 0 && bind(l, (struct sockaddr *)&a, sizeof(a)) == 0 && listen(l, 4) == 0 &&
	    getsockname(l, (struct sockaddr *)&a, &alen) == 0 &&
	    (c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) >= 0 &&
	    connect(c, (struct sockaddr *)&a, sizeof(a)) == 0 && (s = accept(l, NULL, NULL)) >= 0 &&
	    tcpstates_new("/proc", 0, &ts) == 0) {
		enl = tcpstates_count(ts, TCPSTATES_NETLINK, &nl);
		epf = tcpstates_count(ts, TCPSTATES_PROCFS, &pf);
	}
	close(s);
	close(c);
	close(l);
	tcpstates_free(ts);
	CHECK_EQ_INT(enl, 0);
	CHECK_EQ_INT(epf, 0);
	CHECK(nl.by_state[1] >= 2 && nl.by_state[10] >= 1);
	CHECK(pf.by_state[1] >= 2 && pf.by_state[10] >= 1);
}

static double listening(struct tcpstates *ts, struct registry *r)
{
	struct metric_label l[] = {{"state", "listen"}};
	const struct metric_series *s;

	registry_begin(r, 0, 1);
	tcpstates_sample(ts, r);
	registry_end(r);
	s = registry_find(r, "kpulse_net_tcp_connections", l, 1);
	return s ? s->value : -1;
}

/* 50 listeners opened between two rounds show at once with interval 0, and
 * not before the interval is over with a long one. */
TEST(counts_are_taken_at_most_once_an_interval)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct registry *r = registry_new();
	struct tcpstates *every = NULL, *hourly = NULL;
	double e0 = -1, e1 = -1, h0 = -1, h1 = -1;
	int l[50], n = 0;

	CHECK(r);
	if (tcpstates_new("/proc", 0, &every) == 0 && tcpstates_new("/proc", 3600, &hourly) == 0) {
		e0 = listening(every, r);
		h0 = listening(hourly, r);
		for (; n < 50; n++) {
			l[n] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
			if (l[n] < 0 || bind(l[n], (struct sockaddr *)&a, sizeof(a)) != 0 ||
			    listen(l[n], 1) != 0)
				break;
		}
		e1 = listening(every, r);
		h1 = listening(hourly, r);
	}
	for (int i = 0; i < n; i++)
		close(l[i]);
	tcpstates_free(every);
	tcpstates_free(hourly);
	registry_free(r);
	CHECK_EQ_INT(n, 50);
	CHECK(e0 >= 0 && h0 >= 0);
	/* others on this machine may open or close a few meanwhile */
	CHECK(e1 - e0 >= 40);
	CHECK_NEAR(h1, h0, 0);
}

TEST(sample_sets_every_state_and_passive_opens)
{
	struct registry *r = registry_new();
	struct tcpstates *ts = NULL;
	struct metric_label l[] = {{"state", "time_wait"}};
	const struct metric_series *s;

	CHECK(r);
	CHECK_EQ_INT(tcpstates_new("/proc", 0, &ts), 0);
	registry_begin(r, 0, 1);
	CHECK_EQ_INT(tcpstates_sample(ts, r), 0);
	registry_end(r);
	CHECK(registry_find(r, "kpulse_net_tcp_connections", l, 1));
	CHECK(registry_find(r, "kpulse_net_tcp_passive_opens_total", NULL, 0));
	/* 11 states, passive opens, the snmp error counter (netlink used) */
	CHECK_EQ_INT(registry_size(r), 13);
	tcpstates_free(ts);

	/* Without /proc: netlink still counts, the snmp failure is counted */
	CHECK_EQ_INT(tcpstates_new("/nonexistent-kpulse", 0, &ts), 0);
	registry_begin(r, 0, 1);
	CHECK_EQ_INT(tcpstates_sample(ts, r), 0);
	registry_end(r);
	CHECK(registry_find(r, "kpulse_net_tcp_connections", l, 1));
	{
		struct metric_label f[] = {{"file", "/proc/net/snmp"}};

		s = registry_find(r, "kpulse_procfs_errors_total", f, 1);
		CHECK(s && s->value == 1);
	}
	CHECK(tcpstates_free(ts) == NULL);
	CHECK(tcpstates_free(NULL) == NULL);
	registry_free(r);
}

TEST_MAIN()
