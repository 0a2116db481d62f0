// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * mem.bpf.c - memory probes: page faults taken through the CPU exception
 * (user / kernel), direct-reclaim stalls and their latency, kswapd wakeups,
 * and OOM kills as events with the victim and its memory cgroup.
 *
 * Faults per process are not counted here: the kernel's own per-task
 * counts (/proc/PID/stat) are exact and include faults no hook sees, so
 * the fault path is one per-CPU counter increment.
 */
#include "vmlinux.h"
#include "kpulse.bpf.h"
#include "core_fixes.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kp_mem_cpu);
} mem_cpu SEC(".maps");

/* Direct-reclaim start per task; begin and end run in the same task. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u32);
	__type(value, __u64);
} reclaim_start SEC(".maps");

DECLARE_EVENTS(64 * 1024)

static __always_inline struct kp_mem_cpu *mem_cpu_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&mem_cpu, &zero);
}

static __always_inline int count_fault(int mode)
{
	struct kp_mem_cpu *c = mem_cpu_get();

	if (!c)
		return 0;
	c->counters[mode]++;
	return 0;
}

static __always_inline int handle_fault_user(__u64 *ctx, const bool btf)
{
	return count_fault(KP_MEM_PGFAULT_USER);
}

static __always_inline int handle_fault_kernel(__u64 *ctx, const bool btf)
{
	return count_fault(KP_MEM_PGFAULT_KERNEL);
}

static __always_inline int handle_reclaim_begin(__u64 *ctx, const bool btf)
{
	__u32 pid = (__u32)bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();
	struct kp_mem_cpu *c = mem_cpu_get();

	if (c)
		c->counters[KP_MEM_DIRECT_RECLAIM]++;
	bpf_map_update_elem(&reclaim_start, &pid, &now, BPF_ANY);
	return 0;
}

static __always_inline int handle_reclaim_end(__u64 *ctx, const bool btf)
{
	__u32 pid = (__u32)bpf_get_current_pid_tgid();
	__u64 *start = bpf_map_lookup_elem(&reclaim_start, &pid);
	struct kp_mem_cpu *c;

	if (!start)
		return 0;
	c = mem_cpu_get();
	if (c)
		hist_add_percpu(&c->direct_reclaim_latency, bpf_ktime_get_ns() - *start);
	bpf_map_delete_elem(&reclaim_start, &pid);
	return 0;
}

static __always_inline int handle_kswapd(__u64 *ctx, const bool btf)
{
	struct kp_mem_cpu *c = mem_cpu_get();

	if (c)
		c->counters[KP_MEM_KSWAPD_WAKEUPS]++;
	return 0;
}

static __always_inline int handle_oom_victim(__u64 *ctx, const bool btf)
{
	struct task_struct *p = (void *)ctx[0];
	struct kp_mem_cpu *c = mem_cpu_get();
	struct kp_event_oom *e;
	struct mm_struct *mm;
	int memcg_id;

	if (c)
		c->counters[KP_MEM_OOM_KILLS]++;
	e = event_reserve(sizeof(*e));
	if (!e)
		return 0;
	event_hdr_fill(&e->hdr, KP_EV_OOM_KILL, BPF_CORE_READ(p, tgid));
	BPF_CORE_READ_STR_INTO(&e->hdr.comm, p, comm);
	mm = BPF_CORE_READ(p, mm);
	e->total_vm_pages = mm ? BPF_CORE_READ(mm, total_vm) : 0;
	e->rss_pages = mm ? mm_rss_pages(mm) : 0;
	e->memcg[0] = 0;
	if (bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id)) {
		memcg_id = bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
		/* kn->name is a pointer: read it, then the string it points to. */
		if (memcg_id >= 0 && memcg_id < 16) {
			const char *name =
			    BPF_CORE_READ(p, cgroups, subsys[memcg_id], cgroup, kn, name);

			if (name)
				bpf_probe_read_kernel_str(e->memcg, sizeof(e->memcg), name);
		}
	}
	event_submit(e);
	return 0;
}

KP_HOOK(page_fault_user, handle_fault_user)
KP_HOOK(page_fault_kernel, handle_fault_kernel)
KP_HOOK(mm_vmscan_direct_reclaim_begin, handle_reclaim_begin)
KP_HOOK(mm_vmscan_direct_reclaim_end, handle_reclaim_end)
KP_HOOK(mm_vmscan_wakeup_kswapd, handle_kswapd)
KP_HOOK(mark_victim, handle_oom_victim)
