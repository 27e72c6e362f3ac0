/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A time limit for every cmocka test, and no process left behind by a test
 * that hangs.
 *
 * Every test program is linked with tests/time_limit.c and
 * -Wl,--wrap=_cmocka_run_group_tests (tests/tests.mk), so each
 * cmocka_run_group_tests() runs its group through the wrapper there: the
 * group set-up, each test (its set-up and body together), each test's
 * tear-down and the group tear-down get test_time_limit() seconds each.
 * Nothing to call and nothing to forget: a test added to any table is
 * limited, and a program built without the wrapper prints no
 * "[----------] time limit" line, which tests/run-tests.sh fails.
 *
 * When a limit passes, the test fails like a failed assertion, with
 * "<test>: still running after its time limit of N s", and the group goes
 * on: before the next step runs, every process the timed-out step started
 * (and what those started) is killed and reaped; the processes that were
 * there before it (the group's mock API) are kept.
 */
#ifndef NP_TEST_TIME_LIMIT_H
#define NP_TEST_TIME_LIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Seconds each test may take by default; NP_TEST_LIMIT overrides it. */
#define TEST_LIMIT_DEFAULT_S 120

/*
 * The limit of one test in seconds: NP_TEST_LIMIT (1..86400, default
 * TEST_LIMIT_DEFAULT_S) times NP_TEST_LIMIT_SCALE (1..100, default 1), which
 * the ASan and valgrind runs raise.
 */
unsigned test_time_limit(void);

/*
 * undo runs before the step that follows one that ran out of time (in the
 * thread that runs the tests, not in a signal handler): it puts back what a
 * stopped test may have left half-done, e.g. a redirected stderr.  Adding the
 * same function twice adds it once.
 */
void test_time_limit_on_stop(void (*undo)(void));

/* The direct children of parent (zombies too), up to max into pids; returns how many. */
int process_children(pid_t parent, pid_t *pids, int max);

/* The name of process pid (/proc/PID/comm) into out; false if it is gone. */
bool process_name(pid_t pid, char *out, size_t out_size);

/*
 * SIGKILLs pid and every process below it, then reaps pid if it is a child
 * of this process.
 */
void kill_process_tree(pid_t pid);

#endif
