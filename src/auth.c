#include "auth.h"

#include <errno.h>
#include <pwd.h>
#include <security/pam_appl.h>
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

#include "cache.h"
#include "config.h"
#include "conv.h"
#include "helper_proc.h"
#include "protocol.h"
#include "qr.h"
#include "sanitize.h"
#include "usermap.h"

#define ACCOUNT_MAX 256
#define ACCOUNT_SHOWN 32
#define HOST_SHOWN 48
#define READY_TIMEOUT_MS 10000
#define ANSWER_MAX 512
#define PROGRESS_EVERY_MS 30000
/* pam_set_data name (and value) left on the handle once the person said no. */
#define DENIED_MARK "pam_nextpay.denied"
#define NOT_SET_UP \
	"NextPay sign-in is not set up correctly on this host. Please contact your administrator."

/* Everything one sign-in needs; on the heap, as hosts may run PAM on small stacks. */
struct session {
	pam_handle_t *pamh;
	struct np_config cfg;
	struct np_usermap map;
	struct np_helper helper;
	struct np_msg msg;          /* the last message from the helper */
	struct np_msg_code code;    /* the code being shown */
	const char *service;
	const char *account;
	char account_shown[ACCOUNT_SHOWN + 1];
	char host_shown[HOST_SHOWN + 1];
	char rhost_shown[128];
	long long deadline_ms;      /* CLOCK_MONOTONIC */
	char user_id[NP_USER_ID_MAX + 1];
	const char *result;         /* one word for the log */
	char reason[256];           /* for the log: what happened, no secrets */
	const char *method;         /* how the identity was established, for the log */
	struct np_cache cache;
	bool cache_ready;           /* key read, directory usable, scope known */
	char scope[NP_CACHE_SCOPE_MAX];
};

static long long monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long ms_left(const struct session *s)
{
	long long left = s->deadline_ms - monotonic_ms();

	return left > 0 ? left : 0;
}

static int wait_ms_bounded(const struct session *s, long long limit_ms)
{
	long long left = ms_left(s);

	if (limit_ms >= 0 && limit_ms < left)
		left = limit_ms;
	return left > 3600000 ? 3600000 : (int)left;
}

static int outcome(struct session *s, int rc, const char *result, const char *reason)
{
	s->result = result;
	snprintf(s->reason, sizeof s->reason, "%s", reason);
	return rc;
}

/* Tells the person why, in words that need no knowledge of the internals. */
static void tell(struct session *s, const char *text)
{
	(void)np_conv_show(s->pamh, PAM_ERROR_MSG, text);
}

static void shorten(char *dst, size_t dst_size, const char *src)
{
	char clean[ACCOUNT_MAX * 4 + 1];
	size_t len = np_sanitize_str(clean, sizeof clean, src);

	if (len < dst_size) {
		memcpy(dst, clean, len + 1);
		return;
	}
	np_sanitize(dst, dst_size - 3, clean, len);
	strcat(dst, "...");
}

static void describe_host(struct session *s)
{
	char host[256] = "";
	const void *rhost = NULL;

	if (gethostname(host, sizeof host - 1) != 0)
		snprintf(host, sizeof host, "this host");
	host[sizeof host - 1] = '\0';
	shorten(s->host_shown, sizeof s->host_shown, host);
	if (pam_get_item(s->pamh, PAM_RHOST, &rhost) != PAM_SUCCESS || rhost == NULL)
		rhost = "";
	np_sanitize_str(s->rhost_shown, sizeof s->rhost_shown, rhost);
}

static int load_settings(struct session *s, int argc, const char **argv)
{
	char err[512];

	if (np_config_load(&s->cfg, argc, argv, err, sizeof err) != 0) {
		char clean[512];

		np_sanitize_str(clean, sizeof clean, err);
		pam_syslog(s->pamh, LOG_ERR, "configuration error: %s", clean);
		tell(s, NOT_SET_UP);
		return outcome(s, PAM_SERVICE_ERR, "error", "configuration error");
	}
	return PAM_SUCCESS;
}

static bool account_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > ACCOUNT_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)name[i] < 0x21 || (unsigned char)name[i] == 0x7F)
			return false;
	return true;
}

