/*
 * Stands in for nextpay-helper to report what the module handed it: the
 * environment, the open descriptors, the session and the signal state.
 * Writes "report" next to its own binary, then exits without a word, which
 * the module must treat as an unavailable helper.
 */
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern char **environ;

int main(void)
{
	char self[PATH_MAX] = "", report[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	DIR *fds = opendir("/proc/self/fd");
	struct dirent *entry;
	struct sigaction pipe_action;
	sigset_t mask;
	int env_count = 0;
	FILE *out;

	if (n <= 0 || fds == NULL)
		return 1;
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	snprintf(report, sizeof report, "%s/report", self);
	out = fopen(report, "w");
	if (out == NULL)
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
