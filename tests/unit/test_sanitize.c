/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of src/common/sanitize.c: what may reach a terminal or a log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/sanitize.h"

/* Sanitises the first len bytes of src into a 256-byte buffer and compares. */
static void check_len(const char *src, size_t len, const char *expect)
{
	char dst[256];
	size_t n;

	memset(dst, 'Z', sizeof dst);
	n = np_sanitize(dst, sizeof dst, src, len);
	assert_string_equal(dst, expect);
	assert_int_equal(n, strlen(expect));
}

#define CHECK(src, expect) check_len((src), sizeof(src) - 1, (expect))

static void test_plain_ascii_kept(void **state)
{
	(void)state;
	CHECK("Don Masakayan", "Don Masakayan");
	CHECK("https://x.io/auth/device?code=A1B2C3", "https://x.io/auth/device?code=A1B2C3");
	CHECK(" !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~", " !\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~");
	CHECK("", "");
}

static void test_c0_and_del_removed(void **state)
{
	(void)state;
	CHECK("a\x1b[31mred\x1b[0m", "a[31mred[0m");
	CHECK("\x1b]0;title\x07rest", "]0;titlerest");
	CHECK("bell\x07", "bell");
	CHECK("line1\r\nline2\n", "line1line2");
	CHECK("tab\there", "tabhere");
	CHECK("back\bspace", "backspace");
	CHECK("del\x7f!", "del!");
	CHECK("\x01\x02\x03\x1f", "");
}

static void test_c1_removed(void **state)
{
	(void)state;
	/* U+0080, U+0085 (NEL), U+009B (CSI), U+009F encoded as UTF-8. */
	CHECK("a\xc2\x80" "b", "ab");
	CHECK("a\xc2\x85" "b", "ab");
	CHECK("\xc2\x9b" "31mred", "31mred");
	CHECK("a\xc2\x9f" "b", "ab");
	/* U+00A0 (no-break space) is the first character after C1: kept. */
	CHECK("a\xc2\xa0" "b", "a\xc2\xa0" "b");
	/* A raw C1 byte is not UTF-8 at all. */
	CHECK("a\x9b" "b", "a?b");
}

static void test_bidi_removed(void **state)
{
	(void)state;
	CHECK("abc\xe2\x80\xae" "fdp.exe", "abcfdp.exe");      /* U+202E RLO */
	CHECK("\xe2\x80\xaa" "x\xe2\x80\xac", "x");             /* U+202A, U+202C */
	CHECK("\xe2\x81\xa6" "a\xe2\x81\xa7" "b\xe2\x81\xa8" "c\xe2\x81\xa9", "abc"); /* U+2066..9 */
	CHECK("\xe2\x80\x8e" "a\xe2\x80\x8f", "a");             /* LRM, RLM */
	CHECK("\xd8\x9c" "a", "a");                             /* U+061C ALM */
	/* Neighbours of the ranges stay. */
	CHECK("\xe2\x80\xaf", "\xe2\x80\xaf");                  /* U+202F */
	CHECK("\xe2\x81\xa5", "\xe2\x81\xa5");                  /* U+2065 */
}

