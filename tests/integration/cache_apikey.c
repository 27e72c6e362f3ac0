/*
 * The approval cache and API-key sign-in, through the real libpam, helper
 * and mock.  Services np-items / np-items-prompt put PAM_TTY, PAM_RHOST and
 * PAM_AUTHTOK from the environment into the handle (pam_wrapper's
 * pam_set_items), as sshd, login or an earlier module would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <security/pam_appl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define ALICE_KEY "npk_alice_0123456789abcdef"

static struct mock api;
static char cache_dir[1024], key_path[1024];

static int group_setup(void **state)
{
	char usermap[1024];

	(void)state;
	if (mock_start(&api, "mock-cache", NULL) != 0)
		return -1;
	snprintf(usermap, sizeof usermap, "usr_alice %s\n", test_account());
	write_usermap(usermap);
	snprintf(cache_dir, sizeof cache_dir, "%s/cache", test_dir());
	snprintf(key_path, sizeof key_path, "%s/conf/cache.key", test_dir());
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	mock_stop(&api);
	return 0;
}

static void write_key(mode_t mode)
{
	unsigned char key[32];
	int fd = open("/dev/urandom", O_RDONLY);
	int out;

	assert_true(fd >= 0);
	assert_int_equal(read(fd, key, sizeof key), (ssize_t)sizeof key);
	close(fd);
	unlink(key_path);
	out = open(key_path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(out >= 0);
	assert_int_equal(write(out, key, sizeof key), (ssize_t)sizeof key);
	assert_int_equal(fchmod(out, mode), 0);
	close(out);
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
	assert_int_equal(mock_post(&api, "/_mock/reset", "{}"), 200);
	assert_int_equal(mock_post(&api, "/_mock/config",
	                           "{\"auto\": {\"action\": \"approve\", \"user\": \"usr_alice\", "
	                           "\"after\": 0.2}}"),
	                 200);
	assert_int_equal(run_shell("rm -rf %s", cache_dir), 0);
	write_key(0600);
	cached_config(NULL);
	setenv("PAM_TTY", "/dev/pts/7", 1);
	setenv("PAM_RHOST", "192.0.2.10", 1);
	unsetenv("PAM_AUTHTOK");
	return 0;
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

static void another_terminal_asks_again(void **state)
{
	(void)state;
	sign_in_ok("np-items");
	setenv("PAM_TTY", "/dev/pts/8", 1);
	sign_in_ok("np-items");
	assert_int_equal(mock_count(&api, "create"), 2);
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
	assert_int_equal(mock_post(&api, "/_mock/revoke", "{\"user\": \"usr_alice\"}"), 200);
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

#define CHILD_NEW_SESSION "--child-sign-in"
#define CHILD_NO_LEADER "--child-sign-in-twice-without-a-visible-leader"
#define CHILD_NAMESPACE "--child-new-pid-namespace"
#define CHILD_NAMESPACE_INIT "--child-pid-namespace-init"

static int exit_code_of(pid_t pid)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 126;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

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
	return exit_code_of(pid);
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

/* In the copy: no cmocka here, the answer is the exit status. */
static int child_sign_in(void)
{
	struct script s = { 0 };
	int rc = run_auth("np-items", test_account(), &s, 0);

	if (rc != PAM_SUCCESS)
		fprintf(stderr, "sign-in in another session: %d\n", rc);
	return rc == PAM_SUCCESS ? 0 : 101;
}

static int child_sign_in_twice_without_a_visible_leader(void)
{
	struct script first = { 0 }, second = { 0 };
	char log[8192];
	int rc1, rc2;

	if (getsid(0) != 0)
		return 110;
	log_capture_begin();
	rc1 = run_auth("np-items", test_account(), &first, 0);
	rc2 = run_auth("np-items", test_account(), &second, 0);
	log_capture_end(log, sizeof log);
	if (rc1 != PAM_SUCCESS || rc2 != PAM_SUCCESS) {
		fprintf(stderr, "in a new PID namespace: %d, %d\n%s", rc1, rc2, log);
		seen_dump(&first.seen);
		seen_dump(&second.seen);
		return 112;
	}
	return strstr(log, "cannot identify the session leader; not caching") != NULL ? 0 : 113;
}

static void another_login_session_asks_again(void **state)
{
	(void)state;
	sign_in_ok("np-items");
	/* Same account, service, tty and host, but another session leader: a new login. */
	assert_int_equal(run_self(CHILD_NEW_SESSION, true), 0);
	assert_int_equal(mock_count(&api, "create"), 2);
	/* The first session's entry is still its own. */
	sign_in_ok("np-items");
	assert_int_equal(mock_count(&api, "create"), 2);
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
	assert_int_equal(mock_post(&api, "/_mock/fault",
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
	(void)state;
	cached_config("api_key = yes\nuse_first_pass = yes\n");
	setenv("PAM_AUTHTOK", ALICE_KEY, 1);
	sign_in_ok("np-items");
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

#define T(fn) cmocka_unit_test_setup(fn, reset)

/*
 * sshd's per-connection child and login each start a session; so does this
 * suite, so that the session scope has a leader to bind to whatever started
 * it.  A process group leader may not call setsid(): a child runs the suite.
 */
static int run_in_a_session_of_its_own(void)
{
	pid_t pid;

	if (getsid(0) == getpid() || setsid() != (pid_t)-1)
		return 0;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0)
		return setsid() == (pid_t)-1 ? -1 : 0;
	exit(exit_code_of(pid));
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		T(reused_in_the_same_session),
		T(another_terminal_asks_again),
		T(another_remote_host_asks_again),
		T(another_service_asks_again),
		T(another_login_session_asks_again),
		T(no_visible_session_leader_means_no_cache),
		T(user_scope_reuses_from_anywhere),
		T(expired_entry_falls_back),
		T(revoked_token_falls_back),
		T(tampered_entry_falls_back),
		T(unreachable_api_never_logs_in_from_cache),
		T(unsafe_key_file_means_no_cache),
		T(api_key_typed_at_the_prompt),
		T(wrong_api_key_is_refused),
		T(api_key_from_the_previous_module),
		T(use_first_pass_without_a_key_fails),
		T(try_first_pass_falls_back_to_the_browser),
	};

	self_path = argv[0];
	if (argc == 2 && strcmp(argv[1], CHILD_NEW_SESSION) == 0)
		return child_sign_in();
	if (argc == 2 && strcmp(argv[1], CHILD_NAMESPACE) == 0)
		return child_new_pid_namespace();
	if (argc == 2 && strcmp(argv[1], CHILD_NAMESPACE_INIT) == 0)
		return child_namespace_init();
	if (argc == 2 && strcmp(argv[1], CHILD_NO_LEADER) == 0)
		return child_sign_in_twice_without_a_visible_leader();
	if (argc != 1) {
		fprintf(stderr, "usage: %s\n", argv[0]);
		return 2;
	}
	if (run_in_a_session_of_its_own() != 0) {
		perror("setsid");
		return 1;
	}
	return cmocka_run_group_tests_name("cache and API keys", tests, group_setup,
	                                   group_teardown);
}
