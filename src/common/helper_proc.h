/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Running nextpay-helper from inside a host process (sshd, sudo, login).
 *
 * The helper gets an empty environment, a pipe on stdin and one on stdout,
 * /dev/null on stderr and no other descriptors, in a session (and process
 * group) of its own so terminal signals meant for the host do not reach it.
 *
 * The host's signals are never touched.  The helper is a "clone child" whose
 * exit signal is 0: started with clone3 (CLONE_PIDFD, exit signal 0; Linux
 * 5.3), or, where clone3 answers ENOSYS (an older kernel, or a seccomp filter
 * such as a container runtime's), with the older clone system call and the
 * same two settings.  Its end raises no SIGCHLD in the host, whatever the
 * host's disposition, and the host's wait(), waitpid(-1) and waitid(P_ALL)
 * never see it (only __WALL or __WCLONE waits do); so the host's SIGCHLD
 * disposition, mask and pending signals stay as they are, and a host that
 * ignores SIGCHLD gets no zombie.  It is held by the pidfd clone gives
 * (Linux 5.2; none before: then by pid), so that no signal meant for it can
 * reach a process that later got its pid, and reaped with
 * waitid(P_PIDFD, ..., __WALL) (Linux 5.4; by pid before).  Ending it kills
 * its whole process group too, before it is reaped (while its pid, and so the
 * group's id, cannot be anybody else's): nothing it started survives.
 * SIGPIPE is blocked for the calling thread around each write to the helper,
 * and one the write raised is taken back, so a dead helper cannot kill the
 * host.
 */
#ifndef NP_HELPER_PROC_H
#define NP_HELPER_PROC_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/lineio.h"
#include "common/protocol.h"

struct np_helper {
	pid_t pid;
	int pidfd;       /* -1 before Linux 5.2, whose clone gives none */
	int to_helper;   /* helper's stdin */
	struct np_line_reader from_helper;
	char line[NP_LINE_MAX];
};

void np_helper_init(struct np_helper *h);

/*
 * Starts the helper binary at path after checking it is a regular file owned
 * by root (or the effective user) and writable by nobody else.  Returns 0, or
 * -1 with err set.  Call np_helper_stop() in either case.
 */
int np_helper_start(struct np_helper *h, const char *path, char *err, size_t err_size);

/* Sends one message.  Returns 0 or -1. */
int np_helper_send(struct np_helper *h, const struct np_msg *m);

enum np_helper_recv_status {
	NP_RECV_OK = 0,
	NP_RECV_TIMEOUT,
	NP_RECV_GONE,     /* the helper exited or closed its end; err says how it ended */
	NP_RECV_BROKEN,   /* it sent something outside the protocol */
};

/* Waits at most timeout_ms (-1 forever, 0 poll) for one message. */
enum np_helper_recv_status np_helper_recv(struct np_helper *h, int timeout_ms,
                                          struct np_msg *m, char *err, size_t err_size);

/* Kills the helper and its process group, reaps it, closes the pipes, wipes buffers. */
void np_helper_stop(struct np_helper *h);

#endif
