/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * make bench: what a sign-in through pam_nextpay costs the host process, next
 * to baselines measured in the same run on the same machine.
 *
 * Rows (each in a fresh worker process, ROUNDS timed sign-ins after one
 * untimed warm-up):
 *   - a stack of pam_permit only: what libpam and pam_wrapper cost by
 *     themselves, the floor under every other row;
 *   - fork + exec + wait of /bin/true: the floor under spawning any helper;
 *   - pam_nextpay reusing a cached approval (session scope): one helper, one
 *     TLS connection, one /auth/me;
 *   - pam_nextpay with an API key from PAM_AUTHTOK: one helper, /auth/token
 *     and /auth/me.
 * The device flow itself is not a row: its time is the person's.  Apart, what
 * wait = auto adds to every sign-in over sshd: reading sshd's program for its
 * OpenSSH release (src/module/sshd_info.c), for the system's sshd and, when
 * NP_OPENSSH_NEW names the e2e tests' OpenSSH 10.3 build, its sshd-session.
 *
 * For each: median, 90th percentile and worst wall time of
 * pam_start/pam_authenticate/pam_end; the growth of the host's resident set
 * over the timed rounds; the peak resident set of the largest child (the
 * helper, or /bin/true).  Figures, not verdicts: nothing here fails on speed.
 *
 * Runs like the integration suites (tests/run-tests.sh bench sets
 * NP_TEST_DIR, NP_HELPER, NP_MOCK and the pam_wrapper environment).
 * NP_BENCH_ROUNDS changes the number of timed rounds (default 50).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <security/pam_appl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "../terminal.h"
#include "../time_limit.h"
#include "module/sshd_info.h"

#define ROUNDS_DEFAULT 50
#define ROUNDS_MAX 10000

#define ROW_PERMIT "baseline: pam_permit only"
#define ROW_SPAWN "baseline: fork+exec+wait /bin/true"
#define ROW_CACHED "pam_nextpay: approval reused from the cache"
#define ROW_API_KEY "pam_nextpay: API key (use_first_pass)"
#define API_KEY "npk_alice_0123456789abcdef"

struct figures {
	int failures;
	double median_ms, p90_ms, worst_ms;
	long rss_growth_kib;
	long child_peak_kib;
};

typedef int (*round_fn)(void);

static struct mock api;
static const char *sshd_program; /* the program sshd_info_round reads */

static int permit_round(void)
{
	struct script s = { 0 };

	return run_auth("np-permit", test_account(), &s, 0) == PAM_SUCCESS ? 0 : -1;
}

/* Without pam_wrapper, as the module starts its helper (and as the tests start any program). */
static int true_round(void)
{
	const char *const argv[] = { "/bin/true", NULL };

	return run_command(argv, NULL, 0) == 0 ? 0 : -1;
}

static int nextpay_round(void)
{
	struct script s = { 0 };

	return run_auth("np-items", test_account(), &s, 0) == PAM_SUCCESS ? 0 : -1;
}

static int sshd_info_round(void)
{
	char why[NP_SSHD_WHY_MAX];

	(void)np_sshd_shows_info_at_once(sshd_program, why, sizeof why);
	return 0;
}

