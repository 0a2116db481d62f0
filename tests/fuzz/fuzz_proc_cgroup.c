/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fuzz_proc_cgroup.c - libFuzzer target for collection/cgroups.c's reader
 * of /proc/PID/cgroup (cgroup paths are named by whoever creates them, any
 * bytes but '/' and NUL): the first input byte picks the mode (v2 or v1)
 * and the output buffer's size (1 to 64 bytes, so truncation is covered),
 * the rest is the text. Any text gives 0, -ENOENT or -EINVAL; on 0 the
 * path is a terminated string within the buffer; never a read or write
 * past either, a crash or undefined behaviour.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collection/cgroups.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum cgroups_mode mode;
	size_t buflen;
	char *text, *buf;
	int rc;

	if (size < 1)
		return 0;
	mode = data[0] & 1 ? CGROUPS_V1 : CGROUPS_V2;
	buflen = 1 + ((data[0] >> 1) & 63);
	data++;
	size--;
	text = malloc(size + 1); /* exact sizes: ASan sees a read or write past them */
	buf = malloc(buflen);
	if (!text || !buf) {
		free(text);
		free(buf);
		return 0;
	}
	memcpy(text, data, size);
	text[size] = 0;
	rc = cgroups_parse_proc_cgroup(text, mode, buf, buflen);
	if (rc != 0 && rc != -ENOENT && rc != -EINVAL)
		abort();
	if (rc == 0 && strnlen(buf, buflen) >= buflen)
		abort();
	free(buf);
	free(text);
	return 0;
}
