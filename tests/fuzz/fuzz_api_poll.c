/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer: np_api_parse_poll over arbitrary response bodies, then np_jwt_exp. */
#include "fuzz_api.h"

#include "common/validate.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return fuzz_api_init();
}

/* Every byte either untouched (FILL) or wiped: nothing of the body's token is left. */
#define FILL 0xA5
static bool nothing_left(const char *buf, size_t size)
{
	for (size_t i = 0; i < size; i++)
		if (buf[i] != 0 && (unsigned char)buf[i] != FILL)
			return false;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The helper's sizes (src/helper/flow.c); the status is cut to fit. */
	static char token[NP_TOKEN_MAX + 1];
	char status[NP_STATUS_MAX + 1];
	char err[128] = "";
	enum np_poll_state state = (enum np_poll_state)-1;
	int rc;

	memset(token, FILL, sizeof token);
	memset(status, 'Z', sizeof status);
	rc = np_api_parse_poll((const char *)data, size, &state, token, sizeof token, status,
	                       sizeof status, err, sizeof err);
	FUZZ_CHECK(fuzz_terminated(token, sizeof token) && fuzz_terminated(status, sizeof status),
	           "unterminated output");
	if (rc == 0 && state == NP_POLL_APPROVED) {
		FUZZ_CHECK(np_valid_token(token, strlen(token)), "approved with a bad token");
		fuzz_check_jwt(token);
	} else {
		/* A token that is not an approval must not linger in memory. */
		FUZZ_CHECK(token[0] == '\0' && nothing_left(token, sizeof token),
		           "token not wiped (rc %d, state %d)", rc, (int)state);
	}
	if (rc == 0 && state == NP_POLL_FINAL) {
		for (const unsigned char *p = (const unsigned char *)status; *p != '\0'; p++)
			FUZZ_CHECK(*p >= 0x20 && *p != 0x7F, "control byte 0x%02x in status", *p);
	}
	if (rc != 0) {
		FUZZ_CHECK(rc == -1, "rc %d", rc);
		FUZZ_CHECK(err[0] != '\0' && fuzz_terminated(err, sizeof err), "no reason given");
	} else {
		FUZZ_CHECK(state == NP_POLL_PENDING || state == NP_POLL_APPROVED ||
		           state == NP_POLL_FINAL, "state %d", (int)state);
	}
	fuzz_jwt_of_payload(data, size);
	return 0;
}
