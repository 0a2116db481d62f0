// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * block.bpf.c - block I/O probes: per device completed I/Os and bytes by
 * operation, errors, latency (issue -> complete) and queue time (insert or
 * start -> issue) histograms; per-process I/O bytes; I/Os slower than a
 * threshold as events.
 *
 * Requests are followed from block_io_start (or block_rq_insert where that
 * is missing) through block_rq_issue to block_io_done (or block_rq_complete
 * before 6.5). Queue time starts at the kernel's own rq->start_time_ns (set
 * when the request is allocated, before any scheduler queue) so insert
 * needs no hook of its own. Where block_io_done and block_rq_error exist,
 * a request is counted, timed and released in block_io_done, errors come
 * from block_rq_error (which fires only on errors), and block_rq_complete
 * is not attached: three programs per I/O.
 *
 * A request's state lives in a slot of a direct-mapped array chosen by a
 * hash of its address (requests are preallocated per tag set, so a
 * request's address is reused and its slot with it); one whose slot is
 * held by another request in flight goes to a hash map instead. Array
 * lookups are inlined by the verifier and take no lock, where a hash
 * insert and delete per I/O cost more than the rest of the path.
 */
#include "vmlinux.h"
#include "kpulse.bpf.h"
#include "core_fixes.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader before load: I/Os at least this slow become events. */
const volatile __u64 slow_io_ns = 50ULL * 1000 * 1000;
/* Set by the loader: block_io_done (6.5+) and block_rq_error exist, so a
 * request is counted and its times end where the kernel's own accounting
 * (/proc/diskstats) ends them, and block_rq_complete is not attached. */
const volatile bool use_io_done = false;

#define REQ_OP_MASK    0xff
#define REQ_OP_READ    0
#define REQ_OP_WRITE   1
#define REQ_OP_FLUSH   2
#define REQ_OP_DISCARD 3

struct rq_track {
	__u64 rq;	 /* the request holding this slot of rq_slots, 0: free */
	__u64 queued_ns; /* its start, on kernels without rq->start_time_ns */
	__u64 issue_ns;
	__u32 tgid;
	__u32 bytes; /* the request's size when it was first issued */
	char comm[KP_COMM_LEN];
};

/* A power of two; about 16 requests in flight on a disk find a slot of
 * their own (at a time) with a probability near 0.97, the rest use
 * rq_tracks. */
#define RQ_SLOTS_SHIFT 12

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 << RQ_SLOTS_SHIFT);
	__type(key, __u32);
	__type(value, struct rq_track);
} rq_slots SEC(".maps");

/* Requests whose slot was held by another one in flight. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct rq_track);
} rq_tracks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct kp_blk_dev_stat);
} blk_dev_stats SEC(".maps");

/* The per-device stats of the hot path (see kpulse_abi.h): an inlined
 * per-CPU array lookup instead of a per-CPU hash lookup per I/O. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, KP_BLK_DEV_SLOTS);
	__type(key, __u32);
	__type(value, struct kp_blk_dev_slot);
} blk_dev_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kp_blk_dev_slot_used);
} blk_dev_slot_used SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct kp_blk_cpu);
} blk_cpu SEC(".maps");

/* Too large for the BPF stack: the zero value that starts a device. */
static struct kp_blk_dev_stat zero_dev_stat;

DECLARE_PROC_STATS()
DECLARE_EVENTS(128 * 1024)

static __always_inline __u32 rq_dev(struct request *rq, const bool btf)
{
	struct gendisk *disk = request_disk(rq, btf);

	if (!disk)
		return 0;
	return ((__u32)KP_READ(btf, disk, major) << 20) | (__u32)KP_READ(btf, disk, first_minor);
}

