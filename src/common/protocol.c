/* SPDX-License-Identifier: BSD-2-Clause */
#include "common/protocol.h"

#include <errno.h>
#include <json.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/json_util.h"
#include "common/sanitize.h"

#define PROTO_MAX_DEPTH 3

/* A token as the API issues it (three base64url parts), for the examples. */
#define EXAMPLE_TOKEN \
	"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c3JfYWJjMTIzIiwiZXhwIjoxNzAwMDAzNjAwfQ.c2lnbmF0dXJl"
#define EXP_MAX (INT64_C(1) << 40)

#define MEMBER_SIZE(member) sizeof(((struct np_msg *)0)->member)
#define TEXT(key, member, shape, flags, example) \
	{ key, NP_FIELD_TEXT, offsetof(struct np_msg, member), MEMBER_SIZE(member), 0, 0, shape, \
	  flags, example }
#define UINT(key, member, lo, hi, example) \
	{ key, NP_FIELD_UINT, offsetof(struct np_msg, member), MEMBER_SIZE(member), lo, hi, NULL, \
	  0, example }
#define INT64(key, member, lo, hi, example) \
	{ key, NP_FIELD_INT64, offsetof(struct np_msg, member), MEMBER_SIZE(member), lo, hi, NULL, \
	  0, example }
#define BOOL(key, member, example) \
	{ key, NP_FIELD_BOOL, offsetof(struct np_msg, member), MEMBER_SIZE(member), 0, 0, NULL, 0, \
	  example }
#define REASON(key, member, example) \
	{ key, NP_FIELD_REASON, offsetof(struct np_msg, member), MEMBER_SIZE(member), 0, 0, NULL, \
	  0, example }

