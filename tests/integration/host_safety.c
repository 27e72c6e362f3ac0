/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The module as a guest in a long-lived host process (sshd's monitor, a
 * display manager, a screen locker): many pam_start / pam_authenticate /
 * pam_end cycles in one process, libpam loading and unloading the module each
 * time, with a conversation of our own.  Afterwards the host must find
 * everything as it was: descriptors, children, memory, signal dispositions
 * and mask, environment, and the rest of its process state.
 *
 * Most cycles take a path that starts the helper and ends in milliseconds:
 * the helper cannot read its CA bundle and reports a configuration failure
 * (PAM_SERVICE_ERR) before any network traffic, which would cost time here and
 * happens in the helper, not in the host.  Every 20th cycle is a full approval
 * (prompt mode, approved before the code is shown and Enter at once: the
 * answer comes with the first scheduled poll, then /auth/me), and a few more
 * approvals go through poll mode.  The same runs with the host ignoring
 * SIGCHLD, with SIGCHLD and SIGTERM blocked, and with SA_NOCLDWAIT.
 *
 * SIGCHLD stays the host's alone: the helper raises none in it, its waits
 * never see the helper, and its disposition, mask and pending signals are
 * never changed, for a handler, SIG_IGN, a blocked SIGCHLD, a waitpid(-1) in
 * another thread, two sign-ins at once, and a host whose seccomp filter
 * refuses clone3 (as container runtimes' default filters do).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <seccomp.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

extern char **environ;

#define MAX_FDS 512
#define APPROVE_EVERY 20
#define RSS_MARGIN_KIB 2048

static struct mock api;

/* ---- the host's own signal handlers: they must never run on the module's account ---- */

static volatile sig_atomic_t host_sigchld, host_sigpipe, host_other;

static void on_sigchld(int sig)
{
	(void)sig;
	host_sigchld++;
}

static void on_sigpipe(int sig)
{
	(void)sig;
	host_sigpipe++;
}

static void on_other(int sig, siginfo_t *info, void *context)
{
	(void)sig;
	(void)info;
	(void)context;
	host_other++;
}

/* ---- the host's state ---- */

struct host_state {
	struct sigaction act[NSIG];
	sigset_t mask;
	char *env[512];
	int env_count;
	mode_t umask_value;
	char cwd[PATH_MAX];
	struct rlimit core, nofile, fsize;
	int dumpable;
	int no_new_privs;
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;
	gid_t groups[64];
	int ngroups;
	pid_t sid, pgid;
	char comm[32];
	int nice_value;
	struct itimerval real_timer;
	int fds[MAX_FDS];
	int nfds;
};

static void capture(struct host_state *st)
{
	memset(st, 0, sizeof *st);
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, NULL, &st->act[sig]);
	sigprocmask(SIG_BLOCK, NULL, &st->mask);
	for (char **e = environ; *e != NULL && st->env_count < 512; e++)
		st->env[st->env_count++] = strdup(*e);
	st->umask_value = umask(022);
	umask(st->umask_value);
	if (getcwd(st->cwd, sizeof st->cwd) == NULL)
		st->cwd[0] = '\0';
	getrlimit(RLIMIT_CORE, &st->core);
	getrlimit(RLIMIT_NOFILE, &st->nofile);
	getrlimit(RLIMIT_FSIZE, &st->fsize);
	st->dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	st->no_new_privs = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	getresuid(&st->ruid, &st->euid, &st->suid);
	getresgid(&st->rgid, &st->egid, &st->sgid);
	st->ngroups = getgroups(64, st->groups);
	st->sid = getsid(0);
	st->pgid = getpgrp();
	prctl(PR_GET_NAME, st->comm, 0, 0, 0);
	errno = 0;
	st->nice_value = getpriority(PRIO_PROCESS, 0);
	getitimer(ITIMER_REAL, &st->real_timer);
	st->nfds = open_fds(st->fds, MAX_FDS);
}

static void release(struct host_state *st)
{
	for (int i = 0; i < st->env_count; i++)
		free(st->env[i]);
	st->env_count = 0;
}

static bool same_action(const struct sigaction *a, const struct sigaction *b)
{
	if (a->sa_handler != b->sa_handler || a->sa_flags != b->sa_flags)
		return false;
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&a->sa_mask, sig) != sigismember(&b->sa_mask, sig))
			return false;
	return true;
}

