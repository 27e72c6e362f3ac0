/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The module through the real libpam, the real helper, the HTTPS mock API.
 * Every test asserts on the PAM code and on what the person saw or what the
 * module logged, so that two reasons for one code are told apart.
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
#include <security/pam_modules.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <unistd.h>

#include "harness.h"

static struct mock api;

/* The verification URL's limit in bytes (NP_URL_MAX in src/common/validate.h). */
#define NP_URL_MAX_TEST 256

static void write_standard_usermap(void)
{
	char usermap[1024];

	snprintf(usermap, sizeof usermap,
	         "# test identities\n"
	         "usr_alice   %s\n"
	         "bob.builder@example.com\tdaemon\n",
	         test_account());
	write_usermap(usermap);
}

static int group_setup(void **state)
{
	(void)state;
	if (mock_start(&api, "mock", NULL) != 0)
		return -1;
	write_standard_usermap();
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
	reset_mock(&api);
	return 0;
}

static void auto_decide(const char *action, const char *user, double after)
{
	mock_auto(&api, action, user, after);
}

static void fault(const char *json)
{
	mock_fault(&api, json);
}

static void expect_log_contains(const char *needle)
{
	if (strstr(log_text, needle) == NULL) {
		fprintf(stderr, "not logged: %s\nthe log:\n%s", needle, log_text);
		fail();
	}
}

static void expect_log_lacks(const char *needle)
{
	if (strstr(log_text, needle) != NULL) {
		fprintf(stderr, "logged, and should not be: %s\nthe log:\n%s", needle, log_text);
		fail();
	}
}

/* The outcome line's field key is exactly want. */
static void expect_logged(const char *key, const char *want)
{
	char line[8192], value[4096];

	if (!log_outcome_line(log_text, line, sizeof line) ||
	    !log_field(line, key, value, sizeof value) || strcmp(value, want) != 0) {
		fprintf(stderr, "expected %s=\"%s\" in the outcome line; the log:\n%s", key, want,
		        log_text);
		fail();
	}
}

/* The outcome line's reason contains needle. */
static void expect_reason(const char *needle)
{
	char line[8192], value[4096];

	if (!log_outcome_line(log_text, line, sizeof line) ||
	    !log_field(line, "reason", value, sizeof value) || strstr(value, needle) == NULL) {
		fprintf(stderr, "expected a reason with \"%s\"; the log:\n%s", needle, log_text);
		fail();
	}
}

/* The last message the person saw, which must exist, contains needle. */
static void expect_last_seen(const struct script *s, const char *needle)
{
	if (s->seen.count == 0 || strstr(s->seen.text[s->seen.count - 1], needle) == NULL) {
		fprintf(stderr, "the last message does not say \"%s\"; the person saw:\n", needle);
		seen_dump(&s->seen);
		fail();
	}
}

/*
 * The refusal ends with its reference, the one its outcome line gives:
 * "Reference: K7QX-2M4D" on the screen, reference="K7QX-2M4D" in the log.
 */
static void expect_reference_logged(const struct script *s, const char *line)
{
	char shown[16], logged[64];

	if (!seen_reference(&s->seen, shown, sizeof shown) ||
	    !log_field(line, "reference", logged, sizeof logged) || strcmp(shown, logged) != 0) {
		fprintf(stderr, "no reference, or not the logged one (\"%s\"); the log:\n%s\n"
		        "the person saw:\n", shown, line);
		seen_dump(&s->seen);
		fail();
	}
}

#define NOT_REACHED "NextPay could not be reached. Please try again later."
#define NOT_SET_UP "NextPay sign-in is not set up correctly on this host."
#define APPROVE_ONLY "Approve only if you started this sign-in yourself."

/* This host as the instructions show it: cut to 48 bytes, the last 3 being "...". */
static void host_shown(char *out, size_t out_size)
{
	char host[256] = "";

	gethostname(host, sizeof host - 1);
	if (strlen(host) > 48)
		snprintf(out, out_size, "%.45s...", host);
	else
		snprintf(out, out_size, "%s", host);
}

/*
 * The instructions, in the first message: who signs in to what from where
 * (service word, no source address here), the URL and the code, how long it
 * lives, and the warning to the approver, each on a line of its own.
 */
static void assert_instructions(const struct script *s, int style, const char *service)
{
	char code[32], url[512], host[64], line[512];

	mock_last_code(&api, code, sizeof code);
	assert_true(code[0] != '\0');
	/* The mock's approval page lives at its root, beside /v1. */
	snprintf(url, sizeof url, "%.*s/auth/device?code=%s", (int)(strlen(api.url) - 3), api.url,
	         code);
	host_shown(host, sizeof host);
	assert_true(s->seen.count >= 1);
	assert_int_equal(s->seen.style[0], style);
	snprintf(line, sizeof line, "NextPay sign-in to %s as %s (%s).\nOpen %s\nand approve code %s (valid for ",
	         host, test_account(), service, url, code);
	if (strncmp(s->seen.text[0], line, strlen(line)) != 0) {
		fprintf(stderr, "expected instructions starting:\n%s\nthe person saw:\n", line);
		seen_dump(&s->seen);
		fail();
	}
	assert_non_null(strstr(s->seen.text[0], ").\n" APPROVE_ONLY "\n"));
	assert_false(seen_has_control_chars(&s->seen));
	assert_false(seen_has_unsafe_text(&s->seen));
}

/* ---- approval ---- */

static void approve_in_poll_mode(void **state)
{
	struct script s = { 0 };

	(void)state;
	auto_decide("approve", "usr_alice", 1.0);
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_SUCCESS, &s);
	assert_instructions(&s, PAM_TEXT_INFO, "np-poll");
	assert_non_null(strstr(s.seen.text[0], APPROVE_ONLY "\nWaiting for your approval..."));
	assert_int_equal(s.seen.count, 1);
	expect_logged("account", test_account());
	expect_logged("nextpay_id", "usr_alice");
	expect_logged("method", "device-code");
	expect_logged("service", "np-poll");
	expect_logged("rhost", "");
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
	assert_instructions(&s, PAM_TEXT_INFO, "np-poll");
}

static void approve_in_prompt_mode(void **state)
{
	struct script s = { .answers = { "" }, .delay_ms = { 1500 } };

	(void)state;
	auto_decide("approve", "usr_alice", 0.5);
	expect_rc(run_auth("np-prompt", test_account(), &s, 0), PAM_SUCCESS, &s);
	assert_instructions(&s, PAM_PROMPT_ECHO_OFF, "np-prompt");
	assert_non_null(strstr(s.seen.text[0], APPROVE_ONLY "\nPress Enter once you have approved: "));
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
	/* The approver reads "ssh", the word they know, for the sshd service. */
	assert_instructions(&s, PAM_PROMPT_ECHO_OFF, "ssh");
	assert_non_null(strstr(s.seen.text[0], "Press Enter once you have approved: "));
}

