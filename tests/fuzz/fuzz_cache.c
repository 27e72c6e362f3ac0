/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer: the cache file decoder.  Every input is used three ways:
 *
 *  1. as a cache file: np_cache_open_meta and np_cache_open_payload (fixed
 *     key and scope) must refuse it or give well-formed fields;
 *  2. as a tampering of a validly sealed entry: the first bytes choose one
 *     of flip / truncate / extend and where; the part of the entry that was
 *     touched must then no longer open (abort() if it does), and the input
 *     (as a scope) must not open the entry unless it is the entry's scope;
 *  3. as the fields of an entry (lines: account, service, tty, rhost, user id,
 *     token, e-mail): np_cache_seal then both opens must give them back.
 */
#include <sodium.h>

#include "common/cache.h"
#include "fuzz_common.h"

/* The file layout (cache.h): header, meta nonce, meta length, meta box, payload nonce, payload box. */
#define HEADER 8
#define NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define META_BOX_AT (HEADER + NONCE + 4)

static struct np_cache_keys keys;
static unsigned char entry[NP_CACHE_FILE_MAX];
static size_t entry_len;
static size_t payload_at; /* where the payload nonce starts */

static void fill_meta(struct np_cache_meta *meta)
{
	memset(meta, 0, sizeof *meta);
	strcpy(meta->account, "don");
	strcpy(meta->invoker_name, "don");
	meta->invoker_uid = 1000;
	strcpy(meta->scope_kind, "session");
	strcpy(meta->service, "sshd");
	strcpy(meta->tty, "pts/0");
	strcpy(meta->rhost, "127.0.0.1");
	strcpy(meta->user_id, "usr_abc123");
	meta->created = 1700000000;
	meta->expires = 1700000900;
	meta->token_exp = 1700003600;
	meta->confirmed = 1700000300;
}

