// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * sched.bpf.c - scheduler probes: context switches by kind, run-queue
 * latency (wakeup or preemption to running), CPU busy time, on-CPU and
 * run-queue time per process, and process fork / exec / exit events.
 *
 * sched_switch is the hottest hook kpulse has. Where the kernel keeps
 * sched_info (CONFIG_SCHED_INFO, the source of /proc/PID/schedstat), the
 * run-queue delay is read from it at switch time: the task's enqueue time
 * against its run queue's clock, so no wakeup hook is needed at all. Every
 * switch then touches one per-CPU value and nothing else in the common
 * case. Without sched_info, wakeups stamp task-local storage instead.
 *
 * On-CPU time (per process, per cgroup, CPU busy) is measured on the run
 * queue's task clock, rq->clock_task, the clock the kernel's own CPU time
 * comes from (sum_exec_runtime, hence /proc/PID/stat and schedstat,
 * cpuacct.usage, cpu.stat usage_usec). It leaves out the time a hypervisor
 * stole from the vCPU (CONFIG_PARAVIRT_TIME_ACCOUNTING) and, with
 * CONFIG_IRQ_TIME_ACCOUNTING, hard and soft IRQ time; rq->clock, which
 * sched_info's enqueue times are on, counts both.
 */
#include "vmlinux.h"
#include "kpulse.bpf.h"
#include "core_fixes.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TASK_RUNNING	  0
#define SIGNAL_GROUP_EXIT 0x00000004
/* The policies of the fair class (CFS / EEVDF). */
#define SCHED_NORMAL 0
#define SCHED_BATCH  3
#define SCHED_IDLE   5

/* Set by the loader: the kernel has task->sched_info (CONFIG_SCHED_INFO)
 * and cfs_rq->rq (CONFIG_FAIR_GROUP_SCHED), the way to the rq clock. */
const volatile bool use_sched_info = false;
/* Set by the loader: which hierarchy's cgroup ids key cgroup_stats
 * (enum kp_cgroup_hier); NONE leaves the cgroup path out entirely. */
const volatile __u32 cgroup_hier = KP_CGROUP_HIER_NONE;

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kp_sched_cpu);
} sched_cpu SEC(".maps");

struct task_sched {
	__u64 enqueue_ns; /* when the task became runnable; 0 while not queued */
};

/* Without sched_info, tp_btf entry points keep the enqueue time with the
 * task itself. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_sched);
} task_sched_storage SEC(".maps");

/* raw_tp entry points cannot pass a typed task pointer to task storage,
 * so they keep the same state in a hash keyed by pid. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct task_sched);
} task_sched_hash SEC(".maps");

/* Per-cgroup on-CPU and run-queue time, fed by evictions from the
 * sched cache in sched_cpu. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);
	__uint(max_entries, KP_CGROUP_MAX_ENTRIES);
	__type(key, __u64);
	__type(value, struct kp_cgroup_stat);
} cgroup_stats SEC(".maps");

DECLARE_PROC_STATS()
DECLARE_EVENTS(256 * 1024)

/*
 * The id of t's cgroup in the naming hierarchy: the v2 (default)
 * hierarchy's, or the v1 hierarchy's that holds cpuacct. Ids are kernfs
 * node ids, which are the inode numbers userspace sees in the mount. The
 * subsystem index comes from this kernel's BTF (it depends on the config).
 */
static __always_inline __u64 task_cgroup_id(struct task_struct *t, const bool btf)
{
	if (cgroup_hier == KP_CGROUP_HIER_V2)
		return btf ? t->cgroups->dfl_cgrp->kn->id
			   : BPF_CORE_READ(t, cgroups, dfl_cgrp, kn, id);
	if (cgroup_hier == KP_CGROUP_HIER_V1_CPUACCT) {
		if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, cpuacct_cgrp_id))
			return 0;
		int idx = bpf_core_enum_value(enum cgroup_subsys_id, cpuacct_cgrp_id);

		if (idx < 0 || idx >= CGROUP_SUBSYS_COUNT)
			return 0;
		return btf ? t->cgroups->subsys[idx]->cgroup->kn->id
			   : BPF_CORE_READ(t, cgroups, subsys[idx], cgroup, kn, id);
	}
	return 0;
}

static __always_inline struct task_sched *task_sched_get(struct task_struct *t, const bool btf,
							 bool create)
{
	if (btf)
		return bpf_task_storage_get(&task_sched_storage, t, 0,
					    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);

	__u32 pid = KP_READ(btf, t, pid);
	struct task_sched *ts = bpf_map_lookup_elem(&task_sched_hash, &pid);

	if (ts || !create)
		return ts;
	struct task_sched zero = {};

	bpf_map_update_elem(&task_sched_hash, &pid, &zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&task_sched_hash, &pid);
}

