// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * auth.c - who may use the REST API: accounts and their roles in
 * DATA_DIR/auth.db, PBKDF2 password hashes, HS256 JWTs signed with the
 * server secret, long-lived API tokens kept only as SHA-256 hashes, and the
 * in-memory backoff that slows password guessing.
 *
 * Every credential is checked against the current account record, so a
 * role change or a deletion takes effect at the next request, also when
 * another process (`kpulse user`) made it. Cryptography is OpenSSL's; this
 * file only frames it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include "api/auth.h"

#define AUTH_DB_FILENAME     "auth.db"
#define AUTH_SECRET_FILENAME "jwt.secret"
#define AUTH_SCHEMA_VERSION  1
#define AUTH_BUSY_TIMEOUT_MS 5000
#define AUTH_PATH_MAX	     4096

#define PBKDF2_PREFIX	  "pbkdf2-sha256$"
#define PBKDF2_SALT_BYTES 16
#define PBKDF2_HASH_BYTES 32
/* a stored hash asking for more is corrupt, not slow on purpose */
#define PBKDF2_ITERATIONS_MAX 10000000u
#define PASSWORD_HASH_MAX     160

#define API_TOKEN_PREFIX	 "kpt_"
#define API_TOKEN_RANDOM_BYTES	 32
#define SECRET_FILE_RANDOM_BYTES 32

#define JWT_HEADER	"{\"alg\":\"HS256\",\"typ\":\"JWT\"}"
#define JWT_IAT_SKEW_S	60
#define JWT_JTI_BYTES	16
#define TOKEN_TTL_MIN_S 1.0
#define TOKEN_TTL_MAX_S (30.0 * 86400)

#define BACKOFF_SLOTS	      4096
#define BACKOFF_FREE_FAILURES 3
#define BACKOFF_MAX_S	      300.0
#define BACKOFF_FORGET_S      3600.0

/* Buffer for the base64 of n bytes: EVP_EncodeBlock writes the padded
 * form and a NUL before we strip the padding. */
#define B64_BUF(n) (4 * (((n) + 2) / 3) + 1)

struct backoff_slot {
	char name[AUTH_NAME_MAX]; /* "" when free */
	unsigned failures;	  /* attempts not (yet) known to have succeeded */
	double last_s;		  /* last attempt */
	double until_s;		  /* no attempt before this */
};

/*
 * A verified credential is trusted again without the database for
 * IDCACHE_TTL_S (by the auth clock). Changes made through this process
 * (user deleted or demoted, token deleted) take effect at once; changes
 * made by another process (`kpulse user` on the same data dir) within
 * IDCACHE_TTL_S. Keys are SHA-256 digests of the credential, never the
 * credential itself.
 */
#define IDCACHE_SLOTS 64
#define IDCACHE_TTL_S 1.0

struct idcache_slot {
	unsigned char key[SHA256_DIGEST_LENGTH];
	double fetched;
	uint64_t gen;
	bool used;
	struct auth_identity id;
};

struct auth {
	pthread_mutex_t db_lock; /* the SQLite connection */
	sqlite3 *db;		 /* open only while db_lock is held */
	char db_path[AUTH_PATH_MAX];

	unsigned char secret[AUTH_SECRET_MAX];
	size_t secret_len;

	double token_ttl_s;
	double (*clock)(void *);
	void *clock_ctx;
	unsigned pbkdf2_iterations;
	/* what an unknown user's password is checked against: random, so no
	 * password matches, and costs what a real hash of today costs */
	char dummy_hash[PASSWORD_HASH_MAX];

	pthread_mutex_t backoff_lock;
	struct backoff_slot backoff[BACKOFF_SLOTS];
	uint64_t password_checks; /* atomic */

	/* Recently verified credentials, so a busy API client does not cost
	 * a database read per request (see idcache_get()). */
	pthread_mutex_t idcache_lock;
	struct idcache_slot idcache[IDCACHE_SLOTS];
	uint64_t idcache_gen; /* bumped by every change to users and tokens */
};

/* ------------------------------------------------------------------------
 * Small helpers
 * ---------------------------------------------------------------------- */

static void idcache_invalidate(struct auth *a)
{
	__atomic_add_fetch(&a->idcache_gen, 1, __ATOMIC_SEQ_CST);
}

static bool idcache_get(struct auth *a, const unsigned char *key, double now,
			struct auth_identity *ret)
{
	struct idcache_slot *slot = &a->idcache[key[0] % IDCACHE_SLOTS];
	uint64_t gen = __atomic_load_n(&a->idcache_gen, __ATOMIC_SEQ_CST);
	bool hit;

	pthread_mutex_lock(&a->idcache_lock);
	hit = slot->used && slot->gen == gen && now >= slot->fetched &&
	      now - slot->fetched < IDCACHE_TTL_S &&
	      (slot->id.expires_at == 0 || now < slot->id.expires_at) &&
	      !memcmp(slot->key, key, sizeof(slot->key));
	if (hit)
		*ret = slot->id;
	pthread_mutex_unlock(&a->idcache_lock);
	return hit;
}

