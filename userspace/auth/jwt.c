// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * jwt.c - the JWTs that login hands out: the server secret they are signed
 * with, issuing them (HS256), and verifying them.
 *
 * Contracts: the secret is KPULSE_JWT_SECRET when set, else the file
 * DATA_DIR/jwt.secret, created with 32 random bytes (as hex) and mode 0600
 * at first start; a secret file readable or writable by anyone else is
 * refused, never used. Verification pins the algorithm (the token's "alg"
 * must be HS256; "none" and every other value is refused), requires "exp"
 * in the future and "iat" no more than JWT_IAT_SKEW_S ahead, honours
 * "nbf" (not before) when present, compares the
 * signature in constant time, and then asks auth.db: the subject must
 * still exist, with an account created no later than the token was issued
 * (a token of a deleted account does not carry over to a new account of
 * the same name), and the role is the account's current one.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "auth/auth_internal.h"
#include "util/base64url.h"
#include "util/error.h"

#define AUTH_SECRET_FILENAME	 "jwt.secret"
#define SECRET_FILE_RANDOM_BYTES 32

#define JWT_HEADER     "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define JWT_IAT_SKEW_S 60
#define JWT_JTI_BYTES  16

/* ------------------------------------------------------------------------
 * The JWT secret
 * ---------------------------------------------------------------------- */

static int secret_set(struct auth *a, const char *s, size_t n, const char *what, char *err,
		      size_t errlen)
{
	if (n < AUTH_SECRET_MIN)
		return error_set(err, errlen, -EINVAL,
				 "%s is %zu bytes long; a JWT secret needs at least %d", what, n,
				 AUTH_SECRET_MIN);
	if (n > AUTH_SECRET_MAX)
		return error_set(err, errlen, -EINVAL, "%s is longer than %d bytes", what,
				 AUTH_SECRET_MAX);
	memcpy(a->secret, s, n);
	a->secret_len = n;
	return 0;
}

static int secret_read_file(struct auth *a, const char *path, char *err, size_t errlen)
{
	char buf[AUTH_SECRET_MAX + 2];
	size_t n = 0;
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		/* a missing file is not an error: the caller creates it */
		if (errno == ENOENT)
			return -ENOENT;
		return error_set(err, errlen, -errno, "cannot open %s: %s", path, strerror(errno));
	}
	if (fstat(fd, &st) != 0) {
		ret = error_set(err, errlen, -errno, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = error_set(err, errlen, -EINVAL, "%s is not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		ret = error_set(err, errlen, -EPERM,
				"%s is readable or writable by group or others (mode %04o); "
				"`chmod 600 %s` or set KPULSE_JWT_SECRET",
				path, (unsigned)(st.st_mode & 07777), path);
		goto out;
	}
	for (;;) {
		ssize_t r = read(fd, buf + n, sizeof(buf) - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = error_set(err, errlen, -errno, "cannot read %s: %s", path,
					strerror(errno));
			goto out;
		}
		if (r == 0 || (n += (size_t)r) == sizeof(buf))
			break;
	}
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	ret = secret_set(a, buf, n, path, err, errlen);
out:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return ret;
}

/* 32 random bytes as hex, in a file only we can read; -EEXIST when another
 * process created it first (then read theirs). */
static int secret_create_file(struct auth *a, const char *path, char *err, size_t errlen)
{
	unsigned char rnd[SECRET_FILE_RANDOM_BYTES];
	char hex[2 * SECRET_FILE_RANDOM_BYTES + 2];
	size_t len = 2 * SECRET_FILE_RANDOM_BYTES, done = 0;
	int fd, ret = 0;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return error_set(err, errlen, -EIO, "cannot generate a JWT secret: no randomness");
	auth_hex_encode(rnd, sizeof(rnd), hex);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	hex[len] = '\n';

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0) {
		/* another process created it first: not an error */
		ret = errno == EEXIST ? -EEXIST
				      : error_set(err, errlen, -errno, "cannot create %s: %s", path,
						  strerror(errno));
		goto out;
	}
	/* the umask may have taken bits away, never added them; be exact */
	if (fchmod(fd, 0600) != 0)
		ret = -errno;
	while (!ret && done < len + 1) {
		ssize_t w = write(fd, hex + done, len + 1 - done);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			ret = -errno;
		else
			done += (size_t)w;
	}
	if (!ret && fsync(fd) != 0)
		ret = -errno;
	close(fd);
	if (ret) {
		error_set(err, errlen, ret, "cannot write %s: %s", path, strerror(-ret));
		unlink(path); /* a half-written secret must not be reused */
		goto out;
	}
	ret = secret_set(a, hex, len, path, err, errlen);
