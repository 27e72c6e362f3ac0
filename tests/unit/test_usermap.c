/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of src/common/usermap.c: parsing the identity map and deciding who may sign in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/config.h"
#include "common/usermap.h"
#include "unit_tmp.h"

static char err[1024];

static int parse(struct np_usermap *map, const char *text)
{
	err[0] = '\0';
	return np_usermap_parse(map, text, strlen(text), "users", err, sizeof err);
}

static void assert_err_has(const char *what)
{
	if (strstr(err, what) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, what);
}

/* Whether (user_id, email) may sign in as the account, checking the reason given. */
static bool allows_account(const struct np_usermap *map, const struct np_config *cfg,
                           const char *account, bool personal, const char *user_id,
                           const char *email, const char *expect_why)
{
	const struct np_account target = { account, personal };
	const char *why = NULL;
	bool ok = np_usermap_allows(map, cfg, &target, user_id, email, &why);

	assert_non_null(why);
	if (expect_why != NULL && strcmp(why, expect_why) != 0)
		fail_msg("why \"%s\", expected \"%s\"", why, expect_why);
	return ok;
}

/* The same for a person's account (uid at least UID_MIN, not root or nobody). */
static bool allows(const struct np_usermap *map, const struct np_config *cfg,
                   const char *account, const char *user_id, const char *email,
                   const char *expect_why)
{
	return allows_account(map, cfg, account, true, user_id, email, expect_why);
}

static const char sample_map[] =
	"# NextPay identity            local account\n"
	"\n"
	"usr_abc123                    don\n"
	"   don@nextfinancial.io\t\tdon   # trailing comment\n"
	"\tusr_Root-9\troot\r\n"
	"Ops.Team@Example.COM ops\n"
	"usr_shared alice\n"
	"usr_shared bob\n"
	"   \t   \n"
	"# the end";

static void test_parse_sample(void **state)
{
	struct np_usermap map;

	(void)state;
	assert_int_equal(parse(&map, sample_map), 0);
	assert_int_equal(map.n_rules, 6);
	assert_string_equal(map.rules[0].identity, "usr_abc123");
	assert_int_equal(map.rules[0].identity_len, strlen("usr_abc123"));
	assert_string_equal(map.rules[0].account, "don");
	assert_false(map.rules[0].is_email);
	assert_string_equal(map.rules[1].identity, "don@nextfinancial.io");
	assert_string_equal(map.rules[1].account, "don");
	assert_true(map.rules[1].is_email);
	assert_string_equal(map.rules[2].identity, "usr_Root-9");
	assert_string_equal(map.rules[2].account, "root");
	assert_string_equal(map.rules[3].identity, "Ops.Team@Example.COM");
	assert_true(map.rules[3].is_email);
	assert_string_equal(map.rules[5].account, "bob");
	np_usermap_free(&map);
	assert_null(map.text);
	assert_null(map.rules);
	assert_int_equal(map.n_rules, 0);
}

static void test_parse_empty(void **state)
{
	struct np_usermap map;

	(void)state;
	assert_int_equal(parse(&map, ""), 0);
	assert_int_equal(map.n_rules, 0);
	np_usermap_free(&map);
	assert_int_equal(parse(&map, "# nothing\n\n#\n"), 0);
	assert_int_equal(map.n_rules, 0);
	np_usermap_free(&map);
}

