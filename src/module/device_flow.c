/* SPDX-License-Identifier: BSD-2-Clause */
#include "module/device_flow.h"

#include <security/pam_ext.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "common/sanitize.h"
#include "common/wording.h"
#include "module/api_key.h"
#include "module/conv.h"
#include "module/greeter.h"
#include "module/sshd_info.h"

static int receive_code(struct np_signin *s)
{
	int rc = np_signin_verdict(s, np_client_send_device_login(&s->client, s->cache_ready));

	if (rc != PAM_SUCCESS)
		return rc;
	s->method = NP_METHOD_DEVICE_CODE;
	return np_signin_verdict(s, np_client_receive_code(&s->client));
}

/*
 * wait = poll: instructions as information, then wait for the helper's
 * verdict.  repeat_ms as np_client_wait_polling() takes it: 0 on a terminal.
 */
static int wait_polling(struct np_signin *s, long long repeat_ms)
{
	char rhost[NP_RHOST_SHOWN + 1];
	struct np_instructions in;

	np_signin_who(s, rhost, sizeof rhost, &in);
	return np_signin_verdict(s, np_client_wait_polling(&s->client, &in, repeat_ms));
}

/*
 * wait = prompt: the instructions ride on an echo-off prompt, which is the
 * only text OpenSSH's keyboard-interactive shows before authentication ends
 * (up to 10.2).  The helper keeps polling meanwhile; Enter asks it for a fresh
 * answer.  Unless information is shown at once, reasons wait for a last prompt.
 */
static int wait_prompting(struct np_signin *s, bool info_at_once)
{
	char rhost[NP_RHOST_SHOWN + 1];
	struct np_instructions in;
	char *answer = sodium_malloc(NP_CLIENT_ANSWER_MAX);
	enum np_client_status status;
	int rc;

	if (answer == NULL)
		return np_signin_verdict(s, NP_CLIENT_NO_MEMORY);
	s->tell = info_at_once ? NP_TELL_NOW : NP_TELL_ON_PROMPT;
	np_signin_who(s, rhost, sizeof rhost, &in);
	status = np_client_wait_prompting(&s->client, &in, answer);
	if (status == NP_CLIENT_TYPED_KEY)
		rc = np_api_key_sign_in(s, answer, true);
	else
		rc = np_signin_verdict(s, status);
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

/*
 * wait = auto with api_key = yes, beyond sshd: prompt mode where a person at
 * a terminal reads and answers prompts (sudo, su, login), so that there is
 * somewhere to type a key; Enter after the approval does what poll mode
 * would have done by itself.  sshd keeps its own choice (its password
 * authentication takes a key as the password); a greeter never gets here.
 */
static bool key_prompt_on_terminal(const struct np_signin *s)
{
	return s->cfg.api_key && strcmp(s->service, "sshd") != 0 && np_conv_has_terminal();
}

static enum np_wait_mode wait_mode(const struct np_signin *s, bool info_at_once, char *why,
                                   size_t why_size)
{
	size_t used = strlen(why);

	if (s->cfg.wait != NP_WAIT_AUTO)
		return s->cfg.wait;
	if (info_at_once && key_prompt_on_terminal(s)) {
		snprintf(why + used, why_size - used, "; api_key = yes on a terminal");
		return NP_WAIT_PROMPT;
	}
	return info_at_once ? NP_WAIT_POLL : NP_WAIT_PROMPT;
}

/*
 * At a greeter (wait = auto): the person asked for the code at a prompt
 * already (greeter.c), so the greeter starts the session by itself once the
 * helper has seen the approval; meanwhile the instructions are shown again
 * and again, as the greeter keeps only its latest message and may clear it.
 */
static int wait_at_greeter(struct np_signin *s)
{
	long long repeat_ms =
		s->greeter.tty_is_display ? NP_GREETER_REPEAT_MS : NP_CLIENT_PROGRESS_MS;

	if (s->cfg.debug)
		pam_syslog(s->pamh, LOG_DEBUG,
		           "greeter mode: the instructions shown again every %lld s", repeat_ms / 1000);
	return wait_polling(s, repeat_ms);
}

int np_device_sign_in(struct np_signin *s)
{
	char why[NP_SSHD_WHY_MAX] = "";
	bool at_once;
	enum np_wait_mode mode;
	int rc = receive_code(s);

	if (rc != PAM_SUCCESS)
		return rc;
	if (s->tell == NP_TELL_GREETER)
		return wait_at_greeter(s);
	at_once = info_shown_at_once(s, why, sizeof why);
	mode = wait_mode(s, at_once, why, sizeof why);
	if (s->cfg.debug)
		pam_syslog(s->pamh, LOG_DEBUG, "%s mode%s: information %s (%s)",
		           mode == NP_WAIT_PROMPT ? "prompt" : "poll",
		           s->cfg.wait == NP_WAIT_AUTO ? "" : " as wait says",
		           at_once ? "shown at once" : "held back", why);
	return mode == NP_WAIT_PROMPT ? wait_prompting(s, at_once) : wait_polling(s, 0);
}