static int find_account(struct session *s)
{
	const char *user = NULL;
	struct passwd pw;
	struct passwd *found = NULL;
	long size_hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t buf_size = size_hint > 0 ? (size_t)size_hint : 16384;
	char *buf;
	int rc;

	rc = pam_get_user(s->pamh, &user, NULL);
	if (rc != PAM_SUCCESS || user == NULL) {
		s->account_shown[0] = '\0';
		return outcome(s, rc == PAM_CONV_AGAIN ? PAM_INCOMPLETE : PAM_USER_UNKNOWN, "error",
		               "no user name");
	}
	s->account = user;
	shorten(s->account_shown, sizeof s->account_shown, user);
	if (!account_name_ok(user))
		return outcome(s, PAM_USER_UNKNOWN, "failure", "malformed user name");
	for (;;) {
		buf = malloc(buf_size);
		if (buf == NULL)
			return outcome(s, PAM_BUF_ERR, "error", "out of memory");
		rc = getpwnam_r(user, &pw, buf, buf_size, &found);
		free(buf);
		if (rc != ERANGE || buf_size > 1024 * 1024)
			break;
		buf_size *= 2;
	}
	if (rc != 0)
		return outcome(s, PAM_SERVICE_ERR, "error", "account lookup failed");
	if (found == NULL)
		return outcome(s, PAM_USER_UNKNOWN, "failure", "no such local account");
	return PAM_SUCCESS;
}

static int load_map(struct session *s)
{
	char err[512];

	/* With e-mail local parts as a rule of their own, a map file is optional. */
	if (np_usermap_load(&s->map, s->cfg.usermap, s->cfg.map_email_localpart, err,
	                    sizeof err) != 0) {
		char clean[512];

		np_sanitize_str(clean, sizeof clean, err);
		pam_syslog(s->pamh, LOG_ERR, "identity map: %s", clean);
		tell(s, NOT_SET_UP);
		return outcome(s, PAM_SERVICE_ERR, "error", "identity map unusable");
	}
	return PAM_SUCCESS;
}

/* What a failure message from the helper means for the person and for PAM. */
static int failure_outcome(struct session *s, const struct np_msg_failure *f)
{
	char reason[sizeof s->reason];

	snprintf(reason, sizeof reason, "%s%s%s", np_failure_reason_name(f->reason),
	         f->detail[0] != '\0' ? ": " : "", f->detail);
	switch (f->reason) {
	case NP_FAIL_DENIED:
		tell(s, "The sign-in was denied in NextPay.");
		/*
		 * PAM_MAXTRIES stops sshd from starting over with a fresh code; sudo
		 * 1.9 retries anyway, on the same handle: the mark makes those
		 * retries end at once.
		 */
		(void)pam_set_data(s->pamh, DENIED_MARK, (void *)(uintptr_t)DENIED_MARK, NULL);
		return outcome(s, PAM_MAXTRIES, "denied", reason);
	case NP_FAIL_EXPIRED:
	case NP_FAIL_TIMEOUT:
		tell(s, "The code expired before it was approved. Please try again.");
		return outcome(s, PAM_AUTH_ERR, "expired", reason);
	case NP_FAIL_UNAUTHORIZED:
		tell(s, "NextPay did not accept the sign-in.");
		return outcome(s, PAM_AUTH_ERR, "failure", reason);
	case NP_FAIL_CONFIG:
		tell(s, NOT_SET_UP);
		return outcome(s, PAM_SERVICE_ERR, "error", reason);
	case NP_FAIL_UNAVAILABLE:
	case NP_FAIL_TLS:
	case NP_FAIL_MALFORMED:
	case NP_FAIL_INTERNAL:
	default:
		tell(s, "NextPay could not be reached. Please try again later.");
		return outcome(s, PAM_AUTHINFO_UNAVAIL, "unavailable", reason);
	}
}

static int helper_trouble(struct session *s, enum np_helper_recv_status status,
                          const char *err)
{
	char reason[sizeof s->reason];

	if (status == NP_RECV_TIMEOUT)
		snprintf(reason, sizeof reason, "no answer from the helper in time");
	else
		snprintf(reason, sizeof reason, "helper: %s", err);
	tell(s, "NextPay could not be reached. Please try again later.");
	return outcome(s, PAM_AUTHINFO_UNAVAIL, "unavailable", reason);
}

