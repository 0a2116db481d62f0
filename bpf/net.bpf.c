// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * net.bpf.c - network probes: per-interface rx / tx packets and bytes,
 * TCP retransmitted segments (with events), resets sent and received, the
 * TCP connection lifecycle (connect latency, lifetime and bytes as events
 * on close) and packet drops by kernel drop reason.
 */
#include "vmlinux.h"
#include "kpulse.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader from BTF: tcp_retransmit_skb gained an `err` argument
 * in 6.11 and fires for failed attempts too, which RetransSegs skips. */
const volatile bool retransmit_has_err = false;

#define AF_INET	     2
#define AF_INET6     10
#define IPPROTO_TCP  6
#define NETDEV_TX_OK 0

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct kp_iface_key);
	__type(value, struct kp_iface_stat);
} iface_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KP_NET_COUNTER_NR);
	__type(key, __u32);
	__type(value, __u64);
} net_counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, KP_DROP_REASON_MAX_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
} drop_reasons SEC(".maps");

struct conn_track {
	__u64 start_ns; /* SYN sent, or established for passive opens */
	__u64 connect_lat_ns;
	__u32 tgid;
	char comm[KP_COMM_LEN];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, struct conn_track);
} conns SEC(".maps");

DECLARE_EVENTS(256 * 1024)

/* ------------------------------------------------------------ interfaces */

static __always_inline struct kp_iface_stat *iface_get(struct net_device *dev, const bool btf)
{
	struct net *net = KP_READ(btf, dev, nd_net.net);
	struct kp_iface_key key = {
	    .netns_ino = net ? KP_READ(btf, net, ns.inum) : 0,
	    .ifindex = KP_READ(btf, dev, ifindex),
	};
	struct kp_iface_stat *st = bpf_map_lookup_elem(&iface_stats, &key);

	if (st)
		return st;
	struct kp_iface_stat init = {};

	BPF_CORE_READ_STR_INTO(&init.name, dev, name);
	return lookup_or_init(&iface_stats, &key, &init);
}

static __always_inline int handle_xmit(__u64 *ctx, const bool btf)
{
	int rc = (int)ctx[1];
	struct net_device *dev = (void *)ctx[2];
	__u32 len = (__u32)ctx[3];
	struct kp_iface_stat *st;

	if (rc != NETDEV_TX_OK || !dev)
		return 0;
	st = iface_get(dev, btf);
	if (st) {
		st->tx_packets++;
		st->tx_bytes += len;
	}
	return 0;
}

static __always_inline int handle_receive(__u64 *ctx, const bool btf)
{
	struct sk_buff *skb = (void *)ctx[0];
	struct net_device *dev = KP_READ(btf, skb, dev);
	struct kp_iface_stat *st;
	__u16 mac_header;
	__u32 len;

	if (!dev)
		return 0;
	/* eth_type_trans() has pulled the link-layer header; drivers count it
	 * in /proc/net/dev, so add it back. */
	len = KP_READ(btf, skb, len);
	mac_header = KP_READ(btf, skb, mac_header);
	if (mac_header != (__u16)~0U) {
		__u64 data = (__u64)KP_READ(btf, skb, data);
		__u64 mac = (__u64)KP_READ(btf, skb, head) + mac_header;

		if (data > mac && data - mac < 256)
			len += data - mac;
	}
	st = iface_get(dev, btf);
	if (st) {
		st->rx_packets++;
		st->rx_bytes += len;
	}
	return 0;
}

/* ------------------------------------------------------------------- TCP */

static __always_inline void tuple_fill(struct kp_tcp_tuple *t, const struct sock *sk)
{
	t->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	/* Not skc_num: closing a socket releases its port (inet_put_port()
	 * zeroes it) before the state change to TCP_CLOSE is traced. */
	t->sport = __builtin_bswap16(BPF_CORE_READ((struct inet_sock *)sk, inet_sport));
	t->dport = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
	t->pad = 0;
	if (t->family == AF_INET6) {
		BPF_CORE_READ_INTO(&t->saddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&t->daddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	} else {
		__builtin_memset(t->saddr, 0, sizeof(t->saddr));
		__builtin_memset(t->daddr, 0, sizeof(t->daddr));
		BPF_CORE_READ_INTO((__u32 *)t->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__u32 *)t->daddr, sk, __sk_common.skc_daddr);
	}
}

