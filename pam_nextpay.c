/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pam_nextpay: sign in with a NextPay account through the device-code flow.
 * The entry points stay thin; the work is in src/module/auth.c.
 */
#include <security/pam_modules.h>

#include "module/auth.h"

PAM_EXTERN int pam_sm_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	return np_authenticate(pamh, flags, argc, argv);
}

/* No credentials to establish: the approval is the whole of what this module does. */
PAM_EXTERN int pam_sm_setcred(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	(void)pamh;
	(void)flags;
	(void)argc;
	(void)argv;
	return PAM_SUCCESS;
}
