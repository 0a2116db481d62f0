// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * events.c - ring-buffer record -> JSON. Every string that comes from the
 * kernel (comm, cgroup name) is bounded and checked for valid UTF-8 before
 * it reaches jansson, which refuses invalid UTF-8.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "kpulse_abi.h"
#include "collection/events.h"
#include "collection/procfs.h"
#include "util/utf8.h"

static const struct {
	const char *name;
	size_t size;
} event_types[KP_EV_TYPE_MAX] = {
    [KP_EV_EXEC] = {"exec", sizeof(struct kp_event_proc)},
    [KP_EV_FORK] = {"fork", sizeof(struct kp_event_proc)},
    [KP_EV_EXIT] = {"exit", sizeof(struct kp_event_proc)},
    [KP_EV_OOM_KILL] = {"oom_kill", sizeof(struct kp_event_oom)},
    [KP_EV_SLOW_IO] = {"slow_io", sizeof(struct kp_event_slow_io)},
    [KP_EV_TCP_RETRANSMIT] = {"tcp_retransmit", sizeof(struct kp_event_tcp_retransmit)},
    [KP_EV_TCP_CLOSE] = {"tcp_close", sizeof(struct kp_event_tcp_close)},
};

const char *event_type_name(uint32_t type)
{
	return type < KP_EV_TYPE_MAX ? event_types[type].name : NULL;
}

/* A fixed-size kernel string as a JSON string: stops at NUL or the end of
 * the field; bytes that are not valid UTF-8, and control characters, are
 * escaped as \xNN (util/utf8.h), so a task that renamed itself to any
 * bytes is still recorded, under a printable name. */
static json_t *kernel_string(const char *s, size_t max)
{
	char buf[4 * KP_CGROUP_NAME_LEN + 1];
	size_t n = utf8_sanitize(buf, sizeof(buf), s, max, NULL);

	return json_stringn(buf, n);
}

static const char *op_name(uint32_t op)
{
	switch (op) {
	case KP_BLK_OP_READ:
		return "read";
	case KP_BLK_OP_WRITE:
		return "write";
	case KP_BLK_OP_DISCARD:
		return "discard";
	default:
		return "other";
	}
}

static const char *tcp_state_name(uint32_t s)
{
	static const char *names[] = {
	    "UNKNOWN",	 "ESTABLISHED", "SYN_SENT",	"SYN_RECV",   "FIN_WAIT1",
	    "FIN_WAIT2", "TIME_WAIT",	"CLOSE",	"CLOSE_WAIT", "LAST_ACK",
	    "LISTEN",	 "CLOSING",	"NEW_SYN_RECV",
	};

	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "UNKNOWN";
}

static int add_tuple(json_t *o, const struct kp_tcp_tuple *t)
{
	char saddr[INET6_ADDRSTRLEN] = "?", daddr[INET6_ADDRSTRLEN] = "?";
	int af = t->family == 10 ? AF_INET6 : AF_INET;

	inet_ntop(af, t->saddr, saddr, sizeof(saddr));
	inet_ntop(af, t->daddr, daddr, sizeof(daddr));
	return json_object_set_new(o, "family", json_string(af == AF_INET6 ? "ipv6" : "ipv4")) |
	       json_object_set_new(o, "saddr", json_string(saddr)) |
	       json_object_set_new(o, "sport", json_integer(t->sport)) |
	       json_object_set_new(o, "daddr", json_string(daddr)) |
	       json_object_set_new(o, "dport", json_integer(t->dport));
}

json_t *event_to_json(const void *data, size_t size, double mono_offset_s)
{
	const struct kp_event_hdr *h = data;
	json_t *o;
	int err;

	if (size < sizeof(*h) || h->type == 0 || h->type >= KP_EV_TYPE_MAX ||
	    size < event_types[h->type].size) {
		errno = EINVAL;
		return NULL;
	}
	o = json_object();
	if (!o)
		goto nomem;
	err = json_object_set_new(o, "type", json_string(event_types[h->type].name)) |
	      json_object_set_new(o, "timestamp", json_real(h->ts_ns / 1e9 + mono_offset_s)) |
	      json_object_set_new(o, "pid", json_integer(h->pid)) |
	      json_object_set_new(o, "comm", kernel_string(h->comm, sizeof(h->comm)));

	switch (h->type) {
	case KP_EV_EXEC:
	case KP_EV_FORK:
	case KP_EV_EXIT: {
		const struct kp_event_proc *e = data;

		err |= json_object_set_new(o, "ppid", json_integer(e->ppid));
		if (h->type == KP_EV_EXIT) {
			err |=
			    json_object_set_new(o, "exit_code",
						json_integer((e->exit_code >> 8) & 0xff)) |
			    json_object_set_new(o, "signal", json_integer(e->exit_code & 0x7f)) |
			    json_object_set_new(o, "lifetime_s", json_real(e->lifetime_ns / 1e9)) |
			    json_object_set_new(o, "minor_faults", json_integer(e->min_flt)) |
			    json_object_set_new(o, "major_faults", json_integer(e->maj_flt));
		}
		break;
	}
	case KP_EV_OOM_KILL: {
		const struct kp_event_oom *e = data;

		err |= json_object_set_new(o, "memcg", kernel_string(e->memcg, sizeof(e->memcg))) |
		       json_object_set_new(o, "total_vm_pages", json_integer(e->total_vm_pages)) |
		       json_object_set_new(o, "rss_pages", json_integer(e->rss_pages));
		break;
	}
	case KP_EV_SLOW_IO: {
		const struct kp_event_slow_io *e = data;
		char dev[32];

		procfs_block_devname(KP_DEV_MAJOR(e->dev), KP_DEV_MINOR(e->dev), dev, sizeof(dev));
		err |= json_object_set_new(o, "device", json_string(dev)) |
		       json_object_set_new(o, "op", json_string(op_name(e->op))) |
		       json_object_set_new(o, "bytes", json_integer(e->bytes)) |
		       json_object_set_new(o, "latency_s", json_real(e->latency_ns / 1e9));
		break;
	}
	case KP_EV_TCP_RETRANSMIT: {
		const struct kp_event_tcp_retransmit *e = data;

		err |= add_tuple(o, &e->tuple) |
		       json_object_set_new(o, "state", json_string(tcp_state_name(e->state))) |
		       json_object_set_new(o, "segs", json_integer(e->segs));
		break;
	}
	case KP_EV_TCP_CLOSE: {
		const struct kp_event_tcp_close *e = data;

		err |= add_tuple(o, &e->tuple) |
		       json_object_set_new(o, "connect_latency_s",
					   json_real(e->connect_latency_ns / 1e9)) |
		       json_object_set_new(o, "lifetime_s", json_real(e->lifetime_ns / 1e9)) |
		       json_object_set_new(o, "bytes_sent", json_integer(e->bytes_sent)) |
		       json_object_set_new(o, "bytes_received", json_integer(e->bytes_received));
		break;
	}
	}
	if (err)
		goto nomem;
	return o;
nomem:
	json_decref(o);
	errno = ENOMEM;
	return NULL;
}
