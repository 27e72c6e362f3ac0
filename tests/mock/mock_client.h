/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The one client of the mock API's control interface (/_mock/ under
 * tests/mock/nextpay_mock.py): the integration suites link it, and
 * build/tests/mockctl (tests/mock/mockctl.c) puts it on the command line for
 * the Python tests (tests/lib/mock.py) and scripts/demo.sh.
 *
 * A mock is known by its directory: DIR/port, DIR/ca.crt, DIR/pin and
 * DIR/otherpin are written by the mock as it starts.  Starting and stopping
 * the process is its owner's business; everything said to it is here.
 */
#ifndef NP_TEST_MOCK_CLIENT_H
#define NP_TEST_MOCK_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct mock {
	char dir[512];
	pid_t pid;        /* the owner's child, or 0 */
	char url[256];    /* https://127.0.0.1:PORT/v1 */
	char ca[600];
	char pin[128];
	char otherpin[128];
};

/* Names m's directory (nothing else yet). */
void mock_at(struct mock *m, const char *dir);

/* Fills url, pin and otherpin from what the running mock wrote.  0, or -1 when it has not yet. */
int mock_find(struct mock *m);

/*
 * Waits up to timeout_ms until the mock in m->dir answers /_mock/stats over
 * TLS (certificates are made on first start, which takes a moment), then
 * fills url, ca, pin and otherpin.  0, or -1 with why on stderr.  With
 * m->pid set, a mock that exited is not waited for.
 */
int mock_wait_ready(struct mock *m, int timeout_ms);

/*
 * One control request: GET /_mock/name when json is NULL, else POST json.
 * Returns the HTTP status (0: no answer); the body into *out (malloc'd) when
 * out is not NULL.
 */
long mock_request(const struct mock *m, const char *name, const char *json, char **out);

/* POST json to /_mock/name ("reset", "config", "fault" ...); returns the HTTP status. */
long mock_post(const struct mock *m, const char *name, const char *json);
/* The whole stats document (malloc'd), or NULL. */
char *mock_stats(const struct mock *m);
/* A number from the stats' "requests" (create, poll, token, me) or its top ("connections"). */
long mock_count(const struct mock *m, const char *what);
/* The most recently created code, or "" when none. */
void mock_last_code(const struct mock *m, char *out, size_t out_size);
/* Whether any request body the mock received contains needle. */
bool mock_bodies_contain(const struct mock *m, const char *needle);
/* The credential of the last Bearer request to endpoint ("me", "token"). */
bool mock_last_bearer(const struct mock *m, const char *endpoint, char *out, size_t out_size);

#endif
