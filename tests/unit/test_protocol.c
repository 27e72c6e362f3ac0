/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of src/common/protocol.c: the module <-> helper line protocol. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/protocol.h"

#define TOKEN "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c3JfYWJjIn0.c2ln-_bmF0dXJl"

/* Messages are large (tokens): keep them off the stack. */
static struct np_msg in;
static struct np_msg out;
static char line[NP_LINE_MAX];
static char err[256];

static void assert_err_has(const char *what)
{
	if (strstr(err, what) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, what);
}

/* Encodes in, checks the framing, decodes into out. */
static void round_trip(void)
{
	size_t len = 0;

	memset(line, 'Z', sizeof line);
	assert_int_equal(np_msg_encode(&in, line, sizeof line, &len), 0);
	assert_true(len >= 2);
	assert_int_equal(strlen(line), len);
	assert_int_equal(line[len - 1], '\n');
	/* Exactly one newline, at the end; no other line breaks either. */
	assert_null(memchr(line, '\n', len - 1));
	assert_null(memchr(line, '\r', len));
	assert_int_equal(line[0], '{');
	err[0] = '\0';
	if (np_msg_decode(line, len - 1, &out, err, sizeof err) != 0)
		fail_msg("decode of %s failed: %s", line, err);
	assert_int_equal(out.type, in.type);
}

static int decode(const char *text)
{
	err[0] = '\0';
	return np_msg_decode(text, strlen(text), &out, err, sizeof err);
}

/* A line the decoder must refuse, saying what (in its error). */
static void refused(const char *text, const char *what)
{
	assert_int_equal(decode(text), -1);
	assert_err_has(what);
}

/* ---- round trips ---- */

static void test_round_trip_config(void **state)
{
	(void)state;
	np_msg_init(&in, NP_MSG_CONFIG);
	snprintf(in.config.api_url, sizeof in.config.api_url, "https://api.nextpay.world/v1");
	snprintf(in.config.ca_file, sizeof in.config.ca_file, "/etc/ssl/np ca \"x\".pem");
	snprintf(in.config.pinned_pubkey, sizeof in.config.pinned_pubkey,
	         "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	snprintf(in.config.proxy, sizeof in.config.proxy, "http://proxy.example:3128/");
	snprintf(in.config.helper_user, sizeof in.config.helper_user, "nobody");
	in.config.connect_timeout = 5;
	in.config.request_timeout = 600;
	round_trip();
	assert_string_equal(out.config.api_url, in.config.api_url);
	assert_string_equal(out.config.ca_file, in.config.ca_file);
	assert_string_equal(out.config.pinned_pubkey, in.config.pinned_pubkey);
	assert_string_equal(out.config.proxy, in.config.proxy);
	assert_string_equal(out.config.helper_user, "nobody");
	assert_int_equal(out.config.connect_timeout, 5);
	assert_int_equal(out.config.request_timeout, 600);
	/* Slashes are not escaped. */
	assert_non_null(strstr(line, "\"https://api.nextpay.world/v1\""));

	/* Empty optional strings survive as empty. */
	in.config.ca_file[0] = in.config.pinned_pubkey[0] = in.config.proxy[0] = '\0';
	round_trip();
	assert_string_equal(out.config.ca_file, "");
	assert_string_equal(out.config.pinned_pubkey, "");
	assert_string_equal(out.config.proxy, "");
}

static void test_round_trip_device_login(void **state)
{
	(void)state;
	np_msg_init(&in, NP_MSG_DEVICE_LOGIN);
	snprintf(in.login.intent, sizeof in.login.intent, "login");
	in.login.poll_interval = 3;
	in.login.timeout = 110;
	in.login.want_token = true;
	round_trip();
	assert_string_equal(out.login.intent, "login");
	assert_int_equal(out.login.poll_interval, 3);
	assert_int_equal(out.login.timeout, 110);
	assert_true(out.login.want_token);
	in.login.want_token = false;
	in.login.timeout = 86400;
	round_trip();
	assert_false(out.login.want_token);
	assert_int_equal(out.login.timeout, 86400);
}

static void test_round_trip_empty_types(void **state)
{
	static const enum np_msg_type types[] = { NP_MSG_POLL_NOW, NP_MSG_PROBE, NP_MSG_READY,
		                                      NP_MSG_PENDING };
	static const char *const names[] = { "poll_now", "probe", "ready", "pending" };

	(void)state;
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		char expect[64];

		np_msg_init(&in, types[i]);
		round_trip();
		snprintf(expect, sizeof expect, "{\"v\":1,\"type\":\"%s\"}\n", names[i]);
		assert_string_equal(line, expect);
	}
}

