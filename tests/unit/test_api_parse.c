/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of src/helper/api_parse.c and src/common/json_util.c: reading the NextPay API's answers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "helper/api_parse.h"
#include "common/json_util.h"

#define TOKEN "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c3JfYWJjIn0.c2ln-_bmF0dXJl"
#define URL "https://nextpay-v3-dev.nextfinancial.io/auth/device?code=A1B2C3"

static char err[256];
static char token[NP_TOKEN_MAX + 1];
static char status[NP_STATUS_MAX + 1];
static char big[64 * 1024];

static void assert_err_has(const char *what)
{
	if (strstr(err, what) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, what);
}

static int device_code(const char *body, struct np_msg_code *out)
{
	err[0] = '\0';
	return np_api_parse_device_code(body, strlen(body), out, err, sizeof err);
}

static int poll_answer(const char *body, enum np_poll_state *state)
{
	err[0] = '\0';
	memset(token, 'Z', sizeof token - 1);
	token[sizeof token - 1] = '\0';
	memset(status, 'Z', sizeof status - 1);
	status[sizeof status - 1] = '\0';
	return np_api_parse_poll(body, strlen(body), state, token, sizeof token, status,
	                         sizeof status, err, sizeof err);
}

static int token_answer(const char *body)
{
	err[0] = '\0';
	memset(token, 'Z', sizeof token - 1);
	token[sizeof token - 1] = '\0';
	return np_api_parse_token(body, strlen(body), token, sizeof token, err, sizeof err);
}

static int me_answer(const char *body, struct np_msg_identity *out)
{
	err[0] = '\0';
	memset(out, 'Z', sizeof *out);
	out->token[0] = '\0';
	return np_api_parse_me(body, strlen(body), out, err, sizeof err);
}

/* ---- POST /auth/device-code ---- */

static void test_device_code_valid(void **state)
{
	struct np_msg_code out;

	(void)state;
	assert_int_equal(device_code("{\"code\":\"A1B2C3\",\"verification_url\":\"" URL "\","
	                             "\"expires_at\":1700000000}",
	                             &out),
	                 0);
	assert_string_equal(out.code, "A1B2C3");
	assert_string_equal(out.verification_url, URL);
	assert_true(out.expires_at == INT64_C(1700000000));
	/* Extra fields and white space are fine. */
	assert_int_equal(device_code(" {\n \"expires_at\": 1700000000.0, \"code\": \"zz99\",\n"
	                             " \"verification_url\": \"https://x\", \"extra\": [1, {}] }\n",
	                             &out),
	                 0);
	assert_string_equal(out.code, "zz99");
	assert_true(out.expires_at == INT64_C(1700000000));
	/* The upper bound for expires_at. */
	assert_int_equal(device_code("{\"code\":\"A1B2C3\",\"verification_url\":\"https://x\","
	                             "\"expires_at\":1099511627776}",
	                             &out),
	                 0);
	assert_int_equal(device_code("{\"code\":\"A1B2C3\",\"verification_url\":\"https://x\","
	                             "\"expires_at\":1}",
	                             &out),
	                 0);
}

