/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * replay_csv.h - the strict reader of `kpulse replay`'s input: a CSV with
 * the header `timestamp,value` and one sample per row, oldest first.
 *
 *   - timestamp: `YYYY-MM-DD HH:MM:SS` (UTC, optional `.ffffff`) or unix
 *     seconds (a non-negative decimal);
 *   - value: a finite decimal number (NaN, infinities and hex refused);
 *   - timestamps never go back; equal timestamps are allowed (NAB repeats
 *     some) and every row is kept, in file order;
 *   - blank lines are skipped; a UTF-8 byte-order mark and CR line ends are
 *     accepted; a line longer than REPLAY_CSV_LINE_MAX bytes is an error.
 *
 * Every refusal is one line naming the line number and the problem. The
 * reader keeps each row's timestamp and value text as written, so the
 * output can repeat them without loss.
 */
#ifndef KPULSE_MODELS_REPLAY_CSV_H
#define KPULSE_MODELS_REPLAY_CSV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define REPLAY_CSV_LINE_MAX 1024
/* The most rows one replay holds in memory (each row keeps its text). */
#define REPLAY_CSV_MAX_ROWS 20000000

struct replay_row {
	double timestamp; /* unix seconds */
	double value;
	char *ts_text;	  /* as written (trimmed); owned by the table */
	char *value_text; /* as written (trimmed); owned by the table */
};

struct replay_table {
	struct replay_row *rows;
	size_t nrows;
	size_t cap;
};

/*
 * Parses one data line (without its newline; may end in CR) of len bytes.
 * prev_ts is the previous row's timestamp (-INFINITY for the first row).
 * Returns 0 and fills *ret (texts point into a new allocation owned by the
 * caller through ret->ts_text: free(ret->ts_text) frees both), or -EINVAL
 * with err holding the problem (without the line number), or -ENOMEM.
 */
int replay_csv_parse_row(const char *line, size_t len, double prev_ts, struct replay_row *ret,
			 char *err, size_t errlen);

/* Parses a timestamp field: the calendar form or unix seconds. Returns 0
 * and *ret_ts, or -EINVAL. */
int replay_csv_parse_timestamp(const char *text, size_t len, double *ret_ts);

/*
 * Reads a whole CSV from f into *ret (on success only). Returns 0,
 * -EINVAL (bad content: err holds "line N: ..." or "empty file"),
 * -E2BIG (more than max_rows rows; 0 means REPLAY_CSV_MAX_ROWS), -ENOMEM,
 * or -EIO (a read error).
 */
int replay_csv_read(FILE *f, size_t max_rows, struct replay_table *ret, char *err, size_t errlen);

/* Frees the rows of t (accepts NULL) and empties it. */
void replay_table_clear(struct replay_table *t);

#endif /* KPULSE_MODELS_REPLAY_CSV_H */