static void test_round_trip_whoami(void **state)
{
	(void)state;
	np_msg_init(&in, NP_MSG_WHOAMI);
	snprintf(in.token, sizeof in.token, "%s", TOKEN);
	round_trip();
	assert_string_equal(out.token, TOKEN);
}

static void test_round_trip_api_key(void **state)
{
	(void)state;
	np_msg_init(&in, NP_MSG_API_KEY);
	snprintf(in.api_key, sizeof in.api_key, "npk_\"quoted\\back/slash\"");
	round_trip();
	assert_string_equal(out.api_key, "npk_\"quoted\\back/slash\"");
}

static void test_round_trip_code(void **state)
{
	(void)state;
	np_msg_init(&in, NP_MSG_CODE);
	snprintf(in.code.code, sizeof in.code.code, "A1B2C3");
	snprintf(in.code.verification_url, sizeof in.code.verification_url,
	         "https://nextpay-v3-dev.nextfinancial.io/auth/device?code=A1B2C3");
	in.code.expires_at = INT64_C(1700000000);
	round_trip();
	assert_string_equal(out.code.code, "A1B2C3");
	assert_string_equal(out.code.verification_url, in.code.verification_url);
	assert_true(out.code.expires_at == INT64_C(1700000000));
}

static void test_round_trip_identity(void **state)
{
	(void)state;
	np_msg_init(&in, NP_MSG_IDENTITY);
	snprintf(in.identity.token, sizeof in.identity.token, "%s", TOKEN);
	snprintf(in.identity.user_id, sizeof in.identity.user_id, "usr_abc123");
	snprintf(in.identity.email, sizeof in.identity.email, "don@nextfinancial.io");
	snprintf(in.identity.name, sizeof in.identity.name, "Don Masakayan \xe6\x97\xa5\xf0\x9f\x98\x80");
	in.identity.token_exp = INT64_C(1700003600);
	round_trip();
	assert_string_equal(out.identity.token, TOKEN);
	assert_string_equal(out.identity.user_id, "usr_abc123");
	assert_string_equal(out.identity.email, "don@nextfinancial.io");
	assert_string_equal(out.identity.name, in.identity.name);
	assert_true(out.identity.token_exp == INT64_C(1700003600));

	/* Without token, e-mail and expiry. */
	in.identity.token[0] = in.identity.email[0] = in.identity.name[0] = '\0';
	in.identity.token_exp = 0;
	round_trip();
	assert_string_equal(out.identity.token, "");
	assert_string_equal(out.identity.email, "");
	assert_string_equal(out.identity.name, "");
	assert_true(out.identity.token_exp == 0);
}

static void test_round_trip_failure(void **state)
{
	(void)state;
	for (int r = NP_FAIL_DENIED; r <= NP_FAIL_INTERNAL; r++) {
		np_msg_init(&in, NP_MSG_FAILURE);
		in.failure.reason = (enum np_failure_reason)r;
		snprintf(in.failure.detail, sizeof in.failure.detail, "reason %d", r);
		round_trip();
		assert_int_equal(out.failure.reason, r);
		assert_string_equal(out.failure.detail, in.failure.detail);
	}
}

