/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of src/common/lineio.c over a pipe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/lineio.h"

struct fixture {
	int rd, wr;
	struct np_line_reader reader;
	char line[NP_LINE_MAX];
	char big[NP_LINE_MAX * 2];
};

static struct fixture fx;

static int setup(void **state)
{
	int fds[2];

	(void)state;
	if (pipe2(fds, O_CLOEXEC) != 0)
		return -1;
	fx.rd = fds[0];
	fx.wr = fds[1];
	np_line_reader_init(&fx.reader, fx.rd);
	/* A hang is a failure, not a stuck test run. */
	alarm(10);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	alarm(0);
	if (fx.rd >= 0)
		close(fx.rd);
	if (fx.wr >= 0)
		close(fx.wr);
	fx.rd = fx.wr = -1;
	return 0;
}

static void put(const void *data, size_t len)
{
	assert_int_equal(np_write_all(fx.wr, data, len), 0);
}

static enum np_line_status get(int timeout_ms, size_t *len)
{
	memset(fx.line, 'Z', sizeof fx.line);
	return np_line_read(&fx.reader, timeout_ms, fx.line, sizeof fx.line, len);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_two_lines_one_write(void **state)
{
	size_t len = 0;

	(void)state;
	put("{\"a\":1}\n{\"b\":2}\n", 16);
	assert_int_equal(get(1000, &len), NP_LINE_OK);
	assert_string_equal(fx.line, "{\"a\":1}");
	assert_int_equal(len, 7);
	/* The second is already buffered: no waiting needed. */
	assert_int_equal(get(0, &len), NP_LINE_OK);
	assert_string_equal(fx.line, "{\"b\":2}");
	assert_int_equal(len, 7);
	assert_int_equal(get(0, &len), NP_LINE_TIMEOUT);
}

static void test_empty_line(void **state)
{
	size_t len = 99;

	(void)state;
	put("\n\nx\n", 4);
	assert_int_equal(get(0, &len), NP_LINE_OK);
	assert_int_equal(len, 0);
	assert_string_equal(fx.line, "");
	assert_int_equal(get(0, &len), NP_LINE_OK);
	assert_int_equal(len, 0);
	assert_int_equal(get(0, &len), NP_LINE_OK);
	assert_string_equal(fx.line, "x");
}

static void test_partial_line_waits(void **state)
{
	size_t len = 0;
	long long start;

	(void)state;
	put("{\"part", 6);
	assert_int_equal(get(0, &len), NP_LINE_TIMEOUT);
	start = now_ms();
	assert_int_equal(get(100, &len), NP_LINE_TIMEOUT);
	assert_true(now_ms() - start >= 95);
	put("ial\":1}", 7);
	assert_int_equal(get(0, &len), NP_LINE_TIMEOUT);
	put("\nnext", 5);
	assert_int_equal(get(0, &len), NP_LINE_OK);
	assert_string_equal(fx.line, "{\"partial\":1}");
	assert_int_equal(len, 13);
	assert_int_equal(get(0, &len), NP_LINE_TIMEOUT);
	put("\n", 1);
	assert_int_equal(get(-1, &len), NP_LINE_OK);
	assert_string_equal(fx.line, "next");
}

static void test_max_line(void **state)
{
	size_t len = 0;

	(void)state;
	/* NP_LINE_MAX bytes with the newline: the largest line there is. */
	memset(fx.big, 'a', NP_LINE_MAX - 1);
	fx.big[NP_LINE_MAX - 1] = '\n';
	memcpy(fx.big + NP_LINE_MAX, "b\n", 2);
	put(fx.big, NP_LINE_MAX + 2);
	assert_int_equal(get(1000, &len), NP_LINE_OK);
	assert_int_equal(len, NP_LINE_MAX - 1);
	assert_int_equal(strlen(fx.line), NP_LINE_MAX - 1);
	assert_int_equal(fx.line[0], 'a');
	assert_int_equal(fx.line[NP_LINE_MAX - 2], 'a');
	assert_int_equal(get(1000, &len), NP_LINE_OK);
	assert_string_equal(fx.line, "b");
}

static void test_too_long(void **state)
{
	size_t len = 0;

	(void)state;
	memset(fx.big, 'a', NP_LINE_MAX);
	fx.big[NP_LINE_MAX] = '\n';
	put(fx.big, NP_LINE_MAX + 1);
	assert_int_equal(get(1000, &len), NP_LINE_TOO_LONG);
	/* And it stays unusable. */
	assert_int_equal(get(0, &len), NP_LINE_TOO_LONG);
}

static void test_too_long_after_good_line(void **state)
{
	size_t len = 0;

	(void)state;
	put("ok\n", 3);
	memset(fx.big, 'a', NP_LINE_MAX + 10);
	put(fx.big, NP_LINE_MAX + 10);
	assert_int_equal(get(1000, &len), NP_LINE_OK);
	assert_string_equal(fx.line, "ok");
	assert_int_equal(get(1000, &len), NP_LINE_TOO_LONG);
}

static void test_small_line_buffer(void **state)
{
	char small[8];
	size_t len = 0;

	(void)state;
	put("0123456789\n", 11);
	assert_int_equal(np_line_read(&fx.reader, 1000, small, sizeof small, &len),
	                 NP_LINE_TOO_LONG);
}

static void test_eof(void **state)
{
	size_t len = 0;

	(void)state;
	put("last\npartial", 12);
	close(fx.wr);
	fx.wr = -1;
	assert_int_equal(get(1000, &len), NP_LINE_OK);
	assert_string_equal(fx.line, "last");
	/* A partial line before EOF is dropped. */
	assert_int_equal(get(1000, &len), NP_LINE_EOF);
	assert_int_equal(get(0, &len), NP_LINE_EOF);
}

static void test_eof_immediately(void **state)
{
	size_t len = 0;

	(void)state;
	close(fx.wr);
	fx.wr = -1;
	assert_int_equal(get(-1, &len), NP_LINE_EOF);
}

static void test_bad_fd(void **state)
{
	struct np_line_reader r;
	size_t len = 0;

	(void)state;
	np_line_reader_init(&r, 1000000);
	assert_int_equal(np_line_read(&r, 0, fx.line, sizeof fx.line, &len), NP_LINE_ERROR);
	assert_int_equal(np_write_all(1000000, "x", 1), -1);
}

static void test_wipe(void **state)
{
	size_t len = 0;

	(void)state;
	put("a\nsecret-token-rest", 19);
	assert_int_equal(get(0, &len), NP_LINE_OK);
	assert_true(fx.reader.used > 0);
	np_line_reader_wipe(&fx.reader);
	assert_int_equal(fx.reader.used, 0);
	for (size_t i = 0; i < sizeof fx.reader.buf; i++)
		if (fx.reader.buf[i] != 0)
			fail_msg("byte %zu not wiped", i);
}

static void test_write_closed_pipe(void **state)
{
	void (*old)(int) = signal(SIGPIPE, SIG_IGN);

	(void)state;
	close(fx.rd);
	fx.rd = -1;
	assert_int_equal(np_write_all(fx.wr, "x\n", 2), -1);
	signal(SIGPIPE, old);
}

static void test_write_all_large(void **state)
{
	size_t len = 0;
	pid_t pid;

	(void)state;
	/* More than a pipe holds: np_write_all must loop while the reader drains. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		static char chunk[300000];

		close(fx.rd);
		memset(chunk, 'q', sizeof chunk);
		for (size_t i = 1000; i < sizeof chunk; i += 1000)
			chunk[i - 1] = '\n';
		chunk[sizeof chunk - 1] = '\n';
		_exit(np_write_all(fx.wr, chunk, sizeof chunk) == 0 ? 0 : 1);
	}
	close(fx.wr);
	fx.wr = -1;
	for (int i = 0; i < 300; i++) {
		assert_int_equal(get(5000, &len), NP_LINE_OK);
		assert_int_equal(len, 999);
	}
	assert_int_equal(get(5000, &len), NP_LINE_EOF);
	{
		int wstatus = 0;

		assert_int_equal(waitpid(pid, &wstatus, 0), pid);
		assert_true(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_two_lines_one_write, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_partial_line_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_long, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_long_after_good_line, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_line_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eof_immediately, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_fd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wipe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_closed_pipe, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_all_large, setup, teardown),
	};

	return cmocka_run_group_tests_name("lineio", tests, NULL, NULL);
}
