#include "sanitize.h"

#include <stdint.h>
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

static int is_control(uint32_t cp)
{
	if (cp < 0x20 || cp == 0x7F)
		return 1;
	if (cp >= 0x80 && cp <= 0x9F)
		return 1;
	/* Bidirectional controls can make a URL or a name read differently than it is. */
	if ((cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
	    cp == 0x200E || cp == 0x200F || cp == 0x061C)
		return 1;
	return 0;
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
		if (!is_control(cp)) {
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
