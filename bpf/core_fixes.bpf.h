/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * core_fixes.bpf.h - every kernel struct that changed shape under kpulse's
 * reads, in one place. Each variant is a CO-RE "flavor" (the ___suffix is
 * ignored when relocating) that describes the older layout, and each names
 * the kernel change it covers, so that the day a kernel is too old to
 * matter its block can simply go. The accessor functions pick the layout
 * with bpf_core_field_exists() / bpf_core_field_size(), which the loader
 * resolves against the running kernel's BTF: never a version check.
 *
 * `btf` is the KP_HOOK handler's compile-time flag: typed loads under
 * tp_btf, probe reads under raw_tp (see KP_READ in kpulse.bpf.h).
 */
#ifndef KPULSE_CORE_FIXES_BPF_H
#define KPULSE_CORE_FIXES_BPF_H

#include "kpulse.bpf.h"

/*
 * commit 2f064a59a11f ("sched: Change task_struct::state"), 5.14, renamed
 * task_struct::state to __state (and made it an unsigned int).
 */
struct task_struct___pre_5_14 {
	long state;
} __attribute__((preserve_access_index));

static __always_inline __u32 task_state(struct task_struct *t, const bool btf)
{
	if (bpf_core_field_exists(t->__state))
		return KP_READ(btf, t, __state);
	return KP_READ(btf, (struct task_struct___pre_5_14 *)t, state);
}

/*
 * commit f3fa33acca9f ("block: remove the ->rq_disk field in struct
 * request"), 5.17: the disk is reached through rq->q->disk since.
 */
struct request___pre_5_17 {
	struct gendisk *rq_disk;
} __attribute__((preserve_access_index));

static __always_inline struct gendisk *request_disk(struct request *rq, const bool btf)
{
	struct request_queue *q;

	if (bpf_core_field_exists(((struct request___pre_5_17 *)rq)->rq_disk))
		return KP_READ(btf, (struct request___pre_5_17 *)rq, rq_disk);
	q = KP_READ(btf, rq, q);
	return q ? KP_READ(btf, q, disk) : NULL;
}

/*
 * commit f1a7941243c1 ("mm: convert mm's rss stats into percpu_counter"),
 * 6.2: mm->rss_stat went from a struct of four atomics to an array of
 * percpu_counters. A percpu_counter's central count is exact to within its
 * batch, close enough for the size of an OOM victim.
 */
struct mm_rss_stat___pre_6_2 {
	atomic_long_t count[4];
} __attribute__((preserve_access_index));

struct mm_struct___pre_6_2 {
	struct mm_rss_stat___pre_6_2 rss_stat;
} __attribute__((preserve_access_index));

#define KP_MM_FILEPAGES	 0
#define KP_MM_ANONPAGES	 1
#define KP_MM_SHMEMPAGES 3

/* Resident pages (file + anon + shmem) of mm. Probe reads only: it runs
 * on the rare OOM path, where cost does not matter. */
static __always_inline __u64 mm_rss_pages(struct mm_struct *mm)
{
	__s64 file, anon, shmem;

	/* The old struct of four atomics is 32 bytes; the array of
	 * percpu_counters is several times larger. */
	if (bpf_core_field_size(mm->rss_stat) != sizeof(struct mm_rss_stat___pre_6_2)) {
		file = BPF_CORE_READ(mm, rss_stat[KP_MM_FILEPAGES].count);
		anon = BPF_CORE_READ(mm, rss_stat[KP_MM_ANONPAGES].count);
		shmem = BPF_CORE_READ(mm, rss_stat[KP_MM_SHMEMPAGES].count);
	} else {
		struct mm_struct___pre_6_2 *old = (void *)mm;

		file = BPF_CORE_READ(old, rss_stat.count[KP_MM_FILEPAGES].counter);
		anon = BPF_CORE_READ(old, rss_stat.count[KP_MM_ANONPAGES].counter);
		shmem = BPF_CORE_READ(old, rss_stat.count[KP_MM_SHMEMPAGES].counter);
	}
	file = file < 0 ? 0 : file;
	anon = anon < 0 ? 0 : anon;
	shmem = shmem < 0 ? 0 : shmem;
	return file + anon + shmem;
}

#endif /* KPULSE_CORE_FIXES_BPF_H */
