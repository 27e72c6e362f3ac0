/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * nextpayctl login: a device sign-in in this terminal, through the same
 * helper, the same sign-in client and the same words as the module, ending
 * with who approved and whether that identity may sign in as the account.
 * The token is never asked for (want_token is false), so it never reaches
 * this process.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "common/account.h"
#include "common/client.h"
#include "common/clock.h"
#include "common/events.h"
#include "common/sanitize.h"
#include "common/usermap.h"
#include "common/wording.h"
#include "ctl/ctl.h"

static const char login_help[] =
	"Usage: " NP_CTL_PROGRAM " login [--config PATH] [--user ACCOUNT]\n"
	"\n"
	"Runs a NextPay device sign-in in this terminal, exactly as the PAM module\n"
	"would (same helper, same settings, same instructions), then prints the\n"
	"approved identity (user id, e-mail, name) and whether it may sign in as\n"
	"ACCOUNT under the identity map and map_email_localpart.  Ctrl-C abandons it.\n"
	"The session token is never shown: this command does not even receive it.\n"
	"Its outcome is logged as a sign-in of service nextpayctl (see the log\n"
	"setting); a refusal or an error ends with its reference, as at a login.\n"
	"\n"
	"  --config PATH   the configuration to use (default " NP_DEFAULT_CONFIG ")\n"
	"  --user ACCOUNT  the local account to test (default: the user running this)\n"
	"\n"
	"Exit status: 0 approved and allowed as ACCOUNT, 1 anything else (denied,\n"
	"expired, not allowed, API unreachable, bad settings), 2 usage error.\n";

struct login {
	struct np_config cfg;
	struct np_usermap map;
	struct np_client client;
	struct np_client_io io;
	struct np_ctl_signals signals;
	char account[NP_ACCOUNT_MAX + 1];
	bool account_personal;   /* not root, nobody or a system account (account.h) */
	char account_shown[NP_ACCOUNT_SHOWN + 1];
	char host_shown[NP_HOST_SHOWN + 1];
	char signin_id[NP_SIGNIN_ID_LEN + 1];
	long long decided_ms;    /* CLOCK_MONOTONIC when the outcome was known */
};

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
	if (user_opt != NULL && strlen(user_opt) > NP_ACCOUNT_MAX)
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

	if (np_ctl_load_config(&l->cfg, config_opt, err, sizeof err) != 0)
		return np_ctl_fail("cannot use the settings: %s", err);
	if (choose_account(l, user_opt) != NP_CTL_EXIT_OK)
		return NP_CTL_EXIT_FAILED;
	/* With e-mail local parts as a rule of their own, a map file is optional. */
	if (np_usermap_load(&l->map, l->cfg.usermap, l->cfg.map_email_localpart, err,
	                    sizeof err) != 0)
		return np_ctl_fail("identity map: %s", err);
	np_host_shown(l->host_shown, sizeof l->host_shown);
	l->client.deadline_ms = np_monotonic_ms() + (long long)l->cfg.login_timeout * 1000;
	return NP_CTL_EXIT_OK;
}

/* ---- the flow ---- */

/* ---- the outcome, logged as the module logs a sign-in ---- */

static void to_syslog(void *ctx, int priority, const char *line)
{
	(void)ctx;
	openlog(NP_CTL_PROGRAM, LOG_PID, LOG_AUTHPRIV);
	syslog(priority, "%s", line);
	closelog();
}

/* The sign-in's event: result and reason as the module would log them, service nextpayctl. */
static void log_outcome(const struct login *l, const char *result, const char *user_id,
                        const char *reason)
{
	struct np_event ev;
	char line[4096];
	char uid[24];
	char wait_ms[24];

	memset(&ev, 0, sizeof ev);
	ev.type = np_event_type_of(NP_EVENT_SIGNIN, result);
	ev.priority = ev.type->priority;
	ev.origin = NP_CTL_PROGRAM " login";
	np_signin_reference(l->signin_id, ev.reference);
	snprintf(uid, sizeof uid, "%lu", (unsigned long)getuid());
	ev.values[NP_EV_SIGNIN_ID] = l->signin_id;
	ev.values[NP_EV_RESULT] = result;
	ev.values[NP_EV_METHOD] = NP_METHOD_DEVICE_CODE;
	ev.values[NP_EV_ACCOUNT] = l->account;
	ev.values[NP_EV_USER_ID] = user_id;
	ev.values[NP_EV_SERVICE] = NP_CTL_PROGRAM;
	ev.values[NP_EV_INVOKER_UID] = uid;
	ev.values[NP_EV_REASON] = reason;
	if (l->client.code_ms > 0 && l->decided_ms >= l->client.code_ms) {
		snprintf(wait_ms, sizeof wait_ms, "%lld", l->decided_ms - l->client.code_ms);
		ev.values[NP_EV_WAIT_MS] = wait_ms;
	}
	np_event_signin_line(&ev, line, sizeof line);
	ev.line = line;
	np_event_send(&ev, l->cfg.log, to_syslog, NULL);
}

