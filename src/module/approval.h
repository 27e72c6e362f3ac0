/* SPDX-License-Identifier: BSD-2-Clause */
/* Reusing an earlier approval through the encrypted cache (cache.h). */
#ifndef NP_APPROVAL_H
#define NP_APPROVAL_H

#include "module/signin.h"

/* Opens the cache for this sign-in's scope when cache = yes and the key is readable. */
void np_approval_open(struct np_signin *s);

/*
 * Signs in with an earlier approval, if one is stored for this scope and the
 * API still accepts its token (and says it belongs to the same person, whom
 * the map still allows).  Anything less is NOT_DECIDED: the device flow runs.
 * When NextPay does not answer at all, offline_grace may let a recently
 * confirmed entry sign in without it (method cached-offline); otherwise the
 * sign-in ends PAM_AUTHINFO_UNAVAIL without a device flow.
 */
int np_approval_reuse(struct np_signin *s);

/* After a fresh approval: keep it for the next sign-in in this scope. */
void np_approval_remember(struct np_signin *s);

#endif
