/* SPDX-License-Identifier: BSD-2-Clause */
#include "helper/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * What the helper does once it runs, found with strace -f on real sign-ins
 * (an IPv4 and an IPv6 address, a host name from /etc/hosts and one from DNS,
 * an explicit proxy, ca_file and the system trust store) and grouped by
 * purpose.  Calls whose arguments say what they may reach are allowed below
 * with conditions instead.
 */
static const int allowed[] = {
	/* the pipes to the module, files already open, time */
	SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(close),
	SCMP_SYS(lseek), SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx),
	SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(select), SCMP_SYS(pselect6),
	SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(time),
	SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep), SCMP_SYS(getrandom), SCMP_SYS(uname),
	/* memory: malloc, sodium_malloc's guarded and locked pages, OpenSSL */
	SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(mprotect),
	SCMP_SYS(madvise), SCMP_SYS(mlock), SCMP_SYS(munlock),
	/* libcurl's resolver thread, and locks between threads */
	SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(sched_yield),
	SCMP_SYS(getpid), SCMP_SYS(gettid),
	/* signals: glibc's own (thread set-up, abort) */
	SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn),
	SCMP_SYS(restart_syscall),
	/* sockets, once made (which ones may be made is decided below) */
	SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
	SCMP_SYS(getsockopt), SCMP_SYS(setsockopt), SCMP_SYS(sendto), SCMP_SYS(recvfrom),
	SCMP_SYS(sendmsg), SCMP_SYS(recvmsg), SCMP_SYS(sendmmsg), SCMP_SYS(recvmmsg),
	SCMP_SYS(shutdown),
	SCMP_SYS(exit), SCMP_SYS(exit_group),
};

/*
 * valgrind cannot run a program under a seccomp filter: it does not implement
 * the call, and its own system calls would meet the filter.  make
 * check-valgrind memchecks the helper, so under valgrind (and only there) the
 * filter is left out.  RUNNING_ON_VALGRIND is an instruction sequence that
 * does nothing on a real processor: no environment, file or caller can make
 * it true.  Built without valgrind's header, the helper does not know and
 * fails closed under valgrind like anywhere seccomp is missing.
 */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef UNDER_VALGRIND
#define UNDER_VALGRIND() 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZER_BUILD 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZER_BUILD 1
#endif
#endif

#ifdef SANITIZER_BUILD
/* What the sanitizer runtime itself calls to report (seen with strace), in test builds only. */
static const int allowed_for_sanitizers[] = {
	SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(mkdir), SCMP_SYS(readlink), SCMP_SYS(readlinkat),
	SCMP_SYS(ioctl), SCMP_SYS(fcntl), SCMP_SYS(pipe2), SCMP_SYS(dup2), SCMP_SYS(dup3),
	SCMP_SYS(sched_getaffinity), SCMP_SYS(sigaltstack), SCMP_SYS(prctl), SCMP_SYS(getppid),
	SCMP_SYS(clone), SCMP_SYS(execve), SCMP_SYS(wait4), SCMP_SYS(ptrace), SCMP_SYS(getdents),
	SCMP_SYS(getdents64),
	SCMP_SYS(kill), SCMP_SYS(tgkill),
};
#endif

bool np_sandbox_relaxed_for_sanitizers(void)
{
#ifdef SANITIZER_BUILD
	return true;
#else
	return false;
#endif
}

/* Address families the helper may open sockets in: the API, DNS, nscd, routing info. */
static const int families[] = { AF_INET, AF_INET6, AF_UNIX, AF_NETLINK };

/* fcntl commands: non-blocking sockets and close-on-exec. */
static const int fcntl_commands[] = { F_GETFL, F_SETFL, F_GETFD, F_SETFD };

/* ioctl requests: bytes waiting (the resolver), non-blocking mode. */
static const unsigned long ioctl_requests[] = { FIONREAD, FIONBIO };

static int allow_list(scmp_filter_ctx ctx, const int *calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		/* A negative number is a call this architecture does not have. */
		if (calls[i] >= 0 && seccomp_rule_add(ctx, SCMP_ACT_ALLOW, calls[i], 0) != 0)
			return -1;
	}
	return 0;
}

static int allow_each(scmp_filter_ctx ctx)
{
#ifdef SANITIZER_BUILD
	if (allow_list(ctx, allowed_for_sanitizers,
	               sizeof allowed_for_sanitizers / sizeof allowed_for_sanitizers[0]) != 0)
		return -1;
#endif
	return allow_list(ctx, allowed, sizeof allowed / sizeof allowed[0]);
}

static int allow_with_arguments(scmp_filter_ctx ctx)
{
	const scmp_datum_t pid = (scmp_datum_t)getpid();
	int rc = 0;

	/* Files are read, never written or made: the mask covers O_TMPFILE too. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(openat), 1,
	                       SCMP_A2(SCMP_CMP_MASKED_EQ, O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY));
	for (size_t i = 0; i < sizeof families / sizeof families[0]; i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1,
		                       SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)families[i]));
	/* libcurl's wake-up channel for its resolver thread. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socketpair), 1,
	                       SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	for (size_t i = 0; i < sizeof fcntl_commands / sizeof fcntl_commands[0]; i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(fcntl), 1,
		                       SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)fcntl_commands[i]));
	for (size_t i = 0; i < sizeof ioctl_requests / sizeof ioctl_requests[0]; i++)
		rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 1,
		                       SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)ioctl_requests[i]));
	/* New threads only: a new process could leave the helper's process group. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1,
	                       SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD));
	/* clone3's flags sit behind a pointer no filter can read: glibc falls back to clone. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	/* abort() signals the process itself, and nobody else. */
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(tgkill), 1, SCMP_A0(SCMP_CMP_EQ, pid));
	rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(kill), 1, SCMP_A0(SCMP_CMP_EQ, pid));
	return rc == 0 ? 0 : -1;
}

int np_sandbox_enter(char *err, size_t err_size)
{
	scmp_filter_ctx ctx;
	int rc;

	if (UNDER_VALGRIND())
		return 0;
	ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (ctx == NULL) {
		snprintf(err, err_size, "cannot build the system call filter");
		return -1;
	}
	if (allow_each(ctx) != 0 || allow_with_arguments(ctx) != 0) {
		seccomp_release(ctx);
		snprintf(err, err_size, "cannot build the system call filter");
		return -1;
	}
	/* libseccomp sets no_new_privs first, as the kernel requires of an unprivileged process. */
	rc = seccomp_load(ctx);
	seccomp_release(ctx);
	if (rc != 0) {
		snprintf(err, err_size, "cannot install the system call filter: %s", strerror(-rc));
		return -1;
	}
	return 0;
}
