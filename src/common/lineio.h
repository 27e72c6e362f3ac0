/* SPDX-License-Identifier: BSD-2-Clause */
/* Newline-delimited messages over pipes, with a hard size limit per line. */
#ifndef NP_LINEIO_H
#define NP_LINEIO_H

#include <stddef.h>

#define NP_LINE_MAX 16384 /* bytes per line, including the newline */

struct np_line_reader {
	int fd;
	size_t used;
	char buf[NP_LINE_MAX];
};

enum np_line_status {
	NP_LINE_OK = 0,     /* a line is ready (without its newline, NUL-terminated) */
	NP_LINE_TIMEOUT,    /* nothing complete before the timeout */
	NP_LINE_EOF,        /* the other end closed (a partial line is dropped) */
	NP_LINE_TOO_LONG,   /* a line exceeded NP_LINE_MAX: the stream is unusable */
	NP_LINE_ERROR,
};

void np_line_reader_init(struct np_line_reader *r, int fd);

/*
 * Waits at most timeout_ms (-1: forever, 0: do not wait) for one complete line
 * and copies it into line (line_size >= NP_LINE_MAX).  Bytes after it stay
 * buffered for the next call.
 */
enum np_line_status np_line_read(struct np_line_reader *r, int timeout_ms, char *line,
                                 size_t line_size, size_t *line_len);

/* Wipes whatever is still buffered; lines may carry tokens. */
void np_line_reader_wipe(struct np_line_reader *r);

/* Writes all len bytes, retrying short writes and EINTR.  Returns 0 or -1. */
int np_write_all(int fd, const char *data, size_t len);

#endif
