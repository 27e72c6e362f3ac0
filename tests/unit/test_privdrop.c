/* SPDX-License-Identifier: BSD-2-Clause */
/* The helper's privilege drop: for good, verified, never to root, and without a capability. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helper/privdrop.h"

/*
 * Runs check as root in a child (a drop cannot be undone), which must exit 0;
 * skipped without root, since only root's drop changes anything.
 */
static void passes_in_child_as_root(int (*check)(void))
{
	int status = 0;
	pid_t pid;

	if (geteuid() != 0)
		skip();
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(check());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

typedef struct __user_cap_data_struct cap_words[_LINUX_CAPABILITY_U32S_3];

static int read_caps(cap_words caps)
{
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };

	memset(caps, 0, sizeof(cap_words));
	return (int)syscall(SYS_capget, &header, caps);
}

/* No effective, permitted, inheritable or ambient capability (and none bounded, if asked). */
static bool no_capabilities(bool bounding_too)
{
	cap_words caps;

	if (read_caps(caps) != 0)
		return false;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (caps[i].effective != 0 || caps[i].permitted != 0 || caps[i].inheritable != 0)
			return false;
	for (int cap = 0; cap < 64; cap++) {
		int ambient = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, cap, 0, 0);
		int bounded = prctl(PR_CAPBSET_READ, cap, 0, 0, 0);

		if (ambient > 0 || (bounding_too && bounded > 0))
			return false;
		if (bounded < 0)
			break;
	}
	return true;
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
	if (!no_capabilities(true))
		return 15;
	return 0;
}

static void root_becomes_helper_user_for_good(void **state)
{
	(void)state;
	passes_in_child_as_root(drop_to_nobody);
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
	passes_in_child_as_root(drop_with_setuid_style_ids);
}

/*
 * A process that is not root but holds capabilities (kept across its own
 * setuid, as a service might): every one goes, inheritable and bounding set
 * too, though its ids are left alone.
 */
static int drop_capabilities_of_a_non_root_process(void)
{
	char err[256] = "";
	struct passwd *nobody = getpwnam("nobody");
	struct __user_cap_header_struct header = { .version = _LINUX_CAPABILITY_VERSION_3 };
	cap_words caps;
	const unsigned setpcap = 1U << CAP_SETPCAP, net_raw = 1U << CAP_NET_RAW;

	if (nobody == NULL || prctl(PR_SET_SECUREBITS, SECBIT_KEEP_CAPS, 0, 0, 0) != 0 ||
	    setresuid(nobody->pw_uid, nobody->pw_uid, nobody->pw_uid) != 0)
		return 30;
	/* Back in effect (the uid change cleared only the effective set), one inheritable too. */
	memset(caps, 0, sizeof caps);
	caps[0].permitted = caps[0].effective = setpcap | net_raw;
	caps[0].inheritable = net_raw;
	if (syscall(SYS_capset, &header, caps) != 0 || no_capabilities(false))
		return 31;
	if (np_drop_privileges("nobody", err, sizeof err) != 0)
		return 32;
	if (!no_capabilities(true))
		return 33;
	if (geteuid() != nobody->pw_uid)
		return 34;
	return 0;
}

static void non_root_process_with_capabilities_loses_them(void **state)
{
	(void)state;
	passes_in_child_as_root(drop_capabilities_of_a_non_root_process);
}

/*
 * A host that turned off the kernel's set-uid fix-up (SECBIT_NO_SETUID_FIXUP
 * survives exec) leaves the helper its capabilities after setresuid, and with
 * them the way back to root: the drop must say it did not stick, not go on.
 */
static int drop_without_setuid_fixup(void)
{
	char err[256] = "";

	if (prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP, 0, 0, 0) != 0)
		return 40;
	if (np_drop_privileges("nobody", err, sizeof err) != -1)
		return 41;
	if (strstr(err, "did not stick") == NULL)
		return 42;
	return 0;
}

static void drop_that_does_not_stick_is_refused(void **state)
{
	(void)state;
	passes_in_child_as_root(drop_without_setuid_fixup);
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
	/* It had no capability to begin with, and has none now; its bounding set it cannot touch. */
	assert_true(no_capabilities(false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(root_becomes_helper_user_for_good),
		cmocka_unit_test(setuid_caller_is_dropped_too),
		cmocka_unit_test(non_root_process_with_capabilities_loses_them),
		cmocka_unit_test(drop_that_does_not_stick_is_refused),
		cmocka_unit_test(refuses_root_and_unknown_users),
		cmocka_unit_test(ordinary_user_changes_nothing),
	};

	return cmocka_run_group_tests_name("privdrop", tests, NULL, NULL);
}
