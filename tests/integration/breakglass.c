/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Break-glass through the real libpam, helper and mock: the stack of
 * pam_nextpay(8), BREAK-GLASS (service np-breakglass: the sign-in line, the
 * gate, then the password, which pam_wrapper's pam_matrix asks for and checks
 * in place of pam_unix).  Only while NextPay cannot be reached, and only for
 * a member of the group, does a password sign anyone in; a denial, an
 * expiry, an identity that does not map, a refusal from the API, a changed
 * PAM_USER, a failed helper or a stack set up wrongly never reach it.
 *
 * The group is NP_BREAKGLASS_GROUP (tests/run-tests.sh): as root one of this
 * run's, which the suite creates with a member account (and one with an
 * empty password) and removes; as another user, the caller's own group, of
 * which the caller is the member.  "daemon" is the account that is no member.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <grp.h>
#include <pwd.h>
#include <sched.h>
#include <security/pam_appl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness.h"

#define SERVICE "np-breakglass"
#define NON_MEMBER "daemon"
#define PASSWORD "correct horse battery"
#define ALICE_KEY "npk_alice_0123456789abcdef"
#define NOT_REACHED "NextPay could not be reached. Please try again later."
#define BREAKGLASS_WORDS \
	"Only break-glass accounts may sign in with a password now; every such sign-in is reported."
/* pam_matrix's prompt. */
#define PASSWORD_PROMPT "Password"
/* How pam_wrapper prints a pam_syslog() priority. */
#define AT_ALERT "SYSLOG(1): "
#define AT_ERR "SYSLOG(3): "
#define AT_WARNING "SYSLOG(4): "
/* How old a sign-in line's mark the gate still honours (BREAKGLASS_MARK_MAX_AGE_MS). */
#define MARK_MAX_AGE_S 5

static struct mock api;
static const char *group;
static char member[64];
static char empty_member[64]; /* root only: a member whose password is empty */
static bool made;             /* root: the group and accounts are this suite's */

/* groupadd, useradd ... outside pam_wrapper, retried while another holds the lock. */
static int account_tool(const char *command)
{
	for (int i = 0; i < 60; i++) {
		if (run_shell("env -u LD_PRELOAD -u PAM_WRAPPER %s >/dev/null 2>&1", command) == 0)
			return 0;
		usleep(500000);
	}
	return -1;
}

static void remove_accounts(void)
{
	char cmd[256];

	if (!made)
		return;
	snprintf(cmd, sizeof cmd, "userdel %s", member);
	(void)account_tool(cmd);
	snprintf(cmd, sizeof cmd, "userdel %s", empty_member);
	(void)account_tool(cmd);
	snprintf(cmd, sizeof cmd, "groupdel %s", group);
	(void)account_tool(cmd);
	made = false;
}

/* As root: the group, a member by a supplementary group, and one with no password. */
static int make_accounts(void)
{
	char cmd[512];

	snprintf(member, sizeof member, "%s-m", group);
	snprintf(empty_member, sizeof empty_member, "%s-e", group);
	snprintf(cmd, sizeof cmd, "groupadd %s", group);
	if (account_tool(cmd) != 0)
		return -1;
	made = true;
	snprintf(cmd, sizeof cmd, "useradd -M -N -s /usr/sbin/nologin -G %s %s", group, member);
	if (account_tool(cmd) != 0)
		return -1;
	snprintf(cmd, sizeof cmd, "useradd -M -N -s /usr/sbin/nologin -G %s -p '' %s", group,
	         empty_member);
	return account_tool(cmd);
}

/* As another user: the caller, whose own group the services name. */
static int caller_is_member(void)
{
	struct passwd *pw = getpwnam(test_account());
	struct group *gr = getgrnam(group);

	if (pw == NULL || gr == NULL || pw->pw_gid != gr->gr_gid || gr->gr_gid == 0) {
		fprintf(stderr, "breakglass: %s is not the primary group of %s\n", group,
		        test_account());
		return -1;
	}
	snprintf(member, sizeof member, "%s", test_account());
	return 0;
}

