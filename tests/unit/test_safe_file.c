/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of src/common/safe_file.c: which files are trusted. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/safe_file.h"
#include "unit_tmp.h"

static char err[1024];

static void assert_err_has(const char *what)
{
	if (strstr(err, what) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, what);
}

static void make(const char *name, const char *text, mode_t mode, char *path, size_t size)
{
	assert_int_equal(unit_write_file(unit_dir, name, text, strlen(text), mode, path, size), 0);
}

/* Reads path; checks the out-parameters agree with the status. */
static enum np_file_status read_file(const char *path, unsigned flags, size_t max, char **data,
                                     size_t *len)
{
	enum np_file_status st;

	err[0] = '\0';
	*data = (char *)(uintptr_t)1; /* must be overwritten */
	*len = 12345;
	st = np_file_read(path, flags, max, data, len, err, sizeof err);
	if (st != NP_FILE_OK) {
		assert_null(*data);
		assert_int_equal(*len, 0);
		assert_true(err[0] != '\0');
	}
	return st;
}

/* Reads path, which must be trusted, and finds exactly want_len bytes of want, NUL-terminated. */
static void expect_content(const char *path, const void *want, size_t want_len)
{
	char *data;
	size_t len;

	assert_int_equal(read_file(path, 0, 4096, &data, &len), NP_FILE_OK);
	assert_non_null(data);
	assert_int_equal(len, want_len);
	assert_memory_equal(data, want, want_len);
	assert_int_equal(data[want_len], '\0');
	free(data);
}

static void test_reads_0644(void **state)
{
	char path[1024];

	(void)state;
	make("plain", "hello\nworld\n", 0644, path, sizeof path);
	expect_content(path, "hello\nworld\n", 12);
	/* Read-only modes are fine. */
	assert_int_equal(chmod(path, 0400), 0);
	expect_content(path, "hello\nworld\n", 12);
}

static void test_empty_file(void **state)
{
	char path[1024];

	(void)state;
	make("empty", "", 0644, path, sizeof path);
	expect_content(path, "", 0);
}

static void test_binary_content(void **state)
{
	static const char bytes[] = "a\0b\xff";
	char path[1024];

	(void)state;
	assert_int_equal(unit_write_file(unit_dir, "binary", bytes, 4, 0644, path, sizeof path), 0);
	expect_content(path, bytes, 4);
}

static void test_symlink_refused(void **state)
{
	char target[1024];
	char link[1024];
	char *data;
	size_t len;

	(void)state;
	make("target", "x = y\n", 0644, target, sizeof target);
	snprintf(link, sizeof link, "%s/link", unit_dir);
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(read_file(link, 0, 4096, &data, &len), NP_FILE_UNSAFE);
	assert_err_has(link);
	assert_err_has("symbolic link");
	/* A dangling symlink is not "missing" either. */
	snprintf(link, sizeof link, "%s/dangling", unit_dir);
	assert_int_equal(symlink("/nonexistent/np-unit", link), 0);
	assert_int_equal(read_file(link, 0, 4096, &data, &len), NP_FILE_UNSAFE);
	assert_err_has("symbolic link");
}

static void test_directory_refused(void **state)
{
	char *data;
	size_t len;

	(void)state;
	assert_int_equal(read_file(unit_dir, 0, 4096, &data, &len), NP_FILE_UNSAFE);
	assert_err_has("not a regular file");
	assert_int_equal(read_file("/", 0, 4096, &data, &len), NP_FILE_UNSAFE);
}

static void test_writable_refused(void **state)
{
	static const mode_t modes[] = { 0664, 0646, 0666, 0620, 0602, 0777, 0660 };
	char path[1024];
	char *data;
	size_t len;

	(void)state;
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		char name[32];
		char mode_text[16];

		snprintf(name, sizeof name, "writable-%04o", (unsigned)modes[i]);
		make(name, "x\n", modes[i], path, sizeof path);
		assert_int_equal(read_file(path, 0, 4096, &data, &len), NP_FILE_UNSAFE);
		assert_err_has(name);
		assert_err_has("writable by group or others");
		snprintf(mode_text, sizeof mode_text, "%04o", (unsigned)modes[i]);
		assert_err_has(mode_text);
	}
}

