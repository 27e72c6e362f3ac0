/* SPDX-License-Identifier: BSD-2-Clause */
#include "common/cache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <json.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/json_util.h"
#include "common/lineio.h"
#include "common/safe_file.h"

#define MAGIC "NPCACHE"
#define HEADER_BYTES 8
#define NONCE_BYTES crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_BYTES crypto_aead_xchacha20poly1305_ietf_ABYTES
#define LENGTH_BYTES 4
#define PLAIN_MAX 16384
#define NAME_SUFFIX ".entry"
#define KDF_CONTEXT "npcache1"
#define CLOCK_SKEW_S 60
/* Entry names: a keyed hash in hex, then the suffix. */
#define NAME_HEX 64
/* What np_cache_store writes first: this prefix and 16 random hex digits. */
#define TMP_PREFIX ".tmp-"
#define TMP_HEX 16
/* A write takes milliseconds: a temporary file older than this was left by one that died. */
#define TMP_STALE_AFTER_S 60
/* Room for any name the sweep may act on (an entry's is the longest), and its NUL. */
#define SWEEP_NAME_BYTES (NAME_HEX + sizeof NAME_SUFFIX)

enum subkey_id { SUBKEY_META = 1, SUBKEY_PAYLOAD = 2, SUBKEY_NAME = 3 };

/* ---- keys ---- */

int np_cache_keys_derive(struct np_cache_keys *keys, const unsigned char *master)
{
	keys->meta = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	keys->payload = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
	keys->name = sodium_malloc(crypto_generichash_KEYBYTES);
	if (keys->meta == NULL || keys->payload == NULL || keys->name == NULL ||
	    crypto_kdf_derive_from_key(keys->meta, crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	                               SUBKEY_META, KDF_CONTEXT, master) != 0 ||
	    crypto_kdf_derive_from_key(keys->payload, crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
	                               SUBKEY_PAYLOAD, KDF_CONTEXT, master) != 0 ||
	    crypto_kdf_derive_from_key(keys->name, crypto_generichash_KEYBYTES, SUBKEY_NAME,
	                               KDF_CONTEXT, master) != 0) {
		np_cache_keys_free(keys);
		return -1;
	}
	return 0;
}

void np_cache_keys_free(struct np_cache_keys *keys)
{
	/* sodium_free wipes before it releases. */
	sodium_free(keys->meta);
	sodium_free(keys->payload);
	sodium_free(keys->name);
	keys->meta = keys->payload = keys->name = NULL;
}

void np_cache_file_name(const struct np_cache_keys *keys, const char *scope, char *out,
                        size_t out_size)
{
	unsigned char digest[32];
	char hex[sizeof digest * 2 + 1];

	crypto_generichash(digest, sizeof digest, (const unsigned char *)scope, strlen(scope),
	                   keys->name, crypto_generichash_KEYBYTES);
	sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
	snprintf(out, out_size, "%s%s", hex, NAME_SUFFIX);
}

/* ---- plaintexts: small JSON objects ---- */

/* The meta box's fields, one line each: all are required when it is read. */
enum meta_kind { META_KIND_TEXT, META_KIND_INT64 };

struct meta_field {
	const char *key;
	enum meta_kind kind;
	size_t offset;
	size_t size;
};

#define META_SIZE(member) sizeof(((struct np_cache_meta *)0)->member)
#define META_TEXT(key, member) \
	{ key, META_KIND_TEXT, offsetof(struct np_cache_meta, member), META_SIZE(member) }
#define META_INT64(key, member) \
	{ key, META_KIND_INT64, offsetof(struct np_cache_meta, member), META_SIZE(member) }

static const struct meta_field meta_fields[] = {
	META_TEXT("account", account),
	META_INT64("invoker_uid", invoker_uid),
	META_TEXT("invoker", invoker_name),
	META_TEXT("scope", scope_kind),
	META_TEXT("service", service),
	META_TEXT("tty", tty),
	META_TEXT("rhost", rhost),
	META_TEXT("user_id", user_id),
	META_INT64("created", created),
	META_INT64("expires", expires),
	META_INT64("token_exp", token_exp),
	META_TEXT("ssh_key", ssh_key),
	META_INT64("confirmed", confirmed),
};

