/* SPDX-License-Identifier: BSD-2-Clause */
#include "module/scope.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int append_part(char *out, size_t out_size, size_t *used, const char *part)
{
	int n = snprintf(out + *used, out_size - *used, "%zu:%s|", strlen(part), part);

	if (n < 0 || (size_t)n >= out_size - *used)
		return -1;
	*used += (size_t)n;
	return 0;
}

int np_scope_string(bool session_scope, const struct np_scope_parts *parts, char *out,
                    size_t out_size)
{
	char leader[64], invoker_uid[32];
	size_t used = 0;
	int rc;

	out[0] = '\0';
	snprintf(invoker_uid, sizeof invoker_uid, "%lu", parts->invoker_uid);
	rc = append_part(out, out_size, &used, session_scope ? "session" : "user");
	rc |= append_part(out, out_size, &used, parts->account);
	rc |= append_part(out, out_size, &used, invoker_uid);
	rc |= append_part(out, out_size, &used,
	                  parts->invoker_name != NULL ? parts->invoker_name : "");
	if (!session_scope || rc != 0)
		return rc;
	snprintf(leader, sizeof leader, "%ld@%llu", parts->sid, parts->leader_start);
	rc |= append_part(out, out_size, &used, parts->service);
	rc |= append_part(out, out_size, &used, parts->tty);
	rc |= append_part(out, out_size, &used, parts->rhost);
	rc |= append_part(out, out_size, &used, leader);
	return rc;
}

int np_scope_session_leader(long *sid, unsigned long long *start)
{
	char path[64], text[1024];
	pid_t leader = getsid(0);
	const char *after_name;
	size_t len = 0;
	int fd, field = 2;
	ssize_t got;

	if (leader <= 0)
		return -1;
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)leader);
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
		if (*p != ' ')
			continue;
		if (++field == 22) {
			char *end = NULL;

			errno = 0;
			*start = strtoull(p + 1, &end, 10);
			if (errno != 0 || end == p + 1)
				return -1;
			*sid = (long)leader;
			return 0;
		}
	}
	return -1;
}