static void fill_payload(struct np_cache_payload *payload)
{
	memset(payload, 0, sizeof *payload);
	strcpy(payload->token, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c3JfYWJjMTIzIn0.c2lnbmF0dXJl");
	strcpy(payload->user_id, "usr_abc123");
	strcpy(payload->email, "don@nextfinancial.io");
	payload->created = 1700000000;
	payload->token_exp = 1700003600;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct np_cache_meta meta, meta_out;
	struct np_cache_payload payload, payload_out;
	const char *why = NULL;

	(void)argc;
	(void)argv;
	if (sodium_init() < 0 || np_cache_keys_derive(&keys, fuzz_cache_master) != 0)
		abort();
	fill_meta(&meta);
	fill_payload(&payload);
	if (np_cache_seal(&keys, FUZZ_CACHE_SCOPE, &meta, &payload, entry, sizeof entry,
	                  &entry_len) != 0 ||
	    np_cache_open_meta(&keys, entry, entry_len, &meta_out, &why) != 0 ||
	    np_cache_open_payload(&keys, FUZZ_CACHE_SCOPE, entry, entry_len, &payload_out, &why) != 0) {
		fprintf(stderr, "fuzz_cache: the reference entry does not open: %s\n", why);
		abort();
	}
	payload_at = META_BOX_AT + ((size_t)entry[HEADER + NONCE] << 24 |
	                            (size_t)entry[HEADER + NONCE + 1] << 16 |
	                            (size_t)entry[HEADER + NONCE + 2] << 8 | entry[HEADER + NONCE + 3]);
	return 0;
}

static void check_meta(const struct np_cache_meta *m)
{
	FUZZ_CHECK(fuzz_terminated(m->account, sizeof m->account) &&
	           fuzz_terminated(m->invoker_name, sizeof m->invoker_name) &&
	           fuzz_terminated(m->scope_kind, sizeof m->scope_kind) &&
	           fuzz_terminated(m->service, sizeof m->service) &&
	           fuzz_terminated(m->tty, sizeof m->tty) &&
	           fuzz_terminated(m->rhost, sizeof m->rhost) &&
	           fuzz_terminated(m->user_id, sizeof m->user_id) &&
	           fuzz_terminated(m->ssh_key, sizeof m->ssh_key), "unterminated meta field");
}

static void check_payload(const struct np_cache_payload *p)
{
	size_t email_len;

	FUZZ_CHECK(fuzz_terminated(p->token, sizeof p->token) &&
	           fuzz_terminated(p->user_id, sizeof p->user_id) &&
	           fuzz_terminated(p->email, sizeof p->email), "unterminated payload field");
	email_len = strlen(p->email);
	FUZZ_CHECK(np_valid_token(p->token, strlen(p->token)) &&
	           np_valid_user_id(p->user_id, strlen(p->user_id)) &&
	           (email_len == 0 || np_valid_email(p->email, email_len)),
	           "opened payload with invalid fields");
}

/* 1. The input as a cache file. */
static void open_input(const uint8_t *data, size_t size)
{
	static struct np_cache_meta meta;
	static struct np_cache_payload payload;
	const char *why = NULL;

	if (np_cache_open_meta(&keys, data, size, &meta, &why) == 0)
		check_meta(&meta);
	else
		FUZZ_CHECK(why != NULL, "meta refused without a reason");
	why = NULL;
	if (np_cache_open_payload(&keys, FUZZ_CACHE_SCOPE, data, size, &payload, &why) == 0) {
		check_payload(&payload);
	} else {
		static const struct np_cache_payload zero;

		FUZZ_CHECK(why != NULL, "payload refused without a reason");
		FUZZ_CHECK(memcmp(&payload, &zero, sizeof payload) == 0, "refused payload not wiped");
	}
}

/* 2. The first bytes tamper with the reference entry. */
static void tamper(const uint8_t *data, size_t size)
{
	static unsigned char bad[NP_CACHE_FILE_MAX + 64];
	static struct np_cache_meta meta;
	static struct np_cache_payload payload;
	const char *why = NULL;
	size_t at, bad_len = entry_len;
	bool meta_touched, payload_touched = true;
	uint8_t mask;

	if (size < 4)
		return;
	at = ((size_t)data[1] << 8 | data[2]) % entry_len;
	mask = data[3] != 0 ? data[3] : 0x80;
	memcpy(bad, entry, entry_len);
	switch (data[0] % 3) {
	case 0: /* flip bits of one byte */
		bad[at] ^= mask;
		/* The header and length are in both boxes' reach; the nonce and box in one. */
		meta_touched = at < payload_at;
		payload_touched = at < HEADER || (at >= HEADER + NONCE && at < META_BOX_AT) ||
		                  at >= payload_at;
		break;
	case 1: /* cut the file short */
		bad_len = at;
		meta_touched = at < payload_at;
		break;
	default: /* append bytes */
		bad_len = entry_len + 1 + mask % 63;
		memset(bad + entry_len, mask, bad_len - entry_len);
		meta_touched = false;
		break;
	}
	if (meta_touched)
		FUZZ_CHECK(np_cache_open_meta(&keys, bad, bad_len, &meta, &why) != 0,
		           "tampered meta opens (op %d at %zu, mask 0x%02x, len %zu)", data[0] % 3, at,
		           mask, bad_len);
	if (payload_touched)
		FUZZ_CHECK(np_cache_open_payload(&keys, FUZZ_CACHE_SCOPE, bad, bad_len, &payload,
		                                 &why) != 0,
		           "tampered payload opens (op %d at %zu, mask 0x%02x, len %zu)", data[0] % 3,
		           at, mask, bad_len);
	/* Untouched, the entry opens; so it is the change that closed it. */
	if (!meta_touched && data[0] % 3 != 1)
		FUZZ_CHECK(np_cache_open_meta(&keys, bad, bad_len, &meta, &why) == 0,
		           "untouched meta does not open: %s", why);
}

/* 2b. The input as a scope: only the entry's own scope opens its payload. */
static void other_scope(const uint8_t *data, size_t size)
{
	static struct np_cache_payload payload;
	const char *why = NULL;
	char *scope = fuzz_cstr(data, size < NP_CACHE_SCOPE_MAX ? size : NP_CACHE_SCOPE_MAX);

	if (strcmp(scope, FUZZ_CACHE_SCOPE) != 0)
		FUZZ_CHECK(np_cache_open_payload(&keys, scope, entry, entry_len, &payload, &why) != 0,
		           "payload opens under scope \"%s\"", scope);
	free(scope);
}

/* Copies the next line of the input into out (cut to fit), moving *p past it. */
static void next_line(const char **p, const char *end, char *out, size_t out_size)
{
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t len = (size_t)((nl != NULL ? nl : end) - *p);

	if (len >= out_size)
		len = out_size - 1;
	memcpy(out, *p, len);
	out[len] = '\0';
	*p = nl != NULL ? nl + 1 : end;
}

/* 3. The input as the fields of an entry: seal, open, compare. */
static void round_trip(const uint8_t *data, size_t size)
{
	static struct np_cache_meta meta, meta_out;
	static struct np_cache_payload payload, payload_out;
	static unsigned char sealed[NP_CACHE_FILE_MAX];
	const char *p = (const char *)data, *end = p + size;
	size_t sealed_len = 0;
	const char *why = NULL;
	bool payload_valid;

	fill_meta(&meta);
	fill_payload(&payload);
	if (size > 0) {
		next_line(&p, end, meta.account, sizeof meta.account);
		next_line(&p, end, meta.service, sizeof meta.service);
		next_line(&p, end, meta.tty, sizeof meta.tty);
		next_line(&p, end, meta.rhost, sizeof meta.rhost);
		next_line(&p, end, payload.user_id, sizeof payload.user_id);
		next_line(&p, end, payload.token, sizeof payload.token);
		next_line(&p, end, payload.email, sizeof payload.email);
		next_line(&p, end, meta.invoker_name, sizeof meta.invoker_name);
		memcpy(meta.user_id, payload.user_id, sizeof meta.user_id);
	}
	if (np_cache_seal(&keys, FUZZ_CACHE_SCOPE, &meta, &payload, sealed, sizeof sealed,
	                  &sealed_len) != 0)
		return;
	FUZZ_CHECK(sealed_len <= sizeof sealed, "sealed past the buffer");
	FUZZ_CHECK(np_cache_open_meta(&keys, sealed, sealed_len, &meta_out, &why) == 0,
	           "sealed meta does not open: %s", why);
	FUZZ_CHECK(strcmp(meta.account, meta_out.account) == 0 &&
	           strcmp(meta.invoker_name, meta_out.invoker_name) == 0 &&
	           meta.invoker_uid == meta_out.invoker_uid &&
	           strcmp(meta.scope_kind, meta_out.scope_kind) == 0 &&
	           strcmp(meta.service, meta_out.service) == 0 && strcmp(meta.tty, meta_out.tty) == 0 &&
	           strcmp(meta.rhost, meta_out.rhost) == 0 &&
	           strcmp(meta.user_id, meta_out.user_id) == 0 && meta.created == meta_out.created &&
	           meta.expires == meta_out.expires && meta.token_exp == meta_out.token_exp &&
	           strcmp(meta.ssh_key, meta_out.ssh_key) == 0 &&
	           meta.confirmed == meta_out.confirmed,
	           "meta changed in the round trip");
	payload_valid = np_valid_token(payload.token, strlen(payload.token)) &&
	                np_valid_user_id(payload.user_id, strlen(payload.user_id)) &&
	                (payload.email[0] == '\0' ||
	                 np_valid_email(payload.email, strlen(payload.email)));
	if (np_cache_open_payload(&keys, FUZZ_CACHE_SCOPE, sealed, sealed_len, &payload_out, &why) ==
	    0) {
		FUZZ_CHECK(payload_valid, "invalid payload opened");
		FUZZ_CHECK(strcmp(payload.token, payload_out.token) == 0 &&
		           strcmp(payload.user_id, payload_out.user_id) == 0 &&
		           strcmp(payload.email, payload_out.email) == 0 &&
		           payload.created == payload_out.created &&
		           payload.token_exp == payload_out.token_exp,
		           "payload changed in the round trip");
	} else {
		FUZZ_CHECK(!payload_valid, "valid payload does not open: %s", why);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	open_input(data, size);
	tamper(data, size);
	other_scope(data, size);
	round_trip(data, size);
	return 0;
}
