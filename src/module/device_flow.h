/* SPDX-License-Identifier: BSD-2-Clause */
/* The device-code flow as the person lives it: the code, the instructions, the wait. */
#ifndef NP_DEVICE_FLOW_H
#define NP_DEVICE_FLOW_H

#include "module/signin.h"

/*
 * Asks the helper for a code, shows the instructions (and the QR code) and
 * waits as cfg.wait says until the helper reports who approved (then
 * PAM_SUCCESS, with the identity in s->msg) or why not.
 */
int np_device_sign_in(struct np_signin *s);

#endif
