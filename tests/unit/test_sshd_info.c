/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of src/module/sshd_info.c: telling from a program's bytes whether it is
 * an sshd that shows PAM_TEXT_INFO at once (OpenSSH 10.3 and later).  The fake
 * programs are what strings(1) finds in real ones: the release strings, the
 * compat table's patterns, around them binary noise.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "module/sshd_info.h"
#include "unit_tmp.h"

/* The compat table of every OpenSSH since 7.x, as it sits in the binary. */
#define COMPAT_TABLE \
	"OpenSSH_2.*,OpenSSH_3.0*,OpenSSH_3.1*\0OpenSSH_2*,OpenSSH_3*,OpenSSH_4*\0" \
	"OpenSSH_7.0*,OpenSSH_7.1*,OpenSSH_7.2*,OpenSSH_7.3*,OpenSSH_7.5*,OpenSSH_7.6*\0" \
	"OpenSSH_3.*\0OpenSSH_5*\0OpenSSH_6.6.1*\0OpenSSH_6.5*,OpenSSH_6.6*\0OpenSSH_7.4*\0" \
	"OpenSSH*\0"

static char why[NP_SSHD_WHY_MAX];
static unsigned file_no;

static void assert_why_has(const char *what)
{
	if (strstr(why, what) == NULL)
		fail_msg("reason \"%s\" does not mention \"%s\"", why, what);
}

/* Noise that holds no "OpenSSH_": every byte value but 'O'. */
static void noise(char *buf, size_t len, unsigned seed)
{
	for (size_t i = 0; i < len; i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (char)(seed >> 16);
		if (buf[i] == 'O')
			buf[i] = 'o';
	}
}

/*
 * A fake program: size bytes of noise with the strings (len bytes, NULs
 * inside) at offset; returns its path.
 */
static const char *program(const char *strings, size_t len, size_t size, size_t offset)
{
	static char path[1024];
	char name[32];
	char *buf = malloc(size);

	assert_non_null(buf);
	assert_true(offset + len <= size);
	noise(buf, size, file_no);
	memcpy(buf + offset, strings, len);
	snprintf(name, sizeof name, "prog%u", file_no++);
	assert_int_equal(unit_write_file(unit_dir, name, buf, size, 0755, path, sizeof path), 0);
	free(buf);
	return path;
}

/* The answer for a fake program holding these strings (a string literal) in noise. */
#define ANSWER(lit) answer(lit, sizeof(lit) - 1)

static bool answer(const char *strings, size_t len)
{
	why[0] = '\0';
	return np_sshd_shows_info_at_once(program(strings, len, 200000, 70000), why, sizeof why);
}

/* ---- what the release says ---- */

static void test_threshold(void **state)
{
	(void)state;
	assert_false(np_openssh_shows_info_at_once(9, 9));
	assert_false(np_openssh_shows_info_at_once(10, 0));
	assert_false(np_openssh_shows_info_at_once(10, 2));
	assert_true(np_openssh_shows_info_at_once(10, 3));
	assert_true(np_openssh_shows_info_at_once(10, 10));
	assert_true(np_openssh_shows_info_at_once(11, 0));
}

static void test_debian_12_sshd_holds(void **state)
{
	(void)state;
	/* What Debian 12's /usr/sbin/sshd carries, in the order strings(1) lists it. */
	assert_false(ANSWER("OpenSSH_9.2\0..OpenSSH_9.2p1 Debian-2+deb12u10\0.." COMPAT_TABLE
	                    "..OpenSSH_9.2p1\0"));
	assert_why_has("OpenSSH_9.2p1 Debian-2+deb12u10");
	assert_why_has("before 10.3");
}

static void test_10_2_holds(void **state)
{
	(void)state;
	assert_false(ANSWER("\0OpenSSH_10.2p1\0" COMPAT_TABLE "OpenSSH_10.2\0"));
	assert_why_has("OpenSSH_10.2p1");
}

static void test_10_3_shows_at_once(void **state)
{
	(void)state;
	/* What the sshd-session of 10.3p1 built from source carries. */
	assert_true(ANSWER("\0OpenSSH_10.3p1\0OpenSSH_10.3\0" COMPAT_TABLE));
	assert_why_has("\"OpenSSH_10.3p1\" in \"");
	assert_why_has("10.3 or later");
}

