/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Which local accounts are people's.  An e-mail's local part may only ever
 * name a person's account: never root, nobody or a system account (a uid
 * below UID_MIN in login.defs).  Only an explicit identity map line may
 * name one of those.
 */
#ifndef NP_ACCOUNT_H
#define NP_ACCOUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define NP_LOGIN_DEFS "/etc/login.defs"
/* The longest account name taken, in bytes (an identity map line, PAM_USER, --user). */
#define NP_ACCOUNT_MAX 256
/* What useradd assumes when login.defs has no (usable) UID_MIN. */
#define NP_UID_MIN_DEFAULT 1000UL
/* The kernel's overflow uid, "nobody": a system account whatever UID_MIN says. */
#define NP_UID_NOBODY 65534UL

/*
 * UID_MIN from the text of a login.defs: the value of its last UID_MIN line
 * (decimal, 0x hex or 0 octal, as useradd reads it), or NP_UID_MIN_DEFAULT
 * when there is none or it is not a number from 1 to 4294967294.
 */
unsigned long np_uid_min_parse(const char *text, size_t len);

/*
 * UID_MIN from the file at path, read only if it is a regular file (not a
 * symlink) owned by root (or the effective user) and not writable by group or
 * others; otherwise, or when it is missing or unreadable, NP_UID_MIN_DEFAULT.
 */
unsigned long np_uid_min(const char *path);

/* Whether uid is a person's: not root, not nobody, at least uid_min. */
bool np_uid_is_personal(uid_t uid, unsigned long uid_min);

#endif
