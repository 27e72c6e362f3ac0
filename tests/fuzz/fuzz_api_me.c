/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer: np_api_parse_me over arbitrary response bodies. */
#include "fuzz_api.h"

#include "common/validate.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return fuzz_api_init();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct np_msg_identity out;
	char err[128] = "";
	int rc;

	memset(&out, 'Z', sizeof out);
	out.token[0] = '\0';
	rc = np_api_parse_me((const char *)data, size, &out, err, sizeof err);
	FUZZ_CHECK(out.token[0] == '\0' && out.token[1] == 'Z', "out->token touched");
	FUZZ_CHECK(fuzz_terminated(out.user_id, sizeof out.user_id) &&
	           fuzz_terminated(out.email, sizeof out.email) &&
	           fuzz_terminated(out.name, sizeof out.name), "unterminated field");
	if (rc == 0) {
		size_t email_len = strlen(out.email);

		FUZZ_CHECK(np_valid_user_id(out.user_id, strlen(out.user_id)), "bad user id");
		FUZZ_CHECK(email_len == 0 || np_valid_email(out.email, email_len), "bad e-mail");
		for (const unsigned char *p = (const unsigned char *)out.name; *p != '\0'; p++)
			FUZZ_CHECK(*p >= 0x20 && *p != 0x7F, "control byte 0x%02x in name", *p);
	} else {
		FUZZ_CHECK(rc == -1, "rc %d", rc);
		FUZZ_CHECK(err[0] != '\0' && fuzz_terminated(err, sizeof err), "no reason given");
		FUZZ_CHECK(out.user_id[0] == '\0' && out.email[0] == '\0' && out.name[0] == '\0',
		           "refused identity left in out");
	}
	fuzz_jwt_of_payload(data, size);
	return 0;
}
