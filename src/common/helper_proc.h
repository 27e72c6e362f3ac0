/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Running nextpay-helper from inside a host process (sshd, sudo, login).
 *
 * The helper gets an empty environment, a pipe on stdin and one on stdout,
 * /dev/null on stderr and no other descriptors, in a session (and process
 * group) of its own so terminal signals meant for the host do not reach it.
 *
 * The host's signals are never touched: the helper raises no SIGCHLD in it,
 * the host's wait(), waitpid(-1) and waitid(P_ALL) never see it, and the
 * host's SIGCHLD disposition, mask and pending signals stay as they are (a
 * host that ignores SIGCHLD gets no zombie).  A process that execs always
 * reports its end with SIGCHLD, so the helper is not the host's child: the
 * module starts a keeper with clone3 (CLONE_PIDFD, exit signal 0; Linux 5.3),
 * a copy of the host that never execs and so keeps exit signal 0, seen only
 * by __WALL or __WCLONE waits.  The keeper leaves the host's session, closes
 * every descriptor it inherited, starts the helper as its own ordinary child,
 * takes its SIGCHLD, and ends as the helper ended.  Where clone3 answers
 * ENOSYS (an older kernel, or a seccomp filter such as a container
 * runtime's), the older clone system call is used with the same settings;
 * any other failure to start is an error (the sign-in fails).  The calling
 * thread blocks every signal for the instant of the clone, as posix_spawn
 * does, so no handler of the host's runs in the copy; its mask is restored
 * at once.
 *
 * The keeper is held by the pidfd clone gives (Linux 5.2; by pid before),
 * so no signal meant for it can reach a process that later got its pid, and
 * reaped with waitid(P_PIDFD, ..., __WALL) (Linux 5.4; by pid before).  To
 * end the helper the module sends the keeper SIGTERM: the keeper kills the
 * helper's process group while the helper is unreaped (so the group's id is
 * still the helper's), reaps it and ends; after a second without that, the
 * keeper is killed.  When the helper ends by itself the keeper does the same.
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
	pid_t pid;       /* the keeper's, which is the host's child (the helper is the keeper's) */
	int pidfd;       /* the keeper's; -1 before Linux 5.2, whose clone gives none */
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

/*
 * Has the keeper kill the helper and its process group and reap it, reaps
 * the keeper, closes the pipes, wipes buffers.
 */
void np_helper_stop(struct np_helper *h);

#endif