static int group_setup(void **state)
{
	char path[1024], text[512];

	(void)state;
	group = getenv("NP_BREAKGLASS_GROUP");
	if (group == NULL || group[0] == '\0' || mock_start(&api, "mock-breakglass", NULL) != 0)
		return -1;
	if ((geteuid() == 0 ? make_accounts() : caller_is_member()) != 0) {
		remove_accounts();
		return -1;
	}
	/* pam_matrix's password file: the same password for every account. */
	snprintf(path, sizeof path, "%s/conf/passdb", test_dir());
	snprintf(text, sizeof text,
	         "%s:" PASSWORD ":" SERVICE "\n" NON_MEMBER ":" PASSWORD ":" SERVICE "\nroot:" PASSWORD
	         ":" SERVICE "\n",
	         member);
	write_file(path, text, 0600);
	setenv("PAM_MATRIX_PASSWD", path, 1);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	mock_stop(&api);
	remove_accounts();
	return 0;
}

/* usr_alice may be the member, usr_bob the account that is no member. */
static int reset(void **state)
{
	char usermap[256];

	(void)state;
	reset_mock(&api);
	snprintf(usermap, sizeof usermap, "usr_alice %s\nusr_bob " NON_MEMBER "\n", member);
	write_usermap(usermap);
	return 0;
}

/* NextPay down: nothing listens where api_url points. */
static void api_down(const char *extra)
{
	char text[512];

	snprintf(text, sizeof text, "api_url = https://127.0.0.1:%d/v1\n%s", refused_port(),
	         extra != NULL ? extra : "");
	write_config(&api, text);
}

/* A sign-in through service as user, the password ready for whoever asks. */
static int sign_in(const char *service, const char *user, struct script *s)
{
	for (int i = 0; i < MAX_ANSWERS; i++)
		if (s->answers[i] == NULL)
			s->answers[i] = PASSWORD;
	return run_logged(service, user, s, 0);
}

static bool asked_for_the_password(const struct script *s)
{
	for (int i = 0; i < s->seen.count; i++)
		if (s->seen.style[i] == PAM_PROMPT_ECHO_OFF && strstr(s->seen.text[i], PASSWORD_PROMPT))
			return true;
	return false;
}

static void expect_no_password_prompt(const struct script *s)
{
	if (asked_for_the_password(s)) {
		fprintf(stderr, "the password was asked for; the person saw:\n");
		seen_dump(&s->seen);
		fail();
	}
}

/* The person saw what an outage shows everyone the gate weighs, then the password prompt. */
static void expect_outage_screen(const struct script *s)
{
	if (s->seen.count != 3 || strstr(s->seen.text[0], NOT_REACHED) == NULL ||
	    s->seen.style[1] != PAM_TEXT_INFO || strstr(s->seen.text[1], BREAKGLASS_WORDS) == NULL ||
	    !asked_for_the_password(s)) {
		fprintf(stderr, "not the outage, the break-glass words and the password prompt:\n");
		seen_dump(&s->seen);
		fail();
	}
}

/* The gate's line in the log: "break-glass opened" or "refused", at a priority, with fields. */
static void expect_gate_line_of(const char *gate_group, const char *verdict, const char *priority,
                                const char *account, const char *field, const char *value_part)
{
	char want[128], line[8192], value[4096];
	const char *found;
	const char *start;
	const char *end;

	snprintf(want, sizeof want, "break-glass %s: ", verdict);
	found = strstr(log_text, want);
	if (found == NULL) {
		fprintf(stderr, "no \"%s\" line; the log:\n%s", want, log_text);
		fail();
	}
	for (start = found; start > log_text && start[-1] != '\n'; start--)
		;
	end = strchr(found, '\n');
	snprintf(line, sizeof line, "%.*s", (int)(end != NULL ? end - start : (long)strlen(start)),
	         start);
	if (strncmp(line, priority, strlen(priority)) != 0 ||
	    !log_field(line, "account", value, sizeof value) || strcmp(value, account) != 0 ||
	    !log_field(line, "group", value, sizeof value) ||
	    strcmp(value, gate_group) != 0 || !log_field(line, field, value, sizeof value) ||
	    strstr(value, value_part) == NULL) {
		fprintf(stderr, "expected %s account=\"%s\" group=\"%s\" %s=\"...%s...\" in:\n%s\n",
		        priority, account, gate_group, field, value_part, line);
		fail();
	}
}