static void other_service_polls_by_default(void **state)
{
	struct script s = { 0 };

	(void)state;
	auto_decide("approve", "usr_alice", 0.2);
	expect_rc(run_auth("np-auto", test_account(), &s, 0), PAM_SUCCESS, &s);
	assert_instructions(&s, PAM_TEXT_INFO, "np-auto");
	assert_non_null(strstr(s.seen.text[0], "Waiting for your approval..."));
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
	    strstr(log, "/integration\")") == NULL)
		fail_msg("no wait mode line in the log:\n%s", log);
}

static void sshd_said_immediate_polls(void **state)
{
	struct script s = { 0 };

	(void)state;
	write_config(&api, "ssh_info = immediate\n");
	auto_decide("approve", "usr_alice", 0.5);
	expect_rc(run_auth("sshd", test_account(), &s, 0), PAM_SUCCESS, &s);
	assert_instructions(&s, PAM_TEXT_INFO, "ssh");
	assert_non_null(strstr(s.seen.text[0], "Waiting for your approval"));
	assert_int_equal(s.prompts_answered, 0);
}

/* Answers information and refuses prompts, with no application data, as sshd's password one. */
static int conv_without_data(int n, const struct pam_message **msg, struct pam_response **resp,
                             void *appdata)
{
	(void)appdata;
	for (int i = 0; i < n; i++)
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
			return PAM_CONV_ERR;
	*resp = calloc((size_t)n, sizeof **resp);
	return *resp != NULL ? PAM_SUCCESS : PAM_BUF_ERR;
}

/*
 * A conversation without application data is sshd's password authentication
 * only inside OpenSSH's sshd: another program whose service is "sshd" (this
 * test, pamtester) still gets a code.
 */
static void sshd_service_of_another_program_gets_a_code(void **state)
{
	struct pam_conv conv = { conv_without_data, NULL };
	pam_handle_t *h = NULL;
	int rc;

	(void)state;
	write_config(&api, "wait = poll\n");
	auto_decide("approve", "usr_alice", 0.2);
	assert_int_equal(pam_start("sshd", test_account(), &conv, &h), PAM_SUCCESS);
	rc = pam_authenticate(h, 0);
	pam_end(h, rc);
	assert_int_equal(rc, PAM_SUCCESS);
	assert_int_equal(mock_count(&api, "create"), 1);
}

static void sshd_said_held_prompts(void **state)
{
	struct script s = { .answers = { "" }, .delay_ms = { 1200 } };

	(void)state;
	write_config(&api, "ssh_info = held\n");
	auto_decide("approve", "usr_alice", 0.2);
	expect_rc(run_auth("sshd", test_account(), &s, 0), PAM_SUCCESS, &s);
	assert_instructions(&s, PAM_PROMPT_ECHO_OFF, "ssh");
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
	expect_rc(run_logged("np-poll", "daemon", &s, 0), PAM_SUCCESS, &s);
	expect_logged("reason", "e-mail rule");
	expect_logged("account", "daemon");
	assert_true(seen_contains(&s.seen, " as daemon (np-poll)."));
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

/*
 * Whoever has the code can poll for the approver's token (docs/DESIGN.md, what the
 * module relies on NextPay for): debug or not, approved or denied, neither the code
 * nor the URL that carries it reaches the log.
 */
static void code_never_reaches_the_log(void **state)
{
	static const char *const decisions[] = { "approve", "deny" };
	static const int rcs[] = { PAM_SUCCESS, PAM_MAXTRIES };
	char code[32];

	(void)state;
	write_config(&api, "debug = yes\n");
	for (size_t i = 0; i < sizeof rcs / sizeof rcs[0]; i++) {
		struct script s = { 0 };

		auto_decide(decisions[i], "usr_alice", 0.3);
		expect_rc(run_logged("np-poll", test_account(), &s, 0), rcs[i], &s);
		mock_last_code(&api, code, sizeof code);
		assert_true(code[0] != '\0' && seen_contains(&s.seen, code));
		expect_log_contains("device code issued");
		if (strstr(log_text, code) != NULL || strstr(log_text, "/auth/device") != NULL)
			fail_msg("the code %s reached the log:\n%s", code, log_text);
	}
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
	/* One set of instructions, one denial; the second call shows nothing. */
	assert_int_equal(s.seen.count, 2);
	assert_non_null(strstr(s.seen.text[1], "The sign-in was denied in NextPay."));
}

static void expired_code(void **state)
{
	struct script s = { 0 };

	(void)state;
	mock_configure(&api, "{\"code_ttl\": 2}");
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
	char refusal[256];

	(void)state;
	/* usr_bob maps to daemon, not to the account signing in. */
	auto_decide("approve", "usr_bob", 0.2);
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_AUTH_ERR, &s);
	snprintf(refusal, sizeof refusal, "This NextPay account may not sign in as %s on this host.",
	         test_account());
	expect_last_seen(&s, refusal);
	/* The terminal may be the attacker's: it learns nothing of who approved. */
	assert_false(seen_contains(&s.seen, "Bob.Builder"));
	assert_false(seen_contains(&s.seen, "usr_bob"));
	/* The log has the NextPay user id, never the e-mail address. */
	expect_logged("nextpay_id", "usr_bob");
	expect_reason("identity does not map");
	assert_null(strstr(log_text, "Bob.Builder"));
}

static void unmapped_identity_without_rules(void **state)
{
	struct script s = { 0 };

	(void)state;
	auto_decide("approve", "usr_carol", 0.2);
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_AUTH_ERR, &s);
	assert_false(seen_has_control_chars(&s.seen));
	expect_last_seen(&s, "This NextPay account may not sign in as");
	assert_false(seen_contains(&s.seen, "carol"));
	expect_logged("nextpay_id", "usr_carol");
}

static void conversation_failure(void **state)
{
	struct script s = { .fail = true };

	(void)state;
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_CONV_ERR, &s);
	expect_logged("reason", "conversation failed");
	/* The code was made, but the instructions never reached anybody. */
	assert_int_equal(mock_count(&api, "create"), 1);
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

/*
 * Every refusal ends with the sign-in's reference, the one its outcome line
 * gives; in prompt mode in the last prompt, before its own words.  Each
 * sign-in has its own; a success shows none (its line still has one).
 */
