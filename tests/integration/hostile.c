/* SPDX-License-Identifier: BSD-2-Clause */
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
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <security/pam_appl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

#define NONE (-1)                          /* no second acceptable code */
#define CREATE_OK_FIELDS                                                             \
	"\"verification_url\": \"https://127.0.0.1/auth/device?code=ABC123\", "      \
	"\"expires_at\": 4102444800"

static struct mock api, wrongname, expired;

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

static int setup(void **state)
{
	start_timer(state);
	reset_mock(&api);
	return 0;
}

static void fault(const char *json)
{
	mock_fault(&api, json);
}

static void auto_approve(const char *user)
{
	mock_auto(&api, "approve", user, 0);
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

	rc = run_logged(service, test_account(), s, 0);
	verdict(what, rc, want, alt, s, start, bound_ms);
	return rc;
}

/* In poll mode: the first poll comes after poll_interval (1 s). */
static int attempt(const char *what, int want, int alt, long long bound_ms, struct script *s)
{
	return attempt_on("np-poll", what, want, alt, bound_ms, s);
}

/* In prompt mode, answering Enter at once: each answer comes after the next poll (1 s). */
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
	/* One byte a second: only an overall transfer timeout ends it, and it is not retried. */
	write_config(&api, "request_timeout = 2\n");
	fault("{\"endpoint\": \"create\", \"kind\": \"trickle\", \"delay\": 1, \"count\": -1}");
	attempt("trickle on create", PAM_AUTHINFO_UNAVAIL, NONE, 4000, &s);
	assert_true(seen_contains(&s.seen, "could not be reached"));
	assert_int_equal(mock_count(&api, "create"), 1);
}

static void silent_server_on_create(void **state)
{
	struct script s = { 0 };

	(void)state;
	write_config(&api, "request_timeout = 1\n");
	fault("{\"endpoint\": \"create\", \"kind\": \"slow\", \"delay\": 60, \"count\": -1}");
	attempt("no answer to create", PAM_AUTHINFO_UNAVAIL, NONE, 3000, &s);
}

/* ---- a stalled API: the verdict within request_timeout + 2 s, on every path ---- */

#define STALL_TIMEOUT_S 3
#define STALL_BOUND_MS ((STALL_TIMEOUT_S + 2) * 1000)
#define STALL_CONFIG "request_timeout = 3\n"
#define STALL(endpoint) \
	"{\"endpoint\": \"" endpoint "\", \"kind\": \"slow\", \"delay\": 60, \"count\": -1}"
#define ALICE_KEY "npk_alice_0123456789abcdef"

static void stalled_api_on_create(void **state)
{
	struct script s = { 0 };

	(void)state;
	/* Accepts the connection, never answers: one attempt, not three in a row. */
	write_config(&api, STALL_CONFIG);
	fault(STALL("create"));
	attempt("stalled create", PAM_AUTHINFO_UNAVAIL, NONE, STALL_BOUND_MS, &s);
	assert_int_equal(mock_count(&api, "create"), 1);
	assert_non_null(strstr(log_text, "curl error 28"));
}

/* Cache on, with a key of its own, for whoever runs the tests (cache_scope = user). */
static void cache_config(const char *extra)
{
	char overrides[3000];

	snprintf(overrides, sizeof overrides, "cache_scope = user\n%s", extra);
	write_cache_config(&api, "hostile-cache", overrides);
}

static void stalled_api_on_cached_approval(void **state)
{
	struct script first = { 0 }, second = { 0 }, third = { 0 };

	(void)state;
	cache_config(STALL_CONFIG);
	auto_approve("usr_alice");
	attempt("approval to cache", PAM_SUCCESS, NONE, 10000, &first);
	/*
	 * /auth/me stalls: the cached token cannot be checked, and a device flow
	 * against the same stalled API would only keep the person waiting.
	 */
	fault(STALL("me"));
	attempt("stalled /auth/me for a cached approval", PAM_AUTHINFO_UNAVAIL, NONE, STALL_BOUND_MS,
	        &second);
	assert_int_equal(mock_count(&api, "me"), 2);
	assert_int_equal(mock_count(&api, "create"), 1);
	assert_non_null(strstr(log_text, "method=\"cached-approval\""));
	assert_true(seen_contains(&second.seen, "could not be reached"));
	/* A token the API refuses still falls back to a new code. */
	assert_int_equal(mock_post(&api, "reset", "{}"), 200);
	auto_approve("usr_alice");
	assert_int_equal(mock_post(&api, "revoke", "{\"user\": \"usr_alice\"}"), 200);
	attempt("refused cached token", PAM_SUCCESS, NONE, 10000, &third);
	assert_int_equal(mock_count(&api, "create"), 1);
}

