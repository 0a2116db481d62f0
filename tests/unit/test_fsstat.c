// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* test_fsstat.c - mountinfo lines (escapes, optional fields), which
 * filesystems count as real, bind mounts and overmounts, long labels, the
 * cap, a reload only when the mount table changes, and mounts whose statvfs
 * hangs. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "test.h"
#include "collection/fsstat.h"

/* Line i (from 0) of the crafted mountinfo. */
static int crafted_line(int i, struct fsstat_mount *m)
{
	char *text = test_fixture("mountinfo-crafted"), *line, *nl;
	int err = -ENOENT;

	if (!text)
		return -ENOENT;
	for (line = text; (nl = strchr(line, '\n')); line = nl + 1, i--) {
		if (i == 0) {
			err = fsstat_parse_mountinfo_line(line, (size_t)(nl - line), m);
			break;
		}
	}
	free(text);
	return err;
}

TEST(mountinfo_lines_give_device_mount_point_type_and_source)
{
	static struct fsstat_mount m;

	CHECK_EQ_INT(crafted_line(1, &m), 0);
	CHECK_EQ_INT(m.major, 254);
	CHECK_EQ_INT(m.minor, 0);
	CHECK_STR(m.mountpoint, "/");
	CHECK_STR(m.fstype, "ext4");
	CHECK_STR(m.source, "/dev/vda");
	/* three optional fields, and \040 \011 \134 escapes */
	CHECK_EQ_INT(crafted_line(3, &m), 0);
	CHECK_STR(m.mountpoint, "/var/tmp/kpt space\ttab\\back");
	CHECK_STR(m.source, "/dev/loop0");
	CHECK_EQ_INT(m.major, 7);
	CHECK_EQ_INT(crafted_line(9, &m), 0);
	CHECK_STR(m.fstype, "fuse.sshfs");
	CHECK_STR(m.source, "user@host:/srv");
	/* no "-" separator */
	CHECK_EQ_INT(crafted_line(10, &m), -EINVAL);
}

