/* SPDX-License-Identifier: BSD-2-Clause */
#include "module/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <security/pam_ext.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "common/account.h"
#include "common/clock.h"
#include "common/sanitize.h"
#include "common/text.h"
#include "common/wording.h"
#include "module/api_key.h"
#include "module/approval.h"
#include "module/audit.h"
#include "module/breakglass.h"
#include "module/device_flow.h"
#include "module/greeter.h"
#include "module/signin.h"
#include "module/sshd_keys.h"
#include "module/sshd_password.h"

/* Copies an item libpam holds into dst; false when it is missing or does not fit. */
static bool copy_item(pam_handle_t *pamh, int item, char *dst, size_t dst_size)
{
	const void *value = NULL;

	dst[0] = '\0';
	if (pam_get_item(pamh, item, &value) != PAM_SUCCESS || value == NULL)
		return false;
	if (strlen(value) >= dst_size) {
		/* Kept cut, for the log only. */
		snprintf(dst, dst_size, "%s", (const char *)value);
		return false;
	}
	memcpy(dst, value, strlen(value) + 1);
	return true;
}

static void describe_host(struct np_signin *s)
{
	np_host_shown(s->host_shown, sizeof s->host_shown);
	(void)copy_item(s->pamh, PAM_RHOST, s->rhost, sizeof s->rhost);
	np_sanitize_str(s->rhost_shown, sizeof s->rhost_shown, s->rhost);
}

static int load_settings(struct np_signin *s, int argc, const char **argv)
{
	char err[512];

	if (np_config_load(&s->cfg, argc, argv, err, sizeof err) != 0)
		return np_signin_set_up_error(s, "configuration error: ", err, "configuration error");
	return PAM_SUCCESS;
}

/*
 * No spaces or controls, and nothing the sanitiser would change: a name that
 * reads differently on the approver's screen than it is ("ro\u200Bot") is
 * refused.
 */
static bool account_name_ok(const char *name)
{
	char shown[NP_ACCOUNT_MAX + 1];
	size_t len = strlen(name);

	if (len == 0 || len > NP_ACCOUNT_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] == 0x7F)
			return false;
	return np_sanitize(shown, sizeof shown, name, len) == len && strcmp(shown, name) == 0;
}

/*
 * Whether PAM_USER names a local account.  One that does not is not refused
 * here: the same flow runs, and decide() refuses it at the end, so that a
 * remote client cannot tell which accounts exist by what it sees or when.
 */
static int find_account(struct np_signin *s)
{
	const char *user = NULL;
	struct passwd pw;
	struct passwd *found = NULL;
	long size_hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t buf_size = size_hint > 0 ? (size_t)size_hint : 16384;
	char *buf;
	int rc;

	rc = pam_get_user(s->pamh, &user, NULL);
	if (rc != PAM_SUCCESS || user == NULL) {
		s->account_shown[0] = '\0';
		return np_signin_outcome(s, rc == PAM_CONV_AGAIN ? PAM_INCOMPLETE : PAM_USER_UNKNOWN, "error",
		                         "no user name");
	}
	/* libpam's string lives only until the application sets PAM_USER again. */
	snprintf(s->account, sizeof s->account, "%s", user);
	np_shorten(s->account_shown, sizeof s->account_shown, s->account);
	/* Such a name cannot exist here: refusing it at once tells nothing. */
	if (!account_name_ok(user))
		return np_signin_outcome(s, PAM_USER_UNKNOWN, "failure", "malformed user name");
	for (;;) {
		buf = malloc(buf_size);
		if (buf == NULL)
			return np_signin_outcome(s, PAM_BUF_ERR, "error", "out of memory");
		rc = getpwnam_r(s->account, &pw, buf, buf_size, &found);
		free(buf);
		if (rc != ERANGE || buf_size > 1024 * 1024)
			break;
		buf_size *= 2;
	}
	if (rc != 0)
		return np_signin_outcome(s, PAM_SERVICE_ERR, "error", "account lookup failed");
	s->no_such_account = found == NULL;
	s->account_personal =
		found != NULL && np_uid_is_personal(pw.pw_uid, np_uid_min(NP_LOGIN_DEFS));
	return PAM_SUCCESS;
}

/*
 * A screen locker calls PAM as the person whose screen it locks, who may not
 * read root's identity map: the administrator sees only the locker refuse,
 * so the log says what to do.
 */
