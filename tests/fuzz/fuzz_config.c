/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer: the settings parser.  The input is applied as a config file
 * (np_config_parse_text), and again line by line as module arguments
 * (np_config_parse_arg); np_config_finish follows each.  Whatever happens,
 * every field must still hold a value its key allows: a refused setting may
 * leave earlier ones applied, never a half-written or out-of-range one.
 */
#include "common/config.h"
#include "common/text.h"
#include "fuzz_common.h"

static void check_text(const char *what, const char *s, size_t size)
{
	FUZZ_CHECK(fuzz_terminated(s, size), "%s unterminated", what);
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
		FUZZ_CHECK(*p >= 0x20 && *p < 0x7F, "%s holds byte 0x%02x", what, *p);
}

static void check_path(const char *what, const char *s, size_t size)
{
	check_text(what, s, size);
	FUZZ_CHECK(s[0] == '/' && strchr(s, ' ') == NULL, "%s is not an absolute path: %s", what,
	           s);
}

static void check_config(const struct np_config *c)
{
	check_text("api_url", c->api_url, sizeof c->api_url);
	FUZZ_CHECK(strncmp(c->api_url, "https://", 8) == 0 && strpbrk(c->api_url, "?#@ ") == NULL,
	           "api_url %s", c->api_url);
	check_path("ca_file", c->ca_file[0] != '\0' ? c->ca_file : "/", sizeof c->ca_file);
	check_text("pinned_pubkey", c->pinned_pubkey, sizeof c->pinned_pubkey);
	FUZZ_CHECK(c->pinned_pubkey[0] == '\0' || strncmp(c->pinned_pubkey, "sha256//", 8) == 0,
	           "pinned_pubkey %s", c->pinned_pubkey);
	check_text("proxy", c->proxy, sizeof c->proxy);
	FUZZ_CHECK(c->connect_timeout >= 1 && c->connect_timeout <= 60, "connect_timeout %u",
	           c->connect_timeout);
	FUZZ_CHECK(c->request_timeout >= 1 && c->request_timeout <= 300, "request_timeout %u",
	           c->request_timeout);
	FUZZ_CHECK(c->poll_interval >= 1 && c->poll_interval <= 60, "poll_interval %u",
	           c->poll_interval);
	FUZZ_CHECK(c->login_timeout >= 10 && c->login_timeout <= 3600, "login_timeout %u",
	           c->login_timeout);
	FUZZ_CHECK(c->cache_ttl >= 1 && c->cache_ttl <= 86400, "cache_ttl %u", c->cache_ttl);
	FUZZ_CHECK(c->wait == NP_WAIT_AUTO || c->wait == NP_WAIT_PROMPT || c->wait == NP_WAIT_POLL,
	           "wait %d", (int)c->wait);
	FUZZ_CHECK(c->ssh_info == NP_SSH_INFO_AUTO || c->ssh_info == NP_SSH_INFO_IMMEDIATE ||
	                   c->ssh_info == NP_SSH_INFO_HELD,
	           "ssh_info %d", (int)c->ssh_info);
	FUZZ_CHECK(c->cache_scope == NP_SCOPE_SESSION || c->cache_scope == NP_SCOPE_USER ||
		           c->cache_scope == NP_SCOPE_KEY,
	           "cache_scope %d", (int)c->cache_scope);
	check_text("intent", c->intent, sizeof c->intent);
	FUZZ_CHECK(c->intent[0] != '\0', "empty intent");
	check_path("usermap", c->usermap, sizeof c->usermap);
	check_text("allowed_domains", c->allowed_domains, sizeof c->allowed_domains);
	check_path("cache_dir", c->cache_dir, sizeof c->cache_dir);
	check_path("cache_key", c->cache_key, sizeof c->cache_key);
	check_text("skip_services", c->skip_services, sizeof c->skip_services);
	check_path("helper", c->helper, sizeof c->helper);
	check_text("helper_user", c->helper_user, sizeof c->helper_user);
	FUZZ_CHECK(c->helper_user[0] != '\0' && c->helper_user[0] != '-', "helper_user %s",
	           c->helper_user);
	/* Lists are read back by np_list_contains: exercise it on what was stored. */
	(void)np_list_contains(c->skip_services, "sshd");
	(void)np_list_contains(c->allowed_domains, "NextFinancial.io");
}

static void finish(struct np_config *cfg)
{
	char err[256] = "";

	if (np_config_finish(cfg, err, sizeof err) != 0)
		FUZZ_CHECK(err[0] != '\0' && fuzz_terminated(err, sizeof err), "no reason given");
	else
		FUZZ_CHECK(!(cfg->use_first_pass && cfg->try_first_pass) &&
		           !(cfg->map_email_localpart && cfg->allowed_domains[0] == '\0'),
		           "finish accepted exclusive settings");
	check_config(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct np_config cfg;
	char err[256] = "";
	char *text = fuzz_cstr(data, size);
	char *line;

	np_config_defaults(&cfg);
	check_config(&cfg);
	if (np_config_parse_text(&cfg, text, size, "/etc/security/fuzz.conf", err, sizeof err) != 0)
		FUZZ_CHECK(err[0] != '\0' && fuzz_terminated(err, sizeof err), "no reason given");
	finish(&cfg);

	/* The same lines as module arguments (a NUL ends an argument early, as in argv). */
	np_config_defaults(&cfg);
	line = text;
	while (line != NULL && line <= text + size) {
		char *newline = memchr(line, '\n', (size_t)(text + size - line));

		if (newline != NULL)
			*newline = '\0';
		err[0] = '\0';
		if (np_config_parse_arg(&cfg, line, err, sizeof err) != 0)
			FUZZ_CHECK(err[0] != '\0' && fuzz_terminated(err, sizeof err), "no reason given");
		check_config(&cfg);
		line = newline != NULL ? newline + 1 : NULL;
	}
	finish(&cfg);
	free(text);
	return 0;
}
