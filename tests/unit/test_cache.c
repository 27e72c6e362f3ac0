/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * The cache file format (src/common/cache.h): what seals must open again, and
 * nothing else may: not a changed byte, not another key, not another
 * account's, invoking user's or session's scope, not a cut or padded file,
 * not another format version.  A meta box missing any of its fields does not
 * open either.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "common/cache.h"
#include "module/scope.h"

#define SCOPE_ALICE "7:session|5:alice|4:1000|5:alice|4:sudo|10:/dev/pts/1|0:|9:42@123456|"
#define SCOPE_BOB "7:session|3:bob|4:1000|5:alice|4:sudo|10:/dev/pts/1|0:|9:42@123456|"
#define SCOPE_OTHER_TTY "7:session|5:alice|4:1000|5:alice|4:sudo|10:/dev/pts/2|0:|9:42@123456|"
/* The same terminal session, but another process (uid 65534) asking: "su alice" from there. */
#define SCOPE_OTHER_UID "7:session|5:alice|5:65534|5:alice|4:sudo|10:/dev/pts/1|0:|9:42@123456|"
#define SCOPE_OTHER_RUSER "7:session|5:alice|4:1000|3:eve|4:sudo|10:/dev/pts/1|0:|9:42@123456|"
#define TOKEN "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c3JfYWxpY2UifQ.c2lnbmF0dXJlLWJ5dGVz"

struct fixture {
	struct np_cache_keys keys;
	struct np_cache_meta meta;
	struct np_cache_payload payload;
	unsigned char sealed[NP_CACHE_FILE_MAX];
	size_t sealed_len;
};

static int setup(void **state)
{
	static struct fixture f;
	unsigned char master[NP_CACHE_KEY_BYTES];

	if (sodium_init() < 0)
		return -1;
	memset(&f, 0, sizeof f);
	memset(master, 0x42, sizeof master);
	if (np_cache_keys_derive(&f.keys, master) != 0)
		return -1;
	snprintf(f.meta.account, sizeof f.meta.account, "alice");
	f.meta.invoker_uid = 1000;
	snprintf(f.meta.invoker_name, sizeof f.meta.invoker_name, "alice");
	snprintf(f.meta.scope_kind, sizeof f.meta.scope_kind, "session");
	snprintf(f.meta.service, sizeof f.meta.service, "sudo");
	snprintf(f.meta.tty, sizeof f.meta.tty, "/dev/pts/1");
	snprintf(f.meta.user_id, sizeof f.meta.user_id, "usr_alice");
	f.meta.created = 1700000000;
	f.meta.expires = 1700000900;
	f.meta.token_exp = 1700003600;
	snprintf(f.meta.ssh_key, sizeof f.meta.ssh_key, "SHA256:sr0gk2VJaorPKhNN4k7xaOclwgyq6iR/7RtwjK6Nqg8");
	f.meta.confirmed = 1700000300;
	snprintf(f.payload.token, sizeof f.payload.token, "%s", TOKEN);
	snprintf(f.payload.user_id, sizeof f.payload.user_id, "usr_alice");
	snprintf(f.payload.email, sizeof f.payload.email, "alice@example.com");
	f.payload.created = 1700000000;
	f.payload.token_exp = 1700003600;
	if (np_cache_seal(&f.keys, SCOPE_ALICE, &f.meta, &f.payload, f.sealed, sizeof f.sealed,
	                  &f.sealed_len) != 0)
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	np_cache_keys_free(&f->keys);
	return 0;
}

static bool payload_opens(struct fixture *f, const struct np_cache_keys *keys, const char *scope,
                          const unsigned char *data, size_t len)
{
	struct np_cache_payload out;
	const char *why = NULL;
	int rc = np_cache_open_payload(keys, scope, data, len, &out, &why);

	if (rc != 0) {
		assert_non_null(why);
		/* Nothing half-opened is left behind. */
		assert_string_equal(out.token, "");
	}
	(void)f;
	return rc == 0;
}