static void test_device_code_bad_fields(void **state)
{
	static const struct {
		const char *body;
		const char *field;
	} bad[] = {
		{ "{\"verification_url\":\"" URL "\",\"expires_at\":1700000000}", "code" },
		{ "{\"code\":null,\"verification_url\":\"" URL "\",\"expires_at\":1700000000}", "code" },
		{ "{\"code\":123456,\"verification_url\":\"" URL "\",\"expires_at\":1700000000}", "code" },
		{ "{\"code\":\"../x\",\"verification_url\":\"" URL "\",\"expires_at\":1700000000}", "code" },
		{ "{\"code\":\"A1B2C3/..\",\"verification_url\":\"" URL "\",\"expires_at\":1}", "code" },
		{ "{\"code\":\"A1B\",\"verification_url\":\"" URL "\",\"expires_at\":1700000000}", "code" },
		{ "{\"code\":\"ABCDEFGHIJKLMNOPQ\",\"verification_url\":\"" URL "\",\"expires_at\":1}", "code" },
		{ "{\"code\":\"A1B2C3\\u0000\",\"verification_url\":\"" URL "\",\"expires_at\":1}", "code" },
		{ "{\"code\":\"A1B2C3\",\"expires_at\":1700000000}", "verification_url" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":true,\"expires_at\":1}", "verification_url" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"http://x.io/\",\"expires_at\":1}", "verification_url" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"javascript:alert(1)\",\"expires_at\":1}", "verification_url" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"https://x.io/\\u001b[2J\",\"expires_at\":1}", "verification_url" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"https://x.io/\\u202egpj\",\"expires_at\":1}", "verification_url" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"https://x.io/ a\",\"expires_at\":1}", "verification_url" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"https://x.io/\\n\",\"expires_at\":1}", "verification_url" },
		/* The error names the host the person would have been sent to. */
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"https://api.nextpay.world%2Fauth%2Fdevice@evil.example/auth/device\",\"expires_at\":1}", "(host \"api.nextpay.world%2Fauth%2Fdevice@evil.example\")" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"https://x.io\\\\@evil.example/\",\"expires_at\":1}", "(host \"x.io\\@evil.example\")" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"" URL "\"}", "expires_at" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"" URL "\",\"expires_at\":-1700000000}", "expires_at" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"" URL "\",\"expires_at\":0}", "expires_at" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"" URL "\",\"expires_at\":1e30}", "expires_at" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"" URL "\",\"expires_at\":1099511627777}", "expires_at" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"" URL "\",\"expires_at\":9223372036854775807}", "expires_at" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"" URL "\",\"expires_at\":99999999999999999999999}", "expires_at" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"" URL "\",\"expires_at\":1700000000.5}", "expires_at" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"" URL "\",\"expires_at\":\"1700000000\"}", "expires_at" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"" URL "\",\"expires_at\":true}", "expires_at" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"" URL "\",\"expires_at\":null}", "expires_at" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"" URL "\",\"expires_at\":NaN}", "expires_at" },
		{ "{\"code\":\"A1B2C3\",\"verification_url\":\"" URL "\",\"expires_at\":-0.0}", "expires_at" },
	};
	struct np_msg_code out;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (device_code(bad[i].body, &out) != -1)
			fail_msg("accepted: %s", bad[i].body);
		if (strstr(err, bad[i].field) == NULL)
			fail_msg("%s: error \"%s\" does not name %s", bad[i].body, err, bad[i].field);
		/* Nothing half-filled is left behind. */
		assert_string_equal(out.code, "");
		assert_string_equal(out.verification_url, "");
		assert_true(out.expires_at == 0);
	}
}

/* ---- GET /auth/device-code/{code} ---- */

static void test_poll_pending(void **state)
{
	enum np_poll_state st = NP_POLL_FINAL;

	(void)state;
	assert_int_equal(poll_answer("{\"status\":\"pending\"}", &st), 0);
	assert_int_equal(st, NP_POLL_PENDING);
	assert_string_equal(token, "");
	assert_string_equal(status, "");
	/* An empty or null token is no token. */
	assert_int_equal(poll_answer("{\"status\":\"pending\",\"token\":\"\"}", &st), 0);
	assert_int_equal(st, NP_POLL_PENDING);
	assert_int_equal(poll_answer("{\"status\":\"pending\",\"token\":null}", &st), 0);
	assert_int_equal(st, NP_POLL_PENDING);
}

