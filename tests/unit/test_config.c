/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of src/common/config.c: defaults, file and argument parsing, load, finish. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/config.h"
#include "common/text.h"
#include "unit_tmp.h"

#define PIN_A "sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
#define PIN_B "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

static char err[1024];

/* Parses text as a config file named "test.conf" on top of the defaults. */
static int parse(struct np_config *cfg, const char *text)
{
	np_config_defaults(cfg);
	err[0] = '\0';
	return np_config_parse_text(cfg, text, strlen(text), "test.conf", err, sizeof err);
}

/* Applies one module argument on top of the defaults. */
static int parse_arg(struct np_config *cfg, const char *arg)
{
	np_config_defaults(cfg);
	err[0] = '\0';
	return np_config_parse_arg(cfg, arg, err, sizeof err);
}

static void assert_err_has(const char *what)
{
	if (strstr(err, what) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, what);
}

static void assert_err_lacks(const char *what)
{
	if (strstr(err, what) != NULL)
		fail_msg("error \"%s\" repeats \"%s\"", err, what);
}

/* A fresh config file in the temporary directory with the given mode. */
static void make_conf(const char *name, const char *text, mode_t mode, char *path, size_t size)
{
	assert_int_equal(unit_write_file(unit_dir, name, text, strlen(text), mode, path, size), 0);
}

static int load(struct np_config *cfg, int argc, const char **argv)
{
	err[0] = '\0';
	return np_config_load(cfg, argc, argv, err, sizeof err);
}

/* ---- defaults ---- */

static void test_defaults(void **state)
{
	struct np_config cfg;

	(void)state;
	memset(&cfg, 0xA5, sizeof cfg);
	np_config_defaults(&cfg);
	assert_string_equal(cfg.config_path, NP_DEFAULT_CONFIG);
	assert_string_equal(cfg.api_url, "https://api.nextpay.world/v1");
	assert_string_equal(cfg.ca_file, "");
	assert_string_equal(cfg.pinned_pubkey, "");
	assert_string_equal(cfg.proxy, "");
	assert_int_equal(cfg.connect_timeout, 5);
	assert_int_equal(cfg.request_timeout, 10);
	assert_int_equal(cfg.poll_interval, 3);
	assert_int_equal(cfg.login_timeout, 110);
	assert_int_equal(cfg.wait, NP_WAIT_AUTO);
	assert_int_equal(cfg.ssh_info, NP_SSH_INFO_AUTO);
	assert_string_equal(cfg.intent, "login");
	assert_string_equal(cfg.verification_hosts, "");
	assert_string_equal(cfg.usermap, "/etc/security/pam_nextpay.users");
	assert_false(cfg.map_email_localpart);
	assert_string_equal(cfg.allowed_domains, "");
	assert_true(cfg.cache);
	assert_string_equal(cfg.cache_dir, "/var/lib/pam_nextpay");
	assert_string_equal(cfg.cache_key, "/etc/security/pam_nextpay.key");
	assert_int_equal(cfg.cache_ttl, 900);
	assert_int_equal(cfg.cache_scope, NP_SCOPE_SESSION);
	assert_int_equal(cfg.offline_grace, 0);
	assert_false(cfg.api_key);
	assert_false(cfg.use_first_pass);
	assert_false(cfg.try_first_pass);
	assert_false(cfg.qr);
	assert_string_equal(cfg.skip_services, "");
	assert_string_equal(cfg.helper, NP_DEFAULT_HELPER);
	assert_non_null(strstr(cfg.helper, "/pam_nextpay/nextpay-helper"));
	assert_true(cfg.helper[0] == '/');
	assert_string_equal(cfg.helper_user, "nobody");
	assert_false(cfg.debug);
}

static void test_defaults_finish(void **state)
{
	struct np_config cfg;

	(void)state;
	np_config_defaults(&cfg);
	assert_int_equal(np_config_finish(&cfg, err, sizeof err), 0);
	assert_string_equal(cfg.api_url, "https://api.nextpay.world/v1");
}

/* ---- every key, from a file and from arguments ---- */

static const char every_key_text[] =
	"api_url = https://np.example.com:8443/api/v2\n"
	"ca_file = /etc/ssl/np-ca.pem\n"
	"pinned_pubkey = " PIN_A ";" PIN_B "\n"
	"proxy = http://proxy.example:3128\n"
	"connect_timeout = 7\n"
	"request_timeout = 30\n"
	"poll_interval = 2\n"
	"login_timeout = 300\n"
	"wait = prompt\n"
	"ssh_info = held\n"
	"intent = sudo-login_v1.2\n"
	"verification_hosts = nextpay-v3-dev.nextfinancial.io,192.0.2.1,[2001:db8::1]\n"
	"usermap = /etc/np/users\n"
	"map_email_localpart = yes\n"
	"allowed_domains = example.com,Corp.Example.ORG\n"
	"cache = no\n"
	"cache_dir = /run/np-cache\n"
	"cache_key = /etc/np/key\n"
	"cache_ttl = 60\n"
	"cache_scope = user\n"
	"api_key = yes\n"
	"use_first_pass = true\n"
	"try_first_pass = false\n"
	"qr = no\n"
	"skip_services = cron,polkit-1,systemd-user\n"
	"helper = /opt/np/helper\n"
	"helper_user = _nextpay\n"
	"debug = yes\n";

static void assert_every_key(const struct np_config *cfg)
{
	assert_string_equal(cfg->api_url, "https://np.example.com:8443/api/v2");
	assert_string_equal(cfg->ca_file, "/etc/ssl/np-ca.pem");
	assert_string_equal(cfg->pinned_pubkey, PIN_A ";" PIN_B);
	assert_string_equal(cfg->proxy, "http://proxy.example:3128");
	assert_int_equal(cfg->connect_timeout, 7);
	assert_int_equal(cfg->request_timeout, 30);
	assert_int_equal(cfg->poll_interval, 2);
	assert_int_equal(cfg->login_timeout, 300);
	assert_int_equal(cfg->wait, NP_WAIT_PROMPT);
	assert_int_equal(cfg->ssh_info, NP_SSH_INFO_HELD);
	assert_string_equal(cfg->intent, "sudo-login_v1.2");
	assert_string_equal(cfg->verification_hosts,
	                    "nextpay-v3-dev.nextfinancial.io,192.0.2.1,[2001:db8::1]");
	assert_string_equal(cfg->usermap, "/etc/np/users");
	assert_true(cfg->map_email_localpart);
	assert_string_equal(cfg->allowed_domains, "example.com,Corp.Example.ORG");
	assert_false(cfg->cache);
	assert_string_equal(cfg->cache_dir, "/run/np-cache");
	assert_string_equal(cfg->cache_key, "/etc/np/key");
	assert_int_equal(cfg->cache_ttl, 60);
	assert_int_equal(cfg->cache_scope, NP_SCOPE_USER);
	assert_true(cfg->api_key);
	assert_true(cfg->use_first_pass);
	assert_false(cfg->try_first_pass);
	assert_false(cfg->qr);
	assert_string_equal(cfg->skip_services, "cron,polkit-1,systemd-user");
	assert_string_equal(cfg->helper, "/opt/np/helper");
	assert_string_equal(cfg->helper_user, "_nextpay");
	assert_true(cfg->debug);
}

