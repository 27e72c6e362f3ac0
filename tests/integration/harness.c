/* SPDX-License-Identifier: BSD-2-Clause */
#include "harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <libpamtest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../time_limit.h"

/* The mock makes its certificates on its first start: openssl takes a while. */
#define MOCK_START_MS 15000

static void die(const char *what)
{
	fprintf(stderr, "harness: %s: %s\n", what, strerror(errno));
	exit(2);
}

long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *test_dir(void)
{
	const char *dir = getenv("NP_TEST_DIR");

	if (dir == NULL || dir[0] != '/') {
		fprintf(stderr, "harness: NP_TEST_DIR is not set; run through tests/run-tests.sh\n");
		exit(2);
	}
	return dir;
}

const char *test_account(void)
{
	static char name[256];
	struct passwd *pw;

	if (name[0] == '\0') {
		pw = getpwuid(geteuid());
		if (pw == NULL)
			die("getpwuid");
		snprintf(name, sizeof name, "%s", pw->pw_name);
	}
	return name;
}

void write_file(const char *path, const char *text, mode_t mode)
{
	char tmp[1024];
	FILE *f;

	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		die(path);
	if (chmod(tmp, mode) != 0 || rename(tmp, path) != 0)
		die(path);
}

static bool overridden(const char *overrides, const char *key)
{
	size_t key_len = strlen(key);
	const char *line = overrides;

	while (line != NULL && *line != '\0') {
		const char *p = line;

		while (*p == ' ')
			p++;
		if (strncmp(p, key, key_len) == 0 && (p[key_len] == ' ' || p[key_len] == '='))
			return true;
		line = strchr(line, '\n');
		if (line != NULL)
			line++;
	}
	return false;
}

void write_config(const struct mock *m, const char *overrides)
{
	char path[1024], usermap[1024], text[8192], line[1024];
	const char *helper = getenv("NP_HELPER");
	const char *keys[] = { "api_url", "ca_file", "usermap", "helper", "poll_interval", "cache",
		               "log" };
	const char *values[7];

	snprintf(usermap, sizeof usermap, "%s/conf/users", test_dir());
	values[0] = m != NULL ? m->url : "https://127.0.0.1:9/v1";
	values[1] = m != NULL ? m->ca : "/etc/ssl/certs/ca-certificates.crt";
	values[2] = usermap;
	values[3] = helper;
	values[4] = "1";
	/* Tests that want the cache say so, and never touch the system's own. */
	values[5] = "no";
	/* What the module logs is read from pam_syslog(), even where journald runs. */
	values[6] = "syslog";
	text[0] = '\0';
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		if (overrides != NULL && overridden(overrides, keys[i]))
			continue;
		snprintf(line, sizeof line, "%s = %s\n", keys[i], values[i]);
		strncat(text, line, sizeof text - strlen(text) - 1);
	}
	if (overrides != NULL)
		strncat(text, overrides, sizeof text - strlen(text) - 1);
	snprintf(path, sizeof path, "%s/conf/current.conf", test_dir());
	write_file(path, text, 0644);
}

void write_usermap(const char *text)
{
	char path[1024];

	snprintf(path, sizeof path, "%s/conf/users", test_dir());
	write_file(path, text, 0644);
}

int mock_start(struct mock *m, const char *name, const char *const *extra_args)
{
	const char *script = getenv("NP_MOCK");
	char dir[512], port_path[600];
	const char *argv[32];
	int argc = 0;

	snprintf(dir, sizeof dir, "%s/%s", test_dir(), name);
	mock_at(m, dir);
	argv[argc++] = "/usr/bin/python3";
	argv[argc++] = script;
	argv[argc++] = "--dir";
	argv[argc++] = m->dir;
	for (int i = 0; extra_args != NULL && extra_args[i] != NULL && argc < 30; i++)
		argv[argc++] = extra_args[i];
	argv[argc] = NULL;
	/* A port file left by an earlier run would name a mock that is gone. */
	snprintf(port_path, sizeof port_path, "%s/port", m->dir);
	unlink(port_path);
	/* The mock dies with the test, keeps quiet, and runs without pam_wrapper. */
	m->pid = start_command(argv);
	if (m->pid < 0)
		die("fork");
	/* The certificates are made on first start, which takes a moment. */
	return mock_wait_ready(m, MOCK_START_MS);
}

