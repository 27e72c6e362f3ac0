/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Writes the generated seeds of tests/fuzz/corpus/ (make fuzz-seeds):
 *   protocol/gen-<type>     one valid line of each message type, by np_msg_encode, its
 *                           fields at the examples of protocol.c's table
 *   cache/gen-*.entry       validly sealed cache entries under the harness's key
 * Run once and commit the output; the hand-written seeds sit beside them.
 */
#include <errno.h>
#include <sodium.h>
#include <sys/stat.h>

#include "common/cache.h"
#include "fuzz_common.h"
#include "common/protocol.h"

/* The token of the cache entries (protocol.c's example token, too). */
#define TOKEN "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c3JfYWJjMTIzIiwiZXhwIjoxNzAwMDAzNjAwfQ.c2lnbmF0dXJl"

static const char *outdir;

static void write_file(const char *sub, const char *name, const void *data, size_t len)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s", outdir, sub);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		perror(path);
		exit(1);
	}
	snprintf(path, sizeof path, "%s/%s/%s", outdir, sub, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
	printf("wrote %s (%zu bytes)\n", path, len);
}

/* One protocol line, without its newline (the reader strips it before decoding). */
static void line(const char *name, const struct np_msg *m)
{
	static char buf[NP_LINE_MAX];
	struct np_msg back;
	char err[128];
	size_t len = 0;

	if (np_msg_encode(m, buf, sizeof buf, &len) != 0 ||
	    np_msg_decode(buf, len - 1, &back, err, sizeof err) != 0) {
		fprintf(stderr, "%s: does not encode and decode\n", name);
		exit(1);
	}
	write_file("protocol", name, buf, len - 1);
}

/* One seed per message type, every field at the example of protocol.c's table. */
static void protocol_seeds(void)
{
	static struct np_msg m;
	char name[64];

	for (int type = NP_MSG_CONFIG; np_msg_type_name((enum np_msg_type)type) != NULL; type++) {
		size_t n = 0;
		const struct np_msg_field *fields = np_msg_fields((enum np_msg_type)type, &n);

		np_msg_init(&m, (enum np_msg_type)type);
		for (size_t i = 0; i < n; i++) {
			if (np_msg_set(&m, &fields[i], fields[i].example) != 0) {
				fprintf(stderr, "%s: the example does not fit\n", fields[i].name);
				exit(1);
			}
		}
		snprintf(name, sizeof name, "gen-%s", np_msg_type_name((enum np_msg_type)type));
		line(name, &m);
	}

	/* Identity without token or e-mail, a name with non-ASCII text. */
	np_msg_init(&m, NP_MSG_IDENTITY);
	strcpy(m.identity.user_id, "usr_abc123");
	strcpy(m.identity.name, "Jos\xc3\xa9 \xe2\x80\x94 \xf0\x9f\x92\xb3");
	line("gen-identity-minimal", &m);

	np_msg_init(&m, NP_MSG_FAILURE);
	m.failure.reason = NP_FAIL_TLS;
	strcpy(m.failure.detail, "SSL certificate problem: unable to get local issuer certificate");
	line("gen-failure-tls", &m);
}

static void entry(const struct np_cache_keys *keys, const char *name, const char *scope,
                  const struct np_cache_meta *meta, const struct np_cache_payload *payload)
{
	static unsigned char buf[NP_CACHE_FILE_MAX];
	struct np_cache_payload back;
	const char *why = NULL;
	size_t len = 0;

	if (np_cache_seal(keys, scope, meta, payload, buf, sizeof buf, &len) != 0) {
		fprintf(stderr, "%s: does not seal\n", name);
		exit(1);
	}
	/* Only entries that open under the harness's scope help the fuzzer past the MAC. */
	if (strcmp(scope, FUZZ_CACHE_SCOPE) == 0 &&
	    np_cache_open_payload(keys, scope, buf, len, &back, &why) != 0) {
		fprintf(stderr, "%s: does not open: %s\n", name, why);
		exit(1);
	}
	write_file("cache", name, buf, len);
}

static void cache_seeds(void)
{
	struct np_cache_keys keys;
	static struct np_cache_meta meta;
	static struct np_cache_payload payload;

	if (np_cache_keys_derive(&keys, fuzz_cache_master) != 0)
		exit(1);
	memset(&meta, 0, sizeof meta);
	strcpy(meta.account, "don");
	meta.invoker_uid = 0;
	strcpy(meta.scope_kind, "session");
	strcpy(meta.service, "sshd");
	strcpy(meta.tty, "pts/0");
	strcpy(meta.rhost, "127.0.0.1");
	strcpy(meta.user_id, "usr_abc123");
	meta.created = 1700000000;
	meta.expires = 1700000900;
	meta.token_exp = 1700003600;
	meta.confirmed = 1700000000;
	memset(&payload, 0, sizeof payload);
	strcpy(payload.token, TOKEN);
	strcpy(payload.user_id, "usr_abc123");
	strcpy(payload.email, "don@nextfinancial.io");
	payload.created = 1700000000;
	payload.token_exp = 1700003600;
	entry(&keys, "gen-valid.entry", FUZZ_CACHE_SCOPE, &meta, &payload);

	/* No e-mail, no tty or rhost (sudo from a script), token expiry unknown. */
	meta.tty[0] = meta.rhost[0] = '\0';
	strcpy(meta.service, "sudo");
	payload.email[0] = '\0';
	payload.token_exp = meta.token_exp = 0;
	entry(&keys, "gen-minimal.entry", FUZZ_CACHE_SCOPE, &meta, &payload);

	/* A valid entry of another scope: its meta opens, its payload must not. */
	strcpy(meta.scope_kind, "user");
	entry(&keys, "gen-other-scope.entry", "4:user|3:don|1:0|0:|", &meta, &payload);

	/* Key scope, bound to an SSH key's fingerprint (format 4). */
	strcpy(meta.scope_kind, "key");
	strcpy(meta.ssh_key, "SHA256:sr0gk2VJaorPKhNN4k7xaOclwgyq6iR/7RtwjK6Nqg8");
	entry(&keys, "gen-key-scope.entry",
	      "3:key|3:don|1:0|0:|4:sshd|50:SHA256:sr0gk2VJaorPKhNN4k7xaOclwgyq6iR/7RtwjK6Nqg8|",
	      &meta, &payload);
	meta.ssh_key[0] = '\0';

	/* The same, made for another invoking user (sudo's caller, PAM_RUSER set). */
	strcpy(meta.scope_kind, "session");
	meta.invoker_uid = 1000;
	strcpy(meta.invoker_name, "don");
	entry(&keys, "gen-other-invoker.entry",
	      "7:session|3:don|4:1000|3:don|4:sshd|5:pts/0|9:127.0.0.1|10:4242@98765|", &meta,
	      &payload);
	np_cache_keys_free(&keys);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
		return 2;
	}
	outdir = argv[1];
	if (sodium_init() < 0)
		return 1;
	protocol_seeds();
	cache_seeds();
	return 0;
}