static void stalled_api_on_api_key(void **state)
{
	static const char *const endpoints[] = { "token", "me" };

	(void)state;
	/* The exchange stalls, or it answers and /auth/me stalls: one budget for both. */
	for (size_t i = 0; i < 2; i++) {
		struct script s = { 0 };
		char what[64];

		reset_mock(&api);
		write_config(&api, STALL_CONFIG "api_key = yes\nuse_first_pass = yes\n");
		setenv("PAM_AUTHTOK", ALICE_KEY, 1);
		fault(i == 0 ? STALL("token") : STALL("me"));
		snprintf(what, sizeof what, "API key, stalled %s", endpoints[i]);
		attempt_on("np-items", what, PAM_AUTHINFO_UNAVAIL, NONE, STALL_BOUND_MS, &s);
		unsetenv("PAM_AUTHTOK");
		assert_int_equal(mock_count(&api, "token"), 1);
		assert_int_equal(mock_count(&api, "me"), (long)i);
		assert_int_equal(mock_count(&api, "create"), 0);
	}
}

static void retry_after_past_the_budget_is_not_awaited(void **state)
{
	struct script s = { 0 };

	(void)state;
	/* Waiting 30 s for a code would only keep the person waiting for nothing. */
	write_config(&api, STALL_CONFIG);
	fault("{\"endpoint\": \"create\", \"kind\": \"status\", \"status\": 429, "
	      "\"retry_after\": 30}");
	attempt("429 with Retry-After 30 on create", PAM_AUTHINFO_UNAVAIL, NONE, STALL_BOUND_MS, &s);
	assert_int_equal(mock_count(&api, "create"), 1);
}

/*
 * A front for the mock on a port of its own, as a load balancer under a burst:
 * it refuses connections (bound, not listening) until open_after_ms, and then
 * resets the first reset_first connections it accepts; after that it relays
 * each connection to the mock, one at a time.  As an HTTP proxy it first
 * answers the CONNECT request (whatever it names, the tunnel leads to the mock).
 */
struct front {
	int fd;
	int port;
	int open_after_ms;
	int reset_first;
	bool proxy;
	atomic_int resets;
	atomic_int relayed;
	atomic_bool stop;
	pthread_t thread;
};

static int mock_port(void)
{
	return atoi(strrchr(api.url, ':') + 1);
}

static void relay(int a, int b, struct front *f)
{
	char buf[16384];

	while (!atomic_load(&f->stop)) {
		struct pollfd p[2] = { { .fd = a, .events = POLLIN }, { .fd = b, .events = POLLIN } };

		if (poll(p, 2, 100) < 0)
			return;
		for (int i = 0; i < 2; i++) {
			ssize_t n;

			if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0)
				continue;
			n = read(p[i].fd, buf, sizeof buf);
			if (n <= 0 || write(p[1 - i].fd, buf, (size_t)n) != n)
				return;
		}
	}
}

/* Reads a CONNECT request's head and says yes; 0, or -1. */
static int answer_connect(int fd)
{
	static const char yes[] = "HTTP/1.1 200 Connection established\r\n\r\n";
	char head[4096];
	size_t used = 0;

	while (used < sizeof head - 1) {
		ssize_t n = read(fd, head + used, 1);

		if (n != 1)
			return -1;
		head[++used] = '\0';
		if (used >= 4 && memcmp(head + used - 4, "\r\n\r\n", 4) == 0)
			return strncmp(head, "CONNECT ", 8) == 0 &&
			               write(fd, yes, sizeof yes - 1) == (ssize_t)(sizeof yes - 1)
			           ? 0
			           : -1;
	}
	return -1;
}