void mock_stop(struct mock *m)
{
	if (m->pid > 0) {
		kill(m->pid, SIGTERM);
		waitpid(m->pid, NULL, 0);
		m->pid = 0;
	}
}

void reset_mock(const struct mock *m)
{
	assert_int_equal(mock_post(m, "reset", "{}"), 200);
	write_config(m, NULL);
}

void mock_configure(const struct mock *m, const char *json)
{
	if (mock_post(m, "config", json) != 200)
		fail_msg("the mock refused the configuration %.200s", json);
}

void mock_auto(const struct mock *m, const char *action, const char *user, double after)
{
	char json[256];

	snprintf(json, sizeof json,
	         "{\"auto\": {\"action\": \"%s\", \"user\": \"%s\", \"after\": %.2f}}", action,
	         user, after);
	mock_configure(m, json);
}

void mock_fault(const struct mock *m, const char *json)
{
	if (mock_post(m, "fault", json) != 200)
		fail_msg("the mock refused the fault %.200s", json);
}

int write_cache_key(const char *path, mode_t mode)
{
	unsigned char key[32];
	int in = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	int out = -1;
	int rc = -1;

	(void)unlink(path);
	if (in >= 0 && read(in, key, sizeof key) == (ssize_t)sizeof key &&
	    (out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) >= 0 &&
	    write(out, key, sizeof key) == (ssize_t)sizeof key && fchmod(out, mode) == 0)
		rc = 0;
	else
		fprintf(stderr, "harness: cache key %s: %s\n", path, strerror(errno));
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return rc;
}

void write_cache_config(const struct mock *m, const char *name, const char *extra)
{
	char dir[1024], key[1024], overrides[4096];

	snprintf(dir, sizeof dir, "%s/%s", test_dir(), name);
	snprintf(key, sizeof key, "%s/conf/%s.key", test_dir(), name);
	assert_int_equal(run_shell("rm -rf %s", dir), 0);
	assert_int_equal(write_cache_key(key, 0600), 0);
	snprintf(overrides, sizeof overrides, "cache = yes\ncache_dir = %s\ncache_key = %s\n%s", dir,
	         key, extra != NULL ? extra : "");
	write_config(m, overrides);
}

void expect_rc(int got, int want, const struct script *s)
{
	if (got != want) {
		fprintf(stderr, "expected %s, got %s; the person saw:\n", pam_strerror(NULL, want),
		        pam_strerror(NULL, got));
		seen_dump(&s->seen);
	}
	assert_int_equal(got, want);
}

char log_text[LOG_TEXT_MAX];

int run_logged(const char *service, const char *user, struct script *s, int flags)
{
	int rc;

	log_capture_begin();
	rc = run_auth(service, user, s, flags);
	log_capture_end(log_text, sizeof log_text);
	return rc;
}

static long long test_started;

int start_timer(void **state)
{
	(void)state;
	test_started = now_ms();
	return 0;
}

int report_time(void **state)
{
	(void)state;
	fprintf(stderr, "  (%lld ms)\n", now_ms() - test_started);
	return 0;
}

static int scripted_conv(int num_msg, const struct pam_message **msg,
                         struct pam_response **resp, void *appdata)
{
	struct script *s = appdata;
	struct pam_response *replies;

	if (s->fail)
		return PAM_CONV_ERR;
	replies = calloc((size_t)num_msg, sizeof *replies);
	if (replies == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < num_msg; i++) {
		if (s->on_message != NULL && s->pamh != NULL)
			s->on_message(s, s->pamh, msg[i]);
		if (s->seen.count < MAX_SEEN) {
			s->seen.style[s->seen.count] = msg[i]->msg_style;
			snprintf(s->seen.text[s->seen.count], sizeof s->seen.text[0], "%s", msg[i]->msg);
			s->seen.count++;
		}
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON) {
			int n = s->prompts_answered++;
			const char *answer = n < MAX_ANSWERS ? s->answers[n] : NULL;

			if (n < MAX_ANSWERS && s->delay_ms[n] > 0)
				usleep((useconds_t)s->delay_ms[n] * 1000);
			/* Like libpamtest once its answers run out: success with no response. */
			replies[i].resp = answer != NULL ? strdup(answer) : NULL;
		}
	}
	*resp = replies;
	return PAM_SUCCESS;
}

