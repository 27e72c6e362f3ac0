/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Settings: defaults, then the config file, then module arguments (which
 * override the file).  Every key of the public interface is validated here;
 * anything unknown, malformed or unsafe is an error, never ignored.
 */
#ifndef NP_CONFIG_H
#define NP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define NP_CONFIG_PATH_MAX 1024
#define NP_CONFIG_TEXT_MAX 1024
#define NP_CONFIG_LIST_MAX 1024
/* The largest config file read, in bytes. */
#define NP_CONFIG_FILE_MAX (64 * 1024)
/* The longest offline_grace: 12 hours. */
#define NP_OFFLINE_GRACE_MAX 43200

#ifndef NP_DEFAULT_CONFIG
#define NP_DEFAULT_CONFIG "/etc/security/pam_nextpay.conf"
#endif
#ifndef NP_DEFAULT_USERMAP
#define NP_DEFAULT_USERMAP "/etc/security/pam_nextpay.users"
#endif
#ifndef NP_DEFAULT_CACHE_KEY
#define NP_DEFAULT_CACHE_KEY "/etc/security/pam_nextpay.key"
#endif
#ifndef NP_DEFAULT_HELPER
#define NP_DEFAULT_HELPER "/usr/libexec/pam_nextpay/nextpay-helper"
#endif

enum np_wait_mode { NP_WAIT_AUTO, NP_WAIT_PROMPT, NP_WAIT_POLL };
/* Whether the sshd in front shows PAM_TEXT_INFO at once (auto: find out). */
enum np_ssh_info { NP_SSH_INFO_AUTO, NP_SSH_INFO_IMMEDIATE, NP_SSH_INFO_HELD };
enum np_cache_scope { NP_SCOPE_SESSION, NP_SCOPE_USER, NP_SCOPE_KEY };
/* Where events go: the journal when journald runs, always the journal, or syslog. */
enum np_log_target { NP_LOG_AUTO, NP_LOG_JOURNAL, NP_LOG_SYSLOG };

struct np_config {
	char config_path[NP_CONFIG_PATH_MAX];
	char api_url[NP_CONFIG_TEXT_MAX];   /* no trailing slash */
	char ca_file[NP_CONFIG_PATH_MAX];   /* "" = system trust store */
	char pinned_pubkey[NP_CONFIG_TEXT_MAX];
	char proxy[NP_CONFIG_TEXT_MAX];
	unsigned connect_timeout;
	unsigned request_timeout;
	unsigned poll_interval;
	unsigned login_timeout;
	enum np_wait_mode wait;
	enum np_ssh_info ssh_info;
	char intent[64];
	char verification_hosts[NP_CONFIG_LIST_MAX]; /* comma-separated, validated; "" = any */
	char usermap[NP_CONFIG_PATH_MAX];
	bool map_email_localpart;
	char allowed_domains[NP_CONFIG_LIST_MAX]; /* comma-separated, validated */
	bool cache;
	char cache_dir[NP_CONFIG_PATH_MAX];
	char cache_key[NP_CONFIG_PATH_MAX];
	unsigned cache_ttl;
	enum np_cache_scope cache_scope;
	/* Seconds after its last online confirmation a cached approval may serve offline; 0: off. */
	unsigned offline_grace;
	enum np_log_target log;
	bool api_key;
	bool use_first_pass;
	bool try_first_pass;
	bool qr;
	char skip_services[NP_CONFIG_LIST_MAX];
	char helper[NP_CONFIG_PATH_MAX];
	char helper_user[64];
	bool debug;
	/*
	 * Module argument only.  Set, the line is no sign-in but the break-glass
	 * gate (module/breakglass.h) for the members of this group.
	 */
	char breakglass_group[33];
};

void np_config_defaults(struct np_config *cfg);

/*
 * Builds cfg from module arguments: "config=PATH" picks the file (default
 * NP_DEFAULT_CONFIG, which may be absent; an explicitly named file must
 * exist), then every other argument overrides it.  Returns 0, or -1 with a
 * message naming the problem in err.
 */
int np_config_load(struct np_config *cfg, int argc, const char **argv, char *err,
                   size_t err_size);

/* Applies the text of a config file; origin names it in error messages. */
int np_config_parse_text(struct np_config *cfg, const char *text, size_t len,
                         const char *origin, char *err, size_t err_size);

/* Applies one "key=value" (or bare flag) module argument. */
int np_config_parse_arg(struct np_config *cfg, const char *arg, char *err, size_t err_size);

/* Cross-field checks once everything is read. */
int np_config_finish(struct np_config *cfg, char *err, size_t err_size);

/*
 * Calls fn once per setting, in the order of the settings table, with its name
 * and its built-in default as a config file would spell it ("" for none), so
 * that tests can hold the documentation to the code.
 */
typedef void np_config_default_fn(const char *key, const char *value, void *ctx);
void np_config_each_default(np_config_default_fn *fn, void *ctx);

/* Whether key may only be a module argument (config=, breakglass_group), never a file's line. */
bool np_config_argument_only(const char *key);

/*
 * The value of setting key in cfg, as a config file would spell it.  Returns
 * 0, or -1 for a key that is no setting.
 */
int np_config_value(const struct np_config *cfg, const char *key, char *out, size_t out_size);

/*
 * Whether the verification URL may send the person to host (as np_url_host()
 * gives it): any host when verification_hosts is empty, else one it names.
 */
bool np_config_allows_verification_host(const struct np_config *cfg, const char *host);

#endif