out:
	OPENSSL_cleanse(hex, sizeof(hex));
	return ret;
}

int auth_secret_load(struct auth *a, const char *data_dir, const char *configured, char *err,
		     size_t errlen)
{
	char path[AUTH_PATH_MAX];
	int ret;

	if (configured)
		return secret_set(a, configured, strnlen(configured, AUTH_SECRET_MAX + 1),
				  "KPULSE_JWT_SECRET", err, errlen);
	if (snprintf(path, sizeof(path), "%s/%s", data_dir, AUTH_SECRET_FILENAME) >=
	    (int)sizeof(path))
		return error_set(err, errlen, -ENAMETOOLONG, "data dir %s: path too long",
				 data_dir);
	ret = secret_read_file(a, path, err, errlen);
	if (ret != -ENOENT)
		return ret;
	ret = secret_create_file(a, path, err, errlen);
	if (ret == -EEXIST)
		ret = secret_read_file(a, path, err, errlen);
	return ret;
}

/* ------------------------------------------------------------------------
 * JWTs
 * ---------------------------------------------------------------------- */

/* Appends sep (unless NUL) and the base64url of the n bytes at in to the
 * string at buf (size bytes) that is *pos long. 0, or -ENOBUFS. */
static int append_b64url(char *buf, size_t size, size_t *pos, char sep, const void *in, size_t n)
{
	int err;

	if (sep) {
		if (*pos + 1 >= size)
			return -ENOBUFS;
		buf[(*pos)++] = sep;
	}
	err = base64url_encode(in, n, buf + *pos, size - *pos);
	if (!err)
		*pos += BASE64URL_LEN(n);
	return err;
}

int auth_jwt_issue(struct auth *a, const char *user, enum auth_role role, double now, char *token,
		   size_t len, double *ret_expires_at)
{
	char buf[AUTH_TOKEN_MAX + 1], jti[BASE64URL_LEN(JWT_JTI_BYTES) + 1];
	unsigned char rnd[JWT_JTI_BYTES], mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	/* iat to the microsecond (NumericDate allows fractions), compared
	 * with the account's creation time of the same precision */
	double iat = floor(now * 1e6) / 1e6;
	int64_t exp = (int64_t)floor(now) + (int64_t)llround(a->token_ttl_s);
	json_t *claims;
	char *payload;
	size_t n = 0;
	int err;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	base64url_encode(rnd, sizeof(rnd), jti, sizeof(jti));
	claims = json_pack("{s:s, s:s, s:f, s:I, s:s}", "sub", user, "role", auth_role_name(role),
			   "iat", iat, "exp", (json_int_t)exp, "jti", jti);
	payload = claims ? json_dumps(claims, JSON_COMPACT) : NULL;
	json_decref(claims);
	if (!payload)
		return -ENOMEM;
	err = append_b64url(buf, sizeof(buf), &n, '\0', JWT_HEADER, strlen(JWT_HEADER));
	if (!err)
		err = append_b64url(buf, sizeof(buf), &n, '.', payload, strlen(payload));
	free(payload);
	if (err)
		return err;
	if (!HMAC(EVP_sha256(), a->secret, (int)a->secret_len, (const unsigned char *)buf, n, mac,
		  &maclen))
		return -ENOMEM;
	err = append_b64url(buf, sizeof(buf), &n, '.', mac, maclen);
	if (err)
		return err;
	if (n >= len)
		return -ENOBUFS;
	memcpy(token, buf, n + 1);
	*ret_expires_at = (double)exp;
	return 0;
}

