/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * kpulse_abi.h - the only header shared by the BPF programs (bpf/) and the
 * daemon (userspace/): map value layouts, ring-buffer event structs and the
 * enums that index per-CPU counter arrays. Fixed-width types only, so the
 * layout is the same on both sides of the boundary.
 */
#ifndef KPULSE_ABI_H
#define KPULSE_ABI_H

/* BPF programs get the types from vmlinux.h; userspace from the UAPI. */
#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define KP_COMM_LEN	   16
#define KP_IFNAME_LEN	   16
#define KP_CGROUP_NAME_LEN 64

/*
 * Log2 histograms: slot i counts values v with 2^i <= v < 2^(i+1)
 * (slot 0 also takes v == 0). Values are nanoseconds. 40 slots reach
 * 2^40 ns, about 18 minutes; larger values land in the last slot.
 */
#define KP_HIST_SLOTS 40

struct kp_hist {
	__u64 slots[KP_HIST_SLOTS];
	__u64 count;
	__u64 sum; /* exact sum of the recorded values, for means */
};

/* ---------------------------------------------------------------- sched */

enum kp_sched_counter {
	KP_SCHED_CSW_VOLUNTARY,
	KP_SCHED_CSW_INVOLUNTARY,
	KP_SCHED_FORKS, /* new processes (not threads) */
	KP_SCHED_EXECS,
	KP_SCHED_EXITS, /* whole processes */
	/* Switches whose prev was not the task last switched in on that CPU:
	 * the kernel ran switches it did not trace (see sched.bpf.c). */
	KP_SCHED_UNSEEN_RUNS,
	KP_SCHED_COUNTER_NR,
};

/*
 * A small per-CPU cache of per-process deltas, direct-mapped by tgid:
 * block I/O adds to it without a hash lookup, and only an
 * evicted slot is flushed into proc_stats. Userspace adds the slots it
 * finds here to what proc_stats holds (reading proc_stats first, so a
 * flush racing the read can only delay a delta, never count it twice).
 */
#define KP_PROC_CACHE_SLOTS 32

struct kp_proc_cache_slot {
	__u32 tgid; /* 0: empty */
	__u32 pad;
	__u64 v[2]; /* read bytes, write bytes */
};

/*
 * The scheduler's cache: per CPU, direct-mapped by tgid, a run's on-CPU
 * and run-queue time added to its process's slot, which also names the
 * cgroup the time was spent in. One slot thus feeds both the per-process
 * and the per-cgroup totals, and a switch updates one slot. A slot owned
 * by another process, or by the same one in another cgroup, is first
 * flushed into proc_stats and cgroup_stats. Userspace adds the slots to
 * both totals, each read after its map as for kp_proc_cache_slot.
 */
#define KP_SCHED_CACHE_SLOTS 32

struct kp_sched_cache_slot {
	__u32 tgid; /* 0: empty */
	__u32 pad;
	__u64 cgid; /* 0: no cgroup accounting, or not known */
	__u64 oncpu_ns;
	__u64 runq_ns;
};

/*
 * Everything the scheduler hooks update on every switch, in one per-CPU
 * value so a switch costs one map lookup for all of it.
 */
struct kp_sched_cpu {
	__u64 counters[KP_SCHED_COUNTER_NR];
	__u64 busy_ns;	      /* time spent running non-idle tasks */
	__u64 last_switch_ns; /* when the current task was switched in (task clock) */
	/* The task switched in last on this CPU (its address, only compared)
	 * with what its switch-in found out: the switch out of it then reads
	 * nothing from the task. Next to the counters, so a switch touches
	 * few cache lines. Not read by userspace. */
	__u64 cur_task;
	__u32 cur_tgid;
	__u32 cur_pad;
	__u64 cur_cgid;
	__u64 cur_cset;	    /* its css_set (an address, only compared) */
	__u64 cur_delay_ns; /* its run-queue wait before this run */
	/* The run-queue latency histogram (a struct kp_hist taken apart):
	 * its count and sum next to the scalars above, where the switch
	 * that adds to them already is; its slots after. */
	__u64 runq_count;
	__u64 runq_sum_ns;
	__u64 runq_slots[KP_HIST_SLOTS];
	struct kp_sched_cache_slot cache[KP_SCHED_CACHE_SLOTS];
};

