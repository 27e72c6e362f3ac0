/* SPDX-License-Identifier: BSD-2-Clause */
#include "module/signin.h"

#include <security/pam_ext.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "common/sanitize.h"
#include "module/conv.h"

/* The client's way to the person: information through the conversation, in messages that fit. */
static int conv_show(void *ctx, const char *text)
{
	const struct np_signin *s = ctx;

	return np_conv_show_lines(s->pamh, PAM_TEXT_INFO, text) == PAM_SUCCESS ? 0 : -1;
}

static int conv_ask(void *ctx, const char *prompt, char *answer, size_t answer_size)
{
	const struct np_signin *s = ctx;

	return np_conv_ask(s->pamh, prompt, answer, answer_size) == PAM_SUCCESS ? 0 : -1;
}

static void conv_log(void *ctx, int priority, const char *text)
{
	const struct np_signin *s = ctx;

	pam_syslog(s->pamh, priority, "%s", text);
}

void np_signin_init(struct np_signin *s, pam_handle_t *pamh)
{
	s->pamh = pamh;
	s->cache.dir_fd = -1;
	s->io = (struct np_client_io){
		.show = conv_show,
		.ask = conv_ask,
		.log = conv_log,
		.ctx = s,
		.message_max = PAM_MAX_MSG_SIZE,
	};
	np_client_init(&s->client, &s->cfg, &s->io);
}

int np_signin_outcome(struct np_signin *s, int rc, const char *result, const char *reason)
{
	s->result = result;
	snprintf(s->reason, sizeof s->reason, "%s", reason);
	return rc;
}

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

/* A failure the helper reported: PAM's code and the log's word for it. */
static int failure_code(struct np_signin *s, const struct np_msg_failure *f,
                        const char **result)
{
	switch (f->reason) {
	case NP_FAIL_DENIED:
		*result = "denied";
		/*
		 * PAM_MAXTRIES stops sshd from starting over with a fresh code; sudo
		 * 1.9 retries anyway, on the same handle: the mark makes those
		 * retries end at once.
		 */
		(void)pam_set_data(s->pamh, DENIED_MARK, (void *)(uintptr_t)DENIED_MARK, NULL);
		return PAM_MAXTRIES;
	case NP_FAIL_EXPIRED:
	case NP_FAIL_TIMEOUT:
		*result = "expired";
		return PAM_AUTH_ERR;
	case NP_FAIL_UNAUTHORIZED:
		*result = "failure";
		return PAM_AUTH_ERR;
	case NP_FAIL_CONFIG:
		*result = "error";
		return PAM_SERVICE_ERR;
	case NP_FAIL_UNAVAILABLE:
	case NP_FAIL_TLS:
	case NP_FAIL_MALFORMED:
	case NP_FAIL_INTERNAL:
	default:
		*result = "unavailable";
		return PAM_AUTHINFO_UNAVAIL;
	}
}

/* Any other status of the client: PAM's code and the log's word for it. */
static int status_code(enum np_client_status status, const char **result)
{
	switch (status) {
	case NP_CLIENT_OK:
		*result = "success";
		return PAM_SUCCESS;
	case NP_CLIENT_EXPIRED:
	case NP_CLIENT_STALE_CODE:
		*result = "expired";
		return PAM_AUTH_ERR;
	case NP_CLIENT_TYPED_TEXT:
		*result = "failure";
		return PAM_AUTH_ERR;
	case NP_CLIENT_GONE:
	case NP_CLIENT_BROKEN:
	case NP_CLIENT_UNEXPECTED:
	case NP_CLIENT_SILENT:
		*result = "unavailable";
		return PAM_AUTHINFO_UNAVAIL;
	/* NextPay answered: verification_hosts does not name its host, a configuration error. */
	case NP_CLIENT_HOST_REFUSED:
		*result = "error";
		return PAM_SERVICE_ERR;
	case NP_CLIENT_CONV_FAILED:
		*result = "error";
		return PAM_CONV_ERR;
	case NP_CLIENT_NO_MEMORY:
		*result = "error";
		return PAM_BUF_ERR;
	case NP_CLIENT_FAILED:
	case NP_CLIENT_NOT_STARTED:
	case NP_CLIENT_INTERRUPTED:
	case NP_CLIENT_TYPED_KEY:
	default:
		*result = "error";
		return PAM_SERVICE_ERR;
	}
}

/*
 * Whether NextPay itself could not be reached: the helper, running and
 * answering, found no answer, a TLS failure, a server error or an answer it
 * could not read.  A helper that died, hung or broke the protocol also ends
 * PAM_AUTHINFO_UNAVAIL, but is no outage for the break-glass gate: whoever
 * can kill or stop it (the user who runs sudo may signal it until it has
 * dropped its privileges) must not be able to fake one.
 */
static bool network_outage(enum np_client_status status, const struct np_msg_failure *f)
{
	return status == NP_CLIENT_FAILED &&
	       (f->reason == NP_FAIL_UNAVAILABLE || f->reason == NP_FAIL_TLS ||
	        f->reason == NP_FAIL_MALFORMED);
}

int np_signin_verdict(struct np_signin *s, enum np_client_status status)
{
	char words[PAM_MAX_MSG_SIZE];
	char reason[sizeof s->reason];
	const char *result = "error";
	int rc = status == NP_CLIENT_FAILED ? failure_code(s, &s->client.msg.failure, &result)
	                                    : status_code(status, &result);

	s->outage = rc == PAM_AUTHINFO_UNAVAIL && network_outage(status, &s->client.msg.failure);
	if (status == NP_CLIENT_OK)
		return PAM_SUCCESS;
	if (status == NP_CLIENT_NOT_STARTED)
		return np_signin_set_up_error(s, "helper not started: ", s->client.err,
		                              "helper cannot be started");
	np_client_words(&s->client, status, words, sizeof words);
	if (words[0] != '\0')
		np_signin_tell(s, words);
	np_client_reason(&s->client, status, reason, sizeof reason);
	return np_signin_outcome(s, rc, result, reason);
}

int np_signin_set_up_error(struct np_signin *s, const char *prefix, const char *err,
                           const char *reason)
{
	char clean[1024];
	char words[PAM_MAX_MSG_SIZE];

	np_log_quote(clean, sizeof clean, err);
	pam_syslog(s->pamh, LOG_ERR, "%s%s", prefix, clean);
	/* The person's words for a host that is set up wrongly. */
	np_client_words(&s->client, NP_CLIENT_NOT_STARTED, words, sizeof words);
	np_signin_tell(s, words);
	return np_signin_outcome(s, PAM_SERVICE_ERR, "error", reason);
}

int np_signin_expect(struct np_signin *s, int timeout_ms, enum np_msg_type want1,
                     enum np_msg_type want2)
{
	return np_signin_verdict(s, np_client_expect(&s->client, timeout_ms, want1, want2));
}

int np_signin_start_helper(struct np_signin *s)
{
	return np_signin_verdict(s, np_client_start(&s->client));
}