static void round_trip(void **state)
{
	struct fixture *f = *state;
	struct np_cache_payload out;
	struct np_cache_meta meta;
	const char *why = NULL;

	assert_int_equal(np_cache_open_payload(&f->keys, SCOPE_ALICE, f->sealed, f->sealed_len, &out,
	                                       &why),
	                 0);
	assert_string_equal(out.token, TOKEN);
	assert_string_equal(out.user_id, "usr_alice");
	assert_string_equal(out.email, "alice@example.com");
	assert_int_equal(out.created, 1700000000);
	assert_int_equal(out.token_exp, 1700003600);
	assert_int_equal(np_cache_open_meta(&f->keys, f->sealed, f->sealed_len, &meta, &why), 0);
	assert_string_equal(meta.account, "alice");
	assert_int_equal(meta.invoker_uid, 1000);
	assert_string_equal(meta.invoker_name, "alice");
	assert_string_equal(meta.scope_kind, "session");
	assert_string_equal(meta.tty, "/dev/pts/1");
	assert_string_equal(meta.user_id, "usr_alice");
	assert_int_equal(meta.created, 1700000000);
	assert_int_equal(meta.expires, 1700000900);
	/* What a sweep needs to judge an entry without its scope. */
	assert_int_equal(meta.token_exp, 1700003600);
	/* The key an sshd approval was given after, for cache list (format 4). */
	assert_string_equal(meta.ssh_key, "SHA256:sr0gk2VJaorPKhNN4k7xaOclwgyq6iR/7RtwjK6Nqg8");
	/* What offline_grace counts from. */
	assert_int_equal(meta.confirmed, 1700000300);
	/* The token is not in the file in the clear. */
	assert_null(memmem(f->sealed, f->sealed_len, TOKEN, strlen(TOKEN)));
	assert_null(memmem(f->sealed, f->sealed_len, "alice", 5));
}

static void every_byte_is_protected(void **state)
{
	struct fixture *f = *state;
	unsigned char copy[NP_CACHE_FILE_MAX];

	for (size_t i = 0; i < f->sealed_len; i++) {
		memcpy(copy, f->sealed, f->sealed_len);
		copy[i] ^= 0x01;
		if (payload_opens(f, &f->keys, SCOPE_ALICE, copy, f->sealed_len))
			fail_msg("a changed byte at offset %zu still opens", i);
	}
}

static void another_key_does_not_open(void **state)
{
	struct fixture *f = *state;
	struct np_cache_keys other;
	struct np_cache_meta meta;
	unsigned char master[NP_CACHE_KEY_BYTES];
	const char *why = NULL;

	memset(master, 0x43, sizeof master);
	assert_int_equal(np_cache_keys_derive(&other, master), 0);
	assert_false(payload_opens(f, &other, SCOPE_ALICE, f->sealed, f->sealed_len));
	assert_int_equal(np_cache_open_meta(&other, f->sealed, f->sealed_len, &meta, &why), -1);
	np_cache_keys_free(&other);
}

static void another_scope_does_not_open(void **state)
{
	struct fixture *f = *state;

	/* Copied to another account's place, or used from another terminal. */
	assert_false(payload_opens(f, &f->keys, SCOPE_BOB, f->sealed, f->sealed_len));
	assert_false(payload_opens(f, &f->keys, SCOPE_OTHER_TTY, f->sealed, f->sealed_len));
	/* Made for one invoking user, never opened for another. */
	assert_false(payload_opens(f, &f->keys, SCOPE_OTHER_UID, f->sealed, f->sealed_len));
	assert_false(payload_opens(f, &f->keys, SCOPE_OTHER_RUSER, f->sealed, f->sealed_len));
	assert_false(payload_opens(f, &f->keys, "", f->sealed, f->sealed_len));
}