static void test_newlines_escaped(void **state)
{
	(void)state;
	/* Text with line breaks and controls still makes exactly one line. */
	np_msg_init(&in, NP_MSG_FAILURE);
	in.failure.reason = NP_FAIL_MALFORMED;
	snprintf(in.failure.detail, sizeof in.failure.detail, "a\nb\r\nc\x1b[2J\x7f\xe2\x80\xa8.");
	round_trip();
	/* The decoder sanitises the detail: U+2028, a line separator, goes too. */
	assert_string_equal(out.failure.detail, "abc[2J.");

	np_msg_init(&in, NP_MSG_CONFIG);
	snprintf(in.config.api_url, sizeof in.config.api_url, "https://x\n{\"v\":1}");
	snprintf(in.config.helper_user, sizeof in.config.helper_user, "nobody");
	in.config.connect_timeout = in.config.request_timeout = 1;
	round_trip();
	assert_string_equal(out.config.api_url, "https://x\n{\"v\":1}");
}

static void test_identity_name_sanitised(void **state)
{
	(void)state;
	assert_int_equal(decode("{\"v\":1,\"type\":\"identity\",\"token\":\"\",\"user_id\":\"usr_a\","
	                        "\"email\":\"\",\"name\":\"Don\\u001b[31m\\u0007\\u202eX\\r\\n\","
	                        "\"token_exp\":0}"),
	                 0);
	assert_string_equal(out.identity.name, "Don[31mX");
	assert_int_equal(decode("{\"v\":1,\"type\":\"failure\",\"reason\":\"denied\","
	                        "\"detail\":\"\\u009b31m\\u001bno\"}"),
	                 0);
	assert_string_equal(out.failure.detail, "31mno");
}

/* ---- decoding refuses ---- */

static void test_decode_version_and_type(void **state)
{
	(void)state;
	assert_int_equal(decode("{\"v\":1,\"type\":\"ready\"}"), 0);
	assert_int_equal(out.type, NP_MSG_READY);
	assert_int_equal(decode("{\"type\":\"ready\",\"v\":1}"), 0);

	refused("{\"v\":2,\"type\":\"ready\"}", "version");
	refused("{\"v\":0,\"type\":\"ready\"}", "version");
	refused("{\"v\":\"1\",\"type\":\"ready\"}", "version");
	refused("{\"type\":\"ready\"}", "version");
	refused("{\"v\":null,\"type\":\"ready\"}", "version");

	refused("{\"v\":1}", "missing message type");
	refused("{\"v\":1,\"type\":3}", "type");
	refused("{\"v\":1,\"type\":\"reboot\"}", "unknown message type");
	refused("{\"v\":1,\"type\":\"READY\"}", "unknown message type");
	assert_int_equal(decode("{\"v\":1,\"type\":\"\"}"), -1);
	assert_int_equal(decode("{\"v\":1,\"type\":\"ready\\u0000x\"}"), -1);
	/* A failed decode leaves nothing behind. */
	assert_int_equal(out.type, 0);
}

static void test_decode_missing_field(void **state)
{
	(void)state;
	refused("{\"v\":1,\"type\":\"code\",\"code\":\"A1B2C3\","
	        "\"expires_at\":1700000000}", "missing field \"verification_url\"");
	refused("{\"v\":1,\"type\":\"device_login\",\"intent\":\"login\","
	        "\"poll_interval\":3,\"timeout\":100}", "want_token");
	refused("{\"v\":1,\"type\":\"whoami\"}", "missing field \"token\"");
	refused("{\"v\":1,\"type\":\"api_key\",\"api_key\":null}", "missing field \"api_key\"");
	refused("{\"v\":1,\"type\":\"identity\",\"token\":\"\",\"email\":\"\","
	        "\"name\":\"\",\"token_exp\":0}", "user_id");
	refused("{\"v\":1,\"type\":\"failure\",\"reason\":\"denied\"}", "detail");
	refused("{\"v\":1,\"type\":\"config\",\"api_url\":\"https://x\","
	        "\"ca_file\":\"\",\"pinned_pubkey\":\"\",\"proxy\":\"\","
	        "\"connect_timeout\":5,\"request_timeout\":10}", "helper_user");
}

