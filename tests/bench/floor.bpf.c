// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * floor.bpf.c - the cost floor for the scheduler hooks: empty tp_btf
 * programs on the two tracepoints kpulse's hot path uses. Whatever they
 * cost per context switch is what any tp_btf program pays there before it
 * does any work, so bench.sh reports kpulse's cost next to this one.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sched_switch")
int BPF_PROG(floor_sched_switch)
{
	return 0;
}

SEC("tp_btf/sched_wakeup")
int BPF_PROG(floor_sched_wakeup)
{
	return 0;
}
