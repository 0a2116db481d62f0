// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * procfs.c - parsers and readers for /proc/meminfo, sysfs block device
 * names and /proc/<pid>/comm.
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

/* "   123 kB" -> bytes. */
static int parse_kb(const char *s, uint64_t *ret)
{
	unsigned long long v;
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || v > UINT64_MAX / 1024)
		return -EINVAL;
	while (*end == ' ' || *end == '\t')
		end++;
	if (strncmp(end, "kB", 2) == 0) {
		v *= 1024;
		end += 2;
	}
	if (*end != '\n' && *end != 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

int procfs_parse_meminfo(const char *text, struct meminfo *ret)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
	    {"MemTotal", offsetof(struct meminfo, total_bytes)},
	    {"MemFree", offsetof(struct meminfo, free_bytes)},
	    {"MemAvailable", offsetof(struct meminfo, available_bytes)},
	    {"Cached", offsetof(struct meminfo, cached_bytes)},
	    {"SwapTotal", offsetof(struct meminfo, swap_total_bytes)},
	    {"SwapFree", offsetof(struct meminfo, swap_free_bytes)},
	};
	struct meminfo m = {};
	bool have_total = false, have_avail = false;
	const char *line = text;

	while (line && *line) {
		const char *colon = strchr(line, ':');
		const char *nl = strchr(line, '\n');

		if (colon && (!nl || colon < nl)) {
			size_t klen = (size_t)(colon - line);

			for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
				if (strlen(keys[i].key) != klen || strncmp(line, keys[i].key, klen))
					continue;
				if (parse_kb(colon + 1, (uint64_t *)((char *)&m + keys[i].off)))
					return -EINVAL;
				have_total |= i == 0;
				have_avail |= i == 2;
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	if (!have_total || !have_avail)
		return -EINVAL;
	*ret = m;
	return 0;
}

int procfs_read_meminfo(const char *path, struct meminfo *ret)
{
	char buf[8192];
	long n = procfs_read_file(path, buf, sizeof(buf));

	if (n < 0)
		return (int)n;
	return procfs_parse_meminfo(buf, ret);
}

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
