/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The scope of an approval: who it was given to, by whom, under which PAM
 * service, and (for cache_scope = session) at which terminal, in which
 * session.  An approval stored in the cache serves only a sign-in of the very
 * same scope; this is where approval.c gets the string that names it, and the
 * cache binds each entry to it (common/cache.h).
 */
#ifndef NP_SCOPE_H
#define NP_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

/* Room for a terminal's device number as np_scope_terminal() writes it ("136:3"). */
#define NP_SCOPE_TERMINAL_MAX 32

struct np_scope_parts {
	const char *account;
	/*
	 * Who asked: the real uid of the calling process and PAM_RUSER ("" when
	 * unset).  For su, sudo with targetpw or polkit the person at the
	 * keyboard is not PAM_USER: an approval serves only whoever invoked it.
	 */
	unsigned long invoker_uid;
	const char *invoker_name;
	/* In every scope: an approval given to sshd never signs in login or a greeter. */
	const char *service;
	/*
	 * Key scope only: the SHA256 fingerprints of the public keys sshd says
	 * the connection completed, in order, joined by ',' (common/ssh_key.h).
	 */
	const char *ssh_keys;
	/* Session scope only. */
	const char *terminal; /* the controlling terminal PAM_TTY names (np_scope_terminal) */
	const char *rhost;    /* PAM_RHOST, or "" */
	long sid;             /* session id of the caller */
	unsigned long long leader_start; /* start time of the session leader, clock ticks */
};

/*
 * Builds the scope string: for session scope every part, for user scope the
 * account, the invoking user and the service, for key scope those and the
 * keys (which must not be empty).  The kind comes first and parts are
 * length-prefixed, so no two scopes collide.  0, or -1.
 */
int np_scope_string(enum np_cache_scope kind, const struct np_scope_parts *parts, char *out,
                    size_t out_size);

/* "session", "user" or "key": the first part of the scope, and the cache list's column. */
const char *np_scope_kind_name(enum np_cache_scope kind);

/* The caller's session id and its leader's start time from /proc.  0 or -1. */
int np_scope_session_leader(long *sid, unsigned long long *start);

/*
 * Whether pam_tty ("pts/3" or "/dev/pts/3", as applications set PAM_TTY) is
 * the calling process's controlling terminal: the device it names under /dev,
 * found without following a symbolic link, must be a character device whose
 * number is the tty_nr of /proc/self/stat.  On 0, device holds that number
 * ("MAJOR:MINOR").  On -1, why says what was missing or odd, for a debug
 * line: a display manager, a lock screen, a daemon or sshd's authentication
 * process has no such terminal, and that is not an error.
 */
int np_scope_terminal(const char *pam_tty, char *device, size_t device_size, const char **why);

#endif