static void test_poll_approved(void **state)
{
	enum np_poll_state st = NP_POLL_PENDING;

	(void)state;
	assert_int_equal(poll_answer("{\"status\":\"approved\",\"token\":\"" TOKEN "\"}", &st), 0);
	assert_int_equal(st, NP_POLL_APPROVED);
	assert_string_equal(token, TOKEN);
	/* The token wins over whatever the status says, or no status at all. */
	assert_int_equal(poll_answer("{\"status\":\"pending\",\"token\":\"" TOKEN "\"}", &st), 0);
	assert_int_equal(st, NP_POLL_APPROVED);
	assert_string_equal(token, TOKEN);
	assert_int_equal(poll_answer("{\"status\":\"denied\",\"token\":\"" TOKEN "\"}", &st), 0);
	assert_int_equal(st, NP_POLL_APPROVED);
	assert_int_equal(poll_answer("{\"token\":\"" TOKEN "\"}", &st), 0);
	assert_int_equal(st, NP_POLL_APPROVED);
	assert_string_equal(token, TOKEN);
}

static void test_poll_approved_without_token(void **state)
{
	enum np_poll_state st = NP_POLL_FINAL;

	(void)state;
	assert_int_equal(poll_answer("{\"status\":\"approved\"}", &st), -1);
	assert_err_has("without a token");
	assert_int_equal(st, NP_POLL_PENDING);
	assert_int_equal(poll_answer("{\"status\":\"approved\",\"token\":\"\"}", &st), -1);
	assert_string_equal(token, "");
}

static void test_poll_final(void **state)
{
	static const char *const words[] = { "denied", "expired", "cancelled", "Pending",
		                             "APPROVED", "rate_limited" };
	enum np_poll_state st = NP_POLL_PENDING;

	(void)state;
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		char body[128];

		snprintf(body, sizeof body, "{\"status\":\"%s\"}", words[i]);
		assert_int_equal(poll_answer(body, &st), 0);
		assert_int_equal(st, NP_POLL_FINAL);
		assert_string_equal(status, words[i]);
		assert_string_equal(token, "");
	}
	/* The word is shown, so it is sanitised. */
	assert_int_equal(poll_answer("{\"status\":\"denied\\u001b[2J\\u0007\\u202e!\"}", &st), 0);
	assert_int_equal(st, NP_POLL_FINAL);
	assert_string_equal(status, "denied[2J!");
	/* A status of control characters only is still final, with a word to log. */
	assert_int_equal(poll_answer("{\"status\":\"\\u001b\\u0007\\u202e\"}", &st), 0);
	assert_int_equal(st, NP_POLL_FINAL);
	assert_string_equal(status, "unknown");
	/* And cut to the caller's buffer. */
	assert_int_equal(poll_answer("{\"status\":\"abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKL\"}",
	                             &st),
	                 0);
	assert_int_equal(st, NP_POLL_FINAL);
	assert_string_equal(status, "abcdefghijklmnopqrstuvwxyz012345");
}

static void test_poll_bad(void **state)
{
	static const char *const bad[] = {
		"{}",
		"{\"status\":null}",
		"{\"status\":\"\"}",
		"{\"status\":5}",
		"{\"status\":[\"pending\"]}",
		"{\"status\":\"pending\",\"token\":5}",
		"{\"status\":\"pending\",\"token\":{}}",
		"{\"status\":\"pending\",\"token\":true}",
		"{\"status\":\"approved\",\"token\":\"not a jwt at all, no\"}",
		"{\"status\":\"approved\",\"token\":\"eyJhbGciOiJSUzI1NiJ9.x\\\"y\"}",
		"{\"status\":\"approved\",\"token\":\"eyJhbGciOiJSUzI1NiJ9.eyJ9\\n\"}",
		"{\"status\":\"approved\",\"token\":\"eyJhbGciOiJSUzI1NiJ9\\u0000.eyJ9\"}",
		"{\"status\":\"approved\",\"token\":\"short\"}",
		"{\"status\":\"pend\\u0000ing\"}",
		"{\"status\":\"abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0123\"}",
	};
	enum np_poll_state st;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		st = NP_POLL_APPROVED;
		if (poll_answer(bad[i], &st) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_true(err[0] != '\0');
		assert_int_equal(st, NP_POLL_PENDING);
		/* A refused token is wiped from the caller's buffer. */
		assert_string_equal(token, "");
	}
	assert_int_equal(poll_answer("{}", &st), -1);
	assert_err_has("status");
	assert_int_equal(poll_answer("{\"status\":\"approved\",\"token\":\"short\"}", &st), -1);
	assert_err_has("token");
}

