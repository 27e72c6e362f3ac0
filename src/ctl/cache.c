/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * nextpayctl cache list / purge: what the approval cache holds, and removing
 * it.  Listing opens only the meta boxes (account, scope, times); the tokens
 * stay sealed.  Without a readable key nothing can be shown, but every entry
 * can still be removed: a file that cannot be opened is of no use to anyone.
 * purge --expired removes what the module's sweep would (common/cache.h), all
 * of it at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/cache.h"
#include "common/sanitize.h"
#include "ctl/ctl.h"

static const char cache_help[] =
	"Usage: " NP_CTL_PROGRAM " cache list [--config PATH]\n"
	"       " NP_CTL_PROGRAM " cache purge [ACCOUNT] [--config PATH]\n"
	"       " NP_CTL_PROGRAM " cache purge --expired [--config PATH]\n"
	"\n"
	"list   shows one line per approval cache entry: account, invoking user (the\n"
	"       real uid that asked, and PAM_RUSER when set: the only one the entry\n"
	"       serves), scope (session, user or key), PAM service, tty, remote host,\n"
	"       NextPay user id, when it was approved and until when it may be reused,\n"
	"       and the SHA256 fingerprints of the public keys sshd said the\n"
	"       connection proved (in key scope, what the entry is bound to);\n"
	"       then how many entries could not be read (sealed under another key, an\n"
	"       older format, or damaged).  Tokens are never shown.  Needs the cache key.\n"
	"purge  removes every entry, or only ACCOUNT's, and says how many.  Without a\n"
	"       readable key, purge without ACCOUNT still removes every entry file.\n"
	"       With --expired, it removes only the entries that can no longer serve\n"
	"       anybody: past the cache_ttl they were stored with, with an expired\n"
	"       token, or unreadable (not a private regular file of ours, another\n"
	"       format, another key, damaged), and unfinished writes over a minute\n"
	"       old; it names each with the reason, and needs the key.\n"
	"\n"
	"  --config PATH   the configuration naming cache_dir and cache_key\n"
	"                  (default " NP_DEFAULT_CONFIG ")\n"
	"\n"
	"Exit status: 0 done, 1 failed (e.g. no readable key for list), 2 usage error.\n";

/* ---- list ---- */

struct listing {
	unsigned shown;
	int64_t now;
};

/* "uid=1000,ruser=alice", or "uid=0" when the application set no PAM_RUSER. */
static const char *invoker(const struct np_cache_meta *meta, char *buf, size_t buf_size)
{
	char text[sizeof meta->invoker_name + 64];

	if (meta->invoker_name[0] != '\0')
		snprintf(text, sizeof text, "uid=%lld,ruser=%s", (long long)meta->invoker_uid,
		         meta->invoker_name);
	else
		snprintf(text, sizeof text, "uid=%lld", (long long)meta->invoker_uid);
	return np_ctl_column(text, buf, buf_size);
}

static void list_entry(const char *file, const struct np_cache_meta *meta, void *arg)
{
	struct listing *listing = arg;
	char account[sizeof meta->account];
	char invoked_by[sizeof meta->invoker_name + 64];
	char kind[sizeof meta->scope_kind];
	char service[sizeof meta->service];
	char tty[sizeof meta->tty];
	char rhost[sizeof meta->rhost];
	char user_id[sizeof meta->user_id];
	char created[40];
	char expires[40];
	char until[64];
	char ssh_key[sizeof meta->ssh_key];

	(void)file;
	if (listing->shown++ == 0)
		printf("%-16s %-20s %-7s %-12s %-10s %-15s %-20s %-24s %-40s %s\n", "ACCOUNT",
		       "INVOKER", "SCOPE", "SERVICE", "TTY", "RHOST", "NEXTPAY-ID", "APPROVED",
		       "EXPIRES", "SSH-KEY");
	snprintf(until, sizeof until, "%s%s", np_ctl_time_text(meta->expires, expires, sizeof expires),
	         meta->expires <= listing->now                              ? " (expired)"
	         : meta->token_exp != 0 && meta->token_exp <= listing->now ? " (token expired)"
	                                                                     : "");
	printf("%-16s %-20s %-7s %-12s %-10s %-15s %-20s %-24s %-40s %s\n",
	       np_ctl_column(meta->account, account, sizeof account),
	       invoker(meta, invoked_by, sizeof invoked_by),
	       np_ctl_column(meta->scope_kind, kind, sizeof kind),
	       np_ctl_column(meta->service, service, sizeof service),
	       np_ctl_column(meta->tty, tty, sizeof tty),
	       np_ctl_column(meta->rhost, rhost, sizeof rhost),
	       np_ctl_column(meta->user_id, user_id, sizeof user_id),
	       np_ctl_time_text(meta->created, created, sizeof created), until,
	       np_ctl_column(meta->ssh_key, ssh_key, sizeof ssh_key));
}