static void refusal_ends_with_its_reference(void **state)
{
	struct script poll = { 0 };
	struct script prompt = { .answers = { "", "" }, .delay_ms = { 1500, 0 } };
	struct script ok = { 0 };
	char line[8192], first[16], second[16], logged[64];

	(void)state;
	auto_decide("deny", "usr_alice", 0.3);
	expect_rc(run_logged("np-poll", test_account(), &poll, 0), PAM_MAXTRIES, &poll);
	assert_true(log_outcome_line(log_text, line, sizeof line));
	expect_reference_logged(&poll, line);
	assert_true(seen_reference(&poll.seen, first, sizeof first));
	assert_non_null(strstr(poll.seen.text[poll.seen.count - 1],
	                       "The sign-in was denied in NextPay.\nReference: "));
	reset(NULL);
	auto_decide("deny", "usr_alice", 0.3);
	expect_rc(run_logged("np-prompt", test_account(), &prompt, 0), PAM_MAXTRIES, &prompt);
	assert_true(log_outcome_line(log_text, line, sizeof line));
	expect_reference_logged(&prompt, line);
	assert_true(seen_reference(&prompt.seen, second, sizeof second));
	assert_non_null(strstr(prompt.seen.text[1], "The sign-in was denied in NextPay.\nReference: "));
	assert_non_null(strstr(prompt.seen.text[1], second));
	assert_non_null(strstr(prompt.seen.text[1], "\nPress Enter to close: "));
	assert_string_not_equal(first, second);
	reset(NULL);
	auto_decide("approve", "usr_alice", 0.3);
	expect_rc(run_logged("np-poll", test_account(), &ok, 0), PAM_SUCCESS, &ok);
	assert_false(seen_contains(&ok.seen, "Reference"));
	assert_true(log_outcome_line(log_text, line, sizeof line));
	assert_true(log_field(line, "reference", logged, sizeof logged));
	assert_int_equal(strlen(logged), 9);
}

static void no_answer_is_conversation_failure(void **state)
{
	struct script s = { .answers = { NULL } };

	(void)state;
	expect_rc(run_logged("np-prompt", test_account(), &s, 0), PAM_CONV_ERR, &s);
	/* The instructions were asked; no answer came back. */
	assert_int_equal(s.prompts_answered, 1);
	assert_instructions(&s, PAM_PROMPT_ECHO_OFF, "np-prompt");
	expect_logged("reason", "conversation failed");
}

/* ---- the network ---- */

static void api_down(void **state)
{
	struct script s = { 0 };
	char overrides[256];

	(void)state;
	snprintf(overrides, sizeof overrides, "api_url = https://127.0.0.1:%d/v1\n", refused_port());
	write_config(&api, overrides);
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
	expect_last_seen(&s, NOT_REACHED);
	assert_int_equal(s.seen.count, 1);
	/* Nobody listening is no answer at all: unreachable, not unavailable. */
	expect_reason("unreachable: curl error 7");
}

static void untrusted_ca(void **state)
{
	struct script s = { 0 };

	(void)state;
	write_config(&api, "ca_file = /etc/ssl/certs/ca-certificates.crt\n");
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
	assert_int_equal(mock_count(&api, "create"), 0);
	expect_last_seen(&s, NOT_REACHED);
	expect_reason("tls");
}

static void pin_matches(void **state)
{
	struct script s = { 0 };
	char overrides[256];

	(void)state;
	auto_decide("approve", "usr_alice", 0.2);
	snprintf(overrides, sizeof overrides, "pinned_pubkey = %s\n", api.pin);
	write_config(&api, overrides);
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_SUCCESS, &s);
	assert_instructions(&s, PAM_TEXT_INFO, "np-poll");
	expect_logged("nextpay_id", "usr_alice");
}

static void pin_mismatch(void **state)
{
	struct script s = { 0 };
	char overrides[256];

	(void)state;
	snprintf(overrides, sizeof overrides, "pinned_pubkey = %s\n", api.otherpin);
	write_config(&api, overrides);
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
	assert_int_equal(mock_count(&api, "create"), 0);
	expect_last_seen(&s, NOT_REACHED);
	/* libcurl's 90: the pin, not the CA, refused the server. */
	expect_reason("tls");
	expect_reason("90");
}

static void garbage_answer(void **state)
{
	struct script s = { 0 };

	(void)state;
	fault("{\"endpoint\": \"create\", \"kind\": \"garbage\"}");
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
	expect_last_seen(&s, NOT_REACHED);
	assert_int_equal(s.seen.count, 1);
	expect_reason("malformed");
}

static void garbage_while_polling(void **state)
{
	struct script s = { 0 };

	(void)state;
	fault("{\"endpoint\": \"poll\", \"kind\": \"garbage\"}");
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
	assert_int_equal(mock_count(&api, "me"), 0);
	/* The instructions came first; the garbage ended the wait. */
	assert_instructions(&s, PAM_TEXT_INFO, "np-poll");
	expect_last_seen(&s, NOT_REACHED);
	expect_reason("malformed");
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
	/* The errors stay behind the scenes: the instructions, and nothing else. */
	assert_int_equal(s.seen.count, 1);
	assert_instructions(&s, PAM_TEXT_INFO, "np-poll");
}

static void create_retried_after_server_error(void **state)
{
	struct script s = { 0 };

	(void)state;
	auto_decide("approve", "usr_alice", 0.2);
	fault("{\"endpoint\": \"create\", \"kind\": \"status\", \"status\": 502}");
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_SUCCESS, &s);
	assert_int_equal(mock_count(&api, "create"), 2);
	assert_int_equal(s.seen.count, 1);
	assert_instructions(&s, PAM_TEXT_INFO, "np-poll");
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
	assert_int_equal(s.seen.count, 1);
	assert_instructions(&s, PAM_TEXT_INFO, "np-poll");
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
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
	assert_int_equal(mock_count(&api, "poll"), 0);
	expect_last_seen(&s, NOT_REACHED);
	assert_false(seen_contains(&s.seen, "../x"));
	expect_reason("device code missing or not a short alphanumeric code");
}

static void oversized_answer_refused(void **state)
{
	struct script s = { 0 };

	(void)state;
	fault("{\"endpoint\": \"create\", \"kind\": \"oversized\", \"size\": 1048576}");
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
	expect_last_seen(&s, NOT_REACHED);
	/* Cut off at the cap, not read to the end and then found malformed. */
	expect_reason("response larger than 65536 bytes");
}

static void oversized_chunked_answer_refused(void **state)
{
	struct script s = { 0 };

	(void)state;
	fault("{\"endpoint\": \"create\", \"kind\": \"oversized\", \"size\": 1048576, "
	      "\"chunked\": true}");
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
	expect_last_seen(&s, NOT_REACHED);
	/* Cut off at the cap, not read to the end and then found malformed. */
	expect_reason("response larger than 65536 bytes");
}

