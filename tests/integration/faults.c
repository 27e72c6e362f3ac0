/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Faults around the module: the helper killed, stopped or replaced; the helper
 * binary missing or unsafe; helper_user missing; the cache directory full or
 * read-only; the clock jumping (codes that expire in the past or far future,
 * cache entries approved "in the future"); the host short of descriptors; the
 * API vanishing mid-flow.  Each must end in a correct, logged failure (or,
 * for the cache, a success that stores nothing), in bounded time, with no
 * helper left behind.
 *
 * The module runs in this process through the real libpam (pam_wrapper),
 * with a conversation of our own that can act while the module waits.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cache.h"
#include "module/scope.h"
#include "harness.h"

#define NONE (-1)

static struct mock api;
static char mounted[1024]; /* a tmpfs this test mounted, unmounted after it whatever happens */

/* ---- set-up ---- */

static int group_setup(void **state)
{
	char usermap[512];

	(void)state;
	if (sodium_init() < 0 || mock_start(&api, "mock-faults", NULL) != 0)
		return -1;
	snprintf(usermap, sizeof usermap, "usr_alice %s\n", test_account());
	write_usermap(usermap);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	mock_stop(&api);
	return 0;
}

static int setup(void **state)
{
	start_timer(state);
	reset_mock(&api);
	mock_auto(&api, "approve", "usr_alice", 0);
	return 0;
}

static int took(void **state)
{
	if (mounted[0] != '\0') {
		if (umount2(mounted, MNT_DETACH) != 0)
			fprintf(stderr, "cannot unmount %s: %s\n", mounted, strerror(errno));
		mounted[0] = '\0';
	}
	return report_time(state);
}

static void fault(const char *json)
{
	mock_fault(&api, json);
}

/* ---- a sign-in with a conversation that can act ---- */

/* Acts on a message; false makes the conversation fail (no assert inside libpam's stack). */
typedef bool (*hook_fn)(int style, const char *text, void *arg);

struct conv_state {
	struct seen seen;
	hook_fn hook;
	void *arg;
	bool hook_failed;
};

static int hook_conv(int num_msg, const struct pam_message **msg, struct pam_response **resp,
                     void *appdata)
{
	struct conv_state *c = appdata;
	struct pam_response *replies = calloc((size_t)num_msg, sizeof *replies);

	if (replies == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < num_msg; i++) {
		if (c->seen.count < MAX_SEEN) {
			c->seen.style[c->seen.count] = msg[i]->msg_style;
			snprintf(c->seen.text[c->seen.count], sizeof c->seen.text[0], "%s", msg[i]->msg);
			c->seen.count++;
		}
		if (c->hook != NULL && !c->hook(msg[i]->msg_style, msg[i]->msg, c->arg)) {
			c->hook_failed = true;
			for (int j = 0; j < i; j++)
				free(replies[j].resp);
			free(replies);
			return PAM_CONV_ERR;
		}
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
			replies[i].resp = strdup("");
	}
	*resp = replies;
	return PAM_SUCCESS;
}

static void no_children_left(void)
{
	pid_t pids[8];
	int n = child_processes(api.pid, pids, 8);

	if (n != 0)
		fprintf(stderr, "%d child process(es) outlived pam_authenticate, first %ld\n", n,
		        (long)pids[0]);
	assert_int_equal(n, 0);
}

/*
 * Signs in on service, then checks: the code (or alt), within bound_ms, no
 * helper left, nothing unsafe shown or logged, and a log line from the module
 * that contains logged (if not NULL).
 */
static int sign_in(const char *service, hook_fn hook, void *arg, int want, int alt,
                   long long bound_ms, const char *logged, struct seen *seen_out)
{
	struct conv_state c = { .hook = hook, .arg = arg };
	struct pam_conv conv = { hook_conv, &c };
	pam_handle_t *pamh = NULL;
	long long start = now_ms(), ms;
	int rc;
	bool ok, log_ok;

	log_capture_begin();
	rc = pam_start(service, test_account(), &conv, &pamh);
	if (rc == PAM_SUCCESS) {
		rc = pam_authenticate(pamh, 0);
		pam_end(pamh, rc);
	} else {
		rc = -1;
	}
	log_capture_end(log_text, sizeof log_text);
	ms = now_ms() - start;
	no_children_left();
	log_ok = strstr(log_text, "SYSLOG(") != NULL && !text_has_unsafe(log_text) &&
	         (logged == NULL || strstr(log_text, logged) != NULL);
	ok = (rc == want || (alt != NONE && rc == alt)) && ms <= bound_ms &&
	     !seen_has_unsafe_text(&c.seen) && log_ok && !c.hook_failed;
	if (!ok || getenv("NP_TEST_VERBOSE") != NULL) {
		fprintf(stderr, "expected %s%s%s within %lld ms%s%s; got %s after %lld ms\n",
		        pam_strerror(NULL, want), alt != NONE ? " or " : "",
		        alt != NONE ? pam_strerror(NULL, alt) : "", bound_ms,
		        logged != NULL ? ", logging " : "", logged != NULL ? logged : "",
		        pam_strerror(NULL, rc), ms);
		seen_dump(&c.seen);
		fprintf(stderr, "the log:\n%s", log_text);
		if (c.hook_failed)
			fprintf(stderr, "the conversation's action failed\n");
	}
	assert_true(ok);
	if (seen_out != NULL)
		*seen_out = c.seen;
	return rc;
}

