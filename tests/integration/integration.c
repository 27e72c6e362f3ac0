/*
 * The module through the real libpam, the real helper, the HTTPS mock API.
 * Every test asserts on the PAM code and on what the person saw.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>

#include "harness.h"

static struct mock api;

static int group_setup(void **state)
{
	char usermap[1024];

	(void)state;
	if (mock_start(&api, "mock", NULL) != 0)
		return -1;
	snprintf(usermap, sizeof usermap,
	         "# test identities\n"
	         "usr_alice   %s\n"
	         "bob.builder@example.com\tdaemon\n",
	         test_account());
	write_usermap(usermap);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	mock_stop(&api);
	return 0;
}

/* Every test starts from a fresh mock and the standard settings. */
static int reset(void **state)
{
	(void)state;
	assert_int_equal(mock_post(&api, "/_mock/reset", "{}"), 200);
	write_config(&api, NULL);
	return 0;
}

static void auto_decide(const char *action, const char *user, double after)
{
	char json[256];

	snprintf(json, sizeof json, "{\"auto\": {\"action\": \"%s\", \"user\": \"%s\", \"after\": %.2f}}",
	         action, user, after);
	assert_int_equal(mock_post(&api, "/_mock/config", json), 200);
}

static void fault(const char *json)
{
	assert_int_equal(mock_post(&api, "/_mock/fault", json), 200);
}

static void expect_rc(int got, int want, const struct script *s)
{
	if (got != want) {
		fprintf(stderr, "expected %s, got %s; the person saw:\n", pam_strerror(NULL, want),
		        pam_strerror(NULL, got));
		seen_dump(&s->seen);
	}
	assert_int_equal(got, want);
}

/* The instructions name host, account, URL and code, and how long the code lives. */
static void assert_instructions(const struct script *s, int style)
{
	char code[32], url[512];
	char host[256] = "";

	mock_last_code(&api, code, sizeof code);
	assert_true(code[0] != '\0');
	/* The mock's approval page lives at its root, beside /v1. */
	snprintf(url, sizeof url, "%.*s/auth/device?code=%s", (int)(strlen(api.url) - 3), api.url,
	         code);
	gethostname(host, sizeof host - 1);
	assert_true(s->seen.count >= 1);
	assert_int_equal(s->seen.style[0], style);
	assert_non_null(strstr(s->seen.text[0], url));
	assert_non_null(strstr(s->seen.text[0], code));
	assert_non_null(strstr(s->seen.text[0], test_account()));
	assert_non_null(strstr(s->seen.text[0], host));
	assert_non_null(strstr(s->seen.text[0], "valid for"));
	assert_false(seen_has_control_chars(&s->seen));
}

/* ---- approval ---- */

static void approve_in_poll_mode(void **state)
{
	struct script s = { 0 };

	(void)state;
	auto_decide("approve", "usr_alice", 1.0);
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_SUCCESS, &s);
	assert_instructions(&s, PAM_TEXT_INFO);
	assert_non_null(strstr(s.seen.text[0], "Waiting for your approval"));
	assert_int_equal(s.seen.count, 1);
	assert_int_equal(mock_count(&api, "create"), 1);
	assert_int_equal(mock_count(&api, "me"), 1);
	/* One connection carries the whole sign-in. */
	assert_int_equal(mock_count(&api, "connections"), 1);
}

static void approve_shown_under_pam_silent(void **state)
{
	struct script s = { 0 };

	(void)state;
	auto_decide("approve", "usr_alice", 0.5);
	expect_rc(run_auth("np-poll", test_account(), &s, PAM_SILENT), PAM_SUCCESS, &s);
	assert_instructions(&s, PAM_TEXT_INFO);
}

static void approve_in_prompt_mode(void **state)
{
	struct script s = { .answers = { "" }, .delay_ms = { 1500 } };

	(void)state;
	auto_decide("approve", "usr_alice", 0.5);
	expect_rc(run_auth("np-prompt", test_account(), &s, 0), PAM_SUCCESS, &s);
	assert_instructions(&s, PAM_PROMPT_ECHO_OFF);
	assert_non_null(strstr(s.seen.text[0], "Press Enter"));
	assert_int_equal(s.prompts_answered, 1);
}

