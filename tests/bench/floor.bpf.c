// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * floor.bpf.c - the cost floor for the scheduler hooks: an empty tp_btf
 * program for each tracepoint a scheduler tool may attach. Whatever they
 * cost per context switch is what any tp_btf program pays there before it
 * does any work. bench.sh loads two sets of them (bench_loader with program
 * names): the hooks kpulse attached on this kernel (with sched_info, only
 * sched_switch runs per switch; fork / exec / exit are rare), and the hooks
 * a runqlat-style tool needs (sched_switch, sched_wakeup, sched_wakeup_new),
 * so kpulse is read against empty programs on its own hooks and the peer
 * against empty programs on its own.
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

SEC("tp_btf/sched_wakeup_new")
int BPF_PROG(floor_sched_wakeup_new)
{
	return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(floor_sched_process_fork)
{
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(floor_sched_process_exec)
{
	return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(floor_sched_process_exit)
{
	return 0;
}
