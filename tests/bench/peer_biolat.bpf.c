// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * peer_biolat.bpf.c - a single-purpose peer for the block path, in the
 * manner of bcc's libbpf-tools biolatency with per-disk histograms (-D):
 * the issue time in a hash keyed by the request, and at completion a log2
 * histogram of issue -> complete per disk in a hash keyed by dev_t.
 * bench.sh runs it beside kpulse so kpulse's whole block path (counts,
 * bytes, queue time, latency, per-process bytes, slow-I/O events) can be
 * priced against a tool that only does the latency histogram.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "peer.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MAX_SLOTS 27

struct hist {
	__u32 slots[MAX_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, struct request *);
	__type(value, __u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct hist);
} hists SEC(".maps");

static struct hist initial_hist;

SEC("tp_btf/block_rq_issue")
int BPF_PROG(peer_biolat_rq_issue, struct request *rq)
{
	__u64 ts = bpf_ktime_get_ns();

	bpf_map_update_elem(&start, &rq, &ts, 0);
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(peer_biolat_rq_complete, struct request *rq, int error, unsigned int nr_bytes)
{
	__u64 slot, *tsp, ts = bpf_ktime_get_ns();
	struct gendisk *disk;
	struct hist *histp;
	__s64 delta;
	__u32 dev;

	tsp = bpf_map_lookup_elem(&start, &rq);
	if (!tsp)
		return 0;
	delta = (__s64)(ts - *tsp);
	if (delta < 0)
		goto cleanup;
	disk = rq->q->disk;
	dev = disk ? ((__u32)disk->major << 20) | disk->first_minor : 0;
	histp = bpf_map_lookup_elem(&hists, &dev);
	if (!histp) {
		bpf_map_update_elem(&hists, &dev, &initial_hist, BPF_NOEXIST);
		histp = bpf_map_lookup_elem(&hists, &dev);
		if (!histp)
			goto cleanup;
	}
	slot = log2l(delta / 1000); /* microseconds, as biolatency's default */
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	__sync_fetch_and_add(&histp->slots[slot], 1);
cleanup:
	bpf_map_delete_elem(&start, &rq);
	return 0;
}