static void enter_before_approval_keeps_waiting(void **state)
{
	struct script s = { .answers = { "", "" }, .delay_ms = { 0, 2500 } };

	(void)state;
	auto_decide("approve", "usr_alice", 2.0);
	expect_rc(run_auth("np-prompt", test_account(), &s, 0), PAM_SUCCESS, &s);
	assert_int_equal(s.prompts_answered, 2);
	assert_int_equal(s.seen.style[1], PAM_PROMPT_ECHO_OFF);
	assert_non_null(strstr(s.seen.text[1], "Still waiting"));
	assert_int_equal(mock_count(&api, "create"), 1);
}

static void typed_text_at_prompt_is_refused(void **state)
{
	/* What sshd's password authentication does: answer every prompt with the password. */
	struct script s = { .answers = { "hunter2", "hunter2", "hunter2" } };

	(void)state;
	expect_rc(run_auth("np-prompt", test_account(), &s, 0), PAM_AUTH_ERR, &s);
	/*
	 * sshd shows text only with a prompt: the reason comes with a last one
	 * (which sshd answers with the password again, and that is the end).
	 */
	assert_int_equal(s.prompts_answered, 2);
	assert_int_equal(s.seen.style[1], PAM_PROMPT_ECHO_OFF);
	assert_non_null(strstr(s.seen.text[1], "takes no password"));
	assert_non_null(strstr(s.seen.text[1], "Press Enter to close"));
	assert_false(seen_contains(&s.seen, "hunter2"));
}

static void sshd_service_prompts_by_default(void **state)
{
	struct script s = { .answers = { "" }, .delay_ms = { 1200 } };

	(void)state;
	auto_decide("approve", "usr_alice", 0.2);
	expect_rc(run_auth("sshd", test_account(), &s, 0), PAM_SUCCESS, &s);
	assert_int_equal(s.seen.style[0], PAM_PROMPT_ECHO_OFF);
}

static void other_service_polls_by_default(void **state)
{
	struct script s = { 0 };

	(void)state;
	auto_decide("approve", "usr_alice", 0.2);
	expect_rc(run_auth("np-auto", test_account(), &s, 0), PAM_SUCCESS, &s);
	assert_int_equal(s.seen.style[0], PAM_TEXT_INFO);
}

/* ---- which sshd: ssh_info ---- */

/* This test program is no sshd: wait = auto prompts, and the log says why. */
static void sshd_of_no_known_release_prompts_and_says_why(void **state)
{
	struct script s = { .answers = { "" }, .delay_ms = { 1200 } };
	char log[8192];
	int rc;

	(void)state;
	write_config(&api, "debug = yes\n");
	auto_decide("approve", "usr_alice", 0.2);
	log_capture_begin();
	rc = run_auth("sshd", test_account(), &s, 0);
	log_capture_end(log, sizeof log);
	expect_rc(rc, PAM_SUCCESS, &s);
	assert_int_equal(s.seen.style[0], PAM_PROMPT_ECHO_OFF);
	if (strstr(log, "prompt mode: information held back (no OpenSSH release string in ") == NULL ||
	    strstr(log, "/integration)") == NULL)
		fail_msg("no wait mode line in the log:\n%s", log);
}

static void sshd_said_immediate_polls(void **state)
{
	struct script s = { 0 };

	(void)state;
	write_config(&api, "ssh_info = immediate\n");
	auto_decide("approve", "usr_alice", 0.5);
	expect_rc(run_auth("sshd", test_account(), &s, 0), PAM_SUCCESS, &s);
	assert_instructions(&s, PAM_TEXT_INFO);
	assert_non_null(strstr(s.seen.text[0], "Waiting for your approval"));
	assert_int_equal(s.prompts_answered, 0);
}

static void sshd_said_held_prompts(void **state)
{
	struct script s = { .answers = { "" }, .delay_ms = { 1200 } };

	(void)state;
	write_config(&api, "ssh_info = held\n");
	auto_decide("approve", "usr_alice", 0.2);
	expect_rc(run_auth("sshd", test_account(), &s, 0), PAM_SUCCESS, &s);
	assert_instructions(&s, PAM_PROMPT_ECHO_OFF);
	assert_int_equal(s.prompts_answered, 1);
}

