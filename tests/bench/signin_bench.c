/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * signin-bench: sign-ins through the real libpam and a real /etc/pam.d service,
 * for tests/bench/bench.py.  Each prints one JSON object on stdout.
 *
 *   signin-bench crowd N SERVICE USER
 *       N sign-ins at once, one process each (as sshd runs one per connection):
 *       the processes are forked first and wait on a pipe, whose closing starts
 *       them all.  Each runs pam_start, pam_authenticate and pam_end and reports
 *       its PAM result, its wall time, its own CPU time (libpam and the module:
 *       the host side) and that of its reaped children (the helper).
 *
 *   signin-bench host SERVICE USER
 *       One sign-in in this process, and what it did to the process: resident
 *       and proportional set size and private dirty memory (smaps_rollup) before
 *       pam_start, after it (the modules loaded), after pam_authenticate and
 *       after pam_end; the open descriptors, threads and children before
 *       pam_start and after pam_end.
 *
 * Every prompt is answered with "" (the device flow's "press Enter" included).
 */
#include <dirent.h>
#include <errno.h>
#include <security/pam_appl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* PAM results are small numbers; a pam_start failure is reported as START_FAILED + its code. */
#define START_FAILED 1000
#define CODES_MAX 64

struct result {
	int rc;
	double wall_ms, host_cpu_ms, helper_cpu_ms;
};

struct mem {
	long rss_kib, pss_kib, private_dirty_kib;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double cpu_ms(const struct rusage *ru)
{
	return (double)(ru->ru_utime.tv_sec + ru->ru_stime.tv_sec) * 1e3 +
	       (double)(ru->ru_utime.tv_usec + ru->ru_stime.tv_usec) / 1e3;
}

static int answer_empty(int n, const struct pam_message **msg, struct pam_response **resp,
                        void *data)
{
	struct pam_response *replies = calloc((size_t)n, sizeof *replies);

	(void)data;
	if (replies == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < n; i++) {
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
			replies[i].resp = strdup("");
	}
	*resp = replies;
	return PAM_SUCCESS;
}

static int sign_in(const char *service, const char *user)
{
	struct pam_conv conv = { answer_empty, NULL };
	pam_handle_t *pamh = NULL;
	int rc = pam_start(service, user, &conv, &pamh);

	if (rc != PAM_SUCCESS)
		return START_FAILED + rc;
	rc = pam_authenticate(pamh, 0);
	pam_end(pamh, rc);
	return rc;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double quantile(const double *sorted, int n, int percent)
{
	int i = (n * percent) / 100;

	return sorted[i < n ? i : n - 1];
}

static int crowd(int n, const char *service, const char *user)
{
	int gun[2], out[2], got = 0, succeeded = 0, codes[CODES_MAX] = { 0 };
	double start, overall, host = 0, helper = 0;
	double *wall = calloc((size_t)n, sizeof *wall);
	struct result r;

	if (wall == NULL || pipe(gun) != 0 || pipe(out) != 0)
		return 1;
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		char go;

		if (pid < 0) {
			fprintf(stderr, "signin-bench: fork %d of %d: %s\n", i + 1, n, strerror(errno));
			close(gun[1]); /* the ones already forked still run, and are counted */
			break;
		}
		if (pid > 0)
			continue;
		close(gun[1]);
		close(out[0]);
		if (read(gun[0], &go, 1) < 0)
			_exit(1);
		{
			struct rusage self, children;
			double t0 = now_ms();

			r.rc = sign_in(service, user);
			r.wall_ms = now_ms() - t0;
			getrusage(RUSAGE_SELF, &self);
			getrusage(RUSAGE_CHILDREN, &children);
			r.host_cpu_ms = cpu_ms(&self);
			r.helper_cpu_ms = cpu_ms(&children);
		}
		/* One write of a small struct to a pipe is atomic: the results never interleave. */
		_exit(write(out[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 1);
	}
	close(gun[0]);
	close(out[1]);
	start = now_ms();
	close(gun[1]);
	while (read(out[0], &r, sizeof r) == (ssize_t)sizeof r) {
		wall[got++] = r.wall_ms;
		host += r.host_cpu_ms;
		helper += r.helper_cpu_ms;
		if (r.rc == PAM_SUCCESS)
			succeeded++;
		else
			codes[r.rc >= 0 && r.rc < CODES_MAX ? r.rc : CODES_MAX - 1]++;
	}
	overall = now_ms() - start;
	while (wait(NULL) > 0)
		;
	qsort(wall, (size_t)got, sizeof *wall, by_value);
	printf("{\"clients\": %d, \"reported\": %d, \"succeeded\": %d, \"wall_ms\": %.1f, ", n, got,
	       succeeded, overall);
	if (got > 0)
		printf("\"per_signin_ms\": {\"min\": %.1f, \"median\": %.1f, \"p90\": %.1f, "
		       "\"max\": %.1f}, \"host_cpu_ms\": %.2f, \"helper_cpu_ms\": %.2f, ",
		       wall[0], quantile(wall, got, 50), quantile(wall, got, 90), wall[got - 1],
		       host / got, helper / got);
	printf("\"failures\": {");
	for (int c = 0, first = 1; c < CODES_MAX; c++) {
		if (codes[c] == 0)
			continue;
		printf("%s\"%s\": %d", first ? "" : ", ",
		       c == CODES_MAX - 1 ? "other" : pam_strerror(NULL, c), codes[c]);
		first = 0;
	}
	printf("}}\n");
	free(wall);
	return succeeded == n ? 0 : 1;
}

static struct mem rollup(void)
{
	struct mem m = { -1, -1, -1 };
	char line[256];
	FILE *f = fopen("/proc/self/smaps_rollup", "re");

	while (f != NULL && fgets(line, sizeof line, f) != NULL) {
		long v;

		if (sscanf(line, "Rss: %ld", &v) == 1)
			m.rss_kib = v;
		else if (sscanf(line, "Pss: %ld", &v) == 1)
			m.pss_kib = v;
		else if (sscanf(line, "Private_Dirty: %ld", &v) == 1)
			m.private_dirty_kib = v;
	}
	if (f != NULL)
		fclose(f);
	return m;
}

static int entries(const char *dir_path)
{
	DIR *d = opendir(dir_path);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - (strcmp(dir_path, "/proc/self/fd") == 0); /* opendir's own */
}

/* Processes whose parent is this one, zombies included. */
static int children(void)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	int n = 0;

	while (d != NULL && (e = readdir(d)) != NULL) {
		char path[300], text[512], *end;
		FILE *f;
		int ppid = 0;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		if ((f = fopen(path, "re")) == NULL)
			continue;
		if (fgets(text, sizeof text, f) != NULL && (end = strrchr(text, ')')) != NULL &&
		    sscanf(end + 2, "%*c %d", &ppid) == 1 && ppid == (int)getpid())
			n++;
		fclose(f);
	}
	if (d != NULL)
		closedir(d);
	return n;
}

static void print_mem(const char *name, struct mem m)
{
	printf("\"%s\": {\"rss_kib\": %ld, \"pss_kib\": %ld, \"private_dirty_kib\": %ld}, ", name,
	       m.rss_kib, m.pss_kib, m.private_dirty_kib);
}

static int host(const char *service, const char *user)
{
	struct pam_conv conv = { answer_empty, NULL };
	pam_handle_t *pamh = NULL;
	int fds = entries("/proc/self/fd"), threads = entries("/proc/self/task"), kids = children();
	struct mem before = rollup(), loaded, authenticated;
	int rc = pam_start(service, user, &conv, &pamh);

	if (rc != PAM_SUCCESS) {
		fprintf(stderr, "signin-bench: pam_start: %s\n", pam_strerror(NULL, rc));
		return 1;
	}
	loaded = rollup();
	rc = pam_authenticate(pamh, 0);
	authenticated = rollup();
	pam_end(pamh, rc);
	printf("{\"rc\": %d, ", rc);
	print_mem("before", before);
	print_mem("loaded", loaded);
	print_mem("authenticated", authenticated);
	print_mem("ended", rollup());
	printf("\"fds\": [%d, %d], \"threads\": [%d, %d], \"children\": [%d, %d]}\n", fds,
	       entries("/proc/self/fd"), threads, entries("/proc/self/task"), kids, children());
	return rc == PAM_SUCCESS ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "crowd") == 0 && atoi(argv[2]) > 0)
		return crowd(atoi(argv[2]), argv[3], argv[4]);
	if (argc == 4 && strcmp(argv[1], "host") == 0)
		return host(argv[2], argv[3]);
	fprintf(stderr, "usage: signin-bench crowd N SERVICE USER | host SERVICE USER\n");
	return 2;
}
