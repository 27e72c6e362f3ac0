/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * libFuzzer: the OpenSSH release scanner that decides whether sshd shows
 * information at once.  The first input byte picks a read size; the rest is a
 * program's bytes.  Fed in one piece or in pieces the way the file reader
 * feeds it (the undone tail first, then more), the scan must find the same
 * release; it must never leave more than NP_OPENSSH_RELEASE_MAX + 8 bytes
 * undone, and what it keeps must be a release string it can stand behind.
 */
#include "fuzz_common.h"
#include "module/sshd_info.h"

static void check_release(const struct np_openssh_release *r)
{
	FUZZ_CHECK(fuzz_terminated(r->text, sizeof r->text), "text unterminated");
	if (!r->found) {
		FUZZ_CHECK(!r->portable && !r->conflict && r->text[0] == '\0', "state without a find");
		return;
	}
	FUZZ_CHECK(strncmp(r->text, "OpenSSH_", 8) == 0, "text %s", r->text);
	/* No compat pattern ('*', ','), nothing a log line should not hold. */
	FUZZ_CHECK(strspn(r->text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                           "0123456789 .+~_:-") == strlen(r->text),
	           "kept %s", r->text);
	FUZZ_CHECK(r->major < 1000 && r->minor < 1000, "release %u.%u", r->major, r->minor);
}

static void scan_in_pieces(struct np_openssh_release *r, const char *data, size_t size,
                           size_t piece)
{
	char buf[512];
	size_t used = 0, pos = 0;

	for (;;) {
		size_t room = sizeof buf - used;
		size_t got = size - pos < room ? size - pos : room;
		size_t done;

		if (got > piece)
			got = piece;
		memcpy(buf + used, data + pos, got);
		pos += got;
		used += got;
		done = np_openssh_release_scan(r, buf, used, got == 0);
		FUZZ_CHECK(done <= used, "done %zu of %zu", done, used);
		if (got == 0)
			break;
		FUZZ_CHECK(used - done <= NP_OPENSSH_RELEASE_MAX + 8, "%zu bytes left", used - done);
		memmove(buf, buf + done, used - done);
		used -= done;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct np_openssh_release whole, pieces;
	size_t piece;

	if (size < 1)
		return 0;
	/* Pieces of 1 to 256 bytes: small enough to cut every string somewhere. */
	piece = (size_t)data[0] + 1;
	data++;
	size--;
	np_openssh_release_init(&whole);
	FUZZ_CHECK(np_openssh_release_scan(&whole, (const char *)data, size, true) == size,
	           "at the end everything is done");
	check_release(&whole);
	np_openssh_release_init(&pieces);
	scan_in_pieces(&pieces, (const char *)data, size, piece);
	check_release(&pieces);
	FUZZ_CHECK(whole.found == pieces.found && whole.portable == pieces.portable &&
	                   whole.conflict == pieces.conflict && whole.major == pieces.major &&
	                   whole.minor == pieces.minor && strcmp(whole.text, pieces.text) == 0,
	           "whole %s %u.%u, in pieces of %zu: %s %u.%u", whole.text, whole.major,
	           whole.minor, piece, pieces.text, pieces.major, pieces.minor);
	FUZZ_CHECK(!whole.found || np_openssh_shows_info_at_once(whole.major, whole.minor) ==
	                                   (whole.major > 10 || (whole.major == 10 && whole.minor >= 3)),
	           "threshold");
	return 0;
}
