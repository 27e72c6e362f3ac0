/* SPDX-License-Identifier: BSD-2-Clause */
#include "common/helper_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

/* How long a helper whose output closed may take to exit before we say so. */
#define END_WAIT_MS 1000

void np_helper_init(struct np_helper *h)
{
	memset(h, 0, sizeof *h);
	h->pid = -1;
	h->pidfd = -1;
	h->to_helper = -1;
	np_line_reader_init(&h->from_helper, -1);
}

static int open_helper_binary(const char *path, char *err, size_t err_size)
{
	struct stat st;
	int fd;

	if (path[0] != '/') {
		snprintf(err, err_size, "helper %s: not an absolute path", path);
		return -1;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, err_size, "helper %s: %s", path,
		         errno == ELOOP ? "is a symbolic link" : strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != 0 && st.st_uid != geteuid()) ||
	    (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 || (st.st_mode & S_IXUSR) == 0) {
		snprintf(err, err_size,
		         "helper %s: must be an executable regular file owned by root and "
		         "writable only by its owner",
		         path);
		close(fd);
		return -1;
	}
	return fd;
}

/* Moves fd to 3 or above so dup2() onto 0..2 cannot clobber another of ours. */
static int lift_fd(int fd)
{
	return fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

static void close_other_fds(int keep, int max_fd)
{
	/* keep is close-on-exec: it lives until the exec itself. */
	if (keep > 3 && close_range(3, (unsigned)keep - 1, 0) != 0) {
		for (int fd = 3; fd < keep; fd++)
			close(fd);
	}
	if (close_range((unsigned)keep + 1, ~0U, 0) != 0) {
		for (int fd = keep + 1; fd < max_fd; fd++)
			close(fd);
	}
}

/* Runs in the child between fork and exec: async-signal-safe calls only. */
static void exec_child(int exec_fd, int stdin_fd, int stdout_fd, int null_fd, int max_fd)
{
	static char *const child_argv[] = { "nextpay-helper", NULL };
	static char *const child_envp[] = { NULL };
	struct sigaction dfl;
	sigset_t none;
	int in = lift_fd(stdin_fd);
	int out = lift_fd(stdout_fd);
	int err_fd = lift_fd(null_fd);
	int exe = lift_fd(exec_fd);

	if (in < 0 || out < 0 || err_fd < 0 || exe < 0)
		_exit(127);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err_fd, 2) < 0)
		_exit(127);
	close_other_fds(exe, max_fd);
	/* Dispositions the host ignores, and its signal mask, survive exec: reset them. */
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	/* Its own session and process group: what it starts can be killed with it. */
	if (setsid() < 0)
		_exit(127);
	fexecve(exe, child_argv, child_envp);
	_exit(127);
}

static void take_over_signals(struct np_helper *h)
{
	struct sigaction current;
	struct sigaction dfl;
	sigset_t mask;
	bool auto_reap;
	bool handler_may_run;

	if (sigaction(SIGCHLD, NULL, &current) != 0 || pthread_sigmask(SIG_BLOCK, NULL, &mask) != 0)
		return;
	/* With SIGCHLD ignored (or SA_NOCLDWAIT) the kernel reaps for us and waitpid fails. */
	auto_reap = current.sa_handler == SIG_IGN || (current.sa_flags & SA_NOCLDWAIT) != 0;
	/* A host handler would run for our helper (and might reap it). */
	handler_may_run = current.sa_handler != SIG_DFL && current.sa_handler != SIG_IGN &&
	                  sigismember(&mask, SIGCHLD) != 1;
	/*
	 * Otherwise leave SIGCHLD alone: setting any disposition that ignores it
	 * discards a pending SIGCHLD (POSIX), and a host that blocks SIGCHLD to
	 * take it with sigwait() or a signalfd would never learn that a child of
	 * its own had exited.
	 */
	if (!auto_reap && !handler_may_run)
		return;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	if (sigaction(SIGCHLD, &dfl, &h->saved_chld) == 0)
		h->signals_saved = true;
}

