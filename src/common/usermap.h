/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The identity map: which NextPay identity may sign in as which local account.
 * Rules are "identity account" lines; an identity is a user id (usr_...,
 * compared exactly) or an e-mail address (compared without regard to ASCII
 * case).  Comparisons are of whole strings.
 */
#ifndef NP_USERMAP_H
#define NP_USERMAP_H

#include <stdbool.h>
#include <stddef.h>

struct np_config;

/* The largest identity map read, in bytes. */
#define NP_USERMAP_FILE_MAX (1024 * 1024)

struct np_usermap {
	char *text;      /* the file, rewritten in place into NUL-separated fields */
	size_t n_rules;
	struct np_usermap_rule {
		const char *identity;
		size_t identity_len;
		const char *account;
		bool is_email;
	} *rules;
};

/* Parses the text of a map (copied).  Returns 0, or -1 with err naming the line. */
int np_usermap_parse(struct np_usermap *map, const char *text, size_t len, const char *origin,
                     char *err, size_t err_size);

/* Reads and parses path; a missing file is an empty map when missing_ok. */
int np_usermap_load(struct np_usermap *map, const char *path, bool missing_ok, char *err,
                    size_t err_size);

void np_usermap_free(struct np_usermap *map);

/* The local account a sign-in is for. */
struct np_account {
	const char *name;
	/*
	 * A person's account (account.h: not root, not nobody, uid at least
	 * UID_MIN): the only kind an e-mail's local part may name.  false
	 * when unknown.
	 */
	bool personal;
};

/* Why the e-mail local part did not decide for a system account (a reason for the log). */
#define NP_USERMAP_NOT_PERSONAL "e-mail local part never names root or a system account"

/*
 * Whether the approved identity (user_id; email may be "" or NULL) may sign in
 * as account, by the map or, when cfg->map_email_localpart is set and the
 * account is a person's, by the e-mail's local part (lowercased, equal to the
 * account's name) in cfg->allowed_domains.  why gets a short reason ("user id
 * rule", "e-mail rule", "e-mail local part", "no rule", or
 * NP_USERMAP_NOT_PERSONAL when only the local part would have matched).
 */
bool np_usermap_allows(const struct np_usermap *map, const struct np_config *cfg,
                       const struct np_account *account, const char *user_id,
                       const char *email, const char **why);

#endif
