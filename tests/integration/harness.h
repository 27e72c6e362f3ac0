/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Integration test harness: the real module through the real libpam
 * (pam_wrapper), the real helper, and the HTTPS mock API.
 *
 * tests/run-tests.sh prepares NP_TEST_DIR with the PAM services of
 * tests/fixtures/pam.d/, which load the module with
 * config=$NP_TEST_DIR/conf/current.conf; each test writes
 * that file, sets the mock up, runs pam_authenticate and asserts on the
 * return code and on every message the person saw.
 */
#ifndef NP_TEST_HARNESS_H
#define NP_TEST_HARNESS_H

#include <security/pam_appl.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "../mock/mock_client.h"

#define MAX_SEEN 16
#define MAX_ANSWERS 8

/* What the conversation did: every message, in order. */
struct seen {
	int count;
	int style[MAX_SEEN];
	char text[MAX_SEEN][PAM_MAX_MSG_SIZE * 2];
};

struct script {
	const char *answers[MAX_ANSWERS]; /* echo-off prompts; NULL = no answer (NULL resp) */
	int delay_ms[MAX_ANSWERS];        /* wait before answering prompt i */
	bool fail;                        /* the conversation itself fails */
	int prompts_answered;
	struct seen seen;
	/*
	 * run_auth_on_handle() only: called with msg NULL once before
	 * pam_authenticate, then for every message, with the handle.
	 */
	void (*on_message)(struct script *script, pam_handle_t *pamh, const struct pam_message *msg);
	pam_handle_t *pamh;
};

const char *test_dir(void);
const char *test_account(void); /* the account running the tests */

void write_file(const char *path, const char *text, mode_t mode);

/*
 * Writes conf/current.conf: sane settings for the mock m (api_url, ca_file,
 * usermap, helper, poll_interval = 1, cache = no, log = syslog), each replaced
 * when overrides ("key = value" lines) names the same key.
 */
void write_config(const struct mock *m, const char *overrides);

/* Writes the identity map. */
void write_usermap(const char *text);

/*
 * Starts tests/mock/nextpay_mock.py (NP_MOCK) as a child in NP_TEST_DIR/name,
 * with extra arguments, and waits until it answers (mock_client.h).  0 or -1.
 */
int mock_start(struct mock *m, const char *name, const char *const *extra_args);
/* SIGTERM to the mock, and waits for it. */
void mock_stop(struct mock *m);

/* ---- what the suites do to their mock; a refusal fails the test ---- */

/* Forgets codes, faults, counters and configuration, and writes the standard config for m. */
void reset_mock(const struct mock *m);
/* The mock decides every code by itself: action ("approve", "deny") as user, after seconds. */
void mock_auto(const struct mock *m, const char *action, const char *user, double after);
/* Sets the mock's configuration (JSON as /_mock/config takes it). */
void mock_configure(const struct mock *m, const char *json);
/* Queues a fault (JSON as /_mock/fault takes it). */
void mock_fault(const struct mock *m, const char *json);

/*
 * A fresh cache key at path: 32 random bytes, exactly mode, replacing what was
 * there.  0, or -1 with why on stderr.
 */
int write_cache_key(const char *path, mode_t mode);
/*
 * Cache on for m's config, in NP_TEST_DIR/NAME with a fresh key
 * NP_TEST_DIR/conf/NAME.key (both removed first), and extra settings.
 */
void write_cache_config(const struct mock *m, const char *name, const char *extra);

/* Runs pam_authenticate for user on service with the scripted conversation; returns its code. */
int run_auth(const char *service, const char *user, struct script *script, int flags);

/*
 * Like run_auth, on a handle of its own (pam_start, pam_authenticate,
 * pam_end) so that script->on_message can act on it as an application
 * might: change PAM_USER, PAM_RHOST ... in the middle of the conversation.
 */
int run_auth_on_handle(const char *service, const char *user, struct script *script, int flags);

/*
 * For script->on_message with run_auth_on_handle(): on the first message the
 * application sets PAM_USER to user_to_set (libpam frees the old string).
 */
extern const char *user_to_set;
void switch_user(struct script *script, pam_handle_t *pamh, const struct pam_message *msg);

/* A TCP port on 127.0.0.1 that nothing listens on (free a moment ago): an API that is down. */
int refused_port(void);

/* How many entries a cache directory holds (names not starting with '.'); 0 if it is not there. */
int cache_entry_count(const char *dir);

/* Two pam_authenticate calls on one handle, as sudo makes after a failure. */
int run_auth_twice(const char *service, const char *user, struct script *script, int expect,
                   int rcs[2]);