static void *front_main(void *arg)
{
	struct front *f = arg;
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons((uint16_t)mock_port()),
		                  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	for (long long open_at = now_ms() + f->open_after_ms; now_ms() < open_at;)
		if (atomic_load(&f->stop))
			return NULL;
		else
			usleep(10000);
	if (listen(f->fd, 16) != 0)
		return NULL;
	while (!atomic_load(&f->stop)) {
		struct pollfd p = { .fd = f->fd, .events = POLLIN };
		int in, out;

		if (poll(&p, 1, 100) <= 0)
			continue;
		in = accept(f->fd, NULL, NULL);
		if (in < 0)
			continue;
		if (atomic_load(&f->resets) < f->reset_first) {
			struct linger hard = { .l_onoff = 1, .l_linger = 0 };

			setsockopt(in, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
			close(in);
			atomic_fetch_add(&f->resets, 1);
			continue;
		}
		out = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (out >= 0 && connect(out, (struct sockaddr *)&to, sizeof to) == 0 &&
		    (!f->proxy || answer_connect(in) == 0)) {
			atomic_fetch_add(&f->relayed, 1);
			relay(in, out, f);
		}
		if (out >= 0)
			close(out);
		close(in);
	}
	return NULL;
}

static void front_open(struct front *f, int open_after_ms, int reset_first, bool proxy)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof addr;

	memset(f, 0, sizeof *f);
	f->open_after_ms = open_after_ms;
	f->reset_first = reset_first;
	f->proxy = proxy;
	f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(f->fd >= 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&addr, len), 0);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&addr, &len), 0);
	f->port = ntohs(addr.sin_port);
	assert_int_equal(pthread_create(&f->thread, NULL, front_main, f), 0);
}

/* The front in place of the mock: api_url points at it. */
static void front_start(struct front *f, int open_after_ms, int reset_first)
{
	char overrides[256];

	front_open(f, open_after_ms, reset_first, false);
	snprintf(overrides, sizeof overrides, STALL_CONFIG "api_url = https://127.0.0.1:%d/v1\n",
	         f->port);
	write_config(&api, overrides);
}

static void front_stop(struct front *f)
{
	atomic_store(&f->stop, true);
	pthread_join(f->thread, NULL);
	close(f->fd);
}

static void refused_connections_are_retried(void **state)
{
	struct script s = { 0 };
	struct front f;

	(void)state;
	auto_approve("usr_alice");
	/* Refused for the first half second: the helper tries again, after short pauses. */
	front_start(&f, 500, 0);
	attempt("refused, then accepted", PAM_SUCCESS, NONE, 10000, &s);
	front_stop(&f);
	assert_true(atomic_load(&f.relayed) >= 1);
	assert_int_equal(mock_count(&api, "create"), 1);
}

static void reset_connections_are_retried(void **state)
{
	struct script s = { 0 };
	struct front f;

	(void)state;
	auto_approve("usr_alice");
	/* Accepted and reset at once, twice: the third attempt gets through. */
	front_start(&f, 0, 2);
	attempt("reset twice, then relayed", PAM_SUCCESS, NONE, 10000, &s);
	front_stop(&f);
	assert_int_equal(atomic_load(&f.resets), 2);
	assert_int_equal(mock_count(&api, "create"), 1);
}

static void refused_for_good_ends_within_the_budget(void **state)
{
	struct script s = { 0 };
	struct front f;
	long long start = now_ms();

	(void)state;
	/* Never opens: three attempts with short pauses, then the verdict, well in time. */
	front_start(&f, 60000, 0);
	attempt("refused every time", PAM_AUTHINFO_UNAVAIL, NONE, STALL_BOUND_MS, &s);
	front_stop(&f);
	/* The pauses between the attempts (250 ms, then 500 ms) were taken. */
	assert_true(now_ms() - start >= 700);
	assert_non_null(strstr(log_text, "curl error 7"));
}

/*
 * A stand-in that accepts TCP connections and never says a word, so that
 * every TLS handshake stalls: the connection phase times out after
 * connect_timeout (1 s), well inside request_timeout (3 s), which would leave
 * room for two retries.  A timeout is not retried: it sees one connection.
 */
