// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * peer_runqlat.bpf.c - a single-purpose peer for the scheduler path, in
 * the manner of bcc's libbpf-tools runqlat: the enqueue time of a woken
 * (or preempted) task in a hash keyed by pid, and at the switch to it a
 * log2 histogram of the wait. bench.sh runs it beside kpulse and the empty
 * floor in the same context-switch storm.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "peer.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define MAX_SLOTS    26
#define TASK_RUNNING 0

struct hist {
	__u32 slots[MAX_SLOTS];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, __u64);
} start SEC(".maps");

/* runqlat keeps its histograms in a hash (per process or pid namespace
 * with -P / --pidnss); without those options, one entry. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, __u32);
	__type(value, struct hist);
} hists SEC(".maps");

static struct hist zero;

static __always_inline int trace_enqueue(__u32 pid)
{
	__u64 ts;

	if (!pid)
		return 0;
	ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &pid, &ts, BPF_ANY);
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(peer_runqlat_wakeup, struct task_struct *p)
{
	return trace_enqueue(p->pid);
}

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(peer_runqlat_wakeup_new, struct task_struct *p)
{
	return trace_enqueue(p->pid);
}

SEC("tp_btf/sched_switch")
int BPF_PROG(peer_runqlat_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	__u32 pid, hkey = (__u32)-1;
	struct hist *histp;
	__u64 *tsp, slot;
	__s64 delta;

	if (prev->__state == TASK_RUNNING)
		trace_enqueue(prev->pid);
	pid = next->pid;
	tsp = bpf_map_lookup_elem(&start, &pid);
	if (!tsp)
		return 0;
	delta = (__s64)(bpf_ktime_get_ns() - *tsp);
	if (delta < 0)
		goto cleanup;
	histp = bpf_map_lookup_elem(&hists, &hkey);
	if (!histp) {
		bpf_map_update_elem(&hists, &hkey, &zero, BPF_NOEXIST);
		histp = bpf_map_lookup_elem(&hists, &hkey);
		if (!histp)
			goto cleanup;
	}
	slot = log2l(delta / 1000);
	if (slot >= MAX_SLOTS)
		slot = MAX_SLOTS - 1;
	__sync_fetch_and_add(&histp->slots[slot], 1);
cleanup:
	bpf_map_delete_elem(&start, &pid);
	return 0;
}