static void test_file_every_key(void **state)
{
	struct np_config cfg;

	(void)state;
	assert_int_equal(parse(&cfg, every_key_text), 0);
	assert_every_key(&cfg);
	assert_int_equal(np_config_finish(&cfg, err, sizeof err), 0);
}

static void test_arg_every_key(void **state)
{
	static const char *const args[] = {
		"api_url=https://np.example.com:8443/api/v2",
		"ca_file=/etc/ssl/np-ca.pem",
		"pinned_pubkey=" PIN_A ";" PIN_B,
		"proxy=http://proxy.example:3128",
		"connect_timeout=7",
		"request_timeout=30",
		"poll_interval=2",
		"login_timeout=300",
		"wait=prompt",
		"ssh_info=held",
		"intent=sudo-login_v1.2",
		"verification_hosts=nextpay-v3-dev.nextfinancial.io,192.0.2.1,[2001:db8::1]",
		"usermap=/etc/np/users",
		"map_email_localpart=yes",
		"allowed_domains=example.com,Corp.Example.ORG",
		"cache=no",
		"cache_dir=/run/np-cache",
		"cache_key=/etc/np/key",
		"cache_ttl=60",
		"cache_scope=user",
		"api_key=yes",
		"use_first_pass=true",
		"try_first_pass=false",
		"qr=no",
		"skip_services=cron,polkit-1,systemd-user",
		"helper=/opt/np/helper",
		"helper_user=_nextpay",
		"debug=yes",
	};
	struct np_config cfg;

	(void)state;
	np_config_defaults(&cfg);
	for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
		if (np_config_parse_arg(&cfg, args[i], err, sizeof err) != 0)
			fail_msg("argument %s refused: %s", args[i], err);
	}
	assert_every_key(&cfg);
}

static void test_arg_bare_flags(void **state)
{
	struct np_config cfg;

	(void)state;
	np_config_defaults(&cfg);
	assert_int_equal(np_config_parse_arg(&cfg, "debug", err, sizeof err), 0);
	assert_int_equal(np_config_parse_arg(&cfg, "use_first_pass", err, sizeof err), 0);
	assert_int_equal(np_config_parse_arg(&cfg, "try_first_pass", err, sizeof err), 0);
	assert_true(cfg.debug);
	assert_true(cfg.use_first_pass);
	assert_true(cfg.try_first_pass);

	assert_int_equal(parse_arg(&cfg, "debug=no"), 0);
	assert_false(cfg.debug);

	/* Only the documented flags may be bare words. */
	assert_int_equal(parse_arg(&cfg, "cache"), -1);
	assert_err_has("cache");
	assert_int_equal(parse_arg(&cfg, "qr"), -1);
	assert_err_has("qr");
	assert_int_equal(parse_arg(&cfg, "api_key"), -1);
	assert_err_has("api_key");
	assert_int_equal(parse_arg(&cfg, "nodebug"), -1);
	assert_err_has("expected key=value");
	/* A word that is no setting is not repeated: it may be anything. */
	assert_err_lacks("nodebug");
	assert_int_equal(parse_arg(&cfg, "DEBUG"), -1);
	assert_int_equal(parse_arg(&cfg, ""), -1);
	/* A bare flag in the file is not "key = value". */
	assert_int_equal(parse(&cfg, "debug\n"), -1);
	assert_err_has("test.conf:1");
}

static void test_bool_words(void **state)
{
	static const char *const bad[] = { "Yes", "YES", "1", "0", "on", "off", "y", "", "yes ",
		                           "nope" };
	struct np_config cfg;

	(void)state;
	assert_int_equal(parse_arg(&cfg, "cache=false"), 0);
	assert_false(cfg.cache);
	assert_int_equal(parse_arg(&cfg, "qr=true"), 0);
	assert_true(cfg.qr);
	assert_int_equal(parse_arg(&cfg, "api_key=no"), 0);
	assert_false(cfg.api_key);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char arg[64];

		snprintf(arg, sizeof arg, "cache=%s", bad[i]);
		if (parse_arg(&cfg, arg) != -1)
			fail_msg("%s accepted", arg);
		assert_err_has("\"cache\"");
		assert_err_has("yes or no");
	}
}

/* ---- numbers ---- */

static void test_uint_ranges(void **state)
{
	static const struct {
		const char *key;
		unsigned min, max;
	} keys[] = {
		{ "connect_timeout", 1, 60 }, { "request_timeout", 1, 300 },
		{ "poll_interval", 1, 60 },   { "login_timeout", 10, 3600 },
		{ "cache_ttl", 1, 86400 },
	};
	struct np_config cfg;
	char arg[128];

	(void)state;
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const char *key = keys[i].key;
		char range[64];

		snprintf(range, sizeof range, "from %u to %u", keys[i].min, keys[i].max);
		snprintf(arg, sizeof arg, "%s=%u", key, keys[i].min);
		assert_int_equal(parse_arg(&cfg, arg), 0);
		snprintf(arg, sizeof arg, "%s=%u", key, keys[i].max);
		assert_int_equal(parse_arg(&cfg, arg), 0);
		snprintf(arg, sizeof arg, "%s=%u", key, keys[i].min - 1);
		assert_int_equal(parse_arg(&cfg, arg), -1);
		assert_err_has(key);
		assert_err_has(range);
		snprintf(arg, sizeof arg, "%s=%u", key, keys[i].max + 1);
		assert_int_equal(parse_arg(&cfg, arg), -1);
		assert_err_has(key);
	}
	assert_int_equal(parse_arg(&cfg, "poll_interval=0"), -1);
	assert_err_has("poll_interval");
	assert_int_equal(parse_arg(&cfg, "login_timeout=9"), -1);
	assert_int_equal(parse_arg(&cfg, "login_timeout=10"), 0);
	assert_int_equal(cfg.login_timeout, 10);
	/* Leading zeros are still a whole number, within the length limit. */
	assert_int_equal(parse_arg(&cfg, "connect_timeout=000000005"), 0);
	assert_int_equal(cfg.connect_timeout, 5);
}