static void expect_gate_line(const char *verdict, const char *priority, const char *account,
                             const char *field, const char *value_part)
{
	expect_gate_line_of(group, verdict, priority, account, field, value_part);
}

static void expect_no_gate_line(void)
{
	if (strstr(log_text, "break-glass") != NULL) {
		fprintf(stderr, "the gate weighed this sign-in; the log:\n%s", log_text);
		fail();
	}
}

/* ---- NextPay unreachable: the member, and only the member, gets the password ---- */

static void member_signs_in_with_the_password_while_nextpay_is_down(void **state)
{
	struct script s = { 0 };
	struct script wrong = { .answers = { "not the password" } };

	(void)state;
	api_down(NULL);
	expect_rc(sign_in(SERVICE, member, &s), PAM_SUCCESS, &s);
	expect_outage_screen(&s);
	expect_gate_line("opened", AT_ALERT, member, "outage", "unreachable: ");
	/* The gate opens the way to the password; the password still decides. */
	expect_rc(sign_in(SERVICE, member, &wrong), PAM_AUTH_ERR, &wrong);
	expect_outage_screen(&wrong);
	expect_gate_line("opened", AT_ALERT, member, "outage", "unreachable: ");
}

static void every_kind_of_outage_opens_it(void **state)
{
	static const struct {
		const char *name;
		const char *config;   /* written over the mock's settings */
		const char *fault;    /* queued at the mock */
		const char *reason;   /* the start of the outage's reason */
	} outages[] = {
		{ "TLS failure", "ca_file = /etc/ssl/certs/ca-certificates.crt\n", NULL, "tls: " },
		{ "5xx", NULL, "{\"endpoint\": \"create\", \"kind\": \"status\", \"status\": 503, \"count\": -1}",
		  "unavailable: HTTP 503" },
		{ "no answer", "request_timeout = 1\n",
		  "{\"endpoint\": \"create\", \"kind\": \"slow\", \"delay\": 4, \"count\": -1}",
		  "unreachable: " },
		{ "connection reset", NULL, "{\"endpoint\": \"create\", \"kind\": \"reset\", \"count\": -1}",
		  "unavailable: " },
		{ "malformed answer", NULL, "{\"endpoint\": \"create\", \"kind\": \"garbage\"}", "malformed: " },
	};

	(void)state;
	for (size_t i = 0; i < sizeof outages / sizeof outages[0]; i++) {
		struct script s = { 0 };

		reset(NULL);
		write_config(&api, outages[i].config);
		if (outages[i].fault != NULL)
			mock_fault(&api, outages[i].fault);
		fprintf(stderr, "  %s\n", outages[i].name);
		expect_rc(sign_in(SERVICE, member, &s), PAM_SUCCESS, &s);
		expect_outage_screen(&s);
		expect_gate_line("opened", AT_ALERT, member, "outage", outages[i].reason);
	}
}

/* Everyone sees the same during an outage: who is a member is not told. */
static void others_see_the_same_and_are_refused(void **state)
{
	const char *const accounts[] = { NON_MEMBER, "npbg-no-such-account" };
	const char *const reasons[] = { "not a member of breakglass_group", "no such local account" };

	(void)state;
	for (size_t i = 0; i < sizeof accounts / sizeof accounts[0]; i++) {
		struct script s = { 0 };

		api_down(NULL);
		expect_rc(sign_in(SERVICE, accounts[i], &s), PAM_AUTH_ERR, &s);
		expect_outage_screen(&s);
		expect_gate_line("refused", AT_WARNING, accounts[i], "reason", reasons[i]);
	}
}