static void show_fds(const char *label, const struct host_state *st)
{
	fprintf(stderr, "  %s:", label);
	for (int i = 0; i < st->nfds; i++) {
		char path[64], target[256] = "";
		ssize_t n;

		snprintf(path, sizeof path, "/proc/self/fd/%d", st->fds[i]);
		n = readlink(path, target, sizeof target - 1);
		target[n > 0 ? n : 0] = '\0';
		fprintf(stderr, " %d=%s", st->fds[i], target);
	}
	fprintf(stderr, "\n");
}

/* Returns how many things differ, each reported on stderr. */
static int differences(const struct host_state *a, const struct host_state *b)
{
	int n = 0;

#define DIFF(cond, ...)                                \
	do {                                           \
		if (cond) {                            \
			fprintf(stderr, "changed: " __VA_ARGS__); \
			fprintf(stderr, "\n");         \
			n++;                           \
		}                                      \
	} while (0)

	for (int sig = 1; sig < NSIG; sig++)
		DIFF(!same_action(&a->act[sig], &b->act[sig]), "disposition of signal %d (%s)", sig,
		     strsignal(sig));
	for (int sig = 1; sig < NSIG; sig++)
		DIFF(sigismember(&a->mask, sig) != sigismember(&b->mask, sig),
		     "signal %d (%s) %s in the mask", sig, strsignal(sig),
		     sigismember(&b->mask, sig) ? "now" : "no longer");
	DIFF(a->env_count != b->env_count, "environment: %d variables, now %d", a->env_count,
	     b->env_count);
	for (int i = 0; i < a->env_count && i < b->env_count; i++)
		DIFF(strcmp(a->env[i], b->env[i]) != 0, "environment entry %d: %s -> %s", i, a->env[i],
		     b->env[i]);
	DIFF(a->umask_value != b->umask_value, "umask %03o -> %03o", a->umask_value, b->umask_value);
	DIFF(strcmp(a->cwd, b->cwd) != 0, "cwd %s -> %s", a->cwd, b->cwd);
	DIFF(a->core.rlim_cur != b->core.rlim_cur || a->core.rlim_max != b->core.rlim_max,
	     "RLIMIT_CORE");
	DIFF(a->nofile.rlim_cur != b->nofile.rlim_cur || a->nofile.rlim_max != b->nofile.rlim_max,
	     "RLIMIT_NOFILE");
	DIFF(a->fsize.rlim_cur != b->fsize.rlim_cur, "RLIMIT_FSIZE");
	DIFF(a->dumpable != b->dumpable, "dumpable %d -> %d", a->dumpable, b->dumpable);
	DIFF(a->no_new_privs != b->no_new_privs, "no_new_privs %d -> %d", a->no_new_privs,
	     b->no_new_privs);
	DIFF(a->ruid != b->ruid || a->euid != b->euid || a->suid != b->suid, "uids");
	DIFF(a->rgid != b->rgid || a->egid != b->egid || a->sgid != b->sgid, "gids");
	DIFF(a->ngroups != b->ngroups ||
	         memcmp(a->groups, b->groups, sizeof a->groups[0] * (size_t)(a->ngroups > 0 ? a->ngroups : 0)) != 0,
	     "supplementary groups");
	DIFF(a->sid != b->sid || a->pgid != b->pgid, "session or process group");
	DIFF(strcmp(a->comm, b->comm) != 0, "process name %s -> %s", a->comm, b->comm);
	DIFF(a->nice_value != b->nice_value, "nice %d -> %d", a->nice_value, b->nice_value);
	DIFF(a->real_timer.it_value.tv_sec != b->real_timer.it_value.tv_sec ||
	         a->real_timer.it_interval.tv_sec != b->real_timer.it_interval.tv_sec,
	     "ITIMER_REAL");
	DIFF(a->nfds != b->nfds || memcmp(a->fds, b->fds, sizeof a->fds[0] * (size_t)a->nfds) != 0,
	     "open descriptors: %d -> %d", a->nfds, b->nfds);
	if (a->nfds != b->nfds) {
		show_fds("before", a);
		show_fds("after", b);
	}
#undef DIFF
	return n;
}

/* ---- one cycle, with a conversation of our own ---- */

struct conv_data {
	int messages;
	int prompts;
	bool unsafe;
};

