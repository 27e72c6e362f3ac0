/* SPDX-License-Identifier: BSD-2-Clause */
#include "module/approval.h"

#include <security/pam_ext.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/sanitize.h"
#include "module/audit.h"
#include "module/scope.h"

/*
 * How many entries of other sign-ins one sign-in looks at, at most, picked at
 * random: a bound on the time a sign-in spends on others' entries whatever
 * the directory holds (each costs one small read and one decryption), and
 * still more than the one entry a sign-in can add, so stale ones are
 * collected faster than they can pile up (docs/CACHE.md, "Sweeping").
 */
#define SWEEP_PER_SIGN_IN 16
/* One line says what a sweep removed: up to SWEEP_PER_SIGN_IN names and reasons. */
#define SWEEP_NOTE_MAX 2048

/* "cache: what: err": what is ours; err may carry a path or a map's reason, so it is quoted. */
static void cache_line(char *out, size_t out_size, const char *what, const char *err)
{
	char quoted[SWEEP_NOTE_MAX + 64];

	np_log_quote(quoted, sizeof quoted, err);
	snprintf(out, out_size, "cache: %s%s%s", what, err[0] != '\0' ? ": " : "",
	         err[0] != '\0' ? quoted : "");
}

static void cache_log(struct np_signin *s, int priority, const char *what, const char *err)
{
	char line[SWEEP_NOTE_MAX + 192];

	cache_line(line, sizeof line, what, err);
	pam_syslog(s->pamh, priority, "%s", line);
}

/* An entry found and not used is an event: cause says why in one word (NEXTPAY_REASON). */
static void cache_refused(struct np_signin *s, int priority, const char *cause,
                          const char *what, const char *err)
{
	char line[1024];

	cache_line(line, sizeof line, what, err);
	np_audit_event(s, NP_EVENT_CACHE_REFUSED, priority, cause, "%s", line);
}

/*
 * Whoever asked for this sign-in, as sudo's own timestamps see them: the real
 * uid of the calling process, and PAM_RUSER when the application sets it.
 * Under su, sudo with targetpw or rootpw, and polkit, PAM_USER is not the
 * person at the keyboard; an approval must never serve another invoker.
 */
static void invoking_user(const struct np_signin *s, unsigned long *uid, const char **name)
{
	*uid = (unsigned long)getuid();
	*name = np_signin_item(s, PAM_RUSER);
}

/*
 * The parts only the session scope has: the controlling terminal that
 * PAM_TTY names, the remote host and the session.  Without such a terminal
 * (display managers, lock screens, daemons, sshd's authentication process)
 * nothing is stored or reused: another person may be next at the same seat,
 * in the same long-lived session.  That is their normal case, so it is logged
 * only with debug.
 */
static bool session_parts(struct np_signin *s, struct np_scope_parts *parts, char *terminal,
                          size_t terminal_size)
{
	const char *tty = np_signin_item(s, PAM_TTY);
	const char *why = "";
	char quoted_why[128], quoted_tty[512];

	if (np_scope_terminal(tty, terminal, terminal_size, &why) != 0) {
		if (s->cfg.debug) {
			np_log_quote(quoted_why, sizeof quoted_why, why);
			np_log_quote(quoted_tty, sizeof quoted_tty, tty);
			pam_syslog(s->pamh, LOG_DEBUG, "cache: not caching in session scope: %s tty=%s",
			           quoted_why, quoted_tty);
		}
		return false;
	}
	if (np_scope_session_leader(&parts->sid, &parts->leader_start) != 0) {
		cache_log(s, LOG_WARNING, "cannot identify the session leader; not caching", "");
		return false;
	}
	parts->terminal = terminal;
	parts->rhost = np_signin_item(s, PAM_RHOST);
	return true;
}

struct sweep_note {
	char text[SWEEP_NOTE_MAX];
	size_t len;
};

/* "0123456789abcdef...: token expired; ..." for the one line a sweep logs. */
static void note_swept(const struct np_cache_swept *entry, void *arg)
{
	struct sweep_note *note = arg;
	int n = snprintf(note->text + note->len, sizeof note->text - note->len, "%s%s: %s%s%s",
	                 note->len > 0 ? "; " : "", entry->file, entry->why,
	                 entry->unlink_errno != 0 ? ", cannot remove it: " : "",
	                 entry->unlink_errno != 0 ? strerror(entry->unlink_errno) : "");

	if (n > 0)
		note->len += (size_t)n < sizeof note->text - note->len ? (size_t)n
		                                                       : sizeof note->text - note->len - 1;
}