static void test_size_limit(void **state)
{
	char path[1024];
	char text[101];
	char *data;
	size_t len;

	(void)state;
	memset(text, 'x', 100);
	text[100] = '\0';
	make("hundred", text, 0644, path, sizeof path);
	assert_int_equal(read_file(path, 0, 100, &data, &len), NP_FILE_OK);
	assert_int_equal(len, 100);
	free(data);
	assert_int_equal(read_file(path, 0, 99, &data, &len), NP_FILE_UNSAFE);
	assert_err_has("larger than 99 bytes");
	assert_int_equal(read_file(path, 0, 0, &data, &len), NP_FILE_UNSAFE);
}

static void test_private(void **state)
{
	static const mode_t refused[] = { 0644, 0640, 0604, 0610, 0601, 0444 };
	char path[1024];
	char *data;
	size_t len;

	(void)state;
	make("key", "0123456789abcdef0123456789abcdef", 0600, path, sizeof path);
	assert_int_equal(read_file(path, NP_FILE_PRIVATE, 64, &data, &len), NP_FILE_OK);
	assert_int_equal(len, 32);
	free(data);
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(read_file(path, NP_FILE_PRIVATE, 64, &data, &len), NP_FILE_OK);
	free(data);
	for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
		assert_int_equal(chmod(path, refused[i]), 0);
		assert_int_equal(read_file(path, NP_FILE_PRIVATE, 64, &data, &len), NP_FILE_UNSAFE);
		assert_err_has("expected 0600");
		/* Without the flag, only writability matters. */
		assert_int_equal(read_file(path, 0, 64, &data, &len), NP_FILE_OK);
		free(data);
	}
}

static void test_missing(void **state)
{
	char path[1024];
	char *data;
	size_t len;

	(void)state;
	snprintf(path, sizeof path, "%s/no-such-file", unit_dir);
	assert_int_equal(read_file(path, 0, 4096, &data, &len), NP_FILE_MISSING);
	assert_err_has("no-such-file");
	assert_err_has("does not exist");
	/* A missing directory on the way is missing too. */
	snprintf(path, sizeof path, "%s/no-such-dir/file", unit_dir);
	assert_int_equal(read_file(path, 0, 4096, &data, &len), NP_FILE_MISSING);
}

static void test_not_a_directory(void **state)
{
	char file[1024];
	char path[1100];
	char *data;
	size_t len;

	(void)state;
	make("notdir", "x", 0644, file, sizeof file);
	snprintf(path, sizeof path, "%s/child", file);
	assert_int_equal(read_file(path, 0, 4096, &data, &len), NP_FILE_ERROR);
	assert_err_has("child");
}

static void test_relative_refused(void **state)
{
	char *data;
	size_t len;

	(void)state;
	assert_int_equal(read_file("etc/passwd", 0, 1 << 20, &data, &len), NP_FILE_UNSAFE);
	assert_err_has("not an absolute path");
	assert_int_equal(read_file("./x", 0, 1 << 20, &data, &len), NP_FILE_UNSAFE);
	assert_int_equal(read_file("", 0, 1 << 20, &data, &len), NP_FILE_UNSAFE);
	assert_int_equal(read_file(NULL, 0, 1 << 20, &data, &len), NP_FILE_UNSAFE);
	assert_err_has("(null)");
}

static void test_fifo_not_blocking(void **state)
{
	char path[1024];
	char *data;
	size_t len;

	(void)state;
	snprintf(path, sizeof path, "%s/fifo", unit_dir);
	assert_int_equal(mkfifo(path, 0644), 0);
	assert_int_equal(chmod(path, 0644), 0);
	/* Opening a FIFO with no writer must not wait for one. */
	alarm(5);
	assert_int_equal(read_file(path, 0, 4096, &data, &len), NP_FILE_UNSAFE);
	alarm(0);
	assert_err_has("not a regular file");
}