/* code point cp as UTF-8 in out (5 bytes); returns its length. */
static size_t utf8(uint32_t cp, char *out)
{
	size_t n;

	if (cp < 0x80) {
		out[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		out[0] = (char)(0xC0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		out[0] = (char)(0xE0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		out[0] = (char)(0xF0 | (cp >> 18));
		out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		out[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	out[n] = '\0';
	return n;
}

/* Whether "a" cp "b" comes out as "ab" (cp removed) or unchanged (kept). */
static bool removed(uint32_t cp)
{
	char src[16] = "a", dst[16];
	size_t n = 1 + utf8(cp, src + 1);

	src[n++] = 'b';
	np_sanitize(dst, sizeof dst, src, n);
	if (strcmp(dst, "ab") == 0)
		return true;
	assert_memory_equal(dst, src, n);
	return false;
}

/*
 * The invisible characters of the security review: every format character
 * (Unicode category Cf), the line and paragraph separators, the variation
 * selectors and the whole tag block.  Both edges of each range go, and the
 * code points just outside stay.
 */
static void test_invisible_ranges_removed(void **state)
{
	static const struct {
		uint32_t first, last;
	} ranges[] = {
		{ 0x00AD, 0x00AD },   { 0x0600, 0x0605 },   { 0x061C, 0x061C },   { 0x06DD, 0x06DD },
		{ 0x070F, 0x070F },   { 0x0890, 0x0891 },   { 0x08E2, 0x08E2 },   { 0x180E, 0x180E },
		{ 0x200B, 0x200F },   { 0x2028, 0x2029 },   { 0x202A, 0x202E },   { 0x2060, 0x2064 },
		{ 0x2066, 0x206F },   { 0xFE00, 0xFE0F },   { 0xFEFF, 0xFEFF },   { 0xFFF9, 0xFFFB },
		{ 0x110BD, 0x110BD }, { 0x110CD, 0x110CD }, { 0x13430, 0x1343F }, { 0x1BCA0, 0x1BCA3 },
		{ 0x1D173, 0x1D17A }, { 0xE0000, 0xE007F }, { 0xE0100, 0xE01EF },
	};
	/* Neighbours that are themselves in the neighbouring range. */
	static const uint32_t also_removed[] = { 0x2029, 0x202A };

	(void)state;
	for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++) {
		uint32_t before = ranges[i].first - 1, after = ranges[i].last + 1;
		bool before_removed = false, after_removed = false;

		for (size_t j = 0; j < sizeof also_removed / sizeof also_removed[0]; j++) {
			before_removed |= before == also_removed[j];
			after_removed |= after == also_removed[j];
		}
		for (uint32_t cp = ranges[i].first; cp <= ranges[i].last; cp++)
			if (!removed(cp)) {
				fprintf(stderr, "U+%04X was kept\n", (unsigned)cp);
				fail();
			}
		assert_int_equal(removed(before), before_removed);
		assert_int_equal(removed(after), after_removed);
	}
	/* Spot checks by name: ZWSP, ZWJ, BOM, tag 'A', VS16, LS, soft hyphen. */
	CHECK("ad\xe2\x80\x8bmin", "admin");
	CHECK("ro\xe2\x80\x8dot", "root");
	CHECK("\xef\xbb\xbfx", "x");
	CHECK("x\xf3\xa0\x81\x81", "x");
	CHECK("\xe2\x9c\x94\xef\xb8\x8f", "\xe2\x9c\x94");
	CHECK("line\xe2\x80\xa8two", "linetwo");
	CHECK("pay\xc2\xadpal", "paypal");
	/* Visible neighbours: U+2027, U+202F, U+FE10, U+FFFC, U+E01F0. */
	assert_false(removed(0x2027));
	assert_false(removed(0x202F));
	assert_false(removed(0xFE10));
	assert_false(removed(0xFFFC));
	assert_false(removed(0xE01F0));
}

static void test_valid_utf8_kept(void **state)
{
	(void)state;
	CHECK("caf\xc3\xa9", "caf\xc3\xa9");                                 /* é */
	CHECK("\xe6\x97\xa5\xe6\x9c\xac", "\xe6\x97\xa5\xe6\x9c\xac");       /* 日本 */
	CHECK("\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!");                     /* U+1F600 */
	CHECK("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");                       /* U+10FFFF */
	CHECK("\xef\xbf\xbd", "\xef\xbf\xbd");                               /* U+FFFD */
}

static void test_invalid_utf8_replaced(void **state)
{
	(void)state;
	CHECK("a\x80" "b", "a?b");                    /* lone continuation byte */
	CHECK("\xc0\xaf", "??");                      /* overlong '/' */
	CHECK("\xe0\x80\xaf", "???");                 /* overlong '/', 3 bytes */
	CHECK("\xc1\xbf", "??");
	CHECK("\xed\xa0\x80", "???");                 /* surrogate U+D800 */
	CHECK("\xed\xbf\xbf", "???");                 /* surrogate U+DFFF */
	CHECK("\xf4\x90\x80\x80", "????");            /* U+110000 */
	CHECK("\xf5\x80\x80\x80", "????");
	CHECK("\xff\xfe", "??");
	CHECK("x\xe6\x97", "x??");                    /* truncated at the end */
	CHECK("\xe6\x97" "x", "??x");                 /* truncated in the middle */
	CHECK("\xc3", "?");
	CHECK("\xf0\x9f\x98", "???");
	/* An overlong ESC must not survive as anything but '?'. */
	CHECK("\xc0\x9b[31m", "??[31m");
}

static void test_embedded_nul_removed(void **state)
{
	(void)state;
	CHECK("ab\0cd", "abcd");
	CHECK("\0\0\0", "");
	/* An overlong NUL is malformed, not a NUL. */
	CHECK("a\xc0\x80" "b", "a??b");
}

static void test_truncation(void **state)
{
	char dst[16];

	(void)state;
	memset(dst, 'Z', sizeof dst);
	assert_int_equal(np_sanitize(dst, 4, "abcdef", 6), 3);
	assert_string_equal(dst, "abc");
	assert_int_equal(dst[4], 'Z');

	/* é is 2 bytes: with room for 1 it is left out whole. */
	memset(dst, 'Z', sizeof dst);
	assert_int_equal(np_sanitize(dst, 3, "a\xc3\xa9", 3), 1);
	assert_string_equal(dst, "a");
	assert_int_equal(np_sanitize(dst, 4, "a\xc3\xa9", 3), 3);
	assert_string_equal(dst, "a\xc3\xa9");

	/* 日 is 3 bytes, the emoji 4: never split. */
	for (size_t size = 1; size <= 8; size++) {
		static const char src[] = "\xe6\x97\xa5\xf0\x9f\x98\x80";
		size_t n;

		memset(dst, 'Z', sizeof dst);
		n = np_sanitize(dst, size, src, sizeof src - 1);
		assert_true(n < size);
		assert_int_equal(dst[n], '\0');
		assert_int_equal(n, size <= 3 ? 0 : size <= 7 ? 3 : 7);
		assert_memory_equal(dst, src, n);
	}

	/* Removed characters take no room. */
	memset(dst, 'Z', sizeof dst);
	assert_int_equal(np_sanitize(dst, 4, "\x1b\x1b\x1b\x1b" "abcd", 8), 3);
	assert_string_equal(dst, "abc");
	/* '?' replacements do. */
	assert_int_equal(np_sanitize(dst, 3, "\x80\x80\x80", 3), 2);
	assert_string_equal(dst, "??");
}

static void test_tiny_buffers(void **state)
{
	char dst[4] = { 'Z', 'Z', 'Z', 'Z' };

	(void)state;
	assert_int_equal(np_sanitize(dst, 1, "abc", 3), 0);
	assert_int_equal(dst[0], '\0');
	assert_int_equal(dst[1], 'Z');
	dst[0] = 'Z';
	assert_int_equal(np_sanitize(dst, 1, "\xc3\xa9", 2), 0);
	assert_int_equal(dst[0], '\0');
	dst[0] = 'Z';
	assert_int_equal(np_sanitize(dst, 1, "\x80", 1), 0);
	assert_int_equal(dst[0], '\0');
	/* Size 0: nothing written at all. */
	dst[0] = 'Z';
	assert_int_equal(np_sanitize(dst, 0, "abc", 3), 0);
	assert_int_equal(dst[0], 'Z');
}

static void test_sanitize_str(void **state)
{
	char dst[32];

	(void)state;
	memset(dst, 'Z', sizeof dst);
	assert_int_equal(np_sanitize_str(dst, sizeof dst, NULL), 0);
	assert_string_equal(dst, "");
	assert_int_equal(np_sanitize_str(dst, sizeof dst, "Don\x1b[2J M\xc3\xa9"), 10);
	assert_string_equal(dst, "Don[2J M\xc3\xa9");
	assert_int_equal(np_sanitize_str(dst, 5, "abcdefgh"), 4);
	assert_string_equal(dst, "abcd");
	/* A NULL src with a length is also "". */
	assert_int_equal(np_sanitize(dst, sizeof dst, NULL, 5), 0);
	assert_string_equal(dst, "");
}

/* np_log_quote into a buffer of size, checked against expect. */
static void check_quote(size_t size, const char *src, const char *expect)
{
	char dst[128];

	memset(dst, 'Z', sizeof dst);
	assert_int_equal(np_log_quote(dst, size, src), strlen(expect));
	assert_string_equal(dst, expect);
	assert_true(strlen(dst) < size || size == 0);
}

static void test_log_quote(void **state)
{
	(void)state;
	check_quote(64, "don", "\"don\"");
	check_quote(64, "", "\"\"");
	check_quote(64, NULL, "\"\"");
	/* What forged a field once: a space and "rhost=" stay inside the quotes. */
	check_quote(64, "x rhost=192.0.2.66", "\"x rhost=192.0.2.66\"");
	check_quote(64, "a\"b\\c", "\"a\\\"b\\\\c\"");
	check_quote(64, "x\" rhost=\"1.2.3.4", "\"x\\\" rhost=\\\"1.2.3.4\"");
	check_quote(64, "l1\nl2\r\t\x1b\x7f", "\"l1\\x0Al2\\x0D\\x09\\x1B\\x7F\"");
	check_quote(64, "caf\xc3\xa9", "\"caf\\xC3\\xA9\"");
	/* Cut: always closed, marked, and never in the middle of an escape. */
	check_quote(10, "abcdef", "\"abcdef\"");
	check_quote(10, "abcdefg", "\"abcdefg\"");
	check_quote(10, "abcdefgh", "\"abcd...\"");
	check_quote(12, "\n\n\n", "\"\\x0A...\"");
	check_quote(13, "\n\n", "\"\\x0A\\x0A\"");
	check_quote(9, "abc", "");
	check_quote(1, "abc", "");
	/* Every length from 10 to 40: closed, terminated, within the buffer. */
	for (size_t size = 10; size <= 40; size++) {
		char dst[64];
		size_t n = np_log_quote(dst, size, "q\"\\\n\xff and more text to cut somewhere");

		assert_true(n < size);
		assert_int_equal(dst[n], '\0');
		assert_int_equal(dst[0], '"');
		assert_int_equal(dst[n - 1], '"');
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_ascii_kept),
		cmocka_unit_test(test_c0_and_del_removed),
		cmocka_unit_test(test_c1_removed),
		cmocka_unit_test(test_bidi_removed),
		cmocka_unit_test(test_valid_utf8_kept),
		cmocka_unit_test(test_invalid_utf8_replaced),
		cmocka_unit_test(test_embedded_nul_removed),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_tiny_buffers),
		cmocka_unit_test(test_sanitize_str),
		cmocka_unit_test(test_invisible_ranges_removed),
		cmocka_unit_test(test_log_quote),
	};

	return cmocka_run_group_tests_name("sanitize", tests, NULL, NULL);
}