/*
 * Removes stale and unreadable entries of other scopes, a few per sign-in;
 * one cache-swept event if any, whose NEXTPAY_REASON is the count.
 */
static void sweep_stale_entries(struct np_signin *s)
{
	struct sweep_note note = { .len = 0 };
	struct np_cache_sweep sweep = {
		.now = (int64_t)time(NULL),
		.limit = SWEEP_PER_SIGN_IN,
		.keep_scope = s->scope,
		.swept = note_swept,
		.arg = &note,
	};
	char what[128];
	char line[SWEEP_NOTE_MAX + 192];

	note.text[0] = '\0';
	if (np_cache_sweep(&s->cache, &sweep) != 0 || sweep.removed + sweep.failed == 0)
		return;
	snprintf(what, sizeof what, "removed %u stale or unreadable entr%s%s", sweep.removed,
	         sweep.removed == 1 ? "y" : "ies",
	         sweep.failed > 0 ? ", and could not remove some" : "");
	cache_line(line, sizeof line, what, note.text);
	np_audit_event(s, NP_EVENT_CACHE_SWEPT, sweep.failed > 0 ? LOG_WARNING : LOG_NOTICE, what,
	               "%s", line);
}

/*
 * The scope this sign-in's entry lives in.  cache_scope = key binds to the
 * public keys sshd says the connection completed (sshd_keys.h); where there
 * are none (keyboard-interactive alone, another service, text that did not
 * parse) it falls back to the session scope, which under sshd stores
 * nothing: never to the user scope, which would let a connection that
 * proved no key reuse an approval given after one that did.
 */
static enum np_cache_scope scope_kind(struct np_signin *s)
{
	if (s->cfg.cache_scope != NP_SCOPE_KEY || s->ssh_keys[0] != '\0')
		return s->cfg.cache_scope;
	if (s->cfg.debug)
		cache_log(s, LOG_DEBUG, "no public key from sshd; session scope instead of key scope",
		          "");
	return NP_SCOPE_SESSION;
}

void np_approval_open(struct np_signin *s)
{
	struct np_scope_parts parts = { .account = s->account, .service = s->service,
		                            .ssh_keys = s->ssh_keys };
	char terminal[NP_SCOPE_TERMINAL_MAX];
	char err[512] = "";
	enum np_cache_status status;

	if (!s->cfg.cache)
		return;
	s->scope_kind = scope_kind(s);
	invoking_user(s, &parts.invoker_uid, &parts.invoker_name);
	if (s->scope_kind == NP_SCOPE_SESSION && !session_parts(s, &parts, terminal, sizeof terminal))
		return;
	if (np_scope_string(s->scope_kind, &parts, s->scope, sizeof s->scope) != 0) {
		cache_log(s, LOG_WARNING, "scope too long; not caching", "");
		return;
	}
	status = np_cache_open(&s->cache, s->cfg.cache_dir, s->cfg.cache_key, true, err, sizeof err);
	/* A process that may not read the key (a screen locker as the user) goes on quietly. */
	if (status == NP_CACHE_UNAVAILABLE && s->cfg.debug)
		cache_log(s, LOG_DEBUG, "not available", err);
	else if (status == NP_CACHE_ERROR)
		cache_log(s, LOG_ERR, "not used", err);
	s->cache_ready = status == NP_CACHE_OK;
	/* Its own entry is left to np_cache_load(), which judges it by this stack's settings. */
	if (s->cache_ready)
		sweep_stale_entries(s);
}

/*
 * After /auth/me confirmed the entry: the time of that confirmation is stored
 * with it (the same file, replaced atomically), so that offline_grace counts
 * from the last time NextPay vouched for the token, not from the approval.
 * Nothing else changes: cache_ttl still counts from the approval.  Only with
 * offline_grace set, as nothing else reads the time (and it costs a write).
 */
static void refresh_confirmation(struct np_signin *s, struct np_cache_meta *meta,
                                 const struct np_cache_payload *entry, int64_t now)
{
	char err[512] = "";

	if (s->cfg.offline_grace == 0)
		return;
	meta->confirmed = now;
	if (np_cache_store(&s->cache, s->scope, meta, entry, err, sizeof err) != NP_CACHE_OK)
		cache_log(s, LOG_WARNING, "confirmation time not stored", err);
}