/* ---- the helper killed, stopped, or dying before the code ---- */

/* The one helper running, or -1. */
static pid_t the_helper(void)
{
	return running_helper(api.pid);
}

static bool signal_helper_on(int style, const char *text, void *arg)
{
	int sig = *(int *)arg;
	pid_t helper;

	/* The instructions: as a prompt in prompt mode, as information in poll mode. */
	if ((style != PAM_PROMPT_ECHO_OFF && style != PAM_TEXT_INFO) ||
	    strstr(text, "approve code") == NULL)
		return true;
	helper = the_helper();
	return helper > 0 && kill(helper, sig) == 0;
}

static void helper_killed_at_the_prompt(void **state)
{
	int sig = SIGKILL;

	(void)state;
	/* Killed while the person reads the prompt, then Enter. */
	mock_configure(&api, "{\"auto\": null}");
	sign_in("np-prompt", signal_helper_on, &sig, PAM_AUTHINFO_UNAVAIL, NONE, 5000, "helper",
	        NULL);
}

static void helper_killed_while_polling(void **state)
{
	int sig = SIGTERM;

	(void)state;
	mock_configure(&api, "{\"auto\": null}");
	sign_in("np-poll", signal_helper_on, &sig, PAM_AUTHINFO_UNAVAIL, NONE, 5000, "helper", NULL);
}

static void helper_stopped_while_polling(void **state)
{
	int sig = SIGSTOP;
	struct seen seen;

	(void)state;
	/* A hung helper: the code's lifetime (3 s) still ends the wait; the helper is reaped. */
	mock_configure(&api, "{\"auto\": null, \"code_ttl\": 3}");
	sign_in("np-poll", signal_helper_on, &sig, PAM_AUTH_ERR, PAM_AUTHINFO_UNAVAIL, 6000, NULL,
	        &seen);
	/* expires_at is whole seconds: 3 s from now is shown as 3 or 4. */
	assert_true(seen_contains(&seen, "valid for 3 seconds") ||
	            seen_contains(&seen, "valid for 4 seconds"));
}

struct delayed_kill {
	int delay_ms;
	pid_t killed;
};

static void *kill_helper_later(void *arg)
{
	struct delayed_kill *k = arg;
	long long until = now_ms() + 5000;
	pid_t helper;

	/* Wait for the helper to appear, then a little longer. */
	while (now_ms() < until && the_helper() < 0)
		usleep(5000);
	usleep((useconds_t)k->delay_ms * 1000);
	helper = the_helper();
	if (helper > 0 && kill(helper, SIGKILL) == 0)
		k->killed = helper;
	return NULL;
}

static void helper_killed_before_the_code(void **state)
{
	struct delayed_kill k = { .delay_ms = 300 };
	pthread_t thread;

	(void)state;
	/* The API takes 5 s to make a code; the helper dies while waiting for it. */
	fault("{\"endpoint\": \"create\", \"kind\": \"slow\", \"delay\": 5}");
	assert_int_equal(pthread_create(&thread, NULL, kill_helper_later, &k), 0);
	sign_in("np-poll", NULL, NULL, PAM_AUTHINFO_UNAVAIL, NONE, 3000, "helper", NULL);
	pthread_join(thread, NULL);
	assert_true(k.killed > 0);
}

/* ---- Enter pressed at the prompt ---- */

struct enter_presses {
	int delay_ms;            /* before each answer */
	int prompts;
	long long last_answer_ms;
};

static bool press_enter(int style, const char *text, void *arg)
{
	struct enter_presses *e = arg;

	(void)text;
	if (style != PAM_PROMPT_ECHO_OFF)
		return true;
	if (e->delay_ms > 0)
		usleep((useconds_t)e->delay_ms * 1000);
	e->prompts++;
	e->last_answer_ms = now_ms();
	return true;
}

