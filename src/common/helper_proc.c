/* SPDX-License-Identifier: BSD-2-Clause */
#include "common/helper_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/sched.h>

#include "common/clock.h"

/* How long a helper whose output closed may take to exit before we say so. */
#define END_WAIT_MS 1000
/* How long the keeper may take to end its helper when asked, before it is killed. */
#define STOP_WAIT_MS 1000
/* The stack of a process started by the older clone() (a few small frames). */
#define CHILD_STACK_BYTES (64 * 1024)

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

/* What the helper's process needs between clone and exec: the module's descriptors, a limit. */
struct child_plan {
	int exe;     /* the checked helper binary */
	int in;      /* becomes its stdin */
	int out;     /* becomes its stdout */
	int null_fd; /* becomes its stderr */
	int max_fd;
};

/*
 * What runs in the keeper and in the helper's process before its exec, both
 * copies of the host made by a raw clone: no atfork handler has run, and
 * glibc's per-thread state (its cached thread id, locks other threads held,
 * malloc's arenas) is the host's.  So only plain system call wrappers run
 * there: no allocation, no stdio, nothing that locks or names the thread
 * (raise, abort, pthread_*).
 */

static void reset_dispositions(void)
{
	struct sigaction dfl;

	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &dfl, NULL);
}

static _Noreturn void exec_helper(const struct child_plan *plan)
{
	static char *const child_argv[] = { "nextpay-helper", NULL };
	static char *const child_envp[] = { NULL };
	sigset_t none;
	int in = lift_fd(plan->in);
	int out = lift_fd(plan->out);
	int err_fd = lift_fd(plan->null_fd);
	int exe = lift_fd(plan->exe);

	if (in < 0 || out < 0 || err_fd < 0 || exe < 0)
		_exit(127);
	if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err_fd, 2) < 0)
		_exit(127);
	close_other_fds(exe, plan->max_fd);
	/* Ignored dispositions and the signal mask survive exec: none of the host's may. */
	reset_dispositions();
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
	/* Its own session and process group: what it starts can be killed with it. */
	if (setsid() < 0)
		_exit(127);
	fexecve(exe, child_argv, child_envp);
	_exit(127);
}

static int helper_main(void *plan)
{
	exec_helper(plan);
}

/*
 * The older clone system call, through glibc's portable wrapper, on a stack
 * of its own: flags are clone's (its low byte the exit signal).  With
 * CLONE_PIDFD (Linux 5.2; an older kernel ignores the flag and leaves *pidfd
 * as it was, -1) the pidfd comes with the pid.
 */
static pid_t clone_older(int (*fn)(void *), void *arg, int flags, int *pidfd)
{
	void *stack = mmap(NULL, CHILD_STACK_BYTES, PROT_READ | PROT_WRITE,
	                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	pid_t pid;
	int saved_errno;

	if (stack == MAP_FAILED)
		return -1;
	/*
	 * A child with its own memory runs on its own copy of this stack, and one
	 * sharing it (CLONE_VM | CLONE_VFORK) has exec'd or ended by the time the
	 * parent goes on: either way the parent may let go of it now.
	 */
	pid = clone(fn, (char *)stack + CHILD_STACK_BYTES, flags, arg, pidfd);
	saved_errno = errno;
	(void)munmap(stack, CHILD_STACK_BYTES);
	errno = saved_errno;
	return pid;
}

/*
 * A new process (not a thread) running fn(arg), which must not return: clone3
 * (Linux 5.3), or, where clone3 answers ENOSYS (an older kernel, or a seccomp
 * filter such as a container runtime's default), the older clone.  It tells
 * its parent of its end with exit_signal (0: with no signal at all), and with
 * pidfd set the kernel hands over a pidfd for it with the pid.
 */
static pid_t clone_process(int (*fn)(void *), void *arg, int exit_signal, int *pidfd)
{
	struct clone_args args;
	long pid;

	memset(&args, 0, sizeof args);
	args.flags = pidfd != NULL ? CLONE_PIDFD : 0;
	args.pidfd = (uint64_t)(uintptr_t)pidfd;
	args.exit_signal = (unsigned int)exit_signal;
	pid = syscall(SYS_clone3, &args, sizeof args);
	if (pid == 0)
		_exit(fn(arg));
	if (pid > 0 || errno != ENOSYS)
		return (pid_t)pid;
	return clone_older(fn, arg, (pidfd != NULL ? CLONE_PIDFD : 0) | exit_signal, pidfd);
}

/* Ends the keeper as its helper ended, so that the module can say how (describe_end). */
static _Noreturn void end_as(int status)
{
	if (WIFSIGNALED(status)) {
		sigset_t one;

		sigemptyset(&one);
		sigaddset(&one, WTERMSIG(status));
		/* The keeper is not dumpable: a core-dumping signal writes no copy of the host. */
		(void)kill((pid_t)syscall(SYS_getpid), WTERMSIG(status));
		(void)sigprocmask(SIG_UNBLOCK, &one, NULL);
	}
	_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 127);
}

