// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_diskstats.c - /proc/diskstats of 6.18 (17 counters), 5.4 (15) and
 * 4.17 (11, with 2.6-style partition lines); which devices are listed;
 * iostat's figures from two readings. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test.h"
#include "collection/diskstats.h"

TEST(diskstats_of_6_18_has_seventeen_counters_per_device)
{
	struct diskstats_text t = {};
	char *text = test_fixture("proc-6.18/diskstats");

	CHECK(text);
	CHECK_EQ_INT(diskstats_parse(text, &t), 0);
	free(text);
	CHECK_EQ_INT(t.n, 10);
	CHECK_STR(t.devs[8].name, "vda");
	CHECK_EQ_INT(t.devs[8].major, 254);
	CHECK_EQ_INT(t.devs[8].ncols, 17);
	CHECK(t.devs[8].v[DISKSTATS_READS] > 0 && t.devs[8].v[DISKSTATS_FLUSH_MS] > 0);
	CHECK_EQ_INT(t.malformed, 0);
	diskstats_text_clear(&t);
}

TEST(diskstats_of_5_4_has_fifteen_and_of_4_17_eleven_counters)
{
	struct diskstats_text t = {};
	char *t54 = test_fixture("diskstats-5.4"), *t417 = test_fixture("proc-4.17/diskstats");

	CHECK(t54 && t417);
	CHECK_EQ_INT(diskstats_parse(t54, &t), 0);
	CHECK_EQ_INT(t.n, 3);
	CHECK_EQ_INT(t.devs[0].ncols, 15);
	CHECK_EQ_INT(t.devs[0].v[DISKSTATS_SECTORS_DISCARDED], 204800);
	CHECK_EQ_INT(t.devs[0].v[DISKSTATS_FLUSHES], 0);
	CHECK_EQ_INT(diskstats_parse(t417, &t), 0);
	CHECK_EQ_INT(t.n, 6); /* the 4-counter sdb1 line is not one */
	CHECK_EQ_INT(t.malformed, 1);
	CHECK_STR(t.devs[2].name, "sda");
	CHECK_EQ_INT(t.devs[2].ncols, 11);
	CHECK_EQ_INT(t.devs[2].v[DISKSTATS_WEIGHTED_MS], 189904);
	CHECK_EQ_INT(t.devs[2].v[DISKSTATS_DISCARDS], 0);
	free(t54);
	free(t417);
	diskstats_text_clear(&t);
}

TEST(diskstats_skips_bad_and_cut_lines)
{
	struct diskstats_text t = {};

	CHECK_EQ_INT(
	    diskstats_parse("   8 0 sda 1 2 3 4 5 6 7 8 9 10 11\n"
			    "   8 0 sdaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa 1 2 3 4 5 6 7 8 9 10 11\n"
			    "   8 x sdb 1 2 3 4 5 6 7 8 9 10 11\n"
			    "   8 32 sdc 1 2 3 4 5 6 7 8 9 10 x1\n"
			    "   5000 0 sdd 1 2 3 4 5 6 7 8 9 10 11\n"
			    "   8 48 sde 1 2 3 4 5 6 7 8 9 10 11",
			    &t),
	    0);
	CHECK_EQ_INT(t.n, 1);
	CHECK_EQ_INT(t.devs[0].v[DISKSTATS_IN_FLIGHT], 9);
	CHECK_EQ_INT(t.malformed, 5);
	CHECK_EQ_INT(diskstats_parse("", &t), 0);
	CHECK_EQ_INT(t.n, 0);
	diskstats_text_clear(&t);
}

