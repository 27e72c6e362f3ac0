/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The public keys an sshd connection has already proved, from the text
 * OpenSSH (7.8 and later) puts into the PAM environment as SSH_AUTH_INFO_0:
 * one line per completed authentication method, "publickey TYPE BASE64\n"
 * after a public key.  Each key becomes its SHA256 fingerprint written as
 * ssh-keygen -l writes it ("SHA256:" and unpadded base64), so that an
 * approval can be bound to the key (cache_scope = key) and the log names it.
 *
 * The text is hostile bytes: it is bounded, and parsed strictly.  Anything
 * odd anywhere in it (a control character, an empty or over-long line, a
 * publickey line that is not exactly three words, a blob that is not base64
 * or does not start with its own key type, too many keys) means no key at
 * all, never a guess (a FIDO security key's line, which ends with sshd's
 * "signature count = N", is such a line).  After a certificate the blob is
 * the certificate, whose own fingerprint is taken.  Lines of other methods
 * ("keyboard-interactive/pam", "password") are allowed and carry no key; a
 * hostbased key proves the client host, not the person, and counts for
 * nothing.
 */
#ifndef NP_SSH_KEY_H
#define NP_SSH_KEY_H

#include <stddef.h>

/* Where sshd puts the completed methods, in the PAM environment. */
#define NP_SSH_AUTH_INFO "SSH_AUTH_INFO_0"
/* Longer text is not read: eight public keys of the largest kind fit easily. */
#define NP_SSH_AUTH_INFO_MAX 32768
/* A decoded key blob: an RSA key of 16384 bits (OpenSSH's limit) is about 2 KiB. */
#define NP_SSH_KEY_BLOB_MAX 4096
/* Keys bound at most (AuthenticationMethods publickey,publickey,...). */
#define NP_SSH_KEYS_MAX 4
/* "SHA256:" and 43 characters of unpadded base64. */
#define NP_SSH_FINGERPRINT_LEN 50
/* Every key's fingerprint, in the order sshd completed them, joined by ','. */
#define NP_SSH_KEYS_TEXT_MAX (NP_SSH_KEYS_MAX * (NP_SSH_FINGERPRINT_LEN + 1))

/*
 * The fingerprints of the public keys in info (SSH_AUTH_INFO_0's value),
 * joined by ',' into out (NP_SSH_KEYS_TEXT_MAX + 1 bytes at least).
 * Returns how many (0: no publickey line), or -1 with why (a short reason of
 * ours, for a debug line) when the text is odd; out is then "".
 */
int np_ssh_auth_info_keys(const char *info, char *out, size_t out_size, const char **why);

/* The SHA256 fingerprint of a key blob, as ssh-keygen -l writes it.  0, or -1. */
int np_ssh_key_fingerprint(const unsigned char *blob, size_t len, char *out, size_t out_size);

#endif
