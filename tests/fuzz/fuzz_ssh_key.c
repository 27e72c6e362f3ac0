/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer: np_ssh_auth_info_keys over SSH_AUTH_INFO_0 text, which a module
 * earlier in the stack or the application could have written.  The answer is
 * -1 with nothing in out, or a count of keys (at most NP_SSH_KEYS_MAX) with
 * exactly that many fingerprints in out ("SHA256:" and 43 base64 characters,
 * joined by ','), whatever the room the caller gives.
 */
#include "fuzz_common.h"
#include "common/ssh_key.h"

static bool b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

static void check_keys(int n, const char *out, size_t out_size)
{
	size_t len = strlen(out);

	FUZZ_CHECK(len < out_size, "past the room");
	FUZZ_CHECK(n >= -1 && n <= NP_SSH_KEYS_MAX, "count %d", n);
	if (n <= 0) {
		FUZZ_CHECK(len == 0, "keys in out for a count of %d", n);
		return;
	}
	FUZZ_CHECK(len == (size_t)n * (NP_SSH_FINGERPRINT_LEN + 1) - 1, "length %zu for %d keys",
	           len, n);
	for (int i = 0; i < n; i++) {
		const char *fp = out + (size_t)i * (NP_SSH_FINGERPRINT_LEN + 1);

		FUZZ_CHECK(strncmp(fp, "SHA256:", 7) == 0, "no SHA256: prefix");
		for (size_t j = 7; j < NP_SSH_FINGERPRINT_LEN; j++)
			FUZZ_CHECK(b64_char(fp[j]), "not base64 in a fingerprint");
		FUZZ_CHECK(i == n - 1 || fp[NP_SSH_FINGERPRINT_LEN] == ',', "no comma between keys");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_cstr(data, size);
	char out[NP_SSH_KEYS_TEXT_MAX + 1];
	char small[NP_SSH_FINGERPRINT_LEN + 1];
	const char *why = NULL;
	int n;

	n = np_ssh_auth_info_keys(text, out, sizeof out, &why);
	FUZZ_CHECK(why != NULL, "no reason");
	check_keys(n, out, sizeof out);
	/* Less room than the keys need: never past it, never a partial answer. */
	n = np_ssh_auth_info_keys(text, small, sizeof small, &why);
	check_keys(n, small, sizeof small);
	FUZZ_CHECK(n <= 1, "%d keys in room for one", n);
	free(text);
	return 0;
}
