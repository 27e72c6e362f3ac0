/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The audit trail's one definition: each kind of event with its MESSAGE_ID
 * and priority, the NEXTPAY_* field names, the sign-in id and the reference
 * a person is shown, and the way an event reaches the journal.  The module
 * sends events (module/audit.c), nextpayctl login sends its own and
 * nextpayctl log and metrics read them back by the same names.
 *
 * An event never carries a code, a token, an API key or a URL with a code in
 * it: every value is one of the fields below, filled from a PAM item, a
 * setting, a user id the protocol checked, or a reason the module wrote.
 */
#ifndef NP_EVENTS_H
#define NP_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

/* SYSLOG_IDENTIFIER of every event. */
#define NP_EVENT_IDENTIFIER "pam_nextpay"
/* Where journald listens for structured entries (its native protocol). */
#define NP_JOURNAL_SOCKET "/run/systemd/journal/socket"

/* The reason of a refusal for an identity the map does not allow (%s: the map's why). */
#define NP_REASON_NOT_MAPPED "identity does not map to this account (%s)"

/* NEXTPAY_METHOD of a sign-in: how the person was let in (or tried to be). */
#define NP_METHOD_DEVICE_CODE "device-code"
#define NP_METHOD_API_KEY "api-key"
#define NP_METHOD_CACHED_APPROVAL "cached-approval"
/* A cached approval accepted while NextPay did not answer (offline_grace). */
#define NP_METHOD_CACHED_OFFLINE "cached-offline"

/* The sign-in id: 8 characters of Crockford's base32 (no I, L, O or U). */
#define NP_SIGNIN_ID_LEN 8
/* As the person reads it: "K7QX-2M4D". */
#define NP_REFERENCE_LEN (NP_SIGNIN_ID_LEN + 1)
/* "Reference: K7QX-2M4D", the last line of every refusal or error a person sees. */
#define NP_REFERENCE_WORDS "Reference: "

enum np_event_kind {
	NP_EVENT_SIGNIN,         /* the outcome of one sign-in (one per pam_authenticate) */
	NP_EVENT_CACHE_REFUSED,  /* a cache entry that was found but not used, and removed */
	NP_EVENT_HELPER_FAILED,  /* the helper died, broke the protocol or stopped answering */
	NP_EVENT_CONFIG_ERROR,   /* settings, identity map or helper unusable on this host */
	NP_EVENT_HOST_REFUSED,   /* a verification URL for a host verification_hosts does not name */
	NP_EVENT_USER_CHANGED,   /* the application changed PAM_USER during the sign-in */
	NP_EVENT_CACHE_SWEPT,    /* a sign-in removed stale or unreadable entries of others */
	NP_EVENT_BREAKGLASS_OPENED,  /* the break-glass gate let a member of its group in */
	NP_EVENT_BREAKGLASS_REFUSED, /* the break-glass gate was asked, and stayed shut */
	NP_EVENT_KIND_COUNT
};

/* One kind of event as the journal, its catalog and the manual page know it. */
struct np_event_type {
	enum np_event_kind kind;
	const char *name;        /* NEXTPAY_EVENT */
	const char *result;      /* NEXTPAY_RESULT of a sign-in; NULL for the other kinds */
	const char *message_id;  /* MESSAGE_ID: 32 lower-case hex digits */
	int priority;            /* PRIORITY, a syslog level */
};

/* Every type, in the order of the table: kinds, and for sign-ins each result. */
const struct np_event_type *np_event_types(size_t *n);
/*
 * The type of kind (and of result, for a sign-in); a sign-in result the table
 * does not have is an "error".
 */
const struct np_event_type *np_event_type_of(enum np_event_kind kind, const char *result);

/* The type an event read back names (NEXTPAY_EVENT, NEXTPAY_RESULT); NULL: none of ours. */
const struct np_event_type *np_event_type_named(const char *name, const char *result);