static int list_entries(struct np_cache *c, const char *dir)
{
	struct listing listing = { 0, (int64_t)time(NULL) };
	unsigned unreadable = 0;

	if (np_cache_list(c, list_entry, &listing, &unreadable) != 0)
		return np_ctl_fail("cannot list the entries in %s", dir);
	if (listing.shown == 0)
		printf("No readable cache entries in %s.\n", dir);
	printf("%u entr%s, %u unreadable%s\n", listing.shown, listing.shown == 1 ? "y" : "ies",
	       unreadable,
	       unreadable > 0 ? " (sealed under another key, an older format, or damaged; \""
	                        NP_CTL_PROGRAM " cache purge --expired\" removes them)"
	                      : "");
	return NP_CTL_EXIT_OK;
}

/* ---- purge ---- */

static int purge_entries(struct np_cache *c, const char *account)
{
	int removed = np_cache_purge(c, account);
	char shown[sizeof ((struct np_cache_meta *)0)->account];

	if (removed < 0)
		return np_ctl_fail("cannot remove the cache entries");
	if (account != NULL)
		printf("Removed %d cache entr%s of account %s.\n", removed, removed == 1 ? "y" : "ies",
		       np_ctl_column(account, shown, sizeof shown));
	else
		printf("Removed %d cache entr%s.\n", removed, removed == 1 ? "y" : "ies");
	return NP_CTL_EXIT_OK;
}

/* ---- purge --expired ---- */

static void show_swept(const struct np_cache_swept *entry, void *arg)
{
	(void)arg;
	if (entry->unlink_errno == 0)
		printf("Removed %s: %s.\n", entry->file, entry->why);
	else
		printf("Could not remove %s (%s): %s.\n", entry->file, entry->why,
		       strerror(entry->unlink_errno));
}

static int purge_stale_entries(struct np_cache *c, const char *dir)
{
	struct np_cache_sweep sweep = { .now = (int64_t)time(NULL), .swept = show_swept };

	if (np_cache_sweep(c, &sweep) != 0)
		return np_ctl_fail("cannot read the cache directory %s", dir);
	printf("Removed %u stale or unreadable cache file%s, kept %u.\n", sweep.removed,
	       sweep.removed == 1 ? "" : "s", sweep.examined - sweep.removed - sweep.failed);
	if (sweep.failed > 0)
		return np_ctl_fail("could not remove %u of them", sweep.failed);
	return NP_CTL_EXIT_OK;
}

/* Without the key no entry can be told apart, but every one can still go. */
static int purge_all_without_key(const struct np_config *cfg, const char *why)
{
	struct np_cache c;
	char err[1024] = "";
	int rc;

	if (np_cache_open_dir(&c, cfg->cache_dir, err, sizeof err) != NP_CACHE_OK) {
		np_cache_close(&c);
		return np_ctl_fail("cannot open the cache: %s", err);
	}
	printf("The cache key cannot be used (%s): removing every entry.\n", why);
	rc = purge_entries(&c, NULL);
	np_cache_close(&c);
	return rc;
}