static void caller_environment_never_reaches_libcurl(void **state)
{
	struct script s = { 0 };
	char keylog[1024], canary[1024], marker[1024], preload[2200];
	const char *vars[] = { "https_proxy", "HTTPS_PROXY", "http_proxy", "ALL_PROXY", "all_proxy" };
	const char *fake = getenv("NP_FAKE_HELPER");
	const char *old_preload = getenv("LD_PRELOAD");
	char *saved_preload = old_preload != NULL ? strdup(old_preload) : NULL;

	(void)state;
	snprintf(keylog, sizeof keylog, "%s/keylog.txt", test_dir());
	snprintf(marker, sizeof marker, "%s/canary-loaded", test_dir());
	/* The preload canary is built beside the fake helper. */
	snprintf(canary, sizeof canary, "%.*s/preload-canary.so", (int)(strrchr(fake, '/') - fake),
	         fake);
	assert_int_equal(access(canary, R_OK), 0);
	unlink(keylog);
	unlink(marker);
	/* A proxy that does not exist: if libcurl used it, the sign-in would fail. */
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		setenv(vars[i], "http://127.0.0.1:9", 1);
	setenv("SSLKEYLOGFILE", keylog, 1);
	setenv("CURL_CA_BUNDLE", "/nonexistent", 1);
	/*
	 * The helper clears its environment itself, but only once it runs: what
	 * the caller had must not even reach its dynamic loader, which would run
	 * the caller's LD_PRELOAD as root.  The canary says if it got there.
	 */
	snprintf(preload, sizeof preload, "%s%s%s", old_preload != NULL ? old_preload : "",
	         old_preload != NULL ? " " : "", canary);
	setenv("LD_PRELOAD", preload, 1);
	setenv("NP_CANARY_FILE", marker, 1);
	auto_decide("approve", "usr_alice", 0.2);
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_SUCCESS, &s);
	if (saved_preload != NULL)
		setenv("LD_PRELOAD", saved_preload, 1);
	else
		unsetenv("LD_PRELOAD");
	free(saved_preload);
	unsetenv("NP_CANARY_FILE");
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
	unsetenv("SSLKEYLOGFILE");
	unsetenv("CURL_CA_BUNDLE");
	assert_int_equal(access(keylog, F_OK), -1);
	assert_instructions(&s, PAM_TEXT_INFO, "np-poll");
	assert_int_equal(access(marker, F_OK), -1);
}

/* ---- configuration and policy ---- */

static void unknown_setting_is_service_error(void **state)
{
	struct script s = { 0 };

	(void)state;
	write_config(&api, "no_such_setting = 1\nc2VjcmV0LWtleQ\n");
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_SERVICE_ERR, &s);
	assert_int_equal(mock_count(&api, "create"), 0);
	expect_last_seen(&s, NOT_SET_UP);
	expect_log_contains("configuration error: \"");
	expect_log_contains(": unknown setting\"");
	/* The line's number, never its text: a line may be anything, a secret too. */
	expect_log_lacks("no_such_setting");
}

/* The reference="..." of the first log line that starts with prefix (after "): "). */
static bool reference_of_line(const char *prefix, char *out, size_t out_size)
{
	char line[8192];
	const char *p = log_text;

	while ((p = strstr(p, prefix)) != NULL) {
		const char *end = strchr(p, '\n');

		snprintf(line, sizeof line, "%.*s", (int)(end != NULL ? end - p : (long)strlen(p)), p);
		if (p > log_text && p[-1] == ' ' && log_field(line, "reference", out, out_size))
			return true;
		p++;
	}
	return false;
}

/* Every line an event writes ends with the sign-in's reference: here an error's two. */
static void every_event_line_carries_the_reference(void **state)
{
	struct script s = { 0 };
	char shown[16], outcome[64], config[64];

	(void)state;
	write_config(&api, "no_such_setting = 1\n");
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_SERVICE_ERR, &s);
	assert_true(seen_reference(&s.seen, shown, sizeof shown));
	assert_true(reference_of_line("configuration error: ", config, sizeof config));
	assert_true(reference_of_line("error: account=", outcome, sizeof outcome));
	assert_string_equal(config, shown);
	assert_string_equal(outcome, shown);
}

/*
 * Where journald does not run, log = auto writes syslog lines, and so does
 * log = journal, with one more line saying that the journal could not be had.
 */
static void without_journald_events_go_to_syslog(void **state)
{
	struct script a = { 0 }, j = { 0 };
	struct stat st;

	(void)state;
	if (lstat("/run/systemd/journal/socket", &st) == 0) {
		fprintf(stderr, "journald runs here: the journal suite tests this\n");
		skip();
	}
	auto_decide("approve", "usr_alice", 0.3);
	write_config(&api, "log = auto\n");
	expect_rc(run_logged("np-poll", test_account(), &a, 0), PAM_SUCCESS, &a);
	expect_logged("account", test_account());
	assert_null(strstr(log_text, "journal:"));
	write_config(&api, "log = journal\n");
	expect_rc(run_logged("np-poll", test_account(), &j, 0), PAM_SUCCESS, &j);
	expect_logged("account", test_account());
	expect_log_contains("journal: cannot write events, sent to syslog: No such file or directory");
}

/*
 * A helper that reports being started (tests/integration/fake_helper.c) in
 * the settings, with more overrides; report gets the path of its report.
 */
static void install_fake_helper(char *report, size_t report_size, const char *more)
{
	char dir[1024], helper[1100], overrides[2400], cmd[2400];

	snprintf(dir, sizeof dir, "%s/fake", test_dir());
	snprintf(helper, sizeof helper, "%s/nextpay-helper", dir);
	snprintf(report, report_size, "%s/report", dir);
	snprintf(cmd, sizeof cmd, "mkdir -p %s && install -m 0755 %s %s && rm -f %s", dir,
	         getenv("NP_FAKE_HELPER"), helper, report);
	assert_int_equal(run_shell("%s", cmd), 0);
	snprintf(overrides, sizeof overrides, "helper = %s\n%s", helper, more);
	write_config(&api, overrides);
}

static void plain_http_is_service_error(void **state)
{
	struct script s = { 0 };
	char report[1100];

	(void)state;
	/*
	 * The helper refuses http:// too, with the same code: the log tells that
	 * the module's own settings parser refused it, before any request.
	 */
	write_config(&api, "api_url = http://127.0.0.1:9/v1\n");
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_SERVICE_ERR, &s);
	expect_last_seen(&s, NOT_SET_UP);
	expect_log_contains("configuration error: \"");
	expect_log_contains("bad value for \\\"api_url\\\" (expected an https:// URL");
	expect_logged("reason", "configuration error");
	assert_int_equal(mock_count(&api, "connections"), 0);
	/* And no helper was started: this one would leave a report. */
	memset(&s, 0, sizeof s);
	install_fake_helper(report, sizeof report, "api_url = http://127.0.0.1:9/v1\n");
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_SERVICE_ERR, &s);
	expect_logged("reason", "configuration error");
	assert_int_equal(access(report, F_OK), -1);
}

/* What the np-proxy-arg service has as a module argument, and the tests put in files. */
#define PROXY_SECRET "np-proxy-secret-42"

/*
 * A proxy's credentials are a secret: refused as a module argument (every local
 * user can read /etc/pam.d) and from a file others can read, taken from a file
 * only root can read; never logged.
 */
static void proxy_credentials_only_from_a_root_only_file(void **state)
{
	struct script s = { 0 };
	char path[1024];

	(void)state;
	snprintf(path, sizeof path, "%s/conf/current.conf", test_dir());
	write_config(&api, "proxy = http://np-user:" PROXY_SECRET "@127.0.0.1:9\n");
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_SERVICE_ERR, &s);
	expect_last_seen(&s, NOT_SET_UP);
	expect_log_contains("\\\"proxy\\\" holds credentials (user:password@), but others can read "
	                    "the file (mode 0644");
	expect_log_lacks(PROXY_SECRET);
	assert_int_equal(mock_count(&api, "connections"), 0);
	/* Root's alone: taken, and the helper goes to that proxy, which is not there. */
	assert_int_equal(chmod(path, 0600), 0);
	memset(&s, 0, sizeof s);
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
	expect_log_lacks("configuration error");
	expect_log_lacks(PROXY_SECRET);
	assert_int_equal(mock_count(&api, "connections"), 0);
	/* As a module argument: refused, whatever the file. */
	write_config(&api, "");
	memset(&s, 0, sizeof s);
	expect_rc(run_logged("np-proxy-arg", test_account(), &s, 0), PAM_SERVICE_ERR, &s);
	expect_last_seen(&s, NOT_SET_UP);
	expect_log_contains("module argument 3: \\\"proxy\\\" holds credentials");
	expect_log_lacks(PROXY_SECRET);
	assert_int_equal(mock_count(&api, "connections"), 0);
}

