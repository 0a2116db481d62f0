/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * netdev.h - /proc/net/dev of kpulse's network namespace: which interfaces
 * exist (so each has its series from the first round, and loses them when
 * it goes), and the receive and transmit errors and drops the kernel
 * counts for each.
 */
#ifndef KPULSE_NETDEV_H
#define KPULSE_NETDEV_H

#include <stddef.h>
#include <stdint.h>

#include "registry/registry.h"

#define NETDEV_NAME_LEN 16 /* IFNAMSIZ */

/* The 16 columns of a /proc/net/dev line, in the kernel's order. */
enum netdev_col {
	NETDEV_RX_BYTES,
	NETDEV_RX_PACKETS,
	NETDEV_RX_ERRS,
	NETDEV_RX_DROP,
	NETDEV_RX_FIFO,
	NETDEV_RX_FRAME,
	NETDEV_RX_COMPRESSED,
	NETDEV_RX_MULTICAST,
	NETDEV_TX_BYTES,
	NETDEV_TX_PACKETS,
	NETDEV_TX_ERRS,
	NETDEV_TX_DROP,
	NETDEV_TX_FIFO,
	NETDEV_TX_COLLS,
	NETDEV_TX_CARRIER,
	NETDEV_TX_COMPRESSED,
	NETDEV_COL_NR,
};

struct netdev_iface {
	char name[NETDEV_NAME_LEN];
	uint64_t v[NETDEV_COL_NR];
};

/* What one /proc/net/dev text holds. The parser owns ifs (grown as
 * needed); netdev_text_clear() frees it. */
struct netdev_text {
	struct netdev_iface *ifs;
	size_t n, cap;
	unsigned malformed; /* lines that did not parse, or a cut last line */
};

/*
 * Parses /proc/net/dev text: two header lines, then "name: 16 numbers"
 * per interface. A line with a bad name (empty, too long) or fewer than
 * 16 numbers is counted in malformed and skipped. Returns 0, -EINVAL when
 * the header is missing, or -ENOMEM. ifs is reused.
 */
int netdev_parse(const char *text, struct netdev_text *ret);
void netdev_text_clear(struct netdev_text *t);

struct netdev;

/* max_interfaces bounds the interfaces listed per round; the rest are
 * counted in kpulse_net_interfaces_unlisted. */
int netdev_new(const char *proc_root, unsigned max_interfaces, struct netdev **ret);
struct netdev *netdev_free(struct netdev *nd);

/* One round: kpulse_net_{rx,tx}_{errors,dropped}_total{interface},
 * kpulse_net_interfaces_unlisted and the file's kpulse_procfs_errors_total.
 * Returns 0 or the registry's error. */
int netdev_sample(struct netdev *nd, struct registry *r);

/* The interfaces listed by the last round, in file order. netdev_count()
 * is -ENODATA when the last round could not read the file (then nothing
 * is known about interfaces). */
long netdev_count(const struct netdev *nd);
const char *netdev_name(const struct netdev *nd, size_t i);

void netdev_describe(struct registry *r);

#endif /* KPULSE_NETDEV_H */