static void test_11_0_shows_at_once(void **state)
{
	(void)state;
	assert_true(ANSWER("\0OpenSSH_11.0p1\0" COMPAT_TABLE "OpenSSH_11.0\0"));
	assert_why_has("OpenSSH_11.0p1");
}

static void test_minor_compared_as_number(void **state)
{
	(void)state;
	/* 10.10 comes after 10.3, though "10.10" < "10.3" as text. */
	assert_true(ANSWER("\0OpenSSH_10.10p1\0"));
	assert_false(ANSWER("\0OpenSSH_9.10p1\0"));
}

static void test_vendor_suffixes(void **state)
{
	(void)state;
	assert_true(ANSWER("\0OpenSSH_10.3p1 Debian-1~bpo13+1\0OpenSSH_10.3\0"));
	assert_why_has("OpenSSH_10.3p1 Debian-1~bpo13+1");
	assert_true(ANSWER("\0OpenSSH_10.3p2 Ubuntu-1ubuntu1\0"));
	/* A vendor may carry the change in an older release: only ssh_info can say so. */
	assert_false(ANSWER("\0OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\0"));
	assert_why_has("OpenSSH_9.6p1 Ubuntu-3ubuntu13.5");
}

/* ---- in doubt: held ---- */

static void test_compat_table_alone_is_no_release(void **state)
{
	(void)state;
	assert_false(ANSWER(COMPAT_TABLE));
	assert_why_has("no OpenSSH release string");
	/* Patterns that name only new releases are still patterns. */
	assert_false(ANSWER("\0OpenSSH_10.3*\0OpenSSH_10.3*,OpenSSH_11.0*\0OpenSSH_10.3.1*\0"));
	assert_why_has("no OpenSSH release string");
}

static void test_not_a_release_string(void **state)
{
	(void)state;
	/* Not ended by NUL or a vendor text, too many digits, an empty vendor text. */
	assert_false(ANSWER("\0OpenSSH_10.3p1x\0"));
	assert_false(ANSWER("\0OpenSSH_1000.3p1\0"));
	assert_false(ANSWER("\0OpenSSH_10.3p1 \0"));
	assert_false(ANSWER("\0OpenSSH_10.3p1 Debian\x01\0"));
	/* Vendor texts are letters, digits and " .+~_:-": no pattern characters. */
	assert_false(ANSWER("\0OpenSSH_10.3p1 Debian,2\0OpenSSH_10.3p1 x*\0"));
	assert_false(ANSWER("\0OpenSSH_.3p1\0OpenSSH_10.p1\0OpenSSH_10.3p\0"));
	assert_why_has("no OpenSSH release string");
}

static void test_vendor_text_too_long(void **state)
{
	char strings[200];

	(void)state;
	memset(strings, 'x', sizeof strings);
	memcpy(strings, "\0OpenSSH_10.3p1 ", 16);
	strings[sizeof strings - 1] = '\0';
	assert_false(answer(strings, sizeof strings));
	assert_why_has("no OpenSSH release string");
}

static void test_release_without_portable_suffix(void **state)
{
	(void)state;
	/* Every sshd with PAM is a portable release: "OpenSSH_10.3" alone is not enough. */
	assert_false(ANSWER("\0OpenSSH_10.3\0" COMPAT_TABLE));
	assert_why_has("no OpenSSH release string");
}

static void test_two_releases_are_doubt(void **state)
{
	(void)state;
	assert_false(ANSWER("\0OpenSSH_10.3p1\0OpenSSH_9.2p1\0"));
	assert_why_has("more than one");
	assert_false(ANSWER("\0OpenSSH_10.3p1\0OpenSSH_10.2\0"));
	assert_why_has("more than one");
}

static void test_garbage(void **state)
{
	char buf[4096];

	(void)state;
	for (unsigned seed = 1; seed <= 64; seed++) {
		noise(buf, sizeof buf, seed * 7919u);
		assert_false(answer(buf, sizeof buf));
	}
	assert_false(ANSWER(""));
	/* "OpenSSH_" at the very end, cut short. */
	why[0] = '\0';
	assert_false(np_sshd_shows_info_at_once(program("OpenSSH_10.3p1", 14, 1000, 986), why,
	                                        sizeof why));
	assert_why_has("no OpenSSH release string");
}

