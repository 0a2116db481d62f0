/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fuzz_mountinfo.c - libFuzzer target for collection/cgroups.c's reader of
 * /proc/self/mountinfo (mount points are named by whoever mounts, with
 * octal escapes, and a container can mount anything): any text gives 0 or
 * -EINVAL, each mount point found is a terminated string within its
 * buffer, never a read past the text, a crash or undefined behaviour.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collection/cgroups.h"

static void check_terminated(const char *s, size_t size)
{
	if (strnlen(s, size) >= size)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1); /* exact size: ASan sees a read past it */
	struct cgroups_mounts *m;
	int rc;

	if (!text)
		return 0;
	m = malloc(sizeof(*m));
	if (!m) {
		free(text);
		return 0;
	}
	memset(m, 0x55, sizeof(*m)); /* left alone on failure */
	memcpy(text, data, size);
	text[size] = 0;
	rc = cgroups_parse_mountinfo(text, m);
	if (rc != 0 && rc != -EINVAL)
		abort();
	if (rc == 0) {
		check_terminated(m->v2, sizeof(m->v2));
		check_terminated(m->cpuacct, sizeof(m->cpuacct));
		check_terminated(m->memory, sizeof(m->memory));
		check_terminated(m->blkio, sizeof(m->blkio));
	} else if (m->v2[0] != 0x55) {
		abort();
	}
	free(m);
	free(text);
	return 0;
}
