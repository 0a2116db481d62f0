// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * memstat.c - the /proc/meminfo gauges and the /proc/vmstat counters of
 * swap traffic and page faults, one table row per key.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collection/memstat.h"
#include "collection/procfs.h"

#define MEMINFO_MAX_BYTES (64 << 10)
#define VMSTAT_MAX_BYTES  (64 << 10)

#define KEY(k) k, sizeof(k) - 1

static const struct {
	const char *key; /* as the file spells it */
	size_t len;
	const char *metric; /* the series it becomes */
	bool counter;
	const char *help;
} keys[MEMSTAT_KEY_NR] = {
    [MEMSTAT_MEM_TOTAL] = {KEY("MemTotal"), "kpulse_mem_total_bytes", false,
			   "MemTotal, /proc/meminfo"},
    [MEMSTAT_MEM_FREE] = {KEY("MemFree"), "kpulse_mem_free_bytes", false, "MemFree, /proc/meminfo"},
    [MEMSTAT_MEM_AVAILABLE] = {KEY("MemAvailable"), "kpulse_mem_available_bytes", false,
			       "MemAvailable, /proc/meminfo"},
    [MEMSTAT_BUFFERS] = {KEY("Buffers"), "kpulse_mem_buffers_bytes", false,
			 "Buffers (block device page cache), /proc/meminfo"},
    [MEMSTAT_CACHED] = {KEY("Cached"), "kpulse_mem_cached_bytes", false, "Cached, /proc/meminfo"},
    [MEMSTAT_SWAP_CACHED] = {KEY("SwapCached"), "kpulse_mem_swap_cached_bytes", false,
			     "SwapCached (swapped out, also still in memory), /proc/meminfo"},
    [MEMSTAT_DIRTY] = {KEY("Dirty"), "kpulse_mem_dirty_bytes", false,
		       "Dirty (waiting to be written back), /proc/meminfo"},
    [MEMSTAT_WRITEBACK] = {KEY("Writeback"), "kpulse_mem_writeback_bytes", false,
			   "Writeback (being written back), /proc/meminfo"},
    [MEMSTAT_ANON_PAGES] = {KEY("AnonPages"), "kpulse_mem_anon_bytes", false,
			    "AnonPages (anonymous memory mapped by processes), /proc/meminfo"},
    [MEMSTAT_SHMEM] = {KEY("Shmem"), "kpulse_mem_shmem_bytes", false,
		       "Shmem (shared memory and tmpfs), /proc/meminfo"},
    [MEMSTAT_SLAB] = {KEY("Slab"), "kpulse_mem_slab_bytes", false, "Slab, /proc/meminfo"},
    [MEMSTAT_SRECLAIMABLE] = {KEY("SReclaimable"), "kpulse_mem_slab_reclaimable_bytes", false,
			      "SReclaimable, /proc/meminfo"},
    [MEMSTAT_SUNRECLAIM] = {KEY("SUnreclaim"), "kpulse_mem_slab_unreclaimable_bytes", false,
			    "SUnreclaim, /proc/meminfo"},
    [MEMSTAT_SWAP_TOTAL] = {KEY("SwapTotal"), "kpulse_mem_swap_total_bytes", false,
			    "SwapTotal, /proc/meminfo"},
    [MEMSTAT_SWAP_FREE] = {KEY("SwapFree"), "kpulse_mem_swap_free_bytes", false,
			   "SwapFree, /proc/meminfo"},
    [MEMSTAT_PSWPIN] = {KEY("pswpin"), "kpulse_mem_swap_in_bytes_total", true,
			"Bytes swapped in, pswpin in /proc/vmstat times the page size"},
    [MEMSTAT_PSWPOUT] = {KEY("pswpout"), "kpulse_mem_swap_out_bytes_total", true,
			 "Bytes swapped out, pswpout in /proc/vmstat times the page size"},
    [MEMSTAT_PGMAJFAULT] = {KEY("pgmajfault"), "kpulse_mem_major_page_faults_total", true,
			    "Major page faults (the page was read from disk), pgmajfault in "
			    "/proc/vmstat"},
    /* Counted in mm_account_fault() for every fault handle_mm_fault()
     * completes, also those taken on a task's behalf (prefaulting,
     * get_user_pages): the exact total, which BPF cannot see whole. */
    [MEMSTAT_PGFAULT] = {KEY("pgfault"), "kpulse_mem_page_faults_total", true,
			 "Page faults, pgfault in /proc/vmstat"},
};

/* Finds the key of line [line, end) among keys[first..last). Most lines
 * are not ours (vmstat has ~180): the length and first byte sort them out. */
static int find_key(const char *line, size_t len, int first, int last)
{
	for (int i = first; i < last; i++)
		if (keys[i].len == len && line[0] == keys[i].key[0] &&
		    memcmp(line, keys[i].key, len) == 0)
			return i;
	return -1;
}

/*
 * Shared by both files: "Key:<blanks>N[ kB]\n" (meminfo, sep ':') or
 * "key N\n" (vmstat, sep ' '). Unknown keys are skipped without parsing
 * their value.
 */
static void parse_lines(const char *text, char sep, int first, int last, bool kb,
			struct memstat_values *m)
{
	const char *line = text, *nl;