#define N_META_FIELDS (sizeof meta_fields / sizeof meta_fields[0])

static int meta_to_json(const struct np_cache_meta *meta, char *out, size_t out_size,
                        size_t *out_len)
{
	const char *base = (const char *)meta;
	struct json_object *obj = json_object_new_object();
	int rc = obj == NULL ? -1 : 0;

	for (size_t i = 0; rc == 0 && i < N_META_FIELDS; i++) {
		const struct meta_field *f = &meta_fields[i];
		int64_t number;

		if (f->kind == META_KIND_TEXT) {
			rc = np_json_add_string(obj, f->key, base + f->offset);
		} else {
			memcpy(&number, base + f->offset, sizeof number);
			rc = np_json_add_int64(obj, f->key, number);
		}
	}
	if (rc == 0)
		rc = np_json_serialise(obj, out, out_size, out_len);
	np_json_free(obj);
	return rc;
}

static int payload_to_json(const struct np_cache_payload *payload, char *out, size_t out_size,
                           size_t *out_len)
{
	struct json_object *obj = json_object_new_object();
	int rc = obj == NULL ? -1 : 0;

	rc |= rc == 0 ? np_json_add_string(obj, "token", payload->token) : -1;
	rc |= rc == 0 ? np_json_add_string(obj, "user_id", payload->user_id) : -1;
	rc |= rc == 0 ? np_json_add_string(obj, "email", payload->email) : -1;
	rc |= rc == 0 ? np_json_add_int64(obj, "created", payload->created) : -1;
	rc |= rc == 0 ? np_json_add_int64(obj, "token_exp", payload->token_exp) : -1;
	if (rc == 0)
		rc = np_json_serialise(obj, out, out_size, out_len);
	np_json_free(obj);
	return rc;
}

static bool get_text(struct json_object *obj, const char *key, char *out, size_t out_size,
                     size_t *len)
{
	return np_json_string(obj, key, out, out_size, len) == NP_JSON_FOUND;
}

static int meta_from_json(const char *text, size_t len, struct np_cache_meta *meta)
{
	char err[64];
	char *base = (char *)meta;
	struct json_object *obj = np_json_parse_object(text, len, 2, err, sizeof err);
	int rc = obj == NULL ? -1 : 0;

	memset(meta, 0, sizeof *meta);
	for (size_t i = 0; rc == 0 && i < N_META_FIELDS; i++) {
		const struct meta_field *f = &meta_fields[i];
		size_t n = 0;
		int64_t number = 0;

		if (f->kind == META_KIND_TEXT) {
			rc = get_text(obj, f->key, base + f->offset, f->size, &n) ? 0 : -1;
		} else {
			rc = np_json_int64(obj, f->key, &number) == NP_JSON_FOUND ? 0 : -1;
			memcpy(base + f->offset, &number, sizeof number);
		}
	}
	np_json_free(obj);
	if (rc != 0)
		memset(meta, 0, sizeof *meta);
	return rc;
}

static int payload_from_json(const char *text, size_t len, struct np_cache_payload *payload)
{
	char err[64];
	struct json_object *obj = np_json_parse_object(text, len, 2, err, sizeof err);
	size_t token_len = 0, id_len = 0, email_len = 0;
	int rc = -1;

	memset(payload, 0, sizeof *payload);
	if (obj != NULL &&
	    get_text(obj, "token", payload->token, sizeof payload->token, &token_len) &&
	    get_text(obj, "user_id", payload->user_id, sizeof payload->user_id, &id_len) &&
	    get_text(obj, "email", payload->email, sizeof payload->email, &email_len) &&
	    np_json_int64(obj, "created", &payload->created) == NP_JSON_FOUND &&
	    np_json_int64(obj, "token_exp", &payload->token_exp) == NP_JSON_FOUND &&
	    np_valid_token(payload->token, token_len) && np_valid_user_id(payload->user_id, id_len) &&
	    (email_len == 0 || np_valid_email(payload->email, email_len)))
		rc = 0;
	np_json_free(obj);
	if (rc != 0)
		sodium_memzero(payload, sizeof *payload);
	return rc;
}

/* ---- sealing ---- */

static void write_header(unsigned char *out)
{
	memcpy(out, MAGIC, HEADER_BYTES - 1);
	out[HEADER_BYTES - 1] = NP_CACHE_VERSION;
}

