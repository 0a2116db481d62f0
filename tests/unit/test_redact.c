// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Tests for util/redact.c: whole secrets, runs of them quoted back by a
 * server, several secrets at once, and output that still fits. */
#include <string.h>

#include "test.h"
#include "util/redact.h"

static const char key[] = "gsk_4f9Qx81LmZpT0vWy2hRc";

TEST(a_whole_secret_is_replaced_wherever_it_appears)
{
	const char *secrets[] = {key};
	char out[256];
	bool changed;

	redact_secrets(out, sizeof(out), "Incorrect API key provided: gsk_4f9Qx81LmZpT0vWy2hRc.",
		       secrets, 1, &changed);
	CHECK_STR(out, "Incorrect API key provided: " REDACT_MARK ".");
	CHECK(changed);
	redact_secrets(out, sizeof(out), "a gsk_4f9Qx81LmZpT0vWy2hRc b gsk_4f9Qx81LmZpT0vWy2hRc",
		       secrets, 1, NULL);
	CHECK_STR(out, "a " REDACT_MARK " b " REDACT_MARK);
}

TEST(a_part_of_eight_bytes_or_more_is_replaced_a_shorter_one_kept)
{
	const char *secrets[] = {key};
	char out[256];

	/* the way services mask a key: its head and tail */
	redact_secrets(out, sizeof(out), "key gsk_4f9Qx8********WyRc2hRc", secrets, 1, NULL);
	CHECK_STR(out, "key " REDACT_MARK "********WyRc2hRc");
	/* seven shared bytes are not enough to say it is the key */
	redact_secrets(out, sizeof(out), "gsk_4f9 and Rc", secrets, 1, NULL);
	CHECK_STR(out, "gsk_4f9 and Rc");
}

TEST(text_without_secrets_is_copied_unchanged)
{
	const char *secrets[] = {key, NULL, "", "ab"};
	char out[64];
	bool changed = true;

	CHECK_EQ_INT(redact_secrets(out, sizeof(out), "plain text, about ab", secrets, 4, &changed),
		     20);
	CHECK_STR(out, "plain text, about ab");
	CHECK(!changed);
	CHECK(!redact_found("plain text", secrets, 4));
	CHECK(redact_found("x gsk_4f9Qx81L y", secrets, 4));
}

TEST(several_secrets_and_short_ones_are_all_found)
{
	const char *secrets[] = {"https://hooks.slack.com/services/T0/B0/abcdefgh", "r0ut1ng", key};
	char out[256];

	redact_secrets(out, sizeof(out),
		       "posting to https://hooks.slack.com/services/T0/B0/abcdefgh with r0ut1ng",
		       secrets, 3, NULL);
	CHECK(strstr(out, "abcdefgh") == NULL);
	CHECK(strstr(out, "r0ut1ng") == NULL);
	CHECK(strstr(out, "posting to ") == out);
}

TEST(output_is_cut_at_a_boundary_and_never_splits_the_mark)
{
	const char *secrets[] = {key};
	char out[12];

	redact_secrets(out, sizeof(out), "\xc3\xa9t\xc3\xa9 caf\xc3\xa9 long text", secrets, 1,
		       NULL);
	CHECK_STR(out, "\xc3\xa9t\xc3\xa9 caf\xc3\xa9");
	redact_secrets(out, sizeof(out), "ab gsk_4f9Qx81LmZpT0vWy2hRc", secrets, 1, NULL);
	CHECK_STR(out, "ab ");
}

TEST_MAIN()
