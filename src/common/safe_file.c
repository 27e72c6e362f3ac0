/* SPDX-License-Identifier: BSD-2-Clause */
#include "common/safe_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static enum np_file_status check_stat(const struct stat *st, const char *path, unsigned flags,
                                      size_t max_size, char *err, size_t err_size)
{
	if (!S_ISREG(st->st_mode)) {
		snprintf(err, err_size, "%s: not a regular file", path);
		return NP_FILE_UNSAFE;
	}
	if (st->st_uid != 0 && st->st_uid != geteuid()) {
		snprintf(err, err_size, "%s: owned by uid %lu, expected root%s", path,
		         (unsigned long)st->st_uid, geteuid() != 0 ? " or the running user" : "");
		return NP_FILE_UNSAFE;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		snprintf(err, err_size, "%s: writable by group or others (mode %04o)", path,
		         (unsigned)(st->st_mode & 07777));
		return NP_FILE_UNSAFE;
	}
	if ((flags & NP_FILE_PRIVATE) != 0 && (st->st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(err, err_size, "%s: readable by group or others (mode %04o), expected 0600",
		         path, (unsigned)(st->st_mode & 07777));
		return NP_FILE_UNSAFE;
	}
	if (st->st_size < 0 || (unsigned long long)st->st_size > max_size) {
		snprintf(err, err_size, "%s: larger than %zu bytes", path, max_size);
		return NP_FILE_UNSAFE;
	}
	return NP_FILE_OK;
}

static enum np_file_status read_fd(int fd, const char *path, size_t size, char **data,
                                   size_t *len, char *err, size_t err_size)
{
	char *buf = malloc(size + 1);
	size_t used = 0;

	if (buf == NULL) {
		snprintf(err, err_size, "%s: out of memory", path);
		return NP_FILE_ERROR;
	}
	/* Read one byte past the size fstat gave, to notice a file that grew meanwhile. */
	while (used <= size) {
		ssize_t got = read(fd, buf + used, size + 1 - used);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err, err_size, "%s: read failed: %s", path, strerror(errno));
			free(buf);
			return NP_FILE_ERROR;
		}
		if (got == 0)
			break;
		used += (size_t)got;
	}
	if (used > size) {
		snprintf(err, err_size, "%s: changed while being read", path);
		free(buf);
		return NP_FILE_UNSAFE;
	}
	buf[used] = '\0';
	*data = buf;
	*len = used;
	return NP_FILE_OK;
}

bool np_file_private(const struct stat *st)
{
	return (st->st_mode & S_IROTH) == 0 && ((st->st_mode & S_IRGRP) == 0 || st->st_gid == 0);
}

enum np_file_status np_file_read(const char *path, unsigned flags, size_t max_size,
                                 char **data, size_t *len, char *err, size_t err_size)
{
	struct stat st;

	return np_file_read_stat(path, flags, max_size, data, len, &st, err, err_size);
}

enum np_file_status np_file_read_stat(const char *path, unsigned flags, size_t max_size,
                                      char **data, size_t *len, struct stat *stp, char *err,
                                      size_t err_size)
{
	enum np_file_status status;
	struct stat st;
	int fd;

	*data = NULL;
	*len = 0;
	if (path == NULL || path[0] != '/') {
		snprintf(err, err_size, "%s: not an absolute path", path != NULL ? path : "(null)");
		return NP_FILE_UNSAFE;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		int open_errno = errno;

		if (open_errno == ENOENT) {
			snprintf(err, err_size, "%s: does not exist", path);
			return NP_FILE_MISSING;
		}
		snprintf(err, err_size, "%s: %s", path,
		         open_errno == ELOOP ? "is a symbolic link" : strerror(open_errno));
		if (open_errno == EACCES || open_errno == EPERM)
			return NP_FILE_DENIED;
		return open_errno == ELOOP ? NP_FILE_UNSAFE : NP_FILE_ERROR;
	}
	if (fstat(fd, &st) != 0) {
		snprintf(err, err_size, "%s: stat failed: %s", path, strerror(errno));
		status = NP_FILE_ERROR;
	} else {
		status = check_stat(&st, path, flags, max_size, err, err_size);
	}
	if (status == NP_FILE_OK)
		status = read_fd(fd, path, (size_t)st.st_size, data, len, err, err_size);
	if (status == NP_FILE_OK)
		*stp = st;
	close(fd);
	return status;
}
