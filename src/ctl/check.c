/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * nextpayctl check: everything the module will trip over, found before a
 * person does.  Every finding is one line: "ok:" for what passed,
 * "warning:" for what works but may not be meant, "problem:" for what makes
 * sign-ins fail or unsafe, with what to do about it.  Checks go on after a
 * problem where they can, so one run shows every problem.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cache.h"
#include "common/client.h"
#include "common/clock.h"
#include "common/safe_file.h"
#include "common/sanitize.h"
#include "common/usermap.h"
#include "ctl/ctl.h"

#define LINE_MAX_CHARS 2048
#define KEY_FILE_MAX 4096
/* Past this many lines a broken config file is not taken apart line by line. */
#define SALVAGE_LINES_MAX 2000
/* The probe makes one request: a connection, a request, and room for the helper to start. */
#define PROBE_SLACK_MS 5000
/* What the helper may take to start, before the probe: the module's own limit is 10 s. */
#define PROBE_START_MS 10000

static const char check_help[] =
	"Usage: " NP_CTL_PROGRAM " check [--config PATH] [--pam-dir DIR]\n"
	"\n"
	"Checks what pam_nextpay needs: that the settings load; that the config file,\n"
	"identity map, ca_file, cache key and cache directory have safe owners and\n"
	"modes; that the helper is a root-owned executable nobody else can change and\n"
	"helper_user an unprivileged account; that api_url answers over TLS with\n"
	"the configured ca_file, pinned_pubkey and proxy (through the helper, as the\n"
	"module reaches it); and which wait mode the display managers' PAM stacks\n"
	"give the module (wait = prompt shows nothing at a greeter).\n"
	"\n"
	"A config file that is not safe is not read, and one that does not load is\n"
	"reported by line number: nothing either names is opened or run, so the\n"
	"checks that need its settings are left out, with a warning.\n"
	"\n"
	"Prints one line per finding: \"ok:\", \"warning:\" or \"problem:\" with what to do.\n"
	"\n"
	"  --config PATH   the configuration to check (default " NP_DEFAULT_CONFIG ")\n"
	"  --pam-dir DIR   the PAM stacks to look through (default " NP_CTL_PAM_DIR ")\n"
	"\n"
	"Exit status: 0 no problem (warnings allowed), 1 at least one problem, 2 usage error.\n";

enum level { LEVEL_OK, LEVEL_WARNING, LEVEL_PROBLEM };

struct report {
	unsigned problems;
	unsigned warnings;
	const char *pam_dir;     /* the PAM stacks looked through (--pam-dir) */
};

static void finding(struct report *r, enum level level, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* One finding on one line; fix (may be NULL) says what to do about it. */
static void finding(struct report *r, enum level level, const char *fix, const char *fmt, ...)
{
	static const char *const prefix[] = { "ok", "warning", "problem" };
	char what[LINE_MAX_CHARS];
	char line[LINE_MAX_CHARS * 2];
	char clean[LINE_MAX_CHARS * 2];
	va_list ap;

	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): started just above */
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(line, sizeof line, "%s: %s%s%s", prefix[level], what,
	         fix != NULL ? " \xe2\x80\x94 fix: " : "", fix != NULL ? fix : "");
	/* Paths and errors may carry bytes from files or the network. */
	np_sanitize_str(clean, sizeof clean, line);
	puts(clean);
	if (level == LEVEL_PROBLEM)
		r->problems++;
	else if (level == LEVEL_WARNING)
		r->warnings++;
}

/* ---- owners and modes ---- */

/* What a path must look like; mirrors the checks of safe_file.c and cache.h. */
struct path_rule {
	const char *what;        /* "config file", "identity map" ... */
	bool directory;
	mode_t forbidden;        /* permission bits that must be clear */
	bool executable;
	bool own_only;           /* owned by the running user, root not enough (cache_dir) */
};

