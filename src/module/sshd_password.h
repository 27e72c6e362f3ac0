/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sshd's password authentication.  OpenSSH answers every echo-off prompt of
 * that conversation with the password already typed and keeps every message
 * until after login, so a device code could never reach the person: each
 * attempt would create a code and, in poll mode, wait login_timeout while the
 * person sees nothing.  The module tells that conversation from
 * keyboard-interactive's without guessing (sshd_password.c says how), takes
 * the password as an API key where api_key allows one, and otherwise refuses
 * at once: no helper, no code.
 */
#ifndef NP_SSHD_PASSWORD_H
#define NP_SSHD_PASSWORD_H

#include <stdbool.h>

#include "module/signin.h"

/* Whether this call runs in OpenSSH sshd's password conversation. */
bool np_sshd_password_conversation(const struct np_signin *s);

/* The refusal when api_key is off: PAM_AUTH_ERR, logged, nothing shown. */
int np_sshd_password_refused(struct np_signin *s);

/*
 * With api_key = yes: the password, if it is a well-formed API key, is
 * exchanged like a key typed at the prompt; anything else is refused at once
 * (PAM_AUTH_ERR).  Never a device code.  The helper must be running.
 */
int np_sshd_password_sign_in(struct np_signin *s);

#endif