static void enter_storm_keeps_to_the_poll_schedule(void **state)
{
	struct enter_presses e = { 0 };
	long long start = now_ms(), polls, allowed;

	(void)state;
	/*
	 * Empty answers as fast as the conversation can give them, for 5 s until
	 * the approval: the polls follow poll_interval (2 s), not the keyboard.
	 */
	write_config(&api, "poll_interval = 2\n");
	mock_auto(&api, "approve", "usr_alice", 5);
	sign_in("np-prompt", press_enter, &e, PAM_SUCCESS, NONE, 10000, NULL, NULL);
	polls = mock_count(&api, "poll");
	allowed = (now_ms() - start) / 2000 + 1;
	fprintf(stderr, "  %d Enter presses, %lld polls in %lld ms\n", e.prompts, polls,
	        now_ms() - start);
	assert_true(e.prompts >= 2);
	assert_true(polls >= 2 && polls <= allowed);
}

static void enter_after_approval_answers_at_once(void **state)
{
	struct enter_presses e = { .delay_ms = 4500 };
	long long answered_in;

	(void)state;
	/*
	 * Approved at once, seen by the first scheduled poll (3 s): the helper
	 * sends the identity unasked, so Enter at 4.5 s finds it waiting and does
	 * not wait for the next poll (6 s).
	 */
	write_config(&api, "poll_interval = 3\n");
	sign_in("np-prompt", press_enter, &e, PAM_SUCCESS, NONE, 8000, NULL, NULL);
	answered_in = now_ms() - e.last_answer_ms;
	fprintf(stderr, "  answered %lld ms after Enter\n", answered_in);
	assert_int_equal(e.prompts, 1);
	assert_true(answered_in < 1000);
	assert_int_equal(mock_count(&api, "poll"), 1);
}

/* ---- the helper binary ---- */

static void helper_at(const char *name, char *out, size_t out_size)
{
	snprintf(out, out_size, "%s/helpers/%s", test_dir(), name);
}

/* A copy of src at helpers/name with mode. */
static void install_copy(const char *src, const char *name, mode_t mode, char *path,
                         size_t path_size)
{
	helper_at(name, path, path_size);
	assert_int_equal(run_shell("mkdir -p %s/helpers && rm -rf %s && cp %s %s && chmod %o %s",
	                           test_dir(), path, src, path, (unsigned)mode, path),
	                 0);
}

static void use_helper(const char *path)
{
	char overrides[1200];

	snprintf(overrides, sizeof overrides, "helper = %s\n", path);
	write_config(&api, overrides);
}

/* ---- the helper seen from outside, and how it ends ---- */

struct helper_view {
	char status[8192];
	char environ[4096];
	ssize_t environ_len; /* -1: not readable (the helper is not dumpable, we are not root) */
};

/* Reads path into out (NUL-terminated); the number of bytes, or -1. */
static ssize_t read_proc(const char *path, char *out, size_t out_size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	out[0] = '\0';
	if (fd < 0)
		return -1;
	n = read(fd, out, out_size - 1);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	return n;
}

static bool look_at_helper_on(int style, const char *text, void *arg)
{
	struct helper_view *v = arg;
	char path[64];
	pid_t helper;

	if (style != PAM_TEXT_INFO || strstr(text, "approve code") == NULL)
		return true;
	helper = the_helper();
	if (helper <= 0)
		return false;
	snprintf(path, sizeof path, "/proc/%ld/status", (long)helper);
	if (read_proc(path, v->status, sizeof v->status) <= 0)
		return false;
	snprintf(path, sizeof path, "/proc/%ld/environ", (long)helper);
	v->environ_len = read_proc(path, v->environ, sizeof v->environ);
	return true;
}

/* The value of one "Name:\tvalue" line of /proc/PID/status, or "" when it is missing. */
static const char *status_field(const char *status, const char *name, char *out, size_t size)
{
	char key[64];
	const char *at;

	snprintf(key, sizeof key, "\n%s:", name);
	out[0] = '\0';
	at = strstr(status, key);
	if (at != NULL) {
		at += strlen(key);
		at += strspn(at, " \t");
		snprintf(out, size, "%.*s", (int)strcspn(at, "\n"), at);
		/* Groups: ends in a space. */
		while (out[0] != '\0' && out[strlen(out) - 1] == ' ')
			out[strlen(out) - 1] = '\0';
	}
	return out;
}