/* What a cache command is asked to do. */
struct cache_request {
	bool purge;
	bool expired;          /* purge --expired */
	const char *account;   /* purge ACCOUNT */
};

/* What to do when the cache does not open with its key. */
static int cache_unusable(const struct np_config *cfg, const struct cache_request *req,
                          enum np_cache_status status, const char *err)
{
	if (req->expired)
		return np_ctl_fail("cannot tell stale entries from good ones without the cache key: %s "
		                   "(\"" NP_CTL_PROGRAM " cache purge\" without --expired removes "
		                   "every entry, key or not)",
		                   err);
	if (req->purge && req->account == NULL)
		return purge_all_without_key(cfg, err);
	if (req->purge)
		return np_ctl_fail("cannot tell which entries are %s's: %s (\"" NP_CTL_PROGRAM
		                   " cache purge\" without an account removes every entry, key or not)",
		                   req->account, err);
	if (status == NP_CACHE_UNAVAILABLE)
		return np_ctl_fail("cannot read the cache key, so the entries cannot be shown: %s", err);
	return np_ctl_fail("cannot open the cache: %s", err);
}

/* ---- the command ---- */

static bool cache_dir_missing(const struct np_config *cfg)
{
	struct stat st;

	return lstat(cfg->cache_dir, &st) != 0 && errno == ENOENT;
}

static int run_cache(const struct cache_request *req, const char *config_opt)
{
	struct np_config cfg;
	struct np_cache c;
	char err[1024] = "";
	enum np_cache_status status;
	int rc;

	if (np_ctl_load_config(&cfg, config_opt, err, sizeof err) != 0)
		return np_ctl_fail("cannot use the settings: %s", err);
	if (cache_dir_missing(&cfg)) {
		if (req->purge)
			printf("Removed 0 cache entries (%s does not exist).\n", cfg.cache_dir);
		else
			printf("No cache entries: %s does not exist.\n", cfg.cache_dir);
		return NP_CTL_EXIT_OK;
	}
	status = np_cache_open(&c, cfg.cache_dir, cfg.cache_key, false, err, sizeof err);
	if (status != NP_CACHE_OK)
		return cache_unusable(&cfg, req, status, err);
	if (req->expired)
		rc = purge_stale_entries(&c, cfg.cache_dir);
	else if (req->purge)
		rc = purge_entries(&c, req->account);
	else
		rc = list_entries(&c, cfg.cache_dir);
	np_cache_close(&c);
	return rc;
}

int np_ctl_cache(int argc, char **argv)
{
	const char *config_opt = NULL;
	struct cache_request req = { .purge = false };
	const struct np_ctl_option opts[] = { { "--config", &config_opt } };
	const struct np_ctl_flag flags[] = { { "--expired", &req.expired } };
	const char *operands[2] = { NULL, NULL };
	size_t n_operands = 0;
	const struct np_ctl_syntax syntax = { cache_help, opts, 1, operands, 2 };
	int parsed;

	parsed = np_ctl_parse_args_and_flags(argc, argv, &syntax, flags, 1, &n_operands);
	if (parsed >= 0)
		return parsed;
	if (n_operands == 0)
		return np_ctl_usage_error("cache", "which one: list or purge?");
	req.purge = strcmp(operands[0], "purge") == 0;
	req.account = n_operands > 1 ? operands[1] : NULL;
	if (!req.purge && strcmp(operands[0], "list") != 0)
		return np_ctl_usage_error("cache", "unknown subcommand \"%.64s\" (list or purge)",
		                          operands[0]);
	if (!req.purge && req.account != NULL)
		return np_ctl_usage_error("cache list", "takes no account");
	if (!req.purge && req.expired)
		return np_ctl_usage_error("cache list", "takes no --expired (purge does)");
	if (req.expired && req.account != NULL)
		return np_ctl_usage_error("cache purge", "--expired takes no account: it looks at "
		                          "every entry");
	return run_cache(&req, config_opt);
}