/* ---- reading the program ---- */

static void test_string_across_every_read_boundary(void **state)
{
	static const char release[] = "\0OpenSSH_10.3p1 Debian-1~bpo13+1";
	const size_t chunk = 64 * 1024;

	(void)state;
	/* The reader works in 64 KiB pieces: put the string astride each possible cut. */
	for (size_t cut = 0; cut <= sizeof release; cut++) {
		const char *path = program(release, sizeof release, 2 * chunk, chunk - cut);

		why[0] = '\0';
		if (!np_sshd_shows_info_at_once(path, why, sizeof why))
			fail_msg("cut %zu bytes before the end of the first read: %s", cut, why);
		unlink(path);
	}
}

static void test_scan_leaves_a_cut_string(void **state)
{
	struct np_openssh_release r;
	const char *text = "..OpenSSH_10.3p1";
	size_t done;

	(void)state;
	np_openssh_release_init(&r);
	done = np_openssh_release_scan(&r, text, strlen(text), false);
	assert_int_equal(done, 2);
	assert_false(r.found);
	/* The end of the file: nothing more comes, and it is no release. */
	assert_int_equal(np_openssh_release_scan(&r, text, strlen(text), true), strlen(text));
	assert_false(r.found);
	/* With the rest, it is one. */
	assert_int_equal(np_openssh_release_scan(&r, "OpenSSH_10.3p1\0..", 17, false), 17 - 7);
	assert_true(r.found);
	assert_true(r.portable);
	assert_int_equal(r.major, 10);
	assert_int_equal(r.minor, 3);
	assert_string_equal(r.text, "OpenSSH_10.3p1");
	/* The start of "OpenSSH_" at the end is kept, nothing more. */
	assert_int_equal(np_openssh_release_scan(&r, "abcdefghijklOpenS", 17, false), 17 - 7);
}

static void test_missing_program(void **state)
{
	char path[1024];

	(void)state;
	snprintf(path, sizeof path, "%s/no-such-program", unit_dir);
	assert_false(np_sshd_shows_info_at_once(path, why, sizeof why));
	assert_why_has("cannot open");
	assert_why_has("no-such-program");
}

static void test_directory_and_fifo(void **state)
{
	char path[1024];

	(void)state;
	assert_false(np_sshd_shows_info_at_once(unit_dir, why, sizeof why));
	assert_why_has("not a regular file");
	snprintf(path, sizeof path, "%s/fifo", unit_dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	/* Nobody writes to it: opening must not block. */
	assert_false(np_sshd_shows_info_at_once(path, why, sizeof why));
	assert_why_has("not a regular file");
}

static void test_unreadable_program(void **state)
{
	const char *path = program("\0OpenSSH_10.3p1\0", 16, 100, 10);

	(void)state;
	assert_int_equal(chmod(path, 0), 0);
	if (geteuid() == 0)
		skip(); /* root reads it anyway */
	assert_false(np_sshd_shows_info_at_once(path, why, sizeof why));
	assert_why_has("cannot open");
	assert_why_has(strerror(EACCES));
}

static void test_too_large_is_not_read(void **state)
{
	char path[1024];
	int fd;

	(void)state;
	snprintf(path, sizeof path, "%s/huge", unit_dir);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755);
	assert_true(fd >= 0);
	/* Sparse: a release string right at the start, then holes past the limit. */
	assert_int_equal(write(fd, "OpenSSH_10.3p1", 15), 15);
	assert_int_equal(ftruncate(fd, (off_t)NP_SSHD_PROGRAM_MAX + 1), 0);
	close(fd);
	assert_false(np_sshd_shows_info_at_once(path, why, sizeof why));
	assert_why_has("larger than");
}

