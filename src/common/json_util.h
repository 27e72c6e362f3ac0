/* SPDX-License-Identifier: BSD-2-Clause */
/* Strict JSON reading on top of json-c, and wiping of parsed secrets. */
#ifndef NP_JSON_UTIL_H
#define NP_JSON_UTIL_H

#include <json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Parses exactly one JSON object filling all of text[0..len) (no trailing
 * bytes, no NUL inside, at most max_depth levels).  Returns NULL with err set
 * otherwise.  Release with np_json_free().
 */
struct json_object *np_json_parse_object(const char *text, size_t len, int max_depth,
                                         char *err, size_t err_size);

/* Overwrites every string inside obj, then releases it. */
void np_json_free(struct json_object *obj);

enum np_json_field {
	NP_JSON_ABSENT = 0, /* no such key, or JSON null */
	NP_JSON_FOUND,
	NP_JSON_BAD,        /* wrong type, embedded NUL, or longer than allowed */
};

/* Copies the string at key into out (NUL-terminated, at most out_size - 1 bytes). */
enum np_json_field np_json_string(struct json_object *obj, const char *key, char *out,
                                  size_t out_size, size_t *out_len);

/* An integer, or a double with no fractional part that fits int64. */
enum np_json_field np_json_int64(struct json_object *obj, const char *key, int64_t *out);

enum np_json_field np_json_bool(struct json_object *obj, const char *key, bool *out);

/* The object at key. */
enum np_json_field np_json_object(struct json_object *obj, const char *key,
                                  struct json_object **out);

/* Adds a member; on failure nothing is leaked.  0 or -1. */
int np_json_add_string(struct json_object *obj, const char *key, const char *value);
int np_json_add_int64(struct json_object *obj, const char *key, int64_t value);
int np_json_add_bool(struct json_object *obj, const char *key, bool value);

/* Serialises obj into out (NUL-terminated) and wipes json-c's own copy. */
int np_json_serialise(struct json_object *obj, char *out, size_t out_size, size_t *out_len);

#endif
