/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mockctl: the mock API's control client (tests/mock/mock_client.c) on the
 * command line, for the Python tests (tests/lib/mock.py) and scripts/demo.sh.
 *
 *   build/tests/mockctl --dir DIR COMMAND [ARGS]
 *
 *   wait-ready [--timeout SECONDS]   until the mock answers over verified TLS (10)
 *   url                              print https://127.0.0.1:PORT/v1
 *   approve [--user U] [--code C]    approve a code (default: the newest) and
 *   deny [--code C]                  print the code acted on
 *   expire [--code C]
 *   config JSON                      e.g. '{"auto": {"action": "approve", "after": 0.5}}';
 *                                    prints the new configuration
 *   fault JSON                       e.g. '{"endpoint": "poll", "kind": "status", "status": 429}'
 *   revoke JSON                      '{"user": "usr_alice"}' or '{"token": "..."}'
 *   reassign JSON                    '{"user": "usr_alice", "to": "usr_bob"}'
 *   user JSON                        '{"id": "usr_x", "email": "X@Example.com"}'
 *   reset                            forget codes, faults, counters, configuration
 *   stats                            print the stats as JSON
 *   count WHAT                       a request count (create, poll, token, me) or connections
 *   last-code                        the newest code, or nothing
 *
 * Exit status 0 on success, 1 with a one-line message on stderr otherwise.
 */
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_client.h"

static int fail(const char *what, const char *name)
{
	fprintf(stderr, "mockctl: %s%s\n", what, name);
	return 1;
}

/* The value of "--name V" among argv[from..argc), or NULL. */
static const char *option(int argc, char **argv, int from, const char *name)
{
	for (int i = from; i + 1 < argc; i++)
		if (strcmp(argv[i], name) == 0)
			return argv[i + 1];
	return NULL;
}

/* Says why the mock refused, from its JSON answer. */
static int refused(const char *name, long status, const char *answer)
{
	struct json_object *obj = answer != NULL ? json_tokener_parse(answer) : NULL;
	struct json_object *error = NULL, *message = NULL;
	char line[1024];

	if (obj != NULL && json_object_object_get_ex(obj, "error", &error) &&
	    !json_object_object_get_ex(error, "message", &message))
		message = error;
	snprintf(line, sizeof line, "/_mock/%s: HTTP %ld: %s", name, status,
	         message != NULL ? json_object_get_string(message) : "no answer");
	json_object_put(obj);
	return fail(line, "");
}

/*
 * Sends one control request and prints member of the answer (a string as it
 * is, anything else as JSON; NULL: nothing, "" the whole answer).
 */
static int control(const struct mock *m, const char *name, const char *json, const char *member)
{
	char *answer = NULL;
	long status = mock_request(m, name, json, &answer);
	struct json_object *obj, *value = NULL;
	int rc = 0;

	if (status != 200) {
		rc = refused(name, status, answer);
		free(answer);
		return rc;
	}
	obj = json_tokener_parse(answer);
	if (obj == NULL)
		rc = fail("an answer that is not JSON from /_mock/", name);
	else if (member != NULL && member[0] == '\0')
		puts(answer);
	else if (member != NULL && json_object_object_get_ex(obj, member, &value))
		puts(json_object_get_type(value) == json_type_string
		             ? json_object_get_string(value)
		             : json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN));
	json_object_put(obj);
	free(answer);
	return rc;
}

/* approve, deny, expire: {"user": U, "code": C} with what was given. */
static int decide(const struct mock *m, const char *name, const char *user, const char *code)
{
	struct json_object *obj = json_object_new_object();
	int rc;

	if (user != NULL)
		json_object_object_add(obj, "user", json_object_new_string(user));
	if (code != NULL)
		json_object_object_add(obj, "code", json_object_new_string(code));
	rc = control(m, name, json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN), "code");
	json_object_put(obj);
	return rc;
}

static int run(const struct mock *m, int argc, char **argv)
{
	const char *cmd = argv[3];
	const char *arg = argc > 4 ? argv[4] : NULL;
	char text[256];

	if (strcmp(cmd, "url") == 0)
		return puts(m->url) < 0;
	if (strcmp(cmd, "approve") == 0)
		return decide(m, cmd, option(argc, argv, 4, "--user"), option(argc, argv, 4, "--code"));
	if (strcmp(cmd, "deny") == 0 || strcmp(cmd, "expire") == 0)
		return decide(m, cmd, NULL, option(argc, argv, 4, "--code"));
	if (strcmp(cmd, "config") == 0 && arg != NULL)
		return control(m, cmd, arg, "config");
	if ((strcmp(cmd, "fault") == 0 || strcmp(cmd, "revoke") == 0 ||
	     strcmp(cmd, "reassign") == 0 || strcmp(cmd, "user") == 0) && arg != NULL)
		return control(m, cmd, arg, NULL);
	if (strcmp(cmd, "reset") == 0)
		return control(m, cmd, "{}", NULL);
	if (strcmp(cmd, "stats") == 0)
		return control(m, cmd, NULL, "");
	if (strcmp(cmd, "count") == 0 && arg != NULL)
		return printf("%ld\n", mock_count(m, arg)) < 0;
	if (strcmp(cmd, "last-code") == 0) {
		mock_last_code(m, text, sizeof text);
		return puts(text) < 0;
	}
	return fail("unknown command or missing argument (see tests/mock/mockctl.c): ", cmd);
}

int main(int argc, char **argv)
{
	struct mock m;
	const char *timeout;

	if (argc < 4 || strcmp(argv[1], "--dir") != 0)
		return fail("usage: mockctl --dir DIR COMMAND [ARGS] (see tests/mock/mockctl.c)", "");
	mock_at(&m, argv[2]);
	if (strcmp(argv[3], "wait-ready") == 0) {
		timeout = option(argc, argv, 4, "--timeout");
		return mock_wait_ready(&m, (int)((timeout != NULL ? atof(timeout) : 10.0) * 1000)) != 0;
	}
	/* Every other command talks to a mock that is up already. */
	if (mock_find(&m) != 0)
		return fail("no mock runs (no port file) in ", m.dir);
	return run(&m, argc, argv);
}
