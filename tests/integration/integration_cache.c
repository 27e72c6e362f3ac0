/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The approval cache, API-key sign-in and the identity policy around them,
 * through the real libpam, helper and mock.  Services np-items /
 * np-items-prompt put PAM_TTY, PAM_RHOST, PAM_RUSER and PAM_AUTHTOK from the
 * environment into the handle (pam_wrapper's pam_set_items), as sshd, login,
 * sudo or an earlier module would.  The suite runs in a session of its own
 * whose controlling terminal is a new pseudo-terminal, which PAM_TTY names,
 * as for a person's shell: the session scope serves nothing else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <sched.h>
#include <security/pam_appl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/account.h"
#include "harness.h"
#include "common/validate.h"
#include "../terminal.h"

#define ALICE_KEY "npk_alice_0123456789abcdef"

static struct mock api;
static char cache_dir[1024], key_path[1024];
/* The suite's controlling terminal (/dev/pts/N), set up in main. */
static char terminal[64];

/* The identity map of every test but those that change it: usr_alice may be this account. */
static void default_usermap(void)
{
	char usermap[1024];

	snprintf(usermap, sizeof usermap, "usr_alice %s\n", test_account());
	write_usermap(usermap);
}

static int group_setup(void **state)
{
	(void)state;
	if (mock_start(&api, "mock-cache", NULL) != 0)
		return -1;
	snprintf(cache_dir, sizeof cache_dir, "%s/cache", test_dir());
	snprintf(key_path, sizeof key_path, "%s/conf/cache.key", test_dir());
	return 0;
}

/* An account tool (useradd, userdel) outside pam_wrapper, retried while another holds the lock. */
static int account_tool(const char *command)
{
	char cmd[512];

	snprintf(cmd, sizeof cmd, "env -u LD_PRELOAD -u PAM_WRAPPER %s >/dev/null 2>&1", command);
	for (int i = 0; i < 60; i++) {
		if (run_shell("%s", cmd) == 0)
			return 0;
		usleep(500000);
	}
	return -1;
}

static char person[64];    /* a person's account to sign in as, or "" */
static bool person_made;   /* ... made by this suite, to be removed */

/*
 * A person's account (uid at least UID_MIN, not root or nobody), as the
 * e-mail local part may name: the one running the tests, or, as root, one
 * made for this suite and removed when it ends.  NULL when there is none.
 */
static const char *personal_account(void)
{
	struct passwd *pw;
	char cmd[256];

	if (person[0] != '\0')
		return person;
	pw = getpwnam(test_account());
	if (pw != NULL && np_uid_is_personal(pw->pw_uid, np_uid_min(NP_LOGIN_DEFS))) {
		snprintf(person, sizeof person, "%s", test_account());
		return person;
	}
	if (geteuid() != 0)
		return NULL;
	snprintf(person, sizeof person, "npmail-%06lx", (unsigned long)getpid() & 0xffffffUL);
	snprintf(cmd, sizeof cmd, "useradd -M -s /usr/sbin/nologin %s", person);
	if (account_tool(cmd) != 0) {
		fprintf(stderr, "cannot create the account %s\n", person);
		person[0] = '\0';
		return NULL;
	}
	person_made = true;
	return person;
}

static int group_teardown(void **state)
{
	char cmd[256];

	(void)state;
	mock_stop(&api);
	if (person_made) {
		snprintf(cmd, sizeof cmd, "userdel %s", person);
		if (account_tool(cmd) != 0)
			fprintf(stderr, "cannot remove the account %s\n", person);
	}
	return 0;
}

static void write_key(mode_t mode)
{
	assert_int_equal(write_cache_key(key_path, mode), 0);
}

static void cached_config(const char *extra)
{
	char text[2048];

	snprintf(text, sizeof text, "cache = yes\ncache_dir = %s\ncache_key = %s\n%s", cache_dir,
	         key_path, extra != NULL ? extra : "");
	write_config(&api, text);
}

/* Fresh mock, fresh key, empty cache, the same terminal for every test. */
static int reset(void **state)
{
	(void)state;
	reset_mock(&api);
	mock_auto(&api, "approve", "usr_alice", 0.2);
	assert_int_equal(run_shell("rm -rf %s", cache_dir), 0);
	write_key(0600);
	cached_config(NULL);
	default_usermap();
	setenv("PAM_TTY", terminal, 1);
	setenv("PAM_RHOST", "192.0.2.10", 1);
	unsetenv("PAM_AUTHTOK");
	unsetenv("PAM_RUSER");
	return 0;
}

/* What the mock does with the next codes: "approve" as user, or "deny". */
static void next_codes_as(const char *action, const char *user)
{
	mock_auto(&api, action, user, 0.2);
}

static void next_codes(const char *action)
{
	next_codes_as(action, "usr_alice");
}

/* A NextPay identity of the mock's with this e-mail address. */
static void mock_identity(const char *user_id, const char *email)
{
	char json[512];

	snprintf(json, sizeof json, "{\"id\": \"%s\", \"email\": \"%s\"}", user_id, email);
	assert_int_equal(mock_post(&api, "user", json), 200);
}

/* One sign-in as account; its return code, and into log what the module logged. */
static int sign_in_logged(const char *service, const char *account, struct script *s,
                          char *log, size_t log_size)
{
	int rc;

	log_capture_begin();
	rc = run_auth(service, account, s, 0);
	log_capture_end(log, log_size);
	if (rc == -1 || rc == -2) {
		fprintf(stderr, "%s", log);
		seen_dump(&s->seen);
	}
	return rc;
}

/*
 * That one line of the log holds every one of the needles (NULL-terminated):
 * words of the outcome line, whichever way its values are quoted.
 */
static void assert_log_line(const char *log, const char *const *needles)
{
	for (const char *line = log; line != NULL && *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t len = end != NULL ? (size_t)(end - line) : strlen(line);
		bool all = true;

		for (size_t i = 0; all && needles[i] != NULL; i++)
			all = memmem(line, len, needles[i], strlen(needles[i])) != NULL;
		if (all)
			return;
		line = end != NULL ? end + 1 : NULL;
	}
	fail_msg("no line of the log says all of \"%s\", \"%s\", ...:\n%s", needles[0],
	         needles[1] != NULL ? needles[1] : "", log);
}

static void sign_in_ok(const char *service)
{
	struct script s = { 0 };
	int rc = run_auth(service, test_account(), &s, 0);

	if (rc != PAM_SUCCESS)
		seen_dump(&s.seen);
	assert_int_equal(rc, PAM_SUCCESS);
}

/* The one entry file in the cache directory. */
static void entry_path(char *out, size_t out_size)
{
	DIR *dir = opendir(cache_dir);
	struct dirent *entry;
	int found = 0;

	assert_non_null(dir);
	while ((entry = readdir(dir)) != NULL) {
		if (entry->d_name[0] == '.')
			continue;
		snprintf(out, out_size, "%s/%s", cache_dir, entry->d_name);
		found++;
	}
	closedir(dir);
	assert_int_equal(found, 1);
}

static bool file_contains(const char *path, const char *needle)
{
	static char data[65536];
	FILE *f = fopen(path, "rb");
	size_t n;

	assert_non_null(f);
	n = fread(data, 1, sizeof data, f);
	fclose(f);
	return memmem(data, n, needle, strlen(needle)) != NULL;
}

static void reused_in_the_same_session(void **state)
{
	struct stat st;
	char path[2048], token[8192];

	(void)state;
	sign_in_ok("np-items");
	assert_int_equal(mock_count(&api, "create"), 1);
	sign_in_ok("np-items");
	/* No second code, but the token was checked with the API again. */
	assert_int_equal(mock_count(&api, "create"), 1);
	assert_int_equal(mock_count(&api, "me"), 2);
	/* The store: 0700 directory, one 0600 file, no readable token in it. */
	assert_int_equal(stat(cache_dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	entry_path(path, sizeof path);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_true(mock_last_bearer(&api, "me", token, sizeof token));
	assert_true(strlen(token) > 20);
	assert_false(file_contains(path, token));
	assert_false(file_contains(path, "usr_alice"));
	assert_false(file_contains(path, test_account()));
	assert_true(strstr(path, test_account()) == NULL);
}

/* How many entries the cache holds (none when its directory was never made). */
static int cache_entries(void)
{
	return cache_entry_count(cache_dir);
}

/*
 * PAM_TTY naming a real terminal, open beside this session's, that is not the
 * caller's controlling terminal: an approval made there is not stored, so
 * the next sign-in there asks again; the log says why (with debug).
 */
static void pam_tty_of_another_terminal_is_never_served(void **state)
{
	char other[64], log[8192];
	struct script s = { 0 };
	int master = test_terminal_open(other, sizeof other);

	(void)state;
	assert_true(master >= 0);
	cached_config("debug = yes\n");
	setenv("PAM_TTY", other, 1);
	assert_int_equal(sign_in_logged("np-items", test_account(), &s, log, sizeof log),
	                 PAM_SUCCESS);
	assert_int_equal(cache_entries(), 0);
	assert_log_line(log, (const char *[]){ "cache: not caching in session scope:",
	                                       "not the controlling terminal", other, NULL });
	/* From now on every new code is denied: only the cache could say yes. */
	next_codes("deny");
	memset(&s, 0, sizeof s);
	assert_int_equal(run_auth("np-items", test_account(), &s, 0), PAM_MAXTRIES);
	assert_int_equal(mock_count(&api, "create"), 2);
	assert_int_equal(mock_count(&api, "me"), 1);
	/* At the controlling terminal, the same sign-in is stored and reused. */
	next_codes("approve");
	setenv("PAM_TTY", terminal, 1);
	sign_in_ok("np-items");
	next_codes("deny");
	sign_in_ok("np-items");
	assert_int_equal(mock_count(&api, "create"), 3);
	assert_int_equal(cache_entries(), 1);
	close(master);
}

/*
 * Whatever names the controlling terminal without being its plain name under
 * /dev never counts: the terminal reached through "..", through a symbolic
 * link, /dev/tty (every process's own terminal), an X display, nothing.  An
 * approval made under any of them is not stored, and one stored at the
 * terminal does not serve them.
 */
static void pam_tty_that_only_leads_to_the_terminal_is_never_served(void **state)
{
	char up_and_back[128], link[128], log[8192];
	const char *const names[] = { up_and_back, link, "/dev/tty", "tty", ":0", "" };
	struct script s = { 0 };

	(void)state;
	snprintf(up_and_back, sizeof up_and_back, "/dev/../%s", terminal + 1);
	snprintf(link, sizeof link, "/dev/shm/np-cache-tty-%ld", (long)getpid());
	assert_int_equal(symlink(terminal, link), 0);
	cached_config("debug = yes\n");
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		setenv("PAM_TTY", names[i], 1);
		memset(&s, 0, sizeof s);
		assert_int_equal(sign_in_logged("np-items", test_account(), &s, log, sizeof log),
		                 PAM_SUCCESS);
		if (cache_entries() != 0)
			fail_msg("an approval under PAM_TTY \"%s\" was stored", names[i]);
		assert_log_line(log, (const char *[]){ "cache: not caching in session scope:", NULL });
	}
	assert_int_equal(mock_count(&api, "create"), 6);
	/* The terminal's own approval, then none of those names gets it. */
	setenv("PAM_TTY", terminal, 1);
	sign_in_ok("np-items");
	next_codes("deny");
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		setenv("PAM_TTY", names[i], 1);
		memset(&s, 0, sizeof s);
		if (run_auth("np-items", test_account(), &s, 0) != PAM_MAXTRIES)
			fail_msg("PAM_TTY \"%s\" was served from the terminal's approval", names[i]);
	}
	assert_int_equal(mock_count(&api, "create"), 13);
	assert_int_equal(unlink(link), 0);
}

/* login and su set PAM_TTY to "pts/N", sudo to "/dev/pts/N": the same terminal. */
static void either_name_of_the_terminal_is_the_terminal(void **state)
{
	(void)state;
	sign_in_ok("np-items");
	next_codes("deny");
	setenv("PAM_TTY", terminal + strlen("/dev/"), 1);
	sign_in_ok("np-items");
	assert_int_equal(mock_count(&api, "create"), 1);
}

static void another_remote_host_asks_again(void **state)
{
	(void)state;
	sign_in_ok("np-items");
	setenv("PAM_RHOST", "198.51.100.7", 1);
	sign_in_ok("np-items");
	assert_int_equal(mock_count(&api, "create"), 2);
}

static void another_service_asks_again(void **state)
{
	struct script s = { .answers = { "" }, .delay_ms = { 800 } };

	(void)state;
	sign_in_ok("np-items");
	assert_int_equal(run_auth("np-items-prompt", test_account(), &s, 0), PAM_SUCCESS);
	assert_int_equal(mock_count(&api, "create"), 2);
}

static void user_scope_reuses_from_anywhere(void **state)
{
	(void)state;
	cached_config("cache_scope = user\n");
	sign_in_ok("np-items");
	setenv("PAM_TTY", "/dev/pts/9", 1);
	setenv("PAM_RHOST", "203.0.113.5", 1);
	sign_in_ok("np-items");
	assert_int_equal(mock_count(&api, "create"), 1);
	assert_int_equal(mock_count(&api, "me"), 2);
}

/*
 * cache_scope = user never crosses services: sshd, login and a greeter all
 * call PAM as root without PAM_RUSER, so without the service in the scope an
 * SSH approval would sign in at the console or the greeter.
 */
static void user_scope_never_crosses_services(void **state)
{
	struct script s = { 0 };
	char log[8192];

	(void)state;
	cached_config("cache_scope = user\n");
	sign_in_ok("np-items");
	next_codes("deny");
	assert_int_equal(sign_in_logged("np-poll", test_account(), &s, log, sizeof log),
	                 PAM_MAXTRIES);
	assert_log_line(log, (const char *[]){ "denied:", "device-code", NULL });
	assert_int_equal(mock_count(&api, "create"), 2);
	assert_int_equal(mock_count(&api, "me"), 1);
	/* Each service keeps its own: np-items is still served, from anywhere. */
	setenv("PAM_TTY", "/dev/pts/9", 1);
	sign_in_ok("np-items");
	assert_int_equal(mock_count(&api, "create"), 2);
}

/* As sshd: a public key's line in the PAM environment before pam_authenticate(). */
static void put_ssh_auth_info(struct script *script, pam_handle_t *pamh,
                              const struct pam_message *msg)
{
	(void)script;
	if (msg == NULL)
		assert_int_equal(pam_putenv(pamh, "SSH_AUTH_INFO_0=publickey ssh-ed25519 "
		                                  "AAAAC3NzaC1lZDI1NTE5AAAAIOSJYx8eaFzmIfe56Bb7rv83hxcIUF0lAHEcmnWQnoOr\n"),
		                 PAM_SUCCESS);
}

/*
 * SSH_AUTH_INFO_0 under the service sshd, in a program that is no OpenSSH
 * (this one, unlike tests/integration/sshd_key.c): no key is trusted, so key
 * scope falls back to the session's, and each sign-in needs its own code.
 */
static void ssh_auth_info_outside_openssh_is_not_trusted(void **state)
{
	char log[16384];

	(void)state;
	cached_config("cache_scope = key\ndebug = yes\n");
	unsetenv("PAM_TTY");
	for (int i = 1; i <= 2; i++) {
		struct script s = { .answers = { "", "" }, .delay_ms = { 600 },
			                .on_message = put_ssh_auth_info };

		log_capture_begin();
		expect_rc(run_auth_on_handle("sshd", test_account(), &s, 0), PAM_SUCCESS, &s);
		log_capture_end(log, sizeof log);
		assert_int_equal(mock_count(&api, "create"), i);
		assert_non_null(strstr(log, "SSH_AUTH_INFO_0 not used: not inside OpenSSH's sshd"));
		assert_null(strstr(log, "key=\""));
	}
}

static void expired_entry_falls_back(void **state)
{
	(void)state;
	cached_config("cache_ttl = 1\n");
	sign_in_ok("np-items");
	sleep(2);
	sign_in_ok("np-items");
	assert_int_equal(mock_count(&api, "create"), 2);
}

static void revoked_token_falls_back(void **state)
{
	(void)state;
	sign_in_ok("np-items");
	assert_int_equal(mock_post(&api, "revoke", "{\"user\": \"usr_alice\"}"), 200);
	/* The stale token gets a 401: entry dropped, a fresh code, a fresh approval. */
	sign_in_ok("np-items");
	assert_int_equal(mock_count(&api, "create"), 2);
	assert_int_equal(mock_count(&api, "me"), 3);
	/* ... and the fresh approval is what the cache now holds. */
	sign_in_ok("np-items");
	assert_int_equal(mock_count(&api, "create"), 2);
}

static void tampered_entry_falls_back(void **state)
{
	char path[2048];
	FILE *f;
	int byte;

	(void)state;
	sign_in_ok("np-items");
	entry_path(path, sizeof path);
	f = fopen(path, "r+b");
	assert_non_null(f);
	fseek(f, -5, SEEK_END);
	byte = fgetc(f);
	fseek(f, -5, SEEK_END);
	fputc(byte ^ 0x01, f);
	fclose(f);
	sign_in_ok("np-items");
	assert_int_equal(mock_count(&api, "create"), 2);
}

/*
 * Sign-ins in another process run in a fresh copy of this program (see
 * main): a forked copy would share pam_wrapper's state and, leaving by
 * _exit(), its copy of the service directory in /tmp, of which there can be
 * only 62.  The copy exits normally, so ASan and valgrind check it as well.
 */
static const char *self_path;

#define CHILD_AT_PAM_TTY "--child-sign-in-at-pam-tty"
#define CHILD_NO_TERMINAL "--child-sign-in-twice-without-a-terminal"
#define CHILD_KEY_NO_TERMINAL "--child-api-key-without-a-terminal"
#define CHILD_NO_LEADER "--child-sign-in-twice-without-a-visible-leader"
#define CHILD_NAMESPACE "--child-new-pid-namespace"
#define CHILD_NAMESPACE_INIT "--child-pid-namespace-init"

/* Runs this program as `self_path mode`, in a session of its own if asked. */
static int run_self(const char *mode, bool new_session)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return 125;
	if (pid == 0) {
		if (new_session && setsid() == (pid_t)-1)
			_exit(124);
		/*
		 * The namespace step leaves by _exit(), which skips pam_wrapper's
		 * clean-up: it runs with pam_wrapper switched off, so that it makes no
		 * /tmp/pam.X copy to leave behind, and switches it back on for the
		 * sign-ins below it.
		 */
		if (strcmp(mode, CHILD_NAMESPACE) == 0)
			setenv("PAM_WRAPPER", "0", 1);
		execl(self_path, self_path, mode, (char *)NULL);
		_exit(127);
	}
	return exit_status_of(pid);
}

