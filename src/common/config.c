/* SPDX-License-Identifier: BSD-2-Clause */
#include "common/config.h"

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/safe_file.h"
#include "common/text.h"
#include "common/validate.h"

#define CONFIG_LINE_MAX 1024

enum value_kind { KIND_TEXT, KIND_PATH, KIND_BOOL, KIND_UINT, KIND_CHOICE };

typedef bool (*text_check_fn)(const char *value);

struct key_spec {
	const char *name;
	enum value_kind kind;
	size_t offset;
	size_t size;            /* KIND_TEXT / KIND_PATH: destination size */
	text_check_fn check;    /* KIND_TEXT: shape of the value */
	const char *expect;     /* words for the error message */
	unsigned min, max;      /* KIND_UINT */
	const char *const *choices; /* KIND_CHOICE, index stored as int */
	bool flag;              /* may be a bare word among module arguments */
	bool argument_only;     /* a module argument, never a line of the config file */
	bool optional;          /* KIND_TEXT: may be empty, meaning "none" */
	const char *fallback;   /* the built-in default, as a config file spells it; "" none */
	/*
	 * KIND_TEXT: a URL that may carry credentials (user:password@), which
	 * are a secret: they are taken only from a file nobody but root can read.
	 */
	bool credentials;
};

static bool is_printable_no_space(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7F)
			return false;
	return true;
}

static bool in_set(char c, const char *extra)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr(extra, c) != NULL);
}

static bool check_api_url(const char *v)
{
	static const char scheme[] = "https://";

	return strncmp(v, scheme, sizeof scheme - 1) == 0 && in_set(v[sizeof scheme - 1], "[") &&
	       is_printable_no_space(v) && strpbrk(v, "?#@\\\"'") == NULL;
}

static bool check_proxy(const char *v)
{
	return (strncmp(v, "http://", 7) == 0 || strncmp(v, "https://", 8) == 0) &&
	       is_printable_no_space(v) && strpbrk(v, "\\\"'") == NULL;
}

static bool check_pins(const char *v)
{
	static const char prefix[] = "sha256//";
	const size_t prefix_len = sizeof prefix - 1;
	const size_t b64_len = 44; /* base64 of a 32-byte digest, with one '=' */

	for (;;) {
		if (strncmp(v, prefix, prefix_len) != 0)
			return false;
		v += prefix_len;
		for (size_t i = 0; i < b64_len - 1; i++)
			if (!in_set(v[i], "+/"))
				return false;
		if (v[b64_len - 1] != '=')
			return false;
		v += b64_len;
		if (*v == '\0')
			return true;
		if (*v != ';')
			return false;
		v++;
	}
}

static bool check_word_list(const char *v, const char *extra)
{
	bool item_has_chars = false;

	if (*v == '\0')
		return true;
	for (; *v != '\0'; v++) {
		if (*v == ',') {
			if (!item_has_chars)
				return false;
			item_has_chars = false;
		} else if (in_set(*v, extra)) {
			item_has_chars = true;
		} else {
			return false;
		}
	}
	return item_has_chars;
}

static bool check_domains(const char *v)
{
	return check_word_list(v, ".-");
}

/* Comma-separated hosts, each as np_valid_host() has it. */
static bool check_hosts(const char *v)
{
	for (;;) {
		size_t len = strcspn(v, ",");

		if (!np_valid_host(v, len))
			return false;
		if (v[len] == '\0')
			return true;
		v += len + 1;
	}
}

static bool check_services(const char *v)
{
	return check_word_list(v, "._-+");
}

static bool check_intent(const char *v)
{
	if (*v == '\0')
		return false;
	for (; *v != '\0'; v++)
		if (!in_set(*v, "._-"))
			return false;
	return true;
}

static bool check_user_name(const char *v)
{
	if (*v == '\0' || *v == '-' || strlen(v) > 32)
		return false;
	for (; *v != '\0'; v++)
		if (!in_set(*v, "._-"))
			return false;
	return true;
}

static const char *const wait_choices[] = { "auto", "prompt", "poll", NULL };
static const char *const ssh_info_choices[] = { "auto", "immediate", "held", NULL };
static const char *const scope_choices[] = { "session", "user", "key", NULL };
static const char *const log_choices[] = { "auto", "journal", "syslog", NULL };

#define TEXT(key, field, fn, what, may_be_empty, fallback) \
	{ key, KIND_TEXT, offsetof(struct np_config, field), \
	  sizeof(((struct np_config *)0)->field), fn, what, 0, 0, NULL, false, false, may_be_empty, \
	  fallback, false }
