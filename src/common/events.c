/* SPDX-License-Identifier: BSD-2-Clause */
#include "common/events.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <syslog.h>
/* No CODE_FILE, CODE_LINE and CODE_FUNC: where in our source is nobody's business. */
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "common/sanitize.h"

/* Crockford's base32: digits and capitals without I, L, O and U, which read as others. */
static const char id_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/*
 * Every kind of event, and for sign-ins every result, with the MESSAGE_ID
 * that packaging/pam_nextpay.catalog explains (each made once with
 * systemd-id128 new).  A new kind is a row here, an entry in the catalog and
 * a line in pam_nextpay(8) LOGGING.
 */
static const struct np_event_type types[] = {
	{ NP_EVENT_SIGNIN, "signin", "success", "bd703bad36144e76af4915529cff9f76", LOG_NOTICE },
	{ NP_EVENT_SIGNIN, "signin", "refused", "90c4f0aa9baa4478be2a402330387319", LOG_WARNING },
	{ NP_EVENT_SIGNIN, "signin", "denied", "e60e9eae64f04289864e34c324eb4f06", LOG_WARNING },
	{ NP_EVENT_SIGNIN, "signin", "expired", "208ff377678d45d7bba1c4047c54d1dd", LOG_WARNING },
	{ NP_EVENT_SIGNIN, "signin", "failure", "15c6520c8bee41d086ff8fea5a01438d", LOG_WARNING },
	{ NP_EVENT_SIGNIN, "signin", "unavailable", "ecb30d38bb0445a88b6e6ae3f8272a0c",
	  LOG_WARNING },
	{ NP_EVENT_SIGNIN, "signin", "error", "0fac40906c004404b81689fc150d8950", LOG_WARNING },
	{ NP_EVENT_SIGNIN, "signin", "skipped", "97c84205c290441f8f2f1fde443b7f34", LOG_WARNING },
	{ NP_EVENT_CACHE_REFUSED, "cache-refused", NULL, "8f850bd9ed924bfa937b07f0fcaf4fff",
	  LOG_NOTICE },
	{ NP_EVENT_HELPER_FAILED, "helper-failed", NULL, "e7dcb6fbe50846c7814aa515cc9b8b85",
	  LOG_ERR },
	{ NP_EVENT_CONFIG_ERROR, "config-error", NULL, "dcf781f982b545db80151ab5810d6526", LOG_ERR },
	{ NP_EVENT_HOST_REFUSED, "host-refused", NULL, "f56f15134f794cce97dc6194e9f346ee",
	  LOG_WARNING },
	{ NP_EVENT_USER_CHANGED, "user-changed", NULL, "cb108c6aca744f4ca062d60c80578669", LOG_ERR },
	{ NP_EVENT_CACHE_SWEPT, "cache-swept", NULL, "0dd65928c66942d28dd5696027d34552",
	  LOG_NOTICE },
	{ NP_EVENT_BREAKGLASS_OPENED, "breakglass-opened", NULL, "0981208ea0cb4cfd8797aa79c4aa6123",
	  LOG_ALERT },
	{ NP_EVENT_BREAKGLASS_REFUSED, "breakglass-refused", NULL,
	  "ae16cf8cf79a4dbcabecde08182c6659", LOG_WARNING },
};

#define N_TYPES (sizeof types / sizeof types[0])

static const char *const field_names[NP_EV_COUNT] = {
	[NP_EV_SIGNIN_ID] = "NEXTPAY_SIGNIN_ID",
	[NP_EV_RESULT] = "NEXTPAY_RESULT",
	[NP_EV_METHOD] = "NEXTPAY_METHOD",
	[NP_EV_ACCOUNT] = "NEXTPAY_ACCOUNT",
	[NP_EV_USER_ID] = "NEXTPAY_USER_ID",
	[NP_EV_SERVICE] = "NEXTPAY_SERVICE",
	[NP_EV_RHOST] = "NEXTPAY_RHOST",
	[NP_EV_TTY] = "NEXTPAY_TTY",
	[NP_EV_INVOKER_UID] = "NEXTPAY_INVOKER_UID",
	[NP_EV_WAIT_MS] = "NEXTPAY_WAIT_MS",
	[NP_EV_REASON] = "NEXTPAY_REASON",
	[NP_EV_SSH_KEY] = "NEXTPAY_SSH_KEY",
};