static void put_be32(unsigned char *out, uint32_t value)
{
	out[0] = (unsigned char)(value >> 24);
	out[1] = (unsigned char)(value >> 16);
	out[2] = (unsigned char)(value >> 8);
	out[3] = (unsigned char)value;
}

static uint32_t get_be32(const unsigned char *in)
{
	return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 | (uint32_t)in[2] << 8 | in[3];
}

/*
 * The payload's associated data: the header, a digest of everything before
 * the payload (so no byte of the meta box can change either), then the scope
 * the entry belongs to.
 */
#define PREFIX_DIGEST_BYTES 32
#define PAYLOAD_AD_MAX (HEADER_BYTES + PREFIX_DIGEST_BYTES + NP_CACHE_SCOPE_MAX)

static int payload_ad(const unsigned char *prefix, size_t prefix_len, const char *scope,
                      unsigned char *ad, size_t ad_size, size_t *ad_len)
{
	size_t scope_len = strlen(scope);

	if (HEADER_BYTES + PREFIX_DIGEST_BYTES + scope_len > ad_size)
		return -1;
	write_header(ad);
	crypto_generichash(ad + HEADER_BYTES, PREFIX_DIGEST_BYTES, prefix, prefix_len, NULL, 0);
	/* NOLINTNEXTLINE(bugprone-not-null-terminated-result): bytes, not a string */
	memcpy(ad + HEADER_BYTES + PREFIX_DIGEST_BYTES, scope, scope_len);
	*ad_len = HEADER_BYTES + PREFIX_DIGEST_BYTES + scope_len;
	return 0;
}

int np_cache_seal(const struct np_cache_keys *keys, const char *scope,
                  const struct np_cache_meta *meta, const struct np_cache_payload *payload,
                  unsigned char *out, size_t out_size, size_t *out_len)
{
	char *plain = sodium_malloc(PLAIN_MAX);
	unsigned char ad[PAYLOAD_AD_MAX];
	size_t ad_len = 0, meta_len = 0, payload_len = 0, pos = HEADER_BYTES;
	unsigned long long sealed_len = 0;
	int rc = -1;

	if (plain == NULL || strlen(scope) > NP_CACHE_SCOPE_MAX)
		goto out;
	write_header(out);
	if (meta_to_json(meta, plain, PLAIN_MAX, &meta_len) != 0 ||
	    pos + NONCE_BYTES + LENGTH_BYTES + meta_len + TAG_BYTES > out_size)
		goto out;
	randombytes_buf(out + pos, NONCE_BYTES);
	put_be32(out + pos + NONCE_BYTES, (uint32_t)(meta_len + TAG_BYTES));
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + pos + NONCE_BYTES + LENGTH_BYTES, &sealed_len,
	                                           (const unsigned char *)plain, meta_len, out,
	                                           HEADER_BYTES, NULL, out + pos, keys->meta);
	pos += NONCE_BYTES + LENGTH_BYTES + (size_t)sealed_len;
	sodium_memzero(plain, PLAIN_MAX);
	if (payload_to_json(payload, plain, PLAIN_MAX, &payload_len) != 0 ||
	    pos + NONCE_BYTES + payload_len + TAG_BYTES > out_size ||
	    payload_ad(out, pos, scope, ad, sizeof ad, &ad_len) != 0)
		goto out;
	randombytes_buf(out + pos, NONCE_BYTES);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + pos + NONCE_BYTES, &sealed_len,
	                                           (const unsigned char *)plain, payload_len, ad,
	                                           ad_len, NULL, out + pos, keys->payload);
	*out_len = pos + NONCE_BYTES + (size_t)sealed_len;
	rc = 0;
out:
	sodium_free(plain);
	return rc;
}