/* The config file itself is unsafe: refused with the reason logged, before any helper. */
static void expect_unsafe_config(const char *why)
{
	struct script s = { 0 };

	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_SERVICE_ERR, &s);
	expect_last_seen(&s, NOT_SET_UP);
	expect_log_contains("configuration error: \"");
	expect_log_contains(why);
	assert_int_equal(mock_count(&api, "connections"), 0);
	assert_int_equal(mock_count(&api, "create"), 0);
}

static void config_file_mode_is_checked(void **state)
{
	char path[1024], target[1100];

	(void)state;
	snprintf(path, sizeof path, "%s/conf/current.conf", test_dir());
	assert_int_equal(chmod(path, 0664), 0);
	expect_unsafe_config("current.conf: writable by group or others (mode 0664)");
	assert_int_equal(chmod(path, 0646), 0);
	expect_unsafe_config("current.conf: writable by group or others (mode 0646)");
	/* A symlink to a good file is still a symlink. */
	assert_int_equal(chmod(path, 0644), 0);
	snprintf(target, sizeof target, "%s.target", path);
	assert_int_equal(rename(path, target), 0);
	assert_int_equal(symlink(target, path), 0);
	expect_unsafe_config("current.conf: is a symbolic link");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rename(target, path), 0);
	/* Owned by somebody else than the running euid (root here, as in sshd and sudo). */
	if (geteuid() != 0) {
		fprintf(stderr, "skipped the owner check: only root can give a file away\n");
		return;
	}
	assert_int_equal(chown(path, 65534, 65534), 0);
	expect_unsafe_config("current.conf: owned by uid 65534, expected root");
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
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_SERVICE_ERR, &s);
	assert_int_equal(mock_count(&api, "create"), 0);
	expect_last_seen(&s, NOT_SET_UP);
	expect_log_contains("identity map: \"");
	expect_log_contains("users-unsafe: writable by group or others (mode 0666)");
}

static void missing_helper_is_service_error(void **state)
{
	struct script s = { 0 };

	(void)state;
	write_config(&api, "helper = /nonexistent/nextpay-helper\n");
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_SERVICE_ERR, &s);
	expect_last_seen(&s, NOT_SET_UP);
	expect_log_contains("helper not started: \"helper /nonexistent/nextpay-helper: No such file");
	expect_reason("helper cannot be started");
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
	assert_instructions(&s, PAM_TEXT_INFO, "np-skip");
	expect_last_seen(&s, "The sign-in was denied in NextPay.");
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
	assert_instructions(&s, PAM_TEXT_INFO, "np-poll");
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
	char report[1100];
	char *text;

	(void)state;
	install_fake_helper(report, sizeof report, "");
	/* What a sudo caller might have in its environment and signal state. */
	setenv("https_proxy", "http://127.0.0.1:9", 1);
	setenv("SSLKEYLOGFILE", "/tmp/keys", 1);
	signal(SIGPIPE, SIG_IGN);
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, NULL);
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
	sigprocmask(SIG_UNBLOCK, &block, NULL);
	/* The fake helper ends without a word: the module tells it apart from a network error. */
	expect_last_seen(&s, NOT_REACHED);
	expect_reason("helper: the helper exited with status 0");
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

/* ---- what the module shows, logs and trusts (the security review) ---- */

/* PAM_RHOST for set_rhost(), which an on_message hook sets before pam_authenticate. */
static const char *rhost_to_set;

static void set_rhost(struct script *script, pam_handle_t *pamh, const struct pam_message *msg)
{
	(void)script;
	if (msg == NULL)
		assert_int_equal(pam_set_item(pamh, PAM_RHOST, rhost_to_set), PAM_SUCCESS);
}

/* The first line of the instructions (the whole first message up to '\n'), into out. */
static void first_line(const struct script *s, char *out, size_t out_size)
{
	assert_true(s->seen.count >= 1);
	snprintf(out, out_size, "%.*s", (int)strcspn(s->seen.text[0], "\n"), s->seen.text[0]);
}

static void verification_hosts_refuse_another_host(void **state)
{
	struct script s = { 0 };

	(void)state;
	/* The mock sends people to https://127.0.0.1:PORT/auth/device, which this list does not name. */
	write_config(&api, "verification_hosts = auth.nextpay.world,nextpay-v3-dev.nextfinancial.io\n");
	auto_decide("approve", "usr_alice", 0.2);
	/*
	 * NextPay answered: a configuration error, not an outage (which a
	 * break-glass stack would turn into a password prompt).  Nothing of the
	 * URL or the code: one message, to ask the administrator.
	 */
	expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_SERVICE_ERR, &s);
	assert_int_equal(s.seen.count, 1);
	expect_last_seen(&s, NOT_SET_UP);
	assert_false(seen_contains(&s.seen, "127.0.0.1"));
	assert_false(seen_contains(&s.seen, "Open"));
	expect_log_contains("verification URL refused: host=\"127.0.0.1\" not in verification_hosts");
	expect_logged("reason", "verification URL host not in verification_hosts");
	assert_int_equal(mock_count(&api, "create"), 1);
	assert_int_equal(mock_count(&api, "me"), 0);
}

static void verification_hosts_allow_a_listed_host(void **state)
{
	struct script s = { 0 };

	(void)state;
	write_config(&api, "verification_hosts = auth.nextpay.world,127.0.0.1\n");
	auto_decide("approve", "usr_alice", 0.2);
	expect_rc(run_auth("np-poll", test_account(), &s, 0), PAM_SUCCESS, &s);
	assert_instructions(&s, PAM_TEXT_INFO, "np-poll");
}

