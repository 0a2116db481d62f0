/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * question.h - the time window a free-form question names ("why was the
 * box slow at 14:05?", "what happened in the last 2 hours?"), for
 * POST /api/v1/analyze. Outside input: any bytes are read safely.
 *
 *   "at HH:MM" / "around HH:MM"  the 10 minutes around that local time
 *                                (today, or yesterday when it is ahead)
 *   "last N s|sec|min|minutes|h|hours" / "past N ..."  [now - N, now]
 *   "last hour" / "last minute" / "last day"
 *   otherwise                    the last 15 minutes
 */
#ifndef KPULSE_ANALYSIS_QUESTION_H
#define KPULSE_ANALYSIS_QUESTION_H

#include <stddef.h>

#define QUESTION_DEFAULT_WINDOW_S (15 * 60.0)
/* Longest window a question may name. */
#define QUESTION_MAX_WINDOW_S (7 * 86400.0)

/* Fills *from, *to and said (what was understood, "the last 15 minutes").
 * len bytes of q are read (no NUL needed). Never fails. */
void question_window(const char *q, size_t len, double now, double *from, double *to, char *said,
		     size_t saidlen);

#endif /* KPULSE_ANALYSIS_QUESTION_H */