/*
 * pam_wrapper copies the services to /tmp/pam.X and, on start, removes every
 * such copy whose owner's pid is not alive; in a new PID namespace no pid of
 * the outside is, so it would remove this suite's own live copy.  The
 * namespace gets a /tmp of its own, with the top directories that hold the
 * test directory, the helper and this program bound back in.
 */
static int own_tmp_keeping(const char *const *paths, size_t n)
{
	char tops[8][1024], fd_path[64];
	int fds[8];
	size_t kept = 0;
	int rc = 0;

	for (size_t i = 0; i < n && kept < 8; i++) {
		const char *rest;
		size_t len;

		if (paths[i] == NULL || strncmp(paths[i], "/tmp/", 5) != 0)
			continue;
		rest = paths[i] + 5;
		len = strcspn(rest, "/");
		snprintf(tops[kept], sizeof tops[kept], "/tmp/%.*s", (int)len, rest);
		fds[kept] = open(tops[kept], O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fds[kept] < 0)
			return -1;
		kept++;
	}
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777") != 0)
		rc = -1;
	for (size_t i = 0; i < kept; i++) {
		snprintf(fd_path, sizeof fd_path, "/proc/self/fd/%d", fds[i]);
		if (rc == 0 && (mkdir(tops[i], 0755) != 0 && errno != EEXIST))
			rc = -1;
		if (rc == 0 && mount(fd_path, tops[i], "none", MS_BIND | MS_REC, NULL) != 0)
			rc = -1;
		close(fds[i]);
	}
	return rc;
}