static void helper_seen_from_outside(void **state)
{
	struct helper_view v = { .environ_len = -1 };
	gid_t saved[64], extra[] = { 0, 4, 27 };
	int n_saved = getgroups(64, saved);
	char value[256], want[128];
	static const char *const caps[] = { "CapInh", "CapPrm", "CapEff", "CapAmb" };
	bool root = geteuid() == 0;
	struct passwd *nobody = getpwnam("nobody");

	(void)state;
	assert_true(n_saved >= 0);
	assert_non_null(nobody);
	/* Groups of our own for the helper to inherit, if it did not drop them. */
	if (root)
		assert_int_equal(setgroups(3, extra), 0);
	sign_in("np-poll", look_at_helper_on, &v, PAM_SUCCESS, NONE, 8000, NULL, NULL);
	if (root)
		assert_int_equal(setgroups((size_t)n_saved, saved), 0);
	assert_string_equal(status_field(v.status, "Seccomp", value, sizeof value), "2");
	assert_string_equal(status_field(v.status, "NoNewPrivs", value, sizeof value), "1");
	for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++)
		assert_string_equal(status_field(v.status, caps[i], value, sizeof value),
		                    "0000000000000000");
	if (!root) {
		fprintf(stderr, "  (bounding set, groups, ids and environment: checked as root only, "
		                "where the helper drops privileges)\n");
		return;
	}
	assert_string_equal(status_field(v.status, "CapBnd", value, sizeof value), "0000000000000000");
	snprintf(want, sizeof want, "%ld", (long)nobody->pw_gid);
	assert_string_equal(status_field(v.status, "Groups", value, sizeof value), want);
	snprintf(want, sizeof want, "%ld\t%ld\t%ld\t%ld", (long)nobody->pw_uid,
	         (long)nobody->pw_uid, (long)nobody->pw_uid, (long)nobody->pw_uid);
	assert_string_equal(status_field(v.status, "Uid", value, sizeof value), want);
	snprintf(want, sizeof want, "%ld\t%ld\t%ld\t%ld", (long)nobody->pw_gid,
	         (long)nobody->pw_gid, (long)nobody->pw_gid, (long)nobody->pw_gid);
	assert_string_equal(status_field(v.status, "Gid", value, sizeof value), want);
	/* What it was started with: nothing at all (root may read a process that is not dumpable). */
	assert_int_equal(v.environ_len, 0);
}

static void helper_killed_by_sigsys(void **state)
{
	int sig = SIGSYS;

	(void)state;
	/* What the kernel does to a helper that makes a system call outside its filter. */
	mock_configure(&api, "{\"auto\": null}");
	sign_in("np-poll", signal_helper_on, &sig, PAM_AUTHINFO_UNAVAIL, NONE, 5000, "SIGSYS", NULL);
}

/* The state letter of /proc/PID/stat, or 0 when there is no such process. */
static char process_state(pid_t pid)
{
	char path[64], stat_line[512];
	const char *after_name;

	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if (read_proc(path, stat_line, sizeof stat_line) <= 0 ||
	    (after_name = strrchr(stat_line, ')')) == NULL)
		return 0;
	return after_name[2];
}

static void nothing_the_helper_started_survives(void **state)
{
	char path[1024], pid_path[1100], text[64] = "";
	pid_t grandchild;
	char st = 'R';

	(void)state;
	/* A fake helper that leaves a process behind which ignores every signal it may. */
	install_copy(getenv("NP_FAKE_HELPER"), "grandchild", 0755, path, sizeof path);
	snprintf(pid_path, sizeof pid_path, "%s/helpers/grandchild.pid", test_dir());
	unlink(pid_path);
	use_helper(path);
	sign_in("np-poll", NULL, NULL, PAM_AUTHINFO_UNAVAIL, NONE, 5000, "fake helper", NULL);
	assert_true(read_proc(pid_path, text, sizeof text) > 0);
	grandchild = (pid_t)atol(text);
	assert_true(grandchild > 1);
	/* Killed with its process group; whoever adopted it reaps it soon. */
	for (long long until = now_ms() + 3000; now_ms() < until; usleep(20000)) {
		st = process_state(grandchild);
		if (st == 0 || st == 'Z' || st == 'X')
			break;
	}
	if (st != 0 && st != 'Z' && st != 'X') {
		fprintf(stderr, "process %ld, started by the helper, is still running (state %c)\n",
		        (long)grandchild, st);
		kill(grandchild, SIGKILL);
	}
	assert_true(st == 0 || st == 'Z' || st == 'X');
}

static void helper_sending_a_malformed_identity(void **state)
{
	static const struct {
		const char *fake;
		const char *logged;
	} fakes[] = {
		{ "bad-user-id", "broke the protocol: invalid field \\\"user_id\\\"" },
		{ "bad-email", "broke the protocol: invalid field \\\"email\\\"" },
	};
	char path[1024];

	(void)state;
	/* The module checks what the helper says with the same rules as the helper the API. */
	for (size_t i = 0; i < sizeof fakes / sizeof fakes[0]; i++) {
		install_copy(getenv("NP_FAKE_HELPER"), fakes[i].fake, 0755, path, sizeof path);
		use_helper(path);
		fprintf(stderr, "  helper %s\n", fakes[i].fake);
		sign_in("np-poll", NULL, NULL, PAM_AUTHINFO_UNAVAIL, NONE, 5000, fakes[i].logged, NULL);
	}
}

