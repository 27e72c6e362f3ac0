/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cache_scope = key through the real libpam, helper and mock: an approval
 * given after a public key serves a later sign-in of the same account with
 * the same key, from any session, and nothing else.
 *
 * The module trusts SSH_AUTH_INFO_0 only inside a portable OpenSSH, which it
 * recognises by the release string compiled into the program
 * (src/module/sshd_info.c).  This program carries one (SSHD_RELEASE below), so
 * that under the service sshd it stands where sshd's per-connection process
 * does; the application puts SSH_AUTH_INFO_0 into the PAM environment just
 * before pam_authenticate(), as sshd does.  tests/e2e/e2e_ssh_key.py does the
 * same with real sshd.
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

#include "harness.h"

/* What the module reads from /proc/self/exe: "an sshd of OpenSSH 9.2p1" (prompt mode). */
__attribute__((used)) static const char SSHD_RELEASE[] = "OpenSSH_9.2p1 Debian-2+deb12u3";

/* Two public keys as sshd reports them, with what ssh-keygen -l said of each. */
#define KEY_A "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOSJYx8eaFzmIfe56Bb7rv83hxcIUF0lAHEcmnWQnoOr"
#define KEY_A_FP "SHA256:sr0gk2VJaorPKhNN4k7xaOclwgyq6iR/7RtwjK6Nqg8"
#define KEY_B "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICK1PH5gqgE05xUTl7GaGiPiSVTbgoBOHKfdsQ/7PL6r"
#define KEY_B_FP "SHA256:bJQ6be583WGS5xqA90goBjb6WL3S8fl7JX6EYaMzmuc"

static struct mock api;
/* SSH_AUTH_INFO_0 for the next sign-in; NULL: not set at all. */
static const char *auth_info;

static int group_setup(void **state)
{
	char usermap[512];

	(void)state;
	if (mock_start(&api, "mock-sshd-key", NULL) != 0)
		return -1;
	snprintf(usermap, sizeof usermap, "usr_alice %s\n", test_account());
	write_usermap(usermap);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	mock_stop(&api);
	return 0;
}

/* Fresh mock that approves every code at once; fresh cache in key scope. */
static int setup(void **state)
{
	reset_mock(&api);
	mock_auto(&api, "approve", "usr_alice", 0.1);
	write_cache_config(&api, "cache-sshd-key", "cache_scope = key\ndebug = yes\n");
	return start_timer(state);
}

/* As sshd: the completed methods into the PAM environment before pam_authenticate(). */
static void put_auth_info(struct script *script, pam_handle_t *pamh, const struct pam_message *msg)
{
	char env[1024];

	(void)script;
	if (msg != NULL || auth_info == NULL)
		return;
	snprintf(env, sizeof env, "SSH_AUTH_INFO_0=%s", auth_info);
	assert_int_equal(pam_putenv(pamh, env), PAM_SUCCESS);
}

/* One sign-in on service with info as SSH_AUTH_INFO_0; its code, what was logged in log_text. */
static int sign_in(const char *service, const char *info, struct script *s)
{
	int rc;

	auth_info = info;
	s->on_message = put_auth_info;
	s->answers[0] = "";
	s->answers[1] = "";
	s->delay_ms[0] = 600;
	log_capture_begin();
	rc = run_auth_on_handle(service, test_account(), s, 0);
	log_capture_end(log_text, sizeof log_text);
	return rc;
}

static void expect_signed_in(const char *service, const char *info, const char *method)
{
	struct script s = { 0 };
	char want[128];

	expect_rc(sign_in(service, info, &s), PAM_SUCCESS, &s);
	snprintf(want, sizeof want, "method=\"%s\"", method);
	if (strstr(log_text, want) == NULL) {
		fprintf(stderr, "no %s in the log:\n%s\n", want, log_text);
		fail();
	}
	/* A reuse shows nothing; a device sign-in shows the code. */
	if (strcmp(method, "cached-approval") == 0)
		assert_int_equal(s.seen.count, 0);
	else
		assert_true(s.seen.count > 0);
}

static void logged(const char *needle)
{
	if (strstr(log_text, needle) == NULL) {
		fprintf(stderr, "not in the log: %s\n%s\n", needle, log_text);
		fail();
	}
}