/* offline_grace: 0 (off) to 12 hours; more is an error, never cut down to the bound. */
static void test_offline_grace_bound(void **state)
{
	struct np_config cfg;

	(void)state;
	assert_int_equal(parse_arg(&cfg, "offline_grace=0"), 0);
	assert_int_equal(cfg.offline_grace, 0);
	assert_int_equal(parse_arg(&cfg, "offline_grace=43200"), 0);
	assert_int_equal(cfg.offline_grace, 43200);
	assert_int_equal(parse(&cfg, "offline_grace = 600\n"), 0);
	assert_int_equal(cfg.offline_grace, 600);
	assert_int_equal(parse_arg(&cfg, "offline_grace=43201"), -1);
	assert_err_has("offline_grace");
	assert_err_has("from 0 to 43200");
	assert_int_equal(cfg.offline_grace, 0);
	assert_int_equal(parse(&cfg, "offline_grace = 86400\n"), -1);
	assert_err_has("test.conf:1");
	assert_err_has("offline_grace");
	assert_int_equal(parse_arg(&cfg, "offline_grace=-1"), -1);
	assert_err_has("offline_grace");
}

static void test_uint_bad_words(void **state)
{
	static const char *const bad[] = { "", "-1", "+5", "5s", "5 ", " 5", "0x10", "1e2", "5.0",
		                           "abc", "4294967301", "99999999999999999999",
		                           "0000000005" };
	struct np_config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char arg[64];

		snprintf(arg, sizeof arg, "cache_ttl=%s", bad[i]);
		if (parse_arg(&cfg, arg) != -1)
			fail_msg("%s accepted as %u", arg, cfg.cache_ttl);
		assert_err_has("cache_ttl");
		assert_int_equal(cfg.cache_ttl, 900);
	}
	assert_int_equal(parse(&cfg, "# timeouts\nrequest_timeout = ten\n"), -1);
	assert_err_has("test.conf:2");
	assert_err_has("request_timeout");
}

/* ---- text values ---- */

static void test_api_url(void **state)
{
	static const char *const good[] = {
		"https://api.nextpay.world/v1",
		"https://127.0.0.1:8443",
		"https://[::1]:8443/v1",
		"https://x",
		"https://a-b.example/v1/",
	};
	static const char *const bad[] = {
		"http://api.nextpay.world/v1",
		"HTTPS://api.nextpay.world/v1",
		"https://",
		"https:///v1",
		"https://-x/v1",
		"ftp://x",
		"api.nextpay.world",
		"https://api.nextpay.world/v1?x=1",
		"https://api.nextpay.world/v1#frag",
		"https://user@api.nextpay.world/v1",
		"https://user:pw@api.nextpay.world/v1",
		"https://api.nextpay.world/v 1",
		"https://api.nextpay.world/\"v1",
		"https://api.nextpay.world/'v1",
		"https://api.nextpay.world\\v1",
		"https://api.nextpay.world/v1\x7f",
		"https://api.nextpay.world/v1\x1b[0m",
		"https://api.nextpay.world/\xc3\xa9",
		"",
	};
	struct np_config cfg;
	char arg[256];

	(void)state;
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
		snprintf(arg, sizeof arg, "api_url=%s", good[i]);
		if (parse_arg(&cfg, arg) != 0)
			fail_msg("%s refused: %s", arg, err);
		assert_string_equal(cfg.api_url, good[i]);
	}
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(arg, sizeof arg, "api_url=%s", bad[i]);
		if (parse_arg(&cfg, arg) != -1)
			fail_msg("%s accepted", arg);
		assert_err_has("\"api_url\"");
		assert_err_has("module arguments");
		assert_string_equal(cfg.api_url, "https://api.nextpay.world/v1");
	}
	assert_int_equal(parse(&cfg, "\n\napi_url = http://api.nextpay.world/v1\n"), -1);
	assert_err_has("test.conf:3");
	assert_err_has("api_url");
	assert_err_has("https://");
}

static void test_api_url_too_long(void **state)
{
	struct np_config cfg;
	char arg[NP_CONFIG_TEXT_MAX + 64];
	size_t prefix = strlen("api_url=https://x/");

	(void)state;
	/* A URL of 1023 bytes fits the field (with its NUL); 1024 do not. */
	memcpy(arg, "api_url=https://x/", prefix);
	memset(arg + prefix, 'a', sizeof arg - prefix);
	arg[strlen("api_url=") + NP_CONFIG_TEXT_MAX - 1] = '\0';
	assert_int_equal(strlen(arg + strlen("api_url=")), NP_CONFIG_TEXT_MAX - 1);
	assert_int_equal(parse_arg(&cfg, arg), 0);
	assert_int_equal(strlen(cfg.api_url), NP_CONFIG_TEXT_MAX - 1);
	arg[strlen("api_url=") + NP_CONFIG_TEXT_MAX - 1] = 'a';
	arg[strlen("api_url=") + NP_CONFIG_TEXT_MAX] = '\0';
	assert_int_equal(parse_arg(&cfg, arg), -1);
	assert_err_has("api_url");
}

static void test_pins(void **state)
{
	static const char *const bad[] = {
		"sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",       /* no '=' */
		"sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuF=",       /* short */
		"sha256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFUA=",     /* long */
		"sha256//47DEQpj8HBSa-/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",      /* base64url */
		"SHA256//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
		"sha1//47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
		PIN_A ";",
		PIN_A ";;" PIN_B,
		PIN_A "," PIN_B,
		PIN_A " ;" PIN_B,
		"/etc/ssl/pubkey.pem",
	};
	struct np_config cfg;
	char arg[512];

	(void)state;
	assert_int_equal(parse_arg(&cfg, "pinned_pubkey=" PIN_A), 0);
	assert_string_equal(cfg.pinned_pubkey, PIN_A);
	assert_int_equal(parse_arg(&cfg, "pinned_pubkey=" PIN_A ";" PIN_B ";" PIN_A), 0);
	/* Empty means "none". */
	assert_int_equal(parse(&cfg, "pinned_pubkey =\n"), 0);
	assert_string_equal(cfg.pinned_pubkey, "");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(arg, sizeof arg, "pinned_pubkey=%s", bad[i]);
		if (parse_arg(&cfg, arg) != -1)
			fail_msg("%s accepted", arg);
		assert_err_has("pinned_pubkey");
	}
}

