/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of src/common/validate.c: the shape checks on values from the network. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/validate.h"
#include "common/text.h"

#define S(x) (x), (sizeof(x) - 1)

/* A buffer of n copies of c after prefix, NUL-terminated. */
static char *filled(char *buf, size_t size, const char *prefix, char c, size_t n)
{
	size_t p = strlen(prefix);

	assert_true(p + n < size);
	memcpy(buf, prefix, p);
	memset(buf + p, c, n);
	buf[p + n] = '\0';
	return buf;
}

static void test_code(void **state)
{
	char buf[64];

	(void)state;
	assert_true(np_valid_code(S("A1B2C3")));
	assert_true(np_valid_code(S("abcd")));
	assert_true(np_valid_code(S("0000")));
	assert_true(np_valid_code(filled(buf, sizeof buf, "", 'Z', 16), 16));
	assert_false(np_valid_code(filled(buf, sizeof buf, "", 'Z', 17), 17));
	assert_false(np_valid_code(S("abc")));
	assert_false(np_valid_code(S("")));
	assert_false(np_valid_code(NULL, 6));
	assert_false(np_valid_code(S("../x")));
	assert_false(np_valid_code(S("../../etc")));
	assert_false(np_valid_code(S("A1B2C%")));
	assert_false(np_valid_code(S("A1B2C/")));
	assert_false(np_valid_code(S("A1B2 C")));
	assert_false(np_valid_code(S("A1B-C3")));
	assert_false(np_valid_code(S("A1B_C3")));
	assert_false(np_valid_code(S("A1B2C3\n")));
	assert_false(np_valid_code(S("A1B2C?")));
	assert_false(np_valid_code(S("A1B2C#")));
	assert_false(np_valid_code(S("\xc3\x81" "1B2C3")));
	/* The length given is what counts, not a NUL. */
	assert_false(np_valid_code("A1B2\0C3", 7));
	assert_true(np_valid_code("A1B2C3XX", 6));
}

static void test_https_url(void **state)
{
	char buf[512];

	(void)state;
	assert_true(np_valid_https_url(S("https://nextpay-v3-dev.nextfinancial.io/auth/device?code=A1B2C3")));
	assert_true(np_valid_https_url(S("https://x")));
	assert_true(np_valid_https_url(S("https://127.0.0.1:8443/a#b")));
	assert_false(np_valid_https_url(S("http://x.io/")));
	assert_false(np_valid_https_url(S("HTTPS://x.io/")));
	assert_false(np_valid_https_url(S("javascript:alert(1)")));
	assert_false(np_valid_https_url(S("https://")));
	assert_false(np_valid_https_url(S("https:/")));
	assert_false(np_valid_https_url(S("")));
	assert_false(np_valid_https_url(NULL, 10));
	assert_false(np_valid_https_url(S("https:///path")));
	assert_false(np_valid_https_url(S("https://?x=1")));
	assert_false(np_valid_https_url(S("https://#x")));
	assert_false(np_valid_https_url(S("https://x.io/a b")));
	assert_false(np_valid_https_url(S(" https://x.io/")));
	assert_false(np_valid_https_url(S("https://x.io/\t")));
	assert_false(np_valid_https_url(S("https://x.io/\n")));
	assert_false(np_valid_https_url(S("https://x.io/\x1b[2J")));
	assert_false(np_valid_https_url(S("https://x.io/\x7f")));
	assert_false(np_valid_https_url(S("https://x.io/\xc3\xa9")));
	assert_false(np_valid_https_url("https://x.io/\0evil", 18));
	/* 256 bytes is the limit. */
	assert_true(np_valid_https_url(filled(buf, sizeof buf, "https://x.io/", 'a', 256 - 13), 256));
	assert_false(np_valid_https_url(filled(buf, sizeof buf, "https://x.io/", 'a', 257 - 13), 257));
}