/* Whether the keeper's helper has ended (and is not reaped yet). */
static bool helper_ended(pid_t helper)
{
	siginfo_t info;

	memset(&info, 0, sizeof info);
	return waitid(P_PID, (id_t)helper, &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       info.si_pid == helper;
}

/*
 * The keeper: the host's own child, which never execs, and so keeps the exit
 * signal 0 it was started with (an exec would make it SIGCHLD again).  It
 * starts the helper as its own ordinary child, takes every signal of that
 * child, and ends when the helper ends or when the module sends SIGTERM,
 * after killing the helper's process group while the helper is still
 * unreaped (so the group's id is still the helper's), then reaping it.
 */
static int keeper_main(void *arg)
{
	const struct child_plan *plan = arg;
	sigset_t awaited;
	pid_t helper;
	int status = 0;

	/* Its mask came in with every signal blocked; only these two are taken, one at a time. */
	sigemptyset(&awaited);
	sigaddset(&awaited, SIGCHLD);
	sigaddset(&awaited, SIGTERM);
	reset_dispositions();
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)prctl(PR_SET_NAME, (unsigned long)"nextpay-keeper", 0, 0, 0);
	/* Out of the host's session and process group: no terminal signal reaches it. */
	if (setsid() < 0)
		_exit(127);
	/*
	 * As posix_spawn does: the helper's process shares the keeper's memory
	 * until its exec (the keeper waits meanwhile), so the host's pages are
	 * not copied a second time.
	 */
	helper = clone_older(helper_main, arg, CLONE_VM | CLONE_VFORK | SIGCHLD, NULL);
	/* Every descriptor of the host's, the pipes among them: the helper's end is the helper's. */
	if (close_range(0, ~0U, 0) != 0)
		for (int fd = 0; fd < plan->max_fd; fd++)
			(void)close(fd);
	if (helper < 0)
		_exit(127);
	for (;;) {
		int sig = sigwaitinfo(&awaited, NULL);

		if (sig == SIGTERM || (sig == SIGCHLD && helper_ended(helper)))
			break;
	}
	(void)kill(-helper, SIGKILL);
	(void)kill(helper, SIGKILL);
	while (waitpid(helper, &status, 0) < 0 && errno == EINTR)
		;
	end_as(status);
}

/*
 * Starts the keeper with exit signal 0 and CLONE_PIDFD: its end raises no
 * SIGCHLD in the host, whatever the host's disposition (nothing reaps it for
 * the host either), and only waits with __WALL or __WCLONE see it, never the
 * host's wait() or waitpid(-1).  The calling thread blocks every signal for
 * the instant of the clone, as posix_spawn does, so that no handler of the
 * host's ever runs in the keeper; the mask is restored at once, and a signal
 * that came meanwhile is delivered then.
 */
static pid_t start_keeper(struct child_plan *plan, int *pidfd)
{
	sigset_t all, saved;
	pid_t pid;
	int saved_errno;

	sigfillset(&all);
	if (pthread_sigmask(SIG_SETMASK, &all, &saved) != 0)
		return -1;
	pid = clone_process(keeper_main, plan, 0, pidfd);
	saved_errno = errno;
	(void)pthread_sigmask(SIG_SETMASK, &saved, NULL);
	errno = saved_errno;
	return pid;
}

