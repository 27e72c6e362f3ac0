/* SPDX-License-Identifier: BSD-2-Clause */
#include "common/ssh_key.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The method whose line carries a key the client proved it holds. */
#define PUBLICKEY_METHOD "publickey"
/* Longer words are no method or key type sshd writes. */
#define WORD_MAX 64

/* A method ("keyboard-interactive/pam") or key type ("sk-ssh-ed25519@openssh.com"). */
static bool word_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.' || c == '@' || c == '/';
}

/*
 * Splits line (len bytes, no '\n') into words at single spaces, and keeps
 * the first max of them.  Every byte must be a printable ASCII character or
 * a single space between two words.  Returns the number of words, or -1.
 * Other methods' lines may carry details after their name (hostbased: the
 * client's user and host), so any number of words is fine here.
 */
static int split_words(const char *line, size_t len, const char **start, size_t *word_len,
                       int max)
{
	int n = 0;
	size_t i = 0;

	while (i < len) {
		size_t begin = i;

		while (i < len && line[i] > ' ' && line[i] <= '~')
			i++;
		if (i == begin)
			return -1;
		if (n < max) {
			start[n] = line + begin;
			word_len[n] = i - begin;
		}
		n++;
		if (i < len && (line[i] != ' ' || i + 1 == len))
			return -1;
		if (i < len)
			i++;
	}
	return n;
}

static bool is_word(const char *w, size_t len)
{
	if (len == 0 || len > WORD_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!word_char(w[i]))
			return false;
	return true;
}

/*
 * The blob of a "publickey TYPE BASE64" line, decoded: canonical padded
 * base64 and nothing else, at most NP_SSH_KEY_BLOB_MAX bytes, beginning with
 * TYPE as an SSH string (a 4-byte big-endian length, then the name), as every
 * public key blob does.  0, or -1.
 */
static int decode_blob(const char *type, size_t type_len, const char *b64, size_t b64_len,
                       unsigned char *blob, size_t *blob_len)
{
	const char *end = NULL;
	uint32_t name_len;

	if (b64_len > sodium_base64_ENCODED_LEN(NP_SSH_KEY_BLOB_MAX,
	                                        sodium_base64_VARIANT_ORIGINAL))
		return -1;
	if (sodium_base642bin(blob, NP_SSH_KEY_BLOB_MAX, b64, b64_len, NULL, blob_len, &end,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != b64 + b64_len || *blob_len < 4)
		return -1;
	name_len = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 |
	           (uint32_t)blob[3];
	if (name_len != type_len || *blob_len - 4 <= type_len ||
	    memcmp(blob + 4, type, type_len) != 0)
		return -1;
	return 0;
}

int np_ssh_key_fingerprint(const unsigned char *blob, size_t len, char *out, size_t out_size)
{
	unsigned char digest[crypto_hash_sha256_BYTES];
	char b64[sodium_base64_ENCODED_LEN(crypto_hash_sha256_BYTES,
	                                   sodium_base64_VARIANT_ORIGINAL_NO_PADDING)];
	int n;

	if (crypto_hash_sha256(digest, blob, len) != 0)
		return -1;
	sodium_bin2base64(b64, sizeof b64, digest, sizeof digest,
	                  sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
	n = snprintf(out, out_size, "SHA256:%s", b64);
	return n == NP_SSH_FINGERPRINT_LEN && (size_t)n < out_size ? 0 : -1;
}

/* One line without its '\n': adds its key's fingerprint to out, if it has one.  0, 1 or -1. */
static int one_line(const char *line, size_t len, char *out, size_t out_size, size_t *used,
                    const char **why)
{
	const char *word[3];
	size_t word_len[3];
	unsigned char blob[NP_SSH_KEY_BLOB_MAX];
	size_t blob_len = 0;
	char fingerprint[NP_SSH_FINGERPRINT_LEN + 1];
	int n = split_words(line, len, word, word_len, 3);

	if (n < 1 || !is_word(word[0], word_len[0])) {
		*why = "a line that is not a method";
		return -1;
	}
	if (word_len[0] != strlen(PUBLICKEY_METHOD) ||
	    memcmp(word[0], PUBLICKEY_METHOD, word_len[0]) != 0)
		return 0;
	/* More after the blob (sshd's details: a FIDO key's signature count) names no key. */
	if (n != 3 || !is_word(word[1], word_len[1])) {
		*why = "a publickey line that is not \"publickey TYPE BASE64\"";
		return -1;
	}
	if (decode_blob(word[1], word_len[1], word[2], word_len[2], blob, &blob_len) != 0) {
		*why = "a public key that is not base64 of a key of its type";
		return -1;
	}
	n = np_ssh_key_fingerprint(blob, blob_len, fingerprint, sizeof fingerprint);
	sodium_memzero(blob, sizeof blob);
	if (n != 0 || out_size - *used < NP_SSH_FINGERPRINT_LEN + 2) {
		*why = "no room for the fingerprint";
		return -1;
	}
	*used += (size_t)snprintf(out + *used, out_size - *used, "%s%s", *used > 0 ? "," : "",
	                          fingerprint);
	return 1;
}

int np_ssh_auth_info_keys(const char *info, char *out, size_t out_size, const char **why)
{
	size_t len, used = 0;
	int keys = 0;

	if (out_size == 0)
		return -1;
	out[0] = '\0';
	*why = "";
	if (info == NULL)
		return 0;
	len = strnlen(info, NP_SSH_AUTH_INFO_MAX + 1);
	if (len > NP_SSH_AUTH_INFO_MAX) {
		*why = "longer than " NP_SSH_AUTH_INFO;
		return -1;
	}
	for (size_t at = 0; at < len;) {
		const char *nl = memchr(info + at, '\n', len - at);
		size_t line_len = nl != NULL ? (size_t)(nl - (info + at)) : 0;
		int rc = -1;

		/* sshd ends every method's line with '\n': text after the last one is odd. */
		if (nl == NULL)
			*why = "no newline at the end";
		else
			rc = one_line(info + at, line_len, out, out_size, &used, why);
		if (rc >= 0 && (keys += rc) > NP_SSH_KEYS_MAX) {
			*why = "more public keys than are bound";
			rc = -1;
		}
		if (rc < 0) {
			out[0] = '\0';
			return -1;
		}
		at += line_len + 1;
	}
	return keys;
}
