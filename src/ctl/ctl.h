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

#include "common/config.h"
#include "common/helper_proc.h"
#include "common/protocol.h"

#define CTL_PROGRAM "nextpayctl"

enum ctl_exit {
	CTL_EXIT_OK = 0,
	CTL_EXIT_FAILED = 1,
	CTL_EXIT_USAGE = 2,
};

/* ---- command line ---- */

/* One "--name VALUE" (or "--name=VALUE") option a command accepts. */
struct ctl_option {
	const char *name;    /* with the dashes: "--config" */
	const char **value;  /* set to the argument; NULL until given */
};

enum ctl_parse_result {
	CTL_PARSED,
	CTL_WANTS_HELP,  /* --help or -h: print the command's help, exit 0 */
	CTL_BAD_USAGE,   /* a message is already on stderr: exit 2 */
};

/*
 * Parses argv[1..argc) of one command (argv[0] names it, as "check" or
 * "cache purge"): the options in opts, "--help", "--" and at most
 * max_operands other words, stored in operands.
 */
enum ctl_parse_result ctl_parse_args(int argc, char **argv, const struct ctl_option *opts,
                                     size_t n_opts, const char **operands, size_t max_operands,
                                     size_t *n_operands);

/* Reports a usage error of command on stderr, with where to find help; returns 2. */
int ctl_usage_error(const char *command, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prints an error for a person on stderr, sanitised; returns 1. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- settings ---- */

/*
 * Loads the settings as the module would with "config=PATH" (path NULL: the
 * default file, which may be absent).  A relative path is taken from the
 * current directory.  Returns 0, or -1 with err set.
 */
int ctl_load_config(struct np_config *cfg, const char *path, char *err, size_t err_size);

/* Makes path absolute against the current directory (no symlinks resolved). */
int ctl_absolute_path(const char *path, char *out, size_t out_size);

/* ---- talking to nextpay-helper ---- */

/*
 * Terminal signals (SIGINT, SIGTERM, SIGHUP, SIGQUIT) are blocked while the
 * helper runs and collected between waits, so that Ctrl-C ends the wait and
 * np_helper_stop() kills and reaps the helper instead of leaving it behind.
 */
struct ctl_signals {
	sigset_t watched;
	sigset_t saved_mask;
	bool blocked;
};

void ctl_signals_block(struct ctl_signals *s);
void ctl_signals_restore(struct ctl_signals *s);

enum ctl_wait {
	CTL_WAIT_MESSAGE,      /* m holds a decoded message */
	CTL_WAIT_TIMEOUT,
	CTL_WAIT_INTERRUPTED,  /* a watched signal arrived */
	CTL_WAIT_BROKEN,       /* the helper is gone or broke the protocol: err says how */
};

/* Waits at most timeout_ms for one message, watching for the signals in s. */
enum ctl_wait ctl_helper_wait(struct np_helper *h, const struct ctl_signals *s, int timeout_ms,
                              struct np_msg *m, char *err, size_t err_size);

/*
 * Starts cfg->helper, sends it cfg's network settings and waits for ready.
 * Returns CTL_WAIT_MESSAGE with m->type NP_MSG_READY or NP_MSG_FAILURE (the
 * helper refused the settings), or another ctl_wait with err set.  Call
 * np_helper_stop() in every case.
 */
enum ctl_wait ctl_helper_begin(struct np_helper *h, const struct ctl_signals *s,
                               const struct np_config *cfg, struct np_msg *m, char *err,
                               size_t err_size);

/* ---- the commands: each gets argv from its own name on ---- */

int ctl_keygen(int argc, char **argv);
int ctl_check(int argc, char **argv);
int ctl_login(int argc, char **argv);
int ctl_cache(int argc, char **argv);

#endif