/*
 * Each step in a fresh copy of this program (under valgrind, a forked copy
 * reports the memory of its parent as its own leaks): a new PID namespace, where
 * getsid() answers 0 (the session leader lies outside, as for a command run
 * through a container's exec).  The first process there is the namespace's
 * init and receives its orphans (under ASan, the leak checker's tracer task
 * of a helper killed at exit), so the sign-ins run in a child of it, whose
 * children are only its helpers.
 */
static int child_new_pid_namespace(void)
{
	const char *keep[] = { test_dir(), getenv("NP_HELPER"), self_path };

	if (unshare(CLONE_NEWPID | CLONE_NEWNS) != 0)
		return 120;
	/* Before any process of the new namespace starts: pam_wrapper looks at /tmp then. */
	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) != 0 ||
	    own_tmp_keeping(keep, sizeof keep / sizeof keep[0]) != 0)
		return 121;
	/*
	 * _exit: once the namespace's init has gone, this process can no longer
	 * create processes, and LeakSanitizer's check at exit needs to.  This
	 * step allocates nothing for it to find.
	 */
	setenv("PAM_WRAPPER", "1", 1);
	fflush(NULL);
	_exit(run_self(CHILD_NAMESPACE_INIT, false));
}

static int child_namespace_init(void)
{
	if (getpid() != 1)
		return 122;
	/* A /proc of this namespace, so the harness sees the right children. */
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
		return 123;
	return run_self(CHILD_NO_LEADER, false);
}

/*
 * In the copy, in a session of its own: the terminal PAM_TTY names becomes its
 * controlling terminal, as a new login's does, and it signs in once.  No
 * cmocka here: the answer is the exit status.
 */
static int child_sign_in_at_pam_tty(void)
{
	const char *tty = getenv("PAM_TTY");
	struct script s = { 0 };
	int fd = tty != NULL ? test_terminal_control(tty) : -1; /* run_self() called setsid() */
	int rc;

	if (fd < 0) {
		fprintf(stderr, "cannot make %s the controlling terminal\n", tty != NULL ? tty : "(none)");
		return 100;
	}
	rc = run_auth("np-items", test_account(), &s, 0);
	close(fd);
	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "sign-in in another session: %d\n", rc);
		seen_dump(&s.seen);
	}
	return rc == PAM_SUCCESS ? 0 : 101;
}

/*
 * In the copy: two sign-ins, each approved by the mock, where the cache must
 * neither store nor reuse anything; 0 when both succeed and the log says why.
 */
static int sign_in_twice_without_the_cache(const char *where, const char *why)
{
	struct script first = { 0 }, second = { 0 };
	char log[8192];
	int rc1, rc2;

	log_capture_begin();
	rc1 = run_auth("np-items", test_account(), &first, 0);
	rc2 = run_auth("np-items", test_account(), &second, 0);
	log_capture_end(log, sizeof log);
	if (rc1 != PAM_SUCCESS || rc2 != PAM_SUCCESS) {
		fprintf(stderr, "%s: %d, %d\n%s", where, rc1, rc2, log);
		seen_dump(&first.seen);
		seen_dump(&second.seen);
		return 112;
	}
	if (strstr(log, why) == NULL) {
		fprintf(stderr, "%s: no \"%s\" in the log:\n%s", where, why, log);
		return 113;
	}
	return 0;
}

/* In a session without a terminal (a daemon, a greeter's worker). */
static int child_sign_in_twice_without_a_terminal(void)
{
	return sign_in_twice_without_the_cache(
		"without a terminal", "cache: not caching in session scope: \"no controlling terminal\"");
}

static int child_sign_in_twice_without_a_visible_leader(void)
{
	if (getsid(0) != 0)
		return 110;
	return sign_in_twice_without_the_cache("in a new PID namespace",
	                                       "cannot identify the session leader; not caching");
}

/* Signs in from a copy of this program in a new session whose terminal is PAM_TTY's. */
static int sign_in_in_a_new_session_at(const char *tty)
{
	int rc;

	setenv("PAM_TTY", tty, 1);
	rc = run_self(CHILD_AT_PAM_TTY, true);
	setenv("PAM_TTY", terminal, 1);
	return rc;
}

static void another_login_session_asks_again(void **state)
{
	char other[64];
	int master = test_terminal_open(other, sizeof other);

	(void)state;
	assert_true(master >= 0);
	sign_in_ok("np-items");
	/* Same account, service and host, but another login: its own terminal and session. */
	assert_int_equal(sign_in_in_a_new_session_at(other), 0);
	assert_int_equal(mock_count(&api, "create"), 2);
	assert_int_equal(cache_entries(), 2);
	/* The first session's entry is still its own. */
	sign_in_ok("np-items");
	assert_int_equal(mock_count(&api, "create"), 2);
	close(master);
}

/*
 * A terminal's number comes back to the next login once the last has ended
 * (/dev/pts/N is reused): the same terminal in a new session is a new login,
 * and its session leader tells them apart.
 */
static void terminal_taken_over_by_a_new_session_asks_again(void **state)
{
	char shared[64];
	int master = test_terminal_open(shared, sizeof shared);

	(void)state;
	assert_true(master >= 0);
	assert_int_equal(sign_in_in_a_new_session_at(shared), 0);
	assert_int_equal(cache_entries(), 1);
	/* The first session has ended, and released the terminal; the next one takes it. */
	assert_int_equal(sign_in_in_a_new_session_at(shared), 0);
	assert_int_equal(mock_count(&api, "create"), 2);
	close(master);
}

/*
 * A display manager's worker, a lock screen, a daemon: a process without a
 * controlling terminal, even with PAM_TTY naming a real one, neither stores
 * nor reuses an approval in session scope; with debug, the log says why.
 */
