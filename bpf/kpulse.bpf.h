/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * kpulse.bpf.h - helpers shared by the BPF programs only: log2 histogram
 * updates, lookup-or-init for per-key aggregates, ring-buffer reservation
 * that counts its failures, and the hook-declaration macro that gives each
 * tracepoint a tp_btf and a raw_tp entry point over one handler.
 */
#ifndef KPULSE_BPF_H
#define KPULSE_BPF_H

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "kpulse_abi.h"

#ifndef EEXIST
#define EEXIST 17
#endif

/*
 * The histogram slot of v: the index of its highest set bit (0 for v <= 1),
 * values past the last slot in the last one. Each step's "v > c" is the
 * sign of c - v (v < 2^39 by then) rather than a compare: the BPF
 * backend turns a compare into a conditional jump, and with latencies
 * that vary those jumps mispredict every few calls. The two branches
 * left are all but never taken.
 */
static __always_inline __u32 hist_slot(__u64 v)
{
	__u64 r, shift;

	if (v >> (KP_HIST_SLOTS - 1))
		return KP_HIST_SLOTS - 1;
	r = ((0xffffffffULL - v) >> 63) << 5;
	v >>= r;
	shift = ((0xffffULL - v) >> 63) << 4;
	v >>= shift;
	r |= shift;
	shift = ((0xffULL - v) >> 63) << 3;
	v >>= shift;
	r |= shift;
	shift = ((0xfULL - v) >> 63) << 2;
	v >>= shift;
	r |= shift;
	shift = ((0x3ULL - v) >> 63) << 1;
	v >>= shift;
	r |= shift;
	r |= v >> 1;
	/* Never true (v < 2^39 gives r <= 38); it bounds the index for the
	 * verifier, which cannot follow the arithmetic above. */
	if (r > KP_HIST_SLOTS - 1)
		r = KP_HIST_SLOTS - 1;
	return r;
}

/* For per-CPU histograms: no other CPU writes this copy, so plain adds. */
static __always_inline void hist_add_percpu(struct kp_hist *h, __u64 v)
{
	h->slots[hist_slot(v)]++;
	h->count++;
	h->sum += v;
}

/* For histograms shared between CPUs. */
static __always_inline void hist_add_atomic(struct kp_hist *h, __u64 v)
{
	__sync_fetch_and_add(&h->slots[hist_slot(v)], 1);
	__sync_fetch_and_add(&h->count, 1);
	__sync_fetch_and_add(&h->sum, v);
}

/* Look the key up; insert init when absent (tolerating a racing insert). */
static __always_inline void *lookup_or_init(void *map, const void *key, const void *init)
{
	void *val;
	long err;

	val = bpf_map_lookup_elem(map, key);
	if (val)
		return val;
	err = bpf_map_update_elem(map, key, init, BPF_NOEXIST);
	if (err && err != -EEXIST)
		return 0;
	return bpf_map_lookup_elem(map, key);
}

/*
 * Every program object has an `events` ring buffer and an `events_dropped`
 * per-CPU counter; a failed reservation is counted, never silent.
 */
#define DECLARE_EVENTS(ringbuf_bytes)                                                              \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_RINGBUF);                                                \
		__uint(max_entries, ringbuf_bytes);                                                \
	} events SEC(".maps");                                                                     \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                                           \
		__uint(max_entries, 1);                                                            \
		__type(key, __u32);                                                                \
		__type(value, __u64);                                                              \
	} events_dropped SEC(".maps");                                                             \
	static __always_inline void *event_reserve(__u64 size)                                     \
	{                                                                                          \
		void *e = bpf_ringbuf_reserve(&events, size, 0);                                   \
		if (!e) {                                                                          \
			__u32 zero = 0;                                                            \
			__u64 *n = bpf_map_lookup_elem(&events_dropped, &zero);                    \
			if (n)                                                                     \
				(*n)++;                                                            \
		}                                                                                  \
		return e;                                                                          \
	}                                                                                          \
	/* Waking the reader costs microseconds per event; userspace polls                         \
	 * every 100 ms anyway, so wake it only when the buffer half fills. */                     \
	static __always_inline void event_submit(void *e)                                          \
	{                                                                                          \
		__u64 queued = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);                      \
		bpf_ringbuf_submit(e, queued > (ringbuf_bytes) / 2 ? BPF_RB_FORCE_WAKEUP           \
								   : BPF_RB_NO_WAKEUP);            \
	}