static void test_id_rules_exact(void **state)
{
	struct np_usermap map;
	struct np_config cfg;

	(void)state;
	np_config_defaults(&cfg);
	assert_int_equal(parse(&map, sample_map), 0);
	assert_true(allows(&map, &cfg, "don", "usr_abc123", NULL, "user id rule"));
	assert_true(allows(&map, &cfg, "don", "usr_abc123", "", "user id rule"));
	assert_true(allows(&map, &cfg, "root", "usr_Root-9", "x@y.z", "user id rule"));
	/* Case, prefixes and suffixes of an id do not match. */
	assert_false(allows(&map, &cfg, "don", "USR_ABC123", NULL, "no rule"));
	assert_false(allows(&map, &cfg, "don", "usr_abc12", NULL, "no rule"));
	assert_false(allows(&map, &cfg, "don", "usr_abc1234", NULL, "no rule"));
	assert_false(allows(&map, &cfg, "don", "xusr_abc123", NULL, "no rule"));
	assert_false(allows(&map, &cfg, "root", "usr_root-9", NULL, "no rule"));
	/* The account is compared exactly too. */
	assert_false(allows(&map, &cfg, "Don", "usr_abc123", NULL, "no rule"));
	assert_false(allows(&map, &cfg, "do", "usr_abc123", NULL, "no rule"));
	assert_false(allows(&map, &cfg, "don ", "usr_abc123", NULL, "no rule"));
	/* One identity may be mapped to several accounts, each by its own rule. */
	assert_true(allows(&map, &cfg, "alice", "usr_shared", NULL, "user id rule"));
	assert_true(allows(&map, &cfg, "bob", "usr_shared", NULL, "user id rule"));
	np_usermap_free(&map);
}

static void test_other_account_refused(void **state)
{
	struct np_usermap map;
	struct np_config cfg;

	(void)state;
	np_config_defaults(&cfg);
	assert_int_equal(parse(&map, sample_map), 0);
	/* don's identities are mapped, but not to root. */
	assert_false(allows(&map, &cfg, "root", "usr_abc123", "don@nextfinancial.io", "no rule"));
	assert_false(allows(&map, &cfg, "alice", "usr_abc123", NULL, "no rule"));
	assert_false(allows(&map, &cfg, "ops", "usr_abc123", "don@nextfinancial.io", "no rule"));
	assert_false(allows(&map, &cfg, "carol", "usr_shared", NULL, "no rule"));
	assert_false(allows(&map, &cfg, "nobody", "usr_nobody", NULL, "no rule"));
	np_usermap_free(&map);
}

static void test_email_rules(void **state)
{
	struct np_usermap map;
	struct np_config cfg;

	(void)state;
	np_config_defaults(&cfg);
	assert_int_equal(parse(&map, sample_map), 0);
	assert_true(allows(&map, &cfg, "don", "usr_other", "don@nextfinancial.io", "e-mail rule"));
	assert_true(allows(&map, &cfg, "don", "usr_other", "DON@NextFinancial.IO", "e-mail rule"));
	assert_true(allows(&map, &cfg, "ops", "usr_x", "ops.team@example.com", "e-mail rule"));
	/* Whole addresses only. */
	assert_false(allows(&map, &cfg, "don", "usr_other", "don@nextfinancial.io.evil", NULL));
	assert_false(allows(&map, &cfg, "don", "usr_other", "xdon@nextfinancial.io", NULL));
	assert_false(allows(&map, &cfg, "don", "usr_other", "don@nextfinancial.i", NULL));
	assert_false(allows(&map, &cfg, "don", "usr_other", "on@nextfinancial.io", NULL));
	assert_false(allows(&map, &cfg, "don", "usr_other", "don@nextfinancial.io ", NULL));
	/* Only ASCII case folds: '@'/'`' and non-ASCII letters differ. */
	assert_false(allows(&map, &cfg, "ops", "usr_x", "ops.team@example.c\xc3\x96m", NULL));
	np_usermap_free(&map);
	assert_int_equal(parse(&map, "ops[1]@example.com ops\n"), 0);
	assert_true(allows(&map, &cfg, "ops", "usr_x", "OPS[1]@example.com", "e-mail rule"));
	assert_false(allows(&map, &cfg, "ops", "usr_x", "ops{1}@example.com", "no rule"));
	np_usermap_free(&map);
	assert_int_equal(parse(&map, sample_map), 0);
	/* A usable user id is still required. */
	assert_false(allows(&map, &cfg, "don", "", "don@nextfinancial.io", "no rule"));
	assert_false(allows(&map, &cfg, "don", NULL, "don@nextfinancial.io", "no rule"));
	assert_false(allows(&map, &cfg, "don", "usr bad", "don@nextfinancial.io", "no rule"));
	assert_false(allows(&map, &cfg, NULL, "usr_abc123", "don@nextfinancial.io", "no rule"));
	np_usermap_free(&map);
}

