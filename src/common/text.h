/* SPDX-License-Identifier: BSD-2-Clause */
/* Comparing words the way the settings and the identity map do: ASCII case aside. */
#ifndef NP_TEXT_H
#define NP_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* ASCII-only case-insensitive equality of two whole strings (locale-independent). */
bool np_ascii_case_equal(const char *a, size_t a_len, const char *b, size_t b_len);

/* Whether word is one of the comma-separated entries in list (ASCII case-insensitive). */
bool np_list_contains(const char *list, const char *word);

#endif
