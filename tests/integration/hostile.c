/*
 * A hostile API server: the real module through the real libpam, the real
 * helper, and the HTTPS mock told to misbehave.  Every test asserts the PAM
 * code, that it came within a generous time bound, and that nothing
 * unsanitised reached the screen (or, when this process can capture syslog,
 * the log).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define NONE (-1)                          /* no second acceptable code */
#define CREATE_OK_FIELDS                                                             \
	"\"verification_url\": \"https://127.0.0.1/auth/device?code=ABC123\", "      \
	"\"expires_at\": 4102444800"

static struct mock api, wrongname, expired;
static char log_text[65536];
static long long test_start;

static int group_setup(void **state)
{
	const char *wrong_args[] = { "--cert", "wrongname", NULL };
	const char *expired_args[] = { "--cert", "expired", NULL };
	char usermap[1024];

	(void)state;
	if (mock_start(&api, "mock-hostile", NULL) != 0 ||
	    mock_start(&wrongname, "mock-wrongname", wrong_args) != 0 ||
	    mock_start(&expired, "mock-expired", expired_args) != 0)
		return -1;
	snprintf(usermap, sizeof usermap, "usr_alice %s\nusr_carol %s\n", test_account(),
	         test_account());
	write_usermap(usermap);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	mock_stop(&api);
	mock_stop(&wrongname);
	mock_stop(&expired);
	return 0;
}

static int reset(void **state)
{
	(void)state;
	assert_int_equal(mock_post(&api, "/_mock/reset", "{}"), 200);
	write_config(&api, NULL);
	return 0;
}

static int setup(void **state)
{
	test_start = now_ms();
	return reset(state);
}

static int took(void **state)
{
	(void)state;
	fprintf(stderr, "  (%lld ms)\n", now_ms() - test_start);
	return 0;
}

static void fault(const char *json)
{
	if (mock_post(&api, "/_mock/fault", json) != 200) {
		fprintf(stderr, "the mock refused the fault %.200s\n", json);
		fail();
	}
}

static void auto_approve(const char *user)
{
	char json[256];

	snprintf(json, sizeof json,
	         "{\"auto\": {\"action\": \"approve\", \"user\": \"%s\", \"after\": 0}}", user);
	assert_int_equal(mock_post(&api, "/_mock/config", json), 200);
}

/* raw as a JSON string literal (quotes included), malloc'd. */
static char *json_quote(const char *raw)
{
	size_t len = strlen(raw);
	char *out = malloc(len * 6 + 3);
	size_t n = 0;

	assert_non_null(out);
	out[n++] = '"';
	for (const unsigned char *p = (const unsigned char *)raw; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\') {
			out[n++] = '\\';
			out[n++] = (char)*p;
		} else if (*p < 0x20) {
			n += (size_t)sprintf(out + n, "\\u%04x", *p);
		} else {
			out[n++] = (char)*p;
		}
	}
	out[n++] = '"';
	out[n] = '\0';
	return out;
}

/* A body fault: endpoint answers 200 with exactly raw (which may be any text). */
static void fault_body(const char *endpoint, const char *raw, const char *extra)
{
	char *quoted = json_quote(raw);
	size_t size = strlen(quoted) + 256 + (extra != NULL ? strlen(extra) : 0);
	char *json = malloc(size);

	assert_non_null(json);
	snprintf(json, size, "{\"endpoint\": \"%s\", \"kind\": \"body\", \"body\": %s%s%s}", endpoint,
	         quoted, extra != NULL ? ", " : "", extra != NULL ? extra : "");
	fault(json);
	free(json);
	free(quoted);
}

/*
 * Whether the outcome line's result word and the last words the person saw
 * belong to code: an answer refused as malformed must not pass for a denial,
 * nor an expired code for an identity that does not map.
 */
static bool reason_matches_code(int code, const struct script *s)
{
	static const struct {
		int code;
		const char *result;  /* the outcome line's first word */
		const char *words;   /* in the last message, or NULL: no failure message */
	} outcomes[] = {
		{ PAM_SUCCESS, "success", NULL },
		{ PAM_MAXTRIES, "denied", "The sign-in was denied in NextPay." },
		{ PAM_AUTHINFO_UNAVAIL, "unavailable", "NextPay could not be reached." },
		{ PAM_AUTH_ERR, "expired", "The code expired before it was approved." },
		{ PAM_AUTH_ERR, "refused", "This NextPay account may not sign in as " },
		{ PAM_AUTH_ERR, "failure", "NextPay did not accept the sign-in." },
		{ PAM_SERVICE_ERR, "error", "NextPay sign-in is not set up correctly" },
	};
	const char *last = s->seen.count > 0 ? s->seen.text[s->seen.count - 1] : "";
	const char *line = strstr(log_text, " account=\"");
	const char *word;

	if (line == NULL)
		return false;
	/* "SYSLOG(4): denied: account=...": back from the field to the word before it. */
	for (word = line; word > log_text && word[-1] != ' '; word--)
		;
	for (size_t i = 0; i < sizeof outcomes / sizeof outcomes[0]; i++) {
		size_t len = strlen(outcomes[i].result);

		if (outcomes[i].code != code || strncmp(word, outcomes[i].result, len) != 0 ||
		    word[len] != ':')
			continue;
		if (outcomes[i].words == NULL)
			return strstr(last, "Press Enter to close") == NULL;
		return strstr(last, outcomes[i].words) != NULL;
	}
	return false;
}

