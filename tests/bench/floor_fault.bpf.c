// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * floor_fault.bpf.c - the cost floor for the page-fault hooks: empty tp_btf
 * programs on the two tracepoints kpulse's fault path uses, attached beside
 * kpulse in the fault storm.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/page_fault_user")
int BPF_PROG(floor_page_fault_user)
{
	return 0;
}

SEC("tp_btf/page_fault_kernel")
int BPF_PROG(floor_page_fault_kernel)
{
	return 0;
}