static const struct path_rule config_rule = { "config file", false, 022, false, false };
static const struct path_rule usermap_rule = { "identity map", false, 022, false, false };
static const struct path_rule ca_rule = { "ca_file", false, 022, false, false };
static const struct path_rule key_rule = { "cache_key", false, 077, false, false };
static const struct path_rule cache_dir_rule = { "cache_dir", true, 077, false, true };
static const struct path_rule helper_rule = { "helper", false, 022, true, false };

enum path_state { PATH_SAFE, PATH_MISSING, PATH_UNSAFE };

/* Root, or whoever runs this: the module accepts files of the user it runs as. */
static bool owner_ok(const struct path_rule *rule, uid_t uid)
{
	return uid == geteuid() || (uid == 0 && !rule->own_only);
}

static const char *user_name(uid_t uid, char *buf, size_t buf_size)
{
	struct passwd pw;
	struct passwd *found = NULL;
	char pw_buf[4096];

	if (getpwuid_r(uid, &pw, pw_buf, sizeof pw_buf, &found) == 0 && found != NULL)
		snprintf(buf, buf_size, "%s", pw.pw_name);
	else
		snprintf(buf, buf_size, "uid %lu", (unsigned long)uid);
	return buf;
}

/* "owned by root, mode 0644": what passed, for the ok line. */
static const char *owner_mode(const struct stat *st, char *buf, size_t buf_size)
{
	char owner[64];

	snprintf(buf, buf_size, "owned by %s, mode %04o", user_name(st->st_uid, owner, sizeof owner),
	         (unsigned)(st->st_mode & 07777));
	return buf;
}

static enum path_state check_type(struct report *r, const char *path,
                                  const struct path_rule *rule, const struct stat *st)
{
	char fix[LINE_MAX_CHARS];

	if (S_ISLNK(st->st_mode)) {
		snprintf(fix, sizeof fix, "set %s to the real %s, not a symbolic link",
		         rule->what, rule->directory ? "directory" : "file");
		finding(r, LEVEL_PROBLEM, fix, "%s %s: is a symbolic link, which is refused",
		        rule->what, path);
		return PATH_UNSAFE;
	}
	if (rule->directory ? !S_ISDIR(st->st_mode) : !S_ISREG(st->st_mode)) {
		snprintf(fix, sizeof fix, "make %s a %s, or point %s elsewhere", path,
		         rule->directory ? "directory" : "regular file", rule->what);
		finding(r, LEVEL_PROBLEM, fix, "%s %s: not a %s", rule->what, path,
		        rule->directory ? "directory" : "regular file");
		return PATH_UNSAFE;
	}
	return PATH_SAFE;
}

static enum path_state check_owner_mode(struct report *r, const char *path,
                                        const struct path_rule *rule, const struct stat *st)
{
	mode_t mode = st->st_mode & 07777;
	enum path_state state = PATH_SAFE;
	char fix[LINE_MAX_CHARS];
	char owner[64];

	if (!owner_ok(rule, st->st_uid)) {
		char me[64];

		user_name(geteuid(), me, sizeof me);
		snprintf(fix, sizeof fix, "chown %s %s", rule->own_only ? me : "root", path);
		finding(r, LEVEL_PROBLEM, fix, "%s %s: owned by %s, expected %s%s", rule->what, path,
		        user_name(st->st_uid, owner, sizeof owner), rule->own_only ? me : "root",
		        rule->own_only || geteuid() == 0 ? "" : " (or the user running this)");
		state = PATH_UNSAFE;
	}
	if ((mode & rule->forbidden) != 0) {
		snprintf(fix, sizeof fix, "chmod %04o %s", (unsigned)(mode & 0777 & ~rule->forbidden),
		         path);
		finding(r, LEVEL_PROBLEM, fix, "%s %s: %s by group or others (mode %04o)", rule->what,
		        path, rule->forbidden == 022 ? "writable" : "accessible", (unsigned)mode);
		state = PATH_UNSAFE;
	}
	if (rule->executable && (mode & S_IXUSR) == 0) {
		snprintf(fix, sizeof fix, "chmod 0755 %s", path);
		finding(r, LEVEL_PROBLEM, fix, "%s %s: not executable (mode %04o)", rule->what, path,
		        (unsigned)mode);
		state = PATH_UNSAFE;
	}
	return state;
}