/*
 * The verdict: the code (or the one alternative), within bound_ms, nothing a
 * terminal could act on shown or logged, and the reason logged and shown that
 * belongs to the code.
 */
static void verdict(const char *what, int rc, int want, int alt, const struct script *s,
                    long long start, long long bound_ms)
{
	long long took = now_ms() - start;
	bool code_ok = rc == want || (alt != NONE && rc == alt);
	bool screen_ok = !seen_has_control_chars(&s->seen) && !seen_has_unsafe_text(&s->seen);
	/* Every outcome is logged, and the log is no more a terminal's victim than the screen. */
	bool log_ok = strstr(log_text, "SYSLOG(") != NULL && !text_has_unsafe(log_text);
	bool reason_ok = reason_matches_code(rc, s);

	if (!code_ok || took > bound_ms || !screen_ok || !log_ok || !reason_ok ||
	    getenv("NP_TEST_VERBOSE") != NULL) {
		fprintf(stderr, "%s: expected %s%s%s within %lld ms; got %s (%d) after %lld ms\n", what,
		        pam_strerror(NULL, want), alt != NONE ? " or " : "",
		        alt != NONE ? pam_strerror(NULL, alt) : "", bound_ms, pam_strerror(NULL, rc), rc,
		        took);
		fprintf(stderr, "the person saw:\n");
		seen_dump(&s->seen);
		fprintf(stderr, "the log:\n%s", log_text);
	}
	assert_true(code_ok);
	assert_true(took <= bound_ms);
	assert_true(screen_ok);
	assert_true(log_ok);
	assert_true(reason_ok);
}

/* One sign-in against a queued fault; returns the code after checking the verdict. */
static int attempt_on(const char *service, const char *what, int want, int alt,
                      long long bound_ms, struct script *s)
{
	long long start = now_ms();
	int rc;

	log_capture_begin();
	rc = run_auth(service, test_account(), s, 0);
	log_capture_end(log_text, sizeof log_text);
	verdict(what, rc, want, alt, s, start, bound_ms);
	return rc;
}

/* In poll mode: the first poll comes after poll_interval (1 s). */
static int attempt(const char *what, int want, int alt, long long bound_ms, struct script *s)
{
	return attempt_on("np-poll", what, want, alt, bound_ms, s);
}

/* In prompt mode, answering Enter at once: the helper polls at once. */
static int attempt_quick(const char *what, int want, int alt, long long bound_ms)
{
	struct script s = { .answers = { "", "", "", "" } };

	return attempt_on("np-prompt", what, want, alt, bound_ms, &s);
}

/* ---- slow servers ---- */

static void slowloris_create(void **state)
{
	struct script s = { 0 };

	(void)state;
	/* One byte a second: only an overall transfer timeout ends it; three attempts. */
	write_config(&api, "request_timeout = 2\n");
	fault("{\"endpoint\": \"create\", \"kind\": \"trickle\", \"delay\": 1, \"count\": -1}");
	attempt("trickle on create", PAM_AUTHINFO_UNAVAIL, NONE, 15000, &s);
	assert_true(seen_contains(&s.seen, "could not be reached"));
}

static void silent_server_on_create(void **state)
{
	struct script s = { 0 };

	(void)state;
	write_config(&api, "request_timeout = 1\n");
	fault("{\"endpoint\": \"create\", \"kind\": \"slow\", \"delay\": 60, \"count\": -1}");
	attempt("no answer to create", PAM_AUTHINFO_UNAVAIL, NONE, 15000, &s);
}

static void slowloris_poll(void **state)
{
	struct script s = { 0 };

	(void)state;
	/*
	 * Every poll crawls: the sign-in ends when the code does (4 s), however
	 * the module words it (the code ran out, or the API could not be reached).
	 */
	write_config(&api, "request_timeout = 2\n");
	assert_int_equal(mock_post(&api, "/_mock/config", "{\"code_ttl\": 4}"), 200);
	auto_approve("usr_alice");
	fault("{\"endpoint\": \"poll\", \"kind\": \"trickle\", \"delay\": 1, \"count\": -1}");
	attempt("trickle on every poll", PAM_AUTH_ERR, PAM_AUTHINFO_UNAVAIL, 12000, &s);
	assert_int_equal(mock_count(&api, "me"), 0);
}

static void slowloris_me(void **state)
{
	struct script s = { 0 };

	(void)state;
	write_config(&api, "request_timeout = 1\n");
	auto_approve("usr_alice");
	fault("{\"endpoint\": \"me\", \"kind\": \"trickle\", \"delay\": 1, \"count\": -1}");
	attempt("trickle on /auth/me", PAM_AUTHINFO_UNAVAIL, NONE, 15000, &s);
}

/* ---- connections dropped mid-answer ---- */

static void reset_on_create_every_time(void **state)
{
	struct script s = { 0 };

	(void)state;
	fault("{\"endpoint\": \"create\", \"kind\": \"reset\", \"count\": -1}");
	attempt("reset on create", PAM_AUTHINFO_UNAVAIL, NONE, 10000, &s);
	/* Retried, but not without end. */
	assert_true(mock_count(&api, "create") >= 2 && mock_count(&api, "create") <= 3);
}