static int host_conv(int num_msg, const struct pam_message **msg, struct pam_response **resp,
                     void *appdata)
{
	struct conv_data *d = appdata;
	struct pam_response *replies = calloc((size_t)num_msg, sizeof *replies);

	if (replies == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < num_msg; i++) {
		d->messages++;
		if (text_has_unsafe(msg[i]->msg))
			d->unsafe = true;
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
			d->prompts++;
			replies[i].resp = strdup("");
		}
	}
	*resp = replies;
	return PAM_SUCCESS;
}

static int cycle(const char *service)
{
	struct conv_data data = { 0 };
	struct pam_conv conv = { host_conv, &data };
	pam_handle_t *pamh = NULL;
	int rc = pam_start(service, test_account(), &conv, &pamh);

	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "pam_start: %s\n", pam_strerror(NULL, rc));
		return -1;
	}
	rc = pam_authenticate(pamh, 0);
	pam_end(pamh, rc);
	assert_false(data.unsafe);
	return rc;
}

static void expect_cycle(const char *service, int want, int i)
{
	int rc = cycle(service);

	if (rc != want)
		fprintf(stderr, "cycle %d on %s: expected %s, got %s\n", i, service,
		        pam_strerror(NULL, want), rc < 0 ? "pam_start failure" : pam_strerror(NULL, rc));
	assert_int_equal(rc, want);
}

static void no_children_left(int i)
{
	pid_t pids[8];
	int n = child_processes(api.pid, pids, 8);

	if (n != 0)
		fprintf(stderr, "after cycle %d: %d child process(es) left, first %ld\n", i, n,
		        (long)pids[0]);
	assert_int_equal(n, 0);
}

/* The helper starts, fails to read its CA bundle and says so: no network, no mock. */
static void helper_fails_fast(void)
{
	write_config(&api, "ca_file = /nonexistent/np-ca.pem\n");
}

/* The mock approves every code at once (set once, in group_setup). */
static void api_approves(void)
{
	write_config(&api, NULL);
}

/*
 * cycles sign-ins (every APPROVE_EVERY-th an approval), then poll_approvals
 * in poll mode; checks the host state against the one after a warm-up.
 */
static void run_host(const char *label, int cycles, int poll_approvals)
{
	struct host_state *before = calloc(1, sizeof *before);
	struct host_state *pristine = calloc(1, sizeof *pristine);
	struct host_state *after = calloc(1, sizeof *after);
	long rss_early = -1, rss_late;
	long long start = now_ms(), fast_ms = 0, approve_ms = 0;
	int fast = 0, approvals = 0;

	assert_non_null(before);
	assert_non_null(pristine);
	assert_non_null(after);
	capture(pristine);
	/* Warm-up: whatever libc or libpam set up once for good (syslog's socket ...). */
	api_approves();
	expect_cycle("np-prompt", PAM_SUCCESS, 0);
	helper_fails_fast();
	expect_cycle("np-poll", PAM_SERVICE_ERR, 0);
	host_sigchld = host_sigpipe = host_other = 0;
	capture(before);
	if (differences(pristine, before) != 0)
		fprintf(stderr, "%s: (the first cycle changed the above for good)\n", label);
	for (int i = 1; i <= cycles; i++) {
		long long t = now_ms();

		if (i % APPROVE_EVERY == 0) {
			api_approves();
			expect_cycle("np-prompt", PAM_SUCCESS, i);
			helper_fails_fast();
			approve_ms += now_ms() - t;
			approvals++;
		} else {
			expect_cycle("np-poll", PAM_SERVICE_ERR, i);
			fast_ms += now_ms() - t;
			fast++;
		}
		no_children_left(i);
		if (i == cycles / 10)
			rss_early = vm_rss_kib();
	}
	rss_late = vm_rss_kib();
	api_approves();
	for (int i = 0; i < poll_approvals; i++) {
		expect_cycle("np-poll", PAM_SUCCESS, cycles + 1 + i);
		no_children_left(cycles + 1 + i);
	}
	capture(after);
	fprintf(stderr,
	        "%s: %d cycles in %lld ms (%d failing fast, %.1f ms each; %d approvals, %.1f ms "
	        "each; %d in poll mode); VmRSS %ld KiB after cycle %d, %ld KiB after cycle %d\n",
	        label, cycles + poll_approvals, now_ms() - start, fast,
	        fast > 0 ? (double)fast_ms / fast : 0.0, approvals,
	        approvals > 0 ? (double)approve_ms / approvals : 0.0, poll_approvals, rss_early,
	        cycles / 10, rss_late, cycles);
	assert_int_equal(differences(before, after), 0);
	assert_true(rss_early > 0 && rss_late > 0);
	assert_true(rss_late - rss_early <= RSS_MARGIN_KIB);
	assert_int_equal(host_sigpipe, 0);
	assert_int_equal(host_other, 0);
	release(pristine);
	release(before);
	release(after);
	free(pristine);
	free(before);
	free(after);
}

