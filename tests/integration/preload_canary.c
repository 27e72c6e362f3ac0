/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * A library for LD_PRELOAD that tells whether the caller's environment
 * reached the dynamic loader of nextpay-helper: loaded into a process of that
 * name, it writes the file named by NP_CANARY_FILE (which it can only know
 * if the environment came along too).  The helper runs as root until it drops
 * its privileges, so this is code of the caller's choosing running as root.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void canary(void)
{
	const char *path = getenv("NP_CANARY_FILE");
	int fd;

	if (path == NULL || strcmp(program_invocation_short_name, "nextpay-helper") != 0)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		ssize_t written = write(fd, "loaded\n", 7);

		(void)written;
		close(fd);
	}
}