/* wait = prompt on an sshd that shows information at once: no "Press Enter to close". */
static void immediate_sshd_gives_the_reason_without_a_last_prompt(void **state)
{
	struct script s = { .answers = { "", "" }, .delay_ms = { 1500, 0 } };

	(void)state;
	write_config(&api, "ssh_info = immediate\nwait = prompt\n");
	auto_decide("deny", "usr_alice", 0.3);
	expect_rc(run_auth("sshd", test_account(), &s, 0), PAM_MAXTRIES, &s);
	assert_int_equal(s.prompts_answered, 1);
	assert_int_equal(s.seen.count, 2);
	assert_int_equal(s.seen.style[1], PAM_ERROR_MSG);
	assert_non_null(strstr(s.seen.text[1], "denied"));
	assert_false(seen_contains(&s.seen, "Press Enter to close"));
}

static void ssh_info_is_only_for_sshd(void **state)
{
	struct script s = { 0 };

	(void)state;
	write_config(&api, "ssh_info = held\n");
	auto_decide("approve", "usr_alice", 0.2);
	expect_rc(run_auth("np-auto", test_account(), &s, 0), PAM_SUCCESS, &s);
	assert_int_equal(s.seen.style[0], PAM_TEXT_INFO);
	assert_int_equal(s.prompts_answered, 0);
}

static void email_rule_matches_without_case(void **state)
{
	struct script s = { 0 };

	(void)state;
	/* The mock's address for usr_bob is Bob.Builder@Example.COM. */
	auto_decide("approve", "usr_bob", 0.2);
	expect_rc(run_auth("np-poll", "daemon", &s, 0), PAM_SUCCESS, &s);
}

/* ---- refusals ---- */

static void deny_is_maxtries(void **state)
{
	struct script s = { 0 };

	(void)state;
	auto_decide("deny", "usr_alice", 0.5);
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_MAXTRIES, &s);
	assert_int_equal(s.seen.style[s.seen.count - 1], PAM_ERROR_MSG);
	assert_true(seen_contains(&s.seen, "denied"));
}

static void denial_is_final_for_the_handle(void **state)
{
	struct script s = { 0 };
	int rcs[2] = { 0, 0 };

	(void)state;
	/* sudo 1.9 calls pam_authenticate again after PAM_MAXTRIES: no second code. */
	auto_decide("deny", "usr_alice", 0.3);
	assert_int_equal(run_auth_twice("np-poll", test_account(), &s, PAM_MAXTRIES, rcs), 0);
	assert_int_equal(rcs[0], PAM_MAXTRIES);
	assert_int_equal(rcs[1], PAM_MAXTRIES);
	assert_int_equal(mock_count(&api, "create"), 1);
}

static void expired_code(void **state)
{
	struct script s = { 0 };

	(void)state;
	assert_int_equal(mock_post(&api, "/_mock/config", "{\"code_ttl\": 2}"), 200);
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_AUTH_ERR, &s);
	assert_true(seen_contains(&s.seen, "expired"));
}

static void login_timeout(void **state)
{
	struct script s = { 0 };
	long long start = now_ms();

	(void)state;
	write_config(&api, "login_timeout = 10\n");
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_AUTH_ERR, &s);
	assert_true(now_ms() - start >= 9500);
	assert_true(seen_contains(&s.seen, "valid for 10 seconds"));
	assert_true(seen_contains(&s.seen, "expired"));
}

static void approved_but_not_mapped(void **state)
{
	struct script s = { 0 };

	(void)state;
	/* usr_bob maps to daemon, not to the account signing in. */
	auto_decide("approve", "usr_bob", 0.2);
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_AUTH_ERR, &s);
	assert_true(seen_contains(&s.seen, "may not sign in as"));
	assert_true(seen_contains(&s.seen, "Bob.Builder@Example.COM"));
}

static void unmapped_identity_without_rules(void **state)
{
	struct script s = { 0 };

	(void)state;
	auto_decide("approve", "usr_carol", 0.2);
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_AUTH_ERR, &s);
	assert_false(seen_has_control_chars(&s.seen));
}

