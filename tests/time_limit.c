/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A time limit for every cmocka test (see time_limit.h).
 *
 * __wrap__cmocka_run_group_tests() hands cmocka a copy of the group's table
 * in which every test's set-up, body and tear-down are the limited_*()
 * functions below; each arms a timer for the step and calls the test's own.
 * Each copied entry's initial_state points at the test's original entry, so
 * limited_setup() knows which test cmocka started; it then gives the test the
 * state cmocka would have (the group's, else the test's initial_state), which
 * is why cmocka itself is given no group state.
 *
 * The timer is a POSIX timer that signals the thread running the group (the
 * load and faults suites run threads of their own).  Its handler prints the
 * message and fails the test with cmocka's fail(), which longjmps back into
 * cmocka, as cmocka's own handler does for SIGSEGV: a test stuck in a system
 * call is stopped cleanly; one stuck holding a lock (inside malloc, say) may
 * leave the rest of the group to fail by its limits, and run_suite.py's limit
 * ends that.  A real-time signal, not SIGALRM, which the host-safety tests
 * set as a host would.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "time_limit.h"

#ifndef sigev_notify_thread_id
#define sigev_notify_thread_id _sigev_un._tid
#endif

#define LIMIT_MAX_S 86400
#define SCALE_MAX 100
#define MAX_KEPT 64
#define STOP_ROUNDS 10
#define MAX_UNDO 8

/* What the wrapper knows while a group runs; its steps run one at a time, in one thread. */
static struct {
	const struct CMUnitTest *tests; /* the group's own table */
	size_t count;
	const struct CMUnitTest *current;
	void *group_state;
	CMFixtureFunction group_setup, group_teardown;
	unsigned limit;
	struct timespec test_deadline; /* set-up and body share one limit */
	pid_t kept[MAX_KEPT];          /* children from before the test: the group's */
	int kept_count;
	timer_t timer;
	bool have_timer;
	char what[512];
	unsigned seconds;
	volatile sig_atomic_t armed, expired;
	void (*undo[MAX_UNDO])(void); /* test_time_limit_on_stop() */
} run;

/* ---- the limit ---- */

static unsigned env_number(const char *name, unsigned fallback, unsigned max)
{
	const char *text = getenv(name);
	char *end = NULL;
	unsigned long value;

	if (text == NULL || *text == '\0')
		return fallback;
	errno = 0;
	value = strtoul(text, &end, 10);
	if (errno != 0 || *end != '\0' || text[0] < '0' || text[0] > '9' || value < 1 ||
	    value > max) {
		fprintf(stderr, "time limit: ignoring %s=\"%s\" (not a number 1..%u)\n", name, text, max);
		return fallback;
	}
	return (unsigned)value;
}

unsigned test_time_limit(void)
{
	return env_number("NP_TEST_LIMIT", TEST_LIMIT_DEFAULT_S, LIMIT_MAX_S) *
	       env_number("NP_TEST_LIMIT_SCALE", 1, SCALE_MAX);
}

/* ---- processes ---- */

struct proc_entry {
	pid_t pid, ppid;
};

/* Every process's pid and parent, from /proc; *count of them (malloc'd, NULL on failure). */
static struct proc_entry *process_table(size_t *count)
{
	DIR *proc = opendir("/proc");
	struct proc_entry *table = NULL;
	size_t used = 0, size = 0;
	struct dirent *entry;