static void no_controlling_terminal_means_no_cache(void **state)
{
	int rc;

	(void)state;
	cached_config("debug = yes\n");
	rc = run_self(CHILD_NO_TERMINAL, true);
	assert_int_equal(mock_count(&api, "create"), 2);
	assert_int_equal(cache_entries(), 0);
	/* Both sign-ins succeeded, and the log gave the reason (see the child). */
	assert_int_equal(rc, 0);
}

/* Two sign-ins with no visible session leader: both go to the browser, and the log says why. */
static void no_visible_session_leader_means_no_cache(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "  skipped: a new PID namespace needs root\n");
		skip();
	}
	assert_int_equal(run_self(CHILD_NAMESPACE, false), 0);
	assert_int_equal(mock_count(&api, "create"), 2);
	assert_int_equal(access(cache_dir, F_OK), -1);
}

static void unreachable_api_never_logs_in_from_cache(void **state)
{
	struct script s = { 0 };

	(void)state;
	sign_in_ok("np-items");
	assert_int_equal(mock_post(&api, "fault",
	                           "{\"endpoint\": \"me\", \"kind\": \"status\", \"status\": 503, "
	                           "\"count\": -1}"),
	                 200);
	assert_int_equal(run_auth("np-items", test_account(), &s, 0), PAM_AUTHINFO_UNAVAIL);
}

static void unsafe_key_file_means_no_cache(void **state)
{
	(void)state;
	write_key(0644);
	sign_in_ok("np-items");
	sign_in_ok("np-items");
	assert_int_equal(mock_count(&api, "create"), 2);
	assert_int_equal(access(cache_dir, F_OK), -1);
}

static void api_key_typed_at_the_prompt(void **state)
{
	struct script s = { .answers = { ALICE_KEY } };

	(void)state;
	cached_config("api_key = yes\n");
	assert_int_equal(run_auth("np-prompt", test_account(), &s, 0), PAM_SUCCESS);
	assert_true(seen_contains(&s.seen, "API key"));
	assert_int_equal(mock_count(&api, "token"), 1);
	/* The key travels only in the Authorization header, never in a body or on screen. */
	assert_false(mock_bodies_contain(&api, ALICE_KEY));
	assert_false(mock_bodies_contain(&api, "npk_"));
	assert_false(seen_contains(&s.seen, ALICE_KEY));
}

/* The first echo-off prompt seen, or NULL. */
static const char *first_prompt(const struct seen *seen)
{
	for (int i = 0; i < seen->count; i++)
		if (seen->style[i] == PAM_PROMPT_ECHO_OFF)
			return seen->text[i];
	return NULL;
}

#define KEY_PROMPT "Press Enter once you have approved (or type an API key): "

/*
 * sudo, su and login on a terminal with api_key = yes and wait = auto: prompt
 * mode, whose prompt says a key may be typed there, and a key typed there
 * signs in.  Without the rule, poll mode has no prompt, and the mock's
 * automatic approval signs in with no key exchanged.
 */
static void api_key_on_a_terminal_gets_a_prompt_for_it(void **state)
{
	struct script s = { .answers = { ALICE_KEY } };
	char log[8192];
	const char *prompt;

	(void)state;
	cached_config("api_key = yes\ndebug = yes\n");
	assert_int_equal(sign_in_logged("np-auto", test_account(), &s, log, sizeof log),
	                 PAM_SUCCESS);
	prompt = first_prompt(&s.seen);
	assert_non_null(prompt);
	assert_non_null(strstr(prompt, "approve code"));
	assert_string_equal(prompt + strlen(prompt) - strlen(KEY_PROMPT), KEY_PROMPT);
	assert_int_equal(mock_count(&api, "token"), 1);
	assert_log_line(log, (const char *[]){ "prompt mode: information shown at once",
	                                       "api_key = yes on a terminal", NULL });
	assert_log_line(log, (const char *[]){ "success:", "method=\"api-key\"", NULL });
	assert_null(strstr(log, ALICE_KEY));
	assert_false(seen_contains(&s.seen, ALICE_KEY));
}

/* There, Enter before the approval is prompt mode's: a still-waiting prompt that keeps the hint. */
static void api_key_on_a_terminal_enter_before_approval_waits(void **state)
{
	struct script s = { .answers = { "", "", "", "", "", "", "", "" } };
	const char *still_waiting = NULL;

	(void)state;
	mock_auto(&api, "approve", "usr_alice", 1.5);
	cached_config("api_key = yes\n");
	assert_int_equal(run_auth("np-auto", test_account(), &s, 0), PAM_SUCCESS);
	for (int i = 0; i < s.seen.count; i++)
		if (strstr(s.seen.text[i], "Still waiting for approval of code") != NULL)
			still_waiting = s.seen.text[i];
	assert_non_null(still_waiting);
	assert_string_equal(still_waiting + strlen(still_waiting) - strlen(KEY_PROMPT), KEY_PROMPT);
	assert_int_equal(mock_count(&api, "create"), 1);
	assert_int_equal(mock_count(&api, "token"), 0);
}

/*
 * Without a terminal (su -c, cron, a daemon) nobody answers prompts:
 * api_key = yes leaves wait = auto in poll mode there.
 */
static int child_api_key_without_a_terminal_polls(void)
{
	struct script s = { 0 };
	int rc = run_auth("np-auto", test_account(), &s, 0);

	if (rc != PAM_SUCCESS || first_prompt(&s.seen) != NULL ||
	    !seen_contains(&s.seen, "Waiting for your approval...")) {
		fprintf(stderr, "api_key = yes without a terminal: %d\n", rc);
		seen_dump(&s.seen);
		return 114;
	}
	return 0;
}

static void api_key_without_a_terminal_polls(void **state)
{
	(void)state;
	cached_config("api_key = yes\n");
	assert_int_equal(run_self(CHILD_KEY_NO_TERMINAL, true), 0);
	assert_int_equal(mock_count(&api, "token"), 0);
}

/*
 * With API keys off (api_key = no, the default), a well-formed key typed at
 * the prompt is only text typed where Enter was asked for: refused at once,
 * never exchanged, and the person told.  An administrator who leaves keys off
 * expects a browser approval every time.
 */
static void api_key_typed_while_keys_are_off_is_refused(void **state)
{
	struct script s = { .answers = { ALICE_KEY, "" } };
	char log[8192];

	(void)state;
	cached_config("api_key = no\n");
	assert_int_equal(sign_in_logged("np-prompt", test_account(), &s, log, sizeof log),
	                 PAM_AUTH_ERR);
	assert_int_equal(mock_count(&api, "token"), 0);
	assert_int_equal(mock_count(&api, "me"), 0);
	/* The prompt never offered a key, and the last one says why not. */
	assert_false(seen_contains(&s.seen, "API key"));
	assert_true(seen_contains(&s.seen, "takes no password here: approve in the browser"));
	assert_log_line(log, (const char *[]){ "failure:", "text typed at the approval prompt",
	                                       NULL });
	assert_false(seen_contains(&s.seen, ALICE_KEY));
	assert_null(strstr(log, ALICE_KEY));
	assert_false(mock_bodies_contain(&api, "npk_"));
}

static void wrong_api_key_is_refused(void **state)
{
	struct script s = { .answers = { "npk_wrong_0000000000000000" } };

	(void)state;
	cached_config("api_key = yes\n");
	assert_int_equal(run_auth("np-prompt", test_account(), &s, 0), PAM_AUTH_ERR);
	assert_int_equal(mock_count(&api, "token"), 1);
	assert_int_equal(mock_count(&api, "me"), 0);
	assert_false(seen_contains(&s.seen, "npk_wrong"));
}

static void api_key_from_the_previous_module(void **state)
{
	struct script s = { 0 };
	char log[8192];

	(void)state;
	cached_config("api_key = yes\nuse_first_pass = yes\n");
	setenv("PAM_AUTHTOK", ALICE_KEY, 1);
	assert_int_equal(sign_in_logged("np-items", test_account(), &s, log, sizeof log),
	                 PAM_SUCCESS);
	assert_log_line(log, (const char *[]){ "success:", "api-key", NULL });
	assert_null(strstr(log, ALICE_KEY));
	assert_int_equal(mock_count(&api, "create"), 0);
	assert_int_equal(mock_count(&api, "token"), 1);
	assert_false(mock_bodies_contain(&api, ALICE_KEY));
}

static void use_first_pass_without_a_key_fails(void **state)
{
	struct script s = { 0 };

	(void)state;
	cached_config("api_key = yes\nuse_first_pass = yes\n");
	setenv("PAM_AUTHTOK", "an ordinary password", 1);
	assert_int_equal(run_auth("np-items", test_account(), &s, 0), PAM_AUTH_ERR);
	assert_int_equal(mock_count(&api, "create"), 0);
	assert_int_equal(mock_count(&api, "token"), 0);
}