#define URL_WITH_CREDENTIALS(key, field, fn, what) \
	{ key, KIND_TEXT, offsetof(struct np_config, field), \
	  sizeof(((struct np_config *)0)->field), fn, what, 0, 0, NULL, false, false, true, "", true }
#define PATH(key, field, fallback) \
	{ key, KIND_PATH, offsetof(struct np_config, field), \
	  sizeof(((struct np_config *)0)->field), NULL, "an absolute path", 0, 0, NULL, false, \
	  false, false, fallback, false }
#define BOOL(key, field, is_flag, fallback) \
	{ key, KIND_BOOL, offsetof(struct np_config, field), 0, NULL, "yes or no", 0, 0, NULL, \
	  is_flag, false, false, fallback, false }
#define UINT(key, field, lo, hi, fallback) \
	{ key, KIND_UINT, offsetof(struct np_config, field), 0, NULL, "a whole number", lo, hi, \
	  NULL, false, false, false, fallback, false }
#define CHOICE(key, field, list, what, fallback) \
	{ key, KIND_CHOICE, offsetof(struct np_config, field), 0, NULL, what, 0, 0, list, false, \
	  false, false, fallback, false }
/* A text setting that only a module argument may set: it changes what that one line does. */
#define ARGUMENT(key, field, fn, what) \
	{ key, KIND_TEXT, offsetof(struct np_config, field), \
	  sizeof(((struct np_config *)0)->field), fn, what, 0, 0, NULL, false, true, false, "", \
	  false }

/*
 * Every setting: its name, kind, place in struct np_config, what it takes and
 * its built-in default.  A setting that the helper needs is also a field of
 * the protocol's config message of the same name (protocol.c), which
 * np_config_value() fills.
 */
static const struct key_spec keys[] = {
	TEXT("api_url", api_url, check_api_url, "an https:// URL without query, fragment or user",
	     false, "https://api.nextpay.world/v1"),
	PATH("ca_file", ca_file, ""),
	TEXT("pinned_pubkey", pinned_pubkey, check_pins, "sha256//BASE64[;sha256//BASE64...]", true,
	     ""),
	URL_WITH_CREDENTIALS("proxy", proxy, check_proxy, "an http:// or https:// proxy URL"),
	UINT("connect_timeout", connect_timeout, 1, 60, "5"),
	UINT("request_timeout", request_timeout, 1, 300, "10"),
	UINT("poll_interval", poll_interval, 1, 60, "3"),
	UINT("login_timeout", login_timeout, 10, 3600, "110"),
	CHOICE("wait", wait, wait_choices, "auto, prompt or poll", "auto"),
	CHOICE("ssh_info", ssh_info, ssh_info_choices, "auto, immediate or held", "auto"),
	TEXT("intent", intent, check_intent, "letters, digits, '.', '_' or '-'", false, "login"),
	TEXT("verification_hosts", verification_hosts, check_hosts,
	     "comma-separated host names or IP addresses", true, ""),
	PATH("usermap", usermap, NP_DEFAULT_USERMAP),
	BOOL("map_email_localpart", map_email_localpart, false, "no"),
	TEXT("allowed_domains", allowed_domains, check_domains, "comma-separated domain names", true,
	     ""),
	BOOL("cache", cache, false, "yes"),
	PATH("cache_dir", cache_dir, "/var/lib/pam_nextpay"),
	PATH("cache_key", cache_key, NP_DEFAULT_CACHE_KEY),
	UINT("cache_ttl", cache_ttl, 1, 86400, "900"),
	CHOICE("cache_scope", cache_scope, scope_choices, "session, user or key", "session"),
	/* At most 12 hours: a revoked session is honoured that long while NextPay is cut off. */
	UINT("offline_grace", offline_grace, 0, NP_OFFLINE_GRACE_MAX, "0"),
	CHOICE("log", log, log_choices, "auto, journal or syslog", "auto"),
	BOOL("api_key", api_key, false, "no"),
	BOOL("use_first_pass", use_first_pass, true, "no"),
	BOOL("try_first_pass", try_first_pass, true, "no"),
	BOOL("qr", qr, false, "no"),
	TEXT("skip_services", skip_services, check_services, "comma-separated PAM service names",
	     true, ""),
	PATH("helper", helper, NP_DEFAULT_HELPER),
	TEXT("helper_user", helper_user, check_user_name, "a user name", false, "nobody"),
	BOOL("debug", debug, true, "no"),
	ARGUMENT("breakglass_group", breakglass_group, check_user_name, "a group name"),
};