	*count = 0;
	if (proc == NULL)
		return NULL;
	while ((entry = readdir(proc)) != NULL) {
		char path[300], line[512];
		const char *after_name;
		int pid = 0, ppid = 0;
		FILE *f;

		if (entry->d_name[0] < '0' || entry->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/stat", entry->d_name);
		f = fopen(path, "r");
		if (f == NULL)
			continue;
		/* The name may hold spaces and parentheses: parse after the last ')'. */
		if (fgets(line, sizeof line, f) != NULL && (after_name = strrchr(line, ')')) != NULL &&
		    sscanf(line, "%d", &pid) == 1 && sscanf(after_name + 1, " %*c %d", &ppid) == 1) {
			if (used == size) {
				struct proc_entry *grown;

				size = size == 0 ? 512 : size * 2;
				grown = realloc(table, size * sizeof *table);
				if (grown == NULL) {
					fclose(f);
					break;
				}
				table = grown;
			}
			table[used].pid = pid;
			table[used].ppid = ppid;
			used++;
		}
		fclose(f);
	}
	closedir(proc);
	*count = used;
	return table;
}

int process_children(pid_t parent, pid_t *pids, int max)
{
	size_t count;
	struct proc_entry *table = process_table(&count);
	int found = 0;

	for (size_t i = 0; i < count; i++) {
		if (table[i].ppid != parent)
			continue;
		if (pids != NULL && found < max)
			pids[found] = table[i].pid;
		found++;
	}
	free(table);
	return found;
}

bool process_name(pid_t pid, char *out, size_t out_size)
{
	char path[64];
	FILE *f;
	bool found;

	snprintf(path, sizeof path, "/proc/%ld/comm", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	found = fgets(out, (int)out_size, f) != NULL;
	fclose(f);
	if (found)
		out[strcspn(out, "\n")] = '\0';
	return found;
}

static bool listed(pid_t pid, const pid_t *pids, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

void kill_process_tree(pid_t pid)
{
	pid_t *tree = NULL;
	size_t members = 0;

	/*
	 * Stopped first, level by level until nothing new turns up, so that no
	 * member can start another process between the look and the kill.
	 */
	for (int round = 0; round < STOP_ROUNDS; round++) {
		size_t count, before = members;
		struct proc_entry *table = process_table(&count);
		pid_t *grown = realloc(tree, (members + count + 1) * sizeof *tree);

		if (grown == NULL) {
			free(table);
			break;
		}
		tree = grown;
		if (!listed(pid, tree, members))
			tree[members++] = pid;
		for (size_t m = 0; m < members; m++)
			for (size_t i = 0; i < count; i++)
				if (table[i].ppid == tree[m] && !listed(table[i].pid, tree, members))
					tree[members++] = table[i].pid;
		free(table);
		for (size_t m = before; m < members; m++)
			kill(tree[m], SIGSTOP);
		if (members == before)
			break;
	}
	for (size_t m = 0; m < members; m++)
		kill(tree[m], SIGKILL);
	free(tree);
	/*
	 * ECHILD at once if pid is not ours.  __WALL: the module's keeper of its
	 * helper is a clone child, which other waits do not see.
	 */
	while (waitpid(pid, NULL, __WALL) < 0 && errno == EINTR)
		;
}

static void remember_children(void)
{
	run.kept_count = process_children(getpid(), run.kept, MAX_KEPT);
	if (run.kept_count > MAX_KEPT)
		run.kept_count = MAX_KEPT;
}

void test_time_limit_on_stop(void (*undo)(void))
{
	for (size_t i = 0; i < MAX_UNDO; i++) {
		if (run.undo[i] == undo)
			return;
		if (run.undo[i] == NULL) {
			run.undo[i] = undo;
			return;
		}
	}
	fprintf(stderr, "time limit: more than %d undo functions\n", MAX_UNDO);
	abort();
}

/*
 * After a step ran out of time: what it left half-done is undone, what it
 * started goes, what was there before stays.
 */
static void stop_left_behind(void)
{
	if (!run.expired)
		return;
	run.expired = 0;
	for (size_t i = 0; i < MAX_UNDO && run.undo[i] != NULL; i++)
		run.undo[i]();
	for (int round = 0; round < STOP_ROUNDS; round++) {
		pid_t now[256];
		int n = process_children(getpid(), now, 256), stopped = 0;

		for (int i = 0; i < n && i < 256; i++) {
			char comm[64];

			if (listed(now[i], run.kept, (size_t)run.kept_count))
				continue;
			if (!process_name(now[i], comm, sizeof comm))
				snprintf(comm, sizeof comm, "?");
			print_message("[  LIMIT   ] stopped process %ld (%s) and what it started, left "
			              "by the step that ran out of time\n",
			              (long)now[i], comm);
			kill_process_tree(now[i]);
			stopped++;
		}
		if (stopped == 0)
			break;
	}
}

/* ---- the timer ---- */

static int limit_signal(void)
{
	return SIGRTMIN + 8;
}

static void on_limit(int sig)
{
	(void)sig;
	if (!run.armed)
		return;
	run.armed = 0;
	run.expired = 1;
	/* On stdout: a test may have pointed stderr elsewhere (harness.c's log capture). */
	print_message("[  LIMIT   ] %s: still running after its time limit of %u s; stopped\n",
	              run.what, run.seconds);
	fail();
}

static int make_timer(void)
{
	struct sigaction sa;
	struct sigevent ev;
	sigset_t mine;

	if (run.have_timer)
		return 0;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_limit;
	/* The handler leaves by longjmp: its signal must not stay blocked. */
	sa.sa_flags = SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&mine);
	sigaddset(&mine, limit_signal());
	memset(&ev, 0, sizeof ev);
	ev.sigev_notify = SIGEV_THREAD_ID;
	ev.sigev_signo = limit_signal();
	ev.sigev_notify_thread_id = gettid();
	if (sigaction(limit_signal(), &sa, NULL) != 0 ||
	    sigprocmask(SIG_UNBLOCK, &mine, NULL) != 0 ||
	    timer_create(CLOCK_MONOTONIC, &ev, &run.timer) != 0)
		return -1;
	run.have_timer = true;
	return 0;
}

static struct timespec seconds_from_now(unsigned seconds)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += (time_t)seconds;
	return t;
}

/* A deadline already past fires at once. */
static void arm(const char *name, const char *step, struct timespec deadline)
{
	struct itimerspec when = { .it_value = deadline };

	snprintf(run.what, sizeof run.what, "%s%s", name, step);
	run.seconds = run.limit;
	run.armed = 1;
	if (timer_settime(run.timer, TIMER_ABSTIME, &when, NULL) != 0)
		fail_msg("time limit: timer_settime: %s", strerror(errno));
}

static void disarm(void)
{
	struct itimerspec off;

	memset(&off, 0, sizeof off);
	run.armed = 0;
	if (run.have_timer)
		timer_settime(run.timer, 0, &off, NULL);
}

/* ---- the steps ---- */

static const struct CMUnitTest *test_of(const void *state)
{
	for (size_t i = 0; i < run.count; i++)
		if (state == &run.tests[i])
			return &run.tests[i];
	return NULL;
}

static int limited_setup(void **state)
{
	const struct CMUnitTest *test = test_of(*state);
	int rc = 0;

	stop_left_behind();
	if (test == NULL) {
		print_error("time limit: cannot tell which test cmocka started\n");
		return -1;
	}
	run.current = test;
	*state = run.group_state != NULL ? run.group_state : test->initial_state;
	remember_children();
	run.test_deadline = seconds_from_now(run.limit);
	arm(test->name, "", run.test_deadline);
	if (test->setup_func != NULL)
		rc = test->setup_func(state);
	disarm();
	return rc;
}

static void limited_test(void **state)
{
	arm(run.current->name, "", run.test_deadline);
	run.current->test_func(state);
	disarm();
}

/* A fresh limit: a test that ran out of time still gets its clean-up. */
static int limited_teardown(void **state)
{
	int rc = 0;

	stop_left_behind();
	arm(run.current->name, " (tear-down)", seconds_from_now(run.limit));
	if (run.current->teardown_func != NULL)
		rc = run.current->teardown_func(state);
	disarm();
	return rc;
}

/* cmocka's own group state (*state) stays NULL: see the top of this file. */
static int limited_group_setup(void **state)
{
	int rc = 0;

	(void)state;
	arm("group set-up", "", seconds_from_now(run.limit));
	if (run.group_setup != NULL)
		rc = run.group_setup(&run.group_state);
	disarm();
	return rc;
}

static int limited_group_teardown(void **state)
{
	int rc = 0;

	(void)state;
	stop_left_behind();
	arm("group tear-down", "", seconds_from_now(run.limit));
	if (run.group_teardown != NULL)
		rc = run.group_teardown(&run.group_state);
	disarm();
	return rc;
}

int __real__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *tests,
                                   size_t num_tests, CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown);
