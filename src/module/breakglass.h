/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Break-glass: a narrow, loud way in while NextPay cannot be reached.
 *
 * A line with breakglass_group=GROUP is no sign-in but a gate, placed right
 * after a sign-in line whose PAM_AUTHINFO_UNAVAIL the stack ignores, and
 * before the password modules:
 *
 *   auth [success=done authinfo_unavail=ignore ignore=ignore default=die] pam_nextpay.so
 *   auth [success=ok ignore=ignore default=bad] pam_nextpay.so breakglass_group=GROUP
 *   auth required pam_unix.so
 *
 * Every sign-in line leaves on the handle what it came to (np_breakglass_note);
 * the gate takes that mark away and opens only for the member of GROUP whose
 * sign-in, in this very call, found NextPay unreachable.
 */
#ifndef NP_BREAKGLASS_H
#define NP_BREAKGLASS_H

#include "module/signin.h"

/* pam_set_data name of the mark a sign-in line leaves for the gate. */
#define BREAKGLASS_MARK "pam_nextpay.signin_outcome"
/* The gate honours a mark at most this old: it must follow its sign-in line at once. */
#define BREAKGLASS_MARK_MAX_AGE_MS 5000

/*
 * The end of every sign-in line: replaces the mark with rc, whether NextPay
 * was unreachable (s->outage), the account and the reason.  Never fails the
 * sign-in; without memory, it only removes the old mark.
 */
void np_breakglass_note(const struct np_signin *s, int rc);

/* Removes the mark: for a call that ends before it knows what it is. */
void np_breakglass_forget(pam_handle_t *pamh);

/*
 * The gate (cfg.breakglass_group set), after the settings are read.
 * PAM_SUCCESS: the earlier line of this call found NextPay unreachable for
 * PAM_USER, who is a member of the group (logged at LOG_ALERT); PAM_IGNORE:
 * that line skipped the service; PAM_AUTH_ERR otherwise (logged at
 * LOG_WARNING, or LOG_ERR for a stack or group that is set up wrongly).
 */
int np_breakglass_gate(struct np_signin *s);

#endif
