/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The approval cache: a sign-in's token and identity, kept so that another
 * sign-in in the same scope shortly after need not go back to the browser.
 *
 * Each entry is one file in cache_dir (0700, owned by the effective user),
 * named by a keyed hash of its scope so names reveal no account.  Its content
 * is sealed with XChaCha20-Poly1305 under subkeys of the 32-byte cache key:
 *
 *   "NPCACHE" version(1)                      8 bytes, also associated data
 *   meta nonce (24) | meta length (4, BE) | meta box   (AD: the header)
 *   payload nonce (24) | payload box   (AD: header || BLAKE2b(all before) || scope)
 *
 * The meta box (account, invoking user, scope kind, service, tty, rhost, user
 * id, times, the token's expiry) is what `nextpayctl cache list` shows and
 * what a sweep judges by; the payload box holds the token and is bound to the
 * meta box and to the scope string, so an entry copied to another account's,
 * another invoking user's or another session's place does not decrypt.
 * Anything unexpected, an entry of another format version included, is
 * treated as no entry: never as success.
 */
#ifndef NP_CACHE_H
#define NP_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/ssh_key.h"
#include "common/validate.h"

#define NP_CACHE_KEY_BYTES 32
#define NP_CACHE_FILE_MAX 32768
#define NP_CACHE_SCOPE_MAX 1024
/*
 * 4: the meta box holds the fingerprints of sshd's public keys (ssh_key) and
 * when NextPay last confirmed the approval (confirmed, for offline_grace).
 * 3: the meta box holds the token's expiry, so that a sweep can tell a stale
 * entry without its scope.  2: entries are bound to the invoking user.  An
 * entry of any other version is never used.
 */
#define NP_CACHE_VERSION 4

struct np_cache_meta {
	char account[257];
	int64_t invoker_uid;      /* real uid of the process that asked */
	char invoker_name[257];   /* PAM_RUSER, or "" */
	char scope_kind[16]; /* "session", "user" or "key" */
	char service[64];
	char tty[128];
	char rhost[256];
	char user_id[NP_USER_ID_MAX + 1];
	int64_t created;     /* Unix time of the approval */
	int64_t expires;     /* created + the cache_ttl in force when stored */
	int64_t token_exp;   /* the token's exp claim, 0 when unknown */
	/* The fingerprints of the public keys sshd said the connection proved, or "". */
	char ssh_key[NP_SSH_KEYS_TEXT_MAX + 1];
	int64_t confirmed;   /* Unix time NextPay last confirmed it online (approval or /auth/me) */
};

struct np_cache_payload {
	char token[NP_TOKEN_MAX + 1];
	char user_id[NP_USER_ID_MAX + 1];
	char email[NP_EMAIL_MAX + 1];
	int64_t created;
	int64_t token_exp;   /* 0 when unknown */
};

/* Derived keys, in sodium_malloc'd (locked, guarded) memory. */
struct np_cache_keys {
	unsigned char *meta;
	unsigned char *payload;
	unsigned char *name;
};

/* ---- sealing: pure functions over bytes (unit-tested, fuzzed) ---- */

/* Derives the three subkeys from the 32-byte master key.  0 or -1. */
int np_cache_keys_derive(struct np_cache_keys *keys, const unsigned char *master);
void np_cache_keys_free(struct np_cache_keys *keys);

/* The entry's file name for scope: 64 hex digits plus ".entry". */
void np_cache_file_name(const struct np_cache_keys *keys, const char *scope, char *out,
                        size_t out_size);

/* Seals meta and payload into out.  Returns 0, or -1 if it does not fit. */
int np_cache_seal(const struct np_cache_keys *keys, const char *scope,
                  const struct np_cache_meta *meta, const struct np_cache_payload *payload,
                  unsigned char *out, size_t out_size, size_t *out_len);

/* Opens only the meta box (no scope needed).  0, or -1 with why. */
int np_cache_open_meta(const struct np_cache_keys *keys, const unsigned char *data, size_t len,
                       struct np_cache_meta *meta, const char **why);

/* Opens the payload for scope.  0, or -1 with why (wrong scope, tampered, ...). */
int np_cache_open_payload(const struct np_cache_keys *keys, const char *scope,
                          const unsigned char *data, size_t len,
                          struct np_cache_payload *payload, const char **why);

/* ---- the store on disk ---- */

enum np_cache_status {
	NP_CACHE_OK = 0,
	NP_CACHE_MISS,         /* no usable entry (a bad one has been removed) */
	NP_CACHE_UNAVAILABLE,  /* no key we may read: carry on without a cache */
	NP_CACHE_ERROR,        /* unsafe directory or key file, I/O error: logged, no cache */
};

struct np_cache {
	int dir_fd;
	struct np_cache_keys keys;
};

/*
 * Opens cache_dir (created 0700 if missing and create_dir) and reads the key.
 * Directory must be owned by the effective user with no group/other access;
 * the key file owned by root or the effective user, 0600, exactly 32 bytes.
 * A key the process may not read (EACCES) or that does not exist gives
 * NP_CACHE_UNAVAILABLE.  err says why for anything but NP_CACHE_OK.
 */
enum np_cache_status np_cache_open(struct np_cache *c, const char *dir, const char *key_path,
                                   bool create_dir, char *err, size_t err_size);
void np_cache_close(struct np_cache *c);

/* Opens only the directory (no key): enough to purge every entry. */
enum np_cache_status np_cache_open_dir(struct np_cache *c, const char *dir, char *err,
                                       size_t err_size);

/*
 * Finds the entry for scope that is younger than ttl seconds and whose token
 * has not passed its exp.  A stale, undecryptable, oversized or otherwise odd
 * entry is removed (err says why) and reported as NP_CACHE_MISS.  meta, when
 * not NULL, gets the entry's meta box too.
 */
enum np_cache_status np_cache_load(struct np_cache *c, const char *scope, unsigned ttl,
                                   int64_t now, struct np_cache_meta *meta,
                                   struct np_cache_payload *payload, char *err,
                                   size_t err_size);

/* Writes (atomically: temp file, fsync, rename, fsync dir) the entry for scope. */
enum np_cache_status np_cache_store(struct np_cache *c, const char *scope,
                                    const struct np_cache_meta *meta,
                                    const struct np_cache_payload *payload, char *err,
                                    size_t err_size);

/* Removes the entry for scope, if any. */
void np_cache_remove(struct np_cache *c, const char *scope);

/*
 * Calls visit for every entry whose meta box opens (file name and meta), and
 * counts the others in *unreadable.  Returns 0 or -1.
 */
int np_cache_list(struct np_cache *c,
                  void (*visit)(const char *file, const struct np_cache_meta *meta, void *arg),
                  void *arg, unsigned *unreadable);

/*
 * Removes every entry (account NULL) or those of account; with account set,
 * entries whose meta does not open are left alone.  Returns how many were
 * removed, or -1.
 */
int np_cache_purge(struct np_cache *c, const char *account);

/* ---- sweeping: stale and unreadable entries of any scope ---- */

/* An entry a sweep removed (or could not), as it may be shown and logged: no secret. */
struct np_cache_swept {
	char file[32];        /* "0123456789abcdef..." (an entry), or the whole .tmp- name */
	const char *why;      /* a fixed phrase */
	int unlink_errno;     /* 0: removed */
};

struct np_cache_sweep {
	/* In */
	int64_t now;
	unsigned limit;           /* entries to examine at most, picked at random; 0: every one */
	const char *keep_scope;   /* the entry of this scope is left alone (NULL: none) */
	void (*swept)(const struct np_cache_swept *entry, void *arg);
	void *arg;
	/* Out */
	unsigned examined;
	unsigned removed;
	unsigned failed;          /* could not be removed */
};

/*
 * Removes, of the entry files (64 hex digits and ".entry") and the .tmp-
 * files of unfinished writes, those that can no longer serve anybody: an
 * entry whose meta box says its cache_ttl (the one it was stored with) has
 * passed or its token has expired, or that cannot be read (not a regular
 * file of ours with no group or other access, a symbolic link, another
 * format version, does not decrypt, malformed); a .tmp- file of ours older
 * than a minute.  Nothing else is touched, no link is followed, nothing but
 * a regular file is opened.  Calls swept for each one removed or not
 * removable.  Needs the key (np_cache_open).  0, or -1 if the directory
 * cannot be read.
 */
int np_cache_sweep(struct np_cache *c, struct np_cache_sweep *sweep);

#endif
