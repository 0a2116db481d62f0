// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * password.c - what slows password guessing: PBKDF2-HMAC-SHA256 hashes
 * (libcrypto) and the per-name backoff of failed logins.
 *
 * Contracts: hashes are stored as "pbkdf2-sha256$ITERATIONS$SALT$HASH"
 * (salt and hash in base64url without padding), so a hash keeps verifying
 * when the default iteration count changes. Every check runs exactly one
 * PBKDF2, for a known user, an unknown one (against a random dummy hash)
 * and a corrupt stored hash alike, and compares in constant time. The
 * backoff table is bounded (AUTH_BACKOFF_SLOTS names, the least recently
 * tried one is dropped) and tracks names whether they exist or not.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "auth/auth_internal.h"
#include "util/base64url.h"

#define PBKDF2_PREFIX	  "pbkdf2-sha256$"
#define PBKDF2_SALT_BYTES 16
#define PBKDF2_HASH_BYTES 32
/* the largest salt a stored hash may have */
#define PBKDF2_SALT_MAX 64

#define BACKOFF_FREE_FAILURES 3
#define BACKOFF_MAX_S	      300.0
#define BACKOFF_FORGET_S      3600.0

/* ------------------------------------------------------------------------
 * Passwords
 * ---------------------------------------------------------------------- */

static int pbkdf2(const char *pw, const unsigned char *salt, size_t saltlen, unsigned iterations,
		  unsigned char dk[PBKDF2_HASH_BYTES])
{
	if (PKCS5_PBKDF2_HMAC(pw, (int)strlen(pw), salt, (int)saltlen, (int)iterations,
			      EVP_sha256(), PBKDF2_HASH_BYTES, dk) != 1)
		return -ENOMEM;
	return 0;
}

static int hash_format(unsigned iterations, const unsigned char *salt,
		       const unsigned char dk[PBKDF2_HASH_BYTES], char *out, size_t outlen)
{
	char salt_b64[BASE64URL_LEN(PBKDF2_SALT_BYTES) + 1];
	char dk_b64[BASE64URL_LEN(PBKDF2_HASH_BYTES) + 1];
	int n;

	base64url_encode(salt, PBKDF2_SALT_BYTES, salt_b64, sizeof(salt_b64));
	base64url_encode(dk, PBKDF2_HASH_BYTES, dk_b64, sizeof(dk_b64));
	n = snprintf(out, outlen, PBKDF2_PREFIX "%u$%s$%s", iterations, salt_b64, dk_b64);
	return n < 0 || (size_t)n >= outlen ? -ENOBUFS : 0;
}

/* "pbkdf2-sha256$600000$SALT$HASH" -> its parts (salt holds
 * PBKDF2_SALT_MAX bytes); -EINVAL if malformed. */
static int hash_parse(const char *stored, unsigned *ret_iterations, unsigned char *salt,
		      size_t *ret_saltlen, unsigned char dk[PBKDF2_HASH_BYTES])
{
	const char *p, *salt_end, *dk_start;
	unsigned long iterations;
	size_t saltlen, dklen;
	char *end;

	if (!stored || strncmp(stored, PBKDF2_PREFIX, strlen(PBKDF2_PREFIX)))
		return -EINVAL;
	p = stored + strlen(PBKDF2_PREFIX);
	if (*p < '1' || *p > '9')
		return -EINVAL;
	errno = 0;
	iterations = strtoul(p, &end, 10);
	if (errno || *end != '$' || iterations > AUTH_PBKDF2_ITERATIONS_MAX)
		return -EINVAL;
	salt_end = strchr(end + 1, '$');
	if (!salt_end)
		return -EINVAL;
	dk_start = salt_end + 1;
	if (base64url_decode(end + 1, (size_t)(salt_end - end - 1), salt, PBKDF2_SALT_MAX,
			     &saltlen) ||
	    saltlen < 8)
		return -EINVAL;
	if (base64url_decode(dk_start, strlen(dk_start), dk, PBKDF2_HASH_BYTES, &dklen) ||
	    dklen != PBKDF2_HASH_BYTES)
		return -EINVAL;
	*ret_iterations = (unsigned)iterations;
	*ret_saltlen = saltlen;
	return 0;
}

bool auth_password_valid(const char *pw)
{
	size_t n;

	if (!pw)
		return false;
	n = strnlen(pw, AUTH_PASSWORD_MAX + 1);
	return n >= AUTH_PASSWORD_MIN && n <= AUTH_PASSWORD_MAX;
}