/* Checks the header and finds the two boxes.  0, or -1 with why. */
static int split(const unsigned char *data, size_t len, size_t *meta_box, size_t *meta_box_len,
                 size_t *payload_box, const char **why)
{
	unsigned char header[HEADER_BYTES];
	size_t pos = HEADER_BYTES + NONCE_BYTES + LENGTH_BYTES;
	uint32_t meta_len;

	write_header(header);
	if (len < HEADER_BYTES || memcmp(data, header, HEADER_BYTES - 1) != 0) {
		*why = "not a cache entry";
		return -1;
	}
	if (data[HEADER_BYTES - 1] != NP_CACHE_VERSION) {
		*why = "unknown format version";
		return -1;
	}
	if (len > NP_CACHE_FILE_MAX || len < pos) {
		*why = "bad size";
		return -1;
	}
	meta_len = get_be32(data + HEADER_BYTES + NONCE_BYTES);
	if (meta_len < TAG_BYTES || meta_len > len - pos ||
	    len - pos - meta_len < NONCE_BYTES + TAG_BYTES) {
		*why = "bad size";
		return -1;
	}
	*meta_box = pos;
	*meta_box_len = meta_len;
	*payload_box = pos + meta_len;
	return 0;
}

int np_cache_open_meta(const struct np_cache_keys *keys, const unsigned char *data, size_t len,
                       struct np_cache_meta *meta, const char **why)
{
	size_t box = 0, box_len = 0, payload_box = 0;
	unsigned char *plain = NULL;
	unsigned long long plain_len = 0;
	int rc = -1;

	memset(meta, 0, sizeof *meta);
	if (split(data, len, &box, &box_len, &payload_box, why) != 0)
		return -1;
	plain = sodium_malloc(box_len);
	if (plain == NULL) {
		*why = "out of memory";
		return -1;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, &plain_len, NULL, data + box, box_len,
	                                               data, HEADER_BYTES,
	                                               data + HEADER_BYTES, keys->meta) != 0)
		*why = "does not decrypt (tampered, or another key)";
	else if (meta_from_json((const char *)plain, (size_t)plain_len, meta) != 0)
		*why = "malformed content";
	else
		rc = 0;
	sodium_free(plain);
	return rc;
}

int np_cache_open_payload(const struct np_cache_keys *keys, const char *scope,
                          const unsigned char *data, size_t len,
                          struct np_cache_payload *payload, const char **why)
{
	size_t box = 0, box_len = 0, payload_box = 0, ad_len = 0;
	unsigned char ad[PAYLOAD_AD_MAX];
	unsigned char *plain = NULL;
	unsigned long long plain_len = 0;
	size_t sealed_len;
	int rc = -1;

	memset(payload, 0, sizeof *payload);
	if (split(data, len, &box, &box_len, &payload_box, why) != 0)
		return -1;
	if (payload_ad(data, payload_box, scope, ad, sizeof ad, &ad_len) != 0) {
		*why = "scope too long";
		return -1;
	}
	sealed_len = len - payload_box - NONCE_BYTES;
	plain = sodium_malloc(sealed_len);
	if (plain == NULL) {
		*why = "out of memory";
		return -1;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    plain, &plain_len, NULL, data + payload_box + NONCE_BYTES, sealed_len, ad, ad_len,
		    data + payload_box, keys->payload) != 0)
		*why = "does not decrypt (tampered, another key, or another scope)";
	else if (payload_from_json((const char *)plain, (size_t)plain_len, payload) != 0)
		*why = "malformed content";
	else
		rc = 0;
	sodium_free(plain);
	return rc;
}

/* ---- the store ---- */

static enum np_cache_status open_dir(struct np_cache *c, const char *dir, bool create_dir,
                                     char *err, size_t err_size)
{
	struct stat st;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ENOENT && create_dir) {
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			snprintf(err, err_size, "%s: cannot create: %s", dir, strerror(errno));
			return NP_CACHE_ERROR;
		}
		fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		snprintf(err, err_size, "%s: %s", dir,
		         errno == ENOTDIR || errno == ELOOP ? "not a directory (or a symlink)"
		                                            : strerror(errno));
		return errno == ENOENT ? NP_CACHE_UNAVAILABLE : NP_CACHE_ERROR;
	}
	/* Entries are read through this descriptor alone: what is checked is what is used. */
	if (fstat(fd, &st) != 0)
		snprintf(err, err_size, "%s: %s", dir, strerror(errno));
	else if (st.st_uid != geteuid())
		snprintf(err, err_size, "%s: owned by uid %lu, must be owned by uid %lu", dir,
		         (unsigned long)st.st_uid, (unsigned long)geteuid());
	else if ((st.st_mode & 077) != 0)
		snprintf(err, err_size, "%s: mode %04o gives group or other access, must be 0700",
		         dir, (unsigned)(st.st_mode & 07777));
	else {
		c->dir_fd = fd;
		return NP_CACHE_OK;
	}
	close(fd);
	return NP_CACHE_ERROR;
}

