/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The greeter flow (src/module/greeter.h) through the real libpam, helper and
 * mock: what a display manager's PAM worker sees.  The application names an X
 * display (PAM_XDISPLAY, or PAM_TTY ":70" as LightDM sets it) and has no
 * controlling terminal: this suite runs in a session of its own, and one
 * test gives a sign-in a terminal on purpose.  What a real greeter makes of
 * these messages is tested on LightDM itself (tests/e2e/e2e_lightdm.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <security/pam_appl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

static struct mock api;

#define GET_CODE "Press Enter to get a sign-in code"
#define START_AGAIN "Press Enter to start again"
#define WAITING "Waiting for your approval..."
#define DENIED "The sign-in was denied in NextPay."
#define EXPIRED "The code expired before it was approved."
#define NOT_REACHED "NextPay could not be reached."
#define NOT_SET_UP "NextPay sign-in is not set up correctly on this host."

/* What the application set before pam_authenticate: X display and PAM_TTY. */
static struct {
	const char *xdisplay;
	const char *tty;
	/* Seen when the ready prompt came: codes made, processes (helpers) started. */
	int codes_at_prompt;
	int children_at_prompt;
	bool greeter_expected; /* the test is about the greeter flow: root only */
} app;

static void as_lightdm(void)
{
	app.xdisplay = ":70";
	app.tty = ":70";
}

/* Sets the items on the handle; on the ready prompt, notes what existed by then. */
static void application(struct script *script, pam_handle_t *pamh, const struct pam_message *msg)
{
	(void)script;
	if (msg == NULL) {
		if (app.xdisplay != NULL)
			assert_int_equal(pam_set_item(pamh, PAM_XDISPLAY, app.xdisplay), PAM_SUCCESS);
		if (app.tty != NULL)
			assert_int_equal(pam_set_item(pamh, PAM_TTY, app.tty), PAM_SUCCESS);
		return;
	}
	if (msg->msg_style == PAM_PROMPT_ECHO_OFF && strstr(msg->msg, GET_CODE) != NULL) {
		app.codes_at_prompt = mock_count(&api, "create");
		app.children_at_prompt = child_processes(api.pid, NULL, 0);
	}
}

/* A sign-in as the display manager would run it, what the module logged in log_text. */
static int greeter_sign_in(const char *service, struct script *s)
{
	int rc;

	/* Only root can be a display manager: as another user the greeter flow never comes. */
	if (app.greeter_expected && getuid() != 0)
		skip();
	s->on_message = application;
	log_capture_begin();
	rc = run_auth_on_handle(service, test_account(), s, 0);
	log_capture_end(log_text, sizeof log_text);
	return rc;
}

static int group_setup(void **state)
{
	char usermap[512];

	(void)state;
	if (mock_start(&api, "mock-greeter", NULL) != 0)
		return -1;
	snprintf(usermap, sizeof usermap, "usr_alice %s\nbob.builder@example.com daemon\n",
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

static int reset(void **state)
{
	(void)state;
	reset_mock(&api);
	memset(&app, 0, sizeof app);
	app.codes_at_prompt = -1;
	app.children_at_prompt = -1;
	as_lightdm();
	app.greeter_expected = true;
	return 0;
}

/* For the tests of what is no greeter: as any user. */
static int reset_anyone(void **state)
{
	(void)state;
	reset_mock(&api);
	memset(&app, 0, sizeof app);
	return 0;
}

static void expect_seen(const struct script *s, int i, int style, const char *needle)
{
	if (i >= s->seen.count || s->seen.style[i] != style ||
	    strstr(s->seen.text[i], needle) == NULL) {
		fprintf(stderr, "message %d is not a %s with \"%s\"; the person saw:\n", i,
		        style == PAM_TEXT_INFO ? "PAM_TEXT_INFO" : style == PAM_ERROR_MSG
		                                                       ? "PAM_ERROR_MSG"
		                                                       : "prompt",
		        needle);
		seen_dump(&s->seen);
		fail();
	}
}

/* How many messages the person saw in style, each containing needle (NULL: any). */
static int count_seen(const struct script *s, int style, const char *needle)
{
	int n = 0;

	for (int i = 0; i < s->seen.count; i++)
		if (s->seen.style[i] == style && (needle == NULL || strstr(s->seen.text[i], needle)))
			n++;
	return n;
}

static void expect_log_contains(const char *needle)
{
	if (strstr(log_text, needle) == NULL) {
		fprintf(stderr, "not logged: %s\nthe log:\n%s", needle, log_text);
		fail();
	}
}

/*
 * A refusal at a greeter: its reason as information (an error message
 * would give way to the greeter's own words), "Press Enter to start again",
 * the prompt that keeps it on screen, and the reason once more after Enter.
 */
static void expect_greeter_refusal(const struct script *s, const char *reason)
{
	int n = s->seen.count;

	assert_true(n >= 3);
	expect_seen(s, n - 3, PAM_TEXT_INFO, reason);
	expect_seen(s, n - 3, PAM_TEXT_INFO, "\n" START_AGAIN ".");
	expect_seen(s, n - 2, PAM_PROMPT_ECHO_OFF, START_AGAIN ": ");
	expect_seen(s, n - 1, PAM_TEXT_INFO, reason);
	assert_int_equal(count_seen(s, PAM_ERROR_MSG, NULL), 0);
}

/* ---- the flow ---- */

static void approval_after_the_ready_prompt(void **state)
{
	struct script s = { .answers = { "" }, .delay_ms = { 500 } };
	char first[512], host[256] = "";

	(void)state;
	mock_auto(&api, "approve", "usr_alice", 0.5);
	expect_rc(greeter_sign_in("np-auto", &s), PAM_SUCCESS, &s);
	gethostname(host, sizeof host - 1);
	snprintf(first, sizeof first, "NextPay sign-in to %.48s as %s (np-auto).\n" GET_CODE ".",
	         host, test_account());
	expect_seen(&s, 0, PAM_TEXT_INFO, first);
	expect_seen(&s, 1, PAM_PROMPT_ECHO_OFF, GET_CODE ": ");
	/* Nothing was asked of NextPay, and no helper ran, before the person asked. */
	assert_int_equal(app.codes_at_prompt, 0);
	assert_int_equal(app.children_at_prompt, 0);
	expect_seen(&s, 2, PAM_TEXT_INFO, "and approve code ");
	expect_seen(&s, 2, PAM_TEXT_INFO,
	            "Approve only if you started this sign-in yourself.\n" WAITING);
	assert_int_equal(s.prompts_answered, 1);
	assert_int_equal(mock_count(&api, "create"), 1);
	assert_int_equal(count_seen(&s, PAM_TEXT_INFO, "Still waiting"), 0);
}

/* The lifetime each showing of the instructions gave, in seconds, in order. */
static int lifetimes(const struct script *s, int *out, int max)
{
	int n = 0;

	for (int i = 0; i < s->seen.count && n < max; i++) {
		const char *p = strstr(s->seen.text[i], "(valid for ");

		if (p != NULL)
			out[n++] = atoi(p + strlen("(valid for "));
	}
	return n;
}

static void instructions_come_back_while_waiting(void **state)
{
	struct script s = { .answers = { "" } };
	int seconds[MAX_SEEN];
	int n;

	(void)state;
	/* LightDM's GTK greeter clears its message on Enter: every 2 s they are back. */
	mock_auto(&api, "approve", "usr_alice", 5.5);
	expect_rc(greeter_sign_in("np-auto", &s), PAM_SUCCESS, &s);
	n = lifetimes(&s, seconds, MAX_SEEN);
	assert_in_range(n, 3, 5);
	for (int i = 1; i < n; i++)
		assert_true(seconds[i] < seconds[i - 1]);
	/* Each time whole: the URL and the code are never replaced by a progress line. */
	assert_int_equal(count_seen(&s, PAM_TEXT_INFO, "/auth/device?code="), n);
	assert_int_equal(count_seen(&s, PAM_TEXT_INFO, "Still waiting"), 0);
	assert_int_equal(mock_count(&api, "create"), 1);
}

static void gdm_like_greeter_is_not_flooded(void **state)
{
	struct script s = { .answers = { "" } };

	(void)state;
	/* GDM: PAM_XDISPLAY, but PAM_TTY the VT; it keeps each message on screen a while. */
	app.tty = "/dev/tty1";
	mock_auto(&api, "approve", "usr_alice", 4.5);
	expect_rc(greeter_sign_in("np-auto", &s), PAM_SUCCESS, &s);
	expect_seen(&s, 1, PAM_PROMPT_ECHO_OFF, GET_CODE);
	assert_int_equal(count_seen(&s, PAM_TEXT_INFO, "/auth/device?code="), 1);
}

static void nobody_at_the_ready_prompt_makes_no_code(void **state)
{
	struct script s = { .answers = { NULL } };

	(void)state;
	expect_rc(greeter_sign_in("np-auto", &s), PAM_CONV_ERR, &s);
	assert_int_equal(s.prompts_answered, 1);
	assert_int_equal(mock_count(&api, "create"), 0);
	assert_int_equal(mock_count(&api, "connections"), 0);
	assert_int_equal(count_seen(&s, PAM_TEXT_INFO, "approve code"), 0);
}

static void typed_text_at_the_ready_prompt_is_dropped(void **state)
{
	struct script s = { .answers = { "hunter2" } };

	(void)state;
	mock_auto(&api, "approve", "usr_alice", 0.3);
	expect_rc(greeter_sign_in("np-auto", &s), PAM_SUCCESS, &s);
	assert_false(seen_contains(&s.seen, "hunter2"));
	assert_null(strstr(log_text, "hunter2"));
}

/* ---- refusals stay readable ---- */

static void denial_is_information_kept_by_a_prompt(void **state)
{
	struct script s = { .answers = { "", "" } };

	(void)state;
	mock_auto(&api, "deny", "usr_alice", 0.3);
	expect_rc(greeter_sign_in("np-auto", &s), PAM_MAXTRIES, &s);
	expect_greeter_refusal(&s, DENIED);
	assert_int_equal(s.prompts_answered, 2);
	/* Decided before the last prompt, and logged so. */
	expect_log_contains("denied: account=");
	assert_int_equal(mock_count(&api, "create"), 1);
}

static void expiry_ends_the_wait_by_itself(void **state)
{
	struct script s = { .answers = { "", "" } };
	long long start;

	(void)state;
	write_config(&api, "login_timeout = 10\n");
	start = now_ms();
	expect_rc(greeter_sign_in("np-auto", &s), PAM_AUTH_ERR, &s);
	/* Nobody touched the keyboard but for the two prompts (answered at once). */
	assert_in_range(now_ms() - start, 9500, 14000);
	expect_greeter_refusal(&s, EXPIRED);
}

static void unreachable_api_is_readable(void **state)
{
	struct script s = { .answers = { "", "" } };

	(void)state;
	mock_fault(&api, "{\"endpoint\": \"create\", \"kind\": \"status\", \"status\": 503, "
	                 "\"count\": 10}");
	expect_rc(greeter_sign_in("np-auto", &s), PAM_AUTHINFO_UNAVAIL, &s);
	expect_greeter_refusal(&s, NOT_REACHED);
}

static void unmapped_identity_is_readable(void **state)
{
	struct script s = { .answers = { "", "" } };
	char refusal[256];

	(void)state;
	mock_auto(&api, "approve", "usr_bob", 0.3);
	expect_rc(greeter_sign_in("np-auto", &s), PAM_AUTH_ERR, &s);
	snprintf(refusal, sizeof refusal, "This NextPay account may not sign in as %s on this host.",
	         test_account());
	expect_greeter_refusal(&s, refusal);
}

static void broken_settings_are_readable(void **state)
{
	struct script s = { .answers = { "" } };

	(void)state;
	/* The settings decide wait; where they do not load, a greeter still keeps the words. */
	write_config(&api, "no_such_setting = 1\n");
	expect_rc(greeter_sign_in("np-auto", &s), PAM_SERVICE_ERR, &s);
	expect_greeter_refusal(&s, NOT_SET_UP);
	assert_int_equal(mock_count(&api, "create"), 0);
}

/* ---- which applications get it ---- */

/* The terminal flow: the instructions at once, no ready prompt. */
static void expect_terminal_flow(const struct script *s)
{
	expect_seen(s, 0, PAM_TEXT_INFO, "and approve code ");
	assert_int_equal(count_seen(s, PAM_PROMPT_ECHO_OFF, GET_CODE), 0);
}

static void terminal_applications_keep_their_flow(void **state)
{
	/* sshd, sudo, su, login: a PAM_TTY that names a terminal, or none, and no PAM_XDISPLAY. */
	const char *ttys[] = { "ssh", "/dev/pts/3", "pts/3", "tty1", "/dev/tty1", NULL };

	(void)state;
	for (int i = 0; i < (int)(sizeof ttys / sizeof ttys[0]); i++) {
		struct script s = { 0 };

		reset_mock(&api);
		app.xdisplay = NULL;
		app.tty = ttys[i];
		mock_auto(&api, "approve", "usr_alice", 0.2);
		expect_rc(greeter_sign_in("np-auto", &s), PAM_SUCCESS, &s);
		expect_terminal_flow(&s);
	}
}

/*
 * A screen locker names the display as LightDM does, but calls PAM as the
 * person whose screen it locks: it must get the terminal's flow, and a
 * refusal at once, not a prompt that waits (as root the real lockers are
 * tried in tests/e2e/e2e_locker.py).
 */
static void screen_locker_is_no_greeter(void **state)
{
	struct script s = { 0 };

	(void)state;
	if (getuid() == 0)
		skip();
	app.xdisplay = ":70";
	app.tty = ":70";
	mock_auto(&api, "approve", "usr_alice", 0.2);
	expect_rc(greeter_sign_in("np-auto", &s), PAM_SUCCESS, &s);
	expect_terminal_flow(&s);
}

static void explicit_wait_is_kept_at_a_greeter(void **state)
{
	struct script poll = { 0 };
	struct script prompt = { .answers = { "" }, .delay_ms = { 800 } };

	(void)state;
	mock_auto(&api, "approve", "usr_alice", 0.2);
	expect_rc(greeter_sign_in("np-poll", &poll), PAM_SUCCESS, &poll);
	expect_terminal_flow(&poll);
	reset_mock(&api);
	mock_auto(&api, "approve", "usr_alice", 0.2);
	expect_rc(greeter_sign_in("np-prompt", &prompt), PAM_SUCCESS, &prompt);
	expect_seen(&prompt, 0, PAM_PROMPT_ECHO_OFF, "and approve code ");
}

/* This program, run again for one sign-in on a terminal (see on_a_terminal()). */
#define ON_A_TERMINAL "--sign-in-on-a-terminal"
/* argv[0]: under valgrind, /proc/self/exe is valgrind. */
static const char *self_path;

/*
 * A child with a pseudo-terminal as its controlling terminal, running this
 * program again (ON_A_TERMINAL): a fresh process, so that pam_wrapper's
 * copy of the services goes when it exits, and nothing of this one's
 * (pam_wrapper sets itself up afresh after a fork, leaking the first).
 */
static int sign_in_on_a_terminal(void)
{
	pid_t pid;
	int status = 0;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int master = posix_openpt(O_RDWR | O_NOCTTY);
		int terminal;

		if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0 || setsid() < 0)
			_exit(90);
		terminal = open(ptsname(master), O_RDWR | O_NOCTTY);
		if (terminal < 0 || ioctl(terminal, TIOCSCTTY, 0) != 0)
			_exit(91);
		execl(self_path, self_path, ON_A_TERMINAL, (char *)NULL);
		_exit(92);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* ON_A_TERMINAL: the sign-in, as LightDM's items say, and whether it kept the terminal flow. */
static int on_a_terminal(void)
{
	struct script s = { 0 };
	char dir[1024];
	int rc;

	snprintf(dir, sizeof dir, "%s/mock-greeter", test_dir());
	mock_at(&api, dir);
	as_lightdm();
	rc = greeter_sign_in("np-auto", &s);
	if (rc != PAM_SUCCESS || s.seen.count < 1 || s.seen.style[0] != PAM_TEXT_INFO ||
	    strstr(s.seen.text[0], "and approve code ") == NULL ||
	    count_seen(&s, PAM_PROMPT_ECHO_OFF, GET_CODE) != 0) {
		fprintf(stderr, "on a terminal: %s; the person saw:\n", pam_strerror(NULL, rc));
		seen_dump(&s.seen);
		return 1;
	}
	return 0;
}

static void x_display_with_a_terminal_is_no_greeter(void **state)
{
	(void)state;
	mock_auto(&api, "approve", "usr_alice", 0.2);
	assert_int_equal(sign_in_on_a_terminal(), 0);
}

static void debug_log_says_why(void **state)
{
	struct script s = { .answers = { "" } };

	(void)state;
	write_config(&api, "debug = yes\nqr = yes\n");
	mock_auto(&api, "approve", "usr_alice", 0.3);
	expect_rc(greeter_sign_in("np-auto", &s), PAM_SUCCESS, &s);
	expect_log_contains("display manager: PAM_XDISPLAY=\":70\" PAM_TTY=\":70\", no "
	                    "controlling terminal");
	expect_log_contains("greeter mode: the instructions shown again every 2 s");
	/* One message at a time: a QR drawing would give way to the instructions at once. */
	expect_log_contains("QR code not drawn: the application shows one message at a time");
	assert_false(seen_contains(&s.seen, "\xe2\x96\x80"));
	assert_false(seen_contains(&s.seen, "\xe2\x96\x88"));
}

/*
 * The module looks for a controlling terminal: this suite has none, as a
 * display manager's PAM worker has none.  A process that leads its group
 * (started from an interactive shell) cannot leave its session: a child does.
 */
static int without_terminal(void)
{
	pid_t pid;
	int status = 0;

	if (setsid() >= 0 || errno != EPERM)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid != 0) {
		if (pid < 0 || waitpid(pid, &status, 0) != pid)
			return 99;
		return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	return setsid() >= 0 ? -1 : 98;
}

#define T(fn) cmocka_unit_test_setup(fn, reset)

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		T(approval_after_the_ready_prompt),
		T(instructions_come_back_while_waiting),
		T(gdm_like_greeter_is_not_flooded),
		T(nobody_at_the_ready_prompt_makes_no_code),
		T(typed_text_at_the_ready_prompt_is_dropped),
		T(denial_is_information_kept_by_a_prompt),
		T(expiry_ends_the_wait_by_itself),
		T(unreachable_api_is_readable),
		T(unmapped_identity_is_readable),
		T(broken_settings_are_readable),
		cmocka_unit_test_setup(terminal_applications_keep_their_flow, reset_anyone),
		cmocka_unit_test_setup(screen_locker_is_no_greeter, reset_anyone),
		T(explicit_wait_is_kept_at_a_greeter),
		T(x_display_with_a_terminal_is_no_greeter),
		T(debug_log_says_why),
	};
	int detached;

	self_path = argv[0];
	if (argc == 2 && strcmp(argv[1], ON_A_TERMINAL) == 0)
		return on_a_terminal();
	detached = without_terminal();
	if (detached >= 0)
		return detached;
	/* NP_TEST_FILTER=name (cmocka's wildcards) runs just those tests. */
	if (getenv("NP_TEST_FILTER") != NULL && getenv("NP_TEST_FILTER")[0] != '\0')
		cmocka_set_test_filter(getenv("NP_TEST_FILTER"));
	return cmocka_run_group_tests_name("greeter", tests, group_setup, group_teardown);
}
