// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_memstat.c - /proc/meminfo and /proc/vmstat, captured from 6.18 and in
 * the layouts of older kernels. */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "test.h"
#include "collection/memstat.h"

static double gauge(struct registry *r, const char *name)
{
	const struct metric_series *s = registry_find(r, name, NULL, 0);

	return s ? s->value : -1;
}

TEST(meminfo_of_6_18_has_every_key_in_bytes)
{
	struct memstat_values m = {};
	char *text = test_fixture("proc-6.18/meminfo");

	CHECK(text);
	CHECK_EQ_INT(memstat_parse_meminfo(text, &m), 0);
	free(text);
	for (int k = 0; k < MEMSTAT_MEMINFO_NR; k++)
		CHECK(m.has[k]);
	CHECK(m.v[MEMSTAT_MEM_TOTAL] % 1024 == 0);
	CHECK(m.v[MEMSTAT_MEM_AVAILABLE] <= m.v[MEMSTAT_MEM_TOTAL]);
	CHECK_EQ_INT(m.v[MEMSTAT_SLAB], m.v[MEMSTAT_SRECLAIMABLE] + m.v[MEMSTAT_SUNRECLAIM]);
	CHECK_EQ_INT(m.malformed, 0);
}

TEST(meminfo_of_3_10_has_no_available_and_of_2_6_18_no_shmem_or_slab_split)
{
	struct memstat_values m = {};
	char *t310 = test_fixture("meminfo-3.10"), *t2618 = test_fixture("meminfo-2.6.18");

	CHECK(t310 && t2618);
	CHECK_EQ_INT(memstat_parse_meminfo(t310, &m), 0);
	CHECK(!m.has[MEMSTAT_MEM_AVAILABLE]);
	CHECK_EQ_INT(m.v[MEMSTAT_MEM_TOTAL], 1883496ULL * 1024);
	CHECK_EQ_INT(m.v[MEMSTAT_DIRTY], 28 * 1024);
	CHECK_EQ_INT(m.v[MEMSTAT_SRECLAIMABLE], 78284ULL * 1024);
	CHECK_EQ_INT(memstat_parse_meminfo(t2618, &m), 0);
	CHECK(!m.has[MEMSTAT_SHMEM] && !m.has[MEMSTAT_SRECLAIMABLE] && !m.has[MEMSTAT_SUNRECLAIM]);
	CHECK(!m.has[MEMSTAT_MEM_AVAILABLE]);
	CHECK_EQ_INT(m.v[MEMSTAT_SLAB], 36964ULL * 1024);
	CHECK_EQ_INT(m.v[MEMSTAT_ANON_PAGES], 138608ULL * 1024);
	free(t310);
	free(t2618);
}

TEST(meminfo_skips_bad_lines_of_its_keys_and_needs_memtotal)
{
	struct memstat_values m = {};

	CHECK_EQ_INT(memstat_parse_meminfo("MemTotal: 100 kB\n"
					   "MemFree: abc kB\n"
					   "Dirty: 12 kB junk\n"
					   "Buffers: 99999999999999999 kB\n" /* * 1024 overflows */
					   "HugePages_Total: x\n"	     /* not ours */
					   "Cached: 7 kB",		     /* cut */
					   &m),
		     0);
	CHECK_EQ_INT(m.v[MEMSTAT_MEM_TOTAL], 102400);
	CHECK(!m.has[MEMSTAT_MEM_FREE] && !m.has[MEMSTAT_DIRTY] && !m.has[MEMSTAT_BUFFERS]);
	CHECK(!m.has[MEMSTAT_CACHED]);
	CHECK_EQ_INT(m.malformed, 4);
	m.v[MEMSTAT_MEM_TOTAL] = 5;
	CHECK_EQ_INT(memstat_parse_meminfo("MemFree: 1 kB\n", &m), -EINVAL);
	CHECK_EQ_INT(memstat_parse_meminfo("MemTotal: x kB\n", &m), -EINVAL);
	CHECK_EQ_INT(memstat_parse_meminfo("", &m), -EINVAL);
	CHECK_EQ_INT(m.v[MEMSTAT_MEM_TOTAL], 5); /* untouched on failure */
}

