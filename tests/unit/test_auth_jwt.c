// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_auth_jwt.c - unit tests for auth/jwt.c: the JWT checks (pinned
 * algorithm, signature, expiry and issue time, shape, size) against tokens
 * forged the way an attacker would, and the JWT secret (the file's mode,
 * reuse across restarts, refusal of short or exposed secrets).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth_fixture.h"

/* ------------------------------------------------------------------------
 * Helpers that forge tokens the way an attacker would
 * ---------------------------------------------------------------------- */

static void b64url(const void *in, size_t n, char *out)
{
	int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);

	while (len > 0 && out[len - 1] == '=')
		len--;
	out[len] = '\0';
	for (int i = 0; i < len; i++)
		out[i] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
}

/* header.payload.signature, signed with HMAC-SHA256 under key, or with
 * an empty signature when key is NULL. */
static void forge_jwt(const char *header, const char *payload, const char *key, char *out,
		      size_t outlen)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned maclen = 0;
	char *h = malloc(2 * strlen(header) + 8), *p = malloc(2 * strlen(payload) + 8);
	char sig[64] = "";

	b64url(header, strlen(header), h);
	b64url(payload, strlen(payload), p);
	snprintf(out, outlen, "%s.%s", h, p);
	if (key) {
		HMAC(EVP_sha256(), key, (int)strlen(key), (unsigned char *)out, strlen(out), mac,
		     &maclen);
		b64url(mac, maclen, sig);
	}
	snprintf(out + strlen(out), outlen - strlen(out), ".%s", sig);
	free(h);
	free(p);
}

static void claims(char *out, size_t len, const char *sub, double iat, double exp)
{
	snprintf(out, len,
		 "{\"sub\":\"%s\",\"role\":\"admin\",\"iat\":%.0f,\"exp\":%.0f,\"jti\":\"x\"}", sub,
		 iat, exp);
}

/* ------------------------------------------------------------------------
 * JWT verification
 * ---------------------------------------------------------------------- */

FX_TEST(jwt_forged_with_the_secret_is_accepted_as_a_control, 1)
{
	char pay[256], tok[AUTH_TOKEN_MAX * 2];
	struct auth_identity id;

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	claims(pay, sizeof(pay), "alice", T0, T0 + 60);
	forge_jwt("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", pay, TEST_SECRET, tok, sizeof(tok));
	CHECK_EQ_INT(check(fx, tok, &id), 0);
	/* the role claim is ignored: the account's role counts */
	CHECK_EQ_INT(id.role, AUTH_ROLE_VIEWER);
	forge_jwt("{\"alg\":\"HS256\"}", pay, TEST_SECRET, tok, sizeof(tok));
	CHECK_EQ_INT(check(fx, tok, NULL), 0);
}

FX_TEST(jwt_with_other_algorithms_is_rejected, 1)
{
	static const char *headers[] = {
	    "{\"alg\":\"none\",\"typ\":\"JWT\"}",
	    "{\"alg\":\"None\"}",
	    "{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
	    "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
	    "{\"alg\":\"hs256\"}",
	    "{\"alg\":\"HS256\\u0000\"}",
	    "{\"typ\":\"JWT\"}",
	    "{\"alg\":null}",
	    "{\"alg\":[\"HS256\"]}",
	    "{\"alg\":\"HS256\",\"alg\":\"HS256\"}",
	    "{\"alg\":\"HS256\",\"typ\":\"JWS+x\"}",
	    "{\"alg\":\"HS256\",\"crit\":[\"b64\"]}",
	    "[\"HS256\"]",
	    "",
	};
	char pay[256], tok[AUTH_TOKEN_MAX * 2];

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_ADMIN), 0);
	claims(pay, sizeof(pay), "alice", T0, T0 + 60);
	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
		/* correctly signed with our secret: only the header is wrong */
		forge_jwt(headers[i], pay, TEST_SECRET, tok, sizeof(tok));
		if (check(fx, tok, NULL) != -EACCES)
			fprintf(stderr, "  accepted header %s\n", headers[i]);
		CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
		/* and the classic alg=none form with no signature at all */
		forge_jwt(headers[i], pay, NULL, tok, sizeof(tok));
		CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
	}
}