static void unsafe_helper_binaries(void **state)
{
	static const struct {
		const char *name;
		mode_t mode;
	} copies[] = {
		{ "not-executable", 0644 },
		{ "group-writable", 0775 },
		{ "world-writable", 0757 },
		{ "setuid-but-group-writable", 04775 },
	};
	char path[1024], link_path[1024];

	(void)state;
	helper_at("missing", path, sizeof path);
	use_helper(path);
	sign_in("np-poll", NULL, NULL, PAM_SERVICE_ERR, NONE, 3000, "helper", NULL);
	for (size_t i = 0; i < sizeof copies / sizeof copies[0]; i++) {
		install_copy(getenv("NP_HELPER"), copies[i].name, copies[i].mode, path, sizeof path);
		use_helper(path);
		fprintf(stderr, "  helper %s (mode %04o)\n", copies[i].name, (unsigned)copies[i].mode);
		sign_in("np-poll", NULL, NULL, PAM_SERVICE_ERR, NONE, 3000, "helper", NULL);
	}
	/* A symbolic link, even to the real helper. */
	helper_at("link", link_path, sizeof link_path);
	unlink(link_path);
	assert_int_equal(symlink(getenv("NP_HELPER"), link_path), 0);
	use_helper(link_path);
	sign_in("np-poll", NULL, NULL, PAM_SERVICE_ERR, NONE, 3000, "symbolic link", NULL);
	/* A directory. */
	helper_at("a-directory", path, sizeof path);
	assert_int_equal(run_shell("mkdir -p %s", path), 0);
	use_helper(path);
	sign_in("np-poll", NULL, NULL, PAM_SERVICE_ERR, NONE, 3000, "helper", NULL);
	/* Owned by someone else (only root can give a file away). */
	if (geteuid() == 0) {
		install_copy(getenv("NP_HELPER"), "owned-by-nobody", 0755, path, sizeof path);
		assert_int_equal(chown(path, 65534, 65534), 0);
		use_helper(path);
		sign_in("np-poll", NULL, NULL, PAM_SERVICE_ERR, NONE, 3000, "helper", NULL);
	} else {
		fprintf(stderr, "  (a helper owned by another user: not tested, needs root to chown)\n");
	}
}

static void programs_that_are_no_helper(void **state)
{
	static const char *const programs[] = { "/bin/true", "/bin/false", "/bin/cat", "/usr/bin/yes" };
	char path[1024];

	(void)state;
	/* Exits at once, echoes the config back, or floods: never a sign-in, never a hang. */
	for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) {
		const char *name = strrchr(programs[i], '/') + 1;

		install_copy(programs[i], name, 0755, path, sizeof path);
		use_helper(path);
		fprintf(stderr, "  helper = %s\n", programs[i]);
		sign_in("np-poll", NULL, NULL, PAM_AUTHINFO_UNAVAIL, PAM_SERVICE_ERR, 5000, NULL, NULL);
	}
}

static void helper_that_never_answers(void **state)
{
	char path[1024];

	(void)state;
	/* tail reads its stdin to the end before it writes anything: it never becomes ready. */
	install_copy("/usr/bin/tail", "tail", 0755, path, sizeof path);
	use_helper(path);
	sign_in("np-poll", NULL, NULL, PAM_AUTHINFO_UNAVAIL, PAM_AUTH_ERR, 14000, NULL, NULL);
}

static void helper_user_missing(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "  skipped: the helper drops privileges only when started by root\n");
		skip();
	}
	write_config(&api, "helper_user = np-no-such-user\n");
	sign_in("np-poll", NULL, NULL, PAM_SERVICE_ERR, NONE, 5000, "np-no-such-user", NULL);
	write_config(&api, "helper_user = root\n");
	sign_in("np-poll", NULL, NULL, PAM_SERVICE_ERR, NONE, 5000, "must not be root", NULL);
	assert_int_equal(mock_count(&api, "create"), 0);
}

/* ---- the cache directory ---- */

static char cache_dir[1024], cache_key[1024];