/* ---- the hosts ---- */

static bool sigchld_pending(void)
{
	sigset_t pending;

	sigpending(&pending);
	return sigismember(&pending, SIGCHLD) == 1;
}


static struct sigaction saved[NSIG];
static sigset_t saved_mask;

static int save_host(void **state)
{
	(void)state;
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, NULL, &saved[sig]);
	sigprocmask(SIG_BLOCK, NULL, &saved_mask);
	return 0;
}

static int restore_host(void **state)
{
	sigset_t pipe_only, pending;
	const struct timespec now = { 0, 0 };

	(void)state;
	/* A SIGPIPE a failed test left pending must be reported, not kill the test run. */
	sigemptyset(&pipe_only);
	sigaddset(&pipe_only, SIGPIPE);
	if (sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1)
		sigtimedwait(&pipe_only, NULL, &now);
	sigprocmask(SIG_SETMASK, &saved_mask, NULL);
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			sigaction(sig, &saved[sig], NULL);
	return 0;
}

/* Handlers a daemon might have: with flags and masks, so a sloppy restore shows. */
static void install_host_handlers(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGHUP);
	assert_int_equal(sigaction(SIGCHLD, &sa, NULL), 0);
	sa.sa_handler = on_sigpipe;
	sa.sa_flags = 0;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGPIPE, &sa, NULL), 0);
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_other;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2);
	assert_int_equal(sigaction(SIGINT, &sa, NULL), 0);
	assert_int_equal(sigaction(SIGTERM, &sa, NULL), 0);
	assert_int_equal(sigaction(SIGHUP, &sa, NULL), 0);
	signal(SIGUSR1, SIG_IGN);
	signal(SIGALRM, SIG_IGN);
}

static void host_with_handlers(void **state)
{
	(void)state;
	install_host_handlers();
	run_host("host with handlers", 1000, 3);
	/* No helper (nor what starts it) ever raised SIGCHLD in the host. */
	assert_int_equal(host_sigchld, 0);
}

static void host_ignoring_sigchld(void **state)
{
	(void)state;
	install_host_handlers();
	signal(SIGCHLD, SIG_IGN);
	run_host("host ignoring SIGCHLD", 200, 1);
}

static void host_blocking_sigchld_and_sigterm(void **state)
{
	sigset_t block;

	(void)state;
	install_host_handlers();
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	sigaddset(&block, SIGTERM);
	assert_int_equal(sigprocmask(SIG_BLOCK, &block, NULL), 0);
	run_host("host blocking SIGCHLD and SIGTERM", 200, 1);
	/* None was raised for a helper: a pending SIGCHLD would send the host looking for a child. */
	assert_false(sigchld_pending());
}

static void host_with_nocldwait(void **state)
{
	struct sigaction sa;

	(void)state;
	install_host_handlers();
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigchld;
	sa.sa_flags = SA_RESTART | SA_NOCLDWAIT;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGCHLD, &sa, NULL), 0);
	run_host("host with SA_NOCLDWAIT", 200, 0);
}

/* ---- a host that blocks SIGPIPE, and a helper that is gone when the module writes ---- */

/* Kills the helper at the instructions' prompt; false if that could not be done. */
static bool kill_helper_at_prompt(int num_msg, const struct pam_message **msg)
{
	for (int i = 0; i < num_msg; i++) {
		pid_t keeper, helper = running_helper(api.pid);
		siginfo_t info;

		if (msg[i]->msg_style != PAM_PROMPT_ECHO_OFF || strstr(msg[i]->msg, "approve code") == NULL)
			continue;
		/*
		 * Dead for sure before Enter: its keeper (this process's clone child,
		 * seen only with __WALL) has reaped it and ended, unreaped itself.
		 */
		if (helper < 0 || child_processes(api.pid, &keeper, 1) != 1 ||
		    kill(helper, SIGKILL) != 0 ||
		    waitid(P_PID, (id_t)keeper, &info, WEXITED | WNOWAIT | __WALL) != 0)
			return false;
	}
	return true;
}

