/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * tcpstates.h - TCP sockets by state in kpulse's network namespace, as
 * `ss -tan` counts them, and the passive opens of /proc/net/snmp. The
 * counts come from one sock_diag (INET_DIAG) dump per address family: the
 * kernel walks its socket tables either way, and the binary dump spares
 * it formatting and kpulse parsing the text of /proc/net/tcp, which stays
 * as the fallback where sock_diag is refused.
 */
#ifndef KPULSE_TCPSTATES_H
#define KPULSE_TCPSTATES_H

#include <stddef.h>
#include <stdint.h>

#include "registry/registry.h"

/* Kernel TCP states run from 1 (ESTABLISHED) to 11 (CLOSING); request
 * sockets (NEW_SYN_RECV, 12) are counted as SYN_RECV, as ss shows them. */
#define TCPSTATES_NR 12

struct tcpstates_counts {
	uint64_t by_state[TCPSTATES_NR]; /* [0] unused */
};

/* "established", "syn_sent", ... "closing"; NULL for 0 or out of range. */
const char *tcpstates_name(unsigned state);

/*
 * Counts the sockets in one buffer of a sock_diag dump reply (messages
 * with sequence number seq; others are stale and skipped). Returns 1 when
 * the buffer ends the dump (NLMSG_DONE), 0 when more is to come, or
 * -errno from an NLMSG_ERROR, -EBADMSG for a malformed message. Counts
 * already added stay added.
 */
int tcpstates_count_diag(const void *buf, size_t len, uint32_t seq, struct tcpstates_counts *c);

/* Counts the sockets of /proc/net/tcp or tcp6 text. Returns the number of
 * malformed lines (a cut last line included), or -EINVAL without the
 * header line. */
int tcpstates_count_proc(const char *text, struct tcpstates_counts *c);

/* PassiveOpens from /proc/net/snmp text (the "Tcp:" header and value
 * lines). Returns 0 or -EINVAL; *ret only on success. */
int tcpstates_parse_snmp(const char *text, uint64_t *ret_passive_opens);

enum tcpstates_source {
	TCPSTATES_NETLINK,
	TCPSTATES_PROCFS,
};

struct tcpstates;

/* Counting walks the kernel's whole established hash (its size grows with
 * the machine's memory: ~2 ms per family here with 262,144 buckets), so the
 * counts are taken at most every interval_s seconds and the last ones
 * reported in between; 0 counts every round. */
int tcpstates_new(const char *proc_root, double interval_s, struct tcpstates **ret);
struct tcpstates *tcpstates_free(struct tcpstates *ts);

/* Counts every TCP socket of the namespace from one source (make bench
 * compares them). Returns 0 or -errno; *ret only on success. */
int tcpstates_count(struct tcpstates *ts, enum tcpstates_source src, struct tcpstates_counts *ret);

/* One round: kpulse_net_tcp_connections{state} for every state (the last
 * count, from netlink, or from /proc/net/tcp{,6} when netlink failed),
 * kpulse_net_tcp_passive_opens_total and the files'
 * kpulse_procfs_errors_total. Returns 0 or the registry's error. */
int tcpstates_sample(struct tcpstates *ts, struct registry *r);
void tcpstates_describe(struct registry *r);

#endif /* KPULSE_TCPSTATES_H */