static void try_first_pass_falls_back_to_the_browser(void **state)
{
	(void)state;
	cached_config("api_key = yes\ntry_first_pass = yes\n");
	setenv("PAM_AUTHTOK", "npk_wrong_0000000000000000", 1);
	sign_in_ok("np-items");
	assert_int_equal(mock_count(&api, "token"), 1);
	assert_int_equal(mock_count(&api, "create"), 1);
}

/*
 * su, sudo with targetpw or rootpw, polkit: PAM_USER is not who is at the
 * keyboard.  An approval of "su root" by one invoking user must never serve
 * another, even in the same terminal session within cache_ttl.
 */
static void another_pam_ruser_is_never_served(void **state)
{
	struct script s = { 0 };
	char log[8192];

	(void)state;
	setenv("PAM_RUSER", "alice", 1);
	assert_int_equal(sign_in_logged("np-items", test_account(), &s, log, sizeof log),
	                 PAM_SUCCESS);
	assert_log_line(log, (const char *[]){ "success:", "device-code", NULL });
	memset(&s, 0, sizeof s);
	assert_int_equal(mock_count(&api, "create"), 1);
	/* From now on every new code is denied: only the cache could say yes. */
	next_codes("deny");
	setenv("PAM_RUSER", "mallory", 1);
	assert_int_equal(run_auth("np-items", test_account(), &s, 0), PAM_MAXTRIES);
	/* A new code was made, and the approved token never went to the API again. */
	assert_int_equal(mock_count(&api, "create"), 2);
	assert_int_equal(mock_count(&api, "me"), 1);
	/* No PAM_RUSER at all is not "alice" either. */
	unsetenv("PAM_RUSER");
	memset(&s, 0, sizeof s);
	assert_int_equal(run_auth("np-items", test_account(), &s, 0), PAM_MAXTRIES);
	assert_int_equal(mock_count(&api, "create"), 3);
	/* The one who approved is still served, from the cache, and the log says so. */
	setenv("PAM_RUSER", "alice", 1);
	memset(&s, 0, sizeof s);
	assert_int_equal(sign_in_logged("np-items", test_account(), &s, log, sizeof log),
	                 PAM_SUCCESS);
	assert_log_line(log, (const char *[]){ "success:", "cached-approval", NULL });
	assert_int_equal(mock_count(&api, "create"), 3);
	assert_int_equal(mock_count(&api, "me"), 2);
}

#define CHILD_OTHER_UID "--child-sign-in-as-uid-65534"
#define OTHER_UID 65534

/*
 * In the copy: one sign-in whose real uid is 65534 while the effective uid
 * stays 0, as in sudo or su started by that user; the answer is the exit
 * status: 0 when pam_authenticate returned expected_rc.
 */
static int child_sign_in_as_another_uid(const char *expected_rc)
{
	struct script s = { 0 };
	int rc;

	if (setresuid(OTHER_UID, 0, 0) != 0 || getuid() != OTHER_UID || geteuid() != 0)
		return 102;
	rc = run_auth("np-items", test_account(), &s, 0);
	if (rc != atoi(expected_rc)) {
		fprintf(stderr, "sign-in with real uid %d: %d, expected %s\n", OTHER_UID, rc,
		        expected_rc);
		seen_dump(&s.seen);
		return 101;
	}
	return 0;
}

/* Runs the copy as CHILD_OTHER_UID in this session (same tty, host and leader). */
static int sign_in_as_another_uid(int expected_rc)
{
	char expected[16];
	pid_t pid;

	snprintf(expected, sizeof expected, "%d", expected_rc);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return 125;
	if (pid == 0) {
		execl(self_path, self_path, CHILD_OTHER_UID, expected, (char *)NULL);
		_exit(127);
	}
	return exit_status_of(pid);
}

static void another_real_uid_is_never_served(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "  skipped: a real uid of another user needs root\n");
		skip();
	}
	assert_int_not_equal(getuid(), OTHER_UID);
	sign_in_ok("np-items");
	next_codes("deny");
	/* Same account, service, tty, host and session; only the real uid differs. */
	assert_int_equal(sign_in_as_another_uid(PAM_MAXTRIES), 0);
	assert_int_equal(mock_count(&api, "create"), 2);
	assert_int_equal(mock_count(&api, "me"), 1);
	/* That user's own approval serves that user, in a later process too. */
	next_codes("approve");
	assert_int_equal(sign_in_as_another_uid(PAM_SUCCESS), 0);
	assert_int_equal(mock_count(&api, "create"), 3);
	next_codes("deny");
	assert_int_equal(sign_in_as_another_uid(PAM_SUCCESS), 0);
	assert_int_equal(mock_count(&api, "create"), 3);
	/* And the first entry still serves the first invoker alone. */
	sign_in_ok("np-items");
	assert_int_equal(mock_count(&api, "create"), 3);
}

/* cache_scope = user reuses from anywhere, but only for the same invoking user. */
static void user_scope_is_bound_to_the_invoking_user(void **state)
{
	struct script s = { 0 };

	(void)state;
	cached_config("cache_scope = user\n");
	setenv("PAM_RUSER", "alice", 1);
	sign_in_ok("np-items");
	next_codes("deny");
	setenv("PAM_TTY", "/dev/pts/9", 1);
	sign_in_ok("np-items");
	setenv("PAM_RUSER", "mallory", 1);
	assert_int_equal(run_auth("np-items", test_account(), &s, 0), PAM_MAXTRIES);
	assert_int_equal(mock_count(&api, "create"), 2);
	assert_int_equal(mock_count(&api, "me"), 2);
}

/*
 * Signs in (approved, and stored), damages the store, and signs in again with
 * every new code denied: the damaged store must sign nobody in, its token
 * must not reach the API again, and the log must say why.  Returns the
 * entry's path.
 */
static void damaged_store_is_not_used(void (*damage)(const char *entry), const char *reason,
                                      char *path, size_t path_size)
{
	struct script s = { 0 };
	char log[8192];

	sign_in_ok("np-items");
	entry_path(path, path_size);
	damage(path);
	next_codes("deny");
	assert_int_equal(sign_in_logged("np-items", test_account(), &s, log, sizeof log),
	                 PAM_MAXTRIES);
	assert_int_equal(mock_count(&api, "create"), 2);
	assert_int_equal(mock_count(&api, "me"), 1);
	assert_log_line(log, (const char *[]){ "cache:", reason, NULL });
}

/* A damaged entry (not its directory) is also removed, so it is not looked at again. */
static void damaged_entry_is_removed(void (*damage)(const char *entry), const char *reason)
{
	char path[2048];
	struct stat st;

	damaged_store_is_not_used(damage, reason, path, sizeof path);
	assert_int_equal(lstat(path, &st), -1);
}

/* The entry's header names an earlier format version. */
static void as_version(const char *entry, int version)
{
	FILE *f = fopen(entry, "r+b");

	assert_non_null(f);
	assert_int_equal(fseek(f, 7, SEEK_SET), 0);
	assert_int_equal(fputc(version, f), version);
	assert_int_equal(fclose(f), 0);
}

static void as_version_1(const char *entry)
{
	as_version(entry, 1);
}

static void as_version_2(const char *entry)
{
	as_version(entry, 2);
}

/*
 * Entries of the earlier formats (version 1, not bound to the invoker;
 * version 2, without the token's expiry in the meta box) are never used.
 */
static void entry_of_an_older_format_is_not_used(void **state)
{
	(void)state;
	damaged_entry_is_removed(as_version_1, "unknown format version; removed");
	reset(state);
	damaged_entry_is_removed(as_version_2, "unknown format version; removed");
}

/* How many /auth/me requests the mock saw with this token. */
static int me_requests_with(const char *token)
{
	char *text = mock_stats(&api);
	struct json_object *stats = text != NULL ? json_tokener_parse(text) : NULL;
	struct json_object *log = NULL, *field = NULL;
	char bearer[NP_TOKEN_MAX + 16];
	int n = 0;

	snprintf(bearer, sizeof bearer, "Bearer %s", token);
	assert_non_null(stats);
	assert_true(json_object_object_get_ex(stats, "log", &log));
	for (size_t i = 0; i < json_object_array_length(log); i++) {
		struct json_object *entry = json_object_array_get_idx(log, i);

		if (json_object_object_get_ex(entry, "endpoint", &field) &&
		    json_object_get_string(field) != NULL &&
		    strcmp(json_object_get_string(field), "me") == 0 &&
		    json_object_object_get_ex(entry, "authorization", &field) &&
		    json_object_get_string(field) != NULL &&
		    strcmp(json_object_get_string(field), bearer) == 0)
			n++;
	}
	json_object_put(stats);
	free(text);
	return n;
}

