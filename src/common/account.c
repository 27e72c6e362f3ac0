/* SPDX-License-Identifier: BSD-2-Clause */
#include "common/account.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/safe_file.h"

/* Debian's is about 12 KiB; anything far larger is not a login.defs. */
#define LOGIN_DEFS_MAX (256 * 1024)

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* The value of one "UID_MIN value" line (blanks around it, optional quotes), or 0. */
static unsigned long uid_min_value(const char *value, size_t len)
{
	char text[32];
	char *end = NULL;
	unsigned long n;

	while (len > 0 && is_blank(value[len - 1]))
		len--;
	if (len >= 2 && value[0] == '"' && value[len - 1] == '"') {
		value++;
		len -= 2;
	}
	/* Digits only: strtoul would also take signs and leading blanks, and stop at a NUL. */
	if (len == 0 || len >= sizeof text || value[0] < '0' || value[0] > '9' ||
	    memchr(value, '\0', len) != NULL)
		return 0;
	memcpy(text, value, len);
	text[len] = '\0';
	errno = 0;
	n = strtoul(text, &end, 0);
	if (errno != 0 || *end != '\0' || n == 0 || n >= UINT32_MAX)
		return 0;
	return n;
}

static const char *skip_blanks(const char *p, const char *end)
{
	while (p < end && is_blank(*p))
		p++;
	return p;
}

unsigned long np_uid_min_parse(const char *text, size_t len)
{
	static const char key[] = "UID_MIN";
	const size_t key_len = sizeof key - 1;
	const char *end = text + len;
	unsigned long uid_min = NP_UID_MIN_DEFAULT;

	for (const char *line = text; line < end;) {
		const char *newline = memchr(line, '\n', (size_t)(end - line));
		const char *stop = newline != NULL ? newline : end;
		const char *p = skip_blanks(line, stop);

		line = stop + 1;
		if ((size_t)(stop - p) <= key_len || memcmp(p, key, key_len) != 0 ||
		    !is_blank(p[key_len]))
			continue;
		p = skip_blanks(p + key_len, stop);
		/* As useradd: the last line wins, and one it cannot read means the default. */
		uid_min = uid_min_value(p, (size_t)(stop - p));
		if (uid_min == 0)
			uid_min = NP_UID_MIN_DEFAULT;
	}
	return uid_min;
}

unsigned long np_uid_min(const char *path)
{
	char err[512];
	char *text = NULL;
	size_t len = 0;
	unsigned long uid_min = NP_UID_MIN_DEFAULT;

	if (np_file_read(path, 0, LOGIN_DEFS_MAX, &text, &len, err, sizeof err) == NP_FILE_OK)
		uid_min = np_uid_min_parse(text, len);
	free(text);
	return uid_min;
}

bool np_uid_is_personal(uid_t uid, unsigned long uid_min)
{
	return uid != 0 && (unsigned long)uid != NP_UID_NOBODY && (unsigned long)uid >= uid_min;
}
