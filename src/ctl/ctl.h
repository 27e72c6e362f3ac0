/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * nextpayctl, the administrator's tool: what its commands share.
 *
 * Exit codes are part of the interface, so scripts can rely on them: 0 when
 * the command did what was asked (or everything checked passed), 1 when it
 * did not, 2 for a usage error.
 */
#ifndef NP_CTL_H
#define NP_CTL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/client.h"
#include "common/config.h"

#define NP_CTL_PROGRAM "nextpayctl"

enum np_ctl_exit {
	NP_CTL_EXIT_OK = 0,
	NP_CTL_EXIT_FAILED = 1,
	NP_CTL_EXIT_USAGE = 2,
};

/* ---- command line ---- */

/* One "--name VALUE" (or "--name=VALUE") option a command accepts. */
struct np_ctl_option {
	const char *name;    /* with the dashes: "--config" */
	const char **value;  /* set to the argument; NULL until given */
};

/* What a command takes: its help, its options, and how many other words. */
struct np_ctl_syntax {
	const char *help;               /* printed for --help or -h */
	const struct np_ctl_option *opts;
	size_t n_opts;
	const char **operands;          /* where the other words go (NULL: none taken) */
	size_t max_operands;
};

/*
 * Parses argv[1..argc) of one command (argv[0] names it, as "check" or
 * "cache purge"): the options, "--help", "--" and at most max_operands other
 * words, counted in *n_operands.  Returns -1 when the command is to run, or
 * the exit code to leave with: NP_CTL_EXIT_OK once the help is printed,
 * NP_CTL_EXIT_USAGE once a usage error is on stderr.
 */
int np_ctl_parse_args(int argc, char **argv, const struct np_ctl_syntax *syntax,
                      size_t *n_operands);

/* Reports a usage error of command on stderr, with where to find help; returns 2. */
int np_ctl_usage_error(const char *command, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prints an error for a person on stderr, sanitised; returns 1. */
int np_ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- settings ---- */

/*
 * Loads the settings as the module would with "config=PATH" (path NULL: the
 * default file, which may be absent).  A relative path is taken from the
 * current directory.  Returns 0, or -1 with err set.
 */
int np_ctl_load_config(struct np_config *cfg, const char *path, char *err, size_t err_size);

/* Makes path absolute against the current directory (no symlinks resolved). */
int np_ctl_absolute_path(const char *path, char *out, size_t out_size);

/*
 * How many auth lines of /etc/pam.d load pam_nextpay.so with the configuration
 * file config_path (an absolute path; a line without config= uses the default
 * file).  first gets "FILE:LINE" of the first one found, or "".
 */
unsigned np_ctl_stacks_using(const char *config_path, char *first, size_t first_size);

/* ---- talking to nextpay-helper, through the sign-in client ---- */

/*
 * Terminal signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT) are blocked while the
 * helper runs and collected between waits, so that Ctrl-C ends the wait and
 * np_client_stop() kills and reaps the helper instead of leaving it behind.
 */
struct np_ctl_signals {
	sigset_t watched;
	sigset_t saved_mask;
	bool blocked;
};

void np_ctl_signals_block(struct np_ctl_signals *s);
void np_ctl_signals_restore(struct np_ctl_signals *s);

/*
 * The sign-in client's way to the administrator (common/client.h):
 * information on stdout, the administrator's words for what went wrong,
 * nothing logged, and a watched signal in signals to interrupt any wait.
 */
void np_ctl_client_io(struct np_client_io *io, struct np_ctl_signals *signals);

/* ---- the commands: each gets argv from its own name on ---- */

int np_ctl_keygen(int argc, char **argv);
int np_ctl_check(int argc, char **argv);
int np_ctl_login(int argc, char **argv);
int np_ctl_cache(int argc, char **argv);

#endif