static int timed_out(struct session *s)
{
	tell(s, "The code expired before it was approved. Please try again.");
	return outcome(s, PAM_AUTH_ERR, "expired", "login_timeout or code lifetime passed");
}

/* Judges what np_helper_recv() brought: failures and surprises end the wait. */
static int judge(struct session *s, enum np_helper_recv_status status, const char *err,
                 enum np_msg_type want1, enum np_msg_type want2)
{
	if (status == NP_RECV_TIMEOUT && ms_left(s) == 0)
		return timed_out(s);
	if (status != NP_RECV_OK)
		return helper_trouble(s, status, err);
	if (s->msg.type == NP_MSG_FAILURE)
		return failure_outcome(s, &s->msg.failure);
	if (s->msg.type != want1 && s->msg.type != want2)
		return helper_trouble(s, NP_RECV_BROKEN, "unexpected message");
	return PAM_SUCCESS;
}

/* Waits for the next message of one of the wanted kinds. */
static int expect(struct session *s, int timeout_ms, enum np_msg_type want1,
                  enum np_msg_type want2)
{
	char err[256] = "";
	enum np_helper_recv_status status;

	np_msg_wipe(&s->msg);
	status = np_helper_recv(&s->helper, timeout_ms, &s->msg, err, sizeof err);
	return judge(s, status, err, want1, want2);
}

static int start_helper(struct session *s)
{
	char err[512];
	int rc;

	np_helper_init(&s->helper);
	if (np_helper_start(&s->helper, s->cfg.helper, err, sizeof err) != 0) {
		char clean[512];

		np_sanitize_str(clean, sizeof clean, err);
		pam_syslog(s->pamh, LOG_ERR, "%s", clean);
		tell(s, NOT_SET_UP);
		return outcome(s, PAM_SERVICE_ERR, "error", "helper cannot be started");
	}
	np_msg_init(&s->msg, NP_MSG_CONFIG);
	snprintf(s->msg.config.api_url, sizeof s->msg.config.api_url, "%s", s->cfg.api_url);
	snprintf(s->msg.config.ca_file, sizeof s->msg.config.ca_file, "%s", s->cfg.ca_file);
	snprintf(s->msg.config.pinned_pubkey, sizeof s->msg.config.pinned_pubkey, "%s",
	         s->cfg.pinned_pubkey);
	snprintf(s->msg.config.proxy, sizeof s->msg.config.proxy, "%s", s->cfg.proxy);
	snprintf(s->msg.config.helper_user, sizeof s->msg.config.helper_user, "%s",
	         s->cfg.helper_user);
	s->msg.config.connect_timeout = s->cfg.connect_timeout;
	s->msg.config.request_timeout = s->cfg.request_timeout;
	if (np_helper_send(&s->helper, &s->msg) != 0)
		return helper_trouble(s, NP_RECV_GONE, "cannot talk to the helper");
	rc = expect(s, wait_ms_bounded(s, READY_TIMEOUT_MS), NP_MSG_READY, NP_MSG_READY);
	if (rc == PAM_SUCCESS && s->cfg.debug)
		pam_syslog(s->pamh, LOG_DEBUG, "helper %s started as pid %ld", s->cfg.helper,
		           (long)s->helper.pid);
	return rc;
}

static void format_lifetime(char *out, size_t out_size, long long seconds)
{
	if (seconds < 120)
		snprintf(out, out_size, "%lld seconds", seconds);
	else
		snprintf(out, out_size, "%lld minutes", (seconds + 30) / 60);
}

static void instructions(const struct session *s, const char *last_line, char *out,
                         size_t out_size)
{
	char lifetime[32];

	format_lifetime(lifetime, sizeof lifetime, (ms_left(s) + 999) / 1000);
	snprintf(out, out_size,
	         "NextPay sign-in to %s as %s.\n"
	         "Open %s\n"
	         "and approve code %s (valid for %s).\n"
	         "%s",
	         s->host_shown, s->account_shown, s->code.verification_url, s->code.code, lifetime,
	         last_line);
}

