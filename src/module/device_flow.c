#include "module/device_flow.h"

#include <security/pam_ext.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "common/qr.h"
#include "common/sanitize.h"
#include "common/wording.h"
#include "module/api_key.h"
#include "module/conv.h"
#include "module/sshd_info.h"

#define ANSWER_MAX 512
#define PROGRESS_EVERY_MS 30000

/*
 * The instructions, in one message when PAM_MAX_MSG_SIZE allows.  Otherwise
 * the information goes first (np_conv_show_lines) and *last is left pointing
 * at last_line, for the caller to show or ask with; else *last is all of text.
 */
static int show_instructions(struct np_signin *s, const char *last_line, char *text,
                             size_t text_size, const char **last)
{
	char rhost[NP_RHOST_SHOWN + 1];
	const struct np_instructions in = {
		.host = s->host_shown,
		.account = s->account_shown,
		.service = s->service_shown,
		.rhost = rhost,
		.code = &s->code,
		.seconds_left = (np_signin_ms_left(s) + 999) / 1000,
		.last_line = last_line,
	};
	char *newline;

	np_shorten(rhost, sizeof rhost, s->rhost);
	np_format_instructions(text, text_size, &in);
	*last = text;
	if (strlen(text) < PAM_MAX_MSG_SIZE)
		return PAM_SUCCESS;
	newline = strrchr(text, '\n');
	*newline = '\0';
	*last = newline + 1;
	return np_conv_show_lines(s->pamh, PAM_TEXT_INFO, text);
}

/*
 * Policy on where the person is sent: the helper has checked the URL's shape,
 * the module decides whether its host is one the administrator allows.
 */
static int check_verification_host(struct np_signin *s)
{
	const char *url = s->code.verification_url;
	char host[NP_URL_MAX + 1] = "";
	char quoted[sizeof host * 4 + 3];

	if (np_url_host(url, strlen(url), host, sizeof host) &&
	    np_config_allows_verification_host(&s->cfg, host))
		return PAM_SUCCESS;
	np_log_quote(quoted, sizeof quoted, host);
	pam_syslog(s->pamh, LOG_WARNING, "verification URL refused: host=%s not in verification_hosts",
	           quoted);
	np_signin_tell(s, NOT_REACHED);
	return np_signin_outcome(s, PAM_AUTHINFO_UNAVAIL, "unavailable",
	                       "verification URL host not in verification_hosts");
}

static int receive_code(struct np_signin *s)
{
	long long lifetime_ms;
	int rc;

	np_msg_init(&s->msg, NP_MSG_DEVICE_LOGIN);
	snprintf(s->msg.login.intent, sizeof s->msg.login.intent, "%s", s->cfg.intent);
	s->msg.login.poll_interval = s->cfg.poll_interval;
	s->msg.login.timeout = (unsigned)((np_signin_ms_left(s) + 999) / 1000);
	s->msg.login.want_token = s->cache_ready;
	if (np_helper_send(&s->helper, &s->msg) != 0)
		return np_signin_helper_trouble(s, NP_RECV_GONE, "cannot talk to the helper");
	s->method = "device-code";
	rc = np_signin_expect(s, np_signin_wait_ms(s, np_signin_call_limit_ms(s)), NP_MSG_CODE, NP_MSG_CODE);
	if (rc != PAM_SUCCESS)
		return rc;
	s->code = s->msg.code;
	rc = check_verification_host(s);
	if (rc != PAM_SUCCESS)
		return rc;
	/* The code's own lifetime bounds the sign-in as much as login_timeout does. */
	lifetime_ms = ((long long)s->code.expires_at - (long long)time(NULL)) * 1000;
	if (lifetime_ms <= 0) {
		np_signin_tell(s, "The code expired before it was approved. Please try again.");
		return np_signin_outcome(s, PAM_AUTH_ERR, "expired", "code arrived already expired");
	}
	if (np_monotonic_ms() + lifetime_ms < s->deadline_ms)
		s->deadline_ms = np_monotonic_ms() + lifetime_ms;
	if (s->cfg.debug)
		pam_syslog(s->pamh, LOG_DEBUG, "device code issued, %lld s to approve",
		           np_signin_ms_left(s) / 1000);
	return PAM_SUCCESS;
}