/* dev's stats on this CPU: its slot, claimed if free, else the hash. */
static __always_inline struct kp_blk_dev_stat *dev_stat_get(__u32 dev)
{
	__u32 idx = KP_BLK_DEV_SLOT(dev), zero = 0;
	struct kp_blk_dev_slot *s;
	struct kp_blk_dev_slot_used *used;

	s = bpf_map_lookup_elem(&blk_dev_slots, &idx);
	if (s && dev) {
		if (s->dev == dev)
			return &s->stat;
		if (!s->dev) {
			used = bpf_map_lookup_elem(&blk_dev_slot_used, &zero);
			if (used) {
				/* Marked before use: userspace then never
				 * misses a slot with counts in it. */
				used->dev[idx & (KP_BLK_DEV_SLOTS - 1)] = dev;
				s->dev = dev;
				return &s->stat;
			}
		}
	}
	return lookup_or_init(&blk_dev_stats, &dev, &zero_dev_stat);
}

static __always_inline __u32 rq_op(struct request *rq, const bool btf)
{
	switch (KP_READ(btf, rq, cmd_flags) & REQ_OP_MASK) {
	case REQ_OP_READ:
		return KP_BLK_OP_READ;
	case REQ_OP_WRITE:
		return KP_BLK_OP_WRITE;
	case REQ_OP_DISCARD:
		return KP_BLK_OP_DISCARD;
	default:
		return KP_BLK_OP_OTHER;
	}
}

/* RQF_FLUSH_SEQ: an enum bit since 6.9, the same bit as a macro before. */
static __always_inline __u32 rqf_flush_seq(void)
{
	if (bpf_core_enum_value_exists(enum rqf_flags, __RQF_FLUSH_SEQ))
		return 1U << bpf_core_enum_value(enum rqf_flags, __RQF_FLUSH_SEQ);
	return 1U << 4;
}

static __always_inline bool rq_is_flush(struct request *rq, const bool btf)
{
	return (KP_READ(btf, rq, cmd_flags) & REQ_OP_MASK) == REQ_OP_FLUSH;
}

/*
 * A number that names the request, the same under tp_btf and raw_tp: its
 * distance from a global of this object. Under tp_btf rq is a typed
 * pointer, and the verifier allows no arithmetic on it but the difference
 * with another pointer; under raw_tp rq is a plain number, and the
 * global's address comes through a read of a pointer to it.
 */
static __always_inline __u64 rq_key(struct request *rq, const bool btf)
{
	const void *anchor = &zero_dev_stat;
	__u64 anchor_addr = 0;

	if (btf)
		return (__u64)rq - (__u64)anchor;
	bpf_probe_read_kernel(&anchor_addr, sizeof(anchor_addr), &anchor);
	return (__u64)rq - anchor_addr;
}

/* Fibonacci hashing of the request's address: its low bits are the
 * request's offset in a tag set's pages and repeat from page to page. */
static __always_inline __u32 rq_slot_index(__u64 key)
{
	return (__u32)((key * 0x9E3779B97F4A7C15ULL) >> (64 - RQ_SLOTS_SHIFT));
}

/* The request's state, in its slot or in the hash; NULL if untracked. */
static __always_inline struct rq_track *track_find(__u64 key)
{
	__u32 idx = rq_slot_index(key);
	struct rq_track *t = bpf_map_lookup_elem(&rq_slots, &idx);

	if (t && t->rq == key)
		return t;
	return bpf_map_lookup_elem(&rq_tracks, &key);
}

/*
 * A zeroed state for the request: its slot when free (or already its own,
 * from a life that ended while we were not attached), else an entry in the
 * hash. Two CPUs can claim one free slot at the same instant (no atomic
 * compare-and-swap before 5.12); the loser's request is then untracked:
 * counted, but without times. Its window is a few instructions wide.
 */
static __always_inline struct rq_track *track_claim(__u64 key)
{
	__u32 idx = rq_slot_index(key);
	struct rq_track *t = bpf_map_lookup_elem(&rq_slots, &idx);
	struct rq_track zero = {};

	if (t && (t->rq == 0 || t->rq == key)) {
		__builtin_memset(t, 0, sizeof(*t));
		t->rq = key;
		return t;
	}
	if (bpf_map_update_elem(&rq_tracks, &key, &zero, BPF_ANY))
		return NULL;
	return bpf_map_lookup_elem(&rq_tracks, &key);
}

