/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer: np_api_parse_token over arbitrary response bodies, then np_jwt_exp. */
#include "fuzz_api.h"

#include "common/validate.h"

#define FILL 0xA5

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return fuzz_api_init();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char token[NP_TOKEN_MAX + 1];
	char err[128] = "";
	int rc;

	memset(token, FILL, sizeof token);
	rc = np_api_parse_token((const char *)data, size, token, sizeof token, err, sizeof err);
	FUZZ_CHECK(fuzz_terminated(token, sizeof token), "unterminated token");
	if (rc == 0) {
		FUZZ_CHECK(np_valid_token(token, strlen(token)), "accepted a bad token");
		fuzz_check_jwt(token);
	} else {
		FUZZ_CHECK(rc == -1, "rc %d", rc);
		FUZZ_CHECK(err[0] != '\0' && fuzz_terminated(err, sizeof err), "no reason given");
		/* Each byte untouched (FILL) or wiped: nothing of a refused token is left. */
		for (size_t i = 0; i < sizeof token; i++)
			FUZZ_CHECK(token[i] == '\0' || (i > 0 && (unsigned char)token[i] == FILL),
			           "refused token not wiped at %zu", i);
	}
	fuzz_jwt_of_payload(data, size);
	return 0;
}