/*
 * Waits for the keeper (a clone child: __WALL), by its pidfd where the kernel
 * can (P_PIDFD, Linux 5.4), else by its pid, which is the keeper's for sure
 * only until it is reaped.
 */
static int wait_keeper(const struct np_helper *h, siginfo_t *info, int options)
{
	memset(info, 0, sizeof *info);
	options |= WEXITED | __WALL;
	if (h->pidfd >= 0) {
		int rc = waitid(P_PIDFD, (id_t)h->pidfd, info, options);

		if (rc == 0 || errno != EINVAL)
			return rc;
	}
	return h->pid > 0 ? waitid(P_PID, (id_t)h->pid, info, options) : -1;
}

/* Whether the keeper is still ours, alive or not yet reaped (so its pid is still its own). */
static bool still_ours(const struct np_helper *h)
{
	siginfo_t info;

	return wait_keeper(h, &info, WNOHANG | WNOWAIT) == 0;
}

/*
 * Gives the keeper up to within_ms to end, and says whether it has, with how
 * into info, without reaping it.  -1 when it is not ours to wait for.
 */
static int keeper_end(const struct np_helper *h, long long within_ms, siginfo_t *info)
{
	long long until = np_monotonic_ms() + within_ms;

	for (;;) {
		long long left = until - np_monotonic_ms();

		if (wait_keeper(h, info, WNOHANG | WNOWAIT) != 0)
			return -1;
		if (info->si_pid == h->pid)
			return 1;
		if (left <= 0)
			return 0;
		if (h->pidfd >= 0) {
			struct pollfd ended = { .fd = h->pidfd, .events = POLLIN };

			(void)poll(&ended, 1, (int)left);
		} else {
			struct timespec pause = { 0, 10 * 1000 * 1000 };

			(void)nanosleep(&pause, NULL);
		}
	}
}

static int signal_keeper(const struct np_helper *h, int sig, bool ours)
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
	long open_max = sysconf(_SC_OPEN_MAX);
	struct child_plan plan = {
		.exe = open_helper_binary(path, err, err_size),
		.null_fd = -1,
		.max_fd = open_max > 0 && open_max < INT_MAX ? (int)open_max : 1024,
	};
	int rc = -1;

	if (plan.exe < 0)
		return -1;
	plan.null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (plan.null_fd < 0 || pipe2(to_child, O_CLOEXEC) != 0 ||
	    pipe2(from_child, O_CLOEXEC) != 0) {
		snprintf(err, err_size, "cannot create pipes for the helper: %s", strerror(errno));
		goto out;
	}
	plan.in = to_child[0];
	plan.out = from_child[1];
	h->pid = start_keeper(&plan, &h->pidfd);
	if (h->pid < 0) {
		snprintf(err, err_size, "cannot start the helper: %s", strerror(errno));
		goto out;
	}
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
	if (plan.null_fd >= 0)
		close(plan.null_fd);
	close(plan.exe);
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
 * Says how the helper ended, its output having closed: gives its keeper a
 * moment to end as it did, and looks without reaping it.
 */
static void describe_end(const struct np_helper *h, char *err, size_t err_size)
{
	siginfo_t info;
	int ended = keeper_end(h, END_WAIT_MS, &info);

	if (ended < 0) {
		snprintf(err, err_size, "the helper ended unexpectedly");
		return;
	}
	if (ended == 0) {
		snprintf(err, err_size, "the helper closed its output");
		return;
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
	siginfo_t info;

	if (h->to_helper >= 0)
		close(h->to_helper);
	if (h->pid > 0) {
		bool ours = still_ours(h);

		/* The keeper kills the helper and its process group, reaps it, and ends. */
		(void)signal_keeper(h, SIGTERM, ours);
		if (ours && keeper_end(h, STOP_WAIT_MS, &info) == 0)
			(void)signal_keeper(h, SIGKILL, ours);
		if (ours)
			while (wait_keeper(h, &info, 0) < 0 && errno == EINTR)
				;
	}
	if (h->pidfd >= 0)
		close(h->pidfd);
	if (h->from_helper.fd >= 0)
		close(h->from_helper.fd);
	np_line_reader_wipe(&h->from_helper);
	sodium_memzero(h->line, sizeof h->line);
	np_helper_init(h);
}
