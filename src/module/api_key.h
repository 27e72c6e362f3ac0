/* SPDX-License-Identifier: BSD-2-Clause */
/* Signing in with a NextPay API key (npk_...) instead of a browser. */
#ifndef NP_API_KEY_H
#define NP_API_KEY_H

#include <stdbool.h>

#include "module/signin.h"

/*
 * Exchanges key for a token and identity (in s->msg on PAM_SUCCESS).  When
 * the helper is busy with a device flow (the key was typed at its prompt) a
 * fresh helper does it.  A refused key is PAM_AUTH_ERR.
 */
int np_api_key_sign_in(struct np_signin *s, const char *key, bool helper_busy);

/*
 * use_first_pass / try_first_pass: the previous module's password
 * (PAM_AUTHTOK) as an API key.  NOT_DECIDED when the browser should decide.
 */
int np_first_pass_sign_in(struct np_signin *s);

#endif