#define STANDIN_HELD 16

struct silent_standin {
	int fd;
	int port;
	atomic_int connections;
	atomic_bool stop;
	pthread_t thread;
};

static void *silent_standin_main(void *arg)
{
	struct silent_standin *t = arg;
	struct pollfd p[1 + STANDIN_HELD];
	int held = 0;

	p[0] = (struct pollfd){ .fd = t->fd, .events = POLLIN };
	while (!atomic_load(&t->stop)) {
		if (poll(p, (nfds_t)(1 + held), 50) <= 0)
			continue;
		for (int i = held; i >= 1; i--) {
			char buf[4096];

			/* Whatever the client says is read and dropped; its close is ours too. */
			if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0 &&
			    read(p[i].fd, buf, sizeof buf) <= 0) {
				close(p[i].fd);
				p[i] = p[held--];
			}
		}
		if ((p[0].revents & POLLIN) != 0) {
			int in = accept(t->fd, NULL, NULL);

			if (in >= 0) {
				atomic_fetch_add(&t->connections, 1);
				if (held < STANDIN_HELD)
					p[++held] = (struct pollfd){ .fd = in, .events = POLLIN };
				else
					close(in);
			}
		}
	}
	for (int i = 1; i <= held; i++)
		close(p[i].fd);
	return NULL;
}

static void silent_standin_start(struct silent_standin *t)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof addr;

	memset(t, 0, sizeof *t);
	t->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(t->fd >= 0);
	assert_int_equal(bind(t->fd, (struct sockaddr *)&addr, len), 0);
	assert_int_equal(getsockname(t->fd, (struct sockaddr *)&addr, &len), 0);
	assert_int_equal(listen(t->fd, 16), 0);
	t->port = ntohs(addr.sin_port);
	assert_int_equal(pthread_create(&t->thread, NULL, silent_standin_main, t), 0);
}

/* How many connections it took: waits a moment for one still queued to be accepted. */
static int silent_standin_stop(struct silent_standin *t)
{
	usleep(200000);
	atomic_store(&t->stop, true);
	pthread_join(t->thread, NULL);
	close(t->fd);
	return atomic_load(&t->connections);
}

#define STALLED_HANDSHAKE "request_timeout = 3\nconnect_timeout = 1\n"

static void stalled_handshake_is_not_retried(void **state)
{
	static const char *const requests[] = { "creating a code", "/auth/token", "/auth/me" };
	static const char *const methods[] = { "device-code", "api-key", "cached-approval" };
	char dir[1024], key[1024], cache_settings[3000];
	int connections[3];

	(void)state;
	/* For /auth/me: an approval cached first, from the mock, in the user scope. */
	snprintf(dir, sizeof dir, "%s/hostile-cache", test_dir());
	snprintf(key, sizeof key, "%s/conf/hostile-cache.key", test_dir());
	snprintf(cache_settings, sizeof cache_settings,
	         "cache = yes\ncache_dir = %s\ncache_key = %s\ncache_scope = user\n", dir, key);
	for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
		struct silent_standin standin;
		struct script s = { 0 };
		char settings[4096];

		reset_mock(&api);
		unsetenv("PAM_AUTHTOK");
		if (i == 2) {
			auto_approve("usr_alice");
			cache_config(STALLED_HANDSHAKE);
			/* On the same service: the user scope holds it. */
			attempt_on("np-items", "an approval to cache", PAM_SUCCESS, NONE, 10000, &s);
			memset(&s, 0, sizeof s);
		}
		silent_standin_start(&standin);
		snprintf(settings, sizeof settings, "%s%sapi_url = https://127.0.0.1:%d/v1\n%s",
		         STALLED_HANDSHAKE, i == 1 ? "api_key = yes\nuse_first_pass = yes\n" : "",
		         standin.port, i == 2 ? cache_settings : "");
		write_config(&api, settings);
		if (i == 1)
			setenv("PAM_AUTHTOK", ALICE_KEY, 1);
		fprintf(stderr, "  %s, stalled in the TLS handshake\n", requests[i]);
		attempt_on(i == 0 ? "np-poll" : "np-items", requests[i], PAM_AUTHINFO_UNAVAIL, NONE,
		           STALL_BOUND_MS, &s);
		unsetenv("PAM_AUTHTOK");
		connections[i] = silent_standin_stop(&standin);
		if (connections[i] != 1)
			fprintf(stderr, "  %s: %d connections to the stalled API\n", requests[i],
			        connections[i]);
		assert_non_null(strstr(log_text, "curl error 28"));
		/* The request that stalled was the one meant: a cached approval starts no device flow. */
		snprintf(settings, sizeof settings, "method=\"%s\"", methods[i]);
		assert_non_null(strstr(log_text, settings));
	}
	for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++)
		assert_int_equal(connections[i], 1);
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
	assert_int_equal(mock_post(&api, "config", "{\"code_ttl\": 4}"), 200);
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