static void cut_on_create_every_time(void **state)
{
	struct script s = { 0 };

	(void)state;
	fault("{\"endpoint\": \"create\", \"kind\": \"cut\", \"count\": -1}");
	attempt("cut on create", PAM_AUTHINFO_UNAVAIL, NONE, 10000, &s);
}

static void reset_on_create_once_is_retried(void **state)
{
	struct script s = { 0 };

	(void)state;
	auto_approve("usr_alice");
	fault("{\"endpoint\": \"create\", \"kind\": \"reset\"}");
	attempt("one reset on create", PAM_SUCCESS, NONE, 10000, &s);
	assert_int_equal(mock_count(&api, "create"), 2);
}

static void reset_and_cut_on_poll_once_recover(void **state)
{
	struct script s = { 0 };

	(void)state;
	auto_approve("usr_alice");
	fault("{\"endpoint\": \"poll\", \"kind\": \"reset\"}");
	fault("{\"endpoint\": \"poll\", \"kind\": \"cut\"}");
	attempt("reset, then cut, on poll", PAM_SUCCESS, NONE, 15000, &s);
	assert_true(mock_count(&api, "poll") >= 3);
}

static void reset_on_every_poll(void **state)
{
	struct script s = { 0 };

	(void)state;
	assert_int_equal(mock_post(&api, "/_mock/config", "{\"code_ttl\": 4}"), 200);
	auto_approve("usr_alice");
	fault("{\"endpoint\": \"poll\", \"kind\": \"reset\", \"count\": -1}");
	attempt("reset on every poll", PAM_AUTH_ERR, PAM_AUTHINFO_UNAVAIL, 10000, &s);
	assert_int_equal(mock_count(&api, "me"), 0);
}

static void reset_and_cut_on_me(void **state)
{
	static const char *const kinds[] = { "reset", "cut" };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct script s = { 0 };
		char json[256], what[64];

		reset(NULL);
		auto_approve("usr_alice");
		snprintf(json, sizeof json, "{\"endpoint\": \"me\", \"kind\": \"%s\", \"count\": -1}",
		         kinds[i]);
		fault(json);
		snprintf(what, sizeof what, "%s on /auth/me", kinds[i]);
		attempt(what, PAM_AUTHINFO_UNAVAIL, NONE, 12000, &s);
	}
}

/* ---- certificates ---- */

static void use_other_mock(const struct mock *m, const char *pin)
{
	char overrides[1024];

	snprintf(overrides, sizeof overrides, "api_url = %s\nca_file = %s\n%s%s%s", m->url, m->ca,
	         pin != NULL ? "pinned_pubkey = " : "", pin != NULL ? pin : "",
	         pin != NULL ? "\n" : "");
	write_config(NULL, overrides);
}

static void certificate_for_another_name(void **state)
{
	struct script s = { 0 };

	(void)state;
	assert_int_equal(mock_post(&wrongname, "/_mock/reset", "{}"), 200);
	use_other_mock(&wrongname, NULL);
	attempt("certificate for wrong.example", PAM_AUTHINFO_UNAVAIL, NONE, 10000, &s);
	/* Even a pin of that very key does not excuse the name. */
	memset(&s, 0, sizeof s);
	use_other_mock(&wrongname, wrongname.otherpin);
	attempt("wrong name, pinned key", PAM_AUTHINFO_UNAVAIL, NONE, 10000, &s);
	assert_int_equal(mock_count(&wrongname, "create"), 0);
}

/* The public-key pin of DIR/expired.crt, as pinned_pubkey wants it. */
static void expired_pin(char *out, size_t out_size)
{
	char cmd[1200], b64[128] = "";
	FILE *p;

	snprintf(cmd, sizeof cmd,
	         "openssl x509 -in %s/expired.crt -pubkey -noout | openssl pkey -pubin -outform der "
	         "| openssl dgst -sha256 -binary | openssl enc -base64",
	         expired.dir);
	p = popen(cmd, "r");
	assert_non_null(p);
	assert_non_null(fgets(b64, sizeof b64, p));
	assert_int_equal(pclose(p), 0);
	b64[strcspn(b64, "\n")] = '\0';
	snprintf(out, out_size, "sha256//%s", b64);
}

/* Whether the mock logged any API request (the control API, too, needs the TLS we refuse). */
static bool mock_logged_api_request(const struct mock *m)
{
	char path[600], line[1024];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof path, "%s/mock.log", m->dir);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	while (fgets(line, sizeof line, f) != NULL)
		if (strstr(line, " /v1/") != NULL)
			found = true;
	fclose(f);
	return found;
}

static void expired_certificate(void **state)
{
	struct script s = { 0 };
	char pin[160];

	(void)state;
	use_other_mock(&expired, NULL);
	attempt("expired certificate", PAM_AUTHINFO_UNAVAIL, NONE, 10000, &s);
	memset(&s, 0, sizeof s);
	expired_pin(pin, sizeof pin);
	use_other_mock(&expired, pin);
	attempt("expired certificate, pinned key", PAM_AUTHINFO_UNAVAIL, NONE, 10000, &s);
	assert_false(mock_logged_api_request(&expired));
}

/* ---- size ---- */

