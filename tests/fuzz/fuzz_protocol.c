/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer: np_msg_decode over arbitrary lines (both the module and the
 * helper decode what the other side wrote).  A line that decodes must encode
 * again, decode again to the same fields, and encode to the same line: the
 * two sides can never disagree about a message either of them accepted.
 */
#include <sodium.h>

#include "fuzz_common.h"
#include "common/protocol.h"

/* Re-encoding may grow a line a little ("1e12" -> 1000000000000, an unknown reason -> "internal"). */
#define GROWTH_MARGIN 128

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		abort();
	return 0;
}

/* The first field in which two decoded messages differ, or NULL: protocol.c's table says which. */
static const char *differs(const struct np_msg *a, const struct np_msg *b)
{
	size_t n = 0;
	const struct np_msg_field *fields;

	if (a->type != b->type)
		return "type";
	fields = np_msg_fields(a->type, &n);
	for (size_t i = 0; i < n; i++) {
		const char *x = (const char *)a + fields[i].offset;
		const char *y = (const char *)b + fields[i].offset;

		if (fields[i].kind == NP_FIELD_TEXT ? strcmp(x, y) != 0
		                                    : memcmp(x, y, fields[i].size) != 0)
			return fields[i].name;
	}
	return NULL;
}

/* Display text that crossed the pipe is sanitised on decode: no control bytes left. */
static void check_clean(const char *what, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		FUZZ_CHECK(*p >= 0x20 && *p != 0x7F, "control byte 0x%02x in %s", *p, what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct np_msg first, second;
	static char line[NP_LINE_MAX + 4096], again[NP_LINE_MAX + 4096];
	char err[128] = "";
	size_t line_len = 0, again_len = 0;
	/* A line the reader could deliver must re-encode within the line limit. */
	size_t limit = size + 1 + GROWTH_MARGIN <= NP_LINE_MAX ? NP_LINE_MAX : sizeof line;
	const char *field;

	if (np_msg_decode((const char *)data, size, &first, err, sizeof err) != 0) {
		static const struct np_msg zero;

		FUZZ_CHECK(err[0] != '\0' && fuzz_terminated(err, sizeof err), "no reason given");
		FUZZ_CHECK(memcmp(&first, &zero, sizeof first) == 0, "refused message not wiped");
		return 0;
	}
	if (first.type == NP_MSG_IDENTITY)
		check_clean("identity.name", first.identity.name);
	if (first.type == NP_MSG_FAILURE)
		check_clean("failure.detail", first.failure.detail);

	FUZZ_CHECK(np_msg_encode(&first, line, limit, &line_len) == 0,
	           "decoded message (type %d, %zu bytes) does not encode", (int)first.type, size);
	FUZZ_CHECK(line_len > 0 && line[line_len - 1] == '\n' && line[line_len] == '\0' &&
	           strlen(line) == line_len && memchr(line, '\n', line_len - 1) == NULL,
	           "encoded line malformed");
	err[0] = '\0';
	FUZZ_CHECK(np_msg_decode(line, line_len - 1, &second, err, sizeof err) == 0,
	           "re-encoded line does not decode: %s: %s", err, line);
	field = differs(&first, &second);
	FUZZ_CHECK(field == NULL, "round trip changed %s: %s", field, line);
	FUZZ_CHECK(np_msg_encode(&second, again, sizeof again, &again_len) == 0 &&
	           again_len == line_len && memcmp(line, again, line_len) == 0,
	           "encoding is not stable: %s", line);
	np_msg_wipe(&first);
	np_msg_wipe(&second);
	return 0;
}
