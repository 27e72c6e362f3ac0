/* SPDX-License-Identifier: BSD-2-Clause */
#include "module/audit.h"

#include <security/pam_ext.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "common/sanitize.h"

/* One line of the log, as long as its longest quoted values make it. */
#define AUDIT_LINE_MAX 4096

static void to_pam_syslog(void *ctx, int priority, const char *line)
{
	const struct np_signin *s = ctx;

	pam_syslog(s->pamh, priority, "%s", line);
}

/* Sends ev where the log setting says, with what pam_syslog() would put first. */
static void send_event(const struct np_signin *s, struct np_event *ev)
{
	char origin[SERVICE_MAX + 32];

	/* pam_syslog()'s own prefix, so that the journal's MESSAGE is the very line syslog has. */
	snprintf(origin, sizeof origin, "pam_nextpay(%.*s:auth)", SERVICE_MAX,
	         np_signin_item(s, PAM_SERVICE));
	ev->origin = origin;
	np_event_send(ev, s->cfg.log, to_pam_syslog, (void *)s);
}

/* What every event of the sign-in carries; uid is the caller's buffer for the invoker's uid. */
static void fill_event(const struct np_signin *s, struct np_event *ev, enum np_event_kind kind,
                       const char *result, char *uid, size_t uid_size)
{
	memset(ev, 0, sizeof *ev);
	ev->type = np_event_type_of(kind, result);
	ev->priority = ev->type->priority;
	np_signin_reference(s->signin_id, ev->reference);
	snprintf(uid, uid_size, "%lu", (unsigned long)getuid());
	ev->values[NP_EV_SIGNIN_ID] = s->signin_id;
	ev->values[NP_EV_ACCOUNT] = s->account;
	/* A configuration error comes before the service is copied: libpam's then. */
	ev->values[NP_EV_SERVICE] = s->service[0] != '\0' ? s->service
	                                                  : np_signin_item(s, PAM_SERVICE);
	ev->values[NP_EV_RHOST] = s->rhost;
	ev->values[NP_EV_TTY] = np_signin_item(s, PAM_TTY);
	ev->values[NP_EV_INVOKER_UID] = uid;
	ev->values[NP_EV_SSH_KEY] = s->ssh_keys;
}

void np_audit_signin(const struct np_signin *s, int rc)
{
	const char *result = s->result != NULL ? s->result : "error";
	char line[AUDIT_LINE_MAX];
	char uid[24];
	char wait_ms[24];
	struct np_event ev;

	if (rc == PAM_IGNORE && !s->cfg.debug)
		return;
	fill_event(s, &ev, NP_EVENT_SIGNIN, result, uid, sizeof uid);
	ev.values[NP_EV_RESULT] = result;
	ev.values[NP_EV_METHOD] = s->method;
	/* Every sign-in NextPay did not confirm is for the security team to see. */
	if (s->offline && ev.priority > LOG_WARNING)
		ev.priority = LOG_WARNING;
	ev.values[NP_EV_USER_ID] = s->user_id;
	ev.values[NP_EV_REASON] = s->reason;
	/* The approval wait: from the code's arrival to the verdict. */
	if (s->client.code_ms > 0 && s->decided_ms >= s->client.code_ms) {
		snprintf(wait_ms, sizeof wait_ms, "%lld", s->decided_ms - s->client.code_ms);
		ev.values[NP_EV_WAIT_MS] = wait_ms;
	}
	np_event_signin_line(&ev, line, sizeof line);
	ev.line = line;
	send_event(s, &ev);
}

void np_audit_event(const struct np_signin *s, enum np_event_kind kind, int priority,
                    const char *reason, const char *fmt, ...)
{
	char line[AUDIT_LINE_MAX];
	char uid[24];
	struct np_event ev;
	va_list ap;

	va_start(ap, fmt);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized): started just above */
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	fill_event(s, &ev, kind, NULL, uid, sizeof uid);
	ev.priority = priority;
	ev.line = line;
	ev.values[NP_EV_REASON] = reason;
	send_event(s, &ev);
}

void np_audit_client_status(const struct np_signin *s, enum np_client_status status,
                            const char *reason)
{
	char quoted[sizeof s->client.refused_host * 4 + 3];

	switch (status) {
	case NP_CLIENT_GONE:
	case NP_CLIENT_BROKEN:
	case NP_CLIENT_UNEXPECTED:
	case NP_CLIENT_SILENT:
		np_log_quote(quoted, sizeof quoted, reason);
		np_audit_event(s, NP_EVENT_HELPER_FAILED, LOG_ERR, reason, "helper failed: %s", quoted);
		return;
	case NP_CLIENT_HOST_REFUSED:
		np_log_quote(quoted, sizeof quoted, s->client.refused_host);
		np_audit_event(s, NP_EVENT_HOST_REFUSED, LOG_WARNING, s->client.refused_host,
		               "verification URL refused: host=%s not in verification_hosts", quoted);
		return;
	case NP_CLIENT_FAILED:
		if (s->client.msg.failure.reason != NP_FAIL_CONFIG)
			return;
		np_log_quote(quoted, sizeof quoted, reason);
		np_audit_event(s, NP_EVENT_CONFIG_ERROR, LOG_ERR, reason,
		               "helper cannot run as configured: %s", quoted);
		return;
	default:
		return;
	}
}