#define N_KEYS (sizeof keys / sizeof keys[0])

/* Which keys one source (the file, or the arguments) has set, to refuse repeats. */
struct seen_keys {
	bool key[N_KEYS];
};

/* One setting's value in cfg, spelt as in a config file. */
static void format_value(const struct np_config *cfg, const struct key_spec *spec, char *out,
                         size_t out_size)
{
	const char *field = (const char *)cfg + spec->offset;

	switch (spec->kind) {
	case KIND_TEXT:
	case KIND_PATH:
		snprintf(out, out_size, "%s", field);
		return;
	case KIND_BOOL:
		snprintf(out, out_size, "%s", *(const bool *)(const void *)field ? "yes" : "no");
		return;
	case KIND_UINT:
		snprintf(out, out_size, "%u", *(const unsigned *)(const void *)field);
		return;
	case KIND_CHOICE:
		snprintf(out, out_size, "%s", spec->choices[*(const int *)(const void *)field]);
		return;
	}
	snprintf(out, out_size, "?");
}

void np_config_each_default(np_config_default_fn *fn, void *ctx)
{
	for (size_t i = 0; i < N_KEYS; i++)
		fn(keys[i].name, keys[i].fallback, ctx);
}

static const struct key_spec *find_key(const char *name, size_t name_len, size_t *index);

int np_config_value(const struct np_config *cfg, const char *key, char *out, size_t out_size)
{
	size_t index = 0;
	const struct key_spec *spec = find_key(key, strlen(key), &index);

	if (spec == NULL)
		return -1;
	format_value(cfg, spec, out, out_size);
	return 0;
}

static int parse_uint(const char *value, unsigned min, unsigned max, unsigned *out)
{
	unsigned long n = 0;

	if (*value == '\0' || strlen(value) > 9)
		return -1;
	for (const char *p = value; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		n = n * 10 + (unsigned long)(*p - '0');
	}
	if (n < min || n > max)
		return -1;
	*out = (unsigned)n;
	return 0;
}

static int parse_bool(const char *value, bool *out)
{
	if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0) {
		*out = true;
		return 0;
	}
	if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0) {
		*out = false;
		return 0;
	}
	return -1;
}

static int apply(struct np_config *cfg, const struct key_spec *spec, const char *value)
{
	char *field = (char *)cfg + spec->offset;
	size_t len = strlen(value);

	switch (spec->kind) {
	case KIND_TEXT:
		/* An empty value means "none", which only optional settings allow. */
		if (len >= spec->size || (len == 0 && !spec->optional) ||
		    (len > 0 && !spec->check(value)))
			return -1;
		memcpy(field, value, len + 1);
		return 0;
	case KIND_PATH:
		if (len >= spec->size || value[0] != '/' || !is_printable_no_space(value))
			return -1;
		memcpy(field, value, len + 1);
		return 0;
	case KIND_BOOL:
		return parse_bool(value, (bool *)(void *)field);
	case KIND_UINT:
		return parse_uint(value, spec->min, spec->max, (unsigned *)(void *)field);
	case KIND_CHOICE:
		for (int i = 0; spec->choices[i] != NULL; i++) {
			if (strcmp(spec->choices[i], value) == 0) {
				*(int *)(void *)field = i;
				return 0;
			}
		}
		return -1;
	}
	return -1;
}

void np_config_defaults(struct np_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->config_path, sizeof cfg->config_path, "%s", NP_DEFAULT_CONFIG);
	/* The table's own values: test_config holds every one of them to its check. */
	for (size_t i = 0; i < N_KEYS; i++)
		if (keys[i].fallback[0] != '\0')
			(void)apply(cfg, &keys[i], keys[i].fallback);
}

static const struct key_spec *find_key(const char *name, size_t name_len, size_t *index)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		if (strlen(keys[i].name) == name_len && memcmp(keys[i].name, name, name_len) == 0) {
			*index = i;
			return &keys[i];
		}
	}
	return NULL;
}