static int receive_code(struct session *s)
{
	long long lifetime_ms;
	int rc;

	np_msg_init(&s->msg, NP_MSG_DEVICE_LOGIN);
	snprintf(s->msg.login.intent, sizeof s->msg.login.intent, "%s", s->cfg.intent);
	s->msg.login.poll_interval = s->cfg.poll_interval;
	s->msg.login.timeout = (unsigned)((ms_left(s) + 999) / 1000);
	s->msg.login.want_token = s->cache_ready;
	if (np_helper_send(&s->helper, &s->msg) != 0)
		return helper_trouble(s, NP_RECV_GONE, "cannot talk to the helper");
	s->method = "device code";
	rc = expect(s, wait_ms_bounded(s, -1), NP_MSG_CODE, NP_MSG_CODE);
	if (rc != PAM_SUCCESS)
		return rc;
	s->code = s->msg.code;
	/* The code's own lifetime bounds the sign-in as much as login_timeout does. */
	lifetime_ms = ((long long)s->code.expires_at - (long long)time(NULL)) * 1000;
	if (lifetime_ms <= 0) {
		tell(s, "The code expired before it was approved. Please try again.");
		return outcome(s, PAM_AUTH_ERR, "expired", "code arrived already expired");
	}
	if (monotonic_ms() + lifetime_ms < s->deadline_ms)
		s->deadline_ms = monotonic_ms() + lifetime_ms;
	if (s->cfg.debug)
		pam_syslog(s->pamh, LOG_DEBUG, "device code issued, %lld s to approve",
		           ms_left(s) / 1000);
	return PAM_SUCCESS;
}

/*
 * qr = yes: the URL as a QR code, in as few messages as PAM_MAX_MSG_SIZE
 * allows.  No message ends in a newline: applications add their own, and a
 * blank line would cut the code in two.
 */
static int show_qr(struct session *s)
{
	char drawing[NP_QR_LINES_MAX * 80 * 3 + NP_QR_LINES_MAX + 1];
	char chunk[PAM_MAX_MSG_SIZE];
	int n_lines = 0;
	size_t used = 0;

	if (!s->cfg.qr)
		return PAM_SUCCESS;
	if (np_qr_render(s->code.verification_url, drawing, sizeof drawing, &n_lines) != 0) {
		pam_syslog(s->pamh, LOG_WARNING, "QR code not drawn: URL too long");
		return PAM_SUCCESS;
	}
	for (const char *line = drawing; *line != '\0';) {
		const char *end = strchr(line, '\n');
		size_t len = (size_t)(end - line);

		if (used > 0 && used + 1 + len >= sizeof chunk) {
			if (np_conv_show(s->pamh, PAM_TEXT_INFO, chunk) != PAM_SUCCESS)
				return PAM_CONV_ERR;
			used = 0;
		}
		if (used > 0)
			chunk[used++] = '\n';
		memcpy(chunk + used, line, len);
		used += len;
		chunk[used] = '\0';
		line = end + 1;
	}
	if (used > 0 && np_conv_show(s->pamh, PAM_TEXT_INFO, chunk) != PAM_SUCCESS)
		return PAM_CONV_ERR;
	return PAM_SUCCESS;
}

/* wait = poll: instructions as information, then wait for the helper's verdict. */
static int wait_polling(struct session *s)
{
	char text[PAM_MAX_MSG_SIZE];
	int rc;

	instructions(s, "Waiting for your approval...", text, sizeof text);
	/* Shown even under PAM_SILENT (sudo always sets it): without it nobody can sign in. */
	rc = show_qr(s);
	if (rc == PAM_SUCCESS)
		rc = np_conv_show(s->pamh, PAM_TEXT_INFO, text);
	if (rc != PAM_SUCCESS)
		return outcome(s, PAM_CONV_ERR, "error", "conversation failed");
	for (long long next_note = monotonic_ms() + PROGRESS_EVERY_MS;;) {
		char err[256] = "";
		enum np_helper_recv_status status;
		long long until_note = next_note - monotonic_ms();

		np_msg_wipe(&s->msg);
		status = np_helper_recv(&s->helper, wait_ms_bounded(s, until_note > 0 ? until_note : 0),
		                        &s->msg, err, sizeof err);
		if (status == NP_RECV_TIMEOUT && ms_left(s) > 0) {
			/* A line now and then, not one per poll: a terminal is not a log. */
			if (monotonic_ms() >= next_note) {
				char lifetime[32];

				format_lifetime(lifetime, sizeof lifetime, (ms_left(s) + 999) / 1000);
				snprintf(text, sizeof text,
				         "Still waiting for approval of code %s (%s left)...", s->code.code,
				         lifetime);
				(void)np_conv_show(s->pamh, PAM_TEXT_INFO, text);
				next_note += PROGRESS_EVERY_MS;
			}
			continue;
		}
		rc = judge(s, status, err, NP_MSG_IDENTITY, NP_MSG_IDENTITY);
		if (rc != PAM_SUCCESS)
			return rc;
		return PAM_SUCCESS;
	}
}