static void oversized_poll_and_me(void **state)
{
	static const char *const endpoints[] = { "poll", "me" };

	(void)state;
	for (size_t e = 0; e < 2; e++) {
		for (int chunked = 0; chunked <= 1; chunked++) {
			struct script s = { 0 };
			char json[256], what[64];

			reset(NULL);
			auto_approve("usr_alice");
			snprintf(json, sizeof json,
			         "{\"endpoint\": \"%s\", \"kind\": \"oversized\", \"size\": 4194304, "
			         "\"chunked\": %s}",
			         endpoints[e], chunked ? "true" : "false");
			fault(json);
			snprintf(what, sizeof what, "4 MiB answer to %s%s", endpoints[e],
			         chunked ? ", chunked" : "");
			attempt(what, PAM_AUTHINFO_UNAVAIL, NONE, 10000, &s);
		}
	}
}

static void one_byte_over_the_cap(void **state)
{
	struct script s = { 0 };

	(void)state;
	fault("{\"endpoint\": \"create\", \"kind\": \"oversized\", \"size\": 65537}");
	attempt("65537-byte answer", PAM_AUTHINFO_UNAVAIL, NONE, 10000, &s);
}

static void megabyte_token(void **state)
{
	(void)state;
	for (int chunked = 0; chunked <= 1; chunked++) {
		struct script s = { 0 };

		reset(NULL);
		fault_body("poll", "{\"status\": \"approved\", \"token\": \"eyJ@PAD@\"}",
		           chunked ? "\"pad\": 3145728, \"chunked\": true" : "\"pad\": 3145728");
		attempt(chunked ? "3 MiB token, chunked" : "3 MiB token", PAM_AUTHINFO_UNAVAIL, NONE,
		        10000, &s);
		assert_int_equal(mock_count(&api, "me"), 0);
	}
}

static void token_one_over_the_limit(void **state)
{
	struct script s = { 0 };

	(void)state;
	/* 3 + 8190 = 8193 bytes: one more than NP_TOKEN_MAX, well inside the body cap. */
	fault_body("poll", "{\"status\": \"approved\", \"token\": \"eyJ@PAD@\"}", "\"pad\": 8190");
	attempt("8193-byte token", PAM_AUTHINFO_UNAVAIL, NONE, 10000, &s);
	assert_int_equal(mock_count(&api, "me"), 0);
}

static void token_at_the_limit_goes_through(void **state)
{
	struct script s = { 0 };
	char cache_dir[1024], key[1024], overrides[2300], cmd[2200];
	char *bearer = malloc(16384);

	(void)state;
	assert_non_null(bearer);
	/* With the cache on, the token also crosses the module<->helper pipe. */
	snprintf(cache_dir, sizeof cache_dir, "%s/hostile-cache", test_dir());
	snprintf(key, sizeof key, "%s/conf/hostile.key", test_dir());
	snprintf(cmd, sizeof cmd, "rm -rf %s %s && head -c 32 /dev/urandom > %s && chmod 600 %s",
	         cache_dir, key, key, key);
	assert_int_equal(system(cmd), 0);
	snprintf(overrides, sizeof overrides, "cache = yes\ncache_dir = %s\ncache_key = %s\n",
	         cache_dir, key);
	write_config(&api, overrides);
	fault_body("poll", "{\"status\": \"approved\", \"token\": \"eyJ@PAD@\"}", "\"pad\": 8189");
	fault_body("me",
	           "{\"ok\": true, \"data\": {\"id\": \"usr_alice\", \"email\": \"a@example.com\"}}",
	           NULL);
	attempt("8192-byte token", PAM_SUCCESS, NONE, 10000, &s);
	assert_true(mock_last_bearer(&api, "me", bearer, 16384));
	assert_int_equal(strlen(bearer), 8192);
	free(bearer);
}

/* ---- JSON shape ---- */

static void deeply_nested_json(void **state)
{
	static const char *const endpoints[] = { "create", "poll", "me" };

	(void)state;
	for (size_t e = 0; e < 3; e++) {
		for (int arrays = 0; arrays <= 1; arrays++) {
			char what[64];

			reset(NULL);
			auto_approve("usr_alice");
			/* 10,000 levels, well-formed to the end. */
			fault_body(endpoints[e], "@PAD@1@/PAD@",
			           arrays ? "\"pad\": 10000, \"pad_text\": \"[\", \"pad_close\": \"]\""
			                  : "\"pad\": 10000, \"pad_text\": \"{\\\"a\\\":\", "
			                    "\"pad_close\": \"}\"");
			snprintf(what, sizeof what, "10,000 nested %s from %s", arrays ? "arrays" : "objects",
			         endpoints[e]);
			attempt_quick(what, PAM_AUTHINFO_UNAVAIL, NONE, 10000);
		}
	}
}

/* One table row: endpoint answers body; want (or alt) is the outcome. */
struct row {
	const char *endpoint;
	const char *body;
	int want;
	int alt;
	const char *never_shown; /* a marker that must not reach the screen, or NULL */
};