static void test_email_with_control_chars(void **state)
{
	struct np_usermap map;
	struct np_config cfg;

	(void)state;
	np_config_defaults(&cfg);
	assert_int_equal(parse(&map, "don@x.io don\n"), 0);
	assert_true(allows(&map, &cfg, "don", "usr_1", "don@x.io", "e-mail rule"));
	assert_false(allows(&map, &cfg, "don", "usr_1", "don@x.io\n", "no rule"));
	assert_false(allows(&map, &cfg, "don", "usr_1", "\ndon@x.io", "no rule"));
	assert_false(allows(&map, &cfg, "don", "usr_1", "don@x.io\r", "no rule"));
	assert_false(allows(&map, &cfg, "don", "usr_1", "don@\x1bx.io", "no rule"));
	/* A NUL cuts the C string: what is left must not match either. */
	assert_false(allows(&map, &cfg, "don", "usr_1", "don\0@x.io", "no rule"));
	assert_false(allows(&map, &cfg, "don", "usr_1", "\0don@x.io", "no rule"));
	assert_false(allows(&map, &cfg, "don", "usr_1", "don@\0x.io", "no rule"));
	np_usermap_free(&map);
}

static void test_bad_lines(void **state)
{
	static const char *const bad[] = {
		"usr_abc123\n",                 /* one field */
		"usr_abc123 don extra\n",       /* three fields */
		"usr_abc123 don don\n",
		"usr_abc123 -don\n",            /* bad account names */
		"usr_abc123 don:x\n",
		"usr_abc123 d/on\n",
		"usr_abc123 don#x\n",
		"usr_abc123 d\xc3\xb6n\n",
		"don don\n",                    /* an id must start usr_ */
		"usr-abc don\n",
		"usr_ don\n",
		"usr/abc don\n",                /* identities of neither shape */
		"usr_abc! don\n",
		"usr_\xc3\xa9 don\n",
		"@x.io don\n",
		"don@ don\n",
		"a@b@c don\n",
		"don@@x.io don\n",
		"don@x.io\x7f don\n",
		"usr_abc123\x0b don\n",         /* a control character */
		"usr_abc123 don\x1b[0m\n",
	};
	struct np_usermap map;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[256];

		snprintf(text, sizeof text, "# ok\nusr_good good\n\n%s", bad[i]);
		if (parse(&map, text) != -1)
			fail_msg("line %zu accepted: %s", i, bad[i]);
		assert_err_has("users:4");
		assert_null(map.rules);
		assert_null(map.text);
		assert_int_equal(map.n_rules, 0);
	}
	assert_int_equal(parse(&map, "usr_abc123 don extra\n"), -1);
	assert_err_has("users:1: expected");
	assert_int_equal(parse(&map, "usr_abc123 don\x01\n"), -1);
	assert_err_has("users:1: control character");
	/* An account of 256 characters is accepted, 257 is not. */
	{
		char text[600];
		size_t n = (size_t)snprintf(text, sizeof text, "usr_a ");

		memset(text + n, 'a', 256);
		text[n + 256] = '\0';
		assert_int_equal(parse(&map, text), 0);
		np_usermap_free(&map);
		text[n + 256] = 'a';
		text[n + 257] = '\0';
		assert_int_equal(parse(&map, text), -1);
	}
}

static void test_nul_byte(void **state)
{
	static const char text[] = "usr_abc123 don\0\nusr_evil root\n";
	struct np_usermap map;

	(void)state;
	assert_int_equal(np_usermap_parse(&map, text, sizeof text - 1, "users", err, sizeof err),
	                 -1);
	assert_err_has("users");
	assert_err_has("NUL");
	assert_null(map.rules);
}