TEST(mountinfo_refuses_broken_lines)
{
	static struct fsstat_mount m;
	const char *bad[] = {
	    "",
	    "22 27 0:21 / /proc rw,relatime - proc",
	    "22 27 021 / /proc rw - proc proc rw",
	    "22 27 0:21 / /proc rw - ",
	    "22 27 5000:1 / /x rw - ext4 /dev/x rw",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_EQ_INT(fsstat_parse_mountinfo_line(bad[i], strlen(bad[i]), &m), -EINVAL);
	/* the source may be the last field, without super options */
	CHECK_EQ_INT(fsstat_parse_mountinfo_line("1 1 8:1 / /a rw - ext4 /dev/sda1", 32, &m), 0);
	CHECK_STR(m.source, "/dev/sda1");
}

TEST(types_with_a_device_lists_and_mount_point_prefixes)
{
	char *fs = test_fixture("proc-6.18/filesystems");

	CHECK(fs);
	CHECK(fsstat_type_has_dev(fs, "ext4"));
	CHECK(fsstat_type_has_dev(fs, "xfs"));
	CHECK(fsstat_type_has_dev(fs, "fuseblk"));
	CHECK(!fsstat_type_has_dev(fs, "tmpfs"));
	CHECK(!fsstat_type_has_dev(fs, "proc"));
	CHECK(!fsstat_type_has_dev(fs, "ext"));
	free(fs);
	CHECK(fsstat_list_has_type("nfs,nfs4,zfs", "zfs"));
	CHECK(!fsstat_list_has_type("nfs,nfs4", "nfs3"));
	CHECK(fsstat_list_has_type("fuse", "fuse.sshfs"));
	CHECK(!fsstat_list_has_type("fuse.sshfs", "fuse"));
	CHECK(fsstat_list_has_type("fuse.sshfs", "fuse.sshfs"));
	CHECK(!fsstat_list_has_type("", "ext4"));
	CHECK(!fsstat_list_has_type(",,", "ext4"));
	CHECK(fsstat_list_covers_path("/var/lib/docker", "/var/lib/docker"));
	CHECK(fsstat_list_covers_path("/var/lib/docker/", "/var/lib/docker/overlay2/x"));
	CHECK(!fsstat_list_covers_path("/var/lib/docker", "/var/lib/dockerx"));
	CHECK(!fsstat_list_covers_path("/var/lib/docker", "/var/lib"));
	CHECK(fsstat_list_covers_path("/a,/", "/anything"));
}

TEST(long_labels_keep_a_hash_of_the_whole_value)
{
	char a[64], b[64], s[64];
	const char *la =
	    "/var/lib/kubelet/pods/0b0c5a4e-2f5c-4e59-9f2a-6d1e0c1b2a3f/volumes/a/mount";
	const char *lb =
	    "/var/lib/kubelet/pods/0b0c5a4e-2f5c-4e59-9f2a-6d1e0c1b2a3f/volumes/b/mount";

	CHECK_STR(fsstat_label("/home", s, 63), "/home");
	fsstat_label(la, a, 63);
	fsstat_label(lb, b, 63);
	CHECK_EQ_INT(strlen(a), 63);
	CHECK(strcmp(a, b) != 0);
	CHECK(strncmp(a, la, 54) == 0 && a[54] == '~');
	/* a cut never splits a UTF-8 character: "/aaaaaaaa" + "~" + 8 hex digits */
	fsstat_label("/aaaaaaaa\xc3\xa9zzzzzzzzzzzzz", s, 19);
	CHECK_EQ_INT(strlen(s), 18);
	CHECK(strncmp(s, "/aaaaaaaa~", 10) == 0);
	CHECK_EQ_INT(strspn(s + 10, "0123456789abcdef"), 8);
}

/* A proc root with a mountinfo the test writes, the captured filesystems
 * list, and mount points that exist here. */
struct tree {
	char dir[40];
	char self[64], mountinfo[96], filesystems[96];
};

static int tree_write(struct tree *t, const char *mountinfo)
{
	char *fs = test_fixture("proc-6.18/filesystems");
	FILE *f;
	int err = -1;

	snprintf(t->self, sizeof(t->self), "%s/self", t->dir);
	snprintf(t->mountinfo, sizeof(t->mountinfo), "%s/self/mountinfo", t->dir);
	snprintf(t->filesystems, sizeof(t->filesystems), "%s/filesystems", t->dir);
	mkdir(t->self, 0700);
	if (fs && (f = fopen(t->filesystems, "we"))) {
		fputs(fs, f);
		fclose(f);
		if ((f = fopen(t->mountinfo, "we"))) {
			fputs(mountinfo, f);
			err = fclose(f);
		}
	}
	free(fs);
	return err;
}

static void tree_remove(struct tree *t)
{
	unlink(t->mountinfo);
	unlink(t->filesystems);
	rmdir(t->self);
	rmdir(t->dir);
}

static const struct metric_series *fs_series(struct registry *r, const char *name,
					     const char *mountpoint)
{
	for (size_t i = 0; i < registry_size(r); i++) {
		const struct metric_series *s = registry_at(r, i);
		const char *m = metric_series_label(s, "mountpoint");

		if (!strcmp(s->name, name) && m && !strcmp(m, mountpoint))
			return s;
	}
	return NULL;
}

TEST(sample_reports_real_filesystems_once_with_statvfs_figures)
{
	struct tree t = {.dir = "/tmp/kpulse-test-fsstat-XXXXXX"};
	char text[2048];
	struct fsstat_options o = {.types_include = "zfs",
				   .types_exclude = "squashfs",
				   .mount_exclude = "/boot",
				   .max_filesystems = 8};
	struct registry *r = registry_new();
	struct fsstat *fs = NULL;
	const struct metric_series *size, *avail, *files, *s;
	struct statvfs st;
	int err = -1;

	CHECK(r && mkdtemp(t.dir));
	/* /, a bind mount of it, /tmp (made an ext4 here), a squashfs, an
	 * excluded /boot, a tmpfs, an overmounted /proc, a zfs on /dev */
	snprintf(text, sizeof(text),
		 "1 0 254:0 / / rw - ext4 /dev/vda rw\n"
		 "2 1 254:0 /run/netns /run/netns rw shared:1 - ext4 /dev/vda rw\n"
		 "3 1 8:1 / /tmp rw - ext4 /dev/sda1 rw\n"
		 "4 1 7:1 / /usr ro - squashfs /dev/loop1 ro\n"
		 "5 1 8:2 / /boot rw - ext4 /dev/sda2 rw\n"
		 "6 1 0:40 / /var tmpfs rw - tmpfs tmpfs rw\n"
		 "7 1 8:3 / /proc rw - ext4 /dev/sda3 rw\n"
		 "8 7 0:21 / /proc rw - proc proc rw\n"
		 "9 1 0:50 / /dev rw - zfs tank/dev rw\n"
		 "this line is broken\n");
	if (tree_write(&t, text) == 0 && fsstat_new(t.dir, &o, &fs) == 0) {
		registry_begin(r, 0, 1);
		err = fsstat_sample(fs, r);
		registry_end(r);
	}
	tree_remove(&t);
	CHECK_EQ_INT(err, 0);
	CHECK_EQ_INT(statvfs("/", &st), 0);
	size = fs_series(r, "kpulse_filesystem_size_bytes", "/");
	CHECK(size);
	CHECK_NEAR(size->value, (double)st.f_blocks * st.f_frsize, 0);
	CHECK_STR(metric_series_label(size, "fstype"), "ext4");
	CHECK_STR(metric_series_label(size, "device"), "/dev/vda");
	avail = fs_series(r, "kpulse_filesystem_avail_bytes", "/");
	CHECK(avail && avail->value <= size->value);
	files = fs_series(r, "kpulse_filesystem_files", "/");
	CHECK(files && files->value == (double)st.f_files);
	CHECK(fs_series(r, "kpulse_filesystem_free_bytes", "/tmp"));
	CHECK(fs_series(r, "kpulse_filesystem_files_free", "/dev")); /* zfs, included */
	CHECK(fs_series(r, "kpulse_filesystem_readonly", "/"));
	CHECK(!fs_series(r, "kpulse_filesystem_size_bytes", "/run/netns")); /* the same vda */
	CHECK(!fs_series(r, "kpulse_filesystem_size_bytes", "/usr"));	    /* excluded type */
	CHECK(!fs_series(r, "kpulse_filesystem_size_bytes", "/boot"));	    /* excluded point */
	CHECK(!fs_series(r, "kpulse_filesystem_size_bytes", "/var"));	    /* tmpfs */
	CHECK(!fs_series(r, "kpulse_filesystem_size_bytes", "/proc"));	    /* hidden by proc */
	s = registry_find(r, "kpulse_filesystems_unlisted", NULL, 0);
	CHECK(s && s->value == 0);
	/* 3 filesystems x 6 series, unlisted, stat errors, stuck and stuck_total,
	 * 2 file error counters */
	CHECK_EQ_INT(registry_size(r), 3 * 6 + 1 + 1 + 2 + 2);
	{
		struct metric_label l[] = {{"file", "/proc/self/mountinfo"}};

		s = registry_find(r, "kpulse_procfs_errors_total", l, 1);
		CHECK(s && s->value == 1); /* the broken line */
	}
	fsstat_free(fs);
	registry_free(r);
}

TEST(sample_caps_the_filesystems_and_counts_failed_statvfs)
{
	struct tree t = {.dir = "/tmp/kpulse-test-fsstat-XXXXXX"};
	struct fsstat_options o = {.max_filesystems = 2};
	struct registry *r = registry_new();
	struct fsstat *fs = NULL;
	const struct metric_series *unlisted, *errors;
	int err = -1;

	CHECK(r && mkdtemp(t.dir));
	if (tree_write(&t, "1 0 8:1 / /nonexistent-kpulse rw - ext4 /dev/sda1 rw\n"
			   "2 1 8:2 / / rw - ext4 /dev/sda2 rw\n"
			   "3 1 8:3 / /tmp rw - ext4 /dev/sda3 rw\n"
			   "4 1 8:4 / /var rw - ext4 /dev/sda4 rw\n") == 0 &&
	    fsstat_new(t.dir, &o, &fs) == 0) {
		registry_begin(r, 0, 1);
		err = fsstat_sample(fs, r);
		registry_end(r);
	}
	tree_remove(&t);
	CHECK_EQ_INT(err, 0);
	CHECK(fs_series(r, "kpulse_filesystem_size_bytes", "/"));
	CHECK(!fs_series(r, "kpulse_filesystem_size_bytes", "/tmp"));
	unlisted = registry_find(r, "kpulse_filesystems_unlisted", NULL, 0);
	CHECK(unlisted && unlisted->value == 2);
	errors = registry_find(r, "kpulse_filesystem_stat_errors_total", NULL, 0);
	CHECK(errors && errors->value == 1);
	fsstat_free(fs);
	registry_free(r);
}

/* The mount table is read at the first round, then only once poll() says
 * it changed: a plain file never says so, so a rewritten one is not read
 * again. */
TEST(mount_table_is_read_again_only_when_the_kernel_says_it_changed)
{
	struct tree t = {.dir = "/tmp/kpulse-test-fsstat-XXXXXX"};
	struct fsstat_options o = {.max_filesystems = 8};
	struct registry *r = registry_new();
	struct fsstat *fs = NULL;
	bool first = false, kept = false, tmp = true;
	int err = -1;

	CHECK(r && mkdtemp(t.dir));
	if (tree_write(&t, "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n") == 0 &&
	    fsstat_new(t.dir, &o, &fs) == 0) {
		registry_begin(r, 0, 1);
		err = fsstat_sample(fs, r);
		registry_end(r);
		first = fs_series(r, "kpulse_filesystem_size_bytes", "/") != NULL;
		tree_write(&t, "1 0 8:2 / /tmp rw - ext4 /dev/sda2 rw\n");
		registry_begin(r, 0, 1);
		err |= fsstat_sample(fs, r);
		registry_end(r);
		kept = fs_series(r, "kpulse_filesystem_size_bytes", "/") != NULL;
		tmp = fs_series(r, "kpulse_filesystem_size_bytes", "/tmp") != NULL;
	}
	tree_remove(&t);
	CHECK_EQ_INT(err, 0);
	CHECK(first && kept && !tmp);
	fsstat_free(fs);
	registry_free(r);
}

TEST(real_mount_table_lists_the_root_filesystem)
{
	struct fsstat_options o = {.types_exclude = "squashfs", .max_filesystems = 64};
	struct registry *r = registry_new();
	struct fsstat *fs = NULL;
	struct stat st;

	CHECK(r);
	CHECK_EQ_INT(stat("/", &st), 0);
	CHECK_EQ_INT(fsstat_new("/proc", &o, &fs), 0);
	registry_begin(r, 0, 1);
	CHECK_EQ_INT(fsstat_sample(fs, r), 0);
	registry_end(r);
	/* A root on a block device (not an overlay in a container) is real. */
	if (major(st.st_dev) != 0)
		CHECK(fs_series(r, "kpulse_filesystem_avail_bytes", "/"));
	CHECK(!fs_series(r, "kpulse_filesystem_avail_bytes", "/proc"));
	CHECK(!fs_series(r, "kpulse_filesystem_avail_bytes", "/sys"));
	fsstat_free(fs);
	registry_free(r);
}

TEST(new_refuses_lists_too_long_and_free_accepts_null)
{
	char big[2000];
	struct fsstat_options o = {.types_include = big, .max_filesystems = 1};
	struct fsstat *fs = NULL;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = 0;
	CHECK_EQ_INT(fsstat_new("/proc", &o, &fs), -ENAMETOOLONG);
	CHECK(fsstat_free(NULL) == NULL);
}

/* A statvfs that hangs on paths under /hung until the gate opens (a FUSE
 * daemon stopped, an NFS server gone), then fails as a vanished mount. */
static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static unsigned hung_now;

static int gated_statvfs(const char *path, struct statvfs *st)
{
	if (strncmp(path, "/hung", 5) != 0)
		return statvfs(path, st);
	pthread_mutex_lock(&gate_lock);
	hung_now++;
	while (!gate_open)
		pthread_cond_wait(&gate_cond, &gate_lock);
	hung_now--;
	pthread_cond_broadcast(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
	errno = ENOENT;
	return -1;
}

static double gauge(struct registry *r, const char *name)
{
	const struct metric_series *s = registry_find(r, name, NULL, 0);

	return s ? s->value : -1;
}

static int sample(struct fsstat *fs, struct registry *r)
{
	int err;

	registry_begin(r, 0, 1);
	err = fsstat_sample(fs, r);
	registry_end(r);
	return err;
}

TEST(a_hung_statvfs_costs_one_wait_then_its_mount_is_left_out_until_it_returns)
{
	struct tree t = {.dir = "/tmp/kpulse-test-fsstat-XXXXXX"};
	/* 500 ms: far beyond what a statvfs of / takes, even on a loaded
	 * machine, so only the hung mounts can outlast it */
	struct fsstat_options o = {.types_include = "nfs4",
				   .max_filesystems = 64,
				   .statvfs_fn = gated_statvfs,
				   .stat_wait_ms = 500};
	struct registry *r = registry_new();
	struct fsstat *fs = NULL;
	char text[4096];
	size_t len = 0;

	CHECK(r && mkdtemp(t.dir));
	len += (size_t)snprintf(text + len, sizeof(text) - len,
				"1 0 8:1 / / rw - ext4 /dev/sda1 rw\n"
				"2 1 0:82 / /hung0 rw - nfs4 srv:/hung0 rw\n"
				"3 1 0:83 / /tmp rw - nfs4 srv:/tmp rw\n");
	/* enough hung mounts to reach the cap on threads left in the kernel */
	for (int i = 1; i < FSSTAT_MAX_STUCK; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"%d 1 0:%d / /hung%d rw - nfs4 srv:/hung%d rw\n", 10 + i,
					90 + i, i, i);
	CHECK(len < sizeof(text));
	CHECK(tree_write(&t, text) == 0 && fsstat_new(t.dir, &o, &fs) == 0);
	/* The first round reads the table, waits for /hung0, reports what
	 * came before it, and marks it stuck. */
	if (fs)
		CHECK_EQ_INT(sample(fs, r), 0);
	tree_remove(&t);
	if (!fs)
		return;
	CHECK(fs_series(r, "kpulse_filesystem_size_bytes", "/"));
	CHECK(!fs_series(r, "kpulse_filesystem_size_bytes", "/hung0"));
	CHECK(fs_series(r, "kpulse_filesystem_stuck", "/hung0"));
	CHECK(gauge(r, "kpulse_filesystems_stuck") == 1);
	CHECK(gauge(r, "kpulse_filesystem_stuck_total") == 1);

	/* The next leaves it out without waiting on it: /tmp is reported, and
	 * the next hung mount is the one waited for. */
	CHECK_EQ_INT(sample(fs, r), 0);
	CHECK(fs_series(r, "kpulse_filesystem_size_bytes", "/tmp"));
	CHECK(fs_series(r, "kpulse_filesystem_stuck", "/hung0"));
	CHECK(fs_series(r, "kpulse_filesystem_stuck", "/hung1"));
	CHECK(gauge(r, "kpulse_filesystems_stuck") == 2);

	/* At the cap, no statvfs on the worker at all: nothing more piles up
	 * in the kernel. The local filesystem is still reported. */
	for (int i = 2; i < FSSTAT_MAX_STUCK; i++)
		CHECK_EQ_INT(sample(fs, r), 0);
	CHECK(gauge(r, "kpulse_filesystems_stuck") == FSSTAT_MAX_STUCK);
	CHECK_EQ_INT(sample(fs, r), 0);
	CHECK(!fs_series(r, "kpulse_filesystem_size_bytes", "/tmp"));
	CHECK(fs_series(r, "kpulse_filesystem_size_bytes", "/"));
	CHECK(gauge(r, "kpulse_filesystems_stuck") == FSSTAT_MAX_STUCK);
	CHECK(gauge(r, "kpulse_filesystem_stuck_total") == FSSTAT_MAX_STUCK);
	pthread_mutex_lock(&gate_lock);
	CHECK_EQ_INT(hung_now, FSSTAT_MAX_STUCK);

	/* The calls return (as failures here): the mounts are back in the
	 * next round, the stuck gauge at 0. */
	gate_open = true;
	pthread_cond_broadcast(&gate_cond);
	while (hung_now)
		pthread_cond_wait(&gate_cond, &gate_lock);
	pthread_mutex_unlock(&gate_lock);
	for (int tries = 0; tries < 100 && gauge(r, "kpulse_filesystems_stuck") != 0; tries++) {
		usleep(10000); /* the threads' last steps after their call */
		CHECK_EQ_INT(sample(fs, r), 0);
	}
	CHECK(gauge(r, "kpulse_filesystems_stuck") == 0);
	CHECK(!fs_series(r, "kpulse_filesystem_stuck", "/hung0"));
	CHECK(fs_series(r, "kpulse_filesystem_size_bytes", "/"));
	CHECK(fs_series(r, "kpulse_filesystem_size_bytes", "/tmp"));
	CHECK(gauge(r, "kpulse_filesystem_stat_errors_total") >= FSSTAT_MAX_STUCK);
	fsstat_free(fs);
	registry_free(r);
}

TEST_MAIN()
