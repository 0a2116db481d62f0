// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * base64url.c - base64url without padding over OpenSSL's base64 (see
 * base64url.h). Both directions work one group at a time (3 bytes <-> 4
 * characters) through small buffers, so no input is too long to handle
 * and nothing is allocated.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "util/base64url.h"

int base64url_encode(const void *in, size_t n, char *out, size_t outlen)
{
	const unsigned char *p = in;
	size_t w = 0;

	if (outlen < BASE64URL_LEN(n) + 1)
		return -ENOBUFS;
	for (size_t i = 0; i < n; i += 3) {
		size_t k = n - i < 3 ? n - i : 3;
		unsigned char quad[5]; /* 4 characters and EVP's NUL */

		EVP_EncodeBlock(quad, p + i, (int)k);
		/* k bytes need k + 1 characters; the rest is '=' padding */
		for (size_t c = 0; c < k + 1; c++)
			out[w++] = quad[c] == '+' ? '-' : quad[c] == '/' ? '_' : (char)quad[c];
	}
	out[w] = '\0';
	return 0;
}

/* The 6-bit value of a url-alphabet character, or -1. */
static int value_of(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int base64url_decode(const char *in, size_t len, void *out, size_t outlen, size_t *ret_n)
{
	unsigned char *o = out;
	size_t n, w = 0;
	int last;

	if (len % 4 == 1)
		return -EINVAL;
	for (size_t i = 0; i < len; i++)
		if (value_of(in[i]) < 0)
			return -EINVAL;
	/* the bits a short last group leaves unused must be zero */
	if (len % 4) {
		last = value_of(in[len - 1]);
		if ((len % 4 == 2 && (last & 0x0f)) || (len % 4 == 3 && (last & 0x03)))
			return -EINVAL;
	}
	n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	if (n > outlen)
		return -ENOBUFS;
	for (size_t i = 0; i < len; i += 4) {
		size_t k = len - i < 4 ? len - i : 4;
		size_t got = k == 4 ? 3 : k - 1; /* a group of 2 or 3 holds 1 or 2 */
		unsigned char quad[4] = {'=', '=', '=', '='}, bytes[3];
		bool ok;

		for (size_t c = 0; c < k; c++)
			quad[c] = in[i + c] == '-' ? '+' : in[i + c] == '_' ? '/' : in[i + c];
		/* every character was checked, so only a libcrypto failure
		 * could make this fail */
		ok = EVP_DecodeBlock(bytes, quad, 4) == 3;
		if (ok) {
			memcpy(o + w, bytes, got);
			w += got;
		}
		OPENSSL_cleanse(bytes, sizeof(bytes));
		if (!ok) {
			OPENSSL_cleanse(out, w);
			return -EINVAL;
		}
	}
	*ret_n = w;
	return 0;
}