static void test_decode_wrong_types(void **state)
{
	(void)state;
	refused("{\"v\":1,\"type\":\"config\",\"api_url\":\"https://x\","
	        "\"ca_file\":\"\",\"pinned_pubkey\":\"\",\"proxy\":\"\","
	        "\"helper_user\":\"nobody\",\"connect_timeout\":\"5\","
	        "\"request_timeout\":10}", "connect_timeout");
	refused("{\"v\":1,\"type\":\"config\",\"api_url\":[\"https://x\"],"
	        "\"ca_file\":\"\",\"pinned_pubkey\":\"\",\"proxy\":\"\","
	        "\"helper_user\":\"nobody\",\"connect_timeout\":5,"
	        "\"request_timeout\":10}", "api_url");
	refused("{\"v\":1,\"type\":\"device_login\",\"intent\":\"login\","
	        "\"poll_interval\":3,\"timeout\":100,\"want_token\":\"true\"}", "want_token");
	refused("{\"v\":1,\"type\":\"device_login\",\"intent\":\"login\","
	        "\"poll_interval\":3,\"timeout\":100,\"want_token\":1}", "want_token");
	refused("{\"v\":1,\"type\":\"device_login\",\"intent\":\"login\","
	        "\"poll_interval\":3.5,\"timeout\":100,\"want_token\":true}", "poll_interval");
	refused("{\"v\":1,\"type\":\"device_login\",\"intent\":\"login\","
	        "\"poll_interval\":0,\"timeout\":100,\"want_token\":true}", "poll_interval");
	refused("{\"v\":1,\"type\":\"device_login\",\"intent\":\"login\","
	        "\"poll_interval\":3,\"timeout\":-1,\"want_token\":true}", "timeout");
	refused("{\"v\":1,\"type\":\"device_login\",\"intent\":\"login\","
	        "\"poll_interval\":3,\"timeout\":4294967297,\"want_token\":true}", "timeout");
	refused("{\"v\":1,\"type\":\"code\",\"code\":\"A1B2C3\","
	        "\"verification_url\":\"https://x.io/\",\"expires_at\":\"1700000000\"}",
	        "expires_at");
	refused("{\"v\":1,\"type\":\"code\",\"code\":\"A1B2C3\","
	        "\"verification_url\":\"https://x.io/\",\"expires_at\":-5}", "expires_at");
	refused("{\"v\":1,\"type\":\"identity\",\"token\":\"\",\"user_id\":\"usr_a\","
	        "\"email\":\"\",\"name\":\"\",\"token_exp\":true}", "token_exp");
	refused("{\"v\":1,\"type\":\"failure\",\"reason\":{},\"detail\":\"\"}", "reason");
}

static void test_decode_bad_strings(void **state)
{
	static char text[NP_LINE_MAX];
	static char big[NP_TOKEN_MAX + 2];

	(void)state;
	assert_int_equal(decode("{\"v\":1,\"type\":\"whoami\",\"token\":\"" TOKEN "\\u0000x\"}"), -1);
	assert_err_has("token");
	refused("{\"v\":1,\"type\":\"api_key\",\"api_key\":\"npk_a\\u0000b\"}", "api_key");
	refused("{\"v\":1,\"type\":\"identity\",\"token\":\"\",\"user_id\":\"usr_a\","
	        "\"email\":\"\",\"name\":\"Don\\u0000Evil\",\"token_exp\":0}", "name");

	/* Over-long strings: a code of 17, a token of NP_TOKEN_MAX + 1. */
	refused("{\"v\":1,\"type\":\"code\",\"code\":\"ABCDEFGHIJKLMNOPQ\","
	        "\"verification_url\":\"https://x.io/\",\"expires_at\":1}", "code");
	memset(big, 'a', NP_TOKEN_MAX + 1);
	big[NP_TOKEN_MAX + 1] = '\0';
	snprintf(text, sizeof text, "{\"v\":1,\"type\":\"whoami\",\"token\":\"%s\"}", big);
	assert_int_equal(decode(text), -1);
	assert_err_has("token");
	big[NP_TOKEN_MAX] = '\0';
	snprintf(text, sizeof text, "{\"v\":1,\"type\":\"whoami\",\"token\":\"%s\"}", big);
	assert_int_equal(decode(text), 0);
	assert_int_equal(strlen(out.token), NP_TOKEN_MAX);
	/* An api_url of 1024 bytes does not fit the 1024-byte field. */
	memset(big, 'a', NP_PROTO_TEXT_MAX);
	memcpy(big, "https://", 8);
	big[NP_PROTO_TEXT_MAX] = '\0';
	snprintf(text, sizeof text,
	         "{\"v\":1,\"type\":\"config\",\"api_url\":\"%s\",\"ca_file\":\"\","
	         "\"pinned_pubkey\":\"\",\"proxy\":\"\",\"helper_user\":\"nobody\","
	         "\"connect_timeout\":5,\"request_timeout\":10}",
	         big);
	assert_int_equal(decode(text), -1);
	assert_err_has("api_url");
	/* A detail over its limit is refused rather than cut. */
	memset(big, 'd', NP_PROTO_DETAIL_MAX + 1);
	big[NP_PROTO_DETAIL_MAX + 1] = '\0';
	snprintf(text, sizeof text,
	         "{\"v\":1,\"type\":\"failure\",\"reason\":\"tls\",\"detail\":\"%s\"}", big);
	assert_int_equal(decode(text), -1);
	assert_err_has("detail");
	big[NP_PROTO_DETAIL_MAX] = '\0';
	snprintf(text, sizeof text,
	         "{\"v\":1,\"type\":\"failure\",\"reason\":\"tls\",\"detail\":\"%s\"}", big);
	assert_int_equal(decode(text), 0);
	assert_int_equal(out.failure.reason, NP_FAIL_TLS);
}

