#include "module/signin.h"

#include <security/pam_ext.h>
#include <stdint.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "common/sanitize.h"
#include "module/conv.h"

#define READY_TIMEOUT_MS 10000
#define CALL_MARGIN_MS 2000

long long np_signin_ms_left(const struct np_signin *s)
{
	long long left = s->deadline_ms - np_monotonic_ms();

	return left > 0 ? left : 0;
}

long long np_signin_call_limit_ms(const struct np_signin *s)
{
	return (long long)s->cfg.request_timeout * 1000 + CALL_MARGIN_MS;
}

int np_signin_wait_ms(const struct np_signin *s, long long limit_ms)
{
	long long left = np_signin_ms_left(s);

	if (limit_ms >= 0 && limit_ms < left)
		left = limit_ms;
	return left > 3600000 ? 3600000 : (int)left;
}

int np_signin_outcome(struct np_signin *s, int rc, const char *result, const char *reason)
{
	s->result = result;
	snprintf(s->reason, sizeof s->reason, "%s", reason);
	return rc;
}

/* Tells the person why, in words that need no knowledge of the internals. */
void np_signin_tell(struct np_signin *s, const char *text)
{
	size_t used = strlen(s->untold);

	if (!s->prompting) {
		(void)np_conv_show(s->pamh, PAM_ERROR_MSG, text);
		return;
	}
	snprintf(s->untold + used, sizeof s->untold - used, "%s%s", used > 0 ? "\n" : "", text);
}

void np_signin_tell_last(struct np_signin *s)
{
	char prompt[PAM_MAX_MSG_SIZE];
	char answer[64];

	if (s->untold[0] == '\0')
		return;
	snprintf(prompt, sizeof prompt, "%s\nPress Enter to close: ", s->untold);
	s->untold[0] = '\0';
	/* Whatever comes back (a password, from sshd's password authentication) is dropped. */
	(void)np_conv_ask(s->pamh, prompt, answer, sizeof answer);
	sodium_memzero(answer, sizeof answer);
}

/* What a failure message from the helper means for the person and for PAM. */
int np_signin_failure(struct np_signin *s, const struct np_msg_failure *f)
{
	char reason[sizeof s->reason];

	snprintf(reason, sizeof reason, "%s%s%s", np_failure_reason_name(f->reason),
	         f->detail[0] != '\0' ? ": " : "", f->detail);
	switch (f->reason) {
	case NP_FAIL_DENIED:
		np_signin_tell(s, "The sign-in was denied in NextPay.");
		/*
		 * PAM_MAXTRIES stops sshd from starting over with a fresh code; sudo
		 * 1.9 retries anyway, on the same handle: the mark makes those
		 * retries end at once.
		 */
		(void)pam_set_data(s->pamh, DENIED_MARK, (void *)(uintptr_t)DENIED_MARK, NULL);
		return np_signin_outcome(s, PAM_MAXTRIES, "denied", reason);
	case NP_FAIL_EXPIRED:
	case NP_FAIL_TIMEOUT:
		np_signin_tell(s, "The code expired before it was approved. Please try again.");
		return np_signin_outcome(s, PAM_AUTH_ERR, "expired", reason);
	case NP_FAIL_UNAUTHORIZED:
		np_signin_tell(s, "NextPay did not accept the sign-in.");
		return np_signin_outcome(s, PAM_AUTH_ERR, "failure", reason);
	case NP_FAIL_CONFIG:
		np_signin_tell(s, NOT_SET_UP);
		return np_signin_outcome(s, PAM_SERVICE_ERR, "error", reason);
	case NP_FAIL_UNAVAILABLE:
	case NP_FAIL_TLS:
	case NP_FAIL_MALFORMED:
	case NP_FAIL_INTERNAL:
	default:
		np_signin_tell(s, NOT_REACHED);
		return np_signin_outcome(s, PAM_AUTHINFO_UNAVAIL, "unavailable", reason);
	}
}

int np_signin_set_up_error(struct np_signin *s, const char *prefix, const char *err,
                         const char *reason)
{
	char clean[1024];

	np_log_quote(clean, sizeof clean, err);
	pam_syslog(s->pamh, LOG_ERR, "%s%s", prefix, clean);
	np_signin_tell(s, NOT_SET_UP);
	return np_signin_outcome(s, PAM_SERVICE_ERR, "error", reason);
}