TEST(vmstat_reads_swap_traffic_and_major_faults)
{
	struct memstat_values m = {};
	char *text = test_fixture("proc-6.18/vmstat");

	CHECK(text);
	CHECK_EQ_INT(memstat_parse_vmstat(text, &m), 0);
	free(text);
	CHECK(m.has[MEMSTAT_PSWPIN] && m.has[MEMSTAT_PSWPOUT] && m.has[MEMSTAT_PGMAJFAULT]);
	CHECK(m.v[MEMSTAT_PGMAJFAULT] > 0);
	CHECK_EQ_INT(memstat_parse_vmstat("pgfault 10\npgmajfault 3\npswpin 1\npswpout 2\n", &m),
		     0);
	CHECK_EQ_INT(m.v[MEMSTAT_PGMAJFAULT], 3);
	CHECK_EQ_INT(m.v[MEMSTAT_PGFAULT], 10);
	CHECK_EQ_INT(m.v[MEMSTAT_PSWPOUT], 2);
	CHECK_EQ_INT(memstat_parse_vmstat("pgalloc_dma 10\nnr_free_pages 3\n", &m), -EINVAL);
	CHECK_EQ_INT(memstat_parse_vmstat("pgmajfault -1\npswpin 4\n", &m), 0);
	CHECK(!m.has[MEMSTAT_PGMAJFAULT]);
	CHECK_EQ_INT(m.malformed, 1);
}

TEST(sample_sets_gauges_in_bytes_and_swap_in_pages_times_page_size)
{
	struct registry *r = registry_new();
	struct memstat *ms = NULL;
	struct memstat_values m = {};
	char *mi = test_fixture("proc-6.18/meminfo"), *vm = test_fixture("proc-6.18/vmstat");
	double page = (double)sysconf(_SC_PAGESIZE);

	CHECK(r && mi && vm);
	CHECK_EQ_INT(memstat_parse_meminfo(mi, &m), 0);
	CHECK_EQ_INT(memstat_parse_vmstat(vm, &m), 0);
	free(mi);
	free(vm);
	CHECK_EQ_INT(memstat_new(TEST_FIXTURES "/proc-6.18", &ms), 0);
	registry_begin(r, 0, 1);
	CHECK_EQ_INT(memstat_sample(ms, r), 0);
	registry_end(r);
	CHECK_NEAR(gauge(r, "kpulse_mem_total_bytes"), m.v[MEMSTAT_MEM_TOTAL], 0);
	CHECK_NEAR(gauge(r, "kpulse_mem_dirty_bytes"), m.v[MEMSTAT_DIRTY], 0);
	CHECK_NEAR(gauge(r, "kpulse_mem_writeback_bytes"), m.v[MEMSTAT_WRITEBACK], 0);
	CHECK_NEAR(gauge(r, "kpulse_mem_swap_cached_bytes"), m.v[MEMSTAT_SWAP_CACHED], 0);
	CHECK_NEAR(gauge(r, "kpulse_mem_anon_bytes"), m.v[MEMSTAT_ANON_PAGES], 0);
	CHECK_NEAR(gauge(r, "kpulse_mem_swap_in_bytes_total"), m.v[MEMSTAT_PSWPIN] * page, 0);
	CHECK_NEAR(gauge(r, "kpulse_mem_major_page_faults_total"), m.v[MEMSTAT_PGMAJFAULT], 0);
	CHECK_NEAR(gauge(r, "kpulse_mem_page_faults_total"), m.v[MEMSTAT_PGFAULT], 0);
	/* 15 meminfo gauges, 4 vmstat counters, 2 error counters */
	CHECK_EQ_INT(registry_size(r), 15 + 4 + 2);
	memstat_free(ms);
	registry_free(r);
}

TEST(sample_without_the_files_counts_the_failures)
{
	struct registry *r = registry_new();
	struct memstat *ms = NULL;
	struct metric_label l[] = {{"file", "/proc/vmstat"}};
	const struct metric_series *s;

	CHECK(r);
	CHECK_EQ_INT(memstat_new("/nonexistent-kpulse", &ms), 0);
	registry_begin(r, 0, 1);
	CHECK_EQ_INT(memstat_sample(ms, r), 0);
	CHECK_EQ_INT(memstat_sample(ms, r), 0);
	registry_end(r);
	CHECK_EQ_INT(registry_size(r), 2);
	s = registry_find(r, "kpulse_procfs_errors_total", l, 1);
	CHECK(s && s->value == 2);
	CHECK(memstat_free(ms) == NULL);
	CHECK(memstat_free(NULL) == NULL);
	registry_free(r);
}

TEST_MAIN()