static void verification_url_hiding_another_host(void **state)
{
	/* Each looks like (or a browser reads it as) a host other than the one it names. */
	static const char *const urls[][2] = {
		{ "https://api.nextpay.world%2Fauth%2Fdevice@evil.example/auth/device?code=ABC123",
		  "api.nextpay.world%2Fauth%2Fdevice@evil.example" },
		{ "https://api.nextpay.world@evil.example/auth/device?code=ABC123",
		  "api.nextpay.world@evil.example" },
		{ "https://api.nextpay.world\\\\@evil.example/auth/device?code=ABC123",
		  "api.nextpay.world\\@evil.example" },
		{ "https://api.nextpay.world%2eevil.example/auth/device?code=ABC123",
		  "api.nextpay.world%2eevil.example" },
		{ "https://3232235777/auth/device?code=ABC123", "3232235777" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
		struct script s = { 0 };
		char json[512], reason[256];

		reset(NULL);
		snprintf(json, sizeof json,
		         "{\"endpoint\": \"create\", \"kind\": \"body\", \"body\": {\"code\": \"ABC123\", "
		         "\"verification_url\": \"%s\", \"expires_at\": 4102444800}}",
		         urls[i][0]);
		fault(json);
		expect_rc(run_logged("np-poll", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL, &s);
		assert_int_equal(s.seen.count, 1);
		expect_last_seen(&s, NOT_REACHED);
		assert_false(seen_contains(&s.seen, "nextpay.world"));
		assert_false(seen_contains(&s.seen, "ABC123"));
		/* The log names the host the person would have been sent to. */
		snprintf(reason, sizeof reason, "(host \"%s\")", urls[i][1]);
		expect_reason(reason);
		assert_int_equal(mock_count(&api, "poll"), 0);
	}
}

static void instructions_name_service_and_source(void **state)
{
	struct script poll = { .on_message = set_rhost };
	struct script prompt = { .answers = { "" }, .delay_ms = { 1200 }, .on_message = set_rhost };
	char host[64], want[512], line[512];
	int rc;

	(void)state;
	host_shown(host, sizeof host);
	rhost_to_set = "192.0.2.10";
	auto_decide("approve", "usr_alice", 0.2);
	log_capture_begin();
	rc = run_auth_on_handle("np-poll", test_account(), &poll, 0);
	log_capture_end(log_text, sizeof log_text);
	expect_rc(rc, PAM_SUCCESS, &poll);
	first_line(&poll, line, sizeof line);
	snprintf(want, sizeof want, "NextPay sign-in to %s as %s (np-poll from 192.0.2.10).", host,
	         test_account());
	assert_string_equal(line, want);
	expect_logged("rhost", "192.0.2.10");
	/* sshd: the approver reads "ssh". */
	reset(NULL);
	auto_decide("approve", "usr_alice", 0.2);
	expect_rc(run_auth_on_handle("sshd", test_account(), &prompt, 0), PAM_SUCCESS, &prompt);
	first_line(&prompt, line, sizeof line);
	snprintf(want, sizeof want, "NextPay sign-in to %s as %s (ssh from 192.0.2.10).", host,
	         test_account());
	assert_string_equal(line, want);
	assert_non_null(strstr(prompt.seen.text[0], APPROVE_ONLY "\nPress Enter once you have approved: "));
}

/* text with the lifetime the module showed ("110 seconds"), for comparing whole texts. */
static void shown_lifetime(const struct seen *seen, char *out, size_t out_size)
{
	for (int i = 0; i < seen->count; i++) {
		const char *at = strstr(seen->text[i], "(valid for ");

		if (at != NULL) {
			at += strlen("(valid for ");
			snprintf(out, out_size, "%.*s", (int)strcspn(at, ")"), at);
			return;
		}
	}
	fail_msg("no lifetime shown");
}

/*
 * One sign-in with every part of the instructions at its longest: the last
 * message must be the prompt or waiting line alone, each message must fit
 * PAM_MAX_MSG_SIZE, and all of them together must be the whole text.
 */
static void expect_whole_instructions(const char *service, const char *service_word,
                                      const char *rhost, const char *last_line, int n_messages)
{
	static const char account[] = "np-no-such-account-with-a-long-name";
	struct script s = { .answers = { "", "" }, .on_message = set_rhost };
	char url[NP_URL_MAX_TEST + 1], json[1024], host[64], lifetime[32];
	char want[2048], got[2048] = "";
	const char *port = strrchr(api.url, ':') + 1;
	int rc;

	reset(NULL);
	write_config(&api, "api_key = yes\n");
	/* 256 bytes of URL, on the mock's own host; a 16-character code the mock does not know. */
	snprintf(url, sizeof url, "https://127.0.0.1:%.*s/auth/device?code=ABCDEFGH12345678&pad=",
	         (int)strcspn(port, "/"), port);
	memset(url + strlen(url), 'x', NP_URL_MAX_TEST - strlen(url));
	url[NP_URL_MAX_TEST] = '\0';
	snprintf(json, sizeof json,
	         "{\"endpoint\": \"create\", \"kind\": \"body\", \"body\": {\"code\": "
	         "\"ABCDEFGH12345678\", \"verification_url\": \"%s\", \"expires_at\": 4102444800}}",
	         url);
	fault(json);
	rhost_to_set = rhost;
	rc = run_auth_on_handle(service, account, &s, 0);
	/* The code is unknown to the mock: it ends as expired, after the instructions. */
	assert_true(rc == PAM_AUTH_ERR || rc == PAM_USER_UNKNOWN);
	host_shown(host, sizeof host);
	shown_lifetime(&s.seen, lifetime, sizeof lifetime);
	snprintf(want, sizeof want,
	         "NextPay sign-in to %s as %.29s... (%s from %s).\nOpen %s\n"
	         "and approve code ABCDEFGH12345678 (valid for %s).\n" APPROVE_ONLY "\n%s",
	         host, account, service_word, rhost, url, lifetime, last_line);
	if (strlen(want) < PAM_MAX_MSG_SIZE)
		fail_msg("the test's text (%zu bytes) fits one message: make it longer", strlen(want));
	for (int i = 0; i < n_messages; i++) {
		assert_true(strlen(s.seen.text[i]) < PAM_MAX_MSG_SIZE);
		assert_int_equal(s.seen.style[i], i < n_messages - 1 ? PAM_TEXT_INFO
		                                  : strcmp(service, "sshd") == 0 ? PAM_PROMPT_ECHO_OFF
		                                                                : PAM_TEXT_INFO);
		strcat(got, s.seen.text[i]);
		if (i < n_messages - 1)
			strcat(got, "\n");
	}
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "expected, over %d messages:\n%s\nthe person saw:\n", n_messages, want);
		seen_dump(&s.seen);
		fail();
	}
	assert_string_equal(s.seen.text[n_messages - 1], last_line);
}

static void longest_instructions_reach_the_person_whole(void **state)
{
	char original[256] = "";
	bool renamed = false;

	(void)state;
	/* The longest host shown takes a host name of our own: a UTS namespace, root only. */
	gethostname(original, sizeof original - 1);
	if (geteuid() == 0 && unshare(CLONE_NEWUTS) == 0)
		renamed = sethostname("a-host-name-of-64-bytes-which-is-as-long-as-linux-allows-them-x",
		                      64) == 0;
	if (!renamed)
		fprintf(stderr, "not root: the host name stays %s\n", original);
	/* The information, then the prompt or the waiting line. */
	expect_whole_instructions("sshd", "ssh", "255.255.255.255",
	                          "Press Enter once you have approved (or type an API key): ", 2);
	/* (With a short host name, only a longer address makes the text too long for one message.) */
	expect_whole_instructions("np-poll", "np-poll",
	                          renamed ? "255.255.255.255" : "2001:0db8:0000:0000:0000:ff00:0042:8329",
	                          "Waiting for your approval...", 2);
	/* A longer address needs one more message for the information: still nothing lost. */
	expect_whole_instructions("sshd", "ssh", "2001:0db8:0000:0000:0000:ff00:0042:8329",
	                          "Press Enter once you have approved (or type an API key): ",
	                          renamed ? 3 : 2);
	if (renamed)
		assert_int_equal(sethostname(original, strlen(original)), 0);
}

