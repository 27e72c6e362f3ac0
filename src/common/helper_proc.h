/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Running nextpay-helper from inside a host process (sshd, sudo, login).
 *
 * The helper gets an empty environment, a pipe on stdin and one on stdout,
 * /dev/null on stderr and no other descriptors, in a session (and process
 * group) of its own so terminal signals meant for the host do not reach it.
 * It is held by a pidfd where the kernel has them (Linux 5.3), so that no
 * signal meant for it can reach a process that later got its pid.  Ending it
 * kills its whole process group too, before it is reaped (while its pid, and
 * so the group's id, cannot be anybody else's): nothing it started survives.
 *
 * While it runs, a host that ignores SIGCHLD (or sets SA_NOCLDWAIT), or whose
 * SIGCHLD handler could run, has SIGCHLD set to the default (so the child can
 * be reaped, and the host's handler never hears of it); np_helper_stop()
 * restores it.  A host at SIG_DFL, or blocking SIGCHLD, is left alone:
 * changing the disposition would discard a SIGCHLD it has pending for a child
 * of its own.  SIGPIPE is blocked around each write to the helper, and one
 * the write raised is taken back, so a dead helper cannot kill the host.
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
	int pidfd;       /* -1 where the kernel has no pidfd_open() */
	int to_helper;   /* helper's stdin */
	struct np_line_reader from_helper;
	char line[NP_LINE_MAX];
	struct sigaction saved_chld;
	bool signals_saved;  /* saved_chld holds the host's SIGCHLD action, to restore */
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
 * Kills the helper and its process group, reaps it, closes the pipes, wipes
 * buffers, restores signals.
 */
void np_helper_stop(struct np_helper *h);

#endif