static void test_other_text_values(void **state)
{
	static const struct {
		const char *arg;
		int rc;
	} cases[] = {
		{ "proxy=https://proxy.example:3128", 0 },
		{ "proxy=", 0 },
		{ "proxy=socks5://proxy.example:1080", -1 },
		{ "proxy=proxy.example:3128", -1 },
		{ "proxy=http://proxy example", -1 },
		{ "proxy=http://\"proxy\"", -1 },
		{ "intent=login", 0 },
		{ "intent=", -1 },
		{ "intent=log in", -1 },
		{ "intent=login/../x", -1 },
		{ "intent=l\xc3\xb6gin", -1 },
		{ "helper_user=nobody", 0 },
		{ "helper_user=", -1 },
		{ "helper_user=-nobody", -1 },
		{ "helper_user=no body", -1 },
		{ "helper_user=root:x", -1 },
		{ "helper_user=abcdefghijklmnopqrstuvwxyz012345", 0 },  /* 32 */
		{ "helper_user=abcdefghijklmnopqrstuvwxyz0123456", -1 }, /* 33 */
		{ "allowed_domains=example.com", 0 },
		{ "allowed_domains=", 0 },
		{ "allowed_domains=a.com,b-c.org", 0 },
		{ "allowed_domains=a.com,,b.org", -1 },
		{ "allowed_domains=,a.com", -1 },
		{ "allowed_domains=a.com,", -1 },
		{ "allowed_domains=a.com, b.org", -1 },
		{ "allowed_domains=@a.com", -1 },
		{ "allowed_domains=a_b.com", -1 },
		{ "verification_hosts=", 0 },
		{ "verification_hosts=auth.nextpay.world", 0 },
		{ "verification_hosts=a.example,127.0.0.1,[::1]", 0 },
		{ "verification_hosts=a.example,", -1 },
		{ "verification_hosts=,a.example", -1 },
		{ "verification_hosts=a.example,,b.example", -1 },
		{ "verification_hosts=a.example, b.example", -1 },
		{ "verification_hosts=a.example:443", -1 },
		{ "verification_hosts=user@a.example", -1 },
		{ "verification_hosts=a%2Eexample", -1 },
		{ "verification_hosts=https://a.example", -1 },
		{ "verification_hosts=a_b.example", -1 },
		{ "verification_hosts=*.example", -1 },
		{ "verification_hosts=2130706433", -1 },
		{ "verification_hosts=::1", -1 },
		{ "skip_services=cron", 0 },
		{ "skip_services=cron,polkit-1,foo.bar,x_y,a+b", 0 },
		{ "skip_services=cron,", -1 },
		{ "skip_services=cron polkit", -1 },
		{ "skip_services=cron;polkit", -1 },
		{ "wait=auto", 0 },
		{ "wait=poll", 0 },
		{ "wait=Poll", -1 },
		{ "wait=", -1 },
		{ "wait=poll ", -1 },
		{ "wait=sometimes", -1 },
		{ "ssh_info=auto", 0 },
		{ "ssh_info=immediate", 0 },
		{ "ssh_info=held", 0 },
		{ "ssh_info=Immediate", -1 },
		{ "ssh_info=", -1 },
		{ "ssh_info=yes", -1 },
		{ "cache_scope=session", 0 },
		{ "cache_scope=global", -1 },
		{ "cache_scope=USER", -1 },
	};
	struct np_config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *arg = cases[i].arg;
		int len = (int)(strchr(arg, '=') - arg);
		char key[64];

		if (parse_arg(&cfg, arg) != cases[i].rc)
			fail_msg("%s: expected %d (%s)", arg, cases[i].rc, err);
		if (cases[i].rc != 0) {
			snprintf(key, sizeof key, "\"%.*s\"", len, arg);
			assert_err_has(key);
		}
	}
	assert_int_equal(parse_arg(&cfg, "wait=poll"), 0);
	assert_int_equal(cfg.wait, NP_WAIT_POLL);
	assert_int_equal(parse_arg(&cfg, "wait=auto"), 0);
	assert_int_equal(cfg.wait, NP_WAIT_AUTO);
	assert_int_equal(parse_arg(&cfg, "ssh_info=immediate"), 0);
	assert_int_equal(cfg.ssh_info, NP_SSH_INFO_IMMEDIATE);
	assert_int_equal(parse_arg(&cfg, "cache_scope=user"), 0);
	assert_int_equal(cfg.cache_scope, NP_SCOPE_USER);
}

static void test_paths(void **state)
{
	static const char *const keys[] = { "ca_file", "usermap", "cache_dir", "cache_key",
		                            "helper" };
	static const char *const bad[] = { "", "relative/path", "./x", "~/x", "/a b", "/a\tb",
		                           "/a\x01", "/a\x7f", "/\xc3\xa9" };
	struct np_config cfg;
	char arg[128];

	(void)state;
	for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		snprintf(arg, sizeof arg, "%s=/srv/np/x-1.y", keys[k]);
		assert_int_equal(parse_arg(&cfg, arg), 0);
		for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
			snprintf(arg, sizeof arg, "%s=%s", keys[k], bad[i]);
			if (parse_arg(&cfg, arg) != -1)
				fail_msg("%s accepted", arg);
			assert_err_has(keys[k]);
			assert_err_has("absolute path");
		}
	}
	assert_int_equal(parse(&cfg, "usermap = users.txt\n"), -1);
	assert_err_has("test.conf:1");
	assert_err_has("usermap");
}

/* ---- file syntax ---- */

static void test_unknown_key(void **state)
{
	struct np_config cfg;

	(void)state;
	assert_int_equal(parse(&cfg, "# c\ncache = yes\nfrobnicate = 1\n"), -1);
	assert_err_has("test.conf:3");
	assert_err_has("unknown setting");
	/*
	 * The line number, never the line: the file may be a key or hold a
	 * password pasted by mistake, and the error reaches logs and terminals.
	 */
	assert_err_lacks("frobnicate");
	assert_int_equal(parse_arg(&cfg, "frobnicate=1"), -1);
	assert_err_has("module arguments");
	assert_err_lacks("frobnicate");
	assert_int_equal(parse(&cfg, "c2VjcmV0LWtleS1ieXRlcw= = x\nhunter2\n"), -1);
	assert_err_has("test.conf:1: unknown setting");
	assert_err_lacks("c2Vj");
	assert_int_equal(parse(&cfg, "\nhunter2\n"), -1);
	assert_err_has("test.conf:2: expected \"key = value\"");
	assert_err_lacks("hunter2");
	/* Keys are case-sensitive. */
	assert_int_equal(parse(&cfg, "API_URL = https://x\n"), -1);
	assert_err_has("unknown setting");
	assert_err_lacks("API_URL");
	assert_int_equal(parse(&cfg, "api url = https://x\n"), -1);
	assert_err_has("unknown setting");
	assert_int_equal(parse(&cfg, "= yes\n"), -1);
	assert_err_has("test.conf:1");
	/* A known setting with a bad value is named: the administrator needs that much. */
	assert_int_equal(parse(&cfg, "poll_interval = hunter2\n"), -1);
	assert_err_has("test.conf:1: bad value for \"poll_interval\"");
	assert_err_lacks("hunter2");
}