FX_TEST(jwt_with_a_bad_signature_is_rejected, 1)
{
	char tok[AUTH_TOKEN_MAX + 1], pay[256], forged[AUTH_TOKEN_MAX * 2];
	char *sig;

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(login(fx, "alice", "correct horse", tok, sizeof(tok)), 0);
	CHECK_EQ_INT(check(fx, tok, NULL), 0);
	sig = strrchr(tok, '.') + 1;
	sig[5] = sig[5] == 'A' ? 'B' : 'A';
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
	sig[5] = '\0'; /* truncated */
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);

	/* signed with another key */
	claims(pay, sizeof(pay), "alice", T0, T0 + 60);
	forge_jwt("{\"alg\":\"HS256\"}", pay, "another-secret-0123456789abcdef0123", forged,
		  sizeof(forged));
	CHECK_EQ_INT(check(fx, forged, NULL), -EACCES);

	/* a payload swapped under a valid signature */
	CHECK_EQ_INT(login(fx, "alice", "correct horse", tok, sizeof(tok)), 0);
	char *dot1 = strchr(tok, '.'), *dot2 = strrchr(tok, '.');
	char other[64];

	b64url("{\"sub\":\"admin\"}", 15, other);
	snprintf(forged, sizeof(forged), "%.*s.%s%s", (int)(dot1 - tok), tok, other, dot2);
	CHECK_EQ_INT(check(fx, forged, NULL), -EACCES);
}

FX_TEST(jwt_expiry_and_issue_time_are_enforced, 1)
{
	char tok[AUTH_TOKEN_MAX + 1], pay[256], forged[AUTH_TOKEN_MAX * 2];
	const char *hdr = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(login(fx, "alice", "correct horse", tok, sizeof(tok)), 0);
	fx->now = T0 + 3599.5;
	CHECK_EQ_INT(check(fx, tok, NULL), 0);
	fx->now = T0 + 3600;
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
	fx->now = T0 + 1e6;
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
	fx->now = T0;

	/* missing exp, non-numeric exp */
	forge_jwt(hdr, "{\"sub\":\"alice\",\"iat\":1700000000}", TEST_SECRET, forged,
		  sizeof(forged));
	CHECK_EQ_INT(check(fx, forged, NULL), -EACCES);
	forge_jwt(hdr, "{\"sub\":\"alice\",\"iat\":1700000000,\"exp\":\"1800000000\"}", TEST_SECRET,
		  forged, sizeof(forged));
	CHECK_EQ_INT(check(fx, forged, NULL), -EACCES);
	/* missing sub, bad sub */
	forge_jwt(hdr, "{\"iat\":1700000000,\"exp\":1800000000}", TEST_SECRET, forged,
		  sizeof(forged));
	CHECK_EQ_INT(check(fx, forged, NULL), -EACCES);
	forge_jwt(hdr, "{\"sub\":\"alice\\u0000x\",\"iat\":1700000000,\"exp\":1800000000}",
		  TEST_SECRET, forged, sizeof(forged));
	CHECK_EQ_INT(check(fx, forged, NULL), -EACCES);
	/* issued in the future: 30 s of skew is tolerated, 61 s is not */
	claims(pay, sizeof(pay), "alice", T0 + 30, T0 + 600);
	forge_jwt(hdr, pay, TEST_SECRET, forged, sizeof(forged));
	CHECK_EQ_INT(check(fx, forged, NULL), 0);
	claims(pay, sizeof(pay), "alice", T0 + 61, T0 + 600);
	forge_jwt(hdr, pay, TEST_SECRET, forged, sizeof(forged));
	CHECK_EQ_INT(check(fx, forged, NULL), -EACCES);
	/* the ttl option is honoured */
	fx->opts.token_ttl_s = 60;
	CHECK_EQ_INT(fx_open(fx), 0);
	CHECK_EQ_INT(login(fx, "alice", "correct horse", tok, sizeof(tok)), 0);
	fx->now = T0 + 61;
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
}