/* ---- POST /auth/token ---- */

static void test_token_envelope(void **state)
{
	(void)state;
	assert_int_equal(token_answer("{\"ok\":true,\"data\":{\"token\":\"" TOKEN "\","
	                              "\"user_id\":\"usr_abc123\"}}"),
	                 0);
	assert_string_equal(token, TOKEN);

	assert_int_equal(token_answer("{\"data\":{\"token\":\"" TOKEN "\"}}"), -1);
	assert_err_has("ok");
	assert_string_equal(token, "");
	assert_int_equal(token_answer("{\"ok\":false,\"data\":{\"token\":\"" TOKEN "\"}}"), -1);
	assert_err_has("ok");
	assert_string_equal(token, "");
	assert_int_equal(token_answer("{\"ok\":\"true\",\"data\":{\"token\":\"" TOKEN "\"}}"), -1);
	assert_err_has("ok");
	assert_int_equal(token_answer("{\"ok\":1,\"data\":{\"token\":\"" TOKEN "\"}}"), -1);
	assert_int_equal(token_answer("{\"ok\":false,\"error\":{\"code\":\"UNAUTHORIZED\","
	                              "\"message\":\"Invalid API key\"}}"),
	                 -1);
	assert_err_has("ok");
	assert_int_equal(token_answer("{\"ok\":true}"), -1);
	assert_err_has("data");
	assert_int_equal(token_answer("{\"ok\":true,\"data\":\"" TOKEN "\"}"), -1);
	assert_err_has("data");
	assert_int_equal(token_answer("{\"ok\":true,\"data\":null}"), -1);
	assert_err_has("data");
	assert_int_equal(token_answer("{\"ok\":true,\"data\":{}}"), -1);
	assert_err_has("token");
	assert_int_equal(token_answer("{\"ok\":true,\"data\":{\"token\":5}}"), -1);
	assert_err_has("token");
	assert_int_equal(token_answer("{\"ok\":true,\"data\":{\"token\":\"bad token value!\"}}"), -1);
	assert_err_has("token");
	assert_string_equal(token, "");
	/* The token must be inside data, not beside it. */
	assert_int_equal(token_answer("{\"ok\":true,\"token\":\"" TOKEN "\",\"data\":{}}"), -1);
	assert_string_equal(token, "");
}

/* ---- GET /auth/me ---- */

static void test_me_valid(void **state)
{
	struct np_msg_identity id;

	(void)state;
	assert_int_equal(me_answer("{\"ok\":true,\"data\":{\"id\":\"usr_abc123\","
	                           "\"email\":\"don@nextfinancial.io\",\"name\":\"Don Masakayan\"}}",
	                           &id),
	                 0);
	assert_string_equal(id.user_id, "usr_abc123");
	assert_string_equal(id.email, "don@nextfinancial.io");
	assert_string_equal(id.name, "Don Masakayan");
	assert_string_equal(id.token, "");
	/* e-mail and name are optional. */
	assert_int_equal(me_answer("{\"ok\":true,\"data\":{\"id\":\"usr_abc123\"}}", &id), 0);
	assert_string_equal(id.user_id, "usr_abc123");
	assert_string_equal(id.email, "");
	assert_string_equal(id.name, "");
}

