/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * auth_fixture.h - what the auth unit tests (test_auth*.c) share: a
 * temporary data dir per test, removed afterwards also when a CHECK
 * fails, options with a fake clock, a fast PBKDF2 and a fixed JWT secret,
 * and short forms of login and check. Included by test files only.
 */
#ifndef KPULSE_TEST_AUTH_FIXTURE_H
#define KPULSE_TEST_AUTH_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth.h"
#include "test.h"

#define TEST_SECRET "unit-test-secret-0123456789abcdef0123"
#define T0	    1700000000.0

struct fx {
	char dir[64];
	double now;
	struct auth_options opts;
	struct auth *a;
	char err[256];
};

static inline double fake_clock(void *ctx)
{
	return *(double *)ctx;
}

static inline void rm_rf(const char *dir)
{
	char path[512];
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

/* A data dir and options (fake clock, fast PBKDF2, fixed secret); the
 * auth itself is opened by fx_open so tests can change the options. */
static inline int fx_init(struct fx *fx)
{
	memset(fx, 0, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/kpulse-test-auth-XXXXXX");
	if (!mkdtemp(fx->dir))
		return -errno;
	fx->now = T0;
	auth_options_default(&fx->opts);
	fx->opts.clock = fake_clock;
	fx->opts.clock_ctx = &fx->now;
	fx->opts.pbkdf2_iterations = 1000;
	fx->opts.jwt_secret = TEST_SECRET;
	return 0;
}

static inline int fx_open(struct fx *fx)
{
	fx->a = auth_close(fx->a);
	return auth_open(fx->dir, &fx->opts, &fx->a, fx->err, sizeof(fx->err));
}

static inline void fx_fini(struct fx *fx)
{
	fx->a = auth_close(fx->a);
	rm_rf(fx->dir);
}

/* A test body runs between fx_init and fx_fini, so the data dir goes away
 * even when a CHECK fails. open_auth says whether fx->a is opened first. */
#define FX_TEST(name, open_auth)                                                                   \
	static void body_##name(int *failed, struct fx *fx);                                       \
	TEST(name)                                                                                 \
	{                                                                                          \
		struct fx fx;                                                                      \
		if (fx_init(&fx) || ((open_auth) && fx_open(&fx))) {                               \
			fprintf(stderr, "  setup failed: %s\n", fx.err);                           \
			*failed = 1;                                                               \
			fx_fini(&fx);                                                              \
			return;                                                                    \
		}                                                                                  \
		body_##name(failed, &fx);                                                          \
		fx_fini(&fx);                                                                      \
	}                                                                                          \
	static void body_##name(int *failed, struct fx *fx)

static inline int check(struct fx *fx, const char *tok, struct auth_identity *id)
{
	struct auth_identity scratch;

	return auth_check(fx->a, tok, id ? id : &scratch);
}

static inline int login(struct fx *fx, const char *user, const char *pw, char *tok, size_t len)
{
	double exp = 0, retry = 0;

	return auth_login(fx->a, user, pw, tok, len, &exp, &retry);
}

/* The permission bits of dir/name, or -1 when it does not exist. */
static inline int file_mode(const char *dir, const char *name)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return stat(path, &st) == 0 ? (int)(st.st_mode & 07777) : -1;
}

#endif /* KPULSE_TEST_AUTH_FIXTURE_H */