static void member_with_an_empty_password_is_refused(void **state)
{
	struct script s = { 0 };

	(void)state;
	if (geteuid() != 0)
		skip(); /* only root may read shadow, or make such an account */
	api_down(NULL);
	expect_rc(sign_in(SERVICE, empty_member, &s), PAM_AUTH_ERR, &s);
	expect_gate_line("refused", AT_WARNING, empty_member, "reason",
	                 "the account has an empty password");
}

/* ---- NextPay answers: it alone decides, and nothing falls through to the password ---- */

static void nextpay_up_the_member_still_needs_nextpay(void **state)
{
	struct script approved = { 0 };
	struct script denied = { 0 };
	struct script typed = { 0 };

	(void)state;
	write_config(&api, NULL);
	mock_auto(&api, "approve", "usr_alice", 0.3);
	expect_rc(sign_in(SERVICE, member, &approved), PAM_SUCCESS, &approved);
	assert_true(seen_contains(&approved.seen, "approve code"));
	expect_no_password_prompt(&approved);
	expect_no_gate_line();

	reset(NULL);
	mock_auto(&api, "deny", "usr_alice", 0.3);
	expect_rc(sign_in(SERVICE, member, &denied), PAM_MAXTRIES, &denied);
	expect_no_password_prompt(&denied);
	expect_no_gate_line();

	/* The password typed at NextPay's own prompt is refused, and asks for no other. */
	reset(NULL);
	write_config(&api, "wait = prompt\n");
	expect_rc(sign_in(SERVICE, member, &typed), PAM_AUTH_ERR, &typed);
	assert_true(seen_contains(&typed.seen, "approve code"));
	assert_true(seen_contains(&typed.seen, "NextPay sign-in takes no password here"));
	expect_no_password_prompt(&typed);
	expect_no_gate_line();
	assert_int_equal(mock_count(&api, "create"), 1);
}

static void expiry_never_falls_through(void **state)
{
	struct script s = { 0 };
	struct script timeout = { 0 };

	(void)state;
	write_config(&api, NULL);
	mock_configure(&api, "{\"code_ttl\": 2}");
	expect_rc(sign_in(SERVICE, member, &s), PAM_AUTH_ERR, &s);
	assert_true(seen_contains(&s.seen, "The code expired"));
	expect_no_password_prompt(&s);
	expect_no_gate_line();

	/* NextPay saying the code expired: a status word, or a poll answered 410. */
	for (size_t i = 0; i < 2; i++) {
		struct script said = { 0 };

		reset(NULL);
		write_config(&api, NULL);
		mock_fault(&api, i == 0 ? "{\"endpoint\": \"poll\", \"kind\": \"body\", "
		                          "\"body\": {\"status\": \"expired\"}, \"count\": -1}"
		                        : "{\"endpoint\": \"poll\", \"kind\": \"status\", "
		                          "\"status\": 410, \"count\": -1}");
		expect_rc(sign_in(SERVICE, member, &said), PAM_AUTH_ERR, &said);
		assert_true(seen_contains(&said.seen, "The code expired"));
		expect_no_password_prompt(&said);
		expect_no_gate_line();
	}

	/* login_timeout passing is an expiry too. */
	reset(NULL);
	write_config(&api, "login_timeout = 10\n");
	expect_rc(sign_in(SERVICE, member, &timeout), PAM_AUTH_ERR, &timeout);
	assert_true(seen_contains(&timeout.seen, "The code expired"));
	expect_no_password_prompt(&timeout);
	expect_no_gate_line();
}

static void identity_that_does_not_map_never_falls_through(void **state)
{
	struct script s = { 0 };

	(void)state;
	write_config(&api, NULL);
	mock_auto(&api, "approve", "usr_bob", 0.3);
	expect_rc(sign_in(SERVICE, member, &s), PAM_AUTH_ERR, &s);
	assert_true(seen_contains(&s.seen, "may not sign in as"));
	expect_no_password_prompt(&s);
	expect_no_gate_line();
}