static void run_rows(const char *table, const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct script s = { .answers = { "", "", "", "" } };
		char what[512];

		reset(NULL);
		/* Answers to /auth/me need an approval first. */
		if (strcmp(rows[i].endpoint, "me") == 0)
			auto_approve("usr_alice");
		fault_body(rows[i].endpoint, rows[i].body, NULL);
		snprintf(what, sizeof what, "%s row %zu (%s: %.300s)", table, i, rows[i].endpoint,
		         rows[i].body);
		attempt_on("np-prompt", what, rows[i].want, rows[i].alt, 10000, &s);
		if (rows[i].never_shown != NULL && seen_contains(&s.seen, rows[i].never_shown)) {
			fprintf(stderr, "%s: shown: %s\n", what, rows[i].never_shown);
			seen_dump(&s.seen);
			fail();
		}
	}
}

#define CREATE(fields) "{" fields "}"
#define UNAVAIL PAM_AUTHINFO_UNAVAIL, NONE

static void expires_at_out_of_shape(void **state)
{
	static const struct row rows[] = {
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://h/x\", \"expires_at\": -1}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://h/x\", \"expires_at\": 0}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://h/x\", \"expires_at\": -4102444800}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://h/x\", \"expires_at\": 1e30}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://h/x\", \"expires_at\": 1e300}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://h/x\", \"expires_at\": 4102444800.5}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://h/x\", \"expires_at\": \"4102444800\"}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://h/x\", \"expires_at\": 9223372036854775807}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://h/x\", \"expires_at\": 9223372036854775808}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://h/x\", \"expires_at\": -9223372036854775809}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://h/x\", \"expires_at\": 18446744073709551616}", UNAVAIL, NULL },
		/* Past 2^40 s (the year 36812): not a Unix time anyone means. */
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://h/x\", \"expires_at\": 1099511627777}", UNAVAIL, NULL },
	};

	(void)state;
	run_rows("expires_at", rows, sizeof rows / sizeof rows[0]);
}