/* Sets one key from a source, refusing unknown keys, repeats and bad values. */
static int set_key(struct np_config *cfg, struct seen_keys *seen, const char *name,
                   size_t name_len, const char *value, const char *where, char *err,
                   size_t err_size)
{
	size_t index = 0;
	const struct key_spec *spec = find_key(name, name_len, &index);

	/*
	 * Never the text of a line: a file that is not a configuration (a key,
	 * a password pasted by mistake) must not reach a log or a terminal.
	 */
	if (spec == NULL) {
		snprintf(err, err_size, "%s: unknown setting", where);
		return -1;
	}
	if (seen->key[index]) {
		snprintf(err, err_size, "%s: \"%s\" is set twice", where, spec->name);
		return -1;
	}
	seen->key[index] = true;
	if (apply(cfg, spec, value) != 0) {
		if (spec->kind == KIND_UINT)
			snprintf(err, err_size,
			         "%s: bad value for \"%s\" (expected a whole number from %u to %u)",
			         where, spec->name, spec->min, spec->max);
		else
			snprintf(err, err_size, "%s: bad value for \"%s\" (expected %s)", where,
			         spec->name, spec->expect);
		return -1;
	}
	return 0;
}

/*
 * config= names the file itself; a key that changes what one PAM line does
 * (breakglass_group turns it into a gate) would change every line that reads
 * the file.
 */
bool np_config_argument_only(const char *key)
{
	size_t index = 0;
	const struct key_spec *spec = find_key(key, strlen(key), &index);

	return strcmp(key, "config") == 0 || (spec != NULL && spec->argument_only);
}

static char *trim(char *s)
{
	char *end;

	while (*s == ' ' || *s == '\t')
		s++;
	end = s + strlen(s);
	while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
		*--end = '\0';
	return s;
}

static int parse_line(struct np_config *cfg, struct seen_keys *seen, char *line,
                      const char *where, char *err, size_t err_size)
{
	char *key;
	char *value;
	char *eq;

	for (char *p = line; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 && *p != '\t' && *p != '\r') {
			snprintf(err, err_size, "%s: control character", where);
			return -1;
		}
		/* '#' after white space starts a comment; inside a value it is literal. */
		if (*p == '#' && (p == line || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			break;
		}
	}
	key = trim(line);
	if (*key == '\0')
		return 0;
	eq = strchr(key, '=');
	if (eq == NULL) {
		snprintf(err, err_size, "%s: expected \"key = value\"", where);
		return -1;
	}
	*eq = '\0';
	value = trim(eq + 1);
	key = trim(key);
	if (np_config_argument_only(key)) {
		snprintf(err, err_size, "%s: \"%s\" is only a module argument", where, key);
		return -1;
	}
	return set_key(cfg, seen, key, strlen(key), value, where, err, err_size);
}

int np_config_parse_text(struct np_config *cfg, const char *text, size_t len,
                         const char *origin, char *err, size_t err_size)
{
	struct seen_keys seen = { { false } };
	size_t pos = 0;
	unsigned line_no = 0;

	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, err_size, "%s: contains a NUL byte", origin);
		return -1;
	}
	while (pos < len) {
		const char *start = text + pos;
		const char *newline = memchr(start, '\n', len - pos);
		size_t line_len = newline != NULL ? (size_t)(newline - start) : len - pos;
		char line[CONFIG_LINE_MAX + 1];
		char where[NP_CONFIG_PATH_MAX + 32];

		line_no++;
		snprintf(where, sizeof where, "%s:%u", origin, line_no);
		if (line_len > CONFIG_LINE_MAX) {
			snprintf(err, err_size, "%s: line longer than %d bytes", where, CONFIG_LINE_MAX);
			return -1;
		}
		memcpy(line, start, line_len);
		line[line_len] = '\0';
		if (parse_line(cfg, &seen, line, where, err, err_size) != 0)
			return -1;
		pos += line_len + (newline != NULL ? 1 : 0);
	}
	return 0;
}

/* A URL with a user part: "http://user:password@host". */
static bool has_credentials(const char *url)
{
	return strchr(url, '@') != NULL;
}

/* where names the argument ("module argument 2"), as set_key() names a line. */
static int parse_arg(struct np_config *cfg, struct seen_keys *seen, const char *arg,
                     const char *where, char *err, size_t err_size)
{
	const char *eq = strchr(arg, '=');
	size_t index = 0;
	const struct key_spec *spec;

	if (eq == NULL) {
		spec = find_key(arg, strlen(arg), &index);
		if (spec == NULL) {
			snprintf(err, err_size, "%s: expected key=value", where);
			return -1;
		}
		if (!spec->flag) {
			snprintf(err, err_size, "%s: expected %s=VALUE", where, spec->name);
			return -1;
		}
		return set_key(cfg, seen, arg, strlen(arg), "yes", where, err, err_size);
	}
	spec = find_key(arg, (size_t)(eq - arg), &index);
	if (spec != NULL && spec->credentials && has_credentials(eq + 1)) {
		snprintf(err, err_size, "%s: \"%s\" holds credentials (user:password@), which a "
		         "module argument would show every local user: set it in the configuration "
		         "file, readable by root only (mode 0600, or 0640 with group root)", where,
		         spec->name);
		return -1;
	}
	return set_key(cfg, seen, arg, (size_t)(eq - arg), eq + 1, where, err, err_size);
}