int __wrap__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *tests,
                                   size_t num_tests, CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown);

int __wrap__cmocka_run_group_tests(const char *group_name, const struct CMUnitTest *tests,
                                   size_t num_tests, CMFixtureFunction group_setup,
                                   CMFixtureFunction group_teardown)
{
	struct CMUnitTest *limited = calloc(num_tests + 1, sizeof *limited);
	int rc;

	if (limited == NULL || make_timer() != 0) {
		fprintf(stderr, "time limit: cannot limit the tests of %s: %s\n", group_name,
		        strerror(errno));
		free(limited);
		return -1;
	}
	for (size_t i = 0; i < num_tests; i++) {
		limited[i] = tests[i];
		/* Entries cmocka does not run stay as they are. */
		if (tests[i].name == NULL || (tests[i].test_func == NULL &&
		                              tests[i].setup_func == NULL && tests[i].teardown_func == NULL))
			continue;
		if (tests[i].test_func != NULL)
			limited[i].test_func = limited_test;
		limited[i].setup_func = limited_setup;
		limited[i].teardown_func = limited_teardown;
		limited[i].initial_state = (void *)&tests[i];
	}
	memset(&run.kept, 0, sizeof run.kept);
	run.tests = tests;
	run.count = num_tests;
	run.current = NULL;
	run.group_state = NULL;
	run.group_setup = group_setup;
	run.group_teardown = group_teardown;
	run.kept_count = 0;
	run.expired = 0;
	run.limit = test_time_limit();
	printf("[----------] time limit: %u s per test (NP_TEST_LIMIT x NP_TEST_LIMIT_SCALE)\n",
	       run.limit);
	fflush(stdout);
	rc = __real__cmocka_run_group_tests(group_name, limited, num_tests, limited_group_setup,
	                                    limited_group_teardown);
	disarm();
	/* A group tear-down that ran out of time: nothing of the group stays. */
	run.kept_count = 0;
	stop_left_behind();
	run.tests = NULL;
	run.count = 0;
	free(limited);
	return rc;
}
