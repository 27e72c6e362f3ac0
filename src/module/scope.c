/* SPDX-License-Identifier: BSD-2-Clause */
#include "module/scope.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* The fields of /proc/PID/stat read here, numbered as in proc(5). */
#define STAT_TTY_NR 7
#define STAT_START_TIME 22
/* Longer PAM_TTY values are not looked up: no terminal under /dev has such a name. */
#define TERMINAL_NAME_MAX 64

static int append_part(char *out, size_t out_size, size_t *used, const char *part)
{
	int n = snprintf(out + *used, out_size - *used, "%zu:%s|", strlen(part), part);

	if (n < 0 || (size_t)n >= out_size - *used)
		return -1;
	*used += (size_t)n;
	return 0;
}

const char *np_scope_kind_name(enum np_cache_scope kind)
{
	switch (kind) {
	case NP_SCOPE_SESSION:
		return "session";
	case NP_SCOPE_USER:
		return "user";
	case NP_SCOPE_KEY:
		return "key";
	}
	return "?";
}

int np_scope_string(enum np_cache_scope kind, const struct np_scope_parts *parts, char *out,
                    size_t out_size)
{
	char leader[64], invoker_uid[32];
	size_t used = 0;
	int rc;

	out[0] = '\0';
	/* A key scope without a key would be the user scope under another name: refused. */
	if (kind == NP_SCOPE_KEY && (parts->ssh_keys == NULL || parts->ssh_keys[0] == '\0'))
		return -1;
	snprintf(invoker_uid, sizeof invoker_uid, "%lu", parts->invoker_uid);
	rc = append_part(out, out_size, &used, np_scope_kind_name(kind));
	rc |= append_part(out, out_size, &used, parts->account);
	rc |= append_part(out, out_size, &used, invoker_uid);
	rc |= append_part(out, out_size, &used,
	                  parts->invoker_name != NULL ? parts->invoker_name : "");
	rc |= append_part(out, out_size, &used, parts->service);
	if (rc != 0 || kind == NP_SCOPE_USER)
		return rc;
	if (kind == NP_SCOPE_KEY)
		return append_part(out, out_size, &used, parts->ssh_keys);
	snprintf(leader, sizeof leader, "%ld@%llu", parts->sid, parts->leader_start);
	rc |= append_part(out, out_size, &used, parts->terminal);
	rc |= append_part(out, out_size, &used, parts->rhost);
	rc |= append_part(out, out_size, &used, leader);
	return rc;
}

/* Field number wanted of a /proc/PID/stat file, as a number.  0 or -1. */
static int stat_field(const char *path, int wanted, long long *value)
{
	char text[1024];
	const char *after_name;
	char *end = NULL;
	size_t len = 0;
	int fd, field = 2;
	ssize_t got;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	while (len < sizeof text - 1 && (got = read(fd, text + len, sizeof text - 1 - len)) > 0)
		len += (size_t)got;
	close(fd);
	text[len] = '\0';
	/* The command name may hold spaces and parentheses: count fields after the last ')'. */
	after_name = strrchr(text, ')');
	if (after_name == NULL)
		return -1;
	for (const char *p = after_name + 1; *p != '\0'; p++) {
		if (*p != ' ' || ++field != wanted)
			continue;
		errno = 0;
		*value = strtoll(p + 1, &end, 10);
		return errno != 0 || end == p + 1 ? -1 : 0;
	}
	return -1;
}

int np_scope_session_leader(long *sid, unsigned long long *start)
{
	char path[64];
	pid_t leader = getsid(0);
	long long ticks = -1;

	if (leader <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)leader);
	if (stat_field(path, STAT_START_TIME, &ticks) != 0 || ticks < 0)
		return -1;
	*sid = (long)leader;
	*start = (unsigned long long)ticks;
	return 0;
}

/*
 * The controlling terminal's device number from tty_nr, which the kernel
 * writes as a signed int of new_encode_dev(): minor in bits 0-7 and 20-31,
 * major in bits 8-19.  0 with the number, 1 without a controlling terminal,
 * -1 when it cannot be read.
 */
static int controlling_terminal(unsigned *major_nr, unsigned *minor_nr)
{
	long long tty_nr = 0;
	uint32_t dev;

	if (stat_field("/proc/self/stat", STAT_TTY_NR, &tty_nr) != 0 || tty_nr < INT32_MIN ||
	    tty_nr > INT32_MAX)
		return -1;
	dev = (uint32_t)(tty_nr & 0xffffffffLL);
	if (dev == 0)
		return 1;
	*major_nr = (dev >> 8) & 0xfffu;
	*minor_nr = (dev & 0xffu) | ((dev >> 12) & 0xfff00u);
	return 0;
}

/*
 * PAM_TTY as a path under /dev ("pts/3" for "pts/3" and "/dev/pts/3"), or
 * NULL: only ASCII letters, digits, '.', '_' and '-' in parts separated by
 * single slashes, no part empty or starting with a dot (so no "..").  X
 * displays (":0"), "ssh" and paths elsewhere are no terminal here.
 */
static const char *name_under_dev(const char *pam_tty)
{
	const char *name = strncmp(pam_tty, "/dev/", 5) == 0 ? pam_tty + 5 : pam_tty;
	size_t len = strlen(name);
	bool part_start = true;

	if (len == 0 || len > TERMINAL_NAME_MAX)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (c == '/' || (c == '.' && part_start)) {
			if (part_start)
				return NULL;
			part_start = true;
			continue;
		}
		part_start = false;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return NULL;
	}
	return part_start ? NULL : name;
}

/* lstat of name under /dev, through no symbolic link on the way either.  0 or -1. */
static int stat_under_dev(const char *name, struct stat *st)
{
	char copy[TERMINAL_NAME_MAX + 1];
	char *part = copy, *slash;
	int dir = open("/dev", O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc;

	snprintf(copy, sizeof copy, "%s", name);
	while (dir >= 0 && (slash = strchr(part, '/')) != NULL) {
		int next;

		*slash = '\0';
		/* O_DIRECTORY with O_NOFOLLOW: a symbolic link to a directory fails here. */
		next = openat(dir, part, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dir);
		dir = next;
		part = slash + 1;
	}
	if (dir < 0)
		return -1;
	rc = fstatat(dir, part, st, AT_SYMLINK_NOFOLLOW);
	close(dir);
	return rc;
}

int np_scope_terminal(const char *pam_tty, char *device, size_t device_size, const char **why)
{
	unsigned ctty_major = 0, ctty_minor = 0;
	const char *name;
	struct stat st;
	int ctty = controlling_terminal(&ctty_major, &ctty_minor);

	if (ctty != 0) {
		*why = ctty > 0 ? "no controlling terminal" : "cannot read /proc/self/stat";
		return -1;
	}
	if (pam_tty == NULL || pam_tty[0] == '\0') {
		*why = "no PAM_TTY";
		return -1;
	}
	name = name_under_dev(pam_tty);
	if (name == NULL) {
		*why = "PAM_TTY is not the name of a terminal under /dev";
		return -1;
	}
	if (stat_under_dev(name, &st) != 0 || !S_ISCHR(st.st_mode)) {
		*why = "PAM_TTY is not a character device under /dev";
		return -1;
	}
	if (major(st.st_rdev) != ctty_major || minor(st.st_rdev) != ctty_minor) {
		*why = "PAM_TTY is not the controlling terminal";
		return -1;
	}
	snprintf(device, device_size, "%u:%u", ctty_major, ctty_minor);
	return 0;
}
