/* SPDX-License-Identifier: BSD-2-Clause */
#include "module/breakglass.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <security/pam_ext.h>
#include <shadow.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/sanitize.h"
#include "module/audit.h"
#include "module/conv.h"

/* Shown to everyone the gate weighs, member or not: who is a member stays unsaid. */
#define BREAKGLASS_WORDS \
	"Only break-glass accounts may sign in with a password now; every such sign-in is reported."
/* Lookups of passwd, shadow and group entries grow their buffer up to this. */
#define LOOKUP_BUFFER_MAX ((size_t)1024 * 1024)
/* More groups than this for one account: refused rather than searched. */
#define GROUPS_MAX 65536

/* What a sign-in line came to, kept on the handle for the gate that follows it. */
struct outcome_mark {
	int rc;
	bool outage;           /* PAM_AUTHINFO_UNAVAIL because NextPay could not be reached */
	pid_t pid;
	long long ended_ms;    /* CLOCK_MONOTONIC */
	char account[NP_ACCOUNT_MAX + 1];
	char reason[256];
	char signin_id[NP_SIGNIN_ID_LEN + 1]; /* the gate's event joins the sign-in's */
};

static void free_mark(pam_handle_t *pamh, void *data, int error_status)
{
	(void)pamh;
	(void)error_status;
	sodium_memzero(data, sizeof(struct outcome_mark));
	free(data);
}

void np_breakglass_forget(pam_handle_t *pamh)
{
	/* Replacing a mark needs no memory; a missing mark opens nothing. */
	(void)pam_set_data(pamh, BREAKGLASS_MARK, NULL, NULL);
}

void np_breakglass_note(const struct np_signin *s, int rc)
{
	struct outcome_mark *mark = calloc(1, sizeof *mark);

	if (mark == NULL) {
		np_breakglass_forget(s->pamh);
		return;
	}
	mark->rc = rc;
	mark->outage = rc == PAM_AUTHINFO_UNAVAIL && s->outage;
	mark->pid = getpid();
	mark->ended_ms = np_monotonic_ms();
	snprintf(mark->account, sizeof mark->account, "%s", s->account);
	snprintf(mark->reason, sizeof mark->reason, "%s", s->reason);
	snprintf(mark->signin_id, sizeof mark->signin_id, "%s", s->signin_id);
	if (pam_set_data(s->pamh, BREAKGLASS_MARK, mark, free_mark) != PAM_SUCCESS)
		free_mark(s->pamh, mark, 0);
}

/*
 * The mark, taken off the handle: one sign-in line opens the gate at most
 * once.  libpam names no pam_authenticate call, so "this call" is what the
 * mark can prove: every sign-in line replaces it, it was made in this
 * process and moments ago.
 */
static bool take_mark(pam_handle_t *pamh, struct outcome_mark *out)
{
	const void *data = NULL;
	bool found = pam_get_data(pamh, BREAKGLASS_MARK, &data) == PAM_SUCCESS && data != NULL;

	if (found)
		*out = *(const struct outcome_mark *)data;
	np_breakglass_forget(pamh);
	return found && out->pid == getpid() &&
	       np_monotonic_ms() - out->ended_ms <= BREAKGLASS_MARK_MAX_AGE_MS;
}

/* getpwnam_r, getgrnam_r and getspnam_r alike: entry's strings go into buf. */
typedef int lookup_fn(const char *name, void *entry, char *buf, size_t size, bool *found);

static int passwd_entry(const char *name, void *entry, char *buf, size_t size, bool *found)
{
	struct passwd *result = NULL;
	int rc = getpwnam_r(name, entry, buf, size, &result);

	*found = result != NULL;
	return rc;
}

static int group_entry(const char *name, void *entry, char *buf, size_t size, bool *found)
{
	struct group *result = NULL;
	int rc = getgrnam_r(name, entry, buf, size, &result);

	*found = result != NULL;
	return rc;
}

static int shadow_entry(const char *name, void *entry, char *buf, size_t size, bool *found)
{
	struct spwd *result = NULL;
	int rc = getspnam_r(name, entry, buf, size, &result);

	*found = result != NULL;
	return rc;
}

/*
 * fn with a buffer that grows while it is too small.  Returns the buffer
 * (free it once done with entry), or NULL with *rc set.
 */
static char *lookup(lookup_fn *fn, const char *name, void *entry, bool *found, int *rc)
{
	*found = false;
	*rc = ERANGE;
	for (size_t size = 4096; size <= LOOKUP_BUFFER_MAX; size *= 2) {
		char *buf = malloc(size);

		if (buf == NULL) {
			*rc = ENOMEM;
			return NULL;
		}
		*rc = fn(name, entry, buf, size, found);
		if (*rc != ERANGE)
			return buf;
		free(buf);
	}
	return NULL;
}

/* Whether the account's own password is empty, which pam_unix's nullok would take. */
static bool empty_password(const struct passwd *pw)
{
	struct spwd sp;
	bool found = false;
	int rc = 0;
	char *buf;
	bool empty;

	if (pw->pw_passwd[0] == '\0')
		return true;
	/* Without root, shadow is unreadable: the password module will see for itself. */
	buf = lookup(shadow_entry, pw->pw_name, &sp, &found, &rc);
	empty = buf != NULL && rc == 0 && found && sp.sp_pwdp != NULL && sp.sp_pwdp[0] == '\0';
	if (buf != NULL && rc == 0 && found && sp.sp_pwdp != NULL)
		sodium_memzero(sp.sp_pwdp, strlen(sp.sp_pwdp));
	free(buf);
	return empty;
}