/* Every message with account and code as placeholders and digits as '#', into out. */
static void normalised(const struct seen *seen, const char *account, const char *code, char *out,
                       size_t out_size)
{
	size_t n = 0;

	out[0] = '\0';
	for (int i = 0; i < seen->count; i++) {
		const char *p = seen->text[i];

		n += (size_t)snprintf(out + n, out_size - n, "[%d] ", seen->style[i]);
		while (*p != '\0' && n + 32 < out_size) {
			/* Each sign-in has a reference of its own. */
			if (strncmp(p, "Reference: ", 11) == 0 && strlen(p) >= 20) {
				n += (size_t)snprintf(out + n, out_size - n, "Reference: <REFERENCE>");
				p += 20;
			} else if (strncmp(p, account, strlen(account)) == 0) {
				n += (size_t)snprintf(out + n, out_size - n, "<ACCOUNT>");
				p += strlen(account);
			} else if (code[0] != '\0' && strncmp(p, code, strlen(code)) == 0) {
				n += (size_t)snprintf(out + n, out_size - n, "<CODE>");
				p += strlen(code);
			} else if (*p >= '0' && *p <= '9') {
				out[n++] = '#';
				while (*p >= '0' && *p <= '9')
					p++;
			} else {
				out[n++] = *p++;
			}
		}
		out[n++] = '\n';
		out[n] = '\0';
	}
}

struct refusal {
	int rc;
	long long took_ms;
	char screen[8192];
	long creates, mes;
	char log[8192];   /* the outcome line */
};

/* usr_bob (mapped to daemon only) approves a sign-in as user after 0.5 s. */
static void refused_sign_in(const char *service, const char *user, struct refusal *out)
{
	struct script s = { .answers = { "", "" }, .delay_ms = { 1500, 0 } };
	char code[32];
	long long start;

	reset(NULL);
	auto_decide("approve", "usr_bob", 0.5);
	start = now_ms();
	out->rc = run_logged(service, user, &s, 0);
	out->took_ms = now_ms() - start;
	mock_last_code(&api, code, sizeof code);
	normalised(&s.seen, user, code, out->screen, sizeof out->screen);
	out->creates = mock_count(&api, "create");
	out->mes = mock_count(&api, "me");
	/* Who approved stays off the screen, whoever is refused. */
	assert_false(seen_contains(&s.seen, "Bob.Builder"));
	assert_false(seen_contains(&s.seen, "usr_bob"));
	if (!log_outcome_line(log_text, out->log, sizeof out->log))
		out->log[0] = '\0';
	expect_reference_logged(&s, out->log);
}

/* The refusal's outcome line names the account and who approved. */
static void expect_refusal_logged(const struct refusal *r, const char *account, const char *reason)
{
	char value[1024];

	assert_true(log_field(r->log, "account", value, sizeof value));
	assert_string_equal(value, account);
	assert_true(log_field(r->log, "nextpay_id", value, sizeof value));
	assert_string_equal(value, "usr_bob");
	assert_true(log_field(r->log, "reason", value, sizeof value));
	assert_string_equal(value, reason);
}

static void unknown_account_looks_like_a_refused_one(void **state)
{
	static const char *const services[] = { "np-poll", "np-prompt" };

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		struct refusal real, unknown;

		refused_sign_in(services[i], test_account(), &real);
		refused_sign_in(services[i], "np-no-such-user", &unknown);
		/* The same messages, in the same order and styles, but for the account's name. */
		if (strcmp(real.screen, unknown.screen) != 0) {
			fprintf(stderr, "a real account saw:\n%san unknown one saw:\n%s", real.screen,
			        unknown.screen);
			fail();
		}
		/* Only the code tells them apart, and the log. */
		assert_int_equal(real.rc, PAM_AUTH_ERR);
		assert_int_equal(unknown.rc, PAM_USER_UNKNOWN);
		expect_refusal_logged(&real, test_account(), "identity does not map to this account (no rule)");
		expect_refusal_logged(&unknown, "np-no-such-user", "no such local account");
		assert_non_null(strstr(unknown.screen,
		                       "This NextPay account may not sign in as <ACCOUNT> on this host."));
		/* The same requests, and no refusal before the approval came (0.5 s). */
		assert_int_equal(unknown.creates, 1);
		assert_int_equal(unknown.creates, real.creates);
		assert_int_equal(unknown.mes, 1);
		assert_int_equal(unknown.mes, real.mes);
		assert_true(unknown.took_ms >= 500);
	}
}

static void unknown_account_never_touches_the_cache(void **state)
{
	struct script s = { 0 };
	char dir[1024], cmd[2200], usermap[1024];

	(void)state;
	/* Even an identity that maps to the name signs nobody in, and leaves nothing behind. */
	snprintf(usermap, sizeof usermap, "usr_alice %s\nusr_alice np-no-such-user\n", test_account());
	write_usermap(usermap);
	snprintf(dir, sizeof dir, "%s/unknown-cache", test_dir());
	write_cache_config(&api, "unknown-cache", "cache_scope = user\n");
	auto_decide("approve", "usr_alice", 0.2);
	expect_rc(run_logged("np-poll", "np-no-such-user", &s, 0), PAM_USER_UNKNOWN, &s);
	expect_last_seen(&s, "This NextPay account may not sign in as np-no-such-user on this host.");
	expect_logged("method", "device-code");
	snprintf(cmd, sizeof cmd, "test -z \"$(ls -A %s 2>/dev/null)\"", dir);
	assert_int_equal(run_shell("%s", cmd), 0);
	write_standard_usermap();
}

static void pam_user_changed_during_the_conversation(void **state)
{
	struct script s = { .on_message = switch_user };
	struct script same = { .on_message = switch_user };
	char logged[512];
	int rc;

	(void)state;
	user_to_set = "daemon";
	auto_decide("approve", "usr_alice", 0.2);
	log_capture_begin();
	rc = run_auth_on_handle("np-poll", test_account(), &s, 0);
	log_capture_end(log_text, sizeof log_text);
	expect_rc(rc, PAM_AUTH_ERR, &s);
	snprintf(logged, sizeof logged, "PAM_USER changed during the sign-in: from=\"%s\" to=\"daemon\"",
	         test_account());
	expect_log_contains(logged);
	expect_logged("reason", "PAM_USER changed during the sign-in");
	expect_logged("account", test_account());
	expect_last_seen(&s, "The account to sign in to changed during the sign-in.");
	/* The same name again, in a new string: nothing changed. */
	reset(NULL);
	user_to_set = test_account();
	auto_decide("approve", "usr_alice", 0.2);
	expect_rc(run_auth_on_handle("np-poll", test_account(), &same, 0), PAM_SUCCESS, &same);
}

