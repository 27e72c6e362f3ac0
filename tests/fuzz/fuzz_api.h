/* SPDX-License-Identifier: BSD-2-Clause */
/* Shared checks of the four API-answer harnesses (fuzz_api_*.c). */
#ifndef NP_FUZZ_API_H
#define NP_FUZZ_API_H

#include <sodium.h>

#include "helper/api_parse.h"
#include "fuzz_common.h"

#define FUZZ_EXP_MAX (INT64_C(1) << 40)

/* np_jwt_exp never trusts what it reads: 0, or a plausible Unix time. */
static inline void fuzz_check_jwt(const char *token)
{
	int64_t exp = np_jwt_exp(token);

	FUZZ_CHECK(exp >= 0 && exp <= FUZZ_EXP_MAX, "exp %lld", (long long)exp);
}

/*
 * The input as the payload of a JWT: the fuzzer cannot easily write base64 of
 * JSON itself, and np_jwt_exp's own JSON reading deserves the same beating.
 * Only inputs that could fit a token (NP_TOKEN_MAX) once encoded are used.
 */
static inline void fuzz_jwt_of_payload(const uint8_t *data, size_t size)
{
	static const char head[] = "eyJhbGciOiJSUzI1NiJ9.";
	static const char tail[] = ".c2lnbmF0dXJl";
	char token[NP_TOKEN_MAX + 1];
	size_t b64_size;

	if (size > (NP_TOKEN_MAX - sizeof head - sizeof tail) / 4 * 3)
		return;
	b64_size = sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	memcpy(token, head, sizeof head - 1);
	sodium_bin2base64(token + sizeof head - 1, b64_size, data, size,
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	strcat(token, tail);
	fuzz_check_jwt(token);
}

static inline int fuzz_api_init(void)
{
	if (sodium_init() < 0)
		abort();
	return 0;
}

#endif
