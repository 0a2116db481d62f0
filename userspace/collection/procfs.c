// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * procfs.c - the per-round file reader and number parser the /proc
 * modules share; sysfs block device names and /proc/<pid>/comm.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collection/procfs.h"

long procfs_read_file(const char *path, char *buf, size_t len)
{
	size_t off = 0;
	ssize_t n;
	int fd;

	if (len == 0)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	while ((n = read(fd, buf + off, len - 1 - off)) > 0) {
		off += (size_t)n;
		if (off == len - 1) {
			char c;

			n = read(fd, &c, 1);
			close(fd);
			buf[off] = 0;
			return n > 0 ? -EFBIG : (long)off;
		}
	}
	if (n < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	buf[off] = 0;
	return (long)off;
}

/* ------------------------------------------------------ per-round files */

int procfs_file_init(struct procfs_file *f, const char *root, const char *name, size_t max,
		     bool optional)
{
	memset(f, 0, sizeof(*f));
	f->fd = -1;
	f->max = max;
	f->optional = optional;
	if (snprintf(f->path, sizeof(f->path), "%s/%s", root, name) >= (int)sizeof(f->path) ||
	    snprintf(f->label, sizeof(f->label), "/proc/%s", name) >= (int)sizeof(f->label))
		return -ENAMETOOLONG;
	return 0;
}

static long file_fail(struct procfs_file *f, int err)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	if (!(f->optional && (err == -ENOENT || err == -EOPNOTSUPP)))
		f->errors++;
	return err;
}

long procfs_file_read(struct procfs_file *f)
{
	size_t off = 0;
	ssize_t n;

	if (f->fd < 0) {
		f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (f->fd < 0)
			return file_fail(f, -errno);
	}
	for (;;) {
		if (off + 1 >= f->cap) {
			/* One byte past max tells a text of max bytes from a
			 * longer one, and one more holds the NUL. */
			size_t cap = f->cap ? 2 * f->cap : 4096;
			char *nb;

			if (cap > f->max + 2)
				cap = f->max + 2;
			nb = realloc(f->buf, cap);
			if (!nb)
				return file_fail(f, -ENOMEM);
			f->buf = nb;
			f->cap = cap;
		}
		/* A seq_file hands out about a page per read: read to EOF. */
		n = pread(f->fd, f->buf + off, f->cap - 1 - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return file_fail(f, -errno);
		if (n == 0)
			break;
		off += (size_t)n;
		if (off > f->max)
			return file_fail(f, -EFBIG);
	}
	f->buf[off] = 0;
	f->seen = true;
	return (long)off;
}

void procfs_file_close(struct procfs_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
	free(f->buf);
	f->buf = NULL;
	f->cap = 0;
}

int procfs_file_report(const struct procfs_file *f, struct registry *r)
{
	struct metric_label l[] = {{"file", f->label}};

	if (!f->seen && !f->errors)
		return 0;
	return registry_set_counter(r, "kpulse_procfs_errors_total", l, 1, (double)f->errors);
}

int procfs_parse_u64(const char **pp, uint64_t *ret)
{
	const char *p = *pp;
	uint64_t v = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		unsigned d = (unsigned)(*p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
	}
	*pp = p;
	*ret = v;
	return 0;
}

/* ------------------------------------------------------- names by id */

int procfs_parse_uevent_devname(const char *text, char *buf, size_t len)
{
	const char *p = text;

	while (p && *p) {
		if (strncmp(p, "DEVNAME=", 8) == 0) {
			const char *v = p + 8;
			size_t n = strcspn(v, "\n");

			if (n == 0 || n >= len)
				return -EINVAL;
			for (size_t i = 0; i < n; i++)
				if (v[i] == '/' || iscntrl((unsigned char)v[i]))
					return -EINVAL;
			memcpy(buf, v, n);
			buf[n] = 0;
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -ENOENT;
}

int procfs_block_devname(unsigned major, unsigned minor, char *buf, size_t len)
{
	char path[64], text[1024];
	long n;
	int err;

	snprintf(path, sizeof(path), "/sys/dev/block/%u:%u/uevent", major, minor);
	n = procfs_read_file(path, text, sizeof(text));
	err = n < 0 ? (int)n : procfs_parse_uevent_devname(text, buf, len);
	if (err)
		snprintf(buf, len, "%u:%u", major, minor);
	return err;
}

int procfs_read_comm(uint32_t pid, char *buf, size_t len)
{
	char path[32], text[128];
	long n;

	if (len == 0)
		return -EINVAL;
	/* Workqueue workers show longer names than a task comm
	 * ("kworker/u8:4-events_unbound"): read all of it, keep what fits. */
	snprintf(path, sizeof(path), "/proc/%" PRIu32 "/comm", pid);
	n = procfs_read_file(path, text, sizeof(text));
	if (n < 0)
		return (int)n;
	text[strcspn(text, "\n")] = 0;
	snprintf(buf, len, "%s", text);
	return 0;
}