static void hint_at_a_locker(struct np_signin *s)
{
	char service[sizeof s->service * 4 + 3];

	if (geteuid() == 0 || faccessat(AT_FDCWD, s->cfg.usermap, R_OK, AT_EACCESS) == 0 ||
	    errno != EACCES)
		return;
	np_log_quote(service, sizeof service, s->service);
	pam_syslog(s->pamh, LOG_ERR,
	           "identity map: not readable by uid %lu, which this process runs as (a screen "
	           "locker?): name its service %s in skip_services to send it to the password",
	           (unsigned long)geteuid(), service);
}

static int load_map(struct np_signin *s)
{
	char err[512];

	/* With e-mail local parts as a rule of their own, a map file is optional. */
	if (np_usermap_load(&s->map, s->cfg.usermap, s->cfg.map_email_localpart, err,
	                    sizeof err) == 0)
		return PAM_SUCCESS;
	hint_at_a_locker(s);
	return np_signin_set_up_error(s, "identity map: ", err, "identity map unusable");
}

/* The application may set PAM_USER during the conversation: the approval was not for that. */
static bool account_unchanged(struct np_signin *s)
{
	char now[NP_ACCOUNT_MAX + 1];
	char was_quoted[sizeof s->account * 4 + 3];
	char now_quoted[sizeof now * 4 + 3];
	bool whole = copy_item(s->pamh, PAM_USER, now, sizeof now);

	if (whole && strcmp(now, s->account) == 0)
		return true;
	np_log_quote(was_quoted, sizeof was_quoted, s->account);
	np_log_quote(now_quoted, sizeof now_quoted, now);
	np_audit_event(s, NP_EVENT_USER_CHANGED, LOG_ERR, "PAM_USER changed during the sign-in",
	               "PAM_USER changed during the sign-in: from=%s to=%s", was_quoted, now_quoted);
	return false;
}

static int refuse_changed_account(struct np_signin *s)
{
	s->outage = false;
	np_signin_tell(s, "The account to sign in to changed during the sign-in.");
	return np_signin_outcome(s, PAM_AUTH_ERR, "failure", "PAM_USER changed during the sign-in");
}

/*
 * The approved identity against the account.  A refusal names neither the
 * identity nor its e-mail address: the terminal may be an attacker's, who
 * sent the URL to someone else.  The log has the NextPay user id.
 */
static int decide(struct np_signin *s)
{
	const struct np_msg_identity *who = &s->client.msg.identity;
	const struct np_account account = { s->account, s->account_personal };
	const char *why = NULL;
	char text[PAM_MAX_MSG_SIZE];
	char reason[192];

	snprintf(s->user_id, sizeof s->user_id, "%s", who->user_id);
	if (!account_unchanged(s))
		return refuse_changed_account(s);
	snprintf(text, sizeof text, "This NextPay account may not sign in as %s on this host.",
	         s->account_shown);
	/* The same words as for an identity that does not map, after the same flow. */
	if (s->no_such_account) {
		np_signin_tell(s, text);
		return np_signin_outcome(s, PAM_USER_UNKNOWN, "failure", "no such local account");
	}
	if (np_usermap_allows(&s->map, &s->cfg, &account, who->user_id, who->email, &why))
		return np_signin_outcome(s, PAM_SUCCESS, "success", why);
	np_signin_tell(s, text);
	snprintf(reason, sizeof reason, NP_REASON_NOT_MAPPED, why);
	return np_signin_outcome(s, PAM_AUTH_ERR, "refused", reason);
}

/*
 * wait = auto at a display manager's greeter: its own flow (greeter.h), and
 * a refusal's words kept for one last prompt.  Looked at before the settings
 * load, so that a greeter keeps their errors' words too (wait = auto is the
 * default); kept only where the settings leave wait = auto.
 */
static void choose_greeter_flow(struct np_signin *s, char *why, size_t why_size)
{
	np_greeter_detect(s, why, why_size);
	if (s->greeter.flow)
		s->tell = NP_TELL_GREETER;
}

static void confirm_greeter_flow(struct np_signin *s, const char *why)
{
	if (s->cfg.wait != NP_WAIT_AUTO) {
		s->greeter.flow = false;
		s->tell = NP_TELL_NOW;
		return;
	}
	if (s->cfg.debug)
		pam_syslog(s->pamh, LOG_DEBUG, "%s: %s",
		           s->greeter.flow ? "display manager" : "not a display manager", why);
}