static void test_the_log_names_the_program_not_the_link(void **state)
{
	const char *path = program("\0OpenSSH_10.3p1\0", 16, 100, 10);
	char link[1024];

	(void)state;
	snprintf(link, sizeof link, "%s/exe", unit_dir);
	assert_int_equal(symlink(path, link), 0);
	assert_true(np_sshd_shows_info_at_once(link, why, sizeof why));
	assert_why_has(path);
	/* Whatever this test program holds, the log names it, not /proc/self/exe. */
	(void)np_sshd_shows_info_at_once(NP_SSHD_PROGRAM, why, sizeof why);
	assert_why_has("test_sshd_info");
	assert_null(strstr(why, NP_SSHD_PROGRAM));
}

static void test_the_systems_sshd(void **state)
{
	static const char *const sshds[] = { "/usr/sbin/sshd", "/usr/lib/openssh/sshd-session" };
	bool tried = false;

	(void)state;
	/* Debian 12's 9.2 holds information back; a newer system passes over this. */
	for (size_t i = 0; i < sizeof sshds / sizeof sshds[0]; i++) {
		if (access(sshds[i], R_OK) != 0)
			continue;
		tried = true;
		if (np_sshd_shows_info_at_once(sshds[i], why, sizeof why))
			assert_why_has("10.3 or later");
		else
			assert_why_has("OpenSSH_");
	}
	if (!tried)
		skip();
}

/* Whether a program is OpenSSH's sshd at all, of any release: the same reading. */
static bool is_openssh(const char *strings, size_t len)
{
	why[0] = '\0';
	return np_sshd_is_openssh(program(strings, len, 200000, 70000), why, sizeof why);
}

#define IS_OPENSSH(lit) is_openssh(lit, sizeof(lit) - 1)

static void test_openssh_of_any_release(void **state)
{
	char path[1024];

	(void)state;
	assert_true(IS_OPENSSH("..OpenSSH_9.2p1 Debian-2+deb12u10\0.." COMPAT_TABLE));
	assert_why_has("OpenSSH_9.2p1 Debian-2+deb12u10");
	assert_true(IS_OPENSSH("\0OpenSSH_10.3p1\0"));
	/* Not OpenSSH, or not sure: no. */
	assert_false(IS_OPENSSH("\0pamtester 0.1.2\0"));
	assert_why_has("no OpenSSH release string");
	assert_false(IS_OPENSSH("\0" COMPAT_TABLE));
	assert_false(IS_OPENSSH("\0OpenSSH_10.3\0"));
	assert_false(IS_OPENSSH("\0OpenSSH_10.3p1\0OpenSSH_9.2p1\0"));
	assert_why_has("more than one");
	snprintf(path, sizeof path, "%s/no-such-program", unit_dir);
	assert_false(np_sshd_is_openssh(path, why, sizeof why));
}

static void test_control_characters_in_the_path_are_not_logged(void **state)
{
	char path[1024];

	(void)state;
	snprintf(path, sizeof path, "%s/bad\x1b[31mname", unit_dir);
	assert_false(np_sshd_shows_info_at_once(path, why, sizeof why));
	assert_null(strchr(why, '\x1b'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_openssh_of_any_release),
		cmocka_unit_test(test_debian_12_sshd_holds),
		cmocka_unit_test(test_10_2_holds),
		cmocka_unit_test(test_10_3_shows_at_once),
		cmocka_unit_test(test_11_0_shows_at_once),
		cmocka_unit_test(test_minor_compared_as_number),
		cmocka_unit_test(test_vendor_suffixes),
		cmocka_unit_test(test_compat_table_alone_is_no_release),
		cmocka_unit_test(test_not_a_release_string),
		cmocka_unit_test(test_vendor_text_too_long),
		cmocka_unit_test(test_release_without_portable_suffix),
		cmocka_unit_test(test_two_releases_are_doubt),
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_string_across_every_read_boundary),
		cmocka_unit_test(test_scan_leaves_a_cut_string),
		cmocka_unit_test(test_missing_program),
		cmocka_unit_test(test_directory_and_fifo),
		cmocka_unit_test(test_unreadable_program),
		cmocka_unit_test(test_too_large_is_not_read),
		cmocka_unit_test(test_the_log_names_the_program_not_the_link),
		cmocka_unit_test(test_the_systems_sshd),
		cmocka_unit_test(test_control_characters_in_the_path_are_not_logged),
	};

	return cmocka_run_group_tests_name("sshd_info", tests, unit_group_setup, unit_group_teardown);
}