/*
 * qr = yes: the URL as a QR code, in as few messages as PAM_MAX_MSG_SIZE
 * allows.  No message ends in a newline: applications add their own, and a
 * blank line would cut the code in two.
 */
static int show_qr(struct np_signin *s)
{
	char drawing[NP_QR_LINES_MAX * 80 * 3 + NP_QR_LINES_MAX + 1];
	int n_lines = 0;

	if (!s->cfg.qr)
		return PAM_SUCCESS;
	if (np_qr_render(s->code.verification_url, drawing, sizeof drawing, &n_lines) != 0) {
		pam_syslog(s->pamh, LOG_WARNING, "QR code not drawn: URL too long");
		return PAM_SUCCESS;
	}
	return np_conv_show_lines(s->pamh, PAM_TEXT_INFO, drawing);
}

/* wait = poll: instructions as information, then wait for the helper's verdict. */
static int wait_polling(struct np_signin *s)
{
	char text[NP_INSTRUCTIONS_MAX];
	const char *last = text;
	int rc;

	/* Shown even under PAM_SILENT (sudo always sets it): without it nobody can sign in. */
	rc = show_qr(s);
	if (rc == PAM_SUCCESS)
		rc = show_instructions(s, "Waiting for your approval...", text, sizeof text, &last);
	if (rc == PAM_SUCCESS)
		rc = np_conv_show(s->pamh, PAM_TEXT_INFO, last);
	if (rc != PAM_SUCCESS)
		return np_signin_outcome(s, PAM_CONV_ERR, "error", "conversation failed");
	for (long long next_note = np_monotonic_ms() + PROGRESS_EVERY_MS;;) {
		char err[256] = "";
		enum np_helper_recv_status status;
		long long until_note = next_note - np_monotonic_ms();

		np_msg_wipe(&s->msg);
		status = np_helper_recv(&s->helper, np_signin_wait_ms(s, until_note > 0 ? until_note : 0),
		                        &s->msg, err, sizeof err);
		if (status == NP_RECV_TIMEOUT && np_signin_ms_left(s) > 0) {
			/* A line now and then, not one per poll: a terminal is not a log. */
			if (np_monotonic_ms() >= next_note) {
				np_format_progress(text, sizeof text, &s->code,
				                   (np_signin_ms_left(s) + 999) / 1000);
				(void)np_conv_show(s->pamh, PAM_TEXT_INFO, text);
				next_note += PROGRESS_EVERY_MS;
			}
			continue;
		}
		rc = np_signin_judge(s, status, err, NP_MSG_IDENTITY, NP_MSG_IDENTITY);
		if (rc != PAM_SUCCESS)
			return rc;
		return PAM_SUCCESS;
	}
}

/*
 * wait = prompt: the instructions ride on an echo-off prompt, which is the
 * only text OpenSSH's keyboard-interactive shows before authentication ends
 * (up to 10.2).  The helper keeps polling meanwhile; Enter asks it for a fresh
 * answer.  Unless information is shown at once, reasons wait for a last prompt.
 */