static void unknown_account(void **state)
{
	struct script s = { 0 };

	(void)state;
	expect_rc(run_auth("np-poll", "np-no-such-user", &s, 0), PAM_USER_UNKNOWN, &s);
	/* No code is created for an account that cannot log in. */
	assert_int_equal(mock_count(&api, "create"), 0);
	assert_int_equal(s.seen.count, 0);
}

static void conversation_failure(void **state)
{
	struct script s = { .fail = true };

	(void)state;
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_CONV_ERR, &s);
}

static void denial_reason_comes_with_a_last_prompt(void **state)
{
	struct script s = { .answers = { "", "" }, .delay_ms = { 1500, 0 } };

	(void)state;
	auto_decide("deny", "usr_alice", 0.3);
	expect_rc(run_auth("np-prompt", test_account(), &s, 0), PAM_MAXTRIES, &s);
	assert_int_equal(s.prompts_answered, 2);
	assert_int_equal(s.seen.style[1], PAM_PROMPT_ECHO_OFF);
	assert_non_null(strstr(s.seen.text[1], "denied"));
	assert_non_null(strstr(s.seen.text[1], "Press Enter to close"));
}

static void no_answer_is_conversation_failure(void **state)
{
	struct script s = { .answers = { NULL } };

	(void)state;
	expect_rc(run_auth("np-prompt", test_account(), &s, 0), PAM_CONV_ERR, &s);
}

/* ---- the network ---- */

static int closed_port(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof addr;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
	port = ntohs(addr.sin_port);
	close(fd);
	return port;
}

static void api_down(void **state)
{
	struct script s = { 0 };
	char overrides[256];

	(void)state;
	snprintf(overrides, sizeof overrides, "api_url = https://127.0.0.1:%d/v1\n", closed_port());
	write_config(&api, overrides);
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
	assert_true(seen_contains(&s.seen, "could not be reached"));
}

static void untrusted_ca(void **state)
{
	struct script s = { 0 };

	(void)state;
	write_config(&api, "ca_file = /etc/ssl/certs/ca-certificates.crt\n");
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
	assert_int_equal(mock_count(&api, "create"), 0);
}

static void pin_matches(void **state)
{
	struct script s = { 0 };
	char overrides[256];

	(void)state;
	auto_decide("approve", "usr_alice", 0.2);
	snprintf(overrides, sizeof overrides, "pinned_pubkey = %s\n", api.pin);
	write_config(&api, overrides);
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_SUCCESS, &s);
}

static void pin_mismatch(void **state)
{
	struct script s = { 0 };
	char overrides[256];

	(void)state;
	snprintf(overrides, sizeof overrides, "pinned_pubkey = %s\n", api.otherpin);
	write_config(&api, overrides);
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
	assert_int_equal(mock_count(&api, "create"), 0);
}

static void garbage_answer(void **state)
{
	struct script s = { 0 };

	(void)state;
	fault("{\"endpoint\": \"create\", \"kind\": \"garbage\"}");
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
}

static void garbage_while_polling(void **state)
{
	struct script s = { 0 };

	(void)state;
	fault("{\"endpoint\": \"poll\", \"kind\": \"garbage\"}");
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
	assert_int_equal(mock_count(&api, "me"), 0);
}

static void server_errors_then_success(void **state)
{
	struct script s = { 0 };

	(void)state;
	auto_decide("approve", "usr_alice", 0.2);
	fault("{\"endpoint\": \"poll\", \"kind\": \"status\", \"status\": 503, \"count\": 2}");
	fault("{\"endpoint\": \"poll\", \"kind\": \"html\"}");
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_SUCCESS, &s);
	assert_true(mock_count(&api, "poll") >= 4);
}

static void create_retried_after_server_error(void **state)
{
	struct script s = { 0 };

	(void)state;
	auto_decide("approve", "usr_alice", 0.2);
	fault("{\"endpoint\": \"create\", \"kind\": \"status\", \"status\": 502}");
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_SUCCESS, &s);
	assert_int_equal(mock_count(&api, "create"), 2);
}

