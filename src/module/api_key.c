/* SPDX-License-Identifier: BSD-2-Clause */
#include "module/api_key.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/validate.h"

int np_api_key_sign_in(struct np_signin *s, const char *key, bool helper_busy)
{
	struct np_client *c = &s->client;
	enum np_client_status status;
	int rc = PAM_SUCCESS;

	if (helper_busy) {
		np_client_stop(c);
		rc = np_signin_start_helper(s);
	}
	if (rc != PAM_SUCCESS)
		return rc;
	s->method = NP_METHOD_API_KEY;
	np_msg_init(&c->msg, NP_MSG_API_KEY);
	snprintf(c->msg.api_key, sizeof c->msg.api_key, "%s", key);
	status = np_client_send(c);
	np_msg_wipe(&c->msg);
	if (status == NP_CLIENT_OK)
		status = np_client_expect(c, np_client_wait_ms(c, np_client_call_limit_ms(c)),
		                          NP_MSG_IDENTITY, NP_MSG_IDENTITY);
	rc = np_signin_verdict(s, status);
	/*
	 * Whoever typed the key (or the password before it) chose what NextPay
	 * was sent: NextPay failing on it, even with a 5xx, is no outage that
	 * could open a break-glass gate.
	 */
	s->outage = false;
	if (status != NP_CLIENT_FAILED || c->msg.failure.reason != NP_FAIL_UNAUTHORIZED)
		return rc;
	return np_signin_outcome(s, PAM_AUTH_ERR, "failure", "API key refused");
}

int np_first_pass_sign_in(struct np_signin *s)
{
	const void *authtok = NULL;
	const char *key;
	int rc;

	if (!s->cfg.use_first_pass && !s->cfg.try_first_pass)
		return NOT_DECIDED;
	if (pam_get_item(s->pamh, PAM_AUTHTOK, &authtok) != PAM_SUCCESS)
		authtok = NULL;
	key = authtok;
	if (key == NULL || !np_valid_api_key(key, strlen(key))) {
		if (s->cfg.try_first_pass)
			return NOT_DECIDED;
		np_signin_tell(s, "No NextPay API key was given.");
		return np_signin_outcome(s, PAM_AUTH_ERR, "failure", "use_first_pass: no API key in PAM_AUTHTOK");
	}
	rc = np_api_key_sign_in(s, key, false);
	/* try_first_pass: a refused key still leaves the browser. */
	if (rc == PAM_AUTH_ERR && s->cfg.try_first_pass) {
		s->method = NULL;
		return NOT_DECIDED;
	}
	return rc;
}