/* The NEXTPAY_* fields an event may carry, besides NEXTPAY_EVENT. */
enum np_event_field {
	NP_EV_SIGNIN_ID,   /* the sign-in id, without its dash */
	NP_EV_RESULT,      /* sign-ins: success, refused, denied, expired, ... */
	NP_EV_METHOD,      /* NP_METHOD_*, above */
	NP_EV_ACCOUNT,     /* PAM_USER as the application gave it */
	NP_EV_USER_ID,     /* the NextPay user id that approved */
	NP_EV_SERVICE,     /* PAM_SERVICE */
	NP_EV_RHOST,       /* PAM_RHOST */
	NP_EV_TTY,         /* PAM_TTY */
	NP_EV_INVOKER_UID, /* the real uid of the process that called PAM */
	NP_EV_WAIT_MS,     /* from the code's arrival to the verdict, device sign-ins */
	NP_EV_REASON,      /* the map rule that matched, or what went wrong */
	NP_EV_SSH_KEY,     /* SHA256 fingerprints of sshd's public keys, joined by ',' */
	NP_EV_COUNT
};

/* "NEXTPAY_ACCOUNT" for NP_EV_ACCOUNT. */
const char *np_event_field_name(enum np_event_field field);
/* The field that names the kind of event (struct np_event_type.name). */
#define NP_EVENT_KIND_FIELD "NEXTPAY_EVENT"

/* One event, ready to send. */
struct np_event {
	const struct np_event_type *type;
	int priority;                        /* the type's, unless the sender knows better */
	const char *values[NP_EV_COUNT];  /* NULL or "": not sent */
	const char *origin;   /* what the line says first: "pam_nextpay(sshd:auth)" */
	const char *line;     /* the log line's text; the reference is added to it */
	char reference[NP_REFERENCE_LEN + 1]; /* "K7QX-2M4D", "" for none */
};

/* A new sign-in id from libsodium's randombytes (call sodium_init() first). */
void np_signin_id_new(char id[NP_SIGNIN_ID_LEN + 1]);
/* "K7QX-2M4D" for "K7QX2M4D"; "" for anything that is not a sign-in id. */
void np_signin_reference(const char *id, char out[NP_REFERENCE_LEN + 1]);

/*
 * The outcome line of a sign-in from ev->values, each quoted (np_log_quote):
 * result: account="..." nextpay_id="..." rhost="..." service="..."
 * method="..." reason="..." -- the format fail2ban-style filters read --
 * and key="SHA256:..." when sshd named the connection's public keys.
 */
void np_event_signin_line(const struct np_event *ev, char *out, size_t out_size);

/*
 * The line as syslog carries it (after pam_syslog's or syslog's own prefix):
 * ev->line, then reference="K7QX-2M4D" when the event has a reference.
 */
void np_event_line(const struct np_event *ev, char *out, size_t out_size);

/*
 * Whether journald is listening: its socket is there.  One lstat(), no
 * connection.  A socket left behind by a journald that stopped is found
 * out when sending fails.
 */
bool np_journal_running(void);

/*
 * Whether the log setting sends events to the journal first: journal
 * always, auto when journald runs, syslog never.
 */
bool np_event_to_journal(enum np_log_target target);

/*
 * Sends ev to the journal: MESSAGE ("origin: line reference=..."),
 * MESSAGE_ID, PRIORITY, SYSLOG_IDENTIFIER, SYSLOG_FACILITY (authpriv),
 * NEXTPAY_EVENT and every field that has a value.  0, or a negative errno:
 * -ENOENT when journald does not listen (which sd_journal_sendv() itself
 * would swallow), its error when the journal refused the entry.  The caller
 * then writes the line to syslog: an event is never lost silently.
 */
int np_event_send_journal(const struct np_event *ev);

/* Writes one line to syslog at a priority (pam_syslog() in the module, syslog() in nextpayctl). */
typedef void np_event_syslog_fn(void *ctx, int priority, const char *line);

/*
 * Sends ev where the log setting says: the journal first (np_event_to_journal),
 * and syslog when the journal is not chosen or does not take it.  With log =
 * journal, a journal that cannot be written also costs a LOG_ERR line saying
 * so: it was chosen on purpose; auto falls back without a word.
 */
void np_event_send(const struct np_event *ev, enum np_log_target target,
                   np_event_syslog_fn *to_syslog, void *ctx);

#endif
