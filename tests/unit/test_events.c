/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the sign-in's syslog line (src/common/events.c) with and
 * without the SSH key: the line keeps its old form when sshd named no key,
 * and key="..." comes last but for the reference, quoted like every value.
 * The journal's fields are tested against a real journald (tests/journal).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/events.h"

#define FP "SHA256:sr0gk2VJaorPKhNN4k7xaOclwgyq6iR/7RtwjK6Nqg8"

static void fill(struct np_event *ev, const char *key)
{
	memset(ev, 0, sizeof *ev);
	ev->values[NP_EV_RESULT] = "success";
	ev->values[NP_EV_ACCOUNT] = "don";
	ev->values[NP_EV_USER_ID] = "usr_abc123";
	ev->values[NP_EV_RHOST] = "203.0.113.7";
	ev->values[NP_EV_SERVICE] = "sshd";
	ev->values[NP_EV_METHOD] = "cached-approval";
	ev->values[NP_EV_REASON] = "user id rule";
	ev->values[NP_EV_SSH_KEY] = key;
	memcpy(ev->reference, "K7QX-2M4D", sizeof "K7QX-2M4D");
}

static void line_of(const char *key, char *out, size_t out_size)
{
	struct np_event ev;
	char line[4096];

	fill(&ev, key);
	np_event_signin_line(&ev, line, sizeof line);
	ev.line = line;
	np_event_line(&ev, out, out_size);
}

static void no_key_keeps_the_old_line(void **state)
{
	static const char old[] = "success: account=\"don\" nextpay_id=\"usr_abc123\" "
	                          "rhost=\"203.0.113.7\" service=\"sshd\" method=\"cached-approval\" "
	                          "reason=\"user id rule\" reference=\"K7QX-2M4D\"";
	char out[4096];

	(void)state;
	line_of(NULL, out, sizeof out);
	assert_string_equal(out, old);
	line_of("", out, sizeof out);
	assert_string_equal(out, old);
}

static void key_comes_before_the_reference(void **state)
{
	char out[4096];

	(void)state;
	line_of(FP "," FP, out, sizeof out);
	assert_string_equal(out, "success: account=\"don\" nextpay_id=\"usr_abc123\" "
	                         "rhost=\"203.0.113.7\" service=\"sshd\" method=\"cached-approval\" "
	                         "reason=\"user id rule\" key=\"" FP "," FP "\" "
	                         "reference=\"K7QX-2M4D\"");
	/* Quoted as every value: nothing in it can end the field or start a line. */
	line_of("a\" x=\"y\nz", out, sizeof out);
	assert_non_null(strstr(out, " key=\"a\\\" x=\\\"y\\x0Az\" reference="));
	assert_string_equal(np_event_field_name(NP_EV_SSH_KEY), "NEXTPAY_SSH_KEY");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(no_key_keeps_the_old_line),
		cmocka_unit_test(key_comes_before_the_reference),
	};

	return cmocka_run_group_tests_name("events: the sign-in line and its SSH key", tests, NULL,
	                                   NULL);
}
