/* SPDX-License-Identifier: BSD-2-Clause */
/* The helper gives up root, and every capability, before it touches the network. */
#ifndef NP_PRIVDROP_H
#define NP_PRIVDROP_H

#include <stddef.h>

/*
 * When any of the real, effective or saved ids is root, becomes user (and its
 * primary group only) for good and checks root cannot be regained.  Refuses a
 * user that is itself uid 0 or gid 0.
 *
 * Whatever the ids: empties the capability bounding set while the process
 * may (CAP_SETPCAP), clears the ambient, inheritable, permitted and effective
 * sets, and checks that none is left.  Started by an ordinary user without
 * CAP_SETPCAP, the bounding set and the supplementary groups cannot change and
 * stay as they were; no_new_privs (set by the caller) keeps them from
 * granting anything.  Returns 0, or -1 with err set.
 */
int np_drop_privileges(const char *user, char *err, size_t err_size);

#endif
