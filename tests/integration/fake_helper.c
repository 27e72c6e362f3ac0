/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Stands in for nextpay-helper.  What it does depends on the name it was
 * installed under (the module always calls it "nextpay-helper" in argv, so
 * the file name is what tells):
 *
 *   nextpay-helper  reports what the module handed it: the environment, the
 *                   open descriptors, the session and the signal state.
 *                   Writes "report" next to its own binary, reads the
 *                   settings, then exits without a word, which the module
 *                   must treat as an unavailable helper.
 *   grandchild      starts a process of its own that ignores every signal
 *                   it can and would sleep for a minute, writes its pid to
 *                   "grandchild.pid" next to the binary, then speaks the
 *                   protocol until the API is "unavailable".
 *   bad-user-id     sends a code, then an identity whose user id breaks the
 *   bad-email       protocol's rules (or whose e-mail address does).
 */
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

static char dir[PATH_MAX];

static int report(void)
{
	char path[PATH_MAX + 16];
	DIR *fds = opendir("/proc/self/fd");
	struct dirent *entry;
	struct sigaction pipe_action;
	sigset_t mask;
	int env_count = 0;
	FILE *out;

	snprintf(path, sizeof path, "%s/report", dir);
	out = fopen(path, "w");
	if (fds == NULL || out == NULL)
		return 1;
	for (char **e = environ; *e != NULL; e++)
		env_count++;
	fprintf(out, "env %d\n", env_count);
	while ((entry = readdir(fds)) != NULL) {
		char link_path[PATH_MAX], target[PATH_MAX] = "";
		int fd = atoi(entry->d_name);

		if (entry->d_name[0] == '.' || fd == dirfd(fds) || fd == fileno(out))
			continue;
		snprintf(link_path, sizeof link_path, "/proc/self/fd/%d", fd);
		if (readlink(link_path, target, sizeof target - 1) < 0)
			continue;
		fprintf(out, "fd %d %.*s\n", fd, (int)strcspn(target, ":"), target);
	}
	closedir(fds);
	fprintf(out, "own-session %s\n", getsid(0) == getpid() ? "yes" : "no");
	sigaction(SIGPIPE, NULL, &pipe_action);
	fprintf(out, "sigpipe %s\n", pipe_action.sa_handler == SIG_IGN ? "ignored" : "default");
	sigprocmask(SIG_SETMASK, NULL, &mask);
	fprintf(out, "sigterm-blocked %s\n", sigismember(&mask, SIGTERM) ? "yes" : "no");
	fclose(out);
	return 0;
}

/* Reads one line from the module (into nowhere); 0, or -1 at its end. */
static int skip_line(void)
{
	char c;

	for (;;) {
		if (read(STDIN_FILENO, &c, 1) != 1)
			return -1;
		if (c == '\n')
			return 0;
	}
}

static void say(const char *line)
{
	size_t len = strlen(line);

	if (write(STDOUT_FILENO, line, len) != (ssize_t)len)
		_exit(1);
}

static int grandchild(void)
{
	char path[PATH_MAX + 32];
	pid_t pid = fork();
	FILE *out;

	if (pid < 0)
		return 1;
	if (pid == 0) {
		for (int sig = 1; sig < NSIG; sig++)
			signal(sig, SIG_IGN);
		close(STDIN_FILENO);
		close(STDOUT_FILENO);
		sleep(60);
		_exit(0);
	}
	snprintf(path, sizeof path, "%s/grandchild.pid", dir);
	out = fopen(path, "w");
	if (out == NULL)
		return 1;
	fprintf(out, "%ld\n", (long)pid);
	fclose(out);
	if (skip_line() != 0)
		return 1;
	say("{\"v\":1,\"type\":\"ready\"}\n");
	if (skip_line() != 0)
		return 1;
	say("{\"v\":1,\"type\":\"failure\",\"reason\":\"unavailable\",\"detail\":\"fake helper\"}\n");
	/* Until the module ends it. */
	while (skip_line() == 0)
		;
	return 0;
}

static int bad_identity(const char *user_id, const char *email)
{
	char line[512];

	if (skip_line() != 0)
		return 1;
	say("{\"v\":1,\"type\":\"ready\"}\n");
	if (skip_line() != 0)
		return 1;
	say("{\"v\":1,\"type\":\"code\",\"code\":\"ABC123\",\"verification_url\":"
	    "\"https://127.0.0.1/auth/device?code=ABC123\",\"expires_at\":4102444800}\n");
	snprintf(line, sizeof line,
	         "{\"v\":1,\"type\":\"identity\",\"token\":\"\",\"user_id\":\"%s\",\"email\":\"%s\","
	         "\"name\":\"Alice\",\"token_exp\":0}\n",
	         user_id, email);
	say(line);
	while (skip_line() == 0)
		;
	return 0;
}

int main(void)
{
	ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
	const char *name;
	int rc;

	if (n <= 0)
		return 1;
	dir[n] = '\0';
	name = strrchr(dir, '/') + 1;
	if (strcmp(name, "grandchild") == 0) {
		*strrchr(dir, '/') = '\0';
		return grandchild();
	}
	if (strcmp(name, "bad-user-id") == 0)
		return bad_identity("usr_alice/../root", "alice@example.com");
	if (strcmp(name, "bad-email") == 0)
		return bad_identity("usr_alice", "alice@@example.com");
	*strrchr(dir, '/') = '\0';
	rc = report();
	/*
	 * Ends only once the module has written its settings: ending before
	 * would make the module's write fail instead, a race the tests that
	 * expect "exited with status 0" would lose now and then.
	 */
	(void)skip_line();
	return rc;
}