/* The security review's URLs: each names, or could be read as, another host than it seems. */
static void test_https_url_authority(void **state)
{
	(void)state;
	/* Userinfo, plain or hidden behind escapes: the host is evil.example. */
	assert_false(np_valid_https_url(S("https://api.nextpay.world%2Fauth%2Fdevice@evil.example/auth/device?code=A1B2C3")));
	assert_false(np_valid_https_url(S("https://api.nextpay.world@evil.example/")));
	assert_false(np_valid_https_url(S("https://user:pass@x.io/")));
	assert_false(np_valid_https_url(S("https://@x.io/")));
	/* Percent-escapes and backslashes in the authority, and backslashes anywhere. */
	assert_false(np_valid_https_url(S("https://x%2eio/")));
	assert_false(np_valid_https_url(S("https://x.io%2F.evil.example/")));
	assert_false(np_valid_https_url(S("https://x.io\\@evil.example/")));
	assert_false(np_valid_https_url(S("https://evil.example\\.x.io/")));
	assert_false(np_valid_https_url(S("https://x.io/a\\b")));
	/* Percent-escapes after the authority are ordinary. */
	assert_true(np_valid_https_url(S("https://x.io/auth%2Fdevice?code=A%41")));
	/* Hosts that are not a plain DNS name or IP literal. */
	assert_false(np_valid_https_url(S("https://x_y.io/")));
	assert_false(np_valid_https_url(S("https://-x.io/")));
	assert_false(np_valid_https_url(S("https://x-.io/")));
	assert_false(np_valid_https_url(S("https://x..io/")));
	assert_false(np_valid_https_url(S("https://.x.io/")));
	assert_false(np_valid_https_url(S("https://x.io./")));
	assert_false(np_valid_https_url(S("https://x!.io/")));
	assert_false(np_valid_https_url(S("https://x.io;evil/")));
	assert_false(np_valid_https_url(S("https://x.io,evil/")));
	/* Numbers a browser takes for an IPv4 address, however they are written. */
	assert_false(np_valid_https_url(S("https://2130706433/")));
	assert_false(np_valid_https_url(S("https://0x7f.1/")));
	assert_false(np_valid_https_url(S("https://127.1/")));
	assert_false(np_valid_https_url(S("https://127.0.0.01/")));
	assert_false(np_valid_https_url(S("https://256.0.0.1/")));
	assert_false(np_valid_https_url(S("https://1.2.3.4.5/")));
	assert_false(np_valid_https_url(S("https://evil.0x10/")));
	assert_true(np_valid_https_url(S("https://127.0.0.1/")));
	assert_true(np_valid_https_url(S("https://0.0.0.0/")));
	assert_true(np_valid_https_url(S("https://255.255.255.255/")));
	assert_true(np_valid_https_url(S("https://0x7f.example/")));
	assert_true(np_valid_https_url(S("https://1.example/")));
	/* IPv6 literals: brackets, hex, ':' and '.'; no zone id. */
	assert_true(np_valid_https_url(S("https://[::1]/")));
	assert_true(np_valid_https_url(S("https://[2001:db8::7]:8443/x")));
	assert_true(np_valid_https_url(S("https://[::ffff:192.0.2.1]/")));
	assert_false(np_valid_https_url(S("https://[fe80::1%25eth0]/")));
	assert_false(np_valid_https_url(S("https://[::1/")));
	assert_false(np_valid_https_url(S("https://::1/")));
	assert_false(np_valid_https_url(S("https://[x.io]/")));
	assert_false(np_valid_https_url(S("https://[]/")));
	assert_false(np_valid_https_url(S("https://[::1]x/")));
	/* Ports: 1 to 65535, digits only. */
	assert_true(np_valid_https_url(S("https://x.io:1/")));
	assert_true(np_valid_https_url(S("https://x.io:65535")));
	assert_true(np_valid_https_url(S("https://127.0.0.1:8443?code=A")));
	assert_false(np_valid_https_url(S("https://x.io:0/")));
	assert_false(np_valid_https_url(S("https://x.io:65536/")));
	assert_false(np_valid_https_url(S("https://x.io:/")));
	assert_false(np_valid_https_url(S("https://x.io:443:443/")));
	assert_false(np_valid_https_url(S("https://x.io:+443/")));
	assert_false(np_valid_https_url(S("https://x.io:0x1bb/")));
	assert_false(np_valid_https_url(S("https://:443/")));
}