static void rate_limited_honours_retry_after(void **state)
{
	struct script s = { 0 };
	long long start = now_ms();

	(void)state;
	auto_decide("approve", "usr_alice", 0.0);
	fault("{\"endpoint\": \"poll\", \"kind\": \"status\", \"status\": 429, \"retry_after\": 3}");
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_SUCCESS, &s);
	/* First poll after 1 s gets 429; the next waits the 3 s asked for, not poll_interval. */
	assert_true(now_ms() - start >= 3900);
	assert_int_equal(mock_count(&api, "poll"), 2);
}

static void control_characters_in_url_refused(void **state)
{
	struct script s = { 0 };

	(void)state;
	fault("{\"endpoint\": \"create\", \"kind\": \"body\", \"body\": {\"code\": \"ABC123\", "
	      "\"verification_url\": \"https://evil.example/\\u001b[2J\\u001b]0;pwned\\u0007\", "
	      "\"expires_at\": 4102444800}}");
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
	assert_false(seen_has_control_chars(&s.seen));
	assert_false(seen_contains(&s.seen, "evil.example"));
}

static void path_traversal_code_refused(void **state)
{
	struct script s = { 0 };

	(void)state;
	fault("{\"endpoint\": \"create\", \"kind\": \"body\", \"body\": {\"code\": \"../x\", "
	      "\"verification_url\": \"https://127.0.0.1/auth/device\", \"expires_at\": 4102444800}}");
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
	assert_int_equal(mock_count(&api, "poll"), 0);
}

static void oversized_answer_refused(void **state)
{
	struct script s = { 0 };

	(void)state;
	fault("{\"endpoint\": \"create\", \"kind\": \"oversized\", \"size\": 1048576}");
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
}

static void oversized_chunked_answer_refused(void **state)
{
	struct script s = { 0 };

	(void)state;
	fault("{\"endpoint\": \"create\", \"kind\": \"oversized\", \"size\": 1048576, "
	      "\"chunked\": true}");
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
}

static void caller_environment_never_reaches_libcurl(void **state)
{
	struct script s = { 0 };
	char keylog[1024];
	const char *vars[] = { "https_proxy", "HTTPS_PROXY", "http_proxy", "ALL_PROXY", "all_proxy" };

	(void)state;
	snprintf(keylog, sizeof keylog, "%s/keylog.txt", test_dir());
	unlink(keylog);
	/* A proxy that does not exist: if libcurl used it, the sign-in would fail. */
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		setenv(vars[i], "http://127.0.0.1:9", 1);
	setenv("SSLKEYLOGFILE", keylog, 1);
	setenv("CURL_CA_BUNDLE", "/nonexistent", 1);
	auto_decide("approve", "usr_alice", 0.2);
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_SUCCESS, &s);
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
	unsetenv("SSLKEYLOGFILE");
	unsetenv("CURL_CA_BUNDLE");
	assert_int_equal(access(keylog, F_OK), -1);
}

/* ---- configuration and policy ---- */

static void unknown_setting_is_service_error(void **state)
{
	struct script s = { 0 };

	(void)state;
	write_config(&api, "no_such_setting = 1\n");
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_SERVICE_ERR, &s);
	assert_int_equal(mock_count(&api, "create"), 0);
}

static void plain_http_is_service_error(void **state)
{
	struct script s = { 0 };

	(void)state;
	write_config(&api, "api_url = http://127.0.0.1:9/v1\n");
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_SERVICE_ERR, &s);
}

static void unsafe_usermap_is_service_error(void **state)
{
	struct script s = { 0 };
	char path[1024], overrides[1200];

	(void)state;
	snprintf(path, sizeof path, "%s/conf/users-unsafe", test_dir());
	write_file(path, "usr_alice root\n", 0666);
	snprintf(overrides, sizeof overrides, "usermap = %s\n", path);
	write_config(&api, overrides);
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_SERVICE_ERR, &s);
	assert_int_equal(mock_count(&api, "create"), 0);
}

static void missing_helper_is_service_error(void **state)
{
	struct script s = { 0 };

	(void)state;
	write_config(&api, "helper = /nonexistent/nextpay-helper\n");
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_SERVICE_ERR, &s);
}