static void conversation_failure_never_falls_through(void **state)
{
	struct script s = { .fail = true };

	(void)state;
	write_config(&api, NULL);
	expect_rc(sign_in(SERVICE, member, &s), PAM_CONV_ERR, &s);
	expect_no_gate_line();
	assert_int_equal(mock_count(&api, "create"), 1);
}

/*
 * NextPay answering no to one request is a refusal, never an outage: an
 * API key it answers 400 to (typed by whoever is at the prompt), a code
 * answered 403 while polling (a denial in other words), a code it refuses
 * to create.  And a verification URL whose host verification_hosts does
 * not name is a configuration error.
 */
static void refusals_from_nextpay_never_fall_through(void **state)
{
	static const struct {
		const char *name;
		const char *config;
		const char *fault;
		const char *typed;   /* at NextPay's prompt, or NULL */
		int rc;
	} refusals[] = {
		{ "API key answered 400", "wait = prompt\napi_key = yes\n",
		  "{\"endpoint\": \"token\", \"kind\": \"status\", \"status\": 400, \"count\": -1}", ALICE_KEY,
		  PAM_AUTH_ERR },
		{ "poll answered 403", NULL,
		  "{\"endpoint\": \"poll\", \"kind\": \"status\", \"status\": 403, \"count\": -1}", NULL,
		  PAM_AUTH_ERR },
		{ "create answered 400", NULL,
		  "{\"endpoint\": \"create\", \"kind\": \"status\", \"status\": 400, \"count\": -1}", NULL,
		  PAM_AUTH_ERR },
		{ "/auth/me answered 404 after the approval", NULL,
		  "{\"endpoint\": \"me\", \"kind\": \"status\", \"status\": 404, \"count\": -1}", NULL,
		  PAM_AUTH_ERR },
		{ "verification host not allowed", "verification_hosts = nextpay.example.com\n", NULL,
		  NULL, PAM_SERVICE_ERR },
	};

	(void)state;
	for (size_t i = 0; i < sizeof refusals / sizeof refusals[0]; i++) {
		struct script s = { .answers = { refusals[i].typed } };

		reset(NULL);
		write_config(&api, refusals[i].config);
		mock_auto(&api, "approve", "usr_alice", 0.5);
		if (refusals[i].fault != NULL)
			mock_fault(&api, refusals[i].fault);
		fprintf(stderr, "  %s\n", refusals[i].name);
		expect_rc(sign_in(SERVICE, member, &s), refusals[i].rc, &s);
		expect_no_password_prompt(&s);
		expect_no_gate_line();
	}
}

/*
 * The application changes PAM_USER while the sign-in tells of the outage:
 * the change decides (PAM_AUTH_ERR), so the outage reaches no one's password.
 */
static void changed_account_during_an_outage_is_refused(void **state)
{
	const char *const services[] = { "np-poll", SERVICE };

	(void)state;
	for (size_t i = 0; i < sizeof services / sizeof services[0]; i++) {
		struct script s = { .on_message = switch_user, .answers = { PASSWORD, PASSWORD } };
		char logged[512], line[8192], reason[512];
		int rc;

		api_down(NULL);
		user_to_set = member;
		log_capture_begin();
		rc = run_auth_on_handle(services[i], NON_MEMBER, &s, 0);
		log_capture_end(log_text, sizeof log_text);
		expect_rc(rc, PAM_AUTH_ERR, &s);
		assert_true(seen_contains(&s.seen, "The account to sign in to changed during the sign-in."));
		expect_no_password_prompt(&s);
		snprintf(logged, sizeof logged,
		         "PAM_USER changed during the sign-in: from=\"" NON_MEMBER "\" to=\"%s\"", member);
		assert_non_null(strstr(log_text, logged));
		assert_true(log_outcome_line(log_text, line, sizeof line));
		assert_true(log_field(line, "reason", reason, sizeof reason));
		assert_string_equal(reason, "PAM_USER changed during the sign-in");
		expect_no_gate_line();
	}
}

/* ---- what the gate takes for an outage, and for its own sign-in line ---- */

