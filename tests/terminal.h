/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Pseudo-terminals for the tests of the session-scoped cache, which serves
 * only a process whose controlling terminal is the one PAM_TTY names: a
 * terminal as login, sshd or a terminal emulator gives a person's shell (a
 * session of its own, the pty its controlling terminal), and others beside
 * it.  Header-only, for the unit and the integration tests.
 */
#ifndef NP_TEST_TERMINAL_H
#define NP_TEST_TERMINAL_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

/*
 * A new pseudo-terminal: returns its master (close-on-exec, kept open for as
 * long as the terminal is used: closing it hangs the terminal up) and puts
 * the path of its terminal side (/dev/pts/N) into path.  -1 on failure.
 */
static inline int test_terminal_open(char *path, size_t path_size)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (master < 0)
		return -1;
	if (grantpt(master) != 0 || unlockpt(master) != 0 ||
	    ptsname_r(master, path, path_size) != 0) {
		close(master);
		return -1;
	}
	return master;
}

/*
 * Makes the terminal at path the controlling terminal of the calling process,
 * which must lead a session without one (setsid() first).  Returns the
 * terminal's descriptor, or -1.
 */
static inline int test_terminal_control(const char *path)
{
	int fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);

	if (fd >= 0 && ioctl(fd, TIOCSCTTY, 0) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/*
 * A new pseudo-terminal as the controlling terminal of the calling process,
 * which must lead a session that has none (call setsid() first; a process
 * group leader may not: call it in a child).  Returns the master, or -1.
 */
static inline int test_terminal_session(char *path, size_t path_size)
{
	int master = test_terminal_open(path, path_size);
	int terminal;

	if (master < 0)
		return -1;
	/* The terminal stays the session's once taken: its descriptor is not needed. */
	terminal = test_terminal_control(path);
	if (terminal < 0) {
		close(master);
		return -1;
	}
	close(terminal);
	return master;
}

#endif
