/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of src/common/ssh_key.c: the public keys sshd reports in
 * SSH_AUTH_INFO_0, and their fingerprints.  The text is hostile: anything
 * odd must give no key at all.  Fingerprints are checked against fixed
 * values that ssh-keygen -l gave, and against ssh-keygen -l itself on keys
 * made for the test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "common/ssh_key.h"
#include "unit_tmp.h"

/* Two ed25519 keys and an RSA key, with what ssh-keygen -lf said of them. */
#define ED1 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOSJYx8eaFzmIfe56Bb7rv83hxcIUF0lAHEcmnWQnoOr"
#define ED1_FP "SHA256:sr0gk2VJaorPKhNN4k7xaOclwgyq6iR/7RtwjK6Nqg8"
#define ED2 "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICK1PH5gqgE05xUTl7GaGiPiSVTbgoBOHKfdsQ/7PL6r"
#define ED2_FP "SHA256:bJQ6be583WGS5xqA90goBjb6WL3S8fl7JX6EYaMzmuc"
#define RSA "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDdQpnK19ywTaUKTlGyS1n6a5yvAYkl8XMIbJYQpmnaVaO3" \
	"Ehy74cdXdJieoBnrYbKO4GIHWVsAO/CbaUr0ZHNnK6QufKPzXWeZuyo0AaIJR9eLJYefj3UzAUcWx0/PTEqeD" \
	"/U1qY6E1jGgkyCO5bIyjvwqPJb0cQDcNE3rmlAs8FEG5GZi7pb4it3oZUUUIKaNX6z8DA6X5b6NnagoX8QACD0" \
	"BX6BEeIVyiJpqIW75rtcT8s8Pw4yDxgHaysdAs+tmOZeBfQ8akErQUux88l7LaoLMhYi5PoLPOMkxUWfI//jX" \
	"AvN8hFr6C0158h8AODJ5fpm95O84FynY/LH318lD"
#define RSA_FP "SHA256:IXLihKZ6E54A9i/gbcW9W0TuBTLT7en4/Pis1kwXs5A"

static char out[NP_SSH_KEYS_TEXT_MAX + 1];

static int keys_of(const char *info)
{
	const char *why = NULL;
	int n;

	memset(out, 'x', sizeof out);
	n = np_ssh_auth_info_keys(info, out, sizeof out, &why);
	assert_non_null(why);
	return n;
}

/* Odd text: no key at all, whatever came before the oddity. */
static void no_key_in(const char *info)
{
	if (keys_of(info) != -1) {
		fprintf(stderr, "accepted: \"%s\"\n", info);
		fail();
	}
	assert_string_equal(out, "");
}

static void one_public_key(void **state)
{
	(void)state;
	assert_int_equal(keys_of("publickey " ED1 "\n"), 1);
	assert_string_equal(out, ED1_FP);
	assert_int_equal(keys_of("publickey " RSA "\n"), 1);
	assert_string_equal(out, RSA_FP);
	assert_int_equal(strlen(ED1_FP), NP_SSH_FINGERPRINT_LEN);
}

/* AuthenticationMethods publickey,publickey: every key, in the order sshd completed them. */
static void several_keys_in_order(void **state)
{
	(void)state;
	assert_int_equal(keys_of("publickey " ED1 "\npublickey " RSA "\npublickey " ED2 "\n"), 3);
	assert_string_equal(out, ED1_FP "," RSA_FP "," ED2_FP);
	assert_int_equal(keys_of("publickey " ED2 "\npublickey " ED1 "\n"), 2);
	assert_string_equal(out, ED2_FP "," ED1_FP);
	/* Other methods' lines carry no key, before or after. */
	assert_int_equal(keys_of("password\npublickey " ED1 "\nkeyboard-interactive/pam\n"), 1);
	assert_string_equal(out, ED1_FP);
	/* As many as are bound, and not one more. */
	assert_int_equal(keys_of("publickey " ED1 "\npublickey " ED2 "\npublickey " ED1
	                         "\npublickey " ED2 "\n"), NP_SSH_KEYS_MAX);
	no_key_in("publickey " ED1 "\npublickey " ED2 "\npublickey " ED1 "\npublickey " ED2
	          "\npublickey " ED1 "\n");
	/* Whatever room the caller has. */
	{
		char room[1024];
		const char *why = NULL;

		assert_int_equal(np_ssh_auth_info_keys("publickey " ED1 "\npublickey " ED2
		                                       "\npublickey " ED1 "\npublickey " ED2
		                                       "\npublickey " ED1 "\n",
		                                       room, sizeof room, &why),
		                 -1);
		assert_string_equal(room, "");
	}
}