/* The fields journald gets besides NEXTPAY_*: MESSAGE, MESSAGE_ID, PRIORITY, ... */
#define HEADER_FIELDS 6
/* Room for those but MESSAGE, "NAME=value" each: the longest is MESSAGE_ID's 43 bytes. */
#define HEADER_ROOM 256
/* MESSAGE: the origin, ": ", the line and its reference. */
#define MESSAGE_MAX 4096
/* A value quoted for the line: the longest (an account of 256 bytes) at 4 bytes a byte. */
#define QUOTED_MAX 1040

const struct np_event_type *np_event_types(size_t *n)
{
	*n = N_TYPES;
	return types;
}

const struct np_event_type *np_event_type_of(enum np_event_kind kind, const char *result)
{
	const struct np_event_type *fallback = NULL;

	for (size_t i = 0; i < N_TYPES; i++) {
		if (types[i].kind != kind)
			continue;
		if (types[i].result == NULL ||
		    (result != NULL && strcmp(types[i].result, result) == 0))
			return &types[i];
		if (strcmp(types[i].result, "error") == 0)
			fallback = &types[i];
	}
	return fallback;
}

const struct np_event_type *np_event_type_named(const char *name, const char *result)
{
	for (size_t i = 0; i < N_TYPES; i++)
		if (strcmp(types[i].name, name) == 0 &&
		    (types[i].result == NULL || strcmp(types[i].result, result) == 0))
			return &types[i];
	return NULL;
}

const char *np_event_field_name(enum np_event_field field)
{
	return (unsigned)field < NP_EV_COUNT ? field_names[field] : "";
}

void np_signin_id_new(char id[NP_SIGNIN_ID_LEN + 1])
{
	/* 8 characters of 5 bits each: 40 random bits. */
	unsigned char bits[5];
	unsigned long long n = 0;

	randombytes_buf(bits, sizeof bits);
	for (size_t i = 0; i < sizeof bits; i++)
		n = n << 8 | bits[i];
	for (int i = NP_SIGNIN_ID_LEN - 1; i >= 0; i--, n >>= 5)
		id[i] = id_alphabet[n & 31];
	id[NP_SIGNIN_ID_LEN] = '\0';
	sodium_memzero(bits, sizeof bits);
}

void np_signin_reference(const char *id, char out[NP_REFERENCE_LEN + 1])
{
	out[0] = '\0';
	if (id == NULL || strlen(id) != NP_SIGNIN_ID_LEN ||
	    strspn(id, id_alphabet) != NP_SIGNIN_ID_LEN)
		return;
	snprintf(out, NP_REFERENCE_LEN + 1, "%.4s-%.4s", id, id + 4);
}

/* One value of ev, quoted, into out (room for the longest quoted value). */
static const char *quoted(const struct np_event *ev, enum np_event_field field, char *out,
                          size_t out_size)
{
	np_log_quote(out, out_size, ev->values[field]);
	return out;
}

void np_event_signin_line(const struct np_event *ev, char *out, size_t out_size)
{
	char v[6][QUOTED_MAX];

	snprintf(out, out_size,
	         "%s: account=%s nextpay_id=%s rhost=%s service=%s method=%s reason=%s",
	         ev->values[NP_EV_RESULT] != NULL ? ev->values[NP_EV_RESULT] : "error",
	         quoted(ev, NP_EV_ACCOUNT, v[0], sizeof v[0]),
	         quoted(ev, NP_EV_USER_ID, v[1], sizeof v[1]),
	         quoted(ev, NP_EV_RHOST, v[2], sizeof v[2]),
	         quoted(ev, NP_EV_SERVICE, v[3], sizeof v[3]),
	         quoted(ev, NP_EV_METHOD, v[4], sizeof v[4]),
	         quoted(ev, NP_EV_REASON, v[5], sizeof v[5]));
}