int auth_password_hash(const char *pw, unsigned iterations, char *out, size_t outlen)
{
	unsigned char salt[PBKDF2_SALT_BYTES], dk[PBKDF2_HASH_BYTES];
	int err;

	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return -EIO;
	err = pbkdf2(pw, salt, sizeof(salt), iterations, dk);
	if (!err)
		err = hash_format(iterations, salt, dk, out, outlen);
	OPENSSL_cleanse(dk, sizeof(dk));
	return err;
}

int auth_password_dummy_init(struct auth *a)
{
	unsigned char salt[PBKDF2_SALT_BYTES], dk[PBKDF2_HASH_BYTES];

	if (RAND_bytes(salt, sizeof(salt)) != 1 || RAND_bytes(dk, sizeof(dk)) != 1)
		return -EIO;
	return hash_format(a->pbkdf2_iterations, salt, dk, a->dummy_hash, sizeof(a->dummy_hash));
}

bool auth_password_matches(struct auth *a, const char *stored, const char *pw)
{
	unsigned char salt[PBKDF2_SALT_MAX], want[PBKDF2_HASH_BYTES], got[PBKDF2_HASH_BYTES];
	unsigned iterations;
	size_t saltlen;
	bool well_formed, ok;

	well_formed = hash_parse(stored, &iterations, salt, &saltlen, want) == 0;
	if (!well_formed && hash_parse(a->dummy_hash, &iterations, salt, &saltlen, want))
		return false;
	__atomic_add_fetch(&a->password_checks, 1, __ATOMIC_RELAXED);
	ok = pbkdf2(pw, salt, saltlen, iterations, got) == 0 &&
	     CRYPTO_memcmp(got, want, sizeof(got)) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	OPENSSL_cleanse(want, sizeof(want));
	return ok && well_formed;
}

/* ------------------------------------------------------------------------
 * Login backoff
 * ---------------------------------------------------------------------- */

static struct auth_backoff_slot *backoff_find(struct auth *a, const char *name)
{
	for (size_t i = 0; i < AUTH_BACKOFF_SLOTS; i++)
		if (a->backoff[i].name[0] && !strcmp(a->backoff[i].name, name))
			return &a->backoff[i];
	return NULL;
}

/* After BACKOFF_FREE_FAILURES failures in a row a name waits 1 s, then 2,
 * 4 ... up to BACKOFF_MAX_S; BACKOFF_FORGET_S without attempts forgets. */
int auth_backoff_begin(struct auth *a, const char *name, double now, double *retry_after_s)
{
	struct auth_backoff_slot *s, *oldest = NULL;
	int err = 0;

	pthread_mutex_lock(&a->backoff_lock);
	s = backoff_find(a, name);
	if (s && now - s->last_s > BACKOFF_FORGET_S)
		s->failures = 0;
	if (s && s->failures >= BACKOFF_FREE_FAILURES) {
		/* a clock stepping back must not lock a name out for longer */
		if (s->until_s - now > BACKOFF_MAX_S)
			s->until_s = now + BACKOFF_MAX_S;
		if (now < s->until_s) {
			*retry_after_s = s->until_s - now;
			err = -EAGAIN;
			goto out;
		}
	}
	if (!s) {
		/* a free slot, else the one tried least recently */
		for (size_t i = 0; i < AUTH_BACKOFF_SLOTS; i++) {
			struct auth_backoff_slot *c = &a->backoff[i];

			if (!c->name[0]) {
				oldest = c;
				break;
			}
			if (!oldest || c->last_s < oldest->last_s)
				oldest = c;
		}
		s = oldest;
		memset(s, 0, sizeof(*s));
		snprintf(s->name, sizeof(s->name), "%s", name);
	}
	s->failures++;
	s->last_s = now;
	if (s->failures >= BACKOFF_FREE_FAILURES) {
		unsigned shift = s->failures - BACKOFF_FREE_FAILURES;

		s->until_s = now + fmin(ldexp(1.0, shift > 16 ? 16 : (int)shift), BACKOFF_MAX_S);
	}
out:
	pthread_mutex_unlock(&a->backoff_lock);
	return err;
}

void auth_backoff_clear(struct auth *a, const char *name)
{
	struct auth_backoff_slot *s;

	pthread_mutex_lock(&a->backoff_lock);
	s = backoff_find(a, name);
	if (s)
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&a->backoff_lock);
}
uint64_t auth_password_checks(struct auth *a)
{
	return __atomic_load_n(&a->password_checks, __ATOMIC_RELAXED);
}
