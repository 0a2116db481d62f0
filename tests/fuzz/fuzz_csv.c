/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fuzz_csv.c - libFuzzer target for util/csv, the one CSV reader (kpulse
 * replay, kpulse forecast, the multivariate tools): any bytes give a
 * series or a matrix, or one error line, never a crash, a leak or
 * undefined behaviour; what is accepted is finite. The first byte picks
 * the reader. `make fuzz-csv` builds it with clang
 * -fsanitize=fuzzer,address,undefined.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/csv.h"

static void check_err(const char *err, size_t len)
{
	if (!memchr(err, '\0', len) || strchr(err, '\n'))
		abort(); /* the message is one terminated line */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[256];
	FILE *f;

	if (size < 2)
		return 0; /* fmemopen refuses an empty buffer */
	f = fmemopen((void *)(data + 1), size - 1, "r");
	if (!f)
		return 0;
	if (data[0] & 1) {
		struct csv_matrix *m = NULL;

		if (csv_read_matrix(f, "fuzz", 10000, &m, err, sizeof(err)) == 0) {
			for (size_t i = 0; i < m->rows * m->cols; i++) {
				if (!isfinite(m->x[i]))
					abort();
			}
		} else {
			check_err(err, sizeof(err));
		}
		csv_matrix_free(m);
	} else {
		struct csv_series *s = NULL;

		if (csv_read_series(f, "fuzz", 10000, &s, err, sizeof(err)) == 0) {
			for (size_t i = 0; i < s->n; i++) {
				if (!isfinite(s->v[i]) || !isfinite(s->t[i]))
					abort();
			}
		} else {
			check_err(err, sizeof(err));
		}
		csv_series_free(s);
	}
	fclose(f);
	return 0;
}
