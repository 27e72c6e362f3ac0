#include "validate.h"

#include <string.h>

static bool is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_graph(char c)
{
	return c > 0x20 && c < 0x7F;
}

static bool all_chars(const char *s, size_t len, bool (*ok)(char))
{
	for (size_t i = 0; i < len; i++)
		if (!ok(s[i]))
			return false;
	return true;
}

static bool is_token_char(char c)
{
	return is_alnum(c) || c == '-' || c == '_' || c == '.';
}

static bool is_id_char(char c)
{
	return is_alnum(c) || c == '-' || c == '_';
}

bool np_valid_code(const char *s, size_t len)
{
	return s != NULL && len >= 4 && len <= NP_CODE_MAX && all_chars(s, len, is_alnum);
}

bool np_valid_https_url(const char *s, size_t len)
{
	static const char scheme[] = "https://";
	const size_t scheme_len = sizeof scheme - 1;

	if (s == NULL || len <= scheme_len || len > NP_URL_MAX)
		return false;
	if (memcmp(s, scheme, scheme_len) != 0)
		return false;
	/* A host must follow the scheme. */
	if (s[scheme_len] == '/' || s[scheme_len] == '?' || s[scheme_len] == '#')
		return false;
	return all_chars(s, len, is_graph);
}

bool np_valid_token(const char *s, size_t len)
{
	return s != NULL && len >= 16 && len <= NP_TOKEN_MAX && all_chars(s, len, is_token_char);
}

bool np_valid_user_id(const char *s, size_t len)
{
	return s != NULL && len >= 1 && len <= NP_USER_ID_MAX && all_chars(s, len, is_id_char);
}

bool np_valid_email(const char *s, size_t len)
{
	const char *at;

	if (s == NULL || len < 3 || len > NP_EMAIL_MAX || !all_chars(s, len, is_graph))
		return false;
	at = memchr(s, '@', len);
	if (at == NULL || at == s || at == s + len - 1)
		return false;
	return memchr(at + 1, '@', len - (size_t)(at - s) - 1) == NULL;
}

bool np_valid_status(const char *s, size_t len)
{
	return s != NULL && len >= 1 && len <= NP_STATUS_MAX && all_chars(s, len, is_id_char);
}

bool np_valid_api_key(const char *s, size_t len)
{
	return s != NULL && len > 4 && len <= NP_API_KEY_MAX && memcmp(s, "npk_", 4) == 0 &&
	       all_chars(s, len, is_graph);
}

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
