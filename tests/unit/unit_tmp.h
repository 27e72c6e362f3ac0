/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Temporary files for the unit tests: a private directory from mkdtemp (owned
 * by the running euid, which safe_file accepts, so the tests pass as root and
 * as an ordinary user) and files in it with an exact mode.  Header-only, so
 * every test binary stays one .c file.
 */
#ifndef NP_UNIT_TMP_H
#define NP_UNIT_TMP_H

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Creates a fresh directory; returns 0 or -1. */
static inline int unit_tmpdir(char *dir, size_t size)
{
	const char *base = getenv("TMPDIR");

	if (base == NULL || base[0] != '/')
		base = "/tmp";
	if ((size_t)snprintf(dir, size, "%s/np-unit-XXXXXX", base) >= size)
		return -1;
	return mkdtemp(dir) != NULL ? 0 : -1;
}

/* Writes len bytes of data to dir/name (which must not exist) with exactly mode. */
static inline int unit_write_file(const char *dir, const char *name, const void *data,
                                  size_t len, mode_t mode, char *path, size_t path_size)
{
	int fd;
	ssize_t put;

	if ((size_t)snprintf(path, path_size, "%s/%s", dir, name) >= path_size)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	put = len > 0 ? write(fd, data, len) : 0;
	/* fchmod, not the open mode: the umask must not decide what is tested. */
	if (put < 0 || (size_t)put != len || fchmod(fd, mode) != 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

static inline int unit_rm_entry(const char *path, const struct stat *st, int flag,
                                struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes dir and everything in it (symlinks are removed, not followed). */
static inline void unit_rm_rf(const char *dir)
{
	if (dir != NULL && dir[0] == '/')
		nftw(dir, unit_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * The group's scratch directory, for suites whose tests share one: made by
 * unit_group_setup(), removed with everything in it by unit_group_teardown()
 * (cmocka's group fixtures).
 */
static char unit_dir[512] __attribute__((unused));

static inline int unit_group_setup(void **state)
{
	(void)state;
	return unit_tmpdir(unit_dir, sizeof unit_dir);
}

static inline int unit_group_teardown(void **state)
{
	(void)state;
	unit_rm_rf(unit_dir);
	return 0;
}

#endif
