/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A test tool for tests/ctl/ctl_test.py: stores one approval cache entry the
 * way the module does (np_cache_open, np_scope_string, np_cache_store), so that
 * `nextpayctl cache list/purge` can be tested without a PAM sign-in.
 *
 *   ctl-cache-writer DIR KEY ACCOUNT session|user|key SERVICE TTY RHOST USER_ID TOKEN \
 *                    INVOKER_UID RUSER [CREATED_AGO TTL TOKEN_EXP_IN]
 *
 * In key scope, TTY is taken for the SSH key fingerprints (the tty is then "").
 * The entry was approved CREATED_AGO seconds ago (default 0) under a cache_ttl
 * of TTL (900), and its token expires TOKEN_EXP_IN seconds from now (negative:
 * it has expired; 0, the default: its expiry is unknown).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/cache.h"
#include "module/scope.h"

int main(int argc, char **argv)
{
	struct np_cache c;
	struct np_cache_meta meta;
	struct np_cache_payload payload;
	struct np_scope_parts parts;
	char scope[NP_CACHE_SCOPE_MAX];
	char err[512] = "";
	enum np_cache_scope kind;
	int64_t now = (int64_t)time(NULL);
	int64_t created_ago = 0, ttl = 900, token_exp_in = 0;
	int rc = 1;

	if (argc != 12 && argc != 15) {
		fprintf(stderr, "usage: %s DIR KEY ACCOUNT session|user|key SERVICE TTY RHOST USER_ID "
		        "TOKEN INVOKER_UID RUSER [CREATED_AGO TTL TOKEN_EXP_IN]\n", argv[0]);
		return 2;
	}
	if (argc == 15) {
		created_ago = strtoll(argv[12], NULL, 10);
		ttl = strtoll(argv[13], NULL, 10);
		token_exp_in = strtoll(argv[14], NULL, 10);
	}
	if (sodium_init() < 0)
		return 1;
	kind = strcmp(argv[4], "session") == 0 ? NP_SCOPE_SESSION
	       : strcmp(argv[4], "key") == 0   ? NP_SCOPE_KEY
	                                       : NP_SCOPE_USER;
	memset(&parts, 0, sizeof parts);
	parts.account = argv[3];
	parts.service = argv[5];
	parts.terminal = kind == NP_SCOPE_KEY ? "" : argv[6];
	parts.ssh_keys = kind == NP_SCOPE_KEY ? argv[6] : "";
	parts.rhost = argv[7];
	parts.invoker_uid = strtoul(argv[10], NULL, 10);
	parts.invoker_name = argv[11];
	parts.sid = 4242;
	parts.leader_start = 123456;
	memset(&meta, 0, sizeof meta);
	snprintf(meta.account, sizeof meta.account, "%s", argv[3]);
	meta.invoker_uid = (int64_t)parts.invoker_uid;
	snprintf(meta.invoker_name, sizeof meta.invoker_name, "%s", argv[11]);
	snprintf(meta.scope_kind, sizeof meta.scope_kind, "%s", np_scope_kind_name(kind));
	snprintf(meta.service, sizeof meta.service, "%s", argv[5]);
	snprintf(meta.tty, sizeof meta.tty, "%s", parts.terminal);
	snprintf(meta.ssh_key, sizeof meta.ssh_key, "%s", parts.ssh_keys);
	snprintf(meta.rhost, sizeof meta.rhost, "%s", argv[7]);
	snprintf(meta.user_id, sizeof meta.user_id, "%s", argv[8]);
	meta.created = now - created_ago;
	meta.expires = meta.created + ttl;
	meta.confirmed = meta.created;
	meta.token_exp = token_exp_in != 0 ? now + token_exp_in : 0;
	memset(&payload, 0, sizeof payload);
	snprintf(payload.token, sizeof payload.token, "%s", argv[9]);
	snprintf(payload.user_id, sizeof payload.user_id, "%s", argv[8]);
	payload.created = meta.created;
	payload.token_exp = meta.token_exp;
	if (np_scope_string(kind, &parts, scope, sizeof scope) != 0) {
		fprintf(stderr, "scope too long\n");
		return 1;
	}
	if (np_cache_open(&c, argv[1], argv[2], true, err, sizeof err) != NP_CACHE_OK) {
		fprintf(stderr, "open: %s\n", err);
		return 1;
	}
	if (np_cache_store(&c, scope, &meta, &payload, err, sizeof err) == NP_CACHE_OK)
		rc = 0;
	else
		fprintf(stderr, "store: %s\n", err);
	np_cache_close(&c);
	sodium_memzero(&payload, sizeof payload);
	return rc;
}
