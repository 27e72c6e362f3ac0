/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer: the identity map.  np_usermap_parse over the input, then
 * np_usermap_allows for fixed identities, for identities taken from the
 * input's first line, and for every rule the map holds: a rule that parsed
 * must grant exactly what it says (its identity, its account), no less.
 */
#include <ctype.h>

#include "common/config.h"
#include "fuzz_common.h"
#include "common/usermap.h"
#include "common/validate.h"

static struct np_config plain_cfg, localpart_cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	np_config_defaults(&plain_cfg);
	np_config_defaults(&localpart_cfg);
	localpart_cfg.map_email_localpart = true;
	snprintf(localpart_cfg.allowed_domains, sizeof localpart_cfg.allowed_domains,
	         "nextfinancial.io,Example.COM,a");
	return 0;
}

static void ask(const struct np_usermap *map, const char *account, const char *user_id,
                const char *email)
{
	const struct np_account person = { account, true }, system = { account, false };
	const char *why = NULL;
	bool plain = np_usermap_allows(map, &plain_cfg, &person, user_id, email, &why);
	bool local, local_system;

	FUZZ_CHECK(why != NULL, "no reason");
	local = np_usermap_allows(map, &localpart_cfg, &person, user_id, email, &why);
	FUZZ_CHECK(why != NULL, "no reason");
	/* Turning map_email_localpart on only ever adds permissions. */
	FUZZ_CHECK(!plain || local, "localpart setting took a permission away");
	if (user_id == NULL || user_id[0] == '\0' || account == NULL)
		FUZZ_CHECK(!plain && !local, "allowed without a user id or account");
	/* For root or a system account only the map's own lines decide. */
	FUZZ_CHECK(np_usermap_allows(map, &plain_cfg, &system, user_id, email, &why) == plain,
	           "a system account changed what the map allows");
	local_system = np_usermap_allows(map, &localpart_cfg, &system, user_id, email, &why);
	FUZZ_CHECK(why != NULL, "no reason");
	FUZZ_CHECK(local_system == plain, "the e-mail local part named a system account (%s)",
	           why);
}

/* The first three words of the input's first line, as account, user id and e-mail. */
static void ask_from_input(const struct np_usermap *map, const char *text)
{
	char words[3][300];
	int n = 0;
	const char *p = text;

	memset(words, 0, sizeof words);
	while (n < 3 && *p != '\0' && *p != '\n') {
		size_t len = 0;

		while (*p == ' ' || *p == '\t')
			p++;
		while (*p != '\0' && *p != '\n' && *p != ' ' && *p != '\t') {
			if (len < sizeof words[n] - 1)
				words[n][len++] = *p;
			p++;
		}
		if (len > 0)
			n++;
	}
	ask(map, words[0], words[1], words[2]);
	ask(map, words[0], words[1], NULL);
	ask(map, words[1], words[0], words[2]);
}

static void check_rules(const struct np_usermap *map)
{
	for (size_t i = 0; i < map->n_rules && i < 64; i++) {
		const struct np_usermap_rule *rule = &map->rules[i];
		char upper[NP_EMAIL_MAX + 1];
		/* Whatever the account is, its explicit lines hold. */
		const struct np_account account = { rule->account, false };
		const char *why = NULL;
		bool ok;

		FUZZ_CHECK(strlen(rule->identity) == rule->identity_len, "identity length");
		if (!rule->is_email) {
			ok = np_usermap_allows(map, &plain_cfg, &account, rule->identity, NULL, &why);
			FUZZ_CHECK(ok, "user id rule %zu (%s -> %s) does not allow itself", i,
			           rule->identity, rule->account);
			continue;
		}
		ok = np_usermap_allows(map, &plain_cfg, &account, "usr_fuzz", rule->identity, &why);
		FUZZ_CHECK(ok, "e-mail rule %zu (%s -> %s) does not allow itself", i, rule->identity,
		           rule->account);
		/* E-mail rules ignore ASCII case. */
		FUZZ_CHECK(rule->identity_len < sizeof upper, "e-mail rule too long");
		for (size_t j = 0; j <= rule->identity_len; j++)
			upper[j] = (char)toupper((unsigned char)rule->identity[j]);
		ok = np_usermap_allows(map, &plain_cfg, &account, "usr_fuzz", upper, &why);
		FUZZ_CHECK(ok, "e-mail rule %zu does not allow %s", i, upper);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct np_usermap map;
	char err[256] = "";
	char *text = fuzz_cstr(data, size);

	if (np_usermap_parse(&map, text, size, "/etc/security/fuzz.users", err, sizeof err) != 0) {
		FUZZ_CHECK(err[0] != '\0' && fuzz_terminated(err, sizeof err), "no reason given");
		FUZZ_CHECK(map.text == NULL && map.rules == NULL && map.n_rules == 0,
		           "refused map not released");
		free(text);
		return 0;
	}
	ask(&map, "don", "usr_abc123", "don@nextfinancial.io");
	ask(&map, "don", "usr_abc123", "DON@NEXTFINANCIAL.IO");
	ask(&map, "root", "usr_x", "root@example.com");
	ask(&map, "don", "usr_abc123", "");
	ask(&map, "don", "", "don@nextfinancial.io");
	ask(&map, "", "usr_abc123", "@a");
	ask_from_input(&map, text);
	check_rules(&map);
	np_usermap_free(&map);
	free(text);
	return 0;
}