static void test_me_id_required(void **state)
{
	static const char *const bad[] = {
		"{\"ok\":true,\"data\":{\"email\":\"don@x.io\",\"name\":\"Don\"}}",
		"{\"ok\":true,\"data\":{\"id\":null,\"email\":\"don@x.io\"}}",
		"{\"ok\":true,\"data\":{\"id\":\"\",\"email\":\"don@x.io\"}}",
		"{\"ok\":true,\"data\":{\"id\":123,\"email\":\"don@x.io\"}}",
		"{\"ok\":true,\"data\":{\"id\":\"usr abc\",\"email\":\"don@x.io\"}}",
		"{\"ok\":true,\"data\":{\"id\":\"usr_abc\\u001b\",\"email\":\"don@x.io\"}}",
		"{\"ok\":true,\"data\":{\"id\":\"usr_abc\\u0000root\",\"email\":\"don@x.io\"}}",
		"{\"ok\":true,\"data\":{\"id\":\"../../root\"}}",
		"{\"ok\":false,\"data\":{\"id\":\"usr_abc\"}}",
		"{\"ok\":false,\"error\":{\"code\":\"UNAUTHORIZED\",\"message\":\"Not authenticated\"}}",
		"{\"ok\":true,\"id\":\"usr_abc\"}",
	};
	struct np_msg_identity id;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (me_answer(bad[i], &id) != -1)
			fail_msg("accepted: %s", bad[i]);
		assert_true(err[0] != '\0');
		assert_string_equal(id.user_id, "");
		assert_string_equal(id.email, "");
		assert_string_equal(id.name, "");
	}
	assert_int_equal(me_answer(bad[4], &id), -1);
	assert_err_has("id");
}

static void test_me_bad_email_dropped(void **state)
{
	static const char *const emails[] = {
		"\"not-an-email\"", "\"a@b@c\"", "\"@x.io\"", "\"don@x.io\\n\"", "\"don@x.io\\u0000evil\"",
		"\"don @x.io\"",    "5",         "{}",       "\"\"",             "null",
	};
	struct np_msg_identity id;

	(void)state;
	for (size_t i = 0; i < sizeof emails / sizeof emails[0]; i++) {
		char body[256];

		snprintf(body, sizeof body,
		         "{\"ok\":true,\"data\":{\"id\":\"usr_abc\",\"email\":%s,\"name\":\"Don\"}}",
		         emails[i]);
		if (me_answer(body, &id) != 0)
			fail_msg("refused: %s (%s)", body, err);
		assert_string_equal(id.user_id, "usr_abc");
		assert_string_equal(id.email, "");
		assert_string_equal(id.name, "Don");
	}
}

static void test_me_name_sanitised(void **state)
{
	struct np_msg_identity id;
	size_t n;

	(void)state;
	assert_int_equal(me_answer("{\"ok\":true,\"data\":{\"id\":\"usr_abc\",\"email\":\"a@b.c\","
	                           "\"name\":\"Don\\u001b]0;pwned\\u0007 \\u202eM\\u00e9\\r\\n\"}}",
	                           &id),
	                 0);
	assert_string_equal(id.name, "Don]0;pwned M\xc3\xa9");
	/* A long name is cut at a character boundary. */
	n = (size_t)snprintf(big, sizeof big, "{\"ok\":true,\"data\":{\"id\":\"usr_abc\",\"name\":\"");
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, "\\u65e5"); /* 日, 3 bytes each */
	snprintf(big + n, sizeof big - n, "\"}}");
	assert_int_equal(me_answer(big, &id), 0);
	assert_int_equal(strlen(id.name), 126); /* 42 whole characters in 128 bytes */
	assert_string_equal(id.user_id, "usr_abc");
	/* A name of the wrong type is just absent. */
	assert_int_equal(me_answer("{\"ok\":true,\"data\":{\"id\":\"usr_abc\",\"name\":[1]}}", &id), 0);
	assert_string_equal(id.name, "");
}

/* ---- bodies that are not the expected JSON ---- */

