/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * log.h - the daemon's one logger: a line per message on stderr, stamped
 * with RFC 3339 UTC time in milliseconds, as text
 *
 *	2026-11-28T17:40:01.123Z info  collector started interval_s=1
 *
 * or as JSON lines ({"ts":"...","level":"info","msg":"..."}).
 *
 * Only the code that decides what to do about an error logs it (once);
 * library-like modules return -errno and leave logging to their caller.
 *
 * Thread-safe: each line is formatted on the caller's stack and written
 * under one lock with a single fwrite + fflush, so lines from different
 * threads never interleave. The log functions preserve errno.
 */
#ifndef KPULSE_LOG_H
#define KPULSE_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

/* Prefixed names: <syslog.h> defines LOG_DEBUG, LOG_INFO as macros. */
enum log_level {
	LOG_LEVEL_DEBUG,
	LOG_LEVEL_INFO,
	LOG_LEVEL_WARN,
	LOG_LEVEL_ERROR,
	LOG_LEVEL_COUNT,
};

enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
	LOG_FORMAT_COUNT,
};

/* "debug", "info", ... and "text", "json", indexed by the enums. */
extern const char *const log_level_names[LOG_LEVEL_COUNT];
extern const char *const log_format_names[LOG_FORMAT_COUNT];

/* A message longer than this (after formatting) is cut and ends in "...". */
#define LOG_MSG_MAX 4096
/* "2026-11-28T17:40:01.123Z" plus the NUL. */
#define LOG_TIMESTAMP_LEN 25

/* Messages below the level are dropped. Default: LOG_LEVEL_INFO. */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Default: LOG_FORMAT_TEXT. */
void log_set_format(enum log_format format);
/* Where lines go; NULL means stderr (the default). The logger never closes it. */
void log_set_output(FILE *out);

/* True when a message at this level would be written: lets callers skip
 * building expensive debug output. */
int log_enabled(enum log_level level);

/* "debug", "info", "warn", "error" (case-insensitive). Returns 0 or -EINVAL;
 * *ret is written only on success. */
int log_level_parse(const char *s, enum log_level *ret);
/* "text" or "json" (case-insensitive). Returns 0 or -EINVAL. */
int log_format_parse(const char *s, enum log_format *ret);
/* The lower-case name, or "?" for a value outside the enum. */
const char *log_level_name(enum log_level level);
const char *log_format_name(enum log_format format);

/* Writes ts as "YYYY-MM-DDTHH:MM:SS.mmmZ" (UTC, milliseconds truncated).
 * buf needs LOG_TIMESTAMP_LEN bytes. Returns 0, -EINVAL (tv_nsec out of
 * range), -ENOSPC or -EOVERFLOW (a year outside 0..9999). */
int log_timestamp_format(const struct timespec *ts, char *buf, size_t len);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* KPULSE_LOG_H */
