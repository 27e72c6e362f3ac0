/* The helper's privilege drop: for good, verified, and never to root. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "privdrop.h"

/* Runs check in a child (a drop cannot be undone) and returns its exit status. */
static int in_child(int (*check)(void))
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(check());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static int drop_to_nobody(void)
{
	char err[256] = "";
	struct passwd *nobody = getpwnam("nobody");
	uid_t r, e, s;
	gid_t groups[8];

	if (nobody == NULL || np_drop_privileges("nobody", err, sizeof err) != 0)
		return 10;
	if (getresuid(&r, &e, &s) != 0 || r != nobody->pw_uid || e != nobody->pw_uid ||
	    s != nobody->pw_uid)
		return 11;
	if (getgid() != nobody->pw_gid || getegid() != nobody->pw_gid)
		return 12;
	if (getgroups(8, groups) != 1 || groups[0] != nobody->pw_gid)
		return 13;
	if (setuid(0) == 0 || seteuid(0) == 0)
		return 14;
	return 0;
}

static void root_becomes_helper_user_for_good(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(in_child(drop_to_nobody), 0);
}

static int drop_with_setuid_style_ids(void)
{
	char err[256] = "";
	struct passwd *nobody = getpwnam("nobody");
	uid_t r, e, s;

	/* sudo runs PAM with the caller's real uid and euid 0: still root, still dropped. */
	if (nobody == NULL || setresuid(nobody->pw_uid, 0, 0) != 0)
		return 20;
	if (np_drop_privileges("nobody", err, sizeof err) != 0)
		return 21;
	if (getresuid(&r, &e, &s) != 0 || r != nobody->pw_uid || e != nobody->pw_uid ||
	    s != nobody->pw_uid)
		return 22;
	return 0;
}

static void setuid_caller_is_dropped_too(void **state)
{
	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(in_child(drop_with_setuid_style_ids), 0);
}

static void refuses_root_and_unknown_users(void **state)
{
	char err[256] = "";

	(void)state;
	if (geteuid() != 0)
		skip();
	assert_int_equal(np_drop_privileges("root", err, sizeof err), -1);
	assert_non_null(strstr(err, "must not be root"));
	assert_int_equal(np_drop_privileges("np-no-such-user", err, sizeof err), -1);
	assert_non_null(strstr(err, "no such user"));
	/* Nothing changed on the way. */
	assert_int_equal(geteuid(), 0);
}

static void ordinary_user_changes_nothing(void **state)
{
	char err[256] = "";
	uid_t before = geteuid();

	(void)state;
	if (geteuid() == 0)
		skip();
	assert_int_equal(np_drop_privileges("nobody", err, sizeof err), 0);
	assert_int_equal(geteuid(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(root_becomes_helper_user_for_good),
		cmocka_unit_test(setuid_caller_is_dropped_too),
		cmocka_unit_test(refuses_root_and_unknown_users),
		cmocka_unit_test(ordinary_user_changes_nothing),
	};

	return cmocka_run_group_tests_name("privdrop", tests, NULL, NULL);
}
