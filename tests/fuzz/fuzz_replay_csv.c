/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fuzz_replay_csv.c - libFuzzer target for the replay CSV reader: any
 * bytes must give rows or one error line, never a crash, a leak or
 * undefined behaviour; rows it accepts are in time order and finite.
 * `make fuzz-replay` builds it with clang -fsanitize=fuzzer,address,undefined.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/replay_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct replay_table t = {0};
	char err[256];
	FILE *f;

	if (size == 0)
		return 0; /* fmemopen refuses an empty buffer */
	f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	if (replay_csv_read(f, 100000, &t, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < t.nrows; i++) {
			if (!isfinite(t.rows[i].value) || !isfinite(t.rows[i].timestamp) ||
			    (i && t.rows[i].timestamp < t.rows[i - 1].timestamp))
				abort();
		}
	} else if (!memchr(err, '\0', sizeof(err)) || strchr(err, '\n')) {
		abort(); /* the message is one terminated line */
	}
	replay_table_clear(&t);
	fclose(f);
	return 0;
}