/* Cache on, in dir (made 0700 unless it is a mount of ours, born that way). */
static void cache_config(const char *dir)
{
	char overrides[2400];

	/* One key for the whole suite: entries written in one test are read in the next. */
	snprintf(cache_key, sizeof cache_key, "%s/conf/faults-cache.key", test_dir());
	if (access(cache_key, F_OK) != 0)
		assert_int_equal(write_cache_key(cache_key, 0600), 0);
	if (strcmp(dir, mounted) != 0)
		assert_int_equal(run_shell("mkdir -p %s && chmod 700 %s", dir, dir), 0);
	snprintf(overrides, sizeof overrides,
	         "cache = yes\ncache_dir = %s\ncache_key = %s\ncache_scope = user\n", dir, cache_key);
	write_config(&api, overrides);
}

/* Files in dir whose name does not start with skip (NULL: count all). */
static int files_in(const char *dir, const char *skip)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (skip != NULL && strncmp(e->d_name, skip, strlen(skip)) == 0)
			continue;
		n++;
	}
	closedir(d);
	return n;
}

static bool mount_tmpfs(const char *dir, unsigned long flags, const char *options)
{
	assert_int_equal(run_shell("mkdir -p %s", dir), 0);
	if (geteuid() != 0) {
		errno = EPERM;
		return false;
	}
	if (mount("tmpfs", dir, "tmpfs", flags, options) != 0)
		return false;
	snprintf(mounted, sizeof mounted, "%s", dir);
	return true;
}