/* Per-cgroup value of the sched program's cgroup_stats per-CPU hash (fed
 * by evictions from the sched cache), keyed
 * by the cgroup id (kernfs inode number) of the naming hierarchy: cgroup
 * v2, or the v1 hierarchy of cpuacct (enum kp_cgroup_hier). */
struct kp_cgroup_stat {
	__u64 oncpu_ns;
	__u64 runq_delay_ns;
};

enum kp_cgroup_hier {
	KP_CGROUP_HIER_NONE,
	KP_CGROUP_HIER_V2,
	KP_CGROUP_HIER_V1_CPUACCT,
};

#define KP_CGROUP_MAX_ENTRIES 8192

/* --------------------------------------------------------------- memory */

enum kp_mem_counter {
	KP_MEM_PGFAULT_USER,
	KP_MEM_PGFAULT_KERNEL,
	KP_MEM_DIRECT_RECLAIM,
	KP_MEM_KSWAPD_WAKEUPS,
	KP_MEM_OOM_KILLS,
	KP_MEM_COUNTER_NR,
};

struct kp_mem_cpu {
	__u64 counters[KP_MEM_COUNTER_NR];
	struct kp_hist direct_reclaim_latency;
};

/*
 * Per-process aggregates, shared by the sched and block programs
 * (one LRU per-CPU hash keyed by tgid, created by the loader). Entries go
 * away when the process exits; userspace keeps the totals it already saw.
 */
struct kp_proc_stat {
	__u64 oncpu_ns;
	__u64 runq_delay_ns;
	__u64 io_read_bytes;
	__u64 io_write_bytes;
	char comm[KP_COMM_LEN];
};

#define KP_PROC_MAX_ENTRIES 16384

/* ---------------------------------------------------------------- block */

enum kp_blk_op {
	KP_BLK_OP_READ,
	KP_BLK_OP_WRITE,
	KP_BLK_OP_DISCARD,
	KP_BLK_OP_OTHER,
	KP_BLK_OP_NR,
};

/* Per-device value of the blk_dev_stats per-CPU hash, keyed by kernel dev_t
 * of the whole disk (major << 20 | minor, the kernel's encoding). */
struct kp_blk_dev_stat {
	__u64 ios[KP_BLK_OP_NR];
	__u64 bytes[KP_BLK_OP_NR];
	__u64 errors;
	/* Per op: queue_time + latency of a request is the time
	 * /proc/diskstats adds for it (start_time_ns -> block_io_done). */
	struct kp_hist latency[KP_BLK_OP_NR];	 /* issue -> done */
	struct kp_hist queue_time[KP_BLK_OP_NR]; /* start (or insert) -> issue */
};

/*
 * The hot path's per-device stats: blk_dev_slots, a per-CPU array of
 * KP_BLK_DEV_SLOTS slots, each holding one device's stats, the slot picked
 * by KP_BLK_DEV_SLOT(dev) (a device whose slot another device holds on
 * that CPU uses blk_dev_stats). blk_dev_slot_used (one array value) marks
 * the slots some CPU has claimed, so userspace reads only those. dev 0
 * (no disk) always uses blk_dev_stats.
 */
#define KP_BLK_DEV_SLOTS_SHIFT 5
#define KP_BLK_DEV_SLOTS       (1U << KP_BLK_DEV_SLOTS_SHIFT)
#define KP_BLK_DEV_SLOT(dev)   ((__u32)((__u32)(dev)*0x9E3779B1U) >> (32 - KP_BLK_DEV_SLOTS_SHIFT))

struct kp_blk_dev_slot {
	__u32 dev; /* 0: free */
	__u32 pad;
	struct kp_blk_dev_stat stat;
};

