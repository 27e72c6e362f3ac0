/* SPDX-License-Identifier: BSD-2-Clause */
#include "helper/api_parse.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "common/json_util.h"
#include "common/sanitize.h"
#include "common/validate.h"

/* The API's objects are flat or one envelope deep; anything deeper is hostile. */
#define API_MAX_DEPTH 4
#define EXPIRES_AT_MAX (INT64_C(1) << 40)

static struct json_object *parse(const char *body, size_t len, char *err, size_t err_size)
{
	return np_json_parse_object(body, len, API_MAX_DEPTH, err, err_size);
}

/* Names the host a refused verification_url would have sent the person to. */
static void refused_url(const char *url, size_t len, char *err, size_t err_size)
{
	const char *authority = NULL;
	size_t authority_len = np_url_authority(url, len, &authority);
	char shown[65];

	np_sanitize(shown, sizeof shown, authority, authority_len);
	snprintf(err, err_size, "verification_url not a plain https URL (host \"%s\")", shown);
}

int np_api_parse_device_code(const char *body, size_t len, struct np_msg_code *out, char *err,
                             size_t err_size)
{
	struct json_object *obj = parse(body, len, err, err_size);
	size_t code_len = 0;
	size_t url_len = 0;
	int rc = -1;

	memset(out, 0, sizeof *out);
	if (obj == NULL)
		return -1;
	if (np_json_string(obj, "code", out->code, sizeof out->code, &code_len) != NP_JSON_FOUND ||
	    !np_valid_code(out->code, code_len))
		snprintf(err, err_size, "device code missing or not a short alphanumeric code");
	else if (np_json_string(obj, "verification_url", out->verification_url,
	                        sizeof out->verification_url, &url_len) != NP_JSON_FOUND)
		snprintf(err, err_size, "verification_url missing, not a string or over %d bytes", NP_URL_MAX);
	else if (!np_valid_https_url(out->verification_url, url_len))
		refused_url(out->verification_url, url_len, err, err_size);
	else if (np_json_int64(obj, "expires_at", &out->expires_at) != NP_JSON_FOUND ||
	         out->expires_at <= 0 || out->expires_at > EXPIRES_AT_MAX)
		snprintf(err, err_size, "expires_at missing or not a plausible Unix time");
	else
		rc = 0;
	np_json_free(obj);
	if (rc != 0)
		memset(out, 0, sizeof *out);
	return rc;
}

int np_api_parse_poll(const char *body, size_t len, enum np_poll_state *state, char *token,
                      size_t token_size, char *status, size_t status_size, char *err,
                      size_t err_size)
{
	struct json_object *obj = parse(body, len, err, err_size);
	char raw_status[64];
	size_t status_len = 0;
	size_t token_len = 0;
	enum np_json_field token_field;
	enum np_json_field status_field;
	int rc = -1;

	token[0] = '\0';
	status[0] = '\0';
	*state = NP_POLL_PENDING;
	if (obj == NULL)
		return -1;
	status_field = np_json_string(obj, "status", raw_status, sizeof raw_status, &status_len);
	token_field = np_json_string(obj, "token", token, token_size, &token_len);
	if (status_field == NP_JSON_BAD || token_field == NP_JSON_BAD) {
		snprintf(err, err_size, "status or token of the wrong type or size");
	} else if (token_len > 0) {
		/* A non-empty token is approval, whatever the status says. */
		if (np_valid_token(token, token_len)) {
			*state = NP_POLL_APPROVED;
			rc = 0;
		} else {
			snprintf(err, err_size, "token is not a JWT");
		}
	} else if (status_field != NP_JSON_FOUND || status_len == 0) {
		snprintf(err, err_size, "status missing");
	} else if (strcmp(raw_status, "pending") == 0) {
		rc = 0;
	} else if (strcmp(raw_status, "approved") == 0) {
		snprintf(err, err_size, "approved without a token");
	} else {
		np_sanitize(status, status_size, raw_status, status_len);
		/* Still final (it is not "pending"), but the log and the person need a word. */
		if (status[0] == '\0')
			snprintf(status, status_size, "unknown");
		*state = NP_POLL_FINAL;
		rc = 0;
	}
	np_json_free(obj);
	sodium_memzero(raw_status, sizeof raw_status);
	if (rc != 0 || *state != NP_POLL_APPROVED)
		sodium_memzero(token, token_size);
	return rc;
}