/* ---- every network path the helper's system call filter must let through ---- */

static int closed_port(void)
{
	struct sockaddr_in6 addr = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t len = sizeof addr;
	int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
	port = ntohs(addr.sin6_port);
	close(fd);
	return port;
}

/* The configuration without ca_file: libcurl's own trust store, read only when it connects. */
static void config_with_system_store(void)
{
	char path[1024], text[2048];

	snprintf(path, sizeof path, "%s/conf/current.conf", test_dir());
	snprintf(text, sizeof text,
	         "api_url = %s\nusermap = %s/conf/users\nhelper = %s\npoll_interval = 1\n"
	         "cache = no\nrequest_timeout = 3\n",
	         api.url, test_dir(), getenv("NP_HELPER"));
	write_file(path, text, 0644);
}

static void network_paths_pass_the_filter(void **state)
{
	struct front proxy;
	char overrides[512], port[16];
	int probe = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool have_ipv6 = probe >= 0;
	/* Each row sets before + a port (the mock's, or the proxy's) + after. */
	const struct {
		const char *what;
		const char *before, *after;
		bool via_proxy;
		int want;
		const char *logged;
	} rows[] = {
		/* A host name from /etc/hosts: libcurl's resolver thread, glibc's files. */
		{ "a host name", "api_url = https://localhost:", "/v1", false, PAM_SUCCESS, NULL },
		/* An explicit proxy, by address and by name: CONNECT, then TLS through it. */
		{ "a proxy", "proxy = http://127.0.0.1:", "", true, PAM_SUCCESS, NULL },
		{ "a proxy by name", "proxy = http://localhost:", "", true, PAM_SUCCESS, NULL },
		/* A name only DNS could know: resolv.conf, UDP (or no answer in time). */
		{ "a name for DNS", "api_url = https://nextpay.invalid:", "/v1", false,
		  PAM_AUTHINFO_UNAVAIL, "curl error" },
	};

	(void)state;
	if (probe >= 0)
		close(probe);
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct script s = { 0 };

		reset_mock(&api);
		auto_approve("usr_alice");
		snprintf(port, sizeof port, "%d", mock_port());
		if (rows[i].via_proxy) {
			front_open(&proxy, 0, 0, true);
			snprintf(port, sizeof port, "%d", proxy.port);
		}
		snprintf(overrides, sizeof overrides, "request_timeout = 3\n%s%s%s\n", rows[i].before,
		         port, rows[i].after);
		write_config(&api, overrides);
		attempt(rows[i].what, rows[i].want, NONE, STALL_BOUND_MS + 2000, &s);
		if (rows[i].via_proxy) {
			front_stop(&proxy);
			assert_true(atomic_load(&proxy.relayed) >= 1);
		}
		assert_null(strstr(log_text, "SIGSYS"));
		if (rows[i].logged != NULL)
			assert_non_null(strstr(log_text, rows[i].logged));
	}
	/* IPv6: a refused connection to ::1 (the mock listens on IPv4 only). */
	if (have_ipv6) {
		struct script s = { 0 };

		reset_mock(&api);
		snprintf(overrides, sizeof overrides, "api_url = https://[::1]:%d/v1\n", closed_port());
		write_config(&api, overrides);
		attempt("IPv6", PAM_AUTHINFO_UNAVAIL, NONE, STALL_BOUND_MS, &s);
		assert_null(strstr(log_text, "SIGSYS"));
		assert_non_null(strstr(log_text, "curl error 7"));
	}
	/* The system trust store, which OpenSSL reads only at the handshake: it fails, but as TLS. */
	{
		struct script s = { 0 };

		reset_mock(&api);
		config_with_system_store();
		attempt("the system trust store", PAM_AUTHINFO_UNAVAIL, NONE, STALL_BOUND_MS, &s);
		assert_null(strstr(log_text, "SIGSYS"));
		assert_non_null(strstr(log_text, "tls: curl error 60"));
	}
}