static void test_device_refused(void **state)
{
	char *data;
	size_t len;

	(void)state;
	alarm(5);
	assert_int_equal(read_file("/dev/null", 0, 4096, &data, &len), NP_FILE_UNSAFE);
	assert_err_has("not a regular file");
	alarm(0);
}

static void test_foreign_owner(void **state)
{
	char path[1024];
	char *data;
	size_t len;

	(void)state;
	if (geteuid() != 0) {
		print_message("not root: cannot give a file away\n");
		skip();
	}
	make("foreign", "x\n", 0644, path, sizeof path);
	assert_int_equal(chown(path, 65534, 65534), 0);
	assert_int_equal(read_file(path, 0, 4096, &data, &len), NP_FILE_UNSAFE);
	assert_err_has("owned by uid 65534");
	/* Root-owned files are trusted whoever reads them; that is the root case here. */
	assert_int_equal(chown(path, 0, 0), 0);
	assert_int_equal(read_file(path, 0, 4096, &data, &len), NP_FILE_OK);
	free(data);
}

static void test_root_owned_file(void **state)
{
	char *data;
	size_t len;
	struct stat st;

	(void)state;
	/* A root-owned, not group/world-writable system file is accepted by anyone. */
	if (stat("/etc/passwd", &st) != 0 || st.st_uid != 0 || (st.st_mode & 022) != 0)
		skip();
	assert_int_equal(read_file("/etc/passwd", 0, 1 << 24, &data, &len), NP_FILE_OK);
	assert_non_null(strstr(data, "root:"));
	free(data);
}

/* Readable by nobody but the owner and root: np_file_private() on what was read. */
static void test_readable_by_root_only(void **state)
{
	static const struct {
		mode_t mode;
		gid_t gid;
		bool private;
	} cases[] = {
		{ 0600, 1000, true }, { 0400, 1000, true }, { 0640, 0, true }, { 0700, 5, true },
		{ 0640, 1000, false }, { 0604, 0, false }, { 0644, 0, false }, { 0440, 42, false },
		{ 0601, 0, true }, /* execute alone reads nothing */
	};
	char path[1024];
	char *data;
	size_t len;
	struct stat st;

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct stat made = { .st_mode = S_IFREG | cases[i].mode, .st_gid = cases[i].gid };

		if (np_file_private(&made) != cases[i].private)
			fail_msg("mode %04o gid %u: %s", (unsigned)cases[i].mode,
			         (unsigned)cases[i].gid, cases[i].private ? "not private" : "private");
	}
	/* np_file_read_stat() hands back the stat of the file it read. */
	make("private.conf", "x", 0600, path, sizeof path);
	assert_int_equal(np_file_read_stat(path, 0, 16, &data, &len, &st, err, sizeof err),
	                 NP_FILE_OK);
	assert_true(np_file_private(&st));
	assert_int_equal(st.st_size, 1);
	free(data);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(np_file_read_stat(path, 0, 16, &data, &len, &st, err, sizeof err),
	                 NP_FILE_OK);
	assert_false(np_file_private(&st));
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reads_0644),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_binary_content),
		cmocka_unit_test(test_symlink_refused),
		cmocka_unit_test(test_directory_refused),
		cmocka_unit_test(test_writable_refused),
		cmocka_unit_test(test_size_limit),
		cmocka_unit_test(test_private),
		cmocka_unit_test(test_readable_by_root_only),
		cmocka_unit_test(test_missing),
		cmocka_unit_test(test_not_a_directory),
		cmocka_unit_test(test_relative_refused),
		cmocka_unit_test(test_fifo_not_blocking),
		cmocka_unit_test(test_device_refused),
		cmocka_unit_test(test_foreign_owner),
		cmocka_unit_test(test_root_owned_file),
	};

	return cmocka_run_group_tests_name("safe_file", tests, unit_group_setup, unit_group_teardown);
}
