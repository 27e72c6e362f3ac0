/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of src/module/greeter.c: which PAM_TTY values name an X display,
 * as LightDM sets it ("Some display managers set PAM_TTY to the X display",
 * as pam_systemd puts it), and which name a terminal or nothing of the kind.
 * Whether a whole sign-in gets the greeter flow is the greeter suite's
 * (tests/integration/greeter.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "module/greeter.h"

static void test_x_displays(void **state)
{
	const char *displays[] = { ":0",      ":70",         ":0.0",     ":1.12",
		                       "host:0",  "localhost:10.0", "::1:0", "a.example:3" };

	(void)state;
	for (size_t i = 0; i < sizeof displays / sizeof displays[0]; i++)
		if (!np_greeter_is_x_display(displays[i]))
			fail_msg("\"%s\" is an X display", displays[i]);
}

static void test_terminals_and_others(void **state)
{
	/* What sshd ("ssh"), sudo, su and login set, and what is malformed. */
	const char *others[] = { "",     "ssh",   "tty1",       "/dev/tty1", "/dev/pts/3",
		                     "pts/3", ":",     ":a",         ":0.",       ":0.x",
		                     "0",     "host:", ":0 ",        " :0",       ":-1",
		                     "/tmp/.X11-unix/X0", "host/x:0", ":0\n" };

	(void)state;
	for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
		if (np_greeter_is_x_display(others[i]))
			fail_msg("\"%s\" is no X display", others[i]);
}

static void test_overlong_name(void **state)
{
	char name[400];

	(void)state;
	memset(name, 'h', sizeof name);
	memcpy(name + sizeof name - 3, ":0", 3);
	assert_false(np_greeter_is_x_display(name));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_x_displays),
		cmocka_unit_test(test_terminals_and_others),
		cmocka_unit_test(test_overlong_name),
	};

	return cmocka_run_group_tests_name("greeter", tests, NULL, NULL);
}
