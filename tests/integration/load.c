/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Load: 200 sign-ins at once against one mock API, on a small machine.
 *
 * 200 threads of one host process (a busy display manager or SSO daemon)
 * each run one pam_start / pam_authenticate / pam_end (poll mode) through the
 * real libpam (pam_wrapper), so 200 helpers run at once; the mock approves
 * every code 1 s after it was made and poll_interval is 1 s.  Every sign-in
 * must succeed, and none may take much longer than its own polling needs:
 * poll_interval + approval delay + a generous margin for 400 processes and
 * threads sharing two cores.  Prints the distribution of wall times.
 *
 * Threads rather than processes: pam_wrapper copies the service directory to
 * /tmp/pam.X on each process's first pam_start, X being one character, so
 * some 60 processes starting at once run out of names.
 *
 * Runs like the integration suites (tests/run-tests.sh sets NP_TEST_DIR,
 * NP_HELPER, NP_MOCK and the pam_wrapper environment) and prints cmocka's
 * lines.  NP_LOAD_CLIENTS overrides the number of sign-ins.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <pthread.h>
#include <security/pam_appl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness.h"

#define CLIENTS_DEFAULT 200
#define POLL_INTERVAL_S 1
#define APPROVE_AFTER_S 1
#define MARGIN_S 10

static struct mock api;
static const char *account;
static pthread_barrier_t gun;

struct client {
	pthread_t thread;
	int rc;
	long long ms;
	bool unsafe;
};

static int quiet_conv(int num_msg, const struct pam_message **msg, struct pam_response **resp,
                      void *appdata)
{
	struct client *c = appdata;
	struct pam_response *replies = calloc((size_t)num_msg, sizeof *replies);

	if (replies == NULL)
		return PAM_BUF_ERR;
	for (int i = 0; i < num_msg; i++) {
		if (text_has_unsafe(msg[i]->msg))
			c->unsafe = true;
		if (msg[i]->msg_style == PAM_PROMPT_ECHO_OFF || msg[i]->msg_style == PAM_PROMPT_ECHO_ON)
			replies[i].resp = strdup("");
	}
	*resp = replies;
	return PAM_SUCCESS;
}

/* One client: waits for the starting gun, signs in once. */
static void *client(void *arg)
{
	struct client *c = arg;
	struct pam_conv conv = { quiet_conv, c };
	pam_handle_t *pamh = NULL;
	long long start;

	pthread_barrier_wait(&gun);
	start = now_ms();
	c->rc = pam_start("np-poll", account, &conv, &pamh);
	if (c->rc == PAM_SUCCESS) {
		c->rc = pam_authenticate(pamh, 0);
		pam_end(pamh, c->rc);
	} else {
		c->rc = 1000 + c->rc;
	}
	c->ms = now_ms() - start;
	return NULL;
}

static int by_ms(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static int clients(void)
{
	const char *n = getenv("NP_LOAD_CLIENTS");
	int value = n != NULL ? atoi(n) : CLIENTS_DEFAULT;

	return value > 0 && value <= 2000 ? value : CLIENTS_DEFAULT;
}

static void concurrent_sign_ins(void **state)
{
	int n = clients();
	struct client *c = calloc((size_t)n, sizeof *c);
	long long *ms = calloc((size_t)n, sizeof *ms);
	int succeeded = 0, too_slow = 0, unsafe = 0;
	long long start, overall, bound_ms = (POLL_INTERVAL_S + APPROVE_AFTER_S + MARGIN_S) * 1000LL;
	pthread_attr_t attr;

	(void)state;
	assert_non_null(c);
	assert_non_null(ms);
	account = test_account();
	assert_int_equal(pthread_barrier_init(&gun, NULL, (unsigned)n + 1), 0);
	assert_int_equal(pthread_attr_init(&attr), 0);
	assert_int_equal(pthread_attr_setstacksize(&attr, 1024 * 1024), 0);
	for (int i = 0; i < n; i++)
		assert_int_equal(pthread_create(&c[i].thread, &attr, client, &c[i]), 0);
	pthread_attr_destroy(&attr);
	/* All at once. */
	start = now_ms();
	pthread_barrier_wait(&gun);
	for (int i = 0; i < n; i++) {
		pthread_join(c[i].thread, NULL);
		ms[i] = c[i].ms;
		if (c[i].rc == PAM_SUCCESS)
			succeeded++;
		else
			fprintf(stderr, "client %d: %s after %lld ms\n", i,
			        c[i].rc >= 1000 ? "pam_start failed" : pam_strerror(NULL, c[i].rc), c[i].ms);
		if (c[i].ms > bound_ms)
			too_slow++;
		if (c[i].unsafe)
			unsafe++;
	}
	overall = now_ms() - start;
	pthread_barrier_destroy(&gun);
	qsort(ms, (size_t)n, sizeof ms[0], by_ms);
	fprintf(stderr,
	        "%d concurrent sign-ins: %d succeeded in %lld ms overall; wall time per sign-in: "
	        "min %lld, median %lld, p95 %lld, max %lld ms (bound %lld ms)\n",
	        n, succeeded, overall, ms[0], ms[n / 2], ms[(n * 95 + 99) / 100 - 1], ms[n - 1],
	        bound_ms);
	fprintf(stderr, "the mock saw %ld creates, %ld polls, %ld /auth/me, %ld connections\n",
	        mock_count(&api, "create"), mock_count(&api, "poll"), mock_count(&api, "me"),
	        mock_count(&api, "connections"));
	assert_int_equal(succeeded, n);
	assert_int_equal(too_slow, 0);
	assert_int_equal(unsafe, 0);
	assert_int_equal(mock_count(&api, "create"), n);
	/* No helper outlived its sign-in. */
	assert_int_equal(child_processes(api.pid, NULL, 0), 0);
	free(c);
	free(ms);
}

static int group_setup(void **state)
{
	char usermap[512], approve_after[16];
	const char *args[] = { "--auto", "approve", "--auto-user", "usr_alice", "--auto-after",
		               approve_after, NULL };
	struct rlimit files;

	(void)state;
	snprintf(approve_after, sizeof approve_after, "%d", APPROVE_AFTER_S);
	/* Threads and helpers count against RLIMIT_NPROC. */
	if (getrlimit(RLIMIT_NPROC, &files) == 0 && files.rlim_cur != RLIM_INFINITY &&
	    files.rlim_cur < (rlim_t)(3 * clients() + 64))
		fprintf(stderr, "load: RLIMIT_NPROC %llu may be too low for %d clients\n",
		        (unsigned long long)files.rlim_cur, clients());
	if (mock_start(&api, "mock-load", args) != 0)
		return -1;
	snprintf(usermap, sizeof usermap, "usr_alice %s\n", test_account());
	write_usermap(usermap);
	write_config(&api, "poll_interval = 1\n");
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	mock_stop(&api);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(concurrent_sign_ins),
	};

	return cmocka_run_group_tests_name("load", tests, group_setup, group_teardown);
}