/* Done with the request: its slot free again, or its hash entry gone. */
static __always_inline void track_release(struct rq_track *t, __u64 key)
{
	if (t->rq == key) {
		/* Every read of the slot comes before the store that frees it. */
		asm volatile("" ::: "memory");
		t->rq = 0;
	} else {
		bpf_map_delete_elem(&rq_tracks, &key);
	}
}

static __always_inline void blk_cache_flush(struct kp_proc_stat *ps,
					    const struct kp_proc_cache_slot *slot)
{
	ps->io_read_bytes += slot->v[0];
	ps->io_write_bytes += slot->v[1];
}

/* The submitter's context: record who, and count its bytes. */
static __always_inline int track_start(struct request *rq, const bool btf)
{
	__u64 key = rq_key(rq, btf), id = bpf_get_current_pid_tgid();
	struct rq_track *t;
	__u32 op, tgid = id >> 32;

	if (rq_is_flush(rq, btf))
		return 0;
	t = track_claim(key);
	if (t) {
		if (!bpf_core_field_exists(rq->start_time_ns))
			t->queued_ns = bpf_ktime_get_ns();
		t->tgid = tgid;
		bpf_get_current_comm(t->comm, sizeof(t->comm));
	}

	op = rq_op(rq, btf);
	if (tgid && (op == KP_BLK_OP_READ || op == KP_BLK_OP_WRITE)) {
		__u32 zero = 0;
		struct kp_blk_cpu *c = bpf_map_lookup_elem(&blk_cpu, &zero);

		if (c)
			PROC_CACHE_ADD(c->cache, tgid, op == KP_BLK_OP_READ ? 0 : 1,
				       KP_READ(btf, rq, __data_len), blk_cache_flush);
	}
	return 0;
}

static __always_inline int handle_io_start(__u64 *ctx, const bool btf)
{
	return track_start((void *)ctx[0], btf);
}

/* Used only where block_io_start (6.5) is missing. */
static __always_inline int handle_rq_insert_as_start(__u64 *ctx, const bool btf)
{
	return track_start((void *)ctx[0], btf);
}

static __always_inline int handle_rq_issue(__u64 *ctx, const bool btf)
{
	struct request *rq = (void *)ctx[0];
	__u64 key = rq_key(rq, btf), now;
	struct rq_track *t;

	if (rq_is_flush(rq, btf))
		return 0;
	now = bpf_ktime_get_ns();
	t = track_find(key);
	/* Started before we attached, or not through the block layer's
	 * accounting: latency is still measurable from here. */
	if (!t)
		t = track_claim(key);
	if (!t)
		return 0;
	/* A requeued request is issued again: its latency is the last
	 * issue's, its size the first's (a partial completion shrinks it). */
	if (!t->issue_ns)
		t->bytes = KP_READ(btf, rq, __data_len);
	t->issue_ns = now;
	return 0;
}

/*
 * The request's times: queue (start -> issue) and latency (issue -> now),
 * per operation, then its state released. Called where the request ends:
 * block_io_done, whose caller took the kernel's `now` for /proc/diskstats
 * just before, so queue + latency is the time diskstats adds for the
 * request; or block_rq_complete on kernels without it. Returns the bytes
 * the request was issued with (0 if it was not tracked).
 */