static void skipped_service_is_ignored(void **state)
{
	struct script s = { 0 };

	(void)state;
	/* np-skip's stack turns the module's PAM_IGNORE into pam_deny's PAM_AUTH_ERR. */
	write_config(&api, "skip_services = cron,NP-SKIP\n");
	expect_rc(run_auth("np-skip", test_account(), &s, 0), PAM_AUTH_ERR, &s);
	assert_int_equal(s.seen.count, 0);
	assert_int_equal(mock_count(&api, "create"), 0);
}

static void skip_list_does_not_match_other_services(void **state)
{
	struct script s = { 0 };

	(void)state;
	/* A service not on the list (np-skip is not "np-ski") runs the sign-in: here, fails it. */
	write_config(&api, "skip_services = cron,np-ski\n");
	auto_decide("deny", "usr_alice", 0.2);
	expect_rc(run_auth("np-skip", test_account(), &s, 0), PAM_MAXTRIES, &s);
	assert_int_equal(mock_count(&api, "create"), 1);
}

static void host_ignoring_sigchld_is_restored(void **state)
{
	struct script s = { 0 };
	struct sigaction ign = { .sa_handler = SIG_IGN }, after;

	(void)state;
	sigaction(SIGCHLD, &ign, NULL);
	auto_decide("approve", "usr_alice", 0.2);
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_SUCCESS, &s);
	sigaction(SIGCHLD, NULL, &after);
	assert_true(after.sa_handler == SIG_IGN);
	signal(SIGCHLD, SIG_DFL);
	/* The host's own SIGPIPE disposition (default here) is back as well. */
	sigaction(SIGPIPE, NULL, &after);
	assert_true(after.sa_handler == SIG_DFL);
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = calloc(1, 65536);

	assert_non_null(f);
	assert_non_null(text);
	assert_true(fread(text, 1, 65535, f) > 0);
	fclose(f);
	return text;
}

static void helper_gets_nothing_but_its_pipes(void **state)
{
	struct script s = { 0 };
	char dir[1024], helper[1100], report[1100], overrides[1200], cmd[2400];
	char *text;

	(void)state;
	snprintf(dir, sizeof dir, "%s/fake", test_dir());
	snprintf(helper, sizeof helper, "%s/nextpay-helper", dir);
	snprintf(report, sizeof report, "%s/report", dir);
	snprintf(cmd, sizeof cmd, "mkdir -p %s && install -m 0755 %s %s && rm -f %s", dir,
	         getenv("NP_FAKE_HELPER"), helper, report);
	assert_int_equal(system(cmd), 0);
	snprintf(overrides, sizeof overrides, "helper = %s\n", helper);
	write_config(&api, overrides);
	/* What a sudo caller might have in its environment and signal state. */
	setenv("https_proxy", "http://127.0.0.1:9", 1);
	setenv("SSLKEYLOGFILE", "/tmp/keys", 1);
	signal(SIGPIPE, SIG_IGN);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, NULL);
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	signal(SIGPIPE, SIG_DFL);
	unsetenv("https_proxy");
	unsetenv("SSLKEYLOGFILE");
	text = slurp(report);
	fprintf(stderr, "%s", text);
	assert_non_null(strstr(text, "env 0\n"));
	assert_non_null(strstr(text, "fd 0 pipe\n"));
	assert_non_null(strstr(text, "fd 1 pipe\n"));
	assert_non_null(strstr(text, "fd 2 /dev/null\n"));
	assert_null(strstr(text, "fd 3"));
	assert_null(strstr(text, "fd 4"));
	assert_non_null(strstr(text, "own-session yes\n"));
	assert_non_null(strstr(text, "sigpipe default\n"));
	assert_non_null(strstr(text, "sigterm-blocked no\n"));
	free(text);
}

/* Columns of a UTF-8 line (every character here is one column wide). */
static size_t columns(const char *line, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		if (((unsigned char)line[i] & 0xC0) != 0x80)
			n++;
	return n;
}

