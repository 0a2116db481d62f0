/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * error.h - the one way a module reports why it failed. Functions return
 * 0 or a negative errno and, when the caller passes a buffer, one line
 * saying what went wrong; the caller decides whether and how to log it.
 *
 *	if (!f)
 *		return error_set(err, errlen, -errno, "%s: cannot open: %m", path);
 *
 * The line is cut at a UTF-8 character boundary when it does not fit, so
 * it can always go into JSON or a log line.
 */
#ifndef KPULSE_UTIL_ERROR_H
#define KPULSE_UTIL_ERROR_H

#include <stddef.h>

/* Formats the message into err (errlen bytes; err may be NULL) and
 * returns code, so that a failure is one statement. errno is kept. */
__attribute__((format(printf, 4, 5))) int error_set(char *err, size_t errlen, int code,
						    const char *fmt, ...);

#endif /* KPULSE_UTIL_ERROR_H */