/*
 * Why the entry may not stand in for NextPay now that it did not answer at
 * all (NULL: it may).  Nothing but a failure to reach NextPay qualifies: a
 * TLS failure may be someone in the path who wants exactly this, and a 5xx,
 * a malformed answer or a helper that failed is NextPay (or this host)
 * answering.  The token must have a known exp ahead (np_cache_load has
 * checked it is ahead, and cache_ttl): a token NextPay would no longer accept
 * online must never serve offline.
 */
static const char *offline_refusal(const struct np_signin *s, enum np_client_status status,
                                   const struct np_cache_meta *meta,
                                   const struct np_cache_payload *entry, int64_t now)
{
	if (status != NP_CLIENT_FAILED || s->client.msg.failure.reason != NP_FAIL_UNREACHABLE)
		return "NextPay answered, or the helper failed";
	if (s->no_such_account)
		return "no such local account";
	if (entry->token_exp == 0 || meta->token_exp != entry->token_exp)
		return "the token's expiry is unknown";
	if (strcmp(meta->user_id, entry->user_id) != 0)
		return "the entry names two identities";
	if (meta->confirmed <= 0 || meta->confirmed > now)
		return "confirmation time unknown or in the future (clock moved back)";
	if (now - meta->confirmed >= (int64_t)s->cfg.offline_grace)
		return "last confirmed online longer ago than offline_grace";
	return NULL;
}

/*
 * NextPay did not answer while the entry was being re-checked: with
 * offline_grace, an entry confirmed online recently enough signs in without
 * it, if the map still allows its identity.  Every such sign-in is logged at
 * LOG_WARNING (audit.c) with the method cached-offline.  NOT_DECIDED when it
 * may not; the caller then ends the sign-in as NextPay's silence says.
 */
static int offline_reuse(struct np_signin *s, enum np_client_status status,
                         const struct np_cache_meta *meta, const struct np_cache_payload *entry,
                         int64_t now)
{
	const struct np_account account = { s->account, s->account_personal };
	const char *refusal;
	const char *why = NULL;
	char reason[sizeof s->reason];

	if (s->cfg.offline_grace == 0)
		return NOT_DECIDED;
	refusal = offline_refusal(s, status, meta, entry, now);
	if (refusal != NULL) {
		cache_refused(s, LOG_NOTICE, "offline", "not reused offline", refusal);
		return NOT_DECIDED;
	}
	if (!np_usermap_allows(&s->map, &s->cfg, &account, entry->user_id, entry->email, &why)) {
		np_cache_remove(&s->cache, s->scope);
		cache_refused(s, LOG_NOTICE, "not-allowed",
		              "identity no longer allowed by the map; entry removed", why);
		return NOT_DECIDED;
	}
	snprintf(s->user_id, sizeof s->user_id, "%s", entry->user_id);
	s->method = NP_METHOD_CACHED_OFFLINE;
	s->offline = true;
	snprintf(reason, sizeof reason,
	         "NextPay unreachable; last confirmed online %lld s ago, offline_grace %u s; %s",
	         (long long)(now - meta->confirmed), s->cfg.offline_grace, why != NULL ? why : "");
	return np_signin_outcome(s, PAM_SUCCESS, "success", reason);
}

