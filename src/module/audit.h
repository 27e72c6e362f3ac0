/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The module's audit trail: one event per decision, sent to the journal with
 * structured fields, or to syslog as one quoted line (the log setting, and
 * syslog whenever the journal cannot take it).  Every event of a sign-in
 * carries its id, which the person reads as their reference.  What the
 * kinds, fields and MESSAGE_IDs are is common/events.h.
 */
#ifndef NP_AUDIT_H
#define NP_AUDIT_H

#include "common/client.h"
#include "common/events.h"
#include "module/signin.h"

/* The sign-in's outcome: one event per call of pam_sm_authenticate, rc what it returns. */
void np_audit_signin(const struct np_signin *s, int rc);

/*
 * Another event of the sign-in, at a syslog priority: reason is its
 * NEXTPAY_REASON, the rest (printf-style) the text of its line, every outside
 * value in it quoted with np_log_quote().
 */
void np_audit_event(const struct np_signin *s, enum np_event_kind kind, int priority,
                    const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/*
 * What a status of the sign-in client tells beyond the outcome: a helper that
 * died, broke the protocol or stopped answering, a verification host
 * refused, a helper that cannot run as configured.  reason: the outcome's.
 */
void np_audit_client_status(const struct np_signin *s, enum np_client_status status,
                            const char *reason);

#endif
