/* SPDX-License-Identifier: BSD-2-Clause */
#include "module/signin.h"

#include <security/pam_ext.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "common/sanitize.h"
#include "module/audit.h"
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
	np_signin_id_new(s->signin_id);
}

const char *np_signin_item(const struct np_signin *s, int item)
{
	const void *value = NULL;

	return pam_get_item(s->pamh, item, &value) == PAM_SUCCESS && value != NULL ? value : "";
}

void np_signin_who(const struct np_signin *s, char *rhost, size_t rhost_size,
                   struct np_instructions *in)
{
	np_shorten(rhost, rhost_size, s->rhost);
	*in = (struct np_instructions){
		.host = s->host_shown,
		.account = s->account_shown,
		.service = s->service_shown,
		.rhost = rhost,
	};
}

int np_signin_outcome(struct np_signin *s, int rc, const char *result, const char *reason)
{
	s->result = result;
	snprintf(s->reason, sizeof s->reason, "%s", reason);
	return rc;
}

/*
 * What the person is told of a refusal or an error ends with the sign-in's
 * reference, which finds its events in the log for whoever helps them.
 */
static void with_reference(const struct np_signin *s, const char *text, char *out,
                           size_t out_size)
{
	char reference[NP_REFERENCE_LEN + 1];

	np_signin_reference(s->signin_id, reference);
	snprintf(out, out_size, "%s\n" NP_REFERENCE_WORDS "%s", text, reference);
}

void np_signin_tell(struct np_signin *s, const char *text)
{
	size_t used = strlen(s->untold);
	char told[PAM_MAX_MSG_SIZE];

	if (s->tell == NP_TELL_NOW) {
		with_reference(s, text, told, sizeof told);
		(void)np_conv_show(s->pamh, PAM_ERROR_MSG, told);
		return;
	}
	snprintf(s->untold + used, sizeof s->untold - used, "%s%s", used > 0 ? "\n" : "", text);
}

/* Asks with prompt and drops the answer (a password, from sshd's password authentication). */
static void ask_and_drop(struct np_signin *s, const char *prompt)
{
	char answer[64];

	(void)np_conv_ask(s->pamh, prompt, answer, sizeof answer);
	sodium_memzero(answer, sizeof answer);
}

/*
 * At a greeter: information, which stays in its one message line where an
 * error message would give way to its own "Failed to authenticate", and a
 * prompt that keeps it there until the person has read it.  Shown once more
 * after Enter: the greeter, starting over, puts its own words ("Incorrect
 * password") only where no message is.
 */
static void tell_greeter(struct np_signin *s, const char *told)
{
	char text[PAM_MAX_MSG_SIZE];

	snprintf(text, sizeof text, "%s\n" NP_WORDS_START_AGAIN ".", told);
	if (np_conv_show(s->pamh, PAM_TEXT_INFO, text) != PAM_SUCCESS)
		return;
	ask_and_drop(s, NP_WORDS_START_AGAIN ": ");
	(void)np_conv_show(s->pamh, PAM_TEXT_INFO, told);
}

void np_signin_tell_last(struct np_signin *s)
{
	char told[PAM_MAX_MSG_SIZE - 32]; /* room for the prompt's own words */
	char prompt[PAM_MAX_MSG_SIZE];

	if (s->untold[0] == '\0')
		return;
	with_reference(s, s->untold, told, sizeof told);
	if (s->tell == NP_TELL_GREETER) {
		tell_greeter(s, told);
	} else {
		snprintf(prompt, sizeof prompt, "%s\nPress Enter to close: ", told);
		ask_and_drop(s, prompt);
	}
	s->untold[0] = '\0';
}

/* A failure the helper reported, as PAM's code. */
static int failure_code(struct np_signin *s, const struct np_msg_failure *f)
{
	switch (f->reason) {
	case NP_FAIL_DENIED:
		/*
		 * PAM_MAXTRIES stops sshd from starting over with a fresh code; sudo
		 * 1.9 retries anyway, on the same handle: the mark makes those
		 * retries end at once.
		 */
		(void)pam_set_data(s->pamh, DENIED_MARK, (void *)(uintptr_t)DENIED_MARK, NULL);
		return PAM_MAXTRIES;
	case NP_FAIL_EXPIRED:
	case NP_FAIL_TIMEOUT:
	case NP_FAIL_UNAUTHORIZED:
		return PAM_AUTH_ERR;
	case NP_FAIL_CONFIG:
		return PAM_SERVICE_ERR;
	case NP_FAIL_UNREACHABLE:
	case NP_FAIL_UNAVAILABLE:
	case NP_FAIL_TLS:
	case NP_FAIL_MALFORMED:
	case NP_FAIL_INTERNAL:
	default:
		return PAM_AUTHINFO_UNAVAIL;
	}
}

/* Any other status of the client, as PAM's code. */
static int status_code(enum np_client_status status)
{
	switch (status) {
	case NP_CLIENT_OK:
		return PAM_SUCCESS;
	case NP_CLIENT_EXPIRED:
	case NP_CLIENT_STALE_CODE:
	case NP_CLIENT_TYPED_TEXT:
		return PAM_AUTH_ERR;
	case NP_CLIENT_GONE:
	case NP_CLIENT_BROKEN:
	case NP_CLIENT_UNEXPECTED:
	case NP_CLIENT_SILENT:
		return PAM_AUTHINFO_UNAVAIL;
	/* NextPay answered: verification_hosts does not name its host, a configuration error. */
	case NP_CLIENT_HOST_REFUSED:
		return PAM_SERVICE_ERR;
	case NP_CLIENT_CONV_FAILED:
		return PAM_CONV_ERR;
	case NP_CLIENT_NO_MEMORY:
		return PAM_BUF_ERR;
	case NP_CLIENT_FAILED:
	case NP_CLIENT_NOT_STARTED:
	case NP_CLIENT_INTERRUPTED:
	case NP_CLIENT_TYPED_KEY:
	default:
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
	       (f->reason == NP_FAIL_UNREACHABLE || f->reason == NP_FAIL_UNAVAILABLE ||
	        f->reason == NP_FAIL_TLS || f->reason == NP_FAIL_MALFORMED);
}

int np_signin_verdict(struct np_signin *s, enum np_client_status status)
{
	char words[PAM_MAX_MSG_SIZE];
	char reason[sizeof s->reason];
	const char *result = np_client_result(&s->client, status);
	int rc = status == NP_CLIENT_FAILED ? failure_code(s, &s->client.msg.failure)
	                                    : status_code(status);

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
	np_audit_client_status(s, status, reason);
	return np_signin_outcome(s, rc, result, reason);
}

int np_signin_set_up_error(struct np_signin *s, const char *prefix, const char *err,
                           const char *reason)
{
	char clean[1024];
	char why[1024];
	char words[PAM_MAX_MSG_SIZE];

	np_log_quote(clean, sizeof clean, err);
	snprintf(why, sizeof why, "%s%s", prefix, err);
	np_audit_event(s, NP_EVENT_CONFIG_ERROR, LOG_ERR, why, "%s%s", prefix, clean);
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