/* Asserts a PAM code; on a mismatch shows first what the person saw. */
void expect_rc(int got, int want, const struct script *s);

/* What the module logged in the last run_logged(). */
#define LOG_TEXT_MAX 65536
extern char log_text[LOG_TEXT_MAX];

/* run_auth(), with what the module logged into log_text (log_capture_begin() and _end()). */
int run_logged(const char *service, const char *user, struct script *s, int flags);

/* A test's set-up and tear-down that print how long it took (cmocka fixtures). */
int start_timer(void **state);
int report_time(void **state);

/*
 * The reference the last message seen ends with ("...\nReference: K7QX-2M4D"),
 * "K7QX-2M4D" into out (at least 10 bytes); false when it ends with none, or
 * with one that is not 4 + 4 characters of Crockford's base32.
 */
bool seen_reference(const struct seen *seen, char *out, size_t out_size);

/* Whether any message seen contains needle / any byte that is a control character but \n. */
bool seen_contains(const struct seen *seen, const char *needle);
bool seen_has_control_chars(const struct seen *seen);
void seen_dump(const struct seen *seen);

long long now_ms(void);

/* ---- Added for the hardening suites (hostile, host_safety, faults, load) ---- */

/*
 * Whether text holds anything a terminal could act on or that reads other than
 * it is: C0 controls but \n, DEL, C1 controls (U+0080..U+009F), format
 * characters (Cf: bidirectional controls, zero-width characters, tags ...),
 * U+2028/U+2029, variation selectors, or bytes that are not well-formed UTF-8.
 */
bool text_has_unsafe(const char *text);
bool seen_has_unsafe_text(const struct seen *seen);

/* Child processes of this one (zombies too) but except; up to max pids into pids (may be NULL). */
int child_processes(pid_t except, pid_t *pids, int max);

/*
 * The helper of the one sign-in running in this process, or -1 unless there
 * is exactly one: the module starts it through a keeper process of its own
 * (src/common/helper_proc.c), so it is the one child of this process's one
 * child but except.
 */
pid_t running_helper(pid_t except);

/* Descriptors open in this process, ascending, up to max; returns how many. */
int open_fds(int *fds, int max);
/* VmRSS of this process in KiB, or -1. */
long vm_rss_kib(void);

/*
 * Programs the tests start that do not need pam_wrapper (a shell, openssl,
 * python, the mock API) start without it: every process that loads
 * pam_wrapper makes a /tmp/pam.X copy of the services, one of 62 names for the
 * whole machine, and leaves it behind unless it exits normally (a shell that
 * execs its last command, a killed process).  Each runs with this environment
 * minus LD_PRELOAD and PAM_WRAPPER*, stdin from /dev/null; never use system()
 * or popen() in a test.
 *
 * run_command() runs argv (argv[0] a full path) and waits; with out non-NULL,
 * its standard output goes there (NUL-terminated, cut at out_size - 1 bytes).
 * run_shell() and run_shell_output() do the same for "/bin/sh -c" with a
 * printf-style command line.  Each returns the exit status, 128 + the signal
 * that ended it, or -1 if it could not run.
 */
int run_command(const char *const argv[], char *out, size_t out_size);
/* Waits for the child pid: its exit status, 128 + the signal that ended it, or -1. */
int exit_status_of(pid_t pid);
int run_shell(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int run_shell_output(char *out, size_t out_size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * Starts argv the same way without waiting, quiet (stdout and stderr to
 * /dev/null); it gets SIGTERM if the thread that started it ends first.
 */
pid_t start_command(const char *const argv[]);

/*
 * Captures what the module logs with pam_syslog() during one sign-in, without
 * touching /dev/log (which a shared machine's other processes depend on):
 * pam_wrapper prints pam_syslog() messages on stderr at PAM_WRAPPER_DEBUGLEVEL
 * 2 and up, so log_capture_begin() points stderr at a file in the test
 * directory and raises that level; log_capture_end() puts both back and
 * returns the "SYSLOG(priority): message" lines, one per line.  Between the
 * two, this process's own stderr output lands in the file too (and is
 * dropped): print diagnostics after log_capture_end().
 */
void log_capture_begin(void);
size_t log_capture_end(char *out, size_t out_size);

/*
 * The module's outcome line (the one with "account=") in captured log text,
 * into line; false when there is none.
 */
bool log_outcome_line(const char *log, char *line, size_t line_size);
/*
 * The value of key="..." in a log line, unescaped (\" \\ \xHH) into out; false
 * when the key is not there as a quoted field, or appears twice.
 */
bool log_field(const char *line, const char *key, char *out, size_t out_size);

#endif