void np_event_line(const struct np_event *ev, char *out, size_t out_size)
{
	if (ev->reference[0] == '\0')
		snprintf(out, out_size, "%s", ev->line);
	else
		snprintf(out, out_size, "%s reference=\"%s\"", ev->line, ev->reference);
}

bool np_journal_running(void)
{
	struct stat st;

	return lstat(NP_JOURNAL_SOCKET, &st) == 0 && S_ISSOCK(st.st_mode);
}

bool np_event_to_journal(enum np_log_target target)
{
	return target == NP_LOG_JOURNAL || (target == NP_LOG_AUTO && np_journal_running());
}

/* "NAME=value" into *at, as the next of iov (without its NUL); moves *at past it. */
static void add_field(struct iovec *iov, size_t *n_iov, char **at, const char *name,
                      const char *value)
{
	size_t len = strlen(name) + 1 + strlen(value);

	snprintf(*at, len + 1, "%s=%s", name, value);
	iov[*n_iov].iov_base = *at;
	iov[*n_iov].iov_len = len;
	(*n_iov)++;
	*at += len + 1;
}

/* What the fields take as "NAME=value" strings, each with its NUL, laid end to end. */
static size_t fields_size(const struct np_event *ev, const char *message)
{
	size_t size = strlen("MESSAGE=") + strlen(message) + 1 + HEADER_ROOM;

	for (int f = 0; f < NP_EV_COUNT; f++)
		if (ev->values[f] != NULL)
			size += strlen(field_names[f]) + 1 + strlen(ev->values[f]) + 1;
	return size;
}

int np_event_send_journal(const struct np_event *ev)
{
	struct iovec iov[HEADER_FIELDS + NP_EV_COUNT];
	size_t n_iov = 0;
	char message[MESSAGE_MAX] = "";
	char priority[4];
	size_t used;
	char *buf;
	char *at;
	int rc;

	if (!np_journal_running())
		return -ENOENT;
	if (ev->origin != NULL)
		snprintf(message, sizeof message / 2, "%s: ", ev->origin);
	used = strlen(message);
	np_event_line(ev, message + used, sizeof message - used);
	snprintf(priority, sizeof priority, "%d", ev->priority);
	buf = malloc(fields_size(ev, message));
	if (buf == NULL)
		return -ENOMEM;
	at = buf;
	add_field(iov, &n_iov, &at, "MESSAGE", message);
	add_field(iov, &n_iov, &at, "MESSAGE_ID", ev->type->message_id);
	add_field(iov, &n_iov, &at, "PRIORITY", priority);
	add_field(iov, &n_iov, &at, "SYSLOG_IDENTIFIER", NP_EVENT_IDENTIFIER);
	/* LOG_AUTHPRIV, as pam_syslog() writes: where journald forwards it, it lands with auth lines. */
	add_field(iov, &n_iov, &at, "SYSLOG_FACILITY", "10");
	add_field(iov, &n_iov, &at, NP_EVENT_KIND_FIELD, ev->type->name);
	for (int f = 0; f < NP_EV_COUNT; f++)
		if (ev->values[f] != NULL && ev->values[f][0] != '\0')
			add_field(iov, &n_iov, &at, field_names[f], ev->values[f]);
	rc = sd_journal_sendv(iov, (int)n_iov);
	free(buf);
	return rc;
}

void np_event_send(const struct np_event *ev, enum np_log_target target,
                   np_event_syslog_fn *to_syslog, void *ctx)
{
	char line[MESSAGE_MAX];
	char failed[128];
	bool to_journal = np_event_to_journal(target);
	int rc = to_journal ? np_event_send_journal(ev) : 0;

	if (to_journal && rc == 0)
		return;
	np_event_line(ev, line, sizeof line);
	to_syslog(ctx, ev->priority, line);
	if (rc != 0 && target == NP_LOG_JOURNAL) {
		snprintf(failed, sizeof failed, "journal: cannot write events, sent to syslog: %s",
		         strerror(-rc));
		to_syslog(ctx, LOG_ERR, failed);
	}
}