static void wrong_types_everywhere(void **state)
{
	static const struct row rows[] = {
		/* create: the whole body, then each field */
		{ "create", "[]", UNAVAIL, NULL },
		{ "create", "\"ABC123\"", UNAVAIL, NULL },
		{ "create", "123", UNAVAIL, NULL },
		{ "create", "null", UNAVAIL, NULL },
		{ "create", "{}", UNAVAIL, NULL },
		{ "create", CREATE("\"code\": 123456, " CREATE_OK_FIELDS), UNAVAIL, NULL },
		{ "create", CREATE("\"code\": true, " CREATE_OK_FIELDS), UNAVAIL, NULL },
		{ "create", CREATE("\"code\": null, " CREATE_OK_FIELDS), UNAVAIL, NULL },
		{ "create", CREATE("\"code\": [\"ABC123\"], " CREATE_OK_FIELDS), UNAVAIL, NULL },
		{ "create", CREATE("\"code\": {\"v\": \"ABC123\"}, " CREATE_OK_FIELDS), UNAVAIL, NULL },
		{ "create", CREATE("\"code\": \"\", " CREATE_OK_FIELDS), UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": 1, \"expires_at\": 4102444800}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": false, \"expires_at\": 4102444800}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": [\"https://h/x\"], \"expires_at\": 4102444800}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": {\"href\": \"https://h/x\"}, \"expires_at\": 4102444800}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": null, \"expires_at\": 4102444800}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://h/x\", \"expires_at\": true}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://h/x\", \"expires_at\": [4102444800]}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://h/x\", \"expires_at\": {}}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://h/x\", \"expires_at\": null}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://h/x\"}", UNAVAIL, NULL },
		/* poll */
		{ "poll", "[]", UNAVAIL, NULL },
		{ "poll", "\"pending\"", UNAVAIL, NULL },
		{ "poll", "{}", UNAVAIL, NULL },
		{ "poll", "{\"status\": 1}", UNAVAIL, NULL },
		{ "poll", "{\"status\": true}", UNAVAIL, NULL },
		{ "poll", "{\"status\": [\"pending\"]}", UNAVAIL, NULL },
		{ "poll", "{\"status\": {\"state\": \"pending\"}}", UNAVAIL, NULL },
		{ "poll", "{\"status\": \"\"}", UNAVAIL, NULL },
		{ "poll", "{\"status\": null}", UNAVAIL, NULL },
		{ "poll", "{\"status\": \"approved\"}", UNAVAIL, NULL },
		{ "poll", "{\"status\": \"approved\", \"token\": 12345678901234567890}", UNAVAIL, NULL },
		{ "poll", "{\"status\": \"approved\", \"token\": true}", UNAVAIL, NULL },
		{ "poll", "{\"status\": \"approved\", \"token\": [\"eyJhbGciOiJSUzI1NiJ9.e30.c2ln\"]}", UNAVAIL, NULL },
		{ "poll", "{\"status\": \"approved\", \"token\": {\"jwt\": \"eyJhbGciOiJSUzI1NiJ9.e30.c2ln\"}}", UNAVAIL, NULL },
		{ "poll", "{\"status\": \"approved\", \"token\": \"not a JWT at all!\"}", UNAVAIL, NULL },
		/* me */
		{ "me", "[]", UNAVAIL, NULL },
		{ "me", "{}", UNAVAIL, NULL },
		{ "me", "{\"id\": \"usr_alice\"}", UNAVAIL, NULL },
		{ "me", "{\"ok\": \"true\", \"data\": {\"id\": \"usr_alice\"}}", UNAVAIL, NULL },
		{ "me", "{\"ok\": 1, \"data\": {\"id\": \"usr_alice\"}}", UNAVAIL, NULL },
		{ "me", "{\"ok\": false, \"data\": {\"id\": \"usr_alice\"}}", UNAVAIL, NULL },
		{ "me", "{\"ok\": null, \"data\": {\"id\": \"usr_alice\"}}", UNAVAIL, NULL },
		{ "me", "{\"ok\": true, \"data\": [{\"id\": \"usr_alice\"}]}", UNAVAIL, NULL },
		{ "me", "{\"ok\": true, \"data\": \"usr_alice\"}", UNAVAIL, NULL },
		{ "me", "{\"ok\": true, \"data\": null}", UNAVAIL, NULL },
		{ "me", "{\"ok\": true, \"data\": {\"id\": 1}}", UNAVAIL, NULL },
		{ "me", "{\"ok\": true, \"data\": {\"id\": true}}", UNAVAIL, NULL },
		{ "me", "{\"ok\": true, \"data\": {\"id\": [\"usr_alice\"]}}", UNAVAIL, NULL },
		{ "me", "{\"ok\": true, \"data\": {\"id\": {\"v\": \"usr_alice\"}}}", UNAVAIL, NULL },
		{ "me", "{\"ok\": true, \"data\": {\"id\": null}}", UNAVAIL, NULL },
		{ "me", "{\"ok\": true, \"data\": {\"id\": \"\"}}", UNAVAIL, NULL },
		{ "me", "{\"ok\": true, \"data\": {\"id\": \"usr alice\"}}", UNAVAIL, NULL },
		/* An unusable e-mail or name is dropped: the id alone still identifies. */
		{ "me", "{\"ok\": true, \"data\": {\"id\": \"usr_alice\", \"email\": 7}}", PAM_SUCCESS, NONE, NULL },
		{ "me", "{\"ok\": true, \"data\": {\"id\": \"usr_alice\", \"email\": [\"a@b.c\"]}}", PAM_SUCCESS, NONE, NULL },
		{ "me", "{\"ok\": true, \"data\": {\"id\": \"usr_alice\", \"name\": 7}}", PAM_SUCCESS, NONE, NULL },
		{ "me", "{\"ok\": true, \"data\": {\"id\": \"usr_alice\", \"name\": {\"first\": \"A\"}}}", PAM_SUCCESS, NONE, NULL },
	};

	(void)state;
	run_rows("wrong types", rows, sizeof rows / sizeof rows[0]);
}

static void nul_and_other_escapes(void **state)
{
	static const struct row rows[] = {
		{ "create", CREATE("\"code\": \"ABC\\u00001\", " CREATE_OK_FIELDS), UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://127.0.0.1/\\u0000evil\", \"expires_at\": 4102444800}", UNAVAIL, NULL },
		{ "poll", "{\"status\": \"denied\\u0000pending\"}", UNAVAIL, NULL },
		{ "poll", "{\"status\": \"pending\\u0000\"}", UNAVAIL, NULL },
		{ "poll", "{\"status\": \"approved\", \"token\": \"eyJhbGciOiJSUzI1NiJ9\\u0000.e30.c2lnbmF0dXJl\"}", UNAVAIL, NULL },
		/* A C string would end at the NUL and read usr_alice, who may sign in here. */
		{ "me", "{\"ok\": true, \"data\": {\"id\": \"usr_alice\\u0000usr_mallory\"}}", UNAVAIL, NULL },
		{ "me", "{\"ok\": true, \"data\": {\"id\": \"usr_alice\\u0000\"}}", UNAVAIL, NULL },
		{ "me", "{\"ok\": true, \"data\": {\"id\": \"usr_alice\", \"email\": \"alice@example.com\\u0000@evil\"}}", PAM_SUCCESS, NONE, NULL },
		{ "me", "{\"ok\": true, \"data\": {\"id\": \"usr_alice\", \"name\": \"Al\\u0000ice\"}}", PAM_SUCCESS, NONE, NULL },
		/* Escapes of ordinary characters are just those characters. */
		{ "me", "{\"ok\": true, \"data\": {\"id\": \"usr_\\u0061lice\"}}", PAM_SUCCESS, NONE, NULL },
		/* A lone surrogate is not a character. */
		{ "me", "{\"ok\": true, \"data\": {\"id\": \"usr_alice\\ud800\"}}", UNAVAIL, NULL },
	};

	(void)state;
	run_rows("escapes", rows, sizeof rows / sizeof rows[0]);
}

static void duplicate_keys(void **state)
{
	static const struct row rows[] = {
		/* Whichever copy a parser believes, none of these may sign anyone in. */
		{ "create", CREATE("\"code\": \"ABC123\", " CREATE_OK_FIELDS ", \"code\": \"../../x\""), PAM_AUTHINFO_UNAVAIL, PAM_AUTH_ERR, "../" },
		{ "create", CREATE("\"code\": \"ABC123\", " CREATE_OK_FIELDS ", \"verification_url\": \"https://evil.example/\\u001b[2J\""), PAM_AUTHINFO_UNAVAIL, PAM_AUTH_ERR, "evil.example" },
		{ "poll", "{\"status\": \"pending\", \"status\": \"denied\"}", PAM_MAXTRIES, PAM_AUTHINFO_UNAVAIL, NULL },
		/* The approved person is not who the first copy says. */
		{ "me", "{\"ok\": true, \"data\": {\"id\": \"usr_alice\", \"id\": \"usr_mallory\"}}", PAM_AUTH_ERR, PAM_AUTHINFO_UNAVAIL, NULL },
		{ "me", "{\"ok\": true, \"data\": {\"id\": \"usr_alice\"}, \"data\": {\"id\": \"usr_mallory\"}}", PAM_AUTH_ERR, PAM_AUTHINFO_UNAVAIL, NULL },
		{ "me", "{\"ok\": true, \"ok\": false, \"data\": {\"id\": \"usr_alice\"}}", PAM_AUTHINFO_UNAVAIL, NONE, NULL },
	};

	(void)state;
	run_rows("duplicate keys", rows, sizeof rows / sizeof rows[0]);
}

static void verification_url_hostile(void **state)
{
	static const struct row rows[] = {
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"http://evil.example/auth/device?code=ABC123\", \"expires_at\": 4102444800}", UNAVAIL, "evil.example" },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"HTTPS://evil.example/\", \"expires_at\": 4102444800}", UNAVAIL, "evil.example" },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://evil.example/\\u001b[2J\\u001b]0;pwned\\u0007\", \"expires_at\": 4102444800}", UNAVAIL, "evil.example" },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://evil.example/\\u009b31m\", \"expires_at\": 4102444800}", UNAVAIL, "evil.example" },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://evil.example/\\u202egnp.exe\", \"expires_at\": 4102444800}", UNAVAIL, "evil.example" },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://evil.example/\\u2066x\", \"expires_at\": 4102444800}", UNAVAIL, "evil.example" },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://evil.example/a b\", \"expires_at\": 4102444800}", UNAVAIL, "evil.example" },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://evil.example/\\nOpen https://good.example\", \"expires_at\": 4102444800}", UNAVAIL, "evil.example" },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"javascript:alert(1)\", \"expires_at\": 4102444800}", UNAVAIL, "alert" },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://\", \"expires_at\": 4102444800}", UNAVAIL, NULL },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https:///evil\", \"expires_at\": 4102444800}", UNAVAIL, "evil" },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"\", \"expires_at\": 4102444800}", UNAVAIL, NULL },
		/* Longer than NP_URL_MAX (256). */
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://evil.example/"
		            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\", \"expires_at\": 4102444800}", UNAVAIL, "evil.example" },
		/* An authority that hides another host, or that a browser reads as another. */
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://api.nextpay.world%2Fauth%2Fdevice@evil.example/auth/device?code=ABC123\", \"expires_at\": 4102444800}", UNAVAIL, "evil.example" },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://api.nextpay.world:443@evil.example/\", \"expires_at\": 4102444800}", UNAVAIL, "evil.example" },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://api.nextpay.world\\\\.evil.example/\", \"expires_at\": 4102444800}", UNAVAIL, "evil.example" },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://evil%2eexample/\", \"expires_at\": 4102444800}", UNAVAIL, "evil" },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://evil_example.com/\", \"expires_at\": 4102444800}", UNAVAIL, "evil" },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://0x7f.1/auth/device\", \"expires_at\": 4102444800}", UNAVAIL, "0x7f" },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://[::1%25eth0]/\", \"expires_at\": 4102444800}", UNAVAIL, "eth0" },
		{ "create", "{\"code\": \"ABC123\", \"verification_url\": \"https://evil.example:99999/\", \"expires_at\": 4102444800}", UNAVAIL, "evil.example" },
		/* The code goes into the poll path and onto the screen: letters and digits only. */
		{ "create", CREATE("\"code\": \"AB\\u001b[2J\", " CREATE_OK_FIELDS), UNAVAIL, NULL },
		{ "create", CREATE("\"code\": \"ABC 12\", " CREATE_OK_FIELDS), UNAVAIL, NULL },
		{ "create", CREATE("\"code\": \"ABC123ABC123ABC123\", " CREATE_OK_FIELDS), UNAVAIL, NULL },
		{ "create", CREATE("\"code\": \"\\u0410BC123\", " CREATE_OK_FIELDS), UNAVAIL, NULL },
	};

	(void)state;
	run_rows("verification_url", rows, sizeof rows / sizeof rows[0]);
}