static enum np_cache_status read_key(struct np_cache *c, const char *key_path, char *err,
                                     size_t err_size)
{
	char *data = NULL;
	size_t len = 0;
	enum np_cache_status status = NP_CACHE_ERROR;
	enum np_file_status file_status =
		np_file_read(key_path, NP_FILE_PRIVATE, NP_CACHE_KEY_BYTES, &data, &len, err, err_size);

	/* Keep the master key out of swap while it is in memory; munlock wipes it. */
	if (file_status == NP_FILE_OK)
		(void)sodium_mlock(data, len);
	if (file_status == NP_FILE_MISSING || file_status == NP_FILE_DENIED) {
		status = NP_CACHE_UNAVAILABLE;
	} else if (file_status != NP_FILE_OK) {
		status = NP_CACHE_ERROR;
	} else if (len != NP_CACHE_KEY_BYTES) {
		snprintf(err, err_size, "%s: must hold exactly %d bytes", key_path, NP_CACHE_KEY_BYTES);
	} else if (np_cache_keys_derive(&c->keys, (const unsigned char *)data) != 0) {
		snprintf(err, err_size, "cannot derive cache keys");
	} else {
		status = NP_CACHE_OK;
	}
	if (data != NULL) {
		sodium_memzero(data, len);
		(void)sodium_munlock(data, len);
		free(data);
	}
	return status;
}

enum np_cache_status np_cache_open(struct np_cache *c, const char *dir, const char *key_path,
                                   bool create_dir, char *err, size_t err_size)
{
	enum np_cache_status status;

	memset(c, 0, sizeof *c);
	c->dir_fd = -1;
	/* The key first: a process that may not read it must not create the directory. */
	status = read_key(c, key_path, err, err_size);
	if (status == NP_CACHE_OK)
		status = open_dir(c, dir, create_dir, err, err_size);
	if (status != NP_CACHE_OK)
		np_cache_close(c);
	return status;
}

enum np_cache_status np_cache_open_dir(struct np_cache *c, const char *dir, char *err,
                                       size_t err_size)
{
	memset(c, 0, sizeof *c);
	c->dir_fd = -1;
	return open_dir(c, dir, false, err, err_size);
}

void np_cache_close(struct np_cache *c)
{
	if (c->dir_fd >= 0)
		close(c->dir_fd);
	c->dir_fd = -1;
	np_cache_keys_free(&c->keys);
}

#define ENTRY_IS_SYMLINK "a symbolic link, not a regular file"

/* Why an entry's type, owner or mode rules it out, or NULL when it is ours and private. */
static const char *entry_refusal(const struct stat *st)
{
	if (S_ISLNK(st->st_mode))
		return ENTRY_IS_SYMLINK;
	if (!S_ISREG(st->st_mode))
		return "not a regular file";
	if (st->st_uid != geteuid())
		return "owned by another uid";
	if ((st->st_mode & 077) != 0)
		return "group or other access in its mode, must be 0600";
	return NULL;
}

/*
 * Reads one entry file by name into buf, checking it is ours and private.
 * Only through the directory's descriptor; a name that is not a regular file
 * is never opened (a FIFO would block, a device could act), and what was
 * opened is checked again on its descriptor, in case the name changed.
 */
static int read_entry(struct np_cache *c, const char *name, unsigned char *buf, size_t *len,
                      const char **why)
{
	struct stat before, st;
	int fd;
	ssize_t got;
	int rc = -1;

	if (fstatat(c->dir_fd, name, &before, AT_SYMLINK_NOFOLLOW) != 0) {
		*why = errno == ENOENT ? NULL : "cannot be examined";
		return -1;
	}
	if ((*why = entry_refusal(&before)) != NULL)
		return -1;
	fd = openat(c->dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		*why = errno == ENOENT ? NULL : errno == ELOOP ? ENTRY_IS_SYMLINK : "cannot be opened";
		return -1;
	}
	if (fstat(fd, &st) != 0)
		*why = "cannot be examined";
	else if (entry_refusal(&st) != NULL)
		*why = entry_refusal(&st);
	else if (st.st_dev != before.st_dev || st.st_ino != before.st_ino)
		*why = "replaced while being read";
	else if (st.st_size <= 0 || st.st_size > NP_CACHE_FILE_MAX)
		*why = "bad size";
	else if ((got = read(fd, buf, NP_CACHE_FILE_MAX + 1)) != st.st_size)
		*why = "short read";
	else {
		*len = (size_t)got;
		rc = 0;
	}
	close(fd);
	return rc;
}