static int wait_prompting(struct np_signin *s, bool info_at_once)
{
	char text[NP_INSTRUCTIONS_MAX];
	const char *prompt = text;
	char *answer = NULL;
	bool typed;
	int rc = PAM_SUCCESS;

	answer = sodium_malloc(ANSWER_MAX);
	if (answer == NULL)
		return np_signin_outcome(s, PAM_BUF_ERR, "error", "out of memory");
	s->prompting = !info_at_once;
	/* sshd holds information back until the next prompt, which comes next. */
	rc = show_qr(s);
	if (rc == PAM_SUCCESS)
		rc = show_instructions(s,
		                       s->cfg.api_key
		                               ? "Press Enter once you have approved (or type an API key): "
		                               : "Press Enter once you have approved: ",
		                       text, sizeof text, &prompt);
	if (rc != PAM_SUCCESS) {
		sodium_free(answer);
		return np_signin_outcome(s, PAM_CONV_ERR, "error", "conversation failed");
	}
	for (;;) {
		rc = np_conv_ask(s->pamh, prompt, answer, ANSWER_MAX);
		typed = answer[0] != '\0';
		if (rc != PAM_SUCCESS) {
			rc = np_signin_outcome(s, PAM_CONV_ERR, "error", "conversation failed");
			break;
		}
		if (typed && s->cfg.api_key && np_valid_api_key(answer, strlen(answer))) {
			rc = np_api_key_sign_in(s, answer, true);
			break;
		}
		sodium_memzero(answer, ANSWER_MAX);
		/*
		 * Otherwise only Enter is expected.  Text here is a password sent by
		 * sshd's password authentication (which answers every prompt with it
		 * and would keep us looping until the timeout), or a slip: refuse at once.
		 */
		if (typed) {
			np_signin_tell(s, s->cfg.api_key ? "That is not a NextPay API key (they start with npk_)."
			                       : "NextPay sign-in takes no password here: approve in the "
			                         "browser, then press Enter.");
			rc = np_signin_outcome(s, PAM_AUTH_ERR, "failure", "text typed at the approval prompt");
			break;
		}
		if (np_signin_ms_left(s) == 0) {
			rc = np_signin_timed_out(s);
			break;
		}
		np_msg_init(&s->msg, NP_MSG_POLL_NOW);
		if (np_helper_send(&s->helper, &s->msg) != 0) {
			rc = np_signin_helper_trouble(s, NP_RECV_GONE, "cannot talk to the helper");
			break;
		}
		/*
		 * The helper answers after its next scheduled poll (Enter never brings
		 * one forward), or at once if it has already seen the approval: it is
		 * bounded by its own timeouts, so wait for it up to the deadline.
		 */
		rc = np_signin_expect(s, np_signin_wait_ms(s, -1), NP_MSG_IDENTITY, NP_MSG_PENDING);
		if (rc != PAM_SUCCESS || s->msg.type == NP_MSG_IDENTITY)
			break;
		snprintf(text, sizeof text,
		         "Still waiting for approval of code %s.\n"
		         "Press Enter once you have approved: ",
		         s->code.code);
		prompt = text;
	}
	sodium_free(answer);
	return rc;
}

/*
 * Whether the application shows PAM_TEXT_INFO as soon as it is sent.  sshd up
 * to 10.2 holds it back until the next prompt: ssh_info says which sshd this
 * is, or the program PAM runs in tells.  Other applications show it at once,
 * unless wait = prompt says otherwise.
 */
static bool info_shown_at_once(const struct np_signin *s, char *why, size_t why_size)
{
	char service[64];

	if (strcmp(s->service, "sshd") != 0) {
		np_log_quote(service, sizeof service, s->service);
		snprintf(why, why_size, "service %s is not sshd", service);
		return s->cfg.wait != NP_WAIT_PROMPT;
	}
	if (s->cfg.ssh_info != NP_SSH_INFO_AUTO) {
		snprintf(why, why_size, "ssh_info = %s",
		         s->cfg.ssh_info == NP_SSH_INFO_IMMEDIATE ? "immediate" : "held");
		return s->cfg.ssh_info == NP_SSH_INFO_IMMEDIATE;
	}
	return np_sshd_shows_info_at_once(NP_SSHD_PROGRAM, why, why_size);
}

static enum np_wait_mode wait_mode(const struct np_signin *s, bool info_at_once)
{
	if (s->cfg.wait != NP_WAIT_AUTO)
		return s->cfg.wait;
	return info_at_once ? NP_WAIT_POLL : NP_WAIT_PROMPT;
}

int np_device_sign_in(struct np_signin *s)
{
	char why[NP_SSHD_WHY_MAX] = "";
	bool at_once;
	enum np_wait_mode mode;
	int rc = receive_code(s);

	if (rc != PAM_SUCCESS)
		return rc;
	at_once = info_shown_at_once(s, why, sizeof why);
	mode = wait_mode(s, at_once);
	if (s->cfg.debug)
		pam_syslog(s->pamh, LOG_DEBUG, "%s mode%s: information %s (%s)",
		           mode == NP_WAIT_PROMPT ? "prompt" : "poll",
		           s->cfg.wait == NP_WAIT_AUTO ? "" : " as wait says",
		           at_once ? "shown at once" : "held back", why);
	return mode == NP_WAIT_PROMPT ? wait_prompting(s, at_once) : wait_polling(s);
}
