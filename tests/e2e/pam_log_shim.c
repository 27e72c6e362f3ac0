/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * For the end-to-end tests only: preloaded into sshd ahead of pam_wrapper, it
 * takes what PAM modules log with pam_syslog() and appends it, one line each,
 * to the file named by NP_E2E_PAM_LOG.  This machine may have no /dev/log,
 * and pam_wrapper's own logging cannot help: sshd's PAM process empties its
 * environment before the module runs, so pam_wrapper no longer sees its
 * PAM_WRAPPER_DEBUGLEVEL.  The file name is therefore read once, at load time.
 *
 *   LD_PRELOAD="build/tests/pam-log-shim.so libpam_wrapper.so" NP_E2E_PAM_LOG=FILE sshd ...
 *
 * A line is "<PRIORITY> MESSAGE"; the file must exist (nothing is created).
 */
#include <fcntl.h>
#include <security/pam_ext.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char log_path[4096];

__attribute__((constructor)) static void remember_log_path(void)
{
	const char *path = getenv("NP_E2E_PAM_LOG");

	if (path != NULL && path[0] == '/' && strlen(path) < sizeof log_path)
		memcpy(log_path, path, strlen(path) + 1);
}

void pam_vsyslog(const pam_handle_t *pamh, int priority, const char *fmt, va_list args)
{
	char line[4096];
	int prefix;
	int fd;
	size_t len;

	(void)pamh;
	if (log_path[0] == '\0')
		return;
	prefix = snprintf(line, sizeof line, "<%d> ", priority);
	if (prefix < 0)
		return;
	(void)vsnprintf(line + prefix, sizeof line - (size_t)prefix - 1, fmt, args);
	len = strlen(line);
	line[len++] = '\n';
	fd = open(log_path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return;
	/* One write(2) of one line with O_APPEND: lines of concurrent processes stay whole. */
	(void)!write(fd, line, len);
	close(fd);
}

void pam_syslog(const pam_handle_t *pamh, int priority, const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	pam_vsyslog(pamh, priority, fmt, args);
	va_end(args);
}