static int occurrences(const char *text, const char *needle)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* How many outcome lines the captured log holds (an account= field; a quote inside a value is \"). */
static int outcome_lines(void)
{
	return occurrences(log_text, " account=\"");
}

static void log_fields_cannot_be_forged(void **state)
{
	struct script s = { 0 };
	struct script items = { .on_message = set_rhost };
	char line[8192], value[1024];
	const char *rhost;
	int rc;

	(void)state;
	/* A user name posing as a field: fail2ban would read rhost=192.0.2.66. */
	expect_rc(run_logged("np-poll", "x rhost=192.0.2.66", &s, 0), PAM_USER_UNKNOWN, &s);
	assert_int_equal(s.seen.count, 0);
	assert_int_equal(outcome_lines(), 1);
	assert_true(log_outcome_line(log_text, line, sizeof line));
	assert_true(log_field(line, "account", value, sizeof value));
	assert_string_equal(value, "x rhost=192.0.2.66");
	assert_true(log_field(line, "rhost", value, sizeof value));
	assert_string_equal(value, "");
	/* A filter matching rhost="..." (quotes included, as it must now) finds one: the real one. */
	assert_int_equal(occurrences(line, " rhost=\""), 1);
	/* An address holding quotes, a newline and a whole forged line. */
	rhost = "198.51.100.7\" account=\"daemon\nSYSLOG(4): pam_nextpay: success: account=\"root\" "
	        "rhost=\"192.0.2.66\"\r\t\\";
	rhost_to_set = rhost;
	reset(NULL);
	auto_decide("approve", "usr_alice", 0.2);
	log_capture_begin();
	rc = run_auth_on_handle("np-poll", test_account(), &items, 0);
	log_capture_end(log_text, sizeof log_text);
	expect_rc(rc, PAM_SUCCESS, &items);
	assert_int_equal(outcome_lines(), 1);
	assert_true(log_outcome_line(log_text, line, sizeof line));
	assert_true(log_field(line, "rhost", value, sizeof value));
	assert_string_equal(value, rhost);
	assert_true(log_field(line, "account", value, sizeof value));
	assert_string_equal(value, test_account());
	assert_int_equal(occurrences(log_text, " rhost=\""), 1);
	/* The screen got it without the controls. */
	assert_false(seen_has_control_chars(&items.seen));
}

static void invisible_characters_reach_nobody(void **state)
{
	struct script s = { .on_message = set_rhost };
	struct script named = { 0 };
	char host[64], want[512], line[512], value[256];
	int rc;

	(void)state;
	/* ZWSP, LINE SEPARATOR, BOM, TAG LATIN CAPITAL A, VS16, soft hyphen, ALM. */
	rhost_to_set = "192.0.2.10\xe2\x80\x8b\xe2\x80\xa8\xef\xbb\xbf\xf3\xa0\x81\x81\xef\xb8\x8f"
	               "\xc2\xad\xd8\x9c";
	auto_decide("approve", "usr_alice", 0.2);
	log_capture_begin();
	rc = run_auth_on_handle("np-poll", test_account(), &s, 0);
	log_capture_end(log_text, sizeof log_text);
	expect_rc(rc, PAM_SUCCESS, &s);
	host_shown(host, sizeof host);
	first_line(&s, line, sizeof line);
	snprintf(want, sizeof want, "NextPay sign-in to %s as %s (np-poll from 192.0.2.10).", host,
	         test_account());
	assert_string_equal(line, want);
	assert_false(seen_has_unsafe_text(&s.seen));
	/* The log keeps every byte, escaped. */
	expect_log_contains("rhost=\"192.0.2.10\\xE2\\x80\\x8B\\xE2\\x80\\xA8");
	/* A user name that would read "root" on the approver's screen is no name at all. */
	reset(NULL);
	expect_rc(run_logged("np-poll", "ro\xe2\x80\x8bot", &named, 0), PAM_USER_UNKNOWN, &named);
	assert_int_equal(named.seen.count, 0);
	assert_int_equal(mock_count(&api, "create"), 0);
	expect_logged("reason", "malformed user name");
	assert_true(log_outcome_line(log_text, line, sizeof line));
	assert_true(log_field(line, "account", value, sizeof value));
	assert_string_equal(value, "ro\xe2\x80\x8bot");
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
	char path[1024], decoded[512] = "", url[512], code[32];
	FILE *f;

	(void)state;
	if (getenv("NP_HAVE_QR") == NULL || strcmp(getenv("NP_HAVE_QR"), "yes") != 0 ||
	    run_shell("command -v zbarimg >/dev/null") != 0) {
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
	assert_int_equal(run_shell_output(decoded, sizeof decoded,
	                                  "/usr/bin/python3 %s/../qr/decode_qr.py %s",
	                                  getenv("NP_TESTS_DIR"), path),
	                 0);
	decoded[strcspn(decoded, "\n")] = '\0';
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
		T(sshd_service_of_another_program_gets_a_code),
		T(immediate_sshd_gives_the_reason_without_a_last_prompt),
		T(ssh_info_is_only_for_sshd),
		T(email_rule_matches_without_case),
		T(deny_is_maxtries),
		T(denial_is_final_for_the_handle),
		T(code_never_reaches_the_log),
		T(expired_code),
		T(login_timeout),
		T(approved_but_not_mapped),
		T(unmapped_identity_without_rules),
		T(conversation_failure),
		T(denial_reason_comes_with_a_last_prompt),
		T(refusal_ends_with_its_reference),
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
		T(every_event_line_carries_the_reference),
		T(without_journald_events_go_to_syslog),
		T(proxy_credentials_only_from_a_root_only_file),
		T(plain_http_is_service_error),
		T(config_file_mode_is_checked),
		T(unsafe_usermap_is_service_error),
		T(missing_helper_is_service_error),
		T(skipped_service_is_ignored),
		T(skip_list_does_not_match_other_services),
		T(host_ignoring_sigchld_is_restored),
		T(helper_gets_nothing_but_its_pipes),
		T(qr_code_reads_back_as_the_url),
		T(verification_hosts_refuse_another_host),
		T(verification_hosts_allow_a_listed_host),
		T(verification_url_hiding_another_host),
		T(instructions_name_service_and_source),
		T(longest_instructions_reach_the_person_whole),
		T(unknown_account_looks_like_a_refused_one),
		T(unknown_account_never_touches_the_cache),
		T(pam_user_changed_during_the_conversation),
		T(log_fields_cannot_be_forged),
		T(invisible_characters_reach_nobody),
	};

	/* NP_TEST_FILTER=name (cmocka's wildcards) runs just those tests. */
	if (getenv("NP_TEST_FILTER") != NULL && getenv("NP_TEST_FILTER")[0] != '\0')
		cmocka_set_test_filter(getenv("NP_TEST_FILTER"));
	return cmocka_run_group_tests_name("integration", tests, group_setup, group_teardown);
}