static void test_repeated_key(void **state)
{
	struct np_config cfg;

	(void)state;
	assert_int_equal(parse(&cfg, "cache_ttl = 60\n\ncache_ttl = 60\n"), -1);
	assert_err_has("test.conf:3");
	assert_err_has("cache_ttl");
	assert_err_has("twice");
	/* Even with the second one commented-out text after it. */
	assert_int_equal(parse(&cfg, "debug = no\ndebug = yes # later\n"), -1);
	assert_err_has("debug");
}

static void test_missing_equals(void **state)
{
	struct np_config cfg;

	(void)state;
	assert_int_equal(parse(&cfg, "cache yes\n"), -1);
	assert_err_has("test.conf:1");
	assert_err_has("key = value");
}

static void test_comments_and_blanks(void **state)
{
	struct np_config cfg;
	const char *text = "# pam_nextpay\n"
	                   "\n"
	                   "   \t  \n"
	                   "   # indented comment\n"
	                   "\tcache_ttl\t=\t120\t# two minutes\n"
	                   "poll_interval = 4 #no space after the hash\n"
	                   "proxy = http://proxy.example:3128/#not-a-comment\n"
	                   "intent = login\r\n"
	                   "wait=poll\n"
	                   "debug = yes";
	(void)state;
	assert_int_equal(parse(&cfg, text), 0);
	assert_int_equal(cfg.cache_ttl, 120);
	assert_int_equal(cfg.poll_interval, 4);
	/* '#' not preceded by white space is part of the value. */
	assert_string_equal(cfg.proxy, "http://proxy.example:3128/#not-a-comment");
	assert_string_equal(cfg.intent, "login");
	assert_int_equal(cfg.wait, NP_WAIT_POLL);
	assert_true(cfg.debug);

	/* A '#' glued to a value is not a comment, so the value is wrong. */
	assert_int_equal(parse(&cfg, "cache_ttl = 120#two minutes\n"), -1);
	assert_err_has("cache_ttl");

	assert_int_equal(parse(&cfg, ""), 0);
	assert_int_equal(parse(&cfg, "\n\n\n"), 0);
	assert_int_equal(cfg.cache_ttl, 900);
}

static void test_control_characters(void **state)
{
	static const char *const bad[] = {
		"intent = log\x01in\n",
		"intent = login\x1b[2J\n",
		"\x1b" "debug = yes\n",
		"debug = yes\x0b\n",
		"debug = yes\x0c\n",
		"debug = yes\x7f\n",
		"intent = log\x7fin\n",
		"intent = log\rin\n",
	};
	struct np_config cfg;

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char text[128];

		snprintf(text, sizeof text, "cache = yes\n%s", bad[i]);
		if (parse(&cfg, text) != -1)
			fail_msg("line %zu accepted", i);
		/* Either the line ("control character") or the key is named. */
		if (strstr(err, "test.conf:2") == NULL)
			fail_msg("error \"%s\" does not name the line", err);
	}
	assert_int_equal(parse(&cfg, "intent = log\x01in\n"), -1);
	assert_err_has("control character");
}

static void test_long_line(void **state)
{
	struct np_config cfg;
	char text[4096];
	size_t n;

	(void)state;
	/* Exactly 1024 bytes is allowed ... */
	n = (size_t)snprintf(text, sizeof text, "cache = yes\n# ");
	memset(text + n, 'x', 1022);
	text[n + 1022] = '\0';
	assert_int_equal(parse(&cfg, text), 0);
	/* ... 1025 is not, even in a comment. */
	text[n + 1022] = 'x';
	text[n + 1023] = '\n';
	text[n + 1024] = '\0';
	assert_int_equal(parse(&cfg, text), -1);
	assert_err_has("test.conf:2");
	assert_err_has("longer");
}

static void test_nul_byte(void **state)
{
	static const char text[] = "cache = yes\ndebug = yes\0 # hidden\n";
	struct np_config cfg;

	(void)state;
	np_config_defaults(&cfg);
	assert_int_equal(np_config_parse_text(&cfg, text, sizeof text - 1, "test.conf", err,
	                                      sizeof err),
	                 -1);
	assert_err_has("test.conf");
	assert_err_has("NUL");
}

static void test_config_key_in_file(void **state)
{
	struct np_config cfg;

	(void)state;
	assert_int_equal(parse(&cfg, "config = /etc/other.conf\n"), -1);
	assert_err_has("test.conf:1");
	assert_err_has("config");
	assert_string_equal(cfg.config_path, NP_DEFAULT_CONFIG);
	/* Nor is it an ordinary argument once the file is chosen. */
	assert_int_equal(parse_arg(&cfg, "config=/etc/other.conf"), -1);
}

/*
 * breakglass_group turns a line into the break-glass gate: only a module
 * argument may say so, never the file every line of every stack reads.
 */
static void test_breakglass_group_is_an_argument_only(void **state)
{
	static const char *const bad[] = { "", "-wheel", "a b", "a,b", "grp$", "g\xc3\xa9",
		                           "abcdefghijklmnopqrstuvwxyz0123456" };
	struct np_config cfg;
	char arg[128];

	(void)state;
	assert_int_equal(parse_arg(&cfg, "breakglass_group=nextpay-breakglass"), 0);
	assert_string_equal(cfg.breakglass_group, "nextpay-breakglass");
	assert_int_equal(parse_arg(&cfg, "breakglass_group=ops_2.x"), 0);
	np_config_defaults(&cfg);
	assert_string_equal(cfg.breakglass_group, "");
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(arg, sizeof arg, "breakglass_group=%s", bad[i]);
		if (parse_arg(&cfg, arg) != -1)
			fail_msg("%s accepted", arg);
		assert_err_has("\"breakglass_group\"");
	}
	assert_int_equal(parse(&cfg, "breakglass_group = nextpay-breakglass\n"), -1);
	assert_err_has("test.conf:1");
	assert_err_has("\"breakglass_group\" is only a module argument");
	assert_string_equal(cfg.breakglass_group, "");
	assert_true(np_config_argument_only("breakglass_group"));
	assert_true(np_config_argument_only("config"));
	assert_false(np_config_argument_only("skip_services"));
	assert_false(np_config_argument_only("no_such_setting"));
}

