/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * peer.bpf.h - what the bench's single-purpose peers share, as libbpf-tools'
 * bits.bpf.h does for its tools: the log2 of a latency, the histogram slot.
 * The peers stand for third-party tools, so they use none of kpulse's code.
 */
#ifndef KPULSE_BENCH_PEER_BPF_H
#define KPULSE_BENCH_PEER_BPF_H

static __always_inline __u64 log2_u32(__u32 v)
{
	__u32 shift, r;

	r = (v > 0xFFFF) << 4;
	v >>= r;
	shift = (v > 0xFF) << 3;
	v >>= shift;
	r |= shift;
	shift = (v > 0xF) << 2;
	v >>= shift;
	r |= shift;
	shift = (v > 0x3) << 1;
	v >>= shift;
	r |= shift;
	r |= (v >> 1);
	return r;
}

static __always_inline __u64 log2l(__u64 v)
{
	__u32 hi = v >> 32;

	return hi ? log2_u32(hi) + 32 : log2_u32(v);
}

#endif
