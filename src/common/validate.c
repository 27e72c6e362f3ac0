/* SPDX-License-Identifier: BSD-2-Clause */
#include "common/validate.h"

#include <arpa/inet.h>
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

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A dotted quad of decimal numbers 0-255 without leading zeros. */
static bool valid_ipv4(const char *s, size_t len)
{
	size_t parts = 0;
	size_t i = 0;

	while (i <= len && parts < 4) {
		size_t start = i;
		unsigned value = 0;

		while (i < len && is_digit(s[i]) && i - start < 3)
			value = value * 10 + (unsigned)(s[i++] - '0');
		if (i == start || value > 255 || (s[start] == '0' && i - start > 1))
			return false;
		parts++;
		if (i == len)
			break;
		if (s[i++] != '.')
			return false;
	}
	return parts == 4 && i == len;
}

/*
 * Whether a label reads as a number to a browser's host parser (WHATWG URL:
 * decimal, or hex after 0x), which would then take the whole host as an IPv4
 * address however it is written ("2130706433", "0x7f.1").
 */
static bool label_is_number(const char *s, size_t len)
{
	if (len >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return all_chars(s + 2, len - 2, is_hex);
	return len > 0 && all_chars(s, len, is_digit);
}

/* Letters, digits and '-' in labels of 1 to 63, not starting or ending with '-'. */
static bool valid_dns_name(const char *s, size_t len)
{
	size_t start = 0;

	if (len == 0 || len > NP_HOST_MAX)
		return false;
	for (size_t i = 0; i <= len; i++) {
		size_t label;

		if (i < len && s[i] != '.') {
			if (!is_alnum(s[i]) && s[i] != '-')
				return false;
			continue;
		}
		label = i - start;
		if (label == 0 || label > 63 || s[start] == '-' || s[i - 1] == '-')
			return false;
		if (i == len && label_is_number(s + start, label))
			return valid_ipv4(s, len);
		start = i + 1;
	}
	return true;
}

static bool valid_ipv6_literal(const char *s, size_t len)
{
	char inside[64];
	struct in6_addr addr;

	if (len < 4 || len - 2 >= sizeof inside || s[0] != '[' || s[len - 1] != ']')
		return false;
	/* Hex digits, ':' and '.' only: no zone id, nothing inet_pton might forgive. */
	for (size_t i = 1; i < len - 1; i++)
		if (!is_hex(s[i]) && s[i] != ':' && s[i] != '.')
			return false;
	memcpy(inside, s + 1, len - 2);
	inside[len - 2] = '\0';
	return inet_pton(AF_INET6, inside, &addr) == 1;
}

bool np_valid_host(const char *s, size_t len)
{
	if (s == NULL || len == 0)
		return false;
	return s[0] == '[' ? valid_ipv6_literal(s, len) : valid_dns_name(s, len);
}

static bool valid_port(const char *s, size_t len)
{
	unsigned long value = 0;

	if (len == 0 || len > 5 || !all_chars(s, len, is_digit))
		return false;
	for (size_t i = 0; i < len; i++)
		value = value * 10 + (unsigned long)(s[i] - '0');
	return value >= 1 && value <= 65535;
}

size_t np_url_authority(const char *s, size_t len, const char **start)
{
	const char *after;
	size_t n = 0;

	*start = s;
	if (s == NULL)
		return 0;
	after = memmem(s, len, "://", 3);
	if (after != NULL)
		*start = after + 3;
	len -= (size_t)(*start - s);
	while (n < len && strchr("/?#", (*start)[n]) == NULL)
		n++;
	return n;
}

/* The host part of an https:// URL (without the port), or 0 when the URL is not one. */
static size_t https_url_host(const char *s, size_t len, const char **host)
{
	static const char scheme[] = "https://";
	const size_t scheme_len = sizeof scheme - 1;
	const char *colon;
	size_t authority;
	size_t host_len;

	if (s == NULL || len <= scheme_len || len > NP_URL_MAX || memcmp(s, scheme, scheme_len) != 0)
		return 0;
	/* Browsers read '\\' as '/' in an https URL: it could end the host where we do not. */
	if (!all_chars(s, len, is_graph) || memchr(s, '\\', len) != NULL)
		return 0;
	authority = np_url_authority(s, len, host);
	/* The port follows the last ':' outside brackets (an IPv6 literal has its own). */
	colon = memrchr(*host, ':', authority);
	host_len = authority;
	if (colon != NULL && memchr(colon, ']', authority - (size_t)(colon - *host)) == NULL) {
		host_len = (size_t)(colon - *host);
		if (!valid_port(colon + 1, authority - host_len - 1))
			return 0;
	}
	return np_valid_host(*host, host_len) ? host_len : 0;
}

bool np_valid_https_url(const char *s, size_t len)
{
	const char *host;

	return https_url_host(s, len, &host) > 0;
}

bool np_url_host(const char *s, size_t len, char *host, size_t host_size)
{
	const char *start;
	size_t host_len = https_url_host(s, len, &start);

	if (host_len == 0 || host_len >= host_size)
		return false;
	memcpy(host, start, host_len);
	host[host_len] = '\0';
	return true;
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
