/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Shared bits of the libFuzzer harnesses in tests/fuzz/ (and of gen_seeds.c,
 * which makes their seeds): checks that abort() with a message, so that an
 * invariant broken by an input is a crash libFuzzer keeps as an artifact.
 */
#ifndef NP_FUZZ_COMMON_H
#define NP_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Aborts (a libFuzzer crash) when an invariant does not hold. */
#define FUZZ_CHECK(cond, ...)                                                      \
	do {                                                                           \
		if (!(cond)) {                                                             \
			fprintf(stderr, "%s:%d: invariant failed: %s: ", __FILE__, __LINE__, \
			        #cond);                                                        \
			fprintf(stderr, __VA_ARGS__);                                          \
			fputc('\n', stderr);                                                   \
			abort();                                                               \
		}                                                                          \
	} while (0)

/* A NUL-terminated copy of the input (which may itself hold NULs); free() it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	if (size > 0)
		memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* Whether buf[0..size) holds a NUL, i.e. is a C string that stays in its buffer. */
static inline bool fuzz_terminated(const char *buf, size_t size)
{
	return memchr(buf, '\0', size) != NULL;
}

/*
 * The cache harness and the seed generator share the key and scope, so that
 * the committed seed entry opens and the fuzzer starts past the MAC check.
 */
static const unsigned char fuzz_cache_master[32] = {
	0x6e, 0x70, 0x2d, 0x66, 0x75, 0x7a, 0x7a, 0x2d, 0x6d, 0x61, 0x73, 0x74, 0x65, 0x72, 0x2d, 0x6b,
	0x65, 0x79, 0x2d, 0x6e, 0x6f, 0x74, 0x2d, 0x61, 0x2d, 0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x21,
};
#define FUZZ_CACHE_SCOPE "7:session|3:don|1:0|0:|4:sshd|5:pts/0|9:127.0.0.1|10:4242@98765|"

#endif