	for (; (nl = strchr(line, '\n')); line = nl + 1) {
		const char *s = memchr(line, sep, (size_t)(nl - line)), *p;
		uint64_t v;
		int k;

		if (!s || (k = find_key(line, (size_t)(s - line), first, last)) < 0)
			continue;
		p = s + 1;
		if (procfs_parse_u64(&p, &v)) {
			m->malformed++;
			continue;
		}
		if (kb && strncmp(p, " kB", 3) == 0) {
			if (v > UINT64_MAX / 1024) {
				m->malformed++;
				continue;
			}
			v *= 1024;
			p += 3;
		}
		if (p != nl) {
			m->malformed++;
			continue;
		}
		m->v[k] = v;
		m->has[k] = true;
	}
	if (*line)
		m->malformed++;
}

int memstat_parse_meminfo(const char *text, struct memstat_values *ret)
{
	struct memstat_values m = *ret;

	memset(m.v, 0, sizeof(m.v[0]) * MEMSTAT_MEMINFO_NR);
	memset(m.has, 0, sizeof(m.has[0]) * MEMSTAT_MEMINFO_NR);
	m.malformed = 0;
	parse_lines(text, ':', 0, MEMSTAT_MEMINFO_NR, true, &m);
	if (!m.has[MEMSTAT_MEM_TOTAL])
		return -EINVAL;
	*ret = m;
	return 0;
}

int memstat_parse_vmstat(const char *text, struct memstat_values *ret)
{
	struct memstat_values m = *ret;
	bool any = false;

	memset(m.v + MEMSTAT_MEMINFO_NR, 0, sizeof(m.v[0]) * (MEMSTAT_KEY_NR - MEMSTAT_MEMINFO_NR));
	memset(m.has + MEMSTAT_MEMINFO_NR, 0,
	       sizeof(m.has[0]) * (MEMSTAT_KEY_NR - MEMSTAT_MEMINFO_NR));
	m.malformed = 0;
	parse_lines(text, ' ', MEMSTAT_MEMINFO_NR, MEMSTAT_KEY_NR, false, &m);
	for (int k = MEMSTAT_MEMINFO_NR; k < MEMSTAT_KEY_NR; k++)
		any |= m.has[k];
	if (!any)
		return -EINVAL;
	*ret = m;
	return 0;
}

/* ------------------------------------------------------------ the reader */

struct memstat {
	struct procfs_file meminfo, vmstat;
	double page_size;
};

int memstat_new(const char *proc_root, struct memstat **ret)
{
	struct memstat *ms = calloc(1, sizeof(*ms));
	long ps = sysconf(_SC_PAGESIZE);
	int err;

	if (!ms)
		return -ENOMEM;
	ms->page_size = ps > 0 ? (double)ps : 4096;
	err = procfs_file_init(&ms->meminfo, proc_root, "meminfo", MEMINFO_MAX_BYTES, false);
	if (!err)
		err = procfs_file_init(&ms->vmstat, proc_root, "vmstat", VMSTAT_MAX_BYTES, false);
	if (err) {
		memstat_free(ms);
		return err;
	}
	*ret = ms;
	return 0;
}

struct memstat *memstat_free(struct memstat *ms)
{
	if (!ms)
		return NULL;
	procfs_file_close(&ms->meminfo);
	procfs_file_close(&ms->vmstat);
	free(ms);
	return NULL;
}

/* Emits keys[first..last) that the text had. */
static int emit(const struct memstat *ms, const struct memstat_values *m, int first, int last,
		struct registry *r)
{
	int err = 0;

	for (int k = first; k < last && !err; k++) {
		double v = (double)m->v[k];

		if (!m->has[k])
			continue;
		if (k == MEMSTAT_PSWPIN || k == MEMSTAT_PSWPOUT)
			v *= ms->page_size;
		err = keys[k].counter ? registry_set_counter(r, keys[k].metric, NULL, 0, v)
				      : registry_set_gauge(r, keys[k].metric, NULL, 0, v);
	}
	return err;
}

int memstat_sample(struct memstat *ms, struct registry *r)
{
	struct memstat_values m = {};
	int err = 0;

	if (procfs_file_read(&ms->meminfo) >= 0) {
		if (memstat_parse_meminfo(ms->meminfo.buf, &m) == 0) {
			ms->meminfo.errors += m.malformed;
			err = emit(ms, &m, 0, MEMSTAT_MEMINFO_NR, r);
		} else {
			ms->meminfo.errors++;
		}
	}
	if (!err && procfs_file_read(&ms->vmstat) >= 0) {
		if (memstat_parse_vmstat(ms->vmstat.buf, &m) == 0) {
			ms->vmstat.errors += m.malformed;
			err = emit(ms, &m, MEMSTAT_MEMINFO_NR, MEMSTAT_KEY_NR, r);
		} else {
			ms->vmstat.errors++;
		}
	}
	if (!err)
		err = procfs_file_report(&ms->meminfo, r);
	if (!err)
		err = procfs_file_report(&ms->vmstat, r);
	return err;
}

void memstat_describe(struct registry *r)
{
	for (int k = 0; k < MEMSTAT_KEY_NR; k++)
		registry_describe(r, keys[k].metric, keys[k].help);
}