static void skipped_service_reaches_the_password(void **state)
{
	const char *const accounts[] = { member, NON_MEMBER };

	(void)state;
	for (size_t i = 0; i < sizeof accounts / sizeof accounts[0]; i++) {
		struct script s = { 0 };

		write_config(&api, "skip_services = cron," SERVICE "\n");
		expect_rc(sign_in(SERVICE, accounts[i], &s), PAM_SUCCESS, &s);
		assert_int_equal(s.seen.count, 1);
		assert_true(asked_for_the_password(&s));
		expect_no_gate_line();
	}
	assert_int_equal(mock_count(&api, "create"), 0);
}

/* A helper that fails is no outage of NextPay: whoever can stop it must not open the gate. */
static void failed_helper_does_not_open_it(void **state)
{
	struct script s = { 0 };

	(void)state;
	write_config(&api, "helper = /bin/true\n");
	expect_rc(sign_in(SERVICE, member, &s), PAM_AUTH_ERR, &s);
	assert_true(seen_contains(&s.seen, NOT_REACHED));
	assert_false(seen_contains(&s.seen, BREAKGLASS_WORDS));
	expect_gate_line("refused", AT_WARNING, member, "reason",
	                 "no outage of NextPay: the helper failed, or an API key");
}

/* A module between the sign-in line and the gate changes PAM_USER: not that account's outage. */
static void account_changed_after_the_sign_in_line_is_refused(void **state)
{
	struct script s = { 0 };
	int rc;

	(void)state;
	api_down(NULL);
	setenv("PAM_USER", member, 1);
	rc = sign_in("np-breakglass-between", NON_MEMBER, &s);
	unsetenv("PAM_USER");
	expect_rc(rc, PAM_AUTH_ERR, &s);
	expect_gate_line("refused", AT_WARNING, member, "reason",
	                 "PAM_USER changed after the sign-in line");
}