int np_config_parse_arg(struct np_config *cfg, const char *arg, char *err, size_t err_size)
{
	struct seen_keys seen = { { false } };

	return parse_arg(cfg, &seen, arg, "module arguments", err, err_size);
}

bool np_config_allows_verification_host(const struct np_config *cfg, const char *host)
{
	return cfg->verification_hosts[0] == '\0' || np_list_contains(cfg->verification_hosts, host);
}

int np_config_finish(struct np_config *cfg, char *err, size_t err_size)
{
	size_t len = strlen(cfg->api_url);

	while (len > strlen("https://x") && cfg->api_url[len - 1] == '/')
		cfg->api_url[--len] = '\0';
	if (cfg->map_email_localpart && cfg->allowed_domains[0] == '\0') {
		snprintf(err, err_size, "map_email_localpart = yes needs allowed_domains");
		return -1;
	}
	if ((cfg->use_first_pass || cfg->try_first_pass) && !cfg->api_key) {
		snprintf(err, err_size, "use_first_pass/try_first_pass need api_key = yes");
		return -1;
	}
	if (cfg->use_first_pass && cfg->try_first_pass) {
		snprintf(err, err_size, "use_first_pass and try_first_pass are exclusive");
		return -1;
	}
#ifndef NP_HAVE_QRENCODE
	if (cfg->qr) {
		snprintf(err, err_size, "qr = yes: this build has no QR code support (libqrencode)");
		return -1;
	}
#endif
	return 0;
}

/* Credentials in the file are a secret only while nobody but root can read it. */
static int check_credentials(const struct np_config *cfg, const struct stat *st, char *err,
                             size_t err_size)
{
	for (size_t i = 0; i < N_KEYS; i++) {
		if (!keys[i].credentials || !has_credentials((const char *)cfg + keys[i].offset) ||
		    np_file_private(st))
			continue;
		snprintf(err, err_size, "%s: \"%s\" holds credentials (user:password@), but others "
		         "can read the file (mode %04o, gid %lu): make it readable by root only "
		         "(chmod 0600 %s, or 0640 with group root)", cfg->config_path, keys[i].name,
		         (unsigned)(st->st_mode & 07777), (unsigned long)st->st_gid, cfg->config_path);
		return -1;
	}
	return 0;
}

static int load_file(struct np_config *cfg, bool explicit_path, char *err, size_t err_size)
{
	char *text = NULL;
	size_t len = 0;
	struct stat st;
	enum np_file_status status = np_file_read_stat(cfg->config_path, 0, NP_CONFIG_FILE_MAX,
	                                               &text, &len, &st, err, err_size);
	int rc = -1;

	if (status == NP_FILE_MISSING && !explicit_path)
		rc = 0;
	else if (status == NP_FILE_OK &&
	         np_config_parse_text(cfg, text, len, cfg->config_path, err, err_size) == 0)
		rc = check_credentials(cfg, &st, err, err_size);
	/* It may hold credentials. */
	if (text != NULL)
		sodium_memzero(text, len);
	free(text);
	return rc;
}

int np_config_load(struct np_config *cfg, int argc, const char **argv, char *err,
                   size_t err_size)
{
	struct seen_keys seen = { { false } };
	bool explicit_path = false;

	np_config_defaults(cfg);
	for (int i = 0; i < argc; i++) {
		if (argv[i] == NULL || strncmp(argv[i], "config=", 7) != 0)
			continue;
		if (explicit_path || argv[i][7] != '/' ||
		    strlen(argv[i] + 7) >= sizeof cfg->config_path) {
			snprintf(err, err_size, "module argument config=: expected one absolute path");
			return -1;
		}
		snprintf(cfg->config_path, sizeof cfg->config_path, "%s", argv[i] + 7);
		explicit_path = true;
	}
	if (load_file(cfg, explicit_path, err, err_size) != 0)
		return -1;
	for (int i = 0; i < argc; i++) {
		char where[32];

		if (argv[i] == NULL || strncmp(argv[i], "config=", 7) == 0)
			continue;
		snprintf(where, sizeof where, "module argument %d", i + 1);
		if (parse_arg(cfg, &seen, argv[i], where, err, err_size) != 0)
			return -1;
	}
	return np_config_finish(cfg, err, err_size);
}