static void idcache_put(struct auth *a, const unsigned char *key, double now, uint64_t gen,
			const struct auth_identity *id)
{
	struct idcache_slot *slot = &a->idcache[key[0] % IDCACHE_SLOTS];

	pthread_mutex_lock(&a->idcache_lock);
	memcpy(slot->key, key, sizeof(slot->key));
	slot->fetched = now;
	slot->gen = gen;
	slot->used = true;
	slot->id = *id;
	pthread_mutex_unlock(&a->idcache_lock);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static double now_s(const struct auth *a)
{
	struct timespec ts;

	if (a->clock)
		return a->clock(a->clock_ctx);
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool name_valid(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strnlen(name, AUTH_NAME_MAX);
	if (n == 0 || n >= AUTH_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

bool auth_user_name_valid(const char *name)
{
	return name_valid(name);
}

static bool password_valid(const char *pw)
{
	size_t n;

	if (!pw)
		return false;
	n = strnlen(pw, AUTH_PASSWORD_MAX + 1);
	return n >= AUTH_PASSWORD_MIN && n <= AUTH_PASSWORD_MAX;
}

static bool role_valid(enum auth_role r)
{
	return r == AUTH_ROLE_VIEWER || r == AUTH_ROLE_OPERATOR || r == AUTH_ROLE_ADMIN;
}

const char *auth_role_name(enum auth_role r)
{
	switch (r) {
	case AUTH_ROLE_VIEWER:
		return "viewer";
	case AUTH_ROLE_OPERATOR:
		return "operator";
	case AUTH_ROLE_ADMIN:
		return "admin";
	default:
		return "none";
	}
}

int auth_role_parse(const char *s, enum auth_role *ret)
{
	static const enum auth_role roles[] = {AUTH_ROLE_VIEWER, AUTH_ROLE_OPERATOR,
					       AUTH_ROLE_ADMIN};

	if (!s)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		if (!strcmp(s, auth_role_name(roles[i]))) {
			*ret = roles[i];
			return 0;
		}
	}
	return -EINVAL;
}

/* A role read back from the database; anything unexpected grants nothing. */
static enum auth_role role_from_db(const unsigned char *s)
{
	enum auth_role r;

	return s && auth_role_parse((const char *)s, &r) == 0 ? r : AUTH_ROLE_NONE;
}

/* ------------------------------------------------------------------------
 * base64url without padding (RFC 7515), over OpenSSL's base64
 * ---------------------------------------------------------------------- */

static size_t b64url_len(size_t n)
{
	return n / 3 * 4 + (n % 3 ? n % 3 + 1 : 0);
}

/* out holds at least B64_BUF(n) bytes; writes a NUL-terminated string. */
static void b64url_encode(const unsigned char *in, size_t n, char *out)
{
	size_t len = b64url_len(n);

	EVP_EncodeBlock((unsigned char *)out, in, (int)n);
	for (size_t i = 0; i < len; i++) {
		if (out[i] == '+')
			out[i] = '-';
		else if (out[i] == '/')
			out[i] = '_';
	}
	out[len] = '\0';
}

static int b64url_value(char c)
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

/*
 * Strict decoding: only the url alphabet, no padding, no whitespace, and
 * the unused low bits of the last character zero, so each byte string has
 * exactly one encoding. -EINVAL otherwise, -ENOBUFS when out is too small.
 */
static int b64url_decode(const char *in, size_t len, unsigned char *out, size_t outlen,
			 size_t *ret_n)
{
	unsigned char std[AUTH_TOKEN_MAX + 4], bin[AUTH_TOKEN_MAX];
	size_t n, pad;
	int last, r;

	if (len > AUTH_TOKEN_MAX || len % 4 == 1)
		return -EINVAL;
	n = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	if (n > outlen)
		return -ENOBUFS;
	for (size_t i = 0; i < len; i++) {
		if (b64url_value(in[i]) < 0)
			return -EINVAL;
		std[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
	}
	if (len) {
		last = b64url_value(in[len - 1]);
		if ((len % 4 == 2 && (last & 0x0f)) || (len % 4 == 3 && (last & 0x03)))
			return -EINVAL;
	}
	pad = (4 - len % 4) % 4;
	memset(std + len, '=', pad);
	r = EVP_DecodeBlock(bin, std, (int)(len + pad));
	if (r < 0 || (size_t)r != (len + pad) / 4 * 3)
		return -EINVAL;
	memcpy(out, bin, n);
	OPENSSL_cleanse(bin, sizeof(bin));
	*ret_n = n;
	return 0;
}

static void hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

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
	char salt_b64[B64_BUF(PBKDF2_SALT_BYTES)], dk_b64[B64_BUF(PBKDF2_HASH_BYTES)];
	int n;

	b64url_encode(salt, PBKDF2_SALT_BYTES, salt_b64);
	b64url_encode(dk, PBKDF2_HASH_BYTES, dk_b64);
	n = snprintf(out, outlen, PBKDF2_PREFIX "%u$%s$%s", iterations, salt_b64, dk_b64);
	return n < 0 || (size_t)n >= outlen ? -ENOBUFS : 0;
}

/* "pbkdf2-sha256$600000$SALT$HASH" -> its parts; -EINVAL if malformed. */
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
	if (errno || *end != '$' || iterations > PBKDF2_ITERATIONS_MAX)
		return -EINVAL;
	salt_end = strchr(end + 1, '$');
	if (!salt_end)
		return -EINVAL;
	dk_start = salt_end + 1;
	if (b64url_decode(end + 1, (size_t)(salt_end - end - 1), salt, 64, &saltlen) || saltlen < 8)
		return -EINVAL;
	if (b64url_decode(dk_start, strlen(dk_start), dk, PBKDF2_HASH_BYTES, &dklen) ||
	    dklen != PBKDF2_HASH_BYTES)
		return -EINVAL;
	*ret_iterations = (unsigned)iterations;
	*ret_saltlen = saltlen;
	return 0;
}

static int password_hash(const char *pw, unsigned iterations, char *out, size_t outlen)
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

/* Runs one PBKDF2 whatever happens, so a malformed or dummy hash costs the
 * same time as a real one; only a well-formed stored hash can match. */
static bool password_matches(struct auth *a, const char *stored, const char *pw)
{
	unsigned char salt[64], want[PBKDF2_HASH_BYTES], got[PBKDF2_HASH_BYTES];
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
	return ok && well_formed;
}

/* ------------------------------------------------------------------------
 * Login backoff
 * ---------------------------------------------------------------------- */

static struct backoff_slot *backoff_find(struct auth *a, const char *name)
{
	for (size_t i = 0; i < BACKOFF_SLOTS; i++)
		if (a->backoff[i].name[0] && !strcmp(a->backoff[i].name, name))
			return &a->backoff[i];
	return NULL;
}

/*
 * Counts an attempt as failed before the password is checked, so guesses
 * sent in parallel cannot all slip in before the first one fails; a success
 * clears the slot. -EAGAIN and the wait while the name is backing off.
 */
static int backoff_begin(struct auth *a, const char *name, double now, double *retry_after_s)
{
	struct backoff_slot *s, *oldest = NULL;
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
		for (size_t i = 0; i < BACKOFF_SLOTS; i++) {
			struct backoff_slot *c = &a->backoff[i];

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

static void backoff_clear(struct auth *a, const char *name)
{
	struct backoff_slot *s;

	pthread_mutex_lock(&a->backoff_lock);
	s = backoff_find(a, name);
	if (s)
		memset(s, 0, sizeof(*s));
	pthread_mutex_unlock(&a->backoff_lock);
}

/* ------------------------------------------------------------------------
 * The JWT secret
 * ---------------------------------------------------------------------- */

static int secret_set(struct auth *a, const char *s, size_t n, const char *what, char *err,
		      size_t errlen)
{
	if (n < AUTH_SECRET_MIN) {
		set_err(err, errlen, "%s is %zu bytes long; a JWT secret needs at least %d", what,
			n, AUTH_SECRET_MIN);
		return -EINVAL;
	}
	if (n > AUTH_SECRET_MAX) {
		set_err(err, errlen, "%s is longer than %d bytes", what, AUTH_SECRET_MAX);
		return -EINVAL;
	}
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
		ret = -errno;
		if (ret != -ENOENT)
			set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) != 0) {
		ret = -errno;
		set_err(err, errlen, "cannot stat %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		set_err(err, errlen, "%s is not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		ret = -EPERM;
		set_err(err, errlen,
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
			ret = -errno;
			set_err(err, errlen, "cannot read %s: %s", path, strerror(errno));
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

	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		set_err(err, errlen, "cannot generate a JWT secret: no randomness");
		return -EIO;
	}
	hex_encode(rnd, sizeof(rnd), hex);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	hex[len] = '\n';

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0) {
		ret = -errno;
		if (ret != -EEXIST)
			set_err(err, errlen, "cannot create %s: %s", path, strerror(errno));
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
		set_err(err, errlen, "cannot write %s: %s", path, strerror(-ret));
		unlink(path); /* a half-written secret must not be reused */
		goto out;
	}
	ret = secret_set(a, hex, len, path, err, errlen);
out:
	OPENSSL_cleanse(hex, sizeof(hex));
	return ret;
}

static int secret_load(struct auth *a, const char *data_dir, const char *configured, char *err,
		       size_t errlen)
{
	char path[AUTH_PATH_MAX];
	int ret;

	if (configured)
		return secret_set(a, configured, strnlen(configured, AUTH_SECRET_MAX + 1),
				  "KPULSE_JWT_SECRET", err, errlen);
	if (snprintf(path, sizeof(path), "%s/%s", data_dir, AUTH_SECRET_FILENAME) >=
	    (int)sizeof(path)) {
		set_err(err, errlen, "data dir %s: path too long", data_dir);
		return -ENAMETOOLONG;
	}
	ret = secret_read_file(a, path, err, errlen);
	if (ret != -ENOENT)
		return ret;
	ret = secret_create_file(a, path, err, errlen);
	if (ret == -EEXIST)
		ret = secret_read_file(a, path, err, errlen);
	return ret;
}

/* ------------------------------------------------------------------------
 * auth.db
 * ---------------------------------------------------------------------- */

static int db_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
	case SQLITE_CANTOPEN:
		return -EACCES;
	default:
		return -EIO;
	}
}

static const char schema_sql[] =
    "CREATE TABLE IF NOT EXISTS users ("
    "  name TEXT PRIMARY KEY NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),"
    "  password_hash TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS api_tokens ("
    "  id INTEGER PRIMARY KEY,"
    "  owner TEXT NOT NULL,"
    "  role TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),"
    "  label TEXT NOT NULL DEFAULT '',"
    "  token_sha256 TEXT NOT NULL UNIQUE,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS api_tokens_owner ON api_tokens (owner);"
    "PRAGMA user_version = 1;";

/* Creates the file with mode 0600 (or narrows an existing one) before
 * SQLite opens it; SQLite gives its -wal and -shm files the same mode. */
static int db_file_prepare(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd, ret = 0;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0) {
		ret = -errno;
		set_err(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		ret = -EINVAL;
		set_err(err, errlen, "%s is not a regular file", path);
	} else if ((st.st_mode & 07777) != 0600 && fchmod(fd, 0600) != 0) {
		ret = -errno;
		set_err(err, errlen, "cannot chmod 600 %s: %s", path, strerror(errno));
	}
	close(fd);
	return ret;
}

static int db_int_query(sqlite3 *db, const char *sql, int64_t *ret)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (!db)
		return SQLITE_IOERR; /* the connection could not be opened */
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*ret = sqlite3_column_int64(st, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

static int db_open(struct auth *a, const char *data_dir, char *err, size_t errlen)
{
	char path[AUTH_PATH_MAX];
	sqlite3_stmt *st = NULL;
	int64_t version = 0;
	int rc, ret;

	if (snprintf(path, sizeof(path), "%s/%s", data_dir, AUTH_DB_FILENAME) >=
	    (int)sizeof(path)) {
		set_err(err, errlen, "data dir %s: path too long", data_dir);
		return -ENAMETOOLONG;
	}
	ret = db_file_prepare(path, err, errlen);
	if (ret)
		return ret;
	/* SQLite's unix VFS opens its files with O_CLOEXEC itself */
	rc = sqlite3_open_v2(path, &a->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	sqlite3_extended_result_codes(a->db, 1);
	sqlite3_busy_timeout(a->db, AUTH_BUSY_TIMEOUT_MS);

	rc = sqlite3_prepare_v2(a->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const unsigned char *mode = sqlite3_column_text(st, 0);

		rc = mode && !strcmp((const char *)mode, "wal") ? SQLITE_OK : SQLITE_CANTOPEN;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		goto fail;
	/* few writes, and each one is an account: make every commit durable,
	 * and overwrite deleted hashes instead of leaving them in free pages */
	rc = sqlite3_exec(a->db, "PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;", NULL,
			  NULL, NULL);
	if (rc != SQLITE_OK)
		goto fail;
	rc = db_int_query(a->db, "PRAGMA user_version", &version);
	if (rc != SQLITE_OK)
		goto fail;
	if (version > AUTH_SCHEMA_VERSION) {
		set_err(err, errlen, "%s has schema version %lld, newer than this kpulse (%d)",
			path, (long long)version, AUTH_SCHEMA_VERSION);
		return -EPROTO;
	}
	if (version < AUTH_SCHEMA_VERSION) {
		rc = sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(a->db, schema_sql, NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK) {
			set_err(err, errlen, "cannot create the tables in %s: %s", path,
				sqlite3_errmsg(a->db));
			sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
			return db_errno(rc);
		}
	}
	/* No connection is kept between calls (see db_acquire()). */
	snprintf(a->db_path, sizeof(a->db_path), "%s", path);
	sqlite3_close_v2(a->db);
	a->db = NULL;
	return 0;
fail:
	set_err(err, errlen, "cannot open %s: %s", path,
		a->db ? sqlite3_errmsg(a->db) : sqlite3_errstr(rc));
	return db_errno(rc) ? db_errno(rc) : -EIO;
}

/*
 * The connection lives only while db_lock is held: auth calls are rare
 * next to what a connection costs to keep, and an open file in the data
 * dir would keep an operator from unmounting it to repair a file system
 * that went read-only (the store closes its files on such errors too).
 * On an open failure db stays NULL and every statement fails with -EIO.
 */
static void db_acquire(struct auth *a)
{
	pthread_mutex_lock(&a->db_lock);
	if (sqlite3_open_v2(a->db_path, &a->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		sqlite3_close_v2(a->db);
		a->db = NULL;
		return;
	}
	sqlite3_extended_result_codes(a->db, 1);
	sqlite3_busy_timeout(a->db, AUTH_BUSY_TIMEOUT_MS);
	/* few writes, and each one is an account: make every commit durable,
	 * and overwrite deleted hashes instead of leaving them in free pages */
	sqlite3_exec(a->db, "PRAGMA synchronous = FULL; PRAGMA secure_delete = ON;", NULL, NULL,
		     NULL);
}

static void db_release(struct auth *a)
{
	sqlite3_close_v2(a->db);
	a->db = NULL;
	pthread_mutex_unlock(&a->db_lock);
}

static int db_prepare(struct auth *a, const char *sql, sqlite3_stmt **st)
{
	if (!a->db)
		return -EIO;
	return db_errno(sqlite3_prepare_v2(a->db, sql, -1, st, NULL));
}

static int db_begin(struct auth *a)
{
	if (!a->db)
		return -EIO;
	return db_errno(sqlite3_exec(a->db, "BEGIN IMMEDIATE", NULL, NULL, NULL));
}

/* Commits when err is 0, else rolls back; returns err or the commit's. */
static int db_end(struct auth *a, int err)
{
	if (!err) {
		err = db_errno(sqlite3_exec(a->db, "COMMIT", NULL, NULL, NULL));
		if (!err)
			return 0;
	}
	if (a->db && !sqlite3_get_autocommit(a->db))
		sqlite3_exec(a->db, "ROLLBACK", NULL, NULL, NULL);
	return err;
}

struct user_record {
	enum auth_role role;
	int64_t created_at;
	char password_hash[PASSWORD_HASH_MAX];
};

/* Under db_lock. -ENOENT when there is no such user. */
static int user_lookup(struct auth *a, const char *name, struct user_record *ret)
{
	sqlite3_stmt *st = NULL;
	int err, rc;

	err =
	    db_prepare(a, "SELECT role, created_at, password_hash FROM users WHERE name = ?1", &st);
	if (err)
		return err;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *h = sqlite3_column_text(st, 2);

		ret->role = role_from_db(sqlite3_column_text(st, 0));
		ret->created_at = sqlite3_column_int64(st, 1);
		snprintf(ret->password_hash, sizeof(ret->password_hash), "%s",
			 h ? (const char *)h : "");
		err = 0;
	} else {
		err = rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
	}
	sqlite3_finalize(st);
	return err;
}

/* ------------------------------------------------------------------------
 * Opening and closing
 * ---------------------------------------------------------------------- */

void auth_options_default(struct auth_options *o)
{
	*o = (struct auth_options){
	    .token_ttl_s = 3600,
	    .pbkdf2_iterations = AUTH_PBKDF2_ITERATIONS,
	};
}

static int dummy_hash_init(struct auth *a)
{
	unsigned char salt[PBKDF2_SALT_BYTES], dk[PBKDF2_HASH_BYTES];

	if (RAND_bytes(salt, sizeof(salt)) != 1 || RAND_bytes(dk, sizeof(dk)) != 1)
		return -EIO;
	return hash_format(a->pbkdf2_iterations, salt, dk, a->dummy_hash, sizeof(a->dummy_hash));
}

int auth_open(const char *data_dir, const struct auth_options *o, struct auth **ret, char *err,
	      size_t errlen)
{
	struct auth_options defaults;
	struct auth *a;
	int r;

	if (!data_dir || !*data_dir || !ret) {
		set_err(err, errlen, "no data dir given");
		return -EINVAL;
	}
	if (!o) {
		auth_options_default(&defaults);
		o = &defaults;
	}
	if (!(o->token_ttl_s >= TOKEN_TTL_MIN_S && o->token_ttl_s <= TOKEN_TTL_MAX_S)) {
		set_err(err, errlen, "token lifetime %g s is outside %g s..%g s", o->token_ttl_s,
			TOKEN_TTL_MIN_S, TOKEN_TTL_MAX_S);
		return -EINVAL;
	}
	if (o->pbkdf2_iterations > PBKDF2_ITERATIONS_MAX) {
		set_err(err, errlen, "%u PBKDF2 iterations is more than %u", o->pbkdf2_iterations,
			PBKDF2_ITERATIONS_MAX);
		return -EINVAL;
	}

	a = calloc(1, sizeof(*a));
	if (!a) {
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pthread_mutex_init(&a->db_lock, NULL);
	pthread_mutex_init(&a->backoff_lock, NULL);
	pthread_mutex_init(&a->idcache_lock, NULL);
	a->token_ttl_s = o->token_ttl_s;
	a->clock = o->clock;
	a->clock_ctx = o->clock_ctx;
	a->pbkdf2_iterations = o->pbkdf2_iterations ? o->pbkdf2_iterations : AUTH_PBKDF2_ITERATIONS;

	r = dummy_hash_init(a);
	if (r) {
		set_err(err, errlen, "cannot generate random bytes");
		goto fail;
	}
	if (mkdir(data_dir, 0750) != 0 && errno != EEXIST) {
		r = -errno;
		set_err(err, errlen, "data dir %s: cannot create it: %s", data_dir,
			strerror(errno));
		goto fail;
	}
	r = secret_load(a, data_dir, o->jwt_secret, err, errlen);
	if (r)
		goto fail;
	r = db_open(a, data_dir, err, errlen);
	if (r)
		goto fail;
	*ret = a;
	return 0;
fail:
	auth_close(a);
	return r;
}

struct auth *auth_close(struct auth *a)
{
	if (!a)
		return NULL;
	sqlite3_close_v2(a->db);
	pthread_mutex_destroy(&a->db_lock);
	pthread_mutex_destroy(&a->backoff_lock);
	pthread_mutex_destroy(&a->idcache_lock);
	OPENSSL_cleanse(a, sizeof(*a));
	free(a);
	return NULL;
}

/* ------------------------------------------------------------------------
 * Users
 * ---------------------------------------------------------------------- */

int auth_user_add(struct auth *a, const char *name, const char *password, enum auth_role role)
{
	char hash[PASSWORD_HASH_MAX];
	sqlite3_stmt *st = NULL;
	int64_t users = 0;
	int err;

	if (!a || !name_valid(name) || !password_valid(password) || !role_valid(role))
		return -EINVAL;
	err = password_hash(password, a->pbkdf2_iterations, hash, sizeof(hash));
	if (err)
		return err;

	db_acquire(a);
	err = db_begin(a);
	if (err)
		goto out;
	err = db_errno(db_int_query(a->db, "SELECT count(*) FROM users", &users));
	if (!err && users >= AUTH_USERS_MAX)
		err = -ENOSPC;
	if (!err)
		err = db_prepare(a,
				 "INSERT INTO users (name, role, password_hash, created_at) "
				 "VALUES (?1, ?2, ?3, ?4)",
				 &st);
	if (!err) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, auth_role_name(role), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, hash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 4, (int64_t)floor(now_s(a)));
		err = db_errno(sqlite3_step(st));
		sqlite3_finalize(st);
	}
	err = db_end(a, err);
out:
	db_release(a);
	OPENSSL_cleanse(hash, sizeof(hash));
	return err;
}

int auth_user_delete(struct auth *a, const char *name)
{
	sqlite3_stmt *st = NULL;
	int err;

	if (!a || !name_valid(name))
		return -EINVAL;
	idcache_invalidate(a);
	db_acquire(a);
	err = db_begin(a);
	if (err)
		goto out;
	/* tokens go with their owner: a new account of the same name must
	 * not inherit them */
	err = db_prepare(a, "DELETE FROM api_tokens WHERE owner = ?1", &st);
	if (!err) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		err = db_errno(sqlite3_step(st));
		sqlite3_finalize(st);
	}
	if (!err)
		err = db_prepare(a, "DELETE FROM users WHERE name = ?1", &st);
	if (!err) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		err = db_errno(sqlite3_step(st));
		sqlite3_finalize(st);
		if (!err && sqlite3_changes(a->db) == 0)
			err = -ENOENT;
	}
	err = db_end(a, err);
out:
	db_release(a);
	return err;
}

int auth_user_set_role(struct auth *a, const char *name, enum auth_role role)
{
	sqlite3_stmt *st = NULL;
	int err;

	if (!a || !name_valid(name) || !role_valid(role))
		return -EINVAL;
	idcache_invalidate(a);
	db_acquire(a);
	err = db_prepare(a, "UPDATE users SET role = ?2 WHERE name = ?1", &st);
	if (!err) {
		sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, auth_role_name(role), -1, SQLITE_STATIC);
		err = db_errno(sqlite3_step(st));
		if (!err && sqlite3_changes(a->db) == 0)
			err = -ENOENT;
		sqlite3_finalize(st);
	}
	db_release(a);
	return err;
}