static int killing_conv(int num_msg, const struct pam_message **msg, struct pam_response **resp,
                        void *appdata)
{
	/* No assert in here: it would jump out through libpam. */
	if (!kill_helper_at_prompt(num_msg, msg))
		return PAM_CONV_ERR;
	return host_conv(num_msg, msg, resp, appdata);
}

static int sign_in_helper_dies(void)
{
	struct conv_data data = { 0 };
	struct pam_conv conv = { killing_conv, &data };
	pam_handle_t *pamh = NULL;
	int rc;

	assert_int_equal(pam_start("np-prompt", test_account(), &conv, &pamh), PAM_SUCCESS);
	rc = pam_authenticate(pamh, 0);
	pam_end(pamh, rc);
	no_children_left(0);
	return rc;
}

static bool sigpipe_pending(void)
{
	sigset_t pending;

	sigpending(&pending);
	return sigismember(&pending, SIGPIPE) == 1;
}

static void host_blocking_sigpipe(void **state)
{
	sigset_t block;

	(void)state;
	/*
	 * Enter is written to a helper that has died: EPIPE.  With SIGPIPE blocked
	 * the signal would stay pending past the module's SIG_IGN, and kill the
	 * host (default action) the moment it unblocks SIGPIPE.
	 */
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&block);
	sigaddset(&block, SIGPIPE);
	assert_int_equal(sigprocmask(SIG_BLOCK, &block, NULL), 0);
	api_approves();
	assert_false(sigpipe_pending());
	assert_int_equal(sign_in_helper_dies(), PAM_AUTHINFO_UNAVAIL);
	assert_false(sigpipe_pending());
	/* A SIGPIPE of the host's own, pending before, is still its own afterwards. */
	assert_int_equal(raise(SIGPIPE), 0);
	assert_true(sigpipe_pending());
	assert_int_equal(sign_in_helper_dies(), PAM_AUTHINFO_UNAVAIL);
	assert_true(sigpipe_pending());
	{
		struct timespec zero = { 0, 0 };

		assert_int_equal(sigtimedwait(&block, NULL, &zero), SIGPIPE);
	}
	assert_false(sigpipe_pending());
}

/*
 * A host that blocks SIGCHLD to take it with sigwait() or a signalfd (and so
 * leaves its disposition at SIG_DFL): when one of its own children exits
 * before or while the module runs, the SIGCHLD must still be pending after,
 * or the host never learns of that exit.  (POSIX: setting SIG_DFL or SIG_IGN
 * for SIGCHLD discards a pending one.)
 */
static pid_t own_child(int exit_after_ms)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		usleep((useconds_t)exit_after_ms * 1000);
		_exit(7);
	}
	return pid;
}

static void take_sigchld_and_reap(pid_t pid)
{
	sigset_t chld;
	const struct timespec wait_up_to = { 5, 0 };
	int status = 0;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	assert_int_equal(sigtimedwait(&chld, NULL, &wait_up_to), SIGCHLD);
	assert_int_equal(waitpid(pid, &status, WNOHANG), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 7);
}

static void own_child_exits_around_a_sign_in(const char *label, const char *service,
                                             int exit_after_ms)
{
	pid_t pid;
	sigset_t chld;
	const struct timespec now = { 0, 0 };
	siginfo_t info;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	while (sigtimedwait(&chld, NULL, &now) > 0)
		;
	pid = own_child(exit_after_ms);
	if (exit_after_ms == 0) {
		/* Gone before the sign-in starts: its SIGCHLD is pending already. */
		assert_int_equal(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT), 0);
		assert_true(sigchld_pending());
	}
	fprintf(stderr, "  %s\n", label);
	{
		struct conv_data data = { 0 };
		struct pam_conv conv = { host_conv, &data };
		pam_handle_t *pamh = NULL;
		int rc;

		assert_int_equal(pam_start(service, test_account(), &conv, &pamh), PAM_SUCCESS);
		rc = pam_authenticate(pamh, 0);
		pam_end(pamh, rc);
		assert_int_equal(rc, PAM_SUCCESS);
	}
	/* Our own child is ours to reap, and the module left it for us. */
	assert_int_equal(waitid(P_PID, (id_t)pid, &info, WEXITED | WNOWAIT), 0);
	if (!sigchld_pending())
		fprintf(stderr, "  the SIGCHLD for the host's own child %ld was lost\n", (long)pid);
	assert_true(sigchld_pending());
	take_sigchld_and_reap(pid);
}

