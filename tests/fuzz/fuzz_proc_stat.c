/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fuzz_proc_stat.c - libFuzzer target for collection/proctab.c's reader of
 * /proc/PID/stat (a process names itself, and its name sits in that text
 * with any bytes, parentheses included): any text gives 0 and a count or
 * -EINVAL, never a read past the text, a crash or undefined behaviour.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collection/proctab.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1); /* exact size: ASan sees a read past it */
	uint64_t faults = 0;
	int rc;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = 0;
	rc = proctab_parse_stat_faults(text, &faults);
	if (rc != 0 && rc != -EINVAL)
		abort();
	free(text);
	return 0;
}
