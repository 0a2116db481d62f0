/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * test.h - the unit-test harness: each test is a function registered with
 * TEST(name); main() from TEST_MAIN() runs them all and prints one line per
 * test and a closing "N passed, N failed" line. A failed CHECK ends its
 * test, not the run.
 */
#ifndef KPULSE_TEST_H
#define KPULSE_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct test_case {
	const char *name;
	void (*fn)(int *failed);
};

#define TEST_MAX 256
extern struct test_case test_cases[TEST_MAX];
extern int test_count;

#define TEST(name)                                                                                 \
	static void test_##name(int *failed);                                                      \
	__attribute__((constructor)) static void register_##name(void)                             \
	{                                                                                          \
		if (test_count < TEST_MAX)                                                         \
			test_cases[test_count++] = (struct test_case){#name, test_##name};         \
	}                                                                                          \
	static void test_##name(int *failed)

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
			*failed = 1;                                                               \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                                         \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		if (_a != _b) {                                                                    \
			fprintf(stderr, "  %s:%d: %s == %lld, expected %s == %lld\n", __FILE__,    \
				__LINE__, #a, _a, #b, _b);                                         \
			*failed = 1;                                                               \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
	do {                                                                                       \
		double _a = (double)(a), _b = (double)(b);                                         \
		if (!(fabs(_a - _b) <= (tol))) {                                                   \
			fprintf(stderr, "  %s:%d: %s == %.9g, expected %.9g +- %g\n", __FILE__,    \
				__LINE__, #a, _a, _b, (double)(tol));                              \
			*failed = 1;                                                               \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#define CHECK_STR(a, b)                                                                            \
	do {                                                                                       \
		const char *_a = (a), *_b = (b);                                                   \
		if (!_a || !_b || strcmp(_a, _b) != 0) {                                           \
			fprintf(stderr, "  %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__,      \
				__LINE__, #a, _a ? _a : "(null)", _b ? _b : "(null)");             \
			*failed = 1;                                                               \
			return;                                                                    \
		}                                                                                  \
	} while (0)

#ifdef TEST_FIXTURES
/* The text of tests/unit/fixtures/<name> (captured kernel files), or NULL.
 * The caller frees it. */
static inline char *test_fixture(const char *name)
{
	char path[512], *buf = NULL;
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", TEST_FIXTURES, name);
	f = fopen(path, "re");
	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
		buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf)
		buf[n] = 0;
	return buf;
}
#endif

#define TEST_MAIN()                                                                                \
	struct test_case test_cases[TEST_MAX];                                                     \
	int test_count;                                                                            \
	int main(void)                                                                             \
	{                                                                                          \
		int passed = 0, failed_total = 0;                                                  \
		for (int i = 0; i < test_count; i++) {                                             \
			int failed = 0;                                                            \
			test_cases[i].fn(&failed);                                                 \
			printf("%s %s\n", failed ? "FAIL" : "ok  ", test_cases[i].name);           \
			if (failed)                                                                \
				failed_total++;                                                    \
			else                                                                       \
				passed++;                                                          \
		}                                                                                  \
		printf("%s: %d passed, %d failed\n", __FILE__, passed, failed_total);              \
		return failed_total ? 1 : 0;                                                       \
	}

#endif /* KPULSE_TEST_H */