/* Opens the {"ok": true, "data": {...}} envelope. */
static struct json_object *envelope_data(struct json_object *obj, char *err, size_t err_size)
{
	struct json_object *data = NULL;
	bool ok = false;

	if (np_json_bool(obj, "ok", &ok) != NP_JSON_FOUND || !ok) {
		snprintf(err, err_size, "answer without \"ok\": true");
		return NULL;
	}
	if (np_json_object(obj, "data", &data) != NP_JSON_FOUND) {
		snprintf(err, err_size, "answer without a \"data\" object");
		return NULL;
	}
	return data;
}

int np_api_parse_token(const char *body, size_t len, char *token, size_t token_size, char *err,
                       size_t err_size)
{
	struct json_object *obj = parse(body, len, err, err_size);
	struct json_object *data;
	size_t token_len = 0;
	int rc = -1;

	token[0] = '\0';
	if (obj == NULL)
		return -1;
	data = envelope_data(obj, err, err_size);
	if (data != NULL) {
		if (np_json_string(data, "token", token, token_size, &token_len) == NP_JSON_FOUND &&
		    np_valid_token(token, token_len))
			rc = 0;
		else
			snprintf(err, err_size, "token missing or not a JWT");
	}
	np_json_free(obj);
	if (rc != 0)
		sodium_memzero(token, token_size);
	return rc;
}

int np_api_parse_me(const char *body, size_t len, struct np_msg_identity *out, char *err,
                    size_t err_size)
{
	struct json_object *obj = parse(body, len, err, err_size);
	struct json_object *data;
	char raw[NP_NAME_MAX * 4 + 1];
	size_t field_len = 0;
	enum np_json_field field;
	int rc = -1;

	out->user_id[0] = out->email[0] = out->name[0] = '\0';
	if (obj == NULL)
		return -1;
	data = envelope_data(obj, err, err_size);
	if (data == NULL)
		goto out;
	if (np_json_string(data, "id", out->user_id, sizeof out->user_id, &field_len) !=
	        NP_JSON_FOUND ||
	    !np_valid_user_id(out->user_id, field_len)) {
		snprintf(err, err_size, "id missing or malformed");
		goto out;
	}
	/* An unusable e-mail is dropped rather than fatal: the id still identifies. */
	field = np_json_string(data, "email", out->email, sizeof out->email, &field_len);
	if (field != NP_JSON_FOUND || !np_valid_email(out->email, field_len))
		out->email[0] = '\0';
	field = np_json_string(data, "name", raw, sizeof raw, &field_len);
	if (field == NP_JSON_FOUND)
		np_sanitize(out->name, sizeof out->name, raw, field_len);
	rc = 0;
out:
	np_json_free(obj);
	if (rc != 0)
		out->user_id[0] = out->email[0] = out->name[0] = '\0';
	return rc;
}

int64_t np_jwt_exp(const char *token)
{
	const char *first_dot = strchr(token, '.');
	const char *second_dot = first_dot != NULL ? strchr(first_dot + 1, '.') : NULL;
	unsigned char payload[NP_TOKEN_MAX];
	size_t payload_len = 0;
	struct json_object *obj;
	int64_t exp = 0;
	char err[64];

	if (second_dot == NULL)
		return 0;
	if (sodium_base642bin(payload, sizeof payload, first_dot + 1,
	                      (size_t)(second_dot - first_dot - 1), NULL, &payload_len, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0)
		return 0;
	obj = np_json_parse_object((const char *)payload, payload_len, API_MAX_DEPTH, err,
	                           sizeof err);
	if (obj != NULL && (np_json_int64(obj, "exp", &exp) != NP_JSON_FOUND || exp < 0 ||
	                    exp > EXPIRES_AT_MAX))
		exp = 0;
	np_json_free(obj);
	sodium_memzero(payload, sizeof payload);
	return exp;
}
