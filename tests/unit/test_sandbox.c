/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The helper's system call filter, for real: each case runs in a forked
 * child (a filter cannot be taken back) that enters the sandbox and then does
 * one thing.  What the helper needs must work; anything else must kill the
 * child with SIGSYS on the spot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "helper/sandbox.h"
#include "unit_tmp.h"

/* Exit codes of a child that got past its action (or never reached it). */
enum { SURVIVED = 0, NO_SANDBOX = 90, ACTION_FAILED = 91 };

static char scratch[512];

/* Runs action in a sandboxed child; returns its wait status. */
static int sandboxed(int (*action)(void))
{
	int status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[256] = "";

		if (np_sandbox_enter(err, sizeof err) != 0) {
			fprintf(stderr, "np_sandbox_enter: %s\n", err);
			_exit(NO_SANDBOX);
		}
		_exit(action());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void assert_survives(int (*action)(void))
{
	int status = sandboxed(action);

	if (WIFSIGNALED(status))
		fprintf(stderr, "killed by signal %d\n", WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), SURVIVED);
}

static void assert_killed(int (*action)(void))
{
	int status = sandboxed(action);

	if (WIFEXITED(status))
		fprintf(stderr, "exited with %d instead\n", WEXITSTATUS(status));
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGSYS);
}

/* ---- what the helper does, which must keep working ---- */

static void *thread_main(void *arg)
{
	return arg;
}

static int helper_work(void)
{
	int fds[2];
	char byte = 'x';
	unsigned char random[16];
	struct timespec nap = { 0, 1000000 };
	pthread_t thread;
	void *back = NULL;
	int fd, sock, n;
	char status[4096];

	/* reading and writing what is open (the helper's pipes), time, randomness, memory */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0 || write(fds[1], &byte, 1) != 1 ||
	    read(fds[0], &byte, 1) != 1)
		return ACTION_FAILED;
	close(fds[0]);
	close(fds[1]);
	if (nanosleep(&nap, NULL) != 0 || getrandom(random, sizeof random, 0) != sizeof random)
		return ACTION_FAILED;
	free(malloc(1 << 20));
	/* libcurl's resolver thread (clone3 refused, clone with CLONE_THREAD allowed) */
	if (pthread_create(&thread, NULL, thread_main, &byte) != 0 ||
	    pthread_join(thread, &back) != 0 || back != &byte)
		return ACTION_FAILED;
	/* sockets the API, DNS and libcurl's wake-up need; files read */
	sock = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (sock < 0 || fcntl(sock, F_SETFL, O_NONBLOCK) != 0)
		return ACTION_FAILED;
	close(sock);
	sock = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sock < 0 || ioctl(sock, FIONREAD, &n) != 0)
		return ACTION_FAILED;
	close(sock);
	/* no_new_privs and the filter, as the kernel reports them */
	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return ACTION_FAILED;
	n = (int)read(fd, status, sizeof status - 1);
	close(fd);
	status[n > 0 ? n : 0] = '\0';
	if (strstr(status, "NoNewPrivs:\t1") == NULL || strstr(status, "Seccomp:\t2") == NULL)
		return ACTION_FAILED;
	return SURVIVED;
}

static void what_the_helper_needs_works(void **state)
{
	(void)state;
	assert_survives(helper_work);
}

static int abort_itself(void)
{
	/* abort() signals the process itself: that must stay possible, and end it by SIGABRT. */
	abort();
}

static void abort_still_ends_with_sigabrt(void **state)
{
	int status;

	(void)state;
	status = sandboxed(abort_itself);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGABRT);
}

/* ---- anything else kills ---- */

static int start_a_process(void)
{
	pid_t pid = fork();

	if (pid == 0)
		_exit(0);
	return SURVIVED;
}

static int run_a_program(void)
{
	char *const argv[] = { "true", NULL };
	char *const envp[] = { NULL };

	execve("/bin/true", argv, envp);
	return SURVIVED;
}

static int write_a_file(void)
{
	char path[600];
	int fd;

	snprintf(path, sizeof path, "%s/written", scratch);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	return SURVIVED;
}

static int open_for_writing_without_creating(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd >= 0)
		close(fd);
	return SURVIVED;
}

static int raw_socket(void)
{
	int fd = socket(AF_PACKET, SOCK_RAW, 0);

	if (fd >= 0)
		close(fd);
	return SURVIVED;
}

static int listen_for_connections(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	(void)listen(fd, 1);
	return SURVIVED;
}

static int leave_the_process_group(void)
{
	(void)setsid();
	return SURVIVED;
}

static int signal_another_process(void)
{
	(void)kill(getppid(), 0);
	return SURVIVED;
}

static int trace_a_process(void)
{
	(void)ptrace(PTRACE_TRACEME, 0, NULL, NULL);
	return SURVIVED;
}

static int type_into_a_terminal(void)
{
	char c = 'x';

	/* TIOCSTI: the classic way for a process to type into its terminal. */
	(void)ioctl(STDIN_FILENO, TIOCSTI, &c);
	return SURVIVED;
}

static int change_its_own_credentials(void)
{
	return setuid(getuid()) == 0 ? SURVIVED : ACTION_FAILED;
}

static void everything_else_is_killed(void **state)
{
	/* relaxed: allowed in AddressSanitizer builds, whose runtime needs it to report. */
	static const struct {
		int (*action)(void);
		const char *what;
		bool relaxed;
	} actions[] = {
		{ raw_socket, "a raw socket", false },
		{ listen_for_connections, "listen", false },
		{ leave_the_process_group, "setsid", false },
		{ change_its_own_credentials, "setuid", false },
		{ start_a_process, "fork", true },
		{ run_a_program, "execve", true },
		{ write_a_file, "open for writing, creating", true },
		{ open_for_writing_without_creating, "open for writing", true },
		{ signal_another_process, "kill another process", true },
		{ trace_a_process, "ptrace", true },
		{ type_into_a_terminal, "TIOCSTI", true },
	};
	bool relaxed = np_sandbox_relaxed_for_sanitizers();
	char path[600];

	(void)state;
	assert_int_equal(unit_tmpdir(scratch, sizeof scratch), 0);
	for (size_t i = 0; i < sizeof actions / sizeof actions[0]; i++) {
		if (actions[i].relaxed && relaxed) {
			fprintf(stderr, "  %s: allowed in this sanitizer build\n", actions[i].what);
			continue;
		}
		fprintf(stderr, "  %s\n", actions[i].what);
		assert_killed(actions[i].action);
	}
	/* Nothing was written on the way. */
	snprintf(path, sizeof path, "%s/written", scratch);
	assert_int_equal(access(path, F_OK), -1);
	unit_rm_rf(scratch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(what_the_helper_needs_works),
		cmocka_unit_test(abort_still_ends_with_sigabrt),
		cmocka_unit_test(everything_else_is_killed),
	};

	return cmocka_run_group_tests_name("sandbox", tests, NULL, NULL);
}