static void test_garbage_bodies(void **state)
{
	static const char *const bad[] = {
		"",
		" ",
		"garbage",
		"<html><body><h1>502 Bad Gateway</h1></body></html>",
		"null",
		"[]",
		"[{\"code\":\"A1B2C3\"}]",
		"\"pending\"",
		"42",
		"{\"status\":\"pending\"",
		"{\"status\":\"pending\"}}",
		"{\"status\":\"pending\"}x",
		"{\"status\":\"pending\"}{\"status\":\"pending\"}",
		"{\"status\":\"pending\",}",
		"{status:\"pending\"}",
		"\xef\xbb\xbf{\"status\":\"pending\"}",
	};
	struct np_msg_code code;
	struct np_msg_identity id;
	enum np_poll_state st;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (device_code(bad[i], &code) != -1)
			fail_msg("device code accepted: %s", bad[i]);
		assert_true(err[0] != '\0');
		if (poll_answer(bad[i], &st) != -1)
			fail_msg("poll accepted: %s", bad[i]);
		assert_true(err[0] != '\0');
		if (token_answer(bad[i]) != -1)
			fail_msg("token accepted: %s", bad[i]);
		if (me_answer(bad[i], &id) != -1)
			fail_msg("me accepted: %s", bad[i]);
	}
	/* A NUL inside the body, and a body cut short. */
	assert_int_equal(np_api_parse_poll("{\"status\":\"pending\"}\0", 21, &st, token, sizeof token,
	                                   status, sizeof status, err, sizeof err),
	                 -1);
	assert_int_equal(np_api_parse_poll("{\"status\":\"pending\"}", 10, &st, token, sizeof token,
	                                   status, sizeof status, err, sizeof err),
	                 -1);
	assert_int_equal(poll_answer("{\"status\":\"pending\"}x", &st), -1);
	assert_err_has("JSON");
}

static void test_deep_nesting(void **state)
{
	struct np_msg_code code;
	struct np_msg_identity id;
	enum np_poll_state st;
	size_t n = 0;

	(void)state;
	/* 100 levels of objects. */
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(big + n, sizeof big - n, "{\"a\":");
	n += (size_t)snprintf(big + n, sizeof big - n, "1");
	for (int i = 0; i < 100; i++)
		big[n++] = '}';
	big[n] = '\0';
	assert_int_equal(device_code(big, &code), -1);
	assert_err_has("JSON");
	assert_int_equal(poll_answer(big, &st), -1);
	assert_int_equal(me_answer(big, &id), -1);

	/* 30000 levels of arrays inside an otherwise good answer. */
	n = (size_t)snprintf(big, sizeof big, "{\"status\":\"pending\",\"x\":");
	for (int i = 0; i < 30000; i++)
		big[n++] = '[';
	for (int i = 0; i < 30000; i++)
		big[n++] = ']';
	big[n++] = '}';
	big[n] = '\0';
	assert_int_equal(poll_answer(big, &st), -1);

	/* The envelope depth itself is fine, one more level inside data is too. */
	assert_int_equal(me_answer("{\"ok\":true,\"data\":{\"id\":\"usr_a\",\"x\":{}}}", &id), 0);
	assert_int_equal(me_answer("{\"ok\":true,\"data\":{\"id\":\"usr_a\",\"x\":{\"y\":{\"z\":1}}}}",
	                           &id),
	                 -1);
}

static void test_duplicate_keys(void **state)
{
	struct np_msg_code code;
	struct np_msg_identity id;
	enum np_poll_state st;

	(void)state;
	/* Whatever json-c keeps, the result is one of the values, checked as usual. */
	assert_int_equal(device_code("{\"code\":\"A1B2C3\",\"code\":\"ZZZZ99\","
	                             "\"verification_url\":\"https://x\",\"expires_at\":5}",
	                             &code),
	                 0);
	assert_true(strcmp(code.code, "A1B2C3") == 0 || strcmp(code.code, "ZZZZ99") == 0);
	if (device_code("{\"code\":\"A1B2C3\",\"code\":\"../x\","
	                "\"verification_url\":\"https://x\",\"expires_at\":5}",
	                &code) == 0)
		assert_string_equal(code.code, "A1B2C3");
	else
		assert_string_equal(code.code, "");
	(void)poll_answer("{\"status\":\"pending\",\"status\":\"denied\",\"token\":\"x\",\"token\":\"\"}",
	                  &st);
	(void)me_answer("{\"ok\":true,\"ok\":false,\"data\":{\"id\":\"usr_a\"},\"data\":{}}", &id);
	(void)me_answer("{\"ok\":true,\"data\":{\"id\":\"usr_a\",\"id\":\"usr_b\",\"id\":5}}", &id);
}