/* Whether pid is still a child of ours, alive or not yet reaped (so its pid is still its own). */
static bool still_ours(pid_t pid)
{
	siginfo_t info;

	memset(&info, 0, sizeof info);
	return pid > 0 && waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0;
}

/* A pidfd for the child just started, or -1: then signals go by pid (and still_ours()). */
static int open_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	/* Only a host thread reaping our child before this could make the pid another's. */
	if (fd >= 0 && !still_ours(pid)) {
		close(fd);
		fd = -1;
	}
	return fd;
#else
	(void)pid;
	return -1;
#endif
}

static int signal_helper(const struct np_helper *h, int sig, bool ours)
{
#ifdef SYS_pidfd_send_signal
	if (h->pidfd >= 0 && syscall(SYS_pidfd_send_signal, h->pidfd, sig, NULL, 0) == 0)
		return 0;
#endif
	return ours ? kill(h->pid, sig) : -1;
}

int np_helper_start(struct np_helper *h, const char *path, char *err, size_t err_size)
{
	int to_child[2] = { -1, -1 };
	int from_child[2] = { -1, -1 };
	int exec_fd = open_helper_binary(path, err, err_size);
	int null_fd = -1;
	long open_max = sysconf(_SC_OPEN_MAX);
	int max_fd = open_max > 0 && open_max < INT_MAX ? (int)open_max : 1024;
	int rc = -1;

	if (exec_fd < 0)
		return -1;
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd < 0 || pipe2(to_child, O_CLOEXEC) != 0 || pipe2(from_child, O_CLOEXEC) != 0) {
		snprintf(err, err_size, "cannot create pipes for the helper: %s", strerror(errno));
		goto out;
	}
	take_over_signals(h);
	h->pid = fork();
	if (h->pid < 0) {
		snprintf(err, err_size, "cannot start the helper: %s", strerror(errno));
		goto out;
	}
	if (h->pid == 0)
		exec_child(exec_fd, to_child[0], from_child[1], null_fd, max_fd);
	h->pidfd = open_pidfd(h->pid);
	h->to_helper = to_child[1];
	to_child[1] = -1;
	np_line_reader_init(&h->from_helper, from_child[0]);
	from_child[0] = -1;
	rc = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (to_child[i] >= 0)
			close(to_child[i]);
		if (from_child[i] >= 0)
			close(from_child[i]);
	}
	if (null_fd >= 0)
		close(null_fd);
	close(exec_fd);
	return rc;
}

int np_helper_send(struct np_helper *h, const struct np_msg *m)
{
	sigset_t pipe_only, saved_mask, pending;
	bool was_pending;
	size_t len = 0;
	int rc = -1;
	int write_errno = 0;

	/*
	 * Writing to a helper that has died raises SIGPIPE, whose default action
	 * kills the host.  Ignoring it process-wide is no cure: that changes the
	 * host's disposition (and discards a SIGPIPE it has pending), and a
	 * blocked SIGPIPE stays pending whatever the disposition, to kill the host
	 * once it unblocks.  So block it for this thread around the write and take
	 * back a SIGPIPE that the write itself raised; one the host had pending
	 * before is left alone.
	 */
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	sigemptyset(&pending);
	was_pending = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
	pthread_sigmask(SIG_BLOCK, &pipe_only, &saved_mask);
	if (h->to_helper >= 0 && np_msg_encode(m, h->line, sizeof h->line, &len) == 0) {
		rc = np_write_all(h->to_helper, h->line, len);
		write_errno = rc != 0 ? errno : 0;
	}
	if (write_errno == EPIPE && !was_pending) {
		const struct timespec now = { 0, 0 };

		while (sigtimedwait(&pipe_only, NULL, &now) < 0 && errno == EINTR)
			;
	}
	pthread_sigmask(SIG_SETMASK, &saved_mask, NULL);
	sodium_memzero(h->line, sizeof h->line);
	return rc;
}