static void truncated_or_padded_does_not_open(void **state)
{
	struct fixture *f = *state;
	unsigned char copy[NP_CACHE_FILE_MAX + 64];

	for (size_t len = 0; len < f->sealed_len; len++)
		if (payload_opens(f, &f->keys, SCOPE_ALICE, f->sealed, len))
			fail_msg("a file cut to %zu bytes still opens", len);
	memcpy(copy, f->sealed, f->sealed_len);
	memset(copy + f->sealed_len, 0, 64);
	assert_false(payload_opens(f, &f->keys, SCOPE_ALICE, copy, f->sealed_len + 1));
	/* Larger than any entry may be: refused before any work. */
	assert_false(payload_opens(f, &f->keys, SCOPE_ALICE, copy, NP_CACHE_FILE_MAX + 1));
}

static void other_versions_are_refused(void **state)
{
	struct fixture *f = *state;
	unsigned char copy[NP_CACHE_FILE_MAX];
	struct np_cache_payload out;
	const char *why = NULL;

	/*
	 * Version 1 entries were not bound to the invoking user, version 2 ones
	 * keep the token's expiry only in the payload, version 3 ones have no
	 * ssh_key in the meta box: never used again.
	 */
	assert_int_equal(NP_CACHE_VERSION, 4);
	for (unsigned char older = 1; older < NP_CACHE_VERSION; older++) {
		struct np_cache_meta meta;

		memcpy(copy, f->sealed, f->sealed_len);
		copy[7] = older;
		assert_int_equal(np_cache_open_payload(&f->keys, SCOPE_ALICE, copy, f->sealed_len,
		                                       &out, &why),
		                 -1);
		assert_string_equal(why, "unknown format version");
		assert_int_equal(np_cache_open_meta(&f->keys, copy, f->sealed_len, &meta, &why), -1);
		assert_string_equal(why, "unknown format version");
	}
	memcpy(copy, f->sealed, f->sealed_len);
	copy[7] = NP_CACHE_VERSION + 1;
	assert_int_equal(np_cache_open_payload(&f->keys, SCOPE_ALICE, copy, f->sealed_len, &out,
	                                       &why),
	                 -1);
	assert_string_equal(why, "unknown format version");
	memcpy(copy, "NOTCACH", 7);
	assert_int_equal(np_cache_open_payload(&f->keys, SCOPE_ALICE, copy, f->sealed_len, &out,
	                                       &why),
	                 -1);
}

/* An entry whose meta box holds exactly json, sealed as np_cache_seal does (payload: junk). */
static size_t seal_meta_json(const struct fixture *f, const char *json, unsigned char *out)
{
	const size_t nonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
	const size_t tag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
	size_t len = strlen(json), pos = 8;
	unsigned long long sealed = 0;

	memcpy(out, f->sealed, 8);
	randombytes_buf(out + pos, nonce);
	out[pos + nonce] = 0;
	out[pos + nonce + 1] = 0;
	out[pos + nonce + 2] = (unsigned char)((len + tag) >> 8);
	out[pos + nonce + 3] = (unsigned char)(len + tag);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + pos + nonce + 4, &sealed,
	                                           (const unsigned char *)json, len, out, 8, NULL,
	                                           out + pos, f->keys.meta);
	pos += nonce + 4 + (size_t)sealed;
	randombytes_buf(out + pos, nonce + tag + 8);
	return pos + nonce + tag + 8;
}

static void meta_missing_a_field_does_not_open(void **state)
{
	static const char *const fields[] = {
		"\"account\":\"alice\"", "\"invoker_uid\":1000", "\"invoker\":\"alice\"",
		"\"scope\":\"session\"", "\"service\":\"sudo\"", "\"tty\":\"/dev/pts/1\"",
		"\"rhost\":\"\"", "\"user_id\":\"usr_alice\"", "\"created\":1700000000",
		"\"expires\":1700000900", "\"token_exp\":1700003600", "\"ssh_key\":\"\"",
		"\"confirmed\":1700000300",
	};
	const size_t n = sizeof fields / sizeof fields[0];
	struct fixture *f = *state;
	unsigned char entry[4096];
	struct np_cache_meta meta;
	const char *why = NULL;

	/* Every field, and the meta box opens; any one left out (say, by an older writer), and not. */
	for (size_t left_out = 0; left_out <= n; left_out++) {
		char json[1024] = "{";
		size_t len;

		for (size_t i = 0; i < n; i++) {
			if (i == left_out)
				continue;
			if (json[1] != '\0')
				strcat(json, ",");
			strcat(json, fields[i]);
		}
		strcat(json, "}");
		len = seal_meta_json(f, json, entry);
		if (left_out == n) {
			assert_int_equal(np_cache_open_meta(&f->keys, entry, len, &meta, &why), 0);
			assert_int_equal(meta.token_exp, 1700003600);
		} else {
			assert_int_equal(np_cache_open_meta(&f->keys, entry, len, &meta, &why), -1);
			assert_string_equal(why, "malformed content");
		}
	}
}