/*
 * Reports what is wrong with path's type, owner and mode.  A missing path is
 * not reported: what that means is up to the caller.
 */
static enum path_state check_path(struct report *r, const char *path,
                                  const struct path_rule *rule, struct stat *st)
{
	char fix[LINE_MAX_CHARS];

	if (lstat(path, st) != 0) {
		if (errno == ENOENT)
			return PATH_MISSING;
		snprintf(fix, sizeof fix, "make %s reachable for root, or point %s elsewhere", path,
		         rule->what);
		finding(r, LEVEL_PROBLEM, fix, "%s %s: %s", rule->what, path, strerror(errno));
		return PATH_UNSAFE;
	}
	if (check_type(r, path, rule, st) != PATH_SAFE)
		return PATH_UNSAFE;
	return check_owner_mode(r, path, rule, st);
}

/* ---- the settings ---- */

/* Whether the settings can be used to check the rest, and if not, why. */
enum settings_state {
	SETTINGS_TRUSTED,       /* from a safe file that loads, or the built-in defaults */
	SETTINGS_MISSING,       /* the file named with --config does not exist */
	SETTINGS_UNSAFE,        /* the file's type, owner or mode: it was not read */
	SETTINGS_BROKEN,        /* a safe file that does not load */
};

static void config_problem(struct report *r, const char *path, const char *err)
{
	char fix[LINE_MAX_CHARS];

	snprintf(fix, sizeof fix, "correct what it names in %s (pam_nextpay.conf(5) lists "
	         "every setting and its values)", path);
	finding(r, LEVEL_PROBLEM, fix, "%s", err);
}

/*
 * After the settings failed to load from a safe file: reports every bad line
 * on its own, by number.  Nothing of it is applied: settings salvaged from a
 * broken file are not trusted.  Returns how many lines were bad; 0 means the
 * trouble is not in any one line (a setting given twice, two settings that
 * conflict).
 */
static unsigned report_bad_lines(struct report *r, const char *path)
{
	char err[LINE_MAX_CHARS];
	size_t len = 0;
	char *text = NULL;
	struct np_config *scratch = calloc(1, sizeof *scratch);
	enum np_file_status status = np_file_read(path, 0, NP_CONFIG_FILE_MAX, &text, &len, err,
	                                          sizeof err);
	char *one = status == NP_FILE_OK ? malloc(len + 1) : NULL;
	unsigned line_no = 0;
	unsigned bad = 0;
	size_t pos = 0;

	while (one != NULL && scratch != NULL && pos < len && line_no < SALVAGE_LINES_MAX) {
		const char *start = text + pos;
		const char *newline = memchr(start, '\n', len - pos);
		size_t line_len = newline != NULL ? (size_t)(newline - start) : len - pos;

		/* Empty lines before it keep the line number in the message right. */
		memset(one, '\n', line_no);
		memcpy(one + line_no, start, line_len);
		np_config_defaults(scratch);
		if (np_config_parse_text(scratch, one, line_no + line_len, path, err, sizeof err) != 0) {
			config_problem(r, path, err);
			bad++;
		}
		line_no++;
		pos += line_len + (newline != NULL ? 1 : 0);
	}
	/* The lines may hold proxy credentials. */
	if (scratch != NULL)
		sodium_memzero(scratch, sizeof *scratch);
	if (one != NULL)
		sodium_memzero(one, len + 1);
	if (text != NULL)
		sodium_memzero(text, len);
	free(scratch);
	free(one);
	free(text);
	return bad;
}

/*
 * Checks the config file and loads the settings from it, the way the module
 * does.  An unsafe file is not even opened: whoever could write it could
 * otherwise make root run a program or read a root-only file back.
 */