/* ---- np_config_load ---- */

static void test_load_arg_overrides_file(void **state)
{
	struct np_config cfg;
	char path[1024];
	char config_arg[1100];
	const char *argv[4];

	(void)state;
	make_conf("override.conf",
	          "api_url = https://file.example/v1/\n"
	          "poll_interval = 7\n"
	          "wait = prompt\n"
	          "cache_ttl = 30\n",
	          0644, path, sizeof path);
	snprintf(config_arg, sizeof config_arg, "config=%s", path);
	argv[0] = "poll_interval=9";
	argv[1] = config_arg;
	argv[2] = "debug";
	argv[3] = "cache_ttl=45";
	assert_int_equal(load(&cfg, 4, argv), 0);
	assert_string_equal(cfg.config_path, path);
	/* From the file (trailing slash dropped by finish) ... */
	assert_string_equal(cfg.api_url, "https://file.example/v1");
	assert_int_equal(cfg.wait, NP_WAIT_PROMPT);
	/* ... overridden by arguments, whatever their position ... */
	assert_int_equal(cfg.poll_interval, 9);
	assert_int_equal(cfg.cache_ttl, 45);
	assert_true(cfg.debug);
	/* ... and defaults for the rest. */
	assert_int_equal(cfg.login_timeout, 110);
	assert_string_equal(cfg.helper_user, "nobody");
}

static void test_load_repeated_arg(void **state)
{
	struct np_config cfg;
	char path[1024];
	char config_arg[1100];
	const char *argv[3];

	(void)state;
	make_conf("repeat.conf", "poll_interval = 7\n", 0644, path, sizeof path);
	snprintf(config_arg, sizeof config_arg, "config=%s", path);
	argv[0] = config_arg;
	argv[1] = "poll_interval=2";
	argv[2] = "poll_interval=3";
	assert_int_equal(load(&cfg, 3, argv), -1);
	assert_err_has("poll_interval");
	assert_err_has("twice");
	/* The argument is named by its place on the stack line. */
	assert_err_has("module argument 3:");

	argv[2] = "hunter2=x";
	assert_int_equal(load(&cfg, 3, argv), -1);
	assert_err_has("module argument 3: unknown setting");
	assert_err_lacks("hunter2");

	argv[1] = "debug";
	argv[2] = "debug=yes";
	assert_int_equal(load(&cfg, 3, argv), -1);
	assert_err_has("debug");

	argv[1] = config_arg;
	assert_int_equal(load(&cfg, 2, argv), -1);
	assert_err_has("config=");
}

static void test_load_explicit_missing(void **state)
{
	struct np_config cfg;
	char config_arg[1100];
	const char *argv[1];

	(void)state;
	snprintf(config_arg, sizeof config_arg, "config=%s/no-such.conf", unit_dir);
	argv[0] = config_arg;
	assert_int_equal(load(&cfg, 1, argv), -1);
	assert_err_has("no-such.conf");
	assert_err_has("does not exist");
}

static void test_load_default_missing(void **state)
{
	struct np_config cfg;
	const char *argv[] = { "debug", "cache_ttl=61" };
	struct stat st;

	(void)state;
	if (lstat(NP_DEFAULT_CONFIG, &st) == 0 || errno != ENOENT) {
		print_message("%s exists here: cannot test its absence\n", NP_DEFAULT_CONFIG);
		skip();
	}
	assert_int_equal(load(&cfg, 2, argv), 0);
	assert_string_equal(cfg.config_path, NP_DEFAULT_CONFIG);
	assert_true(cfg.debug);
	assert_int_equal(cfg.cache_ttl, 61);
	assert_int_equal(load(&cfg, 0, NULL), 0);
	assert_false(cfg.debug);
}

static void test_load_bad_config_arg(void **state)
{
	struct np_config cfg;
	const char *argv[1];

	(void)state;
	argv[0] = "config=relative.conf";
	assert_int_equal(load(&cfg, 1, argv), -1);
	assert_err_has("config=");
	argv[0] = "config=";
	assert_int_equal(load(&cfg, 1, argv), -1);
	assert_err_has("config=");
}

static void test_load_bad_file_content(void **state)
{
	struct np_config cfg;
	char path[1024];
	char config_arg[1100];
	const char *argv[2];

	(void)state;
	make_conf("bad-content.conf", "cache = yes\nwait = sometimes\n", 0644, path,
	          sizeof path);
	snprintf(config_arg, sizeof config_arg, "config=%s", path);
	argv[0] = config_arg;
	argv[1] = "wait=poll"; /* an argument does not excuse a bad file */
	assert_int_equal(load(&cfg, 2, argv), -1);
	assert_err_has("bad-content.conf:2");
	assert_err_has("\"wait\"");
}

static void test_load_unsafe_file(void **state)
{
	struct np_config cfg;
	char good[1024];
	char path[1024];
	char config_arg[1100];
	const char *argv[1] = { config_arg };

	(void)state;
	make_conf("good.conf", "debug = yes\n", 0644, good, sizeof good);
	snprintf(config_arg, sizeof config_arg, "config=%s", good);
	assert_int_equal(load(&cfg, 1, argv), 0);
	assert_true(cfg.debug);
	/* Read-only for everyone is fine too. */
	assert_int_equal(chmod(good, 0444), 0);
	assert_int_equal(load(&cfg, 1, argv), 0);

	make_conf("group-writable.conf", "debug = yes\n", 0664, path, sizeof path);
	snprintf(config_arg, sizeof config_arg, "config=%s", path);
	assert_int_equal(load(&cfg, 1, argv), -1);
	assert_err_has("group-writable.conf");
	assert_err_has("writable by group or others");

	make_conf("world-writable.conf", "debug = yes\n", 0646, path, sizeof path);
	snprintf(config_arg, sizeof config_arg, "config=%s", path);
	assert_int_equal(load(&cfg, 1, argv), -1);
	assert_err_has("writable");

	snprintf(path, sizeof path, "%s/link.conf", unit_dir);
	assert_int_equal(symlink(good, path), 0);
	snprintf(config_arg, sizeof config_arg, "config=%s", path);
	assert_int_equal(load(&cfg, 1, argv), -1);
	assert_err_has("link.conf");
	assert_err_has("symbolic link");

	snprintf(config_arg, sizeof config_arg, "config=%s", unit_dir);
	assert_int_equal(load(&cfg, 1, argv), -1);
	assert_err_has("not a regular file");
}

