/* SPDX-License-Identifier: BSD-2-Clause */
#include "common/json_util.h"

#include <errno.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

static void wipe_tokener(struct json_tokener *tok)
{
	/* json-c keeps the raw text of the last string it read in its buffer. */
	if (tok->pb != NULL && tok->pb->buf != NULL && tok->pb->size > 0)
		sodium_memzero(tok->pb->buf, (size_t)tok->pb->size);
}

struct json_object *np_json_parse_object(const char *text, size_t len, int max_depth,
                                         char *err, size_t err_size)
{
	struct json_tokener *tok;
	struct json_object *obj = NULL;

	if (len > (size_t)INT32_MAX || memchr(text, '\0', len) != NULL) {
		snprintf(err, err_size, "not JSON text");
		return NULL;
	}
	tok = json_tokener_new_ex(max_depth);
	if (tok == NULL) {
		snprintf(err, err_size, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, text, (int)len);
	if (obj == NULL || json_tokener_get_error(tok) != json_tokener_success) {
		enum json_tokener_error jerr = json_tokener_get_error(tok);

		snprintf(err, err_size, "invalid JSON: %s",
		         jerr == json_tokener_continue ? "truncated" : json_tokener_error_desc(jerr));
		np_json_free(obj);
		obj = NULL;
	} else if (json_tokener_get_parse_end(tok) != len) {
		snprintf(err, err_size, "invalid JSON: trailing bytes");
		np_json_free(obj);
		obj = NULL;
	} else if (!json_object_is_type(obj, json_type_object)) {
		snprintf(err, err_size, "JSON is not an object");
		np_json_free(obj);
		obj = NULL;
	}
	wipe_tokener(tok);
	json_tokener_free(tok);
	return obj;
}

/* Recursion is bounded: the tokener refuses documents deeper than max_depth. */
static void wipe_strings(struct json_object *obj) /* NOLINT(misc-no-recursion) */
{
	switch (json_object_get_type(obj)) {
	case json_type_string: {
		/* The text is owned by obj and is about to be freed: cast to wipe it. */
		char *text = (char *)(uintptr_t)json_object_get_string(obj);
		int text_len = json_object_get_string_len(obj);

		if (text != NULL && text_len > 0)
			sodium_memzero(text, (size_t)text_len);
		break;
	}
	case json_type_object: {
		json_object_object_foreach(obj, key, value)
		{
			(void)key;
			wipe_strings(value);
		}
		break;
	}
	case json_type_array: {
		size_t n = json_object_array_length(obj);

		for (size_t i = 0; i < n; i++)
			wipe_strings(json_object_array_get_idx(obj, i));
		break;
	}
	default:
		break;
	}
}

void np_json_free(struct json_object *obj)
{
	if (obj == NULL)
		return;
	wipe_strings(obj);
	json_object_put(obj);
}

static struct json_object *lookup(struct json_object *obj, const char *key)
{
	struct json_object *value = NULL;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &value))
		return NULL;
	return json_object_is_type(value, json_type_null) ? NULL : value;
}

enum np_json_field np_json_string(struct json_object *obj, const char *key, char *out,
                                  size_t out_size, size_t *out_len)
{
	struct json_object *value = lookup(obj, key);
	const char *text;
	int text_len;

	out[0] = '\0';
	if (out_len != NULL)
		*out_len = 0;
	if (value == NULL)
		return NP_JSON_ABSENT;
	if (!json_object_is_type(value, json_type_string))
		return NP_JSON_BAD;
	text = json_object_get_string(value);
	text_len = json_object_get_string_len(value);
	/* "\u0000" decodes to a NUL that C string handling would silently cut at. */
	if (text == NULL || text_len < 0 || (size_t)text_len >= out_size ||
	    memchr(text, '\0', (size_t)text_len) != NULL)
		return NP_JSON_BAD;
	memcpy(out, text, (size_t)text_len);
	out[text_len] = '\0';
	if (out_len != NULL)
		*out_len = (size_t)text_len;
	return NP_JSON_FOUND;
}

enum np_json_field np_json_int64(struct json_object *obj, const char *key, int64_t *out)
{
	struct json_object *value = lookup(obj, key);

	*out = 0;
	if (value == NULL)
		return NP_JSON_ABSENT;
	if (json_object_is_type(value, json_type_int)) {
		errno = 0;
		*out = json_object_get_int64(value);
		/* json-c clamps out-of-range integers to INT64_MIN/MAX and sets errno. */
		if (errno != 0 || *out == INT64_MAX || *out == INT64_MIN)
			return NP_JSON_BAD;
		return NP_JSON_FOUND;
	}
	if (json_object_is_type(value, json_type_double)) {
		double d = json_object_get_double(value);

		if (!isfinite(d) || d != floor(d) || d < -9.0e15 || d > 9.0e15)
			return NP_JSON_BAD;
		*out = (int64_t)d;
		return NP_JSON_FOUND;
	}
	return NP_JSON_BAD;
}

enum np_json_field np_json_bool(struct json_object *obj, const char *key, bool *out)
{
	struct json_object *value = lookup(obj, key);

	*out = false;
	if (value == NULL)
		return NP_JSON_ABSENT;
	if (!json_object_is_type(value, json_type_boolean))
		return NP_JSON_BAD;
	*out = json_object_get_boolean(value) != 0;
	return NP_JSON_FOUND;
}

enum np_json_field np_json_object(struct json_object *obj, const char *key,
                                  struct json_object **out)
{
	struct json_object *value = lookup(obj, key);

	*out = NULL;
	if (value == NULL)
		return NP_JSON_ABSENT;
	if (!json_object_is_type(value, json_type_object))
		return NP_JSON_BAD;
	*out = value;
	return NP_JSON_FOUND;
}

/* json_object_object_add() does not take ownership when it fails. */
static int add_member(struct json_object *obj, const char *key, struct json_object *value)
{
	if (value == NULL || json_object_object_add(obj, key, value) != 0) {
		json_object_put(value);
		return -1;
	}
	return 0;
}

int np_json_add_string(struct json_object *obj, const char *key, const char *value)
{
	return add_member(obj, key, json_object_new_string(value));
}

int np_json_add_int64(struct json_object *obj, const char *key, int64_t value)
{
	return add_member(obj, key, json_object_new_int64(value));
}

int np_json_add_bool(struct json_object *obj, const char *key, bool value)
{
	return add_member(obj, key, json_object_new_boolean(value));
}

int np_json_serialise(struct json_object *obj, char *out, size_t out_size, size_t *out_len)
{
	size_t text_len = 0;
	const char *text = json_object_to_json_string_length(
		obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &text_len);
	int rc = -1;

	if (text != NULL && text_len < out_size) {
		memcpy(out, text, text_len);
		out[text_len] = '\0';
		*out_len = text_len;
		rc = 0;
	}
	if (text != NULL)
		sodium_memzero((char *)(uintptr_t)text, text_len);
	return rc;
}
