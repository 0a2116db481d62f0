// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for util/utf8.c and util/error.c: what counts as valid UTF-8, where
 * strings are cut, and how invalid bytes are escaped. */
#include <errno.h>
#include <string.h>

#include "test.h"
#include "util/error.h"
#include "util/utf8.h"

TEST(valid_characters_of_every_length_are_accepted)
{
	CHECK(utf8_valid("a", 1));
	CHECK(utf8_valid("\xc3\xa9", 2));	  /* é */
	CHECK(utf8_valid("\xe2\x82\xac", 3));	  /* € */
	CHECK(utf8_valid("\xf0\x9f\x98\x80", 4)); /* U+1F600 */
	CHECK(utf8_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
	CHECK(utf8_valid("", 0));
}

TEST(overlong_surrogate_and_out_of_range_forms_are_refused)
{
	CHECK(!utf8_valid("\xc0\x80", 2));	   /* overlong NUL */
	CHECK(!utf8_valid("\xc1\xbf", 2));	   /* overlong */
	CHECK(!utf8_valid("\xe0\x80\xaf", 3));	   /* overlong '/' */
	CHECK(!utf8_valid("\xed\xa0\x80", 3));	   /* surrogate U+D800 */
	CHECK(!utf8_valid("\xf0\x80\x80\xaf", 4)); /* overlong */
	CHECK(!utf8_valid("\xf4\x90\x80\x80", 4)); /* U+110000 */
	CHECK(!utf8_valid("\xf5\x80\x80\x80", 4));
	CHECK(!utf8_valid("\x80", 1)); /* lone continuation */
	CHECK(!utf8_valid("\xc3", 1)); /* truncated */
	CHECK(!utf8_valid("\xe2\x82", 2));
	CHECK(!utf8_valid("\xe2\x28\xa1", 3)); /* bad continuation */
}

TEST(cut_never_splits_a_character)
{
	const char *s = "ab\xe2\x82\xac"
			"cd"; /* a b € c d: 7 bytes */

	CHECK_EQ_INT(utf8_cut(s, 7, 7), 7);
	CHECK_EQ_INT(utf8_cut(s, 7, 5), 5);
	CHECK_EQ_INT(utf8_cut(s, 7, 4), 2);
	CHECK_EQ_INT(utf8_cut(s, 7, 3), 2);
	CHECK_EQ_INT(utf8_cut(s, 7, 2), 2);
	/* a buffer that a bounded copy already cut inside the euro sign */
	CHECK_EQ_INT(utf8_cut(s, 4, 4), 2);
	CHECK_EQ_INT(utf8_cut(s, 7, 0), 0);
}

TEST(sanitize_keeps_valid_text_unchanged)
{
	char out[64];
	bool changed = true;

	CHECK_EQ_INT(utf8_sanitize(out, sizeof(out), "nginx \xc3\xa9t\xc3\xa9", 11, &changed), 11);
	CHECK_STR(out, "nginx \xc3\xa9t\xc3\xa9");
	CHECK(!changed);
}

TEST(sanitize_escapes_invalid_bytes_and_control_characters)
{
	char out[64];
	bool changed = false;

	/* a task renamed with prctl(PR_SET_NAME) to an overlong NUL */
	utf8_sanitize(out, sizeof(out), "ev\xc0\x80il", 6, &changed);
	CHECK_STR(out, "ev\\xc0\\x80il");
	CHECK(changed);
	utf8_sanitize(out, sizeof(out), "a\nb\x7f\t", 5, NULL);
	CHECK_STR(out, "a\\x0ab\\x7f\\x09");
	CHECK(utf8_valid(out, strlen(out)));
}

TEST(sanitize_stops_at_nul_and_cuts_at_boundaries)
{
	char out[6];
	bool changed = false;

	CHECK_EQ_INT(utf8_sanitize(out, sizeof(out), "ab\0cd", 5, &changed), 2);
	CHECK_STR(out, "ab");
	CHECK(!changed);
	/* "ab€" needs 6 bytes with the NUL: the euro sign does not fit in 6 */
	CHECK_EQ_INT(utf8_sanitize(out, sizeof(out), "abc\xe2\x82\xac", 6, &changed), 3);
	CHECK_STR(out, "abc");
	CHECK(changed);
	/* an escape is never cut in half */
	CHECK_EQ_INT(utf8_sanitize(out, sizeof(out), "ab\xff", 3, &changed), 2);
	CHECK_STR(out, "ab");
}

TEST(sanitize_text_keeps_newlines_and_tabs_and_escapes_the_rest)
{
	char out[64];
	bool changed;

	CHECK_EQ_INT(utf8_sanitize_text(out, sizeof(out), "a\n\tb", 4, &changed), 4);
	CHECK_STR(out, "a\n\tb");
	CHECK(!changed);
	utf8_sanitize_text(out, sizeof(out), "x\r\ny\rz\x1b[2J\xff", 12, &changed);
	CHECK_STR(out, "x\ny\\x0dz\\x1b[2J\\xff");
	CHECK(changed);
	/* the one-line form still escapes both */
	utf8_sanitize(out, sizeof(out), "a\nb", 3, NULL);
	CHECK_STR(out, "a\\x0ab");
}

TEST(error_set_returns_the_code_and_cuts_at_a_boundary)
{
	char err[7];

	errno = EAGAIN;
	CHECK_EQ_INT(error_set(err, sizeof(err), -EINVAL, "x%s", "abcd\xc3\xa9"), -EINVAL);
	CHECK_STR(err, "xabcd");
	CHECK_EQ_INT(errno, EAGAIN);
	CHECK_EQ_INT(error_set(NULL, 0, -ENOENT, "nothing"), -ENOENT);
	CHECK_EQ_INT(error_set(err, sizeof(err), -EIO, "short"), -EIO);
	CHECK_STR(err, "short");
}

TEST_MAIN()
