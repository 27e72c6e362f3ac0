/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of src/common/account.c: UID_MIN from login.defs, and which uids are
 * people's (the only accounts an e-mail's local part may name).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/account.h"
#include "unit_tmp.h"

static unsigned long parse(const char *text)
{
	return np_uid_min_parse(text, strlen(text));
}

static void test_parse_debian(void **state)
{
	(void)state;
	/* As Debian 12 ships it: comments, other keys, blanks and tabs. */
	assert_int_equal(parse("# Min/max values for automatic uid selection in useradd\n"
	                       "#\n"
	                       "UID_MIN\t\t\t 1000\n"
	                       "UID_MAX\t\t\t60000\n"
	                       "# System accounts\n"
	                       "#SYS_UID_MIN\t\t  100\n"),
	                 1000);
	assert_int_equal(parse("UID_MIN 500\n"), 500);
	assert_int_equal(parse("  UID_MIN   2000  \r\n"), 2000);
	assert_int_equal(parse("UID_MIN \"1500\"\n"), 1500);
	/* useradd reads numbers with base 0: hex, and a leading 0 as octal. */
	assert_int_equal(parse("UID_MIN 0x3e8\n"), 1000);
	assert_int_equal(parse("UID_MIN 0100\n"), 64);
	/* The last line wins, as in useradd. */
	assert_int_equal(parse("UID_MIN 500\nUID_MIN 3000\n"), 3000);
	assert_int_equal(parse("UID_MIN 3000\nUID_MIN 500"), 500);
}

static void test_parse_default(void **state)
{
	(void)state;
	assert_int_equal(parse(""), NP_UID_MIN_DEFAULT);
	assert_int_equal(parse("# nothing here\n"), NP_UID_MIN_DEFAULT);
	assert_int_equal(parse("#UID_MIN 10\n"), NP_UID_MIN_DEFAULT);
	/* Other keys that start the same are not UID_MIN. */
	assert_int_equal(parse("UID_MINIMUM 10\nSYS_UID_MIN 10\nUID_MAX 10\n"),
	                 NP_UID_MIN_DEFAULT);
	/* Malformed values mean the default, never something lower. */
	assert_int_equal(parse("UID_MIN abc\n"), NP_UID_MIN_DEFAULT);
	assert_int_equal(parse("UID_MIN 10abc\n"), NP_UID_MIN_DEFAULT);
	assert_int_equal(parse("UID_MIN 500 # comment\n"), NP_UID_MIN_DEFAULT);
	assert_int_equal(parse("UID_MIN -1\n"), NP_UID_MIN_DEFAULT);
	assert_int_equal(parse("UID_MIN +10\n"), NP_UID_MIN_DEFAULT);
	assert_int_equal(parse("UID_MIN 0\n"), NP_UID_MIN_DEFAULT);
	assert_int_equal(parse("UID_MIN 4294967295\n"), NP_UID_MIN_DEFAULT);
	assert_int_equal(parse("UID_MIN 99999999999999999999999\n"), NP_UID_MIN_DEFAULT);
	assert_int_equal(parse("UID_MIN 09\n"), NP_UID_MIN_DEFAULT);
	assert_int_equal(parse("UID_MIN \"\"\n"), NP_UID_MIN_DEFAULT);
	/* A good line followed by a bad one: the bad one is what useradd would use. */
	assert_int_equal(parse("UID_MIN 500\nUID_MIN x\n"), NP_UID_MIN_DEFAULT);
	/* A NUL byte is not a digit. */
	assert_int_equal(np_uid_min_parse("UID_MIN 5\0" "00\n", 12), NP_UID_MIN_DEFAULT);
}

static void test_read_file(void **state)
{
	char tmp_dir[512], path[1024], link_path[1024], missing[1024];
	static const char text[] = "UID_MIN 2000\n";

	(void)state;
	assert_int_equal(unit_tmpdir(tmp_dir, sizeof tmp_dir), 0);
	assert_int_equal(unit_write_file(tmp_dir, "login.defs", text, strlen(text), 0644, path,
	                                 sizeof path),
	                 0);
	assert_int_equal(np_uid_min(path), 2000);
	/* Missing, a symlink, or writable by others: the default, never the file's value. */
	snprintf(missing, sizeof missing, "%s/none", tmp_dir);
	assert_int_equal(np_uid_min(missing), NP_UID_MIN_DEFAULT);
	snprintf(link_path, sizeof link_path, "%s/link.defs", tmp_dir);
	assert_int_equal(symlink(path, link_path), 0);
	assert_int_equal(np_uid_min(link_path), NP_UID_MIN_DEFAULT);
	assert_int_equal(unit_write_file(tmp_dir, "open.defs", "UID_MIN 1\n", 10, 0666, path,
	                                 sizeof path),
	                 0);
	assert_int_equal(np_uid_min(path), NP_UID_MIN_DEFAULT);
	assert_int_equal(np_uid_min(tmp_dir), NP_UID_MIN_DEFAULT);
	unit_rm_rf(tmp_dir);
}

static void test_personal(void **state)
{
	(void)state;
	assert_false(np_uid_is_personal(0, 1000));
	assert_false(np_uid_is_personal(0, 1));
	assert_false(np_uid_is_personal(1, 1000));
	assert_false(np_uid_is_personal(999, 1000));
	assert_true(np_uid_is_personal(1000, 1000));
	assert_true(np_uid_is_personal(60001, 1000));
	assert_false(np_uid_is_personal(65534, 1000));
	assert_true(np_uid_is_personal(65535, 1000));
	assert_true(np_uid_is_personal(500, 500));
	assert_false(np_uid_is_personal(1500, 2000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_debian),
		cmocka_unit_test(test_parse_default),
		cmocka_unit_test(test_read_file),
		cmocka_unit_test(test_personal),
	};

	return cmocka_run_group_tests_name("account", tests, NULL, NULL);
}
