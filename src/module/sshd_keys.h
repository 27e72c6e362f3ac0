/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The public keys an sshd connection completed before this sign-in, as sshd
 * itself reports them in the PAM environment (SSH_AUTH_INFO_0,
 * common/ssh_key.h): for the log, the journal, the cache's meta box and
 * cache_scope = key.
 */
#ifndef NP_SSHD_KEYS_H
#define NP_SSHD_KEYS_H

#include "module/signin.h"

/*
 * Fills s->ssh_keys with the fingerprints of the completed public keys, or
 * leaves it "".  Only under the sshd service, inside a program that is a
 * portable OpenSSH (as for wait = auto, sshd_info.h): another application
 * that names its service sshd, or puts SSH_AUTH_INFO_0 into its PAM
 * environment, names no key.  Text that does not parse strictly names none
 * either; with debug, the log says why.
 */
void np_sshd_keys_read(struct np_signin *s);

#endif