static double monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static int compare_ms(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* In the worker: one untimed round, then the timed ones. */
static struct figures measure(round_fn round, int rounds)
{
	struct figures f = { 0 };
	double *ms = calloc((size_t)rounds, sizeof *ms);
	long rss_before;
	struct rusage usage;

	if (ms == NULL || round() != 0) {
		f.failures = rounds;
		free(ms);
		return f;
	}
	rss_before = vm_rss_kib();
	for (int i = 0; i < rounds; i++) {
		double start = monotonic_ms();

		if (round() != 0)
			f.failures++;
		ms[i] = monotonic_ms() - start;
	}
	f.rss_growth_kib = vm_rss_kib() - rss_before;
	qsort(ms, (size_t)rounds, sizeof *ms, compare_ms);
	f.median_ms = ms[rounds / 2];
	f.p90_ms = ms[(rounds * 9) / 10 < rounds ? (rounds * 9) / 10 : rounds - 1];
	f.worst_ms = ms[rounds - 1];
	if (getrusage(RUSAGE_CHILDREN, &usage) == 0)
		f.child_peak_kib = usage.ru_maxrss;
	free(ms);
	return f;
}

/* A row's time limit: a test's (tests/time_limit.h) for every ROUNDS_DEFAULT rounds, and one more. */
static unsigned row_limit_s(int rounds)
{
	return test_time_limit() * (1u + (unsigned)rounds / ROUNDS_DEFAULT);
}

/* Whether fd becomes readable (or hits the end) within limit_s seconds. */
static bool readable_within(int fd, unsigned limit_s)
{
	struct pollfd ready = { .fd = fd, .events = POLLIN };
	long long deadline = now_ms() + (long long)limit_s * 1000;

	while (now_ms() < deadline) {
		long long left = deadline - now_ms();
		int n = poll(&ready, 1, left > 1000 ? 1000 : (int)left);

		if (n > 0)
			return true;
		if (n < 0 && errno != EINTR)
			return true; /* the read that follows says what is wrong */
	}
	return false;
}

/*
 * A worker per row: a fresh process, so that neither resident set nor the
 * children's peak carries over from another row, and a session of its own
 * whose controlling terminal is a new pseudo-terminal that PAM_TTY names (as
 * a person's shell), which the session-scoped cache binds to.
 * A worker still running after the row's time limit is stopped, with what it
 * started, and the row fails.
 */
static struct figures in_worker(const char *row, round_fn round, int rounds)
{
	struct figures f = { .failures = rounds };
	int fds[2];
	pid_t pid;
	int status = 0;

	fflush(NULL);
	if (pipe2(fds, O_CLOEXEC) != 0)
		return f;
	pid = fork();
	if (pid == 0) {
		struct figures mine;
		char terminal[64];

		close(fds[0]);
		if (setsid() == (pid_t)-1 || test_terminal_session(terminal, sizeof terminal) < 0)
			_exit(1);
		setenv("PAM_TTY", terminal, 1);
		mine = measure(round, rounds);
		/* exit(), not _exit(): pam_wrapper removes its copy of the services in /tmp. */
		exit(write(fds[1], &mine, sizeof mine) == (ssize_t)sizeof mine ? 0 : 1);
	}
	close(fds[1]);
	if (pid > 0 && !readable_within(fds[0], row_limit_s(rounds))) {
		fprintf(stderr, "bench: %s: still running after its time limit of %u s; stopped\n", row,
		        row_limit_s(rounds));
		kill_process_tree(pid);
		pid = -1;
	} else if (pid > 0 && read(fds[0], &f, sizeof f) != (ssize_t)sizeof f) {
		f.failures = rounds;
	}
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	return f;
}

static void print_row(const char *name, const struct figures *f, const struct figures *base)
{
	printf("%-44s %8.2f %8.2f %8.2f %+9.2f %9ld %9ld", name, f->median_ms, f->p90_ms,
	       f->worst_ms, f->median_ms - base->median_ms, f->rss_growth_kib, f->child_peak_kib);
	if (f->failures != 0)
		printf("   %d FAILED", f->failures);
	printf("\n");
}

/* What reading an sshd program for its release costs, one row per program that exists. */
static int print_sshd_info_rows(int rounds)
{
	const char *new_dir = getenv("NP_OPENSSH_NEW");
	char new_session[1024];
	const char *programs[] = { "/usr/sbin/sshd", "/usr/lib/openssh/sshd-session", new_session };
	int failures = 0;

	snprintf(new_session, sizeof new_session, "%s/libexec/sshd-session",
	         new_dir != NULL ? new_dir : "/nonexistent");
	printf("\nwait = auto over sshd: reading sshd's program for its OpenSSH release, once per "
	       "sign-in\n(no baseline: it is all extra)\n\n");
	printf("%-44s %8s %8s %8s %9s\n", "", "median", "p90", "worst", "size");
	printf("%-44s %8s %8s %8s %9s\n", "", "ms", "ms", "ms", "KiB");
	for (size_t i = 0; i < sizeof programs / sizeof programs[0]; i++) {
		char why[NP_SSHD_WHY_MAX], name[64];
		struct figures f;
		struct stat st;

		if (stat(programs[i], &st) != 0)
			continue;
		sshd_program = programs[i];
		snprintf(name, sizeof name, "%.43s", strrchr(programs[i], '/') + 1);
		f = in_worker(name, sshd_info_round, rounds);
		(void)np_sshd_shows_info_at_once(sshd_program, why, sizeof why);
		printf("%-44s %8.3f %8.3f %8.3f %9lld   %s\n", name, f.median_ms, f.p90_ms, f.worst_ms,
		       (long long)st.st_size / 1024, why);
		failures += f.failures;
	}
	return failures;
}


int main(void)
{
	const char *env_rounds = getenv("NP_BENCH_ROUNDS");
	int rounds = env_rounds != NULL ? atoi(env_rounds) : ROUNDS_DEFAULT;
	char usermap[512], key_path[1024], text[2048];
	struct figures permit, spawn, cached, api_key;
	int failures;

	if (rounds < 1 || rounds > ROUNDS_MAX) {
		fprintf(stderr, "bench: NP_BENCH_ROUNDS must be 1..%d\n", ROUNDS_MAX);
		return 2;
	}
	printf("[----------] time limit: %u s per row of %d rounds (NP_TEST_LIMIT x "
	       "NP_TEST_LIMIT_SCALE, per %d rounds)\n",
	       row_limit_s(rounds), rounds, ROUNDS_DEFAULT);
	fflush(stdout);
	if (mock_start(&api, "mock-bench", NULL) != 0) {
		fprintf(stderr, "bench: the mock API did not start\n");
		return 1;
	}
	snprintf(usermap, sizeof usermap, "usr_alice %s\n", test_account());
	write_usermap(usermap);
	if (mock_post(&api, "config",
	              "{\"auto\": {\"action\": \"approve\", \"user\": \"usr_alice\", "
	              "\"after\": 0}}") != 200) {
		fprintf(stderr, "bench: the mock API refused its configuration\n");
		mock_stop(&api);
		return 1;
	}
	setenv("PAM_RHOST", "192.0.2.10", 1);

	permit = in_worker(ROW_PERMIT, permit_round, rounds);
	spawn = in_worker(ROW_SPAWN, true_round, rounds);

	snprintf(key_path, sizeof key_path, "%s/conf/bench-cache.key", test_dir());
	if (write_cache_key(key_path, 0600) != 0)
		return 1;
	snprintf(text, sizeof text, "cache = yes\ncache_dir = %s/bench-cache\ncache_key = %s\n",
	         test_dir(), key_path);
	write_config(&api, text);
	cached = in_worker(ROW_CACHED, nextpay_round, rounds);
	/* The warm-up made the one code; every timed round must have come from the cache. */
	if (mock_count(&api, "create") != 1 || mock_count(&api, "me") != rounds + 1) {
		fprintf(stderr, "bench: the cache row did not reuse the approval (%ld codes)\n",
		        mock_count(&api, "create"));
		cached.failures++;
	}

	write_config(&api, "api_key = yes\nuse_first_pass = yes\n");
	setenv("PAM_AUTHTOK", API_KEY, 1);
	api_key = in_worker(ROW_API_KEY, nextpay_round, rounds);
	if (mock_count(&api, "create") != 1 || mock_count(&api, "token") != rounds + 1) {
		fprintf(stderr, "bench: the API-key row did not exchange the key every round\n");
		api_key.failures++;
	}
	unsetenv("PAM_AUTHTOK");
	mock_stop(&api);

	printf("\npam_nextpay benchmark: %d timed rounds per row, each row in a fresh process\n",
	       rounds);
	printf("(wall times of pam_start + pam_authenticate + pam_end; \"vs permit\" is the "
	       "median\n minus the pam_permit row's; RSS growth is the host's over the timed "
	       "rounds;\n child peak is the largest child's peak RSS)\n\n");
	printf("%-44s %8s %8s %8s %9s %9s %9s\n", "", "median", "p90", "worst", "vs permit",
	       "RSS grow", "child pk");
	printf("%-44s %8s %8s %8s %9s %9s %9s\n", "", "ms", "ms", "ms", "ms", "KiB", "KiB");
	print_row(ROW_PERMIT, &permit, &permit);
	print_row(ROW_SPAWN, &spawn, &permit);
	print_row(ROW_CACHED, &cached, &permit);
	print_row(ROW_API_KEY, &api_key, &permit);
	failures = permit.failures + spawn.failures + cached.failures + api_key.failures;
	failures += print_sshd_info_rows(rounds);
	if (failures != 0)
		printf("\n%d rounds failed: these figures are not what a sign-in costs\n", failures);
	return failures != 0 ? 1 : 0;
}