static __always_inline int handle_retransmit(__u64 *ctx, const bool btf)
{
	const struct sock *sk = (void *)ctx[0];
	const struct sk_buff *skb = (void *)ctx[1];
	struct kp_event_tcp_retransmit *e;
	struct tcp_skb_cb *cb;
	__u32 segs;

	if (retransmit_has_err && (int)ctx[2] != 0)
		return 0;
	/* tcp_skb_pcount(): a GSO skb retransmits several segments. */
	cb = (void *)skb + bpf_core_field_offset(struct sk_buff, cb);
	segs = BPF_CORE_READ(cb, tcp_gso_segs);
	if (!segs)
		segs = 1;
	COUNTER_ADD(net_counters, KP_NET_TCP_RETRANS_SEGS, segs);

	e = event_reserve(sizeof(*e));
	if (!e)
		return 0;
	event_hdr_fill(&e->hdr, KP_EV_TCP_RETRANSMIT, 0);
	__builtin_memset(e->hdr.comm, 0, sizeof(e->hdr.comm));
	tuple_fill(&e->tuple, sk);
	e->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	e->segs = segs;
	event_submit(e);
	return 0;
}

/* tcp_rtx_synack() counts one RetransSegs per SYN-ACK it resends. */
static __always_inline int handle_synack_retransmit(__u64 *ctx, const bool btf)
{
	COUNTER_ADD(net_counters, KP_NET_TCP_SYNACK_RETRANS, 1);
	COUNTER_ADD(net_counters, KP_NET_TCP_RETRANS_SEGS, 1);
	return 0;
}

static __always_inline int handle_send_reset(__u64 *ctx, const bool btf)
{
	COUNTER_ADD(net_counters, KP_NET_TCP_RST_SENT, 1);
	return 0;
}

static __always_inline int handle_receive_reset(__u64 *ctx, const bool btf)
{
	COUNTER_ADD(net_counters, KP_NET_TCP_RST_RECEIVED, 1);
	return 0;
}

static __always_inline int handle_set_state(__u64 *ctx, const bool btf)
{
	const struct sock *sk = (void *)ctx[0];
	int oldstate = (int)ctx[1], newstate = (int)ctx[2];
	__u64 key = (__u64)sk, now;
	struct kp_event_tcp_close *e;
	struct conn_track *ct;
	struct tcp_sock *tp;

	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	now = bpf_ktime_get_ns();

	if (newstate == TCP_SYN_SENT) {
		struct conn_track n = {.start_ns = now};

		n.tgid = bpf_get_current_pid_tgid() >> 32;
		bpf_get_current_comm(n.comm, sizeof(n.comm));
		bpf_map_update_elem(&conns, &key, &n, BPF_ANY);
		return 0;
	}
	if (newstate == TCP_ESTABLISHED) {
		ct = bpf_map_lookup_elem(&conns, &key);
		if (ct && oldstate == TCP_SYN_SENT) {
			ct->connect_lat_ns = now - ct->start_ns;
			COUNTER_ADD(net_counters, KP_NET_TCP_CONNECTS, 1);
		} else if (!ct) {
			/* Passive open: the child socket is born here, in softirq
			 * context, so no process is known yet. */
			struct conn_track n = {.start_ns = now};

			bpf_map_update_elem(&conns, &key, &n, BPF_ANY);
		}
		return 0;
	}
	if (newstate != TCP_CLOSE)
		return 0;

	ct = bpf_map_lookup_elem(&conns, &key);
	if (!ct)
		return 0;
	COUNTER_ADD(net_counters, KP_NET_TCP_CLOSES, 1);
	e = event_reserve(sizeof(*e));
	if (e) {
		event_hdr_fill(&e->hdr, KP_EV_TCP_CLOSE, ct->tgid);
		__builtin_memcpy(e->hdr.comm, ct->comm, sizeof(e->hdr.comm));
		tuple_fill(&e->tuple, sk);
		tp = (struct tcp_sock *)sk;
		e->connect_latency_ns = ct->connect_lat_ns;
		e->lifetime_ns = now - ct->start_ns;
		e->bytes_sent = BPF_CORE_READ(tp, bytes_acked);
		e->bytes_received = BPF_CORE_READ(tp, bytes_received);
		event_submit(e);
	}
	bpf_map_delete_elem(&conns, &key);
	return 0;
}

/* ----------------------------------------------------------------- drops */

static __always_inline int handle_kfree_skb(__u64 *ctx, const bool btf)
{
	__u32 reason = (__u32)ctx[2];
	__u64 one = 1, *n;

	n = bpf_map_lookup_elem(&drop_reasons, &reason);
	if (n)
		(*n)++;
	else
		bpf_map_update_elem(&drop_reasons, &reason, &one, BPF_NOEXIST);
	return 0;
}

KP_HOOK(net_dev_xmit, handle_xmit)
KP_HOOK(netif_receive_skb, handle_receive)
KP_HOOK(tcp_retransmit_skb, handle_retransmit)
KP_HOOK(tcp_retransmit_synack, handle_synack_retransmit)
KP_HOOK(tcp_send_reset, handle_send_reset)
KP_HOOK(tcp_receive_reset, handle_receive_reset)
KP_HOOK(inet_sock_set_state, handle_set_state)
KP_HOOK(kfree_skb, handle_kfree_skb)