/* root, whose own group is gid 0, is the member such a group would let in. */
static void group_missing_or_gid_0_never_opens(void **state)
{
	static const struct {
		const char *service, *group, *account, *reason;
	} groups[] = {
		{ "np-breakglass-gid0", "root", "root", "gid 0, which is never a break-glass group" },
		{ "np-breakglass-nogroup", "npbg-no-such-group", NULL, "breakglass_group does not exist" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof groups / sizeof groups[0]; i++) {
		const char *account = groups[i].account != NULL ? groups[i].account : member;
		struct script s = { 0 };

		api_down(NULL);
		expect_rc(sign_in(groups[i].service, account, &s), PAM_AUTH_ERR, &s);
		expect_gate_line_of(groups[i].group, "refused", AT_ERR, account, "reason",
		                    groups[i].reason);
	}
}

/* The helper as it waited for an approval: /proc/PID/limits, its nice value and policy. */
struct helper_view {
	bool seen;
	char limits[8192];
	long nice;
	long policy;
};

static struct helper_view viewed;

static bool read_proc(pid_t pid, const char *name, char *out, size_t out_size)
{
	char path[64];
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	n = fread(out, 1, out_size - 1, f);
	out[n] = '\0';
	fclose(f);
	return true;
}

static void look_at_the_helper(struct script *script, pam_handle_t *pamh,
                               const struct pam_message *msg)
{
	/* The module's keeper is this process's child; the helper is the keeper's. */
	pid_t helper = running_helper(api.pid);
	char stat[1024];
	const char *field;

	(void)script;
	(void)pamh;
	if (msg == NULL || viewed.seen || strstr(msg->msg, "approve code") == NULL || helper < 0 ||
	    !read_proc(helper, "limits", viewed.limits, sizeof viewed.limits) ||
	    !read_proc(helper, "stat", stat, sizeof stat) || strrchr(stat, ')') == NULL)
		return;
	/* After the name: state is field 3, nice 19, policy 41. */
	field = strrchr(stat, ')') + 2;
	for (int k = 3; k <= 41 && field != NULL; k++) {
		if (k == 19)
			viewed.nice = strtol(field, NULL, 10);
		if (k == 41)
			viewed.policy = strtol(field, NULL, 10);
		field = strchr(field, ' ');
		field = field != NULL ? field + 1 : NULL;
	}
	viewed.seen = true;
}

/*
 * The limit named (as /proc/PID/limits names it) is soft and hard want, or
 * with want NULL, its soft limit is its hard one (all root can do without
 * CAP_SYS_RESOURCE, as in many containers).
 */
static void expect_limit(const char *name, const char *want)
{
	const char *line = strstr(viewed.limits, name);
	char soft[32] = "", hard[32] = "";

	if (line == NULL || sscanf(line + strlen(name), "%31s %31s", soft, hard) != 2 ||
	    strcmp(soft, want != NULL ? want : hard) != 0 || strcmp(hard, want != NULL ? want : soft)) {
		fprintf(stderr, "the helper's \"%s\" is %s/%s, not %s:\n%s", name, soft, hard,
		        want != NULL ? want : "its hard limit", viewed.limits);
		fail();
	}
}

/*
 * Whoever runs sudo or su sets the limits, nice value and scheduling policy
 * the module's process has, and so its helper: with a thread it cannot
 * start (RLIMIT_NPROC) or a priority that starves it, its requests would
 * fail as if NextPay were unreachable.  Started by root, the helper sets its
 * own.
 */
/* Whoever types an API key chooses what NextPay is sent: its failing on it is no outage. */
static void failed_api_key_does_not_open_it(void **state)
{
	struct script s = { .answers = { ALICE_KEY } };

	(void)state;
	write_config(&api, "wait = prompt\napi_key = yes\n");
	mock_fault(&api, "{\"endpoint\": \"token\", \"kind\": \"status\", \"status\": 500, "
	                 "\"count\": -1}");
	expect_rc(sign_in(SERVICE, member, &s), PAM_AUTH_ERR, &s);
	assert_true(seen_contains(&s.seen, NOT_REACHED));
	assert_false(seen_contains(&s.seen, BREAKGLASS_WORDS));
	expect_gate_line("refused", AT_WARNING, member, "reason",
	                 "no outage of NextPay: the helper failed, or an API key");
	assert_int_equal(mock_count(&api, "token"), 3);
}

static void callers_limits_and_priority_never_reach_the_helper(void **state)
{
	const struct sched_param none = { .sched_priority = 0 };
	struct rlimit processes, files, few_processes, few_files;
	struct script s = { .on_message = look_at_the_helper };
	int nice_before = getpriority(PRIO_PROCESS, 0);
	int rc;

	(void)state;
	if (geteuid() != 0)
		skip(); /* only root may raise them again, and the helper only as root */
	write_config(&api, NULL);
	mock_auto(&api, "approve", "usr_alice", 1.0);
	memset(&viewed, 0, sizeof viewed);
	assert_int_equal(getrlimit(RLIMIT_NPROC, &processes), 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &files), 0);
	/* Soft limits only, which this test can raise again even without CAP_SYS_RESOURCE. */
	few_processes = (struct rlimit){ 1, processes.rlim_max };
	few_files = (struct rlimit){ 300, files.rlim_max };
	assert_int_equal(setrlimit(RLIMIT_NPROC, &few_processes), 0);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &few_files), 0);
	assert_int_equal(setpriority(PRIO_PROCESS, 0, 15), 0);
	assert_int_equal(sched_setscheduler(0, SCHED_BATCH, &none), 0);
	rc = run_auth_on_handle(SERVICE, member, &s, 0);
	(void)sched_setscheduler(0, SCHED_OTHER, &none);
	(void)setpriority(PRIO_PROCESS, 0, nice_before);
	(void)setrlimit(RLIMIT_NOFILE, &files);
	(void)setrlimit(RLIMIT_NPROC, &processes);
	expect_rc(rc, PAM_SUCCESS, &s);
	assert_true(viewed.seen);
	expect_limit("Max processes", NULL);
	expect_limit("Max open files", "1024");
	assert_int_equal(viewed.nice, 0);
	assert_int_equal(viewed.policy, SCHED_OTHER);
}