struct kp_blk_dev_slot_used {
	__u32 dev[KP_BLK_DEV_SLOTS]; /* the last device to claim each slot, 0: none */
};

/* Per-CPU value of blk_cpu: the per-process byte cache (v[0] read bytes,
 * v[1] write bytes). */
struct kp_blk_cpu {
	struct kp_proc_cache_slot cache[KP_PROC_CACHE_SLOTS];
};

#define KP_DEV_MAJOR(dev) ((__u32)(dev) >> 20)
#define KP_DEV_MINOR(dev) ((__u32)(dev) & ((1U << 20) - 1))

/* -------------------------------------------------------------- network */

struct kp_iface_key {
	__u32 netns_ino;
	__u32 ifindex;
};

struct kp_iface_stat {
	__u64 rx_packets;
	__u64 rx_bytes;
	__u64 tx_packets;
	__u64 tx_bytes;
	char name[KP_IFNAME_LEN];
};

enum kp_net_counter {
	KP_NET_TCP_RETRANS_SEGS,
	KP_NET_TCP_SYNACK_RETRANS,
	KP_NET_TCP_RST_SENT,
	KP_NET_TCP_RST_RECEIVED,
	KP_NET_TCP_CONNECTS, /* active opens that reached ESTABLISHED */
	KP_NET_TCP_CLOSES,
	KP_NET_COUNTER_NR,
};

#define KP_DROP_REASON_MAX_ENTRIES 1024

/* ---------------------------------------------------------- ring buffer */

enum kp_event_type {
	KP_EV_EXEC = 1,
	KP_EV_FORK,
	KP_EV_EXIT,
	KP_EV_OOM_KILL,
	KP_EV_SLOW_IO,
	KP_EV_TCP_RETRANSMIT,
	KP_EV_TCP_CLOSE,
	KP_EV_TYPE_MAX,
};

struct kp_event_hdr {
	__u32 type;  /* enum kp_event_type */
	__u32 pid;   /* tgid of the process the event is about */
	__u64 ts_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	char comm[KP_COMM_LEN];
};

struct kp_event_proc {
	struct kp_event_hdr hdr;
	__u32 ppid;
	__s32 exit_code;   /* wait(2) status encoding: code << 8 | signal */
	__u64 lifetime_ns; /* exit only */
	/* Exit only: the process's page faults over its life, all threads,
	 * as the kernel counts them per task (minor / major, including those
	 * taken on its behalf by get_user_pages and prefaulting). */
	__u64 min_flt;
	__u64 maj_flt;
	__u64 cgroup_id; /* of the naming hierarchy (see kp_cgroup_stat); 0 unknown */
};

struct kp_event_oom {
	struct kp_event_hdr hdr; /* the victim */
	__u64 total_vm_pages;
	__u64 rss_pages;
	char memcg[KP_CGROUP_NAME_LEN];
};

struct kp_event_slow_io {
	struct kp_event_hdr hdr; /* the submitter, when known */
	__u32 dev;
	__u32 op; /* enum kp_blk_op */
	__u64 bytes;
	__u64 latency_ns;
};

struct kp_tcp_tuple {
	__u16 family; /* AF_INET or AF_INET6 */
	__u16 sport;  /* host byte order */
	__u16 dport;
	__u16 pad;
	__u8 saddr[16]; /* IPv4 in the first four bytes */
	__u8 daddr[16];
};

struct kp_event_tcp_retransmit {
	struct kp_event_hdr hdr; /* pid 0: retransmits run in softirq */
	struct kp_tcp_tuple tuple;
	__u32 state; /* TCP_ESTABLISHED ... as in the kernel */
	__u32 segs;
};

struct kp_event_tcp_close {
	struct kp_event_hdr hdr; /* the process that opened the socket */
	struct kp_tcp_tuple tuple;
	__u64 connect_latency_ns; /* 0 for passive opens */
	__u64 lifetime_ns;
	__u64 bytes_sent; /* bytes_acked */
	__u64 bytes_received;
};

#endif /* KPULSE_ABI_H */