static bool in_groups(const char *account, gid_t primary, gid_t gid)
{
	int count = 64;
	gid_t *groups = NULL;
	bool member = false;

	for (;;) {
		gid_t *bigger = realloc(groups, (size_t)count * sizeof *groups);
		int want = count;

		if (bigger == NULL)
			break;
		groups = bigger;
		if (getgrouplist(account, primary, groups, &want) >= 0) {
			for (int i = 0; i < want && !member; i++)
				member = groups[i] == gid;
			break;
		}
		if (want <= count || want > GROUPS_MAX)
			break;
		count = want;
	}
	free(groups);
	return member;
}

/*
 * Why account may not pass the gate of group (NULL: it may); *priority says
 * how loudly: a group or a lookup that is set up wrongly is the
 * administrator's error.
 */
static const char *refusal(const char *account, const char *group, int *priority)
{
	struct group gr;
	struct passwd pw;
	bool found = false;
	int rc = 0;
	gid_t gid = 0;
	const char *why = NULL;
	char *buf = lookup(group_entry, group, &gr, &found, &rc);

	*priority = LOG_ERR;
	if (buf == NULL || rc != 0)
		why = "group lookup failed";
	else if (!found)
		why = "breakglass_group does not exist";
	else if (gr.gr_gid == 0)
		why = "breakglass_group is gid 0, which is never a break-glass group";
	else
		gid = gr.gr_gid;
	free(buf);
	if (why != NULL)
		return why;
	*priority = LOG_WARNING;
	buf = lookup(passwd_entry, account, &pw, &found, &rc);
	if (buf == NULL || rc != 0)
		why = "account lookup failed";
	else if (!found)
		why = "no such local account";
	else if (!in_groups(pw.pw_name, pw.pw_gid, gid))
		why = "not a member of breakglass_group";
	else if (empty_password(&pw))
		why = "the account has an empty password";
	free(buf);
	return why;
}

/*
 * One event for each decision (breakglass-opened or -refused), its line with
 * every value quoted (np_log_quote); NEXTPAY_REASON: why it stayed shut, or
 * for an opened gate the outage that opened it.
 */
static void log_gate(const struct np_signin *s, int priority, const char *why,
                     const char *outage)
{
	char account[sizeof s->account * 4 + 3];
	char group[sizeof s->cfg.breakglass_group * 4 + 3];
	char rhost[sizeof s->rhost * 4 + 3];
	char service[sizeof s->service * 4 + 3];
	char reason[128 * 4 + 3];
	char outage_quoted[sizeof ((struct outcome_mark *)0)->reason * 4 + 3];

	np_log_quote(account, sizeof account, s->account);
	np_log_quote(group, sizeof group, s->cfg.breakglass_group);
	np_log_quote(rhost, sizeof rhost, s->rhost);
	np_log_quote(service, sizeof service, s->service);
	np_log_quote(reason, sizeof reason, why != NULL ? why : "");
	np_log_quote(outage_quoted, sizeof outage_quoted, outage);
	if (why == NULL)
		np_audit_event(s, NP_EVENT_BREAKGLASS_OPENED, priority, outage,
		               "break-glass opened: account=%s group=%s rhost=%s service=%s outage=%s",
		               account, group, rhost, service, outage_quoted);
	else
		np_audit_event(s, NP_EVENT_BREAKGLASS_REFUSED, priority, why,
		               "break-glass refused: account=%s group=%s rhost=%s service=%s "
		               "reason=%s outage=%s",
		               account, group, rhost, service, reason, outage_quoted);
}

static int refuse(struct np_signin *s, int priority, const char *why, const char *outage)
{
	log_gate(s, priority, why, outage);
	return PAM_AUTH_ERR;
}

/* PAM_USER now, copied; false when it is not set or does not fit. */
static bool current_account(struct np_signin *s)
{
	const void *user = NULL;

	if (pam_get_item(s->pamh, PAM_USER, &user) != PAM_SUCCESS || user == NULL ||
	    strlen(user) >= sizeof s->account)
		return false;
	snprintf(s->account, sizeof s->account, "%s", (const char *)user);
	return true;
}

int np_breakglass_gate(struct np_signin *s)
{
	struct outcome_mark mark;
	const char *why;
	int priority;
	bool marked = take_mark(s->pamh, &mark);
	const char *outage = marked ? mark.reason : "";

	/* The gate's event carries the reference the person was shown for the outage. */
	if (marked)
		snprintf(s->signin_id, sizeof s->signin_id, "%s", mark.signin_id);
	if (!current_account(s))
		return refuse(s, LOG_ERR, "no usable PAM_USER", outage);
	if (!marked)
		return refuse(s, LOG_ERR,
		              "no pam_nextpay sign-in line just before it in this call: check the stack",
		              "");
	if (mark.rc == PAM_IGNORE) {
		if (s->cfg.debug)
			pam_syslog(s->pamh, LOG_DEBUG, "break-glass: the sign-in line skipped this service");
		return PAM_IGNORE;
	}
	if (strcmp(mark.account, s->account) != 0)
		return refuse(s, LOG_WARNING, "PAM_USER changed after the sign-in line", outage);
	if (mark.rc != PAM_AUTHINFO_UNAVAIL)
		return refuse(s, LOG_WARNING, "the sign-in line did not find NextPay unreachable", outage);
	if (!mark.outage)
		return refuse(s, LOG_WARNING, "no outage of NextPay: the helper failed, or an API key",
		              outage);
	(void)np_conv_show(s->pamh, PAM_TEXT_INFO, BREAKGLASS_WORDS);
	why = refusal(s->account, s->cfg.breakglass_group, &priority);
	if (why != NULL)
		return refuse(s, priority, why, outage);
	log_gate(s, LOG_ALERT, NULL, outage);
	return PAM_SUCCESS;
}
