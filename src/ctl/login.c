/*
 * nextpayctl login: a device sign-in in this terminal, through the same
 * helper and with the same words as the module, ending with who approved and
 * whether that identity may sign in as the account.  The token is never
 * asked for (want_token is false), so it never reaches this process.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/account.h"
#include "common/clock.h"
#include "common/qr.h"
#include "common/sanitize.h"
#include "common/usermap.h"
#include "common/wording.h"
#include "ctl/ctl.h"

#define ACCOUNT_MAX 256
#define ACCOUNT_SHOWN 32
#define HOST_SHOWN 48
#define PROGRESS_EVERY_MS 30000

static const char login_help[] =
	"Usage: " NP_CTL_PROGRAM " login [--config PATH] [--user ACCOUNT]\n"
	"\n"
	"Runs a NextPay device sign-in in this terminal, exactly as the PAM module\n"
	"would (same helper, same settings, same instructions), then prints the\n"
	"approved identity (user id, e-mail, name) and whether it may sign in as\n"
	"ACCOUNT under the identity map and map_email_localpart.  Ctrl-C abandons it.\n"
	"The session token is never shown: this command does not even receive it.\n"
	"\n"
	"  --config PATH   the configuration to use (default " NP_DEFAULT_CONFIG ")\n"
	"  --user ACCOUNT  the local account to test (default: the user running this)\n"
	"\n"
	"Exit status: 0 approved and allowed as ACCOUNT, 1 anything else (denied,\n"
	"expired, not allowed, API unreachable, bad settings), 2 usage error.\n";

struct login {
	struct np_config cfg;
	struct np_usermap map;
	struct np_helper helper;
	struct np_ctl_signals signals;
	struct np_msg msg;
	struct np_msg_code code;
	char account[ACCOUNT_MAX + 1];
	bool account_personal;   /* not root, nobody or a system account (account.h) */
	char account_shown[ACCOUNT_SHOWN + 1];
	char host_shown[HOST_SHOWN + 1];
	long long deadline_ms;   /* CLOCK_MONOTONIC */
};

static long long ms_left(const struct login *l)
{
	long long left = l->deadline_ms - np_monotonic_ms();

	return left > 0 ? left : 0;
}

/* ---- before the helper ---- */

static int lookup_account(const char *name, uid_t uid, char *out, size_t out_size,
                          bool *personal)
{
	struct passwd pw;
	struct passwd *found = NULL;
	char buf[16384];
	int rc = name != NULL ? getpwnam_r(name, &pw, buf, sizeof buf, &found)
	                      : getpwuid_r(uid, &pw, buf, sizeof buf, &found);

	if (rc != 0 || found == NULL)
		return -1;
	snprintf(out, out_size, "%s", pw.pw_name);
	*personal = np_uid_is_personal(pw.pw_uid, np_uid_min(NP_LOGIN_DEFS));
	return 0;
}

static int choose_account(struct login *l, const char *user_opt)
{
	if (user_opt != NULL && strlen(user_opt) > ACCOUNT_MAX)
		return np_ctl_fail("--user: account name too long");
	if (lookup_account(user_opt, getuid(), l->account, sizeof l->account,
	                   &l->account_personal) != 0) {
		/* The module answers PAM_USER_UNKNOWN here: no approval could help. */
		if (user_opt != NULL)
			return np_ctl_fail("no local account named \"%s\" on this host", user_opt);
		return np_ctl_fail("cannot tell which account runs this (uid %lu): use --user",
		                (unsigned long)getuid());
	}
	np_shorten(l->account_shown, sizeof l->account_shown, l->account);
	return NP_CTL_EXIT_OK;
}

static int prepare(struct login *l, const char *config_opt, const char *user_opt)
{
	char err[1024];
	char host[256] = "";

	if (np_ctl_load_config(&l->cfg, config_opt, err, sizeof err) != 0)
		return np_ctl_fail("cannot use the settings: %s", err);
	if (choose_account(l, user_opt) != NP_CTL_EXIT_OK)
		return NP_CTL_EXIT_FAILED;
	/* With e-mail local parts as a rule of their own, a map file is optional. */
	if (np_usermap_load(&l->map, l->cfg.usermap, l->cfg.map_email_localpart, err,
	                    sizeof err) != 0)
		return np_ctl_fail("identity map: %s", err);
	if (gethostname(host, sizeof host - 1) != 0)
		snprintf(host, sizeof host, "this host");
	np_shorten(l->host_shown, sizeof l->host_shown, host);
	l->deadline_ms = np_monotonic_ms() + (long long)l->cfg.login_timeout * 1000;
	return NP_CTL_EXIT_OK;
}

/* ---- outcomes, in the module's words ---- */