static enum settings_state check_config(struct report *r, const char *path,
                                        bool named, struct np_config *cfg)
{
	char err[LINE_MAX_CHARS];
	char shown[128];
	struct stat st;
	enum path_state state = check_path(r, path, &config_rule, &st);

	if (state == PATH_UNSAFE)
		return SETTINGS_UNSAFE;
	if (state == PATH_MISSING && named) {
		finding(r, LEVEL_PROBLEM, "create it, or give the right path with --config",
		        "config file %s: does not exist", path);
		return SETTINGS_MISSING;
	}
	if (state == PATH_MISSING)
		finding(r, LEVEL_WARNING, "create it (owned by root, mode 0644) to set api_url and "
		        "the rest", "config file %s: does not exist, so the built-in defaults apply",
		        path);
	else
		finding(r, LEVEL_OK, NULL, "config file %s: %s", path,
		        owner_mode(&st, shown, sizeof shown));
	if (np_ctl_load_config(cfg, state == PATH_MISSING ? NULL : path, err, sizeof err) == 0) {
		finding(r, LEVEL_OK, NULL, "settings: all valid");
		return SETTINGS_TRUSTED;
	}
	if (state == PATH_MISSING || report_bad_lines(r, path) == 0)
		config_problem(r, path, err);
	return SETTINGS_BROKEN;
}

/* What is left unchecked without settings to trust, and why. */
static void report_unchecked(struct report *r, const char *path, enum settings_state state)
{
	static const char *const why[] = {
		[SETTINGS_MISSING] = "which does not exist",
		[SETTINGS_UNSAFE] = "which is not safe (above) and so was not read",
		[SETTINGS_BROKEN] = "which does not load (above), so none of its settings is used",
	};

	finding(r, LEVEL_WARNING, "correct the config file, then run " NP_CTL_PROGRAM " check again",
	        "identity map, ca_file, cache, helper, helper_user and api_url: not checked: "
	        "their settings come from %s, %s; check opens and runs nothing that such a file "
	        "names", path, why[state]);
}

/* ---- the identity map ---- */

static void check_usermap_missing(struct report *r, const struct np_config *cfg)
{
	char fix[LINE_MAX_CHARS];

	if (cfg->map_email_localpart) {
		finding(r, LEVEL_OK, NULL,
		        "identity map %s: none; e-mail local parts in %s are the only rule",
		        cfg->usermap, cfg->allowed_domains);
		return;
	}
	snprintf(fix, sizeof fix, "create %s (owned by root, group root, mode 0640) with lines "
	         "\"IDENTITY ACCOUNT\", e.g. \"usr_abc123 don\"", cfg->usermap);
	finding(r, LEVEL_PROBLEM, fix, "identity map %s: does not exist, so nobody can sign in",
	        cfg->usermap);
}

/* The map says which NextPay identity may become which account: not for every local user. */
static void check_usermap_readers(struct report *r, const char *path, const struct stat *st)
{
	char fix[LINE_MAX_CHARS + 2 * NP_CONFIG_PATH_MAX];
	char readers[96];
	struct group gr;
	struct group *found = NULL;
	char gr_buf[4096];

	if (np_file_private(st))
		return;
	if ((st->st_mode & S_IROTH) != 0)
		snprintf(readers, sizeof readers, "every local user");
	else if (getgrgid_r(st->st_gid, &gr, gr_buf, sizeof gr_buf, &found) == 0 && found != NULL)
		snprintf(readers, sizeof readers, "group %s", gr.gr_name);
	else
		snprintf(readers, sizeof readers, "gid %lu", (unsigned long)st->st_gid);
	snprintf(fix, sizeof fix, "chgrp root %s && chmod 0640 %s, unless a program that runs as "
	         "a user (not root) signs in with the module: it could not read the map then",
	         path, path);
	finding(r, LEVEL_WARNING, fix, "identity map %s: readable by %s (mode %04o), which so "
	        "learns which NextPay identity may sign in as which account, root included", path,
	        readers, (unsigned)(st->st_mode & 07777));
}

/*
 * A map without rules lets nobody in: harmless until a PAM stack uses it, and
 * then every account of that stack is locked out, root at the console too.
 */
