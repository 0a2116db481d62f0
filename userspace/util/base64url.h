/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * base64url.h - base64 with the URL and file name safe alphabet and no
 * padding (RFC 4648 section 5, as JWTs use it, RFC 7515 section 2), for
 * bytes that go into tokens, URLs and stored hashes.
 *
 * Decoding is strict, so that each byte string has exactly one text: only
 * the url alphabet, no padding, no whitespace, and the unused low bits of
 * the last character zero. Anything else is refused, never skipped.
 * OpenSSL's libcrypto does the bit work; this file maps the alphabet and
 * enforces the rules. Intermediate buffers are wiped, since what passes
 * through here is often secret (token bytes, salts, hashes).
 */
#ifndef KPULSE_UTIL_BASE64URL_H
#define KPULSE_UTIL_BASE64URL_H

#include <stddef.h>

/* Characters encoding n bytes takes (without a NUL); a constant
 * expression when n is one, for array sizes. */
#define BASE64URL_LEN(n) ((((size_t)(n)) * 4 + 2) / 3)

/*
 * Writes the encoding of the n bytes at in, and a NUL, into out (outlen
 * bytes). Returns 0, or -ENOBUFS when outlen < BASE64URL_LEN(n) + 1
 * (then out is left as it was).
 */
int base64url_encode(const void *in, size_t n, char *out, size_t outlen);

/*
 * Decodes the len characters at in into out (outlen bytes). Returns 0 and
 * *ret_n (bytes written), -EINVAL when the text is not strict base64url
 * (see above; a length of 4k+1 cannot be one), or -ENOBUFS when out is too
 * small. On failure *ret_n is not written and out holds nothing decoded.
 */
int base64url_decode(const char *in, size_t len, void *out, size_t outlen, size_t *ret_n);

#endif /* KPULSE_UTIL_BASE64URL_H */