static const struct np_msg_field config_fields[] = {
	TEXT("api_url", config.api_url, NULL, 0, "https://api.nextpay.world/v1"),
	TEXT("ca_file", config.ca_file, NULL, 0, "/etc/ssl/certs/ca-certificates.crt"),
	TEXT("pinned_pubkey", config.pinned_pubkey, NULL, 0,
	     "sha256//AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
	TEXT("proxy", config.proxy, NULL, 0, "http://proxy.example:3128"),
	TEXT("helper_user", config.helper_user, NULL, 0, "nobody"),
	UINT("connect_timeout", config.connect_timeout, 1, 600, "5"),
	UINT("request_timeout", config.request_timeout, 1, 600, "10"),
};

static const struct np_msg_field device_login_fields[] = {
	TEXT("intent", login.intent, NULL, 0, "login"),
	UINT("poll_interval", login.poll_interval, 1, 3600, "3"),
	UINT("timeout", login.timeout, 1, 86400, "110"),
	BOOL("want_token", login.want_token, "yes"),
};

static const struct np_msg_field whoami_fields[] = {
	TEXT("token", token, np_valid_token, 0, EXAMPLE_TOKEN),
};

static const struct np_msg_field api_key_fields[] = {
	TEXT("api_key", api_key, np_valid_api_key, 0, "npk_live_0123456789abcdef"),
};

static const struct np_msg_field code_fields[] = {
	TEXT("code", code.code, np_valid_code, 0, "A1B2C3"),
	TEXT("verification_url", code.verification_url, np_valid_https_url, 0,
	     "https://nextpay-v3-dev.nextfinancial.io/auth/device?code=A1B2C3"),
	INT64("expires_at", code.expires_at, 0, EXP_MAX, "1700000600"),
};

static const struct np_msg_field identity_fields[] = {
	TEXT("token", identity.token, np_valid_token, NP_FIELD_EMPTY_OK, EXAMPLE_TOKEN),
	TEXT("user_id", identity.user_id, np_valid_user_id, 0, "usr_abc123"),
	TEXT("email", identity.email, np_valid_email, NP_FIELD_EMPTY_OK, "don@nextfinancial.io"),
	TEXT("name", identity.name, NULL, NP_FIELD_SANITISE, "Don Masakayan"),
	INT64("token_exp", identity.token_exp, 0, EXP_MAX, "1700003600"),
};

static const struct np_msg_field failure_fields[] = {
	REASON("reason", failure.reason, "denied"),
	TEXT("detail", failure.detail, NULL, NP_FIELD_SANITISE, "denied"),
};

#define FIELDS(table) (table), sizeof(table) / sizeof((table)[0])

static const struct {
	enum np_msg_type type;
	const char *name;
	const struct np_msg_field *fields;
	size_t n_fields;
} messages[] = {
	{ NP_MSG_CONFIG, "config", FIELDS(config_fields) },
	{ NP_MSG_DEVICE_LOGIN, "device_login", FIELDS(device_login_fields) },
	{ NP_MSG_POLL_NOW, "poll_now", NULL, 0 },
	{ NP_MSG_WHOAMI, "whoami", FIELDS(whoami_fields) },
	{ NP_MSG_API_KEY, "api_key", FIELDS(api_key_fields) },
	{ NP_MSG_PROBE, "probe", NULL, 0 },
	{ NP_MSG_READY, "ready", NULL, 0 },
	{ NP_MSG_CODE, "code", FIELDS(code_fields) },
	{ NP_MSG_PENDING, "pending", NULL, 0 },
	{ NP_MSG_IDENTITY, "identity", FIELDS(identity_fields) },
	{ NP_MSG_FAILURE, "failure", FIELDS(failure_fields) },
};

#define N_MESSAGES (sizeof messages / sizeof messages[0])

static const char *const reason_names[] = {
	[NP_FAIL_DENIED] = "denied",         [NP_FAIL_EXPIRED] = "expired",
	[NP_FAIL_TIMEOUT] = "timeout",       [NP_FAIL_UNAUTHORIZED] = "unauthorized",
	[NP_FAIL_UNAVAILABLE] = "unavailable", [NP_FAIL_TLS] = "tls",
	[NP_FAIL_MALFORMED] = "malformed",   [NP_FAIL_CONFIG] = "config",
	[NP_FAIL_INTERNAL] = "internal",     [NP_FAIL_UNREACHABLE] = "unreachable",
};

#define N_REASONS (sizeof reason_names / sizeof reason_names[0])

const char *np_failure_reason_name(enum np_failure_reason reason)
{
	if ((size_t)reason < N_REASONS && reason_names[reason] != NULL)
		return reason_names[reason];
	return "internal";
}

/* The reason of a name, NP_FAIL_INTERNAL for a name it does not know (found false). */
static enum np_failure_reason reason_from_name(const char *name, bool *found)
{
	for (size_t i = 0; i < N_REASONS; i++) {
		if (reason_names[i] != NULL && strcmp(reason_names[i], name) == 0) {
			*found = true;
			return (enum np_failure_reason)i;
		}
	}
	*found = false;
	return NP_FAIL_INTERNAL;
}

void np_msg_init(struct np_msg *m, enum np_msg_type type)
{
	memset(m, 0, sizeof *m);
	m->type = type;
}

void np_msg_wipe(struct np_msg *m)
{
	sodium_memzero(m, sizeof *m);
}

const char *np_msg_type_name(enum np_msg_type type)
{
	for (size_t i = 0; i < N_MESSAGES; i++)
		if (messages[i].type == type)
			return messages[i].name;
	return NULL;
}

const struct np_msg_field *np_msg_fields(enum np_msg_type type, size_t *n)
{
	for (size_t i = 0; i < N_MESSAGES; i++) {
		if (messages[i].type == type) {
			*n = messages[i].n_fields;
			return messages[i].fields;
		}
	}
	*n = 0;
	return NULL;
}

/* ---- a field's place in a message ---- */

static char *text_of(struct np_msg *m, const struct np_msg_field *f)
{
	return (char *)m + f->offset;
}

static const char *const_text_of(const struct np_msg *m, const struct np_msg_field *f)
{
	return (const char *)m + f->offset;
}

static int64_t number_of(const struct np_msg *m, const struct np_msg_field *f)
{
	const void *at = (const char *)m + f->offset;

	switch (f->kind) {
	case NP_FIELD_UINT:
		return *(const unsigned *)at;
	case NP_FIELD_INT64:
		return *(const int64_t *)at;
	case NP_FIELD_BOOL:
		return *(const bool *)at;
	case NP_FIELD_REASON:
		return *(const enum np_failure_reason *)at;
	case NP_FIELD_TEXT:
		break;
	}
	return 0;
}

/* Stores value, which the caller has checked against the field's range. */
static void set_number(struct np_msg *m, const struct np_msg_field *f, int64_t value)
{
	void *at = (char *)m + f->offset;

	switch (f->kind) {
	case NP_FIELD_UINT:
		*(unsigned *)at = (unsigned)value;
		break;
	case NP_FIELD_INT64:
		*(int64_t *)at = value;
		break;
	case NP_FIELD_BOOL:
		*(bool *)at = value != 0;
		break;
	case NP_FIELD_REASON:
		*(enum np_failure_reason *)at = (enum np_failure_reason)value;
		break;
	case NP_FIELD_TEXT:
		break;
	}
}

int np_msg_set(struct np_msg *m, const struct np_msg_field *f, const char *text)
{
	char *end = NULL;
	long long value;
	bool found = false;

	switch (f->kind) {
	case NP_FIELD_TEXT:
		if (strlen(text) >= f->size)
			return -1;
		memcpy(text_of(m, f), text, strlen(text) + 1);
		return 0;
	case NP_FIELD_UINT:
	case NP_FIELD_INT64:
		errno = 0;
		value = strtoll(text, &end, 10);
		if (errno != 0 || end == text || *end != '\0' || value < f->min || value > f->max)
			return -1;
		set_number(m, f, value);
		return 0;
	case NP_FIELD_BOOL:
		if (strcmp(text, "yes") != 0 && strcmp(text, "no") != 0)
			return -1;
		set_number(m, f, strcmp(text, "yes") == 0);
		return 0;
	case NP_FIELD_REASON:
		set_number(m, f, reason_from_name(text, &found));
		return found ? 0 : -1;
	}
	return -1;
}

/* ---- encoding ---- */

static int encode_field(const struct np_msg *m, const struct np_msg_field *f,
                        struct json_object *obj)
{
	switch (f->kind) {
	case NP_FIELD_TEXT:
		return np_json_add_string(obj, f->name, const_text_of(m, f));
	case NP_FIELD_UINT:
	case NP_FIELD_INT64:
		return np_json_add_int64(obj, f->name, number_of(m, f));
	case NP_FIELD_BOOL:
		return np_json_add_bool(obj, f->name, number_of(m, f) != 0);
	case NP_FIELD_REASON:
		return np_json_add_string(
			obj, f->name, np_failure_reason_name((enum np_failure_reason)number_of(m, f)));
	}
	return -1;
}

int np_msg_encode(const struct np_msg *m, char *line, size_t line_size, size_t *line_len)
{
	struct json_object *obj = json_object_new_object();
	const char *name = np_msg_type_name(m->type);
	size_t n_fields = 0;
	const struct np_msg_field *fields = np_msg_fields(m->type, &n_fields);
	size_t len = 0;
	int rc = -1;

	if (obj == NULL || name == NULL)
		goto out;
	if (np_json_add_int64(obj, "v", NP_PROTO_VERSION) != 0 ||
	    np_json_add_string(obj, "type", name) != 0)
		goto out;
	for (size_t i = 0; i < n_fields; i++)
		if (encode_field(m, &fields[i], obj) != 0)
			goto out;
	/* Leave room for the newline. */
	if (line_size < 2 || np_json_serialise(obj, line, line_size - 1, &len) != 0)
		goto out;
	line[len++] = '\n';
	line[len] = '\0';
	*line_len = len;
	rc = 0;
out:
	np_json_free(obj);
	return rc;
}

/* ---- decoding ---- */

struct field_error {
	char *err;
	size_t err_size;
	bool failed;
};

/* Only the first problem is told: it is the one the sender must fix first. */
static void fail(struct field_error *fe, const char *what, const char *key)
{
	if (!fe->failed)
		snprintf(fe->err, fe->err_size, "%s field \"%s\"", what, key);
	fe->failed = true;
}

static void decode_text(struct json_object *obj, const struct np_msg_field *f,
                        struct np_msg *m, struct field_error *fe)
{
	char *out = text_of(m, f);
	size_t len = 0;
	enum np_json_field got = np_json_string(obj, f->name, out, f->size, &len);

	if (got != NP_JSON_FOUND) {
		fail(fe, got == NP_JSON_BAD ? "bad" : "missing", f->name);
		return;
	}
	if (f->check != NULL && !(len == 0 && (f->flags & NP_FIELD_EMPTY_OK) != 0) &&
	    !f->check(out, len))
		fail(fe, "invalid", f->name);
	/* Display-only text: sanitise again rather than trust the sender did. */
	if ((f->flags & NP_FIELD_SANITISE) != 0 && !fe->failed) {
		char raw[NP_PROTO_TEXT_MAX + 1];

		if (len >= sizeof raw) {
			fail(fe, "bad", f->name);
			return;
		}
		memcpy(raw, out, len + 1);
		np_sanitize(out, f->size, raw, len);
		sodium_memzero(raw, sizeof raw);
	}
}

static void decode_field(struct json_object *obj, const struct np_msg_field *f,
                         struct np_msg *m, struct field_error *fe)
{
	int64_t value = 0;
	bool flag = false;
	/* Longer than any reason's name: anything longer is "bad", not unknown. */
	char word[32];
	bool known = false;

	switch (f->kind) {
	case NP_FIELD_TEXT:
		decode_text(obj, f, m, fe);
		return;
	case NP_FIELD_UINT:
	case NP_FIELD_INT64:
		if (np_json_int64(obj, f->name, &value) != NP_JSON_FOUND || value < f->min ||
		    value > f->max)
			fail(fe, "bad", f->name);
		else
			set_number(m, f, value);
		return;
	case NP_FIELD_BOOL:
		if (np_json_bool(obj, f->name, &flag) != NP_JSON_FOUND)
			fail(fe, "bad", f->name);
		else
			set_number(m, f, flag);
		return;
	case NP_FIELD_REASON:
		switch (np_json_string(obj, f->name, word, sizeof word, NULL)) {
		case NP_JSON_FOUND:
			/* A reason of a newer helper is an internal failure to this side. */
			set_number(m, f, reason_from_name(word, &known));
			return;
		case NP_JSON_BAD:
			fail(fe, "bad", f->name);
			return;
		case NP_JSON_ABSENT:
			fail(fe, "missing", f->name);
			return;
		}
		return;
	}
}

/* The message type of a name, or 0. */
static enum np_msg_type type_from_name(const char *name)
{
	for (size_t i = 0; i < N_MESSAGES; i++)
		if (strcmp(messages[i].name, name) == 0)
			return messages[i].type;
	return (enum np_msg_type)0;
}

int np_msg_decode(const char *line, size_t line_len, struct np_msg *m, char *err,
                  size_t err_size)
{
	struct field_error fe = { .err = err, .err_size = err_size, .failed = false };
	struct json_object *obj;
	char name[32];
	int64_t version = 0;
	size_t n_fields = 0;
	const struct np_msg_field *fields;

	np_msg_init(m, (enum np_msg_type)0);
	obj = np_json_parse_object(line, line_len, PROTO_MAX_DEPTH, err, err_size);
	if (obj == NULL)
		return -1;
	if (np_json_int64(obj, "v", &version) != NP_JSON_FOUND || version != NP_PROTO_VERSION) {
		snprintf(err, err_size, "unsupported protocol version");
		fe.failed = true;
	} else if (np_json_string(obj, "type", name, sizeof name, NULL) != NP_JSON_FOUND) {
		snprintf(err, err_size, "missing message type");
		fe.failed = true;
	} else if ((m->type = type_from_name(name)) == 0) {
		snprintf(err, err_size, "unknown message type");
		fe.failed = true;
	} else {
		fields = np_msg_fields(m->type, &n_fields);
		for (size_t i = 0; i < n_fields; i++)
			decode_field(obj, &fields[i], m, &fe);
	}
	np_json_free(obj);
	if (fe.failed) {
		np_msg_wipe(m);
		return -1;
	}
	return 0;
}