static void report_no_rules(struct report *r, const struct np_config *cfg)
{
	char first[NP_CONFIG_PATH_MAX + 300];
	unsigned stacks = np_ctl_stacks_using(r->pam_dir, cfg->config_path, first, sizeof first);

	if (stacks == 0) {
		finding(r, LEVEL_WARNING, "add lines \"IDENTITY ACCOUNT\" before a PAM stack uses "
		        "the module", "identity map %s: no rules, so nobody can sign in",
		        cfg->usermap);
		return;
	}
	finding(r, LEVEL_PROBLEM, "add lines \"IDENTITY ACCOUNT\" now, or take the module out of "
	        "those stacks (pam-auth-update --disable nextpay, for the package's profile)",
	        "identity map %s: no rules, yet %u auth line%s of %s use%s the module "
	        "with this configuration (%s): every sign-in there is refused, root's included",
	        cfg->usermap, stacks, stacks == 1 ? "" : "s", r->pam_dir, stacks == 1 ? "s" : "",
	        first);
}

static void check_usermap(struct report *r, const struct np_config *cfg)
{
	struct np_usermap map;
	struct stat st;
	char err[LINE_MAX_CHARS];
	char fix[LINE_MAX_CHARS];
	enum path_state state = check_path(r, cfg->usermap, &usermap_rule, &st);

	if (state == PATH_MISSING) {
		check_usermap_missing(r, cfg);
		return;
	}
	/* An unsafe map (reported) is not read: its rules would count for nothing. */
	if (state != PATH_SAFE)
		return;
	if (np_usermap_load(&map, cfg->usermap, false, err, sizeof err) != 0) {
		snprintf(fix, sizeof fix, "correct that line of %s", cfg->usermap);
		finding(r, LEVEL_PROBLEM, fix, "identity map: %s", err);
		return;
	}
	finding(r, LEVEL_OK, NULL, "identity map %s: %s, %zu rule%s", cfg->usermap,
	        owner_mode(&st, fix, sizeof fix), map.n_rules, map.n_rules == 1 ? "" : "s");
	check_usermap_readers(r, cfg->usermap, &st);
	if (map.n_rules == 0 && !cfg->map_email_localpart)
		report_no_rules(r, cfg);
	np_usermap_free(&map);
}

/* ---- ca_file ---- */

static void check_ca_file(struct report *r, const struct np_config *cfg)
{
	char shown[128];
	struct stat st;
	enum path_state state;

	if (cfg->ca_file[0] == '\0') {
		finding(r, LEVEL_OK, NULL, "ca_file: not set, the system trust store is used");
		return;
	}
	state = check_path(r, cfg->ca_file, &ca_rule, &st);
	if (state == PATH_MISSING)
		finding(r, LEVEL_PROBLEM, "install the CA bundle there, or correct ca_file",
		        "ca_file %s: does not exist", cfg->ca_file);
	else if (state == PATH_SAFE)
		finding(r, LEVEL_OK, NULL, "ca_file %s: %s", cfg->ca_file,
		        owner_mode(&st, shown, sizeof shown));
}

/* ---- the cache ---- */

static void check_key_content(struct report *r, const struct np_config *cfg,
                              const struct stat *st)
{
	char err[LINE_MAX_CHARS];
	char fix[LINE_MAX_CHARS];
	char *key = NULL;
	size_t len = 0;

	enum np_file_status status = np_file_read(cfg->cache_key, NP_FILE_PRIVATE, KEY_FILE_MAX,
	                                          &key, &len, err, sizeof err);

	snprintf(fix, sizeof fix, "move it away, then run \"" NP_CTL_PROGRAM " keygen --key %s\"",
	         cfg->cache_key);
	if (status != NP_FILE_OK) {
		finding(r, LEVEL_PROBLEM, status == NP_FILE_DENIED ? "make it readable by root" : fix,
		        "cache_key: %s", err);
		return;
	}
	if (len != NP_CACHE_KEY_BYTES) {
		finding(r, LEVEL_PROBLEM, fix, "cache_key %s: %zu bytes, expected %d", cfg->cache_key,
		        len, NP_CACHE_KEY_BYTES);
	} else {
		finding(r, LEVEL_OK, NULL, "cache_key %s: %d bytes, %s", cfg->cache_key,
		        NP_CACHE_KEY_BYTES, owner_mode(st, fix, sizeof fix));
	}
	sodium_memzero(key, len);
	free(key);
}

