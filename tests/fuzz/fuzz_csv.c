// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * fuzz_csv.c - libFuzzer target for util/csv.c: any bytes, read as a
 * series and as a matrix. The reader must either refuse them with a
 * message or return rows that keep its promises (finite values, the
 * header's field count), and never crash, leak or read out of bounds.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct csv_series *s = NULL;
	struct csv_matrix *m = NULL;
	char err[256];
	FILE *f;

	if (size == 0)
		return 0;
	f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	if (csv_read_series(f, "fuzz", 1000, &s, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < s->n; i++)
			if (!isfinite(s->v[i]) || !isfinite(s->t[i]))
				abort();
		csv_series_free(s);
	} else if (!memchr(err, '\0', sizeof(err)) || err[0] == '\0') {
		abort(); /* a failure always says why */
	}
	fclose(f);
	f = fmemopen((void *)data, size, "r");
	if (!f)
		return 0;
	if (csv_read_matrix(f, "fuzz", 1000, &m, err, sizeof(err)) == 0) {
		for (size_t i = 0; i < m->rows * m->cols; i++)
			if (!isfinite(m->x[i]))
				abort();
		csv_matrix_free(m);
	}
	fclose(f);
	return 0;
}