/*
 * A token past its own exp is not offered to the API at all.  The mock here
 * accepts expired tokens, so only the module's own check of token_exp stands
 * between the stale entry and a sign-in.
 */
static void cached_token_past_its_exp_is_not_offered(void **state)
{
	char token[NP_TOKEN_MAX + 1], log[8192];
	struct script s = { 0 };

	(void)state;
	assert_int_equal(mock_post(&api, "config",
	                           "{\"token_lifetime\": 2, \"accept_expired\": true}"),
	                 200);
	sign_in_ok("np-items");
	assert_true(mock_last_bearer(&api, "me", token, sizeof token));
	assert_int_equal(me_requests_with(token), 1);
	sleep(3);
	next_codes("deny");
	assert_int_equal(sign_in_logged("np-items", test_account(), &s, log, sizeof log),
	                 PAM_MAXTRIES);
	assert_int_equal(me_requests_with(token), 1);
	assert_int_equal(mock_count(&api, "create"), 2);
	/* The reason comes quoted, as every value in a log line does. */
	assert_log_line(log, (const char *[]){ "cache: entry not used: \"cache entry ",
	                                       ": token expired; removed\"", NULL });
}

/* Someone removed from the identity map does not get in from an approval made before. */
static void removed_from_the_map_is_not_served_from_the_cache(void **state)
{
	char map[512], path[2048], log[8192];
	struct script s = { 0 };
	struct stat st;

	(void)state;
	sign_in_ok("np-items");
	entry_path(path, sizeof path);
	snprintf(map, sizeof map, "usr_bob %s\n", test_account());
	write_usermap(map);
	next_codes("deny");
	assert_int_equal(sign_in_logged("np-items", test_account(), &s, log, sizeof log),
	                 PAM_MAXTRIES);
	/* The token was still good (one whoami), but the map said no. */
	assert_int_equal(mock_count(&api, "me"), 2);
	assert_int_equal(mock_count(&api, "create"), 2);
	assert_log_line(log, (const char *[]){ "cache:", "no longer allowed by the map", NULL });
	assert_int_equal(lstat(path, &st), -1);
}

/*
 * The cached user id must be the one /auth/me answers for, even when the
 * other identity would map to the account as well.
 */
static void token_answering_for_another_identity_is_not_served(void **state)
{
	char map[512], log[8192];
	struct script s = { 0 };

	(void)state;
	snprintf(map, sizeof map, "usr_alice %s\nusr_bob %s\n", test_account(), test_account());
	write_usermap(map);
	sign_in_ok("np-items");
	assert_int_equal(mock_post(&api, "reassign",
	                           "{\"user\": \"usr_alice\", \"to\": \"usr_bob\"}"),
	                 200);
	next_codes("deny");
	assert_int_equal(sign_in_logged("np-items", test_account(), &s, log, sizeof log),
	                 PAM_MAXTRIES);
	assert_int_equal(mock_count(&api, "me"), 2);
	assert_int_equal(mock_count(&api, "create"), 2);
	assert_log_line(log, (const char *[]){ "cache:", "token answered for another identity",
	                                       NULL });
}

static void open_the_directory_to_its_group(const char *entry)
{
	(void)entry;
	assert_int_equal(chmod(cache_dir, 0750), 0);
}

static void cache_dir_open_to_its_group_is_not_used(void **state)
{
	char path[2048];
	struct stat st;

	(void)state;
	damaged_store_is_not_used(open_the_directory_to_its_group,
	                          "mode 0750 gives group or other access, must be 0700", path,
	                          sizeof path);
	/* The module touches nothing in a directory it does not trust. */
	assert_int_equal(lstat(path, &st), 0);
}

static void make_readable_by_others(const char *entry)
{
	assert_int_equal(chmod(entry, 0644), 0);
}

static void entry_readable_by_others_is_not_used(void **state)
{
	(void)state;
	damaged_entry_is_removed(make_readable_by_others,
	                         "group or other access in its mode, must be 0600; removed");
}

/* The good entry, moved out of the directory, with a symlink to it in its place. */
static void replace_by_a_symlink(const char *entry)
{
	char moved[1024];

	snprintf(moved, sizeof moved, "%s/moved.entry", test_dir());
	assert_int_equal(rename(entry, moved), 0);
	assert_int_equal(symlink(moved, entry), 0);
}

static void entry_that_is_a_symlink_is_not_used(void **state)
{
	(void)state;
	damaged_entry_is_removed(replace_by_a_symlink,
	                         "a symbolic link, not a regular file; removed");
}

/* Opened without care, a FIFO would hang the sign-in. */
static void replace_by_a_fifo(const char *entry)
{
	assert_int_equal(unlink(entry), 0);
	assert_int_equal(mkfifo(entry, 0600), 0);
}

static void entry_that_is_a_fifo_is_not_used(void **state)
{
	(void)state;
	damaged_entry_is_removed(replace_by_a_fifo, "not a regular file; removed");
}

static void give_to_another_uid(const char *entry)
{
	assert_int_equal(chown(entry, OTHER_UID, (gid_t)-1), 0);
}

static void entry_owned_by_another_uid_is_not_used(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "  skipped: a file of another owner needs root\n");
		skip();
	}
	damaged_entry_is_removed(give_to_another_uid, "owned by another uid; removed");
}

/* The path of the one entry file other than known; there must be exactly two. */
static void other_entry_path(const char *known, char *out, size_t out_size)
{
	DIR *dir = opendir(cache_dir);
	struct dirent *entry;
	char path[2048];
	int entries = 0;

	assert_non_null(dir);
	out[0] = '\0';
	while ((entry = readdir(dir)) != NULL) {
		if (entry->d_name[0] == '.')
			continue;
		entries++;
		snprintf(path, sizeof path, "%s/%s", cache_dir, entry->d_name);
		if (strcmp(path, known) != 0)
			snprintf(out, out_size, "%s", path);
	}
	closedir(dir);
	assert_int_equal(entries, 2);
	assert_true(out[0] != '\0');
}

/*
 * An entry copied over another scope's file (another remote host's here) does
 * not open there: the scope is in the payload's associated data, not only in
 * the file name.
 */
static void entry_copied_to_another_scope_does_not_open(void **state)
{
	char first[2048], second[2048], cmd[4200], log[8192];
	struct script s = { 0 };

	(void)state;
	sign_in_ok("np-items");
	entry_path(first, sizeof first);
	setenv("PAM_RHOST", "198.51.100.7", 1);
	sign_in_ok("np-items");
	assert_int_equal(mock_count(&api, "create"), 2);
	/* The second terminal's entry, overwritten with the first one's bytes. */
	other_entry_path(first, second, sizeof second);
	snprintf(cmd, sizeof cmd, "cp -p %s %s", first, second);
	assert_int_equal(run_shell("%s", cmd), 0);
	next_codes("deny");
	assert_int_equal(sign_in_logged("np-items", test_account(), &s, log, sizeof log),
	                 PAM_MAXTRIES);
	assert_int_equal(mock_count(&api, "create"), 3);
	assert_int_equal(mock_count(&api, "me"), 2);
	assert_log_line(log, (const char *[]){ "cache:", "does not decrypt", "removed", NULL });
}

/*
 * map_email_localpart: "Root@Example.com" with allowed_domains = example.com
 * must never sign in as root, nor "Daemon@" as daemon (uid below UID_MIN).
 * Only an explicit map line may name such an account.
 */
static void localpart_never_names_root_or_a_system_account(void **state)
{
	const char *const accounts[] = { "root", "daemon" };
	const char *const emails[] = { "Root@Example.com", "Daemon@example.COM" };
	const char *const ids[] = { "usr_mail_root", "usr_mail_daemon" };
	char log[8192], map[256], refused[128];

	(void)state;
	write_config(&api, "map_email_localpart = yes\nallowed_domains = example.com\n");
	for (int i = 0; i < 2; i++) {
		struct script s = { 0 };

		mock_identity(ids[i], emails[i]);
		next_codes_as("approve", ids[i]);
		assert_int_equal(sign_in_logged("np-poll", accounts[i], &s, log, sizeof log),
		                 PAM_AUTH_ERR);
		snprintf(refused, sizeof refused, "may not sign in as %s on this host", accounts[i]);
		assert_true(seen_contains(&s.seen, refused));
		assert_log_line(log, (const char *[]){ "refused:", accounts[i], ids[i],
		                                       "e-mail local part never names root or a "
		                                       "system account",
		                                       NULL });
	}
	/* An explicit line for the same account and address still works. */
	snprintf(map, sizeof map, "usr_alice %s\nroot@example.com root\n", test_account());
	write_usermap(map);
	{
		struct script s = { 0 };

		next_codes_as("approve", ids[0]);
		assert_int_equal(sign_in_logged("np-poll", "root", &s, log, sizeof log), PAM_SUCCESS);
		assert_log_line(log, (const char *[]){ "success:", "root", "usr_mail_root",
		                                       "e-mail rule", NULL });
	}
}