int auth_user_list(struct auth *a, json_t **ret)
{
	sqlite3_stmt *st = NULL;
	json_t *arr;
	int err, rc;

	if (!a || !ret)
		return -EINVAL;
	arr = json_array();
	if (!arr)
		return -ENOMEM;
	db_acquire(a);
	err = db_prepare(a, "SELECT name, role, created_at FROM users ORDER BY name", &st);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *u =
		    json_pack("{s:s, s:s, s:I}", "name", (const char *)sqlite3_column_text(st, 0),
			      "role", auth_role_name(role_from_db(sqlite3_column_text(st, 1))),
			      "created_at", (json_int_t)sqlite3_column_int64(st, 2));

		if (!u || json_array_append_new(arr, u))
			err = -ENOMEM;
	}
	if (!err && rc != SQLITE_DONE)
		err = db_errno(rc);
	sqlite3_finalize(st);
	db_release(a);
	if (err) {
		json_decref(arr);
		return err;
	}
	*ret = arr;
	return 0;
}

int auth_ensure_admin(struct auth *a, const char *password)
{
	char hash[PASSWORD_HASH_MAX];
	sqlite3_stmt *st = NULL;
	int64_t users = 0;
	int err;

	if (!a)
		return -EINVAL;
	db_acquire(a);
	err = db_errno(db_int_query(a->db, "SELECT count(*) FROM users", &users));
	db_release(a);
	if (err || users > 0)
		return err;
	if (!password_valid(password))
		return -EINVAL;
	err = password_hash(password, a->pbkdf2_iterations, hash, sizeof(hash));
	if (err)
		return err;
	/* one statement decides, so a second process racing us adds nothing */
	db_acquire(a);
	err = db_prepare(a,
			 "INSERT INTO users (name, role, password_hash, created_at) "
			 "SELECT 'admin', 'admin', ?1, ?2 WHERE NOT EXISTS (SELECT 1 FROM users)",
			 &st);
	if (!err) {
		sqlite3_bind_text(st, 1, hash, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 2, (int64_t)floor(now_s(a)));
		err = db_errno(sqlite3_step(st));
		sqlite3_finalize(st);
	}
	db_release(a);
	OPENSSL_cleanse(hash, sizeof(hash));
	return err;
}