enum np_cache_status np_cache_load(struct np_cache *c, const char *scope, unsigned ttl,
                                   int64_t now, struct np_cache_meta *meta,
                                   struct np_cache_payload *payload, char *err,
                                   size_t err_size)
{
	char name[128];
	unsigned char *buf = sodium_malloc(NP_CACHE_FILE_MAX + 1);
	size_t len = 0;
	const char *why = NULL;
	enum np_cache_status status = NP_CACHE_MISS;

	err[0] = '\0';
	if (buf == NULL)
		return NP_CACHE_ERROR;
	np_cache_file_name(&c->keys, scope, name, sizeof name);
	if (read_entry(c, name, buf, &len, &why) != 0)
		goto out;
	if (np_cache_open_payload(&c->keys, scope, buf, len, payload, &why) != 0 ||
	    (meta != NULL && np_cache_open_meta(&c->keys, buf, len, meta, &why) != 0))
		goto out;
	if (payload->created > now + CLOCK_SKEW_S)
		why = "approved in the future (clock moved back)";
	else if (now - payload->created >= (int64_t)ttl)
		why = "older than cache_ttl";
	else if (payload->token_exp != 0 && payload->token_exp <= now)
		why = "token expired";
	else
		status = NP_CACHE_OK;
out:
	if (status != NP_CACHE_OK) {
		sodium_memzero(payload, sizeof *payload);
		if (why != NULL && unlinkat(c->dir_fd, name, 0) == 0)
			snprintf(err, err_size, "cache entry %.16s...: %s; removed", name, why);
		else if (why != NULL)
			snprintf(err, err_size, "cache entry %.16s...: %s; cannot remove it: %s", name,
			         why, strerror(errno));
	}
	sodium_free(buf);
	return status;
}

static int write_all_fd(int fd, const unsigned char *data, size_t len)
{
	return np_write_all(fd, (const char *)data, len);
}

