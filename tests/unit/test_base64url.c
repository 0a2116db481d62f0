// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * test_base64url.c - unit tests for util/base64url: the RFC 4648 vectors in
 * the url alphabet without padding, round trips of every short length, the
 * strict decoder's refusals (padding, other alphabets, whitespace, stray
 * low bits, impossible lengths) and the buffer size checks both ways.
 */
#include <errno.h>
#include <string.h>

#include "test.h"
#include "util/base64url.h"

static const struct {
	const char *bytes, *text;
} rfc4648[] = {
    {"", ""},		{"f", "Zg"},	      {"fo", "Zm8"},	      {"foo", "Zm9v"},
    {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"},
};

TEST(rfc4648_vectors_encode_without_padding)
{
	char out[16];

	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		size_t n = strlen(rfc4648[i].bytes);

		memset(out, 'x', sizeof(out));
		CHECK_EQ_INT(base64url_encode(rfc4648[i].bytes, n, out, sizeof(out)), 0);
		CHECK_STR(out, rfc4648[i].text);
		CHECK_EQ_INT(BASE64URL_LEN(n), strlen(rfc4648[i].text));
	}
}

TEST(rfc4648_vectors_decode)
{
	char out[16];
	size_t n;

	for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
		n = 999;
		CHECK_EQ_INT(base64url_decode(rfc4648[i].text, strlen(rfc4648[i].text), out,
					      sizeof(out), &n),
			     0);
		CHECK_EQ_INT(n, strlen(rfc4648[i].bytes));
		CHECK(memcmp(out, rfc4648[i].bytes, n) == 0);
	}
}

TEST(url_alphabet_replaces_plus_and_slash)
{
	const unsigned char bytes[] = {0xfb, 0xff, 0xbf};
	unsigned char back[3];
	char out[8];
	size_t n = 0;

	/* standard base64 of these bytes is "+/+/" */
	CHECK_EQ_INT(base64url_encode(bytes, sizeof(bytes), out, sizeof(out)), 0);
	CHECK_STR(out, "-_-_");
	CHECK_EQ_INT(base64url_decode("-_-_", 4, back, sizeof(back), &n), 0);
	CHECK_EQ_INT(n, 3);
	CHECK(memcmp(back, bytes, 3) == 0);
	CHECK_EQ_INT(base64url_decode("+/+/", 4, back, sizeof(back), &n), -EINVAL);
}

TEST(every_length_round_trips)
{
	unsigned char in[70], back[70];
	char text[BASE64URL_LEN(70) + 1];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof(in); n++) {
		size_t got = 999;

		CHECK_EQ_INT(base64url_encode(in, n, text, sizeof(text)), 0);
		CHECK_EQ_INT(strlen(text), BASE64URL_LEN(n));
		CHECK_EQ_INT(base64url_decode(text, strlen(text), back, sizeof(back), &got), 0);
		CHECK_EQ_INT(got, n);
		CHECK(memcmp(back, in, n) == 0);
	}
}

TEST(decoding_is_strict)
{
	unsigned char out[16];
	size_t n = 12345;

	CHECK_EQ_INT(base64url_decode("Zg==", 4, out, sizeof(out), &n), -EINVAL); /* padding */
	CHECK_EQ_INT(base64url_decode("Zm8=", 4, out, sizeof(out), &n), -EINVAL);
	CHECK_EQ_INT(base64url_decode("Zm 9v", 5, out, sizeof(out), &n), -EINVAL); /* space */
	CHECK_EQ_INT(base64url_decode("Zm9v\n", 5, out, sizeof(out), &n), -EINVAL);
	CHECK_EQ_INT(base64url_decode("Zm9vY", 5, out, sizeof(out), &n), -EINVAL); /* 4k+1 */
	CHECK_EQ_INT(base64url_decode("Z", 1, out, sizeof(out), &n), -EINVAL);
	CHECK_EQ_INT(base64url_decode("Zm\0v", 4, out, sizeof(out), &n), -EINVAL); /* NUL */
	/* "Zh" and "Zm9" with low bits set would decode to the same bytes as
	 * "Zg" and "Zm8": a second text for one value is refused */
	CHECK_EQ_INT(base64url_decode("Zh", 2, out, sizeof(out), &n), -EINVAL);
	CHECK_EQ_INT(base64url_decode("Zm9", 3, out, sizeof(out), &n), -EINVAL);
	CHECK_EQ_INT(n, 12345); /* untouched on failure */
	CHECK_EQ_INT(base64url_decode("", 0, out, sizeof(out), &n), 0);
	CHECK_EQ_INT(n, 0);
}

TEST(small_buffers_are_refused_both_ways)
{
	char text[8];
	unsigned char out[3];
	size_t n = 77;

	memcpy(text, "unchanged", 8);
	/* "foo" needs 4 characters and the NUL */
	CHECK_EQ_INT(base64url_encode("foo", 3, text, 4), -ENOBUFS);
	CHECK(memcmp(text, "unchanged", 8) == 0);
	CHECK_EQ_INT(base64url_encode("foo", 3, text, 5), 0);
	CHECK_STR(text, "Zm9v");
	CHECK_EQ_INT(base64url_decode("Zm9vYg", 6, out, sizeof(out), &n), -ENOBUFS);
	CHECK_EQ_INT(n, 77);
	CHECK_EQ_INT(base64url_decode("Zm9v", 4, out, sizeof(out), &n), 0);
	CHECK_EQ_INT(n, 3);
}

TEST_MAIN()