/* "Reference: K7QX-2M4D" after a refusal or an error, on stream. */
static void print_reference(const struct login *l, FILE *stream)
{
	char reference[NP_REFERENCE_LEN + 1];

	np_signin_reference(l->signin_id, reference);
	fprintf(stream, NP_REFERENCE_WORDS "%s\n", reference);
}

/* ---- the flow ---- */

/* A step of the client that did not come to an identity: the module's words, detailed. */
static int failed(const struct login *l, enum np_client_status status)
{
	char words[2048];
	char reason[256];

	np_client_words(&l->client, status, words, sizeof words);
	np_client_reason(&l->client, status, reason, sizeof reason);
	log_outcome(l, np_client_result(&l->client, status), "", reason);
	np_ctl_fail("%s", words);
	print_reference(l, stderr);
	return NP_CTL_EXIT_FAILED;
}

/* Prints who approved and whether that identity may sign in as the account. */
static int decide(const struct login *l)
{
	const struct np_msg_identity *who = &l->client.msg.identity;
	const struct np_account account = { l->account, l->account_personal };
	const char *why = NULL;
	char user_id[NP_USER_ID_MAX + 1];
	char email[NP_EMAIL_MAX + 1];
	char name[NP_NAME_MAX + 1];
	char reason[192];

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
		log_outcome(l, "success", who->user_id, why);
		printf("This NextPay account may sign in as %s on this host (%s).\n",
		       l->account_shown, why);
		return NP_CTL_EXIT_OK;
	}
	snprintf(reason, sizeof reason, NP_REASON_NOT_MAPPED, why);
	log_outcome(l, "refused", who->user_id, reason);
	printf("NextPay account %s may not sign in as %s on this host (%s).\n"
	       "To allow it, add the line \"%s %s\" to %s.\n",
	       email[0] != '\0' ? email : user_id, l->account_shown, why, user_id, l->account_shown,
	       l->cfg.usermap);
	print_reference(l, stdout);
	return NP_CTL_EXIT_FAILED;
}

static int sign_in(struct login *l)
{
	const struct np_instructions who = {
		.host = l->host_shown,
		.account = l->account_shown,
		.service = NP_CTL_PROGRAM,
		.rhost = "",
	};
	enum np_client_status status = np_client_start(&l->client);

	if (status == NP_CLIENT_OK)
		status = np_client_send_device_login(&l->client, false);
	if (status == NP_CLIENT_OK)
		status = np_client_receive_code(&l->client);
	if (status == NP_CLIENT_OK)
		status = np_client_wait_polling(&l->client, &who, 0);
	l->decided_ms = np_monotonic_ms();
	return status == NP_CLIENT_OK ? decide(l) : failed(l, status);
}

int np_ctl_login(int argc, char **argv)
{
	const char *config_opt = NULL;
	const char *user_opt = NULL;
	const struct np_ctl_option opts[] = { { "--config", &config_opt }, { "--user", &user_opt } };
	struct login *l;
	size_t n_operands = 0;
	const struct np_ctl_syntax syntax = { login_help, opts, 2, NULL, 0 };
	int parsed;
	int rc;

	parsed = np_ctl_parse_args(argc, argv, &syntax, &n_operands);
	if (parsed >= 0)
		return parsed;
	/* On the heap: a message holds several kilobytes of buffers. */
	l = calloc(1, sizeof *l);
	if (l == NULL)
		return np_ctl_fail("out of memory");
	np_ctl_client_io(&l->io, &l->signals);
	np_client_init(&l->client, &l->cfg, &l->io);
	np_signin_id_new(l->signin_id);
	rc = prepare(l, config_opt, user_opt);
	if (rc == NP_CTL_EXIT_OK) {
		np_ctl_signals_block(&l->signals);
		rc = sign_in(l);
		/* Kills and reaps the helper whatever happened, Ctrl-C included. */
		np_client_stop(&l->client);
		np_ctl_signals_restore(&l->signals);
	}
	np_usermap_free(&l->map);
	free(l);
	return rc;
}