static void test_decode_bad_values(void **state)
{
	(void)state;
	refused("{\"v\":1,\"type\":\"code\",\"code\":\"../x\","
	        "\"verification_url\":\"https://x.io/\",\"expires_at\":1}",
	        "invalid field \"code\"");
	refused("{\"v\":1,\"type\":\"code\",\"code\":\"A1B2/../C3\","
	        "\"verification_url\":\"https://x.io/\",\"expires_at\":1}", "code");
	refused("{\"v\":1,\"type\":\"code\",\"code\":\"A1B2C3\","
	        "\"verification_url\":\"https://x.io/\\u001b[2J\",\"expires_at\":1}",
	        "invalid field \"verification_url\"");
	refused("{\"v\":1,\"type\":\"code\",\"code\":\"A1B2C3\","
	        "\"verification_url\":\"http://x.io/\",\"expires_at\":1}", "verification_url");
	refused("{\"v\":1,\"type\":\"code\",\"code\":\"A1B2C3\","
	        "\"verification_url\":\"https://x.io/\\u202e\",\"expires_at\":1}",
	        "verification_url");
	refused("{\"v\":1,\"type\":\"whoami\",\"token\":\"not a token at all\"}",
	        "invalid field \"token\"");
	refused("{\"v\":1,\"type\":\"api_key\",\"api_key\":\"sk_live_123\"}",
	        "invalid field \"api_key\"");
	refused("{\"v\":1,\"type\":\"identity\",\"token\":\"\",\"user_id\":\"usr a\","
	        "\"email\":\"\",\"name\":\"\",\"token_exp\":0}", "user_id");
	refused("{\"v\":1,\"type\":\"identity\",\"token\":\"\",\"user_id\":\"\","
	        "\"email\":\"\",\"name\":\"\",\"token_exp\":0}", "user_id");
	refused("{\"v\":1,\"type\":\"identity\",\"token\":\"\",\"user_id\":\"usr_a\","
	        "\"email\":\"don@x.io\\n\",\"name\":\"\",\"token_exp\":0}", "email");
	refused("{\"v\":1,\"type\":\"identity\",\"token\":\"short\","
	        "\"user_id\":\"usr_a\",\"email\":\"\",\"name\":\"\",\"token_exp\":0}", "token");
	/* An unknown failure reason is kept as "internal", not refused. */
	assert_int_equal(decode("{\"v\":1,\"type\":\"failure\",\"reason\":\"gremlins\","
	                        "\"detail\":\"x\"}"),
	                 0);
	assert_int_equal(out.failure.reason, NP_FAIL_INTERNAL);
}

