// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * error.c - one-line failure reasons (see error.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/error.h"
#include "util/utf8.h"

int error_set(char *err, size_t errlen, int code, const char *fmt, ...)
{
	int saved = errno, n;
	va_list ap;

	if (!err || !errlen)
		return code;
	va_start(ap, fmt);
	n = vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	if (n < 0)
		err[0] = '\0';
	else if ((size_t)n >= errlen)
		err[utf8_cut(err, errlen - 1, errlen - 1)] = '\0';
	errno = saved;
	return code;
}