static void check_cache_key(struct report *r, const struct np_config *cfg)
{
	char fix[LINE_MAX_CHARS];
	struct stat st;
	enum path_state state = check_path(r, cfg->cache_key, &key_rule, &st);

	if (state == PATH_MISSING) {
		snprintf(fix, sizeof fix, "run \"" NP_CTL_PROGRAM " keygen --key %s\"", cfg->cache_key);
		finding(r, LEVEL_WARNING, fix,
		        "cache_key %s: does not exist, so the cache stays off (every sign-in asks "
		        "for a new approval)", cfg->cache_key);
	} else if (state == PATH_SAFE) {
		check_key_content(r, cfg, &st);
	}
}

/* The module makes cache_dir itself, but not the directories above it. */
static void check_cache_dir_parent(struct report *r, const struct np_config *cfg)
{
	char parent[NP_CONFIG_PATH_MAX];
	char fix[LINE_MAX_CHARS];
	char *slash;
	struct stat st;

	snprintf(parent, sizeof parent, "%s", cfg->cache_dir);
	slash = strrchr(parent, '/');
	if (slash != NULL)
		slash[slash == parent ? 1 : 0] = '\0';
	if (stat(parent, &st) == 0 && S_ISDIR(st.st_mode)) {
		finding(r, LEVEL_OK, NULL, "cache_dir %s: not there yet, made (mode 0700) at the "
		        "first sign-in", cfg->cache_dir);
		return;
	}
	snprintf(fix, sizeof fix, "mkdir -p -m 0700 %s", cfg->cache_dir);
	finding(r, LEVEL_PROBLEM, fix, "cache_dir %s: its parent %s does not exist, so the "
	        "module cannot make it", cfg->cache_dir, parent);
}

static void check_cache_dir(struct report *r, const struct np_config *cfg)
{
	char shown[128];
	struct stat st;
	enum path_state state = check_path(r, cfg->cache_dir, &cache_dir_rule, &st);

	if (state == PATH_MISSING)
		check_cache_dir_parent(r, cfg);
	else if (state == PATH_SAFE)
		finding(r, LEVEL_OK, NULL, "cache_dir %s: %s", cfg->cache_dir,
		        owner_mode(&st, shown, sizeof shown));
}

static void check_cache(struct report *r, const struct np_config *cfg)
{
	if (!cfg->cache) {
		finding(r, LEVEL_OK, NULL, "cache = no: approvals are not reused");
		return;
	}
	check_cache_key(r, cfg);
	check_cache_dir(r, cfg);
	/* Said whenever it is on: a sign-in NextPay does not confirm is for the administrator to know. */
	if (cfg->offline_grace > 0)
		finding(r, LEVEL_OK, NULL, "offline_grace = %u: while NextPay does not answer at all, "
		        "a cached approval NextPay confirmed less than %u s ago signs in unchecked "
		        "(logged as " NP_METHOD_CACHED_OFFLINE ")", cfg->offline_grace, cfg->offline_grace);
}

/* ---- the helper ---- */

/* Returns whether the helper can be started. */
static bool check_helper(struct report *r, const struct np_config *cfg)
{
	char shown[128];
	struct stat st;
	enum path_state state = check_path(r, cfg->helper, &helper_rule, &st);

	if (state == PATH_MISSING) {
		finding(r, LEVEL_PROBLEM, "install it (make install), or set helper to its path",
		        "helper %s: does not exist", cfg->helper);
	} else if (state == PATH_SAFE) {
		finding(r, LEVEL_OK, NULL, "helper %s: executable, %s", cfg->helper,
		        owner_mode(&st, shown, sizeof shown));
	}
	return state == PATH_SAFE;
}