/*
 * Exchanges an API key for a token and identity.  When the helper is busy
 * with a device flow (the key was typed at its prompt) a fresh helper does
 * it.  The key is wiped from the message as soon as it is sent.
 */
static int api_key_sign_in(struct session *s, const char *key, bool helper_busy)
{
	int rc = PAM_SUCCESS;

	if (helper_busy) {
		np_helper_stop(&s->helper);
		rc = start_helper(s);
	}
	if (rc != PAM_SUCCESS)
		return rc;
	s->method = "api key";
	np_msg_init(&s->msg, NP_MSG_API_KEY);
	snprintf(s->msg.api_key, sizeof s->msg.api_key, "%s", key);
	rc = np_helper_send(&s->helper, &s->msg);
	np_msg_wipe(&s->msg);
	if (rc != 0)
		return helper_trouble(s, NP_RECV_GONE, "cannot talk to the helper");
	rc = expect(s, wait_ms_bounded(s, -1), NP_MSG_IDENTITY, NP_MSG_IDENTITY);
	if (rc == PAM_SUCCESS || s->msg.type != NP_MSG_FAILURE ||
	    s->msg.failure.reason != NP_FAIL_UNAUTHORIZED)
		return rc;
	return outcome(s, PAM_AUTH_ERR, "failure", "API key refused");
}

/* use_first_pass / try_first_pass: the previous module's password may be an API key. */
enum { NOT_DECIDED = -1 };

static int first_pass_sign_in(struct session *s)
{
	const void *authtok = NULL;
	const char *key;
	int rc;

	if (!s->cfg.use_first_pass && !s->cfg.try_first_pass)
		return NOT_DECIDED;
	if (pam_get_item(s->pamh, PAM_AUTHTOK, &authtok) != PAM_SUCCESS)
		authtok = NULL;
	key = authtok;
	if (key == NULL || !np_valid_api_key(key, strlen(key))) {
		if (s->cfg.try_first_pass)
			return NOT_DECIDED;
		tell(s, "No NextPay API key was given.");
		return outcome(s, PAM_AUTH_ERR, "failure", "use_first_pass: no API key in PAM_AUTHTOK");
	}
	rc = api_key_sign_in(s, key, false);
	/* try_first_pass: a refused key still leaves the browser. */
	if (rc == PAM_AUTH_ERR && s->cfg.try_first_pass) {
		s->method = NULL;
		return NOT_DECIDED;
	}
	return rc;
}

/* ---- the approval cache ---- */

static void cache_log(struct session *s, int priority, const char *what, const char *err)
{
	char clean[512];

	np_sanitize_str(clean, sizeof clean, err);
	pam_syslog(s->pamh, priority, "cache: %s%s%s", what, clean[0] != '\0' ? ": " : "", clean);
}

