// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * floor_block.bpf.c - the cost floor for the block hooks: empty tp_btf
 * programs on every tracepoint kpulse's block path may use. bench.sh
 * attaches the ones kpulse attached on this kernel (bench_loader picks them
 * by name), so the floor is what any program pays on those hooks before it
 * does any work.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/block_io_start")
int BPF_PROG(floor_block_io_start)
{
	return 0;
}

SEC("tp_btf/block_rq_insert")
int BPF_PROG(floor_block_rq_insert)
{
	return 0;
}

SEC("tp_btf/block_rq_issue")
int BPF_PROG(floor_block_rq_issue)
{
	return 0;
}

SEC("tp_btf/block_rq_complete")
int BPF_PROG(floor_block_rq_complete)
{
	return 0;
}

SEC("tp_btf/block_io_done")
int BPF_PROG(floor_block_io_done)
{
	return 0;
}