static __always_inline __u32 finish_rq(struct request *rq, struct kp_blk_dev_stat *st, __u32 dev,
				       __u32 op, __u64 now, const bool btf)
{
	__u64 key = rq_key(rq, btf), lat, start = 0;
	struct kp_event_slow_io *e;
	struct rq_track *t;
	__u32 bytes;

	t = track_find(key);
	if (!t)
		return 0;
	bytes = t->bytes;
	if (bpf_core_field_exists(rq->start_time_ns))
		start = KP_READ(btf, rq, start_time_ns);
	if (!start || start > now)
		start = t->queued_ns;
	if (t->issue_ns && now >= t->issue_ns) {
		lat = now - t->issue_ns;
		if (start && t->issue_ns >= start)
			hist_add_percpu(&st->queue_time[op], t->issue_ns - start);
	} else if (start && now >= start) {
		/* Never issued itself: an empty preflush write, done when the
		 * flush it waited on was. The kernel accounts it as a write;
		 * its time is that flush's, on the device. */
		lat = now - start;
	} else {
		goto out;
	}
	hist_add_percpu(&st->latency[op], lat);
	if (slow_io_ns && lat >= slow_io_ns) {
		e = event_reserve(sizeof(*e));
		if (e) {
			event_hdr_fill(&e->hdr, KP_EV_SLOW_IO, t->tgid);
			__builtin_memcpy(e->hdr.comm, t->comm, sizeof(e->hdr.comm));
			e->dev = dev;
			e->op = op;
			e->bytes = bytes;
			e->latency_ns = lat;
			event_submit(e);
		}
	}
out:
	track_release(t, key);
	return bytes;
}

/* Kernels without block_io_done or block_rq_error: counts, bytes and
 * errors here, where each (partial) completion is traced. */
static __always_inline int handle_rq_complete(__u64 *ctx, const bool btf)
{
	struct request *rq = (void *)ctx[0];
	int error = (int)ctx[1];
	__u32 nr_bytes = (__u32)ctx[2];
	struct kp_blk_dev_stat *st;
	__u32 dev, op;

	if (use_io_done || rq_is_flush(rq, btf))
		return 0;
	dev = rq_dev(rq, btf);
	op = rq_op(rq, btf);
	st = dev_stat_get(dev);
	if (!st)
		return 0;
	st->bytes[op] += nr_bytes;
	/* A partial completion leaves the rest of the request pending:
	 * count the I/O when its last bytes complete. */
	if (nr_bytes < KP_READ(btf, rq, __data_len))
		return 0;
	st->ios[op]++;
	if (error)
		st->errors++;
	finish_rq(rq, st, dev, op, bpf_ktime_get_ns(), btf);
	return 0;
}

/*
 * Where the kernel accounts a finished request in /proc/diskstats: its
 * count, its bytes (as issued) and its times, in one program.
 */
static __always_inline int handle_io_done(__u64 *ctx, const bool btf)
{
	/* First: the kernel took its `now` just before this tracepoint. */
	__u64 now = bpf_ktime_get_ns();
	struct request *rq = (void *)ctx[0];
	struct kp_blk_dev_stat *st;
	__u32 dev, op;

	if (!use_io_done || rq_is_flush(rq, btf))
		return 0;
	/* A write with a preflush or FUA on a disk that needs flushes for
	 * them ends here once per step; the kernel accounts it, from its
	 * start, only when the flush sequence is over. So do we. */
	if (KP_READ(btf, rq, rq_flags) & rqf_flush_seq())
		return 0;
	dev = rq_dev(rq, btf);
	op = rq_op(rq, btf);
	st = dev_stat_get(dev);
	if (!st) {
		struct rq_track *t = track_find(rq_key(rq, btf));

		if (t)
			track_release(t, rq_key(rq, btf));
		return 0;
	}
	st->ios[op]++;
	st->bytes[op] += finish_rq(rq, st, dev, op, now, btf);
	return 0;
}

/* Fires only on a failed (not quiet) completion: off the hot path. */
static __always_inline int handle_rq_error(__u64 *ctx, const bool btf)
{
	struct request *rq = (void *)ctx[0];
	struct kp_blk_dev_stat *st;
	__u32 dev;

	if (!use_io_done)
		return 0;
	dev = rq_dev(rq, btf);
	st = dev_stat_get(dev);
	if (st)
		st->errors++;
	return 0;
}

KP_HOOK(block_io_start, handle_io_start)
KP_HOOK(block_rq_issue, handle_rq_issue)
KP_HOOK(block_rq_complete, handle_rq_complete)
KP_HOOK(block_io_done, handle_io_done)
KP_HOOK(block_rq_error, handle_rq_error)

/* For kernels without block_io_start (before 6.5): insert is where the
 * submitter is still known. The loader attaches it only then. */
KP_HOOK(block_rq_insert, handle_rq_insert_as_start)
