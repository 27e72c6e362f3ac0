/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The scope of an approval: who it was given to, by whom, and (for cache_scope
 * = session) where.  An approval stored in the cache serves only a sign-in of
 * the very same scope; this is where approval.c gets the string that names
 * it, and the cache binds each entry to it (common/cache.h).
 */
#ifndef NP_SCOPE_H
#define NP_SCOPE_H

#include <stdbool.h>
#include <stddef.h>

struct np_scope_parts {
	const char *account;
	/*
	 * Who asked: the real uid of the calling process and PAM_RUSER ("" when
	 * unset).  For su, sudo with targetpw or polkit the person at the
	 * keyboard is not PAM_USER: an approval serves only whoever invoked it.
	 */
	unsigned long invoker_uid;
	const char *invoker_name;
	const char *service;
	const char *tty;     /* PAM_TTY, or "" */
	const char *rhost;   /* PAM_RHOST, or "" */
	long sid;            /* session id of the caller */
	unsigned long long leader_start; /* start time of the session leader, clock ticks */
};

/*
 * Builds the scope string: for session scope every part, for user scope the
 * account and the invoking user.  Parts are length-prefixed so no two scopes
 * collide.
 */
int np_scope_string(bool session_scope, const struct np_scope_parts *parts, char *out,
                    size_t out_size);

/* The caller's session id and its leader's start time from /proc.  0 or -1. */
int np_scope_session_leader(long *sid, unsigned long long *start);

#endif