static int helper_failure(const struct login *l, const struct np_msg_failure *f)
{
	const char *detail = f->detail[0] != '\0' ? f->detail : "no details";

	switch (f->reason) {
	case NP_FAIL_DENIED:
		/* The detail is the API's status word: worth showing only when it says more. */
		if (strcmp(detail, "denied") == 0)
			return np_ctl_fail("The sign-in was denied in NextPay.");
		return np_ctl_fail("The sign-in was denied in NextPay (status \"%s\").", detail);
	case NP_FAIL_EXPIRED:
	case NP_FAIL_TIMEOUT:
		return np_ctl_fail("The code expired before it was approved. Please try again.");
	case NP_FAIL_UNAUTHORIZED:
		return np_ctl_fail("NextPay did not accept the sign-in (%s).", detail);
	case NP_FAIL_CONFIG:
		return np_ctl_fail("NextPay sign-in is not set up correctly on this host: %s "
		                "(\"" NP_CTL_PROGRAM " check\" finds such problems).", detail);
	case NP_FAIL_TLS:
	case NP_FAIL_UNAVAILABLE:
	case NP_FAIL_MALFORMED:
	case NP_FAIL_INTERNAL:
	default:
		return np_ctl_fail("NextPay could not be reached at %s: %s: %s.", l->cfg.api_url,
		                np_failure_reason_name(f->reason), detail);
	}
}

/* What a wait brought, when it was not the message wanted. */
static int wait_trouble(const struct login *l, enum np_ctl_wait result, const char *err)
{
	switch (result) {
	case NP_CTL_WAIT_INTERRUPTED:
		return np_ctl_fail("Interrupted: the sign-in was abandoned.");
	case NP_CTL_WAIT_TIMEOUT:
		return np_ctl_fail("The code expired before it was approved. Please try again.");
	case NP_CTL_WAIT_MESSAGE:
		if (l->msg.type == NP_MSG_FAILURE)
			return helper_failure(l, &l->msg.failure);
		return np_ctl_fail("the helper %s sent an unexpected message", l->cfg.helper);
	case NP_CTL_WAIT_BROKEN:
	default:
		return np_ctl_fail("NextPay could not be reached: %s", err);
	}
}

/* Waits for one message of the wanted type; anything else has been reported. */
static int expect(struct login *l, int timeout_ms, enum np_msg_type want)
{
	char err[512] = "";
	enum np_ctl_wait result =
		np_ctl_helper_wait(&l->helper, &l->signals, timeout_ms, &l->msg, err, sizeof err);

	if (result == NP_CTL_WAIT_MESSAGE && l->msg.type == want)
		return NP_CTL_EXIT_OK;
	return wait_trouble(l, result, err);
}

/* ---- the flow ---- */

static int start_helper(struct login *l)
{
	char err[512] = "";
	enum np_ctl_wait result =
		np_ctl_helper_begin(&l->helper, &l->signals, &l->cfg, &l->msg, err, sizeof err);

	if (result == NP_CTL_WAIT_MESSAGE && l->msg.type == NP_MSG_READY)
		return NP_CTL_EXIT_OK;
	/* np_helper_start() names the helper in err; a silent one is named here. */
	if (result == NP_CTL_WAIT_BROKEN && l->helper.pid <= 0)
		return np_ctl_fail("%s (\"" NP_CTL_PROGRAM " check\" finds such problems)", err);
	if (result == NP_CTL_WAIT_TIMEOUT)
		return np_ctl_fail("helper %s: %s", l->cfg.helper, err);
	return wait_trouble(l, result, err);
}

static int receive_code(struct login *l)
{
	char host[NP_URL_MAX + 1] = "";
	long long lifetime_ms;
	int rc;

	np_msg_init(&l->msg, NP_MSG_DEVICE_LOGIN);
	snprintf(l->msg.login.intent, sizeof l->msg.login.intent, "%s", l->cfg.intent);
	l->msg.login.poll_interval = l->cfg.poll_interval;
	l->msg.login.timeout = (unsigned)((ms_left(l) + 999) / 1000);
	l->msg.login.want_token = false;
	if (np_helper_send(&l->helper, &l->msg) != 0)
		return np_ctl_fail("NextPay could not be reached: cannot talk to the helper");
	rc = expect(l, (int)ms_left(l), NP_MSG_CODE);
	if (rc != NP_CTL_EXIT_OK)
		return rc;
	l->code = l->msg.code;
	/* The module's policy on where the person is sent, applied here alike. */
	if (!np_url_host(l->code.verification_url, strlen(l->code.verification_url), host,
	                 sizeof host) ||
	    !np_config_allows_verification_host(&l->cfg, host))
		return np_ctl_fail("NextPay sent a verification URL for host \"%s\", which "
		                "verification_hosts does not name.", host);
	/* The code's own lifetime bounds the sign-in as much as login_timeout does. */
	lifetime_ms = ((long long)l->code.expires_at - (long long)time(NULL)) * 1000;
	if (lifetime_ms <= 0)
		return np_ctl_fail("The code expired before it was approved. Please try again.");
	if (np_monotonic_ms() + lifetime_ms < l->deadline_ms)
		l->deadline_ms = np_monotonic_ms() + lifetime_ms;
	return NP_CTL_EXIT_OK;
}

