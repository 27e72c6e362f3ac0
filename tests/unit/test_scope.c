/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of np_scope_terminal() (src/module/scope.c): a session-scoped
 * approval is bound to the controlling terminal that PAM_TTY names, and to
 * nothing else.  The tests run in a session of their own whose controlling
 * terminal is a new pseudo-terminal (see main), as a person's shell does;
 * other terminals, names and devices must never count as that terminal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../terminal.h"
#include "module/scope.h"

static char terminal[64];   /* the controlling terminal: /dev/pts/N */

/* What np_scope_terminal() says of pam_tty: 0 and the device, or -1 and why. */
static int look_up(const char *pam_tty, char *device, const char **why)
{
	*why = "";
	device[0] = '\0';
	return np_scope_terminal(pam_tty, device, NP_SCOPE_TERMINAL_MAX, why);
}

static void refused_for(const char *pam_tty, const char *reason)
{
	char device[NP_SCOPE_TERMINAL_MAX];
	const char *why;

	if (look_up(pam_tty, device, &why) != -1)
		fail_msg("PAM_TTY \"%s\" counted as the controlling terminal %s", pam_tty, device);
	if (strstr(why, reason) == NULL)
		fail_msg("PAM_TTY \"%s\": \"%s\", not \"%s\"", pam_tty, why, reason);
}

/* sudo sets PAM_TTY to "/dev/pts/N", login and su to "pts/N": both are the terminal. */
static void the_controlling_terminal_by_either_name(void **state)
{
	char device[NP_SCOPE_TERMINAL_MAX], expected[NP_SCOPE_TERMINAL_MAX];
	const char *why;
	struct stat st;

	(void)state;
	assert_int_equal(stat(terminal, &st), 0);
	snprintf(expected, sizeof expected, "%u:%u", major(st.st_rdev), minor(st.st_rdev));
	assert_int_equal(look_up(terminal, device, &why), 0);
	assert_string_equal(device, expected);
	assert_int_equal(look_up(terminal + strlen("/dev/"), device, &why), 0);
	assert_string_equal(device, expected);
}

/* A real terminal of this machine, open and usable, but not this session's. */
static void another_terminal_is_not_the_controlling_one(void **state)
{
	char other[64];
	int master = test_terminal_open(other, sizeof other);

	(void)state;
	assert_true(master >= 0);
	refused_for(other, "not the controlling terminal");
	refused_for(other + strlen("/dev/"), "not the controlling terminal");
	close(master);
}

/* Character devices that are not the terminal: /dev/tty names whichever is the caller's. */
static void other_devices_are_not_the_terminal(void **state)
{
	(void)state;
	refused_for("/dev/tty", "not the controlling terminal");
	refused_for("tty", "not the controlling terminal");
	refused_for("/dev/null", "not the controlling terminal");
	refused_for("/dev/pts/ptmx", "not the controlling terminal");
	refused_for("pts", "not a character device");
	refused_for("/dev/pts/999999", "not a character device");
}

/* What display managers, lock screens and sshd set, and paths that leave /dev. */
static void names_that_are_no_terminal_under_dev(void **state)
{
	char path[128];
	const char *const names[] = {
		"", ":0", ":0.0", "/tmp", "/dev", "/dev/", "/dev//pts/0", "/pts/0",
		"pts/", "pts//0", "./pts/0", "pts/./0", ".", "..", "../dev/pts/0",
		"pts/../pts/0", "/dev/../dev/pts/0", "/dev/pts/../pts/0", "pts/0\n", "pts/0 ",
		"pts/\xc3\xa9", "/proc/self/fd/0", "fd/0/",
	};

	(void)state;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		refused_for(names[i], names[i][0] == '\0' ? "no PAM_TTY" : "not the name of a terminal");
	refused_for(NULL, "no PAM_TTY");
	/* sshd's and cron's words look like names, but there is no such device. */
	refused_for("ssh", "not a character device");
	refused_for("cron", "not a character device");
	/* The real terminal's own path, made to climb out of /dev and back. */
	snprintf(path, sizeof path, "/dev/../%s", terminal + 1);
	refused_for(path, "not the name of a terminal");
	snprintf(path, sizeof path, "pts/../%s", terminal + strlen("/dev/"));
	refused_for(path, "not the name of a terminal");
	memset(path, 'a', sizeof path - 1);
	path[sizeof path - 1] = '\0';
	refused_for(path, "not the name of a terminal");
}

/*
 * Symbolic links under /dev are not followed, neither the last part nor a
 * directory on the way: /dev/fd/0 is a link to /proc/self/fd/0, itself one
 * to the terminal, and /dev/shm, writable by anyone, could hold others.
 */
static void symbolic_links_are_not_followed(void **state)
{
	char to_terminal[128], to_pts[128], name[192];

	(void)state;
	refused_for("fd/0", "not a character device");
	refused_for("stdin", "not a character device");
	snprintf(to_terminal, sizeof to_terminal, "/dev/shm/np-unit-tty-%ld", (long)getpid());
	snprintf(to_pts, sizeof to_pts, "/dev/shm/np-unit-pts-%ld", (long)getpid());
	if (symlink(terminal, to_terminal) != 0 || symlink("/dev/pts", to_pts) != 0) {
		unlink(to_terminal);
		fprintf(stderr, "  skipped the /dev/shm links: %s\n", strerror(errno));
		return;
	}
	refused_for(to_terminal, "not a character device");
	refused_for(to_terminal + strlen("/dev/"), "not a character device");
	snprintf(name, sizeof name, "%s/%s", to_pts, terminal + strlen("/dev/pts/"));
	refused_for(name, "not a character device");
	unlink(to_terminal);
	unlink(to_pts);
}

/* A session without a terminal (a daemon, a greeter's worker): nothing counts. */
static void without_a_controlling_terminal_nothing_counts(void **state)
{
	int status = 0;
	pid_t pid;

	(void)state;
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char device[NP_SCOPE_TERMINAL_MAX];
		const char *why = "";

		if (setsid() == (pid_t)-1)
			_exit(2);
		if (np_scope_terminal(terminal, device, sizeof device, &why) != -1)
			_exit(3);
		_exit(strcmp(why, "no controlling terminal") == 0 ? 0 : 4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int scope_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_controlling_terminal_by_either_name),
		cmocka_unit_test(another_terminal_is_not_the_controlling_one),
		cmocka_unit_test(other_devices_are_not_the_terminal),
		cmocka_unit_test(names_that_are_no_terminal_under_dev),
		cmocka_unit_test(symbolic_links_are_not_followed),
		cmocka_unit_test(without_a_controlling_terminal_nothing_counts),
	};

	return cmocka_run_group_tests_name("scope: the controlling terminal", tests, NULL, NULL);
}

/* The tests run in a child that leads a session with a new pseudo-terminal as its terminal. */
int main(void)
{
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		/*
		 * The master stays open until exit: closed before, it would hang the
		 * terminal up, and SIGHUP the session's leader, this process.
		 */
		if (setsid() == (pid_t)-1 || test_terminal_session(terminal, sizeof terminal) < 0) {
			perror("a session with a terminal of its own");
			exit(1);
		}
		exit(scope_tests());
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
