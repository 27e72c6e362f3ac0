/* SPDX-License-Identifier: BSD-2-Clause */
#include "common/sanitize.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Length of the UTF-8 sequence at s (1..4) and its code point, or 0 if malformed. */
static size_t utf8_decode(const unsigned char *s, size_t len, uint32_t *cp)
{
	size_t need;
	uint32_t min;
	uint32_t value;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		need = 2;
		min = 0x80;
		value = s[0] & 0x1Fu;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		need = 3;
		min = 0x800;
		value = s[0] & 0x0Fu;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		need = 4;
		min = 0x10000;
		value = s[0] & 0x07u;
	} else {
		return 0;
	}
	if (len < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xC0u) != 0x80u)
			return 0;
		value = (value << 6) | (s[i] & 0x3Fu);
	}
	/* Overlong forms, surrogates and values past U+10FFFF hide characters from checks. */
	if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
		return 0;
	*cp = value;
	return need;
}

/* Inclusive ranges of code points that are removed; sorted, for a binary search. */
static const struct cp_range {
	uint32_t first, last;
} removed[] = {
	{ 0x0000, 0x001F },   /* C0 controls */
	{ 0x007F, 0x009F },   /* DEL and the C1 controls */
	{ 0x00AD, 0x00AD },   /* the rest: format characters (Cf) ... */
	{ 0x0600, 0x0605 },
	{ 0x061C, 0x061C },
	{ 0x06DD, 0x06DD },
	{ 0x070F, 0x070F },
	{ 0x0890, 0x0891 },
	{ 0x08E2, 0x08E2 },
	{ 0x180E, 0x180E },
	{ 0x200B, 0x200F },   /* zero-width characters, LRM, RLM */
	{ 0x2028, 0x2029 },   /* line and paragraph separators */
	{ 0x202A, 0x202E },   /* bidirectional embeddings and overrides */
	{ 0x2060, 0x2064 },
	{ 0x2066, 0x206F },   /* bidirectional isolates, deprecated format characters */
	{ 0xFE00, 0xFE0F },   /* variation selectors */
	{ 0xFEFF, 0xFEFF },
	{ 0xFFF9, 0xFFFB },
	{ 0x110BD, 0x110BD },
	{ 0x110CD, 0x110CD },
	{ 0x13430, 0x1343F },
	{ 0x1BCA0, 0x1BCA3 },
	{ 0x1D173, 0x1D17A },
	{ 0xE0000, 0xE007F }, /* tag characters */
	{ 0xE0100, 0xE01EF }, /* variation selectors supplement */
};

/*
 * Controls act on a terminal; format characters and the rest of the list are
 * invisible and can make a URL, a name or a log line read differently than it is.
 */
static bool is_removed(uint32_t cp)
{
	size_t lo = 0;
	size_t hi = sizeof removed / sizeof removed[0];

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cp < removed[mid].first)
			hi = mid;
		else if (cp > removed[mid].last)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

size_t np_sanitize(char *dst, size_t dst_size, const char *src, size_t src_len)
{
	const unsigned char *in = (const unsigned char *)src;
	size_t out = 0;
	size_t pos = 0;

	if (dst_size == 0)
		return 0;
	while (src != NULL && pos < src_len) {
		uint32_t cp = 0;
		size_t seq = utf8_decode(in + pos, src_len - pos, &cp);

		if (seq == 0) {
			if (out + 1 >= dst_size)
				break;
			dst[out++] = '?';
			pos++;
			continue;
		}
		if (!is_removed(cp)) {
			if (out + seq >= dst_size)
				break;
			memcpy(dst + out, in + pos, seq);
			out += seq;
		}
		pos += seq;
	}
	dst[out] = '\0';
	return out;
}

size_t np_sanitize_str(char *dst, size_t dst_size, const char *src)
{
	return np_sanitize(dst, dst_size, src, src != NULL ? strlen(src) : 0);
}

/* c as it appears between the quotes of a log value; returns its length (1, 2 or 4). */
static size_t log_escape(unsigned char c, char piece[5])
{
	if (c == '"' || c == '\\')
		return (size_t)snprintf(piece, 5, "\\%c", c);
	if (c < 0x20 || c >= 0x7F)
		return (size_t)snprintf(piece, 5, "\\x%02X", c);
	return (size_t)snprintf(piece, 5, "%c", c);
}

size_t np_log_quote(char *dst, size_t dst_size, const char *src)
{
	static const char cut[] = "...\"";
	const unsigned char *text = (const unsigned char *)(src != NULL ? src : "");
	char piece[5];
	size_t need = 2;
	size_t out = 0;

	/* Room for the quotes, one escape, the mark of a cut and the NUL, or nothing at all. */
	if (dst_size < sizeof cut + 5) {
		if (dst_size > 0)
			dst[0] = '\0';
		return 0;
	}
	for (const unsigned char *p = text; *p != '\0'; p++)
		need += log_escape(*p, piece);
	dst[out++] = '"';
	for (const unsigned char *p = text; *p != '\0'; p++) {
		size_t len = log_escape(*p, piece);

		/* Too long as a whole: stop where "..." and the quote still fit. */
		if (need >= dst_size && out + len + sizeof cut - 1 >= dst_size) {
			memcpy(dst + out, cut, sizeof cut);
			return out + sizeof cut - 1;
		}
		memcpy(dst + out, piece, len);
		out += len;
	}
	dst[out++] = '"';
	dst[out] = '\0';
	return out;
}