static void test_host(void **state)
{
	char buf[512];

	(void)state;
	assert_true(np_valid_host(S("api.nextpay.world")));
	assert_true(np_valid_host(S("localhost")));
	assert_true(np_valid_host(S("xn--nxasmq6b.example")));
	assert_true(np_valid_host(S("192.0.2.10")));
	assert_true(np_valid_host(S("[2001:db8::1]")));
	assert_false(np_valid_host(S("")));
	assert_false(np_valid_host(NULL, 3));
	assert_false(np_valid_host(S("2001:db8::1")));
	assert_false(np_valid_host(S("evil.example:443")));
	assert_false(np_valid_host(S("a@b")));
	assert_false(np_valid_host(S("caf\xc3\xa9.example")));
	/* Labels up to 63, names up to 253 bytes. */
	assert_true(np_valid_host(filled(buf, sizeof buf, "x.", 'a', 63), 65));
	assert_false(np_valid_host(filled(buf, sizeof buf, "x.", 'a', 64), 66));
	for (size_t i = 0; i < 252; i += 2)
		memcpy(buf + i, "a.", 2);
	buf[252] = 'a';
	assert_true(np_valid_host(buf, 253));
	buf[253] = 'a';
	assert_false(np_valid_host(buf, 254));
}

static void test_url_host(void **state)
{
	char host[64];
	const char *start = NULL;

	(void)state;
	assert_true(np_url_host(S("https://api.nextpay.world/auth/device?code=A1"), host, sizeof host));
	assert_string_equal(host, "api.nextpay.world");
	assert_true(np_url_host(S("https://127.0.0.1:8443/auth"), host, sizeof host));
	assert_string_equal(host, "127.0.0.1");
	assert_true(np_url_host(S("https://[::1]:8443"), host, sizeof host));
	assert_string_equal(host, "[::1]");
	assert_true(np_url_host(S("https://x.io?y"), host, sizeof host));
	assert_string_equal(host, "x.io");
	assert_false(np_url_host(S("https://a.nextpay.world@evil.example/"), host, sizeof host));
	/* Too small a buffer is a refusal, not a cut host. */
	assert_false(np_url_host(S("https://api.nextpay.world/"), host, 10));
	/* The authority of anything, for the log of a refusal. */
	assert_int_equal(np_url_authority(S("https://a%2Fb@evil.example/x"), &start), 18);
	assert_memory_equal(start, "a%2Fb@evil.example", 18);
	assert_int_equal(np_url_authority(S("javascript:alert(1)"), &start), 19);
	assert_int_equal(np_url_authority(S("http://h?x"), &start), 1);
	assert_int_equal(np_url_authority(NULL, 4, &start), 0);
}