static void test_load_foreign_owner(void **state)
{
	struct np_config cfg;
	char path[1024];
	char config_arg[1100];
	const char *argv[1] = { config_arg };

	(void)state;
	if (geteuid() != 0) {
		print_message("not root: cannot give a file away\n");
		skip();
	}
	make_conf("foreign.conf", "debug = yes\n", 0644, path, sizeof path);
	assert_int_equal(chown(path, 65534, 65534), 0);
	snprintf(config_arg, sizeof config_arg, "config=%s", path);
	assert_int_equal(load(&cfg, 1, argv), -1);
	assert_err_has("owned by uid 65534");
}

static void test_load_runs_finish(void **state)
{
	struct np_config cfg;
	char path[1024];
	char config_arg[1100];
	const char *argv[2] = { config_arg, NULL };

	(void)state;
	make_conf("finish.conf", "map_email_localpart = yes\n", 0644, path, sizeof path);
	snprintf(config_arg, sizeof config_arg, "config=%s", path);
	assert_int_equal(load(&cfg, 1, argv), -1);
	assert_err_has("allowed_domains");
	argv[1] = "allowed_domains=example.com";
	assert_int_equal(load(&cfg, 2, argv), 0);
	assert_true(cfg.map_email_localpart);
}

/* make_conf(), over an earlier file of that name. */
static void remake_conf(const char *text, mode_t mode, char *path, size_t size)
{
	snprintf(path, size, "%s/proxy.conf", unit_dir);
	(void)unlink(path);
	make_conf("proxy.conf", text, mode, path, size);
}

/* A proxy's credentials are a secret: only from a file nobody but root can read. */
static void test_load_proxy_credentials(void **state)
{
	static const char with[] = "http://np-user:np-secret-42@proxy.example:3128";
	struct np_config cfg;
	char path[1024];
	char config_arg[1100];
	char proxy_arg[256];
	char text[256];
	const char *argv[2] = { config_arg, proxy_arg };

	(void)state;
	snprintf(text, sizeof text, "proxy = %s\n", with);
	snprintf(proxy_arg, sizeof proxy_arg, "proxy=%s", with);
	remake_conf("debug = yes\n", 0644, path, sizeof path);
	snprintf(config_arg, sizeof config_arg, "config=%s", path);
	/* Never as a module argument: every local user can read the stack line. */
	assert_int_equal(load(&cfg, 2, argv), -1);
	assert_err_has("module argument 2: \"proxy\" holds credentials");
	assert_err_has("configuration file");
	assert_err_lacks("np-secret-42");
	assert_int_equal(parse_arg(&cfg, proxy_arg), -1);
	assert_err_lacks("np-secret-42");
	assert_int_equal(parse_arg(&cfg, "proxy=http://proxy.example:3128"), 0);
	/* From a file others can read: refused, with where to put it. */
	for (mode_t mode = 0604; mode <= 0644; mode += 040) {
		remake_conf(text, mode, path, sizeof path);
		assert_int_equal(load(&cfg, 1, argv), -1);
		assert_err_has("\"proxy\" holds credentials");
		assert_err_has("chmod 0600");
		assert_err_lacks("np-secret-42");
	}
	/* From a private file: taken. */
	remake_conf(text, 0600, path, sizeof path);
	assert_int_equal(load(&cfg, 1, argv), 0);
	assert_string_equal(cfg.proxy, with);
	/* Its group may read it only when that is root's group. */
	remake_conf(text, 0640, path, sizeof path);
	assert_int_equal(load(&cfg, 1, argv), getegid() == 0 ? 0 : -1);
	if (geteuid() == 0) {
		assert_int_equal(chown(path, 0, 65534), 0);
		assert_int_equal(load(&cfg, 1, argv), -1);
		assert_err_has("gid 65534");
		assert_int_equal(chown(path, 0, 0), 0);
		assert_int_equal(load(&cfg, 1, argv), 0);
	}
	/* Without credentials, a file anybody can read is fine. */
	remake_conf("proxy = http://proxy.example:3128\n", 0644, path, sizeof path);
	assert_int_equal(load(&cfg, 1, argv), 0);
}

/* ---- np_config_finish ---- */

static int finish_with(struct np_config *cfg, const char *a, const char *b)
{
	np_config_defaults(cfg);
	if (a != NULL)
		assert_int_equal(np_config_parse_arg(cfg, a, err, sizeof err), 0);
	if (b != NULL)
		assert_int_equal(np_config_parse_arg(cfg, b, err, sizeof err), 0);
	err[0] = '\0';
	return np_config_finish(cfg, err, sizeof err);
}

static void test_finish_cross_checks(void **state)
{
	struct np_config cfg;

	(void)state;
	assert_int_equal(finish_with(&cfg, "map_email_localpart=yes", NULL), -1);
	assert_err_has("map_email_localpart");
	assert_err_has("allowed_domains");
	assert_int_equal(finish_with(&cfg, "map_email_localpart=yes", "allowed_domains=x.io"), 0);

	assert_int_equal(finish_with(&cfg, "use_first_pass", NULL), -1);
	assert_err_has("api_key");
	assert_int_equal(finish_with(&cfg, "try_first_pass", NULL), -1);
	assert_err_has("api_key");
	assert_int_equal(finish_with(&cfg, "use_first_pass", "api_key=yes"), 0);
	assert_int_equal(finish_with(&cfg, "try_first_pass", "api_key=yes"), 0);

	np_config_defaults(&cfg);
	cfg.api_key = cfg.use_first_pass = cfg.try_first_pass = true;
	assert_int_equal(np_config_finish(&cfg, err, sizeof err), -1);
	assert_err_has("exclusive");

#ifdef NP_HAVE_QRENCODE
	assert_int_equal(finish_with(&cfg, "qr=yes", NULL), 0);
#else
	/* A build without libqrencode says so instead of quietly drawing nothing. */
	assert_int_equal(finish_with(&cfg, "qr=yes", NULL), -1);
	assert_err_has("qr");
	assert_err_has("libqrencode");
#endif
	assert_int_equal(finish_with(&cfg, "qr=no", NULL), 0);
}