/* keyboard-interactive alone, a password, nothing at all: no key, and nothing odd. */
static void other_methods_only(void **state)
{
	(void)state;
	assert_int_equal(keys_of(NULL), 0);
	assert_string_equal(out, "");
	assert_int_equal(keys_of(""), 0);
	assert_string_equal(out, "");
	assert_int_equal(keys_of("keyboard-interactive/pam\n"), 0);
	assert_string_equal(out, "");
	assert_int_equal(keys_of("password\ngssapi-with-mic\n"), 0);
	/* A hostbased key proves the client host, not the person: no key. */
	assert_int_equal(keys_of("hostbased " ED1 "\n"), 0);
	assert_string_equal(out, "");
	/* With the details sshd adds to its line, before a public key's line. */
	assert_int_equal(keys_of("hostbased " ED1 " client user \"don\", client host \"h\"\n"
	                         "publickey " ED2 "\n"), 1);
	assert_string_equal(out, ED2_FP);
}

static void publickey_lines_not_as_sshd_writes_them(void **state)
{
	(void)state;
	no_key_in("publickey\n");
	no_key_in("publickey ssh-ed25519\n");
	no_key_in("publickey " ED1 " extra\n");
	/* Details after a public key's blob: no key. */
	no_key_in("publickey " ED1 " ID test (serial 0) CA ssh-ed25519 " ED1_FP "\n");
	no_key_in("publickey  " ED1 "\n");
	no_key_in("publickey " ED1 " \n");
	no_key_in(" publickey " ED1 "\n");
	no_key_in("publickey " ED1);                 /* no newline at the end */
	no_key_in("publickey " ED1 "\n\n");          /* an empty line */
	no_key_in("\npublickey " ED1 "\n");
	no_key_in("publickey " ED1 "\npassword");    /* a last line without its newline */
	/* The blob must be a key of the type the line names. */
	no_key_in("publickey ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIOSJYx8eaFzmIfe56Bb7rv83hxcIUF0lAHEcmnWQnoOr\n");
	no_key_in("publickey ssh-ed25518 AAAAC3NzaC1lZDI1NTE5AAAAIOSJYx8eaFzmIfe56Bb7rv83hxcIUF0lAHEcmnWQnoOr\n");
	no_key_in("publickey ssh-ed2551 AAAAC3NzaC1lZDI1NTE5AAAAIOSJYx8eaFzmIfe56Bb7rv83hxcIUF0lAHEcmnWQnoOr\n");
	/* "\0\0\0\x0bssh-ed25519" and nothing after the name. */
	no_key_in("publickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n");
	no_key_in("publickey ssh-ed25519 AAAA\n");
	no_key_in("publickey ssh-ed25519 \n");
	no_key_in("publickey ssh-ed@25519! " ED1 "\n");
}

static void bad_base64(void **state)
{
	(void)state;
	no_key_in("publickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOSJYx8eaFzmIfe56Bb7rv83hxcIUF0lAHEcmnWQnoO\n");
	no_key_in("publickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOSJYx8eaFzmIfe56Bb7rv83hxcIUF0lAHEcmnWQnoOr=\n");
	no_key_in("publickey ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOSJYx8eaFzmIfe56Bb7rv83hxcIUF0lAHEcmnWQnoO*\n");
	/* The URL-safe alphabet is not what sshd writes. */
	no_key_in("publickey ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQDdQpnK19ywTaUKTlGyS1n6a5yvAYkl8XMIbJYQ"
	          "pmnaVaO3Ehy74cdXdJieoBnrYbKO4GIHWVsAO_CbaUr0ZHNnK6QufKPzXWeZuyo0AaIJR9eLJYefj3UzAUcWx0_"
	          "PTEqeD_U1qY6E1jGgkyCO5bIyjvwqPJb0cQDcNE3rmlAs8FEG5GZi7pb4it3oZUUUIKaNX6z8DA6X5b6NnagoX8Q"
	          "ACD0BX6BEeIVyiJpqIW75rtcT8s8Pw4yDxgHaysdAs-tmOZeBfQ8akErQUux88l7LaoLMhYi5PoLPOMkxUWfI__"
	          "jXAvN8hFr6C0158h8AODJ5fpm95O84FynY_LH318lD\n");
}

