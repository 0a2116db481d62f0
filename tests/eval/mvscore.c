// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * mvscore.c - scores every row of a numeric CSV matrix with kpulse's
 * Isolation Forest or LOF, one score per line (higher is more anomalous),
 * so that tests/eval/mv_sklearn.py can compare them with scikit-learn on
 * the same matrix. Both fit on the whole matrix and score its rows, as
 * IsolationForest().fit(X).score_samples(X) and
 * LocalOutlierFactor().fit(X).negative_outlier_factor_ do (negated).
 *
 *   mvscore iforest FILE.csv [TREES SAMPLE_SIZE SEED]
 *   mvscore lof FILE.csv [NEIGHBORS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "models/iforest.h"
#include "models/lof.h"
#include "util/csv.h"

#define ROWS_MAX 100000

int main(int argc, char **argv)
{
	struct csv_matrix *m = NULL;
	char err[512];
	int status = 1;

	if (argc < 3 || (strcmp(argv[1], "iforest") && strcmp(argv[1], "lof"))) {
		fprintf(stderr, "usage: mvscore iforest FILE.csv [TREES SAMPLE_SIZE SEED]\n"
				"       mvscore lof FILE.csv [NEIGHBORS]\n");
		return 2;
	}
	if (csv_load_matrix(argv[2], ROWS_MAX, &m, err, sizeof(err)) < 0) {
		fprintf(stderr, "mvscore: %s\n", err);
		return 1;
	}
	if (!strcmp(argv[1], "iforest")) {
		struct iforest_options o = {.trees = 100, .sample_size = 256, .seed = 1};
		struct iforest *f = NULL;

		if (argc > 3)
			o.trees = strtoul(argv[3], NULL, 10);
		if (argc > 4)
			o.sample_size = strtoul(argv[4], NULL, 10);
		if (argc > 5)
			o.seed = strtoull(argv[5], NULL, 10);
		if (iforest_fit(m->x, m->rows, m->cols, &o, &f, err, sizeof(err)) < 0) {
			fprintf(stderr, "mvscore: %s\n", err);
			goto out;
		}
		for (size_t i = 0; i < m->rows; i++)
			printf("%.10g\n", iforest_score(f, m->x + i * m->cols));
		iforest_free(f);
	} else {
		size_t k = argc > 3 ? strtoul(argv[3], NULL, 10) : 20;
		struct lof *l = NULL;

		if (lof_fit(m->x, m->rows, m->cols, k, &l, err, sizeof(err)) < 0) {
			fprintf(stderr, "mvscore: %s\n", err);
			goto out;
		}
		for (size_t i = 0; i < m->rows; i++)
			printf("%.10g\n", lof_train_score(l, i));
		lof_free(l);
	}
	status = fflush(stdout) == 0 ? 0 : 1;
out:
	csv_matrix_free(m);
	return status;
}