/* Moves what a slot of the sched cache holds into proc_stats and, with
 * cgroup accounting on, cgroup_stats. A function of its own (a BPF call)
 * only on an eviction, so the common case keeps its registers. */
static __noinline void sched_cache_flush(const struct kp_sched_cache_slot *s)
{
	struct kp_proc_stat *ps = proc_stat_get(s->tgid, false);

	if (ps) {
		ps->oncpu_ns += s->oncpu_ns;
		ps->runq_delay_ns += s->runq_ns;
	}
	if (cgroup_hier != KP_CGROUP_HIER_NONE && s->cgid) {
		struct kp_cgroup_stat zero = {}, *cs;

		cs = lookup_or_init(&cgroup_stats, &s->cgid, &zero);
		if (cs) {
			cs->oncpu_ns += s->oncpu_ns;
			cs->runq_delay_ns += s->runq_ns;
		}
	}
}

/* Adds a run's on-CPU time and the run-queue wait before it to its
 * process's slot of the sched cache (see kp_sched_cache_slot). */
static __always_inline void sched_cache_add(struct kp_sched_cpu *c, __u32 tgid, __u64 cgid,
					    __u64 oncpu, __u64 runq)
{
	struct kp_sched_cache_slot *s = &c->cache[tgid & (KP_SCHED_CACHE_SLOTS - 1)];

	if (s->tgid != tgid || s->cgid != cgid) {
		if (s->tgid && (s->oncpu_ns || s->runq_ns))
			sched_cache_flush(s);
		s->tgid = tgid;
		s->cgid = cgid;
		s->oncpu_ns = 0;
		s->runq_ns = 0;
	}
	s->oncpu_ns += oncpu;
	s->runq_ns += runq;
}

/*
 * prev is not the task this CPU switched in last: the kernel switched away
 * from that task, and to prev, without the sched_switch tracepoint (seen
 * here on a 6.18 guest kernel, 10 to 15 times a second, each time after a
 * thread of its init process was switched in; no program run was missed),
 * so when prev's run began is not known here. The kernel's
 * own accounting knows: the fair class sets se.prev_sum_exec_runtime to
 * se.sum_exec_runtime when it picks a task, and the pick before this
 * tracepoint brought sum_exec_runtime up to date (on the task clock, as
 * kpulse times runs). Without this, the run of prev is lost, from the
 * process's, the cgroup's and the CPU's totals (measured: 0.2 to 2.4% of
 * a spinner's time). A run in another class (RT, deadline) has no such
 * mark and stays lost, as does the rest of the run of the task whose
 * switch out was not shown (it may run elsewhere by now). The run-queue wait
 * before the run is not known either. The first switch on each CPU after
 * attaching (nothing switched in yet) is left out: its run began before.
 * A BPF call of its own, as the switch that gets here is rare.
 */
static __noinline void sched_unseen_run(struct kp_sched_cpu *c, struct task_struct *prev)
{
	__u32 tgid = BPF_CORE_READ(prev, tgid), policy = BPF_CORE_READ(prev, policy);
	__u64 sum, start, cgid = 0;

	c->counters[KP_SCHED_UNSEEN_RUNS]++;
	if (!tgid || (policy != SCHED_NORMAL && policy != SCHED_BATCH && policy != SCHED_IDLE))
		return;
	sum = BPF_CORE_READ(prev, se.sum_exec_runtime);
	start = BPF_CORE_READ(prev, se.prev_sum_exec_runtime);
	if (sum <= start)
		return;
	if (cgroup_hier != KP_CGROUP_HIER_NONE)
		cgid = task_cgroup_id(prev, false);
	c->busy_ns += sum - start;
	sched_cache_add(c, tgid, cgid, sum - start, 0);
}

/*
 * This CPU's run queue, reached through prev, whose se.cfs_rq is in it (as
 * is every task's in the run queue of the CPU it is on); NULL where the
 * kernel has no such pointers (CONFIG_FAIR_GROUP_SCHED off). The loader
 * uses sched_info only where cfs_rq->rq exists.
 */
static __always_inline struct rq *switch_rq(struct task_struct *prev, const bool btf)
{
	if (!bpf_core_field_exists(prev->se.cfs_rq) ||
	    !bpf_core_field_exists(((struct cfs_rq *)0)->rq))
		return NULL;
	if (btf)
		return prev->se.cfs_rq->rq;
	return BPF_CORE_READ(prev, se.cfs_rq, rq);
}

/*
 * The task clock of run queue rq (see the top of the file), which
 * __schedule() has just brought up to date with rq->clock; fallback where
 * rq or the field is missing.
 */