static void test_token(void **state)
{
	static char buf[NP_TOKEN_MAX + 16];

	(void)state;
	assert_true(np_valid_token(S("eyJhbGciOiJSUzI1NiIs.eyJzdWIiOiJ1c3IifQ.c2lnbmF0dXJl-_")));
	assert_true(np_valid_token(S("0123456789abcdef")));
	assert_false(np_valid_token(S("0123456789abcde")));
	assert_false(np_valid_token(S("")));
	assert_false(np_valid_token(NULL, 20));
	assert_true(np_valid_token(filled(buf, sizeof buf, "", 'a', NP_TOKEN_MAX), NP_TOKEN_MAX));
	assert_false(np_valid_token(filled(buf, sizeof buf, "", 'a', NP_TOKEN_MAX + 1),
	                            NP_TOKEN_MAX + 1));
	/* Standard base64, padding, white space and quotes are not token characters. */
	assert_false(np_valid_token(S("eyJhbGciOiJSUzI1+iIs")));
	assert_false(np_valid_token(S("eyJhbGciOiJSUzI1/iIs")));
	assert_false(np_valid_token(S("eyJhbGciOiJSUzI1NiIs=")));
	assert_false(np_valid_token(S("eyJhbGciOiJSUz I1NiIs")));
	assert_false(np_valid_token(S("eyJhbGciOiJSUzI1NiIs\n")));
	assert_false(np_valid_token(S("eyJhbGciOiJSUzI1NiIs\"")));
	assert_false(np_valid_token(S("eyJhbGciOiJSUzI1NiIs;x")));
	assert_false(np_valid_token("eyJhbGciOiJSUzI1NiIs\0xx", 23));
}

static void test_user_id(void **state)
{
	char buf[256];

	(void)state;
	assert_true(np_valid_user_id(S("usr_abc123")));
	assert_true(np_valid_user_id(S("usr-ABC_9")));
	assert_true(np_valid_user_id(S("x")));
	assert_true(np_valid_user_id(filled(buf, sizeof buf, "", 'a', NP_USER_ID_MAX),
	                             NP_USER_ID_MAX));
	assert_false(np_valid_user_id(filled(buf, sizeof buf, "", 'a', NP_USER_ID_MAX + 1),
	                              NP_USER_ID_MAX + 1));
	assert_false(np_valid_user_id(S("")));
	assert_false(np_valid_user_id(NULL, 3));
	assert_false(np_valid_user_id(S("usr abc")));
	assert_false(np_valid_user_id(S("usr.abc")));
	assert_false(np_valid_user_id(S("usr@abc")));
	assert_false(np_valid_user_id(S("../usr")));
	assert_false(np_valid_user_id(S("usr_abc\n")));
	assert_false(np_valid_user_id(S("usr_\xc3\xa9")));
}

static void test_email(void **state)
{
	char buf[512];

	(void)state;
	assert_true(np_valid_email(S("don@nextfinancial.io")));
	assert_true(np_valid_email(S("a@b")));
	assert_true(np_valid_email(S("first.last+tag@sub.example.com")));
	assert_false(np_valid_email(S("@b")));
	assert_false(np_valid_email(S("ab")));
	assert_false(np_valid_email(S("")));
	assert_false(np_valid_email(NULL, 5));
	assert_false(np_valid_email(S("don")));
	assert_false(np_valid_email(S("@don.io")));
	assert_false(np_valid_email(S("don.io@")));
	assert_false(np_valid_email(S("a@b@c")));
	assert_false(np_valid_email(S("don@@x.io")));
	assert_false(np_valid_email(S("don@x.io@")));
	assert_false(np_valid_email(S("@don@x.io")));
	assert_false(np_valid_email(S("don @x.io")));
	assert_false(np_valid_email(S("don@x.io\n")));
	assert_false(np_valid_email(S("don@x.io\x7f")));
	assert_false(np_valid_email(S("d\xc3\xb6n@x.io")));
	assert_false(np_valid_email("don\0@x.io", 9));
	/* 254 bytes is the limit. */
	assert_true(np_valid_email(filled(buf, sizeof buf, "don@", 'x', NP_EMAIL_MAX - 4),
	                           NP_EMAIL_MAX));
	assert_false(np_valid_email(filled(buf, sizeof buf, "don@", 'x', NP_EMAIL_MAX - 3),
	                            NP_EMAIL_MAX + 1));
}