/*
 * Says how the helper ended, its output having closed: gives it a moment to
 * exit, and looks without reaping it (np_helper_stop() must still find its
 * process group by its pid).
 */
static void describe_end(const struct np_helper *h, char *err, size_t err_size)
{
	long long until = np_monotonic_ms() + END_WAIT_MS;
	siginfo_t info;

	for (;;) {
		long long left = until - np_monotonic_ms();

		memset(&info, 0, sizeof info);
		if (h->pid <= 0 || waitid(P_PID, (id_t)h->pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
			snprintf(err, err_size, "the helper ended unexpectedly");
			return;
		}
		if (info.si_pid == h->pid)
			break;
		if (left <= 0) {
			snprintf(err, err_size, "the helper closed its output");
			return;
		}
		if (h->pidfd >= 0) {
			struct pollfd exited = { .fd = h->pidfd, .events = POLLIN };

			(void)poll(&exited, 1, (int)left);
		} else {
			struct timespec pause = { 0, 10 * 1000 * 1000 };

			(void)nanosleep(&pause, NULL);
		}
	}
	if (info.si_code == CLD_EXITED)
		snprintf(err, err_size, "the helper exited with status %d", info.si_status);
	else if (info.si_status == SIGSYS)
		snprintf(err, err_size,
		         "the helper was killed by SIGSYS: a system call its sandbox does not allow");
	else
		snprintf(err, err_size, "the helper was killed by signal %d (SIG%s)", info.si_status,
		         sigabbrev_np(info.si_status) != NULL ? sigabbrev_np(info.si_status) : "?");
}

enum np_helper_recv_status np_helper_recv(struct np_helper *h, int timeout_ms,
                                          struct np_msg *m, char *err, size_t err_size)
{
	size_t len = 0;
	enum np_helper_recv_status status;

	switch (np_line_read(&h->from_helper, timeout_ms, h->line, sizeof h->line, &len)) {
	case NP_LINE_OK:
		status = np_msg_decode(h->line, len, m, err, err_size) == 0 ? NP_RECV_OK
		                                                              : NP_RECV_BROKEN;
		break;
	case NP_LINE_TIMEOUT:
		status = NP_RECV_TIMEOUT;
		break;
	case NP_LINE_TOO_LONG:
		snprintf(err, err_size, "message from the helper too long");
		status = NP_RECV_BROKEN;
		break;
	case NP_LINE_EOF:
	case NP_LINE_ERROR:
	default:
		describe_end(h, err, err_size);
		status = NP_RECV_GONE;
		break;
	}
	sodium_memzero(h->line, sizeof h->line);
	return status;
}

void np_helper_stop(struct np_helper *h)
{
	if (h->to_helper >= 0)
		close(h->to_helper);
	if (h->pid > 0) {
		bool ours = still_ours(h->pid);

		/* The helper holds no state worth a graceful exit; do not wait on it. */
		(void)signal_helper(h, SIGKILL, ours);
		/*
		 * Then whatever it started, by its process group, whose id is the
		 * helper's pid: only while the helper is unreaped is that id sure to
		 * be its own, so never once somebody else has reaped it.
		 */
		if (ours) {
			(void)kill(-h->pid, SIGKILL);
			while (waitpid(h->pid, NULL, 0) < 0 && errno == EINTR)
				;
		}
	}
	if (h->pidfd >= 0)
		close(h->pidfd);
	if (h->from_helper.fd >= 0)
		close(h->from_helper.fd);
	np_line_reader_wipe(&h->from_helper);
	sodium_memzero(h->line, sizeof h->line);
	if (h->signals_saved)
		sigaction(SIGCHLD, &h->saved_chld, NULL);
	np_helper_init(h);
}
