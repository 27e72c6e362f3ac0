/* SPDX-License-Identifier: BSD-2-Clause */
#include "common/usermap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/account.h"
#include "common/config.h"
#include "common/safe_file.h"
#include "common/text.h"
#include "common/validate.h"

#define USERMAP_RULES_MAX 100000

static bool is_account_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '-' || c == '$';
}

static bool valid_account(const char *s, size_t len)
{
	if (len == 0 || len > NP_ACCOUNT_MAX || s[0] == '-')
		return false;
	for (size_t i = 0; i < len; i++)
		if (!is_account_char(s[i]))
			return false;
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Splits one line into identity and account fields, NUL-terminating them in place. */
static int parse_rule(char *line, struct np_usermap_rule *rule, bool *empty)
{
	char *fields[3] = { NULL, NULL, NULL };
	size_t lens[3] = { 0, 0, 0 };
	int n = 0;
	char *p = line;

	*empty = false;
	while (*p != '\0' && *p != '#') {
		if (is_blank(*p)) {
			*p++ = '\0';
			continue;
		}
		if (n == 3)
			return -1;
		fields[n] = p;
		while (*p != '\0' && !is_blank(*p))
			p++;
		lens[n] = (size_t)(p - fields[n]);
		n++;
	}
	*p = '\0';
	if (n == 0) {
		*empty = true;
		return 0;
	}
	if (n != 2 || !valid_account(fields[1], lens[1]))
		return -1;
	rule->is_email = memchr(fields[0], '@', lens[0]) != NULL;
	/* Ids must look like ids: a typo such as "don don" must not pass as a rule. */
	if (rule->is_email ? !np_valid_email(fields[0], lens[0])
	                   : (lens[0] <= 4 || memcmp(fields[0], "usr_", 4) != 0 ||
	                      !np_valid_user_id(fields[0], lens[0])))
		return -1;
	rule->identity = fields[0];
	rule->identity_len = lens[0];
	rule->account = fields[1];
	return 0;
}

int np_usermap_parse(struct np_usermap *map, const char *text, size_t len, const char *origin,
                     char *err, size_t err_size)
{
	size_t capacity = 1;
	unsigned line_no = 0;
	char *line;
	int rc = -1;

	memset(map, 0, sizeof *map);
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, err_size, "%s: contains a NUL byte", origin);
		return -1;
	}
	for (size_t i = 0; i < len; i++)
		capacity += text[i] == '\n';
	if (capacity > USERMAP_RULES_MAX) {
		snprintf(err, err_size, "%s: more than %d lines", origin, USERMAP_RULES_MAX);
		return -1;
	}
	map->text = malloc(len + 1);
	map->rules = calloc(capacity, sizeof *map->rules);
	if (map->text == NULL || map->rules == NULL) {
		snprintf(err, err_size, "%s: out of memory", origin);
		goto out;
	}
	memcpy(map->text, text, len);
	map->text[len] = '\0';
	line = map->text;
	while (line != NULL) {
		char *newline = strchr(line, '\n');
		bool empty = false;

		if (newline != NULL)
			*newline = '\0';
		line_no++;
		for (char *c = line; *c != '\0'; c++) {
			if ((unsigned char)*c < 0x20 && !is_blank(*c)) {
				snprintf(err, err_size, "%s:%u: control character", origin, line_no);
				goto out;
			}
		}
		if (parse_rule(line, &map->rules[map->n_rules], &empty) != 0) {
			snprintf(err, err_size,
			         "%s:%u: expected \"IDENTITY ACCOUNT\" (IDENTITY a usr_ id or an "
			         "e-mail address)",
			         origin, line_no);
			goto out;
		}
		if (!empty)
			map->n_rules++;
		line = newline != NULL ? newline + 1 : NULL;
	}
	rc = 0;
out:
	if (rc != 0)
		np_usermap_free(map);
	return rc;
}

int np_usermap_load(struct np_usermap *map, const char *path, bool missing_ok, char *err,
                    size_t err_size)
{
	char *text = NULL;
	size_t len = 0;
	enum np_file_status status = np_file_read(path, 0, NP_USERMAP_FILE_MAX, &text, &len, err,
	                                          err_size);
	int rc = -1;

	memset(map, 0, sizeof *map);
	if (status == NP_FILE_MISSING && missing_ok)
		rc = 0;
	else if (status == NP_FILE_OK)
		rc = np_usermap_parse(map, text, len, path, err, err_size);
	free(text);
	return rc;
}

void np_usermap_free(struct np_usermap *map)
{
	free(map->text);
	free(map->rules);
	memset(map, 0, sizeof *map);
}

static bool localpart_allows(const struct np_config *cfg, const char *account,
                             const char *email, size_t email_len)
{
	const char *at = memchr(email, '@', email_len);
	char domain[NP_EMAIL_MAX + 1];
	size_t local_len;

	if (at == NULL)
		return false;
	local_len = (size_t)(at - email);
	if (!valid_account(email, local_len))
		return false;
	snprintf(domain, sizeof domain, "%.*s", (int)(email_len - local_len - 1), at + 1);
	if (!np_list_contains(cfg->allowed_domains, domain) || strlen(account) != local_len)
		return false;
	/*
	 * Mail systems ignore the case of local parts, account names do not: the
	 * local part, lowercased, must equal the account exactly ("Don@" signs in
	 * as "don", never as "Don").
	 */
	for (size_t i = 0; i < local_len; i++) {
		char c = email[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != account[i])
			return false;
	}
	return true;
}

bool np_usermap_allows(const struct np_usermap *map, const struct np_config *cfg,
                       const struct np_account *account, const char *user_id,
                       const char *email, const char **why)
{
	size_t id_len = user_id != NULL ? strlen(user_id) : 0;
	size_t email_len = email != NULL ? strlen(email) : 0;
	bool email_ok = email_len > 0 && np_valid_email(email, email_len);

	*why = "no rule";
	if (account == NULL || account->name == NULL || id_len == 0 ||
	    !np_valid_user_id(user_id, id_len))
		return false;
	for (size_t i = 0; i < map->n_rules; i++) {
		const struct np_usermap_rule *rule = &map->rules[i];

		if (strcmp(rule->account, account->name) != 0)
			continue;
		if (!rule->is_email && rule->identity_len == id_len &&
		    memcmp(rule->identity, user_id, id_len) == 0) {
			*why = "user id rule";
			return true;
		}
		if (rule->is_email && email_ok &&
		    np_ascii_case_equal(rule->identity, rule->identity_len, email, email_len)) {
			*why = "e-mail rule";
			return true;
		}
	}
	if (!cfg->map_email_localpart || !email_ok ||
	    !localpart_allows(cfg, account->name, email, email_len))
		return false;
	/* "Root@example.com" is nobody's licence to be root: only a map line may say so. */
	if (!account->personal) {
		*why = NP_USERMAP_NOT_PERSONAL;
		return false;
	}
	*why = "e-mail local part";
	return true;
}