/* Returns whether the helper can become helper_user. */
static bool check_helper_user(struct report *r, const struct np_config *cfg)
{
	struct passwd pw;
	struct passwd *found = NULL;
	char buf[16384];
	int rc = getpwnam_r(cfg->helper_user, &pw, buf, sizeof buf, &found);

	if (rc != 0 || found == NULL) {
		finding(r, LEVEL_PROBLEM,
		        "create it (e.g. useradd --system --no-create-home --shell "
		        "/usr/sbin/nologin nextpay) or set helper_user to an unprivileged account",
		        "helper_user %s: no such account", cfg->helper_user);
		return false;
	}
	if (pw.pw_uid == 0 || pw.pw_gid == 0) {
		finding(r, LEVEL_PROBLEM, "set helper_user to an unprivileged account, e.g. nobody",
		        "helper_user %s: is root or in group root; the helper must not keep root's "
		        "powers", cfg->helper_user);
		return false;
	}
	finding(r, LEVEL_OK, NULL, "helper_user %s: uid %lu, gid %lu", cfg->helper_user,
	        (unsigned long)pw.pw_uid, (unsigned long)pw.pw_gid);
	return true;
}

/* ---- reaching the API ---- */

static const char *tls_fix(const struct np_config *cfg)
{
	if (cfg->pinned_pubkey[0] != '\0')
		return "make sure ca_file (or the system trust store) trusts the server's "
		       "certificate, that it names the host of api_url, and that pinned_pubkey "
		       "matches the server's public key";
	return "make sure ca_file (or the system trust store) trusts the server's certificate "
	       "and that it names the host of api_url";
}

static void report_probe_failure(struct report *r, const struct np_config *cfg,
                                 const struct np_msg_failure *f)
{
	const char *detail = f->detail[0] != '\0' ? f->detail : "no details";

	switch (f->reason) {
	case NP_FAIL_TLS:
		finding(r, LEVEL_PROBLEM, tls_fix(cfg), "api_url %s: TLS verification failed (%s)",
		        cfg->api_url, detail);
		break;
	case NP_FAIL_CONFIG:
		finding(r, LEVEL_PROBLEM, "correct the setting named", "the helper refused the "
		        "settings: %s", detail);
		break;
	case NP_FAIL_UNREACHABLE:
	case NP_FAIL_UNAVAILABLE:
		finding(r, LEVEL_PROBLEM,
		        cfg->proxy[0] != '\0' ? "check api_url, DNS, the firewall and the proxy"
		                              : "check api_url, DNS and the firewall (no proxy is set; "
		                                "proxy variables in the environment are ignored)",
		        "api_url %s: cannot be reached (%s)", cfg->api_url, detail);
		break;
	default:
		finding(r, LEVEL_PROBLEM, "see the detail; run again with the same settings",
		        "api_url %s: %s (%s)", cfg->api_url, np_failure_reason_name(f->reason), detail);
		break;
	}
}

static void report_helper_trouble(struct report *r, const struct np_client *c,
                                  enum np_client_status status)
{
	if (status == NP_CLIENT_INTERRUPTED)
		finding(r, LEVEL_PROBLEM, NULL, "api_url %s: check interrupted", c->cfg->api_url);
	else
		finding(r, LEVEL_PROBLEM, "check that the helper belongs to this version of "
		        "pam_nextpay", "helper %s: %s", c->cfg->helper, c->err);
}

