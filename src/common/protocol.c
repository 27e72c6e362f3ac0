#include "common/protocol.h"

#include <json.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "common/json_util.h"
#include "common/sanitize.h"

#define PROTO_MAX_DEPTH 3

static const struct {
	enum np_msg_type type;
	const char *name;
} msg_names[] = {
	{ NP_MSG_CONFIG, "config" },     { NP_MSG_DEVICE_LOGIN, "device_login" },
	{ NP_MSG_POLL_NOW, "poll_now" }, { NP_MSG_WHOAMI, "whoami" },
	{ NP_MSG_API_KEY, "api_key" },   { NP_MSG_PROBE, "probe" },
	{ NP_MSG_READY, "ready" },       { NP_MSG_CODE, "code" },
	{ NP_MSG_PENDING, "pending" },   { NP_MSG_IDENTITY, "identity" },
	{ NP_MSG_FAILURE, "failure" },
};

static const char *const reason_names[] = {
	[NP_FAIL_DENIED] = "denied",         [NP_FAIL_EXPIRED] = "expired",
	[NP_FAIL_TIMEOUT] = "timeout",       [NP_FAIL_UNAUTHORIZED] = "unauthorized",
	[NP_FAIL_UNAVAILABLE] = "unavailable", [NP_FAIL_TLS] = "tls",
	[NP_FAIL_MALFORMED] = "malformed",   [NP_FAIL_CONFIG] = "config",
	[NP_FAIL_INTERNAL] = "internal",
};

#define N_REASONS (sizeof reason_names / sizeof reason_names[0])