int np_signin_helper_trouble(struct np_signin *s, enum np_helper_recv_status status,
                          const char *err)
{
	char reason[sizeof s->reason];

	if (status == NP_RECV_TIMEOUT)
		snprintf(reason, sizeof reason, "no answer from the helper in time");
	else if (status == NP_RECV_BROKEN)
		snprintf(reason, sizeof reason, "the helper broke the protocol: %s", err);
	else
		snprintf(reason, sizeof reason, "helper: %s", err);
	np_signin_tell(s, NOT_REACHED);
	return np_signin_outcome(s, PAM_AUTHINFO_UNAVAIL, "unavailable", reason);
}

int np_signin_timed_out(struct np_signin *s)
{
	np_signin_tell(s, "The code expired before it was approved. Please try again.");
	return np_signin_outcome(s, PAM_AUTH_ERR, "expired", "login_timeout or code lifetime passed");
}

/* Judges what np_helper_recv() brought: failures and surprises end the wait. */
int np_signin_judge(struct np_signin *s, enum np_helper_recv_status status, const char *err,
                 enum np_msg_type want1, enum np_msg_type want2)
{
	if (status == NP_RECV_TIMEOUT && np_signin_ms_left(s) == 0)
		return np_signin_timed_out(s);
	if (status != NP_RECV_OK)
		return np_signin_helper_trouble(s, status, err);
	if (s->msg.type == NP_MSG_FAILURE)
		return np_signin_failure(s, &s->msg.failure);
	if (s->msg.type != want1 && s->msg.type != want2)
		return np_signin_helper_trouble(s, NP_RECV_BROKEN, "unexpected message");
	return PAM_SUCCESS;
}

/* Waits for the next message of one of the wanted kinds. */
int np_signin_expect(struct np_signin *s, int timeout_ms, enum np_msg_type want1,
                  enum np_msg_type want2)
{
	char err[256] = "";
	enum np_helper_recv_status status;

	np_msg_wipe(&s->msg);
	status = np_helper_recv(&s->helper, timeout_ms, &s->msg, err, sizeof err);
	return np_signin_judge(s, status, err, want1, want2);
}

int np_signin_start_helper(struct np_signin *s)
{
	char err[512];
	int rc;

	np_helper_init(&s->helper);
	if (np_helper_start(&s->helper, s->cfg.helper, err, sizeof err) != 0)
		return np_signin_set_up_error(s, "helper not started: ", err, "helper cannot be started");
	np_msg_init(&s->msg, NP_MSG_CONFIG);
	snprintf(s->msg.config.api_url, sizeof s->msg.config.api_url, "%s", s->cfg.api_url);
	snprintf(s->msg.config.ca_file, sizeof s->msg.config.ca_file, "%s", s->cfg.ca_file);
	snprintf(s->msg.config.pinned_pubkey, sizeof s->msg.config.pinned_pubkey, "%s",
	         s->cfg.pinned_pubkey);
	snprintf(s->msg.config.proxy, sizeof s->msg.config.proxy, "%s", s->cfg.proxy);
	snprintf(s->msg.config.helper_user, sizeof s->msg.config.helper_user, "%s",
	         s->cfg.helper_user);
	s->msg.config.connect_timeout = s->cfg.connect_timeout;
	s->msg.config.request_timeout = s->cfg.request_timeout;
	if (np_helper_send(&s->helper, &s->msg) != 0)
		return np_signin_helper_trouble(s, NP_RECV_GONE, "cannot talk to the helper");
	rc = np_signin_expect(s, np_signin_wait_ms(s, READY_TIMEOUT_MS), NP_MSG_READY, NP_MSG_READY);
	if (rc == PAM_SUCCESS && s->cfg.debug) {
		char helper[NP_CONFIG_PATH_MAX * 4 + 3];

		np_log_quote(helper, sizeof helper, s->cfg.helper);
		pam_syslog(s->pamh, LOG_DEBUG, "helper started: helper=%s pid=%ld", helper,
		           (long)s->helper.pid);
	}
	return rc;
}