/* Children of this process that are (or were: zombies count) a helper. */
static int helper_children(void)
{
	pid_t pids[512];
	int n = process_children(getpid(), pids, 512), found = 0;

	for (int i = 0; i < n && i < 512; i++) {
		char comm[64];

		if (process_name(pids[i], comm, sizeof comm) && strcmp(comm, "mock") != 0 &&
		    strstr(comm, "python") == NULL)
			found++;
	}
	return found;
}

int run_auth(const char *service, const char *user, struct script *script, int flags)
{
	struct pam_testcase cases[] = { pam_test_flags(PAMTEST_AUTHENTICATE, PAM_SUCCESS, flags) };
	enum pamtest_err err;

	err = _pamtest_conv(service, user, scripted_conv, script, cases, 1, NULL);
	if (err != PAMTEST_ERR_OK && err != PAMTEST_ERR_CASE) {
		fprintf(stderr, "harness: pamtest error %d\n", (int)err);
		return -1;
	}
	/* Whatever happened, the module must have killed and reaped its helper. */
	if (helper_children() != 0) {
		fprintf(stderr, "harness: a helper process outlived pam_authenticate\n");
		return -2;
	}
	return cases[0].op_rv;
}

int run_auth_on_handle(const char *service, const char *user, struct script *script, int flags)
{
	struct pam_conv conv = { scripted_conv, script };
	pam_handle_t *pamh = NULL;
	int rc = pam_start(service, user, &conv, &pamh);

	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "harness: pam_start: %s\n", pam_strerror(NULL, rc));
		return -1;
	}
	script->pamh = pamh;
	if (script->on_message != NULL)
		script->on_message(script, pamh, NULL);
	rc = pam_authenticate(pamh, flags);
	script->pamh = NULL;
	pam_end(pamh, rc);
	if (helper_children() != 0) {
		fprintf(stderr, "harness: a helper process outlived pam_authenticate\n");
		return -2;
	}
	return rc;
}

const char *user_to_set;

void switch_user(struct script *script, pam_handle_t *pamh, const struct pam_message *msg)
{
	if (msg != NULL && script->seen.count == 0)
		assert_int_equal(pam_set_item(pamh, PAM_USER, user_to_set), PAM_SUCCESS);
}

int cache_entry_count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *entry;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((entry = readdir(d)) != NULL)
		if (entry->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int refused_port(void)
{
	struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof addr;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int port;

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&addr, &len), 0);
	port = ntohs(addr.sin_port);
	close(fd);
	return port;
}

int run_auth_twice(const char *service, const char *user, struct script *script, int expect,
                   int rcs[2])
{
	/* libpamtest stops at the first case that differs from its expectation. */
	struct pam_testcase cases[] = { pam_test(PAMTEST_AUTHENTICATE, expect),
		                            pam_test(PAMTEST_AUTHENTICATE, expect) };
	enum pamtest_err err = _pamtest_conv(service, user, scripted_conv, script, cases, 2, NULL);

	if (err != PAMTEST_ERR_OK && err != PAMTEST_ERR_CASE)
		return -1;
	rcs[0] = cases[0].op_rv;
	rcs[1] = cases[1].op_rv;
	return helper_children() == 0 ? 0 : -2;
}

bool seen_contains(const struct seen *seen, const char *needle)
{
	for (int i = 0; i < seen->count; i++)
		if (strstr(seen->text[i], needle) != NULL)
			return true;
	return false;
}

bool seen_has_control_chars(const struct seen *seen)
{
	for (int i = 0; i < seen->count; i++)
		for (const unsigned char *p = (const unsigned char *)seen->text[i]; *p != '\0'; p++)
			if ((*p < 0x20 && *p != '\n') || *p == 0x7F)
				return true;
	return false;
}