FX_TEST(jwt_of_the_wrong_shape_is_rejected, 1)
{
	char tok[AUTH_TOKEN_MAX + 1], bad[AUTH_TOKEN_MAX * 4];
	char *pay;

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(login(fx, "alice", "correct horse", tok, sizeof(tok)), 0);
	/* two parts, four parts, empty parts */
	snprintf(bad, sizeof(bad), "%.*s", (int)(strrchr(tok, '.') - tok), tok);
	CHECK_EQ_INT(check(fx, bad, NULL), -EACCES);
	snprintf(bad, sizeof(bad), "%s.", tok);
	CHECK_EQ_INT(check(fx, bad, NULL), -EACCES);
	snprintf(bad, sizeof(bad), "%s.%s", tok, strrchr(tok, '.') + 1);
	CHECK_EQ_INT(check(fx, bad, NULL), -EACCES);
	CHECK_EQ_INT(check(fx, "..", NULL), -EACCES);
	CHECK_EQ_INT(check(fx, "a.b.c", NULL), -EACCES);
	/* characters outside base64url, padding, whitespace */
	CHECK_EQ_INT(check(fx, "!!!!.@@@@.####", NULL), -EACCES);
	snprintf(bad, sizeof(bad), "%s=", tok);
	CHECK_EQ_INT(check(fx, bad, NULL), -EACCES);
	snprintf(bad, sizeof(bad), "%s ", tok);
	CHECK_EQ_INT(check(fx, bad, NULL), -EACCES);
	snprintf(bad, sizeof(bad), "%s", tok);
	pay = strchr(bad, '.') + 1;
	pay[3] = '+';
	CHECK_EQ_INT(check(fx, bad, NULL), -EACCES);
	/* payload that is not JSON, or not an object */
	char notjson[64], sig_input[128];
	unsigned char mac[32];
	unsigned maclen;
	char sig[64], h[64];

	b64url("{\"alg\":\"HS256\"}", 15, h);
	b64url("[1,2,3]", 7, notjson);
	snprintf(sig_input, sizeof(sig_input), "%s.%s", h, notjson);
	HMAC(EVP_sha256(), TEST_SECRET, (int)strlen(TEST_SECRET), (unsigned char *)sig_input,
	     strlen(sig_input), mac, &maclen);
	b64url(mac, maclen, sig);
	snprintf(bad, sizeof(bad), "%s.%s", sig_input, sig);
	CHECK_EQ_INT(check(fx, bad, NULL), -EACCES);
}

FX_TEST(oversize_token_is_rejected_even_when_signed, 1)
{
	char *pay = malloc(4096), *tok = malloc(8192);
	int r_big, r_small;

	CHECK(pay && tok);
	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	/* ~1100 bytes of token: otherwise valid */
	snprintf(pay, 4096,
		 "{\"sub\":\"alice\",\"iat\":1700000000,\"exp\":1800000000,\"pad\":\"%0800d\"}", 0);
	forge_jwt("{\"alg\":\"HS256\"}", pay, TEST_SECRET, tok, 8192);
	r_big = strlen(tok) > AUTH_TOKEN_MAX ? check(fx, tok, NULL) : 1;
	/* the same with a short pad passes, so size alone decided */
	snprintf(pay, 4096,
		 "{\"sub\":\"alice\",\"iat\":1700000000,\"exp\":1800000000,\"pad\":\"%0400d\"}", 0);
	forge_jwt("{\"alg\":\"HS256\"}", pay, TEST_SECRET, tok, 8192);
	r_small = check(fx, tok, NULL);
	memset(tok, 'A', 100000 > 8191 ? 8191 : 100000);
	tok[8191] = '\0';
	int r_huge = check(fx, tok, NULL);

	free(pay);
	free(tok);
	CHECK_EQ_INT(r_big, -EACCES);
	CHECK_EQ_INT(r_small, 0);
	CHECK_EQ_INT(r_huge, -EACCES);
}

