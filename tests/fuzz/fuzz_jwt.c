/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * fuzz_jwt.c - libFuzzer target for the API's credential check
 * (auth_check: "Bearer" parsing, JWT decoding and verification, API
 * tokens) on a real users database with one admin. The first byte picks:
 * the rest as the Authorization value as sent, or as header and claims
 * JSON (split at the first '\n') that the harness encodes and signs with
 * the server's secret, so that the claim checks behind the signature are
 * reached ("@now" in the claims becomes the current time, so that a
 * token can be fresh). Whatever comes in, the answer is an identity of the one user
 * with a valid role, or -EACCES; never a crash. `make fuzz` builds it
 * with clang -fsanitize=fuzzer,address,undefined.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth/auth.h"
#include "util/base64url.h"

#define SECRET "fuzz-secret-fuzz-secret-fuzz-secret-0123456789"

static struct auth *auth;
static char dir[] = "/tmp/kpulse-fuzz-jwt-XXXXXX";

static void remove_dir(void)
{
	static const char *const files[] = {"auth.db", "auth.db-wal", "auth.db-shm", "jwt.secret"};
	char path[sizeof(dir) + 32];

	auth_close(auth);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct auth_options o;
	char err[256];

	if (!mkdtemp(dir))
		abort();
	auth_options_default(&o);
	o.jwt_secret = SECRET;
	if (auth_open(dir, &o, &auth, err, sizeof(err)) != 0 ||
	    auth_user_add(auth, "admin", "fuzz-password-1", AUTH_ROLE_ADMIN) != 0) {
		fprintf(stderr, "fuzz_jwt: setup: %s\n", err);
		abort();
	}
	atexit(remove_dir);
	return 0;
}

/* "Bearer " base64url(header) "." base64url(claims) "." signature */
static char *sign(const char *header, size_t hlen, const char *claims, size_t clen)
{
	size_t cap = 16 + 2 * (hlen + clen) + 64;
	unsigned char mac[32];
	unsigned maclen = 0;
	char *tok = malloc(cap);
	size_t n;

	if (!tok)
		return NULL;
	n = (size_t)snprintf(tok, cap, "Bearer ");
	if (base64url_encode(header, hlen, tok + n, cap - n) < 0)
		goto fail;
	n += strlen(tok + n);
	tok[n++] = '.';
	if (base64url_encode(claims, clen, tok + n, cap - n) < 0)
		goto fail;
	n += strlen(tok + n);
	if (!HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (unsigned char *)tok + 7, n - 7, mac,
		  &maclen))
		goto fail;
	tok[n++] = '.';
	if (base64url_encode(mac, maclen, tok + n, cap - n) < 0)
		goto fail;
	return tok;
fail:
	free(tok);
	return NULL;
}

/* claims with each "@now" replaced by the current unix time; n updated */
static char *with_now(const char *in, size_t *n)
{
	char now[24], *out = malloc(*n * 6 + 1);
	size_t o = 0, nowlen;

	if (!out)
		return NULL;
	nowlen = (size_t)snprintf(now, sizeof(now), "%lld", (long long)time(NULL));
	for (size_t i = 0; i < *n;) {
		if (*n - i >= 4 && !memcmp(in + i, "@now", 4)) {
			memcpy(out + o, now, nowlen);
			o += nowlen;
			i += 4;
		} else {
			out[o++] = in[i++];
		}
	}
	out[o] = '\0';
	*n = o;
	return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_identity id;
	char *in, *tok, *nl;
	int r;

	if (size < 1 || size > 4096)
		return 0;
	in = malloc(size);
	if (!in)
		return 0;
	memcpy(in, data + 1, size - 1);
	in[size - 1] = '\0';
	if (data[0] & 1) {
		const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", *cl = in;
		size_t hlen = strlen(hdr), clen = size - 1;
		char *claims;

		nl = memchr(in, '\n', size - 1);
		if (nl) {
			hdr = in;
			hlen = (size_t)(nl - in);
			cl = nl + 1;
			clen = size - 2 - hlen;
		}
		claims = with_now(cl, &clen);
		tok = claims ? sign(hdr, hlen, claims, clen) : NULL;
		free(claims);
	} else {
		tok = strdup(in);
	}
	if (tok) {
		memset(&id, 0, sizeof(id));
		r = auth_check(auth, tok, &id);
		if (r == 0 && (strcmp(id.user, "admin") != 0 || id.role != AUTH_ROLE_ADMIN))
			abort(); /* the only account there is */
		if (r != 0 && r != -EACCES && r != -ENOMEM)
			abort();
		free(tok);
	}
	free(in);
	return 0;
}