static void test_localpart(void **state)
{
	struct np_usermap map;
	struct np_config cfg;

	(void)state;
	assert_int_equal(parse(&map, "usr_abc123 don\n"), 0);
	np_config_defaults(&cfg);
	/* Off by default. */
	assert_false(allows(&map, &cfg, "carol", "usr_c", "carol@corp.example", "no rule"));

	cfg.map_email_localpart = true;
	snprintf(cfg.allowed_domains, sizeof cfg.allowed_domains, "corp.example,Other.ORG");
	assert_true(allows(&map, &cfg, "carol", "usr_c", "carol@corp.example", "e-mail local part"));
	assert_true(allows(&map, &cfg, "carol", "usr_c", "carol@CORP.Example", "e-mail local part"));
	assert_true(allows(&map, &cfg, "dave", "usr_d", "dave@other.org", "e-mail local part"));
	/* The map still wins with its own reason. */
	assert_true(allows(&map, &cfg, "don", "usr_abc123", "x@corp.example", "user id rule"));
	/* The local part, lowercased, must equal the account exactly. */
	assert_true(allows(&map, &cfg, "carol", "usr_c", "Carol@corp.example", "e-mail local part"));
	assert_false(allows(&map, &cfg, "Carol", "usr_c", "carol@corp.example", "no rule"));
	assert_false(allows(&map, &cfg, "Carol", "usr_c", "Carol@corp.example", "no rule"));
	assert_false(allows(&map, &cfg, "carol", "usr_c", "dave@corp.example", "no rule"));
	assert_false(allows(&map, &cfg, "carol", "usr_c", "carol2@corp.example", "no rule"));
	assert_false(allows(&map, &cfg, "carol", "usr_c", "caro@corp.example", "no rule"));
	assert_false(allows(&map, &cfg, "root", "usr_c", "carol@corp.example", "no rule"));
	/* The domain must be in the list, whole. */
	assert_false(allows(&map, &cfg, "carol", "usr_c", "carol@evil.example", "no rule"));
	assert_false(allows(&map, &cfg, "carol", "usr_c", "carol@corp.example.evil", "no rule"));
	assert_false(allows(&map, &cfg, "carol", "usr_c", "carol@sub.corp.example", "no rule"));
	assert_false(allows(&map, &cfg, "carol", "usr_c", "carol@corp", "no rule"));
	assert_false(allows(&map, &cfg, "carol", "usr_c", "carol@corp.example,other.org", "no rule"));
	/* Malformed addresses. */
	assert_false(allows(&map, &cfg, "a", "usr_c", "a@b@corp.example", "no rule"));
	assert_false(allows(&map, &cfg, "a", "usr_c", "a@corp.example@corp.example", "no rule"));
	assert_false(allows(&map, &cfg, "carol", "usr_c", "carol", "no rule"));
	assert_false(allows(&map, &cfg, "carol", "usr_c", "carol@", "no rule"));
	assert_false(allows(&map, &cfg, "carol", "usr_c", "carol@corp.example\n", "no rule"));
	assert_false(allows(&map, &cfg, "-carol", "usr_c", "-carol@corp.example", "no rule"));
	assert_false(allows(&map, &cfg, "carol+x", "usr_c", "carol+x@corp.example", "no rule"));
	/* And a user id is still required. */
	assert_false(allows(&map, &cfg, "carol", "", "carol@corp.example", "no rule"));

	/* An empty domain list allows nothing. */
	cfg.allowed_domains[0] = '\0';
	assert_false(allows(&map, &cfg, "carol", "usr_c", "carol@corp.example", "no rule"));
	np_usermap_free(&map);
}

/*
 * "Root@Example.com" must never become root, nor "Daemon@" daemon: the local
 * part reaches people's accounts only.  An explicit map line still may.
 */