static void host_waiting_for_sigchld_keeps_it(void **state)
{
	sigset_t block;

	(void)state;
	signal(SIGCHLD, SIG_DFL);
	sigemptyset(&block);
	sigaddset(&block, SIGCHLD);
	assert_int_equal(sigprocmask(SIG_BLOCK, &block, NULL), 0);
	api_approves();
	own_child_exits_around_a_sign_in("child exits before the sign-in", "np-prompt", 0);
	own_child_exits_around_a_sign_in("child exits during the sign-in (poll mode, ~1 s)",
	                                 "np-poll", 300);
	/* The same with a handler that cannot run while blocked. */
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_sigchld;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		assert_int_equal(sigaction(SIGCHLD, &sa, NULL), 0);
	}
	own_child_exits_around_a_sign_in("child exits before the sign-in, host has a handler",
	                                 "np-prompt", 0);
}

/* ---- the host's SIGCHLD is its own ---- */

/* What a SA_SIGINFO handler of the host saw: how many SIGCHLD, and the last sender. */
static volatile sig_atomic_t chld_count, chld_last_pid;

static void count_sigchld(int sig, siginfo_t *info, void *context)
{
	(void)sig;
	(void)context;
	chld_count++;
	chld_last_pid = info->si_pid;
}

/* The counter as the host's SIGCHLD handler, from zero; 0, or -1 (no cmocka: copies use it). */
static int count_sigchld_from_now(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = count_sigchld;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	chld_count = chld_last_pid = 0;
	return sigaction(SIGCHLD, &sa, NULL);
}

static void install_sigchld_counter(void)
{
	assert_int_equal(count_sigchld_from_now(), 0);
}

/* One sign-in on service, approved in poll mode (about a second); its code. */
static int approved_sign_in(const char *service)
{
	api_approves();
	return cycle(service);
}

/* A child of the host's own exits 300 ms into a sign-in: its handler hears of that alone. */
static void host_handler_hears_its_own_child_only(void **state)
{
	pid_t own;
	int status = 0;

	(void)state;
	install_sigchld_counter();
	api_approves();
	own = own_child(300);
	expect_cycle("np-poll", PAM_SUCCESS, 1);
	for (long long until = now_ms() + 2000; chld_count == 0 && now_ms() < until;)
		usleep(10000);
	if (chld_count != 1 || chld_last_pid != own)
		fprintf(stderr, "  the host's handler ran %d time(s), last for pid %ld; its child is %ld\n",
		        (int)chld_count, (long)chld_last_pid, (long)own);
	assert_int_equal(chld_count, 1);
	assert_int_equal(chld_last_pid, own);
	assert_int_equal(waitpid(own, &status, WNOHANG), own);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 7);
	/* And a sign-in alone, a failing one too, is never heard of. */
	expect_cycle("np-poll", PAM_SUCCESS, 2);
	helper_fails_fast();
	expect_cycle("np-poll", PAM_SERVICE_ERR, 3);
	usleep(100000);
	assert_int_equal(chld_count, 1);
}