static void cache_on_a_full_disk(void **state)
{
	char filler[1200];
	static char block[4096];
	int fd;

	(void)state;
	snprintf(cache_dir, sizeof cache_dir, "%s/cache-full", test_dir());
	if (!mount_tmpfs(cache_dir, MS_NOSUID | MS_NODEV, "size=64k,mode=0700")) {
		fprintf(stderr, "  skipped: mounting a 64 KiB tmpfs needs root (and mount rights): %s\n",
		        strerror(errno));
		skip();
	}
	snprintf(filler, sizeof filler, "%s/filler", cache_dir);
	fd = open(filler, O_WRONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	memset(block, 'x', sizeof block);
	while (write(fd, block, sizeof block) > 0)
		;
	assert_int_equal(errno, ENOSPC);
	close(fd);
	cache_config(cache_dir);
	/* The approval still counts; it is only not remembered. */
	sign_in("np-poll", NULL, NULL, PAM_SUCCESS, NONE, 8000, "approval not stored", NULL);
	assert_int_equal(files_in(cache_dir, "filler"), 0);
	/* And the next sign-in simply asks again. */
	sign_in("np-poll", NULL, NULL, PAM_SUCCESS, NONE, 8000, NULL, NULL);
	assert_int_equal(mock_count(&api, "create"), 2);
}

static void cache_directory_read_only(void **state)
{
	bool ro_mount;

	(void)state;
	snprintf(cache_dir, sizeof cache_dir, "%s/cache-ro", test_dir());
	ro_mount = mount_tmpfs(cache_dir, MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0700");
	if (!ro_mount) {
		if (geteuid() == 0) {
			fprintf(stderr, "  skipped: root writes through mode 0500, and a read-only tmpfs "
			                "could not be mounted: %s\n",
			        strerror(errno));
			skip();
		}
		cache_config(cache_dir);
		assert_int_equal(chmod(cache_dir, 0500), 0);
	} else {
		cache_config(cache_dir);
	}
	sign_in("np-poll", NULL, NULL, PAM_SUCCESS, NONE, 8000, "approval not stored", NULL);
	assert_int_equal(files_in(cache_dir, NULL), 0);
	if (!ro_mount)
		assert_int_equal(chmod(cache_dir, 0700), 0);
}

/* ---- the clock ---- */

static void code_already_expired(void **state)
{
	char json[512];
	struct seen seen;

	(void)state;
	/* The server's clock (or ours) is far off: the code died before it arrived. */
	fault("{\"endpoint\": \"create\", \"kind\": \"body\", \"body\": {\"code\": \"ABC123\", "
	      "\"verification_url\": \"https://127.0.0.1/auth/device?code=ABC123\", "
	      "\"expires_at\": 1000}}");
	sign_in("np-poll", NULL, NULL, PAM_AUTH_ERR, NONE, 3000, "already expired", &seen);
	assert_true(seen_contains(&seen, "expired"));
	snprintf(json, sizeof json,
	         "{\"endpoint\": \"create\", \"kind\": \"body\", \"body\": {\"code\": \"ABC123\", "
	         "\"verification_url\": \"https://127.0.0.1/auth/device?code=ABC123\", "
	         "\"expires_at\": %lld}}",
	         (long long)time(NULL) - 5);
	fault(json);
	sign_in("np-poll", NULL, NULL, PAM_AUTH_ERR, NONE, 3000, "already expired", NULL);
	assert_int_equal(mock_count(&api, "poll"), 0);
}

static void code_expiring_soon(void **state)
{
	char json[512];
	struct seen seen;
	long long start = now_ms();

	(void)state;
	snprintf(json, sizeof json,
	         "{\"endpoint\": \"create\", \"kind\": \"body\", \"body\": {\"code\": \"ABC123\", "
	         "\"verification_url\": \"https://127.0.0.1/auth/device?code=ABC123\", "
	         "\"expires_at\": %lld}}",
	         (long long)time(NULL) + 3);
	fault(json);
	fault("{\"endpoint\": \"poll\", \"kind\": \"body\", \"body\": {\"status\": \"pending\"}, "
	      "\"count\": -1}");
	sign_in("np-poll", NULL, NULL, PAM_AUTH_ERR, NONE, 5000, "expired", &seen);
	assert_true(now_ms() - start >= 1500);
}

static void code_expiring_in_the_far_future(void **state)
{
	struct seen seen;
	long long start = now_ms();

	(void)state;
	/* 2^40 s from 1970: only login_timeout (10 s) ends the wait. */
	write_config(&api, "login_timeout = 10\n");
	fault("{\"endpoint\": \"create\", \"kind\": \"body\", \"body\": {\"code\": \"ABC123\", "
	      "\"verification_url\": \"https://127.0.0.1/auth/device?code=ABC123\", "
	      "\"expires_at\": 1099511627776}}");
	fault("{\"endpoint\": \"poll\", \"kind\": \"body\", \"body\": {\"status\": \"pending\"}, "
	      "\"count\": -1}");
	sign_in("np-poll", NULL, NULL, PAM_AUTH_ERR, NONE, 13000, "expired", &seen);
	assert_true(now_ms() - start >= 9500);
	assert_true(seen_contains(&seen, "valid for 10 seconds"));
}

/* The scope the module uses for this process with cache_scope = user. */
static void user_scope(char *out, size_t out_size)
{
	struct np_scope_parts parts = { .account = test_account(), .service = "np-poll",
		                        .terminal = "", .rhost = "", .invoker_uid = getuid(),
		                        .invoker_name = "" };

	assert_int_equal(np_scope_string(NP_SCOPE_USER, &parts, out, out_size), 0);
}

/* Rewrites the stored entry as approved at created (the clock having jumped). */
static void backdate_entry(int64_t created)
{
	struct np_cache c;
	struct np_cache_meta meta;
	struct np_cache_payload *payload = sodium_malloc(sizeof *payload);
	char scope[NP_CACHE_SCOPE_MAX], err[512] = "";

	assert_non_null(payload);
	user_scope(scope, sizeof scope);
	assert_int_equal(np_cache_open(&c, cache_dir, cache_key, false, err, sizeof err), NP_CACHE_OK);
	if (np_cache_load(&c, scope, 900, (int64_t)time(NULL), NULL, payload, err, sizeof err) !=
	    NP_CACHE_OK) {
		fprintf(stderr, "the module's entry did not load: %s\n", err);
		fail();
	}
	memset(&meta, 0, sizeof meta);
	snprintf(meta.account, sizeof meta.account, "%s", test_account());
	meta.invoker_uid = getuid();
	snprintf(meta.scope_kind, sizeof meta.scope_kind, "user");
	snprintf(meta.service, sizeof meta.service, "np-poll");
	snprintf(meta.user_id, sizeof meta.user_id, "%s", payload->user_id);
	meta.created = payload->created = created;
	meta.expires = created + 900;
	assert_int_equal(np_cache_store(&c, scope, &meta, payload, err, sizeof err), NP_CACHE_OK);
	np_cache_close(&c);
	sodium_free(payload);
}

static void cache_entry_from_the_future(void **state)
{
	(void)state;
	snprintf(cache_dir, sizeof cache_dir, "%s/cache-clock", test_dir());
	assert_int_equal(run_shell("rm -rf %s", cache_dir), 0);
	cache_config(cache_dir);
	sign_in("np-poll", NULL, NULL, PAM_SUCCESS, NONE, 8000, NULL, NULL);
	assert_int_equal(files_in(cache_dir, NULL), 1);
	/* A little skew is tolerated: the entry is used, no new code. */
	backdate_entry((int64_t)time(NULL) + 30);
	sign_in("np-poll", NULL, NULL, PAM_SUCCESS, NONE, 5000, "cached", NULL);
	assert_int_equal(mock_count(&api, "create"), 1);
	/* Approved an hour from now: the clock went back; the entry is dropped, a code is made. */
	backdate_entry((int64_t)time(NULL) + 3600);
	sign_in("np-poll", NULL, NULL, PAM_SUCCESS, NONE, 8000, "in the future", NULL);
	assert_int_equal(mock_count(&api, "create"), 2);
	/* ... and the fresh approval replaced it. */
	sign_in("np-poll", NULL, NULL, PAM_SUCCESS, NONE, 5000, "cached", NULL);
	assert_int_equal(mock_count(&api, "create"), 2);
}

/* ---- the host and the network ---- */

static void host_short_of_descriptors(void **state)
{
	struct conv_state c = { 0 };
	struct pam_conv conv = { hook_conv, &c };
	pam_handle_t *pamh = NULL;
	struct rlimit saved, tight;
	int fds_before[512], fds_after[512], filler[512];
	int n_before, n_after, n_filler, rc;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &saved), 0);
	for (int spare = 0; spare <= 8; spare++) {
		memset(&c, 0, sizeof c);
		assert_int_equal(pam_start("np-poll", test_account(), &conv, &pamh), PAM_SUCCESS);
		n_before = open_fds(fds_before, 512);
		/* Exactly spare descriptors left: a limit just above, every gap below filled. */
		tight = saved;
		tight.rlim_cur = (rlim_t)(fds_before[n_before - 1] + 1 + spare);
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &tight), 0);
		for (n_filler = 0; n_filler < 512; n_filler++)
			if ((filler[n_filler] = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
				break;
		assert_int_equal(errno, EMFILE);
		for (int i = 0; i < spare && n_filler > 0; i++)
			close(filler[--n_filler]);
		rc = pam_authenticate(pamh, 0);
		for (int i = 0; i < n_filler; i++)
			close(filler[i]);
		assert_int_equal(setrlimit(RLIMIT_NOFILE, &saved), 0);
		n_after = open_fds(fds_after, 512);
		pam_end(pamh, rc);
		fprintf(stderr, "  %d spare descriptor(s): %s\n", spare, pam_strerror(NULL, rc));
		/* Whatever it could do, it must not leak a descriptor or a child, nor crash. */
		assert_int_equal(n_after, n_before);
		assert_memory_equal(fds_after, fds_before, sizeof fds_before[0] * (size_t)n_before);
		no_children_left();
		assert_true(rc == PAM_SUCCESS || rc == PAM_SERVICE_ERR || rc == PAM_AUTHINFO_UNAVAIL ||
		            rc == PAM_BUF_ERR || rc == PAM_SYSTEM_ERR);
	}
}

