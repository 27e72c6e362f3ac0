#include "module/api_key.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/validate.h"

int np_api_key_sign_in(struct np_signin *s, const char *key, bool helper_busy)
{
	int rc = PAM_SUCCESS;

	if (helper_busy) {
		np_helper_stop(&s->helper);
		rc = np_signin_start_helper(s);
	}
	if (rc != PAM_SUCCESS)
		return rc;
	s->method = "api-key";
	np_msg_init(&s->msg, NP_MSG_API_KEY);
	snprintf(s->msg.api_key, sizeof s->msg.api_key, "%s", key);
	rc = np_helper_send(&s->helper, &s->msg);
	np_msg_wipe(&s->msg);
	if (rc != 0)
		return np_signin_helper_trouble(s, NP_RECV_GONE, "cannot talk to the helper");
	rc = np_signin_expect(s, np_signin_wait_ms(s, np_signin_call_limit_ms(s)), NP_MSG_IDENTITY,
	                    NP_MSG_IDENTITY);
	if (rc == PAM_SUCCESS || s->msg.type != NP_MSG_FAILURE ||
	    s->msg.failure.reason != NP_FAIL_UNAUTHORIZED)
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