static void final_status_words(void **state)
{
	static const struct row rows[] = {
		{ "poll", "{\"status\": \"denied\\u001b[31m\\u202e\\u009b\"}", PAM_MAXTRIES, NONE, NULL },
		{ "poll", "{\"status\": \"\\u001b]0;pwned\\u0007\"}", PAM_MAXTRIES, NONE, NULL },
		{ "poll", "{\"status\": \"cancelled\"}", PAM_MAXTRIES, NONE, NULL },
		/* Invisible characters: a zero-width space, a line separator, a tag, a variation selector. */
		{ "poll", "{\"status\": \"den\\u200bied\\u2028\\udb40\\udc41\\ufe0f\"}", PAM_MAXTRIES, NONE, NULL },
		{ "poll", "{\"status\": \"expired\"}", PAM_AUTH_ERR, NONE, NULL },
		{ "poll", "{\"status\": \"\\ud800\\udfff\\ud800\"}", PAM_MAXTRIES, PAM_AUTHINFO_UNAVAIL, NULL },
		/* Longer than any status word: malformed, not a refusal. */
		{ "poll", "{\"status\": \"deniedxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", UNAVAIL, NULL },
		{ "poll", "{\"status\": \"pending\"} trailing", UNAVAIL, NULL },
	};
	struct script s = { 0 };

	(void)state;
	run_rows("status", rows, sizeof rows / sizeof rows[0]);
	/* Bytes that are no UTF-8 at all. */
	reset(NULL);
	fault("{\"endpoint\": \"poll\", \"kind\": \"body\", \"body_base64\": \"eyJzdGF0dXMiOiAi/v/AgMGBIn0=\"}");
	attempt("status of broken UTF-8", PAM_MAXTRIES, PAM_AUTHINFO_UNAVAIL, 10000, &s);
}