static void names_are_keyed_and_distinct(void **state)
{
	struct fixture *f = *state;
	struct np_cache_keys other;
	unsigned char master[NP_CACHE_KEY_BYTES];
	char a[128], b[128], c[128];

	np_cache_file_name(&f->keys, SCOPE_ALICE, a, sizeof a);
	np_cache_file_name(&f->keys, SCOPE_BOB, b, sizeof b);
	assert_int_equal(strlen(a), 64 + strlen(".entry"));
	assert_string_not_equal(a, b);
	assert_null(strstr(a, "alice"));
	memset(master, 0x43, sizeof master);
	assert_int_equal(np_cache_keys_derive(&other, master), 0);
	np_cache_file_name(&other, SCOPE_ALICE, c, sizeof c);
	/* Without the key nobody can tell which file is whose. */
	assert_string_not_equal(a, c);
	np_cache_keys_free(&other);
}

static void scopes_do_not_collide(void **state)
{
	struct np_scope_parts one = { .account = "ab", .invoker_uid = 0, .invoker_name = "",
		                          .service = "c", .terminal = "", .rhost = "", .sid = 1,
		                          .leader_start = 2 };
	struct np_scope_parts two = one;
	char x[NP_CACHE_SCOPE_MAX], y[NP_CACHE_SCOPE_MAX];

	(void)state;
	two.account = "a";
	two.service = "bc";
	assert_int_equal(np_scope_string(NP_SCOPE_SESSION, &one, x, sizeof x), 0);
	assert_int_equal(np_scope_string(NP_SCOPE_SESSION, &two, y, sizeof y), 0);
	assert_string_not_equal(x, y);
	assert_string_equal(x, "7:session|2:ab|1:0|0:|1:c|0:|0:|3:1@2|");
	/* User scope is the account, the invoking user and the service. */
	assert_int_equal(np_scope_string(NP_SCOPE_USER, &one, x, sizeof x), 0);
	assert_string_equal(x, "4:user|2:ab|1:0|0:|1:c|");
	assert_int_equal(np_scope_string(NP_SCOPE_SESSION, &one, x, 8), -1);
}

/*
 * Key scope: the account, the invoking user, the service and sshd's keys,
 * never the session; without a key there is no key scope (not the user's).
 */
static void key_scope_holds_the_keys(void **state)
{
	struct np_scope_parts one = { .account = "don", .invoker_uid = 0, .invoker_name = "",
		                          .service = "sshd", .terminal = "136:1", .rhost = "h",
		                          .sid = 1, .leader_start = 2, .ssh_keys = "SHA256:a" };
	struct np_scope_parts two = one, other_session = one, none = one;
	char x[NP_CACHE_SCOPE_MAX], y[NP_CACHE_SCOPE_MAX];

	(void)state;
	assert_int_equal(np_scope_string(NP_SCOPE_KEY, &one, x, sizeof x), 0);
	assert_string_equal(x, "3:key|3:don|1:0|0:|4:sshd|8:SHA256:a|");
	other_session.terminal = "";
	other_session.rhost = "other";
	other_session.sid = 99;
	assert_int_equal(np_scope_string(NP_SCOPE_KEY, &other_session, y, sizeof y), 0);
	assert_string_equal(x, y);
	two.ssh_keys = "SHA256:a,SHA256:b";
	assert_int_equal(np_scope_string(NP_SCOPE_KEY, &two, y, sizeof y), 0);
	assert_string_not_equal(x, y);
	assert_int_equal(np_scope_string(NP_SCOPE_USER, &one, y, sizeof y), 0);
	assert_string_not_equal(x, y);
	none.ssh_keys = "";
	assert_int_equal(np_scope_string(NP_SCOPE_KEY, &none, y, sizeof y), -1);
	none.ssh_keys = NULL;
	assert_int_equal(np_scope_string(NP_SCOPE_KEY, &none, y, sizeof y), -1);
}