TEST(iostat_figures_follow_sysstat)
{
	struct diskstats_dev a = {.ncols = 11}, b = {.ncols = 11};
	struct diskstats_iostat io;

	a.v[DISKSTATS_READS] = 100, b.v[DISKSTATS_READS] = 150;
	a.v[DISKSTATS_READ_MS] = 1000, b.v[DISKSTATS_READ_MS] = 1250;
	a.v[DISKSTATS_WRITES] = 10, b.v[DISKSTATS_WRITES] = 14;
	a.v[DISKSTATS_WRITE_MS] = 0, b.v[DISKSTATS_WRITE_MS] = 100;
	a.v[DISKSTATS_IO_MS] = 5000, b.v[DISKSTATS_IO_MS] = 5600;
	a.v[DISKSTATS_WEIGHTED_MS] = 9000, b.v[DISKSTATS_WEIGHTED_MS] = 10800;
	diskstats_iostat(&a, &b, 2.0, &io);
	CHECK_NEAR(io.utilization, 0.3, 1e-12);	   /* 600 ms of 2000 */
	CHECK_NEAR(io.queue_length, 0.9, 1e-12);   /* 1800 ms / 2000 ms */
	CHECK_NEAR(io.read_await_s, 0.005, 1e-12); /* 250 ms / 50 reads */
	CHECK_NEAR(io.write_await_s, 0.025, 1e-12);
	/* io_ticks a tick ahead of the clock: capped at 1 */
	b.v[DISKSTATS_IO_MS] = 7004;
	diskstats_iostat(&a, &b, 2.0, &io);
	CHECK_NEAR(io.utilization, 1, 0);
	/* no writes: no write await */
	b.v[DISKSTATS_WRITES] = 10;
	b.v[DISKSTATS_WRITE_MS] = 0;
	diskstats_iostat(&a, &b, 2.0, &io);
	CHECK_NEAR(io.write_await_s, 0, 0);
	/* a counter that went back (a new device under the old number) */
	b.v[DISKSTATS_READS] = 1;
	diskstats_iostat(&a, &b, 2.0, &io);
	CHECK_NEAR(io.utilization + io.queue_length + io.read_await_s, 0, 0);
	b.v[DISKSTATS_READS] = 150;
	diskstats_iostat(&a, &b, 0, &io);
	CHECK_NEAR(io.utilization + io.queue_length + io.read_await_s, 0, 0);
}

static double gauge(struct registry *r, const char *name, const char *dev)
{
	struct metric_label l[] = {{"device", dev}};
	const struct metric_series *s = registry_find(r, name, l, dev ? 1 : 0);

	return s ? s->value : -1;
}

TEST(whole_disks_bound_loops_and_used_ram_disks_are_listed)
{
	struct registry *r = registry_new();
	struct diskstats *ds = NULL;
	const struct diskstats_listed *l = NULL;
	size_t n = 0;

	CHECK(r);
	CHECK_EQ_INT(diskstats_new(TEST_FIXTURES "/proc-6.18", TEST_FIXTURES "/sys-6.18", 64, &ds),
		     0);
	CHECK_EQ_INT(diskstats_devices(ds, &l, &n), -ENODATA); /* before a round */
	registry_begin(r, 0, 1);
	CHECK_EQ_INT(diskstats_sample(ds, r), 0);
	registry_end(r);
	CHECK_EQ_INT(diskstats_devices(ds, &l, &n), 0);
	/* loop0 has done I/O but is not bound; loop1 is bound and idle */
	CHECK_EQ_INT(n, 3);
	CHECK_STR(l[0].name, "loop1");
	CHECK_STR(l[1].name, "vda");
	CHECK_EQ_INT(l[1].dev, 254u << 20);
	CHECK_STR(l[2].name, "zram0");
	CHECK_EQ_INT(l[2].dev, 253u << 20);
	CHECK(gauge(r, "kpulse_block_io_time_seconds_total", "vda") > 0);
	CHECK_NEAR(gauge(r, "kpulse_block_utilization_ratio", "vda"), 0, 0); /* first round */
	CHECK(gauge(r, "kpulse_block_read_time_seconds_total", "loop0") < 0);
	CHECK_NEAR(gauge(r, "kpulse_block_devices_unlisted", NULL), 0, 0);
	{
		const char *name = NULL;

		CHECK_EQ_INT(diskstats_device_state(ds, 254u << 20, &name), DISKSTATS_LISTED);
		CHECK_STR(name, "vda");
		CHECK_EQ_INT(diskstats_device_state(ds, 7u << 20, &name), DISKSTATS_UNLISTED);
		CHECK_EQ_INT(diskstats_device_state(ds, 8u << 20, &name), DISKSTATS_UNKNOWN);
	}
	diskstats_free(ds);

	/* 4.17: partitions (sda1) are not listed; ram0 has done I/O, ram1 not */
	CHECK_EQ_INT(diskstats_new(TEST_FIXTURES "/proc-4.17", TEST_FIXTURES "/sys-4.17", 2, &ds),
		     0);
	registry_begin(r, 0, 1);
	CHECK_EQ_INT(diskstats_sample(ds, r), 0);
	registry_end(r);
	CHECK_EQ_INT(diskstats_devices(ds, &l, &n), 0);
	CHECK_EQ_INT(n, 2);
	CHECK_STR(l[0].name, "ram0");
	CHECK_STR(l[1].name, "sda");
	CHECK_NEAR(gauge(r, "kpulse_block_devices_unlisted", NULL), 1, 0); /* sdb, over the cap */
	CHECK_NEAR(gauge(r, "kpulse_block_ios_in_progress", "sda"), 0, 0);
	CHECK_NEAR(gauge(r, "kpulse_block_io_time_weighted_seconds_total", "sda"), 189.904, 1e-9);
	CHECK(gauge(r, "kpulse_block_io_time_seconds_total", "sdb") < 0);
	diskstats_free(ds);
	registry_free(r);
}

