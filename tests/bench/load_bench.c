/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * For make bench (tests/bench/bench.py, row 6): what loading a library costs, as
 * libpam loads the module for every PAM handle (dlopen with RTLD_NOW, dlclose at
 * pam_end).  Prints one line per library and round, "PATH NS", rounds in turns.
 * It links nothing but libc, so that a library and what it needs are loaded anew
 * each time.
 *
 *   load-bench ROUNDS LIBRARY...
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long long ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	int rounds = argc >= 3 ? atoi(argv[1]) : 0;

	if (rounds <= 0) {
		fprintf(stderr, "usage: load-bench ROUNDS LIBRARY...\n");
		return 2;
	}
	for (int r = 0; r < rounds; r++) {
		for (int i = 2; i < argc; i++) {
			long long t = ns();
			void *lib = dlopen(argv[i], RTLD_NOW | RTLD_LOCAL);

			if (lib == NULL) {
				fprintf(stderr, "%s\n", dlerror());
				return 1;
			}
			dlclose(lib);
			printf("%s %lld\n", argv[i], ns() - t);
		}
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