/* qr = yes: the URL as a QR code first, as the module shows it. */
static void show_qr(const struct login *l)
{
	char drawing[NP_QR_LINES_MAX * 80 * 3 + NP_QR_LINES_MAX + 1];
	int n_lines = 0;

	if (!l->cfg.qr)
		return;
	if (np_qr_render(l->code.verification_url, drawing, sizeof drawing, &n_lines) == 0)
		fputs(drawing, stdout);
	else
		printf("(The URL is too long for a QR code.)\n");
}

static void show_instructions(const struct login *l)
{
	char text[NP_INSTRUCTIONS_MAX];
	const struct np_instructions in = {
		.host = l->host_shown,
		.account = l->account_shown,
		.service = NP_CTL_PROGRAM,
		.rhost = "",
		.code = &l->code,
		.seconds_left = (ms_left(l) + 999) / 1000,
		.last_line = "Waiting for your approval...",
	};

	show_qr(l);
	np_format_instructions(text, sizeof text, &in);
	puts(text);
}

/* Waits for the helper's verdict, with a line now and then (a terminal is not a log). */
static int wait_for_approval(struct login *l)
{
	for (;;) {
		long long until_note = PROGRESS_EVERY_MS;
		char err[512] = "";
		char text[256];
		enum np_ctl_wait result;

		if (until_note > ms_left(l))
			until_note = ms_left(l);
		result = np_ctl_helper_wait(&l->helper, &l->signals, (int)until_note, &l->msg, err,
		                         sizeof err);
		if (result != NP_CTL_WAIT_TIMEOUT || ms_left(l) == 0) {
			if (result == NP_CTL_WAIT_MESSAGE && l->msg.type == NP_MSG_IDENTITY)
				return NP_CTL_EXIT_OK;
			return wait_trouble(l, result, err);
		}
		np_format_progress(text, sizeof text, &l->code, (ms_left(l) + 999) / 1000);
		puts(text);
	}
}

/* Prints who approved and whether that identity may sign in as the account. */
static int decide(const struct login *l)
{
	const struct np_msg_identity *who = &l->msg.identity;
	const struct np_account account = { l->account, l->account_personal };
	const char *why = NULL;
	char user_id[NP_USER_ID_MAX + 1];
	char email[NP_EMAIL_MAX + 1];
	char name[NP_NAME_MAX + 1];

	/* The decoder validated and sanitised these already; a terminal deserves care twice. */
	np_sanitize_str(user_id, sizeof user_id, who->user_id);
	np_sanitize_str(email, sizeof email, who->email);
	np_sanitize_str(name, sizeof name, who->name);
	printf("Approved in NextPay by:\n"
	       "  user id: %s\n"
	       "  e-mail:  %s\n"
	       "  name:    %s\n",
	       user_id, email[0] != '\0' ? email : "(none)", name[0] != '\0' ? name : "(none)");
	if (np_usermap_allows(&l->map, &l->cfg, &account, who->user_id, who->email, &why)) {
		printf("This NextPay account may sign in as %s on this host (%s).\n",
		       l->account_shown, why);
		return NP_CTL_EXIT_OK;
	}
	printf("NextPay account %s may not sign in as %s on this host (%s).\n"
	       "To allow it, add the line \"%s %s\" to %s.\n",
	       email[0] != '\0' ? email : user_id, l->account_shown, why, user_id, l->account_shown,
	       l->cfg.usermap);
	return NP_CTL_EXIT_FAILED;
}

static int sign_in(struct login *l)
{
	int rc = start_helper(l);

	if (rc == NP_CTL_EXIT_OK)
		rc = receive_code(l);
	if (rc == NP_CTL_EXIT_OK) {
		show_instructions(l);
		rc = wait_for_approval(l);
	}
	if (rc == NP_CTL_EXIT_OK)
		rc = decide(l);
	return rc;
}

int np_ctl_login(int argc, char **argv)
{
	const char *config_opt = NULL;
	const char *user_opt = NULL;
	const struct np_ctl_option opts[] = { { "--config", &config_opt }, { "--user", &user_opt } };
	struct login *l;
	size_t n_operands = 0;
	int rc;

	switch (np_ctl_parse_args(argc, argv, opts, 2, NULL, 0, &n_operands)) {
	case NP_CTL_WANTS_HELP:
		fputs(login_help, stdout);
		return NP_CTL_EXIT_OK;
	case NP_CTL_BAD_USAGE:
		return NP_CTL_EXIT_USAGE;
	case NP_CTL_PARSED:
		break;
	}
	/* On the heap: a message holds several kilobytes of buffers. */
	l = calloc(1, sizeof *l);
	if (l == NULL)
		return np_ctl_fail("out of memory");
	np_helper_init(&l->helper);
	rc = prepare(l, config_opt, user_opt);
	if (rc == NP_CTL_EXIT_OK) {
		np_ctl_signals_block(&l->signals);
		rc = sign_in(l);
		/* Kills and reaps the helper whatever happened, Ctrl-C included. */
		np_helper_stop(&l->helper);
		np_ctl_signals_restore(&l->signals);
	}
	np_usermap_free(&l->map);
	np_msg_wipe(&l->msg);
	free(l);
	return rc;
}