/* The same key again, from another handle (another connection): no new code. */
static void same_key_reuses(void **state)
{
	(void)state;
	expect_signed_in("sshd", "publickey " KEY_A "\n", "device-code");
	logged("key=\"" KEY_A_FP "\"");
	assert_int_equal(mock_count(&api, "create"), 1);
	for (int i = 0; i < 3; i++) {
		expect_signed_in("sshd", "publickey " KEY_A "\n", "cached-approval");
		logged("key=\"" KEY_A_FP "\"");
	}
	assert_int_equal(mock_count(&api, "create"), 1);
	/* The device sign-in asked who approved; each reuse was confirmed with the API again. */
	assert_int_equal(mock_count(&api, "me"), 1 + 3);
}

static void another_key_gets_a_new_code(void **state)
{
	(void)state;
	expect_signed_in("sshd", "publickey " KEY_A "\n", "device-code");
	expect_signed_in("sshd", "publickey " KEY_B "\n", "device-code");
	logged("key=\"" KEY_B_FP "\"");
	assert_int_equal(mock_count(&api, "create"), 2);
	/* Both are kept, each for its own key. */
	expect_signed_in("sshd", "publickey " KEY_A "\n", "cached-approval");
	expect_signed_in("sshd", "publickey " KEY_B "\n", "cached-approval");
	assert_int_equal(mock_count(&api, "create"), 2);
}

/* publickey,publickey: bound to both keys in order; one of them alone is another scope. */
static void several_keys_bind_all_in_order(void **state)
{
	(void)state;
	expect_signed_in("sshd", "publickey " KEY_A "\npublickey " KEY_B "\n", "device-code");
	logged("key=\"" KEY_A_FP "," KEY_B_FP "\"");
	expect_signed_in("sshd", "publickey " KEY_A "\npublickey " KEY_B "\n", "cached-approval");
	expect_signed_in("sshd", "publickey " KEY_B "\npublickey " KEY_A "\n", "device-code");
	expect_signed_in("sshd", "publickey " KEY_A "\n", "device-code");
	assert_int_equal(mock_count(&api, "create"), 3);
}

/*
 * keyboard-interactive alone (sshd sets SSH_AUTH_INFO_0 empty), no variable,
 * or text that does not parse: the session scope, where sshd's process has
 * no terminal, so nothing is stored or reused, and the log names no key.
 */
static void no_key_gets_a_new_code(void **state)
{
	static const char *const none[] = {
		"", NULL, "publickey " KEY_A, "publickey " KEY_A "\x1b[2J\n", "keyboard-interactive/pam\n",
	};

	(void)state;
	expect_signed_in("sshd", "publickey " KEY_A "\n", "device-code");
	for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
		expect_signed_in("sshd", none[i], "device-code");
		assert_null(strstr(log_text, "key=\""));
		logged("no public key from sshd; session scope instead of key scope");
		expect_signed_in("sshd", none[i], "device-code");
	}
	assert_int_equal(mock_count(&api, "create"), 1 + 2 * 5);
}

/* Another service never reads SSH_AUTH_INFO_0, nor reuses an sshd approval. */
static void another_service_gets_a_new_code(void **state)
{
	(void)state;
	expect_signed_in("sshd", "publickey " KEY_A "\n", "device-code");
	expect_signed_in("np-prompt", "publickey " KEY_A "\n", "device-code");
	assert_null(strstr(log_text, "key=\""));
	expect_signed_in("np-prompt", "publickey " KEY_A "\n", "device-code");
	assert_int_equal(mock_count(&api, "create"), 3);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, report_time)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(same_key_reuses),
		T(another_key_gets_a_new_code),
		T(several_keys_bind_all_in_order),
		T(no_key_gets_a_new_code),
		T(another_service_gets_a_new_code),
	};

	(void)SSHD_RELEASE;
	/* NP_TEST_FILTER=name (cmocka's wildcards) runs just those tests. */
	if (getenv("NP_TEST_FILTER") != NULL && getenv("NP_TEST_FILTER")[0] != '\0')
		cmocka_set_test_filter(getenv("NP_TEST_FILTER"));
	return cmocka_run_group_tests_name("cache_scope = key (SSH_AUTH_INFO_0)", tests, group_setup,
	                                   group_teardown);
}