const char *np_failure_reason_name(enum np_failure_reason reason)
{
	if ((size_t)reason < N_REASONS && reason_names[reason] != NULL)
		return reason_names[reason];
	return "internal";
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

static const char *type_name(enum np_msg_type type)
{
	for (size_t i = 0; i < sizeof msg_names / sizeof msg_names[0]; i++)
		if (msg_names[i].type == type)
			return msg_names[i].name;
	return NULL;
}

/* ---- encoding ---- */

static int encode_fields(const struct np_msg *m, struct json_object *obj)
{
	int rc = 0;

	switch (m->type) {
	case NP_MSG_CONFIG:
		rc |= np_json_add_string(obj, "api_url", m->config.api_url);
		rc |= np_json_add_string(obj, "ca_file", m->config.ca_file);
		rc |= np_json_add_string(obj, "pinned_pubkey", m->config.pinned_pubkey);
		rc |= np_json_add_string(obj, "proxy", m->config.proxy);
		rc |= np_json_add_string(obj, "helper_user", m->config.helper_user);
		rc |= np_json_add_int64(obj, "connect_timeout", m->config.connect_timeout);
		rc |= np_json_add_int64(obj, "request_timeout", m->config.request_timeout);
		break;
	case NP_MSG_DEVICE_LOGIN:
		rc |= np_json_add_string(obj, "intent", m->login.intent);
		rc |= np_json_add_int64(obj, "poll_interval", m->login.poll_interval);
		rc |= np_json_add_int64(obj, "timeout", m->login.timeout);
		rc |= np_json_add_bool(obj, "want_token", m->login.want_token);
		break;
	case NP_MSG_WHOAMI:
		rc |= np_json_add_string(obj, "token", m->token);
		break;
	case NP_MSG_API_KEY:
		rc |= np_json_add_string(obj, "api_key", m->api_key);
		break;
	case NP_MSG_CODE:
		rc |= np_json_add_string(obj, "code", m->code.code);
		rc |= np_json_add_string(obj, "verification_url", m->code.verification_url);
		rc |= np_json_add_int64(obj, "expires_at", m->code.expires_at);
		break;
	case NP_MSG_IDENTITY:
		rc |= np_json_add_string(obj, "token", m->identity.token);
		rc |= np_json_add_string(obj, "user_id", m->identity.user_id);
		rc |= np_json_add_string(obj, "email", m->identity.email);
		rc |= np_json_add_string(obj, "name", m->identity.name);
		rc |= np_json_add_int64(obj, "token_exp", m->identity.token_exp);
		break;
	case NP_MSG_FAILURE:
		rc |= np_json_add_string(obj, "reason", np_failure_reason_name(m->failure.reason));
		rc |= np_json_add_string(obj, "detail", m->failure.detail);
		break;
	case NP_MSG_POLL_NOW:
	case NP_MSG_PROBE:
	case NP_MSG_READY:
	case NP_MSG_PENDING:
		break;
	}
	return rc;
}

int np_msg_encode(const struct np_msg *m, char *line, size_t line_size, size_t *line_len)
{
	struct json_object *obj = json_object_new_object();
	const char *name = type_name(m->type);
	size_t len = 0;
	int rc = -1;

	if (obj == NULL || name == NULL)
		goto out;
	if (np_json_add_int64(obj, "v", NP_PROTO_VERSION) != 0 || np_json_add_string(obj, "type", name) != 0 ||
	    encode_fields(m, obj) != 0)
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
	int failed;
};

static void fail(struct field_error *fe, const char *what, const char *key)
{
	if (!fe->failed)
		snprintf(fe->err, fe->err_size, "%s field \"%s\"", what, key);
	fe->failed = 1;
}

static size_t get_text(struct json_object *obj, const char *key, char *out, size_t out_size,
                       bool required, struct field_error *fe)
{
	size_t len = 0;
	enum np_json_field f = np_json_string(obj, key, out, out_size, &len);

	if (f == NP_JSON_BAD || (f == NP_JSON_ABSENT && required))
		fail(fe, f == NP_JSON_BAD ? "bad" : "missing", key);
	return len;
}

static int64_t get_int(struct json_object *obj, const char *key, int64_t min, int64_t max,
                       struct field_error *fe)
{
	int64_t value = 0;

	if (np_json_int64(obj, key, &value) != NP_JSON_FOUND || value < min || value > max)
		fail(fe, "bad", key);
	return value;
}

static void check(bool ok, const char *key, struct field_error *fe)
{
	if (!ok)
		fail(fe, "invalid", key);
}

static enum np_failure_reason reason_from_name(const char *name)
{
	for (size_t i = 0; i < N_REASONS; i++)
		if (reason_names[i] != NULL && strcmp(reason_names[i], name) == 0)
			return (enum np_failure_reason)i;
	return NP_FAIL_INTERNAL;
}

static void decode_fields(struct json_object *obj, struct np_msg *m, struct field_error *fe)
{
	char word[32];
	size_t len;

	switch (m->type) {
	case NP_MSG_CONFIG:
		get_text(obj, "api_url", m->config.api_url, sizeof m->config.api_url, true, fe);
		get_text(obj, "ca_file", m->config.ca_file, sizeof m->config.ca_file, true, fe);
		get_text(obj, "pinned_pubkey", m->config.pinned_pubkey,
		         sizeof m->config.pinned_pubkey, true, fe);
		get_text(obj, "proxy", m->config.proxy, sizeof m->config.proxy, true, fe);
		get_text(obj, "helper_user", m->config.helper_user, sizeof m->config.helper_user,
		         true, fe);
		m->config.connect_timeout = (unsigned)get_int(obj, "connect_timeout", 1, 600, fe);
		m->config.request_timeout = (unsigned)get_int(obj, "request_timeout", 1, 600, fe);
		break;
	case NP_MSG_DEVICE_LOGIN:
		get_text(obj, "intent", m->login.intent, sizeof m->login.intent, true, fe);
		m->login.poll_interval = (unsigned)get_int(obj, "poll_interval", 1, 3600, fe);
		m->login.timeout = (unsigned)get_int(obj, "timeout", 1, 86400, fe);
		if (np_json_bool(obj, "want_token", &m->login.want_token) != NP_JSON_FOUND)
			fail(fe, "bad", "want_token");
		break;
	case NP_MSG_WHOAMI:
		len = get_text(obj, "token", m->token, sizeof m->token, true, fe);
		check(fe->failed || np_valid_token(m->token, len), "token", fe);
		break;
	case NP_MSG_API_KEY:
		len = get_text(obj, "api_key", m->api_key, sizeof m->api_key, true, fe);
		check(fe->failed || np_valid_api_key(m->api_key, len), "api_key", fe);
		break;
	case NP_MSG_CODE:
		len = get_text(obj, "code", m->code.code, sizeof m->code.code, true, fe);
		check(fe->failed || np_valid_code(m->code.code, len), "code", fe);
		len = get_text(obj, "verification_url", m->code.verification_url,
		               sizeof m->code.verification_url, true, fe);
		check(fe->failed || np_valid_https_url(m->code.verification_url, len),
		      "verification_url", fe);
		m->code.expires_at = get_int(obj, "expires_at", 0, INT64_C(1) << 40, fe);
		break;
	case NP_MSG_IDENTITY:
		len = get_text(obj, "token", m->identity.token, sizeof m->identity.token, true, fe);
		check(fe->failed || len == 0 || np_valid_token(m->identity.token, len), "token", fe);
		len = get_text(obj, "user_id", m->identity.user_id, sizeof m->identity.user_id, true,
		               fe);
		check(fe->failed || np_valid_user_id(m->identity.user_id, len), "user_id", fe);
		len = get_text(obj, "email", m->identity.email, sizeof m->identity.email, true, fe);
		check(fe->failed || len == 0 || np_valid_email(m->identity.email, len), "email", fe);
		len = get_text(obj, "name", m->identity.name, sizeof m->identity.name, true, fe);
		/* Display-only text: sanitise again rather than trust the helper did. */
		if (!fe->failed) {
			char raw[sizeof m->identity.name];

			memcpy(raw, m->identity.name, len + 1);
			np_sanitize(m->identity.name, sizeof m->identity.name, raw, len);
		}
		m->identity.token_exp = get_int(obj, "token_exp", 0, INT64_C(1) << 40, fe);
		break;
	case NP_MSG_FAILURE:
		get_text(obj, "reason", word, sizeof word, true, fe);
		m->failure.reason = reason_from_name(word);
		len = get_text(obj, "detail", m->failure.detail, sizeof m->failure.detail, true, fe);
		if (!fe->failed) {
			char raw[sizeof m->failure.detail];

			memcpy(raw, m->failure.detail, len + 1);
			np_sanitize(m->failure.detail, sizeof m->failure.detail, raw, len);
		}
		break;
	case NP_MSG_POLL_NOW:
	case NP_MSG_PROBE:
	case NP_MSG_READY:
	case NP_MSG_PENDING:
		break;
	}
}

int np_msg_decode(const char *line, size_t line_len, struct np_msg *m, char *err,
                  size_t err_size)
{
	struct field_error fe = { .err = err, .err_size = err_size, .failed = 0 };
	struct json_object *obj;
	char name[32];
	int64_t version = 0;

	np_msg_init(m, (enum np_msg_type)0);
	obj = np_json_parse_object(line, line_len, PROTO_MAX_DEPTH, err, err_size);
	if (obj == NULL)
		return -1;
	if (np_json_int64(obj, "v", &version) != NP_JSON_FOUND || version != NP_PROTO_VERSION) {
		snprintf(err, err_size, "unsupported protocol version");
		fe.failed = 1;
	} else if (np_json_string(obj, "type", name, sizeof name, NULL) != NP_JSON_FOUND) {
		snprintf(err, err_size, "missing message type");
		fe.failed = 1;
	} else {
		for (size_t i = 0; i < sizeof msg_names / sizeof msg_names[0]; i++)
			if (strcmp(msg_names[i].name, name) == 0)
				m->type = msg_names[i].type;
		if (m->type == 0) {
			snprintf(err, err_size, "unknown message type");
			fe.failed = 1;
		} else {
			decode_fields(obj, m, &fe);
		}
	}
	np_json_free(obj);
	if (fe.failed) {
		np_msg_wipe(m);
		return -1;
	}
	return 0;
}
