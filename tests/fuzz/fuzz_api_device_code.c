/* SPDX-License-Identifier: BSD-2-Clause */
/* libFuzzer: np_api_parse_device_code over arbitrary response bodies. */
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
	struct np_msg_code out;
	char err[128] = "";
	int rc;

	memset(&out, 'Z', sizeof out);
	rc = np_api_parse_device_code((const char *)data, size, &out, err, sizeof err);
	if (rc == 0) {
		size_t code_len = strnlen(out.code, sizeof out.code);
		size_t url_len = strnlen(out.verification_url, sizeof out.verification_url);

		/* What the helper passes on must be what the module would accept. */
		FUZZ_CHECK(code_len < sizeof out.code && np_valid_code(out.code, code_len), "code");
		FUZZ_CHECK(url_len < sizeof out.verification_url &&
		           np_valid_https_url(out.verification_url, url_len), "url");
		FUZZ_CHECK(out.expires_at > 0 && out.expires_at <= FUZZ_EXP_MAX, "expires_at %lld",
		           (long long)out.expires_at);
	} else {
		static const struct np_msg_code zero;

		FUZZ_CHECK(rc == -1, "rc %d", rc);
		FUZZ_CHECK(err[0] != '\0' && fuzz_terminated(err, sizeof err), "no reason given");
		FUZZ_CHECK(memcmp(&out, &zero, sizeof out) == 0, "refused answer left in out");
	}
	fuzz_jwt_of_payload(data, size);
	return 0;
}