static void gate_without_a_sign_in_line_never_opens(void **state)
{
	struct script s = { 0 };

	(void)state;
	api_down(NULL);
	expect_rc(sign_in("np-breakglass-alone", member, &s), PAM_AUTH_ERR, &s);
	assert_false(seen_contains(&s.seen, BREAKGLASS_WORDS));
	expect_gate_line("refused", AT_ERR, member, "reason", "check the stack");
}

static void one_sign_in_line_opens_one_gate_once(void **state)
{
	struct script s = { 0 };

	(void)state;
	api_down(NULL);
	expect_rc(sign_in("np-breakglass-twice", member, &s), PAM_AUTH_ERR, &s);
	expect_gate_line("opened", AT_ALERT, member, "outage", "unreachable: ");
	expect_gate_line("refused", AT_ERR, member, "reason", "check the stack");
}

/* A conversation of this suite's own, for two calls on one handle. */
static int password_conv(int num_msg, const struct pam_message **msg, struct pam_response **resp,
                         void *appdata)
{
	struct pam_response *replies = calloc((size_t)num_msg, sizeof *replies);
	int *asked = appdata;

	if (replies == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < num_msg; i++) {
		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF)
			continue;
		(*asked)++;
		replies[i].resp = strdup(PASSWORD);
	}
	*resp = replies;
	return PAM_SUCCESS;
}

/*
 * libpam names no pam_authenticate call: a mark is this call's because every
 * sign-in line replaces it, the gate takes it, and it is only honoured for a
 * few seconds.  A stack that lets a later call jump onto the gate without
 * its sign-in line (np-breakglass-jump) gets nothing from the earlier call.
 */
static void mark_of_an_earlier_call_does_not_open_it(void **state)
{
	struct pam_conv conv = { password_conv, NULL };
	pam_handle_t *pamh = NULL;
	int asked = 0;
	int first, second;

	(void)state;
	conv.appdata_ptr = &asked;
	api_down(NULL);
	assert_int_equal(pam_start("np-breakglass-jump", member, &conv, &pamh), PAM_SUCCESS);
	log_capture_begin();
	first = pam_authenticate(pamh, 0);
	sleep(MARK_MAX_AGE_S + 1);
	(void)pam_set_item(pamh, PAM_TTY, "bg-jump");
	second = pam_authenticate(pamh, 0);
	log_capture_end(log_text, sizeof log_text);
	pam_end(pamh, second);
	assert_int_equal(first, PAM_AUTHINFO_UNAVAIL);
	assert_int_equal(second, PAM_AUTH_ERR);
	expect_gate_line("refused", AT_ERR, member, "reason", "check the stack");
	assert_int_equal(asked, 1);
}

#define T(fn) cmocka_unit_test_setup(fn, reset)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(member_signs_in_with_the_password_while_nextpay_is_down),
		T(every_kind_of_outage_opens_it),
		T(others_see_the_same_and_are_refused),
		T(member_with_an_empty_password_is_refused),
		T(nextpay_up_the_member_still_needs_nextpay),
		T(expiry_never_falls_through),
		T(identity_that_does_not_map_never_falls_through),
		T(conversation_failure_never_falls_through),
		T(refusals_from_nextpay_never_fall_through),
		T(changed_account_during_an_outage_is_refused),
		T(skipped_service_reaches_the_password),
		T(failed_helper_does_not_open_it),
		T(failed_api_key_does_not_open_it),
		T(callers_limits_and_priority_never_reach_the_helper),
		T(account_changed_after_the_sign_in_line_is_refused),
		T(group_missing_or_gid_0_never_opens),
		T(gate_without_a_sign_in_line_never_opens),
		T(one_sign_in_line_opens_one_gate_once),
		T(mark_of_an_earlier_call_does_not_open_it),
	};

	if (getenv("NP_TEST_FILTER") != NULL && getenv("NP_TEST_FILTER")[0] != '\0')
		cmocka_set_test_filter(getenv("NP_TEST_FILTER"));
	return cmocka_run_group_tests_name("breakglass", tests, group_setup, group_teardown);
}
