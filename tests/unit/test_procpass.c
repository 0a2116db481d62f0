// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_procpass.c - the whole /proc pass over a captured 6.18 tree and over
 * the running kernel; its defaults against the configuration table. */
#include <errno.h>
#include <string.h>

#include "test.h"
#include "collection/procpass.h"
#include "util/config.h"

static bool has(struct registry *r, const char *name)
{
	for (size_t i = 0; i < registry_size(r); i++)
		if (!strcmp(registry_at(r, i)->name, name))
			return true;
	return false;
}

/* One series of each reader, the ones every kernel has. */
static const char *everywhere[] = {
    "kpulse_cpu_seconds_total",
    "kpulse_load1",
    "kpulse_procs_running",
    "kpulse_mem_dirty_bytes",
    "kpulse_mem_major_page_faults_total",
    "kpulse_net_rx_errors_total",
    "kpulse_block_io_time_seconds_total",
    "kpulse_net_tcp_passive_opens_total",
    "kpulse_build_info",
    "kpulse_procfs_errors_total",
};

TEST(pass_over_the_captured_tree_sets_every_reader_s_series)
{
	struct procpass_options o = {.proc_root = TEST_FIXTURES "/proc-6.18",
				     .sys_root = TEST_FIXTURES "/sys-6.18"};
	struct registry *r = registry_new();
	const struct diskstats_listed *devs = NULL;
	struct procpass *pp = NULL;
	size_t ndevs = 0;

	CHECK(r);
	CHECK_EQ_INT(procpass_new(&o, &pp), 0);
	CHECK_EQ_INT(procpass_interface_count(pp), -ENODATA);
	registry_begin(r, 0, 1);
	CHECK_EQ_INT(procpass_collect(pp, r), 0);
	registry_end(r);
	for (size_t i = 0; i < sizeof(everywhere) / sizeof(everywhere[0]); i++)
		CHECK(has(r, everywhere[i]));
	CHECK(has(r, "kpulse_pressure_io_stalled_seconds_total"));
	CHECK(has(r, "kpulse_filesystem_avail_bytes")); /* "/" of the capture, here */
	CHECK(registry_help(r, "kpulse_load1") != NULL);
	CHECK(registry_help(r, "kpulse_procfs_errors_total") != NULL);
	CHECK_EQ_INT(procpass_interface_count(pp), 4);
	CHECK_STR(procpass_interface(pp, 3), "eth0");
	CHECK_EQ_INT(procpass_block_devices(pp, &devs, &ndevs), 0);
	CHECK_EQ_INT(ndevs, 3);
	CHECK_STR(devs[1].name, "vda");
	/* Every captured file parsed cleanly. */
	for (size_t i = 0; i < registry_size(r); i++) {
		const struct metric_series *s = registry_at(r, i);

		if (!strcmp(s->name, "kpulse_procfs_errors_total") &&
		    !strstr(metric_series_label(s, "file"), "/self/")) {
			if (s->value != 0)
				fprintf(stderr, "  %s: %g\n", metric_series_label(s, "file"),
					s->value);
			CHECK(s->value == 0);
		}
	}
	procpass_free(pp);
	registry_free(r);
}

TEST(pass_over_the_running_kernel_sets_every_reader_s_series)
{
	struct procpass_options o = {0};
	struct registry *r = registry_new();
	struct procpass *pp = NULL;

	CHECK(r);
	CHECK_EQ_INT(procpass_new(&o, &pp), 0);
	for (int round = 0; round < 2; round++) {
		registry_begin(r, 0, 1);
		CHECK_EQ_INT(procpass_collect(pp, r), 0);
		registry_end(r);
	}
	for (size_t i = 0; i < sizeof(everywhere) / sizeof(everywhere[0]); i++)
		CHECK(has(r, everywhere[i]));
	CHECK(has(r, "kpulse_net_tcp_connections"));
	CHECK(procpass_interface_count(pp) >= 1); /* lo at least */
	CHECK(procpass_free(pp) == NULL);
	CHECK(procpass_free(NULL) == NULL);
	registry_free(r);
}

TEST(pass_without_proc_sets_only_what_needs_no_file)
{
	struct procpass_options o = {.proc_root = "/nonexistent-kpulse",
				     .sys_root = "/nonexistent-kpulse"};
	struct registry *r = registry_new();
	const struct diskstats_listed *devs = NULL;
	struct procpass *pp = NULL;
	size_t n = 0;

	CHECK(r);
	CHECK_EQ_INT(procpass_new(&o, &pp), 0);
	registry_begin(r, 0, 1);
	CHECK_EQ_INT(procpass_collect(pp, r), 0);
	registry_end(r);
	CHECK(!has(r, "kpulse_cpu_seconds_total"));
	CHECK(has(r, "kpulse_build_info"));
	CHECK(has(r, "kpulse_procfs_errors_total"));
	CHECK_EQ_INT(procpass_block_devices(pp, &devs, &n), -ENODATA);
	CHECK_EQ_INT(procpass_interface_count(pp), -ENODATA);
	procpass_free(pp);
	registry_free(r);
}

TEST(new_refuses_a_root_too_long)
{
	static char root[400];
	struct procpass_options o = {.proc_root = root};
	struct procpass *pp = NULL;

	memset(root, 'r', sizeof(root) - 1);
	CHECK_EQ_INT(procpass_new(&o, &pp), -ENAMETOOLONG);
	CHECK(pp == NULL);
}

TEST(defaults_are_the_configuration_table_s)
{
	struct kpulse_config c;

	config_defaults(&c);
	CHECK_STR(c.fs_types_include, PROCPASS_DEFAULT_FS_TYPES_INCLUDE);
	CHECK_STR(c.fs_types_exclude, PROCPASS_DEFAULT_FS_TYPES_EXCLUDE);
	CHECK_STR(c.fs_mount_exclude, PROCPASS_DEFAULT_FS_MOUNT_EXCLUDE);
	CHECK_EQ_INT(c.max_filesystems, PROCPASS_DEFAULT_MAX_FILESYSTEMS);
	CHECK_EQ_INT(c.max_interfaces, PROCPASS_DEFAULT_MAX_INTERFACES);
	CHECK_EQ_INT(c.max_block_devices, PROCPASS_DEFAULT_MAX_BLOCK_DEVICES);
}

TEST_MAIN()
