// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * dropclass.c - tells lost packets from packets freed in normal teardown
 * among the kernel's drop reasons (see dropclass.h).
 */
#include <string.h>

#include "collection/dropclass.h"

static const char *const teardown[] = {
    "QUEUE_PURGE",
    "SOCKET_CLOSE",
    "TCP_CLOSE",
    "UNIX_DISCONNECT",
};

const char *drop_reason_class(const char *reason)
{
	if (!reason)
		return "drop";
	if (!strcmp(reason, "NOT_SPECIFIED"))
		return "unspecified";
	for (size_t i = 0; i < sizeof(teardown) / sizeof(teardown[0]); i++)
		if (!strcmp(reason, teardown[i]))
			return "teardown";
	return "drop";
}