static __always_inline __u64 rq_task_clock(struct rq *rq, const bool btf, __u64 fallback)
{
	if (!rq || !bpf_core_field_exists(rq->clock_task))
		return fallback;
	return KP_READ(btf, rq, clock_task);
}

/* Only loaded without sched_info. */
static __always_inline int handle_wakeup(__u64 *ctx, const bool btf)
{
	struct task_sched *ts = task_sched_get((void *)ctx[0], btf, true);

	if (ts)
		ts->enqueue_ns = bpf_ktime_get_ns();
	return 0;
}

/*
 * Each run of a task is accounted once, when it ends: its on-CPU time and
 * the run-queue wait that preceded it go to its process's and its cgroup's
 * slots together. Who the task is (tgid, cgroup id) is read at its switch
 * in and kept with this CPU, so the switch out reads nothing from prev:
 * prev is always the task this CPU switched in last.
 */
static __always_inline int handle_switch(__u64 *ctx, const bool btf)
{
	bool preempt = ctx[0];
	struct task_struct *prev = (void *)ctx[1];
	struct task_struct *next = (void *)ctx[2];
	__u32 zero = 0, prev_state, tgid;
	__u64 now, oncpu_now, delay = 0;
	struct kp_sched_cpu *c;
	struct rq *rq;

	c = bpf_map_lookup_elem(&sched_cpu, &zero);
	if (!c)
		return 0;

	prev_state = task_state(prev, btf);
	/* A task that is still runnable was preempted; one that sleeps
	 * gave the CPU up. */
	if (preempt || prev_state == TASK_RUNNING)
		c->counters[KP_SCHED_CSW_INVOLUNTARY]++;
	else
		c->counters[KP_SCHED_CSW_VOLUNTARY]++;

	rq = switch_rq(prev, btf);
	if (use_sched_info) {
		/* __schedule() has just updated this run queue's clocks, and
		 * sched_info_switch() consumes last_queued (on rq->clock) right
		 * after this tracepoint. */
		__u64 queued = KP_READ(btf, next, sched_info.last_queued);

		now = rq ? KP_READ(btf, rq, clock) : 0;
		if (queued && now > queued)
			delay = now - queued;
	} else {
		struct task_sched *ts;

		now = bpf_ktime_get_ns();
		if (prev_state == TASK_RUNNING && KP_READ(btf, prev, pid)) {
			ts = task_sched_get(prev, btf, true);
			if (ts) /* preempted: straight back on a run queue */
				ts->enqueue_ns = now;
		}
		ts = task_sched_get(next, btf, false);
		if (ts && ts->enqueue_ns) {
			delay = now - ts->enqueue_ns;
			ts->enqueue_ns = 0;
		}
	}

	/* prev's run ends. The idle task (tgid 0) is not busy time. Runs are
	 * timed on the task clock where the run queue is reachable (always
	 * with sched_info), else on the clock the wakeup stamps use. */
	oncpu_now = rq_task_clock(rq, btf, now);
	if (c->cur_task == (__u64)prev) {
		if (c->cur_tgid && oncpu_now > c->last_switch_ns) {
			__u64 ran = oncpu_now - c->last_switch_ns;

			c->busy_ns += ran;
			sched_cache_add(c, c->cur_tgid, c->cur_cgid, ran, c->cur_delay_ns);
		}
	} else if (c->cur_task) {
		sched_unseen_run(c, prev);
	}
	c->last_switch_ns = oncpu_now;

	/* next's run starts. */
	if (delay) {
		c->runq_slots[hist_slot(delay)]++;
		c->runq_count++;
		c->runq_sum_ns += delay;
	}
	tgid = KP_READ(btf, next, tgid);
	if (tgid && cgroup_hier != KP_CGROUP_HIER_NONE) {
		__u64 cset = (__u64)KP_READ(btf, next, cgroups);

		/* next is in the css_set prev was in at its switch in and
		 * still holds (so it is the same live object): the same
		 * cgroup, whose id is known, and the three loads of the chain
		 * to it are saved. Switches between threads of a process or
		 * processes of a service mostly take this path. Only a
		 * css_set freed and reallocated at the same address within
		 * one run of prev, prev moved twice meanwhile, would fool it. */
		if (cset != c->cur_cset || c->cur_task != (__u64)prev || !c->cur_tgid ||
		    (__u64)KP_READ(btf, prev, cgroups) != cset)
			c->cur_cgid = task_cgroup_id(next, btf);
		c->cur_cset = cset;
	}
	c->cur_task = (__u64)next;
	c->cur_tgid = tgid;
	c->cur_delay_ns = delay;
	return 0;
}

