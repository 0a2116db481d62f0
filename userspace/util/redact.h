/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * redact.h - keeps secrets (API keys, routing keys, webhook URLs) out of
 * text that leaves kpulse's hands: error messages, logs, API answers and
 * stored records. Text from outside (an error body, an LLM's answer) may
 * quote a key back, whole or in part ("Incorrect API key provided:
 * sk-abc...xyz"), so a secret is replaced wherever it appears whole, and
 * so is any run of REDACT_MIN_RUN or more bytes of it.
 */
#ifndef KPULSE_UTIL_REDACT_H
#define KPULSE_UTIL_REDACT_H

#include <stdbool.h>
#include <stddef.h>

/* Runs of a secret this long or longer are replaced. */
#define REDACT_MIN_RUN 8
/* What replaces them. */
#define REDACT_MARK "[redacted]"

/*
 * Copies the NUL-terminated src into dst (dstsize > 0 bytes, always
 * NUL-terminated, cut at a UTF-8 boundary when it does not fit) with every
 * maximal run of bytes that a secret shares (REDACT_MIN_RUN or more bytes,
 * or a whole secret) replaced by REDACT_MARK. secrets holds n strings;
 * NULL or empty ones and ones shorter than 4 bytes are ignored. Returns
 * the length written; *ret_changed (may be NULL) tells whether anything
 * was replaced.
 */
size_t redact_secrets(char *dst, size_t dstsize, const char *src, const char *const *secrets,
		      size_t n, bool *ret_changed);

/* True when text holds a secret or a run of REDACT_MIN_RUN bytes of one. */
bool redact_found(const char *text, const char *const *secrets, size_t n);

#endif /* KPULSE_UTIL_REDACT_H */
