// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * netdev.c - the interfaces of /proc/net/dev and their error and drop
 * counters. Packets and bytes come from BPF (collector.c), which also
 * gives the interfaces listed here their zero series until they see
 * traffic.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "collection/netdev.h"
#include "collection/procfs.h"

#define NETDEV_MAX_BYTES (16 << 20) /* ~160 bytes per interface */

void netdev_text_clear(struct netdev_text *t)
{
	free(t->ifs);
	memset(t, 0, sizeof(*t));
}

/* "  eth0: 1 2 ... 16\n" */
static int parse_line(const char *line, const char *nl, struct netdev_iface *ret)
{
	const char *p = line, *colon;
	struct netdev_iface d = {};
	size_t len;

	while (*p == ' ')
		p++;
	colon = memchr(p, ':', (size_t)(nl - p));
	if (!colon)
		return -EINVAL;
	len = (size_t)(colon - p);
	if (len == 0 || len >= NETDEV_NAME_LEN || memchr(p, ' ', len))
		return -EINVAL;
	memcpy(d.name, p, len);
	p = colon + 1;
	for (int i = 0; i < NETDEV_COL_NR; i++)
		if (procfs_parse_u64(&p, &d.v[i]))
			return -EINVAL;
	while (*p == ' ')
		p++;
	if (p != nl)
		return -EINVAL;
	*ret = d;
	return 0;
}

int netdev_parse(const char *text, struct netdev_text *ret)
{
	const char *line = text, *nl;
	int header = 0;

	ret->n = 0;
	ret->malformed = 0;
	for (; (nl = strchr(line, '\n')); line = nl + 1) {
		struct netdev_iface d;

		/* "Inter-|   Receive ..." and " face |bytes    packets ..." */
		if (header < 2) {
			if (!memchr(line, '|', (size_t)(nl - line)))
				return -EINVAL;
			header++;
			continue;
		}
		if (parse_line(line, nl, &d)) {
			ret->malformed++;
			continue;
		}
		if (ret->n == ret->cap) {
			size_t cap = ret->cap ? 2 * ret->cap : 16;
			struct netdev_iface *n = realloc(ret->ifs, cap * sizeof(*n));

			if (!n)
				return -ENOMEM;
			ret->ifs = n;
			ret->cap = cap;
		}
		ret->ifs[ret->n++] = d;
	}
	if (*line)
		ret->malformed++;
	return header == 2 ? 0 : -EINVAL;
}

/* ------------------------------------------------------------ the reader */

struct netdev {
	struct procfs_file file;
	struct netdev_text text;
	unsigned max_interfaces;
	size_t listed; /* interfaces listed by the last round */
	bool valid;    /* the last round read and parsed the file */
};

int netdev_new(const char *proc_root, unsigned max_interfaces, struct netdev **ret)
{
	struct netdev *nd = calloc(1, sizeof(*nd));
	int err;

	if (!nd)
		return -ENOMEM;
	nd->max_interfaces = max_interfaces;
	err = procfs_file_init(&nd->file, proc_root, "net/dev", NETDEV_MAX_BYTES, false);
	if (err) {
		netdev_free(nd);
		return err;
	}
	*ret = nd;
	return 0;
}

struct netdev *netdev_free(struct netdev *nd)
{
	if (!nd)
		return NULL;
	procfs_file_close(&nd->file);
	netdev_text_clear(&nd->text);
	free(nd);
	return NULL;
}

long netdev_count(const struct netdev *nd)
{
	return nd->valid ? (long)nd->listed : -ENODATA;
}

const char *netdev_name(const struct netdev *nd, size_t i)
{
	return i < nd->listed ? nd->text.ifs[i].name : NULL;
}

static const struct {
	const char *name;
	enum netdev_col col;
} counters[] = {
    {"kpulse_net_rx_errors_total", NETDEV_RX_ERRS},
    {"kpulse_net_rx_dropped_total", NETDEV_RX_DROP},
    {"kpulse_net_tx_errors_total", NETDEV_TX_ERRS},
    {"kpulse_net_tx_dropped_total", NETDEV_TX_DROP},
};

int netdev_sample(struct netdev *nd, struct registry *r)
{
	int err = 0, perr;

	nd->listed = 0;
	nd->valid = false;
	if (procfs_file_read(&nd->file) < 0)
		return procfs_file_report(&nd->file, r);
	perr = netdev_parse(nd->file.buf, &nd->text);
	if (perr == -ENOMEM)
		return perr;
	nd->file.errors += perr ? 1 : nd->text.malformed;
	if (!perr) {
		nd->valid = true;
		nd->listed = nd->text.n < nd->max_interfaces ? nd->text.n : nd->max_interfaces;
		for (size_t i = 0; i < nd->listed && !err; i++) {
			const struct netdev_iface *d = &nd->text.ifs[i];
			struct metric_label l[] = {{"interface", d->name}};

			for (size_t k = 0; k < sizeof(counters) / sizeof(counters[0]) && !err; k++)
				err = registry_set_counter(r, counters[k].name, l, 1,
							   (double)d->v[counters[k].col]);
		}
		if (!err)
			err = registry_set_gauge(r, "kpulse_net_interfaces_unlisted", NULL, 0,
						 (double)(nd->text.n - nd->listed));
	}
	if (!err)
		err = procfs_file_report(&nd->file, r);
	return err;
}

void netdev_describe(struct registry *r)
{
	registry_describe(r, "kpulse_net_rx_errors_total",
			  "Receive errors, errs in /proc/net/dev (since the interface appeared)");
	registry_describe(r, "kpulse_net_rx_dropped_total",
			  "Received packets dropped, drop in /proc/net/dev");
	registry_describe(r, "kpulse_net_tx_errors_total", "Transmit errors, /proc/net/dev");
	registry_describe(r, "kpulse_net_tx_dropped_total",
			  "Packets dropped on transmit, /proc/net/dev");
	registry_describe(
	    r, "kpulse_net_interfaces_unlisted",
	    "Interfaces in /proc/net/dev beyond KPULSE_MAX_INTERFACES, without series");
}