/* ------------------------------------------------------------------------
 * JWTs
 * ---------------------------------------------------------------------- */

static int jwt_issue(struct auth *a, const char *user, enum auth_role role, double now, char *token,
		     size_t len, double *ret_expires_at)
{
	char buf[AUTH_TOKEN_MAX + 1], jti[B64_BUF(JWT_JTI_BYTES)];
	unsigned char rnd[JWT_JTI_BYTES], mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	int64_t iat = (int64_t)floor(now), exp = iat + (int64_t)llround(a->token_ttl_s);
	json_t *claims;
	char *payload;
	size_t n, plen;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	b64url_encode(rnd, sizeof(rnd), jti);
	claims = json_pack("{s:s, s:s, s:I, s:I, s:s}", "sub", user, "role", auth_role_name(role),
			   "iat", (json_int_t)iat, "exp", (json_int_t)exp, "jti", jti);
	payload = claims ? json_dumps(claims, JSON_COMPACT) : NULL;
	json_decref(claims);
	if (!payload)
		return -ENOMEM;
	plen = strlen(payload);
	if (B64_BUF(strlen(JWT_HEADER)) + B64_BUF(plen) + B64_BUF(SHA256_DIGEST_LENGTH) >
	    sizeof(buf)) {
		free(payload);
		return -ENOBUFS;
	}
	b64url_encode((const unsigned char *)JWT_HEADER, strlen(JWT_HEADER), buf);
	n = strlen(buf);
	buf[n++] = '.';
	b64url_encode((const unsigned char *)payload, plen, buf + n);
	free(payload);
	n += strlen(buf + n);
	if (!HMAC(EVP_sha256(), a->secret, (int)a->secret_len, (const unsigned char *)buf, n, mac,
		  &maclen))
		return -ENOMEM;
	buf[n++] = '.';
	b64url_encode(mac, maclen, buf + n);
	n += strlen(buf + n);
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

	if (b64url_decode(s, n, bin, sizeof(bin), &binlen))
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

static int jwt_verify(struct auth *a, const char *tok, size_t n, struct auth_identity *ret)
{
	const char *dot1, *dot2, *end = tok + n;
	unsigned char sig[AUTH_TOKEN_MAX], mac[EVP_MAX_MD_SIZE];
	json_t *header = NULL, *claims = NULL, *typ, *sub, *exp, *iat;
	struct user_record user;
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

	if (b64url_decode(dot2 + 1, (size_t)(end - dot2 - 1), sig, sizeof(sig), &siglen) ||
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
	if (!json_is_string(sub) || strlen(json_string_value(sub)) != json_string_length(sub) ||
	    !name_valid(json_string_value(sub)) || !json_is_number(exp) || !json_is_number(iat))
		goto out;
	now = now_s(a);
	if (!(json_number_value(exp) > now) || json_number_value(iat) > now + JWT_IAT_SKEW_S)
		goto out;

	db_acquire(a);
	err = user_lookup(a, json_string_value(sub), &user);
	db_release(a);
	if (err == -ENOENT) {
		err = -EACCES;
		goto out;
	}
	if (err)
		goto out;
	/* a token of an earlier account of the same name is not this one's */
	if (user.role == AUTH_ROLE_NONE || json_number_value(iat) < (double)user.created_at) {
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

/* ------------------------------------------------------------------------
 * Login
 * ---------------------------------------------------------------------- */

int auth_login(struct auth *a, const char *user, const char *password, char *token, size_t len,
	       double *expires_at, double *retry_after_s)
{
	struct user_record rec;
	bool known, ok;
	double now, expires, retry = 0;
	int err;

	if (!a || !token || !expires_at)
		return -EINVAL;
	/* an invalid name cannot exist, so refusing it at once tells nothing */
	if (!name_valid(user) || !password ||
	    strnlen(password, AUTH_PASSWORD_MAX + 1) > AUTH_PASSWORD_MAX)
		return -EACCES;
	now = now_s(a);
	err = backoff_begin(a, user, now, &retry);
	if (err) {
		if (retry_after_s)
			*retry_after_s = retry;
		return err;
	}

	db_acquire(a);
	err = user_lookup(a, user, &rec);
	db_release(a);
	if (err && err != -ENOENT)
		return err;
	known = err == 0 && rec.role != AUTH_ROLE_NONE;
	ok = password_matches(a, known ? rec.password_hash : a->dummy_hash, password);
	OPENSSL_cleanse(rec.password_hash, sizeof(rec.password_hash));
	if (!known || !ok)
		return -EACCES;

	backoff_clear(a, user);
	err = jwt_issue(a, user, rec.role, now, token, len, &expires);
	if (err)
		return err;
	*expires_at = expires;
	return 0;
}

/* ------------------------------------------------------------------------
 * API tokens
 * ---------------------------------------------------------------------- */

static void token_sha256_hex(const char *tok, size_t n, char out[2 * SHA256_DIGEST_LENGTH + 1])
{
	unsigned char md[SHA256_DIGEST_LENGTH];

	SHA256((const unsigned char *)tok, n, md);
	hex_encode(md, sizeof(md), out);
}

static bool label_valid(const char *label)
{
	size_t n = strnlen(label, AUTH_LABEL_MAX + 1);
	json_t *utf8;

	if (n > AUTH_LABEL_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)label[i] < 0x20 || label[i] == 0x7f)
			return false;
	/* the label comes back in JSON: jansson refuses what is not UTF-8 */
	utf8 = json_string(label);
	json_decref(utf8);
	return utf8 != NULL;
}

int auth_token_create(struct auth *a, const char *owner, enum auth_role role, const char *label,
		      char *token, size_t len, int64_t *ret_id)
{
	unsigned char rnd[API_TOKEN_RANDOM_BYTES];
	char tok[sizeof(API_TOKEN_PREFIX) - 1 + B64_BUF(API_TOKEN_RANDOM_BYTES)];
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	struct user_record rec;
	sqlite3_stmt *st = NULL;
	int64_t count = 0, id = 0;
	int err, rc;

	if (!label)
		label = "";
	if (!a || !token || !name_valid(owner) || !role_valid(role) || !label_valid(label))
		return -EINVAL;
	if (len <= AUTH_API_TOKEN_LEN)
		return -ENOBUFS;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	memcpy(tok, API_TOKEN_PREFIX, strlen(API_TOKEN_PREFIX));
	b64url_encode(rnd, sizeof(rnd), tok + strlen(API_TOKEN_PREFIX));
	OPENSSL_cleanse(rnd, sizeof(rnd));
	token_sha256_hex(tok, strlen(tok), hex);

	db_acquire(a);
	err = db_begin(a);
	if (err)
		goto unlock;
	err = user_lookup(a, owner, &rec);
	OPENSSL_cleanse(rec.password_hash, sizeof(rec.password_hash));
	if (!err && role > rec.role)
		err = -EPERM;
	if (!err)
		err = db_prepare(a, "SELECT count(*) FROM api_tokens WHERE owner = ?1", &st);
	if (!err) {
		sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			count = sqlite3_column_int64(st, 0);
		else
			err = db_errno(rc);
		sqlite3_finalize(st);
		if (!err && count >= AUTH_TOKENS_PER_OWNER)
			err = -ENOSPC;
	}
	if (!err)
		err = db_prepare(a,
				 "INSERT INTO api_tokens (owner, role, label, token_sha256, "
				 "created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
				 &st);
	if (!err) {
		sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, auth_role_name(role), -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, label, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, hex, -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 5, (int64_t)floor(now_s(a)));
		err = db_errno(sqlite3_step(st));
		id = sqlite3_last_insert_rowid(a->db);
		sqlite3_finalize(st);
	}
	err = db_end(a, err);
unlock:
	db_release(a);
	if (!err) {
		memcpy(token, tok, strlen(tok) + 1);
		if (ret_id)
			*ret_id = id;
	}
	OPENSSL_cleanse(tok, sizeof(tok));
	return err;
}

int auth_token_delete(struct auth *a, int64_t id)
{
	sqlite3_stmt *st = NULL;
	int err;

	if (!a)
		return -EINVAL;
	idcache_invalidate(a);
	db_acquire(a);
	err = db_prepare(a, "DELETE FROM api_tokens WHERE id = ?1", &st);
	if (!err) {
		sqlite3_bind_int64(st, 1, id);
		err = db_errno(sqlite3_step(st));
		if (!err && sqlite3_changes(a->db) == 0)
			err = -ENOENT;
		sqlite3_finalize(st);
	}
	db_release(a);
	return err;
}

int auth_token_list(struct auth *a, const char *owner, json_t **ret)
{
	sqlite3_stmt *st = NULL;
	json_t *arr;
	int err, rc;

	if (!a || !ret)
		return -EINVAL;
	arr = json_array();
	if (!arr)
		return -ENOMEM;
	db_acquire(a);
	err = db_prepare(a,
			 "SELECT id, owner, role, label, created_at FROM api_tokens "
			 "WHERE ?1 IS NULL OR owner = ?1 ORDER BY id",
			 &st);
	if (!err)
		sqlite3_bind_text(st, 1, owner, -1, SQLITE_STATIC);
	while (!err && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		json_t *t = json_pack("{s:I, s:s, s:s, s:s, s:I}", "id",
				      (json_int_t)sqlite3_column_int64(st, 0), "owner",
				      (const char *)sqlite3_column_text(st, 1), "role",
				      auth_role_name(role_from_db(sqlite3_column_text(st, 2))),
				      "label", (const char *)sqlite3_column_text(st, 3),
				      "created_at", (json_int_t)sqlite3_column_int64(st, 4));

		if (!t || json_array_append_new(arr, t))
			err = -ENOMEM;
	}
	if (!err && rc != SQLITE_DONE)
		err = db_errno(rc);
	sqlite3_finalize(st);
	db_release(a);
	if (err) {
		json_decref(arr);
		return err;
	}
	*ret = arr;
	return 0;
}

static int api_token_verify(struct auth *a, const char *tok, size_t n, struct auth_identity *ret)
{
	const size_t prefix = strlen(API_TOKEN_PREFIX);
	char hex[2 * SHA256_DIGEST_LENGTH + 1];
	unsigned char rnd[API_TOKEN_RANDOM_BYTES];
	sqlite3_stmt *st = NULL;
	enum auth_role token_role, owner_role;
	size_t rndlen;
	int err, rc;

	if (n != AUTH_API_TOKEN_LEN ||
	    b64url_decode(tok + prefix, n - prefix, rnd, sizeof(rnd), &rndlen) ||
	    rndlen != API_TOKEN_RANDOM_BYTES)
		return -EACCES;
	OPENSSL_cleanse(rnd, sizeof(rnd));
	token_sha256_hex(tok, n, hex);

	db_acquire(a);
	err = db_prepare(a,
			 "SELECT t.id, t.owner, t.role, u.role FROM api_tokens t "
			 "JOIN users u ON u.name = t.owner WHERE t.token_sha256 = ?1",
			 &st);
	if (!err) {
		sqlite3_bind_text(st, 1, hex, -1, SQLITE_STATIC);
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			token_role = role_from_db(sqlite3_column_text(st, 2));
			owner_role = role_from_db(sqlite3_column_text(st, 3));
			ret->role = token_role < owner_role ? token_role : owner_role;
			ret->token_id = sqlite3_column_int64(st, 0);
			snprintf(ret->user, sizeof(ret->user), "%s",
				 (const char *)sqlite3_column_text(st, 1));
			err = ret->role == AUTH_ROLE_NONE ? -EACCES : 0;
		} else {
			err = rc == SQLITE_DONE ? -EACCES : db_errno(rc);
		}
		sqlite3_finalize(st);
	}
	db_release(a);
	return err;
}

/* ------------------------------------------------------------------------
 * Checking credentials
 * ---------------------------------------------------------------------- */

int auth_check(struct auth *a, const char *bearer, struct auth_identity *ret)
{
	unsigned char key[SHA256_DIGEST_LENGTH];
	struct auth_identity id = {0};
	const char *tok = bearer;
	uint64_t gen;
	double now;
	size_t n;
	int err;

	if (!a || !ret)
		return -EINVAL;
	if (!bearer)
		return -EACCES;
	/* the scheme is case-insensitive (RFC 7235) */
	if (!strncasecmp(tok, "Bearer ", 7)) {
		tok += 7;
		while (*tok == ' ')
			tok++;
	}
	n = strnlen(tok, AUTH_TOKEN_MAX + 1);
	if (n == 0 || n > AUTH_TOKEN_MAX)
		return -EACCES;
	SHA256((const unsigned char *)tok, n, key);
	now = now_s(a);
	if (idcache_get(a, key, now, ret))
		return 0;
	/* read before verifying: a change racing the check invalidates the
	 * entry this check would store */
	gen = __atomic_load_n(&a->idcache_gen, __ATOMIC_SEQ_CST);
	if (!strncmp(tok, API_TOKEN_PREFIX, strlen(API_TOKEN_PREFIX)))
		err = api_token_verify(a, tok, n, &id);
	else
		err = jwt_verify(a, tok, n, &id);
	if (err)
		return err;
	idcache_put(a, key, now, gen, &id);
	*ret = id;
	return 0;
}

uint64_t auth_password_checks(struct auth *a)
{
	return __atomic_load_n(&a->password_checks, __ATOMIC_RELAXED);
}
