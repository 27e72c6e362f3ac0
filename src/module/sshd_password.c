/* SPDX-License-Identifier: BSD-2-Clause */
#include "module/sshd_password.h"

#include <security/pam_ext.h>
#include <sodium.h>
#include <string.h>
#include <syslog.h>

#include "common/validate.h"
#include "module/api_key.h"
#include "module/conv.h"
#include "module/sshd_info.h"

/* What the log line's reason says for every refusal of that conversation. */
#define PASSWORD_REASON "sshd password authentication cannot show a code"

/*
 * OpenSSH calls pam_authenticate() in two places only (auth-pam.c, 9.2 and
 * 10.3 alike): keyboard-interactive's sshpam_thread(), whose conversation
 * carries its context as application data and fails without it
 * (sshpam_thread_conv() refuses a NULL one), and password authentication's
 * sshpam_auth_passwd() (also "none" with PermitEmptyPasswords), whose
 * conversation passwd_conv has none.  So within OpenSSH's sshd, no
 * application data means the password conversation.  The program must carry
 * one portable OpenSSH release string, as for wait = auto: another program
 * that names its service "sshd" (pamtester, a test) is not taken for sshd.
 */
bool np_sshd_password_conversation(const struct np_signin *s)
{
	const struct pam_conv *conv = NULL;
	char why[NP_SSHD_WHY_MAX];

	if (strcmp(s->service, "sshd") != 0)
		return false;
	if (pam_get_item(s->pamh, PAM_CONV, (const void **)&conv) != PAM_SUCCESS || conv == NULL ||
	    conv->appdata_ptr != NULL)
		return false;
	if (!np_sshd_is_openssh(NP_SSHD_PROGRAM, why, sizeof why))
		return false;
	if (s->cfg.debug)
		pam_syslog(s->pamh, LOG_DEBUG, "sshd password authentication (%s): %s", why,
		           s->cfg.api_key ? "the password may be an API key" : "refused at once");
	return true;
}

/*
 * PAM_AUTH_ERR, not PAM_MAXTRIES: OpenSSH turns off keyboard-interactive
 * authentication too for the rest of the connection after PAM_MAXTRIES
 * (sshpam_set_maxtries_reached()), and that is the one method that can carry
 * the code.  Nothing is shown: sshd would keep it until after a login.
 */
int np_sshd_password_refused(struct np_signin *s)
{
	return np_signin_outcome(s, PAM_AUTH_ERR, "refused", PASSWORD_REASON);
}

int np_sshd_password_sign_in(struct np_signin *s)
{
	char *answer = sodium_malloc(NP_CLIENT_ANSWER_MAX);
	int rc;

	if (answer == NULL)
		return np_signin_verdict(s, NP_CLIENT_NO_MEMORY);
	/* sshd answers with the password at once, whatever the prompt says. */
	if (np_conv_ask(s->pamh, "NextPay API key: ", answer, NP_CLIENT_ANSWER_MAX) != PAM_SUCCESS)
		rc = np_signin_verdict(s, NP_CLIENT_CONV_FAILED);
	else if (!np_valid_api_key(answer, strlen(answer)))
		rc = np_signin_outcome(s, PAM_AUTH_ERR, "refused",
		                       PASSWORD_REASON ", and the password is no API key");
	else
		rc = np_api_key_sign_in(s, answer, false);
	sodium_memzero(answer, NP_CLIENT_ANSWER_MAX);
	sodium_free(answer);
	return rc;
}
