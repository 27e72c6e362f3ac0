/* SPDX-License-Identifier: BSD-2-Clause */
#include "common/lineio.h"

#include <errno.h>
#include <poll.h>
#include <sodium.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"

void np_line_reader_init(struct np_line_reader *r, int fd)
{
	r->fd = fd;
	r->used = 0;
}

void np_line_reader_wipe(struct np_line_reader *r)
{
	sodium_memzero(r->buf, sizeof r->buf);
	r->used = 0;
}

/* Moves a complete buffered line out, if there is one. */
static int take_line(struct np_line_reader *r, char *line, size_t line_size, size_t *line_len)
{
	char *newline = memchr(r->buf, '\n', r->used);
	size_t len;

	if (newline == NULL)
		return 0;
	len = (size_t)(newline - r->buf);
	if (len + 1 > line_size)
		return -1;
	memcpy(line, r->buf, len);
	line[len] = '\0';
	*line_len = len;
	r->used -= len + 1;
	memmove(r->buf, newline + 1, r->used);
	sodium_memzero(r->buf + r->used, len + 1);
	return 1;
}

enum np_line_status np_line_read(struct np_line_reader *r, int timeout_ms, char *line,
                                 size_t line_size, size_t *line_len)
{
	long long deadline = timeout_ms >= 0 ? np_monotonic_ms() + timeout_ms : -1;

	for (;;) {
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		int wait_ms = -1;
		int taken = take_line(r, line, line_size, line_len);
		ssize_t got;
		int ready;

		if (taken != 0)
			return taken > 0 ? NP_LINE_OK : NP_LINE_TOO_LONG;
		if (r->used >= sizeof r->buf)
			return NP_LINE_TOO_LONG;
		if (deadline >= 0) {
			long long left = deadline - np_monotonic_ms();

			wait_ms = left > 0 ? (int)(left > 60000 ? 60000 : left) : 0;
		}
		ready = poll(&pfd, 1, wait_ms);
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready < 0)
			return NP_LINE_ERROR;
		if (ready == 0) {
			if (deadline >= 0 && np_monotonic_ms() >= deadline)
				return NP_LINE_TIMEOUT;
			continue;
		}
		got = read(r->fd, r->buf + r->used, sizeof r->buf - r->used);
		if (got < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (got < 0)
			return NP_LINE_ERROR;
		if (got == 0)
			return NP_LINE_EOF;
		r->used += (size_t)got;
	}
}

int np_write_all(int fd, const char *data, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t put = write(fd, data + done, len - done);

		if (put < 0 && errno == EINTR)
			continue;
		if (put <= 0)
			return -1;
		done += (size_t)put;
	}
	return 0;
}
