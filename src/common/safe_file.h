/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Reading files that decide who may log in.  A file is trusted only if it is
 * a regular file (not a symlink), owned by root or the effective user, and not
 * writable by group or others; otherwise another local user could steer us.
 */
#ifndef NP_SAFE_FILE_H
#define NP_SAFE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

enum np_file_status {
	NP_FILE_OK = 0,
	NP_FILE_MISSING,   /* ENOENT: the caller decides whether that is fine */
	NP_FILE_UNSAFE,    /* wrong type, owner or mode, or too large */
	NP_FILE_DENIED,    /* EACCES/EPERM: this process may not read it */
	NP_FILE_ERROR,     /* any other I/O error */
};

/* Also refuse a file that group or others can read (secret keys). */
#define NP_FILE_PRIVATE 0x1u

/*
 * Reads all of path into a new NUL-terminated heap buffer (*data, *len) of at
 * most max_size bytes.  On anything but NP_FILE_OK, *data is NULL and err
 * says why in words an administrator can act on.  A caller holding a secret
 * wipes the buffer before free().
 */
enum np_file_status np_file_read(const char *path, unsigned flags, size_t max_size,
                                 char **data, size_t *len, char *err, size_t err_size);

/* np_file_read(), and *st gets what fstat() said of the very file read. */
enum np_file_status np_file_read_stat(const char *path, unsigned flags, size_t max_size,
                                      char **data, size_t *len, struct stat *st, char *err,
                                      size_t err_size);

/*
 * Whether nobody but the file's owner and root can read it: others may not,
 * and its group only when that is root's group (mode 0600, or 0640 with
 * group root).  The owner is root or the effective user (np_file_read).
 */
bool np_file_private(const struct stat *st);

#endif