/* ---- json_util directly ---- */

static void test_json_util(void **state)
{
	struct json_object *obj;
	struct json_object *inner = NULL;
	char text[8];
	size_t len = 99;
	int64_t n = 7;
	bool b = true;

	(void)state;
	obj = np_json_parse_object("{\"s\":\"abc\",\"long\":\"abcdefgh\",\"i\":-3,\"d\":2.0,"
	                           "\"f\":2.5,\"big\":1e300,\"b\":false,\"o\":{},\"nul\":null}",
	                           strlen("{\"s\":\"abc\",\"long\":\"abcdefgh\",\"i\":-3,\"d\":2.0,"
	                                  "\"f\":2.5,\"big\":1e300,\"b\":false,\"o\":{},\"nul\":null}"),
	                           4, err, sizeof err);
	assert_non_null(obj);
	assert_int_equal(np_json_string(obj, "s", text, sizeof text, &len), NP_JSON_FOUND);
	assert_string_equal(text, "abc");
	assert_int_equal(len, 3);
	/* 8 bytes do not fit in 8 with the NUL. */
	assert_int_equal(np_json_string(obj, "long", text, sizeof text, &len), NP_JSON_BAD);
	assert_string_equal(text, "");
	assert_int_equal(len, 0);
	assert_int_equal(np_json_string(obj, "i", text, sizeof text, NULL), NP_JSON_BAD);
	assert_int_equal(np_json_string(obj, "nul", text, sizeof text, NULL), NP_JSON_ABSENT);
	assert_int_equal(np_json_string(obj, "none", text, sizeof text, NULL), NP_JSON_ABSENT);
	assert_int_equal(np_json_int64(obj, "i", &n), NP_JSON_FOUND);
	assert_true(n == -3);
	assert_int_equal(np_json_int64(obj, "d", &n), NP_JSON_FOUND);
	assert_true(n == 2);
	assert_int_equal(np_json_int64(obj, "f", &n), NP_JSON_BAD);
	assert_int_equal(np_json_int64(obj, "big", &n), NP_JSON_BAD);
	assert_int_equal(np_json_int64(obj, "s", &n), NP_JSON_BAD);
	assert_int_equal(np_json_int64(obj, "nul", &n), NP_JSON_ABSENT);
	assert_int_equal(np_json_bool(obj, "b", &b), NP_JSON_FOUND);
	assert_false(b);
	assert_int_equal(np_json_bool(obj, "i", &b), NP_JSON_BAD);
	assert_int_equal(np_json_object(obj, "o", &inner), NP_JSON_FOUND);
	assert_non_null(inner);
	assert_int_equal(np_json_object(obj, "s", &inner), NP_JSON_BAD);
	assert_null(inner);
	assert_int_equal(np_json_object(obj, "none", &inner), NP_JSON_ABSENT);
	np_json_free(obj);
	np_json_free(NULL);

	obj = np_json_parse_object("{}", 2, 4, err, sizeof err);
	assert_non_null(obj);
	np_json_free(obj);
	assert_null(np_json_parse_object("[]", 2, 4, err, sizeof err));
	assert_err_has("not an object");
	assert_null(np_json_parse_object("{} x", 4, 4, err, sizeof err));
	assert_null(np_json_parse_object("{}", 1, 4, err, sizeof err));
	assert_err_has("truncated");
}

/* ---- np_jwt_exp ---- */