static void control_characters_and_other_bytes(void **state)
{
	static const char *const odd[] = { "\t", "\r", "\x1b[31m", "\x7f", "\xc3\xa9", "\x01" };
	char text[512];

	(void)state;
	for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++) {
		snprintf(text, sizeof text, "publickey %s" ED1 "\n", odd[i]);
		no_key_in(text);
		snprintf(text, sizeof text, "publickey " ED1 "%s\n", odd[i]);
		no_key_in(text);
		/* In another method's line too: the whole text is odd, the key before it too. */
		snprintf(text, sizeof text, "publickey " ED1 "\nkeyboard%s-interactive\n", odd[i]);
		no_key_in(text);
	}
	no_key_in("publickey " ED1 "\r\n");
	/* After another method's name, too: the whole text is odd. */
	no_key_in("publickey " ED1 "\nkeyboard-interactive/pam \x1b[2J\n");
	no_key_in("publickey " ED1 "\npassword \t\n");
}

static void huge_text(void **state)
{
	size_t len = NP_SSH_AUTH_INFO_MAX + 1;
	char *text = malloc(len + 1);
	char *blob64 = malloc(NP_SSH_AUTH_INFO_MAX);
	unsigned char *blob = calloc(1, NP_SSH_KEY_BLOB_MAX + 64);

	(void)state;
	assert_non_null(text);
	assert_non_null(blob64);
	assert_non_null(blob);
	/* One byte over the bound, made of harmless lines: refused before it is parsed. */
	for (size_t i = 0; i < len; i += 9)
		memcpy(text + i, "password\n", len - i < 9 ? len - i : 9);
	text[len] = '\0';
	text[len - 1] = '\n';
	no_key_in(text);
	/* Within the bound, the same lines are fine. */
	text[NP_SSH_AUTH_INFO_MAX - NP_SSH_AUTH_INFO_MAX % 9] = '\0';
	assert_int_equal(keys_of(text), 0);
	/* A key blob longer than any real key, well-formed otherwise. */
	memcpy(blob, "\0\0\0\x0bssh-ed25519", 15);
	sodium_bin2base64(blob64, NP_SSH_AUTH_INFO_MAX, blob, NP_SSH_KEY_BLOB_MAX + 1,
	                  sodium_base64_VARIANT_ORIGINAL);
	snprintf(text, len, "publickey ssh-ed25519 %s\n", blob64);
	no_key_in(text);
	/* At the bound it is taken. */
	sodium_bin2base64(blob64, NP_SSH_AUTH_INFO_MAX, blob, NP_SSH_KEY_BLOB_MAX,
	                  sodium_base64_VARIANT_ORIGINAL);
	snprintf(text, len, "publickey ssh-ed25519 %s\n", blob64);
	assert_int_equal(keys_of(text), 1);
	free(text);
	free(blob64);
	free(blob);
}

/* Runs a shell command; its first line of output in line. */
static int first_line(const char *command, char *line, size_t size)
{
	FILE *p = popen(command, "r");
	int status;

	if (p == NULL)
		return -1;
	if (fgets(line, (int)size, p) == NULL)
		line[0] = '\0';
	status = pclose(p);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* A key made now, of each kind sshd takes, fingerprinted by us and by ssh-keygen -l. */
static void fingerprints_are_ssh_keygens(void **state)
{
	static const char *const kinds[] = { "ed25519", "ecdsa", "rsa" };
	char dir[256], command[1024], pub[4096], info[4200], theirs[256], ours[128];

	(void)state;
	if (system("command -v ssh-keygen >/dev/null 2>&1") != 0)
		skip();
	assert_int_equal(unit_tmpdir(dir, sizeof dir), 0);
	for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
		snprintf(command, sizeof command,
		         "ssh-keygen -q -t %s -N '' -C t -f %s/%s && cut -d' ' -f1,2 %s/%s.pub",
		         kinds[i], dir, kinds[i], dir, kinds[i]);
		assert_int_equal(first_line(command, pub, sizeof pub), 0);
		pub[strcspn(pub, "\n")] = '\0';
		snprintf(command, sizeof command, "ssh-keygen -lf %s/%s.pub | cut -d' ' -f2", dir,
		         kinds[i]);
		assert_int_equal(first_line(command, theirs, sizeof theirs), 0);
		theirs[strcspn(theirs, "\n")] = '\0';
		snprintf(info, sizeof info, "publickey %s\n", pub);
		assert_int_equal(keys_of(info), 1);
		snprintf(ours, sizeof ours, "%s", out);
		assert_string_equal(ours, theirs);
	}
	unit_rm_rf(dir);
}

