#include "auth.h"

#include <errno.h>
#include <pwd.h>
#include <security/pam_ext.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "account.h"
#include "api_key.h"
#include "approval.h"
#include "device_flow.h"
#include "sanitize.h"
#include "session.h"
#include "wording.h"

static void describe_host(struct session *s)
{
	char host[256] = "";
	const void *rhost = NULL;

	if (gethostname(host, sizeof host - 1) != 0)
		snprintf(host, sizeof host, "this host");
	host[sizeof host - 1] = '\0';
	np_shorten(s->host_shown, sizeof s->host_shown, host);
	if (pam_get_item(s->pamh, PAM_RHOST, &rhost) != PAM_SUCCESS || rhost == NULL)
		rhost = "";
	np_sanitize_str(s->rhost_shown, sizeof s->rhost_shown, rhost);
}

static int load_settings(struct session *s, int argc, const char **argv)
{
	char err[512];

	if (np_config_load(&s->cfg, argc, argv, err, sizeof err) != 0)
		return session_set_up_error(s, "configuration error: ", err, "configuration error");
	return PAM_SUCCESS;
}

static bool account_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > ACCOUNT_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] == 0x7F)
			return false;
	return true;
}

static int find_account(struct session *s)
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
		return session_outcome(s, rc == PAM_CONV_AGAIN ? PAM_INCOMPLETE : PAM_USER_UNKNOWN, "error",
		               "no user name");
	}
	s->account = user;
	np_shorten(s->account_shown, sizeof s->account_shown, user);
	if (!account_name_ok(user))
		return session_outcome(s, PAM_USER_UNKNOWN, "failure", "malformed user name");
	for (;;) {
		buf = malloc(buf_size);
		if (buf == NULL)
			return session_outcome(s, PAM_BUF_ERR, "error", "out of memory");
		rc = getpwnam_r(user, &pw, buf, buf_size, &found);
		free(buf);
		if (rc != ERANGE || buf_size > 1024 * 1024)
			break;
		buf_size *= 2;
	}
	if (rc != 0)
		return session_outcome(s, PAM_SERVICE_ERR, "error", "account lookup failed");
	if (found == NULL)
		return session_outcome(s, PAM_USER_UNKNOWN, "failure", "no such local account");
	s->account_personal = np_uid_is_personal(pw.pw_uid, np_uid_min(NP_LOGIN_DEFS));
	return PAM_SUCCESS;
}

static int load_map(struct session *s)
{
	char err[512];

	/* With e-mail local parts as a rule of their own, a map file is optional. */
	if (np_usermap_load(&s->map, s->cfg.usermap, s->cfg.map_email_localpart, err,
	                    sizeof err) != 0)
		return session_set_up_error(s, "identity map: ", err, "identity map unusable");
	return PAM_SUCCESS;
}

static int decide(struct session *s)
{
	const struct np_msg_identity *who = &s->msg.identity;
	const struct np_account account = { s->account, s->account_personal };
	const char *why = NULL;
	char text[PAM_MAX_MSG_SIZE];
	char shown[NP_EMAIL_MAX + 1];
	char reason[192];

	snprintf(s->user_id, sizeof s->user_id, "%s", who->user_id);
	if (np_usermap_allows(&s->map, &s->cfg, &account, who->user_id, who->email, &why))
		return session_outcome(s, PAM_SUCCESS, "success", why);
	np_sanitize_str(shown, sizeof shown, who->email[0] != '\0' ? who->email : who->user_id);
	snprintf(text, sizeof text, "NextPay account %s may not sign in as %s on this host.", shown,
	         s->account_shown);
	session_tell(s, text);
	snprintf(reason, sizeof reason, "identity does not map to this account (%s)", why);
	return session_outcome(s, PAM_AUTH_ERR, "refused", reason);
}

static int sign_in(struct session *s, int argc, const char **argv)
{
	const void *service = NULL;
	const void *denied = NULL;
	int rc;

	rc = load_settings(s, argc, argv);
	if (rc != PAM_SUCCESS)
		return rc;
	if (pam_get_item(s->pamh, PAM_SERVICE, &service) != PAM_SUCCESS || service == NULL)
		return session_outcome(s, PAM_SERVICE_ERR, "error", "no PAM service name");
	s->service = service;
	if (s->cfg.skip_services[0] != '\0' && np_list_contains(s->cfg.skip_services, s->service))
		return session_outcome(s, PAM_IGNORE, "skipped", "service in skip_services");
	if (pam_get_data(s->pamh, DENIED_MARK, &denied) == PAM_SUCCESS && denied != NULL)
		return session_outcome(s, PAM_MAXTRIES, "denied", "denied earlier in this PAM transaction");
	s->deadline_ms = np_monotonic_ms() + (long long)s->cfg.login_timeout * 1000;
	rc = find_account(s);
	if (rc == PAM_SUCCESS)
		rc = load_map(s);
	if (rc == PAM_SUCCESS)
		rc = session_start_helper(s);
	if (rc != PAM_SUCCESS)
		return rc;
	np_approval_open(s);
	rc = np_approval_reuse(s);
	if (rc != NOT_DECIDED)
		return rc;
	rc = np_first_pass_sign_in(s);
	if (rc == NOT_DECIDED)
		rc = np_device_sign_in(s);
	if (rc == PAM_SUCCESS)
		rc = decide(s);
	if (rc == PAM_SUCCESS)
		np_approval_remember(s);
	return rc;
}

static void log_outcome(const struct session *s, int rc)
{
	char service[64];

	if (rc == PAM_IGNORE && !s->cfg.debug)
		return;
	np_sanitize_str(service, sizeof service, s->service);
	pam_syslog(s->pamh, rc == PAM_SUCCESS ? LOG_NOTICE : LOG_WARNING,
	           "%s: account=%s nextpay_id=%s rhost=%s service=%s method=%s reason=%s",
	           s->result != NULL ? s->result : "error",
	           s->account_shown[0] != '\0' ? s->account_shown : "-",
	           s->user_id[0] != '\0' ? s->user_id : "-",
	           s->rhost_shown[0] != '\0' ? s->rhost_shown : "-", service[0] != '\0' ? service : "-",
	           s->method != NULL ? s->method : "-", s->reason[0] != '\0' ? s->reason : "-");
}

int np_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct session *s = calloc(1, sizeof *s);
	int rc;

	(void)flags;
	if (s == NULL)
		return PAM_BUF_ERR;
	/* Idempotent and thread-safe; needed before sodium_malloc and the cache's crypto. */
	if (sodium_init() < 0) {
		free(s);
		pam_syslog(pamh, LOG_ERR, "libsodium failed to initialise");
		return PAM_SERVICE_ERR;
	}
	s->pamh = pamh;
	s->cache.dir_fd = -1;
	np_helper_init(&s->helper);
	describe_host(s);
	rc = sign_in(s, argc, argv);
	/* After a conversation failure there is nobody to tell. */
	if (rc != PAM_SUCCESS && rc != PAM_CONV_ERR)
		session_tell_last(s);
	/* PAM_IGNORE is for skip_services alone: never let an error turn into it. */
	if (rc == PAM_IGNORE && (s->result == NULL || strcmp(s->result, "skipped") != 0))
		rc = PAM_SERVICE_ERR;
	log_outcome(s, rc);
	np_helper_stop(&s->helper);
	np_cache_close(&s->cache);
	np_usermap_free(&s->map);
	sodium_memzero(s, sizeof *s);
	free(s);
	return rc;
}