/* ------------------------------------------------------------------------
 * The secret
 * ---------------------------------------------------------------------- */

FX_TEST(secret_file_is_created_0600_and_reused, 0)
{
	char tok[AUTH_TOKEN_MAX + 1], path[128], buf[128];
	ssize_t n;
	int fd;

	fx->opts.jwt_secret = NULL;
	CHECK_EQ_INT(fx_open(fx), 0);
	CHECK_EQ_INT(file_mode(fx->dir, "jwt.secret"), 0600);
	snprintf(path, sizeof(path), "%s/jwt.secret", fx->dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	CHECK_EQ_INT(n, 65);
	buf[n] = '\0';
	CHECK_EQ_INT(strspn(buf, "0123456789abcdef"), 64);

	CHECK_EQ_INT(auth_user_add(fx->a, "alice", "correct horse", AUTH_ROLE_VIEWER), 0);
	CHECK_EQ_INT(login(fx, "alice", "correct horse", tok, sizeof(tok)), 0);
	/* a restart reads the same secret: old tokens still check */
	CHECK_EQ_INT(fx_open(fx), 0);
	CHECK_EQ_INT(check(fx, tok, NULL), 0);
	/* a token signed with a configured secret does not, and back */
	fx->opts.jwt_secret = TEST_SECRET;
	CHECK_EQ_INT(fx_open(fx), 0);
	CHECK_EQ_INT(check(fx, tok, NULL), -EACCES);
	/* and the file's secret is the one in the file */
	char pay[256], forged[AUTH_TOKEN_MAX * 2];

	buf[64] = '\0';
	claims(pay, sizeof(pay), "alice", T0, T0 + 60);
	forge_jwt("{\"alg\":\"HS256\"}", pay, buf, forged, sizeof(forged));
	fx->opts.jwt_secret = NULL;
	CHECK_EQ_INT(fx_open(fx), 0);
	CHECK_EQ_INT(check(fx, forged, NULL), 0);
}

FX_TEST(secret_file_readable_by_others_is_refused, 0)
{
	char path[128];

	fx->opts.jwt_secret = NULL;
	CHECK_EQ_INT(fx_open(fx), 0);
	fx->a = auth_close(fx->a);
	snprintf(path, sizeof(path), "%s/jwt.secret", fx->dir);
	CHECK_EQ_INT(chmod(path, 0640), 0);
	CHECK_EQ_INT(fx_open(fx), -EPERM);
	CHECK(fx->a == NULL);
	CHECK(strstr(fx->err, "jwt.secret") && strstr(fx->err, "readable"));
	CHECK_EQ_INT(chmod(path, 0604), 0);
	CHECK_EQ_INT(fx_open(fx), -EPERM);
	CHECK_EQ_INT(chmod(path, 0600), 0);
	CHECK_EQ_INT(fx_open(fx), 0);
}

FX_TEST(short_secrets_are_refused, 0)
{
	char path[128];
	int fd;

	fx->opts.jwt_secret = "0123456789abcdef0123456789abcde"; /* 31 bytes */
	CHECK_EQ_INT(fx_open(fx), -EINVAL);
	CHECK(fx->a == NULL);
	CHECK(strstr(fx->err, "KPULSE_JWT_SECRET") && strstr(fx->err, "32"));
	fx->opts.jwt_secret = "";
	CHECK_EQ_INT(fx_open(fx), -EINVAL);
	fx->opts.jwt_secret = "0123456789abcdef0123456789abcdef";
	CHECK_EQ_INT(fx_open(fx), 0);

	/* a secret file that is too short is refused, not extended */
	fx->a = auth_close(fx->a);
	fx->opts.jwt_secret = NULL;
	snprintf(path, sizeof(path), "%s/jwt.secret", fx->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	CHECK(fd >= 0);
	CHECK_EQ_INT(write(fd, "tooshort\n", 9), 9);
	close(fd);
	CHECK_EQ_INT(fx_open(fx), -EINVAL);
}

TEST_MAIN()
