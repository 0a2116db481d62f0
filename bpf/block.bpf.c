// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * block.bpf.c - block I/O probes: per device completed I/Os and bytes by
 * operation, errors, latency (issue -> complete) and queue time (insert or
 * start -> issue) histograms; per-process I/O bytes; I/Os slower than a
 * threshold as events.
 *
 * Requests are followed from block_io_start (or block_rq_insert where that
 * is missing) through block_rq_issue to block_io_done (or block_rq_complete
 * before 6.5) in a hash keyed by the request's address. Queue time starts at the kernel's own
 * rq->start_time_ns (set when the request is allocated, before any
 * scheduler queue) so insert needs no hook of its own.
 */
#include "vmlinux.h"
#include "kpulse.bpf.h"
#include "core_fixes.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Set by the loader before load: I/Os at least this slow become events. */
const volatile __u64 slow_io_ns = 50ULL * 1000 * 1000;
/* Set by the loader: block_io_done (6.5+) exists, so a request's times
 * end where the kernel's own accounting (/proc/diskstats) ends them. */
const volatile bool use_io_done = false;

#define REQ_OP_MASK    0xff
#define REQ_OP_READ    0
#define REQ_OP_WRITE   1
#define REQ_OP_FLUSH   2
#define REQ_OP_DISCARD 3

struct rq_track {
	__u64 queued_ns;
	__u64 issue_ns;
	__u32 tgid;
	__u32 bytes; /* the request's size when it started or was issued */
	char comm[KP_COMM_LEN];
};

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

static __always_inline void blk_cache_flush(struct kp_proc_stat *ps,
					    const struct kp_proc_cache_slot *slot)
{
	ps->io_read_bytes += slot->v[0];
	ps->io_write_bytes += slot->v[1];
}

/* The submitter's context: record who and when, and count its bytes. */
static __always_inline int track_start(struct request *rq, const bool btf)
{
	__u64 key = (__u64)rq, id = bpf_get_current_pid_tgid();
	struct rq_track t = {};
	__u32 op;

	if (rq_is_flush(rq, btf))
		return 0;
	t.queued_ns = bpf_ktime_get_ns();
	t.tgid = id >> 32;
	t.bytes = KP_READ(btf, rq, __data_len);
	bpf_get_current_comm(t.comm, sizeof(t.comm));
	bpf_map_update_elem(&rq_tracks, &key, &t, BPF_ANY);

	op = rq_op(rq, btf);
	if (t.tgid && (op == KP_BLK_OP_READ || op == KP_BLK_OP_WRITE)) {
		__u32 zero = 0;
		struct kp_blk_cpu *c = bpf_map_lookup_elem(&blk_cpu, &zero);

		if (c)
			PROC_CACHE_ADD(c->cache, t.tgid, op == KP_BLK_OP_READ ? 0 : 1,
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
	__u64 key = (__u64)rq, now, start = 0;
	struct rq_track *t;

	if (rq_is_flush(rq, btf))
		return 0;
	now = bpf_ktime_get_ns();
	if (bpf_core_field_exists(rq->start_time_ns))
		start = KP_READ(btf, rq, start_time_ns);
	t = bpf_map_lookup_elem(&rq_tracks, &key);
	if (t) {
		t->issue_ns = now;
		t->bytes = KP_READ(btf, rq, __data_len);
		if (start && start <= now)
			t->queued_ns = start;
	} else {
		/* Started before we attached, or not through the block layer's
		 * accounting: latency is still measurable from here. */
		struct rq_track n = {.issue_ns = now, .bytes = KP_READ(btf, rq, __data_len)};

		if (start && start <= now)
			n.queued_ns = start;
		bpf_map_update_elem(&rq_tracks, &key, &n, BPF_ANY);
	}
	return 0;
}

/*
 * The request's times: queue (start -> issue) and latency (issue -> now),
 * per operation. Called where the request ends: block_io_done, whose
 * caller took the kernel's `now` for /proc/diskstats just before, so
 * queue + latency is the time diskstats adds for the request; or
 * block_rq_complete on kernels without it.
 */
static __always_inline void finish_rq(struct request *rq, struct kp_blk_dev_stat *st, __u32 dev,
				      __u32 op, __u64 now, const bool btf)
{
	__u64 key = (__u64)rq, lat, start = 0;
	struct kp_event_slow_io *e;
	struct rq_track *t;

	t = bpf_map_lookup_elem(&rq_tracks, &key);
	if (!t)
		return;
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
			e->bytes = t->bytes;
			e->latency_ns = lat;
			event_submit(e);
		}
	}
out:
	bpf_map_delete_elem(&rq_tracks, &key);
}

static __always_inline int handle_rq_complete(__u64 *ctx, const bool btf)
{
	struct request *rq = (void *)ctx[0];
	int error = (int)ctx[1];
	__u32 nr_bytes = (__u32)ctx[2];
	struct kp_blk_dev_stat *st;
	__u32 dev, op;

	if (rq_is_flush(rq, btf))
		return 0;
	dev = rq_dev(rq, btf);
	op = rq_op(rq, btf);
	st = lookup_or_init(&blk_dev_stats, &dev, &zero_dev_stat);
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
	if (!use_io_done)
		finish_rq(rq, st, dev, op, bpf_ktime_get_ns(), btf);
	return 0;
}

static __always_inline int handle_io_done(__u64 *ctx, const bool btf)
{
	/* First: the kernel took its `now` just before this tracepoint. */
	__u64 now = bpf_ktime_get_ns();
	struct request *rq = (void *)ctx[0];
	struct kp_blk_dev_stat *st;
	__u32 dev;

	if (!use_io_done || rq_is_flush(rq, btf))
		return 0;
	/* A write with a preflush or FUA on a disk that needs flushes for
	 * them ends here once per step; the kernel accounts it, from its
	 * start, only when the flush sequence is over. So do we. */
	if (KP_READ(btf, rq, rq_flags) & rqf_flush_seq())
		return 0;
	dev = rq_dev(rq, btf);
	st = bpf_map_lookup_elem(&blk_dev_stats, &dev);
	if (st)
		finish_rq(rq, st, dev, rq_op(rq, btf), now, btf);
	return 0;
}

KP_HOOK(block_io_start, handle_io_start)
KP_HOOK(block_rq_issue, handle_rq_issue)
KP_HOOK(block_rq_complete, handle_rq_complete)
KP_HOOK(block_io_done, handle_io_done)

/* For kernels without block_io_start (before 6.5): insert is where the
 * submitter is still known. The loader attaches it only then. */
KP_HOOK(block_rq_insert, handle_rq_insert_as_start)