void seen_dump(const struct seen *seen)
{
	for (int i = 0; i < seen->count; i++)
		fprintf(stderr, "  [%d style %d] %s\n", i, seen->style[i], seen->text[i]);
}

/* ---- Added for the hardening suites (hostile, host_safety, faults, load) ---- */

/* Length of a well-formed UTF-8 sequence at p (1..4) with its code point, 0 if broken. */
static size_t utf8_at(const unsigned char *p, unsigned *cp)
{
	size_t need;
	unsigned value, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		need = 2, min = 0x80, value = p[0] & 0x1Fu;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		need = 3, min = 0x800, value = p[0] & 0x0Fu;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		need = 4, min = 0x10000, value = p[0] & 0x07u;
	else
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((p[i] & 0xC0u) != 0x80u)
			return 0;
		value = (value << 6) | (p[i] & 0x3Fu);
	}
	if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
		return 0;
	*cp = value;
	return need;
}

bool text_has_unsafe(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;

	while (*p != '\0') {
		unsigned cp = 0;
		size_t n = utf8_at(p, &cp);

		if (n == 0)
			return true;
		if ((cp < 0x20 && cp != '\n') || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F) ||
		    cp == 0x00AD || (cp >= 0x0600 && cp <= 0x0605) || cp == 0x061C || cp == 0x06DD ||
		    cp == 0x070F || cp == 0x0890 || cp == 0x0891 || cp == 0x08E2 || cp == 0x180E ||
		    (cp >= 0x200B && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202E) ||
		    (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x206F) ||
		    (cp >= 0xFE00 && cp <= 0xFE0F) || cp == 0xFEFF || (cp >= 0xFFF9 && cp <= 0xFFFB) ||
		    cp == 0x110BD || cp == 0x110CD || (cp >= 0x13430 && cp <= 0x1343F) ||
		    (cp >= 0x1BCA0 && cp <= 0x1BCA3) || (cp >= 0x1D173 && cp <= 0x1D17A) ||
		    (cp >= 0xE0000 && cp <= 0xE007F) || (cp >= 0xE0100 && cp <= 0xE01EF))
			return true;
		p += n;
	}
	return false;
}

bool seen_has_unsafe_text(const struct seen *seen)
{
	for (int i = 0; i < seen->count; i++)
		if (text_has_unsafe(seen->text[i]))
			return true;
	return false;
}

int child_processes(pid_t except, pid_t *pids, int max)
{
	static pid_t all[4096];
	int n = process_children(getpid(), all, 4096), found = 0;

	for (int i = 0; i < n && i < 4096; i++) {
		if (all[i] == except)
			continue;
		if (pids != NULL && found < max)
			pids[found] = all[i];
		found++;
	}
	return found;
}

pid_t running_helper(pid_t except)
{
	pid_t keeper, helper;

	if (child_processes(except, &keeper, 1) != 1 || process_children(keeper, &helper, 1) != 1)
		return -1;
	return helper;
}

int open_fds(int *fds, int max)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *entry;
	int n = 0;

	if (dir == NULL)
		die("/proc/self/fd");
	while ((entry = readdir(dir)) != NULL) {
		int fd;

		if (entry->d_name[0] < '0' || entry->d_name[0] > '9')
			continue;
		fd = atoi(entry->d_name);
		if (fd == dirfd(dir) || n >= max)
			continue;
		/* Insertion sort: the lists are short. */
		int i = n++;
		while (i > 0 && fds[i - 1] > fd) {
			fds[i] = fds[i - 1];
			i--;
		}
		fds[i] = fd;
	}
	closedir(dir);
	return n;
}

long vm_rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* ---- programs that need no pam_wrapper ---- */

/* This process's environment without pam_wrapper's variables (pointers into environ). */
static char **environment_without_pam_wrapper(void)
{
	size_t n = 0, kept = 0;
	char **env;

	while (environ[n] != NULL)
		n++;
	env = calloc(n + 1, sizeof *env);
	if (env == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 &&
		    strncmp(environ[i], "PAM_WRAPPER", 11) != 0)
			env[kept++] = environ[i];
	return env;
}