/* Asks the helper, with the module's own settings, to make one request to api_url. */
static void check_reachable(struct report *r, const struct np_config *cfg)
{
	struct np_ctl_signals signals;
	struct np_client_io io;
	struct np_client *c = calloc(1, sizeof *c);
	int timeout_ms = (int)(cfg->connect_timeout + cfg->request_timeout) * 1000 + PROBE_SLACK_MS;
	enum np_client_status status;

	if (c == NULL) {
		finding(r, LEVEL_PROBLEM, NULL, "api_url %s: out of memory", cfg->api_url);
		return;
	}
	np_ctl_client_io(&io, &signals);
	np_client_init(c, cfg, &io);
	np_ctl_signals_block(&signals);
	/* No sign-in: the deadline only bounds the helper's start, then the probe. */
	c->deadline_ms = np_monotonic_ms() + PROBE_START_MS;
	status = np_client_start(c);
	if (status == NP_CLIENT_OK) {
		np_msg_init(&c->msg, NP_MSG_PROBE);
		status = np_client_send(c);
	}
	if (status == NP_CLIENT_OK) {
		c->deadline_ms = np_monotonic_ms() + timeout_ms;
		status = np_client_expect(c, timeout_ms, NP_MSG_READY, NP_MSG_READY);
	}
	if (status == NP_CLIENT_FAILED)
		report_probe_failure(r, cfg, &c->msg.failure);
	else if (status == NP_CLIENT_OK)
		finding(r, LEVEL_OK, NULL, "api_url %s: answers over verified TLS", cfg->api_url);
	else
		report_helper_trouble(r, c, status);
	np_client_stop(c);
	np_ctl_signals_restore(&signals);
	free(c);
}

/* ---- the display managers' stacks (check_stacks.c) ---- */

static void stack_finding(void *ctx, bool warning, const char *fix, const char *text)
{
	finding(ctx, warning ? LEVEL_WARNING : LEVEL_OK, fix, "%s", text);
}

/* ---- the command ---- */

/* Everything that needs settings, run with settings that can be trusted. */
static void check_settings(struct report *r, const struct np_config *cfg)
{
	bool helper_ok;
	bool user_ok;

	check_usermap(r, cfg);
	check_ca_file(r, cfg);
	check_cache(r, cfg);
	helper_ok = check_helper(r, cfg);
	user_ok = check_helper_user(r, cfg);
	if (helper_ok && user_ok)
		check_reachable(r, cfg);
	else
		finding(r, LEVEL_WARNING, "fix the helper problems above first",
		        "api_url %s: not checked, the helper cannot run", cfg->api_url);
}

static int run_checks(const char *config_opt, const char *pam_dir)
{
	struct report r = { 0, 0, pam_dir };
	struct np_config *cfg = calloc(1, sizeof *cfg);
	char path[NP_CONFIG_PATH_MAX];
	enum settings_state state;

	if (cfg == NULL)
		return np_ctl_fail("out of memory");
	if (geteuid() != 0)
		finding(&r, LEVEL_WARNING, "run it as root",
		        "running as uid %lu, not root: the module runs as root under sshd and sudo, "
		        "and may see some files differently", (unsigned long)geteuid());
	if (np_ctl_absolute_path(config_opt != NULL ? config_opt : NP_DEFAULT_CONFIG, path,
	                         sizeof path) != 0) {
		free(cfg);
		return np_ctl_fail("config file %s: path too long", config_opt);
	}
	state = check_config(&r, path, config_opt != NULL, cfg);
	if (state == SETTINGS_TRUSTED)
		check_settings(&r, cfg);
	else
		report_unchecked(&r, path, state);
	np_ctl_check_greeter_stacks(pam_dir, stack_finding, &r);
	/* proxy may hold credentials. */
	sodium_memzero(cfg, sizeof *cfg);
	free(cfg);
	printf("%u problem%s, %u warning%s.\n", r.problems, r.problems == 1 ? "" : "s", r.warnings,
	       r.warnings == 1 ? "" : "s");
	return r.problems > 0 ? NP_CTL_EXIT_FAILED : NP_CTL_EXIT_OK;
}

int np_ctl_check(int argc, char **argv)
{
	const char *config_opt = NULL;
	const char *pam_dir = NULL;
	const struct np_ctl_option opts[] = { { "--config", &config_opt },
		                                  { "--pam-dir", &pam_dir } };
	size_t n_operands = 0;
	const struct np_ctl_syntax syntax = { check_help, opts, 2, NULL, 0 };
	int parsed;

	parsed = np_ctl_parse_args(argc, argv, &syntax, &n_operands);
	if (parsed >= 0)
		return parsed;
	return run_checks(config_opt, pam_dir != NULL ? pam_dir : NP_CTL_PAM_DIR);
}