static void test_localpart_never_names_a_system_account(void **state)
{
	struct np_usermap map;
	struct np_config cfg;

	(void)state;
	assert_int_equal(parse(&map, "usr_ops root\nOps@example.com daemon\n"), 0);
	np_config_defaults(&cfg);
	cfg.map_email_localpart = true;
	snprintf(cfg.allowed_domains, sizeof cfg.allowed_domains, "example.com");
	assert_false(allows_account(&map, &cfg, "root", false, "usr_x", "Root@Example.com",
	                            NP_USERMAP_NOT_PERSONAL));
	assert_false(allows_account(&map, &cfg, "daemon", false, "usr_x", "daemon@example.com",
	                            NP_USERMAP_NOT_PERSONAL));
	/* The same address as a person's account is fine. */
	assert_true(allows_account(&map, &cfg, "daemon", true, "usr_x", "daemon@example.com",
	                           "e-mail local part"));
	/* When the local part would not match anyway, the reason stays "no rule". */
	assert_false(allows_account(&map, &cfg, "root", false, "usr_x", "carol@example.com",
	                            "no rule"));
	assert_false(allows_account(&map, &cfg, "root", false, "usr_x", "root@other.example",
	                            "no rule"));
	/* Explicit lines decide for any account. */
	assert_true(allows_account(&map, &cfg, "root", false, "usr_ops", NULL, "user id rule"));
	assert_true(allows_account(&map, &cfg, "daemon", false, "usr_x", "OPS@example.com",
	                           "e-mail rule"));
	np_usermap_free(&map);
}

static void test_load(void **state)
{
	struct np_usermap map;
	struct np_config cfg;
	char path[1024];

	(void)state;
	np_config_defaults(&cfg);
	assert_int_equal(unit_write_file(unit_dir, "users", sample_map, strlen(sample_map), 0644,
	                                 path, sizeof path),
	                 0);
	assert_int_equal(np_usermap_load(&map, path, false, err, sizeof err), 0);
	assert_int_equal(map.n_rules, 6);
	assert_true(allows(&map, &cfg, "don", "usr_abc123", NULL, "user id rule"));
	np_usermap_free(&map);

	/* Errors name the file. */
	assert_int_equal(unit_write_file(unit_dir, "bad-users", "usr_a\n", 6, 0644, path,
	                                 sizeof path),
	                 0);
	assert_int_equal(np_usermap_load(&map, path, true, err, sizeof err), -1);
	assert_err_has("bad-users:1");
	assert_null(map.rules);

	/* An unsafe file is refused even when a missing one would do. */
	assert_int_equal(unit_write_file(unit_dir, "open-users", "usr_a root\n", 11, 0666, path,
	                                 sizeof path),
	                 0);
	assert_int_equal(np_usermap_load(&map, path, true, err, sizeof err), -1);
	assert_err_has("writable");
}

static void test_load_missing(void **state)
{
	struct np_usermap map;
	struct np_config cfg;
	char path[1024];

	(void)state;
	np_config_defaults(&cfg);
	snprintf(path, sizeof path, "%s/no-such-users", unit_dir);
	assert_int_equal(np_usermap_load(&map, path, true, err, sizeof err), 0);
	assert_int_equal(map.n_rules, 0);
	assert_false(allows(&map, &cfg, "don", "usr_abc123", "don@x.io", "no rule"));
	np_usermap_free(&map);

	err[0] = '\0';
	assert_int_equal(np_usermap_load(&map, path, false, err, sizeof err), -1);
	assert_err_has("no-such-users");
	assert_err_has("does not exist");
	assert_int_equal(map.n_rules, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_sample),
		cmocka_unit_test(test_parse_empty),
		cmocka_unit_test(test_id_rules_exact),
		cmocka_unit_test(test_other_account_refused),
		cmocka_unit_test(test_email_rules),
		cmocka_unit_test(test_email_with_control_chars),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_localpart),
		cmocka_unit_test(test_localpart_never_names_a_system_account),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_load_missing),
	};

	return cmocka_run_group_tests_name("usermap", tests, unit_group_setup, unit_group_teardown);
}