static void qr_code_reads_back_as_the_url(void **state)
{
	struct script s = { 0 };
	char path[1024], cmd[2400], decoded[512] = "", url[512], code[32];
	FILE *f;

	(void)state;
	if (getenv("NP_HAVE_QR") == NULL || strcmp(getenv("NP_HAVE_QR"), "yes") != 0 ||
	    system("command -v zbarimg >/dev/null") != 0) {
		fprintf(stderr, "skipped: this build has no libqrencode, or zbarimg is missing\n");
		skip();
	}
	write_config(&api, "qr = yes\n");
	auto_decide("approve", "usr_alice", 0.5);
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_SUCCESS, &s);
	/* The drawing comes first, then the written instructions. */
	assert_true(s.seen.count >= 2);
	snprintf(path, sizeof path, "%s/qr.txt", test_dir());
	f = fopen(path, "w");
	assert_non_null(f);
	for (int i = 0; i < s.seen.count; i++) {
		const char *text = s.seen.text[i];

		if (strstr(text, "NextPay sign-in") != NULL)
			break;
		assert_int_equal(s.seen.style[i], PAM_TEXT_INFO);
		/* Fits an 80-column terminal, and no message ends in a blank line. */
		for (const char *line = text; *line != '\0';) {
			const char *end = strchr(line, '\n');
			size_t len = end != NULL ? (size_t)(end - line) : strlen(line);

			assert_true(columns(line, len) <= 80);
			assert_true(len > 0);
			line += len + (end != NULL ? 1 : 0);
		}
		fprintf(f, "%s\n", text);
	}
	fclose(f);
	assert_false(seen_has_control_chars(&s.seen));
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/../qr/decode_qr.py %s",
	         getenv("NP_TESTS_DIR"), path);
	f = popen(cmd, "r");
	assert_non_null(f);
	assert_non_null(fgets(decoded, sizeof decoded, f));
	assert_int_equal(pclose(f), 0);
	mock_last_code(&api, code, sizeof code);
	snprintf(url, sizeof url, "%.*s/auth/device?code=%s", (int)(strlen(api.url) - 3), api.url,
	         code);
	assert_string_equal(decoded, url);
}

#define T(fn) cmocka_unit_test_setup(fn, reset)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(approve_in_poll_mode),
		T(approve_shown_under_pam_silent),
		T(approve_in_prompt_mode),
		T(enter_before_approval_keeps_waiting),
		T(typed_text_at_prompt_is_refused),
		T(sshd_service_prompts_by_default),
		T(other_service_polls_by_default),
		T(sshd_of_no_known_release_prompts_and_says_why),
		T(sshd_said_immediate_polls),
		T(sshd_said_held_prompts),
		T(immediate_sshd_gives_the_reason_without_a_last_prompt),
		T(ssh_info_is_only_for_sshd),
		T(email_rule_matches_without_case),
		T(deny_is_maxtries),
		T(denial_is_final_for_the_handle),
		T(expired_code),
		T(login_timeout),
		T(approved_but_not_mapped),
		T(unmapped_identity_without_rules),
		T(unknown_account),
		T(conversation_failure),
		T(denial_reason_comes_with_a_last_prompt),
		T(no_answer_is_conversation_failure),
		T(api_down),
		T(untrusted_ca),
		T(pin_matches),
		T(pin_mismatch),
		T(garbage_answer),
		T(garbage_while_polling),
		T(server_errors_then_success),
		T(create_retried_after_server_error),
		T(rate_limited_honours_retry_after),
		T(control_characters_in_url_refused),
		T(path_traversal_code_refused),
		T(oversized_answer_refused),
		T(oversized_chunked_answer_refused),
		T(caller_environment_never_reaches_libcurl),
		T(unknown_setting_is_service_error),
		T(plain_http_is_service_error),
		T(unsafe_usermap_is_service_error),
		T(missing_helper_is_service_error),
		T(skipped_service_is_ignored),
		T(skip_list_does_not_match_other_services),
		T(host_ignoring_sigchld_is_restored),
		T(helper_gets_nothing_but_its_pipes),
		T(qr_code_reads_back_as_the_url),
	};

	return cmocka_run_group_tests_name("integration", tests, group_setup, group_teardown);
}