/* map_email_localpart for a person's account: ASCII case folded, the domain list whole. */
static void localpart_folds_case_and_keeps_to_allowed_domains(void **state)
{
	const char *account = personal_account();
	char upper[64], email[128], log[8192];
	struct {
		const char *id, *domain;
		int rc;
		const char *reason;
	} cases[] = {
		{ "usr_mail_upper", "EXAMPLE.com", PAM_SUCCESS, "e-mail local part" },
		{ "usr_mail_second", "Corp.Example", PAM_SUCCESS, "e-mail local part" },
		{ "usr_mail_other", "example.org", PAM_AUTH_ERR, "(no rule)" },
		{ "usr_mail_sub", "sub.example.com", PAM_AUTH_ERR, "(no rule)" },
		{ "usr_mail_suffix", "example.com.evil", PAM_AUTH_ERR, "(no rule)" },
	};

	(void)state;
	if (account == NULL) {
		fprintf(stderr, "  skipped: no account with a uid of at least UID_MIN\n");
		skip();
	}
	for (size_t i = 0; i <= strlen(account) && i < sizeof upper; i++)
		upper[i] = (char)(account[i] >= 'a' && account[i] <= 'z' ? account[i] - 'a' + 'A'
		                                                         : account[i]);
	upper[sizeof upper - 1] = '\0';
	write_config(&api, "map_email_localpart = yes\nallowed_domains = example.com,corp.example\n");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct script s = { 0 };

		snprintf(email, sizeof email, "%s@%s", upper, cases[i].domain);
		mock_identity(cases[i].id, email);
		next_codes_as("approve", cases[i].id);
		if (sign_in_logged("np-poll", account, &s, log, sizeof log) != cases[i].rc)
			fail_msg("%s as %s: not %d\n%s", email, account, cases[i].rc, log);
		assert_log_line(log, (const char *[]){ cases[i].rc == PAM_SUCCESS ? "success:" : "refused:",
		                                       cases[i].id, cases[i].reason, NULL });
	}
}

/* ---- sweeping: every sign-in removes a few stale or unreadable entries of others ---- */

#define MAX_FILES 128

/* The names in the cache directory, "." and ".." aside. */
static int cache_files(char names[][80], int max)
{
	DIR *dir = opendir(cache_dir);
	struct dirent *entry;
	int n = 0;

	assert_non_null(dir);
	while ((entry = readdir(dir)) != NULL) {
		if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
			continue;
		assert_true(n < max);
		snprintf(names[n++], 80, "%s", entry->d_name);
	}
	closedir(dir);
	return n;
}

static bool cache_has(const char *name)
{
	char path[2048];
	struct stat st;

	snprintf(path, sizeof path, "%s/%s", cache_dir, name);
	return lstat(path, &st) == 0;
}

/*
 * Signs in from the remote host rhost (another scope than the other tests',
 * whose terminal it shares) with cache_ttl; the path of the entry it stored,
 * which must be new.
 */
static void entry_of_a_sign_in(const char *rhost, const char *ttl, char *path, size_t path_size)
{
	static char before[MAX_FILES][80], after[MAX_FILES][80];
	char settings[128];
	int n_before = access(cache_dir, F_OK) == 0 ? cache_files(before, MAX_FILES) : 0;
	int n_after;

	snprintf(settings, sizeof settings, "cache_ttl = %s\n", ttl);
	cached_config(settings);
	setenv("PAM_RHOST", rhost, 1);
	sign_in_ok("np-items");
	n_after = cache_files(after, MAX_FILES);
	assert_int_equal(n_after, n_before + 1);
	for (int i = 0; i < n_after; i++) {
		bool old = false;

		for (int j = 0; j < n_before && !old; j++)
			old = strcmp(after[i], before[j]) == 0;
		if (!old) {
			snprintf(path, path_size, "%s/%s", cache_dir, after[i]);
			return;
		}
	}
	fail_msg("no new entry after a sign-in from %s", rhost);
}

/* A file named name in the cache directory holding text, with mode; its path. */
static void cache_file(const char *name, const char *text, mode_t mode, char *path,
                       size_t path_size)
{
	snprintf(path, path_size, "%s/%s", cache_dir, name);
	write_file(path, text, mode);
	assert_int_equal(chmod(path, mode), 0);
}

/* "0123456789abcdef..." as the sweep names an entry, for the entry at path. */
static const char *shown(const char *path, char *out, size_t out_size)
{
	snprintf(out, out_size, "%.16s...", strrchr(path, '/') + 1);
	return out;
}

/* How many lines of log hold needle. */
static int lines_with(const char *log, const char *needle)
{
	int n = 0;

	for (const char *at = strstr(log, needle); at != NULL; at = strstr(at + 1, needle))
		n++;
	return n;
}

static void sweep_removes_what_can_no_longer_serve(void **state)
{
	char ttl_passed[2048], token_expired[2048], good[2048], open_mode[2048], old_format[2048];
	char garbage[2048], fifo[2048], link[2048], target[2048], old_tmp[2048], new_tmp[2048];
	char other_owner[2048] = "", notes[2048], log[16384], name[32];
	struct script s = { 0 };
	struct timespec long_ago[2] = { { time(NULL) - 120, 0 }, { time(NULL) - 120, 0 } };
	struct stat st;
	time_t made;

	(void)state;
	/*
	 * Every sign-in sweeps: the entries are made first, good, and spoilt only
	 * once the last of them is stored.  Still good (900 s, stored so), though
	 * older than the sweeper's own cache_ttl of 1 s: kept.
	 */
	entry_of_a_sign_in("198.51.100.13", "900", good, sizeof good);
	entry_of_a_sign_in("198.51.100.14", "900", open_mode, sizeof open_mode);
	entry_of_a_sign_in("198.51.100.15", "900", old_format, sizeof old_format);
	if (geteuid() == 0)
		entry_of_a_sign_in("198.51.100.16", "900", other_owner, sizeof other_owner);
	/* A token that expires in 5 s; then an entry stored under a cache_ttl of 2 s. */
	mock_configure(&api, "{\"token_lifetime\": 5}");
	entry_of_a_sign_in("198.51.100.12", "900", token_expired, sizeof token_expired);
	made = time(NULL);
	mock_configure(&api, "{\"token_lifetime\": 3600}");
	entry_of_a_sign_in("198.51.100.11", "2", ttl_passed, sizeof ttl_passed);
	/* Spoilt: opened to others, of format version 2, given to another user. */
	assert_int_equal(chmod(open_mode, 0644), 0);
	as_version_2(old_format);
	if (other_owner[0] != '\0')
		assert_int_equal(chown(other_owner, OTHER_UID, (gid_t)-1), 0);
	/* Entry names holding garbage, a FIFO (never opened), a link (never followed). */
	cache_file("abababababababababababababababababababababababababababababababab.entry",
	           "not an entry at all", 0600, garbage, sizeof garbage);
	snprintf(fifo, sizeof fifo, "%s/%s", cache_dir,
	         "1212121212121212121212121212121212121212121212121212121212121212.entry");
	assert_int_equal(mkfifo(fifo, 0600), 0);
	snprintf(target, sizeof target, "%s/outside-the-cache", test_dir());
	write_file(target, "keep me\n", 0600);
	snprintf(link, sizeof link, "%s/%s", cache_dir,
	         "3434343434343434343434343434343434343434343434343434343434343434.entry");
	assert_int_equal(symlink(target, link), 0);
	/* An unfinished write of two minutes ago goes; one of now, and other names, stay. */
	cache_file(".tmp-5555555555555555", "half", 0600, old_tmp, sizeof old_tmp);
	assert_int_equal(utimensat(AT_FDCWD, old_tmp, long_ago, 0), 0);
	cache_file(".tmp-6666666666666666", "half", 0600, new_tmp, sizeof new_tmp);
	cache_file("notes", "an administrator's\n", 0644, notes, sizeof notes);
	/* Both the token's 5 s and the other entry's 2 s have passed. */
	assert_int_equal(lstat(token_expired, &st), 0);
	while (time(NULL) < made + 6)
		usleep(100000);
	/* The sweeper: the remote host of every other test, with a cache_ttl of its own of 1 s. */
	cached_config("cache_ttl = 1\n");
	setenv("PAM_RHOST", "192.0.2.10", 1);
	assert_int_equal(sign_in_logged("np-items", test_account(), &s, log, sizeof log),
	                 PAM_SUCCESS);
	/* One line for the whole sweep, naming each entry with its reason. */
	assert_int_equal(lines_with(log, "cache: removed "), 1);
	assert_log_line(log, (const char *[]){ other_owner[0] != '\0' ? "cache: removed 9 stale"
	                                                               : "cache: removed 8 stale",
	                                       "or unreadable entries: \"", NULL });
	assert_log_line(log, (const char *[]){ shown(ttl_passed, name, sizeof name),
	                                       ": older than the cache_ttl it was stored with", NULL });
	assert_log_line(log, (const char *[]){ shown(token_expired, name, sizeof name),
	                                       ": token expired", NULL });
	assert_log_line(log, (const char *[]){ shown(open_mode, name, sizeof name),
	                                       ": group or other access in its mode", NULL });
	assert_log_line(log, (const char *[]){ shown(old_format, name, sizeof name),
	                                       ": unknown format version", NULL });
	assert_log_line(log, (const char *[]){ "abababababababab...: not a cache entry", NULL });
	assert_log_line(log, (const char *[]){ "1212121212121212...: not a regular file", NULL });
	assert_log_line(log, (const char *[]){ "3434343434343434...: a symbolic link", NULL });
	assert_log_line(log, (const char *[]){ ".tmp-5555555555555555: unfinished write", NULL });
	if (other_owner[0] != '\0')
		assert_log_line(log, (const char *[]){ shown(other_owner, name, sizeof name),
		                                       ": owned by another uid", NULL });
	/* The token is never in the log. */
	assert_null(strstr(log, "eyJ"));
	/* Gone: all of those.  Kept: the good entry, the fresh write, the notes, the link's target. */
	assert_int_equal(lstat(ttl_passed, &st), -1);
	assert_int_equal(lstat(token_expired, &st), -1);
	assert_int_equal(lstat(open_mode, &st), -1);
	assert_int_equal(lstat(old_format, &st), -1);
	assert_int_equal(lstat(garbage, &st), -1);
	assert_int_equal(lstat(fifo, &st), -1);
	assert_int_equal(lstat(link, &st), -1);
	assert_int_equal(lstat(old_tmp, &st), -1);
	if (other_owner[0] != '\0')
		assert_int_equal(lstat(other_owner, &st), -1);
	assert_int_equal(lstat(good, &st), 0);
	assert_int_equal(lstat(new_tmp, &st), 0);
	assert_int_equal(lstat(notes, &st), 0);
	assert_int_equal(lstat(target, &st), 0);
	assert_true(cache_has(".tmp-6666666666666666"));
	/* And the good entry still serves its own remote host. */
	next_codes("deny");
	cached_config(NULL);
	setenv("PAM_RHOST", "198.51.100.13", 1);
	sign_in_ok("np-items");
	unlink(target);
}