static void names_and_emails_never_shown_raw(void **state)
{
	static const struct row rows[] = {
		{ "me", "{\"ok\": true, \"data\": {\"id\": \"usr_alice\", \"email\": \"alice@example.com\", "
		        "\"name\": \"\\u001b]0;pwned\\u0007\\u001b[2JEvil\\u009b31m\\u202eX\\u2067\"}}", PAM_SUCCESS, NONE, "pwned" },
		/* Refused, the message names the account: the id, as the e-mail is unusable. */
		{ "me", "{\"ok\": true, \"data\": {\"id\": \"usr_zed\", \"email\": \"zed\\u001b[31m@example.com\"}}", PAM_AUTH_ERR, NONE, "zed\x1b" },
		{ "me", "{\"ok\": true, \"data\": {\"id\": \"usr_zed\", \"email\": \"zed@exa\\u202emple.com\"}}", PAM_AUTH_ERR, NONE, "exa" },
		{ "me", "{\"ok\": true, \"data\": {\"id\": \"usr_zed\", \"email\": \"zed@example.com\\u0085x\"}}", PAM_AUTH_ERR, NONE, "example.com" },
	};
	struct script s = { 0 };

	(void)state;
	run_rows("names", rows, sizeof rows / sizeof rows[0]);
	/* The mock's own usr_carol is named "Carol\x1b[31m Evil\x07". */
	reset(NULL);
	auto_approve("usr_carol");
	attempt("usr_carol's name", PAM_SUCCESS, NONE, 10000, &s);
	assert_false(seen_contains(&s.seen, "Evil"));
	/* A refusal shows neither the id nor the e-mail address; the log has the id. */
	memset(&s, 0, sizeof s);
	reset(NULL);
	auto_approve("usr_alice");
	fault_body("me", "{\"ok\": true, \"data\": {\"id\": \"usr_zed\", \"email\": \"zed@x.y\"}}",
	           NULL);
	attempt("refusal text", PAM_AUTH_ERR, NONE, 10000, &s);
	assert_false(seen_contains(&s.seen, "usr_zed"));
	assert_false(seen_contains(&s.seen, "zed@x.y"));
	assert_non_null(strstr(log_text, "nextpay_id=\"usr_zed\""));
	assert_null(strstr(log_text, "zed@x.y"));
}

static void huge_name(void **state)
{
	(void)state;
	/* 60 KiB of name: inside the body cap, far past what is kept. */
	for (int raw_escapes = 0; raw_escapes <= 1; raw_escapes++) {
		struct script s = { 0 };

		reset(NULL);
		auto_approve("usr_alice");
		fault_body("me", "{\"ok\": true, \"data\": {\"id\": \"usr_alice\", \"name\": \"@PAD@\"}}",
		           raw_escapes ? "\"pad\": 61440, \"pad_text\": \"\\u001b\""
		                       : "\"pad\": 61440, \"pad_text\": \"N\"");
		/* Unescaped control characters are no JSON: refusing the answer is fine too. */
		attempt(raw_escapes ? "60 KiB name of raw ESC" : "60 KiB name", PAM_SUCCESS,
		        raw_escapes ? PAM_AUTHINFO_UNAVAIL : NONE, 10000, &s);
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, took)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(slowloris_create),
		T(silent_server_on_create),
		T(slowloris_poll),
		T(slowloris_me),
		T(reset_on_create_every_time),
		T(cut_on_create_every_time),
		T(reset_on_create_once_is_retried),
		T(reset_and_cut_on_poll_once_recover),
		T(reset_on_every_poll),
		T(reset_and_cut_on_me),
		T(certificate_for_another_name),
		T(expired_certificate),
		T(oversized_poll_and_me),
		T(one_byte_over_the_cap),
		T(megabyte_token),
		T(token_one_over_the_limit),
		T(token_at_the_limit_goes_through),
		T(deeply_nested_json),
		T(expires_at_out_of_shape),
		T(wrong_types_everywhere),
		T(nul_and_other_escapes),
		T(duplicate_keys),
		T(verification_url_hostile),
		T(final_status_words),
		T(names_and_emails_never_shown_raw),
		T(huge_name),
	};

	/* NP_TEST_FILTER=name (cmocka's wildcards) runs just those tests. */
	if (getenv("NP_TEST_FILTER") != NULL && getenv("NP_TEST_FILTER")[0] != '\0')
		cmocka_set_test_filter(getenv("NP_TEST_FILTER"));
	return cmocka_run_group_tests_name("hostile", tests, group_setup, group_teardown);
}