static int put(const char *dir, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/diskstats", dir);
	f = fopen(path, "we");
	if (!f)
		return -1;
	fputs(text, f);
	return fclose(f);
}

TEST(second_round_has_iostat_figures_and_a_removed_device_goes)
{
	char proc[] = "/tmp/kpulse-test-diskstats-XXXXXX", path[128];
	struct registry *r = registry_new();
	struct diskstats *ds = NULL;
	const struct diskstats_listed *l = NULL;
	double util = -1, await_r = -1, await_w = -1, after = 0;
	size_t n = 0, n3 = 9;
	int err = -1, gone = -1;
	const char *name = NULL;

	CHECK(r && mkdtemp(proc));
	/* vda is a whole disk in the captured sys tree. */
	if (put(proc, "259 0 vda 100 0 800 1000 10 0 80 0 0 5000 9000\n") == 0 &&
	    diskstats_new(proc, TEST_FIXTURES "/sys-6.18", 8, &ds) == 0) {
		registry_begin(r, 0, 1);
		err = diskstats_sample(ds, r);
		registry_end(r);
		usleep(100000);
		put(proc, "259 0 vda 150 0 1200 1250 14 0 112 100 0 5050 9100\n");
		registry_begin(r, 0, 1);
		err |= diskstats_sample(ds, r);
		registry_end(r);
		util = gauge(r, "kpulse_block_utilization_ratio", "vda");
		await_r = gauge(r, "kpulse_block_read_await_seconds", "vda");
		await_w = gauge(r, "kpulse_block_write_await_seconds", "vda");
		diskstats_devices(ds, &l, &n);
		put(proc, "");
		registry_begin(r, 0, 1);
		err |= diskstats_sample(ds, r);
		registry_end(r);
		diskstats_devices(ds, &l, &n3);
		after = gauge(r, "kpulse_block_read_time_seconds_total", "vda");
		gone = (int)diskstats_device_state(ds, 259u << 20, &name);
	}
	snprintf(path, sizeof(path), "%s/diskstats", proc);
	unlink(path);
	rmdir(proc);
	CHECK_EQ_INT(err, 0);
	CHECK_EQ_INT(n, 1);
	CHECK_NEAR(await_r, 0.005, 1e-12);
	CHECK_NEAR(await_w, 0.025, 1e-12);
	CHECK(util > 0 && util <= 0.5); /* 50 ms of I/O in at least 100 ms */
	CHECK_EQ_INT(n3, 0);
	CHECK(after < 0);
	CHECK_EQ_INT(gone, DISKSTATS_GONE);
	diskstats_free(ds);
	registry_free(r);
}

TEST(sample_without_the_file_knows_no_devices)
{
	struct registry *r = registry_new();
	struct diskstats *ds = NULL;
	const struct diskstats_listed *l = NULL;
	size_t n = 0;

	CHECK(r);
	CHECK_EQ_INT(diskstats_new("/nonexistent-kpulse", "/nonexistent-kpulse", 8, &ds), 0);
	registry_begin(r, 0, 1);
	CHECK_EQ_INT(diskstats_sample(ds, r), 0);
	registry_end(r);
	CHECK_EQ_INT(diskstats_devices(ds, &l, &n), -ENODATA);
	CHECK_EQ_INT(registry_size(r), 1);
	CHECK(diskstats_free(ds) == NULL);
	CHECK(diskstats_free(NULL) == NULL);
	registry_free(r);
}

TEST_MAIN()
