/* SPDX-License-Identifier: BSD-2-Clause */
#include "common/text.h"

#include <string.h>

static char ascii_lower(char c)
{
	/* NOLINTNEXTLINE(bugprone-narrowing-conversions): 'a'..'z' or c itself */
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

bool np_ascii_case_equal(const char *a, size_t a_len, const char *b, size_t b_len)
{
	if (a_len != b_len)
		return false;
	for (size_t i = 0; i < a_len; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return true;
}

bool np_list_contains(const char *list, const char *word)
{
	size_t word_len = strlen(word);

	while (*list != '\0') {
		const char *comma = strchr(list, ',');
		size_t item_len = comma != NULL ? (size_t)(comma - list) : strlen(list);

		if (np_ascii_case_equal(list, item_len, word, word_len))
			return true;
		if (comma == NULL)
			break;
		list = comma + 1;
	}
	return false;
}
