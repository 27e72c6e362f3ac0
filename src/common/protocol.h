/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The module <-> nextpay-helper protocol, version 1.
 *
 * One JSON object per line (at most NP_LINE_MAX bytes, newline included), each
 * with "v": 1 and a "type".  The module writes to the helper's stdin, the
 * helper answers on its stdout.  Both sides decode what they read with the
 * same strict rules: unknown types, missing or mistyped fields, strings with
 * NUL bytes or over their limit, and values of the wrong shape are rejected.
 *
 * module -> helper
 *   config        first message: where and how to reach the API
 *   device_login  run the device-code flow to the end (emits code, then
 *                 identity or failure; answers poll_now with pending)
 *   poll_now      the person pressed Enter: say where it stands after the next
 *                 scheduled poll (never sooner: Enter must not set the poll rate)
 *   whoami        check a token with /auth/me (identity or failure)
 *   api_key       exchange an API key, then /auth/me (identity or failure)
 *   probe         one request to the API without credentials, to see that it
 *                 can be reached over verified TLS (nextpayctl check): ready
 *                 when any HTTP status came back, else failure
 * helper -> module
 *   ready         config accepted, privileges dropped; or: the probe got an answer
 *   code          the device code to show
 *   pending       not approved yet (answer to poll_now)
 *   identity      who approved (and the token, if asked for)
 *   failure       a final outcome other than success, with a reason
 */
#ifndef NP_PROTOCOL_H
#define NP_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/lineio.h"
#include "common/validate.h"

#define NP_PROTO_VERSION 1
#define NP_PROTO_TEXT_MAX 1024 /* URLs, paths, pins and other config strings */
#define NP_PROTO_DETAIL_MAX 200

enum np_msg_type {
	NP_MSG_CONFIG = 1,
	NP_MSG_DEVICE_LOGIN,
	NP_MSG_POLL_NOW,
	NP_MSG_WHOAMI,
	NP_MSG_API_KEY,
	NP_MSG_PROBE,
	NP_MSG_READY,
	NP_MSG_CODE,
	NP_MSG_PENDING,
	NP_MSG_IDENTITY,
	NP_MSG_FAILURE,
};

enum np_failure_reason {
	NP_FAIL_DENIED = 1,   /* the person refused (or any final status but pending) */
	NP_FAIL_EXPIRED,      /* the code expired */
	NP_FAIL_TIMEOUT,      /* the helper's time budget ran out */
	NP_FAIL_UNAUTHORIZED, /* the API refused a token or API key (401) */
	NP_FAIL_UNAVAILABLE,  /* a cut connection, 5xx, 429 for too long, an odd status */
	NP_FAIL_TLS,          /* certificate, host name or pin mismatch */
	NP_FAIL_MALFORMED,    /* an answer that breaks the API's contract */
	NP_FAIL_CONFIG,       /* the helper cannot run as configured */
	NP_FAIL_INTERNAL,
	/*
	 * No answer at all: the name did not resolve, no connection could be
	 * made, or no answer came in time, on every attempt.  The one failure
	 * offline_grace may serve a cached approval after (module/approval.c).
	 */
	NP_FAIL_UNREACHABLE,
};

struct np_msg_config {
	char api_url[NP_PROTO_TEXT_MAX];
	char ca_file[NP_PROTO_TEXT_MAX];       /* "" = system trust store */
	char pinned_pubkey[NP_PROTO_TEXT_MAX]; /* "" = none */
	char proxy[NP_PROTO_TEXT_MAX];         /* "" = none */
	char helper_user[64];
	unsigned connect_timeout;
	unsigned request_timeout;
};

struct np_msg_device_login {
	char intent[64];
	unsigned poll_interval;
	unsigned timeout;   /* seconds the helper may spend, counted from receipt */
	bool want_token;    /* only a module that caches needs the token back */
};

struct np_msg_code {
	char code[NP_CODE_MAX + 1];
	char verification_url[NP_URL_MAX + 1];
	int64_t expires_at;
};

struct np_msg_identity {
	char token[NP_TOKEN_MAX + 1]; /* "" unless want_token (or whoami/api_key) */
	char user_id[NP_USER_ID_MAX + 1];
	char email[NP_EMAIL_MAX + 1]; /* "" when the API gave none usable */
	char name[NP_NAME_MAX + 1];   /* display only, already sanitised */
	int64_t token_exp;            /* 0 when unknown */
};

struct np_msg_failure {
	enum np_failure_reason reason;
	char detail[NP_PROTO_DETAIL_MAX + 1]; /* sanitised, safe to log */
};

/* Secrets travel in token and api_key: wipe a message with np_msg_wipe(). */
struct np_msg {
	enum np_msg_type type;
	struct np_msg_config config;
	struct np_msg_device_login login;
	struct np_msg_code code;
	struct np_msg_identity identity;
	struct np_msg_failure failure;
	char token[NP_TOKEN_MAX + 1];     /* whoami */
	char api_key[NP_API_KEY_MAX + 1]; /* api_key */
};

/*
 * The fields of each message type are a table in protocol.c, from which both
 * encoding and decoding (and the fuzz seeds) are driven: a field added to a
 * message is a member here and one line there.
 */
enum np_field_kind {
	NP_FIELD_TEXT,   /* a string, at most size - 1 bytes */
	NP_FIELD_UINT,   /* unsigned, from min to max */
	NP_FIELD_INT64,  /* int64_t, from min to max */
	NP_FIELD_BOOL,
	NP_FIELD_REASON, /* enum np_failure_reason, travelling as its name */
};

#define NP_FIELD_EMPTY_OK 0x1u /* text: "" passes whatever check says */
#define NP_FIELD_SANITISE 0x2u /* text: for display only, sanitised again on decode */

struct np_msg_field {
	const char *name;           /* its key in the JSON object */
	enum np_field_kind kind;
	size_t offset;              /* where in struct np_msg */
	size_t size;                /* text: of the buffer */
	int64_t min, max;           /* numbers */
	bool (*check)(const char *s, size_t len); /* text: its shape (validate.h); NULL: any */
	unsigned flags;
	const char *example;        /* a valid value, as np_msg_set() takes it */
};

/* The fields of a message type in the order they are written; *n is 0 for none. */
const struct np_msg_field *np_msg_fields(enum np_msg_type type, size_t *n);

/* "config", "code" ...; NULL for a value that is no message type. */
const char *np_msg_type_name(enum np_msg_type type);

/*
 * Sets one field of m from text: a string as it is, a number in decimal, a
 * boolean as "yes" or "no", a reason by its name.  0, or -1 when text does not
 * fit the field (its shape is the decoder's to judge).
 */
int np_msg_set(struct np_msg *m, const struct np_msg_field *f, const char *text);

void np_msg_init(struct np_msg *m, enum np_msg_type type);
void np_msg_wipe(struct np_msg *m);

/* Encodes m as one line ending in '\n'.  Returns 0, or -1 if it does not fit. */
int np_msg_encode(const struct np_msg *m, char *line, size_t line_size, size_t *line_len);

/* Decodes one line (without newline).  Returns 0, or -1 with err filled. */
int np_msg_decode(const char *line, size_t line_len, struct np_msg *m, char *err,
                  size_t err_size);

const char *np_failure_reason_name(enum np_failure_reason reason);

#endif