static __always_inline void event_hdr_fill(struct kp_event_hdr *h, __u32 type, __u32 pid)
{
	h->type = type;
	h->pid = pid;
	h->ts_ns = bpf_ktime_get_ns();
}

/*
 * The per-process aggregates map, shared by several program objects: the
 * loader creates it once and hands its fd to each object before load.
 * proc_stat_get() records the current task's comm when it creates an
 * entry for the current process; entries made for another process (a
 * cache eviction) get an empty comm, which userspace fills from /proc.
 */
#define DECLARE_PROC_STATS()                                                                       \
	struct {                                                                                   \
		__uint(type, BPF_MAP_TYPE_LRU_PERCPU_HASH);                                        \
		__uint(max_entries, KP_PROC_MAX_ENTRIES);                                          \
		__type(key, __u32);                                                                \
		__type(value, struct kp_proc_stat);                                                \
	} proc_stats SEC(".maps");                                                                 \
	static __always_inline struct kp_proc_stat *proc_stat_get(__u32 tgid, bool is_current)     \
	{                                                                                          \
		struct kp_proc_stat *ps = bpf_map_lookup_elem(&proc_stats, &tgid);                 \
		if (ps)                                                                            \
			return ps;                                                                 \
		struct kp_proc_stat init = {};                                                     \
		if (is_current)                                                                    \
			bpf_get_current_comm(init.comm, sizeof(init.comm));                        \
		return lookup_or_init(&proc_stats, &tgid, &init);                                  \
	}

/*
 * Adds delta to value `which` of tgid's slot in a per-CPU process cache
 * (struct kp_proc_cache_slot[KP_PROC_CACHE_SLOTS]); a slot owned by another
 * process is first flushed to proc_stats through flush(ps, slot).
 */
#define PROC_CACHE_ADD(cache, tgid_, which, delta, flush)                                          \
	do {                                                                                       \
		__u32 __tgid = (tgid_);                                                            \
		struct kp_proc_cache_slot *__s = &(cache)[__tgid & (KP_PROC_CACHE_SLOTS - 1)];     \
		if (__s->tgid != __tgid) {                                                         \
			if (__s->tgid && (__s->v[0] || __s->v[1])) {                               \
				struct kp_proc_stat *__ps = proc_stat_get(__s->tgid, false);       \
				if (__ps)                                                          \
					flush(__ps, __s);                                          \
			}                                                                          \
			__s->tgid = __tgid;                                                        \
			__s->v[0] = 0;                                                             \
			__s->v[1] = 0;                                                             \
		}                                                                                  \
		__s->v[which] += (delta);                                                          \
	} while (0)

/*
 * Reads ptr->field: under tp_btf a plain load that the verifier checks
 * against BTF (a few ns), under raw_tp a probe read (a helper call). btf
 * must be a compile-time constant so the unused branch is dropped.
 */
#define KP_READ(btf, ptr, field) ((btf) ? (ptr)->field : BPF_CORE_READ(ptr, field))

/* Per-CPU counter array increment. */
#define COUNTER_ADD(map, idx, delta)                                                               \
	do {                                                                                       \
		__u32 __k = (idx);                                                                 \
		__u64 *__v = bpf_map_lookup_elem(&(map), &__k);                                    \
		if (__v)                                                                           \
			*__v += (delta);                                                           \
	} while (0)

/*
 * One handler, two entry points: tp_btf (BTF-typed, preferred) and raw_tp
 * (fallback where tp_btf cannot attach). Both receive the tracepoint's
 * arguments as an array of u64; the handler is inlined into each with a
 * constant `btf` flag, so code that needs typed pointers (task storage)
 * exists only in the tp_btf copy. Userspace keeps the entry point its
 * feature probe selects and turns the other's autoload off.
 */
#define KP_HOOK(tp, handler)                                                                       \
	SEC("tp_btf/" #tp)                                                                         \
	int btf_##tp(__u64 *ctx)                                                                   \
	{                                                                                          \
		return handler(ctx, true);                                                         \
	}                                                                                          \
	SEC("raw_tp/" #tp)                                                                         \
	int raw_##tp(__u64 *ctx)                                                                   \
	{                                                                                          \
		return handler(ctx, false);                                                        \
	}

#endif /* KPULSE_BPF_H */
