/* SPDX-License-Identifier: BSD-2-Clause */
/* The module's side of a sign-in: policy, conversation and decision. */
#ifndef NP_AUTH_H
#define NP_AUTH_H

#include <security/pam_modules.h>

/* pam_sm_authenticate's work.  Returns a PAM code as listed in pam_nextpay(8), RETURN VALUES. */
int np_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv);

#endif