/* Every part of who asked changes the scope, in either kind of scope. */
static void scopes_differ_by_invoking_user(void **state)
{
	struct np_scope_parts base = { .account = "root", .invoker_uid = 1000,
		                           .invoker_name = "alice", .service = "su", .terminal = "136:1",
		                           .rhost = "", .sid = 7, .leader_start = 9 };
	struct np_scope_parts other_uid = base, other_ruser = base, no_ruser = base;
	char a[NP_CACHE_SCOPE_MAX], b[NP_CACHE_SCOPE_MAX];

	(void)state;
	other_uid.invoker_uid = 65534;
	other_ruser.invoker_name = "bob";
	no_ruser.invoker_name = NULL; /* PAM_RUSER not set: the same as "" */
	for (int kind = NP_SCOPE_USER; kind >= NP_SCOPE_SESSION; kind--) {
		assert_int_equal(np_scope_string((enum np_cache_scope)kind, &base, a, sizeof a), 0);
		assert_int_equal(np_scope_string((enum np_cache_scope)kind, &other_uid, b, sizeof b), 0);
		assert_string_not_equal(a, b);
		assert_int_equal(np_scope_string((enum np_cache_scope)kind, &other_ruser, b, sizeof b), 0);
		assert_string_not_equal(a, b);
		assert_int_equal(np_scope_string((enum np_cache_scope)kind, &no_ruser, b, sizeof b), 0);
		assert_string_not_equal(a, b);
	}
	assert_string_equal(b, "7:session|4:root|4:1000|0:|2:su|5:136:1|0:|3:7@9|");
}

/* An approval given under one PAM service never serves another, in either kind of scope. */
static void scopes_differ_by_service(void **state)
{
	struct np_scope_parts sshd = { .account = "don", .invoker_uid = 0, .invoker_name = "",
		                           .service = "sshd", .terminal = "136:1", .rhost = "",
		                           .sid = 7, .leader_start = 9 };
	struct np_scope_parts login = sshd;
	char a[NP_CACHE_SCOPE_MAX], b[NP_CACHE_SCOPE_MAX];

	(void)state;
	login.service = "login";
	for (int kind = NP_SCOPE_USER; kind >= NP_SCOPE_SESSION; kind--) {
		assert_int_equal(np_scope_string((enum np_cache_scope)kind, &sshd, a, sizeof a), 0);
		assert_int_equal(np_scope_string((enum np_cache_scope)kind, &login, b, sizeof b), 0);
		assert_string_not_equal(a, b);
	}
	assert_string_equal(b, "7:session|3:don|1:0|0:|5:login|5:136:1|0:|3:7@9|");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(every_byte_is_protected),
		cmocka_unit_test(another_key_does_not_open),
		cmocka_unit_test(another_scope_does_not_open),
		cmocka_unit_test(truncated_or_padded_does_not_open),
		cmocka_unit_test(other_versions_are_refused),
		cmocka_unit_test(meta_missing_a_field_does_not_open),
		cmocka_unit_test(names_are_keyed_and_distinct),
		cmocka_unit_test(scopes_do_not_collide),
		cmocka_unit_test(key_scope_holds_the_keys),
		cmocka_unit_test(scopes_differ_by_invoking_user),
		cmocka_unit_test(scopes_differ_by_service),
	};

	return cmocka_run_group_tests_name("cache format", tests, setup, teardown);
}