static void test_status(void **state)
{
	char buf[64];

	(void)state;
	assert_true(np_valid_status(S("pending")));
	assert_true(np_valid_status(S("access_denied")));
	assert_true(np_valid_status(S("x-y")));
	assert_true(np_valid_status(filled(buf, sizeof buf, "", 'a', NP_STATUS_MAX),
	                            NP_STATUS_MAX));
	assert_false(np_valid_status(filled(buf, sizeof buf, "", 'a', NP_STATUS_MAX + 1),
	                             NP_STATUS_MAX + 1));
	assert_false(np_valid_status(S("")));
	assert_false(np_valid_status(NULL, 3));
	assert_false(np_valid_status(S("denied!")));
	assert_false(np_valid_status(S("den ied")));
	assert_false(np_valid_status(S("denied\x1b[0m")));
}

static void test_api_key(void **state)
{
	char buf[512];

	(void)state;
	assert_true(np_valid_api_key(S("npk_abc123")));
	assert_true(np_valid_api_key(S("npk_x")));
	assert_true(np_valid_api_key(S("npk_a+b/c=d!~")));
	assert_false(np_valid_api_key(S("npk_")));
	assert_false(np_valid_api_key(S("npk")));
	assert_false(np_valid_api_key(S("")));
	assert_false(np_valid_api_key(NULL, 8));
	assert_false(np_valid_api_key(S("NPK_abc")));
	assert_false(np_valid_api_key(S("pk_abcde")));
	assert_false(np_valid_api_key(S(" npk_abc")));
	assert_false(np_valid_api_key(S("npk_ab c")));
	assert_false(np_valid_api_key(S("npk_abc\n")));
	assert_false(np_valid_api_key(S("npk_abc\x7f")));
	assert_false(np_valid_api_key(S("npk_\xc3\xa9")));
	assert_false(np_valid_api_key("npk_ab\0c", 8));
	assert_true(np_valid_api_key(filled(buf, sizeof buf, "npk_", 'k', NP_API_KEY_MAX - 4),
	                             NP_API_KEY_MAX));
	assert_false(np_valid_api_key(filled(buf, sizeof buf, "npk_", 'k', NP_API_KEY_MAX - 3),
	                              NP_API_KEY_MAX + 1));
}

static void test_ascii_case_equal(void **state)
{
	(void)state;
	assert_true(np_ascii_case_equal(S("Don@NextFinancial.IO"), S("don@nextfinancial.io")));
	assert_true(np_ascii_case_equal(S(""), S("")));
	assert_true(np_ascii_case_equal(S("AZaz09"), S("azAZ09")));
	assert_false(np_ascii_case_equal(S("abc"), S("ab")));
	assert_false(np_ascii_case_equal(S("ab"), S("abc")));
	assert_false(np_ascii_case_equal(S("abc"), S("")));
	assert_false(np_ascii_case_equal(S("abc"), S("abd")));
	/* Only A-Z fold: bytes 0x20 apart that are not letters stay different. */
	assert_false(np_ascii_case_equal(S("@"), S("`")));
	assert_false(np_ascii_case_equal(S("["), S("{")));
	assert_false(np_ascii_case_equal(S("]"), S("}")));
	assert_false(np_ascii_case_equal(S("^"), S("~")));
	assert_false(np_ascii_case_equal(S("\xc3\xa9"), S("\xc3\x89"))); /* é / É */
	assert_false(np_ascii_case_equal(S("\xc1"), S("\xe1")));
	/* Bytes after an embedded NUL still count. */
	assert_false(np_ascii_case_equal("a\0b", 3, "a\0c", 3));
	assert_true(np_ascii_case_equal("a\0B", 3, "A\0b", 3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code),       cmocka_unit_test(test_https_url),
		cmocka_unit_test(test_https_url_authority), cmocka_unit_test(test_host),
		cmocka_unit_test(test_url_host),
		cmocka_unit_test(test_token),      cmocka_unit_test(test_user_id),
		cmocka_unit_test(test_email),      cmocka_unit_test(test_status),
		cmocka_unit_test(test_api_key),    cmocka_unit_test(test_ascii_case_equal),
	};

	return cmocka_run_group_tests_name("validate", tests, NULL, NULL);
}