static bool stop_mock_on_instructions(int style, const char *text, void *arg)
{
	if (style == PAM_TEXT_INFO && strstr(text, "approve code") != NULL)
		mock_stop(arg);
	return true;
}

static void api_vanishes_mid_flow(void **state)
{
	struct mock gone;
	const char *args[] = { "--code-ttl", "4", NULL };
	char overrides[1200];

	(void)state;
	/* A mock of its own, stopped once the code is on the screen: every poll is refused. */
	assert_int_equal(mock_start(&gone, "mock-vanishing", args), 0);
	snprintf(overrides, sizeof overrides, "api_url = %s\nca_file = %s\n", gone.url, gone.ca);
	write_config(NULL, overrides);
	sign_in("np-poll", stop_mock_on_instructions, &gone, PAM_AUTH_ERR, PAM_AUTHINFO_UNAVAIL,
	        8000, NULL, NULL);
	mock_stop(&gone);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, took)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(helper_killed_at_the_prompt),
		T(helper_killed_while_polling),
		T(helper_stopped_while_polling),
		T(helper_killed_before_the_code),
		T(enter_storm_keeps_to_the_poll_schedule),
		T(enter_after_approval_answers_at_once),
		T(helper_seen_from_outside),
		T(helper_killed_by_sigsys),
		T(nothing_the_helper_started_survives),
		T(helper_sending_a_malformed_identity),
		T(unsafe_helper_binaries),
		T(programs_that_are_no_helper),
		T(helper_that_never_answers),
		T(helper_user_missing),
		T(cache_on_a_full_disk),
		T(cache_directory_read_only),
		T(code_already_expired),
		T(code_expiring_soon),
		T(code_expiring_in_the_far_future),
		T(cache_entry_from_the_future),
		T(host_short_of_descriptors),
		T(api_vanishes_mid_flow),
	};

	/* NP_TEST_FILTER=name (cmocka's wildcards) runs just those tests. */
	if (getenv("NP_TEST_FILTER") != NULL && getenv("NP_TEST_FILTER")[0] != '\0')
		cmocka_set_test_filter(getenv("NP_TEST_FILTER"));
	return cmocka_run_group_tests_name("faults", tests, group_setup, group_teardown);
}