static void test_finish_trailing_slashes(void **state)
{
	struct np_config cfg;

	(void)state;
	assert_int_equal(finish_with(&cfg, "api_url=https://x.example/v1///", NULL), 0);
	assert_string_equal(cfg.api_url, "https://x.example/v1");
	assert_int_equal(finish_with(&cfg, "api_url=https://x.example/", NULL), 0);
	assert_string_equal(cfg.api_url, "https://x.example");
	assert_int_equal(finish_with(&cfg, "api_url=https://x/", NULL), 0);
	assert_string_equal(cfg.api_url, "https://x");
}

/* ---- np_list_contains ---- */

static void test_verification_hosts(void **state)
{
	struct np_config cfg;

	(void)state;
	np_config_defaults(&cfg);
	/* Empty: any host the URL checks let through. */
	assert_true(np_config_allows_verification_host(&cfg, "anything.example"));
	assert_int_equal(np_config_parse_arg(&cfg, "verification_hosts=auth.nextpay.world,127.0.0.1",
	                                     err, sizeof err), 0);
	assert_true(np_config_allows_verification_host(&cfg, "auth.nextpay.world"));
	assert_true(np_config_allows_verification_host(&cfg, "Auth.NextPay.World"));
	assert_true(np_config_allows_verification_host(&cfg, "127.0.0.1"));
	/* Whole names only: no suffix, prefix or subdomain matches. */
	assert_false(np_config_allows_verification_host(&cfg, "evil.example"));
	assert_false(np_config_allows_verification_host(&cfg, "auth.nextpay.world.evil.example"));
	assert_false(np_config_allows_verification_host(&cfg, "x.auth.nextpay.world"));
	assert_false(np_config_allows_verification_host(&cfg, "nextpay.world"));
	assert_false(np_config_allows_verification_host(&cfg, "127.0.0.10"));
	assert_false(np_config_allows_verification_host(&cfg, ""));
}

/*
 * The defaults come from the settings table: each one is a value its own
 * setting takes, and np_config_value() spells it back as the table has it.
 */
struct default_check {
	struct np_config cfg;
	int checked;
};

static void check_one_default(const char *key, const char *value, void *ctx)
{
	struct default_check *dc = ctx;
	struct np_config fresh;
	char arg[NP_CONFIG_PATH_MAX + 64], spelt[NP_CONFIG_TEXT_MAX];

	assert_int_equal(np_config_value(&dc->cfg, key, spelt, sizeof spelt), 0);
	assert_string_equal(spelt, value);
	if (value[0] != '\0') {
		np_config_defaults(&fresh);
		snprintf(arg, sizeof arg, "%s=%s", key, value);
		if (np_config_parse_arg(&fresh, arg, err, sizeof err) != 0)
			fail_msg("default %s refused by its own check: %s", arg, err);
	}
	dc->checked++;
}

static void test_defaults_from_table(void **state)
{
	static struct default_check dc;
	char out[64];

	(void)state;
	np_config_defaults(&dc.cfg);
	dc.checked = 0;
	np_config_each_default(check_one_default, &dc);
	assert_true(dc.checked > 20);
	assert_int_equal(np_config_value(&dc.cfg, "connect_timeout", out, sizeof out), 0);
	assert_string_equal(out, "5");
	assert_int_equal(np_config_value(&dc.cfg, "no_such_setting", out, sizeof out), -1);
	assert_int_equal(np_config_value(&dc.cfg, "config", out, sizeof out), -1);
}

static void test_list_contains(void **state)
{
	(void)state;
	assert_true(np_list_contains("cron", "cron"));
	assert_true(np_list_contains("cron,polkit-1,sshd", "polkit-1"));
	assert_true(np_list_contains("cron,polkit-1,sshd", "sshd"));
	assert_true(np_list_contains("Example.COM,b.org", "example.com"));
	assert_true(np_list_contains("example.com,b.org", "B.ORG"));
	/* Whole items only. */
	assert_false(np_list_contains("cron,polkit-1,sshd", "ssh"));
	assert_false(np_list_contains("cron,polkit-1,sshd", "sshd2"));
	assert_false(np_list_contains("cron,polkit-1,sshd", "polkit"));
	assert_false(np_list_contains("cron,polkit-1,sshd", "cron,polkit-1"));
	assert_false(np_list_contains("example.com", "example.com.evil"));
	assert_false(np_list_contains("example.com", "evil-example.com"));
	assert_false(np_list_contains("example.com", "sub.example.com"));
	assert_false(np_list_contains("", "cron"));
	assert_false(np_list_contains("", ""));
	assert_false(np_list_contains("cron", ""));
	/* Only ASCII letters fold: '@' (0x40) is not '`' (0x60). */
	assert_false(np_list_contains("a@b", "a`b"));
	assert_false(np_list_contains("a[b", "a{b"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_defaults_finish),
		cmocka_unit_test(test_file_every_key),
		cmocka_unit_test(test_arg_every_key),
		cmocka_unit_test(test_arg_bare_flags),
		cmocka_unit_test(test_bool_words),
		cmocka_unit_test(test_uint_ranges),
		cmocka_unit_test(test_offline_grace_bound),
		cmocka_unit_test(test_uint_bad_words),
		cmocka_unit_test(test_api_url),
		cmocka_unit_test(test_api_url_too_long),
		cmocka_unit_test(test_pins),
		cmocka_unit_test(test_other_text_values),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_repeated_key),
		cmocka_unit_test(test_missing_equals),
		cmocka_unit_test(test_comments_and_blanks),
		cmocka_unit_test(test_control_characters),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_config_key_in_file),
		cmocka_unit_test(test_breakglass_group_is_an_argument_only),
		cmocka_unit_test(test_load_arg_overrides_file),
		cmocka_unit_test(test_load_repeated_arg),
		cmocka_unit_test(test_load_explicit_missing),
		cmocka_unit_test(test_load_default_missing),
		cmocka_unit_test(test_load_bad_config_arg),
		cmocka_unit_test(test_load_bad_file_content),
		cmocka_unit_test(test_load_unsafe_file),
		cmocka_unit_test(test_load_foreign_owner),
		cmocka_unit_test(test_load_runs_finish),
		cmocka_unit_test(test_load_proxy_credentials),
		cmocka_unit_test(test_finish_cross_checks),
		cmocka_unit_test(test_finish_trailing_slashes),
		cmocka_unit_test(test_verification_hosts),
		cmocka_unit_test(test_list_contains),
		cmocka_unit_test(test_defaults_from_table),
	};

	return cmocka_run_group_tests_name("config", tests, unit_group_setup, unit_group_teardown);
}