/* An SSH string (4-byte big-endian length, then the bytes) appended at blob + *len. */
static void put_string(unsigned char *blob, size_t *len, const void *bytes, size_t n)
{
	blob[(*len)++] = (unsigned char)(n >> 24);
	blob[(*len)++] = (unsigned char)(n >> 16);
	blob[(*len)++] = (unsigned char)(n >> 8);
	blob[(*len)++] = (unsigned char)n;
	memcpy(blob + *len, bytes, n);
	*len += n;
}

/*
 * What sshd writes after a FIDO security key (auth2-pubkey.c records
 * "signature count = N" as the method's details, after the key): no key, as
 * for any line with details after the blob.  The same key without them would
 * be one: the details are what make it none.
 */
static void security_key_line_names_no_key(void **state)
{
	static const char type[] = "sk-ssh-ed25519@openssh.com";
	unsigned char blob[128], pk[32];
	char b64[256], info[512];
	size_t len = 0;

	(void)state;
	memset(pk, 0x5a, sizeof pk);
	put_string(blob, &len, type, strlen(type));
	put_string(blob, &len, pk, sizeof pk);
	put_string(blob, &len, "ssh:", 4);
	sodium_bin2base64(b64, sizeof b64, blob, len, sodium_base64_VARIANT_ORIGINAL);
	snprintf(info, sizeof info, "publickey %s %s signature count = 7\n", type, b64);
	no_key_in(info);
	snprintf(info, sizeof info, "publickey %s %s\n", type, b64);
	assert_int_equal(keys_of(info), 1);
}

/*
 * After a certificate sshd writes the certificate: its fingerprint is the
 * certificate's, not the one ssh-keygen -l (and sshd's log) gives for the key
 * inside it, and the same key certified again is another key here.
 */
static void certificate_is_bound_as_itself(void **state)
{
	char dir[256], command[1024], cert[4096], info[4200], theirs[256], first[128];

	(void)state;
	if (system("command -v ssh-keygen >/dev/null 2>&1") != 0)
		skip();
	assert_int_equal(unit_tmpdir(dir, sizeof dir), 0);
	snprintf(command, sizeof command,
	         "ssh-keygen -q -t ed25519 -N '' -C ca -f %s/ca && "
	         "ssh-keygen -q -t ed25519 -N '' -C t -f %s/user && "
	         "ssh-keygen -q -s %s/ca -I one -n t %s/user.pub && "
	         "cut -d' ' -f1,2 %s/user-cert.pub", dir, dir, dir, dir, dir);
	assert_int_equal(first_line(command, cert, sizeof cert), 0);
	cert[strcspn(cert, "\n")] = '\0';
	assert_int_equal(strncmp(cert, "ssh-ed25519-cert-v01@openssh.com ", 33), 0);
	snprintf(info, sizeof info, "publickey %s\n", cert);
	assert_int_equal(keys_of(info), 1);
	snprintf(first, sizeof first, "%s", out);
	snprintf(command, sizeof command, "ssh-keygen -lf %s/user-cert.pub | cut -d' ' -f2", dir);
	assert_int_equal(first_line(command, theirs, sizeof theirs), 0);
	theirs[strcspn(theirs, "\n")] = '\0';
	assert_string_not_equal(first, theirs);
	/* Certified again: another certificate, another fingerprint. */
	snprintf(command, sizeof command,
	         "ssh-keygen -q -s %s/ca -I two -n t %s/user.pub && cut -d' ' -f1,2 %s/user-cert.pub",
	         dir, dir, dir);
	assert_int_equal(first_line(command, cert, sizeof cert), 0);
	cert[strcspn(cert, "\n")] = '\0';
	snprintf(info, sizeof info, "publickey %s\n", cert);
	assert_int_equal(keys_of(info), 1);
	assert_string_not_equal(out, first);
	unit_rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_public_key),
		cmocka_unit_test(several_keys_in_order),
		cmocka_unit_test(other_methods_only),
		cmocka_unit_test(publickey_lines_not_as_sshd_writes_them),
		cmocka_unit_test(bad_base64),
		cmocka_unit_test(control_characters_and_other_bytes),
		cmocka_unit_test(huge_text),
		cmocka_unit_test(fingerprints_are_ssh_keygens),
		cmocka_unit_test(security_key_line_names_no_key),
		cmocka_unit_test(certificate_is_bound_as_itself),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests_name("ssh_key: SSH_AUTH_INFO_0 and fingerprints", tests, NULL,
	                                   NULL);
}