/* Each sign-in looks at 16 entries of others at most. */
static void sweep_is_bounded(void **state)
{
	char path[2048], log[16384], name[80];
	static char files[MAX_FILES][80];
	int garbage_left[4];

	(void)state;
	sign_in_ok("np-items");
	for (int i = 0; i < 40; i++) {
		snprintf(name, sizeof name, "%064x.entry", i + 1);
		cache_file(name, "garbage", 0600, path, sizeof path);
	}
	for (int round = 0; round < 4; round++) {
		struct script s = { 0 };
		int n = 0;

		assert_int_equal(sign_in_logged("np-items", test_account(), &s, log, sizeof log),
		                 PAM_SUCCESS);
		assert_true(lines_with(log, "cache: removed ") <= 1);
		/* The sign-in's own entry, reused, is never among them. */
		assert_log_line(log, (const char *[]){ "success:", "cached-approval", NULL });
		for (int i = 0, count = cache_files(files, MAX_FILES); i < count; i++)
			n += strncmp(files[i], "000000", 6) == 0;
		garbage_left[round] = n;
	}
	assert_int_equal(garbage_left[0], 24);
	assert_int_equal(garbage_left[1], 8);
	assert_int_equal(garbage_left[2], 0);
	assert_int_equal(garbage_left[3], 0);
	assert_int_equal(mock_count(&api, "create"), 1);
}

#define T(fn) cmocka_unit_test_setup(fn, reset)

/*
 * sshd's per-connection child, login and a terminal emulator each start a
 * session whose controlling terminal is the person's; so does this suite,
 * with a new pseudo-terminal that PAM_TTY names (terminal), which the session
 * scope binds to.  In this process where it can (under valgrind a forked copy
 * would report its parent's memory as leaks, in silence); a process group
 * leader may not call setsid(), and then a child runs the suite.  The
 * terminal's master stays open until the suite ends.
 */
static int run_in_a_session_with_a_terminal(void)
{
	pid_t pid;

	if (setsid() != (pid_t)-1 && test_terminal_session(terminal, sizeof terminal) >= 0)
		return 0;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		return setsid() != (pid_t)-1 && test_terminal_session(terminal, sizeof terminal) >= 0
		               ? 0
		               : -1;
	exit(exit_status_of(pid));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		T(reused_in_the_same_session),
		T(pam_tty_of_another_terminal_is_never_served),
		T(pam_tty_that_only_leads_to_the_terminal_is_never_served),
		T(either_name_of_the_terminal_is_the_terminal),
		T(no_controlling_terminal_means_no_cache),
		T(another_remote_host_asks_again),
		T(another_service_asks_again),
		T(another_login_session_asks_again),
		T(terminal_taken_over_by_a_new_session_asks_again),
		T(no_visible_session_leader_means_no_cache),
		T(user_scope_reuses_from_anywhere),
		T(user_scope_never_crosses_services),
		T(ssh_auth_info_outside_openssh_is_not_trusted),
		T(expired_entry_falls_back),
		T(revoked_token_falls_back),
		T(tampered_entry_falls_back),
		T(unreachable_api_never_logs_in_from_cache),
		T(unsafe_key_file_means_no_cache),
		T(api_key_typed_at_the_prompt),
		T(api_key_typed_while_keys_are_off_is_refused),
		T(api_key_on_a_terminal_gets_a_prompt_for_it),
		T(api_key_on_a_terminal_enter_before_approval_waits),
		T(api_key_without_a_terminal_polls),
		T(wrong_api_key_is_refused),
		T(api_key_from_the_previous_module),
		T(use_first_pass_without_a_key_fails),
		T(try_first_pass_falls_back_to_the_browser),
		T(another_pam_ruser_is_never_served),
		T(another_real_uid_is_never_served),
		T(user_scope_is_bound_to_the_invoking_user),
		T(entry_of_an_older_format_is_not_used),
		T(localpart_never_names_root_or_a_system_account),
		T(localpart_folds_case_and_keeps_to_allowed_domains),
		T(cached_token_past_its_exp_is_not_offered),
		T(removed_from_the_map_is_not_served_from_the_cache),
		T(token_answering_for_another_identity_is_not_served),
		T(cache_dir_open_to_its_group_is_not_used),
		T(entry_readable_by_others_is_not_used),
		T(entry_that_is_a_symlink_is_not_used),
		T(entry_that_is_a_fifo_is_not_used),
		T(entry_owned_by_another_uid_is_not_used),
		T(entry_copied_to_another_scope_does_not_open),
		T(sweep_removes_what_can_no_longer_serve),
		T(sweep_is_bounded),
	};

	self_path = argv[0];
	if (argc == 2 && strcmp(argv[1], CHILD_AT_PAM_TTY) == 0)
		return child_sign_in_at_pam_tty();
	if (argc == 2 && strcmp(argv[1], CHILD_NO_TERMINAL) == 0)
		return child_sign_in_twice_without_a_terminal();
	if (argc == 2 && strcmp(argv[1], CHILD_NAMESPACE) == 0)
		return child_new_pid_namespace();
	if (argc == 2 && strcmp(argv[1], CHILD_NAMESPACE_INIT) == 0)
		return child_namespace_init();
	if (argc == 2 && strcmp(argv[1], CHILD_KEY_NO_TERMINAL) == 0)
		return child_api_key_without_a_terminal_polls();
	if (argc == 2 && strcmp(argv[1], CHILD_NO_LEADER) == 0)
		return child_sign_in_twice_without_a_visible_leader();
	if (argc == 3 && strcmp(argv[1], CHILD_OTHER_UID) == 0)
		return child_sign_in_as_another_uid(argv[2]);
	if (argc != 1) {
		fprintf(stderr, "usage: %s\n", argv[0]);
		return 2;
	}
	if (run_in_a_session_with_a_terminal() != 0) {
		perror("a session with a terminal of its own");
		return 1;
	}
	/* NP_TEST_FILTER=name (cmocka's wildcards) runs just those tests. */
	if (getenv("NP_TEST_FILTER") != NULL && getenv("NP_TEST_FILTER")[0] != '\0')
		cmocka_set_test_filter(getenv("NP_TEST_FILTER"));
	return cmocka_run_group_tests_name("cache and API keys", tests, group_setup,
	                                   group_teardown);
}