enum np_cache_status np_cache_store(struct np_cache *c, const char *scope,
                                    const struct np_cache_meta *meta,
                                    const struct np_cache_payload *payload, char *err,
                                    size_t err_size)
{
	char name[128], tmp[64], suffix[17];
	unsigned char random_bytes[8];
	unsigned char *buf = sodium_malloc(NP_CACHE_FILE_MAX);
	size_t len = 0;
	int fd = -1;
	enum np_cache_status status = NP_CACHE_ERROR;

	if (buf == NULL)
		return NP_CACHE_ERROR;
	np_cache_file_name(&c->keys, scope, name, sizeof name);
	randombytes_buf(random_bytes, sizeof random_bytes);
	sodium_bin2hex(suffix, sizeof suffix, random_bytes, sizeof random_bytes);
	snprintf(tmp, sizeof tmp, ".tmp-%s", suffix);
	if (np_cache_seal(&c->keys, scope, meta, payload, buf, NP_CACHE_FILE_MAX, &len) != 0) {
		snprintf(err, err_size, "cache entry too large");
		goto out;
	}
	fd = openat(c->dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write_all_fd(fd, buf, len) != 0 || fsync(fd) != 0) {
		snprintf(err, err_size, "cannot write cache entry: %s", strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	if (renameat(c->dir_fd, tmp, c->dir_fd, name) != 0) {
		snprintf(err, err_size, "cannot rename cache entry: %s", strerror(errno));
		goto out;
	}
	/* The rename itself must reach the disk, or a crash could lose or half-write it. */
	(void)fsync(c->dir_fd);
	status = NP_CACHE_OK;
out:
	if (fd >= 0)
		close(fd);
	if (status != NP_CACHE_OK)
		unlinkat(c->dir_fd, tmp, 0);
	sodium_free(buf);
	return status;
}

void np_cache_remove(struct np_cache *c, const char *scope)
{
	char name[128];

	np_cache_file_name(&c->keys, scope, name, sizeof name);
	unlinkat(c->dir_fd, name, 0);
}

static bool all_lower_hex(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static bool is_entry_name(const char *name)
{
	return strlen(name) == NAME_HEX + strlen(NAME_SUFFIX) &&
	       strcmp(name + NAME_HEX, NAME_SUFFIX) == 0 && all_lower_hex(name, NAME_HEX);
}

static bool is_tmp_name(const char *name)
{
	size_t prefix_len = strlen(TMP_PREFIX);

	return strlen(name) == prefix_len + TMP_HEX && strncmp(name, TMP_PREFIX, prefix_len) == 0 &&
	       all_lower_hex(name + prefix_len, TMP_HEX);
}

/* Calls fn for each name in the directory that wanted accepts; errors are the caller's. */
static int for_each_file(struct np_cache *c, bool (*wanted)(const char *name),
                         void (*fn)(struct np_cache *, const char *, void *), void *arg)
{
	int dup_fd = fcntl(c->dir_fd, F_DUPFD_CLOEXEC, 0);
	DIR *dir = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *entry;

	if (dir == NULL) {
		if (dup_fd >= 0)
			close(dup_fd);
		return -1;
	}
	rewinddir(dir);
	while ((entry = readdir(dir)) != NULL)
		if (wanted(entry->d_name))
			fn(c, entry->d_name, arg);
	closedir(dir);
	return 0;
}

struct list_walk {
	void (*visit)(const char *file, const struct np_cache_meta *meta, void *arg);
	void *arg;
	unsigned unreadable;
	const char *account; /* purge: NULL = all */
	int removed;
	unsigned char *buf;
};

static void list_one(struct np_cache *c, const char *name, void *arg)
{
	struct list_walk *walk = arg;
	struct np_cache_meta meta;
	const char *why = NULL;
	size_t len = 0;

	if (read_entry(c, name, walk->buf, &len, &why) != 0 ||
	    np_cache_open_meta(&c->keys, walk->buf, len, &meta, &why) != 0)
		walk->unreadable++;
	else
		walk->visit(name, &meta, walk->arg);
}

int np_cache_list(struct np_cache *c,
                  void (*visit)(const char *file, const struct np_cache_meta *meta, void *arg),
                  void *arg, unsigned *unreadable)
{
	struct list_walk walk = { .visit = visit, .arg = arg };
	int rc;

	walk.buf = sodium_malloc(NP_CACHE_FILE_MAX + 1);
	if (walk.buf == NULL)
		return -1;
	rc = for_each_file(c, is_entry_name, list_one, &walk);
	*unreadable = walk.unreadable;
	sodium_free(walk.buf);
	return rc;
}

static void purge_one(struct np_cache *c, const char *name, void *arg)
{
	struct list_walk *walk = arg;
	struct np_cache_meta meta;
	const char *why = NULL;
	size_t len = 0;

	if (walk->account != NULL &&
	    (read_entry(c, name, walk->buf, &len, &why) != 0 ||
	     np_cache_open_meta(&c->keys, walk->buf, len, &meta, &why) != 0 ||
	     strcmp(meta.account, walk->account) != 0))
		return;
	if (unlinkat(c->dir_fd, name, 0) == 0)
		walk->removed++;
}

int np_cache_purge(struct np_cache *c, const char *account)
{
	struct list_walk walk = { .account = account };
	int rc;

	walk.buf = sodium_malloc(NP_CACHE_FILE_MAX + 1);
	if (walk.buf == NULL)
		return -1;
	rc = for_each_file(c, is_entry_name, purge_one, &walk);
	sodium_free(walk.buf);
	return rc == 0 ? walk.removed : -1;
}

/* ---- sweeping ---- */

struct sweep_run {
	struct np_cache_sweep *sweep;
	char keep[SWEEP_NAME_BYTES];    /* "" when nothing is kept */
	unsigned char *buf;             /* one entry's bytes */
	char (*picked)[SWEEP_NAME_BYTES];
	unsigned candidates;            /* names seen that the sweep may act on */
};

static bool is_sweepable_name(const char *name)
{
	return is_entry_name(name) || is_tmp_name(name);
}

/* Why a .tmp- file is to go (a regular file of ours a write left behind), or NULL. */
static const char *stale_tmp(const struct np_cache *c, const char *name, int64_t now)
{
	struct stat st;

	if (fstatat(c->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
	    st.st_uid != geteuid() || (int64_t)st.st_mtime > now - TMP_STALE_AFTER_S)
		return NULL;
	return "unfinished write, over a minute old";
}

/* Why an entry is to go, from its meta box alone (no scope needed), or NULL. */
static const char *stale_entry(struct np_cache *c, const char *name, int64_t now,
                               unsigned char *buf)
{
	struct np_cache_meta meta;
	const char *why = NULL;
	size_t len = 0;

	/* why stays NULL for an entry that went meanwhile. */
	if (read_entry(c, name, buf, &len, &why) != 0 ||
	    np_cache_open_meta(&c->keys, buf, len, &meta, &why) != 0)
		return why;
	if (meta.expires <= now)
		return "older than the cache_ttl it was stored with";
	if (meta.token_exp != 0 && meta.token_exp <= now)
		return "token expired";
	return NULL;
}

static void sweep_one(struct np_cache *c, const char *name, struct sweep_run *run)
{
	struct np_cache_sweep *sweep = run->sweep;
	struct np_cache_swept swept;
	bool tmp = is_tmp_name(name);

	sweep->examined++;
	swept.why = tmp ? stale_tmp(c, name, sweep->now) : stale_entry(c, name, sweep->now, run->buf);
	if (swept.why == NULL)
		return;
	swept.unlink_errno = unlinkat(c->dir_fd, name, 0) == 0 ? 0 : errno;
	if (swept.unlink_errno == ENOENT)
		return;
	/* An entry's name is shown as the log shows it elsewhere: its first 16 digits. */
	if (tmp)
		snprintf(swept.file, sizeof swept.file, "%s", name);
	else
		snprintf(swept.file, sizeof swept.file, "%.16s...", name);
	if (swept.unlink_errno == 0)
		sweep->removed++;
	else
		sweep->failed++;
	if (sweep->swept != NULL)
		sweep->swept(&swept, sweep->arg);
}

/* Without a limit: every name, as it comes. */
static void sweep_each(struct np_cache *c, const char *name, void *arg)
{
	struct sweep_run *run = arg;

	if (strcmp(name, run->keep) != 0)
		sweep_one(c, name, run);
}

/*
 * With a limit: keeps a uniform random sample of that many names (reservoir
 * sampling), so that entries early in the directory's order cannot hide the
 * others from every sweep.
 */
static void sweep_pick(struct np_cache *c, const char *name, void *arg)
{
	struct sweep_run *run = arg;
	unsigned limit = run->sweep->limit;
	unsigned slot;

	(void)c;
	if (strcmp(name, run->keep) == 0)
		return;
	slot = run->candidates < limit ? run->candidates : randombytes_uniform(run->candidates + 1);
	run->candidates++;
	/* is_sweepable_name() let through no name longer than an entry's. */
	if (slot < limit)
		memcpy(run->picked[slot], name, strlen(name) + 1);
}

int np_cache_sweep(struct np_cache *c, struct np_cache_sweep *sweep)
{
	struct sweep_run run = { .sweep = sweep };
	int rc = -1;

	sweep->examined = sweep->removed = sweep->failed = 0;
	if (sweep->keep_scope != NULL)
		np_cache_file_name(&c->keys, sweep->keep_scope, run.keep, sizeof run.keep);
	run.buf = sodium_malloc(NP_CACHE_FILE_MAX + 1);
	if (sweep->limit > 0)
		run.picked = calloc(sweep->limit, sizeof *run.picked);
	if (run.buf == NULL || (sweep->limit > 0 && run.picked == NULL))
		goto out;
	if (sweep->limit == 0) {
		rc = for_each_file(c, is_sweepable_name, sweep_each, &run);
		goto out;
	}
	rc = for_each_file(c, is_sweepable_name, sweep_pick, &run);
	for (unsigned i = 0; rc == 0 && i < sweep->limit && i < run.candidates; i++)
		sweep_one(c, run.picked[i], &run);
out:
	free(run.picked);
	sodium_free(run.buf);
	return rc;
}
