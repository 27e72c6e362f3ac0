/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Whether the sshd running this sign-in shows PAM_TEXT_INFO to the client at
 * once.  OpenSSH 10.3p1 does ("auth-pam: Immediately report interactive
 * instructions to clients"); up to 10.2 sshd holds such text back until the
 * next prompt, so a person who is only informed sees nothing.  The answer
 * comes from the OpenSSH release string compiled into the program PAM runs in
 * (sshd, or sshd-session since 9.8): "OpenSSH_10.3p1", perhaps followed by a
 * vendor's " Debian-..." suffix.  In doubt the answer is "held".
 */
#ifndef NP_SSHD_INFO_H
#define NP_SSHD_INFO_H

#include <stdbool.h>
#include <stddef.h>

/* The program this process runs: sshd's per-connection process under sshd. */
#define NP_SSHD_PROGRAM "/proc/self/exe"
/* Bytes read at most; sshd-session is about 1 MB, 9.2's sshd 1.3 MB. */
#define NP_SSHD_PROGRAM_MAX (64u * 1024 * 1024)
/* The longest release string recognised, vendor suffix included. */
#define NP_OPENSSH_RELEASE_MAX 80
/* Room for the reason np_sshd_shows_info_at_once() gives. */
#define NP_SSHD_WHY_MAX (NP_OPENSSH_RELEASE_MAX + 640)

/*
 * The OpenSSH release strings found in a program: the first one (the first
 * portable one, once there is one), and whether others disagree.
 */
struct np_openssh_release {
	bool found;
	bool portable;          /* one of them ends in "pN", as every release with PAM does */
	bool conflict;          /* strings of two different MAJOR.MINOR releases */
	unsigned major, minor;
	char text[NP_OPENSSH_RELEASE_MAX + 1];
};

void np_openssh_release_init(struct np_openssh_release *r);

/*
 * Adds the release strings in bytes to r.  The compat table's patterns
 * ("OpenSSH_7.4*", "OpenSSH_2.*,OpenSSH_3.0*") are not release strings.
 * Returns how many leading bytes are done with: a string that the end of bytes
 * may cut off is left for the caller to pass again, followed by the next bytes
 * (at most NP_OPENSSH_RELEASE_MAX + 8 of them are left); with at_end, all are.
 */
size_t np_openssh_release_scan(struct np_openssh_release *r, const char *bytes, size_t len,
                               bool at_end);

/* Whether a release of this MAJOR.MINOR shows PAM_TEXT_INFO at once (10.3 and later). */
bool np_openssh_shows_info_at_once(unsigned major, unsigned minor);

/*
 * Reads the program at path (NP_SSHD_PROGRAM in the module), at most
 * NP_SSHD_PROGRAM_MAX bytes, and answers true only for one portable release
 * ("pN") of 10.3 or later and no disagreeing release string.  Anything else
 * (no release string, two releases, an unreadable or odd file) is false.
 * why says what was found, for the log, every value in it quoted (np_log_quote).
 */
bool np_sshd_shows_info_at_once(const char *path, char *why, size_t why_size);

/*
 * Whether the program at path is a portable OpenSSH (one release string "pN",
 * no other), as np_sshd_shows_info_at_once() reads it, of any release.  why
 * says what was found, quoted for the log.
 */
bool np_sshd_is_openssh(const char *path, char *why, size_t why_size);

#endif