int np_approval_reuse(struct np_signin *s)
{
	const struct np_account account = { s->account, s->account_personal };
	struct np_client *c = &s->client;
	struct np_cache_payload *entry = NULL;
	struct np_cache_meta meta;
	char err[512] = "";
	const char *why = NULL;
	enum np_client_status status;
	int64_t now = (int64_t)time(NULL);
	int rc = NOT_DECIDED;

	if (!s->cache_ready)
		return NOT_DECIDED;
	entry = sodium_malloc(sizeof *entry);
	if (entry == NULL)
		return NOT_DECIDED;
	if (np_cache_load(&s->cache, s->scope, s->cfg.cache_ttl, now, &meta, entry, err,
	                  sizeof err) != NP_CACHE_OK) {
		if (err[0] != '\0')
			cache_refused(s, LOG_NOTICE, "unusable", "entry not used", err);
		goto out;
	}
	np_msg_init(&c->msg, NP_MSG_WHOAMI);
	snprintf(c->msg.token, sizeof c->msg.token, "%s", entry->token);
	status = np_client_send(c);
	np_msg_wipe(&c->msg);
	if (status != NP_CLIENT_OK)
		goto out;
	status = np_client_expect(c, np_client_wait_ms(c, np_client_call_limit_ms(c)),
	                          NP_MSG_IDENTITY, NP_MSG_IDENTITY);
	/* A whoami still unanswered at the deadline is the API's silence, not an expired code. */
	if (status == NP_CLIENT_EXPIRED)
		status = NP_CLIENT_SILENT;
	if (status == NP_CLIENT_FAILED && c->msg.failure.reason == NP_FAIL_UNAUTHORIZED) {
		/* Revoked: forget it, and ask for a new approval. */
		np_cache_remove(&s->cache, s->scope);
		cache_refused(s, LOG_NOTICE, "revoked", "token no longer accepted; entry removed", "");
		goto out;
	}
	if (status == NP_CLIENT_UNEXPECTED ||
	    (status == NP_CLIENT_OK && strcmp(c->msg.identity.user_id, entry->user_id) != 0)) {
		np_cache_remove(&s->cache, s->scope);
		cache_refused(s, LOG_WARNING, "another-identity",
		              "token answered for another identity; entry removed", "");
		goto out;
	}
	/*
	 * Unreachable, stalled or otherwise unusable: keep the entry, but neither
	 * log in on it (unless offline_grace allows it) nor start a device flow
	 * against the same API, which would only keep the person waiting for the
	 * same failure.
	 */
	if (status != NP_CLIENT_OK) {
		rc = offline_reuse(s, status, &meta, entry, now);
		if (rc == NOT_DECIDED) {
			s->method = NP_METHOD_CACHED_APPROVAL;
			rc = np_signin_verdict(s, status);
		}
		goto out;
	}
	if (!np_usermap_allows(&s->map, &s->cfg, &account, c->msg.identity.user_id,
	                       c->msg.identity.email, &why)) {
		np_cache_remove(&s->cache, s->scope);
		cache_refused(s, LOG_NOTICE, "not-allowed",
		              "identity no longer allowed by the map; entry removed", why);
		goto out;
	}
	snprintf(s->user_id, sizeof s->user_id, "%s", c->msg.identity.user_id);
	s->method = NP_METHOD_CACHED_APPROVAL;
	rc = np_signin_outcome(s, PAM_SUCCESS, "success", why);
	refresh_confirmation(s, &meta, entry, now);
out:
	sodium_memzero(&meta, sizeof meta);
	sodium_free(entry);
	return rc;
}

void np_approval_remember(struct np_signin *s)
{
	struct np_cache_meta meta;
	struct np_cache_payload *entry;
	const struct np_msg_identity *who = &s->client.msg.identity;
	int64_t now = (int64_t)time(NULL);
	unsigned long invoker_uid = 0;
	const char *invoker_name = "";
	char err[512] = "";

	if (!s->cache_ready || who->token[0] == '\0')
		return;
	entry = sodium_malloc(sizeof *entry);
	if (entry == NULL)
		return;
	memset(&meta, 0, sizeof meta);
	memset(entry, 0, sizeof *entry);
	snprintf(meta.account, sizeof meta.account, "%s", s->account);
	invoking_user(s, &invoker_uid, &invoker_name);
	meta.invoker_uid = (int64_t)invoker_uid;
	np_sanitize_str(meta.invoker_name, sizeof meta.invoker_name, invoker_name);
	snprintf(meta.scope_kind, sizeof meta.scope_kind, "%s", np_scope_kind_name(s->scope_kind));
	snprintf(meta.service, sizeof meta.service, "%s", s->service);
	np_sanitize_str(meta.tty, sizeof meta.tty, np_signin_item(s, PAM_TTY));
	snprintf(meta.rhost, sizeof meta.rhost, "%s", s->rhost_shown);
	snprintf(meta.user_id, sizeof meta.user_id, "%s", who->user_id);
	meta.created = now;
	meta.expires = now + (int64_t)s->cfg.cache_ttl;
	meta.token_exp = who->token_exp;
	snprintf(meta.ssh_key, sizeof meta.ssh_key, "%s", s->ssh_keys);
	/* The approval itself is NextPay's first confirmation. */
	meta.confirmed = now;
	snprintf(entry->token, sizeof entry->token, "%s", who->token);
	snprintf(entry->user_id, sizeof entry->user_id, "%s", who->user_id);
	snprintf(entry->email, sizeof entry->email, "%s", who->email);
	entry->created = now;
	entry->token_exp = who->token_exp;
	if (np_cache_store(&s->cache, s->scope, &meta, entry, err, sizeof err) != NP_CACHE_OK)
		cache_log(s, LOG_WARNING, "approval not stored", err);
	sodium_free(entry);
}

