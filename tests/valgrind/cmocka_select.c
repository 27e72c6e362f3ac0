/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Preloaded into the test programs that tests/run-valgrind.sh runs under
 * valgrind: cmocka 1.1.5 can filter tests only from inside the program (one
 * pattern), so this wraps _cmocka_run_group_tests and keeps the tests that
 * NP_VG_ONLY and NP_VG_SKIP select (comma-separated fnmatch patterns), and
 * says which it left out.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fnmatch.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

typedef int run_fn(const char *, const struct CMUnitTest *, size_t, CMFixtureFunction,
                   CMFixtureFunction);

static int listed(const char *list, const char *name)
{
	char buf[4096];
	char *save = NULL;

	snprintf(buf, sizeof buf, "%s", list);
	for (char *p = strtok_r(buf, ", ", &save); p != NULL; p = strtok_r(NULL, ", ", &save))
		if (fnmatch(p, name, 0) == 0)
			return 1;
	return 0;
}

int _cmocka_run_group_tests(const char *group, const struct CMUnitTest *const tests,
                            const size_t count, CMFixtureFunction setup,
                            CMFixtureFunction teardown)
{
	run_fn *real = (run_fn *)dlsym(RTLD_NEXT, "_cmocka_run_group_tests");
	const char *only = getenv("NP_VG_ONLY"), *skip = getenv("NP_VG_SKIP");
	struct CMUnitTest *kept = calloc(count + 1, sizeof *kept);
	size_t n = 0, left_out = 0;
	int rc;

	if (real == NULL || kept == NULL)
		abort();
	for (size_t i = 0; i < count; i++) {
		if (only != NULL && *only != '\0' && !listed(only, tests[i].name)) {
			left_out++;
			continue;
		}
		if (skip != NULL && *skip != '\0' && listed(skip, tests[i].name)) {
			printf("left out under valgrind (NP_VG_SKIP): %s\n", tests[i].name);
			left_out++;
			continue;
		}
		kept[n++] = tests[i];
	}
	fflush(stdout);
	rc = real(group, kept, n, setup, teardown);
	if (left_out > 0)
		printf("[  SKIPPED ] %zu test(s), left out under valgrind.\n", left_out);
	free(kept);
	return rc;
}