/* Starts argv; its stdout goes to out_fd if >= 0, to /dev/null (and stderr too) if quiet. */
static pid_t spawn(const char *const argv[], int out_fd, bool quiet)
{
	char **env = environment_without_pam_wrapper();
	sigset_t none;
	pid_t pid;

	if (env == NULL)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int null_fd = open("/dev/null", O_RDWR);

		prctl(PR_SET_PDEATHSIG, SIGTERM);
		/* What a test set up as a host (blocked signals, SIGPIPE ignored) is not the program's. */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		if (null_fd >= 0) {
			dup2(null_fd, STDIN_FILENO);
			if (quiet) {
				dup2(null_fd, STDOUT_FILENO);
				dup2(null_fd, STDERR_FILENO);
			}
		}
		if (out_fd >= 0)
			dup2(out_fd, STDOUT_FILENO);
		execve(argv[0], (char *const *)argv, env);
		_exit(127);
	}
	free(env);
	return pid;
}

int exit_status_of(pid_t pid)
{
	int status = 0;

	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int run_command(const char *const argv[], char *out, size_t out_size)
{
	int fds[2] = { -1, -1 };
	size_t used = 0;
	pid_t pid;

	if (out != NULL) {
		if (out_size == 0 || pipe2(fds, O_CLOEXEC) != 0)
			return -1;
		out[0] = '\0';
	}
	pid = spawn(argv, fds[1], false);
	if (fds[1] >= 0)
		close(fds[1]);
	if (pid < 0) {
		if (fds[0] >= 0)
			close(fds[0]);
		return -1;
	}
	if (fds[0] >= 0) {
		char buf[4096];
		ssize_t n;

		while ((n = read(fds[0], buf, sizeof buf)) != 0) {
			size_t room = out_size - 1 - used, take;

			if (n < 0) {
				if (errno == EINTR)
					continue;
				break;
			}
			take = (size_t)n < room ? (size_t)n : room;
			memcpy(out + used, buf, take);
			used += take;
		}
		out[used] = '\0';
		close(fds[0]);
	}
	return exit_status_of(pid);
}

__attribute__((format(printf, 3, 0)))
static int run_shell_v(char *out, size_t out_size, const char *fmt, va_list ap)
{
	char line[8192];
	const char *argv[] = { "/bin/sh", "-c", line, NULL };
	int n = vsnprintf(line, sizeof line, fmt, ap);

	if (n < 0 || (size_t)n >= sizeof line) {
		fprintf(stderr, "harness: command line too long\n");
		return -1;
	}
	return run_command(argv, out, out_size);
}

int run_shell(const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = run_shell_v(NULL, 0, fmt, ap);
	va_end(ap);
	return rc;
}

int run_shell_output(char *out, size_t out_size, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = run_shell_v(out, out_size, fmt, ap);
	va_end(ap);
	return rc;
}

pid_t start_command(const char *const argv[])
{
	return spawn(argv, -1, true);
}

static int saved_stderr = -1;
static char saved_level[32];
static bool had_level;

/* Puts stderr and PAM_WRAPPER_DEBUGLEVEL back; returns the capture file open, or -1. */
static int log_capture_stop(void)
{
	int fd;

	if (saved_stderr < 0)
		return -1;
	fflush(stderr);
	fd = dup(STDERR_FILENO);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	if (had_level)
		setenv("PAM_WRAPPER_DEBUGLEVEL", saved_level, 1);
	else
		unsetenv("PAM_WRAPPER_DEBUGLEVEL");
	return fd;
}

/* A capture a test left open (stopped at its time limit, say) ends unread. */
static void log_capture_drop(void)
{
	int fd = log_capture_stop();

	if (fd >= 0)
		close(fd);
}

void log_capture_begin(void)
{
	char path[1024];
	const char *level = getenv("PAM_WRAPPER_DEBUGLEVEL");
	int fd;

	test_time_limit_on_stop(log_capture_drop);
	log_capture_drop();
	snprintf(path, sizeof path, "%s/pam_syslog.txt", test_dir());
	fflush(stderr);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (fd < 0 || saved_stderr < 0 || dup2(fd, STDERR_FILENO) < 0)
		die(path);
	close(fd);
	had_level = level != NULL;
	snprintf(saved_level, sizeof saved_level, "%s", had_level ? level : "");
	/* LOG_NOTICE and LOG_INFO are pam_wrapper's level 2; LOG_WARNING and worse come at 1. */
	setenv("PAM_WRAPPER_DEBUGLEVEL", "2", 1);
	unsetenv("PAM_WRAPPER_USE_SYSLOG");
}

size_t log_capture_end(char *out, size_t out_size)
{
	char line[4096];
	size_t used = 0;
	FILE *f;
	int fd = log_capture_stop();

	if (out_size > 0)
		out[0] = '\0';
	if (fd < 0)
		return 0;
	if (lseek(fd, 0, SEEK_SET) != 0 || (f = fdopen(fd, "r")) == NULL) {
		close(fd);
		return 0;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		const char *msg = strstr(line, "SYSLOG(");
		size_t len;

		if (msg == NULL)
			continue;
		len = strlen(msg);
		if (used + len + 2 > out_size)
			break;
		memcpy(out + used, msg, len);
		used += len;
		if (used > 0 && out[used - 1] != '\n')
			out[used++] = '\n';
		out[used] = '\0';
	}
	fclose(f);
	return used;
}

bool seen_reference(const struct seen *seen, char *out, size_t out_size)
{
	static const char words[] = "\nReference: ";
	static const char alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
	const char *last, *ref;

	out[0] = '\0';
	if (seen->count == 0)
		return false;
	last = seen->text[seen->count - 1];
	ref = strstr(last, words);
	if (ref == NULL)
		return false;
	ref += strlen(words);
	/* At the very end, or before the last prompt's own words. */
	if (strlen(ref) < 9 || (ref[9] != '\0' && ref[9] != '\n') || ref[4] != '-' ||
	    strspn(ref, alphabet) != 4 || strspn(ref + 5, alphabet) != 4)
		return false;
	snprintf(out, out_size, "%.9s", ref);
	return true;
}

bool log_outcome_line(const char *log, char *line, size_t line_size)
{
	const char *found = strstr(log, " account=\"");
	const char *start, *end;

	if (found == NULL)
		return false;
	for (start = found; start > log && start[-1] != '\n'; start--)
		;
	end = strchr(found, '\n');
	if (end == NULL)
		end = found + strlen(found);
	snprintf(line, line_size, "%.*s", (int)(end - start), start);
	return true;
}

/* Reads one quoted value at p (after the opening quote); returns the end, or NULL. */
static const char *unquote(const char *p, char *out, size_t out_size)
{
	size_t n = 0;

	for (; *p != '"'; p++) {
		unsigned byte;
		char c = *p;

		if (c == '\0' || c == '\n')
			return NULL;
		if (c == '\\') {
			if (p[1] == '"' || p[1] == '\\') {
				c = *++p;
			} else if (p[1] == 'x' && sscanf(p + 2, "%2X", &byte) == 1) {
				c = (char)byte;
				p += 3;
			} else {
				return NULL;
			}
		}
		if (n + 1 < out_size)
			out[n++] = c;
	}
	out[n] = '\0';
	return p + 1;
}

bool log_field(const char *line, const char *key, char *out, size_t out_size)
{
	char value[4096];
	size_t key_len = strlen(key);
	bool found = false;
	const char *p = line;

	/* Walk field by field, so that text inside a value is never taken for a key. */
	while ((p = strchr(p, '=')) != NULL) {
		const char *eq = p;
		const char *name = eq;

		while (name > line && name[-1] != ' ')
			name--;
		if (eq[1] != '"') {
			p++;
			continue;
		}
		p = unquote(eq + 2, value, sizeof value);
		if (p == NULL)
			return false;
		if ((size_t)(eq - name) == key_len && strncmp(name, key, key_len) == 0) {
			if (found)
				return false;
			found = true;
			snprintf(out, out_size, "%s", value);
		}
	}
	return found;
}