static void test_decode_not_one_object(void **state)
{
	static const char *const bad[] = {
		"",
		" ",
		"[1]",
		"\"ready\"",
		"1",
		"null",
		"{\"v\":1,\"type\":\"ready\"",
		"{\"v\":1,\"type\":\"ready\"}x",
		"{\"v\":1,\"type\":\"ready\"}{\"v\":1,\"type\":\"ready\"}",
		"{\"v\":1,\"type\":\"ready\"}\n{\"v\":1,\"type\":\"ready\"}",
		"{\"v\":1,\"type\":\"ready\",}",
		"<html>",
		"{\"v\":1,\"type\":\"ready\",\"x\":{\"y\":{\"z\":{}}}}",
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (decode(bad[i]) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_true(err[0] != '\0');
	}
	refused("[1]", "not an object");
	refused("{\"v\":1,\"type\":\"ready\"}x", "invalid JSON");
	/* A NUL byte in the line itself. */
	assert_int_equal(np_msg_decode("{\"v\":1,\"type\":\"ready\"}\0", 23, &out, err, sizeof err),
	                 -1);
	assert_int_equal(np_msg_decode("{\"v\":1,\0\"type\":\"ready\"}", 23, &out, err, sizeof err),
	                 -1);
}

static void test_decode_deep_nesting(void **state)
{
	static char text[4096];
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(text, sizeof text, "{\"v\":1,\"type\":\"ready\",\"x\":");
	for (int i = 0; i < 500; i++)
		text[n++] = '[';
	for (int i = 0; i < 500; i++)
		text[n++] = ']';
	text[n++] = '}';
	text[n] = '\0';
	assert_int_equal(decode(text), -1);
	assert_err_has("invalid JSON");
}

static void test_reason_names(void **state)
{
	static const struct {
		enum np_failure_reason reason;
		const char *name;
	} names[] = {
		{ NP_FAIL_DENIED, "denied" },           { NP_FAIL_EXPIRED, "expired" },
		{ NP_FAIL_TIMEOUT, "timeout" },         { NP_FAIL_UNAUTHORIZED, "unauthorized" },
		{ NP_FAIL_UNAVAILABLE, "unavailable" }, { NP_FAIL_TLS, "tls" },
		{ NP_FAIL_MALFORMED, "malformed" },     { NP_FAIL_CONFIG, "config" },
		{ NP_FAIL_INTERNAL, "internal" },       { NP_FAIL_UNREACHABLE, "unreachable" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		assert_string_equal(np_failure_reason_name(names[i].reason), names[i].name);
	assert_string_equal(np_failure_reason_name((enum np_failure_reason)0), "internal");
	assert_string_equal(np_failure_reason_name((enum np_failure_reason)99), "internal");
	assert_string_equal(np_failure_reason_name((enum np_failure_reason)-1), "internal");
}

static void test_encode_too_small(void **state)
{
	char small[64];
	size_t len = 0;
	size_t need;

	(void)state;
	np_msg_init(&in, NP_MSG_CODE);
	snprintf(in.code.code, sizeof in.code.code, "A1B2C3");
	snprintf(in.code.verification_url, sizeof in.code.verification_url, "https://x.io/");
	in.code.expires_at = 1;
	assert_int_equal(np_msg_encode(&in, line, sizeof line, &len), 0);
	need = len + 1; /* the line and its NUL */
	assert_true(need > 16);

	len = 12345;
	assert_int_equal(np_msg_encode(&in, small, 16, &len), -1);
	assert_int_equal(len, 12345);
	assert_int_equal(np_msg_encode(&in, line, need - 1, &len), -1);
	assert_int_equal(np_msg_encode(&in, line, 1, &len), -1);
	assert_int_equal(np_msg_encode(&in, line, 0, &len), -1);
	memset(line, 'Z', sizeof line);
	assert_int_equal(np_msg_encode(&in, line, need, &len), 0);
	assert_int_equal(len, need - 1);
	assert_int_equal(line[len - 1], '\n');
	assert_int_equal(line[len], '\0');
	assert_int_equal(line[len + 1], 'Z');

	/* A message too big for any line. */
	np_msg_init(&in, NP_MSG_CONFIG);
	memset(in.config.api_url, '\x01', sizeof in.config.api_url - 1);
	memset(in.config.ca_file, '\x01', sizeof in.config.ca_file - 1);
	memset(in.config.pinned_pubkey, '\x01', sizeof in.config.pinned_pubkey - 1);
	memset(in.config.proxy, '\x01', sizeof in.config.proxy - 1);
	assert_int_equal(np_msg_encode(&in, line, sizeof line, &len), -1);

	/* An unknown type is not encoded. */
	np_msg_init(&in, (enum np_msg_type)0);
	assert_int_equal(np_msg_encode(&in, line, sizeof line, &len), -1);
}

/*
 * The table behind encoding and decoding: every message type has a name, every
 * field's example is a value it takes, and a message of examples survives the trip.
 */
static void test_field_table(void **state)
{
	int types = 0;

	(void)state;
	for (int type = NP_MSG_CONFIG; np_msg_type_name((enum np_msg_type)type) != NULL; type++) {
		size_t n = 0;
		const struct np_msg_field *fields = np_msg_fields((enum np_msg_type)type, &n);

		np_msg_init(&in, (enum np_msg_type)type);
		for (size_t i = 0; i < n; i++)
			if (np_msg_set(&in, &fields[i], fields[i].example) != 0)
				fail_msg("%s: example \"%s\" not taken", fields[i].name, fields[i].example);
		round_trip();
		for (size_t i = 0; i < n; i++)
			assert_memory_equal((const char *)&out + fields[i].offset,
			                    (const char *)&in + fields[i].offset, fields[i].size);
		types++;
	}
	assert_int_equal(types, NP_MSG_FAILURE);
	assert_null(np_msg_type_name((enum np_msg_type)0));

	/* What does not fit a field is refused, not cut. */
	np_msg_init(&in, NP_MSG_DEVICE_LOGIN);
	{
		size_t n = 0;
		const struct np_msg_field *f = np_msg_fields(NP_MSG_DEVICE_LOGIN, &n);

		assert_int_equal(n, 4);
		assert_int_equal(np_msg_set(&in, &f[1], "0"), -1);
		assert_int_equal(np_msg_set(&in, &f[1], "3601"), -1);
		assert_int_equal(np_msg_set(&in, &f[1], "3x"), -1);
		assert_int_equal(np_msg_set(&in, &f[3], "true"), -1);
		assert_int_equal(np_msg_set(&in, &f[0], "this intent is much too long to fit into the "
		                                        "sixty-four bytes of its field"),
		                 -1);
	}
}

static void test_wipe(void **state)
{
	(void)state;
	np_msg_init(&in, NP_MSG_WHOAMI);
	snprintf(in.token, sizeof in.token, "%s", TOKEN);
	np_msg_wipe(&in);
	for (size_t i = 0; i < sizeof in; i++)
		if (((const unsigned char *)&in)[i] != 0)
			fail_msg("byte %zu not wiped", i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_config),
		cmocka_unit_test(test_round_trip_device_login),
		cmocka_unit_test(test_round_trip_empty_types),
		cmocka_unit_test(test_round_trip_whoami),
		cmocka_unit_test(test_round_trip_api_key),
		cmocka_unit_test(test_round_trip_code),
		cmocka_unit_test(test_round_trip_identity),
		cmocka_unit_test(test_round_trip_failure),
		cmocka_unit_test(test_newlines_escaped),
		cmocka_unit_test(test_identity_name_sanitised),
		cmocka_unit_test(test_decode_version_and_type),
		cmocka_unit_test(test_decode_missing_field),
		cmocka_unit_test(test_decode_wrong_types),
		cmocka_unit_test(test_decode_bad_strings),
		cmocka_unit_test(test_decode_bad_values),
		cmocka_unit_test(test_decode_not_one_object),
		cmocka_unit_test(test_decode_deep_nesting),
		cmocka_unit_test(test_reason_names),
		cmocka_unit_test(test_encode_too_small),
		cmocka_unit_test(test_field_table),
		cmocka_unit_test(test_wipe),
	};

	return cmocka_run_group_tests_name("protocol", tests, NULL, NULL);
}