/* A JWT with the given payload (base64url without padding) and a fake signature. */
static void make_jwt(char *out, size_t out_size, const char *payload)
{
	static const char header[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
	static const unsigned char sig[] = "not really a signature, but 256 bits or so of it....";
	char h64[256];
	char p64[1024];
	char s64[256];

	sodium_bin2base64(h64, sizeof h64, (const unsigned char *)header, sizeof header - 1,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_bin2base64(p64, sizeof p64, (const unsigned char *)payload, strlen(payload),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_bin2base64(s64, sizeof s64, sig, sizeof sig - 1,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	assert_true((size_t)snprintf(out, out_size, "%s.%s.%s", h64, p64, s64) < out_size);
}

static void test_jwt_exp(void **state)
{
	char jwt[2048];

	(void)state;
	/* Payloads, and the exp read from each (0: none that may be trusted). */
	static const struct {
		const char *payload;
		int64_t exp;
	} cases[] = {
		{ "{\"sub\":\"usr_abc123\",\"iat\":1700000000,\"exp\":1700003600}", 1700003600 },
		{ "{\"exp\":1700003600.0}", 1700003600 },
		/* A payload whose base64 needs '-' or '_' (bytes 0xfb, 0xff after '?'). */
		{ "{\"exp\":1700003600,\"n\":\"?>?>?>\xfb\xff\"}", 1700003600 },
		{ "{\"sub\":\"usr_abc123\"}", 0 },
		{ "{\"exp\":\"1700003600\"}", 0 },
		{ "{\"exp\":-5}", 0 },
		{ "{\"exp\":1e30}", 0 },
		{ "{\"exp\":99999999999999}", 0 },
		{ "[1700003600]", 0 },
		{ "not json", 0 },
		{ "{\"exp\":1700003600}junk", 0 },
		{ "{\"a\":{\"b\":{\"c\":{\"exp\":1}}},\"exp\":1700003600}", 0 },
	};

	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		make_jwt(jwt, sizeof jwt, cases[i].payload);
		assert_true(np_valid_token(jwt, strlen(jwt)));
		if (np_jwt_exp(jwt) != cases[i].exp)
			fail_msg("exp of %s: %lld, expected %lld", cases[i].payload,
			         (long long)np_jwt_exp(jwt), (long long)cases[i].exp);
	}

	assert_true(np_jwt_exp("") == 0);
	assert_true(np_jwt_exp("garbage") == 0);
	assert_true(np_jwt_exp("a.b") == 0);
	assert_true(np_jwt_exp("..") == 0);
	assert_true(np_jwt_exp("eyJhbGciOiJSUzI1NiJ9.!!!!.sig") == 0);
	/* Standard base64 padding is not base64url without padding. */
	assert_true(np_jwt_exp("x.eyJleHAiOjE3MDAwMDM2MDB9==.y") == 0);
	assert_true(np_jwt_exp("x.eyJleHAiOjE3MDAwMDM2MDB9.y") == INT64_C(1700003600));
	/* A payload far larger than any token. */
	big[0] = 'x';
	big[1] = '.';
	memset(big + 2, 'e', 20000);
	memcpy(big + 20002, ".sig", 5);
	assert_true(np_jwt_exp(big) == 0);
}

static int group_setup(void **state)
{
	(void)state;
	return sodium_init() < 0 ? -1 : 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_device_code_valid),
		cmocka_unit_test(test_device_code_bad_fields),
		cmocka_unit_test(test_poll_pending),
		cmocka_unit_test(test_poll_approved),
		cmocka_unit_test(test_poll_approved_without_token),
		cmocka_unit_test(test_poll_final),
		cmocka_unit_test(test_poll_bad),
		cmocka_unit_test(test_token_envelope),
		cmocka_unit_test(test_me_valid),
		cmocka_unit_test(test_me_id_required),
		cmocka_unit_test(test_me_bad_email_dropped),
		cmocka_unit_test(test_me_name_sanitised),
		cmocka_unit_test(test_garbage_bodies),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_json_util),
		cmocka_unit_test(test_jwt_exp),
	};

	return cmocka_run_group_tests_name("api_parse", tests, group_setup, NULL);
}
