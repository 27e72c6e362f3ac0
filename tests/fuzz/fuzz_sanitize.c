/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer: np_sanitize into destinations of several sizes.  The output must
 * be NUL-terminated inside dst, hold no C0 control or DEL, be valid UTF-8
 * without the C1 controls and bidirectional overrides the header promises to
 * remove, be a prefix of the output for a larger dst (cut at a character
 * boundary), and sanitising it again must change nothing.
 */
#include "fuzz_common.h"
#include "common/sanitize.h"

/* Strict UTF-8 (no overlongs, surrogates or values past U+10FFFF); 0 if s is not. */
static size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t need;
	uint32_t min;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xE0) == 0xC0) {
		need = 2;
		min = 0x80;
		*cp = s[0] & 0x1Fu;
	} else if ((s[0] & 0xF0) == 0xE0) {
		need = 3;
		min = 0x800;
		*cp = s[0] & 0x0Fu;
	} else if ((s[0] & 0xF8) == 0xF0) {
		need = 4;
		min = 0x10000;
		*cp = s[0] & 0x07u;
	} else {
		return 0;
	}
	if (len < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3Fu);
	}
	if (*cp < min || *cp > 0x10FFFF || (*cp >= 0xD800 && *cp <= 0xDFFF))
		return 0;
	return need;
}

static void check_clean(const char *out, size_t len)
{
	const unsigned char *s = (const unsigned char *)out;

	for (size_t i = 0; i < len;) {
		uint32_t cp = 0;
		size_t n = utf8_next(s + i, len - i, &cp);

		FUZZ_CHECK(n > 0, "invalid UTF-8 at %zu (byte 0x%02x)", i, s[i]);
		FUZZ_CHECK(cp >= 0x20 && cp != 0x7F, "control U+%04X at %zu", (unsigned)cp, i);
		FUZZ_CHECK(!(cp >= 0x80 && cp <= 0x9F), "C1 control U+%04X at %zu", (unsigned)cp, i);
		FUZZ_CHECK(!((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
		             cp == 0x200E || cp == 0x200F || cp == 0x061C),
		           "bidi control U+%04X at %zu", (unsigned)cp, i);
		i += n;
	}
}

/* Sanitises src into a heap buffer of exactly dst_size bytes (so ASan sees any overrun). */
static char *sanitize_into(size_t dst_size, const char *src, size_t src_len, size_t *len)
{
	char *dst = malloc(dst_size > 0 ? dst_size : 1);

	if (dst == NULL)
		abort();
	memset(dst, 'Z', dst_size > 0 ? dst_size : 1);
	*len = np_sanitize(dst, dst_size, src, src_len);
	if (dst_size == 0) {
		FUZZ_CHECK(*len == 0 && dst[0] == 'Z', "wrote into a zero-sized dst");
		free(dst);
		return NULL;
	}
	FUZZ_CHECK(*len < dst_size, "length %zu for dst_size %zu", *len, dst_size);
	FUZZ_CHECK(dst[*len] == '\0' && strlen(dst) == *len, "not NUL-terminated at its length");
	check_clean(dst, *len);
	return dst;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *src = (const char *)data;
	/* Every output is at most as long as the input: '?' replaces one byte, controls go. */
	size_t full_len = 0;
	char *full = sanitize_into(size + 1, src, size, &full_len);
	static const size_t sizes[] = { 0, 1, 2, 3, 4, 5, 7, 8, 13, 33, 129, 201 };
	char *again;
	size_t again_len = 0;

	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		size_t len = 0;
		char *cut = sanitize_into(sizes[i], src, size, &len);

		if (cut == NULL)
			continue;
		/* A smaller dst cuts the same output short, at a character boundary. */
		FUZZ_CHECK(len <= full_len && memcmp(cut, full, len) == 0,
		           "output for dst_size %zu is not a prefix of the full output", sizes[i]);
		/* ... and only when the next character (at most 4 bytes) does not fit. */
		FUZZ_CHECK(len == full_len || sizes[i] - 1 - len < 4,
		           "dst_size %zu left %zu bytes unused", sizes[i], sizes[i] - 1 - len);
		free(cut);
	}
	/* What is clean stays as it is. */
	again = sanitize_into(full_len + 1, full, full_len, &again_len);
	FUZZ_CHECK(again_len == full_len && memcmp(again, full, full_len) == 0,
	           "sanitising twice changed the text");
	/* The NUL-terminated entry point: the input up to its first NUL. */
	{
		char *cstr = fuzz_cstr(data, size);
		char *via_str = malloc(size + 1);
		size_t str_len;

		if (via_str == NULL)
			abort();
		str_len = np_sanitize_str(via_str, size + 1, cstr);
		check_clean(via_str, str_len);
		FUZZ_CHECK(str_len == strlen(via_str), "np_sanitize_str length");
		free(via_str);
		free(cstr);
	}
	free(again);
	free(full);
	return 0;
}
