/* SPDX-License-Identifier: BSD-2-Clause */
#include "module/sshd_keys.h"

#include <security/pam_ext.h>
#include <string.h>
#include <syslog.h>

#include "common/sanitize.h"
#include "common/ssh_key.h"
#include "module/sshd_info.h"

void np_sshd_keys_read(struct np_signin *s)
{
	char keys[sizeof s->ssh_keys];
	char program[NP_SSHD_WHY_MAX];
	char quoted[128];
	const char *why = "";
	int n;

	s->ssh_keys[0] = '\0';
	if (strcmp(s->service, "sshd") != 0)
		return;
	/*
	 * sshd sets the variable itself just before each pam_authenticate(),
	 * with ExposeAuthInfo or without; parsed first, so that the program is
	 * read only when there is a key to trust.
	 */
	n = np_ssh_auth_info_keys(pam_getenv(s->pamh, NP_SSH_AUTH_INFO), keys, sizeof keys, &why);
	if (n < 0 && s->cfg.debug) {
		np_log_quote(quoted, sizeof quoted, why);
		pam_syslog(s->pamh, LOG_DEBUG, "%s not used: %s", NP_SSH_AUTH_INFO, quoted);
	}
	if (n <= 0)
		return;
	if (!np_sshd_is_openssh(NP_SSHD_PROGRAM, program, sizeof program)) {
		if (s->cfg.debug)
			pam_syslog(s->pamh, LOG_DEBUG, "%s not used: not inside OpenSSH's sshd (%s)",
			           NP_SSH_AUTH_INFO, program);
		return;
	}
	memcpy(s->ssh_keys, keys, sizeof s->ssh_keys);
}