static __always_inline int handle_fork(__u64 *ctx, const bool btf)
{
	struct task_struct *parent = (void *)ctx[0];
	struct task_struct *child = (void *)ctx[1];
	__u32 pid = BPF_CORE_READ(child, pid), tgid = BPF_CORE_READ(child, tgid);
	struct kp_event_proc *e;
	__u32 zero = 0;
	struct kp_sched_cpu *c;

	if (pid != tgid) /* a new thread, not a new process */
		return 0;
	c = bpf_map_lookup_elem(&sched_cpu, &zero);
	if (c)
		c->counters[KP_SCHED_FORKS]++;
	e = event_reserve(sizeof(*e));
	if (!e)
		return 0;
	event_hdr_fill(&e->hdr, KP_EV_FORK, tgid);
	BPF_CORE_READ_STR_INTO(&e->hdr.comm, child, comm);
	e->ppid = BPF_CORE_READ(parent, tgid);
	e->exit_code = 0;
	e->lifetime_ns = 0;
	e->min_flt = 0;
	e->maj_flt = 0;
	e->cgroup_id = task_cgroup_id(child, false);
	event_submit(e);
	return 0;
}

static __always_inline int handle_exec(__u64 *ctx, const bool btf)
{
	struct task_struct *p = (void *)ctx[0];
	struct kp_event_proc *e;
	__u32 zero = 0;
	struct kp_sched_cpu *c;

	c = bpf_map_lookup_elem(&sched_cpu, &zero);
	if (c)
		c->counters[KP_SCHED_EXECS]++;
	e = event_reserve(sizeof(*e));
	if (!e)
		return 0;
	event_hdr_fill(&e->hdr, KP_EV_EXEC, BPF_CORE_READ(p, tgid));
	BPF_CORE_READ_STR_INTO(&e->hdr.comm, p, comm);
	e->ppid = BPF_CORE_READ(p, real_parent, tgid);
	e->exit_code = 0;
	e->lifetime_ns = 0;
	e->min_flt = 0;
	e->maj_flt = 0;
	e->cgroup_id = task_cgroup_id(p, false);
	event_submit(e);
	return 0;
}

static __always_inline int handle_exit(__u64 *ctx, const bool btf)
{
	struct task_struct *p = (void *)ctx[0];
	struct kp_event_proc *e;
	__u32 zero = 0;
	struct kp_sched_cpu *c;
	__s32 code;

	/* Task storage goes away with the task; the fallback hash does not. */
	if (!btf && !use_sched_info)
		bpf_map_delete_elem(&task_sched_hash, &(__u32){BPF_CORE_READ(p, pid)});

	/* Only the last thread of a group to exit ends the process
	 * (do_exit() has already decremented signal->live). */
	if (BPF_CORE_READ(p, signal, live.counter) != 0)
		return 0;
	c = bpf_map_lookup_elem(&sched_cpu, &zero);
	if (c)
		c->counters[KP_SCHED_EXITS]++;
	e = event_reserve(sizeof(*e));
	if (!e)
		return 0;
	event_hdr_fill(&e->hdr, KP_EV_EXIT, BPF_CORE_READ(p, tgid));
	BPF_CORE_READ_STR_INTO(&e->hdr.comm, p, group_leader, comm);
	e->ppid = BPF_CORE_READ(p, real_parent, tgid);
	/* exit_group() stores the status for the whole group. */
	if (BPF_CORE_READ(p, signal, flags) & SIGNAL_GROUP_EXIT)
		code = BPF_CORE_READ(p, signal, group_exit_code);
	else
		code = BPF_CORE_READ(p, exit_code);
	e->exit_code = code;
	e->lifetime_ns = e->hdr.ts_ns - BPF_CORE_READ(p, group_leader, start_time);
	/* Threads already reaped are in signal's sums; this one and a
	 * leader that exited earlier (a zombie until the group is empty)
	 * still hold their own. */
	e->min_flt = BPF_CORE_READ(p, signal, min_flt) + BPF_CORE_READ(p, min_flt);
	e->maj_flt = BPF_CORE_READ(p, signal, maj_flt) + BPF_CORE_READ(p, maj_flt);
	if (BPF_CORE_READ(p, group_leader) != p) {
		e->min_flt += BPF_CORE_READ(p, group_leader, min_flt);
		e->maj_flt += BPF_CORE_READ(p, group_leader, maj_flt);
	}
	e->cgroup_id = task_cgroup_id(p, false);
	event_submit(e);
	return 0;
}

KP_HOOK(sched_switch, handle_switch)
KP_HOOK(sched_wakeup, handle_wakeup)
KP_HOOK(sched_wakeup_new, handle_wakeup)
KP_HOOK(sched_process_fork, handle_fork)
KP_HOOK(sched_process_exec, handle_exec)
KP_HOOK(sched_process_exit, handle_exit)