/* The decoded JSON object of one part of a JWT, or NULL. */
static json_t *jwt_part_json(const char *s, size_t n)
{
	unsigned char bin[AUTH_TOKEN_MAX];
	size_t binlen;
	json_t *j;

	if (base64url_decode(s, n, bin, sizeof(bin), &binlen))
		return NULL;
	j = json_loadb((const char *)bin, binlen, JSON_REJECT_DUPLICATES, NULL);
	if (j && !json_is_object(j)) {
		json_decref(j);
		return NULL;
	}
	return j;
}

/* A string member equal to want, and nothing after an embedded NUL. */
static bool json_str_is(json_t *obj, const char *key, const char *want)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) && json_string_length(v) == strlen(want) &&
	       !strcmp(json_string_value(v), want);
}

int auth_jwt_verify(struct auth *a, const char *tok, size_t n, struct auth_identity *ret)
{
	const char *dot1, *dot2, *end = tok + n;
	unsigned char sig[AUTH_TOKEN_MAX], mac[EVP_MAX_MD_SIZE];
	json_t *header = NULL, *claims = NULL, *typ, *sub, *exp, *iat, *nbf;
	struct auth_user_record user;
	unsigned maclen = 0;
	size_t siglen;
	double now;
	int err = -EACCES;

	dot1 = memchr(tok, '.', n);
	dot2 = dot1 ? memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1)) : NULL;
	if (!dot2 || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)))
		return -EACCES;

	/* the algorithm is ours to choose, never the token's */
	header = jwt_part_json(tok, (size_t)(dot1 - tok));
	if (!header || !json_str_is(header, "alg", "HS256") || json_object_get(header, "crit"))
		goto out;
	typ = json_object_get(header, "typ");
	if (typ && !json_str_is(header, "typ", "JWT"))
		goto out;

	if (base64url_decode(dot2 + 1, (size_t)(end - dot2 - 1), sig, sizeof(sig), &siglen) ||
	    siglen != SHA256_DIGEST_LENGTH)
		goto out;
	if (!HMAC(EVP_sha256(), a->secret, (int)a->secret_len, (const unsigned char *)tok,
		  (size_t)(dot2 - tok), mac, &maclen) ||
	    maclen != siglen || CRYPTO_memcmp(mac, sig, siglen) != 0)
		goto out;

	claims = jwt_part_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	if (!claims)
		goto out;
	sub = json_object_get(claims, "sub");
	exp = json_object_get(claims, "exp");
	iat = json_object_get(claims, "iat");
	nbf = json_object_get(claims, "nbf");
	if (nbf && !json_is_number(nbf))
		goto out;
	if (!json_is_string(sub) || strlen(json_string_value(sub)) != json_string_length(sub) ||
	    !auth_user_name_valid(json_string_value(sub)) || !json_is_number(exp) ||
	    !json_is_number(iat))
		goto out;
	now = auth_now(a);
	if (!(json_number_value(exp) > now) || json_number_value(iat) > now + JWT_IAT_SKEW_S ||
	    (nbf && !(json_number_value(nbf) <= now)))
		goto out;

	auth_db_acquire(a);
	err = auth_db_user_lookup(a, json_string_value(sub), &user);
	auth_db_release(a);
	if (err == -ENOENT) {
		err = -EACCES;
		goto out;
	}
	if (err)
		goto out;
	/* a token of an earlier account of the same name is not this one's */
	if (user.role == AUTH_ROLE_NONE || json_number_value(iat) < user.created_at) {
		err = -EACCES;
		goto out;
	}
	snprintf(ret->user, sizeof(ret->user), "%s", json_string_value(sub));
	ret->role = user.role;
	ret->token_id = 0;
	ret->expires_at = json_number_value(exp);
	err = 0;
out:
	OPENSSL_cleanse(user.password_hash, sizeof(user.password_hash));
	json_decref(header);
	json_decref(claims);
	return err;
}