/* SIGCHLD ignored: the kernel reaps the host's own child; nothing is left behind. */
static void host_ignoring_sigchld_keeps_no_zombie(void **state)
{
	pid_t own;
	int status;

	(void)state;
	assert_true(signal(SIGCHLD, SIG_IGN) != SIG_ERR);
	api_approves();
	own = own_child(300);
	expect_cycle("np-poll", PAM_SUCCESS, 1);
	usleep(100000);
	/* Gone, not a zombie: no child is left at all, the helper's side included. */
	no_children_left(1);
	errno = 0;
	assert_int_equal(waitpid(own, &status, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

/* Watches SIGCHLD's disposition from another thread while the main thread signs in. */
struct disposition_watch {
	atomic_bool stop;
	void (*expected)(int, siginfo_t *, void *);
	int looks, others;
};

static void *watch_disposition(void *arg)
{
	struct disposition_watch *w = arg;

	while (!atomic_load(&w->stop)) {
		struct sigaction now;

		if (sigaction(SIGCHLD, NULL, &now) == 0 && now.sa_sigaction != w->expected)
			w->others++;
		w->looks++;
		usleep(200);
	}
	return NULL;
}

static void disposition_seen_from_another_thread_is_the_hosts(void **state)
{
	struct disposition_watch w = { .expected = count_sigchld };
	pthread_t thread;

	(void)state;
	install_sigchld_counter();
	assert_int_equal(pthread_create(&thread, NULL, watch_disposition, &w), 0);
	assert_int_equal(approved_sign_in("np-poll"), PAM_SUCCESS);
	atomic_store(&w.stop, true);
	pthread_join(thread, NULL);
	if (w.others != 0)
		fprintf(stderr, "  another disposition than the host's, %d of %d looks\n", w.others,
		        w.looks);
	assert_true(w.looks > 100);
	assert_int_equal(w.others, 0);
	assert_int_equal(chld_count, 0);
}

struct overlapping {
	int start_after_ms;
	int rc;
};

static void *sign_in_later(void *arg)
{
	struct overlapping *o = arg;

	usleep((useconds_t)o->start_after_ms * 1000);
	o->rc = cycle("np-poll");
	return NULL;
}

/*
 * Two sign-ins at once in two threads, the second started 300 ms after the
 * first and so ending after it: neither touches what the other relies on.
 */
static void two_sign_ins_in_two_threads(void **state)
{
	struct overlapping first = { 0, -1 }, second = { 300, -1 };
	pthread_t a, b;
	struct sigaction after;

	(void)state;
	install_sigchld_counter();
	api_approves();
	assert_int_equal(pthread_create(&a, NULL, sign_in_later, &first), 0);
	assert_int_equal(pthread_create(&b, NULL, sign_in_later, &second), 0);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	assert_int_equal(first.rc, PAM_SUCCESS);
	assert_int_equal(second.rc, PAM_SUCCESS);
	usleep(100000);
	assert_int_equal(sigaction(SIGCHLD, NULL, &after), 0);
	assert_true(after.sa_sigaction == count_sigchld);
	assert_int_equal(chld_count, 0);
	no_children_left(2);
}

/*
 * A fresh copy of this program as a host of its own (see main), whose only
 * children are the module's, told where this suite's mock is: its exit status
 * says how it went.
 */
static const char *self_path;

#define HOST_WAITING "--host-with-a-thread-in-waitpid"
#define HOST_WITHOUT_CLONE3 "--host-whose-seccomp-filter-refuses-clone3"

static int run_host_copy(const char *mode)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return 125;
	if (pid == 0) {
		execl(self_path, self_path, mode, api.dir, (char *)NULL);
		_exit(127);
	}
	return exit_status_of(pid);
}

/*
 * In a copy: an approval, then a helper that fails at once (a CA file it
 * cannot read); 0 when they came out so, else 101 with why on stderr.
 */
static int two_sign_ins_in_a_copy(const char *host)
{
	int approved, failed;

	api_approves();
	approved = cycle("np-poll");
	helper_fails_fast();
	failed = cycle("np-poll");
	if (approved == PAM_SUCCESS && failed == PAM_SERVICE_ERR)
		return 0;
	fprintf(stderr, "  %s: sign-ins %d and %d\n", host, approved, failed);
	return 101;
}

/* A thread of the host's that reaps whatever child of its has ended, as daemons do. */
struct reaper {
	atomic_bool stop;
	int saw, reaped;
	pid_t first_reaped;
};

static void *reap_any_child(void *arg)
{
	struct reaper *r = arg;

	while (!atomic_load(&r->stop)) {
		int status;
		pid_t got = waitpid(-1, &status, WNOHANG);

		/* 0: a child it may wait for is running; ECHILD: it has none at all. */
		if (got >= 0)
			r->saw++;
		if (got > 0 && r->reaped++ == 0)
			r->first_reaped = got;
		usleep(500);
	}
	return NULL;
}

/* In the copy: no cmocka, the exit status is the answer. */
static int host_with_a_thread_in_waitpid(void)
{
	struct reaper r = { .first_reaped = 0 };
	pthread_t thread;
	int rc;

	if (pthread_create(&thread, NULL, reap_any_child, &r) != 0)
		return 120;
	rc = two_sign_ins_in_a_copy("with a thread in waitpid");
	atomic_store(&r.stop, true);
	pthread_join(thread, NULL);
	if (rc != 0)
		return rc;
	if (r.saw != 0 || r.reaped != 0) {
		fprintf(stderr, "  the host's waitpid(-1) saw a child %d time(s) and reaped %d (first %ld)\n",
		        r.saw, r.reaped, (long)r.first_reaped);
		return 102;
	}
	return 0;
}

static void host_waiting_in_another_thread_never_sees_the_helper(void **state)
{
	(void)state;
	api_approves();
	assert_int_equal(run_host_copy(HOST_WAITING), 0);
}

/*
 * In the copy: a seccomp filter that answers clone3 with ENOSYS, as a
 * container runtime's default does; the module falls back to the older clone,
 * with the same guarantees.
 */
static int host_whose_filter_refuses_clone3(void)
{
	scmp_filter_ctx filter = seccomp_init(SCMP_ACT_ALLOW);
	int rc;

	if (filter == NULL ||
	    seccomp_rule_add(filter, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0) != 0 ||
	    seccomp_load(filter) != 0)
		return 120;
	seccomp_release(filter);
	errno = 0;
	if (syscall(SYS_clone3, NULL, 0) != -1 || errno != ENOSYS)
		return 121;
	if (count_sigchld_from_now() != 0)
		return 122;
	rc = two_sign_ins_in_a_copy("without clone3");
	usleep(100000);
	if (rc == 0 && (chld_count != 0 || child_processes(-1, NULL, 0) != 0)) {
		fprintf(stderr, "  without clone3: %d SIGCHLD, %d children left\n", (int)chld_count,
		        child_processes(-1, NULL, 0));
		rc = 102;
	}
	return rc;
}

static void host_without_clone3(void **state)
{
	(void)state;
	api_approves();
	assert_int_equal(run_host_copy(HOST_WITHOUT_CLONE3), 0);
}

static int group_setup(void **state)
{
	char usermap[512];

	(void)state;
	if (mock_start(&api, "mock-host", NULL) != 0)
		return -1;
	snprintf(usermap, sizeof usermap, "usr_alice %s\n", test_account());
	write_usermap(usermap);
	write_config(&api, NULL);
	assert_int_equal(mock_post(&api, "config",
	                           "{\"auto\": {\"action\": \"approve\", \"user\": \"usr_alice\", "
	                           "\"after\": 0}}"),
	                 200);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	mock_stop(&api);
	return 0;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, save_host, restore_host)

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		T(host_with_handlers),
		T(host_ignoring_sigchld),
		T(host_blocking_sigchld_and_sigterm),
		T(host_with_nocldwait),
		T(host_blocking_sigpipe),
		T(host_waiting_for_sigchld_keeps_it),
		T(host_handler_hears_its_own_child_only),
		T(host_ignoring_sigchld_keeps_no_zombie),
		T(disposition_seen_from_another_thread_is_the_hosts),
		T(two_sign_ins_in_two_threads),
		T(host_waiting_in_another_thread_never_sees_the_helper),
		T(host_without_clone3),
	};

	self_path = argv[0];
	if (argc == 3) {
		/* A copy as a host of its own: the suite's mock is running already. */
		mock_at(&api, argv[2]);
		if (mock_wait_ready(&api, 10000) != 0)
			return 119;
		if (strcmp(argv[1], HOST_WAITING) == 0)
			return host_with_a_thread_in_waitpid();
		if (strcmp(argv[1], HOST_WITHOUT_CLONE3) == 0)
			return host_whose_filter_refuses_clone3();
	}
	if (argc != 1) {
		fprintf(stderr, "usage: %s\n", argv[0]);
		return 2;
	}
	/* NP_TEST_FILTER=name (cmocka's wildcards) runs just those tests. */
	if (getenv("NP_TEST_FILTER") != NULL && getenv("NP_TEST_FILTER")[0] != '\0')
		cmocka_set_test_filter(getenv("NP_TEST_FILTER"));
	return cmocka_run_group_tests_name("host_safety", tests, group_setup, group_teardown);
}