static int sign_in(struct np_signin *s)
{
	const void *denied = NULL;
	bool password_only;
	int rc;

	if (!copy_item(s->pamh, PAM_SERVICE, s->service, sizeof s->service))
		return np_signin_outcome(s, PAM_SERVICE_ERR, "error", "no usable PAM service name");
	np_service_word(s->service_shown, sizeof s->service_shown, s->service);
	if (s->cfg.skip_services[0] != '\0' && np_list_contains(s->cfg.skip_services, s->service))
		return np_signin_outcome(s, PAM_IGNORE, "skipped", "service in skip_services");
	if (pam_get_data(s->pamh, DENIED_MARK, &denied) == PAM_SUCCESS && denied != NULL)
		return np_signin_outcome(s, PAM_MAXTRIES, "denied", "denied earlier in this PAM transaction");
	np_sshd_keys_read(s);
	rc = find_account(s);
	password_only = rc == PAM_SUCCESS && np_sshd_password_conversation(s);
	if (password_only && !s->cfg.api_key)
		return np_sshd_password_refused(s);
	if (rc == PAM_SUCCESS)
		rc = load_map(s);
	if (rc == PAM_SUCCESS)
		rc = np_greeter_ready(s);
	/* The sign-in's time runs from here: at a greeter, once the person asked for it. */
	s->client.deadline_ms = np_monotonic_ms() + (long long)s->cfg.login_timeout * 1000;
	if (rc == PAM_SUCCESS)
		rc = np_signin_start_helper(s);
	if (rc != PAM_SUCCESS)
		return rc;
	/* An account that does not exist never uses or fills the cache, nor does a password. */
	if (!s->no_such_account && !password_only)
		np_approval_open(s);
	rc = np_approval_reuse(s);
	/* As after a fresh approval: the reused one was for the account the sign-in began with. */
	if (rc == PAM_SUCCESS && !account_unchanged(s))
		return refuse_changed_account(s);
	if (rc != NOT_DECIDED)
		return rc;
	rc = np_first_pass_sign_in(s);
	if (rc == NOT_DECIDED)
		rc = password_only ? np_sshd_password_sign_in(s) : np_device_sign_in(s);
	if (rc == PAM_SUCCESS)
		rc = decide(s);
	if (rc == PAM_SUCCESS)
		np_approval_remember(s);
	return rc;
}

/* What a sign-in line's steps came to, as PAM gets it: told, logged, and left for a gate. */
static int end_sign_in(struct np_signin *s, int rc)
{
	/*
	 * NextPay unreachable after the application changed PAM_USER: the change
	 * decides, as after an approval, so that an outage never carries a
	 * sign-in begun for one account over to another (a break-glass stack
	 * would ask the other account's password).
	 */
	if (rc == PAM_AUTHINFO_UNAVAIL && !account_unchanged(s))
		rc = refuse_changed_account(s);
	s->decided_ms = np_monotonic_ms();
	/* PAM_IGNORE is for skip_services alone: never let an error turn into it. */
	if (rc == PAM_IGNORE && (s->result == NULL || strcmp(s->result, "skipped") != 0))
		rc = PAM_SERVICE_ERR;
	/* Decided: logged now, however long the last prompt below waits (at a greeter, for ever). */
	np_audit_signin(s, rc);
	np_client_stop(&s->client);
	/* After a conversation failure there is nobody to tell. */
	if (rc != PAM_SUCCESS && rc != PAM_CONV_ERR)
		np_signin_tell_last(s);
	np_cache_close(&s->cache);
	/* Once the helper is gone: the gate that follows finds the mark fresh. */
	np_breakglass_note(s, rc);
	return rc;
}

int np_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct np_signin *s = calloc(1, sizeof *s);
	char why[NP_GREETER_WHY_MAX];
	int rc;

	(void)flags;
	if (s == NULL) {
		np_breakglass_forget(pamh);
		return PAM_BUF_ERR;
	}
	/* Idempotent and thread-safe; needed before sodium_malloc and the cache's crypto. */
	if (sodium_init() < 0) {
		free(s);
		np_breakglass_forget(pamh);
		pam_syslog(pamh, LOG_ERR, "libsodium failed to initialise");
		return PAM_SERVICE_ERR;
	}
	np_signin_init(s, pamh);
	describe_host(s);
	choose_greeter_flow(s, why, sizeof why);
	rc = load_settings(s, argc, argv);
	if (rc == PAM_SUCCESS && s->cfg.breakglass_group[0] != '\0') {
		(void)copy_item(pamh, PAM_SERVICE, s->service, sizeof s->service);
		rc = np_breakglass_gate(s);
	} else {
		if (rc == PAM_SUCCESS) {
			confirm_greeter_flow(s, why);
			rc = sign_in(s);
		}
		rc = end_sign_in(s, rc);
	}
	np_usermap_free(&s->map);
	sodium_memzero(s, sizeof *s);
	free(s);
	return rc;
}