/* ---- connections dropped mid-answer ---- */

static void reset_on_create_every_time(void **state)
{
	struct script s = { 0 };

	(void)state;
	write_config(&api, STALL_CONFIG);
	fault("{\"endpoint\": \"create\", \"kind\": \"reset\", \"count\": -1}");
	attempt("reset on create", PAM_AUTHINFO_UNAVAIL, NONE, STALL_BOUND_MS, &s);
	/* Retried, with short pauses that fit in the budget, but not without end. */
	assert_int_equal(mock_count(&api, "create"), 3);
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
	assert_int_equal(mock_post(&api, "config", "{\"code_ttl\": 4}"), 200);
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

		reset_mock(&api);
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
	assert_int_equal(mock_post(&wrongname, "reset", "{}"), 200);
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
	char b64[128] = "";

	assert_int_equal(run_shell_output(b64, sizeof b64,
	                                  "openssl x509 -in %s/expired.crt -pubkey -noout "
	                                  "| openssl pkey -pubin -outform der "
	                                  "| openssl dgst -sha256 -binary | openssl enc -base64",
	                                  expired.dir),
	                 0);
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

			reset_mock(&api);
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

		reset_mock(&api);
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
	char cache_dir[1024], key[1024], overrides[2300];
	char *bearer = malloc(16384);

	(void)state;
	assert_non_null(bearer);
	/* With the cache on, the token also crosses the module<->helper pipe. */
	snprintf(cache_dir, sizeof cache_dir, "%s/hostile-cache", test_dir());
	snprintf(key, sizeof key, "%s/conf/hostile.key", test_dir());
	assert_int_equal(run_shell("rm -rf %s %s && head -c 32 /dev/urandom > %s && chmod 600 %s",
	                           cache_dir, key, key, key),
	                 0);
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

			reset_mock(&api);
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

		reset_mock(&api);
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
	reset_mock(&api);
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
	reset_mock(&api);
	auto_approve("usr_carol");
	attempt("usr_carol's name", PAM_SUCCESS, NONE, 10000, &s);
	assert_false(seen_contains(&s.seen, "Evil"));
	/* A refusal shows neither the id nor the e-mail address; the log has the id. */
	memset(&s, 0, sizeof s);
	reset_mock(&api);
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

		reset_mock(&api);
		auto_approve("usr_alice");
		fault_body("me", "{\"ok\": true, \"data\": {\"id\": \"usr_alice\", \"name\": \"@PAD@\"}}",
		           raw_escapes ? "\"pad\": 61440, \"pad_text\": \"\\u001b\""
		                       : "\"pad\": 61440, \"pad_text\": \"N\"");
		/* Unescaped control characters are no JSON: refusing the answer is fine too. */
		attempt(raw_escapes ? "60 KiB name of raw ESC" : "60 KiB name", PAM_SUCCESS,
		        raw_escapes ? PAM_AUTHINFO_UNAVAIL : NONE, 10000, &s);
	}
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, report_time)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(slowloris_create),
		T(silent_server_on_create),
		T(stalled_api_on_create),
		T(stalled_api_on_cached_approval),
		T(stalled_api_on_api_key),
		T(stalled_handshake_is_not_retried),
		T(retry_after_past_the_budget_is_not_awaited),
		T(refused_connections_are_retried),
		T(reset_connections_are_retried),
		T(refused_for_good_ends_within_the_budget),
		T(network_paths_pass_the_filter),
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