static void open_cache(struct session *s)
{
	struct np_scope_parts parts = { .account = s->account, .service = s->service };
	const void *item = NULL;
	char err[512] = "";
	enum np_cache_status status;

	if (!s->cfg.cache)
		return;
	parts.tty = pam_get_item(s->pamh, PAM_TTY, &item) == PAM_SUCCESS && item != NULL ? item : "";
	item = NULL;
	parts.rhost =
		pam_get_item(s->pamh, PAM_RHOST, &item) == PAM_SUCCESS && item != NULL ? item : "";
	if (s->cfg.cache_scope == NP_SCOPE_SESSION &&
	    np_session_leader(&parts.sid, &parts.leader_start) != 0) {
		cache_log(s, LOG_WARNING, "cannot identify the session leader; not caching", "");
		return;
	}
	if (np_cache_scope(s->cfg.cache_scope == NP_SCOPE_SESSION, &parts, s->scope,
	                   sizeof s->scope) != 0) {
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
}

/*
 * Signs in with an earlier approval, if one is stored for this scope and the
 * API still accepts its token (and says it belongs to the same person).
 * Anything less falls back to the device flow: NOT_DECIDED.
 */
static int cached_sign_in(struct session *s)
{
	struct np_cache_payload *entry = NULL;
	char err[512] = "";
	const char *why = NULL;
	enum np_helper_recv_status status;
	int rc = NOT_DECIDED;
	long long limit_ms =
		(2 * ((long long)s->cfg.connect_timeout + (long long)s->cfg.request_timeout) + 2) * 1000;

	if (!s->cache_ready)
		return NOT_DECIDED;
	entry = sodium_malloc(sizeof *entry);
	if (entry == NULL)
		return NOT_DECIDED;
	if (np_cache_load(&s->cache, s->scope, s->cfg.cache_ttl, (int64_t)time(NULL), entry, err,
	                  sizeof err) != NP_CACHE_OK) {
		if (err[0] != '\0')
			cache_log(s, LOG_NOTICE, "entry not used", err);
		goto out;
	}
	np_msg_init(&s->msg, NP_MSG_WHOAMI);
	snprintf(s->msg.token, sizeof s->msg.token, "%s", entry->token);
	if (np_helper_send(&s->helper, &s->msg) != 0)
		goto out;
	np_msg_wipe(&s->msg);
	status = np_helper_recv(&s->helper, wait_ms_bounded(s, limit_ms), &s->msg, err, sizeof err);
	if (status != NP_RECV_OK)
		goto out;
	if (s->msg.type == NP_MSG_FAILURE) {
		/* Revoked: forget it.  Unreachable: keep it, but do not log in on it. */
		if (s->msg.failure.reason == NP_FAIL_UNAUTHORIZED) {
			np_cache_remove(&s->cache, s->scope);
			cache_log(s, LOG_NOTICE, "token no longer accepted; entry removed", "");
		}
		goto out;
	}
	if (s->msg.type != NP_MSG_IDENTITY || strcmp(s->msg.identity.user_id, entry->user_id) != 0) {
		np_cache_remove(&s->cache, s->scope);
		cache_log(s, LOG_WARNING, "token answered for another identity; entry removed", "");
		goto out;
	}
	if (!np_usermap_allows(&s->map, &s->cfg, s->account, s->msg.identity.user_id,
	                       s->msg.identity.email, &why)) {
		np_cache_remove(&s->cache, s->scope);
		goto out;
	}
	snprintf(s->user_id, sizeof s->user_id, "%s", s->msg.identity.user_id);
	s->method = "cached approval";
	rc = outcome(s, PAM_SUCCESS, "success", why);
out:
	sodium_free(entry);
	return rc;
}

/* After a fresh approval: keep it for the next sign-in in this scope. */
static void remember(struct session *s)
{
	struct np_cache_meta meta;
	struct np_cache_payload *entry;
	const struct np_msg_identity *who = &s->msg.identity;
	int64_t now = (int64_t)time(NULL);
	const void *item = NULL;
	char err[512] = "";

	if (!s->cache_ready || who->token[0] == '\0')
		return;
	entry = sodium_malloc(sizeof *entry);
	if (entry == NULL)
		return;
	memset(&meta, 0, sizeof meta);
	memset(entry, 0, sizeof *entry);
	snprintf(meta.account, sizeof meta.account, "%s", s->account);
	snprintf(meta.scope_kind, sizeof meta.scope_kind, "%s",
	         s->cfg.cache_scope == NP_SCOPE_SESSION ? "session" : "user");
	snprintf(meta.service, sizeof meta.service, "%s", s->service);
	if (pam_get_item(s->pamh, PAM_TTY, &item) == PAM_SUCCESS && item != NULL)
		np_sanitize_str(meta.tty, sizeof meta.tty, item);
	snprintf(meta.rhost, sizeof meta.rhost, "%s", s->rhost_shown);
	snprintf(meta.user_id, sizeof meta.user_id, "%s", who->user_id);
	meta.created = now;
	meta.expires = now + (int64_t)s->cfg.cache_ttl;
	snprintf(entry->token, sizeof entry->token, "%s", who->token);
	snprintf(entry->user_id, sizeof entry->user_id, "%s", who->user_id);
	snprintf(entry->email, sizeof entry->email, "%s", who->email);
	entry->created = now;
	entry->token_exp = who->token_exp;
	if (np_cache_store(&s->cache, s->scope, &meta, entry, err, sizeof err) != NP_CACHE_OK)
		cache_log(s, LOG_WARNING, "approval not stored", err);
	sodium_free(entry);
}

/*
 * wait = prompt: the instructions ride on an echo-off prompt, which is the
 * only text OpenSSH's keyboard-interactive shows before authentication ends.
 * The helper keeps polling meanwhile; Enter asks it for a fresh answer.
 */
static int wait_prompting(struct session *s)
{
	char text[PAM_MAX_MSG_SIZE];
	char *answer = NULL;
	bool typed;
	int rc = PAM_SUCCESS;

	answer = sodium_malloc(ANSWER_MAX);
	if (answer == NULL)
		return outcome(s, PAM_BUF_ERR, "error", "out of memory");
	instructions(s,
	             s->cfg.api_key ? "Press Enter once you have approved (or type an API key): "
	                            : "Press Enter once you have approved: ",
	             text, sizeof text);
	/* sshd holds information back until the next prompt, which comes next. */
	if (show_qr(s) != PAM_SUCCESS) {
		sodium_free(answer);
		return outcome(s, PAM_CONV_ERR, "error", "conversation failed");
	}
	for (;;) {
		rc = np_conv_ask(s->pamh, text, answer, ANSWER_MAX);
		typed = answer[0] != '\0';
		if (rc != PAM_SUCCESS) {
			rc = outcome(s, PAM_CONV_ERR, "error", "conversation failed");
			break;
		}
		if (typed && s->cfg.api_key && np_valid_api_key(answer, strlen(answer))) {
			rc = api_key_sign_in(s, answer, true);
			break;
		}
		sodium_memzero(answer, ANSWER_MAX);
		/*
		 * Otherwise only Enter is expected.  Text here is a password sent by
		 * sshd's password authentication (which answers every prompt with it
		 * and would keep us looping until the timeout), or a slip: refuse at once.
		 */
		if (typed) {
			tell(s, s->cfg.api_key ? "That is not a NextPay API key (they start with npk_)."
			                       : "NextPay sign-in takes no password here: approve in the "
			                         "browser, then press Enter.");
			rc = outcome(s, PAM_AUTH_ERR, "failure", "text typed at the approval prompt");
			break;
		}
		if (ms_left(s) == 0) {
			rc = timed_out(s);
			break;
		}
		np_msg_init(&s->msg, NP_MSG_POLL_NOW);
		if (np_helper_send(&s->helper, &s->msg) != 0) {
			rc = helper_trouble(s, NP_RECV_GONE, "cannot talk to the helper");
			break;
		}
		/*
		 * The helper answers after the request it may be in and one more poll,
		 * or, if that brought approval, after /auth/me and its retries: it is
		 * bounded by its own timeouts, so wait for it up to the deadline.
		 */
		rc = expect(s, wait_ms_bounded(s, -1), NP_MSG_IDENTITY, NP_MSG_PENDING);
		if (rc != PAM_SUCCESS || s->msg.type == NP_MSG_IDENTITY)
			break;
		snprintf(text, sizeof text,
		         "Still waiting for approval of code %s.\n"
		         "Press Enter once you have approved: ",
		         s->code.code);
	}
	sodium_free(answer);
	return rc;
}

static enum np_wait_mode wait_mode(const struct session *s)
{
	if (s->cfg.wait != NP_WAIT_AUTO)
		return s->cfg.wait;
	return strcmp(s->service, "sshd") == 0 ? NP_WAIT_PROMPT : NP_WAIT_POLL;
}

static int decide(struct session *s)
{
	const struct np_msg_identity *who = &s->msg.identity;
	const char *why = NULL;
	char text[PAM_MAX_MSG_SIZE];
	char shown[NP_EMAIL_MAX + 1];

	snprintf(s->user_id, sizeof s->user_id, "%s", who->user_id);
	if (np_usermap_allows(&s->map, &s->cfg, s->account, who->user_id, who->email, &why))
		return outcome(s, PAM_SUCCESS, "success", why);
	np_sanitize_str(shown, sizeof shown, who->email[0] != '\0' ? who->email : who->user_id);
	snprintf(text, sizeof text, "NextPay account %s may not sign in as %s on this host.", shown,
	         s->account_shown);
	tell(s, text);
	return outcome(s, PAM_AUTH_ERR, "refused", "identity does not map to this account");
}

static int sign_in(struct session *s, int argc, const char **argv)
{
	const void *service = NULL;
	const void *denied = NULL;
	int rc;

	rc = load_settings(s, argc, argv);
	if (rc != PAM_SUCCESS)
		return rc;
	if (pam_get_item(s->pamh, PAM_SERVICE, &service) != PAM_SUCCESS || service == NULL)
		return outcome(s, PAM_SERVICE_ERR, "error", "no PAM service name");
	s->service = service;
	if (s->cfg.skip_services[0] != '\0' && np_list_contains(s->cfg.skip_services, s->service))
		return outcome(s, PAM_IGNORE, "skipped", "service in skip_services");
	if (pam_get_data(s->pamh, DENIED_MARK, &denied) == PAM_SUCCESS && denied != NULL)
		return outcome(s, PAM_MAXTRIES, "denied", "denied earlier in this PAM transaction");
	s->deadline_ms = monotonic_ms() + (long long)s->cfg.login_timeout * 1000;
	rc = find_account(s);
	if (rc == PAM_SUCCESS)
		rc = load_map(s);
	if (rc == PAM_SUCCESS)
		rc = start_helper(s);
	if (rc != PAM_SUCCESS)
		return rc;
	open_cache(s);
	rc = cached_sign_in(s);
	if (rc != NOT_DECIDED)
		return rc;
	rc = first_pass_sign_in(s);
	if (rc == NOT_DECIDED) {
		rc = receive_code(s);
		if (rc == PAM_SUCCESS)
			rc = wait_mode(s) == NP_WAIT_PROMPT ? wait_prompting(s) : wait_polling(s);
	}
	if (rc == PAM_SUCCESS)
		rc = decide(s);
	if (rc == PAM_SUCCESS)
		remember(s);
	return rc;
}

static void log_outcome(const struct session *s, int rc)
{
	char service[64];

	if (rc == PAM_IGNORE && !s->cfg.debug)
		return;
	np_sanitize_str(service, sizeof service, s->service);
	pam_syslog(s->pamh, rc == PAM_SUCCESS ? LOG_NOTICE : LOG_WARNING,
	           "%s: account=%s nextpay_id=%s rhost=%s service=%s method=%s reason=%s",
	           s->result != NULL ? s->result : "error",
	           s->account_shown[0] != '\0' ? s->account_shown : "-",
	           s->user_id[0] != '\0' ? s->user_id : "-",
	           s->rhost_shown[0] != '\0' ? s->rhost_shown : "-", service[0] != '\0' ? service : "-",
	           s->method != NULL ? s->method : "-", s->reason[0] != '\0' ? s->reason : "-");
}

int np_authenticate(pam_handle_t *pamh, int flags, int argc, const char **argv)
{
	struct session *s = calloc(1, sizeof *s);
	int rc;

	(void)flags;
	if (s == NULL)
		return PAM_BUF_ERR;
	/* Idempotent and thread-safe; needed before sodium_malloc and the cache's crypto. */
	if (sodium_init() < 0) {
		free(s);
		pam_syslog(pamh, LOG_ERR, "libsodium failed to initialise");
		return PAM_SERVICE_ERR;
	}
	s->pamh = pamh;
	s->cache.dir_fd = -1;
	np_helper_init(&s->helper);
	describe_host(s);
	rc = sign_in(s, argc, argv);
	/* PAM_IGNORE is for skip_services alone: never let an error turn into it. */
	if (rc == PAM_IGNORE && (s->result == NULL || strcmp(s->result, "skipped") != 0))
		rc = PAM_SERVICE_ERR;
	log_outcome(s, rc);
	np_helper_stop(&s->helper);
	np_cache_close(&s->cache);
	np_usermap_free(&s->map);
	sodium_memzero(s, sizeof *s);
	free(s);
	return rc;
}
