/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * nextpayctl, the administrator's tool: what its commands share.
 *
 * Exit codes are part of the interface, so scripts can rely on them: 0 when
 * the command did what was asked (or everything checked passed), 1 when it
 * did not, 2 for a usage error, 3 when log or metrics find no journal.
 */
#ifndef NP_CTL_H
#define NP_CTL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-journal.h>

#include "common/client.h"
#include "common/config.h"
#include "common/events.h"

#define NP_CTL_PROGRAM "nextpayctl"

enum np_ctl_exit {
	NP_CTL_EXIT_OK = 0,
	NP_CTL_EXIT_FAILED = 1,
	NP_CTL_EXIT_USAGE = 2,
	NP_CTL_EXIT_NO_JOURNAL = 3,
};

/* ---- command line ---- */

/* One "--name VALUE" (or "--name=VALUE") option a command accepts. */
struct np_ctl_option {
	const char *name;    /* with the dashes: "--config" */
	const char **value;  /* set to the argument; NULL until given */
};

/* One "--name" option without a value a command accepts. */
struct np_ctl_flag {
	const char *name;    /* with the dashes: "--expired" */
	bool *given;         /* set to true when given */
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

/* The same, for a command that also takes the n_flags options without a value in flags. */
int np_ctl_parse_args_and_flags(int argc, char **argv, const struct np_ctl_syntax *syntax,
                                const struct np_ctl_flag *flags, size_t n_flags,
                                size_t *n_operands);

/* Reports a usage error of command on stderr, with where to find help; returns 2. */
int np_ctl_usage_error(const char *command, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Prints an error for a person on stderr, sanitised; returns 1. */
int np_ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A value for a whitespace-separated column: sanitised, blanks as '_', "-" when empty. */
const char *np_ctl_column(const char *value, char *buf, size_t buf_size);
/* Unix time t as local ISO 8601 ("2026-12-01T09:30:00+0100"); "-" for none. */
const char *np_ctl_time_text(int64_t t, char *buf, size_t buf_size);

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
 * How many auth lines of the files in pam_dir (/etc/pam.d) load pam_nextpay.so
 * with the configuration file config_path (an absolute path; a line without
 * config= uses the default file).  first gets "FILE:LINE" of the first one
 * found, or "".
 */
unsigned np_ctl_stacks_using(const char *pam_dir, const char *config_path, char *first,
                             size_t first_size);

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

/* ---- nextpayctl check ---- */

/* Where the PAM stacks are (nextpayctl check --pam-dir changes it). */
#define NP_CTL_PAM_DIR "/etc/pam.d"

/* How check_stacks.c hands check.c one finding: "ok:" or "warning:", and a fix or NULL. */
typedef void np_ctl_finding_fn(void *ctx, bool warning, const char *fix, const char *text);

/*
 * The display managers' stacks in pam_dir (lightdm, gdm-password, sddm ...)
 * that load the module, each with the wait mode it gets there: wait = prompt
 * (on the module line, or from its configuration file) is a warning, as a
 * greeter shows a prompt's text to nobody.
 */
void np_ctl_check_greeter_stacks(const char *pam_dir, np_ctl_finding_fn *report, void *ctx);

/* ---- the module's events in the journal (nextpayctl log, metrics) ---- */

/* The longest value of a field kept from an entry (an account is at most 256 bytes). */
#define NP_CTL_VALUE_MAX 260

/* One event read back: its type and fields, and who wrote it (journald's own fields). */
struct np_ctl_event {
	const struct np_event_type *type;
	uint64_t usec;                          /* when journald received it */
	char values[NP_EV_COUNT][NP_CTL_VALUE_MAX];
	char writer_uid[16];                    /* _UID */
	char writer_exe[NP_CTL_VALUE_MAX];      /* _EXE */
};

struct np_ctl_journal {
	sd_journal *j;
};

/*
 * Opens the local journal at the events of SYSLOG_IDENTIFIER pam_nextpay
 * (only NEXTPAY_EVENT=kind unless kind is NULL) from since_usec on (0: the
 * oldest), of this boot only if this_boot.  NP_CTL_EXIT_OK, else the exit
 * code with the reason on stderr: NP_CTL_EXIT_NO_JOURNAL when there is no
 * journal to read.
 */
int np_ctl_journal_open(struct np_ctl_journal *r, const char *kind, uint64_t since_usec,
                        bool this_boot);
/* The next event into ev: 1, 0 at the end, or a negative errno. */
int np_ctl_journal_next(struct np_ctl_journal *r, struct np_ctl_event *ev);
void np_ctl_journal_close(struct np_ctl_journal *r);

/* ---- the commands: each gets argv from its own name on ---- */

int np_ctl_keygen(int argc, char **argv);
int np_ctl_check(int argc, char **argv);
int np_ctl_login(int argc, char **argv);
int np_ctl_cache(int argc, char **argv);
int np_ctl_log(int argc, char **argv);
int np_ctl_metrics(int argc, char **argv);

#endif
