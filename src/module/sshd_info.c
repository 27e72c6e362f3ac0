/* SPDX-License-Identifier: BSD-2-Clause */
#include "module/sshd_info.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/sanitize.h"

#define PREFIX "OpenSSH_"
#define PREFIX_LEN (sizeof PREFIX - 1)
#define NUMBER_DIGITS_MAX 3
#define CHUNK (64 * 1024)

enum parse_result { NOT_A_RELEASE, RELEASE, CUT_OFF };

void np_openssh_release_init(struct np_openssh_release *r)
{
	memset(r, 0, sizeof *r);
}

bool np_openssh_shows_info_at_once(unsigned major, unsigned minor)
{
	return major > 10 || (major == 10 && minor >= 3);
}

/* 1 to NUMBER_DIGITS_MAX decimal digits at s[*pos] (bounded by len). */
static enum parse_result number(const char *s, size_t len, size_t *pos, unsigned *out)
{
	size_t start = *pos;

	*out = 0;
	while (*pos < len && s[*pos] >= '0' && s[*pos] <= '9') {
		if (*pos - start == NUMBER_DIGITS_MAX)
			return NOT_A_RELEASE;
		*out = *out * 10 + (unsigned)(s[*pos] - '0');
		(*pos)++;
	}
	if (*pos == len)
		return CUT_OFF;
	return *pos > start ? RELEASE : NOT_A_RELEASE;
}

/* What vendors put after the release: "Debian-2+deb12u10", "Ubuntu-3ubuntu13.5". */
static bool vendor_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr(" .+~_:-", c) != NULL);
}

/*
 * s (len bytes) starts with "OpenSSH_".  A release string is
 * "OpenSSH_MAJOR.MINOR[pN]" ending in NUL, or followed by " VENDOR-TEXT" of
 * letters, digits and " .+~_:-", and a NUL.  Anything else after the numbers ('*', ',', a
 * third number) is a compat-table pattern or other text.
 */
static enum parse_result parse(const char *s, size_t len, unsigned *major, unsigned *minor,
                               bool *portable, size_t *str_len)
{
	size_t pos = PREFIX_LEN;
	unsigned patch = 0;
	enum parse_result step;

	if (len > NP_OPENSSH_RELEASE_MAX + 1)
		len = NP_OPENSSH_RELEASE_MAX + 1;
	step = number(s, len, &pos, major);
	if (step != RELEASE)
		return step;
	if (s[pos++] != '.')
		return NOT_A_RELEASE;
	step = number(s, len, &pos, minor);
	if (step != RELEASE)
		return step;
	*portable = s[pos] == 'p';
	if (*portable) {
		pos++;
		step = number(s, len, &pos, &patch);
		if (step != RELEASE)
			return step;
	}
	if (s[pos] == ' ') {
		size_t text_start = ++pos;

		while (pos < len && vendor_char(s[pos]))
			pos++;
		if (pos == len)
			return len > NP_OPENSSH_RELEASE_MAX ? NOT_A_RELEASE : CUT_OFF;
		if (pos == text_start)
			return NOT_A_RELEASE;
	}
	if (s[pos] != '\0')
		return NOT_A_RELEASE;
	*str_len = pos;
	return RELEASE;
}

static void add_release(struct np_openssh_release *r, const char *s, size_t len, unsigned major,
                        unsigned minor, bool portable)
{
	if (r->found && (major != r->major || minor != r->minor))
		r->conflict = true;
	/* "OpenSSH_9.2p1 Debian-2+deb12u10" says more than "OpenSSH_9.2" beside it. */
	if (!r->found || (portable && !r->portable)) {
		r->major = major;
		r->minor = minor;
		memcpy(r->text, s, len);
		r->text[len] = '\0';
	}
	r->found = true;
	r->portable = r->portable || portable;
}

size_t np_openssh_release_scan(struct np_openssh_release *r, const char *bytes, size_t len,
                               bool at_end)
{
	size_t pos = 0;

	while (pos < len) {
		const char *hit = memmem(bytes + pos, len - pos, PREFIX, PREFIX_LEN);
		unsigned major = 0, minor = 0;
		bool portable = false;
		size_t str_len = 0;
		size_t at;

		if (hit == NULL) {
			/* The end may hold the start of "OpenSSH_". */
			if (!at_end && len - pos >= PREFIX_LEN)
				return len - (PREFIX_LEN - 1);
			return at_end ? len : pos;
		}
		at = (size_t)(hit - bytes);
		switch (parse(hit, len - at, &major, &minor, &portable, &str_len)) {
		case CUT_OFF:
			if (!at_end)
				return at;
			break;
		case RELEASE:
			add_release(r, hit, str_len, major, minor, portable);
			break;
		case NOT_A_RELEASE:
			break;
		}
		pos = at + PREFIX_LEN;
	}
	return len;
}

/* The program's own name, quoted for the log: /proc/self/exe is a link to it. */
static void program_name(const char *path, char *out, size_t out_size)
{
	char target[4096];
	ssize_t n = readlink(path, target, sizeof target - 1);

	if (n > 0) {
		target[n] = '\0';
		np_log_quote(out, out_size, target);
	} else {
		np_log_quote(out, out_size, path);
	}
}

/* Feeds the whole file to r; 0, or -1 with why set. */
static int scan_file(const char *path, const char *name, struct np_openssh_release *r,
                     char *why, size_t why_size)
{
	/* O_NONBLOCK: a FIFO in path must not hang a sign-in (regular files ignore it). */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	char *buf = NULL;
	size_t used = 0;
	unsigned long long total = 0;
	int rc = -1;

	if (fd < 0) {
		snprintf(why, why_size, "cannot open %s: %s", name, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(why, why_size, "%s is not a regular file", name);
		goto out;
	}
	if ((unsigned long long)st.st_size > NP_SSHD_PROGRAM_MAX) {
		snprintf(why, why_size, "%s is larger than %u bytes", name, NP_SSHD_PROGRAM_MAX);
		goto out;
	}
	buf = malloc(CHUNK);
	if (buf == NULL) {
		snprintf(why, why_size, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t got = read(fd, buf + used, CHUNK - used);
		size_t done;

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(why, why_size, "cannot read %s: %s", name, strerror(errno));
			goto out;
		}
		total += (unsigned long long)got;
		if (total > NP_SSHD_PROGRAM_MAX) {
			snprintf(why, why_size, "%s grew past %u bytes", name, NP_SSHD_PROGRAM_MAX);
			goto out;
		}
		used += (size_t)got;
		done = np_openssh_release_scan(r, buf, used, got == 0);
		if (got == 0)
			break;
		memmove(buf, buf + done, used - done);
		used -= done;
	}
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

/*
 * The one portable OpenSSH release the program at path carries, in r; false
 * with why set for anything else.  name and release get the program's name
 * and the release string, quoted for the log.
 */
static bool one_openssh(const char *path, struct np_openssh_release *r, char *name,
                        size_t name_size, char *release, size_t release_size, char *why,
                        size_t why_size)
{
	np_openssh_release_init(r);
	program_name(path, name, name_size);
	if (scan_file(path, name, r, why, why_size) != 0)
		return false;
	if (!r->found || !r->portable) {
		snprintf(why, why_size, "no OpenSSH release string in %s", name);
		return false;
	}
	np_log_quote(release, release_size, r->text);
	if (r->conflict) {
		snprintf(why, why_size, "%s has release strings of more than one OpenSSH (%s, ...)",
		         name, release);
		return false;
	}
	return true;
}

bool np_sshd_shows_info_at_once(const char *path, char *why, size_t why_size)
{
	struct np_openssh_release r;
	char name[512];
	char release[NP_OPENSSH_RELEASE_MAX + 3];
	bool at_once;

	if (!one_openssh(path, &r, name, sizeof name, release, sizeof release, why, why_size))
		return false;
	at_once = np_openssh_shows_info_at_once(r.major, r.minor);
	snprintf(why, why_size, "%s in %s, %s", release, name,
	         at_once ? "10.3 or later" : "before 10.3");
	return at_once;
}

bool np_sshd_is_openssh(const char *path, char *why, size_t why_size)
{
	struct np_openssh_release r;
	char name[512];
	char release[NP_OPENSSH_RELEASE_MAX + 3];

	if (!one_openssh(path, &r, name, sizeof name, release, sizeof release, why, why_size))
		return false;
	snprintf(why, why_size, "%s in %s", release, name);
	return true;
}
